# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""The worker process: forked by the monitor, it loads the application and serves.

The worker first becomes what it will serve as (``--user``/``--group``,
``--umask``, ``--chdir``, ``--env``), then loads the server and the
application afresh (the monitor never imports the application), tells the
monitor whether that worked (``loaded``, or ``error``), and calls the
runner. The runner gets its listening sockets from the monitor and says
when it is set up (:mod:`paste.script.serving`'s hooks, served by
:mod:`.control_thread`); the worker then waits for the monitor's ``go``. A
runner that binds its own socket is watched until it listens.

Under ``--reload`` it also reports which files it read (:mod:`.loaded`),
including modules imported later while serving and config files
PasteDeploy read, and it can start as a warm *standby*: forked ahead of
time, it imports the installed libraries the serving worker uses, then
waits for the monitor's ``load``.

Stopping is :mod:`.drain`'s business.
"""
from __future__ import annotations

import errno
import importlib
import os
import random
import signal
import socket
import sys
import threading
import time
import traceback

from paste.script.serving import ipc
from paste.script.serving.control_thread import (EngineHooks, WorkerControl, WorkerOptions,
                                                 before_exit, exit_now)
from paste.script.serving.drain import GracefulStop
from paste.script.serving.errors import address_in_use
from paste.script.serving.inflight import InFlight
from paste.script.serving.loaded import (NewModules, error_files, error_summary, format_error,
                                         library_modules, missing_module_paths, module_files,
                                         purge_modules)
from paste.script.serving.protocol import Op
from paste.script.serving.signals import worker_signals

__all__ = ["run_worker", "WorkerOptions", "ConfigRecorder"]

#: A runner that binds its own socket and shows no listening socket after
#: this long (seconds) is taken as serving anyway (cgi serves on stdin).
READY_TIMEOUT = 2.0
#: A serving worker under --reload reports the library modules it loaded
#: after this long (the runner imports some on the first requests), and
#: looks for newly imported modules this often.
LIBRARY_REPORT_DELAY = 1.0


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

def run_worker(command, sock: socket.socket, options: WorkerOptions,
               preload: list[str] | None = None, changed=frozenset()) -> None:
    """Load and serve ``command``'s application; never returns (the process exits).

    With ``preload`` (module names), the worker is a warm standby: it imports
    those library modules first, then waits for the monitor's ``load``.
    """
    from paste.script import serving
    try:
        worker_signals()
        control = WorkerControl(sock, options)
        hooks = EngineHooks(control, options)
        serving.use_engine(hooks)
        control.start()
        if options.prepare is not None:
            options.prepare()
        changed = set(changed)
        if preload is not None:
            changed |= _stand_by(control, preload)
        Worker(command, control, hooks, options).serve(changed)
    except SystemExit as exc:
        exit_now(exc.code if isinstance(exc.code, int) else 1)
    except BaseException:
        traceback.print_exc()
        exit_now(1)
    exit_now(0)


def _stand_by(control: WorkerControl, names: list[str]) -> set[str]:
    """Import library modules ahead of the next change; return the changed files then."""
    for name in names:
        if name in sys.modules:
            continue
        try:
            importlib.import_module(name)
        except BaseException:   # noqa: BLE001 - the application will import it its own way
            pass
    control.send_files(module_files())
    control.send({"op": Op.STANDING})
    control.load.wait()
    return set(control.load_changed)


class Worker:
    """One worker's life once forked: load, start the runner, serve."""

    def __init__(self, command, control: WorkerControl, hooks: EngineHooks,
                 options: WorkerOptions):
        self.command = command
        self.control = control
        self.hooks = hooks
        self.options = options
        self.serving_alone = False      # its runner listens on a socket of its own
        self._serving_lock = threading.Lock()
        self.serve_returned = threading.Event()

    @property
    def accepting(self) -> bool:
        return self.control.go.is_set() or self.serving_alone

    def serve(self, changed: set[str]) -> None:
        app, server = self._load(changed)
        inflight = InFlight(app, access_log=self.options.access_log,
                            on_count=self._retire_after())
        stopper = GracefulStop(inflight, self.hooks, self.options.graceful_timeout,
                               on_released=lambda: self.control.send({"op": Op.RELEASED}),
                               serve_returned=self.serve_returned)
        self.control.on_stop = self._stop_with(stopper)
        threads = server.threads() if callable(getattr(server, "threads", None)) else None
        self.control.send({"op": Op.LOADED, "threads": threads, "held": self.options.hold})
        if self.options.hold:
            self.control.go.wait()
        self._start_watchers(inflight)
        try:
            server(inflight)
        except BaseException as exc:
            if stopper.stopping or self.accepting:
                raise
            # Failed before serving (a bad server option, a taken address): a
            # broken deploy like any other, for the monitor to report once.
            if self.options.reload:
                self.control.send_files(error_files(exc))
            self._report_error(exc, bind_error=address_in_use(exc) and not self.hooks.listeners)
            exit_now(3)
        self.serve_returned.set()
        if stopper.stopping:
            while True:             # the drain ends the process, with what the runner started
                time.sleep(3600)
        if not self.accepting:
            self.control.send({"op": Op.FINISHED})  # a runner that serves once (cgi) is done

    def _stop_with(self, stopper: GracefulStop):
        def stop(reason: str = "") -> None:
            if not self.accepting:
                exit_now(0)         # nothing accepted yet: nothing to finish
            stopper(reason)
        return stop

    def _load(self, changed: set[str]):
        recorder = None
        if self.options.reload:
            purge_modules(changed)
            importlib.invalidate_caches()
            recorder = ConfigRecorder(getattr(self.command, "config_file", None))
            recorder.install()
        from paste.script import serving
        try:
            app, server = self.command.load_app_and_server()
        except BaseException as exc:
            if self.options.reload:
                self.control.send_files(module_files() + recorder.files
                                        + serving.watched_files() + error_files(exc)
                                        + missing_module_paths(exc))
            self._report_error(exc, bind_error=False)
            exit_now(3)
        if recorder is not None:
            recorder.recording = False
            self.control.send_files(module_files() + recorder.files + serving.watched_files())
        return app, server

    def _report_error(self, exc: BaseException, bind_error: bool) -> None:
        from paste.script.serving.errors import user_message
        known = user_message(exc)
        summary = error_summary(exc)[:2000]
        if bind_error and self.options.pool_size > 1:
            summary += (" (the server runner binds its own socket, so one process serves it: "
                        "use --workers 1)")
        self.control.send_quietly({
            "op": Op.ERROR, "message": format_error(exc)[:ipc.MAX_MESSAGE // 3],
            "summary": summary, "exit_code": known[1] if known is not None else 1,
            "address_in_use": bind_error})

    def _retire_after(self):
        """--max-requests: ask the monitor for a successor after N (+ jitter) requests."""
        limit = self.options.max_requests
        if not limit:
            return None
        limit += random.randint(0, self.options.max_requests_jitter)
        asked = []

        def count(done: int) -> None:
            if done >= limit and not asked:
                asked.append(True)
                self.control.send_quietly({"op": Op.RETIRE, "served": done})
        return count

    # -- watching --------------------------------------------------------------------

    def _start_watchers(self, inflight: InFlight) -> None:
        before = _listening_sockets()        # the application's own listeners
        threading.Thread(target=self._watch_listening, args=(before,),
                         name="paster-worker-listen", daemon=True).start()

        def first_request(peer) -> None:
            # A runner answering from a socket of its own before the watch
            # above saw it listen (the watch polls): the monitor hears of it
            # before the application runs, so it never takes this worker for
            # one that has not answered yet (and gives it up for a file
            # changed since). A runner with no listener at all (cgi answers
            # its standard input) serves once and says so when it returns.
            if inflight.on_started is first_request:
                inflight.on_started = None
            if not self._took_the_monitors_sockets() and _listening_sockets():
                self._say_serving_alone()
        inflight.on_started = first_request
        heartbeat = Heartbeat(self.control, inflight, self.options.worker_timeout)
        self.control.on_tick.append(heartbeat.tick)
        if self.options.access_log is not None:
            self.control.on_tick.append(self.options.access_log.flush)
            before_exit.append(self.options.access_log.flush)
        if self.options.reload:
            new_modules = NewModules()

            def after_request(peer) -> None:
                files = new_modules()
                if files:
                    self.control.send_files(files)
            inflight.on_finished = after_request
            threading.Thread(target=_watch_imports, args=(self.control, new_modules),
                             name="paster-worker-imports", daemon=True).start()

    def _watch_listening(self, before: set) -> None:
        """A runner that binds its own socket: say when it listens (or after a while)."""
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self._took_the_monitors_sockets():
                return          # ready() tells
            if _listening_sockets() - before:
                break
            time.sleep(0.01)
        self._say_serving_alone()

    def _took_the_monitors_sockets(self) -> bool:
        return self.hooks.asked or self.hooks.ready_sent

    def _say_serving_alone(self) -> None:
        """Tell the monitor, once, that the runner listens on a socket of its own
        (not when it took the monitor's: ``ready()`` tells then)."""
        with self._serving_lock:
            if self.serving_alone or self._took_the_monitors_sockets():
                return
            self.serving_alone = True
        self.control.send_quietly({"op": Op.SERVING})


def _listening_sockets() -> set[int]:
    """The inodes of the listening sockets this process holds."""
    found = set()
    try:
        names = os.listdir("/proc/self/fd")
    except OSError:
        return found
    for name in names:
        try:
            fd = os.dup(int(name))
        except OSError:
            continue
        try:
            sock = socket.socket(fileno=fd)
        except OSError:         # not a socket: the duplicate must not leak
            os.close(fd)
            continue
        try:
            if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN):
                found.add(os.fstat(sock.fileno()).st_ino)
        except OSError:
            pass
        finally:
            sock.close()
    return found


