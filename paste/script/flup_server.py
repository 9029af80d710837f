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
which bind, accept and own the process's signals, with no public way to
hand them a socket, to leave the signals alone or to stop them). The
runners here keep flup's protocol classes and its connection classes (the
``jobClass`` contract of flup's process models) and bring their own process
model, :mod:`paste.script.util.pools`, built for ``paster serve``'s hooks
(:mod:`paste.script.serving`): the listening socket comes from
:func:`~paste.script.serving.listen`, the pool starts accepting after
:func:`~paste.script.serving.ready`, and a stop from the engine (or
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

import io
import os
import socket
import stat
from typing import Any, Callable

from paste.script import serving
from paste.script.runners_common import format_address, require, runner_options, stop_signals
from paste.script.util import pools
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

class _FlupOptions:
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
        #: The connections being served, set by the runner.
        open_connections: pools.Connections

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


def _make_gateway(settings: _FlupOptions, wsgi_app: Callable) -> tuple[Any, type]:
    """The flup protocol object serving ``wsgi_app``, and its connection class."""
    module = require(f"flup.server.{settings.protocol}_base", settings.runner, "flup", "flup")
    base = {"fcgi": "BaseFCGIServer", "scgi": "BaseSCGIServer", "ajp": "BaseAJPServer"}
    threads = settings.pool == "thread"
    # bindAddress: flup binds nothing here, but its FastCGI server copies the
    # application's stderr to ours only when it has an address of its own.
    gateway = _gateway_class(settings.protocol, getattr(module, base[settings.protocol]))(
        wsgi_app, multithreaded=threads, multiprocess=not threads,
        bindAddress=settings.address, **settings.gateway_options)
    gateway.open_connections = pools.Connections()
    connection = module.Connection
    if settings.protocol == "fcgi" and settings.multiplexed:
        connection = module.MultiplexedConnection
    return gateway, connection


def _client_check(settings: _FlupOptions, gateway) -> Callable[[Any], bool]:
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


# -- the runners ---------------------------------------------------------------------

def _listen(settings: _FlupOptions) -> socket.socket | None:
    """The listening socket, or None when a web server runs us as a CGI program."""
    if settings.address is not None:
        sock = serving.listen(settings.address, backlog=socket.SOMAXCONN, mode=settings.mode)
        sock.setblocking(False)     # never wait in accept(): another process may take it
        return sock
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
    settings = _FlupOptions(protocol, pool, local_conf, global_conf)
    # flup has its own process model (and often a Unix socket or one the web
    # server passed): paster serve runs it with one worker only.
    serving.single_process(settings.runner)
    gateway, connection_class = _make_gateway(settings, wsgi_app)
    stop = pools.Stop()
    try:
        # From before it listens: a signal never finds the server without a handler.
        with stop_signals(stop.signal):
            _serve_on(settings, gateway, connection_class, stop, wsgi_app)
    finally:
        stop.close()


def _serve_on(settings: _FlupOptions, gateway, connection_class: type, stop: pools.Stop,
              wsgi_app: Callable) -> None:
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
        kind = "threads" if settings.pool == "thread" else "processes"
        print(f"serving {settings.label} on {settings.shown_address} ({kind})", flush=True)
    logger = getattr(gateway, "logger", None)
    if logger is not None:
        logger.info("WSGIServer starting up")
    try:
        if settings.pool == "thread":
            pools.serve_threads(sock, serve, allowed, connections, stop, settings.pool_options,
                                settings.shutdown_timeout)
        else:
            pools.ProcessPool(sock, serve, allowed, connections, stop,
                              size=settings.pool_options.get("maxSpare", 5),
                              max_requests=settings.pool_options.get("maxRequests", 0),
                              shutdown_timeout=settings.shutdown_timeout).run()
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
