"""The HTTP runners (wsgiutils, cherrypy, twisted) answering real clients on loopback."""
from __future__ import annotations

import asyncio
import http.client
import json
import os
import signal
import socket
import ssl
import subprocess
import time

import pytest

from tests.runner_support import (
    HELLO, kill_group, load, output_of, start_runner, wait_for_output, write_config)
from tests.serving_support import KeepAliveClient
from tests.support import free_port, http_get, read_to_close

RUNNERS = ["wsgiutils", "cherrypy", "twisted"]


@pytest.fixture(scope="module", params=RUNNERS)
def server(request, tmp_path_factory):
    """One running server per runner, shared by the tests of this module."""
    name = request.param
    directory = tmp_path_factory.mktemp(name)
    port = free_port()
    config = write_config(directory, f"""
        use = egg:PasteScript#{name}
        host = 127.0.0.1
        port = {port}
        """)
    proc = start_runner(config, wait_port=port)
    yield {"name": name, "port": port, "proc": proc, "dir": directory}
    output = kill_group(proc)
    assert proc.returncode is not None, output


def url(server, path="/"):
    return f"http://127.0.0.1:{server['port']}{path}"


def test_get(server):
    status, headers, body = http_get(url(server))
    assert status == 200
    assert body == HELLO
    assert headers["Content-Type"] == "text/plain"


def test_query_string_and_path(server):
    status, _, body = http_get(url(server, "/echo?a=1&b=%20x"))
    data = json.loads(body)
    assert status == 200
    assert data["path"] == "/echo"
    assert data["query"] == "a=1&b=%20x"
    assert data["method"] == "GET"


def test_post_with_body(server):
    payload = bytes(range(256)) * 400  # 100 KiB with every byte value
    status, _, body = http_get(url(server, "/echo"), data=payload,
                               headers={"Content-Type": "application/octet-stream",
                                        "X-Custom": "yes"})
    data = json.loads(body)
    assert status == 200
    assert data["method"] == "POST"
    assert data["length"] == len(payload)
    assert data["body"].encode("latin-1") == payload
    assert data["content_type"] == "application/octet-stream"
    assert data["headers"]["HTTP_X_CUSTOM"] == "yes"


def test_keep_alive(server):
    conn = http.client.HTTPConnection("127.0.0.1", server["port"], timeout=10)
    try:
        conn.request("GET", "/")
        resp = conn.getresponse()
        assert resp.read() == HELLO
        sock = conn.sock
        assert sock is not None, "the server closed a keep-alive connection"
        for n in range(20):
            conn.request("POST" if n % 2 else "GET", "/echo", body=b"x" * n)
            resp = conn.getresponse()
            assert resp.status == 200
            assert json.loads(resp.read())["length"] == n
            assert conn.sock is sock, "the connection was not kept alive"
    finally:
        conn.close()


