# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""Counting the requests a worker has in flight, so that stopping can wait for them.

Requests are also counted per client address (``REMOTE_ADDR`` and
``REMOTE_PORT``, which every runner here sets), so that a stopping worker
knows which of its keep-alive connections are idle (:mod:`.connections`).
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


class InFlight:
    """WSGI middleware counting requests in flight, so a stop can wait for them.

    ``on_finished``, if given, is called after each request with the
    client's address (:func:`peer_key`, None if unknown), in the thread that
    served it.
    """

    def __init__(self, app, on_finished=None):
        self.app = app
        self.on_finished = on_finished
        self.active = 0
        self.last_activity = time.monotonic()
        self.unknown = 0                   # requests whose client address is not known
        self._peers: dict = {}            # peer -> requests in flight
        self._ended: dict = {}            # peer -> when its last request ended
        self._lock = threading.Lock()

    def __call__(self, environ, start_response):
        port = environ.get("REMOTE_PORT")
        peer = peer_key(environ.get("REMOTE_ADDR", ""), port) if port else None
        with self._lock:
            self.active += 1
            self.last_activity = time.monotonic()
            if peer is None:
                self.unknown += 1
            else:
                self._peers[peer] = self._peers.get(peer, 0) + 1
        done = _Done(self, peer)
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

    def _finished(self, peer) -> None:
        now = time.monotonic()
        with self._lock:
            self.active -= 1
            self.last_activity = now
            if peer is None:
                self.unknown -= 1
            else:
                left = self._peers.get(peer, 1) - 1
                if left:
                    self._peers[peer] = left
                else:
                    self._peers.pop(peer, None)
                self._ended[peer] = now
                if len(self._ended) > 4096:      # only recent endings matter
                    self._ended = {p: t for p, t in self._ended.items() if now - t < 10}
        if self.on_finished is not None:
            self.on_finished(peer)

    def idle_for(self) -> float:
        """Seconds since the last request ended; 0 while one is running."""
        with self._lock:
            if self.active:
                return 0.0
            return time.monotonic() - self.last_activity

    def peer_busy(self, peer) -> bool:
        """Whether a request of ``peer`` (or of an unknown client) is running."""
        with self._lock:
            return bool(self.unknown) or peer in self._peers

    def peer_idle_for(self, peer) -> float:
        """Seconds since a request from ``peer`` last ended (a long time if never); 0 while busy.

        Also 0 while a request whose client is unknown is running: it might
        be this one's.
        """
        with self._lock:
            if self.unknown or peer in self._peers:
                return 0.0
            ended = self._ended.get(peer)
        return float("inf") if ended is None else time.monotonic() - ended


class _Done:
    """Reports the end of one request, once."""

    __slots__ = ("inflight", "peer")

    def __init__(self, inflight: InFlight, peer):
        self.inflight = inflight
        self.peer = peer

    def __call__(self) -> None:
        inflight, self.inflight = self.inflight, None
        if inflight is not None:
            inflight._finished(self.peer)


class _Response:
    """The application's iterable, reporting when the server has closed it."""

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
    # Servers use len() == 1 to set Content-Length themselves; keep that.
    def __len__(self):
        return len(self._result)
