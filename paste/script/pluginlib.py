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

__all__ = [
    "PluginError", "PluginNotFound", "find_egg_info_dir", "egg_info_dir", "egg_name",
    "add_plugin", "remove_plugin", "resolve_plugins", "find_distribution",
    "load_commands_from_plugins", "load_global_commands", "entry_points",
    "project_plugins", "EntryPoint", "get_distro", "parse_lines", "plugin_commands",
    "distributions", "parse_requirement", "check_version", "parse_entry_points",
]


class PluginError(LookupError):
    """A plugin cannot be used; the message says why (``paster`` prints it, exit 2)."""


class PluginNotFound(PluginError):
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
            names = sorted(name for name in os.listdir(dir) if name.endswith(".egg-info"))
        except OSError:
            names = []
        for name in names:
            full = os.path.join(dir, name)
            if os.path.isdir(full):
                return full
        parent = os.path.dirname(dir)
        if parent == dir:
            return None
        dir = parent


def egg_info_dir(base_dir: str, dist_name: str) -> str:
    """The egg-info directory of ``dist_name`` in ``base_dir`` or one of its subdirectories.

    Subdirectories count (as in 3.7) for projects whose packages live in
    ``src/``, where ``setup.py egg_info`` writes the egg-info.
    """
    wanted = _normalize(egg_name(dist_name))

    def find(directory: str) -> str | None:
        try:
            names = sorted(os.listdir(directory))
        except OSError:
            return None
        for name in names:
            if name.endswith(".egg-info") and _normalize(name[:-len(".egg-info")]) == wanted:
                return os.path.join(directory, name)
        return None

    found = find(base_dir)
    if found is None:
        try:
            subdirs = sorted(name for name in os.listdir(base_dir)
                             if os.path.isdir(os.path.join(base_dir, name)))
        except OSError:
            subdirs = []
        for name in subdirs:
            found = find(os.path.join(base_dir, name))
            if found is not None:
                break
    if found is None:
        raise OSError(
            f"No egg-info directory for {dist_name!r} found in {base_dir} "
            f"(run 'python setup.py egg_info' there)")
    return found


def _read_plugin_lines(egg_info: str) -> list[str]:
    path = os.path.join(egg_info, "paster_plugins.txt")
    if not os.path.exists(path):
        return []
    try:
        with open(path, encoding="utf-8") as f:
            return [line.strip() for line in f if line.strip()]
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise PluginError(f"Cannot read plugin list {path}: {reason}") from None


def _write_plugin_lines(egg_info: str, lines: list[str]) -> None:
    os.makedirs(egg_info, exist_ok=True)
    with open(os.path.join(egg_info, "paster_plugins.txt"), "w", encoding="utf-8") as f:
        f.write("".join(line + "\n" for line in lines))


def add_plugin(egg_info_dir: str, plugin_name: str) -> None:
    """Add ``plugin_name`` to ``paster_plugins.txt`` in ``egg_info_dir``.

    The file, and the directory, are created if missing; a name already
    listed (spelled the same) is not added again.
    """
    lines = _read_plugin_lines(egg_info_dir)
    if plugin_name in lines:
        return
    _write_plugin_lines(egg_info_dir, lines + [plugin_name])


def remove_plugin(egg_info_dir: str, plugin_name: str) -> None:
    """Remove ``plugin_name`` (compared case-insensitively) from ``paster_plugins.txt``.

    Other lines are kept. Raises ``ValueError`` when the file does not exist
    or does not list the plugin. As in 3.7, it prints the lines it writes.
    """
    path = os.path.join(egg_info_dir, "paster_plugins.txt")
    if not os.path.exists(path):
        raise ValueError(f"Cannot remove plugin from {path}; file does not exist")
    lines = _read_plugin_lines(egg_info_dir)
    for line in lines:
        if line.lower() == plugin_name.lower():
            break
    else:
        raise ValueError(f"Plugin {plugin_name} not found in file {path} (from: {lines})")
    lines.remove(line)
    print("writing", lines)
    _write_plugin_lines(egg_info_dir, lines)


