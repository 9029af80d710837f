# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""``egg:PasteScript#twisted``: the application under ``twisted.web``'s WSGI resource.

The module keeps its historical name; ``twisted.web2``, which the original
imported, was folded into ``twisted.web`` long ago. The application runs in
the reactor's thread pool. Needs the ``twisted`` extra:
``pip install "PasteScript[twisted]"``.

Options (strings from the ``[server:…]`` section): ``host`` (default
``127.0.0.1``), ``port`` (8080), ``threads`` (most threads running the
application at once, 10), ``request_queue_size`` (listen backlog, 1024),
``shutdown_timeout`` (seconds to wait for requests in flight on stop, 30).
"""
from __future__ import annotations

import threading
import time
from typing import Any, Callable

from paste.script.runners_common import (
    format_address, listen_error, require, runner_options, stop_signals)
from paste.script.util.options import OptionError, asfloat, asint, asport

__all__ = ["run_twisted"]

OPTIONS = {
    "host": str,
    "port": asport,
    "threads": asint,
    "request_queue_size": asint,
    "shutdown_timeout": asfloat,
}


class _InFlight:
    """Counts the requests the application is working on, for a graceful stop."""

    def __init__(self, app: Callable):
        self.app = app
        self.count = 0
        self.lock = threading.Lock()

    def __call__(self, environ: dict, start_response: Callable):
        with self.lock:
            self.count += 1
        try:
            result = self.app(environ, start_response)
        except BaseException:
            self._done()
            raise
        return _Tracked(result, self._done)

    def _done(self) -> None:
        with self.lock:
            self.count -= 1


class _Tracked:
    def __init__(self, result, done: Callable):
        self.result = result
        self.done = done

    def __iter__(self):
        return iter(self.result)

    def close(self) -> None:
        try:
            close = getattr(self.result, "close", None)
            if close is not None:
                close()
        finally:
            self.done()


def run_twisted(wsgi_app: Callable, global_conf: dict, **local_conf: Any) -> None:
    """Serve ``wsgi_app`` on Twisted's reactor until SIGTERM or SIGINT."""
    options = runner_options(local_conf, OPTIONS, "twisted")
    require("twisted.web.wsgi", "twisted", "Twisted", "twisted")
    from twisted.internet import error, reactor
    from twisted.web.server import Site
    from twisted.web.wsgi import WSGIResource

    host = options.get("host") or "127.0.0.1"
    port = options.get("port", 8080)
    threads = options.get("threads", 10)
    if threads < 1:
        raise OptionError("threads", threads, "expected at least 1 thread",
                          "the [server] section (twisted)")
    shutdown_timeout = options.get("shutdown_timeout", 30.0)
    reactor.suggestThreadPoolSize(threads)

    app = _InFlight(wsgi_app)
    site = Site(WSGIResource(reactor, reactor.getThreadPool(), app))
    site.displayTracebacks = False
    try:
        listening = reactor.listenTCP(port, site, backlog=options.get("request_queue_size", 1024),
                                      interface=host)
    except error.CannotListenError as exc:
        raise listen_error(exc.socketError, format_address(host, port)) from None
    bound = listening.getHost().port
    print(f"serving on http://{format_address(host, bound)}", flush=True)

    state = {"stopping": False}

    def finish(deadline: float) -> None:
        if app.count == 0 or time.monotonic() >= deadline:
            # Let the last responses leave the reactor before it stops.
            reactor.callLater(0.05, reactor.stop)
        else:
            reactor.callLater(0.05, finish, deadline)

    def stop(signum: int) -> None:
        if state["stopping"]:
            return
        state["stopping"] = True

        def begin() -> None:
            listening.stopListening()
            finish(time.monotonic() + shutdown_timeout)
        reactor.callFromThread(begin)

    with stop_signals(stop):
        reactor.run(installSignalHandlers=False)
