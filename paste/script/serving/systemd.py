# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""systemd's two protocols, each a few lines over :mod:`socket`.

* Socket activation (``sd_listen_fds``): when ``LISTEN_PID`` is this
  process and ``LISTEN_FDS`` is N, descriptors 3 to 3+N-1 are listening
  sockets that systemd (or ``systemd-socket-activate``) opened for us.
* Readiness (``sd_notify``): ``NOTIFY_SOCKET`` names a Unix datagram socket
  (``@`` at the start means the abstract namespace) to which state changes
  are sent as ``KEY=value`` lines: ``READY=1``, ``RELOADING=1``,
  ``STOPPING=1``, ``STATUS=…``, ``MAINPID=…``.

Both sets of variables are removed from the environment once read, so that
workers and the programs they start do not take them for their own.
"""
from __future__ import annotations

import os
import socket
import time

__all__ = ["LISTEN_FDS_START", "listen_fds", "Notifier"]

LISTEN_FDS_START = 3


def listen_fds(environ=None) -> list[socket.socket]:
    """The listening sockets systemd passed to this process (empty when none)."""
    environ = os.environ if environ is None else environ
    pid, count = environ.get("LISTEN_PID", ""), environ.get("LISTEN_FDS", "")
    for name in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
        environ.pop(name, None)
    if not (pid.strip().isdigit() and count.strip().isdigit()) or int(pid) != os.getpid():
        return []
    sockets = []
    for fd in range(LISTEN_FDS_START, LISTEN_FDS_START + int(count)):
        sock = socket.socket(fileno=fd)
        sock.set_inheritable(False)
        sock.setblocking(False)     # shared by the workers: see handover.adopt
        sockets.append(sock)
    return sockets


class Notifier:
    """Sends state changes to systemd when ``NOTIFY_SOCKET`` is set; else does nothing."""

    def __init__(self, environ=None):
        environ = os.environ if environ is None else environ
        address = environ.pop("NOTIFY_SOCKET", "")
        if address.startswith("@"):
            address = "\0" + address[1:]
        self.address = address or None
        self._sock = None

    @property
    def active(self) -> bool:
        return self.address is not None

    def send(self, *lines: str) -> None:
        if self.address is None:
            return
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                self._sock.set_inheritable(False)
            self._sock.sendto("\n".join(lines).encode("utf-8", "replace"), self.address)
        except OSError:
            pass      # systemd gone or not listening: serving goes on regardless

    def ready(self, status: str = "") -> None:
        lines = ["READY=1", f"MAINPID={os.getpid()}"]
        if status:
            lines.append(f"STATUS={status}")
        self.send(*lines)

    def reloading(self, status: str = "") -> None:
        # MONOTONIC_USEC lets systemd (Type=notify-reload) tell this reload
        # from an earlier one.
        lines = ["RELOADING=1", f"MONOTONIC_USEC={time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000}"]
        if status:
            lines.append(f"STATUS={status}")
        self.send(*lines)

    def stopping(self, status: str = "") -> None:
        self.send("STOPPING=1", *([f"STATUS={status}"] if status else []))

    def status(self, status: str) -> None:
        self.send(f"STATUS={status}")

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
