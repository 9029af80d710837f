from paste.script.command import main

EPS = """
    [paste.app_factory]
    fakeapp = fakeplugin.apps:make_app
    otherapp = fakeplugin.apps:make_app
    [fake.group]
    thing = fakeplugin.apps:Thing
    [paste.entry_point_description]
    fake.group = fakeplugin.apps:FakeGroupDescription
"""
MODULES = {"fakeplugin/__init__.py": "", "fakeplugin/apps.py": '''
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
'''}


def test_points_lists_groups_with_descriptions(fake_site, capsys):
    fake_site("FakePlugin", entry_points=EPS, modules=MODULES)
    assert main(["points"]) == 0
    out = capsys.readouterr().out
    assert "fake.group\n  Things that are fake.\n" in out
    assert "paste.server_runner\n  A server runner:" in out
    assert main(["points", "--list"]) == 0
    assert capsys.readouterr().out == out


def test_points_shows_group_entries_with_signature_and_doc(fake_site, capsys):
    fake_site("FakePlugin", entry_points=EPS, modules=MODULES)
    assert main(["points", "paste.app_factory", "fakeapp"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("[paste.app_factory]\n  A WSGI application factory")
    assert ("  fakeapp = fakeplugin.apps:make_app\n"
            "    make_app(global_conf, greeting='hello', **local_conf)\n"
            "    Make the fake application.\n\n    It greets.\n") in out
    assert "otherapp" not in out
    assert main(["points", "fake.group"]) == 0
    out = capsys.readouterr().out
    assert "  thing = fakeplugin.apps:Thing\n    Thing(size, colour='red')\n    A thing.\n" in out


def test_points_wildcards_regex_and_egg(fake_site, capsys):
    fake_site("FakePlugin", entry_points=EPS, modules=MODULES)
    assert main(["points", "fake.*"]) == 0
    assert "[fake.group]" in capsys.readouterr().out
    assert main(["points", "--regex", "^fake\\.gr", "th.ng"]) == 0
    assert "thing = fakeplugin.apps:Thing" in capsys.readouterr().out
    assert main(["points", "--egg", "FakePlugin"]) == 0
    out = capsys.readouterr().out
    assert "[fake.group]\n  thing = fakeplugin.apps:Thing\n" in out
    assert "[paste.app_factory]\n  fakeapp = " in out


def test_points_bad_input(fake_site, capsys):
    assert main(["points", "no.such.group"]) == 1
    assert capsys.readouterr().err.strip() == "No entry-point group matches 'no.such.group'"
    assert main(["points", "--regex", "("]) == 2
    assert "Bad regular expression" in capsys.readouterr().err
    assert main(["points", "--egg", "NoSuchEgg"]) == 2
    assert "Plugin 'NoSuchEgg' not found" in capsys.readouterr().err
