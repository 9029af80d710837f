"""systemd integration for real: socket activation and readiness notification.

The units are read from ``docs/deployment.rst``; their ``ExecStart`` line
runs under ``systemd-socket-activate`` (Debian package ``systemd``), which
opens the ``.socket`` unit's ``ListenStream`` and passes it to the server as
systemd would (``LISTEN_PID``/``LISTEN_FDS``), with ``NOTIFY_SOCKET`` naming
a datagram socket this test reads. ``ExecReload`` and ``KillSignal`` are
then applied as systemd would.
"""
from __future__ import annotations

import configparser
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from paste.script.serving.systemd import Notifier, listen_fds
from tests.serving_support import Output, children
from tests.serving_support import get as shared_get
from tests.support import ROOT, free_port, paster_env, write

APP = """\
import os
VERSION = "{version}"

def make_app(global_conf, **local_conf):
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [f"{{VERSION}} pid={{os.getpid()}}".encode()]
    return app
"""


def shop(directory: Path, port: int) -> Path:
    """The shop application (v1) and its config, listening on ``port`` unless activated."""
    write(directory / "shopapp.py", APP.format(version="v1"))
    return write(directory / "shop.ini", f"""
        [app:main]
        paste.app_factory = shopapp:make_app

        [server:main]
        use = egg:waitress#main
        host = 127.0.0.1
        port = {port}
    """)


def unit(name: str) -> configparser.ConfigParser:
    """The unit ``/etc/systemd/system/NAME`` as docs/deployment.rst shows it."""
    text = (ROOT / "docs" / "deployment.rst").read_text()
    match = re.search(rf"::\n\n    # /etc/systemd/system/{re.escape(name)}\n((?:    .*\n|\n)+?)(?=\S)", text)
    assert match, f"no {name} unit in docs/deployment.rst"
    body = "\n".join(line[4:] for line in match.group(1).splitlines())
    parser = configparser.ConfigParser(strict=False, interpolation=None,
                                       comment_prefixes=("#",))
    parser.optionxform = str
    parser.read_string(body)
    return parser


class NotifySocket:
    """A datagram socket standing in for systemd's, receiving ``sd_notify`` messages."""

    def __init__(self, path: Path):
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.messages: list[dict] = []

    def next(self, timeout: float = 30.0) -> dict:
        self.sock.settimeout(timeout)
        data = self.sock.recv(4096).decode()
        message = dict(line.split("=", 1) for line in data.splitlines() if "=" in line)
        self.messages.append(message)
        return message

    def close(self):
        self.sock.close()


def get(port: int, timeout: float = 10.0) -> str:
    """The body of a 200 answer on ``port`` (the shared client; anything else fails)."""
    errors: list = []
    body = shared_get(f"http://127.0.0.1:{port}/", timeout=timeout, errors=errors)
    assert body is not None, errors
    return body


def cache_dir(tmp_path: Path) -> list:
    """The ``-E`` option that gives the service an entry-point cache under
    ``tmp_path``: systemd-socket-activate passes its child only the
    variables named with ``-E``, so the one the tests set would be lost and
    the server would write ``~/.cache/paste-script``."""
    return ["-E", f"PASTE_SCRIPT_CACHE_DIR={tmp_path / 'cache'}"]


@pytest.fixture
def activate():
    path = shutil.which("systemd-socket-activate")
    assert path, "systemd-socket-activate is missing (Debian package systemd, see .ci/run)"
    return path


