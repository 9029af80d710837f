# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""``paster create``: make a new project from one or more templates."""
from __future__ import annotations

import os
import re
import sys

from paste.script import pluginlib
from paste.script.command import BadCommand, Command

__all__ = ["CreateDistroCommand", "SubversionProject", "find_template_entry_points",
           "load_template", "load_error", "print_templates", "print_variables",
           "show_file_origins",
           "run_egg_info"]

TEMPLATE_GROUP = "paste.paster_create_template"


def find_template_entry_points(dist_name: str | None = None) -> list:
    """The ``paste.paster_create_template`` entry points, of one distribution or all."""
    return pluginlib.entry_points(TEMPLATE_GROUP, dist_name or None)


class CreateDistroCommand(Command):

    usage = "PACKAGE_NAME [VAR=VALUE VAR2=VALUE2 ...]"
    summary = "Create the file layout for a Python distribution"
    short_description = summary
    description = """\
    Create a new project from templates. The project is written to
    PACKAGE_NAME under the output directory; VAR=VALUE arguments set
    template variables (others are asked for, or take their defaults
    with --no-interactive).
    """

    min_args = None
    default_verbosity = 1
    default_interactive = 1

    parser = Command.standard_parser(simulate=True, no_interactive=True, quiet=True,
                                     overwrite=True)
    parser.add_option("-t", "--template", dest="templates", metavar="TEMPLATE",
                      action="append", help="Add a template to the create process")
    parser.add_option("-o", "--output-dir", dest="output_dir", metavar="DIR", default=".",
                      help="Write the project into DIR (default: the current directory)")
    parser.add_option("--svn-repository", metavar="REPOS", dest="svn_repository",
                      help="Create the project in the Subversion repository REPOS "
                           "(with trunk, tags and branches) and check its trunk out")
    parser.add_option("--list-templates", dest="list_templates", action="store_true",
                      help="List all templates available")
    parser.add_option("--list-variables", dest="list_variables", action="store_true",
                      help="List all variables expected by the given templates "
                           "(does not create a project)")
    parser.add_option("--inspect-files", dest="inspect_files", action="store_true",
                      help="Show which template each file of an existing project "
                           "came from (useful when using several templates)")
    parser.add_option("--config", action="store", dest="config", metavar="FILE",
                      help="Read template variables from the [pastescript] section "
                           "of FILE, and write them back after the run")

    _bad_chars_re = re.compile("[^a-zA-Z0-9_]")

    #: True while templates write into a project directory this run created
    #: (see :meth:`paste.script.templates.Template.write_files`).
    project_is_new = False

    def command(self):
        from paste.script import copydir  # only create needs it: keep paster help light
        if self.options.list_templates:
            return self.list_templates()
        templates: list = []
        for name in self.options.templates or ["basic_package"]:
            self.extend_templates(templates, name)
        if self.options.list_variables:
            return self.list_variables(templates)
        if self.verbose:
            self._show_templates(templates)

        dist_name = self._project_name()
        output_dir = os.path.join(self.options.output_dir, dist_name)
        vars = self.initial_vars(dist_name)
        vars.update(self.parse_vars(self.args[1:]))
        if self.options.config and os.path.exists(self.options.config):
            for key, value in self.read_vars(self.options.config).items():
                vars.setdefault(key, value)
        if self.verbose:
            self.display_vars(vars)

        if self.options.inspect_files:
            return self.inspect_files(output_dir, templates, vars)

        copydir.reset_answers()
        self.project_is_new = not os.path.exists(output_dir)
        if self.project_is_new:
            # A file that a later template writes again replaces the
            # earlier one without a question (as in 3.7).
            copydir.all_answer = "y"
        if self.options.svn_repository:
            self.setup_svn_repository(output_dir, dist_name)
        vars = self.gather_vars(templates, vars)
        self._apply_templates(templates, output_dir, vars, dist_name)
        if self.options.svn_repository and not self.simulate:
            self.add_svn_repository(vars, output_dir)
        if self.options.config and not self.simulate:
            saved = dict(vars)
            saved.pop("project", None)
            saved.pop("package", None)
            self.write_vars(self.options.config, saved)
        return 0

    def _apply_templates(self, templates: list, output_dir: str, vars: dict,
                         dist_name: str) -> None:
        """Write every template's files, then run ``setup.py egg_info`` if there is one."""
        # The sorted union of every template's egg_plugins, for the templates.
        egg_plugins = sorted({plugin for _, template in templates
                              for plugin in template.egg_plugins})
        vars["egg_plugins"] = egg_plugins
        for _, template in templates:
            self.create_template(template, output_dir, vars)
        if os.path.exists(os.path.join(output_dir, "setup.py")):
            self.run_egg_info(output_dir, dist_name, egg_plugins,
                              package_dir=vars.get("package_dir"))
        elif self.verbose > 1:
            print("No setup.py (cannot run egg_info)")

    # -- names and variables --------------------------------------------

    def _project_name(self) -> str:
        if self.args:
            # As in 3.7: a leading "/" is dropped, so the project is always
            # created under the output directory; "sub/Foo" makes ./sub/Foo.
            dist_name = self.args[0].lstrip(os.sep)
        elif self.interactive:
            dist_name = self.challenge("Enter project name")
        else:
            raise BadCommand("You must provide a PACKAGE_NAME")
        if not dist_name.strip():
            raise BadCommand("The project name is empty")
        if "\0" in dist_name:
            raise BadCommand(f"Bad project name {dist_name!r}: it contains a NUL byte")
        return dist_name

    def initial_vars(self, dist_name: str) -> dict:
        """``project`` as typed, ``package`` (a valid module name) and ``egg``."""
        return {
            "project": dist_name,
            "package": self._bad_chars_re.sub("", dist_name.lower()),
            "egg": pluginlib.egg_name(dist_name),
        }

    def gather_vars(self, templates: list, vars: dict) -> dict:
        """Give every template's variables a value, most specialised template first.

        Each template's ``check_vars(vars, cmd)`` returns the variables the
        next one gets, and the last result is what the templates are
        applied with (as in 3.7). Every missing variable is listed at once.
        """
        from paste.script.templates import MissingVariables
        missing: list = []
        for _, template in reversed(templates):
            try:
                vars = template.check_vars(vars, self)
            except MissingVariables as err:
                names = {v.name for v in missing}
                missing.extend(v for v in err.missing if v.name not in names)
        if missing:
            raise MissingVariables(missing)
        return vars

    def _show_templates(self, templates: list) -> None:
        print("Selected and implied templates:")
        width = max(len(name) for name, _ in templates)
        for full_name, template in templates:
            print(f"  {full_name.ljust(width)}  {template.summary}")
        print()

    def display_vars(self, vars: dict) -> None:
        """Print ``Variables:`` and each variable's value, sorted and aligned."""
        print("Variables:")
        width = max(len(name) for name in vars)
        for name, value in sorted(vars.items()):
            print(f"  {name}:{' ' * (width - len(name))}  {value}")

    # -- templates ------------------------------------------------------

    def create_template(self, template, output_dir: str, vars: dict) -> None:
        """Apply one template (its ``pre``, files and ``post``)."""
        if self.verbose:
            print(f"Creating template {template.name}")
        template.run(self, output_dir, vars)

    def all_entry_points(self) -> list:
        """Every installed ``paste.paster_create_template`` entry point."""
        return find_template_entry_points()

    def extend_templates(self, templates: list, tmpl_name: str, _chain=()) -> None:
        """Append ``tmpl_name`` to ``templates`` after its required templates, each once.

        ``templates`` holds ``(Dist#name, template)`` pairs; the name is
        3.7's (see :func:`load_template`). A template named twice, however
        its distribution is spelled, is applied once.
        """
        full_name, template = load_template(tmpl_name)
        key = _template_key(full_name)
        if key in (_template_key(name) for name in _chain):
            raise BadCommand(f"Template {full_name} requires itself "
                             f"(through {' -> '.join(_chain)})", exit_code=1)
        if any(key == _template_key(item) for item, _ in templates):
            return
        for required in template.required_templates:
            self.extend_templates(templates, required, _chain + (full_name,))
        if not any(key == _template_key(item) for item, _ in templates):
            templates.append((full_name, template))

    def list_templates(self) -> int:
        """``--list-templates``: see :func:`print_templates`."""
        print_templates(find_template_entry_points())
        return 0

    def list_variables(self, templates: list) -> int:
        """``--list-variables``: see :func:`print_variables`."""
        print_variables(templates, self)
        return 0

    # -- after the templates --------------------------------------------

    def run_egg_info(self, output_dir: str, dist_name: str, egg_plugins: list,
                     package_dir: str | None = None) -> None:
        """Run ``setup.py egg_info`` in the project; then list ``egg_plugins`` (see
        :func:`run_egg_info`)."""
        if self.simulate:
            # 3.7's words; the program is not started (3.7 started it).
            if self.verbose:
                print(f"Running {sys.executable} setup.py egg_info")
            return
        run_egg_info(output_dir, dist_name, egg_plugins, package_dir, self.verbose)

    #: What ``svn:ignore`` hides in the project's ``*.egg-info`` directory.
    ignore_egg_info_files = [
        "top_level.txt", "entry_points.txt", "requires.txt", "PKG-INFO",
        "namespace_packages.txt", "SOURCES.txt", "dependency_links.txt", "not-zip-safe",
    ]

    def setup_svn_repository(self, output_dir: str, dist_name: str) -> None:
        """Make ``REPOS/PROJECT`` with trunk, tags and branches; check its trunk out."""
        SubversionProject(self.verbose, self.simulate).create(
            self.options.svn_repository, dist_name, output_dir)

    def add_svn_repository(self, vars: dict, output_dir: str) -> None:
        """Add the ``*.egg-info`` directory (not its generated files) to Subversion.

        The template files were added as they were written (they are
        inside the checked-out trunk); ``paster_plugins.txt`` is added and
        the rest of the egg-info is set in ``svn:ignore``.
        """
        egg_info = pluginlib.egg_info_dir(output_dir, vars["project"])
        SubversionProject(self.verbose, self.simulate).add_egg_info(
            egg_info, self.ignore_egg_info_files)

    # -- inspecting an existing output ----------------------------------

    def inspect_files(self, output_dir: str, templates: list, vars: dict) -> int:
        """Show which template (and which of its files) each file under ``output_dir`` came from."""
        show_file_origins(output_dir, templates, vars, self.verbose)
        return 0


