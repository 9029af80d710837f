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

import json
import os
import signal
import time

__all__ = ["StateFile", "reload_running"]


def state_path(pid_path: str) -> str:
    return pid_path + ".state"


class StateFile:
    """Written by the monitor (a dict kept up to date); read by ``restart`` and ``stop``."""

    def __init__(self, pid_path: str | None):
        self.path = state_path(pid_path) if pid_path else None
        self.state: dict = {"pid": os.getpid(), "reloads": 0, "reloaded": 0,
                            "ok": True, "error": "", "workers": []}

    def update(self, **changes) -> None:
        self.state.update(changes)
        if self.path is None:
            return
        temp = f"{self.path}.{os.getpid()}.tmp"
        try:
            with open(temp, "w", encoding="utf-8") as f:
                json.dump(self.state, f)
            os.replace(temp, self.path)
        except OSError:
            try:
                os.unlink(temp)
            except OSError:
                pass

    def remove(self) -> None:
        if self.path is not None and self.state.get("pid") == os.getpid():
            try:
                os.unlink(self.path)
            except OSError:
                pass


def read_state(pid_path: str) -> dict | None:
    try:
        with open(state_path(pid_path), encoding="utf-8") as f:
            state = json.load(f)
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) else None


def reload_running(pid_path: str, pid: int, timeout: float = 120.0,
                   alive=None) -> tuple[bool, str] | None:
    """SIGHUP the server ``pid`` and wait for the outcome: ``(ok, message)``.

    None when that server keeps no state file (it cannot be reloaded this
    way; stop and start it instead).
    """
    state = read_state(pid_path)
    if state is None or state.get("pid") != pid:
        return None
    before = int(state.get("reloads", 0))
    os.kill(pid, signal.SIGHUP)
    deadline = time.monotonic() + timeout
    delay = 0.005
    while time.monotonic() < deadline:
        time.sleep(delay)
        delay = min(delay * 2, 0.05)
        state = read_state(pid_path)
        if state is None or state.get("pid") != pid:
            if alive is not None and not alive():
                return False, f"Server in PID {pid} exited while reloading"
            continue
        if int(state.get("reloaded", 0)) > before:
            if state.get("ok"):
                return True, (f"Server in PID {pid} reloaded: workers "
                              + ", ".join(str(w) for w in state.get("workers", [])) + " serve the new code")
            return False, state.get("error") or "the new code failed to load"
    return False, f"Server in PID {pid} has not finished reloading after {timeout:g}s"
