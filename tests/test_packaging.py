"""The packaging contract: PEP 420 namespace, no pkg_resources, light start-up."""
import os
import re
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from tests.support import ROOT

PASTE = ROOT / "paste"


def test_paste_is_a_pep420_namespace():
    assert not (PASTE / "__init__.py").exists()
    assert (PASTE / "script" / "__init__.py").exists()


def test_no_pkg_resources_anywhere_in_the_package():
    offenders = [str(p) for p in PASTE.rglob("*.py")
                 if re.search(r"^\s*(import|from)\s+pkg_resources", p.read_text(), re.M)]
    assert offenders == []


def test_every_declared_entry_point_resolves():
    import importlib.metadata
    dist = importlib.metadata.distribution("PasteScript")
    broken = []
    for ep in dist.entry_points:
        if ep.group == "console_scripts":
            continue
        try:
            ep.load()
        except Exception as exc:  # pragma: no cover - the assertion shows it
            broken.append(f"{ep.group}:{ep.name}: {type(exc).__name__}: {exc}")
    assert broken == []


HEAVY = ["pkg_resources", "paste.deploy", "Cheetah", "waitress", "flup", "cheroot",
         "twisted", "watchdog", "setuptools", "email.parser", "subprocess", "tempita"]


def test_paster_help_imports_nothing_heavy(tmp_path):
    code = ("import sys, io, contextlib\n"
            "from paste.script.command import main\n"
            "with contextlib.redirect_stdout(io.StringIO()): rc = main(['help'])\n"
            f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
            "print(rc, heavy)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert proc.stdout.strip() == "0 []", proc.stderr


@pytest.fixture(scope="module")
def bare_venv(tmp_path_factory):
    """A fresh venv (with pip) holding PasteDeploy but not PasteScript."""
    root = tmp_path_factory.mktemp("nsvenv")
    venv.EnvBuilder(with_pip=True).create(root / "venv")
    python = root / "venv" / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                    "PasteDeploy", "setuptools", "wheel"], check=True)
    return root, python


CHECK = ("import paste.deploy, paste.script, paste.script.command, paste.deploy.loadwsgi;"
         "print(paste.script.__file__)")


def _check(python, cwd, env=None):
    proc = subprocess.run([str(python), "-c", CHECK], capture_output=True, text=True,
                          cwd=cwd, env=env)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_namespace_with_plain_checkout_on_sys_path(bare_venv, tmp_path):
    _, python = bare_venv
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    assert _check(python, tmp_path, env) == str(PASTE / "script" / "__init__.py")


def test_namespace_with_wheel_install(bare_venv, tmp_path):
    root, python = bare_venv
    wheels = tmp_path / "wheels"
    # Build from a clean copy: a build/ directory left in the checkout would
    # put stale files into the wheel, and the checkout stays untouched.
    import shutil
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv*", "build", "dist", "*.egg-info", ".eggs", "__pycache__", ".pytest_cache"))
    subprocess.run([str(python), "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "-w", str(wheels), str(source)], check=True, capture_output=True)
    wheel = next(wheels.glob("PasteScript-*.whl")) if list(wheels.glob("PasteScript-*.whl")) \
        else next(wheels.glob("pastescript-*.whl"))
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", str(wheel)],
                   check=True, capture_output=True)
    try:
        location = _check(python, tmp_path)
        assert "site-packages" in location
        # the wheel carries the built-in template and no paste/__init__.py
        site = Path(location).parent.parent
        assert not (site / "__init__.py").exists()
        assert (Path(location).parent / "paster-templates" / "basic_package").is_dir()
        version = subprocess.run([str(root / "venv" / "bin" / "paster"), "--version"],
                                 capture_output=True, text=True, cwd=tmp_path)
        assert version.stdout.startswith("PasteScript 4.")
    finally:
        subprocess.run([str(python), "-m", "pip", "uninstall", "-q", "-y", "PasteScript"], check=True)


def test_namespace_with_editable_install(bare_venv, tmp_path):
    _, python = bare_venv
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                    "-e", str(ROOT)], check=True, capture_output=True)
    try:
        assert _check(python, tmp_path) == str(PASTE / "script" / "__init__.py")
    finally:
        subprocess.run([str(python), "-m", "pip", "uninstall", "-q", "-y", "PasteScript"], check=True)
