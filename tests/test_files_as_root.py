"""Pid, log and state files of a `paster serve` run as root: never followed through a link.

These run as root with the real unprivileged user ``nobody`` (docs/deployment.rst,
"Files written as root"). Each planted link points at a root-owned file that must
stay byte for byte as it was.
"""
import contextlib
import grp
import json
import os
import pwd
import shutil
import signal
import stat
import tempfile
import time
from pathlib import Path

import pytest

from tests.support import free_port, http_get, paster_env, pid_alive, run_paster, wait_for_port, write

pytestmark = pytest.mark.root

APP = """
    import os, sys

    def make_app(global_conf, **local_conf):
        def app(environ, start_response):
            sys.stderr.write(f"request {environ['PATH_INFO']}\\n")
            sys.stderr.flush()
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [f"pid={os.getpid()} uid={os.getuid()}".encode()]
        return app
"""

CONFIG = """
    [app:main]
    paste.app_factory = rootapp:make_app

    [server:main]
    use = egg:waitress#main
    host = 127.0.0.1
    port = %(http_port)s
"""

SECRET = b"root:only, not to be written through a link\n"


@pytest.fixture
def site():
    """A directory that ``nobody`` can read (the app, the config), for the server's files.

    Outside pytest's own temporary tree, which only root may enter; removed
    afterwards with whatever daemon a failed test left running.
    """
    path = Path(tempfile.mkdtemp(prefix="paste-root-test-"))
    path.chmod(0o755)
    write(path / "rootapp.py", APP)
    write(path / "app.ini", CONFIG)
    yield path
    for pid_path in path.glob("*.pid"):
        with contextlib.suppress(OSError, ValueError):
            pid = int(pid_path.read_text())     # through a link too: main's daemons
            if pid_alive(pid):
                os.killpg(os.getpgid(pid), signal.SIGKILL)
    shutil.rmtree(path)


@pytest.fixture
def precious(tmp_path):
    """A root-owned file, the kind a link planted by a user would point to."""
    target = tmp_path / "precious"
    target.write_bytes(SECRET)
    target.chmod(0o600)
    return target


@pytest.fixture
def nobody():
    user = pwd.getpwnam("nobody")
    group = next(g for g in ("nogroup", "nobody") if _group_exists(g))
    return user.pw_uid, grp.getgrnam(group).gr_gid, group


def _group_exists(name):
    try:
        grp.getgrnam(name)
        return True
    except KeyError:
        return False


def paster(site, *args, port=0):
    return run_paster("serve", "app.ini", *args, f"http_port={port}", cwd=site,
                      env=paster_env(PYTHONPATH=os.pathsep.join(
                          [str(site)] + [p for p in os.environ.get("PYTHONPATH", "").split(
                              os.pathsep) if p])))


