"""run_command, svn_command and shorten: PasteScript 3.x's contract, on Command and FileOp."""
import os
import sys

import pytest

from paste.script.command import Command
from paste.script.filemaker import FileOp
from paste.script.util.programs import UnexpectedArguments

PY = sys.executable
BOTH = "import sys; print('out', flush=True); sys.stderr.write('err\\n'); sys.stderr.flush()"


class Quiet(Command):
    parser = Command.standard_parser(simulate=True)

    def command(self):
        pass


@pytest.fixture(params=["Command", "FileOp"])
def runner(request, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    if request.param == "Command":
        obj = Quiet("quiet")
        obj.run([])
        return obj
    return FileOp(verbose=0)


def test_stdout_as_bytes_and_stderr_only_when_captured(runner, capsys):
    assert runner.run_command(PY, "-c", BOTH) == b"out\n"
    assert runner.run_command(PY, "-c", BOTH, capture_stderr=True) == b"out\nerr\n"
    assert capsys.readouterr().out == ""  # quiet: nothing shown


def test_cwd(runner, tmp_path):
    sub = tmp_path / "sub"
    sub.mkdir()
    out = runner.run_command(PY, "-c", "import os; print(os.getcwd())", cwd=str(sub))
    assert out == f"{sub}\n".encode()


def test_failure_is_oserror_and_shows_the_command(runner, capsys):
    with pytest.raises(OSError, match=f"^Error executing command {PY}$"):
        runner.run_command(PY, "-c", "import sys; sys.stderr.write('bad\\n'); sys.exit(3)")
    out = capsys.readouterr().out
    assert out == f"Running {PY} -c import sys; sys.stderr.write('bad\\n'); sys.exit(3)\n" \
                  "Error (exit code: 3)\nbad\n"


def test_expected_and_warned_return_codes(runner, capsys):
    code = "import sys; print('x'); sys.exit(3)"
    assert runner.run_command(PY, "-c", code, expect_returncode=True) == b"x\n"
    assert capsys.readouterr().out == ""
    assert runner.run_command(PY, "-c", code, warn_returncode=True) == b"x\n"
    assert capsys.readouterr().out == (f"Warning: command failed ({PY} -c {code})\n"
                                       "Exited with code 3\n")


def test_missing_program_is_oserror(runner):
    with pytest.raises(OSError) as info:
        runner.run_command("/no/such/program", "arg")
    assert str(info.value) == ("The expected executable /no/such/program was not found "
                               "([Errno 2] No such file or directory: '/no/such/program')")
    runner.simulate = True  # 3.x looked for the program even when simulating
    with pytest.raises(OSError, match="was not found"):
        runner.run_command("no-such-program-anywhere")


def test_unknown_keyword_is_an_error(runner):
    with pytest.raises(UnexpectedArguments, match="Arguments not expected: {'colour': 'red'}"):
        runner.run_command(PY, "-c", "pass", colour="red")
    # what 3.x raised, and what Python raises for a wrong keyword
    assert issubclass(UnexpectedArguments, AssertionError)
    assert issubclass(UnexpectedArguments, TypeError)


def test_simulate_runs_nothing_unless_forced(runner, tmp_path, capsys):
    runner.simulate = True
    runner.verbose = 1
    marker = tmp_path / "ran"
    code = f"open({str(marker)!r}, 'w').close(); print('done')"
    assert runner.run_command(PY, "-c", code) is None
    assert not marker.exists()
    assert capsys.readouterr().out == f"Running {PY} -c {code}\n"
    assert runner.run_command(PY, "-c", code, force_no_simulate=True) == b"done\n"
    assert marker.exists()


def test_very_verbose_shows_both_outputs(runner, capsys):
    runner.verbose = 3
    runner.run_command(PY, "-c", BOTH)
    assert capsys.readouterr().out == (f"Running {PY} -c {BOTH}\n"
                                       "Command error output:\nerr\nCommand output:\nout\n")


def test_svn_command_reports_a_failure_once(runner, tmp_path, monkeypatch, capsys):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    svn = bindir / "svn"
    svn.write_text("#!/bin/sh\necho \"svn $*\"\nexit ${SVN_EXIT:-0}\n")
    svn.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    assert runner.svn_command("add", "x") == b"svn add x\n"
    monkeypatch.setenv("SVN_EXIT", "1")
    assert runner.svn_command("add", "x") is None
    assert runner.svn_command("add", "y") is None
    out = capsys.readouterr().out
    assert out.count("Unable to run svn command (Error executing command svn); proceeding anyway") == 1


def test_shorten(runner, tmp_path):
    assert runner.shorten(str(tmp_path / "a")) == "a"
    assert runner.shorten(str(tmp_path), "a", "b") == os.path.join("a", "b")
    assert runner.shorten(str(tmp_path)) == ""
    assert runner.shorten("/elsewhere/x") == "/elsewhere/x"
