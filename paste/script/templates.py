# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""Project templates for ``paster create``.

Third-party packages subclass :class:`Template` and register the subclass
in the ``paste.paster_create_template`` entry-point group::

    class MyTemplate(Template):
        _template_dir = 'templates/mine'     # relative to this module
        summary = 'What the project is'
        required_templates = ['PasteScript#basic_package']
        vars = [var('port', 'HTTP port', default='8080')]

The ``_template_dir`` tree is copied by :func:`paste.script.copydir.copy_dir`.
"""
from __future__ import annotations

import inspect
import os
import sys
from typing import Any

from paste.script import copydir
from paste.script.command import BadCommand, NoDefault

__all__ = [
    "Template", "var", "BasicPackage", "find_args_in_template", "find_args_in_dir",
    "NoDefault", "MissingVariables", "paste_script_template_renderer",
]


class MissingVariables(BadCommand):
    """Required variables have no value and cannot be asked for."""

    def __init__(self, missing: list):
        self.missing = list(missing)
        lines = "\n".join(f"  {v.full_description()}" for v in self.missing)
        super().__init__(f"Required variable(s) missing (give them as name=value):\n{lines}")


class var:
    """A variable a template asks for.

    ``should_echo=False`` reads the answer without echoing it (passwords).
    """

    def __init__(self, name: str, description: str | None, default: Any = "",
                 should_echo: bool = True):
        self.name = name
        self.description = description
        self.default = default
        self.should_echo = should_echo

    def __repr__(self) -> str:
        return (f"<{self.__class__.__name__} {self.name} default={self.default!r} "
                f"should_echo={self.should_echo}>")

    def full_description(self) -> str:
        if self.description:
            return f"{self.name} ({self.description})"
        return self.name

    @classmethod
    def print_vars(cls, vars: list, indent: int = 0) -> None:
        """Print the variables as 3.7 did (``--list-variables`` shows this; plugins parse it).

        Each variable: its name padded to the longest (after ``indent``
        spaces) and its description, or two spaces and the bare name; then
        ``      default: REPR`` unless it has none, and ``      should_echo:
        True`` for a variable that is echoed (3.7's test, kept as it was).
        A blank line ends the list.
        """
        if not vars:
            return
        width = max(len(v.name) for v in vars)
        for v in vars:
            if v.description:
                print(f"{' ' * indent}{v.name.ljust(width)}  {v.description}")
            else:
                print(f"  {v.name}")
            if v.default is not NoDefault:
                print(f"      default: {v.default!r}")
            if v.should_echo is True:
                print(f"      should_echo: {v.should_echo}")
        print()


class Template:
    """A project template: a directory to copy and the variables it needs.

    Attributes a subclass sets: ``_template_dir`` (a path relative to the
    subclass's module, or a ``(package, resource_dir)`` tuple), ``summary``,
    ``vars``, ``egg_plugins``, ``required_templates`` (names looked up in
    ``paste.paster_create_template``, ``Dist#name`` accepted),
    ``use_cheetah``, ``read_vars_from_templates`` and ``template_renderer``
    (``f(content, vars, filename=...)``). Hooks: :meth:`pre` and
    :meth:`post`, called around :meth:`write_files`.
    """

    _template_dir: Any = None
    summary: str = ""
    vars: list = []
    egg_plugins: list = []
    required_templates: list = []
    use_cheetah: bool = False
    read_vars_from_templates: bool = False
    template_renderer = None

    def __init__(self, name: str):
        self.name = name
        self._read_vars = None

    def __repr__(self) -> str:
        return f"<{self.__class__.__name__} {self.name}>"

    def module_dir(self) -> str:
        """The directory of the module that defines this template class."""
        module = sys.modules[self.__class__.__module__]
        return os.path.dirname(os.path.abspath(module.__file__))

    def template_dir(self):
        """The directory to copy: a path, or a ``(package, resource_dir)`` tuple."""
        if self._template_dir is None:
            raise BadCommand(f"Template {self.name!r} ({self.__class__.__module__}."
                             f"{self.__class__.__name__}) does not set _template_dir",
                             exit_code=1)
        if isinstance(self._template_dir, tuple):
            return self._template_dir
        return os.path.join(self.module_dir(), self._template_dir)

    def run(self, command, output_dir: str, vars: dict) -> None:
        self.pre(command, output_dir, vars)
        self.write_files(command, output_dir, vars)
        self.post(command, output_dir, vars)

    def pre(self, command, output_dir: str, vars: dict) -> None:
        """Called before the files are written."""

    def post(self, command, output_dir: str, vars: dict) -> None:
        """Called after the files are written."""

    def check_vars(self, vars: dict, cmd) -> dict:
        """Complete ``vars`` with this template's variables, asking when interactive.

        Returns (and merges into ``vars``) the values; raises
        :class:`MissingVariables` listing every required variable left
        without a value.
        """
        expected = self.read_vars(cmd)
        if not expected:
            return vars
        converted = {}
        unused = dict(vars)
        missing = []
        for v in expected:
            if v.name in unused:
                converted[v.name] = unused.pop(v.name)
            elif getattr(cmd, "interactive", False):
                converted[v.name] = cmd.challenge(f"Enter {v.full_description()}",
                                                  v.default, v.should_echo)
            elif v.default is NoDefault:
                missing.append(v)
            else:
                converted[v.name] = v.default
        if missing:
            raise MissingVariables(missing)
        converted.update(unused)
        vars.update(converted)
        return converted

    def read_vars(self, command=None) -> list:
        """This template's variables: ``vars`` plus, with Cheetah, those its files declare."""
        if self._read_vars is not None:
            return self._read_vars
        if not self.read_vars_from_templates:
            self._read_vars = list(self.vars)
            return self._read_vars
        if not self.use_cheetah:
            raise BadCommand(f"Template {self.name!r}: read_vars_from_templates "
                             f"needs use_cheetah = True", exit_code=1)
        found = list(self.vars)
        known = {v.name for v in found}
        verbose = bool(command is not None and getattr(command, "verbose", 0) > 1)
        try:
            declared = find_args_in_dir(self.template_dir(), verbose=verbose)
        except copydir.CopyError as err:
            raise BadCommand(str(err), exit_code=1) from err
        for name, v in sorted(declared.items()):
            if name not in known:
                found.append(v)
        self._read_vars = found
        return found

    def write_files(self, command, output_dir: str, vars: dict) -> None:
        """Copy :meth:`template_dir` into ``output_dir`` (see :func:`copydir.copy_dir`).

        In a project directory that ``paster create`` made in this run, a
        differing file comes from a template applied earlier in the run:
        3.7's choice holds (see ``new_output`` of ``copy_dir``).
        """
        if not os.path.exists(output_dir):
            # Said even with -q, as in 3.7.
            print(f"Creating directory {output_dir}")
            if not command.simulate:
                try:
                    os.makedirs(output_dir)
                except OSError as err:
                    raise BadCommand(f"Cannot create directory {output_dir}: "
                                     f"{err.strerror}", exit_code=1) from err
        try:
            copydir.copy_dir(
                self.template_dir(), output_dir, vars,
                verbosity=command.verbose, simulate=command.simulate,
                interactive=command.interactive, overwrite=command.overwrite,
                indent=1, use_cheetah=self.use_cheetah,
                template_renderer=self.template_renderer,
                new_output=getattr(command, "project_is_new", False))
        except copydir.CopyError as err:
            raise BadCommand(str(err), exit_code=1) from err

    def print_vars(self, indent: int = 0) -> None:
        """Print :meth:`read_vars` as ``--list-variables`` does (3.7 ignored ``indent``)."""
        var.print_vars(self.read_vars())


def paste_script_template_renderer(content: str, vars: dict, filename: str | None = None) -> str:
    """Render ``content`` with Tempita (``{{expression}}``, ``{{if}}``, ``{{for}}``...).

    The ``template_renderer`` that :class:`BasicPackage` uses, and that
    templates written for Paste Script 3.7 name (it was Paste's
    ``paste.util.template.paste_script_template_renderer``). Rendering is
    done by the ``tempita`` package.
    """
    import tempita
    return tempita.Template(content, name=filename).substitute(vars)


class BasicPackage(Template):
    _template_dir = "paster-templates/basic_package"
    summary = "A basic setuptools-enabled package"
    vars = [
        var("version", "Version (like 0.1)"),
        var("description", "One-line description of the package"),
        var("long_description", "Multi-line description (in reST)"),
        var("keywords", "Space-separated keywords/tags"),
        var("author", "Author name"),
        var("author_email", "Author email"),
        var("url", "URL of homepage"),
        var("license_name", "License name"),
        var("zip_safe", "True/False: if the package can be distributed as a .zip file",
            default=False),
    ]
    # Subclasses that ship their own {{...}} files inherit it, as in 3.7.
    template_renderer = staticmethod(paste_script_template_renderer)


# -- Cheetah introspection ----------------------------------------------------

# Arguments Cheetah adds to generated methods, never template variables.
_skip_variables = {"VFN", "currentTime", "self", "VFFSL", "dummyTrans", "getmtime",
                   "trans", "KWS"}


def find_args_in_template(template) -> list | None:
    """Variables declared by a Cheetah template's ``#def body(a, b=1)``.

    ``template`` is a filename or a compiled Cheetah template. Arguments
    with a default keep it; the others get :class:`NoDefault` (required).
    Returns None when the template declares no ``body``.
    """
    if isinstance(template, (str, os.PathLike)):
        filename = os.fspath(template)
        with open(filename, encoding="utf-8") as f:
            template = copydir.compile_cheetah(f.read(), filename)
    method = getattr(template, "body", None)
    if method is None:
        return None
    found = []
    for param in inspect.signature(method).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        if param.name in _skip_variables:
            continue
        default = NoDefault if param.default is param.empty else param.default
        found.append(var(param.name, description=None, default=default))
    return found


def find_args_in_dir(dir, verbose: bool = False) -> dict:
    """Variables declared by every ``*_tmpl`` Cheetah file under ``dir``, by name."""
    if isinstance(dir, tuple):
        from importlib import resources
        package, resource_dir = dir
        with resources.as_file(resources.files(package).joinpath(resource_dir)) as path:
            return find_args_in_dir(str(path), verbose)
    all_vars: dict = {}
    for name in sorted(os.listdir(dir)):
        if copydir.should_skip_file(name):
            continue
        full = os.path.join(dir, name)
        if os.path.isdir(full):
            inner = find_args_in_dir(full, verbose)
        elif name.endswith("_tmpl"):
            found = find_args_in_template(full)
            if found is None:
                if verbose:
                    print(f"Template {full} has no parseable variables")
                continue
            inner = {v.name: v for v in found}
        else:
            continue
        if verbose and inner:
            print(f"Found variable(s) {', '.join(inner)} in template {full}")
        all_vars.update(inner)
    return all_vars