def one_line_error(result):
    assert result.returncode != 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def wait_until(check, what, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def test_symlinked_pid_and_log_files_are_refused(site, precious):
    port = free_port()
    (site / "app.pid").symlink_to(precious)
    result = paster(site, "start", "--pid-file", "app.pid", "--log-file", "app.log", port=port)
    assert one_line_error(result) == (f"Cannot create pid file {site / 'app.pid'}: "
                                      "it is a symbolic link, which is never followed")
    for action, code in (("status", 4), ("stop", 1)):
        result = paster(site, action, "--pid-file", "app.pid", port=port)
        assert "symbolic link" in one_line_error(result)
        assert result.returncode == code
    (site / "app.pid").unlink()

    (site / "app.log").unlink(missing_ok=True)      # opened first, before the pid file
    (site / "app.log").symlink_to(precious)
    result = paster(site, "start", "--pid-file", "app.pid", "--log-file", "app.log", port=port)
    assert one_line_error(result) == ("Cannot open log file app.log: "
                                      "it is a symbolic link, which is never followed")
    assert not (site / "app.pid").exists()
    dangling = site / "dangling.log"
    dangling.symlink_to(site / "made-through-a-link")
    result = paster(site, "--log-file", "dangling.log", port=port)
    assert "symbolic link" in one_line_error(result)
    assert not (site / "made-through-a-link").exists()
    os.link(precious, site / "hard.log")
    result = paster(site, "--log-file", "hard.log", port=port)
    assert "other hard links" in one_line_error(result)
    assert precious.read_bytes() == SECRET and stat.S_IMODE(precious.stat().st_mode) == 0o600


def _start(site, *args, port):
    started = paster(site, "start", "--pid-file", "app.pid", "--log-file", "app.log", *args,
                     port=port)
    assert started.returncode == 0, started.stdout + started.stderr
    monitor = int((site / "app.pid").read_text())
    wait_for_port(port, pid=monitor)
    return monitor


def test_state_file_updates_never_write_through_a_planted_link(site, precious):
    port = free_port()
    monitor = _start(site, port=port)
    state = site / "app.pid.state"
    # 3.7-era engines wrote "<state>.<pid>.tmp": a name anyone could guess.
    guessed = site / f"app.pid.state.{monitor}.tmp"
    guessed.symlink_to(precious)
    state.unlink()
    state.symlink_to(precious)
    os.kill(monitor, signal.SIGTTIN)        # one more worker: the monitor rewrites its state
    wait_until(lambda: not state.is_symlink() and state.exists(), "a new state file")
    assert json.loads(state.read_text())["pid"] == monitor
    assert precious.read_bytes() == SECRET
    assert guessed.is_symlink() and os.readlink(guessed) == str(precious)
    stopped = paster(site, "stop", "--pid-file", "app.pid", port=port)
    assert stopped.returncode == 0, stopped.stderr
    assert precious.read_bytes() == SECRET
    assert not state.exists() and not (site / "app.pid").exists()


def test_state_file_taken_over_by_another_monitor_is_left_to_it(site):
    port = free_port()
    monitor = _start(site, port=port)
    state = site / "app.pid.state"
    # ``start`` returns once the state is written: nothing rewrites it after.
    assert json.loads(state.read_text())["workers"]
    successor = {"pid": monitor + 100000, "reloads": 0, "reloaded": 0, "ok": True,
                 "error": "", "workers": []}
    write(site / "successor.tmp", json.dumps(successor))
    os.replace(site / "successor.tmp", state)     # as a re-executed monitor writes it
    stopped = paster(site, "stop", "--pid-file", "app.pid", port=port)
    assert stopped.returncode == 0, stopped.stderr
    assert not pid_alive(monitor)
    assert json.loads(state.read_text()) == successor


def _request_lands(port, path, log, timeout=20.0):
    """Ask ``path`` until the app's line for it is in ``log`` (workers switch files
    when the monitor's message reaches them, just after SIGUSR1); the answer."""
    deadline = time.monotonic() + timeout
    n = 0
    while time.monotonic() < deadline:
        n += 1
        status, _, body = http_get(f"http://127.0.0.1:{port}{path}-{n}")
        assert status == 200
        if f"request {path}-{n}\n" in log.read_text():
            return body.decode()
        time.sleep(0.02)
    raise AssertionError(f"no request {path} in {log}:\n{log.read_text()}")


def test_user_nobody_keeps_its_log_through_rotations_and_its_pid_file_is_removed(
        site, precious, nobody):
    uid, gid, group = nobody
    port = free_port()
    pid_path, log = site / "app.pid", site / "app.log"
    pid_path.write_text("999999999\n")      # stale, root's: kept as root's
    monitor = _start(site, "-v", "--user", "nobody", "--group", group, port=port)
    assert (pid_path.stat().st_uid, log.stat().st_uid) == (0, uid)   # only the new log is given
    assert f"uid={uid}" in _request_lands(port, "/first", log)

    # logrotate with "create 0640 root adm": the file in place keeps its owner.
    log.rename(site / "app.log.1")
    log.touch(mode=0o640)
    os.chmod(log, 0o640)
    os.kill(monitor, signal.SIGUSR1)
    wait_until(lambda: "SIGUSR1: reopened" in log.read_text(), "the reopened log")
    _request_lands(port, "/second", log)
    assert (log.stat().st_uid, stat.S_IMODE(log.stat().st_mode)) == (0, 0o640)

    # Without "create": the monitor makes the file and gives it to the user.
    log.rename(site / "app.log.2")
    os.kill(monitor, signal.SIGUSR1)
    wait_until(lambda: log.exists() and "SIGUSR1: reopened" in log.read_text(), "a new log")
    _request_lands(port, "/third", log)
    assert (log.stat().st_uid, log.stat().st_gid) == (uid, gid)

    # A link planted where the log was: refused, the workers keep the current file.
    log.rename(site / "app.log.3")
    log.symlink_to(precious)
    os.kill(monitor, signal.SIGUSR1)
    wait_until(lambda: "SIGUSR1: cannot reopen" in (site / "app.log.3").read_text(),
               "the refusal")
    assert "symbolic link" in (site / "app.log.3").read_text()
    _request_lands(port, "/fourth", site / "app.log.3")
    assert precious.read_bytes() == SECRET

    stopped = paster(site, "stop", "--pid-file", "app.pid", port=port)
    assert stopped.returncode == 0, stopped.stderr
    assert not pid_path.exists() and not pid_alive(monitor)
    assert precious.read_bytes() == SECRET
