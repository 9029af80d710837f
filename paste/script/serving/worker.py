# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""The worker process: forked by the monitor, it loads the application and serves.

The worker loads the application afresh (the monitor never imports it),
tells the monitor whether that worked, waits for the go-ahead and serves on
the monitor's sockets (:mod:`.handover`). Under ``--reload`` it also
reports which files it read (:mod:`.loaded`), including modules imported
later while serving and config files PasteDeploy read, and it can start as
a warm *standby*: forked ahead of time, it imports the installed libraries
the serving worker uses, then waits for the monitor's ``load``.

The monitor's ``stop`` (or a SIGTERM) stops a worker gracefully: its
listening descriptors are pointed at a private socket nobody connects to
(so it accepts nothing new while the other workers get every new
connection), its keep-alive connections are closed as they fall idle
(:mod:`.connections`), and it exits once it has no request in flight, or
after the graceful timeout.
"""
from __future__ import annotations

import importlib
import os
import queue
import signal
import socket
import sys
import threading
import time

from paste.script.serving import Standalone, ipc
from paste.script.serving.connections import Connections
from paste.script.serving.handover import SocketBroker, address_in_use
from paste.script.serving.inflight import InFlight
from paste.script.serving.loaded import (NewModules, error_files, error_summary, format_error,
                                         library_modules, missing_module_paths, module_files,
                                         purge_modules)
from paste.script.serving.signals import worker_signals

__all__ = ["run_worker", "WorkerChannel", "WorkerOptions", "ConfigRecorder"]

#: Without connections to watch (a runner accepting outside Python's socket
#: module), exit once no request ran for this long (seconds) ...
QUIET_PERIOD = 0.25
#: ... or, between requests, after this long.
KEEPALIVE_LIMIT = 1.0
#: A stopping worker that takes longer than this says what it waits for.
SLOW_STOP = 5.0
#: A serving worker under --reload reports the library modules it loaded
#: after this long (the runner imports some on the first requests), and
#: looks for newly imported modules this often.
LIBRARY_REPORT_DELAY = 1.0


class WorkerOptions:
    """What the monitor tells a worker when it forks it."""

    def __init__(self, reload: bool = True, graceful_timeout: float = 30.0,
                 pool_size: int = 1, verbose: int = 1):
        self.reload = reload
        self.graceful_timeout = graceful_timeout
        self.pool_size = pool_size
        self.verbose = verbose


class WorkerChannel:
    """The worker's end of the channel; one thread reads what the monitor sends."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self._send_lock = threading.Lock()
        self.go = threading.Event()
        self.load = threading.Event()
        self.load_changed: list[str] = []
        self.replies: queue.Queue = queue.Queue()
        self.on_stop = None
        self._sent: set[str] = set()
        thread = threading.Thread(target=self._read, name="paster-worker-channel", daemon=True)
        thread.start()

    def send(self, message: dict, fds=()) -> None:
        with self._send_lock:
            ipc.send(self.sock, message, fds)

    def send_files(self, paths) -> None:
        """Tell the monitor to watch these paths (each path is sent once)."""
        with self._send_lock:
            new = [p for p in dict.fromkeys(paths) if p and p not in self._sent]
            self._sent.update(new)
            for piece in ipc.chunks(new):
                ipc.send(self.sock, {"op": "files", "paths": piece})

    def _read(self) -> None:
        while True:
            try:
                message, fds = ipc.receive(self.sock)
            except InterruptedError:
                continue
            except OSError:
                message, fds = None, []
            except ValueError:
                continue
            if message is None:
                # The monitor is gone (killed, crashed): never outlive it.
                _exit(1)
            op = message.get("op")
            if op == "go":
                self.go.set()
            elif op == "stop":
                if self.on_stop is not None:
                    self.on_stop()
                else:
                    _exit(0)     # not serving yet: nothing to finish
            elif op == "changed":
                self.load_changed.extend(message.get("paths", []))
            elif op == "load":
                self.load.set()
            elif op == "socket":
                self.replies.put((message, fds))
            elif op == "log" and fds:
                _adopt_log(fds[0])
            else:
                for fd in fds:
                    os.close(fd)


