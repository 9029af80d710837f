# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""The worker side of ``--reload``: a child forked by the monitor.

The worker loads the application afresh (the monitor never imports it),
tells the monitor which files that read (:mod:`.loaded`), waits for the
go-ahead, and serves. Its listening sockets come from the monitor
(:mod:`.sockets`), so any runner that binds through Python's ``socket``
module (waitress, the wsgiutils runner, cheroot, flup, Twisted) keeps
accepting on the same socket across reloads.

A worker can also start as a warm *standby*: forked ahead of time, it
imports the installed libraries (standard library, site-packages) that the
serving worker reported using, then waits for the monitor's ``load``; a
reload then only imports the application's own code.

SIGTERM stops a worker gracefully: its listening descriptors are pointed at
a private socket nobody connects to (so it accepts nothing new and the next
worker gets every new connection), and the process exits once no request
has been in flight for a short while (clients on keep-alive connections to
it reconnect, to the new worker, at the latest after
:data:`KEEPALIVE_LIMIT`).
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
import traceback

from paste.script.reloader import ipc
from paste.script.reloader.inflight import InFlight
from paste.script.reloader.loaded import (error_files, format_error, library_modules,
                                          module_files, purge_modules)
from paste.script.reloader.sockets import SocketBroker, address_in_use

__all__ = ["run_worker", "WorkerChannel", "ConfigRecorder"]

#: After SIGTERM, exit once no request ran for this long (seconds) ...
QUIET_PERIOD = 0.25
#: ... or, between requests, after this long: a keep-alive client that keeps
#: sending on its connection to the old worker moves to the new one then.
KEEPALIVE_LIMIT = 1.0
#: ... or after this long, whatever is still running.
GRACE_PERIOD = 10.0
#: A serving worker reports the library modules it loaded after this long
#: (the runner imports some on the first requests).
LIBRARY_REPORT_DELAY = 1.0


class WorkerChannel:
    """The worker's end of the channel; one thread reads what the monitor sends."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self._send_lock = threading.Lock()
        self.go = threading.Event()
        self.load = threading.Event()
        self.load_changed: list[str] = []
        self.replies: queue.Queue = queue.Queue()
        self._sent: set[str] = set()
        thread = threading.Thread(target=self._read, name="paster-reload-channel", daemon=True)
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
            elif op == "changed":
                self.load_changed.extend(message.get("paths", []))
            elif op == "load":
                self.load.set()
            elif op == "socket":
                self.replies.put((message, fds))
            else:
                for fd in fds:
                    os.close(fd)


class ConfigRecorder:
    """Notes every config file PasteDeploy reads (including ``use = config:``)."""

    def __init__(self):
        self.files: list[str] = []

    def install(self) -> None:
        from paste.deploy import loadwsgi
        original = loadwsgi.ConfigLoader.__init__
        recorder = self

        def __init__(loader, filename, *args, **kw):
            recorder.files.append(os.path.abspath(filename.strip()))
            return original(loader, filename, *args, **kw)

        loadwsgi.ConfigLoader.__init__ = __init__


# -- the worker process ----------------------------------------------------

def _exit(code: int) -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    os._exit(code)


def run_worker(command, sock: socket.socket, changed: set[str] = frozenset(),
               verbose: int = 1, preload: list[str] | None = None) -> None:
    """Load and serve ``command``'s application; never returns (the process exits).

    With ``preload`` (module names), the worker is a warm standby: it imports
    those library modules first, then waits for the monitor's ``load``.
    """
    try:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGINT, signal.SIG_IGN)   # Ctrl-C is the monitor's to handle
        for signum in (signal.SIGTERM, signal.SIGCHLD, signal.SIGHUP):
            signal.signal(signum, signal.SIG_DFL)
        channel = WorkerChannel(sock)
        if preload is not None:
            changed = _stand_by(channel, preload)
        _serve(command, channel, changed, verbose)
    except SystemExit as exc:
        _exit(exc.code if isinstance(exc.code, int) else 1)
    except BaseException:
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


def _report_libraries(channel: WorkerChannel) -> None:
    time.sleep(LIBRARY_REPORT_DELAY)
    try:
        pieces = list(ipc.chunks(library_modules())) or [[]]
        for number, piece in enumerate(pieces, 1):
            channel.send({"op": "modules", "names": piece, "last": number == len(pieces)})
    except (OSError, ValueError):
        pass


def _serve(command, channel: WorkerChannel, changed, verbose) -> None:
    import paste.script.reloader as reloader
    reloader._report = channel.send_files
    purge_modules(set(changed))
    importlib.invalidate_caches()
    recorder = ConfigRecorder()
    recorder.install()
    broker = SocketBroker(channel)
    broker.install()
    try:
        app, server = command.load_app_and_server()
        # --user/--group: the worker runs as that user; the monitor, which
        # binds the sockets (port 80 needs root), keeps its identity.
        drop_privileges = getattr(command, "drop_privileges", None)
        if callable(drop_privileges):
            drop_privileges()
    except BaseException as exc:
        channel.send_files(module_files() + recorder.files + reloader.watched_files()
                           + error_files(exc))
        channel.send({"op": "error", "message": format_error(exc)})
        _exit(3)
    channel.send_files(module_files() + recorder.files + reloader.watched_files())
    channel.send({"op": "loaded"})
    channel.go.wait()
    app = InFlight(app)
    signal.signal(signal.SIGTERM, _graceful_stop(app, broker))
    if verbose > 0:
        print(f"Starting server in PID {os.getpid()}.")
        sys.stdout.flush()
    threading.Thread(target=_report_libraries, args=(channel,), daemon=True).start()
    try:
        server(app)
    except BaseException as exc:
        if broker.ready_sent:
            raise
        # Failed before serving (a bad server option, a taken address): a
        # broken edit like any other, for the monitor to report once.
        channel.send_files(error_files(exc))
        channel.send({"op": "error", "message": format_error(exc),
                      "address_in_use": address_in_use(exc) and not broker.adopted})
        _exit(3)


def _graceful_stop(app: InFlight, broker: SocketBroker):
    stopping = []

    def handler(signum, frame):
        if stopping:
            return
        stopping.append(time.monotonic())
        released = broker.release()
        quiet = QUIET_PERIOD if released else 0.0
        threading.Thread(target=_drain, args=(app, quiet), daemon=True).start()

    return handler


def _drain(app: InFlight, quiet: float) -> None:
    deadline = time.monotonic() + GRACE_PERIOD
    started = time.monotonic()
    while time.monotonic() < deadline:
        idle = app.idle_for()
        stopped_for = time.monotonic() - started
        if app.active == 0 and stopped_for >= quiet and (idle >= quiet or stopped_for >= KEEPALIVE_LIMIT):
            break
        time.sleep(0.01)
    _exit(0)