class Heartbeat:
    """What the worker tells the monitor once a second: heartbeat, descriptors."""

    def __init__(self, control: WorkerControl, inflight: InFlight, worker_timeout):
        self.control = control
        self.inflight = inflight
        self.beating = bool(worker_timeout)
        self.fds_exhausted = False
        self.main_ran = time.monotonic()
        if self.beating:
            signal.signal(signal.SIGURG, self._main_runs)

    def _main_runs(self, signum, frame) -> None:
        self.main_ran = time.monotonic()

    def tick(self) -> None:
        exhausted = _out_of_descriptors(self.control.sock.fileno())
        changed = exhausted != self.fds_exhausted
        self.fds_exhausted = exhausted
        if not (self.beating or changed):
            return
        now = time.monotonic()
        inflight = self.inflight
        self.control.send_quietly({
            "op": Op.BEAT, "active": inflight.active, "done": inflight.done,
            "main_seen": round(now - self.main_ran, 1), "fds_exhausted": exhausted,
            "requests": inflight.oldest(10) if inflight.active else []})
        if self.beating:
            signal.pthread_kill(threading.main_thread().ident, signal.SIGURG)


def _out_of_descriptors(fd: int) -> bool:
    """Whether the process has no descriptor left (``fd``: any open one, to copy)."""
    try:
        os.close(os.dup(fd))
    except OSError as exc:
        return exc.errno == errno.EMFILE
    return False


def _watch_imports(control: WorkerControl, new_modules: NewModules) -> None:
    """Under --reload: report the libraries once, then modules imported later, as they come."""
    time.sleep(LIBRARY_REPORT_DELAY)
    try:
        pieces = list(ipc.chunks(library_modules())) or [[]]
        for number, piece in enumerate(pieces, 1):
            control.send({"op": Op.MODULES, "names": piece, "last": number == len(pieces)})
        while True:
            files = new_modules()
            if files:
                control.send_files(files)
            time.sleep(LIBRARY_REPORT_DELAY)
    except (OSError, ValueError):
        pass
