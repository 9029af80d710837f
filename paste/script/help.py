# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""``paster help``: the global usage and command list, or one command's help."""
from __future__ import annotations

import sys

from paste.script.command import Command, get_commands, load_command
from paste.script.command import parser as base_parser  # the global paster options; 3.x name

__all__ = ["HelpCommand", "format_command_list", "format_known_commands"]


def _load_all(commands: dict) -> tuple[dict, list]:
    """``({name: command class}, [(name, error)])`` for every entry point in ``commands``."""
    loaded, failed = {}, []
    for name, entry_point in commands.items():
        try:
            loaded[name] = entry_point.load()
        except Exception as exc:
            failed.append((name, exc))
    return loaded, sorted(failed, key=lambda item: item[0])


def format_command_list(commands: dict) -> str:
    """The ``paster help`` listing, as 3.7 printed it.

    First a ``Cannot load command NAME: error`` line for each command that
    fails to load, then ``Commands:`` and the others grouped by
    ``group_name`` (ungrouped first, groups sorted, names sorted, each
    group followed by a blank line); hidden commands are left out, and
    names are padded to the longest name of all.
    """
    loaded, failed = _load_all(commands)
    lines = [f"Cannot load command {name}: {exc}" for name, exc in failed]
    lines.append("Commands:")
    groups: dict = {}
    for name, command in loaded.items():
        if not getattr(command, "hidden", False):
            groups.setdefault(getattr(command, "group_name", "") or "", []).append(
                (name, getattr(command, "summary", "")))
    width = max((len(name) for name in commands), default=0)
    for group in sorted(groups):
        if group:
            lines.append(f"{group}:")
        for name, summary in sorted(groups[group]):
            lines.append(f"  {name.ljust(width)}  {summary}")
        lines.append("")
    return "\n".join(lines)


def format_known_commands(commands: dict) -> str:
    """Every command (hidden ones too), sorted and padded, as 3.7 listed them after
    ``Command 'X' not known``; one that fails to load shows its error."""
    if not commands:
        return "No commands registered."
    loaded, failed = _load_all(commands)
    errors = dict(failed)
    width = max(len(name) for name in commands)
    lines = []
    for name in sorted(commands):
        if name in errors:
            summary = f"(could not be loaded: {type(errors[name]).__name__}: {errors[name]})"
        else:
            summary = getattr(loaded[name], "summary", "")
        lines.append(f"  {name.ljust(width)}  {summary}")
    return "\n".join(lines)


class HelpCommand(Command):
    summary = "Display help"
    usage = "[COMMAND]"
    max_args = 1
    parser = Command.standard_parser()

    def command(self):
        if not self.args:
            self.generic_help()
            return 0
        name = self.args[0]
        commands = get_commands()
        if name not in commands:
            # As in 3.7: say so, then the general help; exit status 0.
            print(f"No such command: {name}", file=sys.stderr)
            self.generic_help()
            return 0
        command = load_command(name, commands[name])
        runner = command(name)
        runner.run(["-h"])
        return 0

    def generic_help(self):
        base_parser.print_help()
        print()
        print(format_command_list(get_commands()))
