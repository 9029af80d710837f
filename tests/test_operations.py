"""What operators reach for: worker timeout, max requests, memory, access log, --check,
USR2, and where ``paster serve``'s own settings live (issue 18). Real processes."""
from __future__ import annotations

import os
import re
import signal
import threading
import time

import pytest

from tests.serving_support import (KeepAliveClient, Prober, children, get, pid_of,  # noqa: F401
                                   site, wait_gone)
from tests.support import free_port, listening_inodes, pid_alive


# -- 1. --worker-timeout ------------------------------------------------------------------

def test_a_worker_whose_threads_all_hang_is_replaced(site, tmp_path):
    s = site(extra="threads = 2")
    s.start("--workers", "2", "--worker-timeout", "3", "--graceful-timeout", "2")
    release = tmp_path / "release"
    hung = [threading.Thread(target=get, args=(s.url + f"hang?{release}",), kwargs={"timeout": 60})
            for _ in range(4)]
    for thread in hung:
        thread.start()
    began = time.monotonic()
    s.said(r"Replacing server child \d+: all 2 of its threads are busy .*running: GET /hang",
           timeout=15)
    body = s.wait_for("v1", timeout=10)
    assert time.monotonic() - began < 3 + 5 + 2
    assert pid_of(body) in children(s.proc.pid)
    release.touch()
    for thread in hung:
        thread.join(30)


def test_a_worker_whose_main_loop_is_stuck_is_replaced(site):
    s = site()
    s.start("--worker-timeout", "2", "--graceful-timeout", "1")
    stuck = pid_of(get(s.url))
    threading.Thread(target=get, args=(s.url + "gil?60",), kwargs={"timeout": 60},
                     daemon=True).start()
    s.said(rf"Replacing server child {stuck}: its main loop has not run", timeout=15)
    body = s.wait_for("v1", timeout=15)
    assert pid_of(body) != stuck
    deadline = time.monotonic() + 10
    while pid_alive(stuck) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not pid_alive(stuck)                   # killed after the graceful timeout


# -- 2. --max-requests, --max-worker-memory ------------------------------------------------

def test_max_requests_rotates_the_workers_without_a_failed_request(site):
    s = site()
    s.start("--workers", "2", "--max-requests", "50", "--max-requests-jitter", "5")
    clients = [KeepAliveClient(s.port, pause=0) for _ in range(3)]
    for client in clients:
        client.start()

    def pids() -> set:
        return {pid_of(body) for c in clients for _t, body in list(c.answers) if body}
    # Two generations of successors: each worker serves on while its own
    # successor starts, so a few more than 55 each.
    deadline = time.monotonic() + 60
    while (len(pids()) < 4 or sum(len(c.answers) for c in clients) < 300) \
            and time.monotonic() < deadline:
        time.sleep(0.05)
    failed = [c.stop() for c in clients]
    assert not any(failed), failed
    assert len(pids()) >= 4, pids()
    assert s.out.count(r"Replacing server child \d+: it has served 5\d requests") >= 2


def test_max_worker_memory_replaces_a_leaking_worker(site):
    s = site()
    s.start("--max-worker-memory", "120M")
    leaky = pid_of(get(s.url))
    for _ in range(6):
        get(s.url + "leak")                       # 20 MB each
    s.said(rf"Replacing server child {leaky}: it uses \d+ MiB, over --max-worker-memory 120 MiB",
           timeout=15)
    deadline = time.monotonic() + 15
    while pid_of(s.wait_for("v1")) == leaky and time.monotonic() < deadline:
        time.sleep(0.05)
    assert wait_gone(leaky, 15)


# -- 3. access log ------------------------------------------------------------------------

COMBINED = re.compile(r'^127\.0\.0\.1 - - \[\d\d/\w\w\w/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] '
                      r'"GET /(\?x=1)? HTTP/1\.1" 200 \d+ "-" "[^"]*"$')


def lines_of(path, count: int, timeout: float = 10.0) -> list[str]:
    """The lines of ``path`` once it has ``count`` (each is written as its request ends)."""
    deadline = time.monotonic() + timeout
    while True:
        lines = path.read_text().splitlines() if path.exists() else []
        if len(lines) >= count or time.monotonic() > deadline:
            return lines
        time.sleep(0.02)


def test_the_access_log_has_a_line_per_request_and_is_reopened_on_usr1(site):
    s = site()
    log = s.dir / "access.log"
    s.start("--workers", "2", "--access-log", str(log), "--pid-file", str(s.pid_file))
    for _ in range(10):
        get(s.url + "?x=1")
    lines = lines_of(log, 11)
    assert len(lines) == 11 and all(COMBINED.match(line) for line in lines), lines
    rotated = s.dir / "access.log.1"
    os.rename(log, rotated)
    mark = s.signal(signal.SIGUSR1)
    s.said(r"SIGUSR1: reopened the access log", mark)
    # Each worker takes the new file when its control thread reads the
    # monitor's message: once one request has landed there, all do.
    while not log.exists() or not log.read_text():
        get(s.url)
    before = len(rotated.read_text().splitlines())
    for _ in range(5):
        get(s.url)
    assert len(lines_of(log, 6)) >= 6
    assert len(rotated.read_text().splitlines()) == before


