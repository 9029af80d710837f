# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""Finding plugins, their commands and templates through entry points.

Everything here stands on :mod:`importlib.metadata`. A *plugin* is a
distribution whose ``paste.paster_command`` entry points become ``paster``
commands; the active plugins are the ones named with ``--plugin``, the
project found around the current directory, and, recursively, whatever
each of those lists in its ``paster_plugins.txt``.
"""
from __future__ import annotations

import os
import re
import sys
from typing import Iterable

__all__ = [
    "PluginNotFound", "find_egg_info_dir", "egg_info_dir", "egg_name",
    "add_plugin", "remove_plugin", "resolve_plugins", "find_distribution",
    "load_commands_from_plugins", "load_global_commands", "entry_points",
    "project_plugins",
]


class PluginNotFound(LookupError):
    """A plugin (distribution) named by the user is not installed."""

    def __init__(self, name: str):
        self.name = name
        super().__init__(
            f"Plugin {name!r} not found (is it installed? "
            f"For a project directory, run 'python setup.py egg_info')")


def _metadata():
    # importlib.metadata is imported on first use so that code paths which
    # never look at distributions do not pay for it.
    import importlib.metadata
    return importlib.metadata


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def egg_name(dist_name: str) -> str:
    """The distribution name as setuptools writes it in file names."""
    return re.sub(r"[^A-Za-z0-9.]+", "_", dist_name)


def find_egg_info_dir(dir: str) -> str | None:
    """The ``*.egg-info`` directory in ``dir`` or its nearest parent that has one."""
    dir = os.path.abspath(dir)
    while True:
        try:
            names = sorted(os.listdir(dir))
        except OSError:
            names = []
        for name in names:
            full = os.path.join(dir, name)
            if name.endswith(".egg-info") and os.path.isdir(full):
                return full
        parent = os.path.dirname(dir)
        if parent == dir:
            return None
        dir = parent


def egg_info_dir(base_dir: str, dist_name: str) -> str:
    """The egg-info directory of ``dist_name`` directly under ``base_dir``."""
    wanted = _normalize(egg_name(dist_name))
    candidates = []
    try:
        candidates = os.listdir(base_dir)
    except OSError:
        pass
    for name in candidates:
        if name.endswith(".egg-info") and _normalize(name[:-len(".egg-info")]) == wanted:
            return os.path.join(base_dir, name)
    raise OSError(
        f"No egg-info directory for {dist_name!r} found in {base_dir} "
        f"(run 'python setup.py egg_info' there)")


def _read_plugin_lines(egg_info: str) -> list[str]:
    path = os.path.join(egg_info, "paster_plugins.txt")
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        return [line.strip() for line in f if line.strip()]


def _write_plugin_lines(egg_info: str, lines: list[str]) -> None:
    path = os.path.join(egg_info, "paster_plugins.txt")
    if not lines:
        if os.path.exists(path):
            os.unlink(path)
        return
    with open(path, "w", encoding="utf-8") as f:
        f.write("".join(line + "\n" for line in lines))


def add_plugin(egg_info_dir: str, plugin_name: str) -> None:
    """Add ``plugin_name`` to ``paster_plugins.txt`` (created if missing)."""
    lines = _read_plugin_lines(egg_info_dir)
    if _normalize(plugin_name) in {_normalize(line) for line in lines}:
        return
    _write_plugin_lines(egg_info_dir, lines + [plugin_name])


def remove_plugin(egg_info_dir: str, plugin_name: str) -> None:
    """Remove ``plugin_name`` from ``paster_plugins.txt``, keeping other lines."""
    lines = _read_plugin_lines(egg_info_dir)
    wanted = _normalize(plugin_name)
    kept = [line for line in lines if _normalize(line) != wanted]
    if kept != lines:
        _write_plugin_lines(egg_info_dir, kept)


def find_distribution(name: str):
    """The installed distribution called ``name`` (``Dist#entry`` specs allowed)."""
    name = name.split("#", 1)[0].strip()
    md = _metadata()
    try:
        return md.distribution(name)
    except md.PackageNotFoundError:
        raise PluginNotFound(name) from None


def _dist_name(dist) -> str:
    return dist.metadata["Name"] or ""


def resolve_plugins(plugin_list: Iterable[str]) -> list[str]:
    """Distribution names of ``plugin_list`` and the plugins they list, each once."""
    pending = list(plugin_list)
    found: list[str] = []
    seen: set[str] = set()
    while pending:
        plugin = pending.pop(0)
        key = _normalize(plugin.split("#", 1)[0])
        if key in seen:
            continue
        dist = find_distribution(plugin)
        seen.add(key)
        found.append(_dist_name(dist) or plugin)
        text = dist.read_text("paster_plugins.txt") or ""
        pending.extend(line.strip() for line in text.splitlines() if line.strip())
    return found


def project_plugins(directory: str | None = None) -> list[str]:
    """Plugin names contributed by the project around ``directory`` (default: cwd).

    The project's directory is put on ``sys.path`` so that its (possibly
    uninstalled) egg-info is found by :mod:`importlib.metadata`.
    """
    egg_info = find_egg_info_dir(directory or os.getcwd())
    if not egg_info:
        return []
    base = os.path.dirname(egg_info)
    if base not in sys.path:
        sys.path.append(base)
    name = _egg_info_name(egg_info)
    return [name] if name else []


def _egg_info_name(egg_info: str) -> str:
    pkg_info = os.path.join(egg_info, "PKG-INFO")
    try:
        with open(pkg_info, encoding="utf-8") as f:
            for line in f:
                if line.startswith("Name:"):
                    return line.split(":", 1)[1].strip()
                if not line.strip():
                    break
    except OSError:
        pass
    return os.path.basename(egg_info)[:-len(".egg-info")]


def entry_points(group: str, dist=None) -> list:
    """Entry points of ``group``, from one distribution or every installed one."""
    if dist is not None:
        return [ep for ep in dist.entry_points if ep.group == group]
    return list(_metadata().entry_points(group=group))


def load_commands_from_plugins(plugins: Iterable[str]) -> dict:
    """``paste.paster_command`` entry points of the given plugins, by command name."""
    commands = {}
    for plugin in plugins:
        for ep in entry_points("paste.paster_command", find_distribution(plugin)):
            commands[ep.name] = ep
    return commands


def load_global_commands() -> dict:
    """Every installed ``paste.global_paster_command`` entry point, by command name."""
    commands = {}
    for ep in entry_points("paste.global_paster_command"):
        commands.setdefault(ep.name, ep)
    return commands
