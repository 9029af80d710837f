# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""The ``paster`` dispatcher and the :class:`Command` base class.

The dispatcher knows commands only by name and entry point until one is
run; nothing heavy is imported to print help. Commands subclass
:class:`Command` (an optparse-based API that third-party packages have
used for many years, so it stays as it was).
"""
from __future__ import annotations

import optparse
import os
import re
import sys
import textwrap

from paste.script import pluginlib
from paste.script import __version__
from paste.script.util.files import FileWriter, replace_file

__all__ = [
    "Command", "BadCommand", "NoDefault", "run", "main", "invoke",
    "get_commands", "dispatch", "parser", "NotFoundCommand", "NoAnswer",
]


class BadCommand(Exception):
    """A user error: ``paster`` prints the message and exits with ``exit_code``."""

    def __init__(self, message: str = "", exit_code: int = 2):
        self.message = message
        self.exit_code = exit_code
        super().__init__(message)

    def __str__(self) -> str:
        return self.message


class NoDefault:
    """Marks a variable or prompt that has no default value."""


class NoAnswer(BadCommand, EOFError):
    """End of input while a question waits for an answer.

    It is an ``EOFError``, as in Paste Script 3.7 (code that catches that
    keeps working, and a template that asks again in a loop stops), and a
    :class:`BadCommand`, so ``paster`` reports it in one line (exit 2).
    """

    def __init__(self, prompt: str):
        super().__init__(f"No answer (end of input) to: {prompt.strip()}", exit_code=2)


# ---------------------------------------------------------------------------
# The global parser

parser = optparse.OptionParser(
    add_help_option=False,
    version=__version__,
    usage="%prog [paster_options] COMMAND [command_options]",
    prog="paster",
)
parser.add_option(
    "--plugin", action="append", dest="plugins",
    help="Add a plugin to the list of commands (plugins are Egg specs; "
         "will also require() the Egg)")
parser.add_option(
    "-h", "--help", action="store_true", dest="do_help",
    help="Show this help message")
parser.disable_interspersed_args()


def _version_text() -> str:
    location = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return f"PasteScript {__version__} from {location} (python {sys.version.split()[0]})"


parser.get_version = _version_text  # type: ignore[method-assign]


# ---------------------------------------------------------------------------
# Finding commands

# Plugins named with ``paster --plugin`` in this process, so that commands
# run later (``help``, ``exe``) see the same command set. Code that appends
# to ``system_plugins`` (3.x's name for it) activates plugins too.
system_plugins: list = []
_global_plugins = system_plugins


def get_commands(plugins=None) -> dict:
    """Command name -> entry point, from the active plugins and the global group.

    ``plugins`` are extra plugin names (default: those given to ``paster
    --plugin``); the project around the current directory and everything
    the plugins list are added here. As in 3.x, a global command wins over
    a plugin command of the same name. The entry points have the
    ``pkg_resources`` attributes 3.x gave (``module_name``, ``attrs``,
    ``dist``...).
    """
    if plugins is None:
        plugins = system_plugins
    return pluginlib.plugin_commands(list(plugins) + pluginlib.project_plugins())


def _is_executable_config(path: str) -> bool:
    """True when ``path`` is a file whose ``#!`` line runs paster."""
    if not os.path.isfile(path):
        return False
    try:
        with open(path, "rb") as f:
            first = f.readline(256)
    except OSError:
        return False
    return first.startswith(b"#!") and b"paster" in first


def _exe_args(args: list) -> list | None:
    """Rewrite ``paster ./app.ini start`` (a ``#!`` script) as an ``exe`` call."""
    underscore = os.environ.get("_")
    if (args and underscore and underscore == args[0]
            and os.path.basename(sys.argv[0]) != os.path.basename(underscore)
            and _is_executable_config(args[0])):
        return ["exe"] + args
    return None


def main(args: list | None = None) -> int:
    """Run ``paster`` with ``args`` (default ``sys.argv[1:]``); return the exit code."""
    if args is None:
        args = sys.argv[1:]
    args = list(args)
    verbose = any(a in ("-v", "--verbose") or re.fullmatch(r"-v+", a) for a in args)
    try:
        return _main(args)
    except BadCommand as exc:
        if exc.message:
            print(exc.message, file=sys.stderr)
        return exc.exit_code
    except pluginlib.PluginError as exc:
        print(exc, file=sys.stderr)
        return 2
    except EOFError as exc:
        # input() at end of input outside ask()/challenge() (a template's
        # own prompt, an overwrite question): one line, as for NoAnswer.
        print(str(exc) or "No answer (end of input)", file=sys.stderr)
        return 2
    except BrokenPipeError:
        raise
    except SystemExit as exc:
        code = exc.code
        if code is None:
            return 0
        if isinstance(code, int):
            return code
        print(code, file=sys.stderr)
        return 1
    except Exception as exc:
        if verbose:
            raise
        print(f"Error: {type(exc).__name__}: {exc} (run with -v for the traceback)", file=sys.stderr)
        return 1


