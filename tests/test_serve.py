"""paster serve: loading, real servers on loopback, the daemon lifecycle, bad input."""
import contextlib
import grp
import os
import pathlib
import pwd
import re
import shutil
import signal
import subprocess
import sys
import time
import wsgiref.util

import pytest

from paste.script.command import main
from paste.script.daemon import PidFile
from paste.script.serve import ServeCommand
from tests.serving_support import parent_of, public_tmp, wait_gone  # noqa: F401
from tests.support import (
    free_port, http_get, paster_env, pid_alive, run_paster, start_paster, stop_process,
    wait_for_port, write)

APP = """
    import logging, os
    log = logging.getLogger("serveapp")

    def make_app(global_conf, message="hello", fail="false", **local_conf):
        if fail == "true":
            raise RuntimeError("the app refused to load")
        def app(environ, start_response):
            log.warning("request %s", environ["PATH_INFO"])
            start_response("200 OK", [("Content-Type", "text/plain")])
            body = f"{message} pid={os.getpid()} uid={os.getuid()} gid={os.getgid()}"
            return [body.encode()]
        return app
"""

CONFIG = """
    [app:main]
    paste.app_factory = serveapp:make_app
    message = hi %(who)s

    [app:other]
    paste.app_factory = serveapp:make_app
    message = the other app

    [server:main]
    use = egg:waitress#main
    host = 127.0.0.1
    port = %(http_port)s

    [server:alt]
    use = egg:PasteScript#wsgiutils
    host = 127.0.0.1
    port = %(http_port)s
"""

DEFAULTS = ["who=world"]


class SitePath(type(pathlib.Path())):
    """The test's directory, also carrying the environment to run paster in."""

    env: dict = {}


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A directory with the app module and configs; PYTHONPATH points at it."""
    write(tmp_path / "serveapp.py", APP)
    write(tmp_path / "app.ini", CONFIG)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PASTE_CONFIG_FILE", raising=False)
    env = paster_env(PYTHONPATH=os.pathsep.join(
        [str(tmp_path)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    site = SitePath(tmp_path)
    site.env = env
    return site


@pytest.fixture
def cleanup():
    """Kill whatever a test leaves running: Popen objects and pid files."""
    procs, pid_files = [], []
    yield procs, pid_files
    for proc in procs:
        stop_process(proc, timeout=5)
    for path in pid_files:
        pid_file = PidFile(str(path))
        with contextlib.suppress(Exception):
            status = pid_file.status()
            if status.running and status.pid:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(os.getpgid(status.pid), signal.SIGKILL)


@pytest.fixture
def keep_signals():
    """In-process runs install SIGTERM/SIGINT handlers: put pytest's back."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


def serve(site, cleanup, *args):
    proc = start_paster("serve", *args, cwd=site, env=site.env)
    cleanup[0].append(proc)
    return proc


def body_of(port, path="/"):
    status, _, body = http_get(f"http://127.0.0.1:{port}{path}")
    assert status == 200
    return body.decode()


def answering_pid(port) -> int:
    return int(re.search(r"pid=(\d+)", body_of(port)).group(1))


def load(*argv):
    """Parse like ``paster serve ARGV`` and load (no serving): (command, app, server)."""
    cmd = ServeCommand("serve")
    cmd.parse_args(list(argv))
    cmd.verbose = 0
    cmd._parse_arguments()
    app, server = cmd.load_app_and_server()
    return cmd, app, server


def call(app, path="/"):
    environ = {"PATH_INFO": path}
    wsgiref.util.setup_testing_defaults(environ)
    result = {}

    def start_response(status, headers, exc_info=None):
        result["status"] = status

    body = b"".join(app(environ, start_response))
    return result["status"], body.decode()


# -- loading (in process) ------------------------------------------------

def test_var_value_reaches_config(site):
    cmd, app, server = load("app.ini", "who=bob", "http_port=1234")
    assert call(app)[1].startswith("hi bob ")
    assert cmd.config_file == str(site / "app.ini")
    assert cmd.app_spec == f"config:{site / 'app.ini'}"
    assert cmd.relative_to == str(site)
    assert cmd.global_conf == {"who": "bob", "http_port": "1234"}
    assert server.options == {"host": "127.0.0.1", "port": "1234"}
    assert server.where == f"[server:main] of {site / 'app.ini'}"


def test_app_name_and_server_name(site):
    cmd, app, server = load("-n", "other", "--server-name", "alt", "app.ini", "http_port=1")
    assert call(app)[1].startswith("the other app ")
    from paste.script.wsgiutils_server import run_server
    assert server.where == f"[server:alt] of {site / 'app.ini'}"
    assert server.info.runner is run_server