def parse_requirement(spec: str) -> tuple[str, str]:
    """``(distribution name, version specifier)`` of ``Name``, ``Name>=1.0`` or ``Name#entry``.

    Parsed as PEP 508 by ``packaging``; extras and markers are dropped.
    Raises :class:`PluginError` for text that is not a requirement.
    """
    from packaging.requirements import InvalidRequirement, Requirement
    text = spec.split("#", 1)[0].strip()
    try:
        requirement = Requirement(text)
    except InvalidRequirement:
        raise PluginError(f"Not a distribution name or requirement: {spec!r}") from None
    return requirement.name, str(requirement.specifier)


def get_distro(spec: str):
    """The installed distribution named by ``spec`` (``Name``, ``Name>=1.0``).

    Returns a :class:`paste.script.distribution.Distribution`, which offers
    what ``pkg_resources.get_distribution()`` gave plugins
    (``project_name``, ``location``, ``has_metadata()``...) as well as the
    ``importlib.metadata`` interface. Raises :class:`PluginNotFound`.
    """
    from paste.script.distribution import Distribution
    name, version_spec = parse_requirement(spec) if _needs_parsing(spec) else (spec, "")
    info = _index().get(_normalize(name))
    if info is not None:
        dist = Distribution.from_path(info[1])
    else:
        md = _metadata()
        try:
            dist = Distribution.wrap(md.distribution(name))
        except md.PackageNotFoundError:
            raise PluginNotFound(name) from None
    if version_spec:
        check_version(dist, spec)
    return dist


def _needs_parsing(spec: str) -> bool:
    # A bare name (what start-up and plugin lists give) needs no parser.
    return not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", spec)


def distributions() -> list:
    """Every distribution on ``sys.path`` (the first of each name), as :func:`get_distro` gives them."""
    from paste.script.distribution import Distribution
    return [Distribution.from_path(path) for _name, path, _groups in _index().values()]


def check_version(dist, requirement: str) -> None:
    """Raise :class:`PluginError` unless ``dist`` satisfies ``requirement``'s version.

    ``requirement`` is ``Name>=1.0`` (only its version specifier counts;
    pre-releases satisfy it, as they did for ``pkg_resources``).
    """
    from packaging.specifiers import SpecifierSet
    _name, specifier = parse_requirement(requirement)
    if not SpecifierSet(specifier).contains(dist.version, prereleases=True):
        raise PluginError(f"{dist} is installed but {requirement!r} is required")


def find_distribution(name: str):
    """The installed distribution called ``name`` (``Dist#entry`` specs allowed).

    The same object as :func:`get_distro` gives (an
    ``importlib.metadata.Distribution`` with the ``pkg_resources`` interface).
    """
    return get_distro(name)


def parse_lines(data: str) -> list:
    """The non-empty, non-comment lines of ``data``, stripped."""
    return [line.strip() for line in data.splitlines()
            if line.strip() and not line.strip().startswith("#")]


# ---------------------------------------------------------------------------
# The fast path. ``paster`` start-up needs only the entry points of a few
# groups. Importing importlib.metadata (and the email package behind it)
# costs more than the rest of ``paster help`` together, so the dispatcher
# reads metadata directories the way importlib.metadata's path finder
# finds them: every ``*.dist-info`` / ``*.egg-info`` directory directly in a
# ``sys.path`` entry, the first one of each (normalized) name winning.


class EntryPoint:
    """An entry point read from ``entry_points.txt``; loads its object on demand.

    It has the attributes of both ``importlib.metadata`` entry points
    (``name``, ``value``, ``group``, ``module``, ``attr``) and of the
    ``pkg_resources`` ones that PasteScript 3.x handed out (``module_name``,
    ``attrs``, ``extras``, ``dist``, ``resolve()``).
    """

    __slots__ = ("name", "value", "group", "dist_name", "path", "_dist")

    def __init__(self, name: str, value: str, group: str, dist_name: str = "",
                 path: str | None = None):
        self.name = name
        self.value = value
        self.group = group
        self.dist_name = dist_name
        #: The metadata directory of the distribution that declares it.
        self.path = path
        self._dist = None

    @property
    def module(self) -> str:
        return self.value.split("[", 1)[0].split(":", 1)[0].strip()

    @property
    def attr(self) -> str:
        target = self.value.split("[", 1)[0]
        return target.split(":", 1)[1].strip() if ":" in target else ""

    module_name = module

    @property
    def attrs(self) -> tuple:
        return tuple(part.strip() for part in self.attr.split(".") if part.strip())

    @property
    def extras(self) -> tuple:
        if "[" not in self.value:
            return ()
        inside = self.value.split("[", 1)[1].rsplit("]", 1)[0]
        return tuple(re.sub(r"[^A-Za-z0-9.-]+", "_", extra.strip()).lower()
                     for extra in inside.split(",") if extra.strip())

    @property
    def dist(self):
        """The distribution that declares the entry point (created on first use)."""
        if self._dist is None:
            if self.path is not None:
                from paste.script.distribution import Distribution
                self._dist = Distribution.from_path(self.path)
            elif self.dist_name:
                self._dist = get_distro(self.dist_name)
        return self._dist

    @dist.setter
    def dist(self, value) -> None:
        self._dist = value

    def resolve(self):
        """Import the module and look up the attribute (``ImportError`` if it is missing)."""
        import functools
        import importlib
        module = importlib.import_module(self.module)
        try:
            return functools.reduce(getattr, self.attrs, module)
        except AttributeError as exc:
            raise ImportError(str(exc)) from exc

    def load(self, require: bool = True, *args, **kwargs):
        """The object the entry point names (``require`` is accepted and ignored)."""
        return self.resolve()

    def require(self, env=None, installer=None) -> None:
        """Accepted for compatibility; extras are not checked."""

    def __str__(self) -> str:
        text = f"{self.name} = {self.module}"
        if self.attrs:
            text += ":" + ".".join(self.attrs)
        if self.extras:
            text += f" [{','.join(self.extras)}]"
        return text

    def __repr__(self) -> str:
        return f"EntryPoint.parse({str(self)!r})"


_scan_cache: dict = {}

# Listing hundreds of installed distributions and reading each one's
# entry_points.txt would make start-up grow with the size of the
# environment, so what each sys.path directory holds is kept in a small
# per-environment cache file (marshal: no import cost), valid while the
# directory's mtime is unchanged. Installing or removing a distribution
# changes that mtime. Entry points of ``*.egg-info`` directories are never
# cached: ``setup.py egg_info`` rewrites them in place in development
# projects. ``$PASTE_SCRIPT_CACHE_DIR`` moves the cache; empty disables it.
_CACHE_FORMAT = 2
_RACY_SECONDS = 2.0
_disk_cache = None
_disk_dirty = False


def _cache_file():
    root = os.environ.get("PASTE_SCRIPT_CACHE_DIR")
    if root is None:
        cache_home = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        root = os.path.join(cache_home, "paste-script")
    if not root:
        return None
    # One file per environment, named by a 32-bit FNV-1a of its prefix
    # (zlib's crc32 cost an import on the way to every command).
    digest = 0x811C9DC5
    for byte in sys.prefix.encode("utf-8", "surrogateescape"):
        digest = ((digest ^ byte) * 0x01000193) & 0xFFFFFFFF
    env = format(digest, "08x")
    return os.path.join(root, f"entry-points-{sys.implementation.cache_tag}-{env}.marshal")


def _load_disk_cache() -> dict:
    global _disk_cache
    if _disk_cache is None:
        _disk_cache = {}
        path = _cache_file()
        if path:
            try:
                import marshal
                with open(path, "rb") as f:
                    data = marshal.load(f)
                if isinstance(data, tuple) and data[0] == _CACHE_FORMAT:
                    _disk_cache = data[1]
            except (OSError, EOFError, ValueError, TypeError, IndexError):
                pass
    return _disk_cache


def _save_disk_cache(dirs: list) -> None:
    global _disk_dirty
    if not _disk_dirty:
        return
    _disk_dirty = False
    path = _cache_file()
    if not path:
        return
    import marshal
    data = {d: _disk_cache[d] for d in dirs if d in _disk_cache}
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(tmp, "wb") as f:
            marshal.dump((_CACHE_FORMAT, data), f)
        os.replace(tmp, path)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass


def _scan_directory(base: str) -> list:
    """[(normalized name, name, metadata dir, paste.* entry points or None)] in ``base``."""
    entries = []
    for name in sorted(os.listdir(base)):
        if name.endswith(".dist-info"):
            stem = name[:-10]
        elif name.endswith(".egg-info"):
            stem = name[:-9]
        else:
            continue
        path = os.path.join(base, name)
        if not os.path.isdir(path):
            continue
        dist_name = _metadata_name(path) or stem.split("-", 1)[0]
        groups = None
        if name.endswith(".dist-info"):
            groups = {}
            text = _read_metadata_file(path, "entry_points.txt")
            if "paste" in text:
                for ep in parse_entry_points(text, dist_name):
                    if ep.group.startswith("paste."):
                        groups.setdefault(ep.group, []).append((ep.name, ep.value))
        entries.append((_normalize(dist_name), dist_name, path, groups))
    return entries


def _directory_entries(base: str) -> list:
    global _disk_dirty
    try:
        mtime = os.stat(base).st_mtime_ns
    except OSError:
        return []
    cache = _load_disk_cache()
    cached = cache.get(base)
    if cached is not None and cached[0] == mtime:
        return cached[1]
    try:
        entries = _scan_directory(base)
    except OSError:
        return []
    # A directory changed within the last moments may change again within
    # the same mtime tick: do not trust a cache entry for it.
    import time
    if time.time() - mtime / 1e9 > _RACY_SECONDS:
        cache[base] = (mtime, entries)
        _disk_dirty = True
    return entries


# Project directories that ``project_plugins`` put on sys.path. Modules are
# imported from them first (they go to the front of sys.path, as in 3.x),
# but a distribution installed elsewhere keeps precedence over the project's
# egg-info, as it did in pkg_resources' working set.
_project_dirs: list = []


def _index() -> dict:
    """Normalized distribution name -> (name, metadata directory, cached paste.* entry points)."""
    key = tuple(sys.path)
    found = _scan_cache.get(key)
    if found is not None:
        return found
    found = {}
    dirs = []
    late = [os.path.abspath(d) for d in _project_dirs]
    for entry in [e for e in sys.path if os.path.abspath(e or ".") not in late] + late:
        base = os.path.abspath(entry or ".")
        if base in dirs:
            continue
        dirs.append(base)
        for norm, dist_name, path, groups in _directory_entries(base):
            if norm not in found:
                found[norm] = (dist_name, path, groups)
    _save_disk_cache(dirs)
    _scan_cache.clear()
    _scan_cache[key] = found
    return found


def _read_metadata_file(path: str, filename: str) -> str:
    try:
        with open(os.path.join(path, filename), encoding="utf-8") as f:
            return f.read()
    except OSError:
        return ""


def parse_entry_points(text: str, dist_name: str, path: str | None = None) -> list:
    """The :class:`EntryPoint` objects of an ``entry_points.txt`` text.

    ``dist_name`` and ``path`` (the metadata directory) become each entry
    point's ``dist_name`` and ``path``. Comments and lines outside a group
    are skipped.
    """
    result = []
    group = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line[0] == "[" and line[-1] == "]":
            group = line[1:-1].strip()
            continue
        if group is None or "=" not in line:
            continue
        name, value = line.split("=", 1)
        result.append(EntryPoint(name.strip(), value.strip(), group, dist_name, path))
    return result


def _find_dist_dir(name: str):
    info = _index().get(_normalize(name.split("#", 1)[0].strip()))
    if info is None:
        raise PluginNotFound(name)
    return info[:2]


def _resolve_plugin_paths(plugin_list: list) -> list:
    """[(plugin name, metadata directory)] in the order PasteScript 3.x found them.

    Names are taken from the *end* of ``plugin_list`` (which is emptied),
    and the plugins each one lists in its ``paster_plugins.txt`` are added
    unless already found; a name given twice is found twice.
    """
    found: list = []
    while plugin_list:
        plugin = plugin_list.pop()
        _name, path = _find_dist_dir(plugin)
        found.append((plugin, path))
        names = [name for name, _ in found]
        for added in _read_plugin_lines(path):
            if added.startswith("#"):
                continue
            if added not in names:
                plugin_list.append(added)
    return found


