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
