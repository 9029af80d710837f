# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""``egg:PasteScript#wsgiutils``: a threaded HTTP/1.1 server that holds up to hostile clients.

The original runner wrapped the long-gone WSGIUtils package; this one keeps
its name. Requests are parsed by llhttp (``httptools``) in strict mode, read
by an event loop without holding a thread, and run by a pool of ``threads``
workers once they are complete; every limit and deadline is an option
(:class:`paste.script.httpserver.Settings`). The server itself lives in
:mod:`paste.script.httpserver`.
"""
from __future__ import annotations

import logging
from typing import Any, Callable

from paste.script import serving
from paste.script.httpserver import ClientDisconnected, FileWrapper, Settings, WSGIServer
from paste.script.runners_common import format_address, stop_signals

__all__ = ["run_server", "WSGIServer", "make_server", "ClientDisconnected", "FileWrapper"]


def __getattr__(name: str):
    # 3.x imported serve's ensure_port_cleanup here; runners do not import
    # the serve command, so it is looked up only when asked.
    if name == "ensure_port_cleanup":
        from paste.script.serve import ensure_port_cleanup
        return ensure_port_cleanup
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


log = logging.getLogger(__name__)

#: Option name -> converter, and option name -> default, for ``[server:main]``.
OPTIONS = Settings.table()
DEFAULTS = {name: default for name, default, _ in Settings.documented()}

#: Exit status when stopping cut requests in flight.
EXIT_REQUESTS_CUT = 1


def run_server(wsgi_app: Callable, global_conf: dict, **local_conf: Any) -> None:
    """Serve ``wsgi_app`` over HTTP until SIGTERM or SIGINT.

    The first signal stops accepting and lets requests in flight finish
    (up to ``shutdown_timeout`` seconds); a second one stops at once. When
    requests in flight were cut, this raises ``SystemExit(1)``. Under
    ``paster serve`` the engine stops it the same way (:func:`paste.script.serving.on_stop`).
    """
    server = make_server(wsgi_app, **local_conf)
    print(f"serving on http://{format_address(server.display_host, server.port)}", flush=True)

    def on_signal(signum: int) -> None:
        if server.stopping:
            server.force_stop()
        else:
            server.shutdown()

    # Under paster serve the engine stops the worker (and owns the signals):
    # it calls this from another thread.
    serving.on_stop(server.shutdown)
    with stop_signals(on_signal):
        server.serve_forever()
    if server.requests_cut:
        raise SystemExit(EXIT_REQUESTS_CUT)


def make_server(wsgi_app: Callable, **options: Any) -> WSGIServer:
    """A bound (listening) :class:`WSGIServer`; call ``serve_forever()`` on it.

    ``options`` are those of ``[server:main]``, as strings or Python values;
    a bad or unknown one raises ``OptionError``.
    """
    return WSGIServer(wsgi_app, Settings.from_options(options))
