# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""Response bytes on their way to one client socket.

The socket is non-blocking. A worker's :meth:`OutputQueue.write` tries one
``send()`` when nothing is queued (the usual case: the whole response fits
in the kernel's buffer, and no thread hand-over is needed); what does not go
out at once is queued, and the event loop sends it when the socket is
writable (:meth:`OutputQueue.flush`). A thread whose queue holds more than
``outbuf_high_watermark`` bytes waits before producing more: for
``write_timeout`` seconds at most, so a client that does not read (or reads
a byte now and then) holds a thread that long at most. The loop keeps what
is queued for a client that reads nothing for ``send_timeout`` seconds at
most. (waitress's channel works the same way: its worker threads flush
what they can, its loop the rest.)

Files from ``wsgi.file_wrapper`` are queued as :class:`FileRegion` and sent
with ``sendfile()`` by the loop, which closes them when done: no worker
waits for a download.
"""
from __future__ import annotations

import collections
import os
import threading
import time

__all__ = ["OutputQueue", "FileRegion", "ClientDisconnected"]

SENDFILE_CHUNK = 1024 * 1024


class ClientDisconnected(ConnectionError):
    """The client went away, or did not read the response in time."""


class FileRegion:
    """``count`` bytes of an open file from ``offset``; ``done()`` runs once they are sent or dropped."""

    __slots__ = ("fd", "offset", "remaining", "_on_done")

    def __init__(self, fd: int, offset: int, count: int, on_done):
        self.fd = fd
        self.offset = offset
        self.remaining = count
        self._on_done = on_done

    def done(self) -> None:
        on_done, self._on_done = self._on_done, None
        if on_done is not None:
            on_done()


class OutputQueue:
    """The queue of one connection; its lock is the connection's lock."""

    __slots__ = ("items", "size", "cond", "broken", "last_progress", "_sock", "_lock",
                 "_high_water", "_send_timeout", "_write_timeout", "_arm")

    def __init__(self, sock, lock, high_water: int, send_timeout: float, write_timeout: float,
                 arm):
        self.items = collections.deque()   # bytes, memoryview or FileRegion
        self.size = 0                      # bytes queued in memory
        self.cond = threading.Condition(lock)
        self._lock = lock                  # the same lock, without Condition's Python layer
        self.broken = False
        self.last_progress = 0.0
        self._sock = sock
        self._high_water = high_water
        self._send_timeout = send_timeout
        self._write_timeout = write_timeout
        self._arm = arm                    # called (lock held) when the loop must flush

    # -- the worker side ------------------------------------------------------

    def write(self, data: bytes, wait: bool = True) -> None:
        """Send or queue ``data``; with ``wait``, pause while too much is queued."""
        with self._lock:
            if self.broken:
                raise ClientDisconnected("the connection is closed")
            if not self.items:
                try:
                    sent = self._sock.send(data)
                except BlockingIOError:
                    sent = 0
                except OSError as exc:
                    self.broken = True
                    raise ClientDisconnected(f"could not send the response: {exc}") from None
                if sent == len(data):
                    return
                data = memoryview(data)[sent:]
            self.items.append(data)
            self.size += len(data)
            if not self.last_progress:
                self.last_progress = time.monotonic()
            self._arm()
            if wait and self.size > self._high_water:
                self._wait_below_high_water()

    def write_file(self, region: FileRegion) -> bool:
        """Send or queue a file region; True if it was all sent here (``done()`` not called)."""
        with self.cond:
            if self.broken:
                raise ClientDisconnected("the connection is closed")
            if not self.items:
                try:
                    self._sendfile(region)
                except BlockingIOError:
                    pass
                except OSError as exc:
                    self.broken = True
                    raise ClientDisconnected(f"could not send the file: {exc}") from None
                if region.remaining <= 0:
                    return True
            self.items.append(region)
            if not self.last_progress:
                self.last_progress = time.monotonic()
            self._arm()
            return False

    def _wait_below_high_water(self) -> None:
        silence = self._send_timeout
        deadline = time.monotonic() + self._write_timeout
        while self.size > self._high_water and not self.broken:
            now = time.monotonic()
            if now >= deadline:
                self.broken = True
                raise ClientDisconnected(
                    f"the client did not read the response for {self._write_timeout:g} seconds")
            if now - self.last_progress >= silence:
                self.broken = True
                raise ClientDisconnected(f"the client read nothing for {silence:g} seconds")
            self.cond.wait(min(deadline - now, 1.0))
        if self.broken:
            raise ClientDisconnected("the connection is closed")

    def _sendfile(self, region: FileRegion) -> None:
        sockfd = self._sock.fileno()
        while region.remaining > 0:
            sent = os.sendfile(sockfd, region.fd, region.offset,
                               min(region.remaining, SENDFILE_CHUNK))
            if sent == 0:  # the file is shorter than promised
                raise OSError("the file ended before its announced length")
            region.offset += sent
            region.remaining -= sent

    # -- the loop side (lock held by the caller) --------------------------------

    def flush(self, now: float) -> bool:
        """Send what the socket takes; False when the connection broke."""
        items = self.items
        progress = False
        try:
            while items:
                item = items[0]
                if type(item) is FileRegion:
                    before = item.remaining
                    try:
                        self._sendfile(item)
                    finally:
                        progress = progress or item.remaining != before
                    items.popleft()
                    item.done()
                    continue
                sent = self._sock.send(item)
                progress = True
                self.size -= sent
                if sent < len(item):
                    items[0] = memoryview(item)[sent:]
                    break
                items.popleft()
        except BlockingIOError:
            pass
        except OSError:
            self.broken = True
        if progress:
            self.last_progress = now
            self.cond.notify_all()
        if self.broken:
            self.cond.notify_all()
            return False
        if not items:
            self.last_progress = 0.0
        return True

    def stalled(self, now: float) -> bool:
        """Queued bytes the client has not read for ``send_timeout`` seconds."""
        return bool(self.items) and now - self.last_progress > self._send_timeout

    def drop(self) -> None:
        """Forget what is queued (the connection is closing); release files."""
        self.broken = True
        items = self.items
        while items:
            item = items.popleft()
            if type(item) is FileRegion:
                item.done()
        self.size = 0
        self.cond.notify_all()
