"""Helpers for the server-runner tests: a test app, runner processes, front ends, a load client."""
from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import textwrap
import time
from pathlib import Path

from tests.support import PYTHON, ROOT, wait_for_port, write

# The application every runner test serves. Routes:
#   /            "Hello, world!"
#   /echo        JSON: method, path, query, body, selected headers
#   /environ     JSON of the string values of the WSGI environment
#   /big?n=N     N bytes, returned as one list item with a Content-Length
#   /stream?n=N  N chunks of 1000 bytes from a generator, no Content-Length
#   /slow?t=S    prints "slow request started in PID", sleeps S seconds, answers "slept"
#   /error       raises
APP_SOURCE = '''
import json, os, sys, time
from urllib.parse import parse_qs

def make_app(global_conf, **local_conf):
    return app

def _query(environ):
    return {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}

def app(environ, start_response):
    path = environ.get("PATH_INFO", "")
    q = _query(environ)
    if path in ("", "/"):
        body = b"Hello, world!"
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body]
    if path.endswith("/echo"):
        # No CONTENT_LENGTH: a chunked body, which the server ends with EOF.
        length = environ.get("CONTENT_LENGTH") or ""
        data = environ["wsgi.input"].read(int(length)) if length.isdigit() else environ["wsgi.input"].read()
        headers = {k: v for k, v in environ.items() if k.startswith("HTTP_X_")}
        out = {"method": environ["REQUEST_METHOD"], "path": path,
               "script_name": environ.get("SCRIPT_NAME", ""),
               "query": environ.get("QUERY_STRING", ""), "body": data.decode("latin-1"),
               "length": len(data), "content_type": environ.get("CONTENT_TYPE", ""),
               "headers": headers, "pid": os.getpid()}
        body = json.dumps(out).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]
    if path.endswith("/environ"):
        out = {k: v for k, v in environ.items() if isinstance(v, str)}
        body = json.dumps(out).encode()
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]
    if path.endswith("/big"):
        n = int(q.get("n", "1000000"))
        body = bytes(range(256)) * (n // 256) + b"x" * (n % 256)
        start_response("200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", str(n))])
        return [body]
    if path.endswith("/stream"):
        n = int(q.get("n", "100"))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return (b"%04d" % i + b"." * 996 for i in range(n))
    if path.endswith("/slow"):
        sys.stdout.write(f"slow request started in {os.getpid()}\\n")  # one write: one line
        sys.stdout.flush()
        time.sleep(float(q.get("t", "1")))
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
        return [b"slept"]
    if path.endswith("/error"):
        raise RuntimeError("the test app fails on purpose")
    start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "9")])
    return [b"not found"]
'''

HELLO = b"Hello, world!"


def write_app(directory: Path) -> Path:
    """Write the test app module (``runner_test_app``) into ``directory``."""
    write(Path(directory) / "runner_test_app.py", APP_SOURCE)
    return Path(directory)


def write_config(directory: Path, server: str, app: str = "use = call:runner_test_app:make_app",
                 name: str = "config.ini") -> Path:
    """A PasteDeploy config with the test app and the given ``[server:main]`` body."""
    write_app(directory)
    text = f"[app:main]\n{app}\n\n[server:main]\n{textwrap.dedent(server).strip()}\n"
    path = Path(directory) / name
    path.write_text(text)
    return path


def runner_env(directory: Path) -> dict:
    env = dict(os.environ)
    env.pop("PASTE_CONFIG_FILE", None)
    env["PYTHONPATH"] = os.pathsep.join([str(directory), str(ROOT), env.get("PYTHONPATH", "")])
    env["PYTHONUNBUFFERED"] = "1"
    return env


LOADER = (
    "import sys; from paste.deploy import loadapp, loadserver\n"
    "cfg = 'config:' + sys.argv[1]\n"
    "server = loadserver(cfg)\n"
    "server(loadapp(cfg))\n"
)


def start_runner(config: Path, wait_port: int | None = None, wait_unix: str | None = None,
                 timeout: float = 20) -> subprocess.Popen:
    """Run ``[server:main]`` of ``config`` on ``[app:main]`` in a child process.

    Its output goes to a file (``proc.log_path``), not a pipe: servers that log
    every request would block on a pipe nobody reads during a load test.
    """
    return _start([PYTHON, "-c", LOADER, str(config)], config, "runner", wait_port, wait_unix,
                  timeout)


