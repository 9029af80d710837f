"""The ``ServeCommand`` API of 3.x that subclasses and scripts use, run for real.

``paster serve`` itself goes through the serving engine; these methods and
attributes are what code written against 3.x calls directly.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import paste.deploy

from paste.script import serve
from tests.support import (PYTHON, free_port, http_get, paster_env, pid_alive, stop_process,
                           wait_for_port, write)

APP = '''
import os


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [f"pid={os.getpid()} uid={os.getuid()} spec={environ['test.spec']!r}".encode()]
'''


def start_script(tmp_path, code: str) -> subprocess.Popen:
    write(tmp_path / "apimod.py", APP)
    write(tmp_path / "script.py", code)
    return subprocess.Popen([PYTHON, str(tmp_path / "script.py")], cwd=tmp_path,
                            env=paster_env(PYTHONPATH=str(tmp_path)), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)


def test_module_names_of_3x():
    assert serve.loadapp is paste.deploy.loadapp
    assert serve.loadserver is paste.deploy.loadserver
    assert serve.ServeCommand.possible_subcommands == ("start", "stop", "restart", "status")
    assert serve.ServeCommand.requires_config_file is True


def no_config_command(port: int, call: str = "") -> str:
    """A 3.x-style subclass that serves without a config file; its
    ``command()`` is ``call`` when given (run through ``Command.run``)."""
    return f'''
import sys
from paste.script.serve import ServeCommand


class NoConfig(ServeCommand):
    requires_config_file = False

    def loadapp(self, app_spec, name, relative_to, **kw):
        import apimod

        def app(environ, start_response):
            environ["test.spec"] = app_spec
            return apimod.app(environ, start_response)
        return app

    def loadserver(self, server_spec, name, relative_to, **kw):
        from paste.script.wsgiutils_server import run_server
        return lambda app: run_server(app, {{}}, host="127.0.0.1", port="{port}")
{"" if not call else f"""
    def command(self):
        return {call}
"""}

sys.exit(NoConfig("serve").run([]))
'''


def test_a_subclass_without_a_config_file_serves(tmp_path):
    port = free_port()
    proc = start_script(tmp_path, no_config_command(port))
    try:
        wait_for_port(port, proc=proc)
        status, _, body = http_get(f"http://127.0.0.1:{port}/")
        assert status == 200 and body.endswith(b"spec=''"), body
    finally:
        output = stop_process(proc)
    assert proc.returncode == 0, output
    assert "Starting server in PID" in output


def test_restart_with_reloader_serves_and_reloads(tmp_path):
    port = free_port()
    proc = start_script(tmp_path, no_config_command(port, "self.restart_with_reloader()"))
    try:
        wait_for_port(port, proc=proc)
        first = http_get(f"http://127.0.0.1:{port}/")[2]
        write(tmp_path / "apimod.py", APP.replace("pid=", "new pid="))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            body = http_get(f"http://127.0.0.1:{port}/")[2]
            if body.startswith(b"new "):
                break
            time.sleep(0.05)
        assert body.startswith(b"new ") and first.startswith(b"pid="), (first, body)
    finally:
        output = stop_process(proc)
    assert proc.returncode == 0, output


def test_restart_with_monitor_replaces_a_dead_worker(tmp_path):
    port = free_port()
    proc = start_script(tmp_path, no_config_command(port, "self.restart_with_monitor()"))
    try:
        wait_for_port(port, proc=proc)
        worker = int(http_get(f"http://127.0.0.1:{port}/")[2].split()[0].split(b"=")[1])
        assert worker != proc.pid
        os.kill(worker, signal.SIGKILL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            status, _, body = http_get(f"http://127.0.0.1:{port}/", timeout=2)
            if status == 200 and int(body.split()[0].split(b"=")[1]) != worker:
                break
            time.sleep(0.05)
        assert int(body.split()[0].split(b"=")[1]) not in (worker, proc.pid)
    finally:
        output = stop_process(proc)
    assert proc.returncode == 0, output


def test_daemonize_then_record_pid(tmp_path):
    pid_file = tmp_path / "d.pid"
    code = f'''
import time
from paste.script.serve import ServeCommand, DaemonizeException


class Detached(ServeCommand):
    def command(self):
        try:
            self.daemonize()
        except DaemonizeException as exc:
            print("refused:", exc, flush=True)
            return 0
        self.record_pid(self.options.pid_file)
        time.sleep(60)


Detached("serve").run(["--pid-file", {str(pid_file)!r}])
'''
    first = start_script(tmp_path, code)
    assert first.wait(20) == 0                  # the original process returns at once
    deadline = time.monotonic() + 10
    while not (pid_file.exists() and pid_file.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.02)
    daemon_pid = int(pid_file.read_text())
    try:
        assert daemon_pid != first.pid and pid_alive(daemon_pid)
        # detached: a new session (not led by it, so it never gets a terminal)
        assert os.getsid(daemon_pid) not in (os.getsid(0), daemon_pid)
        second = start_script(tmp_path, code)
        out = second.communicate(timeout=20)[0]
        assert f"refused: Daemon is already running (PID: {daemon_pid}" in out
    finally:
        os.kill(daemon_pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while pid_alive(daemon_pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not pid_alive(daemon_pid)
    assert not pid_file.exists()                # removed when the recording process exits


def test_change_user_group(tmp_path):
    assert os.geteuid() == 0, "the project's tests run as root (see .ci/run)"
    code = '''
import os
from paste.script.serve import ServeCommand
from paste.script.command import BadCommand


class Switch(ServeCommand):
    def command(self):
        try:
            self.change_user_group("no-such-user-here", None)
        except BadCommand as exc:
            print("bad:", exc)
        self.change_user_group("nobody", None)
        print("now", os.getuid(), os.getgid())


Switch("serve").run([])
'''
    proc = start_script(tmp_path, code)
    out = proc.communicate(timeout=20)[0]
    import pwd
    nobody = pwd.getpwnam("nobody")
    assert "bad: " in out and "no-such-user-here" in out, out
    assert f"Changing user to nobody:(unknown) ({nobody.pw_uid}:{nobody.pw_gid})" in out
    assert f"now {nobody.pw_uid} {nobody.pw_gid}" in out
