# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""``paster points``: show entry-point groups and the objects behind them."""
from __future__ import annotations

import re
import textwrap

from paste.script import pluginlib
from paste.script.command import BadCommand, Command

__all__ = ["EntryPointCommand"]


class EntryPointCommand(Command):
    summary = "Show information about entry points"
    usage = "ENTRY_POINT"
    description = """\
    Shows information about entry points.  With no argument, the entry-point
    groups that installed distributions use, with their descriptions.  With
    a group name, the entry points of that group; with a group and a name,
    just that entry point.
    """
    max_args = 2

    parser = Command.standard_parser(verbose=False)
    parser.add_option("--list", "-l", dest="list_entry_points", action="store_true",
                      help="List all the kinds of entry points on the system")
    parser.add_option("--egg", "-e", dest="show_egg",
                      help="Show all the entry points for the given Egg")
    parser.add_option("--regex", dest="use_regex", action="store_true",
                      help="Make pattern match as regular expression, not just a wildcard pattern")

    def command(self):
        if self.options.show_egg:
            return self.show_egg(self.options.show_egg)
        if self.options.list_entry_points or not self.args:
            return self.list_groups()
        group_pattern = self.args[0]
        name_pattern = self.args[1] if len(self.args) > 1 else None
        groups = self._matching_groups(group_pattern)
        if not groups:
            raise BadCommand(f"No entry-point group matches {group_pattern!r}", exit_code=1)
        for group in groups:
            self.show_group(group, name_pattern)
        return 0

    # -- finding ---------------------------------------------------------

    def _matcher(self, pattern: str):
        if self.options.use_regex:
            try:
                regex = re.compile(pattern)
            except re.error as exc:
                raise BadCommand(f"Bad regular expression {pattern!r}: {exc}") from None
            return lambda text: regex.search(text) is not None
        if any(ch in pattern for ch in "*?["):
            import fnmatch
            return lambda text: fnmatch.fnmatchcase(text, pattern)
        return lambda text: text == pattern

    def _all_entry_points(self) -> list:
        import importlib.metadata
        seen = set()
        result = []
        for dist in importlib.metadata.distributions():
            name = (dist.metadata["Name"] or "").lower()
            if name in seen:
                continue
            seen.add(name)
            result.extend(dist.entry_points)
        return result

    def _matching_groups(self, pattern: str) -> list:
        match = self._matcher(pattern)
        groups = {ep.group for ep in self._all_entry_points()}
        return sorted(g for g in groups if match(g))

    def _descriptions(self) -> dict:
        result = {}
        for ep in pluginlib.entry_points("paste.entry_point_description"):
            result.setdefault(ep.name, ep)
        return result

    # -- showing -----------------------------------------------------------

    def list_groups(self) -> int:
        descriptions = self._descriptions()
        groups = sorted({ep.group for ep in self._all_entry_points()} | set(descriptions))
        for group in groups:
            print(group)
            desc = self._group_description(descriptions.get(group))
            if desc:
                print(self._indent(desc))
        return 0

    def show_group(self, group: str, name_pattern: str | None) -> None:
        match = self._matcher(name_pattern) if name_pattern else (lambda text: True)
        entries = sorted((ep for ep in pluginlib.entry_points(group) if match(ep.name)),
                         key=lambda ep: ep.name)
        print(f"[{group}]")
        desc = self._group_description(self._descriptions().get(group))
        if desc:
            print(self._indent(desc))
        if not entries:
            print("  (no entry points)")
        for ep in entries:
            print(f"  {ep.name} = {ep.value}")
            print(self._indent(self._object_description(ep), 4))

    def show_egg(self, egg: str) -> int:
        dist = pluginlib.find_distribution(egg)
        by_group: dict = {}
        for ep in dist.entry_points:
            by_group.setdefault(ep.group, []).append(ep)
        if not by_group:
            print(f"{dist.metadata['Name']} has no entry points")
            return 0
        for group in sorted(by_group):
            print(f"[{group}]")
            for ep in sorted(by_group[group], key=lambda ep: ep.name):
                print(f"  {ep.name} = {ep.value}")
        return 0

    def _group_description(self, ep) -> str:
        if ep is None:
            return ""
        try:
            obj = ep.load()
        except Exception as exc:
            return f"(description could not be loaded: {type(exc).__name__}: {exc})"
        return textwrap.dedent(getattr(obj, "description", "") or "").strip()

    def _object_description(self, ep) -> str:
        import inspect
        try:
            obj = ep.load()
        except Exception as exc:
            return f"(could not be loaded: {type(exc).__name__}: {exc})"
        parts = []
        target = obj.__init__ if inspect.isclass(obj) and "__init__" in vars(obj) else obj
        try:
            signature = str(inspect.signature(target))
            if inspect.isclass(obj):
                signature = signature.replace("(self, ", "(").replace("(self)", "()")
            parts.append(f"{getattr(obj, '__name__', ep.name)}{signature}")
        except (TypeError, ValueError):
            pass
        doc = inspect.getdoc(obj)
        if doc:
            parts.append(doc)
        return "\n".join(parts) or "(no description)"

    def _indent(self, text: str, width: int = 2) -> str:
        return textwrap.indent(text, " " * width)
