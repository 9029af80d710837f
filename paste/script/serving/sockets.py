# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""The monitor's listening sockets: bound on a worker's first request, or inherited.

A worker's runner binds its address as usual; :mod:`.handover` turns that
into a request to the monitor, which answers with its socket for the
address, binding it the first time. Every worker and every generation of
workers thus accepts from the same kernel queue.

Under systemd socket activation the sockets come from systemd
(:func:`.systemd.listen_fds`): a worker's address gets the inherited socket
on the same port (and host, unless one side is a wildcard); an address
matching none gets the next inherited socket nobody uses yet, so the unit's
``ListenStream=`` decides where the server listens, as with any
socket-activated service.
"""
from __future__ import annotations

import errno
import os
import socket

__all__ = ["SocketPool", "listening_socket", "describe", "bind_listener", "resolve_address"]

_WILDCARDS = ("", "0.0.0.0", "::")


def describe(address) -> str:
    """``host:port`` for a socket address (IPv6 hosts bracketed)."""
    host, port = address[0], address[1]
    if ":" in host:
        host = f"[{host}]"
    return f"{host}:{port}"


def resolve_address(address) -> tuple[int, int, object]:
    """``(family, proto, sockaddr)`` to bind for ``(host, port)`` or a Unix path.

    ``host`` may be bracketed (``[::1]``); ``""`` means every IPv4 address,
    as it always has for ``host =`` in a server section. A name that
    resolves to both families binds IPv4, which clients of ``localhost``
    expect to answer.
    """
    from paste.script.runners_common import format_address, listen_error
    if isinstance(address, (str, bytes, os.PathLike)):
        return socket.AF_UNIX, 0, os.fsdecode(address)
    host, port = str(address[0]), int(address[1])
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        infos = socket.getaddrinfo(host or None, port, socket.AF_UNSPEC, socket.SOCK_STREAM,
                                   0, socket.AI_PASSIVE)
    except OSError as exc:
        raise listen_error(exc, format_address(host, port)) from None
    infos.sort(key=lambda info: info[0] != socket.AF_INET)
    family, _kind, proto, _canonical, sockaddr = infos[0]
    return family, proto, sockaddr


def bind_listener(address, backlog: int = 1024, mode: int | None = None) -> socket.socket:
    """A new listening, non-blocking socket on ``address`` (``(host, port)`` or a path).

    A Unix socket file left by a server that is gone is replaced; one a live
    server listens on is not. Raises
    :class:`~paste.script.runners_common.ListenError` naming the address.
    """
    from paste.script.runners_common import check_unix_socket_free, format_address, listen_error
    family, proto, sockaddr = resolve_address(address)
    shown = sockaddr if family == socket.AF_UNIX else format_address(*sockaddr[:2])
    if family == socket.AF_UNIX:
        check_unix_socket_free(sockaddr)
    sock = socket.socket(family, socket.SOCK_STREAM, proto)
    try:
        if family == socket.AF_UNIX:
            _remove_stale_unix_socket(sockaddr)
            sock.bind(sockaddr)
            if mode is not None:
                os.chmod(sockaddr, mode)
        else:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(sockaddr)
        sock.listen(backlog)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        raise listen_error(exc, shown) from None
    return sock


def _remove_stale_unix_socket(path: str) -> None:
    """Unlink a socket file nobody listens on (checked just before); nothing else."""
    import stat
    try:
        if stat.S_ISSOCK(os.lstat(path).st_mode):
            os.unlink(path)
    except FileNotFoundError:
        pass


def listening_socket(family: int, proto: int, address: tuple, v6only) -> socket.socket:
    """A bound (not yet listening) TCP socket for a worker's bind request."""
    sock = socket.socket(family, socket.SOCK_STREAM, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6 and v6only is not None:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, int(v6only))
        socket.socket.__base__.bind(sock, address)
        sock.setblocking(False)     # shared by the workers: see handover.adopt
    except BaseException:
        sock.close()
        raise
    return sock


class SocketPool:
    """Listening sockets by address: ``(family, host, port)``."""

    def __init__(self, inherited: list[socket.socket] = ()):
        self.sockets: dict[tuple, socket.socket] = {}
        self.inherited = [s for s in inherited
                          if s.family in (socket.AF_INET, socket.AF_INET6)
                          and s.type == socket.SOCK_STREAM]
        self.foreign = [s for s in inherited if s not in self.inherited]
        self._assigned: dict[tuple, socket.socket] = {}

    @property
    def activated(self) -> bool:
        return bool(self.inherited or self.foreign)

    def get(self, family: int, proto: int, address: tuple, v6only=None) -> tuple[tuple, socket.socket, bool]:
        """``(key, socket, new)`` for a worker binding ``address``; raises ``OSError``."""
        key = (family, *address[:2])
        sock = self.sockets.get(key)
        if sock is not None:
            return key, sock, False
        sock = self._inherited_for(key) if self.activated else None
        if sock is None:
            sock = listening_socket(family, proto, address, v6only)
        self.sockets[key] = sock
        return key, sock, True

    def _inherited_for(self, key: tuple) -> socket.socket | None:
        if not self.inherited:
            raise OSError(0, "socket activation passed no TCP socket "
                             f"({len(self.foreign)} socket(s) of another kind)")
        _family, host, port = key
        free = [s for s in self.inherited if s not in self._assigned.values()]
        for sock in self.inherited:
            bound_host, bound_port = sock.getsockname()[:2]
            if bound_port == port and (bound_host == host or bound_host in _WILDCARDS
                                       or host in _WILDCARDS):
                self._assigned[key] = sock
                return sock
        if not free:
            raise OSError(0, f"no socket from socket activation is left for {describe(key[1:])}")
        self._assigned[key] = free[0]
        return free[0]

    def answer(self, worker, message: dict, new_address: bool = False) -> None:
        """Send a worker the socket its ``bind`` message asks for, or the error."""
        address = tuple(message["address"])
        try:
            key, sock, new = self.get(message["family"], message.get("proto", 0), address,
                                      message.get("v6only"))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                worker.refused.append(describe(address))
            worker.send({"op": "socket", "error": exc.strerror or str(exc), "errno": exc.errno})
            return
        worker.adopted.add(key)
        if new and new_address:
            worker.new_addresses.append(self.address(key))    # a port was edited
        worker.send({"op": "socket"}, [sock.fileno()])

    def address(self, key: tuple) -> str:
        """Where the socket for ``key`` really listens."""
        sock = self.sockets.get(key)
        try:
            return describe(sock.getsockname()) if sock is not None else describe(key[1:])
        except OSError:
            return describe(key[1:])

    def close_unused_by(self, workers, serving) -> None:
        """Once every serving worker listens on sockets of ours, close the others."""
        if serving and all(w.adopted for w in serving):
            self.close_unused(set().union(*(w.adopted for w in workers)))

    def close_unused(self, used: set) -> None:
        """Close the sockets of addresses no worker uses any more (a port was edited)."""
        for key in [k for k in self.sockets if k not in used]:
            sock = self.sockets.pop(key)
            if sock not in self.inherited:
                sock.close()
            self._assigned.pop(key, None)

    def fds(self) -> list[int]:
        return [s.fileno() for s in list(self.sockets.values()) + self.inherited + self.foreign
                if s.fileno() >= 0]

    def close(self) -> None:
        for sock in set(self.sockets.values()) | set(self.inherited) | set(self.foreign):
            sock.close()
        self.sockets.clear()
        self._assigned.clear()
