import sys

from paste.script import entrypoints
from paste.script.command import main

# Python 3.13 removes the common indentation of docstrings when it compiles
# them; paster points shows a docstring as it is, like 3.x did.
DOC_INDENT = "" if sys.version_info >= (3, 13) else "    "

EPS = """
    [paste.app_factory]
    fakeapp = fakeplugin.apps:make_app
    otherapp = fakeplugin.apps:make_app
    [fake.group]
    thing = fakeplugin.apps:Thing
    [fake.other_group]
    gadget = fakeplugin.apps:Thing
    [paste.entry_point_description]
    fake.group = fakeplugin.apps:FakeGroupDescription
    [paste.description.fake.group]
    thing = fakeplugin.apps:ThingDescription
    [paste.description.fake.other_group]
    generic = fakeplugin.apps:GenericDescription
"""
MODULES = {"fakeplugin/__init__.py": "", "fakeplugin/apps.py": '''
    from paste.script.entrypoints import EntryPointDescription

    def make_app(global_conf, greeting="hello", **local_conf):
        """Make the fake application.

        It greets.
        """

    class Thing:
        """A thing."""
        def __init__(self, size, colour="red"):
            pass

    class FakeGroupDescription:
        description = """
        Things that are fake.
        """

    class ThingDescription:
        description = "Described by its own meta entry point."

    class GenericDescription(EntryPointDescription):
        def __init__(self, ep, group):
            super().__init__(group)
            self.description = f"Generic description of {ep.name} in {self.group}"
'''}


def test_points_needs_a_group_or_list(fake_site, capsys):
    assert main(["points"]) == 2
    assert capsys.readouterr().err.strip() == "You must give an entry point (or --list)"


def test_list_counts_groups_with_descriptions(fake_site, capsys):
    fake_site("FakePlugin", entry_points=EPS, modules=MODULES)
    assert main(["points", "--list"]) == 0
    out = capsys.readouterr().out
    count = int(out.split(" ", 1)[0])
    assert out.startswith(f"{count} entry point groups found:\n")
    assert out.count("\n[") == count
    assert "[fake.group]\n  Things that are fake.\n" in out
    # description groups are only listed when asked for by a pattern
    assert "[paste.description.fake.group]" not in out
    assert main(["points", "--list", "description.fake*"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("2 entry point groups found:\n[paste.description.fake.group]\n")


def test_group_pattern_is_a_case_insensitive_suffix_search(fake_site, capsys):
    fake_site("FakePlugin", entry_points=EPS, modules=MODULES)
    assert main(["points", "PASTER_COMMAND"]) == 0
    out = capsys.readouterr().out
    assert "[paste.global_paster_command]" in out and "[paste.paster_command]" in out
    assert main(["points", "paste.server_runner", "utils"]) == 0
    assert "wsgiutils = paste.script.wsgiutils_server:run_server" in capsys.readouterr().out
    assert main(["points", "group"]) == 0
    out = capsys.readouterr().out
    assert "[fake.group]" in out and "[fake.other_group]" in out
    assert main(["points", "paste"]) == 2  # a pattern matches the end of a name
    assert capsys.readouterr().err.strip() == "No group matched paste"


def test_group_listing_by_distribution(fake_site, capsys):
    fake_site("FakePlugin", entry_points=EPS, modules=MODULES)
    assert main(["points", "paste.app_factory", "fakeapp"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("[paste.app_factory]\n")
    assert ("FakePlugin 1.0\n"
            "fakeapp = fakeplugin.apps:make_app\n"
            "    (global_conf, greeting='hello', **local_conf)\n"
            "    \n"
            "    Make the fake application.\n"
            "    \n"
            f"    {DOC_INDENT}It greets.\n") in out  # the docstring's own indentation, as 3.x showed it
    assert "otherapp" not in out


def test_descriptions_from_meta_and_generic_entry_points(fake_site, capsys):
    fake_site("FakePlugin", entry_points=EPS, modules=MODULES)
    assert main(["points", "fake.group"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("[fake.group]\nThings that are fake.\n\nFakePlugin 1.0\n"
                          "thing = fakeplugin.apps:Thing\n    Described by its own meta entry point.\n"
                          "[paste.description.fake.group]\n")  # matched as a suffix too
    assert main(["points", "fake.other_group"]) == 0
    assert "gadget = fakeplugin.apps:Thing\n    Generic description of gadget in fake.other_group\n" \
        in capsys.readouterr().out


def test_regex_and_egg(fake_site, capsys):
    fake_site("FakePlugin", entry_points=EPS, modules=MODULES)
    assert main(["points", "--regex", "^fake\\.gr", "th.ng"]) == 0
    assert "thing = fakeplugin.apps:Thing" in capsys.readouterr().out
    assert main(["points", "--regex", "^FAKE"]) == 2  # a regex is case-sensitive
    capsys.readouterr()
    assert main(["points", "--egg", "egg:FakePlugin"]) == 0
    out = capsys.readouterr().out
    assert "[fake.group]\nthing = fakeplugin.apps:Thing\n  Described by its own meta entry point.\n\n" in out
    assert "[paste.app_factory]\nfakeapp = " in out
    assert main(["points", "--egg", "FakePlugin", "app_factory", "other*"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("[paste.app_factory]\notherapp = fakeplugin.apps:make_app\n")
    assert "fakeapp" not in out and "[fake.group]" not in out


def test_load_error_is_a_description(fake_site, capsys):
    fake_site("FakePlugin", entry_points="[fake.broken]\nbad = fakeplugin.nowhere:x\n",
              modules=MODULES)
    assert main(["points", "fake.broken"]) == 0
    assert "bad = fakeplugin.nowhere:x\n    Error loading: No module named 'fakeplugin.nowhere'\n" \
        in capsys.readouterr().out


def test_bad_input(fake_site, capsys):
    assert main(["points", "no.such.group"]) == 2
    assert capsys.readouterr().err.strip() == "No group matched no.such.group"
    assert main(["points", "--regex", "("]) == 2
    assert "Bad regular expression" in capsys.readouterr().err
    assert main(["points", "--egg", "NoSuchEgg"]) == 2
    assert "Plugin 'NoSuchEgg' not found" in capsys.readouterr().err


def test_super_generic_and_entry_point_description():
    def func(a, b=2):
        """  Does things.

        Really.
        """
    desc = entrypoints.super_generic(func)
    assert desc.doc_object is func
    if sys.version_info >= (3, 13):
        assert desc.description == "(a, b=2)\n\nDoes things.\n\nReally."
    else:
        assert desc.description == "(a, b=2)\n\nDoes things.\n\n      Really.\n"

    class NoDoc:
        pass
    assert entrypoints.super_generic(NoDoc).description == "(self, /, *args, **kwargs)"

    class Sig:
        def __call__(self, x):
            pass
        __call__.__paste_sig__ = "(custom)"
    assert entrypoints.super_generic(Sig()).description == "(custom)"
    # no signature: the docstring alone
    assert entrypoints.super_generic(42).description == entrypoints.dedent(int.__doc__)
    assert entrypoints.EntryPointDescription("a.group").group == "a.group"
    assert entrypoints.dedent(None) is None
