"""Helpers for the tests of the serving engine: a monitor's processes and its report.

The tests follow what the monitor says it saw and did (its output lines)
instead of sleeping and hoping: :class:`Output` collects a process's lines
in a thread and :meth:`Output.wait_for` blocks until one matches.
"""
from __future__ import annotations

import http.client
import os
import re
import subprocess
import threading
import time
from urllib.parse import urlsplit

__all__ = ["Output", "get", "Prober", "parent_of", "children", "wait_for_children",
           "wait_gone", "open_to_others"]


class Output:
    """The lines a process writes to its (merged) stdout, as they come."""

    def __init__(self, proc: subprocess.Popen):
        self.proc = proc
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self.lines.append(None)      # end of output
            self._cond.notify_all()

    @property
    def text(self) -> str:
        with self._cond:
            return "\n".join(line for line in self.lines if line is not None)

    def mark(self) -> int:
        """A position: :meth:`wait_for` with ``since`` looks only at later lines."""
        with self._cond:
            return len(self.lines)

    def wait_for(self, pattern: str, since: int = 0, timeout: float = 30.0) -> re.Match:
        """The first line from ``since`` on that matches ``pattern`` (a regex)."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self.lines[since:]:
                    if line is None:
                        raise AssertionError(f"output ended without {pattern!r}:\n{self.text}")
                    match = regex.search(line)
                    if match:
                        return match
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"no line matching {pattern!r} after {timeout}s:\n"
                                         f"{self.text}")
                self._cond.wait(min(remaining, 0.5))

    def count(self, pattern: str, since: int = 0) -> int:
        regex = re.compile(pattern)
        with self._cond:
            return sum(1 for line in self.lines[since:] if line is not None and regex.search(line))

    def finish(self, timeout: float = 10.0) -> str:
        self._thread.join(timeout)
        return self.text


def _stat_fields(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None


def parent_of(pid: int) -> int | None:
    fields = _stat_fields(pid)
    return int(fields[1]) if fields else None


def children(pid: int) -> list[int]:
    """Live (not zombie) child processes of ``pid``."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(int(entry))
            if fields and int(fields[1]) == pid and fields[0] != "Z":
                found.append(int(entry))
    return found


def wait_for_children(pid: int, count: int, timeout: float = 20.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = children(pid)
        if len(found) == count:
            return found
        time.sleep(0.05)
    raise AssertionError(f"{pid} has children {children(pid)}, expected {count}")


def wait_gone(pid: int, timeout: float = 20.0) -> bool:
    from tests.support import pid_alive
    deadline = time.monotonic() + timeout
    while pid_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def get(url: str, timeout: float = 10.0, errors: list | None = None) -> str | None:
    """The body of a 200 answer, on a new connection; None for anything else
    (refused, reset, timed out, another status), which ``errors`` collects."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        conn.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""))
        resp = conn.getresponse()
        body = resp.read().decode()
        if resp.status != 200 and errors is not None:
            errors.append(f"HTTP {resp.status}: {body[:200]!r}")
        return body if resp.status == 200 else None
    except (OSError, http.client.HTTPException) as exc:
        if errors is not None:
            errors.append(f"{time.monotonic():.3f} {exc!r}")
        return None
    finally:
        conn.close()


class Prober(threading.Thread):
    """Requests the URL continuously, each time on a new connection; keeps every answer."""

    def __init__(self, url: str, period: float = 0.005):
        super().__init__(daemon=True)
        self.url = url
        self.period = period
        self.answers: list[str | None] = []
        self.errors: list[str] = []
        self.done = threading.Event()

    def run(self):
        while not self.done.is_set():
            self.answers.append(get(self.url, errors=self.errors))
            time.sleep(self.period)

    def stop(self) -> list:
        """Stop; return the errors of the failed requests."""
        self.done.set()
        self.join(30)
        return self.errors


def open_to_others(path) -> None:
    """Let an unprivileged user read ``path``'s tree and reach it (pytest's tmp dirs are 0700).

    A server run with ``--user`` loads its application as that user, so the
    application's files must be readable by it, as in any deployment.
    """
    import stat
    from pathlib import Path
    path = Path(path)
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        parent.chmod(stat.S_IMODE(mode) | 0o005)
    for item in path.rglob("*"):
        mode = item.stat().st_mode
        item.chmod(stat.S_IMODE(mode) | (0o005 if item.is_dir() else 0o004))
