"""The ``paster`` front end, against 3.7.0."""
import signal

import pytest

from tests.differential.harness import Pair
from tests.test_command import interrupt_shell_loop


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


# -- issue 19 ----------------------------------------------------------------


def broken_command_site(work):
    """A distribution on PYTHONPATH whose global command cannot be imported."""
    info = work / "site" / "BrokenCmd-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: BrokenCmd\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[paste.global_paster_command]\nbroken = no_such_module_anywhere:Command\n")


def test_help_for_an_unknown_command(pair: Pair):
    # Item 5: a line saying so, then the general help, exit 0. The line is
    # on stderr here (3.7: stdout), as every error line is (item 9).
    old, new = pair.run("help", "nosuch")
    assert old.returncode == new.returncode == 0
    assert old.stdout.startswith("No such command: nosuch\n")
    assert new.stderr == "No such command: nosuch\n"
    assert new.stdout == old.stdout[len("No such command: nosuch\n"):]
    assert "Commands:\n" in new.stdout


def test_general_help_is_37s(pair: Pair):
    old, new = pair.run("help")
    assert old.returncode == new.returncode == 0
    assert new.stdout == old.stdout


def test_command_that_fails_to_load(pair: Pair):
    # Item 8: a warning line before the list, as 3.7 printed it; the
    # command is then not listed.
    env = {"PYTHONPATH": "site"}
    old, new = pair.run("help", setup=broken_command_site, env=env)
    assert old.returncode == new.returncode == 0
    assert new.stdout == old.stdout
    assert ("\nCannot load command broken: No module named 'no_such_module_anywhere'\n"
            "Commands:\n") in new.stdout


@pytest.mark.parametrize("args, code, message", [
    (("help", "a", "b"), 2, "You must provide no more than 1 arguments"),
    (("make-config",), 2, "You must provide at least 1 arguments"),
    (("setup-app",), 2, "You must provide at least 1 arguments"),
    (("nosuch",), 2, "Command 'nosuch' not known (you may need to run setup.py egg_info)"),
])
def test_errors_go_to_stderr(pair: Pair, args, code, message):
    # Item 9: usage and BadCommand messages are on stderr here, where 3.7
    # printed them on stdout (docs/changelog.rst); the words and the exit
    # status are 3.7's.
    old, new = pair.run(*args)
    assert (old.returncode, new.returncode) == (code, code), (old.output, new.output)
    assert new.stdout == "" and old.stderr == ""
    assert old.stdout.splitlines()[0] == new.stderr.splitlines()[0] == message
    assert new.stderr == old.stdout


def test_bad_command_after_output_goes_to_stderr(pair: Pair):
    # Item 9, a BadCommand raised after normal output: that stays on stdout.
    old, new = pair.run("create", "--no-interactive")
    assert old.returncode == new.returncode == 2
    assert old.stdout.endswith("\nYou must provide a PACKAGE_NAME\n")
    assert new.stderr == "You must provide a PACKAGE_NAME\n"
    # (ours names its own distribution from its lower-case metadata directory)
    assert new.stdout.replace("pastescript#", "PasteScript#") + new.stderr == old.stdout


def test_ctrl_c_stops_a_shell_loop(pair: Pair):
    # Issue 16 item 10: both die of SIGINT, so the loop stops; 3.7 printed
    # a traceback, ours one line.
    results = []
    for side in (pair.old, pair.new):
        work = pair.tmp / side.name
        work.mkdir(parents=True)
        results.append(interrupt_shell_loop(f"{side.paster} create Foo$i", work, side.env(),
                                            b"Enter version"))
    (old_code, old_out, old_err), (new_code, new_out, new_err) = results
    assert old_code == new_code == -signal.SIGINT
    assert "after" not in old_out and "after" not in new_out
    assert "Traceback" in old_err and old_err.rstrip().endswith("KeyboardInterrupt")
    assert new_err == "\nInterrupted\n"


def test_unknown_command_suggests_the_closest(pair: Pair):
    # Ours adds one line to 3.7's message and list (docs/changelog.rst).
    old, new = pair.run("serv")
    assert old.returncode == new.returncode == 2
    assert new.stdout == ""
    lines = new.stderr.splitlines(True)
    assert lines[1] == "Did you mean: serve?\n"
    assert "".join(lines[:1] + lines[2:]) == old.stdout
