# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""``paster points``: show entry-point groups and the objects behind them.

Patterns work as in PasteScript 3.x: a wildcard pattern (``paster*``) is
translated with :mod:`fnmatch`, matched without regard to case and
*searched* for, so it matches the end of a name (``paster_command`` finds
both ``paste.paster_command`` and ``paste.global_paster_command``);
``--regex`` takes a regular expression, searched for as written.

What an entry point is shown with comes, in this order, from a
``paste.description.GROUP`` entry point of the same name in its
distribution, from a ``paste.description.GROUP`` entry point called
``generic`` anywhere (called as ``generic(entry_point, group)``), or from
the object's own signature and docstring (:func:`super_generic`).
"""
from __future__ import annotations

import os
import re
import textwrap

from paste.script import pluginlib
from paste.script.command import BadCommand, Command

__all__ = ["EntryPointCommand", "EntryPointDescription", "SuperGeneric", "super_generic",
           "ErrorDescription", "dedent"]


class EntryPointCommand(Command):
    usage = "ENTRY_POINT"
    summary = "Show information about entry points"
    description = """\
    Shows information about one or many entry points (you can use
    wildcards for entry point names).  Entry points are used for plugins:
    named objects such as an application, a command or a template.  Entry
    points belong to a [group] that says what kind of object they are, and
    inside a group each entry point has a name.

    'paster points GROUP [NAME]' shows the entry points of the matching
    groups; a pattern matches the end of a name ('paster_command' finds
    paste.paster_command and paste.global_paster_command).
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
        if self.options.list_entry_points:
            return self.list_entry_points()
        if self.options.show_egg:
            return self.show_egg(self.options.show_egg)
        if not self.args:
            raise BadCommand("You must give an entry point (or --list)")
        groups = self.get_groups_by_pattern(self.get_pattern(self.args[0]))
        if not groups:
            raise BadCommand(f"No group matched {self.args[0]}")
        ep_pat = self.get_pattern(self.args[1]) if len(self.args) > 1 else None
        for group in groups:
            desc = self.get_group_description(group)
            print(f"[{group}]")
            if desc:
                print(self.wrap(desc))
                print()
            self.print_entry_points_by_group(group, ep_pat)
        return 0

    # -- finding -------------------------------------------------------------

    def get_pattern(self, s):
        """A compiled pattern for ``s`` (None for no pattern)."""
        if not s:
            return None
        if self.options.use_regex:
            try:
                return re.compile(s)
            except re.error as exc:
                raise BadCommand(f"Bad regular expression {s!r}: {exc}") from None
        import fnmatch
        return re.compile(fnmatch.translate(s), re.I)

    def distributions(self) -> list:
        """Every installed distribution, sorted by name as 3.x listed them."""
        return sorted(pluginlib.distributions(), key=lambda dist: dist.key)

    def get_groups_by_pattern(self, pattern) -> list:
        groups = set()
        for dist in self.distributions():
            for name in dist.get_entry_map():
                if pattern is not None and not pattern.search(name):
                    continue
                if pattern is None and name.startswith("paste.description."):
                    continue
                groups.add(name)
        return sorted(groups)

    def get_group_description(self, group: str):
        """The text describing ``group`` (from ``paste.entry_point_description``), or None."""
        for ep in pluginlib.entry_points("paste.entry_point_description"):
            if ep.name == group:
                try:
                    obj = ep.load()
                except Exception as exc:
                    return f"(description could not be loaded: {type(exc).__name__}: {exc})"
                return getattr(obj, "description", obj)
        return None

    def get_entry_point_description(self, ep, group: str):
        """An object whose ``description`` describes ``ep`` (an ErrorDescription on failure)."""
        try:
            return self._safe_get_entry_point_description(ep, group)
        except Exception as exc:
            import traceback
            return ErrorDescription(exc, traceback.format_exc())

    def _safe_get_entry_point_description(self, ep, group: str):
        meta_group = f"paste.description.{group}"
        meta = ep.dist.get_entry_info(meta_group, ep.name)
        if meta is not None:
            return meta.load()
        generic = [g for g in pluginlib.entry_points(meta_group) if g.name == "generic"]
        if generic:
            return generic[0].load()(ep, group)
        return super_generic(ep.load())

    # -- showing -----------------------------------------------------------

    def print_entry_points_by_group(self, group: str, ep_pat) -> None:
        for dist in self.distributions():
            entries = list(dist.get_entry_map(group).values())
            if ep_pat is not None:
                entries = [ep for ep in entries if ep_pat.search(ep.name)]
            if not entries:
                continue
            print(dist)
            for ep in sorted(entries, key=lambda ep: ep.name):
                print(self._ep_description(ep))
                desc = self.get_entry_point_description(ep, group)
                if desc is not None and desc.description:
                    print(self.wrap(desc.description, indent=4))

    def show_egg(self, egg_name: str) -> int:
        group_pat = self.get_pattern(self.args[0]) if self.args else None
        ep_pat = self.get_pattern(self.args[1]) if len(self.args) > 1 else None
        if egg_name.startswith("egg:"):
            egg_name = egg_name[len("egg:"):]
        dist = pluginlib.get_distro(egg_name)
        for group, points in sorted(dist.get_entry_map().items()):
            if group_pat is not None and not group_pat.search(group):
                continue
            print(f"[{group}]")
            for name, ep in sorted(points.items()):
                if ep_pat is not None and not ep_pat.search(name):
                    continue
                print(self._ep_description(ep))
                desc = self.get_entry_point_description(ep, group)
                if desc is not None and desc.description:
                    print(self.wrap(desc.description, indent=2))
                print()
        return 0

    def list_entry_points(self) -> int:
        groups = self.get_groups_by_pattern(self.get_pattern(self.args[0] if self.args else None))
        print(f"{len(groups)} entry point groups found:")
        for group in groups:
            print(f"[{group}]")
            desc = self.get_group_description(group)
            if desc:
                print(self.wrap(desc, indent=2))
        return 0

    def _ep_description(self, ep, pad_name=None) -> str:
        name = ep.name if pad_name is None else ep.name.ljust(pad_name)
        dest = ep.module_name
        if ep.attrs:
            dest += ":" + ".".join(ep.attrs)
        return f"{name} = {dest}"

    def wrap(self, text: str, indent: int = 0) -> str:
        """Dedent ``text`` and re-wrap its paragraphs (indented ones are kept as they are)."""
        text = dedent(str(text))
        width = int(os.environ.get("COLUMNS", 70)) - indent
        text = "\n".join(line.rstrip() for line in text.splitlines())
        paragraphs = []
        for para in text.split("\n\n"):
            if para.lstrip() == para:
                para = "\n".join(textwrap.wrap(para, width))
            paragraphs.append(para)
        return "\n".join(" " * indent + line for line in "\n\n".join(paragraphs).splitlines())


