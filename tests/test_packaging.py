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


def copy_distribution(name: str, purelib: Path) -> None:
    """Install ``name`` into ``purelib`` by copying the files its RECORD lists
    from the environment running the tests: no index, no network."""
    import importlib.metadata
    import shutil
    dist = importlib.metadata.distribution(name)
    for file in dist.files:
        if file.suffix == ".pyc" or str(file).startswith(".."):
            continue
        target = purelib / file
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(file.locate(), target)


def our_pip(python: Path, *args: str) -> None:
    """Run the test environment's pip against the venv of ``python``."""
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), *args,
                    "-q", "--disable-pip-version-check"],
                   check=True, capture_output=True)


@pytest.fixture(scope="module")
def bare_venv(tmp_path_factory):
    """A fresh venv holding PasteDeploy and setuptools but not PasteScript.

    Both are copied from the environment running the tests, so the fixture
    works offline and tests the versions the project is installed with.
    """
    root = tmp_path_factory.mktemp("nsvenv")
    venv.EnvBuilder(with_pip=False, symlinks=True).create(root / "venv")
    python = root / "venv" / "bin" / "python"
    purelib = Path(subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True).stdout.strip())
    for name in ("PasteDeploy", "setuptools"):
        copy_distribution(name, purelib)
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


def test_namespace_with_wheel_install(bare_venv, pastescript_wheel, tmp_path):
    root, python = bare_venv
    our_pip(python, "install", "--no-index", "--no-deps", str(pastescript_wheel))
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
        our_pip(python, "uninstall", "-y", "PasteScript")


def test_namespace_with_editable_install(bare_venv, tmp_path):
    _, python = bare_venv
    our_pip(python, "install", "--no-index", "--no-deps", "--no-build-isolation", "-e", str(ROOT))
    try:
        assert _check(python, tmp_path) == str(PASTE / "script" / "__init__.py")
    finally:
        our_pip(python, "uninstall", "-y", "PasteScript")


@pytest.mark.network
def test_works_with_the_newest_setuptools_from_the_registry(tmp_path):
    """``paster`` starts and ``create`` runs ``egg_info`` with the newest setuptools.

    This is why the project exists: 3.7.0 imports pkg_resources, which
    setuptools 82 removed.  The test deliberately installs the newest
    setuptools and the project's dependencies, so it needs the package
    registry.
    """
    venv.EnvBuilder(with_pip=False, symlinks=True).create(tmp_path / "venv")
    python = tmp_path / "venv" / "bin" / "python"
    our_pip(python, "install", "--upgrade", "setuptools")
    our_pip(python, "install", "--no-build-isolation", "-e", str(ROOT))
    probe = subprocess.run(
        [str(python), "-c", "import importlib.util, setuptools; "
         "print(setuptools.__version__, importlib.util.find_spec('pkg_resources') is None)"],
        capture_output=True, text=True, check=True).stdout.split()
    assert int(probe[0].split(".")[0]) >= 82 and probe[1] == "True", probe
    paster = tmp_path / "venv" / "bin" / "paster"
    work = tmp_path / "work"
    work.mkdir()
    created = subprocess.run([str(paster), "create", "--no-interactive", "Foo"],
                             cwd=work, capture_output=True, text=True)
    assert created.returncode == 0, created.stdout + created.stderr
    assert (work / "Foo" / "Foo.egg-info" / "PKG-INFO").is_file()
    listed = subprocess.run([str(paster), "help"], cwd=work / "Foo", capture_output=True, text=True)
    assert listed.returncode == 0 and "create" in listed.stdout, listed.stderr
