# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""Readiness of sockets: the event loop's one source of events.

A connection is registered once, for reading and writing, when it is
accepted, and removed when it closes. :meth:`arm` says that its owner will
handle the next event of a kind; an event that arrives while the
connection's owner cannot act on it (a thread is running its application)
is remembered by the connection and acted on when the owner hands it back
(:class:`~.connection.Connection` keeps that flag). So the pollers differ
only in cost:

:class:`EpollPoller` (Linux) registers connections edge-triggered: the
kernel reports each arrival of bytes (and each time the send buffer has
room again after a ``send()`` found it full) once, and nothing has to be
re-armed between two requests: no ``epoll_ctl`` call per request.
:class:`SelectorPoller` (elsewhere) emulates one-shot events over
:mod:`selectors`: an event unregisters the connection, and :meth:`arm`
from any thread queues a re-registration that the polling thread applies.

Listening sockets report one readiness event at a time (the loop accepts
one connection, then asks for the next), the wake-up pipe is
level-triggered. Any thread may call :meth:`poll`, one at a time (the
thread leading the event loop).
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
    """``epoll``: connections edge-triggered, listeners level-triggered."""

    #: events arrive whether or not the owner armed them
    edge_triggered = True
    _CONNECTION = select.EPOLLIN | select.EPOLLOUT | select.EPOLLRDHUP | select.EPOLLET
    _READ = select.EPOLLIN | select.EPOLLRDHUP | select.EPOLLHUP | select.EPOLLERR
    _WRITE = select.EPOLLOUT | select.EPOLLHUP | select.EPOLLERR

    def __init__(self):
        self._epoll = select.epoll()
        self._owners: dict = {}
        self._wakeup = _Wakeup()
        self._epoll.register(self._wakeup.read_fd, select.EPOLLIN)
        self.wake = self._wakeup.wake

    def add_listener(self, fd: int, owner) -> None:
        """Register a listening socket for one event; :meth:`rearm_listener` asks for the next."""
        self._owners[fd] = owner
        self._epoll.register(fd, select.EPOLLIN | select.EPOLLONESHOT)

    def rearm_listener(self, fd: int) -> None:
        # One shot, re-armed after each accept: under paster serve the engine
        # points a stopping worker's listening descriptor at another socket
        # (dup2), and epoll, which registered the shared socket, would go on
        # reporting it for ever; a one-shot registration falls silent, and
        # re-arming it fails, which says the socket is gone.
        try:
            self._epoll.modify(fd, select.EPOLLIN | select.EPOLLONESHOT)
        except OSError:
            self._owners.pop(fd, None)

    def add(self, fd: int, owner) -> None:
        """Register a connection for good (until :meth:`remove`)."""
        self._owners[fd] = owner
        self._epoll.register(fd, self._CONNECTION)

    def arm(self, fd: int, owner, read: bool, write: bool) -> None:
        """Nothing to do: an edge-triggered registration stays armed."""

    def remove(self, fd: int) -> None:
        if self._owners.pop(fd, None) is not None:
            try:
                self._epoll.unregister(fd)
            except OSError:
                pass

    def has_events(self) -> bool:
        """Whether :meth:`poll` would return at once (any thread; takes no event)."""
        return bool(select.select([self._epoll.fileno()], [], [], 0)[0])

    def poll(self, timeout: float) -> list:
        """``[(owner, readable, writable)]``; errors and hang-ups count as both."""
        result = []
        owners = self._owners
        wake_fd = self._wakeup.read_fd
        read, write = self._READ, self._WRITE
        for fd, events in self._epoll.poll(timeout):
            if fd == wake_fd:
                self._wakeup.drain()
                continue
            owner = owners.get(fd)
            if owner is not None:
                result.append((owner, bool(events & read), bool(events & write)))
        return result

    def close(self) -> None:
        self._epoll.close()
        self._wakeup.close()


class SelectorPoller:
    """One-shot events emulated on :mod:`selectors` (kqueue, poll, select)."""

    edge_triggered = False

    def __init__(self):
        self._selector = selectors.DefaultSelector()
        self._owners: dict = {}
        self._listeners: set = set()
        self._arms = collections.deque()
        self._polling = None      # the thread inside poll(), which applies the arms
        self._wakeup = _Wakeup()
        self._selector.register(self._wakeup.read_fd, selectors.EVENT_READ, None)
        self.wake = self._wakeup.wake

    # add_listener(), add() and remove() are called by the thread leading the
    # loop, between two polls: they change the selector at once.

    def add_listener(self, fd: int, owner) -> None:
        self._apply(fd, owner, None, None)

    def rearm_listener(self, fd: int) -> None:
        """Nothing to do: a listener stays registered here."""

    def add(self, fd: int, owner) -> None:
        self._apply(fd, owner, True, None)

    def arm(self, fd: int, owner, read: bool, write: bool) -> None:
        """Ask for one event; from any thread (applied by the polling thread)."""
        if read or write:
            self._arms.append((fd, owner, read, write))
            self._wake_unless_polling()

    def has_events(self) -> bool:
        """Unknown here: say yes."""
        return True

    def _wake_unless_polling(self) -> None:
        # The polling thread applies the queue before it next waits.
        if self._polling is not threading.current_thread():
            self.wake()

    def _apply(self, fd: int, owner, read, write) -> None:
        if read is None:  # a listener
            self._owners[fd] = owner
            self._listeners.add(fd)
            self._selector.register(fd, selectors.EVENT_READ, owner)
            return
        if write is None:  # a new connection
            self._owners[fd] = owner
            write = False
        elif self._owners.get(fd) is not owner:
            return  # closed since (the descriptor may belong to another connection now)
        mask = (selectors.EVENT_READ if read else 0) | (selectors.EVENT_WRITE if write else 0)
        try:
            self._selector.modify(fd, mask, owner)
        except KeyError:
            self._selector.register(fd, mask, owner)
        except (ValueError, OSError):
            pass  # closed meanwhile

    def remove(self, fd: int) -> None:
        if self._owners.pop(fd, None) is not None:
            self._listeners.discard(fd)
            try:
                self._selector.unregister(fd)
            except (KeyError, ValueError, OSError):
                pass

    def poll(self, timeout: float) -> list:
        self._polling = threading.current_thread()
        arms = self._arms
        while arms:
            self._apply(*arms.popleft())
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
