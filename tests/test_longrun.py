"""``paster serve`` left running for a year: leaks, keep-alive across switches, signals.

Each test drives a real ``paster serve`` and follows what the monitor says
and what clients get; each one failed on the engine before issue 16.
"""
from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import threading
import time

import pytest

from tests.serving_support import (HTTP_RUNNERS, KeepAliveClient, Prober, children, get,
                                   pid_of, public_tmp, site, wait_gone)  # noqa: F401  (fixtures)
from tests.support import pid_alive


def rss(pid: int) -> int:
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def hammer(port: int, count: int, threads: int = 4) -> int:
    """``count`` requests, each on a new connection; return how many failed."""
    failed = []

    def run(n):
        for _ in range(n):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            try:
                conn.request("GET", "/", headers={"Connection": "close"})
                if conn.getresponse().read()[:1] != b"v":
                    failed.append(1)
            except (OSError, http.client.HTTPException):
                failed.append(1)
            finally:
                conn.close()
    workers = [threading.Thread(target=run, args=(count // threads,)) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return len(failed)


# -- 1. nothing grows with the connections served ------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("server", ["egg:waitress#main", "egg:PasteScript#wsgiutils"])
def test_a_worker_keeps_nothing_per_connection(site, server):
    s = site(server=server)
    s.start()
    worker = pid_of(get(s.url))
    assert hammer(s.port, 2_000) == 0
    before = rss(worker)
    assert hammer(s.port, 12_000) == 0
    grown = rss(worker) - before
    # The engine that kept each connection grew by ~500 bytes per one: 6 MB here.
    assert grown < 2 * 2**20, f"the worker grew by {grown / 2**20:.1f} MiB over 12,000 connections"


# -- 2. out of file descriptors ----------------------------------------------------------

def _low_fd_limit():
    import resource
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))


def test_a_worker_out_of_descriptors_says_so_once_a_second_and_is_replaced(site):
    s = site()
    s.start("--graceful-timeout", "2", preexec_fn=_low_fd_limit)
    exhausted = pid_of(get(s.url))
    mark = s.out.mark()
    assert get(s.url + "fds", timeout=5) is not None     # the worker now holds every descriptor
    s.said(rf"Replacing server child {exhausted}: it has been out of file descriptors", mark,
           timeout=15)
    body = s.wait_for("v1", timeout=15)
    assert pid_of(body) != exhausted
    lines = s.out.text.splitlines()[mark:]
    tracebacks = sum(1 for line in lines if line.startswith("Traceback"))
    assert tracebacks <= 6, f"{tracebacks} tracebacks in a few seconds:\n" + "\n".join(lines[:60])


# -- 3. keep-alive clients across a switch --------------------------------------------

@pytest.mark.parametrize("server", ["egg:waitress#main", "egg:PasteScript#wsgiutils"])
@pytest.mark.parametrize("switch", ["HUP", "restart"])
def test_busy_keep_alive_clients_move_to_the_new_code_at_once(site, server, switch):
    s = site(server=server, extra="threads = 8")
    args = ("--pid-file", str(s.pid_file)) if switch == "restart" else ()
    s.start("--workers", "2", *args)
    clients = [KeepAliveClient(s.port, pause=0) for _ in range(8)]
    for client in clients:
        client.start()
    try:
        time.sleep(0.5)
        s.write_app("v2")
        mark = s.out.mark()
        if switch == "HUP":
            s.signal(signal.SIGHUP)
        else:
            assert s.paster("--pid-file", str(s.pid_file), "restart").returncode == 0
        s.said(r"Generation 2 serving", mark)
        switched = time.monotonic()
        deadline = switched + 10
        while time.monotonic() < deadline and not all(
                c.answers and (c.answers[-1][1] or "").startswith("v2 ") for c in clients):
            time.sleep(0.01)
        time.sleep(0.2)
    finally:
        failed = [c.stop() for c in clients]
    assert not any(failed), f"failed requests: {failed}"
    for client in clients:
        first_new = next(t for t, body in client.answers if body.startswith("v2 "))
        assert first_new - switched < 1.0, f"a client got the new code {first_new - switched:.2f}s late"
        assert all(body.startswith("v2 ") for t, body in client.answers if t > first_new)


# -- 4. once a client had the new code, it never gets the old code ----------------------

def test_no_old_answer_after_a_new_one_with_two_workers(site):
    s = site()
    s.start("--workers", "2", "--reload")
    for version in ("v2", "v3", "v4", "v5", "v6"):
        prober = Prober(s.url, period=0.001)
        prober.start()
        time.sleep(0.2)
        s.write_app(version)
        s.wait_for(version)
        time.sleep(0.3)
        assert not prober.stop()
        seen_new = False
        for body in prober.answers:
            if body.startswith(version + " "):
                seen_new = True
            assert not (seen_new and not body.startswith(version + " ")), \
                f"an old answer after a new one: {prober.answers}"


# -- 5. requests that kill their worker --------------------------------------------

def test_requests_that_kill_their_worker_are_not_start_failures(site):
    s = site()
    s.start("--workers", "2")
    for round_ in range(6):
        get(s.url + "exit", timeout=5)
        began = time.monotonic()
        s.wait_for("v1", timeout=5)
        assert time.monotonic() - began < 1.0, f"round {round_}: a normal request waited"
    assert "Workers keep dying" not in s.out.text
    assert "restarting in" not in s.out.text


# -- 6. Unix sockets are the monitor's too ---------------------------------------------

def unix_get(path: str, errors: list | None = None) -> str | None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(10)
    data = b""
    try:
        sock.connect(path)
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        if head.startswith(b"HTTP/1.1 200"):
            return body.decode()
        if errors is not None:
            errors.append(data[:200])
        return None
    except OSError as exc:
        if errors is not None:
            errors.append(repr(exc))
        return None
    finally:
        sock.close()


def test_a_waitress_unix_socket_is_shared_by_the_workers_and_survives_reloads(site, tmp_path):
    path = str(tmp_path / "app.sock")
    config = f"[app:main]\npaste.app_factory = siteapp:make_app\n\n[server:main]\n" \
             f"use = egg:waitress#main\nunix_socket = {path}\nunix_socket_perms = 666\n"
    s = site(config=config)
    s.start("--workers", "2", expect=None)
    s.said(r"Generation 1 serving: workers (\d+), (\d+)")
    pids = {pid_of(unix_get(path)) for _ in range(40)}
    assert len(pids) == 2, pids                  # both workers answer
    failed = []
    stop = threading.Event()

    def probe():
        while not stop.is_set():
            unix_get(path, failed)
    prober = threading.Thread(target=probe)
    prober.start()
    try:
        for number in range(2, 6):
            mark = s.signal(signal.SIGHUP)
            s.said(rf"Generation {number} serving", mark)
    finally:
        stop.set()
        prober.join()
    assert not failed, f"{len(failed)} requests failed over 4 HUPs: {failed}"
    s.stop()
    assert not os.path.exists(path)              # removed on the final stop only


# -- 8-12. signals -----------------------------------------------------------------------

def test_sigquit_stops_gracefully_and_sigwinch_changes_nothing(site):
    s = site()
    s.start("--pid-file", str(s.pid_file))
    s.signal(signal.SIGWINCH)
    s.wait_for("v1")
    results = []
    slow = threading.Thread(target=lambda: results.append(get(s.url + "slow?1")))
    slow.start()
    time.sleep(0.3)
    s.proc.send_signal(signal.SIGQUIT)
    slow.join(10)
    assert s.exit_code(20) == 0
    assert results and results[0] and results[0].startswith("v1 ")
    assert not s.pid_file.exists() and not (s.dir / "app.pid.state").exists()


def _ignore_sigint():
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def test_a_signal_ignored_at_start_stays_ignored(site):
    s = site()
    s.start(preexec_fn=_ignore_sigint)          # as a shell script's `paster serve &`
    worker = pid_of(get(s.url))
    os.killpg(s.proc.pid, signal.SIGINT)
    time.sleep(0.5)                              # nothing to wait for: nothing may happen
    assert s.proc.poll() is None and pid_of(s.wait_for("v1")) == worker
    s.stop()
    assert s.proc.returncode == 0


def test_ctrl_c_ends_paster_serve_by_sigint_so_a_shell_loop_stops(site, tmp_path):
    from tests.support import PYTHON
    s = site()
    loop = (f"for i in 1 2 3; do {PYTHON} -m paste.script serve {s.ini}; "
            f"echo round $i >> {tmp_path / 'rounds'}; done")
    proc = subprocess.Popen(["bash", "-c", loop], cwd=s.dir, env=s.env(),
                            start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        s.wait_for("v1")
        os.killpg(proc.pid, signal.SIGINT)
        assert proc.wait(30) != 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert not (tmp_path / "rounds").exists() or \
        (tmp_path / "rounds").read_text().count("round") <= 1


def _ignored_signals(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("SigIgn:"):
                return int(line.split()[1], 16)
    raise AssertionError("no SigIgn")


@pytest.mark.parametrize("server", HTTP_RUNNERS)
def test_workers_leave_the_terminal_signals_to_the_monitor(site, server):
    s = site(server=server)
    s.start()
    worker = pid_of(get(s.url))
    ignored = _ignored_signals(worker)
    for signum in (signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR2):
        assert ignored & (1 << (signum - 1)), f"{signum!r} is not ignored by the worker"
    os.kill(worker, signal.SIGINT)
    assert pid_of(s.wait_for("v1")) == worker


def test_two_sigterms_to_a_worker_stop_it_gracefully_without_a_hang(site):
    s = site()
    s.start()
    worker = pid_of(get(s.url))
    results = []
    slow = threading.Thread(target=lambda: results.append(get(s.url + "slow?1")))
    slow.start()
    time.sleep(0.3)
    os.kill(worker, signal.SIGTERM)
    os.kill(worker, signal.SIGTERM)
    slow.join(10)
    assert results and results[0] and results[0].startswith("v1 ")
    assert wait_gone(worker, 10)
    assert pid_of(s.wait_for("v1")) != worker


def test_sigterm_to_the_whole_group_stops_without_false_restarts(site):
    s = site()
    s.start("--workers", "3", "--reload")
    s.said(r"Server child \d+ serving|Generation 1 serving")
    time.sleep(1.5)                              # the standby is forked meanwhile
    os.killpg(s.proc.pid, signal.SIGTERM)         # systemd's KillMode=control-group
    assert s.exit_code(30) == 0
    text = s.out.finish()
    assert "restarting" not in text and "exited" not in text, text


# -- 13. nothing outlives the monitor ------------------------------------------------------

GUNICORN_CONFIG = """\
[app:main]
paste.app_factory = siteapp:make_app

[server:main]
use = egg:gunicorn#main
bind = 127.0.0.1:{port}
workers = 3
graceful_timeout = 2
"""


def _tree(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        for child in children(todo.pop()):
            found.append(child)
            todo.append(child)
    return found


@pytest.mark.parametrize("how", ["SIGTERM", "SIGKILL"])
def test_gunicorns_own_workers_do_not_outlive_the_monitor(site, tmp_path, how):
    pytest.importorskip("gunicorn")
    from tests.support import free_port
    port = free_port()
    s = site(config=GUNICORN_CONFIG.format(port=port))
    s.url = f"http://127.0.0.1:{port}/"
    s.start("--graceful-timeout", "3", expect=None)
    s.wait_for("v1")
    deadline = time.monotonic() + 20
    while len(_tree(s.proc.pid)) < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    tree = _tree(s.proc.pid)
    # As 3.7 ran it: one paster worker (gunicorn's master), three gunicorn workers.
    assert len(children(s.proc.pid)) == 1 and len(tree) == 4, tree
    os.kill(s.proc.pid, getattr(signal, how))
    deadline = time.monotonic() + 3 + 5
    while time.monotonic() < deadline and any(pid_alive(pid) for pid in tree):
        time.sleep(0.1)
    assert not [pid for pid in tree if pid_alive(pid)], "processes of the server outlived it"


# -- 16. a factory that never returns ---------------------------------------------------

def test_a_factory_that_never_returns_gives_up_after_the_start_timeout(site):
    s = site()
    s.write_app("v1", factory_extra="time.sleep(3600)")
    started = time.monotonic()
    result = s.paster("--daemon", "--pid-file", str(s.pid_file), "--log-file",
                      str(s.dir / "app.log"), "--start-timeout", "3")
    assert time.monotonic() - started < 15
    assert result.returncode != 0
    assert "did not start within 3s" in result.stderr, result.stderr
    assert not s.pid_file.exists()


def test_a_new_generation_that_never_starts_is_killed_and_the_old_one_serves(site):
    s = site()
    s.start("--start-timeout", "3")
    old = pid_of(get(s.url))
    s.write_app("v2", factory_extra="time.sleep(3600)")
    mark = s.signal(signal.SIGHUP)
    s.said(r"did not start within 3s", mark, timeout=15)
    assert pid_of(s.wait_for("v1")) == old
    assert len(children(s.proc.pid)) == 1


# -- 17. privileges are dropped before the application loads ----------------------------

def test_the_factory_runs_as_the_user(public_tmp):
    import pwd
    from tests.serving_support import Site
    assert os.geteuid() == 0, "the project's tests run as root"
    nobody = pwd.getpwnam("nobody")
    drop = public_tmp / "made-by-factory"
    public_tmp.chmod(0o777)                       # the factory writes here as nobody
    s = Site(public_tmp)
    s.write_app("v1", factory_extra=f"open({str(drop)!r}, 'w').close()")
    try:
        s.start("--user", "nobody")
        assert os.stat(drop).st_uid == nobody.pw_uid
        assert f"uid={nobody.pw_uid} " in get(s.url + "env?HOME")
    finally:
        s.stop()


# -- 20. only the server's own sockets are the monitor's ----------------------------------

OWN_SOCKETS = """\
import socket
global PORTS, EAR, OTHER
EAR = socket.socket(); EAR.bind(("127.0.0.1", 0)); EAR.listen(5)
OTHER = socket.socket(); OTHER.bind(("127.0.0.1", 0))
PORTS = (EAR.getsockname()[1], OTHER.getsockname()[1], socket.socket.bind.__qualname__)
"""


def test_the_applications_own_sockets_are_left_alone(site):
    s = site()
    s.write_app("v1", factory_extra=OWN_SOCKETS.replace("\n", "\n    "))
    (s.dir / "siteapp.py").write_text((s.dir / "siteapp.py").read_text().replace(
        'extra = ""', 'extra = f" ports={PORTS}"'))
    s.start()
    body = get(s.url)
    ports = eval(body.split("ports=", 1)[1].rsplit(" pid=", 1)[0])
    assert ports[0] != ports[1] and s.port not in ports[:2]
    assert ports[2] == "socket.bind"                # Python's own, not a patched one
    with socket.create_connection(("127.0.0.1", ports[0]), timeout=5):
        pass                                     # the application's listener is its own


# -- issue 17, item 11: a stopping server refuses new connections at once ------------------

@pytest.mark.parametrize("server", ["egg:waitress#main", "egg:PasteScript#wsgiutils"])
def test_a_stopping_server_refuses_new_connections_while_it_drains(site, server):
    s = site(server=server)
    s.start("--workers", "2")
    results = []
    slow = threading.Thread(target=lambda: results.append(get(s.url + "slow?2", timeout=10)))
    slow.start()
    time.sleep(0.3)                                 # the request is in a worker
    mark = s.signal(signal.SIGTERM)
    s.said(r"Stopping \(SIGTERM\)", mark)
    deadline = time.monotonic() + 5
    refused = False
    while not refused and time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", s.port), timeout=1).close()
            time.sleep(0.01)
        except ConnectionRefusedError:
            refused = True
        except ConnectionResetError:
            # A handshake the kernel completed just as the last listener
            # closed is reset: the listener is going; the next try is refused.
            time.sleep(0.01)
    assert refused and s.proc.poll() is None        # refused while it still drains
    slow.join(10)
    assert results and results[0] and results[0].startswith("v1 ")
    assert s.exit_code(20) == 0
