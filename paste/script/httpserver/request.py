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
  ``Upgrade`` request is answered over HTTP/1.1 (WSGI cannot switch
  protocols) and the connection goes on, and it is refused if it has a
  body, whose framing llhttp would leave to the upgraded protocol;
* the request line has single spaces (``GET  /x HTTP/1.1``: 400), as
  waitress, cheroot and gunicorn require, though llhttp would accept more.

llhttp is fed in pieces cut where the framing changes (the end of a head,
the end of a body of known length, each line of chunk framing, the data of
each chunk), which changes nothing in what it reads but tells this module
where it stands: so it knows each chunk's declared size (a chunk larger
than the body limit allows is refused with 413 at once, not waited for),
and how many bytes of chunk framing and trailer fields arrive (bounded by
``max_request_header_size``: 431). Nothing llhttp keeps for itself can
grow past the limits.

Bodies are buffered as they arrive: in memory up to ``inbuf_overflow``,
then in a temporary file, within a budget of temporary-file bytes shared by
every connection (:class:`SpoolBudget`; past it: 503). Chunked bodies
arrive de-chunked, so memory stays bounded whatever size a chunk declares.
"""
from __future__ import annotations

import collections
import io
import tempfile
import threading

import httptools

__all__ = ["RequestError", "Request", "RequestReader", "Framing", "BodyBuffer", "SpoolBudget",
           "RECV_SIZE", "MAX_PIPELINE"]

RECV_SIZE = 64 * 1024   # one recv(); also the slack of the head-size guard
MAX_PIPELINE = 32       # requests read ahead of their responses, then the connection closes

_METHODS = {name.encode(): name for name in ("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS",
                                              "PATCH")}

# Where the reader stands in the byte stream (what the next bytes are).
_HEAD, _LENGTH, _CHUNK_LINE, _CHUNK_DATA, _TRAILER = range(5)


class RequestError(Exception):
    """A request the server answers itself, with ``status``, and then closes."""

    def __init__(self, status: int, detail: str):
        super().__init__(f"{status} {detail}")
        self.status = status
        self.detail = detail


class _Stop(Exception):
    """Raised in a parser callback to stop reading the connection (no error)."""


class SpoolBudget:
    """The bytes of request bodies that all connections may keep in temporary files at once."""

    def __init__(self, limit: int):
        self.limit = limit
        self.used = 0
        self._lock = threading.Lock()   # bodies are released by worker threads

    def take(self, size: int) -> bool:
        with self._lock:
            if self.used + size > self.limit:
                return False
            self.used += size
            return True

    def give(self, size: int) -> None:
        with self._lock:
            self.used -= size


class BodyBuffer:
    """A request body: in memory up to ``overflow`` bytes, then in a temporary file.

    Bytes in the file count against ``budget``: all of ``reserve`` (a known
    ``Content-Length``) up front, else as they are written. Raises
    :class:`RequestError` (503) when the budget has no room.
    """

    __slots__ = ("size", "_memory", "_file", "_overflow", "_budget", "_held")

    def __init__(self, overflow: int, budget: SpoolBudget, reserve: int = 0):
        self.size = 0
        self._memory = bytearray()
        self._file = None
        self._overflow = overflow
        self._budget = budget
        self._held = 0
        if reserve > overflow:
            self._hold(reserve)

    def _hold(self, size: int) -> None:
        if not self._budget.take(size):
            raise RequestError(503, "the server has no room for this request body now")
        self._held += size

    def write(self, data: bytes) -> None:
        self.size += len(data)
        if self._file is not None:
            if self.size > self._held:
                self._hold(self.size - self._held)
            self._file.write(data)
            return
        self._memory += data
        if len(self._memory) > self._overflow:
            if self.size > self._held:
                self._hold(self.size - self._held)
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
        held, self._held = self._held, 0
        if held:
            self._budget.give(held)


class Request:
    """One parsed request: what the application will see, and how to frame the answer."""

    __slots__ = ("method", "target", "version", "headers", "body", "keep_alive",
                 "content_length", "chunked", "expect", "continue_pending", "connection",
                 "hosts", "in_head", "body_started")

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
        self.body_started = None    # when its body began to arrive (the connection's clock)

    def close(self) -> None:
        if self.body is not None:
            self.body.close()


def tokens(value: bytes) -> list:
    """The members of an RFC 9110 comma-separated list, lower case."""
    return [item.strip(b" \t").lower() for item in value.split(b",") if item.strip(b" \t")]


class Framing:
    """Where a connection's byte stream stands: which bytes llhttp is fed next, in one piece.

    ``phase`` says what comes: a head, a body of known length, a line of
    chunk framing, chunk data, or the trailer section. The reader's parser
    callbacks move it on (:meth:`body_starts`, :meth:`message_done`, and
    ``chunk_header`` when llhttp has read a chunk-size line).
    """

    def __init__(self, max_header_size: int, max_body_size: int):
        self._max_head = max_header_size
        self._max_body = max_body_size
        self.phase = _HEAD
        self.left = 0            # bytes of body (or of chunk data) still due
        self.raw = 0             # bytes fed in this head, or in this stretch of chunk framing
        self._tail = b""         # the last bytes of an unfinished head
        self._line = bytearray()  # the start of the current request or chunk-size line
        self.line_open = True    # the request line is not complete yet
        self.chunk_header = False

    def body_starts(self, chunked: bool, length: int) -> None:
        self.raw = 0
        self.phase = _CHUNK_LINE if chunked else _LENGTH
        self.left = length

    def message_done(self) -> None:
        self.phase = _HEAD
        self.raw = 0
        self._line.clear()
        self.line_open = True

    def quick(self, data: bytes, end: int) -> bool:
        """Whether ``data`` is exactly one request head, whose request line is fine."""
        if self.phase != _HEAD or self._tail or not self.line_open \
                or data.find(b"\r\n\r\n") != end - 4 or end > self._max_head + RECV_SIZE:
            return False
        line_end = data.find(b"\r\n")
        if line_end <= 0 or data[0] == 32 or b"  " in data[:line_end]:
            return False  # an empty line first, or spaces: the careful way
        self.line_open = False
        return True

    def piece(self, data: bytes, pos: int, end: int):
        """Where the next piece to feed ends (RequestError to refuse the request)."""
        phase = self.phase
        if phase == _HEAD:
            stop = self._head_end(data, pos, end)
            if self.line_open:
                self._check_request_line(data, pos, stop)
            self.raw += stop - pos
            # llhttp keeps an unfinished header line to itself: bound it (the
            # exact limit is checked per header line, in on_header).
            if self.raw > self._max_head + RECV_SIZE:
                raise RequestError(431, "the request head is too large")
            return stop
        if phase == _LENGTH or phase == _CHUNK_DATA:
            stop = min(end, pos + self.left)
            self.left -= stop - pos
            if phase == _CHUNK_DATA and not self.left:
                self.phase = _CHUNK_LINE  # the CRLF after the data, then the next size
            return stop
        newline = data.find(b"\n", pos, end)
        stop = end if newline < 0 else newline + 1
        self.raw += stop - pos
        if self.raw > self._max_head:
            what = "trailer section" if phase == _TRAILER else "chunk framing"
            raise RequestError(431, f"the request's {what} is too large")
        if len(self._line) < 64:
            self._line += data[pos:min(stop, pos + 64)]
        return stop

    def _head_end(self, data: bytes, pos: int, end: int) -> int:
        tail = self._tail
        if tail:
            found = (tail + data[pos:pos + 3]).find(b"\r\n\r\n")
            if found >= 0:
                self._tail = b""
                return pos + found + 4 - len(tail)
        found = data.find(b"\r\n\r\n", pos, end)
        if found >= 0:
            self._tail = b""
            return found + 4
        self._tail = (tail + data[max(pos, end - 3):end])[-3:]
        return end

    def _check_request_line(self, data: bytes, pos: int, stop: int) -> None:
        while pos < stop:
            newline = data.find(b"\n", pos, stop)
            if newline < 0:
                self._line += data[pos:stop]
                return
            line = bytes(self._line + data[pos:newline]).rstrip(b"\r")
            self._line.clear()
            pos = newline + 1
            if line:  # not one of the empty lines allowed before a request
                self.line_open = False
                if b"  " in line or line[:1] == b" ":
                    raise RequestError(400, "a request line with more than single spaces")
                return

    def after_line(self, line_ended: bool, body_size: int) -> None:
        # After a piece of chunk framing or trailer (a line, or its start).
        if self.chunk_header:
            self.chunk_header = False
            self._start_chunk(bytes(self._line), body_size)
        if line_ended:
            self._line.clear()

    def _start_chunk(self, line: bytes, body_size: int) -> None:
        # llhttp checked the line: hex digits, then an extension or the end.
        digits = line.split(b";", 1)[0].rstrip(b"\r\n")
        if len(digits) > 32:  # maybe cut short in self._line: never guess a size
            raise RequestError(400, "a chunk size of more than 32 digits")
        size = int(digits, 16)
        if size == 0:
            self.phase = _TRAILER
            return
        if body_size + size > self._max_body:
            raise RequestError(413, "the request body is too large")
        self.phase = _CHUNK_DATA
        self.left = size
        self.raw = 0


class RequestReader:
    """Turns the bytes of one connection into :class:`Request` objects.

    After :meth:`feed`, ``done`` holds the complete requests in order;
    ``error`` (a :class:`RequestError`) is the answer due after them, and
    ``finished`` says nothing more will be read from this connection.
    """

    def __init__(self, max_header_size: int, max_body_size: int, inbuf_overflow: int,
                 budget: SpoolBudget):
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
        self._budget = budget
        self.done = collections.deque()
        self.current = None
        self.error = None
        self.finished = False
        self._framing = Framing(max_header_size, max_body_size)
        self._head_size = 0      # what the callbacks saw of the current head

    # -- feeding -------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        """Parse ``data``, the next bytes from the client."""
        end = len(data)
        pos = 0
        framing = self._framing
        while pos < end and not self.finished:
            try:
                if not pos and framing.quick(data, end):
                    stop = end  # the usual case: one whole head, nothing else
                else:
                    stop = framing.piece(data, pos, end)
                self._parser.feed_data(data if stop - pos == end else data[pos:stop])
                if framing.phase >= _CHUNK_LINE:
                    framing.after_line(data[stop - 1] == 10, self.current.body.size
                                       if self.current is not None else 0)
            except httptools.HttpParserUpgrade as upgrade:
                # An Upgrade request without a body, answered as plain HTTP:
                # what follows it is the next request.
                stop = pos + upgrade.args[0]
            except (RequestError, httptools.HttpParserError) as exc:
                self._failed(exc)
                return
            pos = stop

    def _failed(self, exc: Exception) -> None:
        if isinstance(exc, RequestError):
            self.error = exc
        elif isinstance(exc.__context__, RequestError):  # raised in a parser callback
            self.error = exc.__context__
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
            return  # a trailer field (its size is bounded in _piece): not passed on
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
        parser = self._parser
        version = parser.get_http_version()
        if version != "1.1" and version != "1.0":
            self._refuse(505, f"HTTP/{version} is not supported")
        request.version = version
        method = parser.get_method()
        request.method = _METHODS.get(method) or method.decode("latin-1")
        if request.hosts > 1 or (request.hosts == 0 and version == "1.1"):
            self._refuse(400, "an HTTP/1.1 request needs exactly one Host header")
        connection = request.connection
        if version == "1.1":
            request.keep_alive = b"close" not in connection
        else:
            request.keep_alive = b"keep-alive" in connection and b"close" not in connection
        has_body = request.chunked or request.content_length > 0
        if parser.should_upgrade():
            if request.method == "CONNECT":
                self._refuse(501, "CONNECT is not supported")
            if has_body:
                self._refuse(400, "an Upgrade request with a body is not supported")
        else:
            request.keep_alive = request.keep_alive and parser.should_keep_alive()
        if has_body:
            if request.content_length > self._max_body:
                self._refuse(413, "the request body is too large")
            request.body = BodyBuffer(self._overflow, self._budget, request.content_length)
            request.continue_pending = request.expect and version == "1.1"
            self._framing.body_starts(request.chunked, request.content_length)
        else:
            self._framing.raw = 0

    def on_chunk_header(self) -> None:
        self._framing.chunk_header = True

    def on_body(self, data: bytes) -> None:
        body = self.current.body
        body.write(data)
        if body.size > self._max_body:
            self._refuse(413, "the request body is too large")

    def on_message_complete(self) -> None:
        request = self.current
        self.current = None
        self._framing.message_done()
        request.continue_pending = False
        self.done.append(request)
        if len(self.done) >= MAX_PIPELINE:
            request.keep_alive = False
        if not request.keep_alive:
            self.finished = True
            raise _Stop()