# -- finding and listing templates ---------------------------------------------

def _template_key(full_name: str) -> tuple:
    dist_name, _, name = full_name.rpartition("#")
    return re.sub(r"[-_.]+", "-", dist_name).lower(), name


def load_template(tmpl_name: str) -> tuple:
    """``(Dist#name, template instance)`` for a template name or ``Dist#name`` spec.

    The distribution part is 3.7's: as typed in a ``Dist#name`` spec, else
    the name ``pkg_resources`` gave the distribution (``dist.project_name``,
    from its metadata directory's name). A template that fails to import
    is a one-line error (with the fix when it needs Paste).
    """
    dist_name, _, name = tmpl_name.rpartition("#")
    try:
        entry_points = find_template_entry_points(dist_name or None)
    except pluginlib.PluginNotFound:
        raise BadCommand(f"Template {tmpl_name!r} not found: distribution "
                         f"{dist_name!r} is not installed") from None
    matches = [ep for ep in entry_points if ep.name == name]
    if not matches:
        known = sorted({ep.name for ep in find_template_entry_points()})
        raise BadCommand(f"Template {tmpl_name!r} not found; available templates: "
                         f"{', '.join(known) or '(none)'} (see --list-templates)")
    entry_point = matches[0]
    try:
        template = entry_point.load()(entry_point.name)
    except Exception as err:
        raise BadCommand(f"Template {tmpl_name!r} could not be loaded from "
                         f"{entry_point.value}: {load_error(err)}", exit_code=1) from err
    return f"{dist_name or entry_point.dist.project_name}#{name}", template


