"""``paster serve CONFIG#NAME``: which ``[server:...]`` section serves, against 3.7.0.

Issue 19 item 1: 3.7 loaded the server from the same spec as the
application, so ``app.ini#alt`` served ``[app:alt]`` on ``[server:alt]``
(``--server-name`` still chose another).
"""
from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path

import pytest

from tests.differential.harness import Pair
from tests.differential.test_daemon import APP as DAEMON_APP, wait_for_pid_file
from tests.support import free_port, http_get, pid_alive, port_owner, write

#: Each application says its name; test_daemon's ``dmapp`` runs the server.
APP = '''
def make_app(global_conf, name):
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [f"app={name}".encode()]
    return app
'''


def setup(work: Path) -> None:
    """Two applications and two servers, each side on ports of its own."""
    write(work / "namedapp.py", APP)
    write(work / "dmapp.py", DAEMON_APP)
    write(work / "app.ini", f"""
        [app:main]
        paste.app_factory = namedapp:make_app
        name = main

        [app:alt]
        paste.app_factory = namedapp:make_app
        name = alt

        [server:main]
        paste.server_runner = dmapp:run
        host = 127.0.0.1
        port = {free_port()}

        [server:alt]
        paste.server_runner = dmapp:run
        host = 127.0.0.1
        port = {free_port()}
        """)


def ports(work: Path) -> dict:
    """``{section name: port}`` of the side's config."""
    text = (work / "app.ini").read_text()
    return dict(zip(("main", "alt"), map(int, re.findall(r"port = (\d+)", text))))


def serving(work: Path, timeout: float = 20.0) -> tuple:
    """``(server section, body)``: which of the two ports the daemon listens on."""
    pid = wait_for_pid_file(work / "paster.pid")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for name, port in ports(work).items():
            if port_owner(port, pid):
                # (a request of its own: the runner serves one connection at a time)
                return name, http_get(f"http://127.0.0.1:{port}/")[2].decode()
        time.sleep(0.05)
    raise AssertionError(f"{work}: the daemon listens on neither port")


def stop(results) -> None:
    for result in results:
        path = result.cwd / "paster.pid"
        if path.exists() and path.read_text().strip().isdigit():
            pid = int(path.read_text())
            if pid_alive(pid):
                os.killpg(os.getpgid(pid), signal.SIGKILL)


def test_fragment_names_the_server_section_too(pair: Pair):
    started = pair.run("serve", "app.ini#alt", "start", setup=setup, env={"PYTHONPATH": "."})
    try:
        assert [r.returncode for r in started] == [0, 0], [r.output for r in started]
        old, new = (serving(result.cwd) for result in started)
        assert old == ("alt", "app=alt")
        assert new == old
    finally:
        stop(started)


def test_server_name_option_wins_over_the_fragment(pair: Pair):
    started = pair.run("serve", "--server-name=main", "app.ini#alt", "start", setup=setup,
                       env={"PYTHONPATH": "."})
    try:
        assert [r.returncode for r in started] == [0, 0], [r.output for r in started]
        old, new = (serving(result.cwd) for result in started)
        assert old == new == ("main", "app=alt")
    finally:
        stop(started)
