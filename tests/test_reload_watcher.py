"""The reloader's building blocks: file watchers on real files, the IPC channel, the worker's helpers."""
from __future__ import annotations

import os
import signal
import socket
import threading
import time
import types

import pytest

from paste.script.reloader import watch_file, watched_files
from paste.script.serving import ipc
from paste.script.serving.watcher import (REMOVED, WRITING, WRITTEN, EventWatcher,
                                           PollingWatcher, make_watcher)
from paste.script.serving.inflight import InFlight
from paste.script.serving.loaded import (error_files, error_summary, format_error,
                                         missing_module_paths, module_source)


class Recorder:
    def __init__(self):
        self.changes: list[tuple[str, str]] = []
        self.event = threading.Event()

    def __call__(self, path, kind):
        self.changes.append((path, kind))
        self.event.set()

    def wait(self, timeout=5.0):
        assert self.event.wait(timeout), "no change reported"
        time.sleep(0.05)       # let the rest of the burst arrive
        changes, self.changes = self.changes, []
        self.event.clear()
        return changes

    def wait_for(self, change, timeout=5.0):
        """The changes reported up to ``change`` (a ``(path, kind)``), once it came."""
        deadline = time.monotonic() + timeout
        while change not in self.changes:
            assert time.monotonic() < deadline, f"no {change} in {self.changes}"
            self.event.wait(0.05)
            self.event.clear()
        changes, self.changes = self.changes, []
        return changes

    def quiet(self, seconds=0.3):
        time.sleep(seconds)
        return self.changes


@pytest.fixture(params=["events", "polling"])
def watched(request, tmp_path):
    """A started watcher of each kind over tmp_path/a.py, with its recorder."""
    recorder = Recorder()
    target = tmp_path / "a.py"
    target.write_text("x = 1\n")
    if request.param == "events":
        watcher = EventWatcher(recorder)
    else:
        watcher = PollingWatcher(recorder, interval=0.02)
    watcher.add([str(target)])
    watcher.start()
    time.sleep(0.05)
    yield watcher, recorder, target
    watcher.stop()


def test_modify_is_reported(watched):
    _watcher, recorder, target = watched
    target.write_text("x = 2  # longer\n")
    changes = recorder.wait_for((str(target), WRITTEN))   # the close after writing, or the new state
    assert {path for path, _ in changes} == {str(target)}
    assert changes[-1] == (str(target), WRITTEN), changes  # nothing said it is still being written


def test_replace_by_rename_is_reported(watched):
    _watcher, recorder, target = watched
    temp = target.with_name("a.py.tmp")
    temp.write_text("x = 3  # replaced\n")
    os.replace(temp, target)
    changes = recorder.wait()
    assert (str(target), WRITTEN) in changes
    assert str(temp) not in {path for path, _ in changes}


def test_delete_and_recreate_are_reported(watched):
    _watcher, recorder, target = watched
    target.unlink()
    assert (str(target), REMOVED) in recorder.wait()
    target.write_text("x = 4\n")
    assert str(target) in {path for path, _ in recorder.wait()}


def test_reading_and_unwatched_files_are_not_changes(watched, tmp_path):
    _watcher, recorder, target = watched
    target.read_text()
    (tmp_path / "other.py").write_text("y = 1\n")
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "a.cpython.pyc").write_bytes(b"\0")
    assert recorder.quiet() == []


def test_add_returns_only_new_paths(tmp_path):
    watcher = PollingWatcher(lambda path, kind: None, interval=1)
    a = str(tmp_path / "a")
    assert watcher.add([a, a]) == [a]
    assert watcher.add([a, str(tmp_path / "b")]) == [str(tmp_path / "b")]


def test_event_watcher_polls_a_file_whose_directory_does_not_exist_yet(tmp_path):
    recorder = Recorder()
    watcher = EventWatcher(recorder, interval=0.02)
    missing = tmp_path / "later" / "conf.ini"
    watcher.add([str(missing)])
    watcher.start()
    try:
        time.sleep(0.05)
        missing.parent.mkdir()
        missing.write_text("[app:main]\n")
        assert str(missing) in {path for path, _ in recorder.wait()}
    finally:
        watcher.stop()


