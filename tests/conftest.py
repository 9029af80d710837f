from __future__ import annotations

import os
import signal
import sys
import textwrap
from pathlib import Path

import pytest


def pytest_configure(config):
    # A shell that starts pytest in the background ('&') leaves SIGINT and
    # SIGQUIT ignored, and an ignored signal stays ignored in every child:
    # the tests that stop a server with SIGINT or SIGQUIT would wait for
    # nothing.  A handled signal is reset to its default in an exec'd child,
    # as at a terminal.  (CI's `timeout` wrapper handles both, which hid the
    # SIGQUIT case there.)  pytest itself still ignores SIGQUIT.
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if signal.getsignal(signal.SIGQUIT) is signal.SIG_IGN:
        signal.signal(signal.SIGQUIT, _ignored_here)


def _ignored_here(signum, frame) -> None:
    """SIGQUIT, ignored by pytest but not by the programs it starts."""


def pytest_runtest_setup(item):
    if item.get_closest_marker("root") and os.geteuid() != 0:
        pytest.fail("this test needs root (README's second command runs the suite as root); "
                    "deselect it with -m 'not root'", pytrace=False)


_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1,
            signal.SIGUSR2, signal.SIGCHLD)


@pytest.fixture(autouse=True)
def _signals_as_they_were():
    """A test that runs server code in process may leave a signal's disposition
    changed (an ignored SIGINT is inherited by every later child, which then
    cannot be interrupted): put them back after each test."""
    saved = {signum: signal.getsignal(signum) for signum in _SIGNALS}
    yield
    for signum, handler in saved.items():
        if signal.getsignal(signum) is not handler and handler is not None:
            signal.signal(signum, handler)


@pytest.fixture(scope="session", autouse=True)
def entry_point_cache(tmp_path_factory):
    """Keep the entry-point cache of every throw-away environment the tests
    make out of the user's ~/.cache (subprocesses inherit the variable)."""
    if "PASTE_SCRIPT_CACHE_DIR" in os.environ:
        yield os.environ["PASTE_SCRIPT_CACHE_DIR"]
        return
    path = str(tmp_path_factory.mktemp("paste-script-cache"))
    os.environ["PASTE_SCRIPT_CACHE_DIR"] = path
    yield path
    del os.environ["PASTE_SCRIPT_CACHE_DIR"]


@pytest.fixture(scope="session")
def pastescript_wheel(tmp_path_factory) -> Path:
    """A wheel of this checkout, built once per session, offline, with the
    setuptools of the environment running the tests."""
    import shutil
    import subprocess
    from tests.support import ROOT
    out = tmp_path_factory.mktemp("pastescript-wheel")
    # Built from a clean copy: a build/ directory left in the checkout would
    # put stale files into the wheel, and the checkout stays untouched.
    source = out / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv*", "build", "dist", "*.egg-info", ".eggs", "__pycache__", ".pytest_cache"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "--no-index", "-w", str(out), str(source)], check=True, capture_output=True)
    wheels = [path for path in out.glob("*.whl") if path.name.lower().startswith("pastescript-")]
    assert len(wheels) == 1, wheels
    return wheels[0]


def _make_egg_info(site: Path, name: str, entry_points: str = "", plugins=(),
                   modules: dict | None = None) -> Path:
    """A bare ``Name.egg-info`` distribution (plus modules) under ``site``."""
    egg = site / f"{name}.egg-info"
    egg.mkdir(parents=True, exist_ok=True)
    (egg / "PKG-INFO").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n\n")
    if entry_points:
        (egg / "entry_points.txt").write_text(textwrap.dedent(entry_points).lstrip())
    if plugins:
        (egg / "paster_plugins.txt").write_text("".join(p + "\n" for p in plugins))
    for rel, text in (modules or {}).items():
        path = site / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    return egg


@pytest.fixture
def fake_site(tmp_path, monkeypatch):
    """A directory on sys.path where tests build throw-away distributions.

    Returns a function ``make(name, entry_points='', plugins=(), modules={})``.
    The working directory is moved to an empty directory so that the
    checkout's own egg-info does not activate plugins.
    """
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.delenv("PASTE_CONFIG_FILE", raising=False)
    import importlib
    importlib.invalidate_caches()

    def make(name, entry_points="", plugins=(), modules=None):
        egg = _make_egg_info(site, name, entry_points, plugins, modules)
        importlib.invalidate_caches()
        return egg

    make.site = site
    make.work = work
    yield make
    for mod in [m for m in sys.modules if m.startswith("fakeplugin")]:
        del sys.modules[mod]
