# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""Calling the application (in a worker thread) and writing its response.

The status line and every header the application gives are checked against
RFC 9110 (a status code and a reason of visible characters; header names
are tokens; values are visible characters, spaces and tabs, within
latin-1) before a byte is sent: an application bug must not become header
injection. A bad one gets a ``500`` and a log line, like any other error
of the application before its response started. After it started, the
connection is closed, so the client sees the response is incomplete.

The server frames the response itself: ``Content-Length`` when the length
is known, else chunked (HTTP/1.1) or close-delimited (HTTP/1.0); no body
for ``HEAD``, 204 and 304. An application's 1xx status is an error (500):
WSGI has no way to send an informational response before the final one. ``Connection``, ``Keep-Alive`` and
``Transfer-Encoding`` from the application are hop-by-hop and not passed
on; ``Connection: close`` from it closes the connection after the response.
"""
from __future__ import annotations

import io
import logging
import os
import re
import stat
from typing import Callable
from urllib.parse import unquote_to_bytes

import httptools

from paste.script.httpserver.output import ClientDisconnected, FileRegion
from paste.script.httpserver.request import Request, RequestError, tokens

__all__ = ["serve_requests", "error_response", "FileWrapper", "Exchange"]

log = logging.getLogger("paste.script.wsgiutils_server")

REASONS = {400: "Bad Request", 408: "Request Timeout", 413: "Content Too Large",
           431: "Request Header Fields Too Large", 500: "Internal Server Error",
           501: "Not Implemented", 503: "Service Unavailable", 505: "HTTP Version Not Supported"}
_NO_BODY_STATUS = frozenset((204, 304))
_HOP_BY_HOP = frozenset(("connection", "keep-alive", "transfer-encoding"))
_status_ok = re.compile(r"[1-9][0-9]{2} [\t\x20-\x7e\x80-\xff]*").fullmatch
_token_ok = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+").fullmatch
_value_ok = re.compile(r"[\t\x20-\x7e\x80-\xff]*").fullmatch
_ENVIRON_KEYS: dict = {}   # header name (bytes) -> environ key, or None to drop
_STATUSES: dict = {}       # status lines the application gave, checked -> code
_NAMES: dict = {}          # response header names, checked -> lower case


def error_response(status: int, detail: str, date_line: str) -> bytes:
    """A complete plain-text answer that closes the connection."""
    reason = REASONS.get(status, "Error")
    body = f"{status} {reason}\n\n{detail}\n".encode("utf-8")
    return (f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n{date_line}"
            f"Server: PasteScript-wsgiutils\r\n\r\n").encode("latin-1") + body


def serve_requests(server, conn) -> None:
    """A worker's turn on ``conn``: answer every request read, then hand it back."""
    reader = conn.reader
    keep_alive = True
    while keep_alive and reader.done:
        request = reader.done.popleft()
        try:
            keep_alive = run_request(server, conn, request)
        finally:
            if request.body is not None:
                request.body.close()
    if keep_alive and reader.error is not None:
        conn.answer_error(reader.error)
    elif not keep_alive:
        conn.close_after = True
    conn.release()


