"""``paster serve --reload`` for real: a monitor process, forked workers, loopback HTTP."""
from __future__ import annotations

import os
import signal
import socket
import threading
import time

import pytest
from pathlib import Path

from tests.serving_support import (KeepAliveClient, Output, Prober, Site, children, get,  # noqa: F401
                                   public_tmp, wait_for_children)
from tests.support import free_port, paster_env, pid_alive, run_paster, start_paster, write

APP = """\
import os, time
VERSION = "{version}"

def make_app(global_conf, message="none", data_file=None):
    extra = ""
    if data_file:
        from paste.script.reloader import watch_file
        watch_file(data_file)
        with open(data_file) as f:
            extra = " " + f.read().strip()
    {factory_extra}
    def app(environ, start_response):
        if environ["PATH_INFO"] == "/exit":
            os._exit(7)
        if environ["PATH_INFO"] == "/slow":
            time.sleep(float(environ["QUERY_STRING"]))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [f"{{VERSION}} {{message}}{{extra}} pid={{os.getpid()}}".encode()]
    return app
"""

CONFIG = """\
[app:main]
paste.app_factory = rlapp:make_app
message = {message}

[server:main]
use = {server}
host = 127.0.0.1
port = {port}
"""


def write_app(src, version="v1", factory_extra="pass"):
    write(src / "rlapp.py", APP.format(version=version, factory_extra=factory_extra))


def wait_for_body(url: str, startswith: str, timeout: float = 15.0) -> str:
    deadline = time.monotonic() + timeout
    body = None
    while time.monotonic() < deadline:
        body = get(url)
        if body is not None and body.startswith(startswith):
            return body
        time.sleep(0.01)
    raise AssertionError(f"never got {startswith!r} from {url}; last answer {body!r}")


def worker_pid(body: str) -> int:
    return int(body.rsplit("pid=", 1)[1])


class Server:
    """One ``paster serve --reload`` process and what it needs."""

    def __init__(self, tmp_path, server="egg:waitress#main", message="one", extra_args=(),
                 config=None):
        self.tmp = tmp_path
        self.src = tmp_path / "src"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        write_app(self.src)
        self.ini = write(tmp_path / "app.ini", config or CONFIG.format(
            message=message, server=server, port=self.port))
        self.extra_args = list(extra_args)
        self.proc = None
        self.output = ""
        self.pids: set[int] = set()

    def env(self) -> dict:
        env = paster_env(PYTHONPATH=str(self.src))
        # Bytecode caches on, as in development: a stale one must not be served.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        return env

    def start(self, expect="v1", args=(), env=None):
        self.proc = start_paster("serve", "--reload", *self.extra_args, *args, str(self.ini),
                                 cwd=self.tmp, env=env or self.env())
        self.out = Output(self.proc)
        if expect is not None:
            return self.wait_for(expect)

    def wait_for(self, startswith, timeout=15.0):
        body = wait_for_body(self.url, startswith, timeout)
        self.pids.add(worker_pid(body))
        return body

    def said(self, pattern, since=0, timeout=30.0):
        """Wait for the monitor to report ``pattern`` (a regex) in its output."""
        return self.out.wait_for(pattern, since, timeout)

    def stop(self, sig=signal.SIGTERM):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except Exception:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        if self.proc is not None:
            self.output = self.out.finish()
        return self.output


@pytest.fixture
def server(tmp_path):
    servers = []

    def make(**kw):
        s = Server(tmp_path, **kw)
        servers.append(s)
        return s

    yield make
    for s in servers:
        s.stop()
        for pid in s.pids:
            if pid_alive(pid):
                os.kill(pid, signal.SIGKILL)
                pytest.fail(f"worker {pid} outlived the monitor")


def test_edit_module_serves_new_code(server):
    s = server()
    first = s.start()
    # Same size, same second: a stale bytecode cache must not win.
    write_app(s.src, version="v2")
    second = s.wait_for("v2 one")
    assert worker_pid(second) != worker_pid(first)
    write_app(s.src, version="v3")
    s.wait_for("v3 one")


def test_edit_ini_option(server):
    s = server()
    s.start()
    s.ini.write_text(s.ini.read_text().replace("message = one", "message = two"))
    s.wait_for("v1 two")


