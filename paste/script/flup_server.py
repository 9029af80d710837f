# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""``egg:PasteScript#flup_{fcgi,scgi,ajp}_{thread,fork}``: flup's gateway servers.

They speak FastCGI, SCGI or AJP 1.3 to a front-end web server (nginx's
``fastcgi_pass``/``scgi_pass``, Apache's ``mod_proxy_fcgi``/``mod_proxy_scgi``/
``mod_proxy_ajp``), with a pool of threads (``_thread``) or of pre-forked
processes (``_fork``). They need the ``flup`` extra:
``pip install "PasteScript[flup]"``.

flup builds each of its servers from a protocol class (``BaseFCGIServer``,
``BaseSCGIServer``, ``BaseAJPServer``, which turn a connection's requests
into WSGI calls) and a process model (``ThreadedServer``, ``PreforkServer``,
which bind, accept and own the process's signals). The runners here keep
flup's protocol classes and bring their own process model, built for
``paster serve``'s hooks (:mod:`paste.script.serving`): the listening socket
comes from :func:`~paste.script.serving.listen`, the pool starts accepting
after :func:`~paste.script.serving.ready`, and a stop from the engine (or
SIGTERM/SIGINT when run on their own) lets requests in flight finish and
the forked processes exit with them.

Options (strings from the ``[server:…]`` section):

``host`` / ``port``
    TCP address to listen on.
``socket`` / ``umask``
    FastCGI and SCGI only: a Unix socket path instead, created with that
    umask (octal, e.g. ``007``).
``scriptName``, ``allowedServers``
    SCGI and AJP: the URL prefix of the application, and the addresses of
    front ends allowed to connect (space separated; default ``127.0.0.1``).
``loggingLevel``
    SCGI and AJP: flup logs every request at ``INFO`` to standard error;
    ``WARNING`` keeps only problems.
``multiplexed``
    FastCGI: accept several requests on one connection.
``minSpare``, ``maxSpare``, ``maxThreads``
    the thread pool of the ``_thread`` servers.
``minSpare``, ``maxSpare``, ``maxChildren``, ``maxRequests``
    the processes of the ``_fork`` servers: exactly ``maxSpare`` processes
    (default 5), as flup 1.0.3 keeps on Python 3, each serving one
    connection at a time and replaced after ``maxRequests`` connections.
``shutdown_timeout``
    seconds requests in flight may take to finish when the server stops
    (default 30).
``debug``
    show tracebacks in error pages (default: the global ``debug`` setting).
"""
from __future__ import annotations

import collections
import errno
import io
import os
import select
import signal
import socket
import stat
import sys
import threading
import time
from typing import Any, Callable

from paste.script import serving
from paste.script.runners_common import format_address, require, runner_options, stop_signals
from paste.script.util.options import (OptionError, asbool, asfloat, asint, aslist, asoctal,
                                       asport)

__all__ = ["run_ajp_thread", "run_ajp_fork", "run_fcgi_thread", "run_fcgi_fork",
           "run_scgi_thread", "run_scgi_fork", "OPTIONS"]


def __getattr__(name: str):
    # 3.x imported serve's ensure_port_cleanup here; runners do not import
    # the serve command, so it is looked up only when asked.
    if name == "ensure_port_cleanup":
        from paste.script.serve import ensure_port_cleanup
        return ensure_port_cleanup
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _log_level(value: Any) -> int:
    """A logging level given as a name (``WARNING``) or a number."""
    import logging
    text = str(value).strip()
    if text.isdigit():
        return int(text)
    level = logging.getLevelName(text.upper())
    if not isinstance(level, int):
        raise ValueError(value)
    return level


_log_level.expected = "expected a logging level such as INFO or WARNING"

_COMMON = {"host": str, "port": asport, "debug": asbool, "minSpare": asint, "maxSpare": asint,
           "shutdown_timeout": asfloat}
_UNIX = {"socket": str, "umask": asoctal}
_GATEWAY = {"scriptName": str, "allowedServers": aslist, "loggingLevel": _log_level}
_POOLS = {"thread": {"maxThreads": asint},
          "fork": {"maxChildren": asint, "maxRequests": asint}}

# protocol -> (display name, options, default host, default port)
_PROTOCOLS = {
    "fcgi": ("FastCGI", {**_UNIX, "multiplexed": asbool}, None, None),
    "scgi": ("SCGI", {**_UNIX, **_GATEWAY}, "localhost", 4000),
    "ajp": ("AJP", dict(_GATEWAY), "localhost", 8009),
}


def _table(protocol: str, pool: str) -> dict:
    return {**_COMMON, **_PROTOCOLS[protocol][1], **_POOLS[pool]}


#: Every option a runner of this module takes (each runner function's
#: ``options`` attribute lists exactly the ones that runner takes).
OPTIONS = {name: converter for protocol in _PROTOCOLS for pool in _POOLS
           for name, converter in _table(protocol, pool).items()}

#: Default of ``shutdown_timeout``: paster serve's default graceful timeout.
SHUTDOWN_TIMEOUT = 30.0


# -- options ------------------------------------------------------------------

class _Settings:
    """A runner's options, converted and checked, under the names flup uses."""

    def __init__(self, protocol: str, pool: str, local_conf: dict, global_conf: dict):
        self.protocol = protocol
        self.pool = pool
        self.runner = f"flup_{protocol}_{pool}"
        self.label, extra, self._default_host, self._default_port = _PROTOCOLS[protocol]
        self.where = f"the [server] section ({self.runner})"
        options = runner_options(local_conf, _table(protocol, pool), self.runner)
        self.address, self.mode = self._address(options)
        self.shutdown_timeout = options.pop("shutdown_timeout", SHUTDOWN_TIMEOUT)
        self.pool_options = {name: options.pop(name) for name in
                             ("minSpare", "maxSpare", "maxThreads", "maxChildren", "maxRequests")
                             if name in options}
        debug = options.pop("debug", None)
        self.gateway_options: dict[str, Any] = {
            "debug": asbool(global_conf.get("debug", False)) if debug is None else debug}
        if "allowedServers" in extra:
            self.allowed = options.pop("allowedServers", ["127.0.0.1"])
            self.gateway_options["allowedServers"] = self.allowed
        else:
            self.allowed = None
        if "scriptName" in options:
            self.gateway_options["scriptName"] = options.pop("scriptName")
        elif protocol == "ajp":
            self.gateway_options["scriptName"] = ""
        self.multiplexed = options.pop("multiplexed", False)
        if protocol == "fcgi":
            self.gateway_options["multiplexed"] = self.multiplexed
        self.gateway_options.update(options)     # loggingLevel
        self._check_pool()

    def _address(self, options: dict):
        """``(address, mode)``: a Unix path, ``(host, port)``, or None (socket on stdin)."""
        host, port = options.pop("host", None), options.pop("port", None)
        path, umask = options.pop("socket", None), options.pop("umask", None)
        if path:
            if host is not None or port is not None:
                raise OptionError("socket", path, "give either socket or host/port, not both",
                                  self.where)
            return path, (0o777 & ~umask if umask is not None else None)
        if host is None and port is None and self._default_host is None:
            return None, None
        if port is None:
            if self._default_port is None:
                raise OptionError("host", host, "a port is needed with host", self.where)
            port = self._default_port
        return (host if host is not None else (self._default_host or "localhost"), port), None

    def _check_pool(self) -> None:
        pool = self.pool_options
        low, high = pool.get("minSpare", 1), pool.get("maxSpare", 5)
        if low < (1 if self.pool == "fork" else 0) or high < low:
            raise OptionError("minSpare/maxSpare", f"{low}/{high}",
                              "expected 1 <= minSpare <= maxSpare" if self.pool == "fork"
                              else "expected 0 <= minSpare <= maxSpare", self.where)
        if pool.get("maxThreads", 1) < 1:
            raise OptionError("maxThreads", pool["maxThreads"], "expected at least 1", self.where)

    @property
    def shown_address(self) -> str:
        if isinstance(self.address, tuple):
            return format_address(*self.address)
        return str(self.address)


def _stdin_is_socket() -> bool:
    if os.environ.get("FCGI_FORCE_CGI", "N").upper().startswith("Y"):
        return False
    try:
        return stat.S_ISSOCK(os.fstat(0).st_mode)
    except OSError:
        return False


# -- flup's protocol classes, and what the runner fixes in them ------------------

class _BoundedInput:
    """``wsgi.input`` that ends after ``CONTENT_LENGTH`` bytes.

    flup's SCGI server hands the application the raw socket file (so a plain
    ``read()`` waits for a close the web server never sends) or, for an empty
    body, a text ``StringIO``; WSGI wants bytes that end with the body.
    """

    def __init__(self, stream, length: int):
        self._stream = stream
        self._remaining = length

    def _limit(self, size) -> int:
        if size is None or size < 0 or size > self._remaining:
            return self._remaining
        return size

    def read(self, size: int | None = -1) -> bytes:
        size = self._limit(size)
        if size <= 0:
            return b""
        data = self._stream.read(size)
        self._remaining -= len(data)
        return data

    def readline(self, size: int | None = -1) -> bytes:
        size = self._limit(size)
        if size <= 0:
            return b""
        data = self._stream.readline(size)
        self._remaining -= len(data)
        return data

    def readlines(self, hint: int = -1) -> list:
        lines, total = [], 0
        for line in self:
            lines.append(line)
            total += len(line)
            if 0 < hint <= total:
                break
        return lines

    def __iter__(self):
        return iter(self.readline, b"")


def _error_page(debug: bool) -> bytes:
    """The 500 page: the traceback (escaped) with ``debug``, a plain notice without."""
    import html
    import traceback
    if debug:
        detail = f"<pre>{html.escape(traceback.format_exc())}</pre>"
    else:
        detail = "<p>The application raised an error; the server log has the details.</p>"
    return (f"<!DOCTYPE html>\n<html><head><title>500 Internal Server Error</title></head>"
            f"<body><h1>Internal Server Error</h1>{detail}</body></html>\n").encode("utf-8")


def _gateway_class(protocol: str, base: type) -> type:
    """flup's protocol class ``base``, with the runner's fixes and connection tracking."""

    class Gateway(base):
        #: The connections being served (:class:`_Connections`), set by the runner.
        open_connections: _Connections

        def handler(self, request):
            # flup calls handler() once per request, in the thread serving
            # its connection: the connection is busy meanwhile.
            with self.open_connections.request():
                if protocol == "scgi":
                    length = request.environ.get("CONTENT_LENGTH", "")
                    size = int(length) if length.isdigit() else 0
                    stream = request.stdin if size else io.BytesIO()
                    request.stdin = _BoundedInput(stream, size)
                return super().handler(request)

        # flup's own error pages need ``cgitb`` (gone in Python 3.13) for
        # ``debug``, and its AJP page goes out with status 200.
        if protocol == "ajp":
            def error(self, request):
                request.startResponse(500, b"Internal Server Error",
                                      [(b"Content-Type", b"text/html; charset=utf-8")])
                request.write(_error_page(self.debug))
        else:
            def error(self, request):
                request.stdout.write(b"Status: 500 Internal Server Error\r\n"
                                     b"Content-Type: text/html; charset=utf-8\r\n\r\n"
                                     + _error_page(self.debug))

    Gateway.__name__ = Gateway.__qualname__ = base.__name__
    return Gateway


def _make_gateway(settings: _Settings, wsgi_app: Callable) -> tuple[Any, type]:
    """The flup protocol object serving ``wsgi_app``, and its connection class."""
    module = require(f"flup.server.{settings.protocol}_base", settings.runner, "flup", "flup")
    base = {"fcgi": "BaseFCGIServer", "scgi": "BaseSCGIServer", "ajp": "BaseAJPServer"}
    threads = settings.pool == "thread"
    # bindAddress: flup binds nothing here, but its FastCGI server copies the
    # application's stderr to ours only when it has an address of its own.
    gateway = _gateway_class(settings.protocol, getattr(module, base[settings.protocol]))(
        wsgi_app, multithreaded=threads, multiprocess=not threads,
        bindAddress=settings.address, **settings.gateway_options)
    gateway.open_connections = _Connections()
    connection = module.Connection
    if settings.protocol == "fcgi" and settings.multiplexed:
        connection = module.MultiplexedConnection
    return gateway, connection


def _client_check(settings: _Settings, gateway) -> Callable[[Any], bool]:
    """Which front ends may connect, as flup decides it for each protocol."""
    if settings.protocol == "fcgi":
        listed = os.environ.get("FCGI_WEB_SERVER_ADDRS")
        allowed = None if listed is None else [a.strip() for a in listed.split(",")]
    else:
        allowed = settings.allowed

    def check(address) -> bool:
        if allowed is None:
            return True
        if isinstance(address, tuple) and len(address) >= 2:
            if address[0] in allowed:
                return True
        elif settings.protocol == "scgi":
            return True          # a Unix socket: the file's permissions decide
        if settings.protocol != "fcgi":
            gateway.logger.warning("Server connection from %s disallowed",
                                   address[0] if isinstance(address, tuple) else address)
        return False
    return check


# -- the connections, and a stop ----------------------------------------------------

class _Connections:
    """The connections this process serves, so that a stop can close the idle ones.

    flup's connection objects keep their socket to themselves, but the runner
    accepts each connection, so it knows them. Once the server stops, a
    connection waiting for its next request (AJP's persistent connections,
    FastCGI's with keep-conn) is shut down for reading: flup reads
    end-of-file and closes it. One whose request the application is
    answering gets the same once the answer is written.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._open: dict[int, list] = {}        # id(sock) -> [sock, running, served]
        self._current = threading.local()
        self.stopping = False

    def serve(self, job, sock: socket.socket) -> None:
        """Run flup's connection object ``job`` for ``sock`` in this thread."""
        entry = [sock, 0, 0]
        with self._lock:
            self._open[id(sock)] = entry
        self._current.entry = entry
        try:
            job.run()
        except Exception:
            pass  # flup's connection objects log their own errors
        finally:
            self._current.entry = None
            with self._lock:
                self._open.pop(id(sock), None)
            sock.close()

    class _Request:
        def __init__(self, owner: _Connections):
            self.owner = owner
            self.entry = getattr(owner._current, "entry", None)

        def __enter__(self):
            if self.entry is not None:
                with self.owner._lock:
                    self.entry[1] += 1

        def __exit__(self, *exc_info):
            if self.entry is None:
                return
            with self.owner._lock:
                self.entry[1] -= 1
                self.entry[2] += 1
                close = self.owner.stopping and not self.entry[1]
            if close:
                _shut_reading(self.entry[0])

    def request(self) -> _Connections._Request:
        """A context for one request of the connection served by this thread."""
        return self._Request(self)

    def stop(self) -> None:
        """Close idle connections now, the others after their request."""
        with self._lock:
            self.stopping = True
            idle = [entry[0] for entry in self._open.values() if not entry[1] and entry[2]]
        for sock in idle:
            _shut_reading(sock)

    def abort(self) -> None:
        """Cut every connection (the graceful stop took too long)."""
        with self._lock:
            self.stopping = True
            socks = [entry[0] for entry in self._open.values()]
        for sock in socks:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def _shut_reading(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RD)
    except OSError:
        pass


class _Stop:
    """How the server is told to stop: the engine's callback, or SIGTERM/SIGINT.

    The first request is a graceful stop; a second signal stops at once. It
    wakes the accepting loop through a pipe, which a signal handler may
    write to safely.
    """

    def __init__(self):
        self.requested = threading.Event()
        self.forced = threading.Event()
        self.accepting_stopped = threading.Event()
        self._read, self._write = os.pipe()
        os.set_blocking(self._read, False)
        os.set_blocking(self._write, False)

    def fileno(self) -> int:
        return self._read

    def _wake(self) -> None:
        try:
            os.write(self._write, b"!")
        except OSError:
            pass

    def request(self) -> None:
        """The engine's :func:`~paste.script.serving.on_stop` callback (another thread).

        It returns once the server accepts no more (or after two seconds).
        """
        self.requested.set()
        self._wake()
        if threading.current_thread() is not threading.main_thread():
            self.accepting_stopped.wait(2.0)

    def signal(self, signum: int) -> None:
        if self.requested.is_set():
            self.forced.set()
        self.requested.set()
        self._wake()

    def drain(self) -> None:
        try:
            while os.read(self._read, 512):
                pass
        except OSError:
            pass

    def close(self) -> None:
        for fd in (self._read, self._write):
            try:
                os.close(fd)
            except OSError:
                pass


_last_report = [0.0]


def _accept(sock: socket.socket):
    """``(connection, address)`` from the shared, non-blocking socket, or None."""
    try:
        conn, address = sock.accept()
    except (BlockingIOError, InterruptedError, ConnectionAbortedError):
        return None          # another process took it, or the client gave up
    except OSError as exc:
        if exc.errno not in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
            raise
        now = time.monotonic()
        if now - _last_report[0] >= 1.0:
            _last_report[0] = now
            print(f"Cannot accept a connection: {exc.strerror}", file=sys.stderr, flush=True)
        time.sleep(0.05)     # the socket stays readable: do not spin on it
        return None
    if conn.family in (socket.AF_INET, socket.AF_INET6):
        # Without it, bodies sent in many small protocol packets stall on
        # delayed ACKs.
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return conn, address


# -- thread pool ----------------------------------------------------------------------

class _ThreadPool:
    """A pool of threads that never strands a connection.

    flup's pool counts a thread as idle until it has *taken* a job, so a burst
    of connections can be queued behind fewer idle threads than jobs. With
    persistent connections (Apache keeps its AJP connections open) such a job
    waits forever. Here a thread is reserved the moment a job is handed out.
    """

    def __init__(self, minSpare: int = 1, maxSpare: int = 5, maxThreads: int = sys.maxsize):
        self._min_spare = minSpare
        self._max_spare = maxSpare
        self._max_threads = max(maxThreads, minSpare)
        self._lock = threading.Condition()
        self._jobs: collections.deque = collections.deque()
        self._threads: list = []
        self._idle = 0          # threads waiting for a job and not promised one
        self._stopping = False
        with self._lock:
            for _ in range(maxSpare):
                self._spawn()

    def _spawn(self) -> None:
        thread = threading.Thread(target=self._work, name="flup-worker", daemon=True)
        self._threads.append(thread)
        self._idle += 1
        thread.start()

    def add(self, job: Callable[[], None]) -> bool:
        """Run ``job()`` in a thread; False when none is left (``maxThreads``)."""
        with self._lock:
            if self._stopping:
                return False
            if not self._idle and len(self._threads) < self._max_threads:
                self._spawn()
            if not self._idle:
                return False
            self._idle -= 1
            self._jobs.append(job)
            # Keep a few threads ready for the next connections.
            while self._idle < self._min_spare and len(self._threads) < self._max_threads:
                self._spawn()
            self._lock.notify()
            return True

    def _work(self) -> None:
        me = threading.current_thread()
        while True:
            with self._lock:
                while not self._jobs and not self._stopping:
                    self._lock.wait()
                if not self._jobs:
                    self._threads.remove(me)
                    self._lock.notify_all()
                    return
                job = self._jobs.popleft()
            job()
            with self._lock:
                if self._idle >= self._max_spare and not self._jobs:
                    self._threads.remove(me)
                    self._lock.notify_all()
                    return
                self._idle += 1

    def shutdown(self, deadline: float, forced: threading.Event) -> bool:
        """Let running jobs finish (until ``deadline`` or ``forced``); True if all did."""
        with self._lock:
            self._stopping = True
            self._lock.notify_all()
            while self._threads and not forced.is_set():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._lock.wait(min(remaining, 0.1))
            return not self._threads


def _serve_threads(settings: _Settings, sock: socket.socket, serve: Callable,
                   allowed: Callable, connections: _Connections) -> None:
    """Accept in this thread, serve each connection in a thread of the pool."""
    pool = _ThreadPool(**settings.pool_options)
    stop = _Stop()
    serving.on_stop(stop.request)
    serving.ready()
    try:
        with stop_signals(stop.signal):
            while not stop.requested.is_set():
                readable, _, _ = select.select([sock, stop], [], [])
                if stop.requested.is_set() or sock not in readable:
                    continue
                accepted = _accept(sock)
                if accepted is None:
                    continue
                conn, address = accepted
                if not allowed(address) or not pool.add(lambda c=conn, a=address: serve(c, a)):
                    conn.close()    # not allowed, or no thread left (maxThreads)
            stop.accepting_stopped.set()
            connections.stop()
            if not pool.shutdown(time.monotonic() + settings.shutdown_timeout, stop.forced):
                connections.abort()
    finally:
        stop.accepting_stopped.set()
        stop.close()


# -- process pool ---------------------------------------------------------------------

class _ProcessPool:
    """``maxSpare`` forked processes, each accepting and serving one connection at a time.

    Each process has a control socket to this one: a byte on it asks a
    graceful stop, end-of-file says that this process is gone (the process
    then finishes its request, within ``shutdown_timeout``, and exits), and
    this end reads end-of-file when the process has exited.
    """

    def __init__(self, settings: _Settings, sock: socket.socket, serve: Callable,
                 allowed: Callable, connections: _Connections):
        self.settings = settings
        self.sock = sock
        self.serve = serve
        self.allowed = allowed
        self.connections = connections
        self.size = settings.pool_options.get("maxSpare", 5)
        self.max_requests = settings.pool_options.get("maxRequests", 0)
        self.children: dict[int, socket.socket] = {}
        self.unacknowledged: set[int] = set()   # told to stop, not yet sure to accept no more
        self.stop = _Stop()
        self.stopping_since: float | None = None

    def run(self) -> None:
        serving.on_stop(self.stop.request)
        serving.ready()
        try:
            with stop_signals(self.stop.signal):
                self._supervise()
        finally:
            self.stop.accepting_stopped.set()
            for end in self.children.values():
                end.close()
            self.stop.close()

    def _supervise(self) -> None:
        while True:
            if self.stopping_since is None:
                while len(self.children) < self.size:
                    self._spawn()
            timeout = None
            if self.stopping_since is not None:
                timeout = max(0.0, self.stopping_since + self.settings.shutdown_timeout
                              - time.monotonic())
                if self.unacknowledged:
                    timeout = min(timeout, 0.05)
            ends = {end: pid for pid, end in self.children.items()}
            readable, _, _ = select.select([self.stop, *ends], [], [], timeout)
            for end in readable:
                if end is self.stop:
                    self.stop.drain()
                    continue
                message = _receive(end)
                if not message:
                    self._reap(ends[end])
                elif b"a" in message:
                    self.unacknowledged.discard(ends[end])
            if self.stop.requested.is_set() and self.stopping_since is None:
                self._stop_children()
            elif self.stopping_since is not None:
                self._check_acknowledged()
            if self.stopping_since is not None and (
                    self.stop.forced.is_set()
                    or time.monotonic() >= self.stopping_since + self.settings.shutdown_timeout):
                self._kill_children()
            if self.stopping_since is not None and not self.children:
                return

    def _spawn(self) -> None:
        ours, theirs = socket.socketpair()
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()   # else the process writes our pending output again
            except (OSError, ValueError):
                pass
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                ours.close()
                for end in self.children.values():
                    end.close()
                self.stop.close()
                code = _Child(self, theirs).run()
            finally:
                for stream in (sys.stdout, sys.stderr):
                    try:
                        stream.flush()
                    except (OSError, ValueError):
                        pass
                os._exit(code)
        theirs.close()
        self.children[pid] = ours

    def _reap(self, pid: int) -> None:
        self.children.pop(pid).close()
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass

    def _stop_children(self) -> None:
        self.stopping_since = time.monotonic()
        for pid, end in self.children.items():
            try:
                end.send(b"s")
            except OSError:
                continue
            self.unacknowledged.add(pid)
        self._check_acknowledged()

    def _check_acknowledged(self) -> None:
        """Once every process said it accepts no more, the engine's callback may return."""
        self.unacknowledged &= set(self.children)
        if not self.unacknowledged or time.monotonic() > self.stopping_since + 1.0:
            self.stop.accepting_stopped.set()

    def _kill_children(self) -> None:
        for pid in list(self.children):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self._reap(pid)


def _receive(end: socket.socket) -> bytes:
    try:
        return end.recv(16)
    except (BlockingIOError, InterruptedError):
        return b"-"
    except OSError:
        return b""


class _Child:
    """One forked process of a :class:`_ProcessPool`."""

    def __init__(self, pool: _ProcessPool, control: socket.socket):
        self.pool = pool
        self.control = control
        self.stopping = threading.Event()
        self.accepting = threading.Lock()      # held from the last look at stopping to accept()
        self.wake_read, self.wake_write = os.pipe()

    def run(self) -> int:
        # The signals a whole process group gets (Ctrl-C, systemd's SIGTERM)
        # are for the parent, which stops this process when it stops. A
        # handler, not SIG_IGN: programs the application starts get the
        # default dispositions back.
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1):
            signal.signal(signum, _ignore)
        threading.Thread(target=self._watch_parent, name="flup-child-control",
                         daemon=True).start()
        served = 0
        pool = self.pool
        while not self.stopping.is_set():
            readable, _, _ = select.select([pool.sock, self.wake_read], [], [])
            with self.accepting:
                if self.stopping.is_set() or pool.sock not in readable:
                    continue
                accepted = _accept(pool.sock)
            if accepted is None:
                continue
            conn, address = accepted
            if not pool.allowed(address):
                conn.close()
                continue
            pool.serve(conn, address)
            served += 1
            if pool.max_requests and served >= pool.max_requests:
                break
        return 0

    def _watch_parent(self) -> None:
        while True:
            try:
                message = self.control.recv(16)
            except InterruptedError:
                continue
            except OSError:
                message = b""
            self.stopping.set()
            os.write(self.wake_write, b"!")
            with self.accepting:
                pass                # no accept() under way: none will follow
            if message:
                try:
                    self.control.send(b"a")
                except OSError:
                    pass
            self.pool.connections.stop()
            if not message:
                # The parent is gone: finish the request in hand, not forever.
                time.sleep(self.pool.settings.shutdown_timeout)
                self.pool.connections.abort()
                os._exit(1)


