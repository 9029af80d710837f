"""The wsgiutils runner against a hostile client, side by side with waitress.

Every case sends exact bytes over a raw socket to ``egg:PasteScript#wsgiutils``
and to ``egg:waitress#main`` (3.x), each a real process on loopback started
from the same INI file shape and serving the same application, and checks:

* what wsgiutils must do (an exact expectation per case), and
* that wsgiutils is never less safe than waitress on the same bytes.

"Safe" is ranked (see :func:`rank`): a smuggled request or a control
character reaching the application is the worst; answering and keeping the
connection open is better; answering and closing better still; refusing
with a 4xx/5xx and closing is the best for bytes that another parser could
read differently. Where waitress is weaker (it accepts some of these), the
comparison still holds because ours must be at least as strict.

The cases are the ones of issue 11: request smuggling and desync
primitives, malformed heads, chunk framing, limits (431/413/408), slow
heads and bodies (slowloris), huge chunks (memory bound), bodies the
application does not read, status and header injection by the
application, and stopping (exit status, a second signal). Stopping is
compared where waitress has the same behaviour (a request in flight
finishes); waitress has no shutdown deadline, and exits 0 whatever it cut,
so the exit status and the second signal are checked for wsgiutils alone.
"""
from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.runner_support import kill_group, start_runner, write_config
from tests.support import free_port, paster_env, wait_for_port, write

SERVERS = ["wsgiutils", "waitress"]

APP_SOURCE = r'''
import json, time

def make_app(global_conf, **local_conf):
    return app

def _reply(start_response, body, status="200 OK", headers=()):
    start_response(status, [("Content-Type", "text/plain"),
                            ("Content-Length", str(len(body)))] + list(headers))
    return [body]

def app(environ, start_response):
    path = environ["PATH_INFO"]
    query = environ.get("QUERY_STRING", "")
    if path == "/smuggled":
        return _reply(start_response, b"SMUGGLED-REACHED-APP")
    for key, value in environ.items():
        if key.startswith("HTTP_") and any(c in value for c in "\x00\r\n"):
            return _reply(start_response, b"CTL-REACHED-APP")
    if path == "/early":  # answers without reading the body
        return _reply(start_response, b"answered without reading")
    if path == "/slow":
        time.sleep(float(query or "1"))
        return _reply(start_response, b"slept")
    if path == "/bad-status":
        start_response("200 OK\r\nX-Injected: yes", [("Content-Length", "2")])
        return [b"ok"]
    if path.startswith("/bad-header/"):
        header = {
            "crlf-value": ("X-Test", "a\r\nX-Injected: yes"),
            "lf-value": ("X-Test", "a\nX-Injected: yes"),
            "crlf-name": ("X-Test\r\nX-Injected", "yes"),
            "space-name": ("X Test", "yes"),
            "colon-name": ("X-Test:", "yes"),
            "nul-value": ("X-Test", "a\x00b"),
            "non-latin-1": ("X-Test", "caf\u20ac"),
        }[path.rsplit("/", 1)[1]]
        return _reply(start_response, b"ok", headers=[header])
    length = environ.get("CONTENT_LENGTH") or "0"
    data = environ["wsgi.input"].read(int(length)) if length.isdigit() else b""
    body = json.dumps({"method": environ["REQUEST_METHOD"], "path": path, "query": query,
                       "length": len(data),
                       "uri": environ.get("REQUEST_URI", "")}).encode()
    return _reply(start_response, body)
'''

# Limits set alike for both servers (waitress has the same option names).
STRICT = {
    "threads": 4,
    "max_request_header_size": 8192,
    "max_request_body_size": 1024 * 1024,
    "channel_timeout": 10,
}
# Deadlines only wsgiutils has.
WSGIUTILS_ONLY = {"request_header_timeout": 3, "request_body_timeout": 3}