class EntryPointDescription:
    """Base for objects that describe the entry points of a group.

    Subclasses set ``description``; a ``paste.description.GROUP`` entry
    point called ``generic`` is called as ``generic(entry_point, group)``.
    """

    def __init__(self, group: str):
        self.group = group


class SuperGeneric:
    """Describes any object by its signature and docstring."""

    def __init__(self, doc_object):
        import inspect
        import types
        self.doc_object = doc_object
        self.description = dedent(doc_object.__doc__)
        try:
            if isinstance(doc_object, type):
                func = doc_object.__init__
            elif callable(doc_object) and not isinstance(doc_object, types.FunctionType):
                func = doc_object.__call__
            else:
                func = doc_object
            sig = getattr(func, "__paste_sig__", None) or str(inspect.signature(func))
        except (TypeError, ValueError):
            sig = None
        if sig:
            self.description = f"{sig}\n\n{self.description}" if self.description else sig


def super_generic(obj):
    """A :class:`SuperGeneric` for ``obj``, or None when there is nothing to say."""
    desc = SuperGeneric(obj)
    return desc if desc.description else None


class ErrorDescription:
    """Stands for the description of an entry point that could not be loaded."""

    def __init__(self, exc: BaseException, tb: str):
        self.exc = exc
        self.tb = tb
        self.description = f"Error loading: {exc}"


def dedent(s):
    """``s`` without its surrounding newlines and common indentation (None stays None)."""
    if s is None:
        return s
    return textwrap.dedent(s.strip("\n").strip("\r"))
