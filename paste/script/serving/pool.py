# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""The monitor's workers and their state machine.

Workers belong to *generations*: the workers started together for one
version of the code. One generation serves; a new one (SIGHUP, ``restart``,
a change under ``--reload``) is *pending* while its workers load. When every
worker of the pending generation serves, it becomes the serving one and the
old workers are stopped gracefully. When one of them fails to load, the
pending generation is given up and the old one goes on serving.

A worker's life: ``loading`` (forked, loading the application) → ``loaded``
→ ``started`` (told to serve) → ``serving`` (listening on the monitor's
socket) → ``stopping``. A *standby* (``--reload``) is forked ahead of time
and waits, in state ``standby`` then ``standing``, to become a generation's
first worker.

The pool keeps the serving generation at its size: a worker that dies is
replaced at once; when replacements keep dying, each waits longer
(:class:`Backoff`) and the monitor reports the crash loop.
"""
from __future__ import annotations

import time

from paste.script.serving.processes import Processes, Worker, describe_exit

__all__ = ["Pool", "Backoff"]


class Backoff:
    """Delays between replacements of workers that keep dying."""

    def __init__(self, first: float = 0.25, most: float = 10.0, healthy_after: float = 10.0):
        self.first, self.most, self.healthy_after = first, most, healthy_after
        self.failures = 0

    def failed(self, served_for: float) -> float:
        """Note a worker's death; return how long to wait before replacing it."""
        if served_for >= self.healthy_after:
            self.failures = 0
        self.failures += 1
        if self.failures == 1:
            return 0.0
        return min(self.first * 2 ** (self.failures - 2), self.most)

    def succeeded(self) -> None:
        self.failures = 0