def _main(args: list) -> int:
    rewritten = _exe_args(args)
    if rewritten is not None:
        args = rewritten
    options, args = parser.parse_args(args)
    options.base_parser = parser
    _global_plugins[:] = options.plugins or []
    if options.do_help:
        args = ["help"] + args
    if not args:
        args = ["help"]
    command_name = args[0]
    commands = get_commands()
    if command_name not in commands:
        if _is_executable_config(command_name):
            return _main(["exe"] + args)
        return _unknown_command(command_name, commands)
    command = load_command(command_name, commands[command_name])
    return invoke(command, command_name, options, args[1:], exit=False)


def load_command(name: str, entry_point):
    """Load a command class from its entry point, turning failures into BadCommand."""
    try:
        return entry_point.load()
    except Exception as exc:
        raise BadCommand(
            f"Command {name!r} could not be loaded from {entry_point.value}: "
            f"{type(exc).__name__}: {exc}", exit_code=1) from exc


def _unknown_command(name: str, commands: dict) -> int:
    out = sys.stderr
    print(f"Command {name!r} not known (you may need to run setup.py egg_info)", file=out)
    import difflib
    close = difflib.get_close_matches(name, sorted(commands), n=3, cutoff=0.5)
    if close:
        print(f"Did you mean: {', '.join(close)}?", file=out)
    from paste.script.help import format_known_commands
    print("Known commands:", file=out)
    print(format_known_commands(commands), file=out)
    return 2


def invoke(command, command_name, options, args, exit: bool = True):
    """Instantiate ``command`` (a class) and run it with ``args``.

    ``exit=True`` (the historical behaviour) ends the process with the exit
    code; otherwise the code is returned.
    """
    try:
        runner = command(command_name)
        exit_code = runner.run(args)
    except BadCommand as exc:
        if exc.message:
            print(exc.message, file=sys.stderr)
        exit_code = exc.exit_code
    if exit:
        sys.exit(exit_code)
    return exit_code or 0


def dispatch(command_name: str, args: list, plugins=None) -> int:
    """Run the command called ``command_name`` in process; return its exit code."""
    commands = get_commands(plugins)
    if command_name not in commands:
        return _unknown_command(command_name, commands)
    command = load_command(command_name, commands[command_name])
    return invoke(command, command_name, None, list(args), exit=False)


class NotFoundCommand:
    """Stands in for a command that is not installed: reports it (exit 2)."""

    def __init__(self, name: str):
        self.command_name = name

    def run(self, args: list) -> int:
        return _unknown_command(self.command_name, get_commands())


def parse_exe_file(config: str) -> list:
    """``[command, config, *options]`` from the ``[exe]`` section of ``config``.

    3.x's reader of an older ``[exe]`` layout, kept for code that calls it
    (``paster exe`` itself reads the section with
    :func:`paste.script.exe.exe_command_line`): ``command`` (default
    ``exe``), ``options`` (shell-quoted words) and ``sys.path``
    (shell-quoted directories relative to the file, put first on
    ``sys.path``). A missing file or section gives ``['exe', config]``.
    """
    import configparser
    import shlex
    parser = configparser.RawConfigParser()
    parser.read([config])
    command_name = "exe"
    options: list = []
    if parser.has_option("exe", "command"):
        command_name = parser.get("exe", "command")
    if parser.has_option("exe", "options"):
        options = shlex.split(parser.get("exe", "options"))
    if parser.has_option("exe", "sys.path"):
        here = os.path.dirname(config)
        for path in shlex.split(parser.get("exe", "sys.path")):
            sys.path.insert(0, os.path.abspath(os.path.join(here, path)))
    return [command_name, config, *options]


def popdefault(dict_: dict, name: str, default=None):
    """``dict_.pop(name, default)`` (kept for code that imports it)."""
    return dict_.pop(name, default)


python_version = sys.version.split()[0]