def start_server(kind: str, directory: Path, **options) -> dict:
    """Start ``kind`` (wsgiutils or waitress) in a child process on a free port."""
    directory.mkdir(parents=True, exist_ok=True)
    write(directory / "adversarial_app.py", APP_SOURCE)
    port = free_port()
    lines = [f"use = egg:{'PasteScript#wsgiutils' if kind == 'wsgiutils' else 'waitress#main'}",
             "host = 127.0.0.1", f"port = {port}"]
    lines += [f"{name} = {value}" for name, value in options.items()]
    config = write_config(directory, "\n".join(lines), app="use = call:adversarial_app:make_app")
    proc = start_runner(config, wait_port=port)
    return {"kind": kind, "port": port, "proc": proc}


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    """Both servers with the same small limits, for the quick cases."""
    started = {}
    try:
        for kind in SERVERS:
            options = dict(STRICT, **(WSGIUTILS_ONLY if kind == "wsgiutils" else {}))
            started[kind] = start_server(kind, tmp_path_factory.mktemp(kind), **options)
        yield started
    finally:
        for server in started.values():
            kill_group(server["proc"])


# -- talking to a server --------------------------------------------------------------

class Reply:
    """What came back on one connection."""

    def __init__(self, data: bytes, closed: bool, seconds: float):
        self.data = data
        self.closed = closed
        self.seconds = seconds
        self.statuses = [int(code) for code in re.findall(rb"HTTP/1\.[01] (\d{3}) ", data)]

    @property
    def status(self):
        return self.statuses[0] if self.statuses else None

    def __repr__(self):
        return f"Reply({self.data[:300]!r}, closed={self.closed}, {self.seconds:.1f}s)"


def send(port: int, data: bytes, wait: float = 6.0, linger: float = 1.5) -> Reply:
    """Send ``data``; read until the server closes, or for ``linger`` s after an answer."""
    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        with contextlib.suppress(OSError):  # the server may refuse before reading it all
            sock.sendall(data)
        return _read(sock, start, wait, linger)


def _read(sock: socket.socket, start: float, wait: float, linger: float) -> Reply:
    out = b""
    closed = False
    deadline = start + wait
    while True:
        timeout = deadline - time.monotonic()
        if b"HTTP/1." in out:
            timeout = min(timeout, linger)
        if timeout <= 0:
            break
        sock.settimeout(timeout)
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            break
        except OSError:  # a reset: closed, and maybe nothing readable
            closed = True
            break
        if not chunk:
            closed = True
            break
        out += chunk
    return Reply(out, closed, time.monotonic() - start)


def rank(reply: Reply) -> int:
    """How safely a server handled bytes that are an attack or ambiguous (higher is safer)."""
    if b"SMUGGLED-REACHED-APP" in reply.data or b"CTL-REACHED-APP" in reply.data \
            or b"X-Injected" in reply.data:
        return 0
    if reply.status is not None and reply.status >= 400 and reply.closed:
        return 3
    if reply.closed:
        return 2
    return 1


def both(servers, function, *args, **kw) -> tuple:
    """``function(port, *args)`` for wsgiutils and waitress at the same time."""
    results = {}

    def run(kind):
        results[kind] = function(servers[kind]["port"], *args, **kw)

    threads = [threading.Thread(target=run, args=(kind,)) for kind in SERVERS]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results["wsgiutils"], results["waitress"]


def compare(servers, data: bytes, **kw) -> tuple:
    """(ours, waitress) replies to the same bytes; ours must rank at least as high."""
    ours, theirs = both(servers, send, data, **kw)
    assert rank(ours) >= rank(theirs), f"wsgiutils {ours} less safe than waitress {theirs}"
    return ours, theirs


SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"


def head(*lines: bytes, method=b"POST", target=b"/echo", version=b"HTTP/1.1") -> bytes:
    return method + b" " + target + b" " + version + b"\r\n" + b"".join(
        line + b"\r\n" for line in lines) + b"\r\n"


