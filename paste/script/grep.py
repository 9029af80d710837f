# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""``paster grep SYMBOL``: where a project's Python code uses a name.

Python files are parsed (:mod:`ast`), so a hit is a real use of the name:
a variable, attribute, argument, keyword, import, definition, or a string
equal to it; comments and longer names that merely contain it are not
hits. Each hit is shown under its module and scope
(``package.module:Class.method``) with its line number and line. Files
that do not parse, and the extra types given with ``-t``, are searched as
text.
"""
from __future__ import annotations

import os
import sys

from paste.script import pluginlib
from paste.script.command import BadCommand, Command

__all__ = ["GrepCommand", "find_symbol", "code_uses", "occurrence_lines"]

# Directories that never hold the project's own code.
_SKIP_DIRS = {"CVS", "_darcs", "__pycache__", "node_modules"}
_SKIP_TOP_DIRS = {"build", "dist"}


class _Finder:
    """Collects (scope path, line number) of every use of one name.

    A visitor in the manner of ``ast.NodeVisitor``, written out so that
    importing this module (``paster help`` does) does not import :mod:`ast`.
    """

    def __init__(self, symbol: str):
        self.symbol = symbol
        self.scope: list[str] = []
        self.hits: list[tuple[tuple[str, ...], int]] = []

    def visit(self, node) -> None:
        getattr(self, f"visit_{type(node).__name__}", self.generic_visit)(node)

    def generic_visit(self, node) -> None:
        import ast
        for child in ast.iter_child_nodes(node):
            self.visit(child)

    def hit(self, node) -> None:
        lineno = getattr(node, "lineno", None)
        if lineno is not None:
            self.hits.append((tuple(self.scope), lineno))

    def _scoped(self, node) -> None:
        if node.name == self.symbol:
            self.hit(node)
        for decorator in node.decorator_list:
            self.visit(decorator)
        for base in getattr(node, "bases", ()):
            self.visit(base)
        for keyword in getattr(node, "keywords", ()):
            self.visit(keyword)
        self.scope.append(node.name)
        for field in ("args", "returns", "body"):
            value = getattr(node, field, None)
            if isinstance(value, list):
                for item in value:
                    self.visit(item)
            elif value is not None:
                self.visit(value)
        self.scope.pop()

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _scoped

    def visit_Name(self, node) -> None:
        if node.id == self.symbol:
            self.hit(node)

    def visit_Attribute(self, node) -> None:
        if node.attr == self.symbol:
            self.hit(node)
        self.generic_visit(node)

    def visit_arg(self, node) -> None:
        if node.arg == self.symbol:
            self.hit(node)
        self.generic_visit(node)

    def visit_keyword(self, node) -> None:
        if node.arg == self.symbol:
            self.hit(node)
        self.generic_visit(node)

    def visit_Import(self, node) -> None:
        # Hits go on the statement: alias nodes have no line numbers before 3.10.
        for alias in node.names:
            if self.symbol in alias.name.split(".") or alias.asname == self.symbol:
                self.hit(node)

    def visit_ImportFrom(self, node) -> None:
        if node.module and self.symbol in node.module.split("."):
            self.hit(node)
        for alias in node.names:
            if self.symbol in alias.name.split(".") or alias.asname == self.symbol:
                self.hit(node)

    def visit_Global(self, node) -> None:
        if self.symbol in node.names:
            self.hit(node)

    visit_Nonlocal = visit_Global

    def visit_ExceptHandler(self, node) -> None:
        if node.name == self.symbol:
            self.hit(node)
        self.generic_visit(node)

    def visit_Constant(self, node) -> None:
        if node.value == self.symbol and isinstance(node.value, str):
            self.hit(node)


def find_symbol(source: str, symbol: str, filename: str = "<string>") -> list[tuple[str, int]]:
    """(scope, line number) of each use of ``symbol`` in Python ``source``.

    ``scope`` is dotted (``Class.method``), empty at module level. A line is
    reported once. Raises :class:`SyntaxError` if the source does not parse.
    """
    import ast
    tree = ast.parse(source, filename)
    finder = _Finder(symbol)
    finder.visit(tree)
    seen = set()
    result = []
    for scope, lineno in sorted(finder.hits, key=lambda hit: (hit[1], hit[0])):
        if lineno not in seen:
            seen.add(lineno)
            result.append((".".join(scope), lineno))
    return result


def code_uses(code, symbol: str, filename: str, path: list) -> list[tuple[object, list]]:
    """(code object, scope path) for each use of ``symbol`` in compiled ``code``.

    3.x's search over code objects (``GrepCommand.search_code``): a code
    object uses the symbol when it names it as a variable or global, or has
    a constant equal to it; nested code objects of the same file are
    searched too. The path is the names of the enclosing functions and
    classes (3.x meant to leave the module's own code object out, but
    looked for its Python 2 name, so on Python 3 its paths began with
    ``<module>``).
    """
    import inspect
    if code.co_name != "<module>":
        path = path + [code.co_name]
    uses = []
    if symbol in code.co_varnames or symbol in code.co_names:
        uses.append((code, path))
    for const in code.co_consts:
        if isinstance(const, str) and const == symbol:
            uses.append((code, path))
        if inspect.iscode(const) and const.co_filename == filename:
            uses.extend(code_uses(const, symbol, filename, path))
    return uses


def occurrence_lines(code, symbol: str, every: bool) -> list[tuple[int, str]]:
    """(line number, text) of the lines after ``code``'s first line that contain ``symbol``.

    The first hit's indentation is cut from each line, and the search stops
    at a hit indented less (the code object ended); unless ``every``, only
    the first hit is given. As 3.x's ``find_occurance``.
    """
    import tokenize
    lines = []
    first_indent = None
    with tokenize.open(code.co_filename) as f:
        for lineno, line in enumerate(f, 1):
            if lineno <= code.co_firstlineno or symbol not in line:
                continue
            indent = len(line) - len(line.lstrip(" \t"))
            if first_indent is None:
                first_indent = indent
            elif indent < first_indent:
                break
            lines.append((lineno, line[first_indent:].rstrip()))
            if not every:
                break
    return lines


class GrepCommand(Command):
    """``paster grep SYMBOL``: a plugin command, active in projects that use PasteScript."""

    summary = "Search project for symbol"
    usage = "SYMBOL"
    min_args = 1
    max_args = 1
    description = """\
    Search the Python files of the current project (the directory holding
    its *.egg-info, found from the current directory upwards) for uses of
    SYMBOL: variables, attributes, arguments, imports, definitions and
    equal strings. The exit status is 0 whether or not something was found,
    as in Paste Script 3.x; when nothing was, a line on stderr says so.
    """

    #: File and directory names never searched (hidden directories and those
    #: in ``_SKIP_DIRS`` are skipped too).
    bad_names = [".svn", "CVS", "_darcs"]
    #: Counters that command() resets (here too for code that calls the
    #: search methods directly, as 3.x's could be).
    found_any = False
    total_files = 0

    parser = Command.standard_parser(verbose=True)
    parser.add_option(
        "-x", "--exclude-module", metavar="module.name", dest="exclude_modules",
        action="append", help="Don't search the given module (or package)")
    parser.add_option(
        "-t", "--add-type", metavar=".ext", dest="add_types", action="append",
        help="Also search files of the given type, as text (e.g. -t .txt)")

    def command(self):
        self.symbol = self.args[0]
        if not self.symbol.strip():
            raise BadCommand("The symbol to search for is empty")
        self.exclude_modules = [name.strip(".") for name in self.options.exclude_modules or ()]
        self.add_types = [ext.lower() if ext.startswith(".") else "." + ext.lower()
                          for ext in self.options.add_types or ()]
        self.basedir = self.find_basedir()
        if self.verbose:
            print(f"Searching in {self.basedir}")
        self.total_files = 0
        self.found_any = False
        self.search_dir(self.basedir, top=True)
        if self.verbose > 1:
            print(f"Searched {self.total_files} files")
        if not self.found_any:
            # Said on stderr; the exit status stays 0, as in 3.x.
            print(f"{self.symbol} not found in {self.basedir}", file=sys.stderr)
        return 0

    def find_basedir(self) -> str:
        """The project directory: where its egg-info is, else the current directory."""
        egg_info = pluginlib.find_egg_info_dir(os.getcwd())
        return os.path.dirname(egg_info) if egg_info else os.getcwd()

    def search_dir(self, directory: str, top: bool = False) -> None:
        try:
            names = sorted(os.listdir(directory))
        except OSError as exc:
            print(f"Cannot read {directory}: {exc.strerror}", file=sys.stderr)
            return
        subdirs = []
        for name in names:
            full = os.path.join(directory, name)
            if name in self.bad_names:
                continue
            if os.path.isdir(full):
                if self.skip_dir(name, full, top):
                    continue
                subdirs.append(full)
            elif name.endswith(".py"):
                if not self.excluded(self.module_name(full)):
                    self.search_file(full)
            elif os.path.splitext(name)[1].lower() in self.add_types:
                if not self.excluded(self.module_name(os.path.dirname(full))):
                    self.search_file(full)
        for subdir in subdirs:
            self.search_dir(subdir)

    def skip_dir(self, name: str, full: str, top: bool) -> bool:
        if name.startswith(".") or name in _SKIP_DIRS or name.endswith(".egg-info"):
            return True
        if top and name in _SKIP_TOP_DIRS:
            return True
        if os.path.exists(os.path.join(full, "pyvenv.cfg")):
            return True  # a virtualenv inside the project
        return self.excluded(self.module_name(full))

    def excluded(self, module: str) -> bool:
        return any(module == name or module.startswith(name + ".")
                   for name in self.exclude_modules)

    def module_name(self, filename: str) -> str:
        """``pkg/sub/mod.py`` -> ``pkg.sub.mod``; ``pkg/__init__.py`` -> ``pkg``."""
        rel = os.path.relpath(filename, self.basedir)
        if rel == os.curdir:
            return ""
        rel = os.path.splitext(rel)[0] if rel.endswith(".py") else rel
        parts = [part for part in rel.split(os.sep) if part]
        if parts and parts[-1] == "__init__":
            parts.pop()
        return ".".join(parts)

    def relative_name(self, filename: str) -> str:
        return os.path.relpath(filename, self.basedir)

    def display(self, filename: str, path: list) -> str:
        """The heading of a hit: ``module`` or ``module:Class.method``."""
        module = self.module_name(filename) or os.path.basename(filename)
        return f"{module}:{'.'.join(path)}" if path else module

    def search_file(self, filename: str) -> None:
        """Search one file: Python code by its syntax, anything else as text."""
        if filename.endswith(".py"):
            self.search_python(filename)
        else:
            self.search_text(filename)

    def search_code(self, code, filename: str, path: list) -> None:
        """Report each use of the symbol in a compiled code object (see :func:`code_uses`)."""
        for found_code, found_path in code_uses(code, self.symbol, filename, path):
            self.found(found_code, filename, found_path)

    def found(self, code, filename: str, path: list) -> None:
        """Print the heading of a hit in ``code``, then its line(s)."""
        self.found_any = True
        print(self.display(filename, path))
        self.find_occurance(code)

    def find_occurance(self, code) -> None:
        """Print the line(s) of ``code`` with the symbol (all of them with ``-v``)."""
        for lineno, line in occurrence_lines(code, self.symbol, every=bool(self.verbose)):
            print(f"  {lineno:3d}  {line}")

    def search_python(self, filename: str) -> None:
        self.total_files += 1
        try:
            with open(filename, "rb") as f:
                source = f.read()
        except OSError as exc:
            print(f"Cannot read {filename}: {exc.strerror}", file=sys.stderr)
            return
        if not self.symbol.isidentifier():
            self.search_text(filename, source=source, label=self.module_name(filename))
            return
        try:
            hits = find_symbol(source, self.symbol, filename)
        except (SyntaxError, ValueError):
            self.search_text(filename, source=source,
                             label=f"{self.module_name(filename)} (unloadable)")
            return
        if not hits:
            return
        self.found_any = True
        lines = source.decode("utf-8", "replace").splitlines()
        current = None
        for scope, lineno in hits:
            label = self.display(filename, scope.split(".") if scope else [])
            if label != current:
                print(label)
                current = label
            line = lines[lineno - 1].strip() if lineno <= len(lines) else ""
            print(f"  {lineno:3d}  {line}")

    def search_text(self, filename: str, source: bytes | None = None,
                    label: str | None = None) -> None:
        if source is None:
            self.total_files += 1
            try:
                with open(filename, "rb") as f:
                    source = f.read()
            except OSError as exc:
                print(f"Cannot read {filename}: {exc.strerror}", file=sys.stderr)
                return
        needle = self.symbol.encode("utf-8")
        printed = False
        for lineno, line in enumerate(source.splitlines(), 1):
            if needle in line:
                if not printed:
                    print(label or self.relative_name(filename))
                    printed = True
                print(f"  {lineno:3d}  {line.decode('utf-8', 'replace').strip()}")
        self.found_any = self.found_any or printed