def load_error(err: BaseException) -> str:
    """``Type: message`` of a template's import error, with the fix when Paste is missing.

    Templates written for 3.x import Paste's ``paste.util.template``;
    PasteScript 3.x depended on Paste, this release does not.
    """
    text = f"{type(err).__name__}: {err}"
    if isinstance(err, ModuleNotFoundError) and (err.name or "").startswith("paste.util"):
        text += " (the template needs Paste: install PasteScript[paste])"
    return text


def print_templates(entry_points: list) -> None:
    """Print ``Available templates:`` and each template's name and summary, as 3.7 did.

    A template that fails to load gets a ``Warning: could not load entry
    point NAME (Error: message)`` line before the list instead.
    """
    loaded = []
    for entry_point in entry_points:
        try:
            loaded.append(entry_point.load()(entry_point.name))
        except Exception as err:
            print(f"Warning: could not load entry point {entry_point.name} "
                  f"({load_error(err)})")
    print("Available templates:")
    if not loaded:
        print("  No templates installed")
        return
    width = max(len(template.name) for template in loaded)
    for template in sorted(loaded, key=lambda t: t.name):
        print(f"  {template.name}:{' ' * (width - len(template.name))}  {template.summary}")


def print_variables(templates: list, command) -> None:
    """Each template's variables, in 3.7's order and format (plugins parse it).

    Templates come in the order they are applied (required ones first),
    each under ``NAME (from Dist#NAME)`` and a dashed line; with ``-vv`` a
    template without variables says so.
    """
    for full_name, template in templates:
        found = template.read_vars(command)
        if not found and command.verbose <= 1:
            continue
        title = f"{template.name} (from {full_name})"
        print(title)
        print("-" * len(title))
        if not found:
            print("  No variables found")
            print()
            continue
        template.print_vars(indent=2)


