"""paster grep: searching a project's code for a symbol."""
import pytest

from paste.script.grep import find_symbol
from tests.support import run_paster, write

MODELS = '''
"""Models; the word widget_count in a docstring is not a name."""
import os
from collections import OrderedDict as widget_count_alias

widget_count = 0   # widget_count in a comment is not a hit either


class Shop:
    widget_count = 1

    def sell(self, widget_count=2):
        return self.widget_count + widget_count

    def other(self):
        return "widget_count"


def unrelated():
    my_widget_count = 3
    return my_widget_count
'''

VIEWS = '''
from proj.models import widget_count


def show():
    return widget_count
'''

BROKEN = '''
def broken(:
    widget_count
'''


@pytest.fixture
def project(tmp_path):
    """A project made by ``paster create`` that lists PasteScript as a plugin."""
    result = run_paster("create", "--no-interactive", "Proj", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    root = tmp_path / "Proj"
    egg_info = root / "Proj.egg-info"
    assert egg_info.is_dir()
    # What setup(paster_plugins=['PasteScript']) writes on egg_info.
    (egg_info / "paster_plugins.txt").write_text("PasteScript\n")
    write(root / "proj" / "models.py", MODELS)
    write(root / "proj" / "views.py", VIEWS)
    write(root / "proj" / "sub" / "__init__.py", "from proj.views import widget_count\n")
    write(root / "proj" / "broken.py", BROKEN)
    write(root / "docs" / "notes.txt", "Remember widget_count.\nNothing here.\n")
    write(root / "build" / "lib" / "proj" / "models.py", "widget_count = 'stale copy'\n")
    return root


def test_grep_finds_real_uses_with_scopes(project):
    result = run_paster("grep", "widget_count", cwd=project / "proj")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "proj.broken (unloadable)",
        "    2  widget_count",
        "proj.models",
        "    5  widget_count = 0   # widget_count in a comment is not a hit either",
        "proj.models:Shop",
        "    9  widget_count = 1",
        "proj.models:Shop.sell",
        "   11  def sell(self, widget_count=2):",
        "   12  return self.widget_count + widget_count",
        "proj.models:Shop.other",
        "   15  return \"widget_count\"",
        "proj.views",
        "    1  from proj.models import widget_count",
        "proj.views:show",
        "    5  return widget_count",
        "proj.sub",
        "    1  from proj.views import widget_count",
    ]


def test_grep_exclude_module_and_package(project):
    result = run_paster("grep", "-x", "proj.models", "--exclude-module=proj.sub",
                        "-x", "proj.broken", "widget_count", cwd=project)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "proj.views",
        "    1  from proj.models import widget_count",
        "proj.views:show",
        "    5  return widget_count",
    ]


def test_grep_add_type_searches_text(project):
    result = run_paster("grep", "-t", ".txt", "-x", "proj", "widget_count", cwd=project)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "docs/notes.txt",
        "    1  Remember widget_count.",
    ]


def test_grep_nothing_found(project):
    result = run_paster("grep", "no_such_symbol_anywhere", cwd=project)
    assert result.returncode == 0  # as in 3.x
    assert result.stdout == ""
    assert result.stderr.strip() == f"no_such_symbol_anywhere not found in {project}"


def test_grep_is_a_plugin_command(project, tmp_path):
    (project / "Proj.egg-info" / "paster_plugins.txt").unlink()
    result = run_paster("grep", "widget_count", cwd=project)
    assert result.returncode == 2
    assert "Command 'grep' not known" in result.stderr
    result = run_paster("--plugin=PasteScript", "grep", "-x", "proj.broken", "show",
                        cwd=project)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["proj.views", "    4  def show():"]


def test_help_says_the_exit_status_it_gives(project):
    # Issue 19 item 10: the help text said "1 otherwise", the command exits 0.
    text = " ".join(run_paster("grep", "-h", cwd=project).stdout.split())
    assert "The exit status is 0 whether or not something was found" in text
    assert "1 otherwise" not in text
    result = run_paster("grep", "no_such_symbol_anywhere", cwd=project)
    assert result.returncode == 0 and result.stdout == ""


def test_grep_listed_in_help_only_where_active(project, tmp_path):
    inside = run_paster("help", cwd=project)
    assert "Search project for symbol" in inside.stdout
    outside = run_paster("help", cwd=tmp_path)
    assert "grep" not in outside.stdout


def test_find_symbol():
    source = "import a.b as c\nfrom x import (y,\n   c)\ndef f(*, c=1):\n    global c\n"
    assert find_symbol(source, "c") == [("", 1), ("", 2), ("f", 4), ("f", 5)]
    assert find_symbol("try:\n  pass\nexcept E as c:\n  pass\n", "c") == [("", 3)]
    assert find_symbol("f(c=1)\n", "c") == [("", 1)]
    assert find_symbol("cc = 1\n", "c") == []
    with pytest.raises(SyntaxError):
        find_symbol("def (", "c")
