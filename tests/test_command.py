import io
import os
import signal
import subprocess
import sys
import time

import pytest

from paste.script import command as command_mod
from paste.script.command import BadCommand, Command, NoAnswer, NoDefault, main
from tests.support import ROOT, paster_env, run_paster, write

EXPECTED_HELP = """\
Usage: paster [paster_options] COMMAND [command_options]

Options:
  --version         show program's version number and exit
  --plugin=PLUGINS  Add a plugin to the list of commands (plugins are Egg
                    specs; will also require() the Egg)
  -h, --help        Show this help message

Commands:
  create       Create the file layout for a Python distribution
  help         Display help
  make-config  Install a package and create a fresh config file/directory
  points       Show information about entry points
  post         Run a request for the described application
  request      Run a request for the described application
  serve        Serve the described application
  setup-app    Setup an application, given a config file

"""


@pytest.mark.parametrize("args", [[], ["-h"], ["--help"], ["help"]])
def test_global_help_text(args, tmp_path):
    proc = run_paster(*args, cwd=tmp_path, env={**os.environ, "COLUMNS": "80"})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == EXPECTED_HELP


def test_grep_listed_where_pastescript_is_a_plugin(tmp_path):
    proc = run_paster("--plugin=PasteScript", "help", cwd=tmp_path)
    assert "  grep         Search project for symbol\n" in proc.stdout


def test_version(tmp_path):
    proc = run_paster("--version", cwd=tmp_path)
    location = str(ROOT)
    assert proc.stdout.strip() == (
        f"PasteScript {command_mod.__version__} from {location} "
        f"(python {sys.version.split()[0]})")


def test_python_dash_m_and_console_script_agree(tmp_path):
    # The same explicit environment for both: readline (imported by pytest at
    # a terminal) puts COLUMNS in the C environment, which a child inherits
    # when no env is given, and optparse wraps the help to it.
    env = paster_env(COLUMNS="80")
    paster = os.path.join(os.path.dirname(sys.executable), "paster")
    script = subprocess.run([paster, "help"], capture_output=True, text=True, cwd=tmp_path,
                            env=env)
    module = run_paster("help", cwd=tmp_path, env=env)
    assert script.returncode == module.returncode == 0
    assert script.stdout == module.stdout


def test_unknown_command(tmp_path):
    proc = run_paster("serv", cwd=tmp_path)
    assert proc.returncode == 2
    lines = proc.stderr.splitlines()
    assert lines[0] == "Command 'serv' not known (you may need to run setup.py egg_info)"
    assert lines[1].startswith("Did you mean: serve")
    assert "Known commands:" in lines
    assert any(line.startswith("  create") for line in lines)
    assert "Traceback" not in proc.stderr


