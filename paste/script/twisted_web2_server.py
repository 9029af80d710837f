# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""``egg:PasteScript#twisted``: the application under ``twisted.web``'s WSGI resource.

The module keeps its historical name; ``twisted.web2``, which the original
imported, was folded into ``twisted.web`` long ago. The application runs in
a thread pool of ``threads`` threads. Needs the ``twisted`` extra:
``pip install "PasteScript[twisted]"``.

Options (strings from the ``[server:…]`` section): ``host`` (default
``127.0.0.1``), ``port`` (8080), ``threads`` (most threads running the
application at once, 10), ``request_queue_size`` (listen backlog, 1024),
``shutdown_timeout`` (seconds to wait for requests in flight on stop, 30).

The listening socket comes from :func:`paste.script.serving.listen` (the
monitor's under ``paster serve``). A stop, from the engine or
SIGTERM/SIGINT, stops accepting, closes idle keep-alive connections,
answers the requests in flight with ``Connection: close`` and stops the
reactor once their connections are closed (or after ``shutdown_timeout``);
a second signal stops it at once.
"""
from __future__ import annotations

import errno
import os
import socket
import sys
import threading
import time
from typing import Any, Callable

from paste.script import serving
from paste.script.runners_common import format_address, require, runner_options, stop_signals
from paste.script.util.options import OptionError, asfloat, asint, asport

__all__ = ["run_twisted", "OPTIONS", "DEFAULTS"]

OPTIONS = {
    "host": str,
    "port": asport,
    "threads": asint,
    "request_queue_size": asint,
    "shutdown_timeout": asfloat,
}

#: Defaults the engine needs to know (``--worker-timeout`` counts threads).
DEFAULTS = {"threads": 10}


#: On a stop, how long idle keep-alive connections stay open for one last
#: request (answered with ``Connection: close``) before they are closed.
KEEPALIVE_GRACE = 1.0


class _Connections:
    """The open HTTP connections (Twisted's channels), for a graceful stop."""

    def __init__(self, reactor, shutdown_timeout: float):
        self.reactor = reactor
        self.shutdown_timeout = shutdown_timeout
        self.channels: dict = {}        # channel -> the socket we accepted for it
        self.pending: socket.socket | None = None
        self.stopping = False
        self.acceptor: _Acceptor | None = None
        self.finished = False
        self._stopped = False

    def opened(self, channel) -> None:
        self.channels[channel] = self.pending
        self.pending = None

    def closed(self, channel) -> None:
        accepted = self.channels.pop(channel, None)
        if accepted is not None:
            accepted.close()
        if self.stopping and not self.channels:
            self.stop_reactor(finished=True)

    def begin_stop(self) -> None:
        """In the reactor: accept nothing more, let each connection end after a response.

        A response not yet begun says ``Connection: close``, and so does the
        answer to any request that arrives from now on (:meth:`checkPersistence`
        of the channel): a keep-alive client moves on after an answer, never
        in the middle of a request. Connections still idle after a grace
        period are closed.
        """
        if self.stopping:
            return
        self.stopping = True
        if self.acceptor is not None:
            self.acceptor.stop()
        for channel in list(self.channels):
            requests = channel.requests
            if len(requests) == 1 and not requests[0].startedWriting:
                requests[0].responseHeaders.setRawHeaders(b"Connection", [b"close"])
                channel.persistent = False
        if not self.channels:
            self.stop_reactor(finished=True)
            return
        self.reactor.callLater(KEEPALIVE_GRACE, self.close_idle)
        self.reactor.callLater(self.shutdown_timeout, self.stop_reactor)

    def close_idle(self) -> None:
        for channel in list(self.channels):
            if not channel.requests:
                channel.transport.loseConnection()

    def stop_reactor(self, finished: bool = False) -> None:
        """Stop the reactor; ``finished``: every request was answered."""
        if not self._stopped:
            self._stopped = True
            self.finished = finished
            # Let the last responses leave the reactor before it stops.
            self.reactor.callLater(0.05, self.reactor.stop)


class _Running:
    """The application, counting its requests in flight (a client may have left one).

    Stopping joins the pool's threads only when none runs: a request whose
    client went away would otherwise hold the exit for as long as it takes.
    """

    def __init__(self, app):
        self.app = app
        self.count = 0
        self._lock = threading.Lock()

    def __call__(self, environ, start_response):
        with self._lock:
            self.count += 1
        try:
            result = self.app(environ, start_response)
        except BaseException:
            self._done()
            raise
        return _Counted(result, self._done)

    def _done(self) -> None:
        with self._lock:
            self.count -= 1


class _Counted:
    """The application's iterable; its close() ends the count of its request."""

    def __init__(self, result, done):
        self._result = result
        self._done = done

    def __iter__(self):
        return iter(self._result)

    def close(self):
        done, self._done = self._done, None
        try:
            close = getattr(self._result, "close", None)
            if close is not None:
                close()
        finally:
            if done is not None:
                done()


def _channel_class(http, connections: _Connections) -> type:
    class Channel(http.HTTPChannel):
        """An HTTP connection that the runner can close gracefully."""

        def connectionMade(self):
            super().connectionMade()
            connections.opened(self)

        def connectionLost(self, reason):
            try:
                super().connectionLost(reason)
            finally:
                connections.closed(self)

        def checkPersistence(self, request, version):
            if connections.stopping:
                request.responseHeaders.setRawHeaders(b"Connection", [b"close"])
                return False
            return super().checkPersistence(request, version)

    return Channel


class _Acceptor:
    """Accepts on the socket :func:`serving.listen` gave; Twisted serves each connection.

    Twisted's own port for a socket bound elsewhere (``adoptStreamPort``)
    accepts on a duplicate of its descriptor. Under ``paster serve`` the
    engine stops a worker accepting by pointing the descriptor it handed out
    at a private socket: the duplicate would go on accepting. So the runner
    accepts on that descriptor itself and gives each connection to Twisted
    (``adoptStreamConnection``, public API). The reactor watches a duplicate
    for readiness, which it can stop watching cleanly whatever happened to
    the original.
    """

    def __init__(self, reactor, sock: socket.socket, factory, connections: _Connections):
        self.reactor = reactor
        self.sock = sock
        sock.setblocking(False)      # never wait in accept(): the reactor would wait with it
        self.factory = factory
        self.connections = connections
        # os.dup, not sock.dup(): that sets the duplicate's blocking mode,
        # which is the shared socket's, for every process.
        self.watched = os.dup(sock.fileno())
        self.inode = os.fstat(sock.fileno()).st_ino
        self.reading = False
        self._reported = 0.0

    # IReadDescriptor
    def fileno(self) -> int:
        return self.watched

    def logPrefix(self) -> str:
        return "paste-acceptor"

    def connectionLost(self, reason) -> None:
        self.stop()

    def doRead(self) -> None:
        # Sharing the socket with other workers: take a few at a time only.
        batch = 1 if (serving.pool_size() or 1) > 1 else 16
        for _ in range(batch):
            try:
                conn, _address = self.sock.accept()
            except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                if self._taken_away():
                    self.stop()  # the engine pointed our descriptor elsewhere
                return
            except OSError as exc:
                self._report(exc)
                return
            conn.setblocking(False)
            # Twisted serves a duplicate of the descriptor; ours is closed
            # with the connection (so the engine can still see it).
            self.connections.pending = conn
            try:
                self.reactor.adoptStreamConnection(conn.fileno(), conn.family, self.factory)
            except OSError:
                pass     # the client left before Twisted could look at the connection
            finally:
                if self.connections.pending is conn:     # no channel took it
                    self.connections.pending = None
                    conn.close()

    def _taken_away(self) -> bool:
        try:
            return os.fstat(self.sock.fileno()).st_ino != self.inode
        except OSError:
            return True

    def _report(self, exc: OSError) -> None:
        if exc.errno not in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
            raise exc
        now = time.monotonic()
        if now - self._reported >= 1.0:
            self._reported = now
            print(f"Cannot accept a connection: {exc.strerror}", file=sys.stderr, flush=True)

    def start(self) -> None:
        self.reading = True
        self.reactor.addReader(self)

    def stop(self) -> None:
        if self.reading:
            self.reading = False
            self.reactor.removeReader(self)
            os.close(self.watched)


def _application_threads(size: int):
    """The threads running the application: daemons, unlike the reactor's own,
    so that a stop that gives up on a request (a second signal, the
    shutdown timeout) does not wait for it."""
    from twisted.python.threadpool import ThreadPool

    def daemon_thread(*args, **kwargs) -> threading.Thread:
        thread = threading.Thread(*args, **kwargs)
        thread.daemon = True
        return thread

    class Pool(ThreadPool):
        threadFactory = staticmethod(daemon_thread)

    return Pool(0, size, "paste-wsgi")


def run_twisted(wsgi_app: Callable, global_conf: dict, **local_conf: Any) -> None:
    """Serve ``wsgi_app`` on Twisted's reactor until stopped (requests in flight finish)."""
    options = runner_options(local_conf, OPTIONS, "twisted")
    require("twisted.web.wsgi", "twisted", "Twisted", "twisted")
    from twisted.internet import reactor
    from twisted.internet.threads import blockingCallFromThread
    from twisted.web import http
    from twisted.web.server import Site
    from twisted.web.wsgi import WSGIResource

    host = options.get("host") or "127.0.0.1"
    port = options.get("port", 8080)
    threads = options.get("threads", DEFAULTS["threads"])
    if threads < 1:
        raise OptionError("threads", threads, "expected at least 1 thread",
                          "the [server] section (twisted)")
    pool = _application_threads(threads)
    reactor.callWhenRunning(pool.start)
    connections = _Connections(reactor, options.get("shutdown_timeout", 30.0))
    running = _Running(wsgi_app)
    site = Site(WSGIResource(reactor, pool, running))
    site.protocol = _channel_class(http, connections)
    site.displayTracebacks = False

    signals = []

    def stop(signum: int | None = None) -> None:
        if signum is None:           # the engine, from another thread
            blockingCallFromThread(reactor, connections.begin_stop)
            return
        signals.append(signum)       # (before the reactor runs, it runs this when it starts)
        if len(signals) > 1:         # a second signal: at once
            reactor.callFromThread(connections.stop_reactor)
        else:
            reactor.callFromThread(connections.begin_stop)

    # From before it listens: a signal never finds the server without a handler.
    with stop_signals(stop):
        sock = serving.listen((host, port), backlog=options.get("request_queue_size", 1024))
        try:
            connections.acceptor = _Acceptor(reactor, sock, site, connections)
            print(f"serving on http://{format_address(host, sock.getsockname()[1])}", flush=True)
            serving.on_stop(stop)
            serving.ready()
            connections.acceptor.start()
            reactor.run(installSignalHandlers=False)
            if connections.finished and not running.count:
                pool.stop()      # else a request still runs: its daemon thread ends with us
        finally:
            sock.close()