def test_make_watcher_prefers_events_and_falls_back_to_polling(tmp_path):
    events = make_watcher(lambda p, k: None, 0.5)
    polling = make_watcher(lambda p, k: None, 0.5, events=False)
    try:
        assert events.method == "events"
        assert polling.method == "polling" and polling.interval == 0.5
    finally:
        events.stop()
        polling.stop()


def test_channel_carries_messages_and_descriptors():
    monitor_end, worker_end = ipc.channel_pair()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    try:
        ipc.send(monitor_end, {"op": "socket"}, [listener.fileno()])
        message, fds = ipc.receive(worker_end)
        assert message == {"op": "socket"} and len(fds) == 1
        received = socket.socket(fileno=fds[0])
        assert received.getsockname() == listener.getsockname()
        received.close()
        paths = [f"/some/where/module_{i:05d}.py" for i in range(5000)]
        pieces = list(ipc.chunks(paths))
        assert len(pieces) > 1 and sum(pieces, []) == paths
        for piece in pieces:
            ipc.send(worker_end, {"op": "files", "paths": piece})
            assert ipc.receive(monitor_end)[0]["paths"] == piece
        worker_end.close()
        assert ipc.receive(monitor_end) == (None, [])
    finally:
        listener.close()
        monitor_end.close()


def test_watch_file_records_absolute_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    watch_file("templates/page.html")
    assert str(tmp_path / "templates" / "page.html") in watched_files()


def test_watch_file_is_reexported_by_serve():
    from paste.script import serve
    assert serve.watch_file is watch_file


def test_in_flight_counts_until_the_response_is_closed():
    closed = []

    class Body(list):
        def close(self):
            closed.append(True)

    def app(environ, start_response):
        start_response("200 OK", [])
        return Body([b"a"])

    tracked = InFlight(app)
    response = tracked({}, lambda status, headers: None)
    assert tracked.active == 1 and tracked.idle_for() == 0.0
    assert len(response) == 1 and list(response) == [b"a"]   # len() kept for Content-Length
    response.close()
    response.close()
    assert tracked.active == 0 and closed == [True]

    def generator_app(environ, start_response):
        start_response("200 OK", [])
        yield b"x"

    response = InFlight(generator_app)({}, lambda s, h: None)
    assert not hasattr(response, "__len__")


def test_in_flight_counts_an_app_that_raises():
    def app(environ, start_response):
        raise RuntimeError("boom")

    tracked = InFlight(app)
    with pytest.raises(RuntimeError):
        tracked({}, None)
    assert tracked.active == 0


def test_errors_name_the_broken_file_and_hide_loader_frames(tmp_path):
    broken = tmp_path / "broken_mod.py"
    broken.write_text("def f(:\n")
    with pytest.raises(SyntaxError) as info:
        compile(broken.read_text(), str(broken), "exec")
    assert str(broken) in error_files(info.value)
    text = format_error(info.value)
    assert "broken_mod.py" in text and "SyntaxError" in text
    assert error_summary(info.value).startswith("SyntaxError: ")


def test_missing_module_paths_name_where_the_module_would_be(tmp_path, monkeypatch):
    import sys
    package = tmp_path / "pkg_for_paths"
    package.mkdir()
    (package / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ImportError) as from_import:
        exec("from pkg_for_paths import helper", {})
    with pytest.raises(ModuleNotFoundError) as plain_import:
        exec("import pkg_for_paths.helper", {})
    expected = [str(package / "helper.py"), str(package / "helper" / "__init__.py")]
    assert missing_module_paths(from_import.value) == expected
    assert missing_module_paths(plain_import.value) == expected
    with pytest.raises(ModuleNotFoundError) as top_level:
        exec("import no_such_top_level_module_here", {})
    assert str(tmp_path / "no_such_top_level_module_here.py") in missing_module_paths(top_level.value)
    sys.modules.pop("pkg_for_paths", None)


def test_symlinked_file_is_reported_when_its_target_changes(tmp_path):
    recorder = Recorder()
    target_dir = tmp_path / "target"
    target_dir.mkdir()
    target = target_dir / "mod.py"
    target.write_text("x = 1\n")
    link = tmp_path / "mod.py"
    link.symlink_to(target)
    watcher = EventWatcher(recorder)
    watcher.add([str(link)])
    watcher.start()
    try:
        time.sleep(0.05)
        target.write_text("x = 2  # the target, edited\n")
        assert str(link) in {path for path, _ in recorder.wait()}
    finally:
        watcher.stop()


