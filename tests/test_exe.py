"""paster exe and #!/usr/bin/env paster configs."""
import contextlib
import os
import signal
import subprocess
import sys

import pytest

from paste.script.command import main
from paste.script.daemon import PidFile
from paste.script.exe import ExeCommand, exe_command_line
from tests.serving_support import parent_of
from tests.support import free_port, http_get, paster_env, pid_alive, wait_for_port, write

ECHO_COMMAND = """
    import os
    from paste.script.command import Command

    class EchoCommand(Command):
        summary = "Print what it was given"
        takes_config_file = -1
        parser = Command.standard_parser(verbose=True)
        parser.add_option("--level", dest="level")
        parser.add_option("--with-dash", dest="with_dash", action="store_true")
        parser.add_option("--off", dest="off", action="store_true")

        def command(self):
            print("ARGS", self.args)
            print("LEVEL", self.options.level, "DASH", self.options.with_dash,
                  "OFF", self.options.off)
            print("CONFIG", os.environ.get("PASTE_CONFIG_FILE"))
            import exehelper
            print("HELPER", exehelper.VALUE)
"""


def test_command_line_from_exe_section(tmp_path):
    ini = write(tmp_path / "tool.ini", """
        #!/usr/bin/env paster
        [exe]
        command = echo
        add = one "two words" %(here)s/x
        plugin = FirstPlugin SecondPlugin
        sys.path = lib ../shared
        level = 3
        with_dash = true
        off = false
        config = %(__file__)s
    """)
    command, args, plugins, sys_path = exe_command_line(str(ini))
    assert command == "echo"
    assert args == ["one", "two words", f"{tmp_path}/x", "--level=3", "--with-dash",
                    f"--config={ini}"]
    assert plugins == ["FirstPlugin", "SecondPlugin"]
    assert sys_path == [str(tmp_path / "lib"), str(tmp_path.parent / "shared")]


def test_no_exe_section_means_serve(tmp_path):
    ini = write(tmp_path / "plain.ini", "[app:main]\nuse = egg:PasteScript#test\n")
    assert exe_command_line(str(ini)) == ("serve", [], [], [])


def test_exe_runs_plugin_command_with_options_and_config(fake_site, capsys):
    fake_site("ExePlugin", entry_points="""
        [paste.paster_command]
        echo = exeplugin:EchoCommand
    """, modules={"exeplugin.py": ECHO_COMMAND})
    lib = fake_site.work / "lib"
    write(lib / "exehelper.py", "VALUE = 'from the [exe] sys.path'\n")
    ini = write(fake_site.work / "tool.ini", """
        #!/usr/bin/env paster
        [exe]
        command = echo
        plugin = ExePlugin
        sys.path = lib
        add = first "second arg"
        level = 7
        with_dash = true
        off = false
    """)
    try:
        rc = main(["exe", str(ini), "typed"])
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(str(lib))
        sys.modules.pop("exehelper", None)
    out = capsys.readouterr().out
    assert rc == 0, out
    assert f"ARGS ['first', 'second arg', 'typed', '{ini}']" in out
    assert "LEVEL 7 DASH True OFF None" in out
    assert f"CONFIG {ini}" in out
    assert "HELPER from the [exe] sys.path" in out
    assert "PASTE_CONFIG_FILE" not in os.environ


def test_exe_is_hidden():
    assert ExeCommand.hidden is True
    assert ExeCommand.summary == "Run #! executable files"


@pytest.mark.parametrize("content,message", [
    (None, "No such file: "),
    ("[exe]\ncommand = no-such-command\n", "Command 'no-such-command' (from [exe] of "),
    ("[exe]\nadd = \"unbalanced\n", "Bad value for option 'add' in [exe] of "),
    ("[exe]\nuser = %(nothing)s\n", "Bad [exe] section in "),
    ("not an ini file\n", "Cannot parse "),
])
def test_bad_exe_files(tmp_path, monkeypatch, capsys, content, message):
    monkeypatch.chdir(tmp_path)
    ini = tmp_path / "bad.ini"
    if content is not None:
        ini.write_text(content)
    rc = main(["exe", str(ini)])
    err = capsys.readouterr().err
    assert rc != 0
    assert message in err
    assert err.strip().count("\n") == 0 and "Traceback" not in err