def test_edit_file_included_with_use_config(server, tmp_path):
    write(tmp_path / "conf" / "other.ini", """
        [app:main]
        paste.app_factory = rlapp:make_app
        message = included
    """)
    port = free_port()
    config = f"""
        [app:main]
        use = config:conf/other.ini

        [server:main]
        use = egg:waitress#main
        host = 127.0.0.1
        port = {port}
    """
    s = server(config="\n".join(line.strip() for line in config.splitlines()))
    s.port, s.url = port, f"http://127.0.0.1:{port}/"
    s.start(expect="v1 included")
    other = tmp_path / "conf" / "other.ini"
    other.write_text(other.read_text().replace("included", "changed"))
    s.wait_for("v1 changed")


def test_broken_edit_keeps_old_code_then_fix_is_served(server):
    s = server()
    first = s.start()
    write(s.src / "rlapp.py", APP.format(version="v2", factory_extra="pass") + "\ndef broken(:\n")
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:   # the old worker answers all along
        assert get(s.url) == first
        time.sleep(0.02)
    write_app(s.src, version="v3")
    s.wait_for("v3 one")
    output = s.stop()
    assert output.count("SyntaxError") == 1, output
    assert "previous version keeps serving" in output


@pytest.mark.parametrize("breakage", ["factory", "section"])
def test_factory_error_or_missing_section_keeps_old_code(server, breakage):
    s = server()
    first = s.start()
    good_config = s.ini.read_text()
    if breakage == "factory":
        write_app(s.src, version="v2", factory_extra="raise RuntimeError('no database')")
        expected = "RuntimeError: no database"
    else:
        s.ini.write_text(good_config.replace("[app:main]", "[app:other]"))
        expected = "main"
    # The monitor reports the attempt and its failure; the old worker answers.
    s.said(r"changed; reloading\.")
    s.said("Error loading the changed application; the previous version keeps serving")
    assert get(s.url) == first
    if breakage == "factory":
        write_app(s.src, version="v3")
        s.wait_for("v3 one")
    else:
        s.ini.write_text(good_config.replace("message = one", "message = back"))
        s.wait_for("v1 back")
    output = s.stop()
    assert output.count(expected) >= 1, output
    assert output.count("Error loading the changed application") == 1, output


def test_watch_file_delete_and_recreate(server, tmp_path):
    data = write(tmp_path / "data.txt", "alpha\n")
    s = server()
    s.ini.write_text(s.ini.read_text().replace("message = one",
                                               f"message = one\ndata_file = {data}"))
    first = s.start(expect="v1 one alpha")
    data.unlink()                        # the new worker fails: the old one serves on
    s.said(r"data\.txt changed; reloading\.")
    s.said("Error loading the changed application.*")
    s.said(r"Cannot read .*data\.txt: No such file")
    assert get(s.url) == first
    mark = s.out.mark()
    data.write_text("beta\n")            # back again: picked up
    s.said(r"data\.txt changed; reloading\.", since=mark)
    s.wait_for("v1 one beta")


def test_delete_and_recreate_module(server):
    s = server()
    first = s.start()
    module = s.src / "rlapp.py"
    module.unlink()
    s.said(r"rlapp\.py changed; reloading\.")
    s.said("ModuleNotFoundError: No module named 'rlapp'")
    assert get(s.url) == first
    write_app(s.src, version="v9")
    s.wait_for("v9 one")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_monitor_and_worker_promptly(server, sig):
    s = server()
    pid = worker_pid(s.start())
    started = time.monotonic()
    s.proc.send_signal(sig)
    s.proc.wait(5)
    assert time.monotonic() - started < 3
    deadline = time.monotonic() + 2
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not pid_alive(pid)
    assert get(s.url, timeout=1) is None


def test_worker_exits_when_monitor_is_killed(server):
    s = server()
    pid = worker_pid(s.start())
    s.proc.kill()
    s.proc.wait(5)
    deadline = time.monotonic() + 5
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not pid_alive(pid)


@pytest.mark.parametrize("runner", ["egg:waitress#main", "egg:PasteScript#wsgiutils",
                                    "egg:PasteScript#cherrypy", "egg:PasteScript#twisted"])
def test_no_refused_request_while_reloading(server, runner):
    s = server(server=runner)
    s.start()
    prober = Prober(s.url)
    prober.start()
    for version in ("v2", "v3", "v4", "v5"):
        Site.wait_for_probes(prober)
        write_app(s.src, version=version)
        s.wait_for(version)
    Site.wait_for_probes(prober)
    prober.check_switches("v1", "v2", "v3", "v4", "v5")


