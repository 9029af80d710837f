"""``paster serve`` as a production process manager, for real: workers, signals, restarts.

Every test runs real processes on loopback and follows the monitor's own
report of what it did (its output lines, the daemon's state) rather than
sleeping: ``Reloaded: workers … serve the new code.``, ``Server child N
exited (…); restarting at once``, and so on.
"""
from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from tests.serving_support import (Output, Prober, children, get, parent_of, wait_for_children,
                                   wait_gone)
from tests.support import free_port, paster_env, pid_alive, run_paster, start_paster, write

APP = """\
import os, sys, time
VERSION = "{version}"

def make_app(global_conf, **local_conf):
    {factory_extra}
    def app(environ, start_response):
        path = environ["PATH_INFO"]
        began = time.time()
        if path == "/slow":
            time.sleep(float(environ.get("QUERY_STRING") or "1"))
        elif path == "/log":
            print(f"request logged by {{os.getpid()}}", flush=True)
        start_response("200 OK", [("Content-Type", "text/plain")])
        span = f" from={{began}} to={{time.time()}}" if path == "/slow" else ""
        return [f"{{VERSION}}{{span}} pid={{os.getpid()}}".encode()]
    return app
"""

CONFIG = """\
[app:main]
paste.app_factory = wkapp:make_app

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

    def __init__(self, tmp_path: Path, server="egg:waitress#main", extra=""):
        self.dir = tmp_path
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.write_app("v1")
        self.ini = write(tmp_path / "app.ini", CONFIG.format(server=server, port=self.port,
                                                             extra=extra))
        self.proc = None
        self.out = None
        self.pid_file = tmp_path / "app.pid"

    def write_app(self, version: str, factory_extra: str = "pass") -> None:
        # A different size each time: no stale bytecode cache can be used.
        write(self.dir / "wkapp.py", APP.format(version=version, factory_extra=factory_extra)
              + "#" * len(version) + "\n")

    def env(self) -> dict:
        return paster_env(PYTHONPATH=str(self.dir))

    def start(self, *args: str, expect: str | None = "v1") -> None:
        """Start ``paster serve -v``; wait until all its first workers serve."""
        self.proc = start_paster("serve", "-v", *args, str(self.ini), cwd=self.dir,
                                 env=self.env())
        self.out = Output(self.proc)
        if expect is not None:
            self.said(r"Generation 1 serving: workers")
            self.wait_for(expect)

    def paster(self, *args: str):
        """``paster serve OPTIONS CONFIG [ACTION]`` (an action comes last in ``args``)."""
        action = [args[-1]] if args and args[-1] in ("start", "stop", "restart", "status") else []
        options = args[:-1] if action else args
        return run_paster("serve", *options, str(self.ini), *action, cwd=self.dir, env=self.env())

    def wait_for(self, version: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        body = None
        while time.monotonic() < deadline:
            body = get(self.url, timeout=5)
            if body is not None and body.startswith(version + " "):
                return body
            if self.proc is not None and self.proc.poll() is not None:
                break
            time.sleep(0.02)
        raise AssertionError(f"never got {version!r}; last answer {body!r}; output:\n"
                             f"{self.out.text if self.out else ''}")

    def said(self, pattern: str, since: int = 0, timeout: float = 30.0):
        return self.out.wait_for(pattern, since, timeout)

    def signal(self, signum: int) -> int:
        mark = self.out.mark()
        self.proc.send_signal(signum)
        return mark

    def stop(self) -> str:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(40)
            except Exception:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        return self.out.finish() if self.out else ""


@pytest.fixture
def site(tmp_path):
    sites = []

    def make(**kw):
        s = Site(tmp_path, **kw)
        sites.append(s)
        return s

    yield make
    for s in sites:
        monitor = s.proc.pid if s.proc is not None else None
        workers = children(monitor) if monitor else []
        s.stop()
        from paste.script.daemon import PidFile
        status = PidFile(str(s.pid_file)).status()
        if status.running and status.pid:          # a daemon a failed test left behind
            os.killpg(os.getpgid(status.pid), signal.SIGKILL)
        for pid in workers:
            if pid_alive(pid):
                os.kill(pid, signal.SIGKILL)
                pytest.fail(f"worker {pid} outlived the monitor")


# -- workers ----------------------------------------------------------------------

def test_workers_answer_in_parallel_from_distinct_processes(site):
    s = site(extra="threads = 1")        # one request at a time per worker
    s.start("--workers", "2")
    workers = set(wait_for_children(s.proc.pid, 2))
    for _attempt in range(6):            # the kernel may give one worker every connection
        results = []
        threads = [threading.Thread(target=lambda: results.append(get(s.url + "slow?0.5")))
                   for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert len(results) == 4 and all(results), results
        spans = [(pid_of(body), float(body.split("from=")[1].split()[0]),
                  float(body.split("to=")[1].split()[0])) for body in results]
        # Requests of two processes running at the same moment: parallel.
        overlapping = {(a[0], b[0]) for a in spans for b in spans
                       if a[0] != b[0] and a[1] < b[2] and b[1] < a[2]}
        if overlapping:
            break
    assert {pid for pid, _, _ in spans} == workers, (spans, workers)
    assert overlapping, spans


def test_workers_from_the_config_and_the_command_line(site):
    s = site(extra="workers = 3")
    s.start()
    assert len(wait_for_children(s.proc.pid, 3)) == 3
    s.stop()
    s2 = site()
    s2.ini.write_text(s.ini.read_text())
    s2.start("--workers", "1")
    assert len(wait_for_children(s2.proc.pid, 1)) == 1


def test_killed_worker_is_replaced_at_once(site):
    s = site()
    s.start("--workers", "2")
    workers = wait_for_children(s.proc.pid, 2)
    os.kill(workers[0], signal.SIGKILL)
    s.said(rf"Server child {workers[0]} exited \(killed by SIGKILL\); restarting at once")
    now = wait_for_children(s.proc.pid, 2)
    assert workers[0] not in now and workers[1] in now
    deadline = time.monotonic() + 20
    seen = set()
    while set(now) - seen and time.monotonic() < deadline:
        body = get(s.url)
        if body:
            seen.add(pid_of(body))
    assert set(now) <= seen


def test_workers_that_keep_dying_are_reported_and_the_others_serve_on(site):
    s = site()
    s.start("--workers", "2")
    workers = wait_for_children(s.proc.pid, 2)
    # Broken on disk, no HUP: replacements fail to load, again and again.
    s.write_app("v2", factory_extra="raise RuntimeError('no database')")
    os.kill(workers[0], signal.SIGKILL)
    s.said(r"Workers keep dying \(3 in a row\); 1 still serving\.")
    assert pid_of(s.wait_for("v1")) == workers[1]


def test_ttin_and_ttou_add_and_remove_a_worker(site):
    s = site()
    s.start()
    wait_for_children(s.proc.pid, 1)
    mark = s.signal(signal.SIGTTIN)
    s.said(r"SIGTTIN: 2 workers\.", mark)
    assert len(wait_for_children(s.proc.pid, 2)) == 2
    mark = s.signal(signal.SIGTTOU)
    s.said(r"SIGTTOU: 1 worker\.", mark)
    assert len(wait_for_children(s.proc.pid, 1)) == 1
    mark = s.signal(signal.SIGTTOU)
    s.said(r"SIGTTOU: 1 worker\.", mark)       # never fewer than one
    assert s.wait_for("v1")


# -- graceful restarts ------------------------------------------------------------------

def test_hup_under_load_swaps_in_new_code_without_a_failed_request(site):
    s = site()
    s.start("--workers", "2")
    prober = Prober(s.url)
    prober.start()
    for version in ("v2", "v3", "v4"):
        s.write_app(version)
        mark = s.signal(signal.SIGHUP)
        s.said(r"Reloaded: workers \d+, \d+ serve the new code\.", mark)
        s.wait_for(version)
    time.sleep(0.2)
    failed = prober.stop()
    assert prober.answers and not failed, f"{len(failed)} of {len(prober.answers)} failed: {failed}"
    assert prober.answers[-1].startswith("v4 ")
    assert s.proc.poll() is None


def test_broken_deploy_and_hup_leave_the_old_workers_serving(site):
    s = site()
    s.start("--workers", "2")
    old = set(wait_for_children(s.proc.pid, 2))
    prober = Prober(s.url)
    prober.start()
    s.write_app("v2", factory_extra="raise RuntimeError('no database')")
    mark = s.signal(signal.SIGHUP)
    s.said("The new code failed to load; the previous workers keep serving:", mark)
    s.said("RuntimeError: no database", mark)
    time.sleep(0.3)
    failed = prober.stop()
    assert prober.answers and not failed, f"{len(failed)} of {len(prober.answers)} failed: {failed}"
    assert {pid_of(a) for a in prober.answers} <= old
    assert all(a.startswith("v1 ") for a in prober.answers)
    assert set(children(s.proc.pid)) == old
    s.write_app("v3")                      # the fix, deployed
    mark = s.signal(signal.SIGHUP)
    s.said(r"Reloaded: workers", mark)
    s.wait_for("v3")


@pytest.mark.parametrize("runner", ["egg:waitress#main", "egg:PasteScript#wsgiutils",
                                    "egg:PasteScript#cherrypy", "egg:PasteScript#twisted"])
def test_every_socket_runner_serves_two_workers_and_restarts_gracefully(site, runner):
    s = site(server=runner)
    s.start("--workers", "2")
    workers = set(wait_for_children(s.proc.pid, 2))
    prober = Prober(s.url)
    prober.start()
    s.write_app("v2")
    mark = s.signal(signal.SIGHUP)
    s.said(r"Reloaded: workers", mark)
    s.wait_for("v2")
    time.sleep(0.2)
    failed = prober.stop()
    assert prober.answers and not failed, f"{len(failed)} of {len(prober.answers)} failed: {failed}"
    seen = {pid_of(a) for a in prober.answers if a.startswith("v1 ")}
    assert seen and seen <= workers
    assert all(wait_gone(pid) for pid in workers), s.out.text


def test_a_wsgiutils_worker_whose_threads_are_busy_leaves_new_connections_to_the_others(site):
    # With keep-alive, whoever accepts a connection serves it for good: a
    # worker that took connections it had no thread for left the others idle.
    s = site(server="egg:PasteScript#wsgiutils", extra="threads = 1")
    s.start("--workers", "2")
    wait_for_children(s.proc.pid, 2)
    for _attempt in range(4):
        slow = []
        thread = threading.Thread(target=lambda: slow.append(get(s.url + "slow?1.5")))
        thread.start()
        time.sleep(0.5)                     # its worker's one thread is busy now
        began = time.monotonic()
        fast = get(s.url)
        waited = time.monotonic() - began
        thread.join(30)
        assert slow and slow[0] and fast, (slow, fast)
        assert pid_of(fast) != pid_of(slow[0]) and waited < 0.8, (slow, fast, waited)


BLOCKING_RUNNER = """\
from wsgiref.simple_server import WSGIRequestHandler, make_server


class Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass


def run(app, global_conf, host, port):
    # socketserver accepts on a blocking socket after select() said "ready"
    server = make_server(host, int(port), app, handler_class=Quiet)
    print(f"serving on http://{host}:{port}", flush=True)
    server.serve_forever()
"""


def listening_fd_flags(pid: int, port: int) -> int:
    """The file status flags of the socket ``pid`` listens on ``port`` with."""
    from tests.support import listening_inodes
    inodes = {f"socket:[{inode}]" for inode in listening_inodes(port)}
    for fd in os.listdir(f"/proc/{pid}/fd"):
        if os.readlink(f"/proc/{pid}/fd/{fd}") in inodes:
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                return int(f.read().split("flags:")[1].split()[0], 8)
    raise AssertionError(f"process {pid} does not hold the socket listening on {port}")


def test_a_runner_with_a_blocking_socket_shares_it_without_stalling_the_others(site):
    # Several workers accept from one socket: were it blocking, a worker woken
    # for a connection that another one takes first would block in accept(),
    # and an old worker stopping during a restart stalls with it. The socket
    # stays non-blocking whatever the runner sets; this runner still works.
    s = site(server="egg:waitress#main")
    write(s.dir / "wkserver.py", BLOCKING_RUNNER)
    s.ini.write_text(s.ini.read_text().replace("use = egg:waitress#main",
                                               "paste.server_runner = wkserver:run"))
    s.start("--workers", "2")
    workers = set(wait_for_children(s.proc.pid, 2))
    assert listening_fd_flags(s.proc.pid, s.port) & os.O_NONBLOCK
    answers = []
    slow = [threading.Thread(target=lambda: answers.append(get(s.url + "slow?1")))
            for _ in range(2)]
    for thread in slow:
        thread.start()
    for thread in slow:
        thread.join(30)
    assert {pid_of(a) for a in answers if a} == workers      # one at a time each: in parallel
    prober = Prober(s.url)
    prober.start()
    for version in ("v2", "v3"):
        s.write_app(version)
        mark = s.signal(signal.SIGHUP)
        s.said(r"Reloaded: workers", mark)
        s.wait_for(version)
    failed = prober.stop()
    assert prober.answers and not failed, f"{len(failed)} of {len(prober.answers)} failed: {failed}"
    assert listening_fd_flags(s.proc.pid, s.port) & os.O_NONBLOCK


def daemon(s: Site, *args: str):
    return s.paster("--pid-file", str(s.pid_file), "--log-file", str(s.dir / "app.log"), *args)


def test_restart_of_a_running_daemon_under_load(site):
    s = site()
    started = daemon(s, "--workers", "2", "start")
    assert started.returncode == 0, started.stderr
    monitor = int(s.pid_file.read_text())
    s.wait_for("v1")
    prober = Prober(s.url)
    prober.start()
    for version in ("v2", "v3"):
        s.write_app(version)
        restarted = daemon(s, "restart")
        assert restarted.returncode == 0, restarted.stdout + restarted.stderr
        assert f"Server in PID {monitor} reloaded" in restarted.stdout
        # restart returns once the new workers serve: the next answer is new code
        body = get(s.url)
        assert body is not None and body.startswith(version + " "), body
        assert parent_of(pid_of(body)) == monitor
    time.sleep(0.2)
    failed = prober.stop()
    assert prober.answers and not failed, f"{len(failed)} of {len(prober.answers)} failed: {failed}"
    assert int(s.pid_file.read_text()) == monitor
    assert daemon(s, "stop").returncode == 0
    assert not pid_alive(monitor)


def test_restart_with_a_broken_deploy_fails_and_the_old_code_serves_on(site):
    s = site()
    assert daemon(s, "start").returncode == 0
    s.wait_for("v1")
    monitor = int(s.pid_file.read_text())
    prober = Prober(s.url)
    prober.start()
    s.write_app("v2", factory_extra="raise RuntimeError('no database')")
    restarted = daemon(s, "restart")
    failed = prober.stop()
    assert restarted.returncode == 1
    assert restarted.stderr.strip() == "RuntimeError: no database"
    assert prober.answers and not failed, f"{len(failed)} of {len(prober.answers)} failed: {failed}"
    assert all(a.startswith("v1 ") for a in prober.answers)
    assert int(s.pid_file.read_text()) == monitor and pid_alive(monitor)
    log = (s.dir / "app.log").read_text()
    assert "The new code failed to load; the previous workers keep serving:" in log
    assert "RuntimeError: no database" in log
    assert daemon(s, "stop").returncode == 0


# -- signals -------------------------------------------------------------------------

def test_sigterm_lets_requests_in_flight_finish_and_exits_0(site):
    s = site()
    s.start("--workers", "2")
    results = []
    threads = [threading.Thread(target=lambda: results.append(get(s.url + "slow?1.5")))
               for _ in range(3)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and len(_established(s.port)) < 3:
        time.sleep(0.01)
    time.sleep(0.2)                        # the requests have reached the application
    s.proc.send_signal(signal.SIGTERM)
    for t in threads:
        t.join(30)
    assert s.proc.wait(30) == 0
    assert len(results) == 3 and all(r and r.startswith("v1 ") for r in results), results
    assert get(s.url, timeout=1) is None   # nothing listens any more


def _established(port: int) -> list:
    """Established connections to ``port`` on loopback (from /proc/net/tcp)."""
    found = []
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            local, state = fields[1], fields[3]
            if state == "01" and int(local.split(":")[1], 16) == port:
                found.append(fields[2])
    return found


def test_a_second_sigterm_stops_at_once(site):
    s = site()
    s.start("--graceful-timeout", "60")
    threading.Thread(target=lambda: get(s.url + "slow?30", timeout=40), daemon=True).start()
    time.sleep(0.5)
    s.proc.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    assert s.proc.poll() is None           # waiting for the 30 s request
    began = time.monotonic()
    s.proc.send_signal(signal.SIGTERM)
    s.proc.wait(10)
    assert time.monotonic() - began < 5


def test_sigusr1_reopens_the_log_file_after_logrotate_moved_it(site):
    s = site()
    log = s.dir / "app.log"
    s.start("--workers", "2", "--log-file", str(log), expect=None)
    s.wait_for("v1")
    get(s.url + "log")
    moved = s.dir / "app.log.1"
    os.rename(log, moved)
    s.proc.send_signal(signal.SIGUSR1)
    deadline = time.monotonic() + 20
    while not log.exists() and time.monotonic() < deadline:
        get(s.url + "log")
        time.sleep(0.05)
    for _ in range(10):                    # each worker writes to the new file
        get(s.url + "log")
    assert "request logged by" in moved.read_text()
    text = log.read_text()
    assert "request logged by" in text
    s.stop()
    assert "Starting server in PID" in moved.read_text()


@pytest.mark.parametrize("runner", ["flup_scgi_thread", "cgi"])
def test_single_process_runners_refuse_more_workers(site, runner):
    s = site()
    s.ini.write_text(s.ini.read_text().replace("egg:waitress#main", f"egg:PasteScript#{runner}")
                     .replace("host = 127.0.0.1\n", "" if runner == "cgi" else "host = 127.0.0.1\n")
                     .replace(f"port = {s.port}\n", "" if runner == "cgi" else f"port = {s.port}\n"))
    result = s.paster("--workers", "2")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"The {runner} server runs in one process: it cannot be served by 2 workers "
        "(use --workers 1)")
    assert "Traceback" not in result.stdout + result.stderr