class SubversionProject:
    """The Subversion commands of ``create --svn-repository``, as 3.7 ran them."""

    svn = "svn.exe" if sys.platform == "win32" else "svn"

    def __init__(self, verbose: int = 1, simulate: bool = False):
        self.verbose = verbose
        self.simulate = simulate

    def create(self, repository: str, dist_name: str, output_dir: str) -> None:
        """``svn mkdir`` the project with trunk, tags and branches; check trunk out.

        Their output goes to the terminal and their status is not checked,
        as in 3.7 (which ran them through ``os.system``).
        """
        repos = os.path.join(repository, dist_name).replace("\\", "/")
        mkdir = [self.svn, "mkdir", repos, f"{repos}/trunk", f"{repos}/tags",
                 f"{repos}/branches", "-m", f"New project {dist_name}"]
        for argv in (mkdir, [self.svn, "co", f"{repos}/trunk", output_dir]):
            if self.verbose:
                print("Running " + " ".join(argv))
            if not self.simulate:
                self._run(argv)

    def add_egg_info(self, egg_info: str, ignored: list) -> None:
        """``svn add`` the egg-info directory and its ``paster_plugins.txt``; ignore the rest."""
        self._run_checked([self.svn, "add", "-N", egg_info])
        plugins = os.path.join(egg_info, "paster_plugins.txt")
        if os.path.exists(plugins):
            self._run_checked([self.svn, "add", plugins])
        self._run_checked([self.svn, "ps", "svn:ignore", "\n".join(ignored), egg_info])
        if self.verbose:
            print("You must next run 'svn commit' to commit the files to repository")

    def _run(self, argv: list, **kw):
        import subprocess
        try:
            return subprocess.run(argv, **kw)
        except FileNotFoundError:
            raise BadCommand(f"Cannot run {argv[0]}: the Subversion client is not "
                             f"installed", exit_code=1) from None

    def _run_checked(self, argv: list) -> None:
        import subprocess
        if self.verbose:
            print("Running " + " ".join(argv))
        proc = self._run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if proc.returncode:
            raise BadCommand(f"{' '.join(argv)} failed (exit {proc.returncode}): "
                             f"{proc.stdout.strip()}", exit_code=1)
        if self.verbose > 2 and proc.stdout:
            print(proc.stdout.rstrip())