def test_server_name_from_another_file(site):
    write(site / "servers.ini", """
        [server:main]
        use = egg:waitress#main
        port = 4321
    """)
    cmd, app, server = load("--server-name", "config:servers.ini", "app.ini", *DEFAULTS)
    assert server.options["port"] == "4321"
    assert server.where == f"[server:main] of {site / 'servers.ini'}"


def test_dash_s_picks_runner_or_spec(site, monkeypatch):
    # PasteDeploy's loadserver() returns its own wrapper of the runner: the
    # runner it calls shows which one was loaded.
    called = []
    import paste.script.wsgiutils_server as wsgiutils_server
    import waitress
    monkeypatch.setattr(wsgiutils_server, "run_server", lambda app, gc, **kw: called.append("wsgiutils"))
    monkeypatch.setattr(waitress, "serve_paste", lambda app, gc, **kw: called.append("waitress"))
    cmd, app, server = load("-s", "wsgiutils", "app.ini", *DEFAULTS)
    assert cmd.server_spec == "egg:PasteScript#wsgiutils" and server.where == cmd.server_spec
    server(app)
    cmd, app, server = load("-s", "egg:waitress#main", "app.ini", *DEFAULTS)
    server(app)
    assert called == ["wsgiutils", "waitress"]


def test_config_uri_and_egg_uri(site):
    cmd, app, server = load("config:app.ini", *DEFAULTS, "http_port=1")
    assert cmd.config_file == str(site / "app.ini")
    assert call(app)[1].startswith("hi world")
    cmd, app, server = load("-s", "egg:waitress#main", "egg:PasteScript#test")
    assert cmd.config_file is None
    status, body = call(app)
    assert status.startswith("200") and "<title>Test Application</title>" in body


def test_help_lists_every_option(capsys):
    assert main(["serve", "--help"]) == 0
    out = capsys.readouterr().out
    for option in ("--app-name", "--server", "--server-name", "--daemon", "--pid-file",
                   "--log-file", "--reload", "--reload-interval", "--monitor-restart",
                   "--status", "--stop-daemon", "--user", "--group", "--workers",
                   "--graceful-timeout"):
        assert option in out
    assert "Serve the described application" in out


# -- bad input: one line, non-zero, no traceback ---------------------------

BAD = [
    (["missing.ini"], "Config file not found: "),
    (["."], "is a directory, not a config file"),
    (["noapp.ini"], "No section 'main' (prefixed by 'app'"),
    (["noserver.ini"], "No section 'main' (prefixed by 'server')"),
    (["nodist.ini"], "Distribution 'NoSuchDistribution' not found"),
    (["noentry.ini"], "Entry point 'nope' not found in egg 'PasteScript'"),
    (["-s", "nosuchrunner", "app.ini"], "Unknown server runner 'nosuchrunner'"),
    (["badport.ini"], "Bad value for option 'port' in [server:main] of "),
    (["badport_waitress.ini"], "Bad value for option 'port' in [server:main] of "),
    (["--pid-file", "/sys/paster.pid", "app.ini", "who=x", "http_port=1"],
     "Cannot create pid file /sys/paster.pid"),
    (["--pid-file", "garbage.pid", "app.ini", "stop"], "does not hold a process id"),
    (["app.ini", "launch"], "Unknown argument 'launch'"),
    (["--reload", "--monitor-restart", "app.ini"],
     "--reload and --monitor-restart cannot be used together"),
    (["--user", "no-such-user-here", "app.ini", "who=x", "http_port=1"],
     "Unknown user 'no-such-user-here'"),
    (["bad_logging.ini"], "Bad logging configuration in "),
    (["-s", "egg:NoSuchDistribution#main", "app.ini", "who=x", "http_port=1"],
     "Distribution 'NoSuchDistribution' not found"),
    (["--workers", "0", "app.ini", "who=x", "http_port=1"], "Bad value for --workers: '0' (expected an integer, at least 1)"),
    (["badworkers.ini"], "Bad value for option 'workers' in [server:main] of "),
    (["brokenheader.ini"], "Bad configuration file "),
]