def test_large_response(server):
    size = 8 * 1024 * 1024 + 17
    status, headers, body = http_get(url(server, f"/big?n={size}"), timeout=30)
    assert status == 200
    assert int(headers["Content-Length"]) == size
    assert body == bytes(range(256)) * (size // 256) + b"x" * (size % 256)


def test_streamed_response_without_length(server):
    status, _, body = http_get(url(server, "/stream?n=300"))
    assert status == 200
    assert len(body) == 300 * 1000
    assert body[:4] == b"0000" and body[-1000:-996] == b"0299"


def test_chunked_request(server):
    conn = http.client.HTTPConnection("127.0.0.1", server["port"], timeout=10)
    try:
        chunks = [b"first,", b"x" * 70000, b",last"]
        conn.request("POST", "/echo", body=iter(chunks), encode_chunked=True,
                     headers={"Transfer-Encoding": "chunked"})
        resp = conn.getresponse()
        data = json.loads(resp.read())
        assert resp.status == 200
        assert data["body"] == "first," + "x" * 70000 + ",last"
        # and the connection still works for the next request
        conn.request("GET", "/")
        assert conn.getresponse().read() == HELLO
    finally:
        conn.close()


def test_head(server):
    conn = http.client.HTTPConnection("127.0.0.1", server["port"], timeout=10)
    try:
        for _ in range(20):  # a stray body shows up only when it beats the next request
            conn.request("HEAD", "/big?n=5000")
            resp = conn.getresponse()
            assert resp.status == 200
            assert resp.read() == b""
            assert resp.getheader("Content-Length") == "5000"
            # A body sent after the HEAD response would be read as this response.
            conn.request("GET", "/")
            resp = conn.getresponse()
            assert resp.status == 200
            assert resp.read() == HELLO
    finally:
        conn.close()


def test_application_error_is_a_500(server):
    status, _, _ = http_get(url(server, "/error"))
    assert status == 500
    assert http_get(url(server))[2] == HELLO


def test_client_disconnects_mid_request(server):
    port = server["port"]
    # The body is announced but never fully sent.
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" + b"a" * 10)
    # Half a request head.
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHo")
    # A large response the client stops reading.
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(b"GET /big?n=50000000 HTTP/1.1\r\nHost: x\r\n\r\n")
        s.recv(1000)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    time.sleep(0.2)
    assert server["proc"].poll() is None
    for _ in range(5):
        assert http_get(url(server))[2] == HELLO


def test_200_concurrent_connections(server):
    port = server["port"]

    async def one(results):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        results.append((reader, writer))

    async def run():
        opened = []
        await asyncio.gather(*(one(opened) for _ in range(200)))
        assert len(opened) == 200
        for _, writer in opened:  # every connection is open before any request
            writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        replies = await asyncio.wait_for(
            asyncio.gather(*(reader.read() for reader, _ in opened)), 60)
        for _, writer in opened:
            writer.close()
        return replies

    replies = asyncio.run(run())
    assert len(replies) == 200
    for reply in replies:
        assert reply.startswith(b"HTTP/1.1 200"), reply[:100]
        assert reply.endswith(HELLO)


def test_load_10000_requests_64_connections(server):
    stats = load(server["port"], total=10_000, concurrency=64)
    assert stats["errors"] == 0, stats["bad"]
    assert stats["ok"] == 10_000


# -- runner-specific behaviour ----------------------------------------------

@pytest.fixture
def certificate(tmp_path):
    """A self-signed certificate and key for 127.0.0.1, made with openssl."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key


def test_cherrypy_https(tmp_path, certificate):
    cert, key = certificate
    port = free_port()
    config = write_config(tmp_path, f"""
        use = egg:PasteScript#cherrypy
        host = 127.0.0.1
        port = {port}
        numthreads = 4
        ssl_certificate = {cert}
        ssl_private_key = {key}
        """)
    proc = start_runner(config, wait_port=port)
    try:
        context = ssl.create_default_context(cafile=str(cert))
        conn = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=10)
        conn.request("POST", "/echo?secure=1", body=b"over tls")
        resp = conn.getresponse()
        data = json.loads(resp.read())
        assert resp.status == 200
        assert data["body"] == "over tls"
        conn.request("GET", "/environ")
        environ = json.loads(conn.getresponse().read())
        assert environ["wsgi.url_scheme"] == "https"
        conn.close()
        # Plain HTTP on the TLS port never reaches the application. The TLS
        # handshake fails on it, Python's ssl closes the socket with the
        # request unread (the client gets a reset, and cheroot's 400 page
        # has nowhere to go), and cheroot logs why.
        with socket.create_connection(("127.0.0.1", port), timeout=10) as plain:
            plain.sendall(b"GET /environ HTTP/1.1\r\nHost: x\r\n\r\n")
            with pytest.raises(ConnectionResetError):
                plain.recv(4096)
        refused = "attempted to speak plain HTTP into a TCP connection configured for TLS-only"
        wait_for_output(proc, refused)
    finally:
        output = kill_group(proc)
    assert "serving on https://127.0.0.1:" in output
    assert output.count(refused) == 1, output


@pytest.mark.parametrize("name", RUNNERS)
def test_sigterm_lets_requests_in_flight_finish(tmp_path, name):
    port = free_port()
    config = write_config(tmp_path, f"""
        use = egg:PasteScript#{name}
        host = 127.0.0.1
        port = {port}
        """)
    proc = start_runner(config, wait_port=port)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"GET /slow?t=1 HTTP/1.1\r\nHost: x\r\n\r\n")
            time.sleep(0.3)  # the request is running in the application
            proc.terminate()
            reply = b""
            while b"slept" not in reply:
                chunk = s.recv(4096)
                if not chunk:
                    break
                reply += chunk
        assert reply.startswith(b"HTTP/1.1 200"), reply
        assert reply.endswith(b"slept")
        proc.wait(15)
        assert proc.returncode == 0, output_of(proc)
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
    finally:
        kill_group(proc)


@pytest.mark.parametrize("name", RUNNERS)
def test_port_in_use_names_the_address(tmp_path, name):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        config = write_config(tmp_path, f"""
            use = egg:PasteScript#{name}
            host = 127.0.0.1
            port = {port}
            """)
        proc = start_runner(config)
        try:
            proc.wait(20)
        finally:
            output = kill_group(proc)
    assert proc.returncode not in (0, None)
    assert f"Cannot listen on 127.0.0.1:{port}: the address is already in use" in output


@pytest.mark.parametrize("name,option,value", [
    ("wsgiutils", "port", "abc"), ("wsgiutils", "threads", "many"),
    ("cherrypy", "numthreads", "x"), ("cherrypy", "timeout", "soon"),
    ("twisted", "port", "99999"), ("twisted", "threads", "1.5"),
])
def test_bad_option_value_names_the_option(name, option, value):
    from paste.script.util.options import OptionError
    from tests.runner_support import runner_entry_point
    runner = runner_entry_point(name)
    with pytest.raises(OptionError) as info:
        runner(lambda environ, start_response: [], {}, host="127.0.0.1", **{option: value})
    message = str(info.value)
    assert option in message and value in message
    assert "\n" not in message


@pytest.mark.parametrize("name", RUNNERS)
def test_unknown_option_is_an_error(name):
    from paste.script.util.options import OptionError
    from tests.runner_support import runner_entry_point
    with pytest.raises(OptionError, match="thread_count.*unknown option"):
        runner_entry_point(name)(lambda e, s: [], {}, thread_count="4")


@pytest.mark.parametrize("name,hidden,extra,package", [
    ("cherrypy", "cheroot", "cherrypy", "cheroot"),
    ("twisted", "twisted", "twisted", "Twisted"),
])
def test_missing_package_names_the_extra(tmp_path, name, hidden, extra, package):
    """With the package hidden from the import system, the runner says what to install."""
    from tests.runner_support import runner_env
    from tests.support import PYTHON
    code = (
        "import sys\n"
        "class Hide:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        f"        if name == {hidden!r} or name.startswith({hidden + '.'!r}):\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, Hide())\n"
        "from tests.runner_support import runner_entry_point\n"
        "try:\n"
        f"    runner_entry_point({name!r})(lambda e, s: [], {{}}, port='0')\n"
        "except ImportError as exc:\n"
        "    print(type(exc).__name__, exc.extra, exc)\n"
    )
    result = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True,
                            env=runner_env(tmp_path), timeout=30)
    assert result.stdout.strip() == (
        f"MissingExtraError {extra} The {name} server needs {package}, which is not installed: "
        f'pip install "PasteScript[{extra}]"'), result.stderr


# -- under the serving engine's hooks -------------------------------------------
#
# tests.runner_support.EngineHarness plays paster serve's engine as the hooks
# of paste.script.serving document it: the runner must serve the socket
# listen() gives, accept nothing before ready() returns, leave SIGTERM alone,
# and, told to stop, finish its requests, close its keep-alive connections,
# return, and leave the shared socket as it found it.

def _read_response(sock: socket.socket) -> bytes:
    """One response with a Content-Length, read from a kept-alive connection."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:")))
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