def run_egg_info(output_dir: str, dist_name: str, egg_plugins: list,
                 package_dir: str | None = None, verbose: int = 1) -> None:
    """Run ``setup.py egg_info`` in ``output_dir``; then list ``egg_plugins``.

    As in 3.7, egg_info's exit status is not checked (its output shows
    with ``-vvv``), ``package_dir`` names the subdirectory that holds the
    ``*.egg-info`` when it is not the project directory, and
    ``paster_plugins.txt`` is written here only when egg_info did not
    write it (setup()'s ``paster_plugins`` keyword is the proper way).
    """
    import subprocess
    plugins_mtime = _plugins_mtime(output_dir, dist_name)
    proc = subprocess.Popen([sys.executable, "setup.py", "egg_info"], cwd=output_dir,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if verbose:
        print(f"Running {sys.executable} setup.py egg_info")
    stdout, stderr = proc.communicate()
    if verbose > 2:
        # What Command.run_command shows of a program's output (3.7 ran it so).
        for title, text in (("Command error output:", stderr), ("Command output:", stdout)):
            if text:
                print(title)
                print(text.rstrip("\n"))
    egg_base = os.path.join(output_dir, package_dir) if package_dir else output_dir
    try:
        egg_info = pluginlib.egg_info_dir(egg_base, dist_name)
    except OSError as err:
        output = (stdout + stderr).rstrip()
        detail = f"\n{output}" if proc.returncode and output else ""
        raise BadCommand(f"{err}; 'python setup.py egg_info' exited with "
                         f"{proc.returncode}{detail}", exit_code=1) from None
    plugins_path = os.path.join(egg_info, "paster_plugins.txt")
    if not egg_plugins or (os.path.exists(plugins_path)
                           and os.path.getmtime(plugins_path) != plugins_mtime):
        return
    if verbose:
        print("Manually creating paster_plugins.txt (deprecated! pass a paster_plugins "
              "keyword to setup() instead)", file=sys.stderr)
    for plugin in egg_plugins:
        if verbose:
            print(f"Adding {plugin} to paster_plugins.txt")
        pluginlib.add_plugin(egg_info, plugin)


def _plugins_mtime(output_dir: str, dist_name: str):
    """The mtime of an existing ``paster_plugins.txt`` (to see if egg_info wrote it)."""
    try:
        egg_info = pluginlib.egg_info_dir(output_dir, dist_name)
    except OSError:
        return None
    path = os.path.join(egg_info, "paster_plugins.txt")
    return os.path.getmtime(path) if os.path.exists(path) else None


def show_file_origins(output_dir: str, templates: list, vars: dict, verbose: int = 1) -> None:
    """``--inspect-files``, as 3.7 printed it.

    Each file of ``output_dir`` that a template makes (``NAME from:`` and
    the templates), directory by directory (``Recursing into DIR/``); with
    ``-vv`` also the files no template made and the ignored ones; then the
    files the templates would make that are missing.
    """
    sources: dict = {}
    for _full_name, template in templates:
        _collect_sources(template.template_dir(), vars, template.name, sources)
    if not os.path.isdir(output_dir):
        raise BadCommand(f"{output_dir} does not exist (nothing to inspect)")
    _show_sources(output_dir, sources, verbose)
    if sources:
        print()
        print("These files were supposed to be generated by templates")
        print("but were not found:")
        for partial, names in sorted(sources.items()):
            print(f"  {partial} from:")
            for name in names:
                print(f"    {name}")


def _collect_sources(source, vars: dict, template_name: str, sources: dict,
                     relative: str = "") -> None:
    """Map each file (relative to the project) a template makes to the template's name."""
    from paste.script import copydir
    directory = copydir.open_template_dir(source) if not relative else source
    if not directory.is_dir():
        return
    names = copydir.with_name_defaults(vars)
    for entry in sorted(directory.iterdir(), key=lambda e: e.name):
        if copydir.should_skip_file(entry.name):
            continue
        name, _rendered = copydir.destination_name(entry.name, names)
        partial = os.path.join(relative, name)
        if entry.is_dir():
            _collect_sources(entry, vars, template_name, sources, partial)
        else:
            sources.setdefault(partial, []).append(template_name)


#: What --inspect-files passes over in the project (3.7's lists).
_IGNORED_NAMES = [".*", "*.pyc", "*.bak*"]
_IGNORED_DIRS = ["CVS", "_darcs", ".svn"]


def _show_sources(output_dir: str, sources: dict, verbose: int, relative: str = "",
                  depth: int = 0) -> None:
    """Print the files of one directory with their templates (taking them out of
    ``sources``), then recurse into its subdirectories."""
    import fnmatch
    pad = "  " * depth
    directory = os.path.join(output_dir, relative)
    names = sorted(os.listdir(directory))
    for name in names:
        if any(fnmatch.fnmatch(name, pattern) for pattern in _IGNORED_NAMES):
            if verbose > 1:
                print(f"{pad}Ignoring {name}")
            continue
        partial = os.path.join(relative, name)
        if partial not in sources:
            if verbose > 1:
                print(f"{pad}{name} (not from template)")
            continue
        print(f"{pad}{name} from:")
        for template_name in sources.pop(partial):
            print(f"{pad}  {template_name}")
    for name in names:
        if name in _IGNORED_DIRS or not os.path.isdir(os.path.join(directory, name)):
            continue
        print(f"{pad}Recursing into {name}/")
        _show_sources(output_dir, sources, verbose, os.path.join(relative, name), depth + 1)
