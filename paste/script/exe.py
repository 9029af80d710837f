# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""``paster exe``: run a ``#!/usr/bin/env paster`` config file as a program.

An executable config carries its command line in an ``[exe]`` section::

    #!/usr/bin/env paster
    [exe]
    command = serve
    daemon = true
    user = nobody

so that ``./app.ini start`` runs ``paster serve --daemon --user=nobody
app.ini start``. ``command`` (default ``serve``) and ``add`` (extra
arguments, shell-quoted) give the command line, ``plugin`` adds
``--plugin`` names, ``sys.path`` adds directories (relative to the file);
every other ``key = value`` becomes ``--key=value`` (underscores turn into
dashes, ``true`` gives a bare ``--key``, ``false`` leaves it out).
``%(here)s`` and ``%(__file__)s`` expand to the file's directory and path.
"""
from __future__ import annotations

import os
import shlex
import sys

from paste.script.command import BadCommand, Command

__all__ = ["ExeCommand", "exe_command_line"]


def _shell_words(value: str) -> list:
    return shlex.split(value)


_shell_words.expected = "expected shell-quoted words"  # type: ignore[attr-defined]


def _words(value: str) -> list:
    return value.split()


_words.expected = "expected a list of words"  # type: ignore[attr-defined]

# How each special key of [exe] is read; any other key is a command option.
EXE_OPTIONS = {
    "command": str.strip,
    "add": _shell_words,
    "plugin": _words,
    "sys.path": _words,
}


def exe_command_line(filename: str) -> tuple[str, list, list, list]:
    """Read ``[exe]`` of ``filename``: ``(command, options, plugins, sys_path)``.

    ``options`` are the arguments to give the command before the ones typed
    after the script name.
    """
    import configparser
    from paste.script.util.options import OptionError, convert
    filename = os.path.abspath(filename)
    here = os.path.dirname(filename)
    parser = configparser.ConfigParser({"here": here, "__file__": filename})
    try:
        with open(filename, encoding="utf-8") as f:
            text = f.read()
        parser.read_string(text, source=filename)
    except OSError as exc:
        raise BadCommand(f"Cannot read {filename}: {exc.strerror}") from None
    except configparser.Error as exc:
        raise BadCommand(f"Cannot parse {filename}: {' '.join(str(exc).split())}") from None
    if not parser.has_section("exe"):
        return "serve", [], [], []
    # Only the keys written in [exe] itself become options: [DEFAULT]'s keys
    # (which configparser shows in every section) are for the app's sections.
    own = configparser.RawConfigParser(default_section="\0no default\0", interpolation=None)
    own.read_string(text, source=filename)
    try:
        raw = {name: parser.get("exe", name) for name in own.options("exe")}
    except configparser.Error as exc:
        raise BadCommand(f"Bad [exe] section in {filename}: "
                         f"{' '.join(str(exc).split())}") from None
    try:
        values = convert(raw, EXE_OPTIONS, where=f"[exe] of {filename}")
    except OptionError as exc:
        raise BadCommand(str(exc)) from None
    command = values.pop("command", "") or "serve"
    args = list(values.pop("add", []))
    plugins = values.pop("plugin", [])
    sys_path = [os.path.normpath(os.path.join(here, entry))
                for entry in values.pop("sys.path", [])]
    for name, value in values.items():
        option = "--" + name.replace("_", "-")
        flag = value.strip().lower()
        if flag == "true":
            args.append(option)
        elif flag == "false":
            continue
        else:
            args.append(f"{option}={value}")
    return command, args, plugins, sys_path


class ExeCommand(Command):
    summary = "Run #! executable files"
    usage = "SCRIPT_FILE [ARGS...]"
    description = """\
    Runs the paster command that the [exe] section of SCRIPT_FILE describes,
    with SCRIPT_FILE as its config file: command (default serve), add (extra
    arguments), plugin, sys.path (directories relative to the file), and any
    other key = value as --key=value (true: a bare --key, false: left out).
    A config starting with #!/usr/bin/env paster runs this when executed, so
    ./app.ini start|stop|restart|status works as an rc script.
    """
    hidden = True
    min_args = 1
    parser = Command.standard_parser(verbose=False)

    def run(self, args: list) -> int:
        # Everything after the script's name belongs to the target command,
        # options included: do not let optparse read it.
        args = list(args)
        if not args or args[0] in ("-h", "--help"):
            self.parse_args(["--help"])
            return 0
        self.args = args
        return self.command()

    def command(self):
        filename, rest = self.args[0], self.args[1:]
        if os.path.isdir(filename):
            raise BadCommand(f"{filename} is a directory, not a config file")
        if not os.path.exists(filename):
            raise BadCommand(f"No such file: {filename}")
        filename = os.path.abspath(filename)
        command_name, options, plugins, sys_path = exe_command_line(filename)
        for entry in reversed(sys_path):
            if entry not in sys.path:
                sys.path.insert(0, entry)
        from paste.script.command import get_commands, invoke, load_command
        commands = get_commands(plugins)
        if command_name not in commands:
            raise BadCommand(
                f"Command {command_name!r} (from [exe] of {filename}) not known; "
                f"known commands: {', '.join(sorted(commands))}")
        command = load_command(command_name, commands[command_name])
        previous = os.environ.get("PASTE_CONFIG_FILE")
        os.environ["PASTE_CONFIG_FILE"] = filename
        try:
            return invoke(command, command_name, None, options + rest, exit=False)
        finally:
            if previous is None:
                os.environ.pop("PASTE_CONFIG_FILE", None)
            else:
                os.environ["PASTE_CONFIG_FILE"] = previous
