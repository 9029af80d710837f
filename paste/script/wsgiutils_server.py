# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""``egg:PasteScript#wsgiutils``: a threaded HTTP/1.1 server on the standard library.

The original runner wrapped the long-gone WSGIUtils package. This one keeps
its name and options and is built on ``socket``/``selectors`` only:

* one thread (the caller's) accepts connections and watches idle keep-alive
  connections with the platform's selector (epoll on Linux);
* a fixed pool of ``threads`` workers serves requests, so the number of
  requests running at once is bounded while idle connections cost nothing;
* after a response, a worker waits a moment for the next request on the
  same connection (keep-alive clients usually send it at once) and hands
  the connection back to the selector when the wait is longer or when
  other connections are waiting for a worker.

HTTP/1.1 keep-alive and pipelining, ``Content-Length`` and chunked request
bodies (chunked bodies are decoded before the application runs, so it sees
a plain body with ``CONTENT_LENGTH``), ``Expect: 100-continue``, chunked
responses when the application gives no length, HEAD. SIGTERM and SIGINT
stop accepting, let requests in flight finish, then return.
"""
from __future__ import annotations

import collections
import io
import logging
import os
import queue
import select
import selectors
import socket
import struct
import sys
import threading
import time
from typing import Any, Callable
from urllib.parse import unquote

from paste.script.runners_common import (
    bind_socket, format_address, runner_options, stop_signals)
from paste.script.util.options import OptionError, asfloat, asint, asport

__all__ = ["run_server", "WSGIServer", "make_server", "ClientDisconnected", "FileWrapper"]

log = logging.getLogger(__name__)

OPTIONS = {
    "host": str,
    "port": asport,
    "threads": asint,
    "request_queue_size": asint,
    "timeout": asfloat,
    "shutdown_timeout": asfloat,
}

DEFAULTS = {
    "host": "localhost",
    "port": 8080,
    "threads": 10,
    "request_queue_size": 1024,
    "timeout": 30.0,
    "shutdown_timeout": 30.0,
}

MAX_HEAD = 64 * 1024          # request line + headers
MAX_LINE = 8 * 1024           # one line of a chunked body's framing
DRAIN_LIMIT = 1024 * 1024     # unread body we still read and discard to keep the connection
RECV_SIZE = 64 * 1024
MAX_RECV = 1024 * 1024        # largest single recv() while reading a big body
LINGER = 0.5                  # seconds a worker waits on a keep-alive connection
LINGER_SLICE_MS = 10          # ... checking this often whether others wait for a worker

_WAKE = object()
_NO_BODY_STATUS = frozenset((204, 304))
_REASONS = {400: "Bad Request", 408: "Request Timeout", 413: "Payload Too Large",
            431: "Request Header Fields Too Large", 500: "Internal Server Error",
            501: "Not Implemented", 505: "HTTP Version Not Supported"}
_HEX = frozenset(b"0123456789abcdefABCDEF")


class ClientDisconnected(ConnectionError):
    """The client went away before sending the whole request body."""


class _HTTPError(Exception):
    def __init__(self, code: int, detail: str):
        self.code = code
        self.detail = detail
        super().__init__(f"{code} {detail}")


def run_server(wsgi_app: Callable, global_conf: dict, **local_conf: Any) -> None:
    """Serve ``wsgi_app`` over HTTP until SIGTERM or SIGINT.

    Options (strings from the ``[server:…]`` section): ``host`` (default
    ``localhost``), ``port`` (8080), ``threads`` (10 workers),
    ``request_queue_size`` (listen backlog, 1024), ``timeout`` (seconds a
    client may stay silent mid-request or idle between requests, 30),
    ``shutdown_timeout`` (seconds to wait for requests in flight on stop, 30).
    """
    options = dict(DEFAULTS)
    options.update(runner_options(local_conf, OPTIONS, "wsgiutils"))
    server = make_server(wsgi_app, **options)
    print(f"serving on http://{format_address(server.display_host, server.port)}", flush=True)
    with stop_signals(lambda signum: server.shutdown()):
        server.serve_forever()


def make_server(wsgi_app: Callable, host: str = "localhost", port: int = 8080,
                threads: int = 10, request_queue_size: int = 1024,
                timeout: float = 30.0, shutdown_timeout: float = 30.0) -> "WSGIServer":
    """A bound (listening) :class:`WSGIServer`; call ``serve_forever()`` on it."""
    return WSGIServer(wsgi_app, host=host, port=port, threads=threads,
                      request_queue_size=request_queue_size, timeout=timeout,
                      shutdown_timeout=shutdown_timeout)


class _Connection:
    """A client socket and the bytes read from it but not consumed yet."""

    __slots__ = ("sock", "addr", "buffer", "since", "poller")

    def __init__(self, sock: socket.socket, addr: Any):
        self.sock = sock
        self.addr = addr
        self.buffer = bytearray()
        self.since = 0.0
        self.poller = None

    def fill(self, size: int) -> bytearray:
        """Read until at least ``size`` bytes are buffered."""
        buf = self.buffer
        recv = self.sock.recv
        while len(buf) < size:
            try:
                data = recv(min(max(RECV_SIZE, size - len(buf)), MAX_RECV))
            except OSError as exc:  # reset, or SO_RCVTIMEO expired
                raise ClientDisconnected(f"could not read the request: {exc}") from None
            if not data:
                raise ClientDisconnected("client closed the connection mid-request")
            buf += data
        return buf

    def read_line(self) -> bytes:
        """One CRLF-terminated line (without the CRLF), for chunked framing."""
        buf = self.buffer
        start = 0
        while True:
            end = buf.find(b"\r\n", start)
            if end >= 0:
                line = bytes(buf[:end])
                del buf[:end + 2]
                return line
            if len(buf) > MAX_LINE:
                raise _HTTPError(400, "chunk framing line too long")
            start = max(0, len(buf) - 1)
            self.fill(len(buf) + 1)

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


class _Input:
    """``wsgi.input`` for a body with a ``Content-Length``: reads lazily from the socket."""

    __slots__ = ("_conn", "remaining", "_on_first_read")

    def __init__(self, conn: _Connection, length: int, on_first_read: Callable | None):
        self._conn = conn
        self.remaining = length
        self._on_first_read = on_first_read

    def _size(self, size: int | None) -> int:
        if self._on_first_read is not None:
            self._on_first_read()
            self._on_first_read = None
        if size is None or size < 0 or size > self.remaining:
            return self.remaining
        return size

    def read(self, size: int | None = -1) -> bytes:
        if self.remaining <= 0:
            return b""
        size = self._size(size)
        buf = self._conn.buffer
        if len(buf) < size:
            buf = self._conn.fill(size)
        data = bytes(buf[:size])
        del buf[:size]
        self.remaining -= size
        return data

    def readline(self, size: int | None = -1) -> bytes:
        if self.remaining <= 0:
            return b""
        limit = self._size(size)
        conn = self._conn
        buf = conn.buffer
        start = 0
        while True:
            end = buf.find(b"\n", start, limit)
            if end >= 0:
                size = end + 1
                break
            if len(buf) >= limit:
                size = limit
                break
            start = len(buf)
            buf = conn.fill(len(buf) + 1)
        data = bytes(buf[:size])
        del buf[:size]
        self.remaining -= size
        return data

    def readlines(self, hint: int = -1) -> list:
        lines, total = [], 0
        while True:
            line = self.readline()
            if not line:
                return lines
            lines.append(line)
            total += len(line)
            if 0 < hint <= total:
                return lines

    def __iter__(self):
        return self

    def __next__(self) -> bytes:
        line = self.readline()
        if not line:
            raise StopIteration
        return line


class _Exchange:
    """One request/response on a connection: ``start_response``, ``write`` and framing."""

    __slots__ = ("server", "conn", "environ", "head_only", "http10", "keep_alive",
                 "status", "headers", "headers_sent", "chunked", "length", "sent",
                 "no_body", "continue_pending")

    def __init__(self, server: "WSGIServer", conn: _Connection, environ: dict,
                 http10: bool, keep_alive: bool):
        self.server = server
        self.conn = conn
        self.environ = environ
        self.head_only = environ["REQUEST_METHOD"] == "HEAD"
        self.http10 = http10
        self.keep_alive = keep_alive
        self.status = None
        self.headers = None
        self.headers_sent = False
        self.chunked = False
        self.length = None
        self.sent = 0
        self.no_body = False
        self.continue_pending = False

    def _send(self, data: bytes) -> None:
        try:
            self.conn.sock.sendall(data)
        except OSError as exc:  # reset, broken pipe, or SO_SNDTIMEO expired
            raise ClientDisconnected(f"could not send the response: {exc}") from None

    def send_continue(self) -> None:
        if self.continue_pending and not self.headers_sent:
            self._send(b"HTTP/1.1 100 Continue\r\n\r\n")
        self.continue_pending = False

    def start_response(self, status: str, headers: list, exc_info=None) -> Callable:
        if exc_info:
            try:
                if self.headers_sent:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None
        elif self.status is not None:
            raise AssertionError("start_response was called twice without exc_info")
        if type(status) is not str or len(status) < 4 or not status[:3].isdigit():
            raise AssertionError(f"invalid status {status!r}")
        self.status = status
        self.headers = headers
        return self.write

    def _head(self, known_length: int | None) -> bytes:
        """The status line and headers, deciding how the body is framed."""
        status = self.status
        if status is None:
            raise AssertionError("the application returned data before calling start_response")
        code = int(status[:3])
        lines = ["HTTP/1.1 ", status, "\r\n"]
        length = None
        for name, value in self.headers:
            if "\n" in value or "\r" in value or "\n" in name or "\r" in name:
                raise ValueError(f"line break in the response header {name!r}")
            lower = name.lower()
            if lower == "content-length":
                length = int(value)
                continue
            elif lower == "connection":
                if value.lower() == "close":
                    self.keep_alive = False
                continue
            elif lower in ("transfer-encoding", "keep-alive"):
                continue  # hop-by-hop: the server frames the response itself
            lines += (name, ": ", value, "\r\n")
        if code < 200 or code in _NO_BODY_STATUS:
            self.no_body = True
        elif length is not None:
            lines += ("Content-Length: ", str(length), "\r\n")
        elif known_length is not None:
            length = known_length
            lines += ("Content-Length: ", str(length), "\r\n")
        elif self.head_only:
            pass
        elif not self.http10:
            self.chunked = True
            lines.append("Transfer-Encoding: chunked\r\n")
        else:
            self.keep_alive = False  # an HTTP/1.0 body without length ends at close
        if self.head_only:
            self.no_body = True
        self.length = length
        if self.server.stopping:
            self.keep_alive = False
        if not self.keep_alive:
            lines.append("Connection: close\r\n")
        elif self.http10:
            lines.append("Connection: keep-alive\r\n")
        lines += (self.server.date_header(), "Server: PasteScript-wsgiutils\r\n\r\n")
        self.headers_sent = True
        return "".join(lines).encode("latin-1")

    def _send_file(self, wrapper: FileWrapper) -> bool:
        """Send a wrapped file with ``sendfile()``; False to fall back to iterating."""
        filelike = wrapper.filelike
        try:
            fd = filelike.fileno()
            offset = filelike.tell()
            size = os.fstat(fd).st_size
        except (AttributeError, OSError, ValueError):
            return False
        if self.status is None or size < offset:
            return False
        remaining = size - offset
        prefix = self._head(remaining)
        self._send(prefix)
        if self.no_body:
            return True
        count = remaining if self.length is None else min(self.length, remaining)
        try:
            sent = self.conn.sock.sendfile(filelike, offset, count) if count else 0
        except OSError as exc:
            raise ClientDisconnected(f"could not send the file: {exc}") from None
        self.sent = sent
        if self.length is not None and sent != self.length:
            self.keep_alive = False
        return True

    def write(self, data: bytes) -> None:
        """The WSGI ``write()`` callable; also used for each item of the result."""
        if type(data) is not bytes:
            if not isinstance(data, (bytes, bytearray, memoryview)):
                raise TypeError(f"the application must write bytes, not {type(data).__name__}")
            data = bytes(data)
        prefix = b"" if self.headers_sent else self._head(None)
        if self.no_body or not data:
            if prefix:
                self._send(prefix)
            return
        if self.length is not None:
            room = self.length - self.sent
            if len(data) > room:
                # More than Content-Length promised: the rest would be read
                # by the client as the next response.
                data = data[:room]
                self.keep_alive = False
        self.sent += len(data)
        if self.chunked:
            self._send(b"".join((prefix, b"%x\r\n" % len(data), data, b"\r\n")))
        else:
            self._send(prefix + data if prefix else data)

    def finish(self, result) -> None:
        """Send what the application returned and end the response."""
        if type(result) is FileWrapper and not self.headers_sent and self._send_file(result):
            return
        if type(result) is list and not self.headers_sent and self.status is not None:
            # The common case: the whole body is known, send it in one go.
            body = result[0] if len(result) == 1 else b"".join(result)
            if type(body) is not bytes:
                body = _as_bytes(body)
            prefix = self._head(len(body))
            if self.no_body:
                self._send(prefix)
                return
            if self.length is not None and self.length != len(body):
                if len(body) > self.length:
                    body = body[:self.length]
                self.keep_alive = False
            self.sent = len(body)
            self._send(prefix + body)
            return
        for data in result:
            if data:
                self.write(data)
        if not self.headers_sent:
            self._send(self._head(0))
        elif self.chunked:
            self._send(b"0\r\n\r\n")
        if self.length is not None and self.sent < self.length and not self.no_body:
            self.keep_alive = False  # the client still waits for bytes that never come


class FileWrapper:
    """``wsgi.file_wrapper``: a file the server may send with ``sendfile()``.

    Iterating gives blocks, for when the response must be chunked or the
    file is not a real file.
    """

    def __init__(self, filelike, block_size: int = 64 * 1024):
        self.filelike = filelike
        self.block_size = block_size
        close = getattr(filelike, "close", None)
        if close is not None:
            self.close = close

    def __iter__(self):
        read = self.filelike.read
        while True:
            block = read(self.block_size)
            if not block:
                return
            yield block


def _as_bytes(data) -> bytes:
    if isinstance(data, (bytearray, memoryview)):
        return bytes(data)
    raise TypeError(f"the application must return bytes, not {type(data).__name__}")


class WSGIServer:
    """The server: an accepting/selecting loop plus a fixed pool of worker threads."""

    def __init__(self, app: Callable, host: str = "localhost", port: int = 8080,
                 threads: int = 10, request_queue_size: int = 1024,
                 timeout: float = 30.0, shutdown_timeout: float = 30.0):
        if threads < 1:
            raise OptionError("threads", threads, "expected at least 1 worker thread")
        self.app = app
        self.threads = threads
        self.timeout = timeout
        self.shutdown_timeout = shutdown_timeout
        self.socket = bind_socket(host, port, request_queue_size)
        self.server_address = self.socket.getsockname()[:2]
        self.port = self.server_address[1]
        self.display_host = host or self.server_address[0]
        self.stopping = False
        self._stopped = threading.Event()
        self._queue = queue.SimpleQueue()
        self._parked = collections.deque()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._timeval = struct.pack("ll", int(timeout), int((timeout % 1) * 1e6))
        self._date_second = -1
        self._date_line = ""
        if hasattr(socket, "TCP_DEFER_ACCEPT"):
            # Wake up for a new connection only once it has sent something.
            try:
                self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT, 1)
            except OSError:
                pass
        self._tcp = self.socket.family in (socket.AF_INET, socket.AF_INET6)
        self._base_environ = {
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "wsgi.input_terminated": True,
            "wsgi.file_wrapper": FileWrapper,
            "SERVER_NAME": self.display_host,
            "SERVER_PORT": str(self.port),
            "SERVER_SOFTWARE": "PasteScript-wsgiutils",
            "SCRIPT_NAME": "",
        }

    # -- control ---------------------------------------------------------

    def shutdown(self) -> None:
        """Stop accepting; requests in flight finish; ``serve_forever`` then returns.

        Safe to call from a signal handler or from another thread.
        """
        self.stopping = True
        self._wake()

    def wait_stopped(self, timeout: float | None = None) -> bool:
        return self._stopped.wait(timeout)

    def date_header(self) -> str:
        now = int(time.time())
        if now != self._date_second:
            self._date_line = "Date: " + time.strftime(
                "%a, %d %b %Y %H:%M:%S GMT", time.gmtime(now)) + "\r\n"
            self._date_second = now
        return self._date_line

    def _wake(self) -> None:
        try:
            os.write(self._wake_w, b"x")
        except (BlockingIOError, OSError):
            pass

    # -- the accepting/selecting thread ---------------------------------

    def serve_forever(self) -> None:
        workers = [threading.Thread(target=self._work, name=f"wsgiutils-worker-{n}", daemon=True)
                   for n in range(self.threads)]
        for worker in workers:
            worker.start()
        selector = selectors.DefaultSelector()
        listener = self.socket
        listener.setblocking(False)
        selector.register(listener, selectors.EVENT_READ, None)
        selector.register(self._wake_r, selectors.EVENT_READ, _WAKE)
        idle: dict = {}
        put = self._queue.put
        next_sweep = time.monotonic() + 1.0
        try:
            while not self.stopping:
                for key, _ in selector.select(1.0):
                    data = key.data
                    if data is None:
                        self._accept(put)
                    elif data is _WAKE:
                        self._register_parked(selector, idle)
                    else:
                        selector.unregister(key.fileobj)
                        del idle[data]
                        put(data)
                now = time.monotonic()
                if now >= next_sweep:
                    next_sweep = now + 1.0
                    limit = now - self.timeout
                    for conn in [c for c, since in idle.items() if since < limit]:
                        selector.unregister(conn.sock)
                        del idle[conn]
                        conn.close()
        finally:
            listener.close()
            self._register_parked(selector, idle)
            for conn in idle:
                conn.close()
            selector.close()
            self.stopping = True
            for _ in workers:
                put(None)
            deadline = time.monotonic() + self.shutdown_timeout
            for worker in workers:
                worker.join(max(0.0, deadline - time.monotonic()))
            wake_r, wake_w = self._wake_r, self._wake_w
            self._wake_r = self._wake_w = -1  # a late shutdown() must not write to a reused fd
            os.close(wake_r)
            os.close(wake_w)
            self._stopped.set()

    def _accept(self, put: Callable) -> None:
        for _ in range(64):
            try:
                sock, addr = self.socket.accept()
            except BlockingIOError:
                return
            except OSError as exc:
                # Out of file descriptors and the like: keep serving the others.
                log.warning("wsgiutils: accept failed: %s", exc)
                return
            sock.setblocking(True)
            # Kernel-level timeouts keep each recv()/send() a single system call.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, self._timeval)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, self._timeval)
            if self._tcp:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            put(_Connection(sock, addr))

    def _register_parked(self, selector, idle: dict) -> None:
        try:
            while os.read(self._wake_r, 4096):
                pass
        except (BlockingIOError, OSError):
            pass
        parked = self._parked
        now = time.monotonic()
        while parked:
            conn = parked.popleft()
            if self.stopping:
                conn.close()
                continue
            try:
                selector.register(conn.sock, selectors.EVENT_READ, conn)
            except (ValueError, OSError):
                conn.close()
                continue
            idle[conn] = now

    def _park(self, conn: _Connection) -> None:
        """Give an idle keep-alive connection back to the selecting thread."""
        if self.stopping:
            conn.close()  # the selecting thread may already have closed the others
            return
        self._parked.append(conn)
        self._wake()

    # -- worker threads ---------------------------------------------------

    def _work(self) -> None:
        get = self._queue.get
        while True:
            conn = get()
            if conn is None:
                return
            try:
                self._serve_connection(conn)
            except (OSError, ClientDisconnected):
                conn.close()
            except Exception:
                log.exception("wsgiutils: unexpected error on a connection")
                conn.close()

    def _serve_connection(self, conn: _Connection) -> None:
        if not conn.buffer:
            try:
                data = conn.sock.recv(RECV_SIZE, socket.MSG_DONTWAIT)
            except BlockingIOError:
                self._park(conn)
                return
            if not data:
                conn.close()
                return
            conn.buffer += data
        while True:
            if not self._handle_request(conn) or self.stopping:
                conn.close()
                return
            if not conn.buffer and not self._linger(conn):
                return

    def _linger(self, conn: _Connection) -> bool:
        """Wait briefly for the next request; False if the connection was parked or closed."""
        poller = conn.poller
        if poller is None:
            poller = conn.poller = select.poll()
            poller.register(conn.sock, select.POLLIN)
        empty = self._queue.empty
        deadline = time.monotonic() + LINGER
        while True:
            if not empty():
                self._park(conn)
                return False
            if poller.poll(LINGER_SLICE_MS):
                data = conn.sock.recv(RECV_SIZE)
                if not data:
                    conn.close()
                    return False
                conn.buffer += data
                return True
            if self.stopping:
                conn.close()
                return False
            if time.monotonic() >= deadline:
                self._park(conn)
                return False

    def _read_head(self, conn: _Connection) -> bytes | None:
        buf = conn.buffer
        while buf[:2] == b"\r\n":
            del buf[:2]  # tolerate blank lines between requests
        start = 0
        deadline = None
        while True:
            end = buf.find(b"\r\n\r\n", start)
            if end > MAX_HEAD:
                raise _HTTPError(431, "the request head is too large")
            if end >= 0:
                head = bytes(buf[:end])
                del buf[:end + 4]
                return head
            if len(buf) > MAX_HEAD:
                raise _HTTPError(431, "the request head is too large")
            start = max(0, len(buf) - 3)
            # A client trickling a byte at a time must not hold a worker for
            # longer than ``timeout`` in all.
            now = time.monotonic()
            if deadline is None:
                deadline = now + self.timeout
            elif now > deadline:
                raise _HTTPError(408, "the request head took too long to arrive")
            data = conn.sock.recv(RECV_SIZE)
            if not data:
                if buf:
                    raise ClientDisconnected("client closed the connection mid-request")
                return None
            buf += data
            while buf[:2] == b"\r\n":
                del buf[:2]

    def _handle_request(self, conn: _Connection) -> bool:
        """Read one request, run the application, answer; True to keep the connection."""
        try:
            head = self._read_head(conn)
            if head is None:
                return False
            environ, http10, keep_alive, body = self._parse(conn, head)
        except _HTTPError as err:
            self._send_error(conn, err.code, err.detail)
            return False
        except BlockingIOError:  # SO_RCVTIMEO expired: the client went silent
            return False

        exchange = _Exchange(self, conn, environ, http10, keep_alive)
        reader = None
        if body is not None:
            kind, value = body
            if kind == "length":
                expect = environ.get("HTTP_EXPECT", "").lower() == "100-continue" and not http10
                if expect:
                    exchange.continue_pending = True
                reader = _Input(conn, value, exchange.send_continue if expect else None)
                environ["wsgi.input"] = reader
            else:
                if environ.get("HTTP_EXPECT", "").lower() == "100-continue" and not http10:
                    conn.sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
                try:
                    stream, length = self._read_chunked(conn)
                except _HTTPError as err:
                    self._send_error(conn, err.code, err.detail)
                    return False
                environ["wsgi.input"] = stream
                environ["CONTENT_LENGTH"] = str(length)
        else:
            environ["wsgi.input"] = io.BytesIO()

        result = None
        try:
            result = self.app(environ, exchange.start_response)
            exchange.finish(result)
        except ClientDisconnected:
            return False
        except Exception:
            log.exception("wsgiutils: error in the application for %s %s",
                          environ.get("REQUEST_METHOD"), environ.get("REQUEST_URI"))
            if exchange.headers_sent:
                return False  # the response is broken: only closing says so
            self._send_error(conn, 500, "The server could not complete the request.")
            return False
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                try:
                    close()
                except Exception:
                    log.exception("wsgiutils: error closing the application's result")

        if not exchange.keep_alive:
            return False
        if reader is not None and reader.remaining > 0:
            if exchange.continue_pending or reader.remaining > DRAIN_LIMIT:
                return False  # the client may or may not send that body: start afresh
            reader._on_first_read = None
            reader.read()
        return True

    def _parse(self, conn: _Connection, head: bytes):
        text = head.decode("latin-1")
        lines = text.split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3:
            raise _HTTPError(400, "malformed request line")
        method, target, version = parts
        if version == "HTTP/1.1":
            http10 = False
        elif version == "HTTP/1.0":
            http10 = True
        elif version.startswith("HTTP/1."):
            http10 = False
        else:
            raise _HTTPError(505, f"unsupported protocol {version[:20]!r}")
        if not method.isalpha() and not method.replace("-", "").isalnum():
            raise _HTTPError(400, "malformed request method")

        environ = self._base_environ.copy()
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep or not name or name[-1] in " \t":
                if line[:1] in (" ", "\t") and name:
                    raise _HTTPError(400, "folded header lines are not accepted")
                raise _HTTPError(400, "malformed header line")
            if "_" in name:
                continue  # X_Foo would impersonate X-Foo in the environment
            key = name.upper().replace("-", "_")
            value = value.strip(" \t")
            if key == "CONTENT_TYPE" or key == "CONTENT_LENGTH":
                if key in environ and environ[key] != value:
                    raise _HTTPError(400, f"conflicting {name} headers")
                environ[key] = value
                continue
            key = "HTTP_" + key
            if key in environ:
                environ[key] += "," + value
            else:
                environ[key] = value

        if target[:1] == "/":
            path, _, query = target.partition("?")
        elif target == "*":
            path, query = "*", ""
        elif "://" in target:
            rest = target.split("://", 1)[1]
            slash = rest.find("/")
            path, _, query = (rest[slash:] if slash >= 0 else "/").partition("?")
        else:
            raise _HTTPError(400, "malformed request target")
        if "%" in path:
            path = unquote(path, encoding="latin-1")
        environ["REQUEST_METHOD"] = method
        environ["PATH_INFO"] = path
        environ["QUERY_STRING"] = query
        environ["REQUEST_URI"] = target
        environ["SERVER_PROTOCOL"] = version
        addr = conn.addr
        if type(addr) is tuple:
            environ["REMOTE_ADDR"] = addr[0]
            environ["REMOTE_PORT"] = str(addr[1])
        else:
            environ["REMOTE_ADDR"] = ""

        connection = environ.get("HTTP_CONNECTION", "").lower()
        if http10:
            keep_alive = "keep-alive" in connection
        else:
            keep_alive = "close" not in connection

        body = None
        te = environ.pop("HTTP_TRANSFER_ENCODING", None)
        if te is not None:
            if te.strip().lower() != "chunked":
                raise _HTTPError(501, f"unsupported Transfer-Encoding {te[:40]!r}")
            if "CONTENT_LENGTH" in environ:
                raise _HTTPError(400, "both Content-Length and Transfer-Encoding were sent")
            body = ("chunked", None)
        else:
            length = environ.get("CONTENT_LENGTH")
            if length is not None:
                if not length.isdigit() or not length.isascii():
                    raise _HTTPError(400, "malformed Content-Length")
                size = int(length)
                if size:
                    body = ("length", size)
        return environ, http10, keep_alive, body

    def _read_chunked(self, conn: _Connection):
        import tempfile
        out = tempfile.SpooledTemporaryFile(max_size=1024 * 1024)
        total = 0
        while True:
            line = conn.read_line()
            size_text = line.split(b";", 1)[0].strip()
            if not size_text or not _HEX.issuperset(size_text) or len(size_text) > 16:
                raise _HTTPError(400, "malformed chunk size")
            size = int(size_text, 16)
            if size == 0:
                break
            buf = conn.fill(size + 2)
            if buf[size:size + 2] != b"\r\n":
                raise _HTTPError(400, "malformed chunk")
            out.write(buf[:size])
            del buf[:size + 2]
            total += size
        while conn.read_line():
            pass  # trailers are not passed on
        out.seek(0)
        return out, total

    def _send_error(self, conn: _Connection, code: int, detail: str) -> None:
        reason = _REASONS.get(code, "Error")
        body = f"{code} {reason}\n\n{detail}\n".encode("utf-8")
        head = (f"HTTP/1.1 {code} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n"
                f"{self.date_header()}\r\n").encode("latin-1")
        try:
            conn.sock.sendall(head + body)
        except OSError:
            pass
