"""Helpers for the tests of the serving engine: a monitor's processes and its report.

The tests follow what the monitor says it saw and did (its output lines)
instead of sleeping and hoping: :class:`Output` collects a process's lines
in a thread and :meth:`Output.wait_for` blocks until one matches.
"""
from __future__ import annotations

import http.client
import os
import re
import subprocess
import threading
import time
from urllib.parse import urlsplit

import pytest

__all__ = ["Output", "get", "Prober", "parent_of", "children", "is_file_watcher",
           "wait_for_children", "wait_gone", "public_tmp"]


class Output:
    """The lines a process writes to its (merged) stdout, as they come."""

    def __init__(self, proc: subprocess.Popen):
        self.proc = proc
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self.lines.append(None)      # end of output
            self._cond.notify_all()

    @property
    def text(self) -> str:
        with self._cond:
            return "\n".join(line for line in self.lines if line is not None)

    def mark(self) -> int:
        """A position: :meth:`wait_for` with ``since`` looks only at later lines."""
        with self._cond:
            return len(self.lines)

    def wait_for(self, pattern: str, since: int = 0, timeout: float = 30.0) -> re.Match:
        """The first line from ``since`` on that matches ``pattern`` (a regex)."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self.lines[since:]:
                    if line is None:
                        raise AssertionError(f"output ended without {pattern!r}:\n{self.text}")
                    match = regex.search(line)
                    if match:
                        return match
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"no line matching {pattern!r} after {timeout}s:\n"
                                         f"{self.text}")
                self._cond.wait(min(remaining, 0.5))

    def count(self, pattern: str, since: int = 0) -> int:
        regex = re.compile(pattern)
        with self._cond:
            return sum(1 for line in self.lines[since:] if line is not None and regex.search(line))

    def finish(self, timeout: float = 10.0) -> str:
        self._thread.join(timeout)
        return self.text


def _stat_fields(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None


def parent_of(pid: int) -> int | None:
    fields = _stat_fields(pid)
    return int(fields[1]) if fields else None


def children(pid: int, watcher: bool = False) -> list[int]:
    """Live (not zombie) child processes of ``pid``: its workers, and under
    ``--reload`` its file watcher too when ``watcher`` is true."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(int(entry))
            if fields and int(fields[1]) == pid and fields[0] != "Z":
                if watcher or not is_file_watcher(int(entry)):
                    found.append(int(entry))
    return found


def is_file_watcher(pid: int) -> bool:
    """Is ``pid`` a monitor's file watcher process (``--reload``)?"""
    from paste.script.serving.watcher import PROCESS_NAME
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip() == PROCESS_NAME
    except OSError:
        return False