@pytest.mark.parametrize("order", ["release-first", "callbacks-first"])
@pytest.mark.parametrize("name", ["cherrypy", "twisted"])
def test_runner_on_the_engines_socket_stops_gracefully(tmp_path, name, order):
    from tests.runner_support import EngineHarness
    with socket.socket() as taken:             # the configured port: binding it would fail
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        config = write_config(tmp_path, f"""
            use = egg:PasteScript#{name}
            host = 127.0.0.1
            port = {taken.getsockname()[1]}
            shutdown_timeout = 20
            """)
        harness = EngineHarness(config, order)
        try:
            assert harness.ready() == ("pending", "signals-untouched")
            harness.send("go")
            idle = socket.create_connection(("127.0.0.1", harness.port), timeout=10)
            idle.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            reply = _read_response(idle)
            assert reply.startswith(b"HTTP/1.1 200") and reply.endswith(HELLO), reply
            busy = socket.create_connection(("127.0.0.1", harness.port), timeout=10)
            busy.sendall(b"GET /slow?t=1 HTTP/1.1\r\nHost: x\r\n\r\n")
            harness.out.wait_for(r"^slow request started in \d+$")
            assert harness.stop() == 1
            late = socket.create_connection(("127.0.0.1", harness.port), timeout=10)
            assert read_to_close(idle, timeout=10) == b""           # closed while idle
            answer = read_to_close(busy, timeout=10)
            assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"slept"), answer
            assert b"\r\nconnection: close\r\n" in answer.lower()
            # Only the test's late connection waits on the shared socket: the
            # runner accepted nothing after its stop, and its own wake-up (cheroot
            # connects to its socket) went elsewhere; the socket still listens,
            # non-blocking.
            assert harness.returned() == {"pending": 1, "listening": True,
                                          "nonblocking": True, "children": []}
            assert harness.proc.wait(10) == 0
            late.close()
            idle.close()
            busy.close()
        finally:
            output = harness.close()
    assert "Traceback" not in output, output