def start_served(config: Path, *args: str, wait_port: int | None = None,
                 wait_unix: str | None = None, timeout: float = 30,
                 env: dict | None = None) -> subprocess.Popen:
    """``paster serve ARGS CONFIG`` in a child process, as :func:`start_runner` runs a runner.

    ``env`` adds variables to its environment.
    """
    return _start([PYTHON, "-m", "paste.script", "serve", *args, str(config)], config, "paster",
                  wait_port, wait_unix, timeout, env)


def _start(argv: list, config: Path, name: str, wait_port: int | None, wait_unix: str | None,
           timeout: float, env: dict | None = None) -> subprocess.Popen:
    directory = Path(config).parent
    log_path = directory / f"{name}-{time.monotonic_ns()}.log"
    environment = runner_env(directory)
    environment.update(env or {})
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(argv, cwd=directory, env=environment, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    proc.log_path = log_path
    try:
        if wait_port is not None:
            wait_for_port(wait_port, proc=proc, timeout=timeout)
        if wait_unix is not None:
            wait_for_unix(wait_unix, proc=proc, timeout=timeout)
    except BaseException as exc:
        output = kill_group(proc)
        raise AssertionError(f"{exc}\n{output}") from None
    return proc


def output_of(proc: subprocess.Popen) -> str:
    """What a process started here printed so far."""
    log_path = getattr(proc, "log_path", None)
    if log_path is not None:
        return Path(log_path).read_text(errors="replace")
    return proc.stdout.read() if proc.stdout else ""


def wait_for_output(proc: subprocess.Popen, text: str, timeout: float = 15) -> str:
    """Block until ``text`` appears in what ``proc`` printed; return all of it."""
    deadline = time.monotonic() + timeout
    while True:
        output = output_of(proc)
        if text in output:
            return output
        if time.monotonic() > deadline or proc.poll() is not None:
            raise AssertionError(f"{text!r} never printed:\n{output}")
        time.sleep(0.02)


def wait_for_unix(path: str, proc: subprocess.Popen | None = None, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"process exited with {proc.returncode}")
        with contextlib.suppress(OSError):
            with socket.socket(socket.AF_UNIX) as s:
                s.connect(path)
                return
        time.sleep(0.02)
    raise AssertionError(f"nothing listening on {path} after {timeout}s")


def kill_group(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 10) -> str:
    """Stop proc and everything it forked (runners started in their own session)."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # forked children left behind
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(5)
    return output_of(proc)


# -- a small keep-alive HTTP/1.1 load client ------------------------------

async def _read_response(reader: asyncio.StreamReader):
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("connection closed before the status line")
    status = int(status_line.split()[1])
    headers = {}
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        parts = []
        while True:
            size = int((await reader.readline()).split(b";")[0], 16)
            if size == 0:
                while (await reader.readline()) not in (b"\r\n", b""):
                    pass
                break
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)
        body = b"".join(parts)
    else:
        body = await reader.read()
        headers["connection"] = "close"
    return status, headers, body


async def _load(host, port, path, total, concurrency, expect, unix):
    remaining = [total]
    stats = {"ok": 0, "errors": 0, "bad": [], "connections": 0}
    request = (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
               f"User-Agent: runner-load-test\r\n\r\n").encode()

    async def worker():
        reader = writer = None
        while remaining[0] > 0:
            remaining[0] -= 1
            try:
                if writer is None:
                    if unix:
                        reader, writer = await asyncio.open_unix_connection(unix)
                    else:
                        reader, writer = await asyncio.open_connection(host, port)
                    stats["connections"] += 1
                writer.write(request)
                status, headers, body = await asyncio.wait_for(_read_response(reader), 30)
                if status != 200 or (expect is not None and body != expect):
                    stats["errors"] += 1
                    if len(stats["bad"]) < 5:
                        stats["bad"].append((status, body[:200]))
                else:
                    stats["ok"] += 1
                if headers.get("connection", "").lower() == "close":
                    writer.close()
                    writer = None
            except Exception as exc:  # any failure counts; keep going on a new connection
                stats["errors"] += 1
                if len(stats["bad"]) < 5:
                    stats["bad"].append(repr(exc))
                if writer is not None:
                    writer.close()
                writer = None
        if writer is not None:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return stats


def load(port: int, path: str = "/", total: int = 10_000, concurrency: int = 64,
         expect: bytes | None = HELLO, host: str = "127.0.0.1", unix: str | None = None) -> dict:
    """Run ``total`` GETs over ``concurrency`` keep-alive connections; return counts."""
    start = time.monotonic()
    stats = asyncio.run(_load(host, port, path, total, concurrency, expect, unix))
    stats["seconds"] = time.monotonic() - start
    return stats


# -- front ends -------------------------------------------------------------

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
APACHE = shutil.which("apache2") or "/usr/sbin/apache2"
APACHE_MODULES = "/usr/lib/apache2/modules"


def start_nginx(directory: Path, http_body: str, port: int) -> subprocess.Popen:
    """nginx in the foreground with a private prefix; ``http_body`` goes inside ``http {}``."""
    prefix = Path(directory) / "nginx"
    for sub in ("logs", "tmp"):
        (prefix / sub).mkdir(parents=True, exist_ok=True)
    conf = prefix / "nginx.conf"
    conf.write_text(textwrap.dedent(f"""\
        daemon off;
        master_process on;
        worker_processes 1;
        user root;
        pid {prefix}/nginx.pid;
        error_log {prefix}/logs/error.log warn;
        events {{ worker_connections 1024; }}
        http {{
            access_log off;
            client_body_temp_path {prefix}/tmp/body;
            proxy_temp_path {prefix}/tmp/proxy;
            fastcgi_temp_path {prefix}/tmp/fastcgi;
            scgi_temp_path {prefix}/tmp/scgi;
            uwsgi_temp_path {prefix}/tmp/uwsgi;
            keepalive_requests 100000;
        """) + textwrap.indent(textwrap.dedent(http_body), "    ") + "}\n")
    proc = subprocess.Popen([NGINX, "-p", str(prefix), "-c", str(conf)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        wait_for_port(port, proc=proc)
    except BaseException:
        kill_group(proc, signal.SIGQUIT)
        raise
    return proc


def nginx_error_log(directory: Path) -> str:
    path = Path(directory) / "nginx" / "logs" / "error.log"
    return path.read_text() if path.exists() else ""


FASTCGI_PARAMS = """\
fastcgi_param QUERY_STRING $query_string;
fastcgi_param REQUEST_METHOD $request_method;
fastcgi_param CONTENT_TYPE $content_type;
fastcgi_param CONTENT_LENGTH $content_length;
fastcgi_param SCRIPT_NAME "";
fastcgi_param PATH_INFO $uri;
fastcgi_param REQUEST_URI $request_uri;
fastcgi_param SERVER_PROTOCOL $server_protocol;
fastcgi_param REMOTE_ADDR $remote_addr;
fastcgi_param REMOTE_PORT $remote_port;
fastcgi_param SERVER_ADDR $server_addr;
fastcgi_param SERVER_PORT $server_port;
fastcgi_param SERVER_NAME $server_name;
"""

SCGI_PARAMS = """\
scgi_param REQUEST_METHOD $request_method;
scgi_param REQUEST_URI $request_uri;
scgi_param QUERY_STRING $query_string;
scgi_param CONTENT_TYPE $content_type;
scgi_param SCRIPT_NAME "";
scgi_param PATH_INFO $uri;
scgi_param SERVER_PROTOCOL $server_protocol;
scgi_param REMOTE_ADDR $remote_addr;
scgi_param REMOTE_PORT $remote_port;
scgi_param SERVER_PORT $server_port;
scgi_param SERVER_NAME $server_name;
"""


def start_apache(directory: Path, body: str, port: int, modules: tuple = ()) -> subprocess.Popen:
    """Apache in the foreground with a private config; ``body`` is appended to it."""
    root = Path(directory) / "apache"
    (root / "logs").mkdir(parents=True, exist_ok=True)
    base = ("mpm_event", "authz_core")  # Debian compiles unixd and log_config in
    loads = "\n".join(f"LoadModule {m}_module {APACHE_MODULES}/mod_{m}.so"
                      for m in dict.fromkeys(base + tuple(modules)))
    # Apache refuses to run its workers as root.
    user = group = "www-data"
    try:
        import pwd
        pwd.getpwnam(user)
    except KeyError:
        user, group = "nobody", "nogroup"
    conf = root / "httpd.conf"
    conf.write_text(textwrap.dedent(f"""\
        ServerRoot "{root}"
        ServerName 127.0.0.1
        PidFile "{root}/httpd.pid"
        Listen 127.0.0.1:{port}
        {{loads}}
        User {user}
        Group {group}
        ErrorLog "{root}/logs/error.log"
        LogLevel warn
        DocumentRoot "{root}"
        StartServers 1
        ServerLimit 1
        ThreadLimit 128
        ThreadsPerChild 128
        MaxRequestWorkers 128
        MinSpareThreads 16
        MaxSpareThreads 256
        KeepAliveTimeout 30
        MaxKeepAliveRequests 0
        """).replace("{loads}", loads) + textwrap.dedent(body))
    env = dict(os.environ, APACHE_RUN_USER=user, APACHE_RUN_GROUP=group,
               APACHE_LOG_DIR=str(root / "logs"), APACHE_RUN_DIR=str(root),
               APACHE_PID_FILE=str(root / "httpd.pid"), APACHE_LOCK_DIR=str(root))
    proc = subprocess.Popen([APACHE, "-f", str(conf), "-DFOREGROUND"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        wait_for_port(port, proc=proc)
    except BaseException:
        kill_group(proc)
        raise
    return proc


def apache_error_log(directory: Path) -> str:
    path = Path(directory) / "apache" / "logs" / "error.log"
    return path.read_text() if path.exists() else ""


def runner_entry_point(name: str):
    """The ``paste.server_runner`` entry point ``name`` of PasteScript, loaded."""
    from importlib.metadata import distribution  # entry_points(group=) needs 3.10
    (point,) = [ep for ep in distribution("PasteScript").entry_points
                if ep.group == "paste.server_runner" and ep.name == name]
    return point.load()


# -- a stand-in for the serving engine ----------------------------------------------
#
# ``paster serve``'s engine hands runners its sockets through the hooks of
# paste.script.serving (listen, ready, on_stop, owns_signals). This harness
# plays the engine's part in one process, as those hooks document it, so that
# a test can see what a runner does with them: which socket it serves on,
# whether it accepts before ready() returns, and what its stop leaves on the
# shared socket. It prints one line per event; its stdin takes "go" (let
# ready() return), "stop" (stop the runner as the engine does) and, once the
# runner returned, "report" (describe the shared socket).

ENGINE_HARNESS = r'''
import fcntl, json, os, select, signal, socket, sys, threading, time
from paste.script import serving
from paste.deploy import loadapp, loadserver

config, order = "config:" + sys.argv[1], sys.argv[2]


def say(*words):
    sys.stdout.write(" ".join(map(str, words)) + "\n")    # one write: one line
    sys.stdout.flush()


def engine_sigterm(signum, frame):
    say("engine-sigterm")


class StandInEngine:
    pool_size = 1
    owns_signals = True

    def __init__(self):
        # The monitor's socket: the runner gets a duplicate, as a worker does.
        self.shared = socket.socket()
        self.shared.bind(("127.0.0.1", 0))
        self.shared.listen(128)
        self.shared.setblocking(False)
        self.given, self.callbacks = [], []
        self.go = threading.Event()

    def listen(self, address, backlog=1024, mode=None):
        sock = socket.socket(fileno=os.dup(self.shared.fileno()))
        sock.setblocking(False)
        self.given.append(sock)
        return sock

    def pending(self):
        return bool(select.select([self.shared], [], [], 0)[0])

    def ready(self):
        say("ready", "pending" if self.pending() else "empty",
            "signals-untouched" if signal.getsignal(signal.SIGTERM) is engine_sigterm
            else "signals-taken")
        self.go.wait()

    def on_stop(self, callback):
        self.callbacks.append(callback)

    def single_process(self, runner):
        pass

    def files_read(self, paths):
        pass

    def release(self):
        for sock in self.given:
            if sock.fileno() < 0:
                continue
            private = socket.socket()
            private.bind(("127.0.0.1", 0))
            private.listen(1)
            private.setblocking(False)
            os.dup2(private.fileno(), sock.fileno(), inheritable=False)
            private.close()

    def stop(self):
        if order == "release-first":
            self.release()
        for callback in list(self.callbacks):
            callback()
        if order != "release-first":
            # An engine that takes its time: the runner must not touch the
            # shared socket meanwhile (nor accept from it: its stop said so).
            time.sleep(1.5)
            self.release()
        say("stop-returned", len(self.callbacks))


engine = StandInEngine()
serving.use_engine(engine)
signal.signal(signal.SIGTERM, engine_sigterm)


stopping = []
report = threading.Event()


def commands():
    for line in sys.stdin:
        if line.strip() == "go":
            engine.go.set()
        elif line.strip() == "report":
            report.set()
        elif line.strip() == "stop":
            stopping.append(threading.Thread(target=engine.stop))
            stopping[-1].start()


def children():
    found = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[1] == str(os.getpid()) and fields[0] != "Z":
            found.append(int(entry))
    return found


threading.Thread(target=commands, daemon=True).start()
say("shared", engine.shared.getsockname()[1])
# A connection that waits in the queue from before the runner starts: ready()
# finds it still there unless the runner accepted before calling it.
socket.create_connection(engine.shared.getsockname()).close()
loadserver(config)(loadapp(config))
for thread in stopping:
    thread.join()       # a runner may return before the engine is done stopping it
say("serve-returned")
report.wait()           # the test made its late connections
flags = fcntl.fcntl(engine.shared.fileno(), fcntl.F_GETFL)
pending = 0
while engine.pending():
    engine.shared.accept()[0].close()
    pending += 1
say("returned", json.dumps({
    "pending": pending,
    "listening": engine.shared.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN) == 1,
    "nonblocking": bool(flags & os.O_NONBLOCK),
    "children": children()}))
'''


def concurrent_gets(url: str, count: int) -> list:
    """``count`` GETs of ``url`` at once: as many connections to the front end's back end."""
    import threading
    from tests.support import http_get
    replies = []
    threads = [threading.Thread(target=lambda: replies.append(http_get(url, timeout=30)))
               for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return replies


def request_in_flight(harness: EngineHarness, url: str):
    """GET ``url`` (``/slow``) in a thread; return (thread, replies) once the app runs it."""
    import threading
    from tests.support import http_get
    replies = []
    mark = harness.out.mark()
    thread = threading.Thread(target=lambda: replies.append(http_get(url, timeout=30)))
    thread.start()
    harness.out.wait_for(r"^slow request started in \d+$", mark)
    return thread, replies


class EngineHarness:
    """A runner served by :data:`ENGINE_HARNESS` in a child process."""

    def __init__(self, config: Path, order: str = "release-first"):
        from tests.serving_support import Output
        directory = Path(config).parent
        self.proc = subprocess.Popen([PYTHON, "-c", ENGINE_HARNESS, str(config), order],
                                     cwd=directory, env=runner_env(directory),
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True,
                                     start_new_session=True)
        self.out = Output(self.proc)
        self.port = int(self.out.wait_for(r"^shared (\d+)$").group(1))

    def send(self, command: str) -> None:
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()

    def ready(self):
        """``(queue, signals)`` as the runner called ready(): was a connection waiting?"""
        match = self.out.wait_for(r"^ready (\w+) ([\w-]+)$")
        return match.group(1), match.group(2)

    def stop(self) -> int:
        """Stop the runner as the engine does; the number of callbacks it had registered."""
        mark = self.out.mark()
        self.send("stop")
        return int(self.out.wait_for(r"^stop-returned (\d+)$", mark).group(1))

    def returned(self, timeout: float = 30.0) -> dict:
        """What the shared socket looks like now that the runner returned."""
        import json
        self.out.wait_for(r"^serve-returned$", timeout=timeout)
        self.send("report")
        return json.loads(self.out.wait_for(r"^returned (.*)$").group(1))

    def close(self) -> str:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        return self.out.finish()