def wait_for_children(pid: int, count: int, timeout: float = 20.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = children(pid)
        if len(found) == count:
            return found
        time.sleep(0.05)
    raise AssertionError(f"{pid} has children {children(pid)}, expected {count}")


def wait_gone(pid: int, timeout: float = 20.0) -> bool:
    from tests.support import pid_alive
    deadline = time.monotonic() + timeout
    while pid_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def get(url: str, timeout: float = 10.0, errors: list | None = None) -> str | None:
    """The body of a 200 answer, on a new connection; None for anything else
    (refused, reset, timed out, another status), which ``errors`` collects."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        conn.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""))
        resp = conn.getresponse()
        body = resp.read().decode()
        if resp.status != 200 and errors is not None:
            errors.append(f"HTTP {resp.status}: {body[:200]!r}")
        return body if resp.status == 200 else None
    except (OSError, http.client.HTTPException) as exc:
        if errors is not None:
            errors.append(f"{time.monotonic():.3f} {exc!r}")
        return None
    finally:
        conn.close()


class Prober(threading.Thread):
    """Requests the URL continuously, each time on a new connection; keeps every answer."""

    def __init__(self, url: str, period: float = 0.005):
        super().__init__(daemon=True)
        self.url = url
        self.period = period
        self.answers: list[str | None] = []
        self.errors: list[str] = []
        self.done = threading.Event()

    def run(self):
        while not self.done.is_set():
            self.answers.append(get(self.url, errors=self.errors))
            time.sleep(self.period)

    def stop(self) -> list:
        """Stop; return the errors of the failed requests."""
        self.done.set()
        self.join(30)
        return self.errors

    def check_switches(self, *versions: str) -> None:
        """Stop, and check that the probes saw every version in order and none failed.

        So the probing overlapped each switch (old answers, then new ones),
        and once a version answered, no earlier one did (a new connection
        never gets old code after new).
        """
        failed = self.stop()
        assert self.answers and not failed, \
            f"{len(failed)} of {len(self.answers)} failed: {failed[:10]}"
        order = [next((i for i, v in enumerate(versions) if body.startswith(v + " ")), None)
                 for body in self.answers]
        assert None not in order, f"an answer of no version asked: {self.answers}"
        seen = sorted(set(order))
        assert seen == list(range(len(versions))), \
            f"the probes did not see every version ({versions}): {sorted(set(order))}"
        assert order == sorted(order), "an old answer came after a new one"


@pytest.fixture
def public_tmp():
    """A directory an unprivileged user can read, for servers run with ``--user``.

    Such a server loads its application as that user, so the application's
    files must be readable by it, as in any deployment; pytest's own
    temporary directories are 0700 (and concurrent runs reset them so).
    """
    import shutil
    import tempfile
    from pathlib import Path
    path = Path(tempfile.mkdtemp(prefix="paste-script-public-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


# -- one site under `paster serve`, shared by the serving tests -----------------------

#: The HTTP runners that take the monitor's sockets (every one is tested the same way).
HTTP_RUNNERS = ("egg:waitress#main", "egg:PasteScript#wsgiutils", "egg:PasteScript#cherrypy",
                "egg:PasteScript#twisted")

SITE_APP = '''\
import os, sys, time
VERSION = "{version}"
FACTORY_PID = os.getpid()

def make_app(global_conf, **local_conf):
    {factory_extra}
    leak = []

    def app(environ, start_response):
        path = environ["PATH_INFO"]
        query = environ.get("QUERY_STRING") or ""
        extra = ""
        began = time.time()
        if path == "/slow":
            time.sleep(float(query or "1"))
            extra = f" from={{began}} to={{time.time()}}"
        elif path == "/log":
            print(f"request logged by {{os.getpid()}}", flush=True)
        elif path == "/exit":
            os._exit(int(query or "7"))
        elif path == "/hang":
            while not os.path.exists(query):
                time.sleep(0.05)
        elif path == "/gil":
            import ctypes
            ctypes.PyDLL(None).sleep(int(query or "60"))   # holds the interpreter
        elif path == "/leak":
            leak.append(bytearray(int(query or str(20 * 2**20))))
        elif path == "/fds":                          # a leak that takes every descriptor
            import threading

            def grab(held=[]):
                while True:
                    try:
                        held.append(open(os.devnull))
                    except OSError:
                        time.sleep(0.005)
            threading.Thread(target=grab, daemon=True).start()
        elif path == "/gc":
            import gc
            extra = f" collecting={{gc.isenabled()}} frozen={{gc.get_freeze_count()}}"
        elif path == "/env":
            mask = os.umask(0); os.umask(mask)
            extra = (f" cwd={{os.getcwd()}} umask={{mask:o}} env={{os.environ.get(query)}}"
                     f" uid={{os.getuid()}}")
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [f"{{VERSION}}{{extra}} pid={{os.getpid()}}".encode()]
    return app
'''

SITE_CONFIG = """\
[app:main]
paste.app_factory = siteapp:make_app

[server:main]
use = {server}
host = 127.0.0.1
port = {port}
{extra}
"""


def pid_of(body: str) -> int:
    return int(body.rsplit("pid=", 1)[1])


class Site:
    """An application, its config and the ``paster serve`` running it."""

    def __init__(self, tmp_path, server="egg:waitress#main", extra="", config=None):
        from tests.support import free_port, write
        self.dir = tmp_path
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.write_app("v1")
        self.ini = write(tmp_path / "app.ini", config or SITE_CONFIG.format(
            server=server, port=self.port, extra=extra))
        self.proc = None
        self.out = None
        self.pid_file = tmp_path / "app.pid"

    def write_app(self, version: str, factory_extra: str = "pass") -> None:
        from tests.support import write
        # A different size each time: no stale bytecode cache can be used.
        write(self.dir / "siteapp.py", SITE_APP.format(version=version,
                                                        factory_extra=factory_extra)
              + "#" * len(version) + "\n")

    def env(self, **extra) -> dict:
        from tests.support import paster_env
        return paster_env(PYTHONPATH=str(self.dir), **extra)

    def start(self, *args: str, expect: str | None = "v1", preexec_fn=None, env=None) -> None:
        """Start ``paster serve -v ARGS app.ini``; wait until its first workers serve."""
        from tests.support import PYTHON
        self.proc = subprocess.Popen(
            [PYTHON, "-m", "paste.script", "serve", "-v", *args, str(self.ini)],
            cwd=self.dir, env=env or self.env(), stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, start_new_session=True,
            preexec_fn=preexec_fn)
        self.out = Output(self.proc)
        if expect is not None:
            self.said(r"Generation 1 serving: workers")
            self.wait_for(expect)

    def paster(self, *args: str):
        """``paster serve OPTIONS CONFIG [ACTION]`` (an action comes last in ``args``)."""
        from tests.support import run_paster
        action = [args[-1]] if args and args[-1] in ("start", "stop", "restart", "status") else []
        options = args[:-1] if action else args
        return run_paster("serve", *options, str(self.ini), *action, cwd=self.dir, env=self.env())

    def wait_for(self, version: str, timeout: float = 30.0, path: str = "") -> str:
        deadline = time.monotonic() + timeout
        body = None
        while time.monotonic() < deadline:
            body = get(self.url + path, timeout=5)
            if body is not None and body.startswith(version + " "):
                return body
            if self.proc is not None and self.proc.poll() is not None:
                break
            time.sleep(0.02)
        raise AssertionError(f"never got {version!r}; last answer {body!r}; output:\n"
                             f"{self.out.text if self.out else ''}")

    def said(self, pattern: str, since: int = 0, timeout: float = 30.0):
        return self.out.wait_for(pattern, since, timeout)

    def exit_code(self, timeout: float) -> int:
        """Wait for ``paster serve`` to end; if it does not, say what it printed
        and which of its processes still run."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"paster serve still runs {timeout:g} s on; its processes "
                f"{[self.proc.pid, *children(self.proc.pid)]}; output:\n{self.out.text}") from None

    def signal(self, signum: int) -> int:
        mark = self.out.mark()
        self.proc.send_signal(signum)
        return mark

    @staticmethod
    def wait_for_probes(prober: "Prober", count: int = 3, timeout: float = 10.0) -> None:
        """Wait until ``prober`` has ``count`` more answers: it runs now, across what comes."""
        target = len(prober.answers) + count
        deadline = time.monotonic() + timeout
        while len(prober.answers) < target:
            if time.monotonic() > deadline:
                raise AssertionError(f"the prober made no progress: {prober.errors[-5:]}")
            time.sleep(0.005)

    def workers(self, count: int | None = None) -> list[int]:
        return wait_for_children(self.proc.pid, count) if count else children(self.proc.pid)

    def stop(self) -> str:
        import signal
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(40)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        return self.out.finish() if self.out else ""