def resolve_plugins(plugin_list: list) -> list:
    """The distributions of ``plugin_list`` and of the plugins they list, recursively.

    As in PasteScript 3.x: a list of distributions (with the
    ``pkg_resources`` interface, see :func:`get_distro`), taken from the
    end of ``plugin_list``, which is left empty. Raises
    :class:`PluginNotFound` for a name that is not installed.
    """
    from paste.script.distribution import Distribution
    return [Distribution.from_path(path) for _name, path in _resolve_plugin_paths(plugin_list)]


def project_plugins(directory: str | None = None) -> list:
    """Plugin names contributed by the project around ``directory`` (default: cwd).

    The name is the project's egg-info directory name (``My_Project`` for
    ``My_Project.egg-info``). The project's directory is put at the front
    of ``sys.path``, as PasteScript 3.x did, so that its modules import and
    its (possibly uninstalled) egg-info is found like an installed
    distribution.
    """
    egg_info = find_egg_info_dir(directory or os.getcwd())
    if not egg_info:
        return []
    base = os.path.dirname(egg_info)
    if base not in sys.path:
        sys.path.insert(0, base)
        _project_dirs.append(base)
    return [os.path.splitext(os.path.basename(egg_info))[0]]


def _metadata_name(path: str) -> str:
    """The ``Name:`` header of a dist-info/egg-info directory's metadata file."""
    filename = "METADATA" if path.endswith(".dist-info") else "PKG-INFO"
    for line in _read_metadata_file(path, filename).splitlines():
        if line.startswith("Name:"):
            return line.split(":", 1)[1].strip()
        if not line.strip():
            break
    return ""


def entry_points(group: str, dist=None) -> list:
    """Entry points of ``group``, from one distribution or every installed one.

    ``dist`` may be a distribution name or a distribution object
    (``importlib.metadata`` or :func:`get_distro`'s).
    """
    if dist is not None:
        if not isinstance(dist, str):
            from paste.script.distribution import Distribution
            return list(Distribution.wrap(dist).get_entry_map(group).values())
        dist_name, path = _find_dist_dir(dist)
        return _dist_entry_points(dist_name, path, group)
    result = []
    for dist_name, path, groups in _index().values():
        if groups is not None and group.startswith("paste."):
            result.extend(EntryPoint(name, value, group, dist_name, path)
                          for name, value in groups.get(group, ()))
            continue
        text = _read_metadata_file(path, "entry_points.txt")
        if group in text:
            result.extend(ep for ep in parse_entry_points(text, dist_name, path) if ep.group == group)
    return result


def _dist_entry_points(dist_name: str, path: str, group: str) -> list:
    text = _read_metadata_file(path, "entry_points.txt")
    return [ep for ep in parse_entry_points(text, dist_name, path) if ep.group == group]


def load_commands_from_plugins(plugins) -> dict:
    """``paste.paster_command`` entry points of the given plugins, by command name.

    ``plugins`` holds distribution names or distribution objects (what
    :func:`resolve_plugins` returns); a later plugin's command wins.
    """
    commands = {}
    for plugin in plugins:
        for ep in entry_points("paste.paster_command", plugin):
            commands[ep.name] = ep
    return commands


def _commands_of_plugin_paths(found: list) -> dict:
    commands = {}
    for name, path in found:
        for ep in _dist_entry_points(name, path, "paste.paster_command"):
            commands[ep.name] = ep
    return commands


def load_global_commands() -> dict:
    """Every installed ``paste.global_paster_command`` entry point, by command name.

    When two distributions declare the same name, the one found later on
    ``sys.path`` wins, as in PasteScript 3.x.
    """
    commands = {}
    for ep in entry_points("paste.global_paster_command"):
        commands[ep.name] = ep
    return commands


def plugin_commands(plugin_names: list) -> dict:
    """The commands ``paster`` offers with these plugins active (3.x's ``get_commands``).

    The plugins' ``paste.paster_command`` entry points, then every
    ``paste.global_paster_command`` one, which wins over a plugin command
    of the same name. Works from metadata directories only, so that
    ``paster`` start-up does not import ``importlib.metadata``.
    """
    commands = _commands_of_plugin_paths(_resolve_plugin_paths(list(plugin_names)))
    commands.update(load_global_commands())
    return commands
