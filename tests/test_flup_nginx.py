"""flup's FastCGI and SCGI runners behind a real nginx, over TCP and Unix sockets.

The shared fronts run the runners under ``paster serve``; the tests of the
runner on its own (signals, errors, a socket on stdin) start it with
PasteDeploy alone.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import stat
import time
from pathlib import Path

import pytest

from tests.serving_support import wait_gone

from tests.runner_support import (
    FASTCGI_PARAMS, HELLO, SCGI_PARAMS, kill_group, load, nginx_error_log, output_of,
    runner_entry_point, start_nginx, start_runner, start_served, wait_for_output, wait_for_unix,
    write_config)
from tests.support import free_port, http_get, pid_alive

PAIRINGS = [(protocol, pool, transport)
            for protocol in ("fcgi", "scgi")
            for pool in ("thread", "fork")
            for transport in ("tcp", "unix")]


def _ids(value):
    return "-".join(value)


@pytest.fixture(scope="module", params=PAIRINGS, ids=_ids)
def front(request, tmp_path_factory):
    """nginx on a free port passing every request to one flup runner."""
    protocol, pool, transport = request.param
    directory = tmp_path_factory.mktemp(f"{protocol}-{pool}-{transport}")
    if transport == "tcp":
        backend_port = free_port()
        address = f"host = 127.0.0.1\nport = {backend_port}"
        upstream = f"127.0.0.1:{backend_port}"
        wait = {"wait_port": backend_port}
    else:
        path = str(directory / "app.sock")
        assert len(path) < 100, "Unix socket paths are limited to about 100 bytes"
        address = f"socket = {path}\numask = 000"
        upstream = f"unix:{path}"
        wait = {"wait_unix": path}
    config = write_config(directory, f"use = egg:PasteScript#flup_{protocol}_{pool}\n{address}")
    backend = start_served(config, **wait)
    port = free_port()
    if protocol == "fcgi":
        location = f"{FASTCGI_PARAMS}fastcgi_pass {upstream};\nfastcgi_intercept_errors off;"
    else:
        location = f"{SCGI_PARAMS}scgi_pass {upstream};"
    try:
        nginx = start_nginx(directory, f"""
            server {{
                listen 127.0.0.1:{port};
                client_max_body_size 20m;
                location / {{
            {location}
                }}
            }}
            """, port)
    except BaseException:
        kill_group(backend)
        raise
    yield {"port": port, "dir": directory, "backend": backend, "protocol": protocol,
           "pool": pool, "transport": transport, "socket": wait.get("wait_unix")}
    kill_group(nginx)
    output = kill_group(backend)
    assert backend.returncode is not None, output


def url(front, path="/"):
    return f"http://127.0.0.1:{front['port']}{path}"


def test_get(front):
    status, headers, body = http_get(url(front))
    assert status == 200, nginx_error_log(front["dir"])
    assert body == HELLO


def test_query_string_and_headers(front):
    status, _, body = http_get(url(front, "/echo?name=caf%C3%A9&x=1"),
                               headers={"X-Trace": "abc-123"})
    data = json.loads(body)
    assert status == 200
    assert data["path"] == "/echo"
    assert data["query"] == "name=caf%C3%A9&x=1"
    assert data["headers"]["HTTP_X_TRACE"] == "abc-123"


def test_post_with_body(front):
    payload = os.urandom(300_000)
    status, _, body = http_get(url(front, "/echo"), data=payload,
                               headers={"Content-Type": "application/octet-stream"})
    data = json.loads(body)
    assert status == 200
    assert data["method"] == "POST"
    assert data["length"] == len(payload)
    assert data["body"].encode("latin-1") == payload
    assert data["content_type"] == "application/octet-stream"


def test_large_and_streamed_responses(front):
    status, _, body = http_get(url(front, "/big?n=3000000"), timeout=30)
    assert status == 200 and len(body) == 3_000_000
    assert body[:256] == bytes(range(256))
    status, _, body = http_get(url(front, "/stream?n=200"))
    assert status == 200 and len(body) == 200_000


def test_application_error_is_a_500(front):
    status, _, _ = http_get(url(front, "/error"))
    assert status == 500
    assert http_get(url(front))[2] == HELLO


def test_not_found_passes_through(front):
    status, _, body = http_get(url(front, "/nothing-here"))
    assert status == 404
    assert body == b"not found"


@pytest.mark.parametrize("front", [p for p in PAIRINGS if p[2] == "unix"], indirect=True,
                         ids=_ids)
def test_unix_socket_umask(front):
    assert front["transport"] == "unix"
    mode = stat.S_IMODE(os.stat(front["socket"]).st_mode)
    assert mode == 0o777  # umask = 000


def test_load_2000_requests_64_connections(front):
    stats = load(front["port"], total=2_000, concurrency=64)
    assert stats["errors"] == 0, (stats["bad"], nginx_error_log(front["dir"])[-2000:])
    assert stats["ok"] == 2_000


# -- bad input ----------------------------------------------------------------

def test_port_in_use_names_the_address(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        config = write_config(tmp_path, f"""
            use = egg:PasteScript#flup_fcgi_thread
            host = 127.0.0.1
            port = {port}
            """)
        proc = start_runner(config)
        try:
            proc.wait(20)
        finally:
            output = kill_group(proc)
    assert proc.returncode != 0
    assert f"Cannot listen on 127.0.0.1:{port}: the address is already in use" in output


def test_unix_socket_in_use_is_not_stolen(tmp_path):
    path = str(tmp_path / "busy.sock")
    config = write_config(tmp_path, f"""
        use = egg:PasteScript#flup_scgi_thread
        socket = {path}
        """)
    first = start_runner(config, wait_unix=path)
    try:
        second = start_runner(config)
        try:
            second.wait(20)
        finally:
            output = kill_group(second)
        assert second.returncode != 0
        assert f"Cannot listen on {path}: a server is already listening" in output
        wait_for_unix(path, timeout=2)  # the first one still owns it
    finally:
        kill_group(first)


@pytest.mark.parametrize("options,fragment", [
    ({"port": "eighty"}, "'port'"),
    ({"host": "127.0.0.1", "port": "9000", "maxThreads": "lots"}, "'maxThreads'"),
    ({"socket": "/tmp/x.sock", "umask": "9"}, "'umask'"),
    ({"socket": "/tmp/x.sock", "port": "9000"}, "either socket or host/port"),
    ({"minspare": "1"}, "unknown option"),
])
def test_bad_options(options, fragment):
    from paste.script.util.options import OptionError
    with pytest.raises(OptionError) as info:
        runner_entry_point("flup_fcgi_thread")(lambda e, s: [], {}, **options)
    assert fragment in str(info.value)


def test_missing_flup_says_which_extra(tmp_path):
    """With flup hidden from the import system, the runner names the extra to install."""
    from tests.runner_support import runner_env
    from tests.support import PYTHON
    import subprocess
    code = (
        "import sys\n"
        "class Hide:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'flup' or name.startswith('flup.'):\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, Hide())\n"
        "from paste.script.flup_server import run_scgi_fork\n"
        "try:\n"
        "    run_scgi_fork(lambda e, s: [], {}, port='4000')\n"
        "except ImportError as exc:\n"
        "    print(type(exc).__name__, exc)\n"
    )
    result = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True,
                            env=runner_env(tmp_path), timeout=30)
    assert result.stdout.strip() == (
        "MissingExtraError The flup_scgi_fork server needs flup, which is not installed: "
        'pip install "PasteScript[flup]"'), result.stderr


@pytest.mark.parametrize("runner", ["flup_fcgi_fork", "flup_scgi_fork", "flup_fcgi_thread"])
def test_sigterm_stops_the_server_and_its_children(tmp_path, runner):
    port = free_port()
    config = write_config(tmp_path, f"use = egg:PasteScript#{runner}\nhost = 127.0.0.1\nport = {port}")
    proc = start_runner(config, wait_port=port)
    try:
        # A threaded runner has no worker processes to wait for.
        children = _children(proc.pid) if runner.endswith("_fork") else []
        if runner.endswith("_fork"):
            assert children, "the forking server has no worker processes"
        proc.terminate()
        proc.wait(15)
        assert proc.returncode == 0, output_of(proc)
        for _ in range(100):
            if not any(pid_alive(pid) for pid in children):
                break
            time.sleep(0.05)
        assert not any(pid_alive(pid) for pid in children)
    finally:
        kill_group(proc)


def _children(pid: int) -> list:
    found = []
    for _ in range(50):
        path = Path(f"/proc/{pid}/task/{pid}/children")
        found = [int(p) for p in path.read_text().split()] if path.exists() else []
        if found:
            return found
        time.sleep(0.05)
    return found


def test_fcgi_without_an_address_answers_as_cgi(tmp_path):
    """Started by a web server with no FastCGI socket, flup_fcgi_* falls back to CGI."""
    import subprocess
    from tests.runner_support import LOADER, runner_env
    from tests.support import PYTHON
    config = write_config(tmp_path, "use = egg:PasteScript#flup_fcgi_thread")
    env = runner_env(tmp_path)
    env.update({"REQUEST_METHOD": "GET", "PATH_INFO": "/echo", "QUERY_STRING": "via=cgi",
                "SERVER_NAME": "h", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.0"})
    result = subprocess.run([PYTHON, "-c", LOADER, str(config)], stdin=subprocess.DEVNULL,
                            capture_output=True, env=env, timeout=30)
    assert result.stdout.startswith(b"Status: 200 OK\r\n"), result.stdout[:200] + result.stderr
    body = result.stdout.partition(b"\r\n\r\n")[2]
    assert json.loads(body)["query"] == "via=cgi"


def test_fcgi_on_a_socket_inherited_as_stdin(tmp_path):
    """The way a FastCGI process manager starts it: the listening socket is fd 0."""
    import subprocess
    from tests.runner_support import LOADER, runner_env
    from tests.support import PYTHON
    config = write_config(tmp_path, "use = egg:PasteScript#flup_fcgi_thread")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    backend_port = listener.getsockname()[1]
    backend = subprocess.Popen([PYTHON, "-c", LOADER, str(config)], stdin=listener.fileno(),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env=runner_env(tmp_path), start_new_session=True)
    listener.close()
    port = free_port()
    try:
        nginx = start_nginx(tmp_path, f"""
            server {{
                listen 127.0.0.1:{port};
                location / {{
            {FASTCGI_PARAMS}fastcgi_pass 127.0.0.1:{backend_port};
                }}
            }}
            """, port)
        try:
            status, _, body = http_get(f"http://127.0.0.1:{port}/echo?spawned=1", data=b"abc")
            assert status == 200, nginx_error_log(tmp_path)
            data = json.loads(body)
            assert data["query"] == "spawned=1" and data["body"] == "abc"
        finally:
            kill_group(nginx)
    finally:
        output = kill_group(backend)
    assert "serving" not in output  # nothing printed: stdout may belong to the web server


# -- under the serving engine's hooks -------------------------------------------

@pytest.mark.parametrize("order", ["release-first", "callbacks-first"])
@pytest.mark.parametrize("runner", ["flup_fcgi_thread", "flup_fcgi_fork", "flup_scgi_thread",
                                    "flup_scgi_fork"])
def test_flup_on_the_engines_socket_stops_gracefully(tmp_path, runner, order):
    """Served through paster serve's hooks (tests.runner_support.EngineHarness):
    the engine's socket, nothing accepted before ready(), SIGTERM left to the
    engine; a stop lets the request in flight finish, closes nginx's idle
    FastCGI keep-alive connections (else the runner would wait 20 s for them),
    accepts nothing more, and returns with no process left."""
    from tests.runner_support import EngineHarness, concurrent_gets, request_in_flight
    with socket.socket() as taken:             # the configured port: binding it would fail
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        config = write_config(tmp_path, f"""
            use = egg:PasteScript#{runner}
            host = 127.0.0.1
            port = {taken.getsockname()[1]}
            shutdown_timeout = 20
            """)
        harness = EngineHarness(config, order)
        nginx = None
        try:
            assert harness.ready() == ("pending", "signals-untouched")
            harness.send("go")
            port = free_port()
            fastcgi = runner.startswith("flup_fcgi")
            location = (f"{FASTCGI_PARAMS}fastcgi_pass backend;\nfastcgi_keep_conn on;" if fastcgi
                        else f"{SCGI_PARAMS}scgi_pass backend;")
            nginx = start_nginx(tmp_path, f"""
                upstream backend {{
                    server 127.0.0.1:{harness.port};
                    keepalive 8;
                }}
                server {{
                    listen 127.0.0.1:{port};
                    location / {{
                {location}
                    }}
                }}
                """, port)
            # Four requests at once: four connections, which nginx then keeps open.
            warm = concurrent_gets(f"http://127.0.0.1:{port}/slow?t=0.3", 4)
            assert [reply[2] for reply in warm] == [b"slept"] * 4, nginx_error_log(tmp_path)
            thread, slow = request_in_flight(harness, f"http://127.0.0.1:{port}/slow?t=1")
            assert harness.stop() == 1
            late = socket.create_connection(("127.0.0.1", harness.port), timeout=10)
            thread.join(30)
            assert slow and slow[0][0] == 200 and slow[0][2] == b"slept", (
                slow, nginx_error_log(tmp_path))
            assert harness.returned(timeout=10) == {"pending": 1, "listening": True,
                                                    "nonblocking": True, "children": []}
            assert harness.proc.wait(10) == 0
            late.close()
        finally:
            if nginx is not None:
                kill_group(nginx)
            output = harness.close()
    assert "Traceback" not in output, output


def test_each_runner_lists_exactly_the_options_it_takes():
    """``runner.options`` (what paster serve reads to tell the runner's options
    from its own) is what the runner accepts, no more, no less."""
    from paste.script import flup_server
    from paste.script.util.options import OptionError
    for name in ("flup_fcgi_thread", "flup_fcgi_fork", "flup_scgi_thread", "flup_scgi_fork",
                 "flup_ajp_thread", "flup_ajp_fork"):
        runner = runner_entry_point(name)
        assert set(runner.options) <= set(flup_server.OPTIONS)
        for option, converter in flup_server.OPTIONS.items():
            try:
                converter("?")
            except ValueError:
                pass
            else:
                if option in runner.options:
                    continue    # "?" is a valid value: the runner would start
            # A value no converter takes: a known option fails on its value,
            # an unknown one as unknown.
            with pytest.raises(OptionError) as info:
                runner(lambda e, s: [], {}, **{option: "?"})
            unknown = "unknown option" in str(info.value)
            assert unknown == (option not in runner.options), (name, option, str(info.value))


# -- the forking runners under paster serve: nothing outlives the server ------------------

def _marked(marker: str) -> list[int]:
    """Live processes whose environment carries ``PASTE_TEST_MARK=marker``."""
    found = []
    needle = f"PASTE_TEST_MARK={marker}".encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                if needle not in f.read().split(b"\0"):
                    continue
            with open(f"/proc/{entry}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    continue
        except OSError:
            continue
        found.append(int(entry))
    return found


def _wait_none_marked(marker: str, timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    while (left := _marked(marker)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


@pytest.fixture
def forked_site(tmp_path):
    """``paster serve`` of a forking flup runner, behind nginx; every process marked."""
    import uuid
    started = []

    def start(runner: str, *args: str, extra: str = ""):
        marker = uuid.uuid4().hex
        backend_port, port = free_port(), free_port()
        config = write_config(tmp_path, f"""
            use = egg:PasteScript#{runner}
            host = 127.0.0.1
            port = {backend_port}
            maxSpare = 3
            {extra}
            """)
        proc = start_served(config, *args, wait_port=backend_port,
                            env={"PASTE_TEST_MARK": marker})
        params = FASTCGI_PARAMS if "fcgi" in runner else SCGI_PARAMS
        upstream = "fastcgi_pass" if "fcgi" in runner else "scgi_pass"
        nginx = start_nginx(tmp_path, f"""
            server {{
                listen 127.0.0.1:{port};
                location / {{
            {params}{upstream} 127.0.0.1:{backend_port};
                fastcgi_read_timeout 120s;
                scgi_read_timeout 120s;
                }}
            }}
            """, port)
        started.append((proc, nginx, marker))
        return proc, port, marker

    yield start
    for proc, nginx, marker in started:
        kill_group(nginx)
        kill_group(proc, signal.SIGKILL)
        for pid in _marked(marker):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("runner", ["flup_fcgi_fork", "flup_scgi_fork"])
def test_sigterm_to_paster_serve_finishes_requests_and_leaves_no_process(forked_site, runner):
    import threading
    proc, port, marker = forked_site(runner, extra="shutdown_timeout = 10")
    assert len(_marked(marker)) == 5            # monitor, worker, its 3 processes
    answers = []
    slow = threading.Thread(target=lambda: answers.append(
        http_get(f"http://127.0.0.1:{port}/slow?t=1", timeout=30)))
    slow.start()
    wait_for_output(proc, "slow request started in")
    proc.send_signal(signal.SIGTERM)
    slow.join(30)
    assert answers and answers[0][0] == 200 and answers[0][2] == b"slept", answers
    assert proc.wait(30) == 0, output_of(proc)
    assert _wait_none_marked(marker, 5) == [], output_of(proc)


def test_kill_9_of_the_monitor_leaves_no_process_after_the_timeout(forked_site):
    """The idle processes go with the monitor; the one serving a request
    finishes it within shutdown_timeout, then goes too, and nothing is left."""
    import threading
    proc, port, marker = forked_site("flup_fcgi_fork", "--graceful-timeout", "2",
                                     extra="shutdown_timeout = 2")
    threading.Thread(target=lambda: http_get(f"http://127.0.0.1:{port}/slow?t=60", timeout=90),
                     daemon=True).start()
    wait_for_output(proc, "slow request started in")
    busy = int(output_of(proc).split("slow request started in ")[1].split()[0])
    from tests.serving_support import parent_of
    worker = parent_of(busy)
    killed_at = time.monotonic()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    # The idle processes leave at once; the busy one (and the worker waiting
    # for it) stay ...
    deadline = killed_at + 1.5
    while not set(_marked(marker)) <= {busy, worker}:
        assert time.monotonic() < deadline, (_marked(marker), busy, worker)
        time.sleep(0.02)
    assert busy in _marked(marker)
    # ... until its time is up.
    assert _wait_none_marked(marker, 10) == []
    assert time.monotonic() - killed_at >= 2.0


def _scgi_get(host: str, port: int, path: str = "/", query: str = "") -> bytes:
    """One SCGI request (what nginx's scgi_pass sends), the raw answer."""
    headers = {"CONTENT_LENGTH": "0", "SCGI": "1", "REQUEST_METHOD": "GET",
               "PATH_INFO": path, "QUERY_STRING": query, "SERVER_NAME": "x", "SERVER_PORT": "80",
               "SERVER_PROTOCOL": "HTTP/1.1", "SCRIPT_NAME": ""}
    block = b"".join(f"{k}\0{v}\0".encode() for k, v in headers.items())
    with socket.create_connection((host, port), timeout=10) as conn:
        conn.sendall(str(len(block)).encode() + b":" + block + b",")
        answer = b""
        try:
            while chunk := conn.recv(65536):
                answer += chunk
        except ConnectionResetError:
            pass        # closed with the request unread: no answer either
    return answer


@pytest.mark.parametrize("allowed,served", [(None, False), ("::1", True)])
def test_scgi_allowed_servers_applies_to_ipv6_front_ends(tmp_path, allowed, served):
    """flup let every IPv6 client in whatever allowedServers said."""
    port = free_port()
    config = write_config(tmp_path, f"""
        use = egg:PasteScript#flup_scgi_thread
        host = ::1
        port = {port}
        loggingLevel = WARNING
        """ + (f"allowedServers = {allowed}\n" if allowed else ""))
    proc = start_runner(config)
    try:
        wait_for_output(proc, "serving SCGI on")
        answer = _scgi_get("::1", port)
        if served:
            assert answer.startswith(b"Status: 200 OK") and answer.endswith(HELLO), answer
        else:
            assert answer == b""
            wait_for_output(proc, "Server connection from ::1 disallowed")
    finally:
        kill_group(proc)


@pytest.mark.parametrize("runner", ["flup_scgi_thread", "flup_scgi_fork"])
def test_a_second_signal_stops_at_once(tmp_path, runner):
    import threading
    port = free_port()
    config = write_config(tmp_path, f"""
        use = egg:PasteScript#{runner}
        host = 127.0.0.1
        port = {port}
        shutdown_timeout = 60
        loggingLevel = WARNING
        """)
    proc = start_runner(config, wait_port=port)
    try:
        threading.Thread(target=_scgi_get, args=("127.0.0.1", port, "/slow", "t=60"),
                         daemon=True).start()
        output = wait_for_output(proc, "slow request started in")
        busy = int(output.split("slow request started in ")[1].split()[0])
        # Two signals, handled one after the other (by signal number).
        proc.send_signal(signal.SIGINT)
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)               # not the 60 s the request would take
        assert wait_gone(busy, 5)   # the forked process serving it is gone too
    finally:
        kill_group(proc)


def test_the_engine_reads_each_flup_runners_own_options():
    from paste.script.serving.runners import describe
    thread, fork = (describe(runner_entry_point(name))
                    for name in ("flup_ajp_thread", "flup_ajp_fork"))
    assert thread.takes("maxThreads") and not fork.takes("maxThreads")
    assert fork.takes("maxRequests") and not thread.takes("maxRequests")
    assert not thread.takes("socket") and not thread.takes("workers")
    assert thread.threads({"maxThreads": "50"}) == 50
