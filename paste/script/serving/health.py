# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""In the monitor: which serving workers must be replaced, and why.

What operators reach for on a bad night, each one a setting of ``paster
serve``:

* ``--worker-timeout``: a worker whose main loop misses its heartbeat that
  long (a C extension holding the interpreter, a deadlock), or whose request
  threads are all busy with no request finishing that long (a hung
  backend), is replaced;
* ``--max-worker-memory``: a worker whose resident memory passes the limit
  is replaced (the monitor reads ``/proc``);
* a worker out of file descriptors for longer than the graceful timeout is
  replaced (it cannot accept, and would never recover by itself).

(``--max-requests`` is counted by the worker itself, which asks to retire.)

Replacing means: the successor starts first, the worker stops once the
successor serves, and it is killed after the graceful timeout if it cannot
finish (:meth:`.pool.Pool.retire`). This module only decides; it posts a
:data:`~.protocol.Event.REPLACE` for the monitor to act on.
"""
from __future__ import annotations

import os
import time

from paste.script.serving.protocol import Event, State

__all__ = ["Health", "Vitals", "resident_memory", "CHECK_EVERY"]

#: How often the monitor looks at its workers' vitals (seconds).
CHECK_EVERY = 1.0
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def resident_memory(pid: int) -> int | None:
    """The resident set size of ``pid`` in bytes (None when it cannot be read)."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return None


class Vitals:
    """The last heartbeat of one serving worker, as the monitor saw it."""

    __slots__ = ("last_beat", "main_seen", "active", "done", "progress_at", "requests",
                 "fds_out_since")

    def __init__(self, now: float):
        self.last_beat = now          # when the last heartbeat came
        self.main_seen = 0.0          # how long its main thread had not run then (seconds)
        self.active = 0               # requests running then
        self.done = 0                 # requests finished since it started
        self.progress_at = now        # when a request last finished (or none ran)
        self.requests: list = []      # the oldest running requests: [method, path, seconds]
        self.fds_out_since: float | None = None


class Health:
    """Watches the serving workers' vitals; posts :data:`Event.REPLACE` for the sick ones."""

    def __init__(self, post, worker_timeout: float | None = None,
                 max_memory: int | None = None, graceful_timeout: float = 30.0):
        self.post = post
        self.worker_timeout = worker_timeout
        self.max_memory = max_memory
        self.graceful_timeout = graceful_timeout
        self.next_check = time.monotonic() + CHECK_EVERY

    # -- what workers say -----------------------------------------------------------

    @staticmethod
    def vitals(worker) -> Vitals:
        if worker.health is None:
            worker.health = Vitals(time.monotonic())
        return worker.health

    def beat(self, worker, message: dict) -> None:
        vitals = self.vitals(worker)
        now = time.monotonic()
        vitals.last_beat = now
        vitals.main_seen = float(message.get("main_seen") or 0.0)
        done = int(message.get("done") or 0)
        vitals.active = int(message.get("active") or 0)
        if done != vitals.done or not vitals.active:
            vitals.progress_at = now
        vitals.done = done
        vitals.requests = list(message.get("requests") or [])
        out = bool(message.get("fds_exhausted"))
        if out and vitals.fds_out_since is None:
            vitals.fds_out_since = now
        elif not out:
            vitals.fds_out_since = None

    # -- deciding -------------------------------------------------------------------------

    def deadlines(self, workers):
        if self.worker_timeout or self.max_memory or any(
                w.health is not None and w.health.fds_out_since is not None for w in workers):
            yield self.next_check

    def check(self, now: float, workers) -> None:
        if now < self.next_check:
            return
        self.next_check = now + CHECK_EVERY
        for worker in workers:
            if worker.state is not State.SERVING or worker.retiring:
                continue
            why = self.diagnose(worker, now)
            if why:
                self.post(Event.REPLACE, worker=worker, why=why)

    def diagnose(self, worker, now: float) -> str:
        """Why ``worker`` must be replaced, or ``""``."""
        vitals = self.vitals(worker)
        timeout = self.worker_timeout
        if timeout:
            silent = now - vitals.last_beat
            if silent > timeout or vitals.main_seen > timeout:
                stuck_for = max(silent, vitals.main_seen)
                return (f"its main loop has not run for {stuck_for:.0f}s "
                        f"(--worker-timeout {timeout:g}){_running(vitals)}")
            threads = worker.threads
            if (vitals.active and threads and vitals.active >= threads
                    and now - vitals.progress_at > timeout):
                return (f"all {threads} of its threads are busy and no request finished for "
                        f"{now - vitals.progress_at:.0f}s (--worker-timeout {timeout:g})"
                        f"{_running(vitals)}")
        if self.max_memory:
            rss = resident_memory(worker.pid)
            if rss is not None and rss > self.max_memory:
                return (f"it uses {rss / 2**20:.0f} MiB, over --max-worker-memory "
                        f"{self.max_memory / 2**20:.0f} MiB")
        if vitals.fds_out_since is not None and now - vitals.fds_out_since > self.graceful_timeout:
            return (f"it has been out of file descriptors for {now - vitals.fds_out_since:.0f}s "
                    "and cannot accept")
        return ""


def _running(vitals: Vitals) -> str:
    if not vitals.requests:
        return ""
    shown = ", ".join(f"{method} {path} ({seconds:.0f}s)"
                      for method, path, seconds in vitals.requests[:5])
    more = len(vitals.requests) - 5
    return f"; running: {shown}" + (f" and {more} more" if more > 0 else "")
