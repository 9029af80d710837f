"""PasteDeploy's own ``paste_deploy`` template, a real third-party template.

It subclasses our ``Template``, requires ``PasteScript#basic_package``,
edits ``setup.py`` through ``command.insert_into_file`` in its ``post``
hook and lists PasteDeploy in ``egg_plugins``.
"""
from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.support import (
    free_port, http_get, paster_env, run_paster, stop_process, wait_for_port, write,
)
from tests.test_create_distro import make_venv, pip_install, run_in


# PasteDeploy's sample application starts with 'import cgi', a module that
# Python 3.13 removed: there the generated project cannot be imported at all
# (an upstream bug in PasteDeploy's template, not in create). The tests then
# check that serve says so in one line instead of serving.
UPSTREAM_SAMPLE_IMPORTS = sys.version_info < (3, 13)


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    work = tmp_path_factory.mktemp("pd")
    proc = run_paster("create", "--no-interactive", "-t", "paste_deploy", "Aloha-App", "version=0.3",
                      cwd=work)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return work / "Aloha-App", proc.stdout


def test_files_and_setup_py(project):
    root, out = project
    files = sorted(str(p.relative_to(root)) for p in root.rglob("*")
                   if p.is_file() and ".egg-info" not in str(p))
    assert files == ["alohaapp/__init__.py", "alohaapp/sampleapp.py", "alohaapp/wsgiapp.py",
                     "docs/devel_config.ini", "setup.cfg", "setup.py"]
    setup_py = (root / "setup.py").read_text()
    # The post hook put its lines right after the basic_package markers.
    assert re.search(r"# -\*- Extra requirements: -\*-\n\s+'PasteDeploy',\n", setup_py)
    assert re.search(r"# -\*- Entry points: -\*-\n\s+\[paste.app_factory\]\n\s+main = alohaapp.wsgiapp:make_app\n",
                     setup_py)
    assert "use = egg:Aloha-App" in (root / "docs" / "devel_config.ini").read_text()
    assert 'Run "paster serve docs/devel_config.ini"' in out      # printed because verbose


def test_egg_info_and_plugins(project):
    root, _ = project
    egg_info = root / "Aloha_App.egg-info"
    assert (egg_info / "paster_plugins.txt").read_text().split() == ["PasteDeploy"]
    assert "main = alohaapp.wsgiapp:make_app" in (egg_info / "entry_points.txt").read_text()
    assert "PasteDeploy" in (egg_info / "requires.txt").read_text()


@pytest.fixture(scope="module")
def installed(project, tmp_path_factory):
    root, _ = project
    base = tmp_path_factory.mktemp("pdvenv")
    python = make_venv(base / "venv", linked=True)
    pip_install(python, root, base / "wheels")
    return python


def test_installed_project_loads_its_config(project, installed):
    root, _ = project
    config = root / "docs" / "devel_config.ini"
    code = ("from paste.deploy import loadapp; import alohaapp;"
            f"app = loadapp('config:{config}', name='devel');"
            "print(type(app).__name__, app.config['greeting'], app.config['debug'], alohaapp.__file__)")
    # Run from elsewhere, so that only the installed copy can be imported.
    proc = run_in(installed, "-c", code, cwd=root.parent)
    if not UPSTREAM_SAMPLE_IMPORTS:
        assert proc.returncode != 0 and "No module named 'cgi'" in proc.stderr
        return
    assert proc.returncode == 0, proc.stderr
    name, greeting, debug, location = proc.stdout.split()
    assert (name, greeting, debug) == ("ConfigMiddleware", "Aloha!", "true")
    assert "/venv/" in location                                  # the installed copy, not the checkout


@pytest.fixture
def served(project, installed, tmp_path):
    """``paster serve`` on the generated config, run by the venv the project is installed in."""
    root, _ = project
    port = free_port()
    # Only the [server:main] section is changed: the generated one names the
    # old Paste distribution's server on a fixed port, neither usable here.
    config = (root / "docs" / "devel_config.ini").read_text()
    config = config.replace("use = egg:Paste#http", "use = egg:PasteScript#wsgiutils")
    config = config.replace("port = 8080", f"port = {port}")
    served_config = write(tmp_path / "devel_config.ini", config)
    proc = subprocess.Popen([str(installed), "-m", "paste.script", "serve", "-n", "devel", str(served_config)],
                            cwd=tmp_path, env=paster_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        if UPSTREAM_SAMPLE_IMPORTS:
            wait_for_port(port, proc=proc)
        yield port, proc
    finally:
        stop_process(proc)


def test_installed_project_is_served(served):
    port, proc = served
    if not UPSTREAM_SAMPLE_IMPORTS:
        proc.wait(30)
        output = proc.stdout.read()
        assert proc.returncode != 0
        assert "No module named 'cgi'" in output and "Traceback" not in output
        return
    status, _, _ = http_get(f"http://127.0.0.1:{port}/")
    output = stop_process(proc)
    # The request reaches the generated application, whose ConfigMiddleware
    # imports paste.wsgilib from the retired Paste distribution (not a
    # dependency of either PasteDeploy or PasteScript): the server answers
    # 500 and logs why, and goes on serving until stopped.
    assert status == 500, output
    assert "serving on" in output
    assert "ImportError: cannot import name 'wsgilib' from 'paste'" in output
