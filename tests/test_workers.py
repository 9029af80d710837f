"""``paster serve`` as a production process manager, for real: workers, signals, restarts.

Every test runs real processes on loopback and follows the monitor's own
report of what it did (its output lines, the daemon's state) rather than
sleeping: ``Reloaded: workers … serve the new code.``, ``Server child N
exited (…); restarting at once``, and so on.
"""
from __future__ import annotations

import os
import re
import signal
import threading
import time
from pathlib import Path

import pytest

from tests.serving_support import (HTTP_RUNNERS, Prober, children, get, parent_of,  # noqa: F401
                                   site, wait_for_children, wait_gone)
from tests.support import pid_alive, write

def pid_of(body: str) -> int:
    return int(body.rsplit("pid=", 1)[1])


# -- workers ----------------------------------------------------------------------

def test_workers_answer_in_parallel_from_distinct_processes(site):
    s = site(extra="threads = 1")        # one request at a time per worker
    s.start("--workers", "2")
    workers = set(wait_for_children(s.proc.pid, 2))
    answered_by, overlapping = set(), set()
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
        answered_by |= {pid for pid, _, _ in spans}
        # Requests of two processes running at the same moment: parallel.
        overlapping |= {(a[0], b[0]) for a in spans for b in spans
                        if a[0] != b[0] and a[1] < b[2] and b[1] < a[2]}
        if overlapping and answered_by == workers:
            break
    assert answered_by == workers, (answered_by, workers)
    assert overlapping, "the two workers never answered at the same moment"


def test_workers_from_the_config_and_the_command_line(site):
    s = site(extra="workers = 3")
    s.start()
    assert len(wait_for_children(s.proc.pid, 3)) == 3
    s.stop()
    s2 = site()
    s2.ini.write_text(s.ini.read_text())
    s2.start("--workers", "1")
    assert len(wait_for_children(s2.proc.pid, 1)) == 1


def test_workers_collect_garbage_and_never_scan_what_the_monitor_loaded(site):
    # The monitor holds its collector while it starts and freezes its
    # objects at each fork: a worker must still collect its own garbage,
    # in the first generation and after a reload.
    s = site()
    s.start("--workers", "2")
    for generation in (1, 2):
        if generation == 2:
            s.write_app("v2")
            mark = s.signal(signal.SIGHUP)
            s.said("Generation 2 serving", mark)
        bodies = {get(s.url + "gc") for _ in range(8)}
        for body in bodies:
            assert " collecting=True " in body, body
            assert int(re.search(r"frozen=(\d+)", body).group(1)) > 1000, body


def test_every_child_of_a_starting_monitor_collects_garbage():
    # Not only workers: the --reload watcher is forked while the collector
    # is held, and must not run for months without one.
    import gc

    from paste.script.serving.processes import pause_collector, resume_collector
    read_end, write_end = os.pipe()
    pause_collector()
    try:
        assert not gc.isenabled()
        pid = os.fork()
        if pid == 0:
            os.write(write_end, b"1" if gc.isenabled() else b"0")
            os._exit(0)
    finally:
        resume_collector()
    os.close(write_end)
    assert os.read(read_end, 1) == b"1"
    os.close(read_end)
    os.waitpid(pid, 0)
    assert gc.isenabled()


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
        s.wait_for_probes(prober)
        s.write_app(version)
        mark = s.signal(signal.SIGHUP)
        s.said(r"Reloaded: workers \d+, \d+ serve the new code\.", mark)
        s.wait_for(version)
    s.wait_for_probes(prober)
    prober.check_switches("v1", "v2", "v3", "v4")
    assert s.proc.poll() is None