def _adopt_log(fd: int) -> None:
    """The monitor reopened --log-file (SIGUSR1): write to the new file from now on."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)


class ConfigRecorder:
    """Notes the config files read while loading (PasteDeploy's, ``config:`` includes too).

    An audit hook (PEP 578) sees every ``open()``; while recording, files
    opened for reading with a config file's suffix are kept.
    """

    SUFFIXES = (".ini", ".cfg", ".conf")

    def __init__(self, config_file: str | None = None):
        self.files: list[str] = []
        self.recording = False
        suffix = os.path.splitext(config_file or "")[1]
        self.suffixes = self.SUFFIXES + ((suffix,) if suffix and suffix not in self.SUFFIXES else ())

    def install(self) -> None:
        sys.addaudithook(self._hook)
        self.recording = True

    def _hook(self, event: str, args) -> None:
        if not self.recording or event != "open":
            return
        path, mode = args[0], args[1]
        if isinstance(path, str) and path.endswith(self.suffixes) and (
                mode is None or not any(c in str(mode) for c in "wax+")):
            self.files.append(os.path.abspath(path))


# -- the worker process ----------------------------------------------------

def _exit(code: int) -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    os._exit(code)


def run_worker(command, sock: socket.socket, changed=frozenset(), verbose: int = 1,
               preload: list[str] | None = None, options: WorkerOptions | None = None) -> None:
    """Load and serve ``command``'s application; never returns (the process exits).

    With ``preload`` (module names), the worker is a warm standby: it imports
    those library modules first, then waits for the monitor's ``load``.
    """
    options = options or WorkerOptions(verbose=verbose)
    try:
        worker_signals()
        channel = WorkerChannel(sock)
        if preload is not None:
            changed = _stand_by(channel, preload)
        _serve(command, channel, set(changed), options)
    except SystemExit as exc:
        _exit(exc.code if isinstance(exc.code, int) else 1)
    except BaseException:
        import traceback
        traceback.print_exc()
        _exit(1)
    _exit(0)


def _stand_by(channel: WorkerChannel, names: list[str]) -> set[str]:
    """Import library modules ahead of the next change; return the changed files then."""
    for name in names:
        if name in sys.modules:
            continue
        try:
            importlib.import_module(name)
        except BaseException:   # noqa: BLE001 - the application will import it its own way
            pass
    channel.send_files(module_files())
    channel.send({"op": "standing"})
    channel.load.wait()
    return set(channel.load_changed)


def _watch_imports(channel: WorkerChannel, new_modules: NewModules) -> None:
    """Under --reload: report the libraries once, then modules imported later, as they come."""
    time.sleep(LIBRARY_REPORT_DELAY)
    try:
        pieces = list(ipc.chunks(library_modules())) or [[]]
        for number, piece in enumerate(pieces, 1):
            channel.send({"op": "modules", "names": piece, "last": number == len(pieces)})
        while True:
            files = new_modules()
            if files:
                channel.send_files(files)
            time.sleep(LIBRARY_REPORT_DELAY)
    except (OSError, ValueError):
        pass


class WorkerHooks(Standalone):
    """The runner and application hooks of :mod:`paste.script.serving` in a worker."""

    def __init__(self, channel: WorkerChannel, options: WorkerOptions):
        self.channel = channel
        self.pool_size = options.pool_size
        self.reload = options.reload
        self.stop_callbacks: list = []

    def single_process(self, runner: str) -> None:
        if self.pool_size is not None and self.pool_size > 1:
            from paste.script.command import BadCommand
            raise BadCommand(f"The {runner} server runs in one process: it cannot be "
                             f"served by {self.pool_size} workers (use --workers 1)")
        self.channel.send({"op": "single", "runner": runner})

    def files_read(self, paths: list[str]) -> None:
        if self.reload:
            self.channel.send_files(paths)

    def on_stop(self, callback) -> None:
        self.stop_callbacks.append(callback)


def _serve(command, channel: WorkerChannel, changed: set[str], options: WorkerOptions) -> None:
    import paste.script.serving as serving
    serving.use_engine(WorkerHooks(channel, options))
    recorder = None
    if options.reload:
        purge_modules(changed)
        importlib.invalidate_caches()
        recorder = ConfigRecorder(getattr(command, "config_file", None))
        recorder.install()
    connections = Connections()
    broker = SocketBroker(channel, on_accept=connections.add)
    broker.install()
    try:
        app, server = command.load_app_and_server()
        # --user/--group: the worker runs as that user; the monitor, which
        # binds the sockets (port 80 needs root), keeps its identity.
        drop_privileges = getattr(command, "drop_privileges", None)
        if callable(drop_privileges):
            drop_privileges()
    except BaseException as exc:
        if options.reload:
            channel.send_files(module_files() + recorder.files + serving.watched_files()
                               + error_files(exc) + missing_module_paths(exc))
        _report_error(channel, exc, bind_error=False)
        _exit(3)
    if recorder is not None:
        recorder.recording = False
        channel.send_files(module_files() + recorder.files + serving.watched_files())
    channel.send({"op": "loaded"})
    channel.go.wait()
    new_modules = NewModules() if options.reload else None
    app = InFlight(app, on_finished=_report_new_modules(channel, new_modules))
    connections.inflight = app
    stopper = GracefulStop(app, broker, connections, options.graceful_timeout,
                           on_released=lambda: channel.send({"op": "released"}))
    channel.on_stop = stopper
    signal.signal(signal.SIGTERM, lambda signum, frame: stopper())
    if options.reload:
        threading.Thread(target=_watch_imports, args=(channel, new_modules),
                         daemon=True).start()
    try:
        server(app)
    except BaseException as exc:
        if broker.ready_sent or stopper.stopping:
            raise
        # Failed before serving (a bad server option, a taken address): a
        # broken deploy like any other, for the monitor to report once.
        if options.reload:
            channel.send_files(error_files(exc))
        _report_error(channel, exc, bind_error=address_in_use(exc) and not broker.adopted)
        _exit(3)
    if not broker.ready_sent and not stopper.stopping:
        channel.send({"op": "finished"})     # a runner that serves once (cgi) is done


def _report_error(channel: WorkerChannel, exc: BaseException, bind_error: bool) -> None:
    try:
        channel.send({"op": "error", "message": format_error(exc)[:ipc.MAX_MESSAGE // 3],
                      "summary": error_summary(exc)[:2000],
                      "exit_code": getattr(exc, "exit_code", 1) if type(exc).__name__ == "BadCommand" else 1,
                      "address_in_use": bind_error})
    except (OSError, ValueError):
        pass


def _report_new_modules(channel: WorkerChannel, new_modules: NewModules | None):
    """Under --reload: after each request, report the modules it imported."""
    if new_modules is None:
        return None

    def after_request(peer) -> None:
        files = new_modules()
        if files:
            try:
                channel.send_files(files)
            except (OSError, ValueError):
                pass
    return after_request


class GracefulStop:
    """Stop accepting, close connections as they fall idle, exit when nothing is in flight."""

    def __init__(self, app: InFlight, broker: SocketBroker, connections: Connections,
                 timeout: float, on_released=lambda: None):
        self.app = app
        self.on_released = on_released
        self.broker = broker
        self.connections = connections
        self.timeout = timeout
        self.stopping = False
        self._lock = threading.Lock()

    def __call__(self) -> None:
        with self._lock:
            if self.stopping:
                return
            self.stopping = True
        # From now on each request's end tells the connections (idle or not).
        previous = self.app.on_finished

        def finished(peer) -> None:
            self.connections.request_ended(peer)
            if previous is not None:
                previous(peer)
        self.app.on_finished = finished
        self.broker.release()
        threading.Thread(target=self._drain, name="paster-worker-drain", daemon=True).start()

    def _drain(self) -> None:
        # Sent from this thread: __call__ may run in a signal handler, which
        # must not wait for the channel's lock.
        try:
            self.on_released()      # the monitor announces the new code after this
        except (OSError, ValueError):
            pass
        started = time.monotonic()
        deadline = started + self.timeout
        report_at = started + SLOW_STOP
        while time.monotonic() < deadline:
            still_open = self.connections.close_idle()
            if time.monotonic() > report_at:
                report_at = deadline
                print(f"Server child {os.getpid()} still finishing: {self.app.active} "
                      f"request(s) in flight, {still_open} connection(s) open.", flush=True)
            if self.app.active == 0:
                if self.connections.tracked:
                    if not still_open:
                        break
                else:
                    stopped_for = time.monotonic() - started
                    if stopped_for >= QUIET_PERIOD and (self.app.idle_for() >= QUIET_PERIOD
                                                        or stopped_for >= KEEPALIVE_LIMIT):
                        break
            time.sleep(0.005)
        else:
            if self.app.active:
                print(f"Server child {os.getpid()}: {self.app.active} request(s) in flight "
                      f"cut after the graceful timeout ({self.timeout:g}s).", flush=True)
                _exit(1)
        _exit(0)
