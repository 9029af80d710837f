"""Registry packages that plug into paster, on 3.7.0 and on ours (issue 19).

* MerlotTemplates: a Cheetah template; ``create``, ``-v`` and
  ``--list-variables`` name its distribution as 3.7 did
  (``merlottemplates#merlot_buildout``, from its metadata directory).
* RapidGiza: a template rendered by Paste's ``paste.util.template``, which
  it does not declare: with Paste (``PasteScript[paste]``) the tree is 3.7's,
  without it one line says what to install.
* paste-wsgiref-simpleserver: a third-party ``paste.server_runner`` for
  ``serve``.
* prometheus-paster: a filter (``paste.filter_factory``) and an application,
  through ``request`` and ``points``.

Each package is pinned and built once into a wheel; both sides install the
same files without dependencies. What 3.7.0 resolves (every requirement a
package declares) and nothing imports gets a metadata-only stub.
"""
from __future__ import annotations

import re
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from tests.differential.harness import (
    Pair, assert_same_run, build_wheels, pip, purelib,
)
from tests.differential.test_points import blocks
from tests.support import free_port, http_get, wait_for_port, write

ROOT = Path(__file__).resolve().parents[2]

PACKAGES = [
    "MerlotTemplates==0.2",
    "RapidGiza==0.2.1",
    "paste-wsgiref-simpleserver==1.0rc2",
    "prometheus-paster==0.1.1",
]
#: Imported by them, on both sides: Paste for RapidGiza (3.7.0 depended on
#: it), prometheus_client for prometheus-paster (0.12 is the last release
#: whose Timer takes the callback alone, as prometheus-paster 0.1.1 calls it).
SUPPLIED = ["Paste==3.10.1", "prometheus-client==0.12.0"]
#: Declared, never imported (RapidGiza's project needs, Merlot's Cheetah).
STUBS = (("Cheetah", "2.4.4"), ("pyramid", "1.0"), ("pyramid_jinja2", "1.0"),
         ("Khufu-SQLAHelper", "0.1"), ("Khufu-Script", "0.1"), ("WebError", "0.10"))


@pytest.fixture(scope="session")
def plugin_wheels(tmp_path_factory) -> list:
    return build_wheels(tmp_path_factory.mktemp("plugin-wheels"), *PACKAGES, *SUPPLIED)


@pytest.fixture(scope="session")
def plugins(overlay_pair, plugin_wheels) -> Pair:
    return overlay_pair("thirdparty-plugins", *plugin_wheels, stubs=STUBS)


def wheel(wheels: list, prefix: str) -> str:
    return next(w for w in wheels if Path(w).name.lower().startswith(prefix.lower()))


# -- MerlotTemplates ---------------------------------------------------------

def test_merlot_buildout_tree(plugins: Pair):
    old, new = plugins.run("create", "-t", "merlot_buildout", "--no-interactive", "Proj")
    tree = assert_same_run(old, new)
    assert "Proj/buildout.cfg" in tree and "Proj/bootstrap.py" in tree


def test_merlot_names_as_37(plugins: Pair):
    # Item 6: 3.7's name for the distribution, from its metadata directory.
    old, new = plugins.run("create", "-v", "-t", "merlot_buildout", "--no-interactive",
                           "Proj")
    assert_same_run(old, new)
    head = ("Selected and implied templates:\n"
            "  merlottemplates#merlot_buildout  A basic Merlot buildout\n")
    assert old.stdout.startswith(head) and new.stdout.startswith(head)


@pytest.mark.parametrize("spec, shown", [
    ("merlot_buildout", "merlottemplates#merlot_buildout"),
    ("MerlotTemplates#merlot_buildout", "MerlotTemplates#merlot_buildout"),  # as typed
])
def test_merlot_list_variables(plugins: Pair, spec, shown):
    old, new = plugins.run("create", "--list-variables", "-t", spec)
    assert old.returncode == new.returncode == 0, old.output + new.output
    assert new.stdout == old.stdout == (
        f"merlot_buildout (from {shown})\n" + "-" * len(f"merlot_buildout (from {shown})")
        + "\nmerlot_version  Merlot version\n      default: '0.2'\n"
          "      should_echo: True\n\n")


# -- RapidGiza -----------------------------------------------------------------

def test_rapidgiza_tree_with_paste(plugins: Pair):
    old, new = plugins.run("create", "-t", "rapidgiza", "--no-interactive", "Proj")
    tree = assert_same_run(old, new)
    assert "Proj/proj/views.py" in tree and "Proj/development.ini" in tree


def test_rapidgiza_without_paste_says_what_to_install(side_ours, plugin_wheels, tmp_path):
    # Item 11: Paste is not a dependency; the template imports
    # paste.util.template without declaring it.
    side = side_ours.overlay(tmp_path / "no-paste", wheel(plugin_wheels, "RapidGiza"))
    work = tmp_path / "work"
    work.mkdir()
    proc = subprocess.run([str(side.paster), "create", "-t", "rapidgiza", "--no-interactive",
                           "Proj"], cwd=work, env=side.env(), capture_output=True, text=True)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().endswith(
        "No module named 'paste.util' (the template needs Paste: install PasteScript[paste])")
    assert list(work.iterdir()) == []
    listed = subprocess.run([str(side.paster), "create", "--list-templates"], cwd=work,
                            env=side.env(), capture_output=True, text=True)
    assert listed.stdout.startswith(
        "Warning: could not load entry point rapidgiza (ModuleNotFoundError: No module named "
        "'paste.util' (the template needs Paste: install PasteScript[paste]))\n")


