# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""Readiness of sockets, with one-shot events for connections.

A connection belongs to one thread at a time: the event loop while it waits
for bytes, a worker while the application runs. One-shot events make that
hand-over cheap: an event disarms the connection, and whoever owns it next
arms it again with :meth:`arm` (from any thread). Listening sockets and the
wake-up pipe stay armed.

:class:`EpollPoller` (Linux) gets one-shot events from the kernel, and any
thread may re-arm a connection with one ``epoll_ctl`` call.
:class:`SelectorPoller` (elsewhere) emulates them over :mod:`selectors`: an
arm from another thread is queued and applied by the loop.
"""
from __future__ import annotations

import collections
import os
import select
import selectors
import threading

__all__ = ["make_poller", "EpollPoller", "SelectorPoller"]


class _Wakeup:
    """A pipe whose read end wakes the poller when another thread writes to it."""

    def __init__(self):
        self.read_fd, self.write_fd = os.pipe()
        os.set_blocking(self.read_fd, False)
        os.set_blocking(self.write_fd, False)

    def wake(self) -> None:
        try:
            os.write(self.write_fd, b"\0")
        except OSError:  # full (a wake-up is pending anyway) or closed
            pass

    def drain(self) -> None:
        try:
            while os.read(self.read_fd, 4096):
                pass
        except OSError:
            pass

    def close(self) -> None:
        read_fd, write_fd = self.read_fd, self.write_fd
        self.read_fd = self.write_fd = -1  # a late wake() must not write to a reused fd
        os.close(read_fd)
        os.close(write_fd)


class EpollPoller:
    """``epoll`` with ``EPOLLONESHOT`` for connections."""

    def __init__(self):
        self._epoll = select.epoll()
        self._owners: dict = {}
        self._wakeup = _Wakeup()
        self._epoll.register(self._wakeup.read_fd, select.EPOLLIN)
        self.wake = self._wakeup.wake

    def add_listener(self, fd: int, owner) -> None:
        self._owners[fd] = owner
        self._epoll.register(fd, select.EPOLLIN)

    def add(self, fd: int, owner, read: bool, write: bool) -> None:
        self._owners[fd] = owner
        self._epoll.register(fd, self._mask(read, write))

    def arm(self, fd: int, owner, read: bool, write: bool) -> None:
        """Ask for one event; callable from any thread while ``owner`` is registered."""
        if read or write:
            try:
                self._epoll.modify(fd, self._mask(read, write))
            except OSError:  # closed meanwhile: nothing to wait for
                pass

    def remove(self, fd: int) -> None:
        if self._owners.pop(fd, None) is not None:
            try:
                self._epoll.unregister(fd)
            except OSError:
                pass

    @staticmethod
    def _mask(read: bool, write: bool) -> int:
        mask = select.EPOLLONESHOT
        if read:
            mask |= select.EPOLLIN | select.EPOLLRDHUP
        if write:
            mask |= select.EPOLLOUT
        return mask

    def poll(self, timeout: float) -> list:
        """``[(owner, readable, writable)]``; errors and hang-ups count as both."""
        result = []
        owners = self._owners
        wake_fd = self._wakeup.read_fd
        for fd, events in self._epoll.poll(timeout):
            if fd == wake_fd:
                self._wakeup.drain()
                continue
            owner = owners.get(fd)
            if owner is None:
                continue
            if events & (select.EPOLLERR | select.EPOLLHUP):
                result.append((owner, True, True))
            else:
                result.append((owner, bool(events & (select.EPOLLIN | select.EPOLLRDHUP)),
                               bool(events & select.EPOLLOUT)))
        return result

    def close(self) -> None:
        self._epoll.close()
        self._wakeup.close()


class SelectorPoller:
    """One-shot events emulated on :mod:`selectors` (kqueue, poll, select)."""

    def __init__(self):
        self._selector = selectors.DefaultSelector()
        self._owners: dict = {}
        self._listeners: set = set()
        self._arms = collections.deque()
        self._loop_thread = None
        self._wakeup = _Wakeup()
        self._selector.register(self._wakeup.read_fd, selectors.EVENT_READ, None)
        self.wake = self._wakeup.wake

    def add_listener(self, fd: int, owner) -> None:
        self._owners[fd] = owner
        self._listeners.add(fd)
        self._selector.register(fd, selectors.EVENT_READ, owner)

    def add(self, fd: int, owner, read: bool, write: bool) -> None:
        self._owners[fd] = owner
        self._apply(fd, owner, read, write)

    def arm(self, fd: int, owner, read: bool, write: bool) -> None:
        if threading.current_thread() is self._loop_thread:
            self._apply(fd, owner, read, write)
        else:
            self._arms.append((fd, owner, read, write))
            self.wake()

    def _apply(self, fd: int, owner, read: bool, write: bool) -> None:
        if self._owners.get(fd) is not owner:
            return  # closed since, and the descriptor may belong to someone else now
        mask = (selectors.EVENT_READ if read else 0) | (selectors.EVENT_WRITE if write else 0)
        if mask:
            try:
                self._selector.modify(fd, mask, owner)
            except KeyError:
                self._selector.register(fd, mask, owner)

    def remove(self, fd: int) -> None:
        if self._owners.pop(fd, None) is not None:
            self._listeners.discard(fd)
            try:
                self._selector.unregister(fd)
            except (KeyError, ValueError, OSError):
                pass

    def poll(self, timeout: float) -> list:
        self._loop_thread = threading.current_thread()
        while self._arms:
            self._apply(*self._arms.popleft())
        result = []
        for key, events in self._selector.select(timeout):
            owner = key.data
            if owner is None:
                self._wakeup.drain()
                continue
            if key.fd not in self._listeners:
                self._selector.unregister(key.fd)  # one shot
            result.append((owner, bool(events & selectors.EVENT_READ),
                           bool(events & selectors.EVENT_WRITE)))
        return result

    def close(self) -> None:
        self._selector.close()
        self._wakeup.close()


def make_poller(kind: str | None = None):
    """``EpollPoller`` where the platform has epoll, else ``SelectorPoller``."""
    if kind == "selectors" or (kind is None and not hasattr(select, "epoll")):
        return SelectorPoller()
    return EpollPoller()
