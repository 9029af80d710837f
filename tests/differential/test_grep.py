"""``paster grep`` against 3.7.0: a plugin command of projects that use PasteScript."""
import pytest

from tests.differential.harness import Pair


def project(work):
    egg = work / "Proj.egg-info"
    egg.mkdir()
    (egg / "PKG-INFO").write_text("Metadata-Version: 1.0\nName: Proj\nVersion: 0.1\n")
    (egg / "paster_plugins.txt").write_text("PasteScript\n")
    (work / "proj").mkdir()
    (work / "proj" / "__init__.py").write_text("widget_count = 3\n")


@pytest.mark.parametrize("symbol", ["widget_count", "no_such_symbol_anywhere"])
def test_exit_status_0_found_or_not(pair: Pair, symbol):
    old, new = pair.run("grep", symbol, setup=project)
    assert old.returncode == new.returncode == 0, old.output + new.output
    assert ("widget_count" in new.stdout) == ("widget_count" in old.stdout) == \
        (symbol == "widget_count")


def test_help_tells_the_exit_status_3_7_gave(pair: Pair):
    # Issue 19 item 10: our help text said "1 otherwise"; both exit 0.
    old, new = pair.run("grep", "-h", setup=project)
    assert old.returncode == new.returncode == 0
    text = " ".join(new.stdout.split())
    assert "The exit status is 0 whether or not something was found" in text
    assert "1 otherwise" not in text
    old, new = pair.run("grep", "no_such_symbol_anywhere", setup=project)
    assert old.returncode == new.returncode == 0