def test_module_source_maps_bytecode_to_source(tmp_path):
    class Module:
        pass

    module = Module()
    module.__file__ = str(tmp_path / "__pycache__" / "m.cpython-311.pyc")
    assert module_source(module) == str(tmp_path / "m.py")
    module.__file__ = None
    assert module_source(module) is None


def test_in_flight_leaves_the_servers_file_wrapper_alone():
    class FileWrapper:
        def __init__(self, f):
            self.f = f

    def app(environ, start_response):
        start_response("200 OK", [])
        return environ["wsgi.file_wrapper"](None)

    tracked = InFlight(app)
    result = tracked({"wsgi.file_wrapper": FileWrapper}, lambda s, h: None)
    assert type(result) is FileWrapper and tracked.active == 0


def test_library_modules_are_the_installed_ones_in_import_order(tmp_path, monkeypatch):
    import sys
    import types

    from paste.script.serving.loaded import library_modules, library_roots

    installed = tmp_path / "site-packages"
    for name, where in [("zz_lib_first", installed), ("zz_app_module", tmp_path / "project"),
                        ("zz_lib_second", installed)]:
        module = types.ModuleType(name)
        module.__file__ = str(where / f"{name}.py")
        monkeypatch.setitem(sys.modules, name, module)
    names = library_modules((str(installed) + os.sep,))
    assert names == ["zz_lib_first", "zz_lib_second"]
    assert any(os.path.exists(root) for root in library_roots())
    assert "os" in library_modules()     # the standard library counts as installed


def test_event_watcher_polls_installed_code(tmp_path):
    recorder = Recorder()
    installed = tmp_path / "site-packages"
    library = installed / "lib.py"
    library.parent.mkdir()
    library.write_text("x = 1\n")
    own = tmp_path / "app.py"
    own.write_text("y = 1\n")
    watcher = EventWatcher(recorder, interval=0.02, poll_roots=(str(installed) + os.sep,))
    watcher.add([str(library), str(own)])
    watcher.start()
    try:
        assert watcher._dirs == {str(tmp_path)}             # one directory watched by events
        assert watcher._polling is not None and str(library) in watcher._polling.paths
        time.sleep(0.05)
        library.write_text("x = 2  # changed\n")
        assert str(library) in {path for path, _ in recorder.wait()}
    finally:
        watcher.stop()


def test_worker_drops_privileges_before_loading_when_the_command_can(tmp_path):
    """run_worker in a real fork with a stand-in command: drop, load, report, serve
    (issue 16 item 17: the factory never runs with the monitor's privileges)."""
    from paste.script.serving import ipc
    from paste.script.serving.control_thread import WorkerOptions
    from paste.script.serving.worker import run_worker

    marker = tmp_path / "dropped"

    class Command:
        def load_app_and_server(self):
            assert marker.read_text() == "yes"      # dropped already
            marker.write_text("yes, then loaded")
            return (lambda environ, start_response: []), (lambda app: None)

        def drop_privileges(self):
            marker.write_text("yes")

    command = Command()
    monitor_end, worker_end = ipc.channel_pair()
    pid = os.fork()
    if pid == 0:     # never return into pytest from the child
        try:
            monitor_end.close()
            run_worker(command, worker_end, WorkerOptions(verbose=0,
                                                          prepare=command.drop_privileges))
        finally:
            os._exit(1)
    worker_end.close()
    try:
        ops = []
        while "loaded" not in ops:
            message, _fds = ipc.receive(monitor_end)
            assert message is not None, ops
            ops.append(message["op"])
        assert marker.read_text() == "yes, then loaded"
        ipc.send(monitor_end, {"op": "go"})
        _pid, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0     # server(app) returned
    finally:
        monitor_end.close()


# -- the watcher process (issue 16 item 15) ---------------------------------------

def _changes_until(process, wanted, timeout=10.0):
    """Read the process's changes until ``wanted`` came: a ``(path, kind)``, or a
    path in any kind; return them all."""
    import selectors
    got = []

    def came():
        return wanted in got if isinstance(wanted, tuple) else wanted in {p for p, _k in got}
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(process, selectors.EVENT_READ)
        while not came():
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"no {wanted} in {got}"
            if selector.select(remaining):
                got += process.read()
                assert process.alive or came(), f"the watcher ended; got {got}"
    return got