def chunked(body: bytes, smuggled: bytes = SMUGGLED) -> bytes:
    """A chunked POST with ``body`` as its framing, then a request to smuggle."""
    return head(b"Host: x", b"Transfer-Encoding: chunked") + body + smuggled


# -- smuggling and desync primitives --------------------------------------------------

DESYNC = {
    # Transfer-Encoding that a str.strip() would have turned into "chunked".
    "te-vertical-tab": head(b"Host: x", b"Transfer-Encoding: \x0bchunked") + b"0\r\n\r\n" + SMUGGLED,
    "te-nbsp": head(b"Host: x", b"Transfer-Encoding: chunked\xa0") + b"0\r\n\r\n" + SMUGGLED,
    "te-nel": head(b"Host: x", b"Transfer-Encoding: chunked\x85") + b"0\r\n\r\n" + SMUGGLED,
    # Header names that are not tokens.
    "cl-name-vertical-tab": head(b"Host: x", b"Content-Length\x0b: 37") + SMUGGLED,
    "space-in-name": head(b"Host: x", b"Content Length: 37") + SMUGGLED,
    "space-before-colon": head(b"Host: x", b"Content-Length : 37") + SMUGGLED,
    "first-header-line-folded": head(b" Content-Length: 37", b"Host: x") + SMUGGLED,
    "obs-fold": head(b"Host: x", b"X-A: a", b" Content-Length: 37") + SMUGGLED,
    # A bare LF hides a second header inside the first one's value.
    "bare-lf-in-header": head(b"Host: x", b"X-A: a\nContent-Length: 37") + SMUGGLED,
    "bare-cr-in-header": head(b"Host: x", b"X-A: a\rContent-Length: 37") + SMUGGLED,
    # Chunk-size lines with surrounding whitespace, a vertical tab, a bare CR.
    "chunk-size-spaces": chunked(b" 5 \r\nhello\r\n0\r\n\r\n"),
    "chunk-size-trailing-space": chunked(b"5 \r\nhello\r\n0\r\n\r\n"),
    "chunk-size-vertical-tab": chunked(b"5\x0b\r\nhello\r\n0\r\n\r\n"),
    "chunk-size-bare-cr": chunked(b"5\rhello\r\n0\r\n\r\n"),
    "chunk-size-bare-lf": chunked(b"5\nhello\r\n0\r\n\r\n"),
    "chunk-size-0x": chunked(b"0x5\r\nhello\r\n0\r\n\r\n"),
    "chunk-size-negative": chunked(b"-5\r\nhello\r\n0\r\n\r\n"),
    "chunk-size-overflow": chunked(b"1" + b"0" * 20 + b"\r\nhello\r\n"),
    "chunk-data-too-long": chunked(b"3\r\nhello\r\n0\r\n\r\n"),
    "chunk-missing-crlf": chunked(b"5\r\nhelloGET /smuggled HTTP/1.1\r\n\r\n", smuggled=b""),
    "chunk-extension-garbage": chunked(b"5;a b\r\nhello\r\n0\r\n\r\n"),
    # Framing conflicts.
    "cl-and-te": head(b"Host: x", b"Content-Length: 5", b"Transfer-Encoding: chunked")
    + b"0\r\n\r\n" + SMUGGLED,
    "te-and-cl": head(b"Host: x", b"Transfer-Encoding: chunked", b"Content-Length: 5")
    + b"0\r\n\r\n" + SMUGGLED,
    "two-content-lengths": head(b"Host: x", b"Content-Length: 0", b"Content-Length: 37") + SMUGGLED,
    "same-content-length-twice": head(b"Host: x", b"Content-Length: 37", b"Content-Length: 37")
    + SMUGGLED,
    "content-length-list": head(b"Host: x", b"Content-Length: 37, 37") + SMUGGLED,
    "content-length-plus": head(b"Host: x", b"Content-Length: +37") + SMUGGLED,
    "two-transfer-encodings": head(b"Host: x", b"Transfer-Encoding: chunked",
                                   b"Transfer-Encoding: chunked") + b"0\r\n\r\n" + SMUGGLED,
    "te-gzip-chunked": head(b"Host: x", b"Transfer-Encoding: gzip, chunked")
    + b"0\r\n\r\n" + SMUGGLED,
    "te-chunked-gzip": head(b"Host: x", b"Transfer-Encoding: chunked, gzip")
    + b"0\r\n\r\n" + SMUGGLED,
    "te-identity": head(b"Host: x", b"Transfer-Encoding: identity", b"Content-Length: 37") + SMUGGLED,
    # HTTP/1.0 with chunked framing must not keep the connection.
    "http10-chunked-keep-alive": head(b"Connection: keep-alive", b"Transfer-Encoding: chunked",
                                      version=b"HTTP/1.0") + b"0\r\n\r\n" + SMUGGLED,
    "http11x": head(b"Host: x", b"Content-Length: 0", version=b"HTTP/1.1x") + SMUGGLED,
    # Control characters must not reach the application in header values.
    "nul-in-header-value": head(b"Host: x", b"X-A: a\x00b", b"Content-Length: 0"),
    "ctl-in-header-value": head(b"Host: x", b"X-A: a\x01b", b"Content-Length: 0"),
    # An Upgrade request whose body the upgraded protocol would own.
    "upgrade-with-body": head(b"Host: x", b"Connection: Upgrade", b"Upgrade: h2c",
                              b"Content-Length: 37") + SMUGGLED,
    "two-hosts": head(b"Host: a", b"Host: b", b"Content-Length: 0"),
}