@pytest.mark.parametrize("args,message", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_input(site, capsys, keep_signals, args, message):
    write(site / "noapp.ini", "[server:main]\nuse = egg:waitress#main\n")
    write(site / "noserver.ini", "[app:main]\npaste.app_factory = serveapp:make_app\n")
    write(site / "nodist.ini", "[app:main]\nuse = egg:NoSuchDistribution\n"
                               "[server:main]\nuse = egg:waitress#main\n")
    write(site / "noentry.ini", "[app:main]\nuse = egg:PasteScript#nope\n"
                                "[server:main]\nuse = egg:waitress#main\n")
    write(site / "badport.ini", "[app:main]\nuse = egg:PasteScript#test\n"
                                "[server:main]\nuse = egg:PasteScript#wsgiutils\nport = abc\n")
    write(site / "badport_waitress.ini", "[app:main]\nuse = egg:PasteScript#test\n"
                                         "[server:main]\nuse = egg:waitress#main\nport = abc\n")
    write(site / "bad_logging.ini", "[app:main]\nuse = egg:PasteScript#test\n"
                                    "[server:main]\nuse = egg:waitress#main\n"
                                    "[loggers]\nkeys = root\n")
    write(site / "badworkers.ini", "[app:main]\nuse = egg:PasteScript#test\n"
                                   "[server:main]\nuse = egg:waitress#main\nworkers = many\n")
    write(site / "brokenheader.ini", "[app:main\nuse = egg:PasteScript#test\n"
                                     "[server:main]\nuse = egg:waitress#main\n")
    write(site / "garbage.pid", "garbage\n")
    rc = main(["serve", "-q"] + args)
    err = capsys.readouterr().err
    assert rc != 0
    assert "Traceback" not in err
    assert err.strip().count("\n") == 0, err
    assert message in err


# -- real servers ----------------------------------------------------------

def test_waitress_serves_and_sigterm_removes_pid_file(site, cleanup):
    port = free_port()
    pid_path = site / "run" / "app.pid"
    pid_path.parent.mkdir()
    proc = serve(site, cleanup, "app.ini", "--pid-file", str(pid_path),
                 f"http_port={port}", "who=waitress")
    wait_for_port(port, proc=proc)
    # The paster process is the monitor; a worker it forked answers.
    assert body_of(port).startswith("hi waitress pid=")
    assert parent_of(answering_pid(port)) == proc.pid
    assert pid_path.read_text() == f"{proc.pid}\n"
    out = stop_process(proc, signal.SIGTERM)
    assert proc.returncode == 0, out
    assert f"Starting server in PID {proc.pid}." in out
    assert "Traceback" not in out
    assert not pid_path.exists()


def test_builtin_test_app_with_wsgiutils_and_sigint(site, cleanup):
    port = free_port()
    write(site / "test.ini", f"""
        [app:main]
        use = egg:PasteScript#test

        [server:main]
        use = egg:PasteScript#wsgiutils
        host = 127.0.0.1
        port = {port}
    """)
    proc = serve(site, cleanup, "test.ini", "--pid-file", "test.pid")
    wait_for_port(port, proc=proc)
    assert "<title>Test Application</title>" in body_of(port)
    out = stop_process(proc, signal.SIGINT)
    # Ctrl-C ends paster by SIGINT after a clean stop (issue 16 item 10).
    assert proc.returncode == -signal.SIGINT, out
    assert out.endswith("\nInterrupted\n") and "Traceback" not in out
    assert not (site / "test.pid").exists()


def test_loggers_section_is_applied(site, cleanup):
    port = free_port()
    write(site / "logged.ini", f"""
        [app:main]
        paste.app_factory = serveapp:make_app

        [server:main]
        use = egg:waitress#main
        host = 127.0.0.1
        port = {port}

        [loggers]
        keys = root, serveapp

        [handlers]
        keys = console, appfile

        [formatters]
        keys = plain

        [logger_root]
        level = WARNING
        handlers = console

        [logger_serveapp]
        level = INFO
        handlers = appfile
        qualname = serveapp
        propagate = 0

        [handler_console]
        class = StreamHandler
        args = (sys.stderr,)
        formatter = plain

        [handler_appfile]
        class = FileHandler
        args = ('%(here)s/app.log', 'a')
        formatter = plain

        [formatter_plain]
        format = APPLOG %(name)s %(message)s
    """)
    proc = serve(site, cleanup, "logged.ini")
    wait_for_port(port, proc=proc)
    body_of(port, "/logged-path")
    out = stop_process(proc)
    assert "APPLOG serveapp request /logged-path" in (site / "app.log").read_text()
    assert "request /logged-path" not in out


def test_log_file_without_daemon(site, cleanup):
    port = free_port()
    proc = serve(site, cleanup, "app.ini", "--log-file", "out.log", f"http_port={port}",
                 *DEFAULTS)
    wait_for_port(port, proc=proc)
    body_of(port, "/to-the-log")
    out = stop_process(proc)
    log = (site / "out.log").read_text()
    assert f"Starting server in PID {proc.pid}." in log
    assert "request /to-the-log" in log  # stderr too
    assert "Starting server" not in out


def daemon(site, *args, port):
    return run_paster("serve", "app.ini", *args, "--pid-file", "app.pid", "--log-file",
                      "app.log", f"http_port={port}", *DEFAULTS, cwd=site, env=site.env)


def test_daemon_lifecycle(site, cleanup):
    cleanup[1].append(site / "app.pid")
    port = free_port()
    started = daemon(site, "start", port=port)
    assert started.returncode == 0, started.stderr
    pid = int((site / "app.pid").read_text())
    assert pid_alive(pid)
    wait_for_port(port, pid=pid)
    assert body_of(port).startswith("hi world pid=")
    worker = answering_pid(port)
    assert parent_of(worker) == pid

    status = daemon(site, "status", port=port)
    assert (status.returncode, status.stdout.strip()) == (0, f"Server running in PID {pid}")
    assert daemon(site, "--status", port=port).returncode == 0

    again = daemon(site, "start", port=port)
    assert again.returncode == 0                # LSB, and as 3.7 did
    assert f"already running in PID {pid}" in again.stderr
    assert int((site / "app.pid").read_text()) == pid and pid_alive(pid)
    assert answering_pid(port) == worker

    stopped = daemon(site, "stop", port=port)
    assert stopped.returncode == 0, stopped.stderr
    assert not pid_alive(pid) and not pid_alive(worker)
    assert not (site / "app.pid").exists()
    assert daemon(site, "status", port=port).returncode == 3
    # LSB: stopping a stopped service succeeds, and says so.
    for stop in ("stop", "--stop-daemon"):
        again = daemon(site, stop, port=port)
        assert again.returncode == 0, again.stderr
        assert "not running" in again.stdout + again.stderr
    log = (site / "app.log").read_text()
    assert f"Starting server in PID {pid}." in log


def test_restart_swaps_the_workers_and_keeps_the_pid(site, cleanup):
    cleanup[1].append(site / "app.pid")
    port = free_port()
    assert daemon(site, "restart", port=port).returncode == 0  # nothing to stop: starts
    monitor = int((site / "app.pid").read_text())
    wait_for_port(port, pid=monitor)
    first = answering_pid(port)
    restarted = daemon(site, "restart", port=port)
    assert restarted.returncode == 0, restarted.stderr
    assert f"Server in PID {monitor} reloaded" in restarted.stdout
    # The same server (systemd's MAINPID, supervisors), with new workers.
    assert int((site / "app.pid").read_text()) == monitor and pid_alive(monitor)
    second = answering_pid(port)
    assert second != first and parent_of(second) == monitor
    assert wait_gone(first)
    assert daemon(site, "stop", port=port).returncode == 0


def test_stale_pid_files_are_replaced_without_touching_anyone(site, cleanup):
    cleanup[1].append(site / "app.pid")
    dead = subprocess.Popen(["true"])
    dead.wait()
    bystander = subprocess.Popen(["sleep", "60"])
    try:
        for stale_pid in (dead.pid, bystander.pid):
            (site / "app.pid").write_text(f"{stale_pid}\n")
            status = daemon(site, "status", port=0)
            assert status.returncode == 1, status.stdout
            port = free_port()
            started = daemon(site, "start", port=port)
            assert started.returncode == 0, started.stderr
            pid = int((site / "app.pid").read_text())
            assert pid != stale_pid
            wait_for_port(port, pid=pid)
            assert daemon(site, "stop", port=port).returncode == 0
            assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()


def test_many_start_stop_cycles_leave_nothing_behind(site, cleanup):
    cleanup[1].append(site / "app.pid")
    pids = []
    for _ in range(10):
        port = free_port()
        started = daemon(site, "start", port=port)
        assert started.returncode == 0, started.stderr
        pids.append(int((site / "app.pid").read_text()))
        stopped = daemon(site, "stop", port=port)
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
        assert not (site / "app.pid").exists()
    assert len(set(pids)) == 10
    assert not any(pid_alive(pid) for pid in pids)


def test_daemon_start_failure_is_reported(site, cleanup):
    cleanup[1].append(site / "app.pid")
    write(site / "failing.ini", """
        [app:main]
        paste.app_factory = serveapp:make_app
        fail = true

        [server:main]
        use = egg:waitress#main
    """)
    result = run_paster("serve", "failing.ini", "start", "--pid-file", "app.pid",
                        cwd=site, env=site.env)
    assert result.returncode == 1
    assert "RuntimeError: the app refused to load; see paster.log" in result.stderr
    assert not (site / "app.pid").exists()


def test_daemon_port_in_use_is_reported(site, cleanup):
    cleanup[1].append(site / "app.pid")
    import socket
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = daemon(site, "start", port=port)
    assert result.returncode != 0
    assert "in use" in result.stderr
    assert not (site / "app.pid").exists()


def _group_of_nobody() -> str:
    for name in ("nogroup", "nobody"):
        with contextlib.suppress(KeyError):
            return grp.getgrnam(name).gr_name
    return str(pwd.getpwnam("nobody").pw_gid)


def _ids(pid):
    with open(f"/proc/{pid}/status") as f:
        fields = dict(line.split(":", 1) for line in f if ":" in line)
    return int(fields["Uid"].split()[0]), int(fields["Gid"].split()[0])


def test_user_and_group_switch(site, cleanup, public_tmp):
    assert os.geteuid() == 0, "the project's tests run as root (see .ci/run)"
    # The workers load the application as nobody: it must be able to read it.
    shutil.copytree(site, public_tmp, dirs_exist_ok=True)
    for path in [public_tmp, *public_tmp.rglob("*")]:     # copytree copied the modes too
        path.chmod(path.stat().st_mode | (0o055 if path.is_dir() else 0o044))
    env = dict(site.env, PYTHONPATH=site.env["PYTHONPATH"].replace(str(site), str(public_tmp)))
    site = SitePath(public_tmp)
    site.env = env
    cleanup[1].append(site / "app.pid")
    nobody = pwd.getpwnam("nobody")
    group = _group_of_nobody()
    port = free_port()
    started = daemon(site, "start", "--user", "nobody", "--group", group, port=port)
    assert started.returncode == 0, started.stderr
    pid = int((site / "app.pid").read_text())
    wait_for_port(port, pid=pid)
    assert f"uid={nobody.pw_uid} gid={grp.getgrnam(group).gr_gid}" in body_of(port)
    # The workers run as the user; the monitor, which binds and never runs
    # the application, keeps its identity (it may have to bind port 80).
    worker = answering_pid(port)
    assert parent_of(worker) == pid
    assert _ids(worker) == (nobody.pw_uid, grp.getgrnam(group).gr_gid)
    assert _ids(pid) == (0, 0)
    stopped = daemon(site, "stop", port=port)
    assert stopped.returncode == 0, stopped.stderr
    assert not (site / "app.pid").exists()
    assert not pid_alive(pid) and not pid_alive(worker)
    assert f"Starting server in PID {pid}." in (site / "app.log").read_text()


def test_monitor_restart_brings_the_server_back(site, cleanup):
    port = free_port()
    proc = serve(site, cleanup, "app.ini", "--monitor-restart", "--pid-file", "app.pid",
                 f"http_port={port}", *DEFAULTS)
    wait_for_port(port, proc=proc)
    first = int(re.search(r"pid=(\d+)", body_of(port)).group(1))
    assert first != proc.pid
    assert (site / "app.pid").read_text() == f"{proc.pid}\n"
    os.kill(first, signal.SIGKILL)
    deadline = time.monotonic() + 15
    second = first
    while second == first and time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            second = int(re.search(r"pid=(\d+)", body_of(port)).group(1))
        time.sleep(0.05)
    assert second != first
    out = stop_process(proc)
    assert proc.returncode == 0, out
    assert f"Server child {first} exited (killed by SIGKILL); restarting" in out
    assert not pid_alive(second)
    assert not (site / "app.pid").exists()


def test_paste_deploy_is_used_as_it_is(site):
    """Only PasteDeploy's public API: no module stand-ins, no replaced loaders (issue 12)."""
    code = ("import sys, types\n"
            "from paste.script.serve import ServeCommand\n"
            "cmd = ServeCommand('serve')\n"
            "cmd.parse_args(['-n', 'other', 'app.ini', 'egg:PasteScript#test', 'who=x',\n"
            "                'http_port=1']); cmd.verbose = 0\n"
            "cmd.args = ['app.ini', 'who=x', 'http_port=1']\n"
            "cmd._parse_arguments(); app, server = cmd.load_app_and_server()\n"
            "from paste.deploy import loadwsgi\n"
            "import importlib.metadata, inspect\n"
            "print(loadwsgi._loaders['egg'].__module__, loadwsgi._loaders['egg'].__name__)\n"
            "print(type(sys.modules['importlib.metadata']) is types.ModuleType,\n"
            "      type(sys.modules['inspect']) is types.ModuleType,\n"
            "      loadwsgi.importlib_metadata is importlib.metadata)\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=site, env=site.env,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:2] == ["paste.deploy.loadwsgi _loadegg", "True True True"]
    source = (pathlib.Path(__file__).parent.parent / "paste" / "script" / "serve.py").read_text()
    assert "sys.modules" not in source and "_loaders" not in source


def test_daemon_with_monitor_restart(site, cleanup):
    cleanup[1].append(site / "app.pid")
    port = free_port()
    started = daemon(site, "start", "--monitor-restart", port=port)
    assert started.returncode == 0, started.stderr
    monitor = int((site / "app.pid").read_text())
    wait_for_port(port, pid=monitor)
    child = int(re.search(r"pid=(\d+)", body_of(port)).group(1))
    assert child != monitor
    os.kill(child, signal.SIGKILL)
    deadline = time.monotonic() + 15
    new_child = child
    while new_child == child and time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            new_child = int(re.search(r"pid=(\d+)", body_of(port)).group(1))
        time.sleep(0.05)
    assert new_child != child
    stopped = daemon(site, "stop", port=port)
    assert stopped.returncode == 0, stopped.stderr
    assert not pid_alive(monitor) and not pid_alive(new_child)
    assert not (site / "app.pid").exists()


def test_daemon_with_monitor_restart_reports_broken_app(site, cleanup):
    cleanup[1].append(site / "app.pid")
    write(site / "failing.ini", """
        [app:main]
        paste.app_factory = serveapp:make_app
        fail = true

        [server:main]
        use = egg:waitress#main
    """)
    began = time.monotonic()
    result = run_paster("serve", "failing.ini", "start", "--monitor-restart",
                        "--pid-file", "app.pid", cwd=site, env=site.env)
    assert time.monotonic() - began < 5
    assert result.returncode == 1
    assert "RuntimeError: the app refused to load; see paster.log" in result.stderr
    # The monitor keeps trying, as it was asked to; stop ends it.
    assert run_paster("serve", "failing.ini", "stop", "--pid-file", "app.pid",
                      cwd=site, env=site.env).returncode == 0


class DummyServeCommand(ServeCommand):
    """Serves with a server that records what it got and returns at once.

    The server runs in a worker, a fork of this process: it writes what it
    got to ``served.json``.
    """

    def loadserver(self, spec, name=None, relative_to=None, global_conf=None):
        pid_path = self.options.pid_file

        def server(app):
            import json
            pid_text = open(pid_path).read() if pid_path else None
            app = getattr(app, "app", app)   # the worker counts requests in flight
            with open("served.json", "w") as f:
                json.dump([spec, name, dict(global_conf), list(app), pid_text, os.getpid()], f)
        return server

    def loadapp(self, spec, name=None, relative_to=None, global_conf=None):
        return ("app", spec, name, relative_to)


def test_serve_in_process_with_dummy_loaders(site, capsys, keep_signals):
    import json
    cmd = DummyServeCommand("serve")
    rc = cmd.run(["-n", "other", "--server-name", "alt", "--pid-file", "in.pid",
                  "app.ini", "who=me"])
    assert rc == 0          # the server returned: paster serve is done
    spec, name, global_conf, app, pid_text, worker = json.loads((site / "served.json").read_text())
    assert (spec, name, global_conf) == (f"config:{site / 'app.ini'}", "alt", {"who": "me"})
    assert app == ["app", f"config:{site / 'app.ini'}", "other", str(site)]
    assert pid_text == f"{os.getpid()}\n" and worker != os.getpid()
    assert not (site / "in.pid").exists()
    assert capsys.readouterr().out == f"Starting server in PID {os.getpid()}.\n"


def test_daemon_removes_its_pid_file_on_sigterm(site, cleanup):
    cleanup[1].append(site / "app.pid")
    port = free_port()
    assert daemon(site, "start", port=port).returncode == 0
    pid = int((site / "app.pid").read_text())
    wait_for_port(port, pid=pid)
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not pid_alive(pid)
    assert not (site / "app.pid").exists()  # removed by the server itself
    assert "Traceback" not in (site / "app.log").read_text()