class Pool:
    """The workers of one monitor; ``events`` is told what happens to generations."""

    def __init__(self, events, spawner, sockets, size: int, graceful_timeout: float,
                 on_forget=lambda worker: None):
        self.events = events          # told what happens (see reporting.Reporter)
        self.on_forget = on_forget
        self.spawner = spawner        # forks a worker: spawner(changed, preload) -> Worker
        self.sockets = sockets
        self.size = size
        self.procs = Processes(graceful_timeout, self._forgotten)
        self.generation = 0
        self.serving: int | None = None
        self.pending: int | None = None
        self.standby: Worker | None = None
        self.plain_restart = False
        self.single_runner: str | None = None
        self.backoff = Backoff()
        self.spawn_due: float | None = None
        self.changed: set[str] = set()     # --reload: every file changed since the start
        self.stopping = False
        self.announcing: tuple | None = None   # (generation, first) once the old let go

    # -- generations ---------------------------------------------------------

    def members(self, generation) -> list[Worker]:
        return self.procs.members(generation)

    def settle_pending(self) -> None:
        """Before a new generation: a pending one that serves (in part, or told to
        serve) is taken as serving, so its workers finish their requests when
        they are replaced instead of being killed."""
        members = self.members(self.pending) if self.pending is not None else []
        if members and (all(w.state in ("started", "serving") for w in members)
                        or any(w.state == "serving" for w in members)):
            self._promote(self.pending)

    def start_generation(self, changed=()) -> int:
        """Fork the workers of a new generation; a pending one is given up."""
        self.settle_pending()
        if self.pending is not None:
            for worker in self.members(self.pending):
                self.discard(worker)
        self.generation += 1
        self.pending = self.generation
        for _ in range(self.size):
            self._add_worker(self.generation, changed)
        return self.generation

    def _add_worker(self, generation: int, changed=()) -> Worker:
        standby, self.standby = self.standby, None
        if standby is not None and not standby.files.intersection(changed):
            standby.load(generation, changed, self.changed)
            return standby
        if standby is not None:
            self.discard(standby)       # it imported a file that changed
        worker = self.procs.add(self.spawner())
        worker.generation = generation
        return worker

    def add_standby(self, modules: list[str]) -> None:
        if self.standby is None and not self.stopping:
            self.standby = self.procs.add(self.spawner(preload=modules))
            self.standby.generation = None
            self.standby.state = "standby"

    def replace_stale(self, worker: Worker) -> None:
        """A pending worker read a file that changed meanwhile: fork a fresh one."""
        generation = worker.generation
        self.discard(worker)
        self._add_worker(generation)

    def _promote(self, generation: int) -> None:
        old = [w for w in self.procs
               if w.generation is not None and w.generation < generation and w.state != "stopping"]
        first = self.serving is None
        self.serving, self.pending = generation, None
        for worker in old:
            self.stop(worker)
        self.announcing = (generation, first)
        self._announce()
        self.balance()          # SIGTTIN/SIGTTOU while it was loading

    def _announce(self) -> None:
        """Say the generation serves once no older worker accepts connections:
        from then on every new connection gets the new code."""
        if self.announcing is None:
            return
        generation, first = self.announcing
        if any(w.generation is not None and w.generation < generation and not w.released
               for w in self.procs):
            return
        self.announcing = None
        self.events.generation_serving(generation, self.members(generation), first)

    def _fail(self, generation: int, worker: Worker) -> None:
        """A worker of the pending generation failed: the generation is given up."""
        self.pending = None
        for other in self.members(generation):
            if other is not worker:
                self.discard(other)
        self.events.generation_failed(generation, worker, self.serving is None)

    # -- what workers say ------------------------------------------------------

    def handle(self, worker: Worker, message: dict) -> None:
        op = message.get("op")
        if op == "bind":
            self.sockets.answer(worker, message, new_address=self.serving is not None)
        elif op == "loaded":
            worker.state = "loaded"
            self.events.worker_loaded(worker)
            if worker.generation == self.pending and self.plain_restart and self.serving is not None:
                self._plain_restart_step()
            elif worker.generation is not None and not self.stopping:
                self._go(worker)
        elif op == "ready":
            self._serving(worker)
        elif op == "standing":
            if worker is self.standby:
                worker.state = "standing"
        elif op == "error":
            worker.failed_with(message)
            if worker.generation == self.pending and not self.stopping:
                if not self._plain_restart_needed(worker):
                    self._fail(worker.generation, worker)
        elif op == "released":
            worker.released = True
            self._announce()
        elif op == "finished":
            worker.finished = True
        elif op == "single":
            self.single_runner = message.get("runner") or "this"

    def _go(self, worker: Worker) -> None:
        worker.state = "started"
        worker.go_at = time.monotonic()
        worker.send({"op": "go"})

    def _serving(self, worker: Worker) -> None:
        if worker.state not in ("loaded", "started"):
            return
        worker.state = "serving"
        worker.serving_since = time.monotonic()
        if worker.generation == self.pending:
            if all(w.state == "serving" for w in self.members(self.pending)):
                self._promote(self.pending)
        elif worker.generation == self.serving:
            self.events.worker_serving(worker)

    def _plain_restart_needed(self, worker: Worker) -> bool:
        """The runner binds its own sockets, and the old workers hold the address."""
        if not (worker.address_in_use and not worker.adopted and not worker.refused
                and self.serving is not None and not self.plain_restart):
            return False
        self.plain_restart = True
        self.events.plain_restart()
        generation = worker.generation
        self.pending = None
        for other in self.members(generation):
            self.discard(other)
        self.start_generation(self.changed)
        return True

    def _plain_restart_step(self) -> None:
        """Every new worker has loaded: stop the old ones; once they are gone, go."""
        pending = self.members(self.pending)
        if any(w.state == "loading" for w in pending):
            return
        old = [w for w in self.procs
               if w.generation is not None and w.generation < self.pending]
        for worker in old:
            self.stop(worker)
        if not old:
            for worker in pending:
                if worker.state == "loaded":
                    self._go(worker)
                    self._serving(worker)

    # -- processes ending ------------------------------------------------------

    def exited(self, worker: Worker, code: int) -> None:
        """``worker`` has exited with ``code`` (negative: killed by that signal)."""
        self.procs.forget(worker)
        if self.stopping or worker.generation is None:
            return
        self._announce()
        if worker.state == "stopping":
            if self.plain_restart and self.pending is not None:
                self._plain_restart_step()
        elif worker.finished:
            self.events.server_finished(worker)
        elif worker.generation == self.pending:
            self._pending_exited(worker, code)
        elif worker.generation == self.serving:
            served_for = (time.monotonic() - worker.serving_since
                          if worker.serving_since is not None else 0.0)
            delay = self.backoff.failed(served_for)
            self.spawn_due = max(self.spawn_due or 0.0, time.monotonic() + delay)
            self.events.worker_died(worker, code, delay, self.backoff.failures)
        self.balance()
        self.sockets.close_unused_by(list(self.procs), self.members(self.serving))

    def _pending_exited(self, worker: Worker, code: int) -> None:
        """A new worker ended before its generation serves: a broken deploy, unless
        its siblings already serve the new code (then it is replaced, once)."""
        siblings_serve = any(w.state == "serving" for w in self.members(self.pending))
        if not worker.failed and siblings_serve and not self.backoff.failed(0.0):
            self.events.worker_died(worker, code, 0.0, self.backoff.failures)
            self._add_worker(self.pending, self.changed)
            return
        if not worker.failed:
            worker.failed = True
            worker.summary = worker.error = (
                f"The new server process exited with {describe_exit(code)} before it was "
                "serving.")
        self._fail(worker.generation, worker)

    def _forgotten(self, worker: Worker) -> None:
        if worker is self.standby:
            self.standby = None
        self.on_forget(worker)

    def balance(self) -> None:
        """Keep the serving generation at its size: replace the dead, stop the extra."""
        if self.stopping or self.serving is None:
            return
        live = self.members(self.serving)
        if len(live) > self.size:
            extra = sorted(live, key=lambda w: (w.state == "serving", w.started_ns))
            for worker in extra[: len(live) - self.size]:
                self.stop(worker)
        elif len(live) < self.size:
            if self.spawn_due is not None and time.monotonic() < self.spawn_due:
                return      # a timer comes back here
            self.spawn_due = None
            for _ in range(self.size - len(live)):
                self._add_worker(self.serving, self.changed)

    def resize(self, size: int) -> None:
        self.size = max(1, size)
        self.balance()

    def stop(self, worker: Worker) -> None:
        self.procs.stop(worker)

    def discard(self, worker: Worker) -> None:
        self.procs.discard(worker)

    def stop_all(self) -> None:
        self.stopping = True
        self.pending = self.spawn_due = None
        self.procs.stop_all()

    def kill_all(self) -> None:
        self.procs.kill_all()

    # -- time --------------------------------------------------------------------

    def deadlines(self):
        if self.spawn_due is not None:
            yield self.spawn_due
        yield from self.procs.deadlines()

    def run_timers(self, now: float) -> None:
        for worker in self.procs.overdue(now):
            self._serving(worker)
        if self.spawn_due is not None and now >= self.spawn_due:
            self.balance()