def test_cheroot_prepare_binds_through_the_public_bind_method():
    """cheroot has no option for a socket bound elsewhere: the runner overrides
    its public ``bind()``, which ``prepare()`` calls. Fails if cheroot changes that."""
    from cheroot import wsgi
    from paste.script import serving
    from paste.script.cherrypy_server import _server_class

    given = []

    class Engine(serving.Standalone):
        def listen(self, address, backlog=1024, mode=None):
            given.append(super().listen(("127.0.0.1", 0), backlog, mode))
            return given[-1]

    serving.use_engine(Engine())
    try:
        server = _server_class(wsgi)(("127.0.0.1", 1), lambda e, s: [])
        server.prepare()
        try:
            assert given and server.socket is given[0]
            assert server.bind_addr == given[0].getsockname()[:2]
        finally:
            server.stop()
    finally:
        serving.use_engine(serving.Standalone())


class KeepAliveLoad:
    """``clients`` :class:`~tests.serving_support.KeepAliveClient` asking for
    ``/echo`` back to back; every failure counts, an answer other than 200
    too."""

    def __init__(self, port: int, clients: int = 8):
        self.threads = [KeepAliveClient(port, "/echo", pause=0, timeout=20)
                        for _ in range(clients)]
        for thread in self.threads:
            thread.start()

    @property
    def answers(self) -> list[str]:
        """The bodies of the 200 answers, in the order they came."""
        timed = sorted((when, body) for client in self.threads
                       for when, body in client.answers if body is not None)
        return [body for _, body in timed]

    @property
    def failures(self) -> list[str]:
        failed = [f"HTTP answer {when:.3f}" for client in self.threads
                  for when, body in client.answers if body is None]
        return [error for client in self.threads for error in client.errors] + failed

    @property
    def told_to_close(self) -> int:
        return sum(client.told_to_close for client in self.threads)

    @property
    def reconnect(self) -> bool:
        return all(client.reconnect for client in self.threads)

    @reconnect.setter
    def reconnect(self, value: bool) -> None:
        for client in self.threads:     # False: a client whose connection ends stops
            client.reconnect = value

    def wait_for_answers(self, count: int, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.answers) < count:
            assert time.monotonic() < deadline, (len(self.answers), self.failures[:5])
            time.sleep(0.01)

    def stop(self) -> list[str]:
        for client in self.threads:
            client.done.set()
        return self.finish()

    def finish(self, timeout: float = 30.0) -> list[str]:
        """Wait for every client to end; return the failures."""
        for thread in self.threads:
            thread.join(timeout)
        assert not any(thread.is_alive() for thread in self.threads)
        return self.failures


