# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""The channel between the reload monitor and one worker process.

A ``SOCK_SEQPACKET`` Unix socket pair: every message is one packet holding a
small dict of plain values, so there is no framing to get wrong, and a
packet can carry file descriptors (the monitor hands listening sockets to
workers that way). The monitor and a worker share nothing else. Both ends
are the same program, so a packet is :mod:`marshal`'s encoding (no import,
and the fastest there is); an enum member travels as its value.
"""
from __future__ import annotations

import array
import enum
import marshal
import socket
from collections.abc import Iterable

__all__ = ["MAX_MESSAGE", "channel_pair", "send", "receive", "chunks", "close_fds"]

#: Largest packet either side sends; bigger payloads (file lists) are chunked.
MAX_MESSAGE = 60_000
_FDS_SPACE = socket.CMSG_SPACE(16 * array.array("i").itemsize)


def channel_pair() -> tuple[socket.socket, socket.socket]:
    """``(monitor_end, worker_end)``; both are close-on-exec."""
    return socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)


def send(sock: socket.socket, message: dict, fds: Iterable[int] = ()) -> None:
    """Send one message (and optionally file descriptors) as one packet."""
    data = marshal.dumps({key: _plain(value) for key, value in message.items()})
    if len(data) > MAX_MESSAGE:
        raise ValueError(f"message too large for one packet ({len(data)} bytes)")
    fds = list(fds)
    if fds:
        ancillary = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds).tobytes())]
        sock.sendmsg([data], ancillary)
    else:
        sock.send(data)


def receive(sock: socket.socket) -> tuple[dict | None, list[int]]:
    """One message and the descriptors that came with it; ``(None, [])`` at EOF.

    Raises ``BlockingIOError`` on a non-blocking socket with nothing to read.
    """
    data, ancillary, _flags, _addr = sock.recvmsg(MAX_MESSAGE + 1, _FDS_SPACE)
    fds: list[int] = []
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            received = array.array("i")
            received.frombytes(payload[: len(payload) - len(payload) % received.itemsize])
            fds.extend(received)
    if not data:
        close_fds(fds)
        return None, []
    try:
        message = marshal.loads(data)
    except (EOFError, TypeError):
        message = None
    if not isinstance(message, dict):
        raise ValueError("not a message")
    return message, fds


def _plain(value):
    """Enum members (``Op.GO``) travel as their value."""
    return value.value if isinstance(value, enum.Enum) else value


def chunks(items: list[str], budget: int = MAX_MESSAGE // 2) -> Iterable[list[str]]:
    """Split a list of strings into pieces whose encoding stays well under a packet."""
    piece: list[str] = []
    size = 0
    for item in items:
        cost = len(item.encode()) * 2 + 8   # with room to spare
        if piece and size + cost > budget:
            yield piece
            piece, size = [], 0
        piece.append(item)
        size += cost
    if piece:
        yield piece


def close_fds(fds) -> None:
    """Close descriptors that may already be closed (received with a message nobody wants)."""
    import os
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass
