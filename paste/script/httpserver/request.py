# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""Reading requests: llhttp (through ``httptools``) parses, this module keeps limits.

The request line, the header lines, ``Content-Length``, ``Transfer-Encoding``
and the chunk framing are all llhttp's, in its strict mode (every
"dangerous leniency" off). What the server still decides itself, it decides
from RFC 9110/9112 token lists, never from substrings:

* ``Connection``: ``close`` ends an HTTP/1.1 connection; HTTP/1.0 stays open
  only with ``keep-alive`` (and without ``close``);
* ``Transfer-Encoding`` must be exactly ``chunked`` (anything else: 501), and
  an HTTP/1.0 request must not have one (400: its framing is in doubt);
* HTTP/1.1 needs exactly one ``Host``; HTTP/1.0 at most one;
* only HTTP/1.0 and 1.1 are served (505); ``CONNECT`` is not (501); an
  ``Upgrade`` request is answered over HTTP/1.1 and the connection closed,
  and refused if it has a body, whose framing llhttp then leaves to the
  upgraded protocol.

Bodies are buffered as they arrive: in memory up to ``inbuf_overflow``,
then in a temporary file; chunked bodies arrive de-chunked, so memory stays
bounded whatever the size a chunk declares.
"""
from __future__ import annotations

import collections
import io
import tempfile

import httptools

__all__ = ["RequestError", "Request", "RequestReader", "BodyBuffer", "RECV_SIZE", "MAX_PIPELINE"]

RECV_SIZE = 64 * 1024   # one recv(); also the slack of the head-size guard
MAX_PIPELINE = 32       # requests read ahead of their responses, then the connection closes


class RequestError(Exception):
    """A request the server answers itself, with ``status``, and then closes."""

    def __init__(self, status: int, detail: str):
        super().__init__(f"{status} {detail}")
        self.status = status
        self.detail = detail


class _Stop(Exception):
    """Raised in a parser callback to stop reading the connection (no error)."""


class BodyBuffer:
    """A request body: in memory up to ``overflow`` bytes, then in a temporary file."""

    __slots__ = ("size", "_memory", "_file", "_overflow")

    def __init__(self, overflow: int):
        self.size = 0
        self._memory = bytearray()
        self._file = None
        self._overflow = overflow

    def write(self, data: bytes) -> None:
        self.size += len(data)
        if self._file is not None:
            self._file.write(data)
            return
        self._memory += data
        if len(self._memory) > self._overflow:
            self._file = tempfile.TemporaryFile(prefix="wsgiutils-body-")
            self._file.write(self._memory)
            self._memory = None

    def stream(self):
        """The body as a readable file, at its start (``wsgi.input``)."""
        if self._file is None:
            return io.BytesIO(self._memory)
        self._file.seek(0)
        return self._file

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


class Request:
    """One parsed request: what the application will see, and how to frame the answer."""

    __slots__ = ("method", "target", "version", "headers", "body", "keep_alive",
                 "content_length", "chunked", "expect", "continue_pending", "connection",
                 "hosts", "in_head")

    def __init__(self):
        self.method = "GET"
        self.target = b""
        self.version = "1.1"
        self.headers = []           # (name, value) as bytes, in order
        self.body = None            # BodyBuffer, or None without a body
        self.keep_alive = False
        self.content_length = 0
        self.chunked = False
        self.expect = False         # Expect: 100-continue
        self.continue_pending = False
        self.connection = []        # Connection tokens, lower case
        self.hosts = 0
        self.in_head = True

    def close(self) -> None:
        if self.body is not None:
            self.body.close()


def tokens(value: bytes) -> list:
    """The members of an RFC 9110 comma-separated list, lower case."""
    return [item.strip(b" \t").lower() for item in value.split(b",") if item.strip(b" \t")]


class RequestReader:
    """Turns the bytes of one connection into :class:`Request` objects.

    After :meth:`feed`, ``done`` holds the complete requests in order;
    ``error`` (a :class:`RequestError`) is the answer due after them, and
    ``finished`` says nothing more will be read from this connection.
    """

    def __init__(self, max_header_size: int, max_body_size: int, inbuf_overflow: int):
        self._parser = httptools.HttpRequestParser(self)
        # The defaults are strict already; say so, so that no future default
        # can loosen what this server accepts.
        self._parser.set_dangerous_leniencies(
            lenient_headers=False, lenient_chunked_length=False, lenient_keep_alive=False,
            lenient_transfer_encoding=False, lenient_version=False,
            lenient_data_after_close=False, lenient_optional_lf_after_cr=False,
            lenient_optional_cr_before_lf=False, lenient_optional_crlf_after_chunk=False,
            lenient_spaces_after_chunk_size=False)
        self._max_head = max_header_size
        self._max_body = max_body_size
        self._overflow = inbuf_overflow
        self.done = collections.deque()
        self.current = None
        self.error = None
        self.finished = False
        self._head_size = 0      # what the callbacks saw of the current head
        self._head_raw = 0       # bytes fed while a head was incomplete

    # -- feeding -------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        if self.finished:
            return  # after an error or a closing request: read and dropped
        current = self.current
        if current is None or current.in_head:
            self._head_raw += len(data)
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self.finished = True  # the request was answered as HTTP; nothing follows it
        except httptools.HttpParserError as exc:
            self._failed(exc)
        else:
            current = self.current
            # llhttp keeps an unfinished header line to itself: bound the
            # memory it may take (the exact limit is checked per header line).
            if (current is None or current.in_head) and self._head_raw > self._max_head + RECV_SIZE:
                self._failed(RequestError(431, "the request head is too large"))

    def _failed(self, exc: Exception) -> None:
        if isinstance(exc, RequestError):
            self.error = exc
        elif self.error is None and not self.finished:
            self.error = RequestError(400, f"malformed request ({exc})")
        self.finished = True
        if self.current is not None:
            self.current.close()
            self.current = None

    def _refuse(self, status: int, detail: str):
        self.error = RequestError(status, detail)
        raise self.error

    def close(self) -> None:
        for request in self.done:
            request.close()
        self.done.clear()
        if self.current is not None:
            self.current.close()
            self.current = None

    # -- llhttp callbacks ----------------------------------------------------

    def on_message_begin(self) -> None:
        self.current = Request()
        self._head_size = 0

    def on_url(self, url: bytes) -> None:
        self.current.target += url
        self._head_size += len(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        request = self.current
        if not request.in_head:
            return  # a trailer field: not passed on
        self._head_size += len(name) + len(value) + 4
        if self._head_size > self._max_head:
            self._refuse(431, "the request head is too large")
        lower = name.lower()
        if lower == b"content-length":
            request.content_length = int(value)  # llhttp checked: digits, once
        elif lower == b"transfer-encoding":
            if self._parser.get_http_version() != "1.1":
                self._refuse(400, "Transfer-Encoding in an HTTP/1.0 request")
            if tokens(value) != [b"chunked"]:
                self._refuse(501, "only the chunked transfer coding is supported")
            request.chunked = True
        elif lower == b"connection":
            request.connection += tokens(value)
        elif lower == b"host":
            request.hosts += 1
        elif lower == b"expect":
            request.expect = tokens(value) == [b"100-continue"]
        request.headers.append((name, value))

    def on_headers_complete(self) -> None:
        request = self.current
        request.in_head = False
        self._head_raw = 0
        parser = self._parser
        version = parser.get_http_version()
        if version != "1.1" and version != "1.0":
            self._refuse(505, f"HTTP/{version} is not supported")
        request.version = version
        request.method = parser.get_method().decode("latin-1")
        if request.hosts > 1 or (request.hosts == 0 and version == "1.1"):
            self._refuse(400, "an HTTP/1.1 request needs exactly one Host header")
        connection = request.connection
        if version == "1.1":
            keep_alive = b"close" not in connection
        else:
            keep_alive = b"keep-alive" in connection and b"close" not in connection
        request.keep_alive = keep_alive and parser.should_keep_alive()
        has_body = request.chunked or request.content_length > 0
        if parser.should_upgrade():
            if request.method == "CONNECT":
                self._refuse(501, "CONNECT is not supported")
            if has_body:
                self._refuse(400, "an Upgrade request with a body is not supported")
            request.keep_alive = False
        if has_body:
            if request.content_length > self._max_body:
                self._refuse(413, "the request body is too large")
            request.body = BodyBuffer(self._overflow)
            request.continue_pending = request.expect and version == "1.1"

    def on_body(self, data: bytes) -> None:
        body = self.current.body
        body.write(data)
        if body.size > self._max_body:
            self._refuse(413, "the request body is too large")

    def on_message_complete(self) -> None:
        request = self.current
        self.current = None
        self._head_raw = 0
        request.continue_pending = False
        self.done.append(request)
        if len(self.done) >= MAX_PIPELINE:
            request.keep_alive = False
        if not request.keep_alive:
            self.finished = True
            raise _Stop()
