"""The pool's state machine in process: generations, promotion, failure, replacement.

Workers here are stand-ins: real child processes (``sleep``), so that
signalling and reaping them is real, with a socket pair as their channel, on
which the test reads what the pool sends them and plays their part.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time

import pytest

from paste.script.serving import ipc
from paste.script.serving.pool import RELEASE_WAIT, Backoff, Pool
from paste.script.serving.processes import WorkerRecord
from paste.script.serving.protocol import State


class Events:
    def __init__(self):
        self.seen = []

    def __getattr__(self, name):
        return lambda *args: self.seen.append((name, *args))


class Sockets:
    def answer(self, *args, **kw):
        raise AssertionError("no bind expected")

    def close_unused_by(self, workers, serving):
        pass


@pytest.fixture
def pool():
    procs, ends = [], {}

    def spawner(generation, preload=None, hold=False):
        proc = subprocess.Popen(["sleep", "60"])
        procs.append(proc)
        monitor_end, worker_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        monitor_end.setblocking(False)
        ends[proc.pid] = worker_end
        return WorkerRecord(proc.pid, monitor_end, generation)

    events = Events()
    made = Pool(events, spawner, Sockets(), size=2, graceful_timeout=5, start_timeout=30)
    made.ends = ends
    made.test_events = events
    yield made
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def said(pool, worker) -> list[str]:
    """What the pool sent this worker since the last look."""
    end = pool.ends[worker.pid]
    end.setblocking(False)
    ops = []
    while True:
        try:
            message, _fds = ipc.receive(end)
        except BlockingIOError:
            return ops
        ops.append(message["op"])


def ready(pool, *workers):
    for worker in workers:
        pool.loaded(worker, {"threads": 4})
        pool.ready(worker, {})


def serve(pool, generation):
    workers = pool.members(generation)
    ready(pool, *workers)
    for worker in pool.procs:
        if worker.generation is not None and worker.generation < generation:
            pool.released(worker, {})
    for worker in workers:
        said(pool, worker)
    return workers


def kill(pool, worker, code=-signal.SIGKILL):
    os.kill(worker.pid, signal.SIGKILL)
    os.waitpid(worker.pid, 0)
    pool.exited(worker, code)


def test_a_generation_goes_once_all_its_workers_are_ready(pool):
    generation = pool.start_generation()
    first, second = pool.members(generation)
    ready(pool, first)
    assert said(pool, first) == [] and first.state is State.READY
    assert pool.serving is None and pool.pending == generation
    ready(pool, second)
    assert said(pool, first) == ["go"] and said(pool, second) == ["go"]
    assert (pool.serving, pool.pending) == (generation, None)
    assert pool.test_events.seen[-1][:2] == ("generation_serving", generation)


def test_the_new_generation_goes_only_once_the_old_one_stopped_accepting(pool):
    old_workers = serve(pool, pool.start_generation())
    new = pool.start_generation()
    new_workers = pool.members(new)
    ready(pool, *new_workers)
    # The old ones are told to stop; the new ones wait for them to let go.
    assert [said(pool, w) for w in old_workers] == [["stop"], ["stop"]]
    assert [said(pool, w) for w in new_workers] == [[], []]
    assert not any(e[0] == "generation_serving" and e[1] == new for e in pool.test_events.seen)
    pool.released(old_workers[0], {})
    assert [said(pool, w) for w in new_workers] == [[], []]
    pool.released(old_workers[1], {})
    assert [said(pool, w) for w in new_workers] == [["go"], ["go"]]
    assert pool.test_events.seen[-1][:2] == ("generation_serving", new)


def test_an_old_worker_that_never_lets_go_holds_the_new_ones_only_so_long(pool):
    old_workers = serve(pool, pool.start_generation())
    new = pool.start_generation()
    new_workers = pool.members(new)
    ready(pool, *new_workers)
    pool.released(old_workers[0], {})
    assert [said(pool, w) for w in new_workers] == [[], []]
    pool.run_timers(time.monotonic() + RELEASE_WAIT + 0.01)
    assert [said(pool, w) for w in new_workers] == [["go"], ["go"]]


def test_a_failed_worker_gives_up_its_generation_and_the_old_one_serves_on(pool):
    old = pool.start_generation()
    serve(pool, old)
    new = pool.start_generation()
    broken, other = pool.members(new)
    pool.error(broken, {"message": "Traceback...\nRuntimeError: no db",
                        "summary": "RuntimeError: no db"})
    assert pool.pending is None and pool.serving == old
    assert other.pid not in pool.procs.workers            # killed
    name, generation, worker, first = pool.test_events.seen[-1]
    assert (name, generation, worker, first) == ("generation_failed", new, broken, False)
    assert worker.summary == "RuntimeError: no db"
    assert all(w.state is State.SERVING for w in pool.members(old))


def test_workers_killed_by_requests_are_replaced_at_once_every_time(pool):
    generation = pool.start_generation()
    serve(pool, generation)
    for _ in range(6):
        victim = next(w for w in pool.members(generation) if w.state is State.SERVING)
        kill(pool, victim)
        assert pool.test_events.seen[-1][0] == "worker_died"
        assert pool.test_events.seen[-1][3] == 0.0        # at once, the sixth too
        assert len(pool.members(generation)) == 2 and pool.spawn_due is None
        replacement = next(w for w in pool.members(generation) if w.state is State.LOADING)
        ready(pool, replacement)
        assert said(pool, replacement) == ["go"]


def test_a_replacement_that_dies_before_it_serves_is_retried_with_back_off(pool):
    generation = pool.start_generation()
    serve(pool, generation)
    kill(pool, pool.members(generation)[0])
    replacement = next(w for w in pool.members(generation) if w.state is State.LOADING)
    kill(pool, replacement)
    assert pool.test_events.seen[-1][3] == 0.0            # the first failed start: at once
    replacement = next(w for w in pool.members(generation) if w.state is State.LOADING)
    kill(pool, replacement)
    assert pool.test_events.seen[-1][3] == 0.25           # failing again: wait
    assert len(pool.members(generation)) == 1 and pool.spawn_due is not None


def test_a_retiring_worker_is_stopped_once_its_successor_serves(pool):
    generation = pool.start_generation()
    old, other = serve(pool, generation)
    assert pool.retire(old, "it has served 50 requests")
    assert not pool.retire(old, "again")                  # once
    successor = next(w for w in pool.members(generation) if w.state is State.LOADING)
    assert old.state is State.SERVING and said(pool, old) == []
    ready(pool, successor)
    assert said(pool, successor) == ["go"]
    assert old.state is State.STOPPING and said(pool, old) == ["stop"]
    assert other.state is State.SERVING


def test_a_new_worker_that_does_not_start_in_time_fails_its_generation(pool):
    old = pool.start_generation()
    serve(pool, old)
    new = pool.start_generation()
    slow, quick = pool.members(new)
    ready(pool, quick)
    pool.run_timers(time.monotonic() + 31)
    assert pool.pending is None and pool.serving == old
    name, generation, worker, _first = pool.test_events.seen[-1]
    assert (name, generation, worker) == ("generation_failed", new, slow)
    assert "did not start within 30s" in worker.summary


def test_resize_adds_and_stops_workers(pool):
    generation = pool.start_generation()
    serve(pool, generation)
    pool.resize(3)
    assert len(pool.members(generation)) == 3
    pool.resize(1)
    assert len(pool.members(generation)) == 1
    pool.resize(0)
    assert pool.size == 1


def test_back_off_doubles_and_resets_once_a_worker_serves():
    backoff = Backoff(first=0.25, most=1.0)
    assert [backoff.failed() for _ in range(5)] == [0.0, 0.25, 0.5, 1.0, 1.0]
    backoff.succeeded()
    assert backoff.failed() == 0.0
