"""``paster serve CONFIG start|stop|status`` against 3.7.0: the rc-script contract."""
from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path

from tests.differential.harness import Pair
from tests.support import free_port, http_get, pid_alive, wait_for_port, write

APP = '''
import os
from wsgiref.simple_server import WSGIRequestHandler, make_server


def make_app(global_conf, **local_conf):
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [f"pid={os.getpid()}".encode()]
    return app


class Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass


def run(app, global_conf, host, port):
    make_server(host, int(port), app, handler_class=Quiet).serve_forever()
'''


def setup(work: Path) -> None:
    """The same application on both sides; each side its own port."""
    write(work / "dmapp.py", APP)
    write(work / "app.ini", f"""
        [app:main]
        paste.app_factory = dmapp:make_app

        [server:main]
        paste.server_runner = dmapp:run
        host = 127.0.0.1
        port = {free_port()}
        """)


def port_of(work: Path) -> int:
    return int(re.search(r"port = (\d+)", (work / "app.ini").read_text()).group(1))


def wait_for_pid_file(path: Path, timeout: float = 15.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = path.read_text().strip() if path.exists() else ""
        if text.isdigit():
            return int(text)
        time.sleep(0.05)
    raise AssertionError(f"no pid in {path}")


def said(result) -> str:
    """What a command printed, with process ids as N."""
    return re.sub(r"\b\d{2,}\b", "N", result.output)


def test_start_twice_stop_twice(pair: Pair):
    env = {"PYTHONPATH": "."}
    started = pair.run("serve", "app.ini", "start", setup=setup, env=env)
    try:
        for result in started:
            assert result.returncode == 0, (result.side, result.output)
            pid = wait_for_pid_file(result.cwd / "paster.pid")
            wait_for_port(port_of(result.cwd), pid=pid)
            assert http_get(f"http://127.0.0.1:{port_of(result.cwd)}/")[0] == 200

        # Starting a running server starts nothing, says so, and succeeds.
        old, new = pair.run("serve", "app.ini", "start", env=env, again=started)
        assert (old.returncode, new.returncode) == (0, 0), (old.output, new.output)
        assert said(old) == "Daemon is already running (PID: N from PID file paster.pid)\n"
        assert said(new) == "Server already running in PID N (pid file {work}/paster.pid)\n"

        old, new = pair.run("serve", "app.ini", "status", env=env, again=started)
        assert (old.returncode, new.returncode) == (0, 0)
        assert said(old) == said(new) == "Server running in PID N\n"

        pids = [int((r.cwd / "paster.pid").read_text()) for r in started]
        old, new = pair.run("serve", "app.ini", "stop", env=env, again=started)
        assert (old.returncode, new.returncode) == (0, 0), (old.output, new.output)
        assert (said(old), said(new)) == ("", "Server in PID N stopped\n")
        assert not any(pid_alive(pid) for pid in pids)
        assert not any((r.cwd / "paster.pid").exists() for r in started)

        # Stopping a stopped server: 3.7 exited 1; LSB (and we) say 0.
        old, new = pair.run("serve", "app.ini", "stop", env=env, again=started)
        assert (old.returncode, new.returncode) == (1, 0), (old.output, new.output)
        assert said(old) == "No PID file exists in paster.pid\nCould not stop daemon\n"
        assert said(new) == "No PID file {work}/paster.pid: server not running\n"

        # Status of a stopped server: 3.7 exited 1; LSB's "not running" is 3.
        old, new = pair.run("serve", "app.ini", "status", env=env, again=started)
        assert (old.returncode, new.returncode) == (1, 3), (old.output, new.output)
        assert said(old) == "No PID file paster.pid\n"
        assert said(new) == "No PID file {work}/paster.pid: server not running\n"
    finally:
        for result in started:
            path = result.cwd / "paster.pid"
            if path.exists() and path.read_text().strip().isdigit():
                pid = int(path.read_text())
                if pid_alive(pid):
                    os.killpg(os.getpgid(pid), signal.SIGKILL)
