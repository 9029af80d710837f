"""The wsgiutils runner: HTTP/1.1 details, the bounded pool, shutdown, and `paster serve`."""
from __future__ import annotations

import http.client
import json
import select
import socket
import threading
import time

import pytest

from paste.script.httpserver import Settings
from paste.script.wsgiutils_server import WSGIServer, make_server
from tests.runner_support import HELLO
from tests.support import (free_port, http_get, read_to_close, run_paster, start_paster, stop_process,
                           wait_for_port, write)


def app(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/slow":
        time.sleep(float(environ["QUERY_STRING"] or "0.5"))
    if path == "/stream":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return (b"part%d;" % i for i in range(3))
    if path == "/write":
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"written,")
        return [b"returned"]
    if path == "/short":  # promises more than it sends
        start_response("200 OK", [("Content-Length", "100")])
        return [b"only this"]
    if path == "/fail-late":
        def body():
            yield b"first"
            raise RuntimeError("after the headers")
        start_response("200 OK", [("Content-Type", "text/plain")])
        return body()
    if path == "/echo":
        length = int(environ.get("CONTENT_LENGTH") or 0)
        data = environ["wsgi.input"].read(length)
        out = {k: v for k, v in environ.items() if isinstance(v, str)}
        out["body"] = data.decode("latin-1")
        body = json.dumps(out).encode()
        start_response("200 OK", [("Content-Type", "application/json"),
                                  ("Content-Length", str(len(body)))])
        return [body]
    if path == "/big":  # one item, more than the kernel's socket buffers take at once
        body = b"0123456789abcdef" * (2 * 1024 * 1024)
        start_response("200 OK", [("Content-Length", str(len(body)))])
        return [body]
    if path == "/endless":  # a generator that never ends
        def forever():
            while True:
                yield b"e" * 65536
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return forever()
    if path == "/lines":
        lines = list(environ["wsgi.input"])
        body = json.dumps([line.decode() for line in lines]).encode()
        start_response("200 OK", [("Content-Length", str(len(body)))])
        return [body]
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "13")])
    return [HELLO]


def app_telling(started: threading.Event):
    """``app``, setting ``started`` when a request for /slow begins."""
    def wrapped(environ, start_response):
        if environ["PATH_INFO"] == "/slow":
            started.set()
        return app(environ, start_response)
    return wrapped


@pytest.fixture
def server(request):
    options = dict(getattr(request, "param", {}))
    poller = options.pop("_poller", None)
    settings = Settings.from_options({"host": "127.0.0.1", "port": 0, "threads": 4, **options})
    srv = WSGIServer(app, settings, poller=poller)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    assert srv.wait_stopped(15)
    thread.join(5)


