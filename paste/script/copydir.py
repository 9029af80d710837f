# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""Copying a template directory into a project, rendering as it goes.

:func:`copy_dir` walks a template directory (a filesystem path or a
``(package, resource_dir)`` tuple read through :mod:`importlib.resources`):

* ``+name+`` in a file or directory name is replaced by the variable
  ``name`` (``+dot+`` gives ``.``, ``+plus+`` gives ``+``);
* files ending in ``_tmpl`` are rendered and lose the suffix; every other
  file is copied byte for byte;
* version-control directories, bytecode and editor droppings are skipped
  (:func:`should_skip_file`).

The whole tree is planned (names substituted, templates rendered, paths
checked) before anything is written, so a rendering error or a path that
would escape the output directory leaves the output untouched.
"""
from __future__ import annotations

import difflib
import functools
import html
import os
import re
import shutil
import stat
import sys
import urllib.parse
from dataclasses import dataclass
from typing import Any, Callable, Mapping

__all__ = [
    "copy_dir", "SkipTemplate", "skip_template", "substitute_filename",
    "substitute_content", "should_skip_file", "CopyError", "TemplateError",
    "UnsafePath", "query_interactive", "reset_answers", "standard_vars", "open_template_dir",
]


class SkipTemplate(Exception):
    """Raised while rendering a ``_tmpl`` file: do not create that file."""


def skip_template(condition: Any = True, *args: Any) -> str:
    """Skip the file being rendered when ``condition`` is true.

    Meant to be called from inside a template, e.g.
    ``${skip_template(not with_tests)}`` or ``$skip_template($flag)``.
    """
    if condition:
        raise SkipTemplate(*args)
    return ""


class CopyError(Exception):
    """The template cannot be copied; the message says why, in one line."""


class UnsafePath(CopyError):
    """A name would make us read or write outside the allowed directory."""


class TemplateError(CopyError):
    """Rendering a ``_tmpl`` file failed."""

    def __init__(self, filename: str, lineno: int | None, expression: str | None,
                 message: str):
        self.filename = filename
        self.lineno = lineno
        self.expression = expression
        self.message = message
        where = filename if lineno is None else f"{filename}:{lineno}"
        what = f" in {expression}" if expression else ""
        super().__init__(f"Error rendering template {where}{what}: {message}")


# -- skipping ----------------------------------------------------------------

_SKIP_NAMES = {
    ".svn": "version control directory",
    "CVS": "version control directory",
    "_darcs": "version control directory",
    ".git": "version control directory",
    ".hg": "version control directory",
    "__pycache__": "bytecode cache directory",
    ".DS_Store": "Finder metadata file",
}


def should_skip_file(name: str) -> str | None:
    """Why a template entry called ``name`` is not copied, or None to copy it.

    The reason is a message with a ``%(filename)s`` placeholder, as in the
    original Paste Script.
    """
    reason = _SKIP_NAMES.get(name)
    if reason:
        return f"Skipping {reason} %(filename)s"
    if name.endswith((".pyc", ".pyo")):
        return f"Skipping {os.path.splitext(name)[1]} file %(filename)s"
    if name.endswith("$py.class"):
        return "Skipping $py.class file %(filename)s"
    if name.endswith("~") or name.startswith(".#") or (
            len(name) > 1 and name.startswith("#") and name.endswith("#")):
        return "Skipping editor backup file %(filename)s"
    return None


# -- names -------------------------------------------------------------------

_NAME_VAR = re.compile(r"\+([A-Za-z_][A-Za-z0-9_]*)\+")
_BUILTIN_NAMES = {"dot": ".", "plus": "+"}


def substitute_filename(fn: str, vars: Mapping[str, Any]) -> str:
    """Replace every ``+name+`` in ``fn`` by ``vars[name]``.

    ``+dot+`` and ``+plus+`` give ``.`` and ``+`` unless ``vars`` defines
    them; an unknown ``+name+`` is left as it is.
    """
    def replace(match: re.Match) -> str:
        name = match.group(1)
        if name in vars:
            return str(vars[name])
        if name in _BUILTIN_NAMES:
            return _BUILTIN_NAMES[name]
        return match.group(0)
    return _NAME_VAR.sub(replace, fn)


def _check_relative_name(name: str, original: str) -> list[str]:
    """The path segments of a substituted name, refusing ones that escape."""
    if "\0" in name:
        raise UnsafePath(f"File name {original!r} becomes {name!r}, which contains a NUL byte")
    if name.startswith(("/", "\\")) or os.path.isabs(name):
        raise UnsafePath(f"File name {original!r} becomes the absolute path {name!r}")
    parts = [part for part in re.split(r"[/\\]", name) if part not in ("", ".")]
    if not parts:
        raise UnsafePath(f"File name {original!r} becomes the empty name {name!r}")
    if ".." in parts:
        raise UnsafePath(
            f"File name {original!r} becomes {name!r}, which would write outside "
            f"the output directory")
    return parts


# -- rendering ---------------------------------------------------------------

def _test(condition: Any, true: Any, false: Any = "") -> Any:
    return true if condition else false


def html_quote(s) -> str:
    """HTML-escape ``s`` (None gives an empty string); available in templates."""
    return "" if s is None else html.escape(str(s), quote=True)


def url_quote(s) -> str:
    """URL-quote ``s``; available in templates."""
    return urllib.parse.quote(str(s))


standard_vars: dict[str, Any] = {
    "nothing": None,
    "html_quote": html_quote,
    "url_quote": url_quote,
    "empty": '""',
    "test": _test,
    "repr": repr,
    "str": str,
    "bool": bool,
    "SkipTemplate": SkipTemplate,
    "skip_template": skip_template,
}

# ``$name``, ``${any python expression|fallback expression}`` or ``$$``.
_PLACEHOLDER = re.compile(r"""
    \$(?:
      (?P<escaped>\$)
    | (?P<named>[_a-zA-Z][_a-zA-Z0-9]*)
    | \{(?P<braced>.*?)\}
    | (?P<invalid>)
    )""", re.VERBOSE | re.DOTALL)


def _line_of(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


@functools.lru_cache(maxsize=1024)
def _compile(expression: str):
    return compile(expression.strip(), "<template expression>", "eval")


def _evaluate(expression: str, namespace: dict) -> str:
    """Value of ``a|b|c``: the first alternative that does not raise NameError."""
    alternatives = expression.split("|")
    for alternative in alternatives[:-1]:
        try:
            value = eval(_compile(alternative), namespace)
            break
        except (NameError, KeyError):
            continue
    else:
        value = eval(_compile(alternatives[-1]), namespace)
    return "" if value is None else str(value)


def _render_string_template(content: str, namespace: dict, filename: str) -> str:
    pieces = []
    last = 0
    for match in _PLACEHOLDER.finditer(content):
        pieces.append(content[last:match.start()])
        last = match.end()
        if match.group("escaped") is not None:
            pieces.append("$")
            continue
        if match.group("invalid") is not None:
            snippet = content[match.start():match.start() + 10].split("\n")[0]
            raise TemplateError(filename, _line_of(content, match.start()), repr(snippet),
                                "a lone '$' (write '$$' for a literal dollar sign)")
        named = match.group("named")
        expression = named if named is not None else match.group("braced")
        shown = f"${named}" if named is not None else f"${{{expression}}}"
        try:
            if named is not None:
                if named not in namespace:
                    raise NameError(f"name {named!r} is not defined")
                value = namespace[named]
                pieces.append("" if value is None else str(value))
            else:
                pieces.append(_evaluate(expression.strip(), namespace))
        except SkipTemplate:
            raise
        except Exception as err:
            raise TemplateError(filename, _line_of(content, match.start()), shown,
                                f"{type(err).__name__}: {err}") from err
    pieces.append(content[last:])
    return "".join(pieces)


_CHEETAH_PLACE = re.compile(r"# '(.*)' on line (\d+), col \d+")


def compile_cheetah(content: str, filename: str, namespace: dict | None = None):
    """A Cheetah template object; a syntax error raises :class:`TemplateError` with the line."""
    from Cheetah.Parser import ParseError
    from Cheetah.Template import Template as CheetahTemplate
    try:
        return CheetahTemplate(content, searchList=[namespace] if namespace is not None else None)
    except ParseError as err:
        lineno = err.lineno or err.stream.getRowColLine()[0]
        raise TemplateError(filename, lineno, None, f"Cheetah syntax error: {err.msg}") from err


def _render_cheetah(content: str, namespace: dict, filename: str) -> str:
    template = compile_cheetah(content, filename, namespace)
    try:
        return str(template)
    except SkipTemplate:
        raise
    except Exception as err:
        lineno, expression = _cheetah_location(template, err)
        raise TemplateError(filename, lineno, expression,
                            f"{type(err).__name__}: {err}") from err


def _cheetah_location(template, err: BaseException) -> tuple[int | None, str | None]:
    """Map the failing line of Cheetah's generated code back to the template."""
    import traceback
    generated = type(template).__module__ + ".py"
    frames = [frame for frame in traceback.extract_tb(err.__traceback__)
              if os.path.basename(frame.filename) == generated]
    if not frames:
        return None, None
    code_lines = template.generatedModuleCode().splitlines()
    lineno = frames[-1].lineno
    if lineno and 0 < lineno <= len(code_lines):
        match = _CHEETAH_PLACE.search(code_lines[lineno - 1])
        if match:
            return int(match.group(2)), match.group(1)
    return None, None


