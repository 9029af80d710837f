# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""Installed distributions in the shape plugins expect.

Plugins written for PasteScript 3.x receive ``pkg_resources`` objects from
``pluginlib.get_distro()``, ``pluginlib.resolve_plugins()``, as the
``dist`` of a ``paste.app_install`` installer and of every command entry
point; they use ``dist.project_name``, ``dist.location``,
``dist.has_metadata()``, ``dist.get_entry_map()``... :class:`Distribution`
offers that interface on top of :mod:`importlib.metadata` (it *is* an
``importlib.metadata.Distribution``, so ``dist.metadata``,
``dist.read_text()`` and ``dist.entry_points`` work too). ``pkg_resources``
itself is never imported.

This module imports :mod:`importlib.metadata`; ``paster`` start-up does not
import it (entry points create their ``dist`` on first use).
"""
from __future__ import annotations

import importlib.metadata as _md
import os
import re
import sys

from paste.script.pluginlib import parse_entry_points, parse_lines

__all__ = ["Distribution", "safe_name", "safe_version", "to_filename"]


def safe_name(name: str) -> str:
    """A project name as ``pkg_resources`` spells it: runs of other characters become ``-``."""
    return re.sub(r"[^A-Za-z0-9.]+", "-", name)


def safe_version(version: str) -> str:
    """A version as ``pkg_resources`` spells it when it cannot be normalized."""
    try:
        from packaging.version import InvalidVersion, Version
    except ImportError:  # packaging is optional; keep the text as written
        return re.sub(r"[^A-Za-z0-9.]+", "-", version.replace(" ", "."))
    try:
        return str(Version(version))
    except InvalidVersion:
        return re.sub(r"[^A-Za-z0-9.]+", "-", version.replace(" ", "."))


def to_filename(name: str) -> str:
    """``-`` becomes ``_``, as in egg file names."""
    return name.replace("-", "_")


def _name_from_metadata_dir(path: str) -> str:
    """The project name that ``pkg_resources`` reads from a metadata directory's name.

    ``Name-1.0.dist-info``, ``Name.egg-info`` and ``Name-1.0-py3.11.egg/EGG-INFO``
    all give ``Name`` (the part before the first ``-``).
    """
    base = os.path.basename(path.rstrip(os.sep))
    if base == "EGG-INFO":
        base = os.path.basename(os.path.dirname(path.rstrip(os.sep)))
    stem, ext = os.path.splitext(base)
    if ext not in (".dist-info", ".egg-info", ".egg"):
        return ""
    return stem.split("-", 1)[0]


def metadata_dir_of(dist) -> str | None:
    """The ``*.dist-info``/``*.egg-info`` directory of an ``importlib.metadata`` distribution.

    ``importlib.metadata`` has no public attribute for it, so it is looked
    for in the distribution's location (``locate_file('')``, public): the
    metadata directory there whose name and version are the distribution's.
    None when the distribution does not live in a directory.
    """
    import pathlib
    try:
        location = os.fspath(dist.locate_file(""))
        names = sorted(os.listdir(location))
        wanted = (_canonical(dist.metadata["Name"] or ""), dist.version)
    except (OSError, TypeError, NotImplementedError):
        return None
    for name in names:
        stem, ext = os.path.splitext(name)
        path = os.path.join(location, name)
        if ext not in (".dist-info", ".egg-info") or not os.path.isdir(path):
            continue
        if _canonical(stem.split("-", 1)[0]) != wanted[0]:
            continue
        found = _md.PathDistribution(pathlib.Path(path))
        if (_canonical(found.metadata["Name"] or ""), found.version) == wanted:
            return path
    return None


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


class Distribution(_md.Distribution):
    """One installed distribution, with both the ``pkg_resources`` and the
    ``importlib.metadata`` interfaces.

    Build it with :meth:`from_path` (a ``*.dist-info``/``*.egg-info``
    directory) or :meth:`wrap` (any ``importlib.metadata.Distribution``).
    """

    def __init__(self, inner: _md.Distribution, egg_info: str | None = None):
        self._inner = inner
        #: The metadata directory (``*.dist-info``/``*.egg-info``), if known.
        self.egg_info = egg_info

    @classmethod
    def from_path(cls, metadata_dir: str) -> "Distribution":
        import pathlib
        return cls(_md.PathDistribution(pathlib.Path(metadata_dir)), str(metadata_dir))

    @classmethod
    def wrap(cls, dist) -> "Distribution":
        """``dist`` (any ``importlib.metadata.Distribution``) with this interface too."""
        if isinstance(dist, cls):
            return dist
        return cls(dist, metadata_dir_of(dist))

    # -- what importlib.metadata needs -------------------------------------

    def read_text(self, filename):
        return self._inner.read_text(filename)

    def locate_file(self, path):
        return self._inner.locate_file(path)

    # -- the pkg_resources interface ----------------------------------------

    @property
    def project_name(self) -> str:
        """The name as ``pkg_resources`` gave it: from the metadata directory's name."""
        name = _name_from_metadata_dir(self.egg_info) if self.egg_info else ""
        return safe_name(name or self.metadata["Name"] or "Unknown")

    @property
    def key(self) -> str:
        return self.project_name.lower()

    @property
    def location(self):
        """The ``sys.path`` entry (or project directory) holding the distribution."""
        if self.egg_info is None:
            return None
        return os.path.dirname(self.egg_info.rstrip(os.sep))

    @property
    def parsed_version(self):
        from packaging.version import Version
        return Version(self.version)

    def _metadata_path(self, name: str):
        return os.path.join(self.egg_info, name) if self.egg_info is not None else None

    def has_metadata(self, name: str) -> bool:
        path = self._metadata_path(name)
        if path is not None:
            return os.path.exists(path)
        return self.read_text(name) is not None

    def get_metadata(self, name: str) -> str:
        """The text of the metadata file ``name``; ``FileNotFoundError`` if it is absent."""
        path = self._metadata_path(name)
        if path is not None:
            with open(path, encoding="utf-8") as f:
                return f.read()
        text = self.read_text(name)
        if text is None:
            raise FileNotFoundError(f"No metadata file {name!r} in {self}")
        return text

    def get_metadata_lines(self, name: str):
        """The non-blank, non-comment lines of the metadata file ``name``, stripped."""
        return iter(parse_lines(self.get_metadata(name)))

    def metadata_isdir(self, name: str) -> bool:
        path = self._metadata_path(name)
        return path is not None and os.path.isdir(path)

    def metadata_listdir(self, name: str) -> list:
        path = self._metadata_path(name)
        if path is None or not os.path.isdir(path):
            return []
        return os.listdir(path)

    def get_entry_map(self, group: str | None = None) -> dict:
        """``{group: {name: entry point}}``, or ``{name: entry point}`` of one group."""
        if self.has_metadata("entry_points.txt"):
            text = self.get_metadata("entry_points.txt")
        else:
            text = ""
        by_group: dict = {}
        for ep in parse_entry_points(text, self.project_name, self.egg_info):
            ep.dist = self
            by_group.setdefault(ep.group, {})[ep.name] = ep
        if group is not None:
            return by_group.get(group, {})
        return by_group

    def get_entry_info(self, group: str, name: str):
        """The entry point ``name`` of ``group``, or None."""
        return self.get_entry_map(group).get(name)

    def load_entry_point(self, group: str, name: str):
        """Load the entry point; ``ImportError`` if the distribution has none of that name."""
        ep = self.get_entry_info(group, name)
        if ep is None:
            raise ImportError(f"Entry point {(group, name)!r} not found")
        return ep.load()

    def egg_name(self) -> str:
        name = f"{to_filename(safe_name(self.project_name))}-{to_filename(safe_version(self.version))}"
        return f"{name}-py{sys.version_info[0]}.{sys.version_info[1]}"

    def activate(self, path=None, replace: bool = False) -> None:
        """Make sure the distribution's location is on ``sys.path``."""
        if path is None:
            path = sys.path
        location = self.location
        if location and location not in path:
            if replace:
                path.insert(0, location)
            else:
                path.append(location)

    def as_requirement(self) -> str:
        return f"{self.project_name}=={self.version}"

    def __str__(self) -> str:
        return f"{self.project_name} {self.version}"

    def __repr__(self) -> str:
        location = self.location
        return f"{self} ({location})" if location else str(self)

    def __eq__(self, other) -> bool:
        if not isinstance(other, Distribution):
            return NotImplemented
        return (self.key, self.version, self.location) == (other.key, other.version, other.location)

    def __hash__(self) -> int:
        return hash((self.key, self.version, self.location))

