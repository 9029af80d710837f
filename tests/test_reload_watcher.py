"""The reloader's building blocks: file watchers on real files, the IPC channel, the worker's helpers."""
from __future__ import annotations

import os
import socket
import threading
import time

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
    """A rewrite ends in WRITTEN: polling sees only new states; events see the
    writes (WRITING) and then the writer's close (WRITTEN)."""
    watcher, recorder, target = watched
    target.write_text("x = 2  # longer\n")
    changes = recorder.wait()
    while (str(target), WRITTEN) not in changes:     # each wait fails after 5 s of silence
        changes += recorder.wait()
    assert {path for path, _ in changes} == {str(target)}
    kinds = [kind for _, kind in changes]
    assert kinds[-1] == WRITTEN
    if isinstance(watcher, EventWatcher):
        assert WRITING in kinds[:-1] and kinds.count(WRITTEN) == 1
    else:
        assert set(kinds) == {WRITTEN}


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


def test_worker_drops_privileges_after_loading_when_the_command_can(tmp_path):
    """run_worker in a real fork with a stand-in command: load, drop, report, serve."""
    from paste.script.serving import ipc
    from paste.script.serving.worker import run_worker

    marker = tmp_path / "dropped"

    class Command:
        def load_app_and_server(self):
            return (lambda environ, start_response: []), (lambda app: None)

        def drop_privileges(self):
            marker.write_text("yes")

    monitor_end, worker_end = ipc.channel_pair()
    pid = os.fork()
    if pid == 0:     # never return into pytest from the child
        try:
            monitor_end.close()
            run_worker(Command(), worker_end, verbose=0)
        finally:
            os._exit(1)
    worker_end.close()
    try:
        ops = []
        while "loaded" not in ops:
            message, _fds = ipc.receive(monitor_end)
            assert message is not None, ops
            ops.append(message["op"])
        assert marker.read_text() == "yes"
        ipc.send(monitor_end, {"op": "go"})
        _pid, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0     # server(app) returned
    finally:
        monitor_end.close()