def test_exe_status_in_process(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    ini = write(tmp_path / "app.ini", """
        #!/usr/bin/env paster
        [exe]
        command = serve
        pid_file = %(here)s/nothing.pid

        [app:main]
        use = egg:PasteScript#test
    """)
    assert main(["exe", str(ini), "status"]) == 3
    assert f"No PID file {tmp_path}/nothing.pid" in capsys.readouterr().out


APP = """
    import os

    def make_app(global_conf, **local_conf):
        def app(environ, start_response):
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [f"rc script pid={os.getpid()}".encode()]
        return app
"""


@pytest.fixture
def rc_script(tmp_path):
    """An executable config acting as an rc script; its daemon is killed at the end."""
    port = free_port()
    write(tmp_path / "lib" / "rcapp.py", APP)
    script = write(tmp_path / "app.ini", f"""
        #!/usr/bin/env paster
        [exe]
        command = serve
        daemon = true
        pid_file = %(here)s/app.pid
        log_file = %(here)s/app.log
        sys.path = lib
        add = http_port={port}

        [app:main]
        paste.app_factory = rcapp:make_app

        [server:main]
        use = egg:waitress#main
        host = 127.0.0.1
        port = %(http_port)s
    """, mode=0o755)
    yield script, port
    status = PidFile(str(tmp_path / "app.pid")).status()
    if status.running and status.pid:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(os.getpgid(status.pid), signal.SIGKILL)


def run_script(script, action):
    """``./app.ini ACTION`` from a shell, as an rc system would run it."""
    env = paster_env(PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    env.pop("PYTHONPATH", None)
    return subprocess.run(f"./{script.name} {action}", shell=True, cwd=script.parent,
                          env=env, capture_output=True, text=True, timeout=60)


def test_executable_config_as_rc_script(rc_script):
    script, port = rc_script
    pid_path = script.parent / "app.pid"
    started = run_script(script, "start")
    assert started.returncode == 0, started.stdout + started.stderr
    pid = int(pid_path.read_text())
    wait_for_port(port, pid=pid)
    answer = http_get(f"http://127.0.0.1:{port}/")[2].decode()
    worker = int(answer.split("pid=")[1])
    assert answer.startswith("rc script pid=") and parent_of(worker) == pid

    status = run_script(script, "status")
    assert (status.returncode, status.stdout.strip()) == (0, f"Server running in PID {pid}")

    restarted = run_script(script, "restart")
    assert restarted.returncode == 0, restarted.stdout + restarted.stderr
    # Same server (pid file, pid), new workers.
    assert int(pid_path.read_text()) == pid
    new_worker = int(http_get(f"http://127.0.0.1:{port}/")[2].decode().split("pid=")[1])
    assert new_worker != worker and parent_of(new_worker) == pid

    stopped = run_script(script, "stop")
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert not pid_alive(pid) and not pid_alive(new_worker) and not pid_path.exists()
    assert run_script(script, "status").returncode == 3
    assert run_script(script, "stop").returncode == 0        # LSB: already stopped
    assert f"Starting server in PID {pid}." in (script.parent / "app.log").read_text()


def test_default_section_keys_are_not_exe_options(tmp_path):
    # [DEFAULT] values show up in every configparser section; they are for
    # the app, never options of the command [exe] runs.
    from paste.script.exe import exe_command_line
    config = tmp_path / "app.ini"
    config.write_text("#!/usr/bin/env paster\n[DEFAULT]\ngreeting = hello\n\n"
                      "[exe]\ncommand = serve\nlog_file = %(here)s/x.log\n\n[app:main]\nuse = egg:PasteScript#test\n")
    command, args, plugins, sys_path = exe_command_line(str(config))
    assert command == "serve"
    assert args == [f"--log-file={tmp_path}/x.log"]