def test_the_access_log_format_and_its_escaping(site):
    s = site()
    s.start("--access-log", "-", "--access-log-format",
            '%(m)s %(U)s %(q)s %(s)s %(B)s %(D)s %(L)s %({User-Agent}i)s %({Content-Type}o)s')
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
    conn.request("GET", "/?a=1", headers={"User-Agent": 'evil" agent\twith a tab'})
    conn.getresponse().read()
    conn.close()
    match = s.said(r"^GET / a=1 200 (\d+) (\d+) (\d+\.\d{6}) (.*) text/plain$")
    assert int(match.group(1)) > 0 and int(match.group(2)) > 0
    assert match.group(4) == 'evil\\" agent\\x09with a tab'


def test_every_access_log_atom_renders_from_the_request():
    from paste.script.serving.accesslog import _ATOMS, compile_format, line_maker
    from paste.script.serving.inflight import Request
    request = Request(None, {
        "REQUEST_METHOD": "POST", "SCRIPT_NAME": "/app", "PATH_INFO": "/a\u00e9",
        "QUERY_STRING": "x=1", "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "10.0.0.7",
        "REMOTE_USER": "ann", "HTTP_REFERER": "http://r/", "HTTP_USER_AGENT": "ua",
        "HTTP_X_ID": "7", "wsgi.key": "v"})
    request.status, request.headers, request.length = "201 Created", [("X-Out", "o")], 0
    request.started = 100.0
    fmt = " ".join(f"%({atom})s" for atom in sorted(_ATOMS) if atom != "t")
    fmt += " %({X-Id}i)s %({X-Missing}i)s %({x-out}o)s %({wsgi.key}e)s %%"
    line = line_maker(compile_format(fmt))(request, request.environ, 101.5)
    # B D H L M T U a b f h l m p q r s u, then the header atoms
    assert line.split(" ") == [
        "0", "1500000", "HTTP/1.1", "1.500000", "1500", "1", "/app/a\u00e9", "ua", "-",
        "http://r/", "10.0.0.7", "-", "POST", str(os.getpid()), "x=1",
        "POST", "/app/a%C3%A9?x=1", "HTTP/1.1", "201", "ann",
        "7", "-", "o", "v", "%"], line
    clock = line_maker(compile_format("%(t)s"))(request, request.environ, 0.0)
    assert re.fullmatch(r"\[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\]", clock), clock


@pytest.mark.parametrize("dirty", ["REMOTE_USER", "HTTP_REFERER", "HTTP_USER_AGENT", "PATH_INFO",
                                   "HTTP_X_ID"])
def test_each_client_value_is_escaped_alone_when_one_needs_it(dirty):
    # The client's values are checked together; when one needs escaping,
    # each is escaped on its own, and the others come out as they came in.
    from paste.script.serving.accesslog import compile_format, line_maker
    from paste.script.serving.inflight import Request
    environ = {"REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": "/p",
               "QUERY_STRING": "", "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "10.0.0.7",
               "REMOTE_USER": "ann", "HTTP_REFERER": "http://r/", "HTTP_USER_AGENT": "ua",
               "HTTP_X_ID": "7"}
    clean = dict(environ)
    environ[dirty] += '"\\\x1b'
    request = Request(None, environ)
    request.status, request.headers, request.length = "200 OK", [], 3
    make = line_maker(compile_format('%(h)s %(u)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %({X-Id}i)s'))
    fields = {"REMOTE_ADDR": "10.0.0.7", "REMOTE_USER": "ann", "PATH_INFO": "/p",
              "HTTP_REFERER": "http://r/", "HTTP_USER_AGENT": "ua", "HTTP_X_ID": "7"}
    if dirty == "PATH_INFO":    # quoted in the request line, so nothing left to escape
        fields["PATH_INFO"] = "/p%22%5C%1B"
    else:
        fields[dirty] = clean[dirty] + '\\"\\\\\\x1b'
    assert make(request, environ, 1.0) == (
        f'{fields["REMOTE_ADDR"]} {fields["REMOTE_USER"]} "GET {fields["PATH_INFO"]} HTTP/1.1" '
        f'200 3 "{fields["HTTP_REFERER"]}" "{fields["HTTP_USER_AGENT"]}" {fields["HTTP_X_ID"]}')


def test_the_access_log_counts_what_the_application_writes_and_keeps_no_server_object(tmp_path):
    from paste.script.serving.accesslog import AccessLog
    from paste.script.serving.inflight import InFlight

    def app(environ, start_response):
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"abc")                       # WSGI's write(): counted as well
        return [b"de", b"f"]

    import gc
    import weakref
    sent = []

    class ServerTask:                       # what a server's start_response belongs to
        def start_response(self, status, headers, exc_info=None):
            return sent.append

    path = tmp_path / "access.log"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    log = AccessLog(fd, "%(s)s %(B)s")
    tracker = InFlight(app, access_log=log)
    task = ServerTask()
    result = tracker({"REQUEST_METHOD": "GET"}, task.start_response)
    sent.extend(result)
    result.close()
    gone = weakref.ref(task)
    del task, result
    gc.collect()
    assert gone() is None       # the line waits for its batch; the server's task does not
    log.flush()
    os.close(fd)
    assert b"".join(sent) == b"abcdef"
    assert path.read_text() == "200 6\n"


