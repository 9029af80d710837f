# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""Taking new connections: when to accept, when to leave them to others, and running out.

A process alone on its socket accepts every connection waiting, up to
``ACCEPT_BATCH``, at each readiness event of the listening socket. Accepting
one per event made a burst of new clients wait for each other: each turn of
the loop runs the requests of every connection already in, so the last of
64 clients arriving at once behind an application that computes for a
millisecond waited about 2 s for its first answer (the sum of 1 to 64 ms).

*Sharing.* Under ``paster serve --workers N`` every worker process accepts
from the same socket, and a keep-alive connection stays with the process
that accepted it. A process whose ``threads`` are all running applications
then leaves new connections to the others for a moment (the *gate*): it
stops listening until one of its threads is free, and for ``GATE_LIMIT``
seconds at most, so that a connection never waits in the kernel's backlog
behind the keep-alive traffic of busy processes. Processes that share a
socket accept one connection per readiness event, which spreads a burst
among them. A process alone on its socket never gates.

*Limits.* At ``connection_limit`` open connections, the longest-idle one
(no request under way) is closed to make room; if none is idle, the
listener pauses until a connection closes. When the process runs out of
descriptors (``EMFILE``), the same happens: the longest-idle connection
makes room, and if there is none the listener pauses for half a second.
That error is reported once a second at most.
"""
from __future__ import annotations

import errno
import logging
import socket
import time

from paste.script.httpserver.connection import READING, Connection

__all__ = ["Acceptor", "GATE_LIMIT", "ACCEPT_PAUSE", "ACCEPT_BATCH"]

log = logging.getLogger("paste.script.wsgiutils_server")

GATE_LIMIT = 1.0         # seconds a shared listener is left to the others, at most
ACCEPT_BATCH = 64        # connections a process alone on its socket accepts per event
ACCEPT_PAUSE = 0.5       # seconds without accepting when out of descriptors and none idle
REPORT_INTERVAL = 1.0    # seconds between two reports of the same accept error
_OUT_OF_RESOURCES = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)


class Acceptor:
    """The listening socket of one :class:`~.server.WSGIServer`, and its policy."""

    def __init__(self, server, sock: socket.socket):
        self.server = server
        self.socket = sock
        self.accepting = False
        self.closed = False
        self.shared = False          # another process accepts from this socket
        self.resume_at = 0.0         # paused until then after running out of descriptors
        self._gate_since = None      # when the gate closed (all threads busy)
        self._credit = False         # a thread was freed: one connection may come in
        self._tcp = sock.family in (socket.AF_INET, socket.AF_INET6)
        self._error_reported = 0.0
        self._errors_unreported = 0
        if hasattr(socket, "TCP_DEFER_ACCEPT") and self._tcp:
            # Wake up for a new connection only once it has sent something.
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT, 1)
            except OSError:
                pass

    # -- listening on and off (loop thread) --------------------------------------------

    def listen(self, on: bool) -> None:
        if self.closed or on == self.accepting:
            return
        if on:
            self.server.poller.add_listener(self.socket.fileno(), self)
        else:
            self.server.poller.remove(self.socket.fileno())
        self.accepting = on

    def close(self) -> None:
        """Stop listening for good; the socket is closed (never shut down: it may be shared)."""
        if not self.closed:
            self.listen(False)
            self.closed = True
            self.socket.close()

    def resume(self, now: float) -> None:
        """Listen again if nothing holds the listener off any more."""
        server = self.server
        if not self.accepting and not self.closed and not server.stopping \
                and now >= self.resume_at \
                and len(server.connections) < server.settings.connection_limit \
                and not self._gated(now, consume=False):
            self.listen(True)

    def thread_freed(self) -> None:
        """A thread finished an application (any thread): let one connection in."""
        if self._gate_since is not None and not self._credit:
            self._credit = True
            self.server.call_soon(lambda: self.resume(time.monotonic()))

    def _gated(self, now: float, consume: bool) -> bool:
        if not self.shared or not self.server.crew.full:
            self._gate_since = None
            self._credit = False   # a credit is for a thread freed while the gate was closed
            return False
        if self._credit:
            if consume:
                self._credit = False
            return False
        if self._gate_since is None:
            self._gate_since = now
        if now - self._gate_since >= GATE_LIMIT:
            if consume:
                self._gate_since = now  # one connection per GATE_LIMIT while nothing frees
            return False
        return True

    # -- accepting (loop thread) -------------------------------------------------------

    def on_readable(self, now: float) -> None:
        for _ in range(1 if self.shared else ACCEPT_BATCH):
            if not self._accept_one(now):
                break
        if self.accepting:
            self.server.poller.rearm_listener(self.socket.fileno())

    def _accept_one(self, now: float) -> bool:
        """Accept a connection if the policy allows; False when there was none to take."""
        server = self.server
        if len(server.connections) >= server.settings.connection_limit \
                and not self.reclaim_idle():
            self.listen(False)  # the kernel's backlog holds the next ones
            return False
        if self._gated(now, consume=True):
            self.listen(False)
            return False
        try:
            sock, addr = self.socket.accept()
        except BlockingIOError:
            return False  # none left, or another process took it
        except OSError as exc:
            self._failed(exc, now)
            return False
        sock.setblocking(False)
        if self._tcp:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = Connection(server, sock, addr, now)
        server.connections[conn.fd] = conn
        server.poller.add(conn.fd, conn)
        conn.on_readable(now)  # with TCP_DEFER_ACCEPT the request is usually there
        return not server.stopping

    def on_writable(self, now: float) -> None:
        """Never asked for."""

    def _failed(self, exc: OSError, now: float) -> None:
        out_of_resources = exc.errno in _OUT_OF_RESOURCES
        if out_of_resources:
            made_room = self.reclaim_idle()
            if not made_room:
                self.listen(False)
                self.resume_at = now + ACCEPT_PAUSE
        self._report(exc, now, "closing the longest-idle connection" if out_of_resources
                     and made_room else "")

    def _report(self, exc: OSError, now: float, action: str) -> None:
        if now - self._error_reported < REPORT_INTERVAL:
            self._errors_unreported += 1
            return
        more = f" ({self._errors_unreported} more in the last {now - self._error_reported:.0f}s)" \
            if self._errors_unreported and self._error_reported else ""
        log.warning("wsgiutils: accepting a connection failed: %s%s%s", exc.strerror or exc,
                    more, f"; {action}" if action else "")
        self._error_reported = now
        self._errors_unreported = 0

    def reclaim_idle(self) -> bool:
        """Close the longest-idle connection (no request under way); False if there is none."""
        idle = None
        for conn in self.server.connections.values():
            if conn.state is READING and conn.reader.current is None and not conn.reader.done \
                    and (idle is None or conn.clock.since < idle.clock.since):
                idle = conn
        if idle is None:
            return False
        idle.close()
        return True
