# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""``egg:PasteScript#flup_{fcgi,scgi,ajp}_{thread,fork}``: flup's gateway servers.

They speak FastCGI, SCGI or AJP 1.3 to a front-end web server (nginx's
``fastcgi_pass``/``scgi_pass``, Apache's ``mod_proxy_fcgi``/``mod_proxy_scgi``/
``mod_proxy_ajp``), with a pool of threads (``_thread``) or of pre-forked
processes (``_fork``). They need the ``flup`` extra:
``pip install "PasteScript[flup]"``.

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
    the process pool of the ``_fork`` servers. With flup 1.0.3 on Python 3
    the pool does not grow or shrink: it keeps exactly ``maxSpare``
    processes (default 5), so set ``maxSpare`` to the number of requests
    (for AJP: of front-end connections) to serve at once.
``debug``
    show tracebacks in error pages (default: the global ``debug`` setting).
"""
from __future__ import annotations

import collections
import io
import os
import stat
import socket
import sys
import threading
from typing import Any, Callable

from paste.script.runners_common import (
    ListenError, check_unix_socket_free, format_address, listen_error, require,
    runner_options)
from paste.script.util.options import OptionError, asbool, asint, aslist, asoctal, asport

__all__ = ["run_ajp_thread", "run_ajp_fork", "run_fcgi_thread", "run_fcgi_fork",
           "run_scgi_thread", "run_scgi_fork"]


def __getattr__(name: str):
    # 3.x imported serve's ensure_port_cleanup here; runners do not import
    # the serve command, so it is looked up only when asked.
    if name == "ensure_port_cleanup":
        from paste.script.serve import ensure_port_cleanup
        return ensure_port_cleanup
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_COMMON = {"host": str, "port": asport, "debug": asbool, "minSpare": asint, "maxSpare": asint}
_UNIX = {"socket": str, "umask": asoctal}


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

_GATEWAY = {"scriptName": str, "allowedServers": aslist, "loggingLevel": _log_level}
_POOLS = {"thread": {"maxThreads": asint},
          "fork": {"maxChildren": asint, "maxRequests": asint}}

# protocol -> (display name, module stem, options, default host, default port)
_PROTOCOLS = {
    "fcgi": ("FastCGI", "fcgi", {**_UNIX, "multiplexed": asbool}, None, None),
    "scgi": ("SCGI", "scgi", {**_UNIX, **_GATEWAY}, "localhost", 4000),
    "ajp": ("AJP", "ajp", dict(_GATEWAY), "localhost", 8009),
}


def _stdin_is_socket() -> bool:
    if os.environ.get("FCGI_FORCE_CGI", "N").upper().startswith("Y"):
        return False
    try:
        return stat.S_ISSOCK(os.fstat(0).st_mode)
    except OSError:
        return False


class _Stop(Exception):
    """Raised from the forking servers' signal handler to leave their select()."""


def _serve(protocol: str, pool: str, wsgi_app: Callable, global_conf: dict,
           local_conf: dict) -> None:
    label, stem, extra, default_host, default_port = _PROTOCOLS[protocol]
    runner = f"flup_{protocol}_{pool}"
    table = {**_COMMON, **extra, **_POOLS[pool]}
    options = runner_options(local_conf, table, runner)
    # flup has its own process model (and often a Unix socket or one the web
    # server passed): paster serve runs it with one worker only.
    from paste.script.serving import single_process
    single_process(runner)
    module_name = f"flup.server.{stem}" if pool == "thread" else f"flup.server.{stem}_fork"
    module = require(module_name, runner, "flup", "flup")

    host = options.pop("host", None)
    port = options.pop("port", None)
    path = options.pop("socket", None)
    umask = options.pop("umask", None)
    where = f"the [server] section ({runner})"
    if path:
        if host is not None or port is not None:
            raise OptionError("socket", path, "give either socket or host/port, not both", where)
        check_unix_socket_free(path)
        bind, address = path, path
    elif host is not None or port is not None or default_host is not None:
        host = host if host is not None else (default_host or "localhost")
        if port is None:
            if default_port is None:
                raise OptionError("host", host, "a port is needed with host", where)
            port = default_port
        bind, address = (host, port), format_address(host, port)
    else:
        # FastCGI without an address: the web server spawned us with the
        # listening socket as file descriptor 0, or runs us as plain CGI.
        # flup's own CGI fallback reads and writes text streams on Python 3,
        # so a CGI request goes to the cgi runner instead.
        if not _stdin_is_socket():
            from paste.script.cgi_server import run_with_cgi
            run_with_cgi(wsgi_app)
            return
        bind, address = None, "the socket inherited from the web server"

    debug = options.pop("debug", None)
    if debug is None:
        debug = asbool(global_conf.get("debug", False))
    kwargs: dict[str, Any] = {"debug": debug}
    if "allowedServers" in extra:
        kwargs["allowedServers"] = options.pop("allowedServers", ["127.0.0.1"])
    if "scriptName" in options:
        kwargs["scriptName"] = options.pop("scriptName")
    elif protocol == "ajp":
        kwargs["scriptName"] = ""
    if "loggingLevel" in options:
        kwargs["loggingLevel"] = options.pop("loggingLevel")
    if "multiplexed" in options:
        kwargs["multiplexed"] = options.pop("multiplexed")
    if "umask" in extra and umask is not None:
        kwargs["umask"] = umask
    kwargs.update(options)  # the pool options, under flup's own names

    server_class = _make_server_class(module.WSGIServer, address, pool == "fork",
                                      protocol=protocol)
    try:
        server = server_class(wsgi_app, bindAddress=bind, **kwargs)
    except ValueError as exc:  # flup checks its pool sizes
        raise OptionError("minSpare/maxSpare", "", str(exc), where) from None
    if bind is not None:
        # Not when spawned by the web server: in its CGI fallback flup
        # answers on standard output, where this line would corrupt the reply.
        kind = "threads" if pool == "thread" else "processes"
        print(f"serving {label} on {address} ({kind})", flush=True)
    try:
        server.run()
    except _Stop:
        server._stop_forked()


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


