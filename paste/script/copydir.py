# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""Copying a template directory into a project, rendering as it goes.

:func:`copy_dir` walks a template directory (a filesystem path or a
``(package, resource_dir)`` tuple read through :mod:`importlib.resources`):

* ``+name+`` in a file or directory name is replaced by the variable
  ``name`` (``+dot+`` gives ``.``, ``+plus+`` gives ``+``);
* files ending in ``_tmpl`` are rendered and lose the suffix; every other
  file is copied byte for byte;
* hidden names, backups, bytecode and the ``CVS``/``_darcs`` directories
  are skipped, as Paste Script 3.7 skipped them (:func:`should_skip_file`).

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
import string
import sys
import urllib.parse
from dataclasses import dataclass
from typing import Any, Callable, Mapping

__all__ = [
    "copy_dir", "SkipTemplate", "skip_template", "substitute_filename",
    "substitute_content", "should_skip_file", "CopyError", "TemplateError",
    "UnsafePath", "query_interactive", "query_usage", "all_answer", "reset_answers",
    "standard_vars", "open_template_dir", "with_name_defaults", "svn_makedirs",
    "destination_name",
    "LaxTemplate", "TypeMapper", "careful_sub", "sub_catcher", "eval_with_catch",
    "html_quote", "url_quote", "test",
]


class SkipTemplate(Exception):
    """Raised while rendering a ``_tmpl`` file: do not create that file."""


def skip_template(condition: Any = True, *args: Any) -> None:
    """Skip the file being rendered when ``condition`` is true.

    Meant to be called from inside a template, e.g.
    ``${skip_template(not with_tests)}`` or ``$skip_template($flag)``
    (None renders as nothing); ``args`` become the exception's arguments.
    """
    if condition:
        raise SkipTemplate(*args)


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

def should_skip_file(name: str) -> str | None:
    """Why a template entry called ``name`` is not copied, or None to copy it.

    The names Paste Script 3.7 skipped: every hidden name (a leading dot;
    a template ships ``+dot+name`` to create one), backups (``*~``,
    ``*.bak``), bytecode (``*.pyc``, ``*.pyo``, ``$py.class``) and the
    ``CVS`` and ``_darcs`` directories; also ``__pycache__``, which 3.7
    copied out of installed templates. The reason is a message with a
    ``%(filename)s`` placeholder.
    """
    if name.startswith("."):
        return "Skipping hidden file %(filename)s"
    if name.endswith(("~", ".bak")):
        return "Skipping backup file %(filename)s"
    if name.endswith((".pyc", ".pyo")):
        return f"Skipping {os.path.splitext(name)[1]} file %(filename)s"
    if name.endswith("$py.class"):
        return "Skipping $py.class file %(filename)s"
    if name in ("CVS", "_darcs"):
        return "Skipping version control directory %(filename)s"
    if name == "__pycache__":
        return "Skipping bytecode cache directory %(filename)s"
    return None


# -- names -------------------------------------------------------------------

_BUILTIN_NAMES = {"dot": ".", "plus": "+"}


def substitute_filename(fn: str, vars: Mapping[str, Any]) -> str:
    """Replace ``+name+`` in ``fn`` by ``str(vars[name])``, for every variable in turn.

    :func:`copy_dir` adds ``dot`` (``.``) and ``plus`` (``+``) to the
    variables, so ``+dot+gitignore`` becomes ``.gitignore``; an unknown
    ``+name+`` is left as it is.
    """
    for name, value in vars.items():
        fn = fn.replace(f"+{name}+", str(value))
    return fn


def with_name_defaults(vars: Mapping[str, Any]) -> dict:
    """``vars`` plus ``dot`` and ``plus`` where it lacks them (for file names)."""
    values = dict(vars)
    for name, value in _BUILTIN_NAMES.items():
        values.setdefault(name, value)
    return values


def destination_name(name: str, vars: Mapping[str, Any], sub_vars: bool = True) -> tuple[str, bool]:
    """``(name in the output, whether the file is rendered)`` for a template entry ``name``.

    As in 3.7: ``+var+`` is substituted first, then a ``_tmpl`` suffix is
    dropped (from a file or a directory name; only files are rendered).
    ``vars`` should hold ``dot`` and ``plus`` (see :func:`with_name_defaults`).
    Without ``sub_vars`` the name is kept as it is.
    """
    if not sub_vars:
        return name, False
    name = substitute_filename(name, vars)
    if name.endswith("_tmpl"):
        return name[:-len("_tmpl")], True
    return name, False


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

