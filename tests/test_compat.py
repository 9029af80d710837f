"""Names the original PasteScript 3.x exported, for code that imports them."""
import os
import time

from paste.script import command, copydir, epdesc, interfaces, pluginlib, serve
from paste.script.util import logging_config


def test_command_module_names():
    assert command.popdefault({"a": 1}, "a") == 1
    assert command.popdefault({}, "a", 5) == 5
    assert command.python_version.count(".") == 2
    assert command.system_plugins == []


def test_not_found_command_reports_and_exits_2(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert command.NotFoundCommand("nope").run([]) == 2
    assert "Command 'nope' not known" in capsys.readouterr().err


def test_pluginlib_names():
    assert pluginlib.parse_lines("a\n\n  # comment\n b \n") == ["a", "b"]
    assert pluginlib.get_distro("PasteScript").metadata["Name"] == "PasteScript"


def test_copydir_quoting_helpers():
    assert copydir.html_quote('<a href="x">') == "&lt;a href=&quot;x&quot;&gt;"
    assert copydir.html_quote(None) == ""
    assert copydir.url_quote("a b/c") == "a%20b/c"


def test_serve_pidfile_helpers(tmp_path):
    pid_path = tmp_path / "x.pid"
    assert serve.read_pidfile(str(pid_path)) is None
    pid_path.write_text(f"{os.getpid()}\n")
    assert serve.read_pidfile(str(pid_path)) == os.getpid()
    assert serve.live_pidfile(str(pid_path)) == os.getpid()
    pid_path.write_text("999999999\n")
    assert serve.live_pidfile(str(pid_path)) is None
    assert issubclass(serve.DaemonizeException, Exception)


def test_lazy_writer_creates_the_file_on_first_write(tmp_path):
    path = tmp_path / "lazy.log"
    writer = serve.LazyWriter(str(path), "a")
    assert not path.exists()
    writer.write("one\n")
    writer.writelines(["two\n"])
    assert path.read_text() == "one\ntwo\n"


def test_ensure_port_cleanup_waits_until_free():
    import socket

    import pytest
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        with pytest.raises(SystemExit, match=f"port 127.0.0.1:{port}"):
            serve._wait_for_ports_free([("127.0.0.1", port)], maxtries=2, sleeptime=0.05)
    # once closed, the wait returns at once
    start = time.monotonic()
    serve._wait_for_ports_free([("127.0.0.1", port)], maxtries=3, sleeptime=1)
    assert time.monotonic() - start < 0.5


def test_descriptions_and_interfaces():
    for name in ("ConsoleScriptsDescription", "DistutilsCommandsDescription",
                 "SetupKeywordsDescription", "EggInfoWriters", "CreateTemplateDescription"):
        assert getattr(epdesc, name).description.strip()
    assert interfaces.IAppInstall.write_config.__doc__
    assert callable(logging_config.listen) and callable(logging_config.stopListening)


def test_default_sysconfigs_follow_the_environment_and_subclasses(monkeypatch):
    from paste.script.appinstall import AbstractInstallCommand, MakeConfigCommand
    monkeypatch.setenv("PASTE_SYSCONFIG", "/first/sys.py")
    assert AbstractInstallCommand.default_sysconfigs[0] == (False, "/first/sys.py")
    monkeypatch.delenv("PASTE_SYSCONFIG")
    configs = MakeConfigCommand("make-config").default_sysconfigs
    assert (False, "/first/sys.py") not in configs
    assert configs[-1] == (True, "paste.script.default_sysconfig")

    class Quiet(MakeConfigCommand):
        default_sysconfigs = [(True, "my.sysconfig")]

    cmd = Quiet("make-config")
    assert cmd._sysconfig_list(["--sysconfig=a.py"]) == [(True, "a.py"), (True, "my.sysconfig")]
    assert cmd._sysconfig_list(["--no-default-sysconfig"]) == []


def test_make_config_info_goes_through_show_info(capsys, monkeypatch):
    from paste.script.appinstall import MakeConfigCommand
    shown = []

    class Shy(MakeConfigCommand):
        def show_info(self):
            shown.append(self.installer.ep_name)

    assert Shy("make-config").run(["--no-default-sysconfig", "--info", "PasteScript#x"]) == 0
    assert shown == ["x"]


def test_parse_exe_file_reads_3x_keys(tmp_path, monkeypatch):
    config = tmp_path / "app.ini"
    config.write_text("[exe]\ncommand = serve\noptions = -v 'a b'\nsys.path = lib\n")
    monkeypatch.setattr("sys.path", list(__import__("sys").path))
    assert command.parse_exe_file(str(config)) == ["serve", str(config), "-v", "a b"]
    assert __import__("sys").path[0] == str(tmp_path / "lib")
    assert command.parse_exe_file(str(tmp_path / "none.ini")) == ["exe", str(tmp_path / "none.ini")]


def test_grep_code_helpers(tmp_path):
    from paste.script.grep import code_uses, occurrence_lines
    source = tmp_path / "m.py"
    source.write_text("x = 1\n\ndef f(spam):\n    y = spam\n    return spam\n")
    code = compile(source.read_text(), str(source), "exec")
    uses = code_uses(code, "spam", str(source), [])
    assert [path for _, path in uses] == [["f"]]
    assert occurrence_lines(uses[0][0], "spam", every=False) == [(4, "y = spam")]
    assert occurrence_lines(uses[0][0], "spam", every=True) == [(4, "y = spam"), (5, "return spam")]


def test_help_prints_the_global_options_of_base_parser(capsys, monkeypatch):
    from paste.script import help as help_mod
    assert help_mod.base_parser is command.parser
    printed = []
    monkeypatch.setattr(help_mod.base_parser, "print_help", lambda: printed.append(True))
    help_mod.HelpCommand("help").generic_help()
    assert printed == [True]
