# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""``paster help``: the global usage and command list, or one command's help."""
from paste.script.command import BadCommand, Command, get_commands, load_command
from paste.script.command import parser as base_parser  # the global paster options; 3.x name

__all__ = ["HelpCommand", "format_command_list"]


def format_command_list(commands: dict) -> str:
    """The ``Commands:`` body: grouped, sorted, aligned; hidden ones left out.

    A command whose entry point cannot be loaded is shown with its error
    on its own line, and the others are still listed.
    """
    groups: dict = {}
    for name, entry_point in commands.items():
        try:
            command = entry_point.load()
        except Exception as exc:
            groups.setdefault("", []).append((name, f"(could not be loaded: {type(exc).__name__}: {exc})"))
            continue
        if getattr(command, "hidden", False):
            continue
        summary = " ".join((getattr(command, "summary", "") or "").split())
        groups.setdefault(getattr(command, "group_name", "") or "", []).append((name, summary))
    if not groups:
        return "  No commands registered."
    width = max(len(name) for entries in groups.values() for name, _ in entries)
    lines = []
    for group in sorted(groups):
        if group:
            if lines:
                lines.append("")
            lines.append(f"{group}:")
        for name, summary in sorted(groups[group]):
            lines.append(f"  {name.ljust(width)}  {summary}".rstrip())
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
            raise BadCommand(f"No such command: {name}")
        command = load_command(name, commands[name])
        runner = command(name)
        runner.run(["-h"])
        return 0

    def generic_help(self):
        base_parser.print_help()
        print()
        print("Commands:")
        print(format_command_list(get_commands()))