def substitute_content(content: str, vars: Mapping[str, Any], filename: str = "<string>",
                       use_cheetah: bool = False,
                       template_renderer: Callable | None = None) -> str:
    """Render ``content`` with ``vars``.

    The renderer is ``template_renderer(content, vars, filename=filename)``
    when given, else Cheetah when ``use_cheetah``, else ``string.Template``
    syntax (``$var``, ``${expression}``, ``${a|b}`` falling back to ``b`` when
    ``a`` is undefined). Failures raise :class:`TemplateError` naming the
    file, the line and the expression; :class:`SkipTemplate` passes through.
    """
    namespace = dict(standard_vars)
    namespace.update(vars)
    if template_renderer is not None:
        try:
            return template_renderer(content, namespace, filename=filename)
        except (SkipTemplate, TemplateError):
            raise
        except Exception as err:
            raise TemplateError(filename, getattr(err, "lineno", None), None,
                                f"{type(err).__name__}: {err}") from err
    if use_cheetah:
        return _render_cheetah(content, namespace, filename)
    return _render_string_template(content, namespace, filename)


# -- answering conflicts -----------------------------------------------------

_answers = {"all": False}


def reset_answers() -> None:
    """Forget an earlier 'all' answer (one run of ``paster create`` = one scope)."""
    _answers["all"] = False