@pytest.mark.parametrize("name", ["cherrypy", "twisted"])
def test_stop_moves_keep_alive_clients_after_an_answer(tmp_path, name):
    """Under the engine's stop, clients sending back to back on kept-alive
    connections each get one last complete answer saying Connection: close:
    none is cut in the middle of a request."""
    from tests.runner_support import EngineHarness
    config = write_config(tmp_path, f"""
        use = egg:PasteScript#{name}
        host = 127.0.0.1
        port = 0
        """)
    harness = EngineHarness(config)
    clients = None
    try:
        harness.ready()
        harness.send("go")
        clients = KeepAliveLoad(harness.port)
        clients.wait_for_answers(300)
        clients.reconnect = False
        harness.stop()
        # A connection waiting on the shared socket, as clients moving to the
        # new workers make: the old worker, which can no longer take it, must
        # still answer its keep-alive clients.
        late = socket.create_connection(("127.0.0.1", harness.port), timeout=10)
        failures = clients.finish()
        late.close()
        assert not failures, f"{len(failures)} of {len(clients.answers)} failed: {failures[:5]}"
        assert clients.told_to_close == len(clients.threads)
        assert harness.returned()["pending"] == 1
        assert harness.proc.wait(10) == 0
    finally:
        if clients is not None:
            clients.stop()
        output = harness.close()
    assert "Traceback" not in output, output


# -- under paster serve ---------------------------------------------------------------

@pytest.mark.parametrize("name", ["cherrypy", "twisted"])
def test_hup_under_keep_alive_load_with_two_workers(tmp_path, name):
    """Keep-alive clients, back to back, across a reload: the old workers answer
    each client's next request with Connection: close and exit; no request fails."""
    from tests.runner_support import start_served
    from tests.serving_support import children, wait_gone
    port = free_port()
    config = write_config(tmp_path, f"""
        use = egg:PasteScript#{name}
        host = 127.0.0.1
        port = {port}
        """)
    proc = start_served(config, "--workers", "2", "--graceful-timeout", "5", wait_port=port)
    clients = None
    try:
        old = set(children(proc.pid))
        assert len(old) == 2
        clients = KeepAliveLoad(port)
        clients.wait_for_answers(200)
        proc.send_signal(signal.SIGHUP)
        # Each old worker exits once its clients moved to the new ones.
        gone = all(wait_gone(pid, timeout=10) for pid in old)
        clients.wait_for_answers(len(clients.answers) + 200)
        failures = clients.stop()
        assert gone, output_of(proc)
        assert not failures, f"{len(failures)} of {len(clients.answers)} failed: {failures[:5]}"
        pids = {json.loads(body)["pid"] for body in clients.answers[-100:]}
        assert pids and not pids & old
    finally:
        if clients is not None:
            clients.stop()
        output = kill_group(proc)
    assert "Traceback" not in output, output


