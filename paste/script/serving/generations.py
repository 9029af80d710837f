# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""The life of a new generation of workers, from fork to go (or to failure).

A *generation* is the workers started together for one version of the
code. A new one (SIGHUP, ``restart``, a change under ``--reload``) is
*pending* while its workers load and set their runners up. When every one
of them is ready it becomes the serving generation: the old workers are
told to stop, and once each of them has stopped accepting (or after
:data:`RELEASE_WAIT`) the new ones are told to go. So a client that got an
answer from the new code never gets one from the old code on a new
connection. When a pending worker fails to load, to start, or to start in
time (``--start-timeout``), the pending generation is given up and the old
one goes on serving.

A runner that binds its own socket (no monitor socket to share) cannot
overlap with its successor: a reload is then a plain restart, stopping the
old workers once the new ones have loaded and before their runners start.

:class:`Generations` is the part of :class:`.pool.Pool` that does this.
"""
from __future__ import annotations

import time

from paste.script.serving.processes import WorkerRecord, how_it_ended
from paste.script.serving.protocol import Op, State

__all__ = ["Generations", "RELEASE_WAIT"]

#: How long the new generation waits for the old one to stop accepting
#: before it goes anyway (an old worker that does not answer is stuck).
RELEASE_WAIT = 1.0


class Generations:
    """Pending and serving generations (the state is :class:`.pool.Pool`'s)."""

    def start_generation(self, changed=()) -> int:
        """Fork the workers of a new generation; a pending one is given up."""
        if self.pending is not None:
            for worker in self.members(self.pending):
                self.procs.discard(worker)
        self.generation += 1
        self.pending = self.generation
        for _ in range(self.size):
            self._add_worker(self.generation, changed)
        return self.generation

    def give_up_pending(self) -> bool:
        """Kill the pending generation, if none of it serves yet (none has answered).

        For a generation that may have read files changed since (``--reload``);
        not in a plain restart, where the old workers are already on their way
        out. Returns whether there was one to give up.
        """
        if self.pending is None or self.self_binding:
            return False
        members = self.members(self.pending)
        if any(w.state is State.SERVING for w in members):
            return False
        for worker in members:
            self.procs.discard(worker)
        self.pending = None
        return True

    def _pending_complete(self) -> bool:
        members = self.members(self.pending)
        return bool(members) and all(w.state in (State.READY, State.SERVING) for w in members)

    def _promote(self) -> None:
        """The pending generation is complete: the old one stops accepting, then it goes."""
        generation, self.pending = self.pending, None
        first = self.serving is None
        self.serving = generation
        for worker in [w for w in self.procs if w.generation is not None
                       and w.generation < generation]:
            self.stop(worker)
        self.go_due = time.monotonic() + RELEASE_WAIT
        self.announcing = (generation, first)
        self._go_when_released()

    def _go_when_released(self, now: float | None = None) -> None:
        """Tell the serving generation's ready workers to go once no older one accepts."""
        if self.serving is None:
            return
        old = [w for w in self.procs if w.generation is not None
               and w.generation < self.serving and not w.released]
        now = time.monotonic() if now is None else now
        if old and self.go_due is not None and now < self.go_due:
            return
        self.go_due = None
        for worker in self.members(self.serving):
            if worker.state is State.READY:
                self._go(worker)
        if self.announcing is not None:
            generation, first = self.announcing
            self.announcing = None
            self.events.generation_serving(generation, self.members(generation), first)
        self.balance()

    def _fail(self, worker: WorkerRecord) -> None:
        """A worker of the pending generation failed: the generation is given up."""
        self.pending = None
        for other in self.members(worker.generation):
            if other is not worker:
                self.procs.discard(other)
        self.events.generation_failed(worker.generation, worker, self.serving is None)

    def _plain_restart_needed(self, worker: WorkerRecord) -> bool:
        """A new worker could not bind what the old ones hold: restart plainly."""
        if not (worker.address_in_use and not worker.adopted and not worker.refused
                and self.serving is not None and not self.self_binding):
            return False
        self.self_binding = True
        self.events.plain_restart()
        self.start_generation(self.changed)
        return True

    def _plain_restart_step(self) -> None:
        """Every new worker has loaded: stop the old ones; once they are gone, go."""
        if self.pending is None:
            return
        pending = self.members(self.pending)
        if any(w.state is State.LOADING for w in pending):
            return
        old = [w for w in self.procs if w.generation is not None and w.generation < self.pending]
        for worker in old:
            self.stop(worker)
        if not old:
            for worker in pending:
                if worker.state is State.STARTING and worker.held:
                    worker.held = False
                    worker.started_at = time.monotonic()
                    worker.send({"op": Op.GO})

    def _pending_exited(self, worker: WorkerRecord, code: int) -> None:
        """A new worker ended before its generation serves: a broken deploy."""
        if not worker.failed:
            worker.failed = True
            worker.summary = worker.error = (
                f"The new server process ended ({how_it_ended(code)}) before it was "
                "serving.")
        self._fail(worker)

    def _starting(self) -> list[WorkerRecord]:
        """Workers the start timeout applies to."""
        return [w for w in self.procs if w.generation is not None and not w.held
                and w.state in (State.LOADING, State.STARTING, State.READY)]

    def _start_timed_out(self, worker: WorkerRecord) -> None:
        worker.failed = True
        worker.summary = worker.error = (
            f"The server process {worker.pid} did not start within {self.start_timeout:g}s "
            "(--start-timeout); it was stopped.")
        generation = worker.generation
        self.procs.discard(worker)
        if generation == self.pending:
            self._fail(worker)
        elif generation == self.serving:
            self._serving_exited(worker, -9)
            self.balance()
