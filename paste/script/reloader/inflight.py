# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""Counting the requests a worker has in flight, so that stopping can wait for them."""
from __future__ import annotations

import threading
import time

__all__ = ["InFlight"]


class InFlight:
    """WSGI middleware counting requests in flight, so a stop can wait for them."""

    def __init__(self, app):
        self.app = app
        self.active = 0
        self.last_activity = time.monotonic()
        self._lock = threading.Lock()

    def __call__(self, environ, start_response):
        with self._lock:
            self.active += 1
            self.last_activity = time.monotonic()
        try:
            result = self.app(environ, start_response)
        except BaseException:
            self._finished()
            raise
        file_wrapper = environ.get("wsgi.file_wrapper")
        if isinstance(file_wrapper, type) and isinstance(result, file_wrapper):
            # Keep the server's fast path for files (it recognises its own
            # wrapper); the request counts as done once the body is handed over.
            self._finished()
            return result
        cls = _SizedResponse if hasattr(result, "__len__") else _Response
        return cls(result, self._finished)

    def _finished(self) -> None:
        with self._lock:
            self.active -= 1
            self.last_activity = time.monotonic()

    def idle_for(self) -> float:
        """Seconds since the last request ended; 0 while one is running."""
        with self._lock:
            if self.active:
                return 0.0
            return time.monotonic() - self.last_activity


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