def _signal_thread(pid: int, tid: int, signum: int) -> None:
    """Send ``signum`` to one thread of ``pid`` (tgkill), as the kernel may
    choose it for a signal sent to the whole process."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.syscall(234, pid, tid, signum) != 0:      # SYS_tgkill on x86-64
        raise OSError(ctypes.get_errno(), f"tgkill({pid}, {tid}, {signum})")


@pytest.mark.parametrize("name", ["wsgiutils", "twisted"])   # cheroot has no second signal
def test_a_signal_the_kernel_gives_to_another_thread_stops_the_server(tmp_path, name):
    # Python runs handlers in the main thread only, once it runs again. The
    # kernel gives a process's signal to another thread when the main one
    # has one pending (Ctrl-C twice, SIGINT then SIGTERM): a main thread
    # asleep in epoll_wait or on a lock then slept through it, and twisted
    # once took the whole shutdown timeout to stop in CI. Both signals go
    # here to a thread that is not the main one.
    port = free_port()
    config = write_config(tmp_path, f"""
        use = egg:PasteScript#{name}
        host = 127.0.0.1
        port = {port}
        shutdown_timeout = 60
        """)
    proc = start_runner(config, wait_port=port)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"GET /slow?t=60 HTTP/1.1\r\nHost: x\r\n\r\n")
            wait_for_output(proc, "slow request started in")
            other = max(int(tid) for tid in os.listdir(f"/proc/{proc.pid}/task")
                        if int(tid) != proc.pid)
            _signal_thread(proc.pid, other, signal.SIGINT)
            time.sleep(0.5)
            _signal_thread(proc.pid, other, signal.SIGTERM)
            try:
                proc.wait(10)     # not the 60 s the request would take
            except subprocess.TimeoutExpired:
                raise AssertionError("no stop 10 s after two signals") from None
    finally:
        kill_group(proc)


@pytest.mark.parametrize("name,threads_option", [("cherrypy", "numthreads"),
                                                 ("twisted", "threads")])
def test_the_engine_reads_the_runners_options_and_thread_count(name, threads_option):
    from paste.script.serving.runners import describe
    from tests.runner_support import runner_entry_point
    info = describe(runner_entry_point(name))
    assert info.takes("host") and info.takes(threads_option) and info.takes("shutdown_timeout")
    assert not info.takes("workers") and not info.takes("graceful_timeout")
    assert info.threads({}) == 10
    assert info.threads({threads_option: "4"}) == 4


def test_waitress_queue_warnings_one_a_second_and_none_made_between():
    # Under load waitress warns "Task queue depth is N" for nearly every
    # request: a filter that drops the records once made still cost a
    # quarter of a hello-world worker's time. Between two warnings the
    # records must not even be made.
    import logging

    from paste.script.serving.runners import QueueWarnings
    logger = logging.getLogger("tests.waitress.queue")
    logger.propagate = False
    shown = []
    handler = logging.Handler()
    handler.emit = lambda record: shown.append(record.getMessage())
    logger.addHandler(handler)
    logger.addFilter(QueueWarnings(logger, interval=0.3))
    made = []
    factory = logging.getLogRecordFactory()

    def counting_factory(*args, **kwargs):
        made.append(1)
        return factory(*args, **kwargs)
    logging.setLogRecordFactory(counting_factory)
    try:
        for _ in range(100):
            logger.warning("Task queue depth is %d", 2)
        assert len(made) == 1 and shown == ["Task queue depth is 2"]
        deadline = time.monotonic() + 5
        while logger.level != logging.NOTSET:       # the timer gives the level back
            assert time.monotonic() < deadline
            time.sleep(0.01)
        logger.warning("Task queue depth is %d", 3)
        assert shown[1] == "Task queue depth is 3 (one such warning a second at most)"
        assert len(made) == 2
    finally:
        logging.setLogRecordFactory(factory)
        logger.removeHandler(handler)
        logger.filters.clear()
        logger.setLevel(logging.NOTSET)


def test_stop_signals_calls_on_stop_for_each_signal_even_after_one_failed(capfd):
    # The relay thread outlives a stop that raises: a second Ctrl-C still works.
    import threading
    from paste.script.runners_common import stop_signals
    assert threading.current_thread() is threading.main_thread()
    calls = []
    second = threading.Event()

    def on_stop(signum):
        calls.append(signum)
        if len(calls) == 1:
            raise RuntimeError("the first stop fails")
        second.set()

    with stop_signals(on_stop):
        os.kill(os.getpid(), signal.SIGTERM)
        deadline = time.monotonic() + 5
        while not calls and time.monotonic() < deadline:
            time.sleep(0.01)
        os.kill(os.getpid(), signal.SIGINT)
        assert second.wait(5), calls
    assert calls == [signal.SIGTERM, signal.SIGINT]
    assert "the first stop fails" in capfd.readouterr().err