def test_first_start_broken_waits_for_fix(server):
    s = server()
    write(s.src / "rlapp.py", "def broken(:\n")
    s.start(expect=None)
    s.said("Error loading the application; waiting for a change to try again")
    assert s.proc.poll() is None        # the monitor waits instead of exiting
    write_app(s.src, version="v4")
    s.wait_for("v4 one")


def test_vars_log_file_app_name_and_server_name(server, tmp_path):
    port = free_port()
    config = CONFIG.format(message="%(greeting)s", server="egg:waitress#main",
                           port="%(http_port)s").replace("[server:main]", "[server:dev]")
    config = config.replace("[app:main]", "[app:other]")
    log = tmp_path / "paster.log"
    s = server(config=config)
    s.port, s.url = port, f"http://127.0.0.1:{port}/"
    s.proc = start_paster("serve", "--reload", "--log-file", str(log), "--server-name", "dev",
                          "-n", "other", str(s.ini), f"http_port={port}", "greeting=hi",
                          cwd=tmp_path, env=s.env())
    s.out = Output(s.proc)
    s.wait_for("v1 hi")
    write_app(s.src, version="v2")
    s.wait_for("v2 hi")
    s.stop()
    text = log.read_text()
    assert "rlapp.py changed; reloading." in text, text


def test_reload_with_monitor_restart_is_rejected(tmp_path):
    ini = write(tmp_path / "app.ini", CONFIG.format(message="x", server="egg:waitress#main",
                                                    port=free_port()))
    result = run_paster("serve", "--reload", "--monitor-restart", str(ini))
    assert result.returncode != 0
    assert "--monitor-restart" in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_polling_when_asked(server):
    s = server(extra_args=["--reload-interval", "0.05", "-v"])
    s.start(env=dict(s.env(), PASTE_RELOAD_POLL="1"))
    s.said(r"Watching files for changes \(polling\)")
    write_app(s.src, version="v2")
    s.wait_for("v2")


def test_port_edit_moves_the_server(server):
    s = server()
    s.start()
    old_url = s.url
    new_port = free_port()
    s.ini.write_text(s.ini.read_text().replace(f"port = {s.port}", f"port = {new_port}"))
    s.url = f"http://127.0.0.1:{new_port}/"
    s.wait_for("v1")
    deadline = time.monotonic() + 5      # the old address stops listening once unused
    while get(old_url, timeout=1) is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert get(old_url, timeout=1) is None


RAW_RUNNER = """

_EARLY = []

def _raw_listener(host, port):
    # Binds without Python's socket.socket.bind, like a server written in C.
    import _socket
    raw = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
    raw.setsockopt(_socket.SOL_SOCKET, _socket.SO_REUSEADDR, 1)
    try:
        raw.bind((host, int(port)))
        raw.listen(64)
    except OSError:
        raw.close()
        raise
    return raw

def listen_early(port):
    # While the application loads: the worker's watch for new listening
    # sockets (it polls) never sees this one. Another server on the port
    # (the old one, during a reload) leaves it to run_raw.
    try:
        _EARLY.append(_raw_listener("127.0.0.1", port))
    except OSError:
        pass

def run_raw(wsgi_app, global_conf, host="127.0.0.1", port="8080"):
    import socket
    from wsgiref.simple_server import WSGIRequestHandler, WSGIServer
    server = WSGIServer((host, int(port)), WSGIRequestHandler, bind_and_activate=False)
    raw = _EARLY.pop() if _EARLY else _raw_listener(host, port)
    server.socket.close()
    server.socket = socket.socket(fileno=raw.detach())
    server.server_name, server.server_port = host, int(port)
    server.setup_environ()
    server.set_app(wsgi_app)
    server.serve_forever()
"""


def test_runner_binding_its_own_socket_falls_back_to_plain_restart(server):
    s = server(server="call:rlapp:run_raw")
    s.ini.write_text(s.ini.read_text().replace("use = call:rlapp:run_raw",
                                               "paste.server_runner = rlapp:run_raw"))
    with open(s.src / "rlapp.py", "a") as f:
        f.write(RAW_RUNNER)
    s.start()
    (s.src / "rlapp.py").write_text(APP.format(version="v2", factory_extra="pass") + RAW_RUNNER)
    s.wait_for("v2")
    (s.src / "rlapp.py").write_text(APP.format(version="v3", factory_extra="pass") + RAW_RUNNER)
    s.wait_for("v3")
    assert "reloading by stopping the old server first" in s.stop()


