# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""Plumbing shared by the server runners (``paste.server_runner`` entry points).

Every runner receives its options as strings from an INI file. It declares
them once in a table (name -> converter) and calls :func:`runner_options`,
so a bad value or an unknown option is one :class:`OptionError` line.

Two error classes let ``paster serve`` print one clear line:

* :class:`MissingExtraError` (an ``ImportError``) when the package behind a
  runner is not installed; its message says which extra to install.
* :class:`ListenError` (an ``OSError``) when the runner cannot listen on its
  address, for example because the port is in use; its message names the
  address.
"""
from __future__ import annotations

import contextlib
import errno
import importlib
import os
import signal
import socket
import threading
from typing import Any, Callable, Iterator, Mapping

from paste.script.util.options import OptionError, convert

__all__ = [
    "MissingExtraError", "ListenError", "OptionError", "require",
    "runner_options", "format_address", "bind_socket", "listen_error",
    "passive_addresses", "stop_signals",
]


class MissingExtraError(ImportError):
    """A runner needs a package that is not installed."""

    def __init__(self, runner: str, package: str, extra: str):
        self.runner = runner
        self.package = package
        self.extra = extra
        message = (f"The {runner} server needs {package}, which is not installed: "
                   f'pip install "PasteScript[{extra}]"')
        super().__init__(message, name=package)

    def __str__(self) -> str:
        return self.msg


class ListenError(OSError):
    """A runner could not listen on its address (port in use, no permission...)."""

    def __init__(self, address: str, reason: str, err: int | None = None):
        self.address = address
        self.reason = reason
        super().__init__(err if err is not None else errno.EADDRNOTAVAIL,
                         f"cannot listen on {address}: {reason}")

    def __str__(self) -> str:
        return f"Cannot listen on {self.address}: {self.reason}"


def require(module: str, runner: str, package: str, extra: str):
    """Import ``module`` or raise :class:`MissingExtraError` naming the extra."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        # Only the missing top-level package is the user's problem to fix with
        # pip; a broken import inside an installed package must show itself.
        top = module.split(".")[0]
        if exc.name is not None and exc.name.split(".")[0] == top:
            raise MissingExtraError(runner, package, extra) from exc
        raise


def runner_options(local_conf: Mapping[str, Any], table: Mapping[str, Callable],
                   runner: str) -> dict:
    """Convert a runner's INI options with ``table``; unknown names are errors.

    An unknown option is usually a typo (``thread = 4``): silently dropping it
    would leave the user wondering why the setting has no effect.
    """
    where = f"the [server] section ({runner})"
    for name in local_conf:
        if name not in table:
            known = ", ".join(sorted(table))
            raise OptionError(name, local_conf[name], f"unknown option; known options: {known}", where)
    return convert(local_conf, table, where)


def format_address(host: Any, port: Any = None) -> str:
    """``host:port`` for TCP (IPv6 hosts bracketed), the path for a Unix socket."""
    if port is None:
        return str(host)
    host = str(host)
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"{host}:{port}"


def listen_error(exc: OSError, address: str) -> ListenError:
    """Turn a bind/listen ``OSError`` into a :class:`ListenError` naming ``address``."""
    if exc.errno == errno.EADDRINUSE:
        reason = "the address is already in use (is another server running?)"
    elif exc.errno == errno.EACCES:
        reason = "permission denied (ports below 1024 need root)"
    elif isinstance(exc, socket.gaierror):
        reason = f"unknown host ({exc.strerror})"
    else:
        reason = exc.strerror or str(exc)
    return ListenError(address, reason, exc.errno)


def passive_addresses(host: str | None, port: int, family: int = socket.AF_UNSPEC,
                      proto: int = 0) -> list:
    """``socket.getaddrinfo`` for a TCP address to listen on (``None``: every address).

    An ASCII host goes to ``getaddrinfo`` as bytes: given a str, it imports
    the ``idna`` codec first, about 2 ms on the way to the first request.
    """
    if host and host.isascii():
        host = host.encode("ascii")
    return socket.getaddrinfo(host or None, port, family, socket.SOCK_STREAM, proto,
                              socket.AI_PASSIVE)