def _ignore(signum, frame) -> None:
    """The parent decides when this process stops."""


# -- the runners ---------------------------------------------------------------------

def _listen(settings: _Settings) -> socket.socket | None:
    """The listening socket, or None when a web server runs us as a CGI program."""
    if settings.address is not None:
        return serving.listen(settings.address, backlog=socket.SOMAXCONN, mode=settings.mode)
    # FastCGI without an address: the web server spawned us with the
    # listening socket as file descriptor 0 (FCGI_LISTENSOCK_FILENO), or
    # runs us as plain CGI.
    if not _stdin_is_socket():
        return None
    sock = socket.socket(fileno=os.dup(0))
    sock.setblocking(False)
    return sock


def _serve(protocol: str, pool: str, wsgi_app: Callable, global_conf: dict,
           local_conf: dict) -> None:
    settings = _Settings(protocol, pool, local_conf, global_conf)
    # flup has its own process model (and often a Unix socket or one the web
    # server passed): paster serve runs it with one worker only.
    serving.single_process(settings.runner)
    gateway, connection_class = _make_gateway(settings, wsgi_app)
    sock = _listen(settings)
    if sock is None:
        # flup's own CGI fallback reads and writes text streams on Python 3:
        # a CGI request goes to the cgi runner instead.
        from paste.script.cgi_server import run_with_cgi
        run_with_cgi(wsgi_app)
        return
    connections = gateway.open_connections

    def serve(conn: socket.socket, address) -> None:
        connections.serve(connection_class(conn, address, gateway, None), conn)

    allowed = _client_check(settings, gateway)
    if settings.address is not None:
        # Not when spawned by the web server: stdout may be its.
        kind = "threads" if pool == "thread" else "processes"
        print(f"serving {settings.label} on {settings.shown_address} ({kind})", flush=True)
    logger = getattr(gateway, "logger", None)
    if logger is not None:
        logger.info("WSGIServer starting up")
    try:
        if pool == "thread":
            _serve_threads(settings, sock, serve, allowed, connections)
        else:
            _ProcessPool(settings, sock, serve, allowed, connections).run()
    finally:
        sock.close()
    if logger is not None:
        logger.info("WSGIServer shutting down")


