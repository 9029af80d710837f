# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""The monitor's listening sockets: bound on a worker's first request, or inherited.

A worker's runner asks for its address (:func:`paste.script.serving.listen`,
a ``bind`` message); the monitor answers with its socket for the address,
binding it the first time (as root, if the port needs it). Every worker and
every generation of workers thus accepts from the same kernel queue, and
the socket outlives them all: it is closed (and a Unix socket file
removed) only when the server stops.

Under systemd socket activation the sockets come from systemd
(:func:`.systemd.listen_fds`): a worker's address gets the inherited socket
on the same port (and host, unless one side is a wildcard); an address
matching none gets the next inherited socket nobody uses yet, so the unit's
``ListenStream=`` decides where the server listens, as with any
socket-activated service. A re-executed monitor (SIGUSR2) inherits its
parent's sockets the same way.
"""
from __future__ import annotations

import errno
import os
import socket

__all__ = ["SocketPool", "describe", "bind_listener", "resolve_address"]

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
    from paste.script.runners_common import format_address, listen_error, passive_addresses
    if isinstance(address, (str, bytes, os.PathLike)):
        path = os.fsdecode(address)
        if "\0" in path:
            raise listen_error(OSError(errno.EINVAL, "a NUL character in the path"), repr(path))
        return socket.AF_UNIX, 0, path
    host, port = str(address[0]), int(address[1])
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        infos = passive_addresses(host, port)
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


class SocketPool:
    """Listening sockets by address: ``(family, host, port)``, or ``(AF_UNIX, path)``.

    ``owner`` (uid, gid), when the workers run as another user: Unix socket
    files bound here are handed to that user, as the user would have
    created them.
    """

    def __init__(self, inherited: list[socket.socket] = (), owner: tuple | None = None):
        self.sockets: dict[tuple, socket.socket] = {}
        self.owner = owner
        self.inherited = [s for s in inherited
                          if s.family in (socket.AF_INET, socket.AF_INET6, socket.AF_UNIX)
                          and s.type == socket.SOCK_STREAM]
        self.foreign = [s for s in inherited if s not in self.inherited]
        self._assigned: dict[tuple, socket.socket] = {}
        self._unix_paths: dict[tuple, str] = {}     # Unix socket files bound here

    @property
    def activated(self) -> bool:
        return bool(self.inherited or self.foreign)

    def get(self, family: int, address, backlog: int = 1024,
            mode: int | None = None) -> tuple[tuple, socket.socket, bool]:
        """``(key, socket, new)`` for a worker listening on ``address``; raises ``OSError``."""
        key = (family, address) if family == socket.AF_UNIX else (family, *address[:2])
        sock = self.sockets.get(key)
        if sock is not None:
            return key, sock, False
        sock = self._inherited_for(key) if self.activated else None
        if sock is None:
            sock = bind_listener(address, backlog=backlog, mode=mode)
            if family == socket.AF_UNIX:
                self._unix_paths[key] = address
                if self.owner is not None:
                    os.chown(address, *self.owner)
        self.sockets[key] = sock
        return key, sock, True

    def _inherited_for(self, key: tuple) -> socket.socket | None:
        for sock in self.inherited:
            if _serves(sock, key):
                self._assigned[key] = sock
                return sock
        if key[0] == socket.AF_UNIX:
            return None         # not passed for this path: bind it here
        tcp = [s for s in self.inherited if s.family != socket.AF_UNIX]
        free = [s for s in tcp if s not in self._assigned.values()]
        if not free:
            if not tcp:
                raise OSError(0, "socket activation passed no TCP socket "
                                 f"({len(self.inherited) + len(self.foreign)} of another kind)")
            raise OSError(0, f"no socket from socket activation is left for {describe(key[1:])}")
        # The unit's ListenStream= decides where a TCP server listens.
        self._assigned[key] = free[0]
        return free[0]

    def answer(self, worker, message: dict, new_address: bool = False) -> None:
        """Send a worker the socket its ``bind`` message asks for, or the error."""
        family = int(message["family"])
        raw = message["address"]
        address = raw if family == socket.AF_UNIX else tuple(raw)
        shown = address if family == socket.AF_UNIX else describe(address)
        try:
            key, sock, new = self.get(family, address, int(message.get("backlog") or 1024),
                                      message.get("mode"))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                worker.refused.append(shown)
            reason = getattr(exc, "reason", None) or exc.strerror or str(exc)
            worker.send({"op": "socket", "error": reason, "errno": exc.errno})
            return
        worker.adopted.add(key)
        if new and new_address:
            worker.new_addresses.append(self.address(key))    # a port was edited
        worker.send({"op": "socket"}, [sock.fileno()])

    def address(self, key: tuple) -> str:
        """Where the socket for ``key`` really listens."""
        if key[0] == socket.AF_UNIX:
            return key[1]
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
            self._close(key)

    def _close(self, key: tuple, unlink: bool = True) -> None:
        sock = self.sockets.pop(key)
        if sock not in self.inherited:
            sock.close()
        self._assigned.pop(key, None)
        path = self._unix_paths.pop(key, None)
        if path is not None and unlink:
            _remove_stale_unix_socket(path)

    def stop_listening(self, unlink: bool = True) -> None:
        """Close the monitor's copies (the workers release theirs as they stop).

        Once the last copy is closed nobody listens: new clients are refused
        at once, instead of waiting in a queue nobody reads. Unix socket
        files bound here are removed (not when a re-executed monitor has
        taken them over: ``unlink=False``).
        """
        for key in list(self.sockets):
            self._close(key, unlink)

    def fds(self) -> list[int]:
        return [s.fileno() for s in list(self.sockets.values()) + self.inherited + self.foreign
                if s.fileno() >= 0]

    def listening(self) -> list[socket.socket]:
        """Every socket the workers may listen on (for a re-executed monitor)."""
        return list(dict.fromkeys(list(self.sockets.values()) + self.inherited))

    def close(self, unlink: bool = True) -> None:
        self.stop_listening(unlink)
        for sock in set(self.inherited) | set(self.foreign):
            sock.close()
        self._assigned.clear()


def _serves(sock: socket.socket, key: tuple) -> bool:
    """Whether an inherited socket is the one for ``key``."""
    try:
        bound = sock.getsockname()
    except OSError:
        return False
    if key[0] == socket.AF_UNIX:
        return sock.family == socket.AF_UNIX and bound == key[1]
    if sock.family == socket.AF_UNIX:
        return False
    bound_host, bound_port = bound[:2]
    host, port = key[1], key[2]
    return bound_port == port and (bound_host == host or bound_host in _WILDCARDS
                                   or host in _WILDCARDS)