def _diff(old: bytes, new: bytes, dest_fn: str) -> list[str]:
    old_lines = old.decode("utf-8", "replace").splitlines(keepends=True)
    new_lines = new.decode("utf-8", "replace").splitlines(keepends=True)
    return list(difflib.unified_diff(old_lines, new_lines, dest_fn + " (existing)",
                                     dest_fn + " (new)"))


def _print_diff(lines: list[str], out_) -> None:
    for line in lines:
        out_.write(line if line.endswith("\n") else line + "\n")


def query_interactive(src_fn: str, dest_fn: str, src_content: bytes, dest_content: bytes,
                      simulate: bool, out_=sys.stdout) -> bool:
    """Ask whether ``dest_fn`` (which differs) is overwritten by the new content.

    Answers: ``y`` overwrite, ``n`` keep, ``d`` show the diff again,
    ``b`` back the old file up to ``.bak`` and overwrite, ``a`` overwrite
    this and every following file. Returns True to overwrite.
    """
    if _answers["all"]:
        return True
    diff = _diff(dest_content, src_content, dest_fn)
    added = sum(1 for line in diff if line.startswith("+") and not line.startswith("+++"))
    removed = sum(1 for line in diff if line.startswith("-") and not line.startswith("---"))
    out_.write(f"{dest_fn} exists and differs from {src_fn} "
               f"({removed} lines removed, {added} lines added):\n")
    _print_diff(diff, out_)
    prompt = f"Overwrite {dest_fn} [y/n/d/b/a/?] (default b) "
    while True:
        out_.write(prompt)
        out_.flush()
        try:
            response = input().strip().lower()
        except EOFError:
            response = "n"
            out_.write("\n(no answer; keeping the existing file)\n")
        if not response:
            response = "b"
        if response[0] == "y":
            return True
        if response[0] == "n":
            return False
        if response[0] == "a":
            _answers["all"] = True
            return True
        if response[0] == "d":
            _print_diff(diff, out_)
            continue
        if response[0] == "b":
            backup = _backup_name(dest_fn)
            out_.write(f"Backing up {dest_fn} to {backup}\n")
            if not simulate:
                shutil.copy2(dest_fn, backup)
            return True
        out_.write("  y: overwrite\n  n: keep the existing file\n  d: show the diff\n"
                   "  b: back up the existing file to .bak, then overwrite\n"
                   "  a: overwrite this and all following files\n")


def _backup_name(filename: str) -> str:
    backup = filename + ".bak"
    number = 1
    while os.path.exists(backup):
        backup = f"{filename}.bak{number}"
        number += 1
    return backup


# -- planning and copying ----------------------------------------------------