def bind_socket(host: str, port: int, backlog: int = 1024) -> socket.socket:
    """A listening TCP socket of the caller's own on (host, port), IPv4 or IPv6 as ``host`` says.

    Raises :class:`ListenError` naming ``host:port`` when that fails. Under
    ``paster serve`` a runner should rather take the monitor's socket with
    :func:`paste.script.serving.listen` (and call
    :func:`~paste.script.serving.ready`): a socket of its own keeps the
    server to one process.
    """
    address = format_address(host, port)
    bind_host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        infos = passive_addresses(bind_host, port)
        # "localhost" may resolve to ::1 first; clients (and the original
        # server) expect 127.0.0.1 to answer.
        infos.sort(key=lambda info: info[0] != socket.AF_INET)
        family, kind, proto, _, sockaddr = infos[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise listen_error(exc, address) from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(sockaddr)
        sock.listen(backlog)
    except OSError as exc:
        sock.close()
        raise listen_error(exc, address) from None
    return sock


def check_unix_socket_free(path: str) -> None:
    """Refuse to take over a Unix socket another live server is listening on.

    flup removes whatever is at the path before binding, which would silently
    steal the socket from a running instance.
    """
    if not os.path.exists(path):
        return
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.settimeout(1.0)
        probe.connect(path)
    except OSError:
        return  # a stale socket file: binding over it is fine
    finally:
        probe.close()
    raise ListenError(path, "a server is already listening on this socket", errno.EADDRINUSE)


#: The pipe :func:`stop_signals` relays signals through (read end, write
#: end), while its write end is Python's wake-up descriptor.
_relay_pipe: tuple[int, int] | None = None
_fork_hook_registered = False


@contextlib.contextmanager
def stop_signals(on_stop: Callable[[int], None]) -> Iterator[None]:
    """Call ``on_stop(signum)`` on SIGTERM/SIGINT while the block runs.

    ``on_stop`` runs in a thread of its own, at once, whatever the main
    thread is doing, so it must be safe to call from another thread. Python
    runs signal handlers in the main thread only, and only once that thread
    runs Python again; but the kernel may hand a signal to any thread (a
    second signal sent while the first is still pending goes to another
    one), and a main thread blocked in ``epoll_wait`` or on a lock then
    sleeps through it. So the handlers installed here do nothing but let
    Python write the signal's number on a pipe (``signal.set_wakeup_fd``),
    which that thread reads.

    In a ``paster serve`` worker this installs nothing: the engine owns
    those signals there (:func:`paste.script.serving.owns_signals`) and
    stops the runner through what it registered with
    :func:`paste.script.serving.on_stop`. Only the main thread can install
    signal handlers; elsewhere (a runner started in a thread by a test or an
    embedding program) this does nothing either, and the caller stops the
    server through its own API. A signal the process ignores stays ignored:
    whoever started it meant that (``nohup``).
    """
    from paste.script import serving
    if serving.owns_signals() or threading.current_thread() is not threading.main_thread():
        yield
        return
    wanted = [signum for signum in (signal.SIGTERM, signal.SIGINT)
              if signal.getsignal(signum) is not signal.SIG_IGN]
    if not wanted:
        yield
        return
    global _relay_pipe
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)
    relay = threading.Thread(target=_relay_signals, args=(read_fd, set(wanted), on_stop),
                             name="paster-stop-signals", daemon=True)
    relay.start()
    _register_fork_hook()
    previous = {signum: signal.signal(signum, _woken) for signum in wanted}
    previous_wakeup = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
    _relay_pipe = (read_fd, write_fd)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        signal.set_wakeup_fd(previous_wakeup)
        _relay_pipe = None
        os.close(write_fd)      # the relay reads the end of the pipe and ends
        relay.join(1.0)


def _woken(signum: int, frame) -> None:
    """The handler: Python has already written ``signum`` on the relay's pipe."""


def _relay_signals(read_fd: int, wanted: set, on_stop: Callable[[int], None]) -> None:
    try:
        while True:
            numbers = os.read(read_fd, 64)
            if not numbers:
                return
            for signum in numbers:
                if signum in wanted:
                    try:
                        on_stop(signum)
                    except Exception:       # said, and the next signal still comes
                        import traceback
                        traceback.print_exc()
    finally:
        os.close(read_fd)


def _register_fork_hook() -> None:
    global _fork_hook_registered
    if not _fork_hook_registered:
        _fork_hook_registered = True
        os.register_at_fork(after_in_child=_forget_relay)


def _forget_relay() -> None:
    """In a forked child (flup's process pool): the relay thread is not
    there, and the child's signals must not reach the parent's pipe."""
    global _relay_pipe
    if _relay_pipe is not None:
        signal.set_wakeup_fd(-1)
        for fd in _relay_pipe:      # else the parent's relay never sees its pipe end
            os.close(fd)
        _relay_pipe = None
