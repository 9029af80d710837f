# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""In a stopping worker: its keep-alive connections, closed at their first idle moment.

A runner that registered no graceful stop of its own
(:func:`paste.script.serving.on_stop`: waitress, third-party runners) keeps
serving the connections it has. A keep-alive client would go on sending
requests to the old code on them. Each request that begins once the worker
stops is answered so that the server closes the connection after it
(:mod:`.inflight`: waitress then says ``Connection: close``), so a busy
client moves with its next request; a connection that stays idle is closed
here. That close is a ``shutdown(SHUT_RD)``: the server reads end-of-file
the next time it reads the connection and closes its end, and the client,
seeing the connection closed before reusing it, opens a new one, which the
new workers accept.

Nothing is tracked while the worker serves: the connections are found when
the stop begins, in ``/proc/self/fd`` (sockets whose local address is one
of the listening sockets the engine handed out), and forgotten as they
close. Whether one is idle:

* no request of its client is running (:class:`.inflight.InFlight`);
* nothing is waiting to be read or sent (``FIONREAD``, ``TIOCOUTQ``);
* no byte arrived since its client's last request began (``TCP_INFO``'s
  count of bytes received, taken when the request began): a request the
  server has read but not started yet (waitress queues them) or is still
  reading keeps it busy. A connection with no request since the stop must
  show the same count for :data:`SECOND_LOOK` (a client about to send its
  next request has its answer close the connection instead), and one that
  has sent nothing yet is left alone for :data:`FRESH` seconds.