@dataclass
class _Step:
    kind: str                 # "dir" or "file"
    source: str               # shown to the user
    dest: str
    depth: int
    content: bytes | None = None
    executable: bool = False


def open_template_dir(source):
    """The template directory as a Traversable: a path or a ``(package, resource_dir)`` tuple."""
    if isinstance(source, tuple):
        from importlib import resources
        package, resource_dir = source
        return resources.files(package).joinpath(resource_dir)
    from pathlib import Path
    return Path(source)


def _is_link_outside(entry, root_real: str | None) -> str | None:
    """The link target if ``entry`` is a symlink leading outside the template."""
    if root_real is None or not isinstance(entry, os.PathLike):
        return None
    path = os.fspath(entry)
    if not os.path.islink(path):
        return None
    target = os.path.realpath(path)
    if target == root_real or target.startswith(root_real.rstrip(os.sep) + os.sep):
        return None
    return target


def _parents(entry):
    path = os.path.dirname(os.fspath(entry))
    while True:
        yield path
        parent = os.path.dirname(path)
        if parent == path:
            return
        path = parent


def _plan(directory, dest: str, vars, steps: list[_Step], depth: int, *, sub_vars: bool,
          use_cheetah: bool, template_renderer, verbosity: int, pad: str, out_,
          root_real: str | None) -> None:
    try:
        entries = sorted(directory.iterdir(), key=lambda entry: entry.name)
    except OSError as err:
        raise CopyError(f"Cannot read template directory {directory}: {err}") from err
    for entry in entries:
        name = entry.name
        reason = should_skip_file(name)
        if reason:
            if verbosity >= 2:
                out_.write(pad + "  " * depth + reason % {"filename": entry} + "\n")
            continue
        outside = _is_link_outside(entry, root_real)
        if outside:
            raise UnsafePath(f"Template entry {entry} is a symlink to {outside}, "
                             f"outside the template directory")
        is_template = sub_vars and entry.is_file() and name.endswith("_tmpl")
        dest_name = name[:-len("_tmpl")] if is_template else name
        if sub_vars:
            dest_name = substitute_filename(dest_name, vars)
        dest_full = os.path.join(dest, *_check_relative_name(dest_name, name))
        if entry.is_dir():
            if isinstance(entry, os.PathLike) and os.path.islink(entry):
                real = os.path.realpath(entry)
                if any(real == os.path.realpath(parent) for parent in _parents(entry)):
                    raise CopyError(f"Template entry {entry} is a symlink to its own "
                                    f"parent directory {real} (a loop)")
            steps.append(_Step("dir", str(entry), dest_full, depth))
            _plan(entry, dest_full, vars, steps, depth + 1, sub_vars=sub_vars,
                  use_cheetah=use_cheetah, template_renderer=template_renderer,
                  verbosity=verbosity, pad=pad, out_=out_, root_real=root_real)
            continue
        try:
            content = entry.read_bytes()
        except OSError as err:
            raise CopyError(f"Cannot read template file {entry}: {err}") from err
        if is_template:
            try:
                text = content.decode("utf-8")
            except UnicodeDecodeError as err:
                raise TemplateError(str(entry), None, None,
                                    f"not valid UTF-8 ({err})") from err
            try:
                text = substitute_content(text, vars, filename=str(entry),
                                          use_cheetah=use_cheetah,
                                          template_renderer=template_renderer)
            except SkipTemplate:
                if verbosity >= 1:
                    out_.write(f"{pad}{'  ' * depth}Skipping file {dest_full} "
                               f"(the template asked for it)\n")
                continue
            content = text.encode("utf-8")
        executable = False
        if isinstance(entry, os.PathLike):
            try:
                executable = bool(os.stat(entry).st_mode & stat.S_IXUSR)
            except OSError:
                pass
        steps.append(_Step("file", str(entry), dest_full, depth, content, executable))


def _check_inside(path: str, root_real: str, parents: dict | None = None) -> None:
    """Refuse to write ``path`` if a symlink on the way leads out of ``root_real``.

    ``parents`` caches the resolved parent directories within one copy.
    """
    if os.path.islink(path):
        raise UnsafePath(f"{path} is a symlink (to {os.path.realpath(path)}); "
                         f"refusing to write through it")
    directory = os.path.dirname(path)
    parent = parents.get(directory) if parents is not None else None
    if parent is None:
        parent = os.path.realpath(directory)
        if parents is not None:
            parents[directory] = parent
    if parent != root_real and not parent.startswith(root_real.rstrip(os.sep) + os.sep):
        raise UnsafePath(f"{path} would be written to {parent}, outside the output "
                         f"directory {root_real}")