def test_a_runner_answering_before_the_monitor_knows_it_listens_is_not_given_up(server):
    # The worker tells the monitor that its runner serves on a socket of its
    # own before the first request runs: a change saved right after that
    # answer is a reload of a serving server (stop it, then start the new
    # one), never a pending start given up without a word.
    s = server(server="call:rlapp:run_raw")
    s.ini.write_text(s.ini.read_text().replace("use = call:rlapp:run_raw",
                                               "paste.server_runner = rlapp:run_raw"))
    early = f"listen_early({s.port})"
    write(s.src / "rlapp.py", APP.format(version="v1", factory_extra=early) + RAW_RUNNER)
    s.start()
    write(s.src / "rlapp.py", APP.format(version="v2", factory_extra=early) + RAW_RUNNER)
    s.wait_for("v2")
    output = s.stop()
    assert "rlapp.py changed; reloading." in output, output
    assert "reloading by stopping the old server first" in output, output


def test_server_exiting_on_its_own_is_replaced_at_once(server):
    s = server()
    first = worker_pid(s.start())
    assert get(s.url + "exit", timeout=2) is None
    s.said(rf"Server child {first} exited \(exit code 7\); restarting at once")
    assert worker_pid(s.wait_for("v1")) != first


def test_editor_saving_with_a_backup_reloads_once_without_an_error(server):
    s = server()
    s.start()
    module = s.src / "rlapp.py"
    os.rename(module, s.src / "rlapp.py~")      # what vim's backup-then-write does
    time.sleep(0.005)
    write_app(s.src, version="v2")
    s.wait_for("v2")
    time.sleep(0.2)
    output = s.stop()
    assert "Error" not in output, output
    assert output.count("changed; reloading.") == 1, output


def test_warm_standby_takes_the_next_change(server):
    s = server(extra_args=["-v"])
    s.start()
    standby = int(s.said(r"Standby (\d+) ready for the next change\.").group(1))
    write_app(s.src, version="v2")
    assert worker_pid(s.wait_for("v2")) == standby


def _started_at(pid: int) -> float:
    """When ``pid`` started, in seconds since boot (/proc/PID/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        ticks = int(f.read().rsplit(")", 1)[1].split()[19])
    return ticks / os.sysconf("SC_CLK_TCK")


def _uptime() -> float:
    with open("/proc/uptime") as f:
        return float(f.read().split()[0])


def test_no_standby_with_preload_off(server):
    # With a standby, the worker that serves a change was forked before it.
    s = server(extra_args=["-v"])
    s.start(env=dict(s.env(), PASTE_RELOAD_PRELOAD="0"))
    s.said(r"No warm standby \(PASTE_RELOAD_PRELOAD=0\)")
    edited = _uptime()
    write_app(s.src, version="v2")
    new = worker_pid(s.wait_for("v2"))
    assert _started_at(new) >= edited - 0.02


def test_changed_library_is_not_served_from_a_stale_standby(server, tmp_path):
    """A module under site-packages is preloaded by the standby; editing it must still show."""
    userbase = tmp_path / "userbase"
    env = dict(paster_env(), PYTHONUSERBASE=str(userbase))
    import subprocess
    import sys
    site_dir = subprocess.run([sys.executable, "-c", "import site; print(site.getusersitepackages())"],
                              env=env, capture_output=True, text=True, check=True).stdout.strip()
    library = write(Path(site_dir) / "rllib.py", 'VALUE = "lib1"\n')
    # rlfacade holds on to a name from rllib: dropping rllib alone would not do.
    write(Path(site_dir) / "rlfacade.py", "from rllib import VALUE\n")
    s = server()
    write_app(s.src, factory_extra="import rlfacade; extra = ' ' + rlfacade.VALUE")
    env = dict(s.env(), PYTHONUSERBASE=str(userbase),
               PYTHONPATH=os.pathsep.join([str(s.src), site_dir]))
    serving = worker_pid(s.start(expect="v1 one lib1", env=env))
    s.pids.add(serving)
    wait_for_children(s.proc.pid, 2)
    time.sleep(0.5)                          # the standby has imported both
    library.write_text('VALUE = "lib2"\n')
    s.wait_for("v1 one lib2")


def test_many_changed_files_reach_the_standby(server, tmp_path):
    """More changed paths than fit in one message (a branch switch) are sent in pieces."""
    data_dir = tmp_path / ("d" * 120)
    data_dir.mkdir()
    files = [data_dir / f"data_file_{i:04d}_{'x' * 40}.txt" for i in range(700)]
    for path in files:
        path.write_text("1")
    s = server()
    write_app(s.src, factory_extra=(
        f"from paste.script.serve import watch_file; d = {str(data_dir)!r}; "
        "[watch_file(os.path.join(d, n)) for n in os.listdir(d)]"))
    serving = worker_pid(s.start())
    wait_for_children(s.proc.pid, 2)
    for path in files:
        path.write_text("2")
    body = s.wait_for("v1")
    deadline = time.monotonic() + 10
    while worker_pid(body) == serving and time.monotonic() < deadline:
        body = s.wait_for("v1")
    wait_for_children(s.proc.pid, 2)
    time.sleep(0.3)
    write_app(s.src, version="v2", factory_extra="pass")
    s.wait_for("v2")
    assert s.proc.poll() is None


def _ids_of(pid: int) -> tuple[int, int]:
    with open(f"/proc/{pid}/status") as f:
        fields = dict(line.split(":", 1) for line in f if ":" in line)
    return int(fields["Uid"].split()[1]), int(fields["Gid"].split()[1])


def test_user_group_and_pid_file_with_reload(server, public_tmp):
    # The monitor stays root (it binds and holds the pid file); every worker
    # loads the app, then switches to --user/--group before serving.
    import grp
    import pwd
    nobody = pwd.getpwnam("nobody")
    group = next(name for name in ("nogroup", "nobody") if _has_group(name))
    pid_path = public_tmp / "reload.pid"
    s = Server(public_tmp, extra_args=["--user", "nobody", "--group", group,
                                       "--pid-file", str(pid_path)])
    first = s.start()
    assert _ids_of(worker_pid(first)) == (nobody.pw_uid, grp.getgrnam(group).gr_gid)
    assert pid_path.read_text().strip() == str(s.proc.pid)
    again = run_paster("serve", "--reload", "--pid-file", str(pid_path), str(s.ini), cwd=public_tmp)
    assert again.returncode == 1 and "running" in (again.stdout + again.stderr).lower()
    write_app(s.src, version="v2")
    second = s.wait_for("v2 one")
    assert _ids_of(worker_pid(second)) == (nobody.pw_uid, grp.getgrnam(group).gr_gid)
    s.stop()
    assert s.proc.returncode == 0
    assert not pid_path.exists()


def _has_group(name: str) -> bool:
    import grp
    try:
        grp.getgrnam(name)
        return True
    except KeyError:
        return False


# -- the reloader's own defects (issue 12), each driven by the monitor's report --------

LAZY_APP = """\
import os

