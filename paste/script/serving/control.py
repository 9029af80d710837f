# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""The state file of a running server, and ``restart`` against it.

A server with a pid file keeps a small JSON *state file* next to it
(``paster.pid.state``): its workers, its graceful timeout, and the outcome
of its reloads. ``paster serve … restart`` sends SIGHUP to the running
monitor and reads there whether the new code serves, or why not; ``stop``
reads how long the workers may take to finish. The file is replaced
atomically, and removed with the pid file.
"""
from __future__ import annotations

import os
import signal
import time

__all__ = ["StateFile", "read_state", "reload_running", "state_path"]

#: A state file is a few hundred bytes; a bigger one is not ours.
_MAX_STATE = 1 << 20


def state_path(pid_path: str) -> str:
    """Where the state file of the server with pid file ``pid_path`` lives."""
    return pid_path + ".state"


class StateFile:
    """Written by the monitor (a dict kept up to date); read by ``restart`` and ``stop``.

    Each update writes a new file under a random name in the same directory
    (created exclusively, so never through a link someone planted) and
    renames it over the old one, which replaces a symbolic link rather
    than following it.
    """

    def __init__(self, pid_path: str | None, log_file: str | None = None):
        self.path = state_path(pid_path) if pid_path else None
        self.state: dict = {"pid": os.getpid(), "reloads": 0, "reloaded": 0,
                            "ok": True, "error": "", "workers": []}
        if log_file:
            self.state["log"] = os.path.abspath(log_file)

    def update(self, **changes) -> None:
        self.state.update(changes)
        if self.path is None:
            return
        temp = f"{self.path}.{os.urandom(8).hex()}.tmp"
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
                         | getattr(os, "O_NOFOLLOW", 0), 0o644)
        except OSError:
            return
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                os.fchmod(f.fileno(), 0o644)       # readable by restart, whatever the umask
                import json     # only a server with a pid file writes one
                json.dump(self.state, f)
            os.replace(temp, self.path)
        except OSError:
            try:
                os.unlink(temp)
            except OSError:
                pass

    def remove(self) -> None:
        """Remove the file if it names this process, as the file on disk says.

        A monitor re-executed in place writes its own pid there: the one it
        replaced then leaves the file to it.
        """
        if self.path is None:
            return
        on_disk = _read(self.path)
        if on_disk is not None and on_disk.get("pid") == os.getpid():
            try:
                os.unlink(self.path)
            except OSError:
                pass


def _read(path: str) -> dict | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK
                     | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None         # missing, or a symbolic link: no state
    try:
        with os.fdopen(fd, "rb") as f:
            import json
            state = json.loads(f.read(_MAX_STATE).decode("utf-8"))
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) else None


def read_state(pid_path: str) -> dict | None:
    """The state of the server with pid file ``pid_path`` (None: none, or unreadable)."""
    return _read(state_path(pid_path))


def reload_running(pid_path: str, pid: int,
                   timeout: float = 65.0) -> tuple[bool, str] | None:
    """SIGHUP the server ``pid`` and wait for the outcome: ``(ok, message)``.

    None when that server keeps no state file (it cannot be reloaded this
    way; stop and start it instead), or has exited. After ``timeout``
    seconds without an outcome (a little more than the server's start
    timeout, after which it reports a new generation that is not ready as
    failed), gives up: the server goes on serving the old code.
    """
    from paste.script.daemon import PidFile, PidFileError, ServerProcess
    state = read_state(pid_path)
    if state is None or state.get("pid") != pid:
        return None
    before = int(state.get("reloads", 0))
    where = f" (see {state['log']})" if isinstance(state.get("log"), str) else ""
    try:
        server = ServerProcess.find(PidFile(pid_path), pid)
    except PidFileError as exc:
        return False, str(exc)
    if server is None:
        return None
    with server:
        if not server.signal(signal.SIGHUP):
            return None
        return _wait_reloaded(pid_path, server, before, timeout, where)


def _wait_reloaded(pid_path: str, server, before: int, timeout: float,
                   where: str) -> tuple[bool, str]:
    pid = server.pid
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        state = read_state(pid_path)
        if state is not None and state.get("pid") == pid \
                and int(state.get("reloaded", 0)) > before:
            if state.get("ok"):
                return True, (f"Server in PID {pid} reloaded: workers "
                              + ", ".join(str(w) for w in state.get("workers", []))
                              + " serve the new code")
            return False, state.get("error") or "the new code failed to load"
        left = deadline - time.monotonic()
        if left <= 0:
            return False, (f"Server in PID {pid} has not reported the new code ready "
                           f"after {timeout:g}s; the old code goes on serving{where}")
        if server.wait_gone(min(delay, left)):
            return False, f"Server in PID {pid} exited while reloading{where}"
        delay = min(delay * 2, 0.05)