def test(conf: Any, true_cond: Any, false_cond: Any = None) -> Any:
    """``true_cond`` if ``conf`` else ``false_cond``; available in templates."""
    return true_cond if conf else false_cond


def html_quote(s) -> str:
    """HTML-escape ``s`` (None gives an empty string); available in templates."""
    return "" if s is None else html.escape(str(s), quote=True)


def url_quote(s) -> str:
    """URL-quote ``s`` (None gives an empty string); available in templates."""
    return "" if s is None else urllib.parse.quote(str(s))


standard_vars: dict[str, Any] = {
    "nothing": None,
    "html_quote": html_quote,
    "url_quote": url_quote,
    "empty": '""',
    "test": test,
    "repr": repr,
    "str": str,
    "bool": bool,
    "SkipTemplate": SkipTemplate,
    "skip_template": skip_template,
}


class LaxTemplate(string.Template):
    """``string.Template`` that takes any Python expression in braces.

    ``$name`` still needs an identifier; ``${expression}`` may hold
    anything up to the first ``}`` on the line. Substitute it with a
    :class:`TypeMapper` to evaluate the expressions.
    """

    pattern = r"""
    \$(?:
      (?P<escaped>\$)             |   # $$: a dollar sign
      (?P<named>[_a-z][_a-z0-9]*) |   # $identifier
      {(?P<braced>.*?)}           |   # ${expression}
      (?P<invalid>)                   # a lone $
    )
    """


class TypeMapper(dict):
    """A mapping whose items are Python expressions evaluated in its own values.

    ``mapper['a|b']`` is ``a``, or ``b`` when ``a`` raises NameError or
    KeyError; the result is a string (None gives an empty one).
    """

    def __getitem__(self, item: str) -> str:
        return _evaluate(item, dict(self.items()))


def eval_with_catch(expr: str, vars: dict) -> Any:
    """``eval(expr, vars)``; a failure's message gains ``in expression 'expr'``."""
    try:
        return eval(expr, vars)
    except Exception as err:
        _add_except(err, f"in expression {expr!r}")
        raise


def _add_except(exc: BaseException, info: str) -> None:
    """Append ``info`` to the first argument of ``exc`` (or make it the argument)."""
    if getattr(exc, "args", None) is None:
        return
    args = list(exc.args)
    if args and isinstance(args[0], str):
        args[0] = f"{args[0]} {info}"
    elif not args:
        args = [info]
    exc.args = tuple(args)


def careful_sub(cheetah_template, vars: Mapping[str, Any], filename: str) -> str:
    """Fill a compiled Cheetah template whose searchList already holds ``vars``.

    A template that defines ``#def body(...)`` is filled by calling ``body``
    with the arguments that ``vars`` has; any other is filled whole.
    Errors go through :func:`sub_catcher`.
    """
    body = getattr(cheetah_template, "body", None)
    if body is None:
        return sub_catcher(filename, vars, str, cheetah_template)
    return sub_catcher(filename, vars, body, **_body_arguments(body, vars))


def _body_arguments(body, vars: Mapping[str, Any]) -> dict:
    import inspect
    return {name: vars[name] for name in inspect.signature(body).parameters if name in vars}


def sub_catcher(filename: str, vars: Mapping[str, Any], func: Callable, *args, **kw):
    """``func(*args, **kw)``, saying which file failed before the error goes on.

    A :class:`SkipTemplate` is announced as skipping the file; a NameError
    also lists the variables that were defined.
    """
    try:
        return func(*args, **kw)
    except SkipTemplate as err:
        print(f"Skipping file {filename}")
        if str(err):
            print(str(err))
        raise
    except Exception as err:
        print(f"Error in file {filename}:")
        if isinstance(err, NameError):
            for name, value in sorted(vars.items()):
                print(f"{name} = {value!r}")
        raise


# ``$name``, ``${any python expression|fallback expression}`` or ``$$``: the
# syntax of :class:`LaxTemplate`, scanned here to say where an error is.
_PLACEHOLDER = LaxTemplate.pattern  # compiled by string.Template