def test_broken_deploy_and_hup_leave_the_old_workers_serving(site):
    s = site()
    s.start("--workers", "2")
    old = set(wait_for_children(s.proc.pid, 2))
    prober = Prober(s.url)
    prober.start()
    s.wait_for_probes(prober)
    s.write_app("v2", factory_extra="raise RuntimeError('no database')")
    mark = s.signal(signal.SIGHUP)
    s.said("The new code failed to load; the previous workers keep serving:", mark)
    s.said("RuntimeError: no database", mark)
    s.wait_for_probes(prober)
    failed = prober.stop()
    assert prober.answers and not failed, f"{len(failed)} of {len(prober.answers)} failed: {failed}"
    assert {pid_of(a) for a in prober.answers} <= old
    assert all(a.startswith("v1 ") for a in prober.answers)
    assert set(children(s.proc.pid)) == old
    s.write_app("v3")                      # the fix, deployed
    mark = s.signal(signal.SIGHUP)
    s.said(r"Reloaded: workers", mark)
    s.wait_for("v3")


@pytest.mark.parametrize("runner", HTTP_RUNNERS)
def test_every_socket_runner_serves_two_workers_and_restarts_gracefully(site, runner):
    s = site(server=runner)
    s.start("--workers", "2")
    workers = set(wait_for_children(s.proc.pid, 2))
    prober = Prober(s.url)
    prober.start()
    s.wait_for_probes(prober)
    s.write_app("v2")
    mark = s.signal(signal.SIGHUP)
    s.said(r"Reloaded: workers", mark)
    s.wait_for("v2")
    s.wait_for_probes(prober)
    answers = list(prober.answers)
    prober.check_switches("v1", "v2")
    seen = {pid_of(a) for a in answers if a.startswith("v1 ")}
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


OWN_SOCKET_RUNNER = """\
from wsgiref.simple_server import WSGIRequestHandler, make_server


class Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass


def run(app, global_conf, host, port):
    server = make_server(host, int(port), app, handler_class=Quiet)   # binds its own socket
    print(f"serving on http://{host}:{port}", flush=True)
    server.serve_forever()
"""


def test_a_runner_that_binds_its_own_socket_serves_from_one_process(site):
    # No monitor socket for it: one worker, and a restart stops the old one first.
    s = site()
    write(s.dir / "wkserver.py", OWN_SOCKET_RUNNER)
    s.ini.write_text(s.ini.read_text().replace("use = egg:waitress#main",
                                               "paste.server_runner = wkserver:run"))
    result = s.paster("--workers", "2")
    assert result.returncode == 1
    assert "binds its own socket, so one process serves it: use --workers 1" in result.stderr
    s.start()
    old = pid_of(s.wait_for("v1"))
    s.write_app("v2")
    mark = s.signal(signal.SIGHUP)
    s.said(r"reloading by stopping the old server first", mark)
    assert pid_of(s.wait_for("v2")) != old


def daemon(s, *args: str):
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
        s.wait_for_probes(prober)
        s.write_app(version)
        restarted = daemon(s, "restart")
        assert restarted.returncode == 0, restarted.stdout + restarted.stderr
        assert f"Server in PID {monitor} reloaded" in restarted.stdout
        # restart returns once the new workers serve: the next answer is new code
        body = get(s.url)
        assert body is not None and body.startswith(version + " "), body
        assert parent_of(pid_of(body)) == monitor
    s.wait_for_probes(prober)
    prober.check_switches("v1", "v2", "v3")
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
    s.wait_for_probes(prober)
    s.write_app("v2", factory_extra="raise RuntimeError('no database')")
    restarted = daemon(s, "restart")
    s.wait_for_probes(prober)
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
    workers = set(wait_for_children(s.proc.pid, 2))
    deadline = time.monotonic() + 20
    logged: set = set()
    while logged != workers and time.monotonic() < deadline:   # each worker writes there
        get(s.url + "log")
        text = log.read_text() if log.exists() else ""
        logged = {int(pid) for pid in re.findall(r"request logged by (\d+)", text)}
    assert logged == workers, (logged, workers)
    assert "request logged by" in moved.read_text()
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
