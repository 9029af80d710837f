# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""Counting the requests a worker has in flight, so that stopping can wait for them.

Each request's client address (``REMOTE_ADDR`` and ``REMOTE_PORT``, which
every runner here sets) is known too, so that a stopping worker can tell
which of its keep-alive connections are idle (:mod:`.connections`). That is
worked out only when asked: a request costs a counter, a dict entry and a
wrapper around its response.
"""
from __future__ import annotations

import threading
import time

__all__ = ["InFlight", "peer_key"]


def peer_key(host, port) -> tuple[str, str]:
    """One spelling for a client address, from ``accept()`` or from the environ."""
    host = str(host)
    if host.startswith("::ffff:"):
        host = host[7:]
    return host.strip("[]"), str(port)


def _peer_of(environ) -> tuple[str, str] | None:
    port = environ.get("REMOTE_PORT")
    return peer_key(environ.get("REMOTE_ADDR", ""), port) if port else None


class InFlight:
    """WSGI middleware counting requests in flight, so a stop can wait for them.

    ``on_finished``, if given, is called after each request with the
    client's address (:func:`peer_key`, None if unknown), in the thread that
    served it; :attr:`on_finished` may be set at any time (a stopping worker
    does).
    """

    def __init__(self, app, on_finished=None):
        self.app = app
        self.on_finished = on_finished
        self.active = 0
        self.last_activity = time.monotonic()
        self._running: dict[int, dict] = {}     # id(done) -> environ
        self._ended: dict = {}                  # peer -> when its last request ended
        self._lock = threading.Lock()

    def __call__(self, environ, start_response):
        done = _Done(self)
        with self._lock:
            self.active += 1
            self._running[id(done)] = environ
        try:
            result = self.app(environ, start_response)
        except BaseException:
            done()
            raise
        file_wrapper = environ.get("wsgi.file_wrapper")
        if isinstance(file_wrapper, type) and isinstance(result, file_wrapper):
            # Keep the server's fast path for files (it recognises its own
            # wrapper); the request counts as done once the body is handed over.
            done()
            return result
        cls = _SizedResponse if hasattr(result, "__len__") else _Response
        return cls(result, done)

    def _finished(self, done: "_Done") -> None:
        now = time.monotonic()
        with self._lock:
            self.active -= 1
            self.last_activity = now
            environ = self._running.pop(id(done), None)
        hook = self.on_finished
        if hook is not None:
            peer = _peer_of(environ) if environ is not None else None
            if peer is not None:
                self._ended[peer] = now
            hook(peer)

    def idle_for(self) -> float:
        """Seconds since the last request ended; 0 while one is running."""
        with self._lock:
            if self.active:
                return 0.0
            return time.monotonic() - self.last_activity

    def peer_busy(self, peer) -> bool:
        """Whether a request of ``peer`` (or of a client whose address is unknown) runs."""
        with self._lock:
            running = list(self._running.values())
        return any(_peer_of(environ) in (peer, None) for environ in running)

    def peer_idle_for(self, peer) -> float:
        """Seconds since a request of ``peer`` last ended (while ``on_finished`` was set)."""
        if self.peer_busy(peer):
            return 0.0
        ended = self._ended.get(peer)
        return float("inf") if ended is None else time.monotonic() - ended


class _Done:
    """Reports the end of one request, once."""

    __slots__ = ("inflight",)

    def __init__(self, inflight: InFlight):
        self.inflight = inflight

    def __call__(self) -> None:
        inflight, self.inflight = self.inflight, None
        if inflight is not None:
            inflight._finished(self)


class _Response:
    """The application's iterable, reporting when the server has closed it."""

    __slots__ = ("_result", "_done")

    def __init__(self, result, done):
        self._result = result
        self._done = done

    def __iter__(self):
        return iter(self._result)

    def close(self):
        done, self._done = self._done, None
        if done is None:
            return          # closed already
        try:
            close = getattr(self._result, "close", None)
            if close is not None:
                close()
        finally:
            done()


class _SizedResponse(_Response):
    __slots__ = ()

    # Servers use len() == 1 to set Content-Length themselves; keep that.
    def __len__(self):
        return len(self._result)
