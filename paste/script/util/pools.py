# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""Process models for server runners that serve one connection per job.

The flup runners (:mod:`paste.script.flup_server`) keep flup's protocol
classes but not its process model; this module is theirs. Connections are
accepted on a listening socket that other processes may share (it stays
non-blocking: another process may take a connection first) and each one is
handed to a *job* that serves it to the end:

* :func:`serve_threads`: accept in the calling thread, serve in a
  :class:`ThreadPool`;
* :class:`ProcessPool`: a fixed number of forked processes, each accepting
  and serving one connection at a time.

Both start accepting after :func:`paste.script.serving.ready`, and stop on
the engine's :func:`~paste.script.serving.on_stop` callback or, on their
own, SIGTERM/SIGINT (a :class:`Stop`, which the caller hands to
:func:`~paste.script.runners_common.stop_signals` before it listens, so
that no signal finds the server without a handler): accept nothing more, close the
connections waiting for a next request (:class:`Connections`), let the
requests in flight finish within the shutdown timeout, and return. A
second signal stops them at once.
"""
from __future__ import annotations

import collections
import errno
import os
import select
import signal
import socket
import sys
import threading
import time
from typing import Any, Callable

from paste.script.util.streams import flush_std_streams
from paste.script import serving

__all__ = ["Connections", "Stop", "accept", "ThreadPool", "serve_threads", "ProcessPool"]


class Connections:
    """The connections this process serves, so that a stop can close the idle ones.

    A job (flup's connection objects) keeps its socket to itself, but the
    pool accepts each connection, so it knows them. Once the server stops, a
    connection waiting for its next request (AJP's persistent connections,
    FastCGI's with keep-conn) is shut down for reading: the job reads
    end-of-file and closes it. One with a request running (between
    :meth:`request`'s enter and exit, which the protocol code marks) gets the
    same once its answer is written.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._open: dict[int, list] = {}        # id(sock) -> [sock, running, served]
        self._current = threading.local()
        self.stopping = False

    def serve(self, job, sock: socket.socket) -> None:
        """Run ``job`` (an object with ``run()``) serving ``sock``, in this thread."""
        entry = [sock, 0, 0]
        with self._lock:
            self._open[id(sock)] = entry
        self._current.entry = entry
        try:
            job.run()
        except Exception:
            pass  # the jobs (flup's connection objects) log their own errors
        finally:
            self._current.entry = None
            with self._lock:
                self._open.pop(id(sock), None)
            sock.close()

    class _Request:
        def __init__(self, owner: Connections):
            self.owner = owner
            self.entry = getattr(owner._current, "entry", None)

        def __enter__(self):
            if self.entry is not None:
                with self.owner._lock:
                    self.entry[1] += 1

        def __exit__(self, *exc_info):
            if self.entry is None:
                return
            with self.owner._lock:
                self.entry[1] -= 1
                self.entry[2] += 1
                close = self.owner.stopping and not self.entry[1]
            if close:
                _shut_reading(self.entry[0])

    def request(self) -> Connections._Request:
        """A context for one request of the connection served by this thread."""
        return self._Request(self)

    def stop(self) -> None:
        """Close idle connections now, the others after their request."""
        with self._lock:
            self.stopping = True
            idle = [entry[0] for entry in self._open.values() if not entry[1] and entry[2]]
        for sock in idle:
            _shut_reading(sock)

    def abort(self) -> None:
        """Cut every connection (the graceful stop took too long)."""
        with self._lock:
            self.stopping = True
            socks = [entry[0] for entry in self._open.values()]
        for sock in socks:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def _shut_reading(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RD)
    except OSError:
        pass


class Stop:
    """How the server is told to stop: the engine's callback, or SIGTERM/SIGINT.

    The first request is a graceful stop; a second signal stops at once. It
    wakes the accepting loop through a pipe, which a signal handler may
    write to safely.
    """

    def __init__(self):
        self.requested = threading.Event()
        self.forced = threading.Event()
        self.accepting_stopped = threading.Event()
        self._read, self._write = os.pipe()
        os.set_blocking(self._read, False)
        os.set_blocking(self._write, False)

    def fileno(self) -> int:
        return self._read

    def _wake(self) -> None:
        try:
            os.write(self._write, b"!")
        except OSError:
            pass

    def request(self) -> None:
        """The engine's :func:`~paste.script.serving.on_stop` callback (another thread).

        It returns once the server accepts no more (or after two seconds).
        """
        self.requested.set()
        self._wake()
        if threading.current_thread() is not threading.main_thread():
            self.accepting_stopped.wait(2.0)

    def signal(self, signum: int) -> None:
        if self.requested.is_set():
            self.forced.set()
        self.requested.set()
        self._wake()

    def drain(self) -> None:
        try:
            while os.read(self._read, 512):
                pass
        except OSError:
            pass

    def close(self) -> None:
        for fd in (self._read, self._write):
            try:
                os.close(fd)
            except OSError:
                pass


_last_report = [0.0]


def accept(sock: socket.socket):
    """``(connection, address)`` from the shared, non-blocking socket, or None."""
    try:
        conn, address = sock.accept()
    except (BlockingIOError, InterruptedError, ConnectionAbortedError):
        return None          # another process took it, or the client gave up
    except OSError as exc:
        if exc.errno not in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
            raise
        now = time.monotonic()
        if now - _last_report[0] >= 1.0:
            _last_report[0] = now
            print(f"Cannot accept a connection: {exc.strerror}", file=sys.stderr, flush=True)
        time.sleep(0.05)     # the socket stays readable: do not spin on it
        return None
    if conn.family in (socket.AF_INET, socket.AF_INET6):
        # Without it, bodies sent in many small protocol packets stall on
        # delayed ACKs.
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return conn, address


# -- thread pool ----------------------------------------------------------------------

class ThreadPool:
    """A pool of threads that never strands a connection.

    flup's own pool counts a thread as idle until it has *taken* a job, so a burst
    of connections can be queued behind fewer idle threads than jobs. With
    persistent connections (Apache keeps its AJP connections open) such a job
    waits forever. Here a thread is reserved the moment a job is handed out.
    """

    def __init__(self, minSpare: int = 1, maxSpare: int = 5, maxThreads: int = sys.maxsize):
        self._min_spare = minSpare
        self._max_spare = maxSpare
        self._max_threads = max(maxThreads, minSpare)
        self._lock = threading.Condition()
        self._jobs: collections.deque = collections.deque()
        self._threads: list = []
        self._idle = 0          # threads waiting for a job and not promised one
        self._stopping = False
        with self._lock:
            for _ in range(maxSpare):
                self._spawn()

    def _spawn(self) -> None:
        thread = threading.Thread(target=self._work, name="pool-worker", daemon=True)
        self._threads.append(thread)
        self._idle += 1
        thread.start()

    def add(self, job: Callable[[], None]) -> bool:
        """Run ``job()`` in a thread; False when none is left (``maxThreads``)."""
        with self._lock:
            if self._stopping:
                return False
            if not self._idle and len(self._threads) < self._max_threads:
                self._spawn()
            if not self._idle:
                return False
            self._idle -= 1
            self._jobs.append(job)
            # Keep a few threads ready for the next connections.
            while self._idle < self._min_spare and len(self._threads) < self._max_threads:
                self._spawn()
            self._lock.notify()
            return True

    def _work(self) -> None:
        me = threading.current_thread()
        while True:
            with self._lock:
                while not self._jobs and not self._stopping:
                    self._lock.wait()
                if not self._jobs:
                    self._threads.remove(me)
                    self._lock.notify_all()
                    return
                job = self._jobs.popleft()
            job()
            with self._lock:
                if self._idle >= self._max_spare and not self._jobs:
                    self._threads.remove(me)
                    self._lock.notify_all()
                    return
                self._idle += 1

    def shutdown(self, deadline: float, forced: threading.Event) -> bool:
        """Let running jobs finish (until ``deadline`` or ``forced``); True if all did."""
        with self._lock:
            self._stopping = True
            self._lock.notify_all()
            while self._threads and not forced.is_set():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._lock.wait(min(remaining, 0.1))
            return not self._threads


def serve_threads(sock: socket.socket, serve: Callable[[socket.socket, Any], None],
                  allowed: Callable[[Any], bool], connections: Connections, stop: Stop,
                  pool_options: dict, shutdown_timeout: float) -> None:
    """Accept in this thread, ``serve(connection, address)`` in a thread of the pool.

    ``allowed(address)`` says whether a client may connect; ``stop`` is how
    it is told to stop (the caller gives it SIGTERM/SIGINT, from before it
    listens); ``pool_options`` are :class:`ThreadPool`'s. Returns once
    stopped and the requests are done.
    """
    pool = ThreadPool(**pool_options)
    serving.on_stop(stop.request)
    serving.ready()
    try:
        while not stop.requested.is_set():
            readable, _, _ = select.select([sock, stop], [], [])
            if stop.requested.is_set() or sock not in readable:
                continue
            accepted = accept(sock)
            if accepted is None:
                continue
            conn, address = accepted
            if not allowed(address) or not pool.add(lambda c=conn, a=address: serve(c, a)):
                conn.close()    # not allowed, or no thread left (maxThreads)
        stop.accepting_stopped.set()
        connections.stop()
        if not pool.shutdown(time.monotonic() + shutdown_timeout, stop.forced):
            connections.abort()
    finally:
        stop.accepting_stopped.set()


# -- process pool ---------------------------------------------------------------------

class ProcessPool:
    """``size`` forked processes, each accepting and serving one connection at a time.

    ``serve(connection, address)`` runs in the process that accepted; a
    process is replaced after ``max_requests`` connections (0: never);
    ``stop`` is how the pool is told to stop (as for :func:`serve_threads`).

    Each process has a control socket to this one: a byte on it asks a
    graceful stop, end-of-file says that this process is gone (the process
    then finishes its request, within ``shutdown_timeout``, and exits), and
    this end reads end-of-file when the process has exited.
    """

    def __init__(self, sock: socket.socket, serve: Callable[[socket.socket, Any], None],
                 allowed: Callable[[Any], bool], connections: Connections, stop: Stop,
                 size: int = 5, max_requests: int = 0, shutdown_timeout: float = 30.0):
        self.sock = sock
        self.serve = serve
        self.allowed = allowed
        self.connections = connections
        self.size = size
        self.max_requests = max_requests
        self.shutdown_timeout = shutdown_timeout
        self.children: dict[int, socket.socket] = {}
        self.unacknowledged: set[int] = set()   # told to stop, not yet sure to accept no more
        self.stop = stop
        self.stopping_since: float | None = None

    def run(self) -> None:
        """Serve until stopped; returns once every process has exited."""
        serving.on_stop(self.stop.request)
        serving.ready()
        try:
            self._supervise()
        finally:
            self.stop.accepting_stopped.set()
            for end in self.children.values():
                end.close()

    def _supervise(self) -> None:
        while True:
            if self.stopping_since is None:
                while len(self.children) < self.size:
                    self._spawn()
            timeout = None
            if self.stopping_since is not None:
                timeout = max(0.0, self.stopping_since + self.shutdown_timeout
                              - time.monotonic())
                if self.unacknowledged:
                    timeout = min(timeout, 0.05)
            ends = {end: pid for pid, end in self.children.items()}
            readable, _, _ = select.select([self.stop, *ends], [], [], timeout)
            for end in readable:
                if end is self.stop:
                    self.stop.drain()
                    continue
                message = _receive(end)
                if not message:
                    self._reap(ends[end])
                elif b"a" in message:
                    self.unacknowledged.discard(ends[end])
            if self.stop.requested.is_set() and self.stopping_since is None:
                self._stop_children()
            elif self.stopping_since is not None:
                self._check_acknowledged()
            if self.stopping_since is not None and (
                    self.stop.forced.is_set()
                    or time.monotonic() >= self.stopping_since + self.shutdown_timeout):
                self._kill_children()
            if self.stopping_since is not None and not self.children:
                return

    def _spawn(self) -> None:
        ours, theirs = socket.socketpair()
        flush_std_streams()   # else the process writes our pending output again
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                ours.close()
                for end in self.children.values():
                    end.close()
                self.stop.close()
                code = _Child(self, theirs).run()
            finally:
                flush_std_streams()
                os._exit(code)
        theirs.close()
        self.children[pid] = ours

    def _reap(self, pid: int) -> None:
        self.children.pop(pid).close()
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass

    def _stop_children(self) -> None:
        self.stopping_since = time.monotonic()
        for pid, end in self.children.items():
            try:
                end.send(b"s")
            except OSError:
                continue
            self.unacknowledged.add(pid)
        self._check_acknowledged()

    def _check_acknowledged(self) -> None:
        """Once every process said it accepts no more, the engine's callback may return."""
        self.unacknowledged &= set(self.children)
        if not self.unacknowledged or time.monotonic() > self.stopping_since + 1.0:
            self.stop.accepting_stopped.set()

    def _kill_children(self) -> None:
        for pid in list(self.children):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self._reap(pid)


def _receive(end: socket.socket) -> bytes:
    try:
        return end.recv(16)
    except (BlockingIOError, InterruptedError):
        return b"-"
    except OSError:
        return b""


class _Child:
    """One forked process of a :class:`ProcessPool`."""

    def __init__(self, pool: ProcessPool, control: socket.socket):
        self.pool = pool
        self.control = control
        self.stopping = threading.Event()
        self.accepting = threading.Lock()      # held from the last look at stopping to accept()
        self.wake_read, self.wake_write = os.pipe()

    def run(self) -> int:
        # The signals a whole process group gets (Ctrl-C, systemd's SIGTERM)
        # are for the parent, which stops this process when it stops. A
        # handler, not SIG_IGN: programs the application starts get the
        # default dispositions back.
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1):
            signal.signal(signum, _ignore)
        threading.Thread(target=self._watch_parent, name="pool-control",
                         daemon=True).start()
        served = 0
        pool = self.pool
        while not self.stopping.is_set():
            readable, _, _ = select.select([pool.sock, self.wake_read], [], [])
            with self.accepting:
                if self.stopping.is_set() or pool.sock not in readable:
                    continue
                accepted = accept(pool.sock)
            if accepted is None:
                continue
            conn, address = accepted
            if not pool.allowed(address):
                conn.close()
                continue
            pool.serve(conn, address)
            served += 1
            if pool.max_requests and served >= pool.max_requests:
                break
        return 0

    def _watch_parent(self) -> None:
        while True:
            try:
                message = self.control.recv(16)
            except InterruptedError:
                continue
            except OSError:
                message = b""
            self.stopping.set()
            os.write(self.wake_write, b"!")
            with self.accepting:
                pass                # no accept() under way: none will follow
            if message:
                try:
                    self.control.send(b"a")
                except OSError:
                    pass
            self.pool.connections.stop()
            if not message:
                # The parent is gone: finish the request in hand, not forever.
                time.sleep(self.pool.shutdown_timeout)
                self.pool.connections.abort()
                os._exit(1)


def _ignore(signum, frame) -> None:
    """The parent decides when this process stops."""