def test_unknown_plugin_is_one_line(tmp_path):
    proc = run_paster("--plugin=NoSuchDistribution", "help", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1
    assert "Plugin 'NoSuchDistribution' not found" in proc.stderr


FAKE_COMMANDS = {"fakeplugin/__init__.py": "", "fakeplugin/cmds.py": '''
    import os, time
    from paste.script.command import Command, BadCommand

    class Echo(Command):
        summary = "Echo the arguments"
        usage = "ARGS"
        min_args = 1
        max_args = 3
        takes_config_file = 1
        parser = Command.standard_parser(verbose=True, quiet=True, interactive=True,
                                         no_interactive=True, simulate=True, overwrite=True)
        parser.add_option("--flag", type="bool")
        def command(self):
            print("args", self.args, "verbose", self.verbose, "interactive", self.interactive,
                  "simulate", self.simulate, "overwrite", self.overwrite, "flag", self.options.flag)

    class Needs(Command):
        summary = "Needs --name"
        required_args = [("name", "--name")]
        parser = Command.standard_parser()
        parser.add_option("--name")
        def command(self):
            return 3

    class Fails(Command):
        summary = "Raises BadCommand"
        parser = Command.standard_parser()
        def command(self):
            raise BadCommand("it went wrong", exit_code=5)

    class Crashes(Command):
        summary = "Raises something unexpected"
        parser = Command.standard_parser()
        def command(self):
            raise RuntimeError("unexpected")

    class Sleeps(Command):
        summary = "Sleeps"
        parser = Command.standard_parser()
        def command(self):
            print("sleeping", flush=True)
            # Short sleeps: CPython notices a signal that came before a
            # blocking call only when the call returns (no EINTR then), so
            # one SIGINT between print() and sleep(30) waited 30 s.
            for _ in range(300):
                time.sleep(0.1)

    class Secret(Command):
        summary = "Hidden command"
        hidden = True
        parser = Command.standard_parser()
        def command(self):
            print("secret ran")

    class Grouped(Command):
        summary = "In a group"
        group_name = "Zeta tools"
        parser = Command.standard_parser()
        def command(self):
            pass
'''}

FAKE_EPS = """
    [paste.global_paster_command]
    echo = fakeplugin.cmds:Echo
    needs = fakeplugin.cmds:Needs
    fails = fakeplugin.cmds:Fails
    crashes = fakeplugin.cmds:Crashes
    sleeps = fakeplugin.cmds:Sleeps
    secret = fakeplugin.cmds:Secret
    grouped = fakeplugin.cmds:Grouped
    broken = fakeplugin.missing:Nothing
"""


@pytest.fixture
def fake_commands(fake_site):
    fake_site("FakePlugin", entry_points=FAKE_EPS, modules=FAKE_COMMANDS)
    return fake_site


def test_command_run_options(fake_commands, capsys):
    assert main(["echo", "-vv", "-q", "-i", "--simulate", "-f", "--flag=yes", "a", "b"]) == 0
    out = capsys.readouterr().out
    assert out == ("args ['a', 'b'] verbose 1 interactive 1 simulate True "
                   "overwrite True flag True\n")


def test_no_interactive_and_default_quiet(fake_commands, capsys, monkeypatch):
    monkeypatch.setenv("PASTE_DEFAULT_QUIET", "1")
    assert main(["echo", "-i", "--no-interactive", "a"]) == 0
    assert "verbose 0 interactive False" in capsys.readouterr().out


def test_bool_option_rejects_garbage(fake_commands, capsys):
    assert main(["echo", "--flag=maybe", "a"]) == 2
    assert "invalid boolean value: 'maybe'" in capsys.readouterr().err


def test_arg_count_errors(fake_commands, capsys):
    assert main(["echo"]) == 2
    assert capsys.readouterr().err.strip() == "You must provide at least 1 arguments"
    assert main(["echo", "1", "2", "3", "4"]) == 2
    assert capsys.readouterr().err.strip() == "You must provide no more than 3 arguments"


def test_required_args_and_return_code(fake_commands, capsys):
    assert main(["needs"]) == 2
    assert capsys.readouterr().err.strip() == "You must provide the option --name"
    assert main(["needs", "--name=x"]) == 3


def test_paste_config_file_is_inserted(fake_commands, capsys, monkeypatch):
    monkeypatch.setenv("PASTE_CONFIG_FILE", "/some/app.ini")
    assert main(["echo", "start"]) == 0
    assert "args ['/some/app.ini', 'start']" in capsys.readouterr().out


def test_bad_command_exit_code(fake_commands, capsys):
    assert main(["fails"]) == 5
    assert capsys.readouterr().err == "it went wrong\n"


def test_unexpected_error_is_one_line_unless_verbose(fake_commands, capsys):
    assert main(["crashes"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "RuntimeError: unexpected" in err
    with pytest.raises(RuntimeError):
        main(["crashes", "-v"])


def test_help_lists_groups_hides_hidden_reports_broken(fake_commands, capsys):
    assert main(["help"]) == 0
    out = capsys.readouterr().out
    commands = out.split("Commands:\n", 1)[1]
    assert "secret" not in commands
    assert "  echo         Echo the arguments\n" in commands
    # As in 3.7: a warning line before the list, not an entry in it.
    assert "broken" not in commands
    assert "\nCannot load command broken: No module named 'fakeplugin.missing'\nCommands:\n" in out
    # ungrouped first, then the group's header and its commands
    assert commands.index("setup-app") < commands.index("Zeta tools:\n  grouped")
    # a hidden command still runs
    assert main(["secret"]) == 0
    assert capsys.readouterr().out == "secret ran\n"


def test_help_for_one_command(fake_commands, capsys):
    assert main(["help", "echo"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Usage: paster echo [options] ARGS\nEcho the arguments\n")
    assert main(["echo", "-h"]) == 0
    assert capsys.readouterr().out == out
    # As in 3.7: a line, then the general help, and exit status 0.
    assert main(["help", "nothing-like-it"]) == 0
    captured = capsys.readouterr()
    assert captured.err == "No such command: nothing-like-it\n"
    assert captured.out.startswith("Usage: paster [paster_options] COMMAND [command_options]\n")
    assert "Commands:\n" in captured.out


def test_broken_command_run_is_one_line(fake_commands, capsys):
    assert main(["broken"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "could not be loaded" in err


def test_ctrl_c_dies_by_sigint_without_traceback(fake_commands):
    env = {**os.environ, "PYTHONPATH": str(fake_commands.site)}
    proc = subprocess.Popen([sys.executable, "-m", "paste.script", "sleeps"], env=env,
                            cwd=fake_commands.work, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "sleeping\n"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=10)
    # Killed by the signal, as 3.7 (an uncaught KeyboardInterrupt) was; one line.
    assert proc.returncode == -signal.SIGINT
    assert err == "\nInterrupted\n"


def interrupt_shell_loop(command: str, cwd, env: dict, waiting_for: bytes) -> tuple:
    """Ctrl-C in a shell loop that runs ``command`` three times.

    Once the first run has printed ``waiting_for``, SIGINT goes to the whole
    process group, as a terminal sends it. Returns ``(the shell's status,
    stdout, stderr)``; a shell that goes on looping is killed after 30 s.
    """
    loop = f"for i in 1 2 3; do {command}; echo after $i; done; echo loop finished"
    proc = subprocess.Popen(["bash", "-c", loop], cwd=cwd, env=env, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        seen = b""
        while waiting_for not in seen:
            byte = proc.stdout.read(1)
            assert byte, f"never printed {waiting_for!r}: {seen!r}"
            seen += byte
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return proc.returncode, (seen + out).decode(), err.decode()


def test_ctrl_c_stops_a_calling_shell_loop(fake_commands):
    # A shell goes on with its loop when the child exits 130, and stops when
    # the child dies of SIGINT: Ctrl-C sends it to the whole process group.
    env = {**os.environ, "PYTHONPATH": str(fake_commands.site)}
    code, out, err = interrupt_shell_loop(f"{sys.executable} -m paste.script sleeps",
                                          fake_commands.work, env, b"sleeping\n")
    assert code == -signal.SIGINT, (out, err)
    assert out == "sleeping\n" and err == "\nInterrupted\n"


def test_shebang_detection(tmp_path, monkeypatch):
    script = write(tmp_path / "app.ini", "#!/usr/bin/env paster\n[exe]\ncommand = serve\n", mode=0o755)
    monkeypatch.setattr(sys, "argv", ["/usr/bin/paster", str(script), "start"])
    monkeypatch.setenv("_", str(script))
    assert command_mod._exe_args([str(script), "start"]) == ["exe", str(script), "start"]
    monkeypatch.setenv("_", "/usr/bin/paster")
    assert command_mod._exe_args([str(script), "start"]) is None
    plain = write(tmp_path / "plain.ini", "[app:main]\n")
    monkeypatch.setenv("_", str(plain))
    assert command_mod._exe_args([str(plain)]) is None


# -- the Command helpers, in process -----------------------------------------

class Helper(Command):
    parser = Command.standard_parser(verbose=True, interactive=True, simulate=True,
                                     overwrite=True)

    def command(self):
        pass


@pytest.fixture
def cmd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    c = Helper("helper")
    c.run([])
    return c


def answers(monkeypatch, *replies):
    replies = list(replies)
    prompts = []

    def fake_input(prompt=""):
        prompts.append(prompt)
        if not replies:
            raise EOFError
        return replies.pop(0)
    monkeypatch.setattr("builtins.input", fake_input)
    return prompts


def test_ask(cmd, monkeypatch, capsys):
    prompts = answers(monkeypatch, "", "x", "n")
    assert cmd.ask("Continue") is True
    assert cmd.ask("Continue") is False
    assert prompts == ["Continue [Y/n]? ", "Continue [Y/n]? ", "Continue [Y/n]? "]
    assert "Y or N please" in capsys.readouterr().out
    prompts = answers(monkeypatch, "y", "yes")
    assert cmd.ask("Really", default="careful") is True
    assert prompts == ["Really [yes/no]?", "Really [yes/no]?"]
    answers(monkeypatch, "", "no")
    assert cmd.ask("Really", default="none") is False
    assert "Please enter yes or no" in capsys.readouterr().out
    # End of input: an exception that is an EOFError (as 3.7 raised) and a BadCommand.
    answers(monkeypatch)
    with pytest.raises(EOFError) as info:
        cmd.ask("Overwrite", safe=False, default=True)
    assert isinstance(info.value, BadCommand) and info.value.exit_code == 2
    assert str(info.value) == "No answer (end of input) to: Overwrite [Y/n]?"
    cmd.interactive = 2
    answers(monkeypatch, "")
    assert cmd.ask("Overwrite", safe=False, default=True) is False  # -ii: safe default


def test_challenge(cmd, monkeypatch):
    prompts = answers(monkeypatch, "", "value")
    assert cmd.challenge("Name") == "value"
    assert prompts == ["Name: ", "Name: "]
    answers(monkeypatch, "")
    assert cmd.challenge("Port", default="8080") == "8080"
    for default in (NoDefault, "8080"):
        answers(monkeypatch)
        with pytest.raises(NoAnswer, match=r"No answer \(end of input\) to: Name"):
            cmd.challenge("Name", default=default)
    assert issubclass(NoAnswer, EOFError) and issubclass(NoAnswer, BadCommand)
    monkeypatch.setattr("getpass.getpass", lambda prompt: "hidden")
    assert cmd.challenge("Password", should_echo=False) == "hidden"


def test_end_of_input_is_one_line_exit_2(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert main(["create", "Foo"]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1].startswith("No answer (end of input) to: Enter version")
    assert "Traceback" not in err


def test_ensure_dir_and_file(cmd, tmp_path, monkeypatch, capsys):
    target = tmp_path / "a" / "b" / "f.txt"
    cmd.verbose = 1
    cmd.ensure_file(str(target), "one\n")
    assert target.read_text() == "one\n"
    cmd.ensure_file(str(target), "one\n")  # same content: untouched
    # different content, not interactive: kept, with a warning and a diff
    cmd.interactive = 0
    cmd.ensure_file(str(target), "two\n")
    out = capsys.readouterr().out
    assert target.read_text() == "one\n"
    assert "does not match expected content" in out and "-one\n+two" in out
    # interactive: asked; yes overwrites
    cmd.interactive = 1
    answers(monkeypatch, "y")
    cmd.ensure_file(str(target), "two\n")
    assert target.read_text() == "two\n"
    # simulate writes nothing
    cmd.simulate = True
    cmd.ensure_file(str(tmp_path / "sim.txt"), "x")
    cmd.ensure_dir(str(tmp_path / "simdir"))
    assert not (tmp_path / "sim.txt").exists() and not (tmp_path / "simdir").exists()


def test_ensure_file_package(cmd, tmp_path):
    cmd.ensure_file(str(tmp_path / "pkg" / "sub" / "mod.py"), "x = 1\n", package=True)
    assert (tmp_path / "pkg" / "__init__.py").exists()
    assert (tmp_path / "pkg" / "sub" / "__init__.py").exists()


def test_ensure_file_refuses_none_and_writes_nothing(cmd, tmp_path):
    # 3.7: AssertionError, nothing written (its TypeError path left an empty file).
    with pytest.raises(AssertionError, match="You cannot pass a content of None"):
        cmd.ensure_file(str(tmp_path / "new.ini"), None)
    assert os.listdir(tmp_path) == []


def test_ensure_file_leaves_no_partial_file(cmd, tmp_path):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "inside").write_text("x")
    cmd.overwrite = True
    # The rename over a directory fails: the temporary file goes too.
    with pytest.raises(OSError):
        from paste.script.util.files import replace_file
        replace_file(str(tmp_path / "taken"), b"content")
    assert sorted(os.listdir(tmp_path)) == ["taken"]


def test_ensure_file_keeps_the_mode_of_an_existing_file(cmd, tmp_path):
    target = tmp_path / "run.sh"
    target.write_text("old\n")
    target.chmod(0o751)
    cmd.overwrite = True
    cmd.ensure_file(str(target), "new\n")
    assert target.read_text() == "new\n" and (target.stat().st_mode & 0o777) == 0o751
    fresh = tmp_path / "fresh.txt"
    old_umask = os.umask(0o027)
    try:
        cmd.ensure_file(str(fresh), "x")
    finally:
        os.umask(old_umask)
    assert fresh.stat().st_mode & 0o777 == 0o640


@pytest.mark.parametrize("reply, kept", [("", True), ("n", True), ("no", True), ("y", False)])
def test_ensure_file_question_defaults_to_no(cmd, tmp_path, monkeypatch, capsys, reply, kept):
    target = tmp_path / "app.ini"
    target.write_text("mine\n")
    cmd.interactive = 1
    prompts = answers(monkeypatch, "maybe", reply)
    cmd.ensure_file(str(target), "theirs\n")
    assert prompts == ["Overwrite file with new content? [y/N] "] * 2
    assert "Unknown response; Y or N please" in capsys.readouterr().out
    assert target.read_text() == ("mine\n" if kept else "theirs\n")


def test_a_file_holding_a_secret_is_private_and_no_diff_shows_it(cmd, tmp_path, capsys):
    target = tmp_path / "app.ini"
    cmd.secret_values = ("s3cr3t-new-value",)
    cmd.ensure_file(str(target), "[app:main]\nkey = s3cr3t-new-value\nport = 1\n")
    assert target.stat().st_mode & 0o777 == 0o600
    target.write_text("[app:main]\nkey = old-secret-value\nport = 2\n")
    target.chmod(0o644)
    cmd.interactive = 0
    cmd.ensure_file(str(target), "[app:main]\nkey = s3cr3t-new-value\nport = 1\n")
    out = capsys.readouterr().out
    assert "-port = 2\n+port = 1" in out
    assert "secret-value" not in out and "key = ********" in out
    cmd.overwrite = True
    cmd.ensure_file(str(target), "[app:main]\nkey = s3cr3t-new-value\nport = 1\n")
    assert target.stat().st_mode & 0o777 == 0o600


def test_insert_into_file(cmd, tmp_path, capsys):
    path = write(tmp_path / "setup.py", """
        setup(
            install_requires=[
                # -*- Extra requirements: -*-
            ],
        )
    """)
    cmd.insert_into_file(str(path), "Extra requirements", "'Foo',\n", indent=True)
    cmd.insert_into_file(str(path), "Extra requirements", "'Foo',\n", indent=True)  # once only
    assert "Warning: line already found in" in capsys.readouterr().out
    cmd.insert_into_file(str(path), "Extra requirements", "'Bar',\n", indent=True, before=True)
    assert path.read_text() == (
        "setup(\n    install_requires=[\n        'Bar',\n"
        "        # -*- Extra requirements: -*-\n        'Foo',\n    ],\n)\n")
    cmd.insert_into_file(str(path), "No such marker", "x\n")
    assert "Marker '-*- No such marker -*-' not found" in capsys.readouterr().out
    with pytest.raises(ValueError, match="must end with a newline"):
        cmd.insert_into_file(str(path), "Extra requirements", "'Baz',")


def test_insert_into_file_skips_only_text_right_after_the_marker(cmd, tmp_path):
    # As in 3.7: 'pytest' elsewhere in the file does not stop the insertion.
    path = write(tmp_path / "setup.py", """
        extras_require={'test': ['pytest',]},
        install_requires=[
            # -*- Extra requirements: -*-
        ],
    """)
    cmd.insert_into_file(str(path), "Extra requirements", "'pytest',\n", indent=True)
    assert path.read_text() == (
        "extras_require={'test': ['pytest',]},\ninstall_requires=[\n"
        "    # -*- Extra requirements: -*-\n    'pytest',\n],\n")
    # The marker needs a blank on each side.
    write(tmp_path / "tight.txt", "#-*-Extra requirements-*-\n")
    cmd.insert_into_file(str(tmp_path / "tight.txt"), "Extra requirements", "x\n")
    assert (tmp_path / "tight.txt").read_text() == "#-*-Extra requirements-*-\n"


def test_run_command_returns_stdout_bytes(cmd):
    # The full 3.x contract is in test_util_programs.py; Command has it.
    assert cmd.run_command(sys.executable, "-c", "print('hi')") == b"hi\n"
    with pytest.raises(OSError, match="The expected executable /no/such/program was not found"):
        cmd.run_command("/no/such/program")


def test_vars_round_trip(cmd, tmp_path):
    assert cmd.parse_vars(["a=1", "b=x=y"]) == {"a": "1", "b": "x=y"}
    with pytest.raises(BadCommand, match="no \"=\""):
        cmd.parse_vars(["novalue"])
    config = write(tmp_path / "vars.ini", "[other]\nkeep = me\n")
    assert cmd.read_vars(str(config)) == {}
    cmd.write_vars(str(config), {"Package": "foo", "version": "1.0", "zip_safe": False,
                                 "plugins": ["A"]})
    # configparser lower-cases names (as in 3.7); non-strings are written as __eval__.
    assert cmd.read_vars(str(config)) == {"package": "foo", "version": "1.0",
                                          "zip_safe": False, "plugins": ["A"]}
    assert "zip_safe__eval__ = False" in config.read_text()
    assert cmd.read_vars(str(config), "other") == {"keep": "me"}
    # Only missing variables are added; existing ones (or their __eval__) stay.
    cmd.write_vars(str(config), {"version": "2.0", "zip_safe": True, "new": "x"})
    assert cmd.read_vars(str(config)) == {"package": "foo", "version": "1.0",
                                          "zip_safe": False, "plugins": ["A"], "new": "x"}
    before = config.stat().st_mtime_ns
    cmd.write_vars(str(config), {"version": "3.0"})
    assert config.stat().st_mtime_ns == before  # nothing added: not rewritten
    write(tmp_path / "bad.ini", "[pastescript]\nx__eval__ = 1 +\n")
    with pytest.raises(BadCommand, match="x__eval__ = 1 \\+: SyntaxError"):
        cmd.read_vars(str(tmp_path / "bad.ini"))


def test_small_helpers(cmd, tmp_path):
    assert cmd.pad("ab", 4) == "ab  " and cmd.pad("ab", 4, dir="right") == "  ab"
    assert cmd.indent_block("a\nb", 2) == "  a\n  b"
    assert cmd.shorten(str(tmp_path / "x")) == "x"
    assert cmd.shorten(str(tmp_path), "a", "b") == os.path.join("a", "b")
    assert cmd.shorten(str(tmp_path)) == ""
    assert cmd.shorten("/elsewhere/x") == "/elsewhere/x"
    assert Helper.here() == os.path.dirname(os.path.abspath(__file__))
    assert cmd.quote_first_command_arg("/a b/c") == "/a b/c"


def test_logging_file_config(cmd, tmp_path):
    import logging
    config = write(tmp_path / "log.ini", """
        [loggers]
        keys = root, thing
        [handlers]
        keys = file
        [formatters]
        keys = plain
        [logger_root]
        level = WARNING
        handlers = file
        [logger_thing]
        level = INFO
        handlers = file
        qualname = thing
        propagate = 0
        [handler_file]
        class = FileHandler
        args = ('%(here)s/out.log', 'w')
        formatter = plain
        [formatter_plain]
        format = %(name)s:%(message)s
    """)
    try:
        cmd.logging_file_config(str(config))
        logging.getLogger("thing").info("hello")
        for handler in logging.getLogger("thing").handlers:
            handler.flush()
        assert (tmp_path / "out.log").read_text() == "thing:hello\n"
    finally:
        for name in ("thing", ""):
            logger = logging.getLogger(name)
            for handler in list(logger.handlers):
                logger.removeHandler(handler)
                handler.close()