@pytest.fixture(params=[True, False], ids=["events", "polling"])
def process(request):
    from paste.script.serving.watcher import WatcherProcess
    watcher = WatcherProcess(interval=0.02, events=request.param)
    watcher.start()
    yield watcher
    watcher.close()


def test_watcher_process_reports_changes_and_its_method(process, tmp_path):
    target, synced = tmp_path / "a.py", tmp_path / "sync.py"
    target.write_text("x = 1\n")
    synced.write_text("")
    assert process.add([str(target)], since_ns=time.time_ns()) == [str(target)]
    assert process.add([str(target)]) == []
    process.add([str(synced)], since_ns=0)          # reported once watched: a.py is too
    _changes_until(process, str(synced))
    target.write_text("x = 2  # changed\n")
    got = _changes_until(process, (str(target), WRITTEN))   # the close, or the new state
    assert {path for path, _kind in got} == {str(target)}
    assert process.method == ("events" if process.events else "polling")


def test_watcher_process_reports_what_changed_before_its_watch_began(process, tmp_path):
    """A worker read these files; they changed before the watcher watched them.
    (Whether their writer is done is not known: the settle policy waits for a close.)"""
    modified, removed, created = (tmp_path / n for n in ("m.py", "r.py", "c.py"))
    removed.write_text("x = 1\n")
    modified.write_text("x = 1\n")
    read_at = time.time_ns()
    process.add([str(removed), str(created)], since_ns=read_at)   # r exists, c does not
    removed.unlink()
    created.write_text("y = 1\n")
    os.utime(modified, ns=(read_at + 10**9, read_at + 10**9))
    process.add([str(modified)], since_ns=read_at)
    got = {path for path, _kind in _changes_until(process, (str(removed), REMOVED))}
    deadline = time.monotonic() + 10
    while not {str(modified), str(created)} <= got:
        assert time.monotonic() < deadline, got
        got |= {path for path, _kind in process.read()}
        time.sleep(0.01)
    assert got == {str(modified), str(removed), str(created)}


def test_the_monitors_sends_never_block(tmp_path):
    """A stopped watcher: adding 20,000 paths returns at once, and all get there later."""
    import signal
    from paste.script.serving.watcher import WatcherProcess
    watcher = WatcherProcess(interval=0.02, events=False)
    watcher.start()
    try:
        os.kill(watcher.pid, signal.SIGSTOP)
        paths = [str(tmp_path / ("d" * 100) / f"m{i:05d}.py") for i in range(20_000)]
        began = time.monotonic()
        assert len(watcher.add(paths, since_ns=time.time_ns())) == 20_000
        assert time.monotonic() - began < 2.0
        assert watcher.sending                   # more than a pipe holds
        os.kill(watcher.pid, signal.SIGCONT)
        deadline = time.monotonic() + 30
        while not watcher.flush():
            assert time.monotonic() < deadline, "the paths never got through"
            time.sleep(0.01)
        last = tmp_path / ("d" * 100) / "m19999.py"
        last.parent.mkdir()
        last.write_text("x = 1\n")
        _changes_until(watcher, str(last))
    finally:
        watcher.close()


def test_the_watcher_process_ends_at_the_end_of_its_channel_and_restarts(tmp_path):
    import signal
    from paste.script.serving.watcher import WatcherProcess
    from tests.serving_support import is_file_watcher, wait_gone
    target = tmp_path / "a.py"
    target.write_text("x = 1\n")
    watcher = WatcherProcess(interval=0.02)
    watcher.start()
    try:
        first = watcher.pid
        watcher.add([str(target)])
        deadline = time.monotonic() + 10
        while not is_file_watcher(first):        # named once it has set itself up
            assert time.monotonic() < deadline
            time.sleep(0.01)
        os.kill(first, signal.SIGKILL)
        os.waitpid(first, 0)
        deadline = time.monotonic() + 10
        while watcher.alive:
            assert time.monotonic() < deadline
            watcher.read()
            time.sleep(0.01)
        assert watcher.can_restart and watcher.read() == []   # quiet: no busy loop
        watcher.restart(since_ns=time.time_ns())
        assert watcher.pid != first
        target.write_text("x = 2  # after the restart\n")
        _changes_until(watcher, str(target))
    finally:
        second = watcher.pid
        watcher.close()
    assert wait_gone(second, 5)
    assert watcher.fds() == []


