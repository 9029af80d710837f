# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""Installing an application in two phases: ``make-config`` and ``setup-app``.

``paster make-config PACKAGE config.ini`` asks the installed distribution's
*installer* (its ``paste.app_install`` entry point, :class:`Installer` by
default) to write a fresh deployment config; the user edits it; then
``paster setup-app config.ini`` asks the same installer to do the one-time
setup (the package's ``websetup`` module: create tables, directories...).

Both commands load *sysconfigs* first (see
:mod:`paste.script.default_sysconfig`), the hooks that adapt installs to
one machine.
"""
from __future__ import annotations

import os
import sys

from paste.script.command import BadCommand, Command
from paste.script.command import run as run_command  # noqa: F401  (3.x's name, kept for importers)

__all__ = ["AbstractInstallCommand", "Installer", "MakeConfigCommand", "SetupCommand"]

_METADATA_TEMPLATE = "paste_deploy_config.ini_tmpl"
#: make-config's variables whose values are secrets.
_SECRET_VARIABLES = ("app_instance_secret",)


def _default_sysconfigs() -> list[tuple[bool, str]]:
    """(explicit, name) pairs, most specific first; computed per run from the environment."""
    configs = []
    if os.environ.get("PASTE_SYSCONFIG"):
        configs.append((False, os.environ["PASTE_SYSCONFIG"]))
    home = os.environ.get("HOME")
    if home:
        configs.append((False, os.path.join(home, ".paste", "sysconfig.py")))
        configs.append((False, os.path.join(home, ".paste", "config", "sysconfig.py")))
    configs.append((False, "/usr/local/etc/paste/sysconfig.py"))
    configs.append((False, "/etc/paste/sysconfig.py"))
    configs.append((True, "paste.script.default_sysconfig"))
    return configs


def __getattr__(name: str):
    # 3.x imported PasteDeploy's appconfig here; importing it only when
    # asked keeps ``paster help``, which imports this module, fast.
    if name == "appconfig":
        from paste.deploy import appconfig
        return appconfig
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class _DefaultSysconfigs:
    """``default_sysconfigs`` as 3.x's class attribute: read from the environment
    ($PASTE_SYSCONFIG, $HOME) each time, so a long-lived process sees changes and no
    run can grow the shared list. A subclass may replace it with a list of its own."""

    def __get__(self, instance, owner) -> list[tuple[bool, str]]:
        return _default_sysconfigs()


class AbstractInstallCommand(Command):
    """Base of ``make-config`` and ``setup-app``: sysconfigs and installers."""

    default_interactive = 1
    #: (explicit, file or module name) pairs, most specific first, loaded
    #: unless ``--no-default-sysconfig`` is given.
    default_sysconfigs = _DefaultSysconfigs()

    def run(self, args: list) -> int:
        # Sysconfigs may add options, so they are found and loaded before
        # optparse sees the arguments.
        self.sysconfig_args, args = self._split_sysconfig_args(list(args))
        self.sysconfigs = self._sysconfig_list(self.sysconfig_args)
        self.load_sysconfigs()
        return super().run(args)

    @staticmethod
    def _split_sysconfig_args(args: list) -> tuple[list, list]:
        """(the sysconfig options, normalised to ``--opt=value``; the other arguments)."""
        ours, rest = [], []
        while args:
            arg = args.pop(0)
            if arg == "--":
                rest.append(arg)
                rest.extend(args)
                break
            if arg == "--no-default-sysconfig" or arg.startswith("--sysconfig="):
                ours.append(arg)
            elif arg == "--sysconfig":
                if not args:
                    raise BadCommand("--sysconfig needs a value (a Python file or module name)")
                ours.append(f"--sysconfig={args.pop(0)}")
            else:
                rest.append(arg)
        return ours, rest

    def _sysconfig_list(self, sysconfig_args: list) -> list[tuple[bool, str]]:
        """(explicit, name) pairs, most specific first: the last --sysconfig given wins."""
        explicit = [(True, arg[len("--sysconfig="):]) for arg in sysconfig_args
                    if arg.startswith("--sysconfig=")]
        explicit.reverse()
        if "--no-default-sysconfig" in sysconfig_args:
            return explicit
        return explicit + list(self.default_sysconfigs)

    @classmethod
    def standard_parser(cls, **kw):
        parser = super().standard_parser(**kw)
        parser.add_option(
            "--sysconfig", action="append", dest="sysconfigs", metavar="FILE_OR_MODULE",
            help="System configuration file or module (may be repeated; the last "
                 "one given takes precedence)")
        parser.add_option(
            "--no-default-sysconfig", action="store_true", dest="no_default_sysconfig",
            help="Do not load the default sysconfig files")
        parser.add_option(
            "--easy-install", action="append", dest="easy_install_op", metavar="OP",
            help="Accepted for compatibility and ignored: easy_install is gone "
                 "(install packages with pip first)")
        parser.add_option(
            "--no-install", action="store_true", dest="no_install",
            help="Accepted for compatibility: packages are never installed by paster; "
                 "install them with pip first")
        parser.add_option(
            "-f", "--find-links", action="append", dest="easy_install_find_links",
            metavar="URL",
            help="Accepted for compatibility and ignored: easy_install is gone "
                 "(install packages with pip first)")
        return parser

    def parse_args(self, args: list) -> None:
        super().parse_args(args)
        if (getattr(self.options, "easy_install_op", None)
                or getattr(self.options, "easy_install_find_links", None)):
            print("Note: easy_install is gone, so --easy-install and --find-links are "
                  "ignored (install packages with pip)", file=sys.stderr)

    def load_sysconfigs(self) -> None:
        """Load the sysconfigs, least specific first, and let them add options."""
        self.sysconfig_modules = []
        for index, (explicit, name) in reversed(list(enumerate(self.sysconfigs))):
            module = self._load_sysconfig(index, explicit, name)
            if module is not None:
                module.paste_command = self
                self.sysconfig_modules.insert(0, module)
        adders = self.get_sysconfig_options("add_custom_options")
        if adders:
            # Never grow the class-level parser: a second run in the same
            # process would see duplicate options.
            import copy
            self.parser = copy.deepcopy(type(self).parser or self.standard_parser())
            for add in adders:
                add(self.parser)

    def _load_sysconfig(self, index: int, explicit: bool, name: str):
        if name.endswith(".py") or os.sep in name:
            if not os.path.isfile(name):
                if explicit:
                    raise BadCommand(f"sysconfig file {name} does not exist")
                return None
            import types
            module = types.ModuleType(f"__sysconfig_{index}__")
            module.__file__ = os.path.abspath(name)
            module.paste_command = self
            with open(name, encoding="utf-8") as f:
                source = f.read()
            exec(compile(source, name, "exec"), module.__dict__)
            return module
        import importlib
        try:
            return importlib.import_module(name)
        except ImportError as exc:
            if explicit:
                raise BadCommand(f"sysconfig module {name} cannot be imported: {exc}") from None
            return None

    def get_sysconfig_option(self, name: str, default=None):
        """The attribute ``name`` of the most specific sysconfig that defines it."""
        for module in self.sysconfig_modules:
            if hasattr(module, name):
                return getattr(module, name)
        return default

    def get_sysconfig_options(self, name: str) -> list:
        """The attribute ``name`` of every sysconfig that defines it, most specific first."""
        return [getattr(module, name) for module in self.sysconfig_modules
                if hasattr(module, name)]

    def call_sysconfig_function(self, name: str, *args, **kw):
        """Call ``name`` in the most specific sysconfig that defines it."""
        func = self.get_sysconfig_option(name)
        if func is None:
            raise NameError(f"Function {name} not found in any sysconfig module")
        return func(*args, **kw)

    def call_sysconfig_functions(self, name: str, *args, **kw) -> list:
        """Call ``name`` in every sysconfig that defines it; their results, most specific first."""
        return [func(*args, **kw) for func in self.get_sysconfig_options(name)]

    def sysconfig_install_vars(self, installer) -> dict:
        """``install_variables(installer)`` of every sysconfig, the specific ones winning."""
        result = {}
        for found in reversed(self.call_sysconfig_functions("install_variables", installer)):
            result.update(found or {})
        return result

    # -- distributions and installers ------------------------------------

    def get_distribution(self, requirement: str):
        """The installed distribution for ``requirement`` (``Name``, ``Name>=1.0``...).

        Installing is not paster's job: a missing distribution is a clear
        error telling which ``pip install`` to run.
        """
        from paste.script import pluginlib
        try:
            name, spec = pluginlib.parse_requirement(requirement)
        except pluginlib.PluginError as exc:
            raise BadCommand(str(exc)) from None
        try:
            dist = pluginlib.get_distro(name)
        except pluginlib.PluginNotFound:
            raise BadCommand(
                f"The distribution {name!r} is not installed; install it first "
                f"(pip install {_shell_quote(requirement.strip())}), then run make-config again"
            ) from None
        if spec:
            try:
                pluginlib.check_version(dist, requirement)
            except pluginlib.PluginError as exc:
                raise BadCommand(
                    f"{exc} (pip install {_shell_quote(requirement.strip())})") from None
        if self.verbose:
            print("Distribution already installed:")
            print(f"  {dist} from {dist.location}")
        return dist

    def get_installer(self, dist, ep_group: str, ep_name: str):
        """An installer object for the application ``ep_name`` of ``dist``.

        The distribution's ``paste.app_install`` entry point called
        ``ep_name`` gives the installer class; without one, :class:`Installer`.
        The installer's ``dist`` has the ``pkg_resources`` interface
        (``project_name``, ``has_metadata()``...) and the
        ``importlib.metadata`` one.
        """
        from paste.script.distribution import Distribution
        dist = Distribution.wrap(dist)
        installer_class = Installer
        for ep in dist.entry_points:
            if ep.group == "paste.app_install" and ep.name == ep_name:
                try:
                    installer_class = ep.load()
                except Exception as exc:
                    raise BadCommand(
                        f"The installer {ep.value} of {dist.project_name} cannot be "
                        f"loaded: {type(exc).__name__}: {exc}", exit_code=1) from exc
                break
        return installer_class(dist, ep_group, ep_name)


def _shell_quote(text: str) -> str:
    import shlex
    return shlex.quote(text)


class Installer:
    """The default installer, and the base class for custom ones.

    A package needs nothing to use it: ``make-config`` writes a config from
    the file ``paste_deploy_config.ini_tmpl`` in the distribution's metadata
    directory (``*.egg-info`` or ``*.dist-info``), rendered with Cheetah, or
    else a minimal config that uses the package's application; ``setup-app``
    calls ``setup_app(command, conf, vars)`` (or the older
    ``setup_config(command, filename, section, vars)``) from the package's
    ``websetup`` module.
    """

    #: True: the config "file" is a directory; False: a file; None: don't check.
    expect_config_directory = False
    #: A config file name to use when the user gives none.
    default_config_filename = None
    #: Render ``paste_deploy_config.ini_tmpl`` with Cheetah (else ``string.Template``).
    use_cheetah = True

    def __init__(self, dist, ep_group: str, ep_name: str):
        self.dist = dist
        self.ep_group = ep_group
        self.ep_name = ep_name

    @property
    def project_name(self) -> str:
        return self.dist.project_name

    def description(self, config) -> str:
        """What ``make-config --info`` prints about the application."""
        return "An application"

    def write_config(self, command, filename: str, vars: dict) -> None:
        """Write the config; ``command`` handles simulation, diffs and questions."""
        command.ensure_file(filename, self.config_content(command, vars))

    def editable_config_files(self, filename: str):
        """The files the user should edit after ``write_config`` (None: unknown)."""
        if not self.expect_config_directory:
            return [filename]
        return None

    def config_content(self, command, vars: dict) -> str:
        """The new config: the package's template rendered, or :meth:`simple_config`.

        The template is the distribution's metadata file
        ``paste_deploy_config.ini_tmpl``.
        """
        if not self.dist.has_metadata(_METADATA_TEMPLATE):
            if command.verbose:
                print(f"No {_METADATA_TEMPLATE} found")
            return self.simple_config(vars)
        return self.template_renderer(self.dist.get_metadata(_METADATA_TEMPLATE), vars,
                                      filename=_METADATA_TEMPLATE)

    def template_renderer(self, content: str, vars: dict, filename: str | None = None) -> str:
        """Render the config template (override to use another template engine)."""
        from paste.script import copydir
        try:
            return copydir.substitute_content(
                content, vars, filename=f"{self.project_name}: {filename or 'template'}",
                use_cheetah=self.use_cheetah)
        except copydir.TemplateError as exc:
            hint = ""
            if "NotFound" in str(exc):
                hint = " (give variables after the config file name as NAME=VALUE)"
            raise BadCommand(f"{exc}{hint}", exit_code=1) from exc

    def simple_config(self, vars: dict) -> str:
        """A minimal config: the application section alone."""
        fragment = "" if self.ep_name == "main" else f"#{self.ep_name}"
        return f"[app:main]\nuse = egg:{self.dist.project_name}{fragment}\n"

    def setup_config(self, command, filename: str, section: str, vars: dict) -> None:
        """Run the package's ``websetup.setup_app`` (or ``setup_config``).

        ``setup_app(command, conf, vars)`` gets ``conf`` from PasteDeploy's
        ``appconfig`` (a dict with ``global_conf``, ``local_conf`` and
        ``filename`` attributes).
        """
        modules = self._top_level_modules()
        if not modules:
            print(f"No top-level modules found for {self.project_name}; nothing to set up")
            return
        found = False
        for top in modules:
            module = _import_optional(f"{top}.websetup")
            if module is None:
                continue
            found = True
            if hasattr(module, "setup_app"):
                if command.verbose:
                    print(f"Running setup_app() from {module.__name__}")
                self._call_setup_app(module.setup_app, command, filename, section, vars)
            elif hasattr(module, "setup_config"):
                if command.verbose:
                    print(f"Running setup_config() from {module.__name__}")
                module.setup_config(command, filename, section, vars)
            else:
                print(f"No setup_app() or setup_config() function in {module.__name__} "
                      f"({module.__file__})")
        if not found and command.verbose:
            print(f"No websetup module in {', '.join(modules)}: nothing to set up")

    def _top_level_modules(self) -> list[str]:
        text = self.dist.read_text("top_level.txt")
        if text is not None:
            return [line.strip() for line in text.splitlines()
                    if line.strip() and not line.strip().startswith("#")]
        # Not every build backend writes top_level.txt: use the files it installed.
        names = []
        for path in self.dist.files or ():
            parts = path.parts
            if not parts or parts[0].endswith((".dist-info", ".egg-info", ".data")) \
                    or parts[0] in ("..", "__pycache__"):
                continue
            if len(parts) == 1 and parts[0].endswith(".py"):
                name = parts[0][:-3]
            elif len(parts) > 1 and parts[1] == "__init__.py":
                name = parts[0]
            else:
                continue
            if name not in names:
                names.append(name)
        return names

    def _call_setup_app(self, func, command, filename: str, section: str, vars: dict) -> None:
        from paste.deploy import appconfig
        filename = os.path.abspath(filename)
        if ":" in section:
            section = section.split(":", 1)[1]
        # A pipeline or a filter gives the configuration of the application
        # it wraps, as a plain [app:...] section does.
        conf = wrapped_app_context(appconfig(f"config:{filename}#{section}").context).config()
        conf.filename = filename
        func(command, conf, vars)


def wrapped_app_context(context):
    """The loader context of the application that ``context`` (PasteDeploy's) wraps.

    Pipelines (``app_context``) and filters (``filter-with``, ``filter-app``:
    ``next_context``) are followed to the application with a distribution;
    a context that is one already is returned as it is.
    """
    for _ in range(50):
        if context.distribution is not None:
            break
        inner = (getattr(context, "app_context", None)
                 or getattr(context, "next_context", None))
        if inner is None:
            break
        context = inner
    return context


def _import_optional(name: str):
    """Import ``name``; None if that very module does not exist (other errors propagate)."""
    import importlib
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name == name:
            return None
        raise


class MakeConfigCommand(AbstractInstallCommand):
    """``paster make-config PACKAGE [CONFIG_FILE] [var=value ...]``."""

    default_verbosity = 1
    min_args = 1
    max_args = None
    summary = "Install a package and create a fresh config file/directory"
    usage = "PACKAGE_NAME [CONFIG_FILE] [VAR=VALUE]"
    description = """\
    make-config is the first of the two phases of installing a web
    application (the second is setup-app). The package must already be
    installed (pip install PACKAGE); make-config asks it to write a fresh
    configuration file, filling in the variables given as VAR=VALUE and
    new random secrets. Edit the file, then run setup-app on it.
    """

    parser = AbstractInstallCommand.standard_parser(
        simulate=True, quiet=True, no_interactive=True)
    # Not in 3.x; -f is --find-links here, so it has no short form.
    parser.add_option(
        "--overwrite", dest="overwrite", action="store_true",
        help="Overwrite an existing config file without asking")
    parser.add_option(
        "--info", action="store_true", dest="show_info",
        help="Show information on the package, but do not write a config")
    parser.add_option(
        "--name", action="store", dest="ep_name",
        help='The name of the application contained in the distribution (default "main")')
    parser.add_option(
        "--entry-group", action="store", dest="ep_group", default="paste.app_factory",
        help="The entry point group to install (i.e., the kind of application; "
             "default paste.app_factory)")
    parser.add_option(
        "--edit", action="store_true", dest="edit",
        help="Edit the configuration file after generating it (using $EDITOR)")
    parser.add_option(
        "--setup", action="store_true", dest="run_setup",
        help="Run setup-app immediately after generating (and possibly editing) "
             "the configuration file")

    def command(self):
        requirement = self.args[0]
        if "#" in requirement:
            if self.options.ep_name:
                raise BadCommand("You may not give both --name and a requirement with #name")
            requirement, self.options.ep_name = requirement.split("#", 1)
        self.options.ep_name = self.options.ep_name or "main"
        self.requirement = requirement
        self.distro = self.get_distribution(requirement)
        self.installer = self.get_installer(self.distro, self.options.ep_group,
                                            self.options.ep_name)
        if self.options.show_info:
            if len(self.args) > 1:
                raise BadCommand("With --info you can only give one argument")
            self.show_info()
            return 0
        if len(self.args) > 1:
            self.config_file = self.args[1]
            var_args = self.args[2:]
        else:
            defaults = [name for name in self.call_sysconfig_functions(
                "default_config_filename", self.installer) if name]
            if not defaults:
                raise BadCommand("You must give a configuration filename "
                                 "(paster make-config PACKAGE CONFIG_FILE)")
            self.config_file = defaults[0]
            var_args = self.args[1:]
        self.check_config_file()
        self.project_name = self.distro.project_name
        self.vars = self.make_vars(self.parse_vars(var_args))
        if self.verbose > 1:
            print("Variables for installation:")
            for name, value in sorted(self.vars.items()):
                shown = "(secret, not shown)" if name in _SECRET_VARIABLES else repr(value)
                print(f"  {name}: {shown}")
        self.installer.write_config(self, self.config_file, self.vars)
        edit_ok = self.run_editor() if self.options.edit else True
        filenames = self.installer.editable_config_files(self.config_file)
        if isinstance(filenames, str):
            raise TypeError("editable_config_files() must return a list, not a string")
        if self.options.run_setup:
            if not filenames:
                raise BadCommand("The installer did not say which config file to set up")
            if edit_ok or self.ask("Config file editing was not successful. "
                                   "Run setup-app anyway?", default=False):
                return self.run_setup(filenames[0])
            return 1
        if filenames is not None and not filenames:
            print("No config files need editing")
        else:
            print("Now you should edit the config files")
            for filename in filenames or ():
                print(f"  {filename}")
        return 0

    def show_info(self) -> None:
        """``--info``: print what the installer says about the application."""
        print(self.installer.description(None))

    def make_vars(self, given: dict) -> dict:
        """Variables for the template: sysconfig's, the user's, then the computed ones."""
        import uuid
        from paste.script.util.secret import secret_string
        vars = self.sysconfig_install_vars(self.installer)
        vars.update(given)
        vars["project_name"] = self.project_name
        vars["requirement"] = self.requirement
        vars["ep_name"] = self.options.ep_name
        vars["ep_group"] = self.options.ep_group
        vars.setdefault("app_name", self.project_name.lower())
        vars.setdefault("app_instance_uuid", uuid.uuid4())
        vars.setdefault("app_instance_secret", secret_string())
        # Never printed; a config file that holds them is written 0600.
        self.secret_values = tuple(str(vars[name]) for name in _SECRET_VARIABLES
                                   if vars.get(name))
        return vars

    def check_config_file(self) -> None:
        expect_dir = self.installer.expect_config_directory
        name = self.config_file
        if expect_dir is None:
            return
        if expect_dir and os.path.splitext(name.rstrip("/"))[1]:
            raise BadCommand(f"The CONFIG_FILE argument {name!r} looks like a file name, "
                             "and a directory name is expected")
        if not expect_dir and (name.endswith(("/", os.sep)) or os.path.isdir(name)):
            raise BadCommand(f"The CONFIG_FILE argument {name!r} is a directory, "
                             "and a file name is expected")

    def run_setup(self, filename: str) -> int:
        # The new config names the application [app:main], whatever its entry point.
        args = [*self.sysconfig_args]
        args += ["-v"] * (self.options.verbose or 0) + ["-q"] * (self.options.quiet or 0)
        if self.simulate:
            args.append("--simulate")
        return SetupCommand("setup-app").run([*args, filename]) or 0

    def run_editor(self) -> bool:
        """Open the config in ``$EDITOR``; True if that went well."""
        filenames = self.installer.editable_config_files(self.config_file)
        if filenames is None:
            print("Warning: the config file is not known (--edit ignored)")
            return False
        if not filenames:
            print("Warning: no config files need editing (--edit ignored)")
            return True
        if len(filenames) > 1:
            print("Warning: there is more than one editable config file (--edit ignored)")
            return False
        editor = os.environ.get("EDITOR")
        if not editor:
            print("Error: you must set $EDITOR if using --edit")
            return False
        if self.simulate:
            return True
        import shlex
        import subprocess
        argv = shlex.split(editor) + [filenames[0]]
        if self.verbose:
            print(" ".join(shlex.quote(arg) for arg in argv))
        try:
            code = subprocess.call(argv)
        except OSError as exc:
            print(f"Error: cannot run the editor {editor!r}: {exc}")
            return False
        if code:
            print(f"Warning: editor {editor} returned with error code {code}")
            return False
        return True


class SetupCommand(AbstractInstallCommand):
    """``paster setup-app CONFIG_FILE``."""

    default_verbosity = 1
    min_args = 1
    max_args = 1
    summary = "Setup an application, given a config file"
    usage = "CONFIG_FILE"
    description = """\
    The second phase of installing a web application (the first is
    make-config): load the application section of CONFIG_FILE and run the
    one-time setup of the package that provides it (its websetup module),
    such as creating directories or database tables.
    """

    parser = AbstractInstallCommand.standard_parser(
        simulate=True, quiet=True, interactive=True)
    parser.add_option(
        "--name", action="store", dest="section_name", default=None,
        help="The name of the section to set up (default: app:main)")

    def command(self):
        config_spec = self.args[0]
        section = self.options.section_name
        if section is None:
            config_spec, _, section = config_spec.partition("#")
            section = section or "main"
        else:
            config_spec = config_spec.split("#", 1)[0]
        if ":" in section:
            plain_section = section.split(":", 1)[1]
        else:
            plain_section = section
            section = f"app:{section}"
        if config_spec.startswith("config:"):
            config_spec = config_spec[len("config:"):]
        config_file = os.path.abspath(config_spec)
        if not os.path.isfile(config_file):
            raise BadCommand(f"Config file not found: {config_spec}")
        self.logging_file_config(config_file)
        context = self._app_context(config_file, plain_section)
        dist = context.distribution
        if dist is None:
            raise BadCommand(
                f"The section [{section}] of {config_spec} does not name an installed "
                "distribution (use = egg:NAME); setup-app needs one to find the "
                "websetup module")
        installer = self.get_installer(dist, context.protocol, context.entry_point_name)
        installer.setup_config(self, config_file, section,
                               self.sysconfig_install_vars(installer))
        self.call_sysconfig_functions("post_setup_hook", installer, config_file)
        return 0

    def _app_context(self, config_file: str, name: str):
        """PasteDeploy's loader context of the application named ``name``.

        Filters (``filter-with``, ``filter-app``) and pipelines are followed
        to the application they wrap.
        """
        from paste.deploy.loadwsgi import APP, loadcontext
        try:
            context = loadcontext(APP, f"config:{config_file}", name=name)
        except LookupError as exc:
            raise BadCommand(f"Cannot set up {self.shorten(config_file)}: {exc}") from None
        except ImportError as exc:
            raise BadCommand(f"Cannot set up {self.shorten(config_file)}: "
                             f"{type(exc).__name__}: {exc}", exit_code=1) from None
        return wrapped_app_context(context)
