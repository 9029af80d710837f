# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""In a worker: the connections it accepted, closed as they fall idle once it stops.

A stopping worker no longer accepts, but its keep-alive clients would go on
sending requests to the old code on their open connections. Each of them is
closed as soon as it is idle; the close is a ``shutdown(SHUT_RD)``: the
server reads end-of-file the next time it reads from the connection and
closes its end, and the client, seeing the connection closed before reusing
it, opens a new one, which the new workers accept.

Idle means that no request is in the server's hands. :class:`.inflight.InFlight`
counts the requests the application is answering, per client address, but
a server may have read a request it has not yet passed to the application
(Twisted, for one, reads eagerly and drops such a request at end-of-file).
The kernel tells the rest (Linux ``TCP_INFO``): a connection is idle when no
byte arrived since its last request ended (50 ms ago at least: a server
may still be writing the end of that response from its own buffers),
nothing waits to be read or sent, and none of its requests is running. A connection with no request
since the worker began to stop must also show no new byte over two looks
while the worker runs no request at all, and one that has sent nothing yet
is left alone for a second after it was accepted.

A runner that does not accept through Python's ``socket`` module has no
connections here; the worker then waits for a quiet moment instead.
"""
from __future__ import annotations

import fcntl
import socket
import struct
import termios
import threading
import time

from paste.script.serving.inflight import InFlight, peer_key

__all__ = ["Connections"]

#: Two looks at a connection without a request since the stop are this far
#: apart (a request the server has read waits for the application meanwhile).
SECOND_LOOK = 0.1
#: A connection that has sent nothing yet is left this long after it was
#: accepted: its client is about to send its first request.
FRESH = 1.0
#: After a response the application finished, the server may still hold
#: its end in its own buffers (Twisted writes it from its reactor a moment
#: later, and drops it if it reads end-of-file first): let it settle.
RESPONSE_SETTLE = 0.05
_TCP_INFO = getattr(socket, "TCP_INFO", None)
_BYTES_RECEIVED = 128        # offset of tcpi_bytes_received (u64) in struct tcp_info
_ESTABLISHED = 1             # tcpi_state


def _queued(sock: socket.socket, request: int) -> int:
    try:
        return struct.unpack("i", fcntl.ioctl(sock.fileno(), request, b"\0" * 4))[0]
    except OSError:
        return 0


def _tcp_info(sock: socket.socket) -> bytes:
    if _TCP_INFO is None:
        return b""
    try:
        return sock.getsockopt(socket.IPPROTO_TCP, _TCP_INFO, 256)
    except OSError:
        return b""


def _bytes_received(sock: socket.socket) -> int | None:
    info = _tcp_info(sock)
    if len(info) < _BYTES_RECEIVED + 8:
        return None
    return struct.unpack_from("Q", info, _BYTES_RECEIVED)[0]


def _established(sock: socket.socket) -> bool:
    """Whether the connection can still carry a request (unknown: yes)."""
    info = _tcp_info(sock)
    return not info or info[0] == _ESTABLISHED


class _Connection:
    __slots__ = ("sock", "peer", "accepted_at", "baseline", "seen_at", "ended_at", "closing")

    def __init__(self, sock: socket.socket, peer):
        self.sock = sock
        self.peer = peer
        self.accepted_at = time.monotonic()
        self.baseline = None       # bytes received when its last request ended (or first looked at)
        self.seen_at = None        # when that first look was, for one without a request since
        self.ended_at = None       # when its last request ended, since the stop
        self.closing = False


class Connections:
    """The accepted connections of one worker."""

    def __init__(self, inflight: InFlight | None = None):
        self.inflight = inflight
        self._open: dict[int, _Connection] = {}
        self._by_peer: dict = {}
        self._lock = threading.Lock()
        self.tracked = 0          # connections ever accepted
        self.stopping = False

    def add(self, sock: socket.socket, address) -> None:
        peer = peer_key(*address[:2]) if isinstance(address, tuple) and len(address) >= 2 else None
        connection = _Connection(sock, peer)
        with self._lock:
            self._open[id(sock)] = connection
            if peer is not None:
                self._by_peer[peer] = connection
            self.tracked += 1

    def request_ended(self, peer) -> None:
        """While stopping: note what the connection had received when its request ended."""
        if peer is None:
            return
        connection = self._by_peer.get(peer)
        if connection is not None:
            connection.baseline = _bytes_received(connection.sock)
            connection.seen_at = None
            connection.ended_at = time.monotonic()

    def close_idle(self) -> int:
        """Close the idle connections; return how many are still open."""
        self.stopping = True
        with self._lock:
            connections = list(self._open.values())
        still_open = 0
        for connection in connections:
            if connection.sock.fileno() < 0 or self._finished(connection):
                with self._lock:
                    self._open.pop(id(connection.sock), None)
                    if self._by_peer.get(connection.peer) is connection:
                        del self._by_peer[connection.peer]
                continue
            still_open += 1
            if not connection.closing and self._idle(connection):
                connection.closing = True
                try:
                    connection.sock.shutdown(socket.SHUT_RD)
                except OSError:
                    pass
        return still_open

    def _finished(self, connection: _Connection) -> bool:
        """Closed by either side (a server may keep the descriptor open a while)."""
        if _established(connection.sock):
            return False
        busy = self.inflight is not None and (connection.peer is None
                                              or self.inflight.peer_busy(connection.peer))
        return not busy and not _queued(connection.sock, termios.TIOCOUTQ)

    def _idle(self, connection: _Connection) -> bool:
        inflight = self.inflight
        if inflight is None or connection.peer is None or inflight.peer_busy(connection.peer):
            return False
        sock = connection.sock
        if _queued(sock, termios.FIONREAD) or _queued(sock, termios.TIOCOUTQ):
            return False      # a request waiting to be read, or a response being sent
        received = _bytes_received(sock)
        if received is None:  # no TCP_INFO: settle for a quiet moment
            return inflight.peer_idle_for(connection.peer) >= SECOND_LOOK
        now = time.monotonic()
        if received == 0:     # nothing sent yet: idle only once it has been a while
            return now - connection.accepted_at >= FRESH
        if connection.ended_at is not None and now - connection.ended_at < RESPONSE_SETTLE:
            return False
        if connection.baseline is None or (connection.seen_at is not None and inflight.active):
            connection.baseline, connection.seen_at = received, now
            return False
        if received != connection.baseline:
            connection.baseline, connection.seen_at = received, now
            return False      # a new request came: the server has it
        return connection.seen_at is None or now - connection.seen_at >= SECOND_LOOK

    def wait_closed(self, deadline: float, period: float = 0.005) -> bool:
        """Close idle connections until none is open (True) or ``deadline`` passes."""
        while time.monotonic() < deadline:
            if not self.close_idle():
                return True
            time.sleep(period)
        return False