def test_the_documented_units_under_socket_activation_and_notify(tmp_path, activate):
    service, socket_unit = unit("shop.service"), unit("shop.socket")
    assert service["Service"]["Type"] == "notify"
    assert service["Service"]["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert service["Service"]["KillSignal"] == "SIGTERM"
    listen = socket_unit["Socket"]["ListenStream"]
    assert listen == "127.0.0.1:8081"

    # The config listens elsewhere: under socket activation the unit's socket wins.
    config_port, port = free_port(), free_port()
    config = shop(tmp_path, config_port)
    argv = shlex.split(service["Service"]["ExecStart"])
    paster = str(Path(sys.executable).with_name("paster"))
    argv = [paster if arg == "/srv/shop/venv/bin/paster" else
            str(config) if arg == "/srv/shop/shop.ini" else arg for arg in argv]
    assert argv[1:4] == ["serve", "--workers", "4"]
    notify = NotifySocket(tmp_path / "notify")
    env = paster_env(PYTHONPATH=str(tmp_path))
    proc = subprocess.Popen(
        [activate, "-l", listen.replace("8081", str(port)), *cache_dir(tmp_path),
         "-E", f"NOTIFY_SOCKET={notify.path}", "-E", f"PYTHONPATH={tmp_path}", *argv],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True)
    out = Output(proc)
    try:
        out.wait_for(rf"Listening on 127.0.0.1:{port} as 3")
        # systemd-socket-activate starts the service on the first connection,
        # which waits in the socket's queue meanwhile.
        first = get(port, timeout=60)
        assert first.startswith("v1 pid=")
        ready = notify.next()
        mainpid = int(ready["MAINPID"])
        assert ready["READY"] == "1" and mainpid == proc.pid     # exec'd in place
        assert len(children(mainpid)) == 4
        assert "Starting server in PID" in out.wait_for(r"Starting server in PID \d+").string
        with pytest.raises(OSError):                             # the config's port is unused
            socket.create_connection(("127.0.0.1", config_port), timeout=1).close()

        write(tmp_path / "shopapp.py", APP.format(version="v2") + "\n# v2\n")
        reload_command = service["Service"]["ExecReload"].replace("$MAINPID", str(mainpid))
        subprocess.run(shlex.split(reload_command), check=True)
        reloading = notify.next()
        assert reloading["RELOADING"] == "1" and int(reloading["MONOTONIC_USEC"]) > 0
        ready = notify.next()
        assert ready["READY"] == "1" and ready["STATUS"].startswith("reloaded")
        assert get(port).startswith("v2 ")

        proc.send_signal(getattr(signal, service["Service"]["KillSignal"]))
        assert notify.next()["STOPPING"] == "1"
        assert proc.wait(30) == 0
        assert [sorted(m) for m in notify.messages] == [
            ["MAINPID", "READY", "STATUS"], ["MONOTONIC_USEC", "RELOADING", "STATUS"],
            ["MAINPID", "READY", "STATUS"], ["STOPPING"]]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
        notify.close()
    assert "Traceback" not in out.finish()
    # The entry-point cache went where -E said, not to ~/.cache.
    assert list((tmp_path / "cache").glob("entry-points-*.marshal"))


def test_a_broken_deploy_is_notified_and_the_service_stays_ready(tmp_path, activate):
    port = free_port()
    config = shop(tmp_path, free_port())
    notify = NotifySocket(tmp_path / "notify")
    proc = subprocess.Popen(
        [activate, "-l", f"127.0.0.1:{port}", *cache_dir(tmp_path),
         "-E", f"NOTIFY_SOCKET={notify.path}", "-E", f"PYTHONPATH={tmp_path}",
         str(Path(sys.executable).with_name("paster")), "serve", str(config)],
        cwd=tmp_path, env=paster_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, start_new_session=True)
    out = Output(proc)
    try:
        out.wait_for(rf"Listening on 127.0.0.1:{port} as 3")
        assert get(port, timeout=60).startswith("v1 ")
        assert notify.next()["READY"] == "1"
        write(tmp_path / "shopapp.py", "raise ImportError('half-deployed')\n")
        proc.send_signal(signal.SIGHUP)
        assert notify.next()["RELOADING"] == "1"
        ready = notify.next()
        assert ready["READY"] == "1"
        assert ready["STATUS"] == "reload failed: ImportError: half-deployed"
        assert get(port).startswith("v1 ")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
        notify.close()
    assert "The new code failed to load; the previous workers keep serving:" in out.finish()


def test_listen_fds_takes_only_what_was_passed_to_this_process(monkeypatch):
    env = {"LISTEN_PID": str(os.getpid() + 1), "LISTEN_FDS": "1", "LISTEN_FDNAMES": "x"}
    assert listen_fds(env) == [] and env == {}        # meant for another process: cleared
    assert listen_fds({"LISTEN_PID": "garbage", "LISTEN_FDS": "1"}) == []


def test_notifier_speaks_to_an_abstract_socket_and_is_silent_without_one():
    name = f"paste-test-{os.getpid()}"
    receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    receiver.bind("\0" + name)
    receiver.settimeout(5)
    env = {"NOTIFY_SOCKET": "@" + name}
    notifier = Notifier(env)
    assert env == {} and notifier.active          # read once, not passed on to workers
    notifier.stopping("bye")
    assert receiver.recv(100) == b"STOPPING=1\nSTATUS=bye"
    receiver.close()
    quiet = Notifier({})
    assert not quiet.active
    quiet.ready()                                 # nothing to send to: nothing happens