class KeepAliveClient(threading.Thread):
    """One connection, reused, as browsers, urllib3 and nginx's upstream keepalive do:
    before reusing it, a connection the server has closed is noticed and replaced.

    ``pause`` is the time between requests (0: as fast as the server answers).
    With ``reconnect`` false, the client stops once its connection has ended.
    """

    def __init__(self, port: int, path: str = "/", pause: float = 0.1, timeout: float = 10.0):
        super().__init__(daemon=True)
        self.port = port
        self.path = path
        self.pause = pause
        self.timeout = timeout
        self.reconnect = True
        self.answers: list[tuple[float, str | None]] = []   # (when, body; None: failed)
        self.errors: list[str] = []
        self.connections = 0
        self.told_to_close = 0           # answers that said Connection: close
        self.done = threading.Event()

    def run(self):
        import select
        conn = None
        while not self.done.is_set():
            if conn is not None and select.select([conn.sock], [], [], 0)[0]:
                conn.close()                 # closed by the server while idle
                conn = None
            if conn is None:
                if not self.reconnect and self.connections:
                    return
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
                conn.connect()
                self.connections += 1
            try:
                conn.request("GET", self.path)
                resp = conn.getresponse()
                body = resp.read().decode()
                self.answers.append((time.monotonic(), body if resp.status == 200 else None))
                if resp.will_close:
                    self.told_to_close += 1
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException) as exc:
                self.answers.append((time.monotonic(), None))
                self.errors.append(repr(exc))
                conn.close()
                conn = None
            if self.pause:
                time.sleep(self.pause)

    def stop(self) -> list:
        """Stop; return what went wrong with the requests that failed."""
        self.done.set()
        self.join(30)
        return self.errors


@pytest.fixture
def site(tmp_path):
    """``site(server=..., extra=..., config=...)``: a :class:`Site`, stopped after the test,
    which fails if one of its workers outlived the monitor."""
    from tests.support import pid_alive
    sites = []

    def make(**kw):
        made = Site(tmp_path, **kw)
        sites.append(made)
        return made

    yield make
    for made in sites:
        workers = children(made.proc.pid) if made.proc is not None else []
        made.stop()
        for pid in workers:
            if pid_alive(pid):
                os.kill(pid, 9)
                pytest.fail(f"worker {pid} outlived the monitor")
