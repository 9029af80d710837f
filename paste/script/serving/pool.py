# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""The monitor's workers: what they say, and keeping the serving generation whole.

Workers belong to *generations*: the workers started together for one
version of the code. How a new generation takes over from the old one is
:mod:`.generations`' part of the pool; this module handles what workers
say (each message of :class:`~.protocol.Op` has one method here) and their
ends.

The pool keeps the serving generation at its size. A worker that dies
after it served is replaced at once; a replacement that dies before it
serves is retried after a growing delay (:class:`Backoff`). A worker that
must go while it still works (``--max-requests``, ``--worker-timeout``,
``--max-worker-memory``) is *retiring*: its successor is started first,
and it is stopped once the successor serves.
"""
from __future__ import annotations

import time

from paste.script.serving.generations import RELEASE_WAIT, Generations
from paste.script.serving.processes import ProcessTable, WorkerRecord
from paste.script.serving.protocol import Op, State

__all__ = ["Pool", "Backoff", "RELEASE_WAIT"]


class Backoff:
    """Delays between replacements of workers that keep dying before they serve."""

    def __init__(self, first: float = 0.25, most: float = 10.0):
        self.first, self.most = first, most
        self.failures = 0

    def failed(self) -> float:
        """Note a failed start; return how long to wait before trying again."""
        self.failures += 1
        if self.failures == 1:
            return 0.0
        return min(self.first * 2 ** (self.failures - 2), self.most)

    def succeeded(self) -> None:
        self.failures = 0


class Pool(Generations):
    """The workers of one monitor.

    ``events`` (:class:`.reporting.Reporter`) is told what happens;
    ``spawner(generation, preload=None, hold=False)`` forks a worker.
    """

    def __init__(self, events, spawner, sockets, size: int, graceful_timeout: float,
                 start_timeout: float = 60.0, on_forget=lambda worker: None):
        self.events = events
        self.on_forget = on_forget
        self.spawner = spawner
        self.sockets = sockets
        self.size = size
        self.start_timeout = start_timeout
        self.procs = ProcessTable(graceful_timeout, self._forgotten)
        self.generation = 0
        self.serving: int | None = None
        self.pending: int | None = None
        self.standby: WorkerRecord | None = None
        self.self_binding = False          # the runner binds its own socket: plain restarts
        self.single_runner: str | None = None
        self.backoff = Backoff()
        self.spawn_due: float | None = None
        self.go_due: float | None = None   # the new generation goes then at the latest
        self.changed: set[str] = set()     # changed files the monitor itself has loaded
        self.stopping = False
        self.announcing: tuple[int, bool] | None = None   # (generation, first) to announce
        self._announced_plain = 0

    # -- generations ---------------------------------------------------------

    def members(self, generation) -> list[WorkerRecord]:
        return self.procs.members(generation)

    def _add_worker(self, generation: int, changed=()) -> WorkerRecord:
        standby, self.standby = self.standby, None
        hold = self.self_binding and self.serving is not None and generation == self.pending
        if hold and generation != self._announced_plain:
            self._announced_plain = generation
            self.events.plain_restart()
        if standby is not None and not hold and not standby.files.intersection(changed):
            standby.load(generation, changed, self.changed)
            return standby
        if standby is not None:
            self.procs.discard(standby)       # it imported a file that changed
        worker = self.procs.add(self.spawner(generation, hold=hold))
        worker.generation = generation
        return worker

    def add_standby(self, modules: list[str]) -> None:
        if self.standby is None and not self.stopping:
            self.standby = self.procs.add(self.spawner(None, preload=modules))
            self.standby.state = State.STANDBY

    def replace_stale(self, worker: WorkerRecord) -> None:
        """A pending worker read a file that changed meanwhile: fork a fresh one."""
        generation = worker.generation
        self.procs.discard(worker)
        self._add_worker(generation)

    def bind(self, worker: WorkerRecord, message: dict) -> None:
        self.sockets.answer(worker, message, new_address=self.serving is not None)

    def loaded(self, worker: WorkerRecord, message: dict) -> None:
        if worker.state is not State.LOADING:
            return
        worker.state = State.STARTING
        worker.threads = message.get("threads")
        self.events.worker_loaded(worker)
        if message.get("held"):
            worker.held = True          # it waits for the old workers to be gone
            self._plain_restart_step()

    def ready(self, worker: WorkerRecord, message: dict) -> None:
        if worker.state is not State.STARTING:
            return
        worker.state = State.READY
        self._ready(worker)

    def serving_alone(self, worker: WorkerRecord, message: dict) -> None:
        """A runner that binds its own socket is accepting on it."""
        if worker.state not in (State.STARTING, State.READY):
            return
        worker.self_binding = self.self_binding = True
        worker.state = State.SERVING
        worker.serving_since = time.monotonic()
        self._ready(worker)

    def _ready(self, worker: WorkerRecord) -> None:
        if worker.generation == self.pending:
            if self._pending_complete():
                self._promote()
        elif worker.generation == self.serving and not self.stopping:
            if worker.state is State.READY:
                self._go(worker)
            self.events.worker_serving(worker)
            self._retire_replaced()

    def _go(self, worker: WorkerRecord) -> None:
        worker.state = State.SERVING
        worker.serving_since = time.monotonic()
        worker.send({"op": Op.GO})
        self.backoff.succeeded()

    def error(self, worker: WorkerRecord, message: dict) -> None:
        worker.failed_with(message)
        if self.stopping:
            return
        if worker.generation == self.pending and not self._plain_restart_needed(worker):
            self._fail(worker)

    def released(self, worker: WorkerRecord, message: dict) -> None:
        worker.released = True
        self._go_when_released()

    def finished(self, worker: WorkerRecord, message: dict) -> None:
        worker.finished = True

    def single(self, worker: WorkerRecord, message: dict) -> None:
        self.single_runner = message.get("runner") or "this"

    def standing(self, worker: WorkerRecord, message: dict) -> None:
        if worker is self.standby:
            worker.state = State.STANDING
            self.events.standby_ready(worker)

    def exited(self, worker: WorkerRecord, code: int) -> None:
        """``worker`` has exited with ``code`` (negative: killed by that signal)."""
        self.procs.forget(worker)
        if self.stopping or worker.generation is None:
            return
        if worker.state is State.STOPPING:
            self._go_when_released()
            self._plain_restart_step()
        elif worker.finished:
            self.events.server_finished(worker)
        elif worker.generation == self.pending:
            self._pending_exited(worker, code)
        elif worker.generation == self.serving:
            self._serving_exited(worker, code)
        self.balance()
        self.sockets.close_unused_by(list(self.procs), self.members(self.serving))

    def _serving_exited(self, worker: WorkerRecord, code: int) -> None:
        if worker.serving_since is not None:
            # It served: whatever ended it (a request that killed it), a
            # replacement starts at once.
            self.events.worker_died(worker, code, 0.0, 0)
            return
        delay = self.backoff.failed()
        self.spawn_due = max(self.spawn_due or 0.0, time.monotonic() + delay)
        self.events.worker_died(worker, code, delay, self.backoff.failures)

    def _forgotten(self, worker: WorkerRecord) -> None:
        if worker is self.standby:
            self.standby = None
        self.on_forget(worker)

    # -- the serving generation's size ---------------------------------------------------

    def balance(self) -> None:
        """Keep the serving generation at its size: replace the dead, stop the extra."""
        if self.stopping or self.serving is None:
            return
        if self.self_binding and self.pending is not None:
            return          # a plain restart: the old generation is on its way out
        live = [w for w in self.members(self.serving) if not w.retiring]
        if len(live) > self.size:
            extra = sorted(live, key=lambda w: (w.state is State.SERVING, w.started_ns))
            for worker in extra[: len(live) - self.size]:
                self.stop(worker)
        elif len(live) < self.size:
            if self.spawn_due is not None and time.monotonic() < self.spawn_due:
                return      # a timer comes back here
            self.spawn_due = None
            for _ in range(self.size - len(live)):
                self._add_worker(self.serving, self.changed)

    def retire(self, worker: WorkerRecord, why: str) -> bool:
        """Replace a worker that still serves: its successor first. False if it cannot be."""
        if (self.stopping or worker.retiring or worker.state is not State.SERVING
                or worker.generation != self.serving):
            return False
        worker.retiring = why
        if self.self_binding:
            self.stop(worker)           # nothing can overlap with it
        self.balance()
        return True

    def _retire_replaced(self) -> None:
        """Stop retiring workers once enough successors serve."""
        members = self.members(self.serving)
        serving = [w for w in members if not w.retiring and w.state is State.SERVING]
        retiring = sorted((w for w in members if w.retiring), key=lambda w: w.started_ns)
        for worker in retiring[: max(0, len(serving) + len(retiring) - self.size)]:
            self.stop(worker)

    def resize(self, size: int) -> None:
        self.size = max(1, size)
        self.balance()

    def resize_by(self, change: int) -> None:
        """SIGTTIN (+1) or SIGTTOU (-1)."""
        if change > 0 and self.single_runner:
            self.events.resize_refused(self.single_runner)
            return
        self.resize(self.size + change)
        self.events.resized(change, self.size)

    def stop(self, worker: WorkerRecord) -> None:
        self.procs.stop(worker)

    def stop_all(self) -> None:
        self.stopping = True
        self.pending = self.spawn_due = self.go_due = None
        self.procs.stop_all()

    def kill_all(self) -> None:
        self.procs.kill_all()

    # -- time --------------------------------------------------------------------

    def deadlines(self):
        for due in (self.spawn_due, self.go_due):
            if due is not None:
                yield due
        yield from self.procs.deadlines()
        for worker in self._starting():
            yield worker.started_at + self.start_timeout

    def run_timers(self, now: float) -> None:
        self.procs.overdue(now)
        if self.go_due is not None and now >= self.go_due:
            self._go_when_released(now)
        if self.spawn_due is not None and now >= self.spawn_due:
            self.balance()
        for worker in self._starting():
            if now >= worker.started_at + self.start_timeout:
                self._start_timed_out(worker)

