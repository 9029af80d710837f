"""Fixtures for the differential tests: PasteScript 3.7.0 beside this project.

The 3.7.0 venv is built once per test session from exact pins
(``harness.PINS_37``); building it needs the package registry, so every
test here is marked ``network`` (``-m "not network"`` leaves them out).
"""
from __future__ import annotations

from pathlib import Path

import pytest

_HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items):
    for item in items:
        if _HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.network)

from tests.differential.harness import Pair, Side, build_wheel, make_37_venv, ours_side


@pytest.fixture(scope="session")
def side37(tmp_path_factory) -> Side:
    root = tmp_path_factory.mktemp("ps37")
    python = make_37_venv(root / "venv")
    # 3.7.0 imports pkg_resources, whose deprecation warning would be the
    # only difference in many outputs.
    quiet = {"PYTHONWARNINGS": "ignore:pkg_resources is deprecated:UserWarning"}
    return Side("ps37", python.parent, python, root / "venv", quiet)


@pytest.fixture(scope="session")
def side_ours() -> Side:
    return ours_side()


@pytest.fixture
def pair(side37, side_ours, tmp_path) -> Pair:
    """Run ``paster`` command lines on 3.7.0 and on ours; see ``Pair.run``."""
    return Pair(side37, side_ours, tmp_path)


@pytest.fixture(scope="session")
def overlay_pair(side37, side_ours, tmp_path_factory):
    """``overlay_pair(name, *requirements)``: a Pair whose two sides also see
    ``requirements`` (installed with ``--no-deps`` into a venv of their own
    on each side) and ``stubs``, ``(name, version)`` metadata-only
    distributions.  Built once per session for each name."""
    built = {}

    def make(name: str, *requirements: str, deps: bool = False, stubs: tuple = ()) -> Pair:
        if name not in built:
            root = tmp_path_factory.mktemp(f"overlay-{name}")
            old = side37.overlay(root / "ps37", *requirements, deps=deps, stubs=stubs)
            new = side_ours.overlay(root / "ours", *requirements, deps=deps, stubs=stubs)
            built[name] = (old, new, root)
        old, new, root = built[name]
        return Pair(old, new, tmp_path_factory.mktemp(f"run-{name}"))

    return make


#: The plugin package the API tests install on both sides (see its setup.py).
PROBE_PLUGIN = Path(__file__).parent / "probe_plugin"


@pytest.fixture(scope="session")
def probe_wheel(tmp_path_factory) -> Path:
    """The PasteApiProbe plugin, built once per session."""
    return build_wheel(PROBE_PLUGIN, tmp_path_factory.mktemp("probe-wheel"))


@pytest.fixture
def probe_pair(overlay_pair, probe_wheel) -> Pair:
    """A Pair whose two sides have the PasteApiProbe plugin installed."""
    return overlay_pair("api-probe", str(probe_wheel))