def __getattr__(name: str):
    # 3.x's ``dist``: PasteScript's own distribution, pkg_resources-shaped.
    # Looked up on first use, so that ``paster help`` does not pay for it.
    if name == "dist":
        global dist
        dist = pluginlib.get_distro("PasteScript")
        return dist
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def run(args: list | None = None) -> None:
    """Console-script entry point of ``paster``."""
    try:
        code = main(args)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (``paster points | head``): not an error worth a traceback.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        code = 1
    except KeyboardInterrupt:
        die_of_sigint()
    sys.exit(code)


def die_of_sigint() -> None:
    """End the process by SIGINT, after one line saying so (no traceback).

    Dying of the signal (rather than exiting with 130) tells a calling shell
    that the user pressed Ctrl-C, so a loop such as ``for i in 1 2 3; do
    paster create Foo; done`` stops, as it did with 3.7 (whose
    KeyboardInterrupt reached the interpreter, which does the same).
    """
    import signal
    try:
        print("\nInterrupted", file=sys.stderr)
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGINT)
    # Not reached unless SIGINT is blocked; then the shell convention.
    os._exit(130)


# ---------------------------------------------------------------------------
# The Command base class

class Command(FileWriter):
    """Base class of every ``paster`` command.

    Subclasses set ``parser`` (usually from :meth:`standard_parser`),
    ``summary``, ``usage`` and the argument limits, and implement
    :meth:`command`.
    """

    summary = ""
    usage = ""
    description = None
    group_name = ""
    hidden = False
    min_args = None
    min_args_error = "You must provide at least %(min_args)s arguments"
    max_args = None
    max_args_error = "You must provide no more than %(max_args)s arguments"
    required_args = ()
    takes_config_file = None
    default_verbosity = 0
    default_interactive = 0
    return_code = 0
    parser = None

    BadCommand = BadCommand

    def __init__(self, name: str):
        self.command_name = name

    # -- running ----------------------------------------------------------

    def run(self, args: list) -> int:
        self.parse_args(list(args))
        opts = self.options
        for name, default in (("verbose", 0), ("quiet", 0), ("interactive", False),
                              ("overwrite", False)):
            if not hasattr(opts, name):
                setattr(opts, name, default)
        if getattr(opts, "simulate", False):
            opts.verbose = max(opts.verbose, 1)
        self.interactive = self.default_interactive
        if getattr(opts, "interactive", False):
            self.interactive += opts.interactive
        if getattr(opts, "no_interactive", False):
            self.interactive = False
        default_verbosity = 0 if os.environ.get("PASTE_DEFAULT_QUIET") else self.default_verbosity
        self.verbose = default_verbosity + opts.verbose - opts.quiet
        self.simulate = getattr(opts, "simulate", False)
        self.overwrite = getattr(opts, "overwrite", False)

        config_file = os.environ.get("PASTE_CONFIG_FILE")
        if config_file and self.takes_config_file is not None:
            if self.takes_config_file == 1:
                self.args.insert(0, config_file)
            elif self.takes_config_file == -1:
                self.args.append(config_file)
            else:
                raise ValueError(f"takes_config_file must be 1 or -1, not {self.takes_config_file!r}")

        if self.min_args is not None and len(self.args) < self.min_args:
            raise BadCommand(self.min_args_error % {
                "min_args": self.min_args, "actual_args": len(self.args)})
        if self.max_args is not None and len(self.args) > self.max_args:
            raise BadCommand(self.max_args_error % {
                "max_args": self.max_args, "actual_args": len(self.args)})
        for var_name, option_name in self.required_args:
            if not getattr(opts, var_name, None):
                raise BadCommand(f"You must provide the option {option_name}")
        result = self.command()
        return self.return_code if result is None else result

    def parse_args(self, args: list) -> None:
        if self.parser is None:
            self.parser = self.standard_parser()
        usage = f"%prog [options] {self.usage}".rstrip()
        if self.summary:
            usage += "\n" + self.summary
        self.parser.usage = usage
        self.parser.prog = self._prog_name()
        if self.description:
            self.parser.description = textwrap.dedent(self.description).strip()
        self.options, self.args = self.parser.parse_args(args)

    def _prog_name(self) -> str:
        return f"paster {self.command_name}"

    def command(self):
        """The work of the command; subclasses override this."""
        raise BadCommand(f"Command {self.command_name!r} does nothing", exit_code=1)

    @classmethod
    def standard_parser(cls, verbose=True, interactive=False, no_interactive=False,
                        simulate=False, quiet=False, overwrite=False):
        """An optparse parser with the options most commands share."""
        parser = BoolOptionParser()
        if verbose:
            parser.add_option("-v", "--verbose", action="count", dest="verbose", default=0,
                              help="Say more (repeat for more; with errors, show tracebacks)")
        if quiet:
            parser.add_option("-q", "--quiet", action="count", dest="quiet", default=0,
                              help="Say less")
        if no_interactive:
            parser.add_option("--no-interactive", action="count", dest="no_interactive", default=0,
                              help="Ask no questions: take defaults, keep existing files")
        if interactive:
            parser.add_option("-i", "--interactive", action="count", dest="interactive", default=0,
                              help="Ask before acting (twice: the safe answer is the default)")
        if simulate:
            parser.add_option("-n", "--simulate", action="store_true", dest="simulate", default=False,
                              help="Report what would be done, change nothing")
        if overwrite:
            parser.add_option("-f", "--overwrite", dest="overwrite", action="store_true",
                              help="Overwrite files (warnings will be emitted for "
                                   "non-matching files otherwise)")
        return parser

    # -- talking to the user ---------------------------------------------

    def ask(self, prompt: str, safe: bool = False, default=True) -> bool:
        """Ask a yes/no question. ``default`` may be True, False, 'careful' or 'none'.

        With ``-ii`` the ``safe`` answer is the default. At end of input
        raises :class:`NoAnswer` (an ``EOFError``), as 3.7 raised EOFError.
        """
        if self.interactive >= 2:
            default = safe
        if default == "careful":
            prompt += " [yes/no]?"
        elif default == "none":
            prompt += " [y/n]?"
        elif default:
            prompt += " [Y/n]? "
        else:
            prompt += " [y/N]? "
        while True:
            response = self._read_answer(input, prompt).strip().lower()
            if not response:
                if default in ("careful", "none"):
                    print('Please enter yes or no')
                    continue
                return default
            if default == "careful":
                if response in ("yes", "no"):
                    return response == "yes"
                print('Please enter "yes" or "no"')
                continue
            if response[0] in ("y", "n"):
                return response[0] == "y"
            print("Y or N please")

    def challenge(self, prompt: str, default=NoDefault, should_echo: bool = True):
        """Prompt for a value; an empty answer takes ``default`` (or asks again).

        At end of input raises :class:`NoAnswer` (an ``EOFError``).
        """
        if default is not NoDefault:
            prompt += f" [{default!r}]"
        prompt += ": "
        if should_echo:
            read = input
        else:
            import getpass
            read = getpass.getpass
        while True:
            response = self._read_answer(read, prompt).strip()
            if not response:
                if default is not NoDefault:
                    return default
                continue
            return response

    @staticmethod
    def _read_answer(read, prompt: str) -> str:
        try:
            return read(prompt)
        except EOFError:
            print()
            raise NoAnswer(prompt) from None

    def pad(self, s: str, length: int, dir: str = "left") -> str:
        if len(s) >= length:
            return s
        if dir == "left":
            return s + " " * (length - len(s))
        return " " * (length - len(s)) + s

    @classmethod
    def here(cls) -> str:
        """The directory of the module that defines this command class."""
        return os.path.dirname(os.path.abspath(sys.modules[cls.__module__].__file__))

    # -- files (ensure_dir and ensure_file come from FileWriter) ---------------

    def write_file(self, filename: str, content, source=None, binary: bool = True) -> None:
        """Write ``content`` to ``filename`` unless it already holds it."""
        if isinstance(content, str) and binary:
            content = content.encode("utf-8")
        mode = "wb" if isinstance(content, bytes) else "w"
        if os.path.exists(filename):
            with open(filename, "rb" if mode == "wb" else "r") as f:
                if f.read() == content:
                    if self.verbose:
                        print(f"{self.shorten(filename)} not changed")
                    return
            if self.verbose:
                print(f"Overwriting {self.shorten(filename)}" + (f" from {source}" if source else ""))
        elif self.verbose:
            print(f"Creating {self.shorten(filename)}" + (f" from {source}" if source else ""))
        if not self.simulate:
            replace_file(filename, content if mode == "wb" else content.encode("utf-8"))

    def insert_into_file(self, filename: str, marker_name: str, text: str,
                         indent: bool = False, before: bool = False) -> None:
        """Insert ``text`` on the line right after the ``-*- marker_name -*-`` line.

        The marker matches ``-*- marker_name -*-`` or ``-*- marker_name: -*-``
        (case-insensitively). ``text`` must end with a newline (ValueError
        otherwise). With ``indent`` its first line takes the marker line's
        indentation. If the lines after the marker already start with the
        text, nothing is inserted and a warning says so; a missing marker is
        a warning too. ``before=True`` inserts on the line before the marker
        instead (an addition of this release).
        """
        if not text.endswith("\n"):
            raise ValueError(f"The text must end with a newline: {text!r}")
        if not os.path.exists(filename) and self.simulate:
            if self.verbose:
                print(f"Would (if not simulating) insert text into {self.shorten(filename)}")
            return
        with open(filename, encoding="utf-8") as f:
            lines = f.readlines()
        marker = re.compile(r"-\*-\s+" + re.escape(marker_name) + r":?\s+-\*-", re.I)
        for index, line in enumerate(lines):
            if not marker.search(line):
                continue
            following = "".join(lines[index + 1:])
            if len(lines) - index > 1 and following.strip().startswith(text.strip()):
                print(f"Warning: line already found in {filename} (not inserting")
                print(f"  {line}")
                return
            if indent:
                text = re.match(r"[ \t]*", line).group(0) + text.lstrip()
            lines.insert(index if before else index + 1, text)
            break
        else:
            print(f"Warning: Marker '-*- {marker_name} -*-' not found in {filename}")
        if self.verbose:
            print(f"Updating {self.shorten(filename)}")
        if not self.simulate:
            replace_file(filename, "".join(lines).encode("utf-8"))

    # -- variables and configuration ------------------------------------

    def parse_vars(self, args: list) -> dict:
        """``['a=b', 'c=d']`` -> ``{'a': 'b', 'c': 'd'}``."""
        result = {}
        for arg in args:
            if "=" not in arg:
                raise BadCommand(f'Variable assignment {arg!r} invalid (no "=")')
            name, value = arg.split("=", 1)
            result[name.strip()] = value
        return result

    def read_vars(self, config: str, section: str = "pastescript") -> dict:
        """The options of ``section`` in the INI file ``config`` (empty if absent).

        Names are lower-cased (configparser's way, as in 3.7); a name ending
        in ``__eval__`` gives the variable without that suffix, its value
        the Python expression evaluated (``zip_safe__eval__ = True``).
        """
        import configparser
        parser = configparser.RawConfigParser()
        try:
            parser.read([config], encoding="utf-8")
        except configparser.Error as exc:
            raise BadCommand(f"Cannot read {config}: {exc}") from None
        if not parser.has_section(section):
            return {}
        result = {}
        for key, value in parser.items(section):
            if key.endswith("__eval__"):
                name = key[:-len("__eval__")]
                try:
                    result[name] = eval(value)
                except Exception as exc:
                    raise BadCommand(f"{config}: [{section}] {key} = {value}: "
                                     f"{type(exc).__name__}: {exc}") from None
            else:
                result[key] = value
        return result

    def write_vars(self, config: str, vars: dict, section: str = "pastescript") -> None:
        """Add to ``section`` of ``config`` each variable it does not have yet.

        A variable the file already has (as ``name`` or ``name__eval__``) is
        left as it is; a string is written as ``name = value``, anything else
        as ``name__eval__ = repr(value)``. The file (or the section) is
        created if missing, and rewritten only if something was added.
        """
        import configparser
        parser = configparser.RawConfigParser()
        modified = not os.path.exists(config)
        parser.read([config], encoding="utf-8")
        if not parser.has_section(section):
            parser.add_section(section)
            modified = True
        existing = parser.options(section)
        for key, value in vars.items():
            # Compared as given while the file's names are lower-cased, as in 3.7.
            if key in existing or f"{key}__eval__" in existing:
                continue
            if isinstance(value, str):
                parser.set(section, key, value)
            else:
                parser.set(section, f"{key}__eval__", repr(value))
            modified = True
        if modified:
            with open(config, "w", encoding="utf-8") as f:
                parser.write(f)

    def indent_block(self, text: str, indent: int = 2, initial=None) -> str:
        if initial is None:
            initial = indent
        lines = text.splitlines()
        first = (" " * initial + lines[0]) if lines else ""
        rest = [(" " * indent + line) for line in lines[1:]]
        return "\n".join([first] + rest)

    def logging_file_config(self, config_file: str) -> None:
        """Configure logging from ``config_file`` if it has a ``[loggers]`` section."""
        import configparser
        parser = configparser.RawConfigParser()
        parser.read([config_file], encoding="utf-8")
        if parser.has_section("loggers"):
            from paste.script.util.logging_config import fileConfig
            config_file = os.path.abspath(config_file)
            fileConfig(config_file, {"__file__": config_file,
                                     "here": os.path.dirname(config_file)})


# Imported last: bool_optparse subclasses optparse only.
from paste.script.bool_optparse import BoolOptionParser  # noqa: E402