@pytest.mark.slow
def test_pastescript_paste_extra_makes_rapidgiza_work(plugin_wheels, tmp_path):
    # Item 11, the fix the line gives: a fresh venv with PasteScript[paste]
    # (this checkout, its dependencies and Paste from the registry).
    ours = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "-w", str(tmp_path / "ours"), str(ROOT)], capture_output=True, text=True)
    assert ours.returncode == 0, ours.stdout + ours.stderr
    ours_wheel = next((tmp_path / "ours").glob("*.whl"))
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False, symlinks=True).create(env_dir)
    python = env_dir / "bin" / "python"
    pip(python, f"PasteScript[paste] @ {ours_wheel.as_uri()}")
    pip(python, "--no-deps", wheel(plugin_wheels, "RapidGiza"))
    site = purelib(python)
    assert any(Path(site, name).is_dir() for name in ("paste/util",)), "Paste not installed"
    work = tmp_path / "work"
    work.mkdir()
    proc = subprocess.run([str(python), "-m", "paste.script", "create", "-t", "rapidgiza",
                           "--no-interactive", "Proj"], cwd=work, capture_output=True,
                          text=True, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (work / "Proj" / "proj" / "views.py").is_file()


# -- paste-wsgiref-simpleserver ------------------------------------------------

def wsgiref_site(work: Path) -> None:
    write(work / "hello.py", '''
        def make_app(global_conf, greeting="hello"):
            def app(environ, start_response):
                start_response("200 OK", [("Content-Type", "text/plain")])
                return [f"{greeting} from {environ['SERVER_SOFTWARE'].split('/')[0]}".encode()]
            return app
        ''')
    write(work / "app.ini", f"""
        [app:main]
        paste.app_factory = hello:make_app
        greeting = howdy

        [server:main]
        use = egg:paste-wsgiref-simpleserver#wsgiref.simple_server
        host = 127.0.0.1
        port = {free_port()}
        """)


def test_serve_with_a_third_party_runner(plugins: Pair):
    env = {"PYTHONPATH": "."}
    started = plugins.run("serve", "app.ini", "start", setup=wsgiref_site, env=env)
    try:
        bodies = []
        for result in started:
            assert result.returncode == 0, (result.side, result.output)
            pid = int(_wait_for_pid(result.cwd / "paster.pid"))
            port = int(re.search(r"port = (\d+)", (result.cwd / "app.ini").read_text()).group(1))
            wait_for_port(port, pid=pid)
            status, _, body = http_get(f"http://127.0.0.1:{port}/")
            bodies.append((status, body))
        assert bodies[0] == bodies[1] == (200, b"howdy from WSGIServer")
    finally:
        old, new = plugins.run("serve", "app.ini", "stop", env=env, again=started)
    assert old.returncode == new.returncode == 0, old.output + new.output


def _wait_for_pid(path: Path) -> str:
    from tests.differential.test_daemon import wait_for_pid_file
    return str(wait_for_pid_file(path))


def test_points_lists_the_runner(plugins: Pair):
    # The same distributions and entry points; the group's description is
    # ours (3.7 had none for paste.server_runner; docs/changelog.rst).
    old, new = plugins.run("points", "paste.server_runner", "simple_server")
    assert old.returncode == new.returncode == 0
    assert blocks(new.stdout) == blocks(old.stdout) == {"paste.server_runner": {
        "paste-wsgiref-simpleserver": [
            "wsgiref.simple_server = paste_wsgiref_simpleserver:run_simple_server"]}}
    assert old.stdout.startswith("[paste.server_runner]\npaste-wsgiref-simpleserver 1.0rc2\n")
    assert new.stdout.startswith("[paste.server_runner]\nA server runner: ")


# -- prometheus-paster -----------------------------------------------------------

def prometheus_site(work: Path) -> None:
    write(work / "hello.py", '''
        def make_app(global_conf, **local_conf):
            def app(environ, start_response):
                start_response("200 OK", [("Content-Type", "text/plain")])
                return [b"hello " + environ["PATH_INFO"].encode()]
            return app
        ''')
    write(work / "app.ini", """
        [pipeline:main]
        pipeline = metrics hello

        [filter:metrics]
        use = egg:prometheus-paster#filter
        path_regex = /counted.*

        [app:hello]
        paste.app_factory = hello:make_app

        [app:metrics]
        use = egg:prometheus-paster#main
        """)


@pytest.mark.parametrize("path", ["/counted/page", "/other"])
def test_request_through_the_filter(plugins: Pair, path):
    old, new = plugins.run("request", "app.ini", path, setup=prometheus_site,
                           env={"PYTHONPATH": "."})
    assert old.returncode == new.returncode == 0, old.output + new.output
    assert new.stdout == old.stdout == f"hello {path}"


def test_request_the_metrics_application(plugins: Pair):
    old, new = plugins.run("request", "--app-name=metrics", "app.ini", "/",
                           setup=prometheus_site, env={"PYTHONPATH": "."})
    assert old.returncode == new.returncode == 0, old.output + new.output

    def names(text):
        return sorted({line.split()[2] for line in text.splitlines() if line.startswith("# TYPE")})

    assert names(new.stdout) == names(old.stdout)
    assert "python_info" in names(new.stdout)


def test_points_lists_the_filter(plugins: Pair):
    old, new = plugins.run("points", "paste.filter_factory", "filter")
    assert old.returncode == new.returncode == 0
    assert blocks(new.stdout) == blocks(old.stdout)
    assert blocks(new.stdout)["paste.filter_factory"]["prometheus-paster"] == [
        "filter = prometheus_paster:filter_factory"]