def copy_dir(source, dest: str, vars: Mapping[str, Any], verbosity: int = 1,
             simulate: bool = False, indent: int = 0, use_cheetah: bool = False,
             sub_vars: bool = True, interactive: bool = False, svn_add: bool = True,
             overwrite: bool = True, template_renderer: Callable | None = None,
             out_=None) -> None:
    """Copy the template directory ``source`` into ``dest``, rendering with ``vars``.

    The positional order of the parameters is the original Paste Script's.
    ``svn_add`` is accepted for compatibility only: ``paster create
    --svn-repository`` adds the generated files to Subversion itself.

    ``source`` is a path or a ``(package, resource_dir)`` tuple. An existing
    file with the same content is left alone; a differing one is replaced
    when ``overwrite``, asked about when ``interactive`` (``overwrite``
    wins), and otherwise kept with a warning. ``simulate`` reports what
    would happen and writes nothing. Raises :class:`CopyError` (and its
    subclasses) with a one-line message.
    """
    out_ = out_ or sys.stdout
    pad = "  " * indent
    root = open_template_dir(source)
    if not root.is_dir():
        raise CopyError(f"Template directory {source} does not exist")
    root_real = os.path.realpath(os.fspath(root)) if isinstance(root, os.PathLike) else None
    steps: list[_Step] = []
    _plan(root, dest, vars, steps, 0, sub_vars=sub_vars, use_cheetah=use_cheetah,
          template_renderer=template_renderer, verbosity=verbosity, pad=pad, out_=out_,
          root_real=root_real)
    dest_real = os.path.realpath(dest)
    targets: dict = {}
    parents: dict = {}
    for step in steps:
        # Every target is checked before the first write.
        _check_inside(step.dest, dest_real, parents)
        earlier = targets.get(step.dest)
        if earlier is not None and "file" in (earlier.kind, step.kind):
            raise CopyError(f"Both {earlier.source} and {step.source} would create "
                            f"{step.dest}")
        targets[step.dest] = step
    for step in steps:
        _apply(step, dest_real, verbosity=verbosity, simulate=simulate, pad=pad,
               interactive=interactive, overwrite=overwrite, out_=out_)


def _apply(step: _Step, dest_real: str, *, verbosity: int, simulate: bool, pad: str,
           interactive: bool, overwrite: bool, out_) -> None:
    here = pad + "  " * step.depth
    dest = step.dest
    if step.kind == "dir":
        if verbosity >= 1:
            out_.write(f"{here}Recursing into {os.path.basename(step.source)}\n")
        if os.path.isdir(dest):
            return
        if os.path.exists(dest):
            raise CopyError(f"Cannot create directory {dest}: a file is in the way")
        if verbosity >= 1:
            out_.write(f"{here}  Creating {dest}/\n")
        if not simulate:
            try:
                os.makedirs(dest)
            except OSError as err:
                raise CopyError(f"Cannot create directory {dest}: {err.strerror}") from err
        return
    if os.path.isdir(dest):
        raise CopyError(f"Cannot write file {dest}: a directory is in the way")
    if os.path.exists(dest):
        with open(dest, "rb") as f:
            old = f.read()
        if old == step.content:
            if verbosity >= 2:
                out_.write(f"{here}{dest} already exists (same content)\n")
            return
        if simulate:
            out_.write(f"{here}Would overwrite {dest} (content differs)\n")
            return
        if overwrite:
            if verbosity >= 1:
                out_.write(f"{here}Overwriting {dest}\n")
        elif interactive:
            if not query_interactive(step.source, dest, step.content, old, simulate, out_):
                out_.write(f"{here}Keeping {dest}\n")
                return
        else:
            out_.write(f"{here}Warning: {dest} exists with different content; "
                       f"kept (use --overwrite to replace it)\n")
            return
    elif verbosity >= 1:
        out_.write(f"{here}Copying {os.path.basename(step.source)} to {dest}\n")
    if simulate:
        return
    parent = os.path.dirname(dest)
    try:
        if parent and not os.path.isdir(parent):
            os.makedirs(parent)
            _check_inside(dest, dest_real)
        with open(dest, "wb") as f:
            f.write(step.content)
        if step.executable:
            mode = os.stat(dest).st_mode
            os.chmod(dest, mode | ((mode & 0o444) >> 2))
    except OSError as err:
        raise CopyError(f"Cannot write {dest}: {err.strerror}") from err