def exchange(port, data: bytes, timeout=5.0) -> bytes:
    """Send ``data``, read until the server closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        return read_to_close(s)


def test_pipelined_requests_answer_in_order(server):
    reply = exchange(server.port, b"GET /echo?n=1 HTTP/1.1\r\nHost: x\r\n\r\n"
                                  b"GET /echo?n=2 HTTP/1.1\r\nHost: x\r\n\r\n"
                                  b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert reply.count(b"HTTP/1.1 200 OK") == 3
    assert reply.index(b'"QUERY_STRING": "n=1"') < reply.index(b'"QUERY_STRING": "n=2"')
    assert reply.endswith(HELLO)


def test_http10_closes_unless_keep_alive_asked(server):
    reply = exchange(server.port, b"GET / HTTP/1.0\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 200 OK") and b"Connection: close" in reply
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        s.sendall(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        first = s.recv(65536)
        assert b"Connection: keep-alive" in first and first.endswith(HELLO)
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        assert s.recv(65536).endswith(HELLO)


def test_streamed_response_is_chunked_for_http11_and_closed_for_http10(server):
    reply = exchange(server.port, b"GET /stream HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    head, _, body = reply.partition(b"\r\n\r\n")
    assert b"Transfer-Encoding: chunked" in head
    assert body == b"6\r\npart0;\r\n6\r\npart1;\r\n6\r\npart2;\r\n0\r\n\r\n"
    reply = exchange(server.port, b"GET /stream HTTP/1.0\r\n\r\n")
    head, _, body = reply.partition(b"\r\n\r\n")
    assert b"chunked" not in head and body == b"part0;part1;part2;"


def test_write_callable(server):
    status, _, body = http_get(f"http://127.0.0.1:{server.port}/write")
    assert status == 200 and body == b"written,returned"


def test_expect_100_continue(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        s.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                  b"Expect: 100-continue\r\n\r\n")
        assert s.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
        s.sendall(b"hello")
        reply = s.recv(65536)
    assert reply.startswith(b"HTTP/1.1 200 OK")
    assert json.loads(reply.partition(b"\r\n\r\n")[2])["body"] == "hello"


def test_chunked_request_gets_a_content_length(server):
    reply = exchange(server.port, b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                                  b"Connection: close\r\n\r\n"
                                  b"5;ext=1\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nTrailer: x\r\n\r\n")
    data = json.loads(reply.partition(b"\r\n\r\n")[2])
    assert data["body"] == "hello world"
    assert data["CONTENT_LENGTH"] == "11"
    assert "HTTP_TRANSFER_ENCODING" not in data


def test_input_iterates_by_line(server):
    body = b"one\ntwo\nthree"
    reply = exchange(server.port, b"POST /lines HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                                  b"Content-Length: %d\r\n\r\n" % len(body) + body)
    assert json.loads(reply.partition(b"\r\n\r\n")[2]) == ["one\n", "two\n", "three"]


def test_environ_details(server):
    # /ech%6F is /echo in PATH_INFO (the app routes on it), and stays raw in REQUEST_URI.
    reply = exchange(server.port, b"GET /ech%6F?q=%20#frag HTTP/1.1\r\nHost: example\r\n"
                                  b"X-One: a\r\nX-One: b\r\nX_Sneaky: no\r\n"
                                  b"Connection: close\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 200 OK"), reply[:200]
    data = json.loads(reply.partition(b"\r\n\r\n")[2])
    assert data["PATH_INFO"] == "/echo"
    assert data["QUERY_STRING"] == "q=%20"
    assert data["REQUEST_URI"] == "/ech%6F?q=%20"  # the fragment is never passed on
    assert data["HTTP_X_ONE"] == "a,b"
    assert "HTTP_X_SNEAKY" not in data  # underscores would impersonate dashes
    assert data["SERVER_PORT"] == str(server.port)
    assert data["REMOTE_ADDR"] == "127.0.0.1"
    assert data["wsgi.url_scheme"] == "http"


def test_path_info_is_decoded_as_latin1(server):
    def capture(environ, start_response):
        start_response("200 OK", [("Content-Length", str(len(environ["PATH_INFO"].encode("latin-1"))))])
        return [environ["PATH_INFO"].encode("latin-1")]
    server.app = capture
    reply = exchange(server.port, b"GET /caf%C3%A9%20x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert reply.partition(b"\r\n\r\n")[2] == "/café x".encode("utf-8")


@pytest.mark.parametrize("request_bytes,status", [
    (b"NONSENSE\r\n\r\n", b"400"),
    (b"GET / HTTP/2.0\r\n\r\n", b"505"),
    (b"POST / HTTP/1.1\r\nContent-Length: ten\r\n\r\n", b"400"),
    (b"POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", b"400"),
    (b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", b"501"),
    (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", b"400"),
    (b"GET / HTTP/1.1\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n", b"431"),
    (b"GET / HTTP/1.1\r\nBadHeader\r\n\r\n", b"400"),
])
def test_bad_requests_get_a_clear_status_and_close(server, request_bytes, status):
    reply = exchange(server.port, request_bytes)
    assert reply.startswith(b"HTTP/1.1 " + status), reply[:200]
    assert b"Connection: close" in reply


def test_broken_responses_close_the_connection(server):
    reply = exchange(server.port, b"GET /short HTTP/1.1\r\nHost: x\r\n\r\n")
    assert reply.endswith(b"only this")  # then the server closed: no hanging client
    reply = exchange(server.port, b"GET /fail-late HTTP/1.1\r\nHost: x\r\n\r\n")
    assert b"first" in reply and not reply.endswith(b"0\r\n\r\n")
    assert http_get(f"http://127.0.0.1:{server.port}/")[2] == HELLO


@pytest.mark.parametrize("server", [{"threads": 2}], indirect=True)
def test_pool_bounds_requests_but_not_idle_connections(server):
    port = server.port
    # Ten idle keep-alive connections must not hold the two workers.
    idle = []
    for _ in range(10):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert s.recv(65536).endswith(HELLO)
        idle.append(s)
    try:
        start = time.monotonic()
        assert http_get(f"http://127.0.0.1:{port}/", timeout=5)[2] == HELLO
        assert time.monotonic() - start < 1.0
        # Four slow requests on two workers take two rounds.
        results = []
        threads = [threading.Thread(target=lambda: results.append(
            http_get(f"http://127.0.0.1:{port}/slow?0.4", timeout=10)[0])) for _ in range(4)]
        start = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - start
        assert results == [200] * 4
        assert elapsed >= 0.75, elapsed
        # The idle connections still work afterwards.
        for s in idle:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert s.recv(65536).endswith(HELLO)
    finally:
        for s in idle:
            s.close()


@pytest.mark.parametrize("server", [{"channel_timeout": 1.0}], indirect=True)
def test_idle_connections_time_out(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert s.recv(65536).endswith(HELLO)
        start = time.monotonic()
        assert s.recv(100) == b""  # closed by the server
        assert 0.5 < time.monotonic() - start < 5


def test_shutdown_finishes_requests_in_flight():
    srv = make_server(app, host="127.0.0.1", port=0, threads=2)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
        s.sendall(b"GET /slow?0.5 HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.2)
        srv.shutdown()
        reply = s.recv(65536)
        assert reply.startswith(b"HTTP/1.1 200 OK")
        assert b"Connection: close" in reply
    assert srv.wait_stopped(10)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", srv.port), timeout=1).close()


def test_threads_must_be_positive():
    from paste.script.util.options import OptionError
    with pytest.raises(OptionError, match="'threads'"):
        make_server(app, host="127.0.0.1", port=0, threads=0)


# -- through paster serve ------------------------------------------------------

def serve_config(tmp_path, port, extra=""):
    return write(tmp_path / "site.ini", f"""
        [app:main]
        use = egg:PasteScript#test

        [server:main]
        use = egg:PasteScript#wsgiutils
        host = 127.0.0.1
        port = {port}
        {extra}
        """)


def test_paster_serve_runs_it(tmp_path):
    port = free_port()
    config = serve_config(tmp_path, port, "threads = 3")
    proc = start_paster("serve", str(config))
    try:
        wait_for_port(port, proc=proc)
        status, headers, body = http_get(f"http://127.0.0.1:{port}/check?x=1")
        assert status == 200
        assert b"<title>Test Application</title>" in body
        assert http_get(f"http://127.0.0.1:{port}/?error=true")[0] == 500
    finally:
        output = stop_process(proc)
    assert proc.returncode == 0, output
    assert f"serving on http://127.0.0.1:{port}" in output


def test_paster_serve_port_in_use_is_one_line(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = run_paster("serve", str(serve_config(tmp_path, port)), timeout=60)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout
    assert f"Cannot listen on 127.0.0.1:{port}: the address is already in use" in (
        result.stdout + result.stderr)


def test_paster_serve_bad_option_is_one_line(tmp_path):
    result = run_paster("serve", str(serve_config(tmp_path, free_port(), "threads = several")),
                        timeout=60)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "Traceback" not in output
    assert "'threads'" in output and "'several'" in output


@pytest.mark.parametrize("server", [{"request_header_timeout": 1.0}], indirect=True)
def test_a_trickling_request_head_is_cut_off(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(b"GET / HTTP/1.1\r\n")
        start = time.monotonic()
        for _ in range(40):  # one header line every 0.1 s, never the end
            s.sendall(b"X-A: b\r\n")
            if select.select([s], [], [], 0.1)[0]:
                break  # the server answered: stop before a write meets a closed socket
        reply = s.recv(65536)
        assert reply.startswith(b"HTTP/1.1 408"), reply
        assert time.monotonic() - start < 3.5


def test_ipv6_loopback():
    srv = make_server(app, host="::1", port=0, threads=2)
    assert srv.socket.family == socket.AF_INET6
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        with socket.create_connection(("::1", srv.port), timeout=5) as s:
            s.sendall(b"GET /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            reply = b""
            while chunk := s.recv(65536):
                reply += chunk
        assert json.loads(reply.partition(b"\r\n\r\n")[2])["REMOTE_ADDR"] == "::1"
    finally:
        srv.shutdown()
        assert srv.wait_stopped(10)


def test_file_wrapper_sends_files(server, tmp_path):
    import io
    import os
    data = os.urandom(3 * 1024 * 1024 + 11)
    path = tmp_path / "blob.bin"
    path.write_bytes(data)

    def files(environ, start_response):
        wrapper = environ["wsgi.file_wrapper"]
        if environ["PATH_INFO"] == "/memory":  # no fileno(): iterated, chunked
            start_response("200 OK", [("Content-Type", "application/octet-stream")])
            return wrapper(io.BytesIO(data), 100_000)
        f = open(path, "rb")
        f.seek(int(environ["QUERY_STRING"] or 0))
        headers = [("Content-Type", "application/octet-stream")]
        if environ["PATH_INFO"] == "/with-length":
            headers.append(("Content-Length", str(len(data) - f.tell())))
        start_response("200 OK", headers)
        return wrapper(f)

    server.app = files
    base = f"http://127.0.0.1:{server.port}"
    for path_info in ("/with-length", "/without-length", "/memory"):
        status, headers, body = http_get(base + path_info, timeout=30)
        assert status == 200 and body == data, path_info
    status, headers, body = http_get(base + "/with-length?1000", timeout=30)
    assert body == data[1000:] and headers["Content-Length"] == str(len(data) - 1000)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request("HEAD", "/without-length")
    resp = conn.getresponse()
    assert resp.read() == b"" and resp.getheader("Content-Length") == str(len(data))
    conn.request("GET", "/with-length?5")  # the connection is still in step
    assert conn.getresponse().read() == data[5:]
    conn.close()


# -- request bodies, 100-continue, pipelining -------------------------------------

def read_response(sock) -> bytes:
    """One response with a Content-Length, read whole and nothing more."""
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        byte = sock.recv(1)
        assert byte, head
        head += byte
    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    body = bytearray()
    while len(body) < length:
        chunk = sock.recv(min(1 << 20, length - len(body)))
        assert chunk, head
        body += chunk
    return head + body


def test_no_100_continue_for_a_body_over_the_limit():
    srv = make_server(app, host="127.0.0.1", port=0, threads=2, max_request_body_size=1000)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        reply = exchange(srv.port, b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n"
                                   b"Expect: 100-continue\r\n\r\n")
        assert reply.startswith(b"HTTP/1.1 413 "), reply
        assert b"100 Continue" not in reply and b"Connection: close" in reply
    finally:
        srv.shutdown()
        assert srv.wait_stopped(10)


def test_100_continue_comes_after_the_earlier_responses(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(b"GET /slow?0.3 HTTP/1.1\r\nHost: x\r\n\r\n"
                  b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                  b"Expect: 100-continue\r\n\r\n")
        first = read_response(s)
        assert first.startswith(b"HTTP/1.1 200 OK") and first.endswith(HELLO)
        assert s.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
        s.sendall(b"hello")
        reply = read_response(s)
    assert json.loads(reply.partition(b"\r\n\r\n")[2])["body"] == "hello"


def test_http10_gets_no_100_continue(server):
    reply = exchange(server.port, b"POST /echo HTTP/1.0\r\nContent-Length: 5\r\n"
                                  b"Expect: 100-continue\r\n\r\nhello")
    assert b"100 Continue" not in reply and reply.startswith(b"HTTP/1.1 200 OK")


def test_pipelining_is_bounded(server):
    from paste.script.httpserver.request import MAX_PIPELINE
    reply = exchange(server.port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" * (MAX_PIPELINE + 8))
    # The ones read ahead are answered, the last of them with Connection: close;
    # the client sends the rest again on a new connection (RFC 9112, 9.3.2).
    assert reply.count(b"HTTP/1.1 200 OK") == MAX_PIPELINE
    assert reply.count(b"Connection: close") == 1 and reply.endswith(HELLO)


def test_a_large_body_is_spooled_to_a_file(server):
    payload = bytes(range(256)) * 8192  # 2 MiB, past inbuf_overflow
    status, _, body = http_get(f"http://127.0.0.1:{server.port}/echo", data=payload, timeout=30)
    assert status == 200 and json.loads(body)["body"].encode("latin-1") == payload


# -- slow readers, limits -----------------------------------------------------------

def small_receive_buffer(port: int) -> socket.socket:
    """A connection whose client takes little before the server must queue."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before the handshake
    sock.settimeout(10)
    sock.connect(("127.0.0.1", port))
    return sock


