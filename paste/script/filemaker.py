# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""Writing one rendered file into an existing project, for code generators.

A command such as ``paster controller NAME`` uses :class:`FileOp` to render
a template shipped with its package into the project it is run from::

    op = FileOp(source_dir=('mypkg', 'templates'), template_vars={'name': name})
    op.copy_file(template='controller.py_tmpl', dest='controllers', filename=name)

The project is found through its ``*.egg-info`` directory (its
``top_level.txt`` names the package); directories created on the way get an
``__init__.py`` so they stay importable.
"""
from __future__ import annotations

import os
import re

from paste.script import pluginlib
from paste.script.command import BadCommand
from paste.script.command import popdefault  # noqa: F401  (3.x defined it here too)
from paste.script.copydir import CopyError, substitute_content
from paste.script.util.files import FileWriter

__all__ = ["FileOp"]


class FileOp(FileWriter):
    """Render files from ``source_dir`` into the current project.

    ``source_dir`` is a directory path or a ``(package, resource_dir)``
    tuple. ``simulate`` reports without writing; a file that exists with
    different content is replaced when ``overwrite``, asked about when
    ``interactive``, and otherwise kept with a warning. ``run_command``,
    ``svn_command`` and ``shorten`` are those of ``Command``.
    """

    def __init__(self, simulate: bool = False, verbose: bool | int = True,
                 interactive: bool = True, source_dir=None, template_vars: dict | None = None,
                 overwrite: bool = False):
        self.simulate = simulate
        self.verbose = verbose
        self.interactive = interactive
        self.overwrite = overwrite
        self.template_vars = {} if template_vars is None else template_vars
        self.source_dir = source_dir
        self.use_resources = isinstance(source_dir, tuple)

    # -- the operation -------------------------------------------------------

    def copy_file(self, template: str, dest: str, filename: str | None = None,
                  add_py: bool = True, package: bool = True,
                  template_renderer=None) -> str:
        """Render ``template`` (relative to ``source_dir``) into ``dest`` of the project.

        ``dest`` is a directory inside the project's package; ``filename``
        defaults to the template's name without ``_tmpl``; ``add_py`` adds
        ``.py``; ``package`` makes every directory created on the way a
        package. Returns the path written (or that would be written).
        """
        if not filename:
            filename = template.split("/")[-1]
            if filename.endswith("_tmpl"):
                filename = filename[:-len("_tmpl")]
        base_package, directory = self.find_dir(dest, package)
        self.template_vars["base_package"] = base_package
        content = self.load_content(base_package, directory, filename, template,
                                    template_renderer=template_renderer)
        if add_py and not filename.endswith(".py"):
            filename = f"{filename}.py"
        target = os.path.join(directory, filename)
        self.ensure_file(target, content, package)
        return target

    def copy_dir(self, template_dir: str, dest: str, destname: str | None = None,
                 package: bool = True) -> str:
        """Copy the directory ``template_dir`` (under ``source_dir``) into the project.

        It becomes ``dest/destname`` inside the project's package
        (``destname`` defaults to the template directory's own name); files
        ending in ``_tmpl`` are rendered and lose the suffix, ``+var+`` in
        names is replaced, skipped names are those of :mod:`copydir`, and
        with ``package`` every directory made gets an ``__init__.py``.
        Existing files are handled as by :meth:`ensure_file`. Returns the
        directory written. (3.7 declared this method but raised
        NotImplementedError.)
        """
        base_package, directory = self.find_dir(dest, package)
        self.template_vars["base_package"] = base_package
        template_dir = template_dir.rstrip("/")
        source = self._source(template_dir)
        if not source.is_dir():
            raise BadCommand(f"Template directory {template_dir} not found in "
                             f"{self._shown(template_dir)}", exit_code=1)
        name = destname or template_dir.split("/")[-1]
        target = os.path.join(directory, *self._relative_parts(name))
        self._copy_tree(source, target, template_dir, base_package, package)
        return target

    def _copy_tree(self, source, target: str, relative: str, base_package: str,
                   package: bool) -> None:
        from paste.script.copydir import destination_name, should_skip_file, with_name_defaults
        self.ensure_dir(target, package=package, package_root=target)
        names = with_name_defaults(self.template_vars)
        for child in sorted(source.iterdir(), key=lambda e: e.name):
            if should_skip_file(child.name):
                continue
            name, _rendered = destination_name(child.name, names)
            path = f"{relative}/{child.name}"
            if child.is_dir():
                into = os.path.join(target, *self._relative_parts(name))
                self._copy_tree(child, into, path, base_package, package)
                continue
            content = self.load_content(base_package, target, name, path)
            self.ensure_file(os.path.join(target, *self._relative_parts(name)), content,
                             package=package)

    def _source(self, template: str):
        if self.use_resources:
            from importlib import resources
            package, resource_dir = self.source_dir
            return resources.files(package).joinpath(resource_dir).joinpath(template)
        from pathlib import Path
        return Path(self.source_dir, template)

    def _shown(self, template: str) -> str:
        if self.use_resources:
            package, resource_dir = self.source_dir
            return f"{package}:{resource_dir}/{template}"
        return os.path.join(self.source_dir, template)

    def load_content(self, base_package: str, base: str, name: str, template: str,
                     template_renderer=None) -> str:
        """The rendered text of ``template`` (rendered when it ends in ``_tmpl``)."""
        if self.source_dir is None:
            raise BadCommand("FileOp needs a source_dir to read templates from", exit_code=1)
        source = self._source(template)
        shown = self._shown(template)
        try:
            content = source.read_text(encoding="utf-8")
        except OSError as err:
            raise BadCommand(f"Cannot read template {shown}: {err}", exit_code=1) from None
        if template.endswith("_tmpl"):
            vars = dict(self.template_vars)
            vars.setdefault("base_package", base_package)
            try:
                content = substitute_content(content, vars, filename=shown,
                                             template_renderer=template_renderer)
            except CopyError as err:
                raise BadCommand(str(err), exit_code=1) from None
        return content

    # -- finding places ------------------------------------------------------

    def find_dir(self, dirname: str, package: bool = False) -> tuple[str, str]:
        """``(package name, directory)`` for ``dirname`` inside the project's package.

        The project is the one whose ``*.egg-info`` is found from the current
        directory; its packages come from ``top_level.txt``. The directory
        is created (with ``__init__.py`` files when ``package``) if no
        package has it yet.
        """
        parts = self._relative_parts(dirname)
        egg_info = pluginlib.find_egg_info_dir(os.getcwd())
        if egg_info is None:
            raise BadCommand("No *.egg-info directory found here or above; run "
                             "'python setup.py egg_info' in the project first")
        try:
            with open(os.path.join(egg_info, "top_level.txt"), encoding="utf-8") as f:
                packages = [line.strip() for line in f
                            if line.strip() and not line.strip().startswith("#")]
        except OSError:
            packages = []
        if not packages:
            raise BadCommand(f"No top-level package listed in {egg_info}/top_level.txt "
                             f"(is the project's setup.py using find_packages?)")
        base = os.path.dirname(egg_info)
        found = [(pkg, os.path.join(base, pkg, *parts)) for pkg in packages
                 if os.path.isdir(os.path.join(base, pkg, *parts))]
        if len(found) > 1:
            where = ", ".join(path for _, path in found)
            raise BadCommand(f"Directory {dirname!r} exists in several packages: {where}")
        if found:
            return found[0]
        directory = os.path.join(base, packages[0], *parts)
        self.ensure_dir(directory, package=package,
                        package_root=os.path.join(base, packages[0]))
        return packages[0], directory

    def parse_dest(self, dest: str) -> tuple[str, str]:
        """Split a user's destination into ``(directory, module name)``.

        ``admin/user``, ``admin.user`` and ``admin/user.py`` all give
        ``('admin', 'user')``; ``user`` gives ``('', 'user')``.
        """
        dest = dest.strip()
        if dest.endswith(".py"):
            dest = dest[:-3]
        if "/" not in dest and os.sep not in dest:
            dest = dest.replace(".", "/")
        parts = self._relative_parts(dest)
        if not parts:
            raise BadCommand(f"Bad destination {dest!r}: give a module name")
        name = parts[-1]
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise BadCommand(f"Bad module name {name!r} in {dest!r}")
        return "/".join(parts[:-1]), name

    def parse_path_name_args(self, name: str) -> tuple[str, str]:
        """Split a name given to a code generator into ``(name, directory)``.

        As in 3.7 (Pylons' ``paster controller`` calls it): a ``.py``
        suffix is dropped and dots separate directories, so
        ``comments`` gives ``('comments', '')``, ``admin/comments`` and
        ``admin.comments`` give ``('comments', 'admin')`` and
        ``h/ab/fred`` gives ``('fred', 'h/ab')`` (joined with ``os.sep``).
        """
        if name.endswith(".py"):
            name = name[:-3]
        name = name.replace(".", os.sep)
        if os.sep != "/":
            name = name.replace("/", os.sep)
        *directories, name = name.split(os.sep)
        return name, os.path.join(*directories) if directories else ""

    @staticmethod
    def _relative_parts(path: str) -> list[str]:
        if "\0" in path or os.path.isabs(path):
            raise BadCommand(f"Bad path {path!r}: it must be relative to the package")
        parts = [p for p in re.split(r"[/\\]", path) if p not in ("", ".")]
        if ".." in parts:
            raise BadCommand(f"Bad path {path!r}: it must stay inside the package")
        return parts
