# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""``egg:PasteScript#cherrypy``: CherryPy's WSGI server, as shipped today in ``cheroot``.

The original runner imported ``cherrypy.wsgiserver``, which CherryPy moved
out into the ``cheroot`` package years ago. Needs the ``cherrypy`` extra:
``pip install "PasteScript[cherrypy]"``.

Options (strings from the ``[server:…]`` section): ``host`` (default
``127.0.0.1``), ``port`` (8080), ``numthreads`` (10), ``max`` (most worker
threads, -1 for no limit), ``request_queue_size`` (listen backlog, 1024;
cheroot's own default of 5 makes a burst of connections wait for TCP
retransmissions), ``timeout`` (socket timeout in seconds, 10), ``shutdown_timeout`` (5),
``server_name`` (for ``SERVER_NAME``), ``protocol_version`` (``HTTP/1.1``),
and HTTPS with ``ssl_certificate`` + ``ssl_private_key`` (+ optional
``ssl_certificate_chain``), or the older single-file ``ssl_pem``.

The listening socket comes from :func:`paste.script.serving.listen` (the
monitor's under ``paster serve``); a stop, from the engine or SIGTERM/SIGINT,
is cheroot's own graceful ``stop()``: no new connection, the requests in
flight finish (answered with ``Connection: close``), idle keep-alive
connections are closed.
"""
from __future__ import annotations

import os
import threading
import time
from typing import Any, Callable

from paste.script import serving
from paste.script.runners_common import (
    ListenError, format_address, require, runner_options, stop_signals)
from paste.script.util.options import OptionError, asfloat, asint, asport

__all__ = ["cpwsgi_server", "OPTIONS", "DEFAULTS"]

OPTIONS = {
    "host": str,
    "port": asport,
    "numthreads": asint,
    "max": asint,
    "request_queue_size": asint,
    "timeout": asfloat,
    "shutdown_timeout": asfloat,
    "server_name": str,
    "protocol_version": str,
    "ssl_certificate": str,
    "ssl_private_key": str,
    "ssl_certificate_chain": str,
    "ssl_pem": str,
}

#: Defaults the engine needs to know (``--worker-timeout`` counts threads).
DEFAULTS = {"numthreads": 10}


#: On a stop, how long idle keep-alive connections stay open for one last
#: request (answered with ``Connection: close``) before they are closed.
KEEPALIVE_GRACE = 1.0
#: Then how long a stop from the engine waits for the engine to take the
#: listening socket away (it does so when it calls the runner's stop).
RELEASE_WAIT = 2.0
#: How long cheroot waits in accept() once stopping (its own is 1 s).
STALE_ACCEPT_WAIT = 0.02


def _no_body_for_head(app: Callable) -> Callable:
    """Drop the body an application returns to a HEAD request.

    cheroot writes whatever the application returns, HEAD or not, and a
    keep-alive client then reads those bytes as the next response.
    """
    def head_safe(environ: dict, start_response: Callable):
        result = app(environ, start_response)
        if environ.get("REQUEST_METHOD") != "HEAD":
            return result
        try:
            for _ in result:  # run a generator far enough to call start_response
                break
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        return []
    return head_safe


def _server_class(wsgi) -> type:
    class Server(wsgi.Server):
        """cheroot's WSGI server, listening on the socket :func:`serving.listen` gives."""

        listen_error: OSError | None = None

        # cheroot takes no socket bound elsewhere (only systemd's, through
        # LISTEN_FDS); bind() is the public method its prepare() calls to
        # create the listening socket (tests/test_http_runners.py checks it).
        def bind(self, family, type, proto=0):
            try:
                sock = serving.listen(self.bind_addr, backlog=self.request_queue_size)
            except OSError as exc:
                self.listen_error = exc     # prepare() folds it into a vaguer message
                raise
            if self.ssl_adapter is not None:
                sock = self.ssl_adapter.bind(sock)
            self.socket = sock
            self.bind_addr = self.resolve_real_bind_addr(sock)
            return sock

    Server.__qualname__ = Server.__name__ = "Server"
    return Server


def _make_server(wsgi, wsgi_app: Callable, options: dict, where: str):
    """A configured (not yet listening) cheroot server."""
    host = options.get("host") or "127.0.0.1"
    port = options.get("port", 8080)
    kwargs: dict[str, Any] = {"request_queue_size": 1024}
    for name in ("numthreads", "max", "request_queue_size", "timeout",
                 "shutdown_timeout", "server_name"):
        if options.get(name) is not None:
            kwargs[name] = options[name]
    if kwargs.get("numthreads", 10) < 1:
        raise OptionError("numthreads", kwargs["numthreads"], "expected at least 1 thread", where)
    server = _server_class(wsgi)((host, port), _no_body_for_head(wsgi_app), **kwargs)
    if options.get("protocol_version"):
        if options["protocol_version"] not in ("HTTP/1.0", "HTTP/1.1"):
            raise OptionError("protocol_version", options["protocol_version"],
                              "expected HTTP/1.0 or HTTP/1.1", where)
        server.protocol = options["protocol_version"]
    return server


def _use_tls(server, options: dict, where: str) -> bool:
    """Configure HTTPS from the ``ssl_*`` options; False when there are none."""
    certificate = options.get("ssl_certificate") or options.get("ssl_pem")
    private_key = options.get("ssl_private_key") or options.get("ssl_pem")
    if not (certificate or private_key):
        return False
    if not (certificate and private_key):
        missing = "ssl_private_key" if certificate else "ssl_certificate"
        raise OptionError(missing, None, "HTTPS needs both ssl_certificate and ssl_private_key",
                          where)
    from cheroot.ssl.builtin import BuiltinSSLAdapter
    try:
        server.ssl_adapter = BuiltinSSLAdapter(
            certificate, private_key, options.get("ssl_certificate_chain"))
    except (OSError, ValueError) as exc:
        raise OptionError("ssl_certificate", certificate,
                          f"cannot load the certificate or key: {exc}", where) from None
    return True


def _released(sock, inode: int) -> bool:
    """Whether the engine pointed the listening descriptor at its private socket."""
    try:
        return os.fstat(sock.fileno()).st_ino != inode
    except (OSError, ValueError):
        return True


class _Stopper:
    """Stops the server gracefully, once, when the engine or a signal asks.

    A request may come before the server listens (a signal: the handlers are
    in place from the start); the stop then begins as serving would.
    """

    def __init__(self, server):
        self.server = server
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None
        self.pending: bool | None = None     # asked before serving: from the engine?
        self.serving = False
        self.listener = None
        self.inode = 0

    def signal(self, signum: int) -> None:
        self._request(from_engine=False)

    def engine(self) -> None:
        self._request(from_engine=True)

    def _request(self, from_engine: bool) -> None:
        # Not in a signal handler: stop() joins the workers, which would
        # block the very loop it is stopping.
        with self.lock:
            if self.thread is not None or self.pending is not None:
                return
            if not self.serving:
                self.pending = from_engine
                return
            self.thread = threading.Thread(target=self._graceful, args=(from_engine,),
                                           name="cherrypy-stop")
            self.thread.start()

    def _graceful(self, from_engine: bool) -> None:
        server, listener = self.server, self.listener
        # From now on every response says Connection: close: a keep-alive
        # client moves on after its next answer, never in the middle of a
        # request. Connections still idle after the grace period are closed.
        server.keep_alive_conn_limit = 0
        if from_engine:
            # Once the engine points the descriptor at its private socket,
            # cheroot's epoll still reports the shared one (a registration
            # outlives the descriptor's reuse), and each report sends cheroot
            # to accept() on the private socket for its 1 s timeout, while
            # its keep-alive clients wait. A short wait keeps them answered.
            listener.settimeout(STALE_ACCEPT_WAIT)
        time.sleep(KEEPALIVE_GRACE)
        # cheroot's stop() wakes its loop by connecting to its own listening
        # socket: under paster serve, only once the engine has pointed that
        # descriptor at its private socket, never to the one the workers share.
        deadline = time.monotonic() + RELEASE_WAIT
        while from_engine and not _released(listener, self.inode) and time.monotonic() < deadline:
            time.sleep(0.005)
        server.stop()

    def serve(self) -> None:
        """Serve (the server is prepared) until stopped."""
        self.listener = self.server.socket
        self.inode = os.fstat(self.listener.fileno()).st_ino
        with self.lock:
            self.serving = True
            pending, self.pending = self.pending, None
        if pending is not None:
            self._request(pending)
        serving.on_stop(self.engine)
        serving.ready()
        try:
            self.server.serve()
        finally:
            with self.lock:
                thread = self.thread
            if thread is not None:
                thread.join()
            else:
                self.server.stop()


def cpwsgi_server(wsgi_app: Callable, global_conf: dict | None = None, **local_conf: Any) -> None:
    """Serve ``wsgi_app`` with cheroot until stopped (requests in flight finish)."""
    options = runner_options(local_conf, OPTIONS, "cherrypy")
    wsgi = require("cheroot.wsgi", "cherrypy", "cheroot", "cherrypy")
    where = "the [server] section (cherrypy)"
    server = _make_server(wsgi, wsgi_app, options, where)
    scheme = "https" if _use_tls(server, options, where) else "http"
    host, port = server.bind_addr
    stopper = _Stopper(server)
    # From before it listens: a signal never finds the server without a handler.
    with stop_signals(stopper.signal):
        try:
            server.prepare()
        except OSError as exc:
            if server.listen_error is not None:
                raise server.listen_error from None
            raise ListenError(format_address(host, port), str(exc)) from None
        bound_port = server.bind_addr[1] if isinstance(server.bind_addr, tuple) else port
        print(f"serving on {scheme}://{format_address(host, bound_port)}", flush=True)
        stopper.serve()