@pytest.mark.parametrize("case", sorted(DESYNC))
def test_desync_primitives_are_refused_and_closed(servers, case):
    ours, theirs = compare(servers, DESYNC[case])
    assert rank(ours) == 3, ours
    assert 400 <= ours.status < 600 and ours.statuses == [ours.status], ours


@pytest.mark.parametrize("case,expected", [
    ("connection-close-then-more", 1),
    ("connection-close-uppercase", 1),
    ("connection-close-in-a-list", 1),
])
def test_nothing_is_read_after_connection_close(servers, case, expected):
    value = {"connection-close-then-more": b"close", "connection-close-uppercase": b"CLOSE",
             "connection-close-in-a-list": b"keep-alive, close"}[case]
    data = head(b"Host: x", b"Connection: " + value, method=b"GET", target=b"/") + SMUGGLED
    ours, theirs = compare(servers, data)
    assert ours.statuses == [200] * expected and ours.closed, ours


def test_connection_is_matched_as_tokens_not_substrings(servers):
    # "xclose" is not "close": the connection stays open and the next request is served.
    data = head(b"Host: x", b"Connection: xclose, not-close", method=b"GET", target=b"/") \
        + head(b"Host: x", b"Connection: close", method=b"GET", target=b"/")
    ours, theirs = compare(servers, data)
    assert ours.statuses == [200, 200] and ours.closed, ours


# -- malformed heads ------------------------------------------------------------------