def test_a_large_response_reaches_a_slow_reader(server):
    expected = b"0123456789abcdef" * (2 * 1024 * 1024)
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as s:
        s.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.5)  # the kernel's buffers are full, the loop holds the rest
        reply = read_response(s)
        assert reply.partition(b"\r\n\r\n")[2] == expected
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")  # still in step
        assert read_response(s).endswith(HELLO)


@pytest.mark.parametrize("server", [{"threads": 1, "send_timeout": 1.0,
                                     "outbuf_high_watermark": 65536}], indirect=True)
def test_a_client_that_never_reads_does_not_keep_the_worker(server):
    with small_receive_buffer(server.port) as stuck:
        stuck.sendall(b"GET /endless HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.5)
        start = time.monotonic()
        status, _, body = http_get(f"http://127.0.0.1:{server.port}/", timeout=15)
        # The only worker was waiting for the stuck client: it gave up after send_timeout.
        assert status == 200 and body == HELLO
        assert time.monotonic() - start < 8


@pytest.mark.parametrize("server", [{"send_timeout": 1.0}], indirect=True)
def test_a_queued_response_nobody_reads_is_dropped_after_send_timeout(server):
    with small_receive_buffer(server.port) as stuck:
        stuck.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
        deadline = time.monotonic() + 8
        while server.connections and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not server.connections  # closed by the loop; no worker waited for it


@pytest.mark.parametrize("server", [{"connection_limit": 3}], indirect=True)
def test_connection_limit_closes_idle_keep_alive_connections_first(server):
    idle = []
    try:
        for _ in range(3):
            s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert read_response(s).endswith(HELLO)
            idle.append(s)
        assert http_get(f"http://127.0.0.1:{server.port}/", timeout=10)[2] == HELLO
        closed = [s for s in idle if select.select([s], [], [], 2)[0] and s.recv(10) == b""]
        assert len(closed) >= 1
    finally:
        for s in idle:
            s.close()


def accept_queue(port: int) -> int:
    """Connections the kernel holds for the listener on 127.0.0.1:``port`` (proc(5))."""
    local = f"0100007F:{port:04X}"
    for line in open("/proc/net/tcp").read().splitlines()[1:]:
        fields = line.split()
        if fields[1] == local and fields[3] == "0A":  # LISTEN: rx_queue is the accept queue
            return int(fields[4].split(":")[1], 16)
    raise AssertionError(f"nothing listens on {local}")


def wait_until(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the server never got there"
        time.sleep(0.01)


@pytest.mark.parametrize("server", [{"connection_limit": 2}], indirect=True)
def test_connection_limit_holds_new_connections_in_the_backlog(server):
    busy = [socket.create_connection(("127.0.0.1", server.port), timeout=10) for _ in range(2)]
    try:
        for s in busy:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # unfinished heads: not idle
        wait_until(lambda: len(server.connections) == 2 and all(
            conn.reader.current is not None for conn in list(server.connections.values())))
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as waiting:
            waiting.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            # The server saw it, stopped listening, and the kernel holds it.
            wait_until(lambda: accept_queue(server.port) == 1 and not server.acceptor.accepting)
            assert len(server.connections) == 2
            busy.pop().close()
            assert read_to_close(waiting).endswith(HELLO)
        assert accept_queue(server.port) == 0
    finally:
        for s in busy:
            s.close()


@pytest.mark.parametrize("name,value", [
    ("max_request_body_size", "-1"), ("max_request_header_size", "10"),
    ("request_header_timeout", "0"), ("request_body_timeout", "soon"),
    ("channel_timeout", "-5"), ("send_timeout", "x"), ("connection_limit", "0"),
    ("outbuf_high_watermark", "lots"), ("inbuf_overflow", "1.5"),
])
def test_bad_limit_values_are_one_line_naming_the_option(name, value):
    from paste.script.util.options import OptionError
    from paste.script.wsgiutils_server import run_server
    with pytest.raises(OptionError) as info:
        run_server(app, {}, host="127.0.0.1", port="0", **{name: value})
    message = str(info.value)
    assert repr(name) in message and repr(value) in message and "\n" not in message


# -- the portable poller (kqueue/poll/select where there is no epoll) ------------------

@pytest.mark.parametrize("server", [{"_poller": "selectors"}], indirect=True)
def test_selectors_poller_serves_the_same(server):
    test_pipelined_requests_answer_in_order(server)
    test_chunked_request_gets_a_content_length(server)
    test_expect_100_continue(server)
    test_a_large_response_reaches_a_slow_reader(server)
    test_100_continue_comes_after_the_earlier_responses(server)


def test_a_sized_result_of_one_item_gets_a_content_length(server):
    class Wrapped:  # what a middleware such as the reloader's InFlight returns
        def __init__(self, items):
            self.items = items

        def __len__(self):
            return len(self.items)

        def __iter__(self):
            return iter(self.items)

    def wrapped(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return Wrapped([b"one item"])

    server.app = wrapped
    reply = exchange(server.port, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    head, _, body = reply.partition(b"\r\n\r\n")
    assert b"Content-Length: 8" in head and b"chunked" not in head and body == b"one item"


def test_docs_list_every_option_with_its_default():
    from tests.support import ROOT
    text = (ROOT / "docs" / "runners.rst").read_text()
    table = text[text.index("Options and limits"):text.index("What it refuses")]
    for name, default, _ in Settings.documented():
        if name in ("host", "port"):
            continue  # described with the example above the table
        rows = [line.split() for line in table.splitlines() if line.startswith(f"``{name}``")]
        assert rows, f"{name} is not in the table of docs/runners.rst"
        expected = f"{default:g}" if isinstance(default, float) else str(default)
        assert rows[0][1] == expected, (name, rows[0])


def test_file_wrapper_around_a_pipe_is_iterated(server):
    import os
    read_end, write_end = os.pipe()
    os.write(write_end, b"from a pipe")
    os.close(write_end)

    def piped(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return environ["wsgi.file_wrapper"](os.fdopen(read_end, "rb"))

    server.app = piped
    status, headers, body = http_get(f"http://127.0.0.1:{server.port}/", timeout=10)
    assert status == 200 and body == b"from a pipe"


def test_lingering_close_lasts_while_the_client_keeps_sending():
    # A client that keeps uploading after a 413 (for longer than the two
    # seconds of silence that end lingering) still reads its answer: no reset.
    srv = make_server(app, host="127.0.0.1", port=0, threads=2, max_request_body_size=1000)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
            s.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n")
            for _ in range(16):  # 4 s of sending, never silent for long
                s.sendall(b"u" * 65536)
                time.sleep(0.25)
            reply = s.recv(65536)
        assert reply.startswith(b"HTTP/1.1 413 ") and b"Connection: close" in reply, reply
    finally:
        srv.shutdown()
        assert srv.wait_stopped(10)


# -- threads: the leader runs requests, and hands the loop over ------------------------

def leading_threads() -> int:
    """Threads running the event loop right now, not an application (one while serving).

    A thread inside ``Crew._inline`` is not running the loop: it runs an
    application, or has just run one and is finding out whether it still
    leads (a thread taken over steps down from there).
    """
    import sys
    from paste.script.httpserver.crew import Crew
    from paste.script.httpserver.server import WSGIServer as Server
    count = 0
    for frame in sys._current_frames().values():
        while frame is not None:
            if frame.f_code in (Crew._call.__code__, Crew._inline.__code__):
                break  # running an application (or just ran one), whether it once led or not
            if frame.f_code is Server.lead.__code__:
                count += 1
                break
            frame = frame.f_back
    return count


@pytest.mark.parametrize("server", [{"threads": 2}], indirect=True)
def test_a_slow_application_does_not_hold_the_loop(server):
    # The leader runs /slow itself; the loop must go on without it.
    port = server.port
    started = threading.Event()
    server.app = app_telling(started)
    for _ in range(3):
        started.clear()
        with socket.create_connection(("127.0.0.1", port), timeout=10) as slow:
            slow.sendall(b"GET /slow?1 HTTP/1.1\r\nHost: x\r\n\r\n")
            assert started.wait(10)
            start = time.monotonic()
            assert http_get(f"http://127.0.0.1:{port}/", timeout=5)[2] == HELLO
            assert time.monotonic() - start < 0.5
            wait_until(lambda: leading_threads() == 1)  # another thread took the loop over
            assert server.crew.running == 1             # while /slow still runs
            assert read_response(slow).endswith(b"Hello, world!")
    wait_until(lambda: server.crew.running == 0)


@pytest.mark.parametrize("server", [{"threads": 3}], indirect=True)
def test_one_thread_leads_whatever_the_mix_of_requests(server):
    # Takeovers while fast requests keep coming: never two loops at once.
    port = server.port
    results = []

    def client(path, count):
        for _ in range(count):
            results.append(http_get(f"http://127.0.0.1:{port}{path}", timeout=20)[0])

    threads = [threading.Thread(target=client, args=("/slow?0.05", 10)) for _ in range(3)]
    threads += [threading.Thread(target=client, args=("/", 100)) for _ in range(3)]
    for thread in threads:
        thread.start()
    seen = set()
    while any(thread.is_alive() for thread in threads):
        seen.add(leading_threads())
        time.sleep(0.005)
    for thread in threads:
        thread.join()
    assert results == [200] * 330
    assert max(seen) == 1, seen  # 0 while the leader runs a request inline


def test_stop_closes_idle_connections_and_answers_the_others_with_connection_close():
    started = threading.Event()
    srv = make_server(app_telling(started), host="127.0.0.1", port=0, threads=3)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as idle, \
            socket.create_connection(("127.0.0.1", srv.port), timeout=10) as recent, \
            socket.create_connection(("127.0.0.1", srv.port), timeout=10) as busy:
        idle.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_response(idle).endswith(HELLO)
        time.sleep(1.2)                     # this client pauses: it is idle now
        recent.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_response(recent).endswith(HELLO)
        busy.sendall(b"GET /slow?2 HTTP/1.1\r\nHost: x\r\n\r\n")
        assert started.wait(10)
        srv.shutdown()
        assert idle.recv(10) == b""          # closed at once, while /slow still runs
        assert srv.crew.running == 1
        # A client that has just had an answer may be sending its next request
        # right now: it is answered, with Connection: close.
        recent.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        reply = read_to_close(recent)
        assert reply.startswith(b"HTTP/1.1 200 OK") and b"Connection: close" in reply
        reply = read_to_close(busy)         # its answer, then the end
        assert reply.startswith(b"HTTP/1.1 200 OK") and b"Connection: close" in reply
    assert srv.wait_stopped(10) and srv.requests_cut == 0


def test_a_keep_alive_answer_ending_after_the_stop_leaves_time_for_the_next_request():
    """The stop came while an answer was being sent, whose head kept the
    connection alive: the client's next request, sent a moment later, is answered (with
    Connection: close). Closing the connection as soon as the answer was
    sent reset that request: one cut request during a HUP."""
    started, finish = threading.Event(), threading.Event()

    def held(environ, start_response):
        start_response("200 OK", [("Content-Length", "13")])
        yield HELLO[:7]
        started.set()                        # the head is out, without Connection: close
        finish.wait(10)
        yield HELLO[7:]

    srv = make_server(held, host="127.0.0.1", port=0, threads=2)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as client:
        client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert started.wait(10)
        srv.shutdown()
        finish.set()
        first = read_response(client)
        assert first.endswith(HELLO) and b"Connection: close" not in first
        time.sleep(0.2)                      # the client takes a moment, as clients do
        client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        reply = read_to_close(client)
    assert reply.startswith(b"HTTP/1.1 200 OK") and b"Connection: close" in reply, reply
    assert srv.wait_stopped(10) and srv.requests_cut == 0


class RecordingEngine:
    """What paster serve's worker gives a runner, as :mod:`paste.script.serving` defines it."""

    pool_size = 1
    owns_signals = True

    def __init__(self):
        from paste.script.serving import Standalone
        self._standalone = Standalone()
        self.go = threading.Event()
        self.stop_callbacks = []

    def listen(self, address, backlog=1024, mode=None):
        return self._standalone.listen(address, backlog, mode)

    def ready(self):
        self.go.wait(10)

    def on_stop(self, callback):
        self.stop_callbacks.append(callback)


def test_the_runner_accepts_after_ready_and_stops_through_on_stop():
    from paste.script import serving
    from paste.script.serving import Standalone
    from paste.script.wsgiutils_server import run_server
    engine = RecordingEngine()
    port = free_port()
    serving.use_engine(engine)
    try:
        thread = threading.Thread(target=run_server, args=(app, {}),
                                  kwargs={"host": "127.0.0.1", "port": str(port)}, daemon=True)
        thread.start()
        wait_until(lambda: engine.stop_callbacks)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as early:
            early.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            wait_until(lambda: accept_queue(port) == 1)   # bound, not accepting yet
            engine.go.set()
            assert read_to_close(early).endswith(HELLO)
        engine.stop_callbacks[0]()           # from another thread, as the engine does
        thread.join(10)
        assert not thread.is_alive()
    finally:
        serving.use_engine(Standalone())


def test_a_request_sent_before_the_stop_is_answered():
    # The stop closes idle keep-alive connections, but reads them first: a
    # request already in the socket is served (with Connection: close if the
    # stop came first), then the connection closes.
    for _ in range(10):
        srv = make_server(app, host="127.0.0.1", port=0, threads=2)
        thread = threading.Thread(target=srv.serve_forever, daemon=True)
        thread.start()
        with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as client:
            client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert read_response(client).endswith(HELLO)
            client.sendall(b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n")  # on the loopback: there now
            srv.shutdown()
            reply = read_to_close(client)
        assert reply.startswith(b"HTTP/1.1 200 OK") and reply.endswith(b'"body": ""}'), reply
        assert srv.wait_stopped(10)


def compute(seconds: float) -> None:
    until = time.thread_time() + seconds
    while time.thread_time() < until:
        pass


@pytest.mark.parametrize("server", [{"threads": 2}], indirect=True)
def test_an_application_that_computes_long_does_not_hold_the_loop(server):
    started = threading.Event()

    def computing(environ, start_response):
        if environ["PATH_INFO"] == "/compute":
            started.set()
            compute(2.0)
        start_response("200 OK", [("Content-Length", "13")])
        return [HELLO]

    server.app = computing
    with socket.create_connection(("127.0.0.1", server.port), timeout=20) as busy:
        busy.sendall(b"GET /compute HTTP/1.1\r\nHost: x\r\n\r\n")
        assert started.wait(10)
        start = time.monotonic()
        assert http_get(f"http://127.0.0.1:{server.port}/", timeout=10)[2] == HELLO
        assert time.monotonic() - start < 1.2   # taken over after 20 ms, not after 2 s
        wait_until(lambda: server.crew.running == 1)  # /compute still runs
        assert read_response(busy).endswith(HELLO)


@pytest.mark.parametrize("server", [{"threads": 4}], indirect=True)
def test_applications_that_wait_run_side_by_side_and_those_that_compute_in_turn(server):
    def mixed(environ, start_response):
        if environ["PATH_INFO"] == "/wait":
            time.sleep(0.01)
        else:
            compute(0.002)
        start_response("200 OK", [("Content-Length", "13")])
        return [HELLO]

    server.app = mixed
    url = f"http://127.0.0.1:{server.port}"

    def load(path, count=64):
        threads = [threading.Thread(target=lambda: [http_get(url + path, timeout=20)
                                                    for _ in range(count // 8)])
                   for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    load("/wait")
    assert server.crew.waiting_share >= 0.5      # handed to the threads: a pool
    load("/compute")
    assert server.crew.waiting_share < 0.5       # back with the leader, in turn


def test_requests_queued_when_the_threads_turn_to_a_pool_are_taken_at_once():
    """Requests queued for the leader, when a measure turns the crew into a pool
    (the applications now wait), go to free threads without waiting for another
    request to arrive. They once waited for ever in a stopping worker, where
    none arrives: its keep-alive clients timed out during a HUP."""
    import queue
    from paste.script.httpserver.crew import Crew
    served = queue.Queue()
    stop = threading.Event()

    def lead():   # the event loop, reduced to what it does at every turn here
        time.sleep(0.3)               # the third thread has found nothing to do, and waits
        crew.jobs.append("queued")    # queued behind the leader's inline request ...
        crew.waiting_share = 1.0      # ... whose measure turned the crew to a pool
        while not stop.is_set():
            crew.run_queued(time.monotonic())
            stop.wait(0.05)
        return True

    crew = Crew(2, lead, lambda conn: served.put((conn, threading.current_thread().name)),
                busy=lambda: False, wake=lambda: None)
    crew.start()
    try:
        conn, thread = served.get(timeout=5)
    finally:
        stop.set()
        crew.stop(wait=5)
    assert conn == "queued" and thread.startswith("wsgiutils-")


def test_an_application_error_is_logged_with_the_path_only(server, caplog):
    # A query string may carry a token: the log names the path (as waitress does).
    def failing(environ, start_response):
        raise RuntimeError("the application fails")

    server.app = failing
    with caplog.at_level("ERROR", logger="paste.script.wsgiutils_server"):
        reply = exchange(server.port, b"GET /account?token=s3cret HTTP/1.1\r\nHost: x\r\n"
                                      b"Connection: close\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 500 ")
    messages = [record.getMessage() for record in caplog.records]
    assert any("GET /account" in message for message in messages), messages
    assert not any("s3cret" in message for message in messages), messages
