# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""The monitor's worker processes: what it knows of each, and how it ends them.

A worker is stopped gracefully with the ``stop`` message on its channel (it
stops accepting, finishes its requests and exits; see :mod:`.worker`) and
killed if it is still there after the graceful timeout. A worker that never
served is killed at once, and waited for: it must not write a stale
bytecode cache or answer anything after that.
"""
from __future__ import annotations

import os
import signal
import socket
import sys
import time

from paste.script.serving import ipc

__all__ = ["Worker", "Processes", "fork_worker", "describe_exit"]

#: A worker told to serve that never listens on a socket of ours (a runner
#: binding in C, or a Unix socket) is taken as serving after this long.
READY_TIMEOUT = 2.0
#: How long a stopping worker may take beyond the graceful timeout before SIGKILL.
KILL_MARGIN = 2.0


class Worker:
    """What the monitor knows about one worker process."""

    def __init__(self, pid: int, channel: socket.socket, generation: int | None):
        self.pid = pid
        self.channel = channel
        self.generation = generation
        self.state = "loading"
        self.started_ns = time.time_ns()
        self.serving_since: float | None = None
        self.adopted: set = set()          # socket keys it listens on
        self.refused: list[str] = []       # addresses the monitor could not bind for it
        self.new_addresses: list[str] = []  # addresses first bound for it
        self.failed = False
        self.error = ""
        self.summary = ""
        self.exit_code = 1
        self.address_in_use = False
        self.finished = False               # its server returned on its own (cgi)
        self.released = False               # stopping: it no longer accepts connections
        self.files: set[str] = set()
        self.stale_if_read: set[str] = set()
        self.modules: list[str] = []
        self.go_at: float | None = None
        self.kill_at: float | None = None

    def __repr__(self) -> str:
        return f"<Worker {self.pid} gen {self.generation} {self.state}>"

    def failed_with(self, message: dict) -> None:
        """It reported an error (``message``, the worker's ``error`` message)."""
        self.failed = True
        self.error = message.get("message", "")
        self.summary = message.get("summary") or (self.error.strip().splitlines() or [""])[-1]
        self.exit_code = int(message.get("exit_code") or 1)
        self.address_in_use = bool(message.get("address_in_use"))

    def load(self, generation: int, changed, changed_since_start) -> None:
        """A standby becomes a member of ``generation``: load the application now."""
        if self.state != "standing":
            # Even half-way through its imports it is ahead of a new fork;
            # should it turn out to have read a changed file, it is replaced.
            self.stale_if_read = set(changed)
        self.state = "loading"
        self.generation = generation
        self.started_ns = time.time_ns()
        for piece in ipc.chunks(sorted(changed_since_start)):
            self.send({"op": "changed", "paths": piece})
        self.send({"op": "load"})

    def signal(self, signum: int) -> None:
        try:
            os.kill(self.pid, signum)
        except ProcessLookupError:
            pass

    def send(self, message: dict, fds=()) -> bool:
        try:
            ipc.send(self.channel, message, fds)
            return True
        except OSError:
            return False      # it died; the reaper deals with that


class Processes:
    """The live worker processes, by pid."""

    def __init__(self, graceful_timeout: float, on_forget):
        self.graceful_timeout = graceful_timeout
        self.on_forget = on_forget          # called with each worker that is gone
        self.workers: dict[int, Worker] = {}

    def __iter__(self):
        return iter(list(self.workers.values()))

    def __len__(self) -> int:
        return len(self.workers)

    def get(self, pid: int) -> Worker | None:
        return self.workers.get(pid)

    def add(self, worker: Worker) -> Worker:
        self.workers[worker.pid] = worker
        return worker

    def members(self, generation, include_stopping: bool = False) -> list[Worker]:
        return [w for w in self.workers.values() if w.generation == generation
                and (include_stopping or w.state != "stopping")]

    def forget(self, worker: Worker) -> None:
        self.workers.pop(worker.pid, None)
        self.on_forget(worker)

    def stop(self, worker: Worker) -> None:
        """Let ``worker`` finish its requests and exit (SIGKILL after the graceful timeout)."""
        if worker.state == "stopping":
            return
        serving = worker.state in ("serving", "started")
        worker.state = "stopping"
        worker.kill_at = time.monotonic() + self.graceful_timeout + KILL_MARGIN
        if not serving or not worker.send({"op": "stop"}):
            worker.signal(signal.SIGTERM if serving else signal.SIGKILL)

    def discard(self, worker: Worker) -> None:
        """Kill a worker that never served, and wait for it (it must not write anything more)."""
        worker.signal(signal.SIGKILL)
        try:
            os.waitpid(worker.pid, 0)
        except ChildProcessError:
            pass
        self.forget(worker)

    def stop_all(self) -> None:
        for worker in self:
            if worker.state in ("serving", "started", "stopping"):
                self.stop(worker)
            else:
                worker.signal(signal.SIGKILL)

    def kill_all(self) -> None:
        for worker in self:
            worker.signal(signal.SIGKILL)
        for worker in self:
            try:
                os.waitpid(worker.pid, 0)
            except ChildProcessError:
                pass
            self.forget(worker)

    def deadlines(self):
        for worker in self.workers.values():
            if worker.kill_at is not None:
                yield worker.kill_at
            if worker.state == "started" and worker.go_at is not None:
                yield worker.go_at + READY_TIMEOUT

    def overdue(self, now: float) -> list[Worker]:
        """Kill the stopping workers past their time; return those told to serve
        that never listened (to be taken as serving)."""
        silent = []
        for worker in self:
            if worker.kill_at is not None and now >= worker.kill_at:
                worker.signal(signal.SIGKILL)
                worker.kill_at = None
            elif (worker.state == "started" and worker.go_at is not None
                  and now >= worker.go_at + READY_TIMEOUT):
                silent.append(worker)
        return silent


def describe_exit(code: int) -> str:
    """``status 3``, or ``signal 9`` for a process killed by a signal."""
    return f"signal {-code}" if code < 0 else f"status {code}"


def fork_worker(command, options, changed, preload, in_child) -> Worker:
    """Fork a worker process; ``in_child()`` first closes what is the monitor's."""
    from paste.script.serving.worker import run_worker
    monitor_end, worker_end = ipc.channel_pair()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    pid = os.fork()
    if pid == 0:   # the worker: never returns
        try:
            monitor_end.close()
            in_child()
            run_worker(command, worker_end, changed, options.verbose, preload, options)
        finally:
            os._exit(1)
    worker_end.close()
    monitor_end.setblocking(False)
    return Worker(pid, monitor_end, None)


def close_quietly(selector, fds) -> None:
    try:
        selector.close()
    except OSError:
        pass
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass
