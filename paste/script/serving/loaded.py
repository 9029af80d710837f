# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""What a worker loaded: module source files, installed libraries, readable errors."""
from __future__ import annotations

import importlib
import importlib.util
import os
import re
import sys

from paste.script.serving.errors import user_message

__all__ = ["module_source", "module_files", "error_files", "missing_module_paths",
           "format_error", "error_summary", "purge_modules", "library_roots", "library_modules",
           "NewModules"]


def module_source(module) -> str | None:
    """The source file of a module (``.py`` for a cached ``.pyc``), or None."""
    try:
        filename = module.__dict__.get("__file__")
    except Exception:
        return None
    if not isinstance(filename, str) or not filename:
        return None
    if filename.endswith((".pyc", ".pyo")):
        try:
            filename = importlib.util.source_from_cache(filename)
        except ValueError:
            filename = filename[:-1]
    return os.path.abspath(filename)


def module_files() -> list[str]:
    return [path for path in map(module_source, list(sys.modules.values())) if path]


def error_files(exc: BaseException) -> list[str]:
    """Files named by an error: the broken module is not in ``sys.modules``."""
    import traceback
    files = []
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, SyntaxError) and exc.filename:
            files.append(os.path.abspath(exc.filename))
        for frame in traceback.extract_tb(exc.__traceback__):
            if not frame.filename.startswith("<"):
                files.append(os.path.abspath(frame.filename))
        exc = exc.__cause__ or exc.__context__
    return files


def missing_module_paths(exc: BaseException) -> list[str]:
    """Where the module an import could not find would be, once it is written.

    For ``from pkg import helper`` with ``pkg/helper.py`` not there yet (an
    editor saving ``app.py`` before the new module), the paths
    ``pkg/helper.py`` and ``pkg/helper/__init__.py`` in every directory of
    ``pkg``; for a missing top-level module, the same in every directory on
    ``sys.path`` that holds no installed code.
    """
    paths = []
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        name = None
        if isinstance(exc, ModuleNotFoundError):
            name = getattr(exc, "name", None)
        elif isinstance(exc, ImportError) and getattr(exc, "name", None):
            # ``from pkg import helper``: Python reports the missing submodule
            # as a name missing from the package.
            match = re.match(r"cannot import name '(\w+)' from '([\w.]+)'", str(exc))
            if match and match.group(2) == exc.name:
                name = f"{exc.name}.{match.group(1)}"
        if name:
            parent, _, leaf = name.rpartition(".")
            if parent:
                package = sys.modules.get(parent)
                dirs = list(getattr(package, "__path__", None) or [])
            else:
                roots = library_roots()
                dirs = [os.path.abspath(d or os.curdir) for d in sys.path
                        if isinstance(d, str) and os.path.isdir(d or os.curdir)
                        and not os.path.join(os.path.abspath(d or os.curdir), "").startswith(roots)]
            for directory in dirs:
                paths.append(os.path.join(directory, leaf + ".py"))
                paths.append(os.path.join(directory, leaf, "__init__.py"))
        exc = exc.__cause__ or exc.__context__
    return paths


class NewModules:
    """The source files of modules imported since the last call (cheap when none were)."""

    def __init__(self):
        self._count = len(sys.modules)
        self._known = set(sys.modules)

    def __call__(self) -> list[str]:
        if len(sys.modules) == self._count:
            return []
        names = set(sys.modules)
        new, self._known = names - self._known, names
        self._count = len(names)
        return [path for path in (module_source(sys.modules.get(n)) for n in new) if path]


def _machinery_dirs() -> tuple[str, ...]:
    dirs = [os.path.dirname(os.path.dirname(os.path.abspath(__file__)))]   # paste/script
    dirs.append(os.path.dirname(os.path.abspath(importlib.__file__)))      # importlib
    deploy = sys.modules.get("paste.deploy")
    if deploy is not None and getattr(deploy, "__file__", None):
        dirs.append(os.path.dirname(os.path.abspath(deploy.__file__)))
    return tuple(d + os.sep for d in dirs)


def format_error(exc: BaseException) -> str:
    """The error as a user wants to read it: their frames, not the loader's."""
    known = user_message(exc)
    if known is not None:
        return known[0]
    import traceback
    machinery = _machinery_dirs()
    te = traceback.TracebackException.from_exception(exc)
    seen = set()
    node = te
    while node is not None and id(node) not in seen:
        seen.add(id(node))
        frames = [f for f in node.stack
                  if not f.filename.startswith(machinery)
                  and not f.filename.startswith("<frozen importlib")]
        node.stack = traceback.StackSummary.from_list(frames)
        node = node.__cause__ or node.__context__
    return "".join(te.format()).rstrip("\n")


def error_summary(exc: BaseException) -> str:
    """The error in one line: a message for the user, else ``Type: message``."""
    known = user_message(exc)
    if known is not None:
        message = known[0]
        return message.strip().splitlines()[0] if message.strip() else "error"
    import traceback
    lines = traceback.format_exception_only(type(exc), exc)
    return (lines[-1] if lines else repr(exc)).strip()


def purge_modules(changed: set[str]) -> None:
    """Forget modules the monitor imported whose source has changed since."""
    if not changed:
        return
    for name, module in list(sys.modules.items()):
        if module_source(module) in changed:
            del sys.modules[name]


def library_roots() -> tuple[str, ...]:
    """Directories of installed code: the standard library and site-packages."""
    import site
    import sysconfig
    paths = sysconfig.get_paths()
    roots = [paths.get(key) for key in ("stdlib", "platstdlib", "purelib", "platlib")]
    try:
        roots += site.getsitepackages() + [site.getusersitepackages()]
    except AttributeError:      # some embedded interpreters
        pass
    return tuple(sorted({os.path.join(os.path.abspath(r), "") for r in roots if r}))


def library_modules(roots: tuple[str, ...] | None = None) -> list[str]:
    """Names of the loaded modules that are installed code, in import order."""
    roots = roots or library_roots()
    names = []
    for name, module in list(sys.modules.items()):
        source = module_source(module)
        if source and source.startswith(roots) and name != "__main__":
            names.append(name)
    return names
