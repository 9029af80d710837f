# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""The monitor's worker processes: what it knows of each, and how it ends them.

A worker is stopped gracefully with the ``stop`` message on its channel (it
stops accepting, finishes its requests and exits; see :mod:`.drain`) and
killed, with every process it started, if it is still there after the
graceful timeout. A worker that never served is killed at once. Nothing
here waits for a process: the monitor's loop reaps them as they go
(``waitpid`` with ``WNOHANG``), so it never blocks.
"""
from __future__ import annotations

import gc
import os
import signal
import socket
import time

from paste.script.serving import ipc
from paste.script.serving.protocol import Op, State
from paste.script.util.streams import flush_std_streams

__all__ = ["WorkerRecord", "ProcessTable", "fork_worker", "how_it_ended",
           "kill_tree", "descendants"]

#: How long a stopping worker may take beyond the graceful timeout before SIGKILL.
KILL_MARGIN = 2.0


class WorkerRecord:
    """What the monitor knows about one worker process."""

    def __init__(self, pid: int, channel: socket.socket, generation: int | None):
        self.pid = pid
        self.channel = channel
        self.generation = generation
        self.state = State.LOADING
        self.started_at = time.monotonic()
        self.started_ns = time.time_ns()
        self.serving_since: float | None = None
        self.adopted: set = set()          # socket keys it was given
        self.refused: list[str] = []       # addresses the monitor could not bind for it
        self.new_addresses: list[str] = []  # addresses first bound for it
        self.failed = False
        self.error = ""
        self.summary = ""
        self.exit_code = 1
        self.address_in_use = False
        self.self_binding = False           # its runner binds its own socket
        self.finished = False               # its runner returned on its own (cgi)
        self.released = False               # stopping: it no longer accepts connections
        self.retiring = ""                  # why it is being replaced (successor first)
        self.threads: int | None = None     # the runner's request threads, if known
        self.held = False                   # loaded, waiting for the old workers to go
        self.files: set[str] = set()
        self.stale_if_read: set[str] = set()
        self.modules: list[str] = []
        self.kill_at: float | None = None
        self.health = None                  # health.Vitals, once it serves

    def __repr__(self) -> str:
        return f"<WorkerRecord {self.pid} gen {self.generation} {self.state.value}>"

    @property
    def accepting(self) -> bool:
        """Told to serve and not yet told to stop."""
        return self.state is State.SERVING

    def failed_with(self, message: dict) -> None:
        """It reported an error (``message``, the worker's ``error`` message)."""
        self.failed = True
        self.error = message.get("message", "")
        self.summary = message.get("summary") or (self.error.strip().splitlines() or [""])[-1]
        self.exit_code = int(message.get("exit_code") or 1)
        self.address_in_use = bool(message.get("address_in_use"))

    def load(self, generation: int, changed, changed_since_start) -> None:
        """A standby becomes a member of ``generation``: load the application now."""
        if self.state is not State.STANDING:
            # Even half-way through its imports it is ahead of a new fork;
            # should it turn out to have read a changed file, it is replaced.
            self.stale_if_read = set(changed)
        self.state = State.LOADING
        self.generation = generation
        self.started_at = time.monotonic()
        self.started_ns = time.time_ns()
        for piece in ipc.chunks(sorted(changed_since_start)):
            self.send({"op": Op.CHANGED, "paths": piece})
        self.send({"op": Op.LOAD})

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


class ProcessTable:
    """The live worker processes, by pid."""

    def __init__(self, graceful_timeout: float, on_forget):
        self.graceful_timeout = graceful_timeout
        self.on_forget = on_forget          # called with each worker that is gone
        self.workers: dict[int, WorkerRecord] = {}
        self.discarded: set[int] = set()    # killed, not reaped yet

    def __iter__(self):
        return iter(list(self.workers.values()))

    def __len__(self) -> int:
        return len(self.workers)

    def get(self, pid: int) -> WorkerRecord | None:
        return self.workers.get(pid)

    def add(self, worker: WorkerRecord) -> WorkerRecord:
        self.workers[worker.pid] = worker
        return worker

    def members(self, generation, include_stopping: bool = False) -> list[WorkerRecord]:
        return [w for w in self.workers.values() if w.generation == generation
                and (include_stopping or w.state is not State.STOPPING)]

    def forget(self, worker: WorkerRecord) -> None:
        if self.workers.pop(worker.pid, None) is not None:
            self.on_forget(worker)

    def stop(self, worker: WorkerRecord) -> None:
        """Let ``worker`` finish its requests and exit (killed after the graceful timeout)."""
        if worker.state is State.STOPPING:
            return
        started = worker.state in (State.SERVING, State.READY, State.STARTING)
        worker.state = State.STOPPING
        worker.kill_at = time.monotonic() + self.graceful_timeout + KILL_MARGIN
        if not started or not worker.send({"op": Op.STOP}):
            self.discard(worker)

    def discard(self, worker: WorkerRecord) -> None:
        """Kill a worker that never served (it must not answer or write anything more).

        It is reaped by the monitor's loop like any other; from now on it
        counts for nothing.
        """
        kill_tree(worker.pid)
        self.discarded.add(worker.pid)
        self.forget(worker)

    def stop_all(self) -> None:
        for worker in self:
            if worker.state in (State.SERVING, State.READY, State.STARTING, State.STOPPING):
                self.stop(worker)
            else:
                self.discard(worker)

    def kill_all(self) -> None:
        for worker in self:
            self.discard(worker)

    def deadlines(self):
        for worker in self.workers.values():
            if worker.kill_at is not None:
                yield worker.kill_at

    def overdue(self, now: float) -> None:
        """Kill the stopping workers (and what they started) past their time."""
        for worker in self:
            if worker.kill_at is not None and now >= worker.kill_at:
                worker.kill_at = None
                kill_tree(worker.pid)


# -- processes ------------------------------------------------------------------------

def how_it_ended(code: int) -> str:
    """``exit code 3`` or ``killed by SIGKILL``, as the monitor has always said it."""
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def _children_by_parent() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        tree.setdefault(int(fields[1]), []).append(int(entry))
    return tree


def descendants(pid: int) -> list[int]:
    """Every live process below ``pid`` (children first), from ``/proc``."""
    if not os.path.isdir("/proc"):
        return []
    tree = _children_by_parent()
    found, todo = [], list(tree.get(pid, ()))
    while todo:
        child = todo.pop(0)
        found.append(child)
        todo.extend(tree.get(child, ()))
    return found


def _signal_process(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def kill_tree(pid: int, signum: int = signal.SIGKILL, include_root: bool = True) -> None:
    """Send ``signum`` to ``pid`` and to every process it started (a runner's own workers).

    The root is signalled first, so that it starts no one after the look
    at ``/proc``; a process that is gone meanwhile is skipped. Only
    processes not yet reaped by their parent are found, so a pid is never
    one that was reused.
    """
    below = descendants(pid)
    if include_root:
        _signal_process(pid, signum)
    for child in below:
        _signal_process(child, signum)


_collector_paused = False
_resumes_in_children = False


def pause_collector() -> None:
    """Hold the cyclic garbage collector until the first worker is forked.

    What the monitor makes while it starts (PasteDeploy, the runner, the
    engine) lives as long as it does: collecting meanwhile only costs
    milliseconds on the way to the first request. The first fork turns it
    back on, in both processes; so does :func:`resume_collector`.
    """
    global _collector_paused, _resumes_in_children
    if not _resumes_in_children:     # every child: a worker, the --reload watcher
        os.register_at_fork(after_in_child=resume_collector)
        _resumes_in_children = True
    if gc.isenabled():
        gc.disable()
        _collector_paused = True


def resume_collector() -> None:
    """Undo :func:`pause_collector` (nothing if it did not pause anything)."""
    global _collector_paused
    if _collector_paused:
        _collector_paused = False
        gc.enable()


def fork_worker(start, in_child) -> WorkerRecord:
    """Fork a worker process running ``start(channel)``; ``in_child()`` first closes
    what is the monitor's. Never returns in the child."""
    monitor_end, worker_end = ipc.channel_pair()
    flush_std_streams()
    # What the monitor holds (PasteDeploy, the runner, the engine) is frozen
    # in the worker: its collector never scans those objects, so it neither
    # copies their pages nor spends milliseconds on them before the first
    # request, as the gc module's documentation advises for fork without
    # exec. The monitor's own collector goes on as before.
    gc.freeze()
    try:
        pid = os.fork()
    except BaseException:
        gc.unfreeze()
        raise
    resume_collector()
    if pid == 0:   # the worker
        try:
            monitor_end.close()
            in_child()
            start(worker_end)
        finally:
            os._exit(1)
    gc.unfreeze()
    worker_end.close()
    monitor_end.setblocking(False)
    return WorkerRecord(pid, monitor_end, None)