class _ThreadPool:
    """A replacement for flup's thread pool that never strands a connection.

    flup's pool counts a thread as idle until it has *taken* a job, so a burst
    of connections can be queued behind fewer idle threads than jobs. With
    persistent connections (Apache keeps its AJP connections open) such a job
    waits forever. Here a thread is reserved the moment a job is handed out.
    """

    def __init__(self, minSpare: int = 1, maxSpare: int = 5, maxThreads: int = sys.maxsize):
        if minSpare < 0 or maxSpare < minSpare or maxThreads < 1:
            raise ValueError("expected 0 <= minSpare <= maxSpare and maxThreads >= 1")
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

    def addJob(self, job, allowQueuing: bool = True) -> bool:
        with self._lock:
            if self._stopping:
                return False
            if not self._idle and len(self._threads) < self._max_threads:
                self._spawn()
            if not self._idle and not allowQueuing:
                return False
            if self._idle:
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
                    return
                job = self._jobs.popleft()
            try:
                job.run()
            except Exception:
                pass  # flup's jobs log their own errors
            with self._lock:
                if self._idle >= self._max_spare and not self._jobs:
                    self._threads.remove(me)
                    return
                self._idle += 1

    def shutdown(self) -> None:
        """Let running jobs finish, then stop every thread."""
        with self._lock:
            self._stopping = True
            self._lock.notify_all()
            threads = list(self._threads)
        for thread in threads:
            thread.join()


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


def _make_server_class(base: type, address: str, forking: bool, protocol: str) -> type:
    class Server(base):
        if not forking:
            def __init__(self, *args, **kwargs):
                pool = {name: kwargs.pop(name) for name in ("minSpare", "maxSpare", "maxThreads")
                        if name in kwargs}
                super().__init__(*args, **kwargs)
                self._threadPool.shutdown()  # flup's own pool, replaced below
                self._threadPool = _ThreadPool(**pool)

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

        if protocol == "scgi":
            def handler(self, request):
                length = request.environ.get("CONTENT_LENGTH", "")
                size = int(length) if length.isdigit() else 0
                stream = request.stdin if size else io.BytesIO()
                request.stdin = _BoundedInput(stream, size)
                return super().handler(request)

        def _setupSocket(self):
            try:
                sock = super()._setupSocket()
            except ListenError:
                raise
            except OSError as exc:
                raise listen_error(exc, address) from None
            if sock.family in (socket.AF_INET, socket.AF_INET6):
                # Accepted connections inherit it (Linux): without it, bodies
                # sent in many small protocol packets stall on delayed ACKs.
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return sock

        if forking:
            # flup's parent waits in select() with no timeout; Python retries
            # it after a signal handler, so a flag alone would never be seen.
            def _intHandler(self, signum, frame):
                self._keepGoing = False
                raise _Stop()

            def _hupHandler(self, signum, frame):
                self._keepGoing = False
                self._hupReceived = True
                raise _Stop()

            def _stop_forked(self):
                self._restoreSignalHandlers()
                self._cleanupChildren()

    Server.__name__ = base.__name__
    Server.__qualname__ = f"{base.__module__}.{base.__name__}"
    return Server


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
