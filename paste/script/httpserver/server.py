# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""The event loop: accepting, socket events, deadlines, stopping; and the worker pool.

One thread (the caller of :meth:`WSGIServer.serve_forever`) owns every
socket: it accepts connections (at most ``connection_limit``; at the limit
an idle keep-alive connection is closed to make room, and if there is none
the listening socket waits), reads and parses requests, flushes queued
responses and checks every connection's deadlines twice a second. A request
goes to the pool of ``threads`` workers only when it is complete, body
included, so a slow client costs a socket and some memory, never a worker.
"""
from __future__ import annotations

import collections
import errno
import logging
import queue
import socket
import sys
import threading
import time
from typing import Callable

from paste.script.httpserver.connection import BUSY, FLUSHING, READING, Connection
from paste.script.httpserver.poller import make_poller
from paste.script.httpserver.settings import Settings
from paste.script.httpserver.wsgi import FileWrapper, serve_requests
from paste.script.runners_common import bind_socket

__all__ = ["WSGIServer"]

log = logging.getLogger("paste.script.wsgiutils_server")

SWEEP_INTERVAL = 0.5     # seconds between two checks of the deadlines
ACCEPT_PAUSE = 0.5       # seconds without accepting after running out of descriptors
_LISTENER = object()


class WSGIServer:
    """A bound, listening server; :meth:`serve_forever` runs it."""

    def __init__(self, app: Callable, settings: Settings | None = None,
                 poller: str | None = None, **options):
        settings = settings if settings is not None else Settings.from_options(options)
        self.app = app
        self.settings = settings
        self.socket = bind_socket(settings.host, settings.port, settings.request_queue_size)
        self.server_address = self.socket.getsockname()[:2]
        self.port = self.server_address[1]
        self.display_host = settings.host or self.server_address[0]
        self.stopping = False
        self.requests_cut = 0
        self.poller = make_poller(poller)
        self.connections: dict = {}
        self._force = False
        self._stopped = threading.Event()
        self._workers = WorkerPool(settings.threads, lambda conn: serve_requests(self, conn),
                                   self._thread_freed)
        self._ready: list = []
        self._calls = collections.deque()
        self._listener_closed = False
        self._accepting = False
        self._accept_resume = 0.0
        self._saturated = False     # not accepting while every thread is busy
        self._date_second = -1
        self._date_line = ""
        if hasattr(socket, "TCP_DEFER_ACCEPT"):
            # Wake up for a new connection only once it has sent something.
            try:
                self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT, 1)
            except OSError:
                pass
        self._tcp = self.socket.family in (socket.AF_INET, socket.AF_INET6)
        self.base_environ = {
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "wsgi.input_terminated": True,
            "wsgi.file_wrapper": FileWrapper,
            "SERVER_NAME": self.display_host,
            "SERVER_PORT": str(self.port),
            "SERVER_SOFTWARE": "PasteScript-wsgiutils",
            "SCRIPT_NAME": "",
        }

    # -- control (any thread, or a signal handler) -----------------------------------

    def shutdown(self) -> None:
        """Stop accepting; requests in flight finish; ``serve_forever`` then returns."""
        self.stopping = True
        self.poller.wake()

    def force_stop(self) -> None:
        """Stop now: requests in flight are cut (counted in ``requests_cut``)."""
        self._force = True
        self.shutdown()

    def wait_stopped(self, timeout: float | None = None) -> bool:
        return self._stopped.wait(timeout)

    def call_soon(self, function: Callable[[], None]) -> None:
        """Run ``function`` in the loop thread (the way workers hand connections back)."""
        self._calls.append(function)
        self.poller.wake()

    def dispatch(self, conn: Connection) -> None:
        # Handed to the workers after this round of events: a worker woken now
        # would only wait for the interpreter lock the loop still needs.
        self._ready.append(conn)

    def date_header(self) -> str:
        now = int(time.time())
        if now != self._date_second:
            self._date_line = "Date: " + time.strftime(
                "%a, %d %b %Y %H:%M:%S GMT", time.gmtime(now)) + "\r\n"
            self._date_second = now
        return self._date_line

    # -- the loop -------------------------------------------------------------------

    def serve_forever(self) -> None:
        self._workers.start()
        self.socket.setblocking(False)
        self._listen(True)
        try:
            self._run()
        finally:
            self._finish()

    def _run(self) -> None:
        poll = self.poller.poll
        calls = self._calls
        ready = self._ready
        put = self._workers.put
        next_sweep = time.monotonic() + SWEEP_INTERVAL
        stop_deadline = None
        while True:
            events = poll(SWEEP_INTERVAL if stop_deadline is None else 0.05)
            now = time.monotonic()
            for owner, readable, writable in events:
                if owner is _LISTENER:
                    self._accept(now)
                    continue
                try:
                    if writable:
                        owner.on_writable(now)
                    if readable:
                        owner.on_readable(now)
                except Exception:
                    log.exception("wsgiutils: unexpected error on a connection")
                    owner.close()
            while calls:
                try:
                    calls.popleft()()
                except Exception:
                    log.exception("wsgiutils: unexpected error in the event loop")
            if ready:
                for conn in ready:
                    put(conn)
                ready.clear()
            if now >= next_sweep:
                next_sweep = now + SWEEP_INTERVAL
                settings = self.settings
                for conn in list(self.connections.values()):
                    conn.check_deadlines(now, settings)
                self._resume_accepting(now)
            if self.stopping:
                if stop_deadline is None:
                    stop_deadline = now + self.settings.shutdown_timeout
                    self._begin_stop()
                if self._force or not self.connections or now >= stop_deadline:
                    return

    def _begin_stop(self) -> None:
        self._close_listener()
        for conn in list(self.connections.values()):
            if conn.state is READING:
                conn.close()  # idle, or a request not fully received: nothing in flight

    def _finish(self) -> None:
        in_flight = [conn for conn in self.connections.values() if conn.state in (BUSY, FLUSHING)]
        self.requests_cut = len(in_flight)
        if in_flight:
            log.warning("wsgiutils: stopping with %d request(s) in flight: they are cut",
                        len(in_flight))
        for conn in list(self.connections.values()):
            conn.cut()
            if conn.state is not BUSY:
                conn.close()
        self.stopping = True
        self._close_listener()
        self._workers.stop(wait=not in_flight)
        self.poller.close()
        self._stopped.set()

    # -- accepting ------------------------------------------------------------------

    def _close_listener(self) -> None:
        if not self._listener_closed:
            self._listen(False)
            self._listener_closed = True
            self.socket.close()

    def _resume_accepting(self, now: float) -> None:
        if not self._accepting and not self.stopping and now >= self._accept_resume \
                and len(self.connections) < self.settings.connection_limit \
                and not self._all_threads_busy():
            self._listen(True)

    def _all_threads_busy(self) -> bool:
        """True if no worker thread is free; the next one freed then calls
        :meth:`_resume_accepting` (through :meth:`_thread_freed`)."""
        threads = self.settings.threads
        if self._workers.busy < threads:
            return False
        self._saturated = True
        if self._workers.busy < threads:  # one was freed before it could see the flag
            self._saturated = False
            return False
        return True

    def _thread_freed(self) -> None:
        # A worker thread, right after it finished a connection's turn.
        if self._saturated:
            self._saturated = False
            self.call_soon(lambda: self._resume_accepting(time.monotonic()))

    def _listen(self, on: bool) -> None:
        if on and not self._accepting:
            self.poller.add_listener(self.socket.fileno(), _LISTENER)
        elif not on and self._accepting:
            self.poller.remove(self.socket.fileno())
        self._accepting = on

    def _accept(self, now: float) -> None:
        # One connection per readiness event: the poll is level-triggered, so
        # the next one comes round at once. Under `paster serve --workers` the
        # listening socket is shared, and a worker accepting a whole burst
        # (wrk's 16 keep-alive connections) would serve all of it while the
        # others idle: 2 workers then measured as 1 in one run out of three.
        # For the same reason a worker whose threads are all busy leaves new
        # connections to the others (or to the kernel's backlog) until one is
        # free: with keep-alive, whoever accepts a connection serves it for good.
        if len(self.connections) >= self.settings.connection_limit \
                and not self._reclaim_idle():
            self._listen(False)  # the kernel's backlog holds the next ones
            return
        if self._all_threads_busy():
            self._listen(False)
            return
        try:
            sock, addr = self.socket.accept()
        except BlockingIOError:
            return
        except OSError as exc:
            log.warning("wsgiutils: accept failed: %s", exc)
            if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                self._listen(False)
                self._accept_resume = now + ACCEPT_PAUSE
            return
        sock.setblocking(False)
        if self._tcp:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = Connection(self, sock, addr, now)
        self.connections[conn.fd] = conn
        self.poller.add(conn.fd, conn, False, False)
        conn.on_readable(now)  # with TCP_DEFER_ACCEPT the request is usually there

    def _reclaim_idle(self) -> bool:
        """Close the longest-idle keep-alive connection; False if there is none."""
        idle = [conn for conn in self.connections.values()
                if conn.state is READING and conn.served and conn.reader.current is None]
        if not idle:
            return False
        min(idle, key=lambda conn: conn.since).close()
        return True

    def connection_closed(self, conn: Connection) -> None:
        if self.connections.get(conn.fd) is conn:
            del self.connections[conn.fd]
            if not self._accepting:
                self._resume_accepting(time.monotonic())


class WorkerPool:
    """``threads`` threads calling ``handle(conn)`` for each connection put in,
    then ``freed()``; ``busy`` is how many connections are put in and not done."""

    def __init__(self, threads: int, handle: Callable, freed: Callable[[], None]):
        self._handle = handle
        self._freed = freed
        self._queue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._put = 0       # written by the loop thread only
        self._done = 0      # written by worker threads, under the lock
        self._threads = [threading.Thread(target=self._work, name=f"wsgiutils-worker-{n}",
                                          daemon=True) for n in range(threads)]

    @property
    def busy(self) -> int:
        return self._put - self._done

    def put(self, conn) -> None:
        self._put += 1
        self._queue.put(conn)

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self, wait: bool) -> None:
        """Let every thread end once the queue is done; ``wait`` a few seconds for them."""
        for _ in self._threads:
            self._queue.put(None)
        if wait:
            deadline = time.monotonic() + 5.0
            for thread in self._threads:
                thread.join(max(0.0, deadline - time.monotonic()))

    def _work(self) -> None:
        get = self._queue.get
        handle = self._handle
        while True:
            conn = get()
            if conn is None:
                return
            try:
                handle(conn)
            except BaseException:
                log.exception("wsgiutils: unexpected error on a connection")
                conn.close_after = True
                conn.output.broken = True
                conn.release()
            with self._lock:
                self._done += 1
            self._freed()
