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

import pytest

from paste.script.serving import ipc
from paste.script.serving.pool import Backoff, Pool
from paste.script.serving.processes import Worker


class Events:
    def __init__(self):
        self.seen = []

    def __getattr__(self, name):
        return lambda *args: self.seen.append((name, *args))


class Sockets:
    def get(self, *args):
        raise AssertionError("no bind expected")

    def close_unused_by(self, workers, serving):
        pass


@pytest.fixture
def pool():
    procs, ends = [], {}

    def spawner(preload=None):
        proc = subprocess.Popen(["sleep", "60"])
        procs.append(proc)
        monitor_end, worker_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        monitor_end.setblocking(False)
        ends[proc.pid] = worker_end
        return Worker(proc.pid, monitor_end, None)

    events = Events()
    made = Pool(events, spawner, Sockets(), size=2, graceful_timeout=5)
    made.ends = ends
    made.test_events = events
    yield made
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def said(pool, worker) -> list[str]:
    """What the pool sent this worker so far."""
    end = pool.ends[worker.pid]
    end.setblocking(False)
    ops = []
    while True:
        try:
            message, _fds = ipc.receive(end)
        except BlockingIOError:
            return ops
        ops.append(message["op"])


def serve(pool, generation):
    for worker in pool.members(generation):
        pool.handle(worker, {"op": "loaded"})
        pool.handle(worker, {"op": "ready"})


def test_a_generation_serves_once_all_its_workers_do(pool):
    generation = pool.start_generation()
    first, second = pool.members(generation)
    pool.handle(first, {"op": "loaded"})
    assert said(pool, first) == ["go"]
    pool.handle(first, {"op": "ready"})
    assert pool.serving is None and pool.pending == generation
    pool.handle(second, {"op": "loaded"})
    pool.handle(second, {"op": "ready"})
    assert (pool.serving, pool.pending) == (generation, None)
    assert pool.test_events.seen[-1][:2] == ("generation_serving", generation)


def test_new_generation_replaces_the_old_one_only_when_it_serves(pool):
    old = pool.start_generation()
    serve(pool, old)
    new = pool.start_generation()
    old_workers = pool.members(old)
    assert all(w.state == "serving" for w in old_workers)
    serve(pool, new)
    assert pool.serving == new
    for worker in old_workers:
        assert worker.state == "stopping" and said(pool, worker)[-1] == "stop"


def test_a_failed_worker_gives_up_its_generation_and_the_old_one_serves_on(pool):
    old = pool.start_generation()
    serve(pool, old)
    new = pool.start_generation()
    broken, other = pool.members(new)
    pool.handle(broken, {"op": "error", "message": "Traceback...\nRuntimeError: no db",
                         "summary": "RuntimeError: no db"})
    assert pool.pending is None and pool.serving == old
    assert other.pid not in pool.procs.workers            # killed and reaped
    name, generation, worker, first = pool.test_events.seen[-1]
    assert (name, generation, worker, first) == ("generation_failed", new, broken, False)
    assert worker.summary == "RuntimeError: no db"
    assert all(w.state == "serving" for w in pool.members(old))


def test_a_dead_worker_is_replaced_at_once_then_with_back_off(pool):
    generation = pool.start_generation()
    serve(pool, generation)
    victim = pool.members(generation)[0]
    os.kill(victim.pid, signal.SIGKILL)
    os.waitpid(victim.pid, 0)
    pool.exited(victim, -signal.SIGKILL)
    assert pool.test_events.seen[-1][0] == "worker_died"
    assert pool.test_events.seen[-1][3] == 0.0            # at once
    assert len(pool.members(generation)) == 2
    replacement = [w for w in pool.members(generation) if w.state == "loading"][0]
    os.kill(replacement.pid, signal.SIGKILL)
    os.waitpid(replacement.pid, 0)
    pool.exited(replacement, -signal.SIGKILL)
    assert pool.test_events.seen[-1][3] == 0.25           # dying again: wait
    assert len(pool.members(generation)) == 1 and pool.spawn_due is not None


def test_resize_adds_and_stops_workers(pool):
    generation = pool.start_generation()
    serve(pool, generation)
    pool.resize(3)
    assert len(pool.members(generation)) == 3
    pool.resize(1)
    assert len(pool.members(generation)) == 1
    pool.resize(0)
    assert pool.size == 1


def test_back_off_doubles_and_resets_after_a_healthy_run():
    backoff = Backoff(first=0.25, most=1.0, healthy_after=10)
    assert [backoff.failed(0) for _ in range(5)] == [0.0, 0.25, 0.5, 1.0, 1.0]
    assert backoff.failed(60) == 0.0                      # it had served a while