def run_request(server, conn, request: Request) -> bool:
    """Call the application for one request; True if the connection may go on."""
    try:
        environ = make_environ(server, conn, request)
    except RequestError as error:
        conn.answer_error(error)
        return False
    exchange = Exchange(server, conn.output, environ, request)
    result = None
    handed_over = False
    try:
        result = server.app(environ, exchange.start_response)
        handed_over = exchange.finish(result)
    except ClientDisconnected:
        return False
    except Exception:
        # The path only: a query string may hold a token or a password.
        log.exception("wsgiutils: error in the application for %s %s",
                      environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"))
        if not exchange.headers_sent:
            try:
                conn.output.write(error_response(
                    500, "The server could not complete the request.", server.date_header()),
                    wait=False)
            except ClientDisconnected:
                pass
        return False
    finally:
        close = getattr(result, "close", None)
        if close is not None and not handed_over:
            try:
                close()
            except Exception:
                log.exception("wsgiutils: error closing the application's result")
    return exchange.keep_alive


def _environ_key(name: bytes):
    key = _ENVIRON_KEYS.get(name)
    if key is None and name not in _ENVIRON_KEYS:
        if b"_" in name:
            key = None  # X_User would pose as X-User in HTTP_X_USER
        else:
            key = name.decode("latin-1").upper().replace("-", "_")
            if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                key = "HTTP_" + key
        if len(_ENVIRON_KEYS) < 1000:  # names are client input: keep the cache bounded
            _ENVIRON_KEYS[name] = key
    return key


def make_environ(server, conn, request: Request) -> dict:
    environ = server.base_environ.copy()
    keys = _ENVIRON_KEYS
    for name, value in request.headers:
        key = keys.get(name, False)
        if key is False:
            key = _environ_key(name)
        if key is None:
            continue
        text = value.decode("latin-1").rstrip(" \t")
        if key in environ:
            environ[key] += "," + text
        else:
            environ[key] = text
    target = request.target.partition(b"#")[0]  # a fragment is never the server's business
    if target[:1] == b"/":
        path, _, query = target.partition(b"?")
    elif target == b"*":
        path, query = b"*", b""
    else:
        try:
            url = httptools.parse_url(target)
        except httptools.HttpParserInvalidURLError:
            raise RequestError(400, "malformed request target") from None
        path, query = url.path or b"/", url.query or b""
    environ["PATH_INFO"] = (unquote_to_bytes(path) if b"%" in path else path).decode("latin-1")
    environ["QUERY_STRING"] = query.decode("latin-1")
    environ["REQUEST_URI"] = target.decode("latin-1")
    environ["REQUEST_METHOD"] = request.method
    environ["SERVER_PROTOCOL"] = "HTTP/" + request.version
    addr = conn.addr
    if type(addr) is tuple:
        environ["REMOTE_ADDR"] = addr[0]
        environ["REMOTE_PORT"] = str(addr[1])
    else:
        environ["REMOTE_ADDR"] = ""
    body = request.body
    if body is None:
        environ["wsgi.input"] = io.BytesIO()
    else:
        environ["wsgi.input"] = body.stream()
        if request.chunked:
            environ.pop("HTTP_TRANSFER_ENCODING", None)
            environ["CONTENT_LENGTH"] = str(body.size)
    return environ


class Exchange:
    """One response: ``start_response``, ``write``, and its framing on the wire."""

    __slots__ = ("server", "output", "head_only", "http10", "keep_alive", "status",
                 "headers", "headers_sent", "chunked", "length", "sent", "no_body")

    def __init__(self, server, output, environ: dict, request: Request):
        self.server = server
        self.output = output
        self.head_only = request.method == "HEAD"
        self.http10 = request.version == "1.0"
        self.keep_alive = request.keep_alive and not server.stopping
        self.status = None
        self.headers = None
        self.headers_sent = False
        self.chunked = False
        self.length = None
        self.sent = 0
        self.no_body = False

    def start_response(self, status: str, headers: list, exc_info=None) -> Callable:
        if exc_info:
            try:
                if self.headers_sent:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None
        elif self.status is not None:
            raise AssertionError("start_response was called twice without exc_info")
        if type(status) is not str:
            raise TypeError(f"the status must be a string, not {type(status).__name__}")
        self.status = status
        self.headers = headers
        return self.write

    def _head(self, known_length: int | None) -> bytes:
        """The status line and headers, checked, deciding how the body is framed."""
        status = self.status
        if status is None:
            raise AssertionError("the application returned data before calling start_response")
        code = _STATUSES.get(status) or _check_status(status)
        lines = ["HTTP/1.1 ", status, "\r\n"]
        length = None
        date = server_name = False
        for name, value in self.headers:
            lower = _NAMES.get(name) if type(name) is str else None
            if lower is None:
                lower = _check_name(name, value)
            if type(value) is not str or not _value_ok(value):
                raise ValueError(f"invalid response header from the application: {name!r}: {value!r}")
            if lower in _HOP_BY_HOP:
                if lower == "connection" and b"close" in tokens(value.encode("latin-1")):
                    self.keep_alive = False
                continue  # the server frames the response and manages the connection
            if lower == "content-length":
                if not (value.isdigit() and value.isascii()):
                    raise ValueError(f"invalid Content-Length from the application: {value!r}")
                length = int(value)
                continue
            date = date or lower == "date"
            server_name = server_name or lower == "server"
            lines += (name, ": ", value, "\r\n")
        if code in _NO_BODY_STATUS:
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
            self.keep_alive = False  # an HTTP/1.0 body without a length ends at the close
        if self.head_only:
            self.no_body = True
        self.length = length
        if self.server.stopping:
            self.keep_alive = False
        if not self.keep_alive:
            lines.append("Connection: close\r\n")
        elif self.http10:
            lines.append("Connection: keep-alive\r\n")
        if not date:
            lines.append(self.server.date_header())
        if not server_name:
            lines.append("Server: PasteScript-wsgiutils\r\n")
        lines.append("\r\n")
        self.headers_sent = True
        return "".join(lines).encode("latin-1")

    def write(self, data: bytes, wait: bool = True) -> None:
        """The WSGI ``write()`` callable; also used for each item of the result."""
        if type(data) is not bytes:
            data = _as_bytes(data)
        prefix = b"" if self.headers_sent else self._head(None)
        if self.no_body or not data:
            if prefix:
                self.output.write(prefix, wait)
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
            self.output.write(b"".join((prefix, b"%x\r\n" % len(data), data, b"\r\n")), wait)
        elif prefix and len(data) < 65536:
            self.output.write(prefix + data, wait)
        else:
            if prefix:
                self.output.write(prefix, False)
            self.output.write(data, wait)

    def finish(self, result) -> bool:
        """Send what the application returned and end the response.

        True when the result was handed to the event loop, which closes it.
        """
        if type(result) is FileWrapper and not self.headers_sent:
            handed_over = self._send_file(result)
            if handed_over is not None:
                return handed_over
        if not self.headers_sent and self.status is not None and (
                type(result) is list or _whole(result)):
            # The common case: the whole body is known, send it in one go.
            if type(result) is list:
                body = result[0] if len(result) == 1 else b"".join(map(_as_bytes, result))
            else:
                body, = result  # len() == 1: PEP 3333 lets the server frame it
            if type(body) is not bytes:
                body = _as_bytes(body)
            prefix = self._head(len(body))
            if self.no_body:
                self.output.write(prefix, False)
                return False
            if self.length != len(body):
                if len(body) > self.length:
                    body = body[:self.length]
                self.keep_alive = False
            self.sent = len(body)
            if len(body) < 65536:
                self.output.write(prefix + body, False)
            else:
                self.output.write(prefix, False)
                self.output.write(body, False)
            return False
        for data in result:
            if data:
                self.write(data)
        if not self.headers_sent:
            self.output.write(self._head(0), False)
        elif self.chunked:
            self.output.write(b"0\r\n\r\n", False)
        if self.length is not None and self.sent < self.length and not self.no_body:
            self.keep_alive = False  # the client still waits for bytes that never come
        return False

    def _send_file(self, wrapper: "FileWrapper") -> bool | None:
        """Send a wrapped file with ``sendfile()``; None to fall back to iterating it."""
        filelike = wrapper.filelike
        try:
            fd = filelike.fileno()
            offset = filelike.tell()
            info = os.fstat(fd)
        except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
            return None
        size = info.st_size
        if (self.status is None or not stat.S_ISREG(info.st_mode) or size < offset
                or not hasattr(os, "sendfile")):
            return None  # a pipe or a socket has no size to announce: iterate it
        remaining = size - offset
        self.output.write(self._head(remaining), False)
        if self.no_body:
            return False
        count = remaining if self.length is None else min(self.length, remaining)
        if self.length is not None and count != self.length:
            self.keep_alive = False
        self.sent = count
        if not count:
            return False
        # The region holds the file (through its close(), or the wrapper) until it is sent.
        close = getattr(wrapper, "close", None) or (lambda: wrapper)
        return not self.output.write_file(FileRegion(fd, offset, count, close))


def _check_status(status: str) -> int:
    """The code of a status line the application gave, or ValueError."""
    if not _status_ok(status):
        raise ValueError(f"invalid status line from the application: {status!r}")
    code = int(status[:3])
    if code < 200:
        # WSGI gives one status per response: a 1xx would be read as the
        # final answer, and the real one as the answer to the next request.
        raise ValueError(f"an informational status cannot answer a request: {status!r}")
    if len(_STATUSES) < 256:  # the application's, but keep the cache bounded anyway
        _STATUSES[status] = code
    return code


def _check_name(name, value) -> str:
    """The lower-case form of a response header name, or TypeError/ValueError."""
    if type(name) is not str or type(value) is not str:
        raise TypeError(f"response header {name!r}: {value!r} is not a pair of strings")
    if not _token_ok(name):
        raise ValueError(f"invalid response header from the application: {name!r}: {value!r}")
    lower = name.lower()
    if len(_NAMES) < 512:
        _NAMES[name] = lower
    return lower


def _whole(result) -> bool:
    """One item behind ``len()`` (a middleware's wrapper around a list); lists are whole too."""
    try:
        return len(result) == 1
    except TypeError:
        return False


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
    if type(data) is bytes:
        return data
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    raise TypeError(f"the application must give bytes, not {type(data).__name__}")
