# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""In a worker: the monitor's listening sockets in place of the runner's own.

:class:`SocketBroker` intercepts ``socket.socket.bind`` and, for a TCP
address, asks the monitor for its socket (:mod:`.sockets`) and puts it in
place (``os.dup2``) of the runner's own. No runner-specific code is needed:
waitress, the wsgiutils runner, cheroot, Twisted and flup all bind through
Python's ``socket`` module. ``listen()`` on such a socket tells the monitor
that this worker serves; ``accept()`` on it hands every connection to
:mod:`.connections`, so that a stopping worker can close them.
"""
from __future__ import annotations

import errno
import os
import socket
import threading

__all__ = ["SocketBroker", "address_in_use"]


class SocketBroker:
    """Gets TCP listening sockets from the monitor when the server binds them."""

    def __init__(self, channel, on_accept=None):
        self.channel = channel
        self.on_accept = on_accept
        self.adopted: list[socket.socket] = []
        self._released: list[socket.socket] = []
        self.ready_sent = False
        self._bind = socket.socket.bind
        self._listen = socket.socket.listen
        self._shutdown = socket.socket.shutdown
        self._accept = socket.socket.accept
        self._lock = threading.Lock()

    def install(self) -> None:
        broker = self

        def bind(sock, address):
            if broker.wants(sock):
                return broker.adopt(sock, address)
            return broker._bind(sock, address)

        def listen(sock, *args):
            broker._listen(sock, *args)
            if broker.is_adopted(sock):
                broker.serving()

        def shutdown(sock, how):
            # A runner stopping (Twisted does this) must not shut the socket
            # down for the monitor and the next worker too: let go of it first.
            if broker.is_adopted(sock):
                broker.release([sock])
            return broker._shutdown(sock, how)

        def accept(sock):
            conn, address = broker._accept(sock)
            if broker.on_accept is not None and broker.is_adopted(sock):
                broker.on_accept(conn, address)
            return conn, address

        for name, function in (("bind", bind), ("listen", listen), ("shutdown", shutdown),
                               ("accept", accept)):
            function.__doc__ = getattr(socket.socket, name).__doc__
            setattr(socket.socket, name, function)

    def is_adopted(self, sock) -> bool:
        return any(s is sock for s in self.adopted)

    @staticmethod
    def wants(sock) -> bool:
        return sock.family in (socket.AF_INET, socket.AF_INET6) and sock.type == socket.SOCK_STREAM

    def adopt(self, sock: socket.socket, address) -> None:
        v6only = None
        if sock.family == socket.AF_INET6:
            try:
                v6only = bool(sock.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY))
            except OSError:
                v6only = None
        with self._lock:
            self.channel.send({"op": "bind", "family": int(sock.family), "proto": sock.proto,
                               "address": list(address), "v6only": v6only})
            reply, fds = self.channel.replies.get()
        if reply.get("error") or not fds:
            for fd in fds:
                os.close(fd)
            raise OSError(reply.get("errno") or 0, reply.get("error") or "no socket from the monitor")
        timeout = sock.gettimeout()
        os.dup2(fds[0], sock.fileno(), inheritable=False)
        os.close(fds[0])
        # The blocking flag belongs to the socket itself, which every worker
        # shares: it must stay non-blocking. A worker that wakes up for a
        # connection another one takes first would otherwise block in
        # accept(), its whole server with it (an old worker stopping during a
        # restart, typically). A runner that expects a blocking socket gets a
        # timeout long enough to be one; Python waits for it with poll().
        sock.settimeout(BLOCKING if timeout is None else timeout)
        self.adopted.append(sock)

    def serving(self) -> None:
        with self._lock:
            if self.ready_sent:
                return
            self.ready_sent = True
        self.channel.send({"op": "ready"})

    def release(self, sockets=None) -> bool:
        """Stop accepting on the shared sockets; True if there were any."""
        for sock in list(self.adopted if sockets is None else sockets):
            if sock in self._released:
                continue
            self._released.append(sock)
            try:
                fd = sock.fileno()
                if fd < 0:
                    continue
                private = _private_listener()
                os.dup2(private.fileno(), fd, inheritable=False)
                private.close()
            except OSError:
                pass
        return bool(self.adopted)


#: The timeout that stands for "blocking" on a shared listening socket.
BLOCKING = 365 * 24 * 3600.0


def _private_listener() -> socket.socket:
    """A listening socket no one knows the address of: it never becomes readable."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    socket.socket.__base__.bind(sock, ("127.0.0.1", 0))
    socket.socket.__base__.listen(sock, 1)
    sock.setblocking(False)
    return sock


def address_in_use(exc: BaseException | None) -> bool:
    """Whether an error (or one it came from) says the address is taken."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE:
            return True
        if "Address already in use" in str(exc) or "already in use" in str(exc):
            return True
        exc = exc.__cause__ or exc.__context__
    return False