def _line_of(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


@functools.lru_cache(maxsize=1024)
def _compile(expression: str):
    # eval() of a string ignores leading blanks; compile() does not.
    return compile(expression.lstrip(" \t"), "<template expression>", "eval")


def _evaluate(expression: str, namespace: dict) -> str:
    """Value of ``a|b|c``: the first alternative that does not raise NameError or KeyError."""
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
    """What ``LaxTemplate(content).substitute(TypeMapper(namespace))`` gives.

    Scanned here rather than through ``string.Template`` so that an error
    names the line and the placeholder.
    """
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
            pieces.append(_evaluate(expression, namespace))
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
    """What :func:`careful_sub` gives, with errors naming the template line."""
    template = compile_cheetah(content, filename, namespace)
    try:
        body = getattr(template, "body", None)
        if body is None:
            return str(template)
        return body(**_body_arguments(body, namespace))
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

#: The answer given to every later overwrite question (``all y`` etc.), or None
#: to ask. ``paster create`` sets ``'y'`` when the project directory is new.
all_answer: str | None = None

query_usage = """\
Responses:
  Y(es):    Overwrite the file with the new content.
  N(o):     Do not overwrite the file.
  D(iff):   Show a unified diff of the proposed changes (dc=context diff)
  B(ackup): Save the current file contents to a .bak file
            (and overwrite)
  Type "all Y/N/B" to use Y/N/B for answer to all future questions
"""


def reset_answers() -> None:
    """Forget an earlier ``all`` answer (one run of ``paster create`` = one scope)."""
    global all_answer
    all_answer = None


def _text(content) -> str:
    return content.decode("utf-8", "replace") if isinstance(content, bytes) else content


def query_interactive(src_fn: str, dest_fn: str, src_content, dest_content,
                      simulate: bool, out_=None) -> bool:
    """Ask whether ``dest_fn`` (which differs) is replaced by the new content.

    Answers, as in Paste Script 3.7: ``y`` replace, ``n`` keep, ``d`` (or
    ``dc``) show a unified (context) diff, ``b`` or an empty answer back the
    old file up to ``.bak`` and replace it, ``all y``/``all n``/``all b``
    that answer for this and every later question. Anything else shows
    :data:`query_usage`. Returns True to replace. End of input raises
    EOFError: nobody is there to answer, and 3.7 stopped there too.
    """
    global all_answer
    out_ = out_ or sys.stdout
    old_text, new_text = _text(dest_content), _text(src_content)
    old_lines, new_lines = old_text.splitlines(), new_text.splitlines()
    # 3.7 joined difflib's lines, headers with their own newline, by newlines.
    unified = list(difflib.unified_diff(old_lines, new_lines, dest_fn, src_fn))
    added = sum(1 for line in unified if line.startswith("+") and not line.startswith("+++"))
    removed = sum(1 for line in unified if line.startswith("-") and not line.startswith("---"))
    change = ""
    if added != removed:
        change = f"; {abs(added - removed)} lines {'added' if added > removed else 'removed'}"
    out_.write(f"Replace {len(old_text)} bytes with {len(new_text)} bytes "
               f"({removed}/{len(old_lines)} lines changed{change})\n")
    while True:
        response = all_answer
        if response is None:
            response = _read_answer(f"Overwrite {dest_fn} [y/n/d/B/?] ", out_)
        if not response or response[0] == "b":
            backup = _backup_name(dest_fn)
            out_.write(f"Backing up {dest_fn} to {backup}\n")
            if not simulate:
                shutil.copyfile(dest_fn, backup)
            return True
        if response.startswith("all "):
            rest = response[4:].strip()
            if not rest or rest[0] not in ("y", "n", "b"):
                out_.write(query_usage + "\n")
                continue
            # (3.7 checked "all b" here after the backup test: it shows
            # the usage once, then backs up.)
            response = all_answer = rest[0]
        if response[0] in ("y", "n"):
            return response[0] == "y"
        if response == "dc":
            out_.write("\n".join(difflib.context_diff(old_lines, new_lines, dest_fn,
                                                      src_fn)) + "\n")
        elif response[0] == "d":
            out_.write("\n".join(unified) + "\n")
        else:
            out_.write(query_usage + "\n")


def _read_answer(prompt: str, out_) -> str:
    out_.write(prompt)
    out_.flush()
    try:
        return input().strip().lower()
    except EOFError:
        out_.write("\n")
        raise EOFError(f"No answer (end of input) to: {prompt.strip()}") from None


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
        dest_name, is_template = destination_name(name, vars, sub_vars)
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
            if text is None:
                continue
            content = text.encode("utf-8")
        steps.append(_Step("file", str(entry), dest_full, depth, content))


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


class _Subversion:
    """``svn add`` for what is created inside a Subversion working copy of ``dest``.

    With ``-v`` each path created outside a working copy says so, as 3.7
    said. ``svn info`` is asked only when a ``.svn`` directory is found at
    or above ``dest``: elsewhere nothing can be a working copy.
    """

    def __init__(self, requested: bool, verbosity: int, out_, dest: str = "."):
        self.requested = requested
        self.possible = (requested and shutil.which("svn") is not None
                         and _has_svn_above(os.path.abspath(dest)))
        self.verbosity = verbosity
        self.out_ = out_
        self._working_copies: dict = {}

    def add(self, path: str, pad: str, kind: str = "file", simulate: bool = False) -> None:
        """``svn add path`` if its directory is in a working copy (``kind``: file or directory)."""
        if not self.requested:
            return
        if not self._in_working_copy(os.path.dirname(os.path.abspath(path))):
            if self.verbosity > 1:
                self.out_.write(f"{pad}Not part of a svn working copy; cannot add {kind}\n")
            return
        if self.verbosity > 1:
            self.out_.write(f"{pad}Running: svn add {path}\n")
        if simulate:
            return
        import subprocess
        proc = subprocess.run(["svn", "add", path], stdout=subprocess.PIPE, text=True)
        if self.verbosity > 1 and proc.stdout:
            self.out_.write(f"Script output:\n{proc.stdout}\n")

    def _in_working_copy(self, parent: str) -> bool:
        if not self.possible:
            return False
        if parent not in self._working_copies:
            import subprocess
            info = subprocess.run(["svn", "info", parent], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
            self._working_copies[parent] = info.returncode == 0
        return self._working_copies[parent]


def _has_svn_above(path: str) -> bool:
    while True:
        if os.path.isdir(os.path.join(path, ".svn")):
            return True
        parent = os.path.dirname(path)
        if parent == path:
            return False
        path = parent


def svn_makedirs(dir: str, svn_add: bool, verbosity: int, pad: str) -> None:
    """Create ``dir`` and its missing parents, ``svn add``-ing each inside a working copy."""
    parent = os.path.dirname(os.path.abspath(dir))
    if not os.path.exists(parent):
        svn_makedirs(parent, svn_add, verbosity, pad)
    os.mkdir(dir)
    _Subversion(svn_add, verbosity, sys.stdout, dir).add(dir, pad, "directory")


def copy_dir(source, dest: str, vars: Mapping[str, Any], verbosity: int = 1,
             simulate: bool = False, indent: int = 0, use_cheetah: bool = False,
             sub_vars: bool = True, interactive: bool = False, svn_add: bool = True,
             overwrite: bool = True, template_renderer: Callable | None = None,
             out_=None, *, new_output: bool = False) -> None:
    """Copy the template directory ``source`` into ``dest``, rendering with ``vars``.

    The parameters, their order and their meaning are Paste Script 3.7's.
    ``source`` is a path or a ``(package, resource_dir)`` tuple. ``vars``
    gains ``dot`` and ``plus`` if it lacks them.

    An existing file with the same content is left alone. One that
    differs is asked about when ``interactive`` (see
    :func:`query_interactive` and :data:`all_answer`), else kept (with a
    warning) unless ``overwrite``, at every depth. (3.7 did not pass
    ``overwrite`` down: files in subdirectories were replaced whatever it
    said.) ``new_output`` says that ``dest`` was made in this run (by
    ``paster create``), so a differing file comes from a template applied
    earlier in the run: then 3.7's choice holds, the earlier file is kept
    silently at the top and replaced below it.
    ``svn_add`` adds what is created inside a Subversion working copy.
    ``simulate`` reports what would happen and writes nothing. Everything
    is rendered and checked before the first write; raises
    :class:`CopyError` (and its subclasses) with a one-line message.
    """
    out_ = out_ or sys.stdout
    if isinstance(vars, dict):
        # As in 3.7, the caller's dict gains them too (and --config saves them).
        for name, value in _BUILTIN_NAMES.items():
            vars.setdefault(name, value)
    else:
        vars = with_name_defaults(vars)
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
    _check_targets(steps, dest_real)
    svn = _Subversion(svn_add, verbosity, out_, dest)
    if not os.path.isdir(dest):
        if verbosity >= 1:
            out_.write(f"{pad}Creating {dest}/\n")
        if not simulate:
            _make_dir(dest, svn, pad)
    elif verbosity >= 2:
        out_.write(f"{pad}Directory {dest} exists\n")
    for step in steps:
        _apply(step, dest_real, verbosity=verbosity, simulate=simulate, pad=pad,
               interactive=interactive,
               overwrite=overwrite or (new_output and step.depth > 0),
               warn_kept=not new_output, out_=out_, svn=svn)


def _check_targets(steps: list, dest_real: str) -> None:
    """Before the first write: every target stays inside ``dest_real``, and no
    two entries of the template make the same file."""
    targets: dict = {}
    parents: dict = {}
    for step in steps:
        _check_inside(step.dest, dest_real, parents)
        earlier = targets.get(step.dest)
        if earlier is not None and "file" in (earlier.kind, step.kind):
            raise CopyError(f"Both {earlier.source} and {step.source} would create "
                            f"{step.dest}")
        targets[step.dest] = step


def _make_dir(path: str, svn: _Subversion, pad: str) -> None:
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        _make_dir(parent, svn, pad)
    try:
        os.mkdir(path)
    except OSError as err:
        raise CopyError(f"Cannot create directory {path}: {err.strerror}") from err
    svn.add(path, pad, "directory")


def _apply(step: _Step, dest_real: str, *, verbosity: int, simulate: bool, pad: str,
           interactive: bool, overwrite: bool, warn_kept: bool, out_,
           svn: _Subversion) -> None:
    here = pad + "  " * step.depth
    dest = step.dest
    if step.kind == "dir":
        if verbosity >= 1:
            out_.write(f"{here}Recursing into {os.path.basename(step.source)}\n")
        if os.path.isdir(dest):
            if verbosity >= 2:
                out_.write(f"{here}  Directory {dest} exists\n")
            return
        if os.path.exists(dest):
            raise CopyError(f"Cannot create directory {dest}: a file is in the way")
        if verbosity >= 1:
            out_.write(f"{here}  Creating {dest}/\n")
        if not simulate:
            _make_dir(dest, svn, here + "  ")
        return
    if os.path.isdir(dest):
        raise CopyError(f"Cannot write file {dest}: a directory is in the way")
    exists = os.path.exists(dest)
    if exists:
        with open(dest, "rb") as f:
            old = f.read()
        if old == step.content:
            if verbosity >= 1:
                out_.write(f"{here}{dest} already exists (same content)\n")
            return
        if interactive:
            # Asked even when simulating, as in 3.7 (a backup is then not made).
            if not query_interactive(step.source, dest, step.content, old, simulate, out_):
                return
        elif not overwrite:
            if warn_kept:
                out_.write(f"{here}Warning: {dest} exists with different content; "
                           f"kept (use --overwrite to replace it)\n")
            return
    if verbosity >= 1:
        # 3.7's words, also when replacing or simulating.
        out_.write(f"{here}Copying {os.path.basename(step.source)} to {dest}\n")
    if not simulate:
        _write(step, dest_real)
    if not exists:
        svn.add(dest, here, "file", simulate)
    elif svn.requested and verbosity > 1:
        out_.write(f"{here}File already exists (not doing svn add)\n")


def _write(step: _Step, dest_real: str) -> None:
    dest = step.dest
    parent = os.path.dirname(dest)
    try:
        if parent and not os.path.isdir(parent):
            os.makedirs(parent)
            _check_inside(dest, dest_real)
        with open(dest, "wb") as f:
            f.write(step.content)
    except OSError as err:
        raise CopyError(f"Cannot write {dest}: {err.strerror}") from err
