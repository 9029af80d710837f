# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""The event loop: socket events, deadlines, stopping.

The loop is run by whichever thread of the :class:`~.crew.Crew` leads at
the moment (:meth:`WSGIServer.lead`). It owns every socket: it accepts
connections (:mod:`.accepting`), reads and parses requests, flushes queued
responses and checks every connection's deadlines twice a second. A request
goes to an application only when it is complete, body included, so a slow
client costs a socket and some memory, never a thread; the leader usually
runs the application itself, and hands the loop over when it takes long.

The thread that calls :meth:`WSGIServer.serve_forever` only waits for the
server to stop (and takes signals meanwhile).
"""
from __future__ import annotations

import collections
import logging
import socket
import sys
import threading
import time
from typing import Callable

from paste.script import serving
from paste.script.httpserver.accepting import Acceptor
from paste.script.httpserver.connection import BUSY, FLUSHING, Connection
from paste.script.httpserver.crew import Crew
from paste.script.httpserver.poller import make_poller
from paste.script.httpserver.request import SpoolBudget
from paste.script.httpserver.settings import Settings
from paste.script.httpserver.wsgi import FileWrapper, serve_requests

__all__ = ["WSGIServer"]

log = logging.getLogger("paste.script.wsgiutils_server")

SWEEP_INTERVAL = 0.5     # seconds between two checks of the deadlines


#: A stopping server closes a keep-alive connection idle this long (seconds).
STOP_IDLE = 1.0

class WSGIServer:
    """A bound, listening server; :meth:`serve_forever` runs it."""

    def __init__(self, app: Callable, settings: Settings | None = None,
                 poller: str | None = None, **options):
        settings = settings if settings is not None else Settings.from_options(options)
        self.app = app
        self.settings = settings
        self.socket = serving.listen((settings.host, settings.port), settings.request_queue_size)
        self.server_address = self.socket.getsockname()[:2]
        self.port = self.server_address[1]
        self.display_host = settings.host or self.server_address[0]
        self.stopping = False
        self.requests_cut = 0
        self.poller = make_poller(poller)
        self.connections: dict = {}
        self.spool = SpoolBudget(settings.max_request_spool_size)
        self.acceptor = Acceptor(self, self.socket)
        self.crew = Crew(settings.threads, self.lead, lambda conn: serve_requests(self, conn),
                         self._loop_has_work, self.poller.wake, self.acceptor.thread_freed)
        self._force = False
        self._done = threading.Event()       # the loop has ended
        self._stopped = threading.Event()    # ... and everything is closed
        self._ready = collections.deque()    # connections with complete requests
        self._events = collections.deque()   # of the last poll, not handled yet
        self._calls = collections.deque()
        self._next_sweep = 0.0
        self._stop_deadline = None
        self._date_second = -1
        self._date_line = ""
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
        """Run ``function`` in the loop (the way threads hand connections back)."""
        self._calls.append(function)
        if not self.crew.is_leader():
            self.poller.wake()

    def dispatch(self, conn: Connection) -> None:
        """``conn`` has complete requests: run them once the current event is handled."""
        self._ready.append(conn)

    def date_header(self) -> str:
        now = int(time.time())
        if now != self._date_second:
            self._date_line = "Date: " + time.strftime(
                "%a, %d %b %Y %H:%M:%S GMT", time.gmtime(now)) + "\r\n"
            self._date_second = now
        return self._date_line

    # -- running -------------------------------------------------------------------

    def serve_forever(self) -> None:
        """Serve until :meth:`shutdown` (or :meth:`force_stop`) and the end of what is in flight."""
        serving.ready()   # under paster serve: once the monitor lets this worker accept
        self.acceptor.shared = (serving.pool_size() or 1) > 1
        self._next_sweep = time.monotonic() + SWEEP_INTERVAL
        self.acceptor.listen(True)
        self.crew.start()
        try:
            self._done.wait()
        finally:
            if not self._done.is_set():   # interrupted: the loop must end before the rest
                self.force_stop()
                self._done.wait(5.0)
            self._finish()

    def lead(self) -> bool:
        """The event loop, run by the leading thread; True once the server stopped,
        False when another thread took the lead over (this one ran an application)."""
        events = self._events
        ready = self._ready
        calls = self._calls
        crew = self.crew
        while True:
            if not events and not calls:
                events.extend(self.poller.poll(self._poll_timeout()))
            now = time.monotonic()
            while calls:
                try:
                    calls.popleft()()
                except Exception:
                    log.exception("wsgiutils: unexpected error in the event loop")
                if ready and not self._run_ready(now):
                    return False
            while events:
                owner, readable, writable = events.popleft()
                try:
                    if writable:
                        owner.on_writable(now)
                    if readable:
                        owner.on_readable(now)
                except Exception:
                    log.exception("wsgiutils: unexpected error on a connection")
                    if owner is not self.acceptor:
                        owner.close()
                if ready and not self._run_ready(now):
                    return False
            if not crew.run_queued(now):
                return False
            if now >= self._next_sweep:
                self._sweep(now)
            if self.stopping and self._stopping(now):
                self._done.set()
                return True
            if ready and not self._run_ready(now):  # read by the sweep or the stop
                return False

    def _loop_has_work(self) -> bool:
        """Whether the loop has something to do (asked while its leader runs an application)."""
        return bool(self._events or self._ready or self._calls or self.stopping) \
            or self.poller.has_events()

    def _run_ready(self, now: float) -> bool:
        ready = self._ready
        run = self.crew.run
        while ready:
            if not run(ready.popleft(), now):
                return False
        return True

    def _poll_timeout(self) -> float:
        if self.stopping:
            return 0.05
        return max(0.0, self._next_sweep - time.monotonic())

    def _sweep(self, now: float) -> None:
        self._next_sweep = now + SWEEP_INTERVAL
        settings = self.settings
        for conn in list(self.connections.values()):
            conn.check_deadlines(now, settings)
        self.acceptor.resume(now)

    def connection_closed(self, conn: Connection) -> None:
        if self.connections.get(conn.fd) is conn:
            del self.connections[conn.fd]
            if not self.acceptor.accepting:
                self.acceptor.resume(time.monotonic())

    # -- stopping (loop thread) -------------------------------------------------------

    def _stopping(self, now: float) -> bool:
        """True once the loop may end.

        A stopping server answers every request with ``Connection: close``,
        so a keep-alive client moves with its next request, race-free; a
        connection idle for :data:`STOP_IDLE` is closed (closing one that has
        just answered would cut the request its client may be sending then).
        """
        if self._stop_deadline is None:
            self._stop_deadline = now + self.settings.shutdown_timeout
            self.acceptor.close()
        for conn in list(self.connections.values()):
            if now - conn.clock.since >= STOP_IDLE:
                conn.close_if_idle()   # busy ones close after their response
        return self._force or not self.connections or now >= self._stop_deadline

    def _finish(self) -> None:
        """After the loop: cut what is left, release the threads and the poller."""
        in_flight = [conn for conn in self.connections.values() if conn.state in (BUSY, FLUSHING)]
        self.requests_cut = len(in_flight)
        if in_flight:
            log.warning("wsgiutils: stopping with %d request(s) in flight: they are cut",
                        len(in_flight))
        for conn in list(self.connections.values()):
            with conn.lock:   # whoever owns it: stop it now
                conn.output.drop()
                try:
                    conn.sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            if conn.state is not BUSY:
                conn.close()
        self.stopping = True
        self.crew.stop(wait=0.0 if in_flight else 5.0)
        self.acceptor.close()
        self.poller.close()
        self._stopped.set()