def test_requests_noted_by_many_threads_get_one_line_each(tmp_path):
    """Threads note requests with no lock while batches are written (by the
    thread that fills one, and once a second by another): no line is lost
    or written twice."""
    import sys
    from paste.script.serving.accesslog import BATCH, AccessLog
    from paste.script.serving.inflight import Request
    path = tmp_path / "access.log"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    log = AccessLog(fd, "%(q)s")
    count = BATCH * 3 + 7
    noting = threading.Event()

    def note(thread):
        for n in range(count):
            log.write(Request(None, {"QUERY_STRING": f"{thread}-{n}"}))

    def flush_often():
        while noting.is_set():
            log.flush()

    threads = [threading.Thread(target=note, args=(t,)) for t in range(6)]
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)          # threads take turns as often as they can
    try:
        noting.set()
        flusher = threading.Thread(target=flush_often)
        flusher.start()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        noting.clear()
        flusher.join()
    finally:
        sys.setswitchinterval(switch)
    log.flush()
    os.close(fd)
    lines = path.read_text().splitlines()
    assert sorted(lines) == sorted(f"{t}-{n}" for t in range(6) for n in range(count))


# -- 4. --check ------------------------------------------------------------------------

def test_check_loads_and_binds_nothing(site):
    s = site()
    result = s.paster("--check")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("OK: ") and "[server:main]" in result.stdout
    assert not listening_inodes(s.port)
    s.write_app("v1", factory_extra="raise RuntimeError('no database')")
    result = s.paster("--check")
    assert result.returncode == 1
    assert result.stderr.strip() == "Error: RuntimeError: no database"
    s.ini.write_text(s.ini.read_text().replace("port = ", "threads = lots\nport = "))
    s.write_app("v1")
    result = s.paster("--check")
    assert result.returncode == 1 and "threads" in result.stderr, result.stderr


# -- 5. signals: USR2 -------------------------------------------------------------------

def test_usr2_re_executes_the_monitor_without_a_failed_request(site):
    s = site()
    s.start("--workers", "2", "--pid-file", str(s.pid_file))
    old_monitor = s.proc.pid
    prober = Prober(s.url)
    prober.start()
    clients = [KeepAliveClient(s.port, pause=0.01) for _ in range(4)]
    for client in clients:
        client.start()
    time.sleep(0.3)
    s.write_app("v2")                             # `pip install -U` meanwhile
    s.proc.send_signal(signal.SIGUSR2)
    s.said(r"SIGUSR2: the new monitor \(PID (\d+)\) serves; this one stops\.")
    s.wait_for("v2")
    assert s.exit_code(30) == 0                   # the old monitor is gone
    new_monitor = int(s.pid_file.read_text())
    assert new_monitor != old_monitor and pid_alive(new_monitor)
    status = s.paster("--pid-file", str(s.pid_file), "status")
    assert status.returncode == 0 and str(new_monitor) in status.stdout
    time.sleep(0.3)
    failed = prober.stop() + [e for c in clients for e in c.stop()]
    assert not failed, failed
    stopped = s.paster("--pid-file", str(s.pid_file), "stop")
    assert stopped.returncode == 0, stopped.stderr
    assert not pid_alive(new_monitor) and not s.pid_file.exists()


# -- 6. where the settings live ------------------------------------------------------------

def test_settings_from_exe_and_from_a_section_whose_runner_does_not_take_them(site):
    port = free_port()
    config = f"""\
#!/usr/bin/env paster
[exe]
command = serve
max_requests = 7

[app:main]
paste.app_factory = siteapp:make_app

[server:main]
use = egg:waitress#main
host = 127.0.0.1
port = {port}
workers = 2
"""
    s = site(config=config)
    s.url = f"http://127.0.0.1:{port}/"
    from tests.support import PYTHON
    import subprocess
    from tests.serving_support import Output
    s.proc = subprocess.Popen([PYTHON, "-m", "paste.script", str(s.ini), "-v"], cwd=s.dir,
                              env=s.env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, start_new_session=True)
    s.out = Output(s.proc)
    s.said(r"Generation 1 serving: workers \d+, \d+\.")
    for _ in range(20):
        s.wait_for("v1")
    s.said(r"it has served 7 requests \(--max-requests\)")


def test_umask_chdir_and_env_apply_before_the_application_loads(site, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    s = site()
    s.start("--umask", "027", "--chdir", str(elsewhere), "--env", "GREETING=hello world",
            "--env", "OTHER=1")
    body = get(s.url + "env?GREETING")
    assert f"cwd={elsewhere} umask=27 env=hello world" in body, body