MALFORMED = {
    "garbage": (b"NONSENSE\r\n\r\n", 400),
    "lowercase-method": (b"get / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    "method-with-space": (b"G ET / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    "no-version": (b"GET /\r\nHost: x\r\n\r\n", 505),  # an HTTP/0.9 request line
    "http2": (b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505),
    "http09-style": (b"GET /\r\n\r\n", 505),
    "lowercase-http": (b"GET / http/1.1\r\nHost: x\r\n\r\n", 400),
    "space-in-target": (b"GET /a b HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    "ctl-in-target": (b"GET /a\x01b HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    "nul-in-target": (b"GET /a\x00b HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    "header-without-colon": (b"GET / HTTP/1.1\r\nHost: x\r\nBadHeader\r\n\r\n", 400),
    "empty-header-name": (b"GET / HTTP/1.1\r\nHost: x\r\n: value\r\n\r\n", 400),
    "no-host": (b"GET / HTTP/1.1\r\n\r\n", 400),
    "bare-lf-line-ends": (b"GET / HTTP/1.1\nHost: x\n\n", 400),
    "connect": (b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 501),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_heads_get_a_status_and_close(servers, case):
    data, status = MALFORMED[case]
    ours, theirs = compare(servers, data)
    assert ours.status == status and ours.closed, ours
    assert b"Traceback" not in ours.data


def test_fragment_is_not_passed_on(servers):
    data = head(b"Host: x", b"Connection: close", method=b"GET", target=b"/echo?q=1#frag")
    ours, theirs = compare(servers, data)
    body = json.loads(ours.data.partition(b"\r\n\r\n")[2])
    assert (body["path"], body["query"], body["uri"]) == ("/echo", "q=1", "/echo?q=1")


def test_chunked_body_is_decoded(servers):
    data = head(b"Host: x", b"Transfer-Encoding: chunked", b"Connection: close") \
        + b"5;name=value\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: x\r\n\r\n"
    ours, theirs = compare(servers, data)
    assert ours.status == 200 and json.loads(ours.data.partition(b"\r\n\r\n")[2])["length"] == 11


# -- limits ------------------------------------------------------------------------------

def test_header_too_large_is_431(servers):
    data = head(b"Host: x", b"X-Big: " + b"a" * 16000, method=b"GET", target=b"/")
    ours, theirs = compare(servers, data)
    assert ours.status == 431 and ours.closed, ours


def endless_header(server: dict, megabytes: int) -> tuple:
    """(reply, RSS growth in MiB) for one header line that never ends."""
    pid = server["proc"].pid
    base = rss_kib(pid)
    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", server["port"]), timeout=10) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Endless: ")
        with contextlib.suppress(OSError):
            for _ in range(megabytes * 16):
                sock.sendall(b"a" * 65536)
        growth = (rss_kib(pid) - base) / 1024
        return _read(sock, start, 10, 1.5), growth


def test_endless_header_line_is_cut_at_the_limit(servers):
    # One header line that never ends: the server must answer 431, not buffer it whole.
    ours, ours_growth = endless_header(servers["wsgiutils"], 32)
    theirs, theirs_growth = endless_header(servers["waitress"], 32)
    assert rank(ours) >= rank(theirs), (ours, theirs)
    assert ours.status == 431 and ours.closed, ours
    assert ours_growth < 16, (ours_growth, theirs_growth)


def test_body_too_large_is_413_at_once(servers):
    data = head(b"Host: x", b"Content-Length: %d" % (50 * 1024 * 1024))
    ours, theirs = compare(servers, data)
    assert ours.status == 413 and ours.closed and ours.seconds < 5, ours


def test_chunked_body_too_large_is_413(servers):
    chunk = b"%x\r\n" % 65536 + b"x" * 65536 + b"\r\n"
    data = head(b"Host: x", b"Transfer-Encoding: chunked") + chunk * 20 + b"0\r\n\r\n"
    ours, theirs = compare(servers, data)
    assert ours.status == 413 and ours.closed, ours


def drip(port: int, first: bytes, piece: bytes, gap: float, seconds: float) -> Reply:
    """Send ``first``, then ``piece`` every ``gap`` s until the server answers or closes."""
    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=seconds) as sock:
        sock.sendall(first)
        while time.monotonic() - start < seconds:
            reply = _read(sock, time.monotonic(), gap, gap)
            if reply.data or reply.closed:
                seconds = time.monotonic() - start
                if not reply.closed:  # the answer came: see whether the server closes
                    rest = _read(sock, time.monotonic(), 3.0, 3.0)
                    reply = Reply(reply.data + rest.data, rest.closed, 0)
                return Reply(reply.data, reply.closed, seconds)
            with contextlib.suppress(OSError):
                sock.sendall(piece)
        return Reply(b"", False, time.monotonic() - start)


def test_slow_request_head_gets_408(servers):
    # One header byte every 0.5 s: activity, but the head never completes.
    args = (b"GET / HTTP/1.1\r\nHost: x\r\n", b"X", 0.5, 8)
    ours, theirs = both(servers, drip, *args)
    assert ours.status == 408 and ours.closed and 2 < ours.seconds < 8, ours
    # waitress has no deadline for a head that keeps trickling.
    assert theirs.status is None or theirs.seconds >= ours.seconds, theirs


def test_stalled_request_body_gets_408(servers):
    args = (head(b"Host: x", b"Content-Length: 100") + b"x" * 10, b"", 0.5, 8)
    ours, theirs = both(servers, drip, *args)
    assert ours.status == 408 and ours.closed and 2 < ours.seconds < 8, ours
    assert theirs.status is None or theirs.seconds >= ours.seconds, theirs


# -- the application's response -------------------------------------------------------

@pytest.mark.parametrize("path", [
    "/bad-status", "/bad-header/crlf-value", "/bad-header/lf-value", "/bad-header/crlf-name",
    "/bad-header/space-name", "/bad-header/colon-name", "/bad-header/nul-value",
    "/bad-header/non-latin-1",
])
def test_invalid_status_or_header_from_the_app_is_a_500(servers, path):
    data = head(b"Host: x", method=b"GET", target=path.encode())
    ours, theirs = compare(servers, data)
    assert ours.status == 500 and ours.closed, ours
    assert b"X-Injected" not in ours.data and b"X Test" not in ours.data
    assert b"Traceback" not in ours.data


def test_the_server_keeps_serving_after_bad_input(servers):
    for data in DESYNC.values():
        send(servers["wsgiutils"]["port"], data, linger=0.2)
    reply = send(servers["wsgiutils"]["port"], head(b"Host: x", b"Connection: close",
                                                   method=b"GET", target=b"/echo"))
    assert reply.status == 200, reply
    # Bad input is answered, never logged as an error: the only tracebacks in the
    # log are the application's own errors (the invalid headers of the tests above).
    log = Path(servers["wsgiutils"]["proc"].log_path).read_text()
    assert log.count("Traceback") == log.count("wsgiutils: error in the application"), log


# -- request bodies the application does not read ------------------------------------------

@pytest.fixture(scope="module")
def big_servers(tmp_path_factory):
    """Both servers with their default limits (1 GiB bodies)."""
    started = {}
    try:
        for kind in SERVERS:
            started[kind] = start_server(kind, tmp_path_factory.mktemp(f"{kind}-big"), threads=4)
        yield started
    finally:
        for server in started.values():
            kill_group(server["proc"])


def upload(port: int, path: str, size: int) -> int:
    """POST ``size`` bytes with http.client; the status, or 0 if the answer was lost."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("POST", path, body=b"u" * size,
                     headers={"Content-Type": "application/octet-stream"})
        response = conn.getresponse()
        response.read()
        return response.status
    except OSError:
        return 0
    finally:
        conn.close()


def test_unread_upload_still_gets_its_answer(big_servers):
    results = {kind: [upload(server["port"], "/early", 20 * 1024 * 1024) for _ in range(10)]
               for kind, server in big_servers.items()}
    assert results["wsgiutils"] == [200] * 10, results
    assert results["wsgiutils"].count(200) >= results["waitress"].count(200), results


def test_upload_over_the_limit_gets_its_413(servers):
    results = {kind: [upload(server["port"], "/early", 20 * 1024 * 1024) for _ in range(10)]
               for kind, server in servers.items()}
    assert results["wsgiutils"] == [413] * 10, results
    assert results["wsgiutils"].count(413) >= results["waitress"].count(413), results


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


def huge_chunk_rss_growth(server: dict, megabytes: int) -> tuple:
    """(peak, after) RSS growth in MiB while one chunk declaring 1 GiB streams in."""
    pid = server["proc"].pid
    base = rss_kib(pid)
    peak = [base]
    done = threading.Event()

    def sample():
        while not done.wait(0.05):
            peak[0] = max(peak[0], rss_kib(pid))

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        with socket.create_connection(("127.0.0.1", server["port"]), timeout=30) as sock:
            sock.sendall(head(b"Host: x", b"Transfer-Encoding: chunked") + b"%x\r\n" % (1 << 30))
            block = b"z" * (1024 * 1024)
            for _ in range(megabytes):
                sock.sendall(block)
            time.sleep(0.5)
    finally:
        done.set()
        sampler.join()
    time.sleep(1.0)
    return (peak[0] - base) / 1024, (rss_kib(pid) - base) / 1024


def test_huge_chunk_does_not_fill_memory(big_servers):
    ours = huge_chunk_rss_growth(big_servers["wsgiutils"], 128)
    theirs = huge_chunk_rss_growth(big_servers["waitress"], 128)
    assert ours[0] < 48 and ours[1] < 48, (ours, theirs)
    assert ours[0] <= theirs[0] + 16, (ours, theirs)


# -- slowloris ---------------------------------------------------------------------------

@pytest.mark.parametrize("kind", SERVERS)
def test_slowloris_does_not_stop_service(kind, tmp_path):
    threads = 4
    server = start_server(kind, tmp_path / kind, threads=threads)
    port = server["port"]
    slow = []
    stop = threading.Event()
    try:
        for n in range(threads + 10):
            heads = socket.create_connection(("127.0.0.1", port), timeout=10)
            heads.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
            bodies = socket.create_connection(("127.0.0.1", port), timeout=10)
            bodies.sendall(head(b"Host: x", b"Content-Length: 1000000") + b"x")
            slow += [(heads, b"X-Drip-%d: y\r\n" % n), (bodies, b"x")]

        def dripping():
            while not stop.wait(1.0):
                for sock, piece in slow:
                    with contextlib.suppress(OSError):
                        sock.send(piece[:1])

        dripper = threading.Thread(target=dripping)
        dripper.start()
        time.sleep(1.5)  # every slow connection has been read from
        answered = []
        for _ in range(3):
            start = time.monotonic()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            try:
                conn.request("GET", "/echo")
                response = conn.getresponse()
                answered.append((response.status, time.monotonic() - start))
            except OSError as exc:
                answered.append((repr(exc), time.monotonic() - start))
            finally:
                conn.close()
        assert [status for status, _ in answered] == [200, 200, 200], answered
        assert all(seconds < 5 for _, seconds in answered), answered
    finally:
        stop.set()
        for sock, _ in slow:
            sock.close()
        kill_group(server["proc"])


# -- stopping -----------------------------------------------------------------------------

def serve_paster(tmp_path: Path, kind: str, extra: str = "", args=()) -> tuple:
    write(tmp_path / "adversarial_app.py", APP_SOURCE)
    port = free_port()
    use = "PasteScript#wsgiutils" if kind == "wsgiutils" else "waitress#main"
    config = write(tmp_path / "site.ini", f"""
        [app:main]
        use = call:adversarial_app:make_app

        [server:main]
        use = egg:{use}
        host = 127.0.0.1
        port = {port}
        {extra}
        """)
    env = paster_env(PYTHONPATH=os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen([sys.executable, "-m", "paste.script", "serve", *args, str(config)],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    wait_for_port(port, proc=proc)
    return proc, port


def request_in_background(port: int, path: str) -> tuple:
    result = {}

    def run():
        result["reply"] = send(port, head(b"Host: x", method=b"GET", target=path.encode()),
                               wait=60, linger=0.5)

    thread = threading.Thread(target=run)
    thread.start()
    time.sleep(0.5)  # the request is with the application
    return thread, result


def stop(proc, signals, gap=0.3, timeout=30) -> tuple:
    start = time.monotonic()
    for number, sig in enumerate(signals):
        if number:
            time.sleep(gap)
        if proc.poll() is None:
            proc.send_signal(sig)
    try:
        proc.wait(timeout)
    finally:
        output = kill_group(proc)
    return proc.returncode, time.monotonic() - start, output


@pytest.mark.parametrize("kind", SERVERS)
def test_stop_lets_a_request_in_flight_finish(kind, tmp_path):
    proc, port = serve_paster(tmp_path, kind)
    thread, result = request_in_background(port, "/slow?1.5")
    code, seconds, output = stop(proc, [signal.SIGTERM])
    thread.join(60)
    assert result["reply"].status == 200, (result, output)
    assert code == 0, output


def serve_runner(tmp_path: Path, ignore_sigint: bool = False, **options) -> tuple:
    """The wsgiutils runner on its own, as a script calling ``run_server`` runs it."""
    write(tmp_path / "adversarial_app.py", APP_SOURCE)
    port = free_port()
    code = ("import signal, sys\n"
            + ("signal.signal(signal.SIGINT, signal.SIG_IGN)\n" if ignore_sigint else "")
            + "from adversarial_app import app\n"
            "from paste.script.wsgiutils_server import run_server\n"
            f"run_server(app, {{}}, host='127.0.0.1', port='{port}', **{options!r})\n")
    env = paster_env(PYTHONPATH=os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    wait_for_port(port, proc=proc)
    return proc, port


def test_stop_that_cuts_requests_exits_non_zero(tmp_path):
    proc, port = serve_runner(tmp_path, shutdown_timeout="1")
    thread, result = request_in_background(port, "/slow?20")
    code, seconds, output = stop(proc, [signal.SIGTERM])
    thread.join(60)
    assert code == 1 and seconds < 10, (code, seconds, output)
    assert result["reply"].status is None and result["reply"].closed, result
    assert "request(s) in flight" in output and "Traceback" not in output


def test_paster_serve_stop_that_cuts_requests_exits_non_zero(tmp_path):
    # Under paster serve the monitor stops its workers: --graceful-timeout.
    proc, port = serve_paster(tmp_path, "wsgiutils", args=["--graceful-timeout=1"])
    thread, result = request_in_background(port, "/slow?20")
    code, seconds, output = stop(proc, [signal.SIGTERM])
    thread.join(60)
    assert code == 1 and seconds < 10, (code, seconds, output)
    assert result["reply"].status is None and result["reply"].closed, result
    assert "request(s) in flight cut after the graceful timeout" in output
    assert "Traceback" not in output


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
@pytest.mark.parametrize("how", ["runner", "paster"])
def test_a_second_signal_stops_at_once(tmp_path, sig, how):
    if how == "runner":
        proc, port = serve_runner(tmp_path, shutdown_timeout="60")
    else:
        proc, port = serve_paster(tmp_path, "wsgiutils", args=["--graceful-timeout=60"])
    thread, result = request_in_background(port, "/slow?30")
    code, seconds, output = stop(proc, [sig, sig])
    thread.join(60)
    assert code == 1 and seconds < 10, (code, seconds, output)
    assert result["reply"].status is None, result
    assert "Traceback" not in output


def test_an_ignored_sigint_stays_ignored(tmp_path):
    # A process started with SIGINT ignored (nohup, a background job) meant
    # it: Ctrl-C plus SIGTERM must be one stop, not a forced one.
    proc, port = serve_runner(tmp_path, ignore_sigint=True)
    thread, result = request_in_background(port, "/slow?1.5")
    code, seconds, output = stop(proc, [signal.SIGINT, signal.SIGTERM])
    thread.join(60)
    assert result["reply"].status == 200, (result, output)
    assert code == 0, output