"""
from __future__ import annotations

import fcntl
import os
import socket
import stat
import struct
import termios
import threading
import time

from paste.script.serving.inflight import peer_key

__all__ = ["Connections", "bytes_received", "TCP_INFO_BYTES_RECEIVED"]

#: A connection without a request since the stop is idle after this long without a byte.
SECOND_LOOK = 1.0
#: A connection that has sent nothing yet is left this long: its first request is coming.
FRESH = 1.0
_TCP_INFO = getattr(socket, "TCP_INFO", None)
#: Offset of ``tcpi_bytes_received`` (u64) in Linux's ``struct tcp_info``.
#: Python has no accessor for TCP_INFO: this is the kernel's ABI
#: (include/uapi/linux/tcp.h, fixed since Linux 4.1); tests/test_connections.py
#: checks it against a real connection.
TCP_INFO_BYTES_RECEIVED = 128
_ESTABLISHED = 1             # tcpi_state


def _queued(sock: socket.socket, request: int) -> int:
    try:
        return struct.unpack("i", fcntl.ioctl(sock.fileno(), request, b"\0" * 4))[0]
    except OSError:
        return 0


def _tcp_info(sock: socket.socket) -> bytes:
    if _TCP_INFO is None or sock.family not in (socket.AF_INET, socket.AF_INET6):
        return b""
    try:
        return sock.getsockopt(socket.IPPROTO_TCP, _TCP_INFO, 256)
    except OSError:
        return b""


def bytes_received(sock: socket.socket) -> int | None:
    """How many bytes the kernel has received on a TCP connection (None: unknown)."""
    info = _tcp_info(sock)
    if len(info) < TCP_INFO_BYTES_RECEIVED + 8:
        return None
    return struct.unpack_from("Q", info, TCP_INFO_BYTES_RECEIVED)[0]


def _established(sock: socket.socket) -> bool:
    info = _tcp_info(sock)
    return not info or info[0] == _ESTABLISHED


class _Connection:
    __slots__ = ("sock", "peer", "seen_at", "baseline", "baseline_at", "started", "closing")

    def __init__(self, sock: socket.socket, peer, now: float):
        self.sock = sock
        self.peer = peer
        self.seen_at = now
        self.baseline = bytes_received(sock)   # when first seen, or when a request began
        self.baseline_at = now
        self.started = False                   # a request of its client began since the stop
        self.closing = False


class Connections:
    """The connections of a stopping worker that came from ``listeners``."""

    def __init__(self, listeners: list[socket.socket], inflight):
        self.inflight = inflight
        self._addresses = set()
        self._listener_inodes = set()
        for sock in listeners:
            try:
                self._addresses.add(_local(sock))
                self._listener_inodes.add(os.fstat(sock.fileno()).st_ino)
            except OSError:
                pass
        self._open: dict[int, _Connection] = {}       # by socket inode
        self._lock = threading.Lock()

    def request_started(self, peer) -> None:
        """A request of ``peer`` began: everything it sent until now is being answered."""
        with self._lock:
            for connection in self._open.values():
                if connection.peer == peer:
                    connection.baseline = bytes_received(connection.sock)
                    connection.started = True

    def find(self) -> None:
        """Look for the accepted connections (new ones, and the ones that closed)."""
        now = time.monotonic()
        ours = {c.sock.fileno() for c in self._open.values()}
        present: dict[int, int] = {}
        for name in _fds():
            fd = int(name)
            if fd in ours:
                continue
            try:
                st = os.fstat(fd)
            except OSError:
                continue
            if stat.S_ISSOCK(st.st_mode) and st.st_ino not in self._listener_inodes:
                present.setdefault(st.st_ino, fd)
        with self._lock:
            for inode in [i for i in self._open if i not in present]:
                self._open.pop(inode).sock.close()       # the server closed it
            for inode, fd in present.items():
                if inode not in self._open:
                    connection = self._adopt(fd, now)
                    if connection is not None:
                        self._open[inode] = connection
                    else:
                        self._listener_inodes.add(inode)   # not ours to close: never look again

    def _adopt(self, fd: int, now: float) -> _Connection | None:
        try:
            sock = socket.socket(fileno=os.dup(fd))
        except OSError:
            return None
        try:
            if (sock.type != socket.SOCK_STREAM
                    or sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
                    or _local(sock) not in self._addresses):
                sock.close()
                return None
            peer = sock.getpeername()
        except OSError:
            sock.close()
            return None
        peer = peer_key(*peer[:2]) if isinstance(peer, tuple) else None
        return _Connection(sock, peer, now)

    def close_idle(self) -> int:
        """Close the idle connections; return how many are still open."""
        self.find()
        now = time.monotonic()
        with self._lock:
            connections = list(self._open.values())
        still_open = 0
        for connection in connections:
            if connection.closing or not _established(connection.sock):
                continue
            still_open += 1
            if self._idle(connection, now):
                connection.closing = True
                try:
                    connection.sock.shutdown(socket.SHUT_RD)
                except OSError:
                    pass
        return still_open

    def _idle(self, connection: _Connection, now: float) -> bool:
        inflight = self.inflight
        if connection.peer is not None and inflight.peer_busy(connection.peer):
            return False
        sock = connection.sock
        if _queued(sock, termios.FIONREAD) or _queued(sock, termios.TIOCOUTQ):
            return False      # a request waiting to be read, or a response being sent
        received = bytes_received(sock)
        if received is None:  # no TCP_INFO (a Unix socket): settle for a quiet moment
            return inflight.idle_for() >= SECOND_LOOK
        if received != connection.baseline:
            if not connection.started:
                connection.baseline, connection.baseline_at = received, now
            return False      # more came than its last request: the server has it
        if connection.started:
            return True
        if received == 0:
            return now - connection.seen_at >= FRESH
        return now - connection.baseline_at >= SECOND_LOOK

    def close(self) -> None:
        with self._lock:
            for connection in self._open.values():
                connection.sock.close()
            self._open.clear()


def _fds() -> list[str]:
    try:
        return os.listdir("/proc/self/fd")
    except OSError:
        return []


def _local(sock: socket.socket):
    address = sock.getsockname()
    if isinstance(address, tuple):
        return sock.family, address[1]
    return sock.family, address