def make_app(global_conf, **local_conf):
    def app(environ, start_response):
        from rlpkg import lazymod          # first imported while serving
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [f"v1 {lazymod.VALUE} pid={os.getpid()}".encode()]
    return app
"""


def test_module_first_imported_while_serving_is_watched(server):
    s = server(extra_args=["-v"])
    write(s.src / "rlpkg" / "__init__.py", "")
    lazy = write(s.src / "rlpkg" / "lazymod.py", "VALUE = 'lazy1'\n")
    write(s.src / "rlapp.py", LAZY_APP)
    s.start(expect="v1 lazy1")
    s.said(r"Watching (.*/)?rlpkg/lazymod\.py \(imported while serving\)\.")
    lazy.write_text("VALUE = 'lazy2-longer'\n")
    s.said(r"rlpkg/lazymod\.py changed; reloading\.")
    s.wait_for("v1 lazy2-longer")


def test_crashed_worker_is_replaced_at_once_by_the_standby(server):
    s = server(extra_args=["-v"])
    serving = worker_pid(s.start())
    # (Not "the other child": the file watcher is one too.)
    standby = int(s.said(r"Standby (\d+) ready for the next change\.").group(1))
    time.sleep(0.3)                      # the standby has imported the libraries
    os.kill(serving, signal.SIGKILL)
    began = time.monotonic()
    body = get(s.url, timeout=10)        # answered, not left hanging
    assert body is not None and time.monotonic() - began < 5
    s.said(rf"Server child {serving} exited \(killed by SIGKILL\); restarting at once")
    assert worker_pid(s.wait_for("v1")) == standby


@pytest.mark.parametrize("statement,error", [
    ("import pk.helper as helper", "ModuleNotFoundError: No module named 'pk.helper'"),
    ("from pk import helper", "ImportError: cannot import name 'helper' from 'pk'"),
])
def test_new_module_saved_after_the_module_importing_it_is_picked_up(server, statement, error):
    s = server()
    write(s.src / "pk" / "__init__.py", "")
    s.start()
    # "Save all": app first, the new module it imports a moment later.
    write_app(s.src, version="v2", factory_extra=f"{statement}; extra = ' ' + helper.VALUE")
    s.said(error)
    time.sleep(0.1)
    write(s.src / "pk" / "helper.py", "VALUE = 'helped'\n")
    s.wait_for("v2 one helped")


def test_new_port_held_by_another_process_keeps_the_old_worker_and_the_fast_path(server):
    s = server()
    first = s.start()
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        taken = blocker.getsockname()[1]
        config = s.ini.read_text()
        s.ini.write_text(config.replace(f"port = {s.port}", f"port = {taken}"))
        s.said(rf"Cannot listen on 127\.0\.0\.1:{taken}: the address is already in use; "
               r"the previous version keeps serving\.")
        assert get(s.url) == first
    new_port = free_port()
    mark = s.out.mark()
    s.ini.write_text(config.replace(f"port = {s.port}", f"port = {new_port}"))
    s.said(rf"Now listening on 127\.0\.0\.1:{new_port}\.", mark)
    s.url = f"http://127.0.0.1:{new_port}/"
    s.wait_for("v1")
    write_app(s.src, version="v2")       # and reloads keep handing the socket over
    s.wait_for("v2")
    assert "binds its own sockets" not in s.stop()


def test_symlinked_module_is_watched_through_its_target(server, tmp_path):
    s = server()
    real = tmp_path / "real"
    real.mkdir()
    write_app(real, version="v1")
    (s.src / "rlapp.py").unlink()
    (s.src / "rlapp.py").symlink_to(real / "rlapp.py")
    s.start()
    write_app(real, version="v2")        # the target changes, not the link
    s.said(r"rlapp\.py changed; reloading\.")
    s.wait_for("v2")


def test_request_longer_than_ten_seconds_finishes_across_a_reload(server):
    s = server()
    s.start()
    results = []
    slow = threading.Thread(target=lambda: results.append(get(s.url + "slow?12", timeout=40)))
    slow.start()
    time.sleep(0.5)                      # the request is in the old worker
    write_app(s.src, version="v2")
    s.said(r"rlapp\.py changed; reloading\.")
    s.wait_for("v2")
    slow.join(40)
    assert results and results[0] is not None and results[0].startswith("v1 "), results


def test_keep_alive_client_loses_nothing_and_sees_new_code_at_once(server):
    s = server(extra_args=["-v"])
    s.start()
    client = KeepAliveClient(s.port)
    client.start()
    try:
        time.sleep(0.3)
        mark = s.out.mark()
        write_app(s.src, version="v2")
        match = s.said(r"Generation \d+ serving: workers (\d+)\.", mark)
        served_at = time.monotonic()
        deadline = served_at + 5
        while time.monotonic() < deadline and not any(
                body and body.startswith("v2 ") for _t, body in client.answers):
            time.sleep(0.01)
    finally:
        client.done.set()
        client.join(10)
    failed = [a for a in client.answers if a[1] is None]
    assert not failed, f"{len(failed)} of {len(client.answers)} failed"
    first_new = next(t for t, body in client.answers if body.startswith("v2 "))
    assert first_new - served_at < 0.5, first_new - served_at
    assert worker_pid([b for _t, b in client.answers][-1]) == int(match.group(1))
    assert client.connections == 2          # the old one closed, one new connection


def test_many_files_saved_at_once_are_announced_as_one_reload(server):
    s = server(extra_args=["-v"])
    modules = [write(s.src / f"burst{i}.py", f"V = {i}\n") for i in range(4)]
    slow_load = "import time; time.sleep(0.3); " + "; ".join(f"import burst{i}" for i in range(4))
    write_app(s.src, factory_extra=slow_load)
    s.start()
    mark = s.out.mark()
    for i, module in enumerate(modules):   # saves, each while the last one's load is under way
        module.write_text(f"V = {i * 10}  # switched\n")
        time.sleep(0.25)                    # longer than a burst's quiet time (settle.py)
    write_app(s.src, version="v2", factory_extra=slow_load)
    s.wait_for("v2")
    assert s.out.count(r"changed; reloading\.$", mark) == 1, s.out.text
    assert s.out.count(r"more file\(s\) changed; reloading again\.", mark) >= 1


def test_broken_app_section_header_is_a_bad_config_file_not_a_bad_server(server):
    s = server()
    first = s.start()
    s.ini.write_text(s.ini.read_text().replace("[app:main]", "[app:main"))
    s.said(r"Bad configuration file .*app\.ini")
    assert get(s.url) == first
    assert "Bad configuration for server" not in s.stop()