def test_the_watcher_outbox_keeps_one_change_per_file():
    from paste.script.serving.watcher import PendingChanges
    outbox = PendingChanges()
    for i in range(10_000):
        outbox.put("/p/a.py", WRITING if i % 2 else WRITTEN)
    outbox.put("/p/b.py", REMOVED)
    assert outbox.take() == [b"w/p/a.py\0", b"R/p/b.py\0"]
    assert outbox.take() == []


# -- the watcher process under a real paster serve --reload -------------------------

SERVED_APP = """\
VERSION = "{version}"

def make_app(global_conf):
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [VERSION.encode()]
    return app
"""

SERVED_CONFIG = """\
[app:main]
paste.app_factory = wpapp:make_app

[server:main]
use = egg:waitress#main
host = 127.0.0.1
port = {port}
"""


@pytest.fixture
def served(tmp_path):
    """A ``paster serve --reload -v`` of a one-module application, serving "v1"."""
    from tests.serving_support import Output
    from tests.support import free_port, paster_env, start_paster
    port = free_port()
    (tmp_path / "wpapp.py").write_text(SERVED_APP.format(version="v1"))
    ini = tmp_path / "app.ini"
    ini.write_text(SERVED_CONFIG.format(port=port))
    env = paster_env(PYTHONPATH=str(tmp_path))
    proc = start_paster("serve", "--reload", "-v", str(ini), cwd=tmp_path, env=env)
    site = types.SimpleNamespace(proc=proc, out=Output(proc), url=f"http://127.0.0.1:{port}/",
                                 module=tmp_path / "wpapp.py")
    try:
        _wait_for_body(site, "v1")
        yield site
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        site.out.finish()


def _wait_for_body(site, body, timeout=30.0):
    from tests.serving_support import get
    deadline = time.monotonic() + timeout
    while get(site.url) != body:
        assert site.proc.poll() is None, site.out.finish()
        assert time.monotonic() < deadline, f"never served {body!r}:\n{site.out.text}"
        time.sleep(0.01)


def _watcher_of(monitor: int, timeout=10.0) -> int:
    from tests.serving_support import children, is_file_watcher
    deadline = time.monotonic() + timeout
    while True:
        found = [pid for pid in children(monitor, watcher=True) if is_file_watcher(pid)]
        if found:
            assert len(found) == 1, found
            return found[0]
        assert time.monotonic() < deadline, "no file watcher process"
        time.sleep(0.01)


def test_the_monitor_has_no_thread_its_watcher_is_a_process(served):
    """Issue 16 item 15: the monitor never forks while a thread of its own may hold a lock."""
    monitor = served.proc.pid
    watcher = _watcher_of(monitor)
    assert os.listdir(f"/proc/{monitor}/task") == [str(monitor)]
    deadline = time.monotonic() + 10
    while len(os.listdir(f"/proc/{watcher}/task")) < 2:        # watchdog's threads are there
        assert time.monotonic() < deadline, "the watcher process never started watching"
        time.sleep(0.01)
    served.module.write_text(SERVED_APP.format(version="v2"))
    _wait_for_body(served, "v2")
    assert os.listdir(f"/proc/{monitor}/task") == [str(monitor)]
    assert _watcher_of(monitor) == watcher


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_the_watcher_dies_with_the_monitor(served, sig):
    from tests.serving_support import wait_gone
    watcher = _watcher_of(served.proc.pid)
    served.proc.send_signal(sig)
    served.proc.wait(30)
    assert wait_gone(watcher, 5), f"the file watcher {watcher} outlived the monitor"


def test_a_killed_watcher_is_replaced_and_changes_still_reload(served):
    monitor = served.proc.pid
    first = _watcher_of(monitor)
    mark = served.out.mark()
    os.kill(first, signal.SIGKILL)
    served.out.wait_for(rf"The file watcher \(PID {first}\) exited; starting another\.", mark)
    deadline = time.monotonic() + 10
    while _watcher_of(monitor) == first:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    cpu = _cpu_seconds(monitor)
    time.sleep(0.5)                       # idle: the monitor must not spin on the old pipe
    assert _cpu_seconds(monitor) - cpu < 0.1
    served.module.write_text(SERVED_APP.format(version="v2 after"))
    _wait_for_body(served, "v2 after")


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