def run_ajp_thread(wsgi_app: Callable, global_conf: dict, **local_conf: Any) -> None:
    """AJP 1.3 (Apache ``mod_proxy_ajp``) with a thread pool; default localhost:8009."""
    _serve("ajp", "thread", wsgi_app, global_conf, local_conf)


def run_ajp_fork(wsgi_app: Callable, global_conf: dict, **local_conf: Any) -> None:
    """AJP 1.3 with pre-forked processes; default localhost:8009."""
    _serve("ajp", "fork", wsgi_app, global_conf, local_conf)


def run_fcgi_thread(wsgi_app: Callable, global_conf: dict, **local_conf: Any) -> None:
    """FastCGI with a thread pool, on ``host``/``port`` or a Unix ``socket``."""
    _serve("fcgi", "thread", wsgi_app, global_conf, local_conf)


def run_fcgi_fork(wsgi_app: Callable, global_conf: dict, **local_conf: Any) -> None:
    """FastCGI with pre-forked processes, on ``host``/``port`` or a Unix ``socket``."""
    _serve("fcgi", "fork", wsgi_app, global_conf, local_conf)


def run_scgi_thread(wsgi_app: Callable, global_conf: dict, **local_conf: Any) -> None:
    """SCGI with a thread pool; default localhost:4000 (or a Unix ``socket``)."""
    _serve("scgi", "thread", wsgi_app, global_conf, local_conf)


def run_scgi_fork(wsgi_app: Callable, global_conf: dict, **local_conf: Any) -> None:
    """SCGI with pre-forked processes; default localhost:4000 (or a Unix ``socket``)."""
    _serve("scgi", "fork", wsgi_app, global_conf, local_conf)


for _runner in (run_ajp_thread, run_ajp_fork, run_fcgi_thread, run_fcgi_fork, run_scgi_thread,
                run_scgi_fork):
    _protocol, _pool = _runner.__name__.split("_")[1:]
    _runner.options = _table(_protocol, _pool)
del _runner, _protocol, _pool
