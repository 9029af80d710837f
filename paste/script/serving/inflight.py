# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""The requests a worker is answering: counted, timed, logged, and waited for.

:class:`InFlight` wraps the application in every worker, whatever the
runner. It keeps only what is alive: the requests running now (so a stop
can wait for them, and ``--worker-timeout`` can say which ones hang) and two
counters. When a request ends it may write the access log line
(:mod:`.accesslog`), tell a stopping worker which client went idle
(:mod:`.connections`), and count toward ``--max-requests``.
"""
from __future__ import annotations

import threading
import time

__all__ = ["InFlight", "Request", "peer_key"]


def peer_key(host, port) -> tuple[str, str]:
    """One spelling for a client address, from ``accept()`` or from the environ."""
    host = str(host)
    if host.startswith("::ffff:"):
        host = host[7:]
    return host.strip("[]"), str(port)


class Request:
    """One request in flight: its environ, when it began, and what it answered."""

    __slots__ = ("environ", "started", "status", "headers", "length", "tracker",
                 "_start_response", "_write")

    def __init__(self, tracker: "InFlight", environ: dict):
        self.tracker = tracker
        self.environ = environ
        self.started = time.monotonic()
        self.status = ""
        self.headers: list = []
        self.length = 0

    @property
    def peer(self) -> tuple[str, str] | None:
        port = self.environ.get("REMOTE_PORT")
        return peer_key(self.environ.get("REMOTE_ADDR", ""), port) if port else None

    def recording(self, start_response):
        """``start_response`` for the application: the server's, noting the
        status, the headers and the bytes given to ``write()``."""
        self._start_response = start_response
        return self._recording_start_response

    def _recording_start_response(self, status, headers, exc_info=None):
        self.status, self.headers = status, headers
        self._write = self._start_response(status, headers, exc_info)
        return self._counting_write

    def _counting_write(self, data):
        self.length += len(data)
        return self._write(data)

    def end(self) -> None:
        """Report the end of this request, once."""
        # What an access log keeps until its batch is written must not hold
        # the server's objects for this request.
        self._start_response = self._write = None
        tracker, self.tracker = self.tracker, None
        if tracker is not None:
            tracker.finished(self)


class InFlight:
    """WSGI middleware counting requests in flight, so a stop can wait for them.

    ``access_log`` (an :class:`~.accesslog.AccessLog`) gets every finished
    request; ``on_finished(peer)`` and ``on_started(peer)`` may be set at any
    time (a stopping worker does); ``on_count(done)`` is called with the
    number of requests finished so far, after each one.
    """

    def __init__(self, app, access_log=None, on_count=None):
        self.app = app
        self.access_log = access_log
        self.on_count = on_count
        self.on_started = None
        self.on_finished = None
        #: Stopping: answer each new request so that the server closes its
        #: connection after it (see :func:`_closing_response`).
        self.closing = False
        self.active = 0
        self.done = 0
        self.last_activity = time.monotonic()
        self._running: dict[int, Request] = {}
        self._lock = threading.Lock()

    def __call__(self, environ, start_response):
        request = Request(self, environ)
        with self._lock:
            self.active += 1
            self._running[id(request)] = request
        if self.on_started is not None:
            self.on_started(request.peer)
        if self.access_log is not None:
            start_response = request.recording(start_response)
        closing = self.closing
        if closing:
            start_response = _closing_response(start_response)
        try:
            result = self.app(environ, start_response)
        except BaseException:
            request.end()
            raise
        if closing:
            return (_CountedResponse if self.access_log is not None else _Response)(result, request)
        file_wrapper = environ.get("wsgi.file_wrapper")
        if isinstance(file_wrapper, type) and isinstance(result, file_wrapper):
            # Keep the server's fast path for files (it recognises its own
            # wrapper); the request counts as done once the body is handed over.
            request.length = _declared_length(request.headers)
            request.end()
            return result
        if self.access_log is not None:
            if isinstance(result, (list, tuple)):
                request.length += sum(map(len, result))
            elif not hasattr(result, "__len__"):
                return _CountedResponse(result, request)
        cls = _SizedResponse if hasattr(result, "__len__") else _Response
        return cls(result, request)

    def finished(self, request: Request) -> None:
        with self._lock:
            self.active -= 1
            self.done += 1
            done = self.done
            now = self.last_activity = time.monotonic()
            self._running.pop(id(request), None)
        if self.access_log is not None:
            self.access_log.write(request, now)
        hook = self.on_finished
        if hook is not None:
            hook(request.peer)
        if self.on_count is not None:
            self.on_count(done)

    def idle_for(self) -> float:
        """Seconds since the last request ended; 0 while one is running."""
        with self._lock:
            if self.active:
                return 0.0
            return time.monotonic() - self.last_activity

    def running(self) -> list[Request]:
        with self._lock:
            return list(self._running.values())

    def peer_busy(self, peer) -> bool:
        """Whether a request of ``peer`` (or of a client whose address is unknown) runs."""
        return any(request.peer in (peer, None) for request in self.running())

    def oldest(self, limit: int = 10) -> list[list]:
        """The longest-running requests: ``[method, path, seconds]``, oldest first."""
        now = time.monotonic()
        requests = sorted(self.running(), key=lambda r: r.started)[:limit]
        return [[r.environ.get("REQUEST_METHOD", "?"),
                 (r.environ.get("SCRIPT_NAME", "") + r.environ.get("PATH_INFO", ""))[:200],
                 round(now - r.started, 1)] for r in requests]


def _closing_response(start_response):
    """A response the server must close its connection after: one of unknown length.

    An HTTP/1.1 server can only end a body of unknown length by chunking it,
    and waitress (as HTTP/1.0 always must) closes the connection after such
    a response and says ``Connection: close`` in it; so a keep-alive client
    learns, with the answer itself, that the connection is done, and opens
    its next one to the new workers. (A WSGI application may not send
    ``Connection`` itself: it is a hop-by-hop header.) tests/test_longrun.py
    fails if waitress stops doing so.
    """
    def without_length(status, headers, exc_info=None):
        headers = [(name, value) for name, value in headers if name.lower() != "content-length"]
        return start_response(status, headers, exc_info)
    return without_length


def _declared_length(headers) -> int:
    for name, value in headers:
        if name.lower() == "content-length":
            try:
                return int(value)
            except ValueError:
                return 0
    return 0


class _Response:
    """The application's iterable, reporting when the server has closed it."""

    __slots__ = ("_result", "_request")

    def __init__(self, result, request: Request):
        self._result = result
        self._request = request

    def __iter__(self):
        return iter(self._result)

    def close(self):
        request, self._request = self._request, None
        if request is None:
            return          # closed already
        try:
            close = getattr(self._result, "close", None)
            if close is not None:
                close()
        finally:
            request.end()


class _SizedResponse(_Response):
    __slots__ = ()

    # Servers use len() == 1 to set Content-Length themselves; keep that.
    def __len__(self):
        return len(self._result)


class _CountedResponse(_Response):
    """Also counts the bytes of the body, for the access log."""

    __slots__ = ()

    def __iter__(self):
        request = self._request
        for chunk in self._result:
            if request is not None:
                request.length += len(chunk)
            yield chunk
