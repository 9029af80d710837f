# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""What a worker loaded: module source files, installed libraries, readable errors."""
from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import traceback

__all__ = ["module_source", "module_files", "error_files", "format_error",
           "purge_modules", "library_roots", "library_modules"]


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


def _machinery_dirs() -> tuple[str, ...]:
    dirs = [os.path.dirname(os.path.dirname(os.path.abspath(__file__)))]   # paste/script
    dirs.append(os.path.dirname(os.path.abspath(importlib.__file__)))      # importlib
    deploy = sys.modules.get("paste.deploy")
    if deploy is not None and getattr(deploy, "__file__", None):
        dirs.append(os.path.dirname(os.path.abspath(deploy.__file__)))
    return tuple(d + os.sep for d in dirs)


def format_error(exc: BaseException) -> str:
    """The error as a user wants to read it: their frames, not the loader's."""
    message = getattr(exc, "message", None)
    if type(exc).__name__ == "BadCommand" and isinstance(message, str):
        return message
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
