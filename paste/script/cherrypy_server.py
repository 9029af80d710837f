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
"""
from __future__ import annotations

import threading
from typing import Any, Callable

from paste.script.runners_common import (
    ListenError, bind_socket, format_address, require, runner_options, stop_signals)
from paste.script.util.options import OptionError, asfloat, asint, asport

__all__ = ["cpwsgi_server"]

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


def cpwsgi_server(wsgi_app: Callable, global_conf: dict | None = None, **local_conf: Any) -> None:
    """Serve ``wsgi_app`` with cheroot until SIGTERM or SIGINT (requests in flight finish)."""
    options = runner_options(local_conf, OPTIONS, "cherrypy")
    wsgi = require("cheroot.wsgi", "cherrypy", "cheroot", "cherrypy")
    where = "the [server] section (cherrypy)"

    host = options.get("host") or "127.0.0.1"
    port = options.get("port", 8080)
    kwargs: dict[str, Any] = {"request_queue_size": 1024}
    for name in ("numthreads", "max", "request_queue_size", "timeout",
                 "shutdown_timeout", "server_name"):
        if options.get(name) is not None:
            kwargs[name] = options[name]
    if kwargs.get("numthreads", 10) < 1:
        raise OptionError("numthreads", kwargs["numthreads"], "expected at least 1 thread", where)
    server = wsgi.Server((host, port), _no_body_for_head(wsgi_app), **kwargs)
    if options.get("protocol_version"):
        if options["protocol_version"] not in ("HTTP/1.0", "HTTP/1.1"):
            raise OptionError("protocol_version", options["protocol_version"],
                              "expected HTTP/1.0 or HTTP/1.1", where)
        server.protocol = options["protocol_version"]

    scheme = "http"
    certificate = options.get("ssl_certificate") or options.get("ssl_pem")
    private_key = options.get("ssl_private_key") or options.get("ssl_pem")
    if certificate or private_key:
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
        scheme = "https"

    address = format_address(host, port)
    try:
        server.prepare()
    except OSError as exc:
        # cheroot folds the reason into its message; probing the address
        # gives the usual one-line explanation naming host:port.
        probe = bind_socket(host, port)
        probe.close()
        raise ListenError(address, str(exc)) from None
    bound_port = server.socket.getsockname()[1] if server.socket is not None else port
    print(f"serving on {scheme}://{format_address(host, bound_port)}", flush=True)

    stopper: list[threading.Thread] = []

    def stop(signum: int) -> None:
        # stop() joins the workers (requests in flight finish): not in a
        # signal handler, which would block the very loop it is stopping.
        if not stopper:
            thread = threading.Thread(target=server.stop, name="cherrypy-stop")
            stopper.append(thread)
            thread.start()

    with stop_signals(stop):
        try:
            server.serve()
        finally:
            if stopper:
                stopper[0].join()
            else:
                server.stop()
