"""The ``paster`` front end, against 3.7.0."""
from tests.differential.harness import Pair


def test_unknown_command_exit_status(pair: Pair):
    old, new = pair.run("no-such-command")
    assert (old.returncode, new.returncode) == (2, 2)
    assert "Command 'no-such-command' not known" in old.output
    assert "Command 'no-such-command' not known" in new.output


def test_help_lists_the_same_commands(pair: Pair):
    old, new = pair.run("help")
    assert old.returncode == new.returncode == 0

    def commands(text):
        listing = text.split("Commands:", 1)[1]
        return sorted(line.split()[0] for line in listing.splitlines() if line.strip())

    assert commands(new.stdout) == commands(old.stdout)
