# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""The monitor side of ``--reload``: watches files, owns sockets, swaps workers.

The monitor has imported PasteDeploy and the server runner, never the
application. On a change it forks a new worker (cheap: no new interpreter,
nothing to import again but the application), which loads the application
and reports back. Only when the new worker listens does the old one get
SIGTERM, so a broken edit leaves the old code serving, and the listening
sockets, which the monitor keeps, never stop accepting connections. Between
changes, a standby worker waits with the application's libraries imported,
and takes the next change.

Everything happens in one thread around a selector: the signal wake-up pipe,
the file watcher's pipe and one channel per worker.
"""
from __future__ import annotations

import importlib.util
import os
import selectors
import signal
import socket
import sys
import threading
import time

from paste.script.reloader import ipc, worker as worker_side
from paste.script.reloader.loaded import library_roots
from paste.script.reloader.sockets import listening_socket
from paste.script.reloader.watcher import WRITTEN, make_watcher

__all__ = ["Monitor"]

#: How long to wait for more events after a settled change (seconds).
SETTLE = 0.002
#: How long to wait for a writer to close the file it is writing, or for a
#: removed file to come back (editors that rename the original to a backup).
WRITE_SETTLE = 0.1
#: A worker that got the go-ahead but never listened on a socket of ours
#: (a runner binding in C, or a Unix socket) is taken as serving after this.
READY_TIMEOUT = 2.0
#: How long a worker may take to stop before SIGKILL.
STOP_TIMEOUT = worker_side.GRACE_PERIOD + 2.0
#: How long Ctrl-C / SIGTERM wait for the workers before SIGKILL.
SHUTDOWN_TIMEOUT = 5.0
#: A warm standby is forked this long after a new worker serves (so the two
#: do not compete for the CPU while the new one starts).
STANDBY_DELAY = 0.05


class Worker:
    """What the monitor knows about one worker process."""

    def __init__(self, pid: int, channel: socket.socket, started_ns: int):
        self.pid = pid
        self.channel = channel
        self.state = "loading"    # loaded, started, serving, stopping
        self.started_ns = started_ns
        self.adopted: set = set()
        self.failed = False       # reported an error (already printed)
        self.address_in_use = False
        self.error = ""
        self.files: set[str] = set()       # what it reported having read
        self.stale_if_read: set[str] = set()   # changed while it was preloading
        self.modules: list[str] = []       # library modules it reported, in order
        self.go_at: float | None = None
        self.kill_at: float | None = None

    def signal(self, signum: int) -> None:
        try:
            os.kill(self.pid, signum)
        except ProcessLookupError:
            pass


class Monitor:
    """Runs ``command``'s server in worker processes, reloading on changes."""

    def __init__(self, command, watcher_factory=make_watcher):
        from paste.script.util.options import asfloat
        self.command = command
        options = getattr(command, "options", None)
        interval = getattr(options, "reload_interval", None)
        self.interval = asfloat(interval) if interval not in (None, "") else 1.0
        self.verbose = getattr(command, "verbose", 1)
        self.watcher_factory = watcher_factory
        # Events miss changes made by another machine (NFS, some container
        # bind mounts); PASTE_RELOAD_POLL=1 polls every reload interval instead.
        self.use_events = os.environ.get("PASTE_RELOAD_POLL", "").strip() in ("", "0")
        # A standby worker, forked ahead of time, has imported the libraries the
        # application uses (its framework), so a reload only imports the
        # application itself. PASTE_RELOAD_PRELOAD=0 turns that off.
        self.use_standby = os.environ.get("PASTE_RELOAD_PRELOAD", "").strip() != "0"
        self.standby: Worker | None = None
        self.standby_due: float | None = None
        self.library_modules: list[str] | None = None
        self.sockets: dict[tuple, socket.socket] = {}
        self.workers: dict[int, Worker] = {}
        self.current: Worker | None = None
        self.pending: Worker | None = None
        self.plain_restart = False
        self.changed: set[str] = set()            # since the last reload
        self.changed_since_start: set[str] = set()
        self.reload_due: float | None = None
        self.stopping = False
        self.stop_deadline: float | None = None
        self._events: list[tuple[str, str]] = []
        self._events_lock = threading.Lock()

    # -- running ------------------------------------------------------------

    def run(self) -> int:
        self.selector = selectors.DefaultSelector()
        self._signal_r, self._signal_w = _pipe()
        self._watch_r, self._watch_w = _pipe()
        self.selector.register(self._signal_r, selectors.EVENT_READ, "signal")
        self.selector.register(self._watch_r, selectors.EVENT_READ, "watch")
        previous = self._install_signals()
        self.watcher = self.watcher_factory(self._on_change, self.interval,
                                            events=self.use_events,
                                            poll_roots=library_roots())
        if self.verbose > 1:
            self._say(f"Watching files for changes ({self.watcher.method}).")
        try:
            config = getattr(self.command, "config_file", None)
            if config:
                self.watcher.add([config])
            self._warm_up()
            self._spawn()
            while self.workers or not self.stopping:
                self.loop_once()
        finally:
            self._kill_all()
            self.watcher.stop()
            self._restore_signals(previous)
            for sock in self.sockets.values():
                sock.close()
            self.sockets.clear()
            self.selector.close()
            for fd in (self._signal_r, self._signal_w, self._watch_r, self._watch_w):
                os.close(fd)
        return 0

    def loop_once(self) -> None:
        for key, _mask in self.selector.select(self._timeout()):
            if key.data == "signal":
                self._read_signals()
            elif key.data == "watch":
                self._read_changes()
            else:
                self._read_worker(key.data)
        self._reap()
        self._run_timers()

    def _warm_up(self) -> None:
        """Import the server machinery here, once, so each fork starts warm.

        Only the server is loaded: the application's modules must be imported
        by each worker afresh. Errors are left for the worker to report.
        """
        command = self.command
        loader = getattr(command, "loadserver", None)
        if loader is None or not getattr(command, "server_spec", None):
            return
        try:
            loader(command.server_spec, name=command.server_name,
                   relative_to=command.relative_to, global_conf=command.global_conf)
        except Exception:
            pass    # the worker meets the same error and reports it properly

    # -- signals --------------------------------------------------------------

    def _install_signals(self):
        previous = {}
        handled = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD)
        for signum in handled:
            previous[signum] = signal.signal(signum, _note_signal)
        previous["wakeup"] = signal.set_wakeup_fd(self._signal_w, warn_on_full_buffer=False)
        return previous

    def _restore_signals(self, previous) -> None:
        signal.set_wakeup_fd(previous.pop("wakeup"))
        for signum, handler in previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)

    def _read_signals(self) -> None:
        try:
            data = os.read(self._signal_r, 512)
        except BlockingIOError:
            return
        for signum in data:
            if signum in (signal.SIGINT, signal.SIGTERM):
                self.shutdown()
            elif signum == signal.SIGHUP and not self.stopping:
                self.reload_due = time.monotonic()

    def shutdown(self) -> None:
        """Stop every worker (gracefully, then by force) and leave the loop."""
        if self.stopping:
            self._kill_all()       # asked twice: do not wait any longer
            return
        self.stopping = True
        self.reload_due = self.standby_due = None
        self.stop_deadline = time.monotonic() + SHUTDOWN_TIMEOUT
        for worker in list(self.workers.values()):
            if worker.state in ("serving", "stopping", "started"):
                self._stop(worker)
            else:
                worker.signal(signal.SIGKILL)

    # -- file changes ---------------------------------------------------------

    def _on_change(self, path: str, kind: str) -> None:
        """Called in the watcher's thread: queue the change, wake the loop."""
        with self._events_lock:
            self._events.append((path, kind))
        try:
            os.write(self._watch_w, b".")
        except (BlockingIOError, OSError):
            pass

    def _read_changes(self) -> None:
        try:
            os.read(self._watch_r, 4096)
        except BlockingIOError:
            pass
        with self._events_lock:
            events, self._events = self._events, []
        for path, kind in events:
            self.note_change(path, kind)

    def note_change(self, path: str, kind: str = WRITTEN) -> None:
        if self.stopping:
            return
        self.changed.add(path)
        delay = SETTLE if kind == WRITTEN else WRITE_SETTLE
        due = time.monotonic() + delay
        if self.reload_due is None or due < self.reload_due:
            self.reload_due = due

    def reload(self) -> None:
        """Start a worker with the code as it is now on disk."""
        paths, self.changed = sorted(self.changed), set()
        self.reload_due = None
        if self.stopping:
            return
        if self.verbose > 0:
            if paths:
                shown = ", ".join(_short(p) for p in paths[:3])
                more = f" and {len(paths) - 3} more" if len(paths) > 3 else ""
                self._say(f"{shown}{more} changed; reloading.")
            else:
                self._say("SIGHUP received; reloading.")
        self.changed_since_start.update(paths)
        if self.pending is not None and self.pending.state == "started":
            # Told to serve, but listens on no socket of ours: take it as serving.
            self._promote(self.pending)
        if self.pending is not None:
            # Superseded before it served: it must not write stale bytecode
            # after the caches below are dropped, so wait for it to be gone.
            pending, self.pending = self.pending, None
            self._discard(pending)
        for path in paths:
            _drop_bytecode(path)
        standby, self.standby = self.standby, None
        if standby is not None:
            if not standby.files.intersection(paths):
                # Even half-way through its imports it is ahead of a new fork;
                # should it turn out to have read a changed file, it is replaced.
                if standby.state != "standing":
                    standby.stale_if_read = set(paths)
                standby.state = "loading"
                standby.started_ns = time.time_ns()
                self.pending = standby
                for piece in ipc.chunks(sorted(self.changed_since_start)):
                    self._send(standby, {"op": "changed", "paths": piece})
                self._send(standby, {"op": "load"})
                return
            self._discard(standby)     # it imported a file that changed
        self._spawn()

    def _discard(self, worker: Worker) -> None:
        """Kill a worker that never served, and wait for it (it must not write anything more)."""
        worker.signal(signal.SIGKILL)
        try:
            os.waitpid(worker.pid, 0)
        except ChildProcessError:
            pass
        self._forget(worker)

    def _spawn_standby(self) -> None:
        self.standby_due = None
        if (self.stopping or self.standby is not None or self.pending is not None
                or not self.library_modules):
            return
        self._spawn(preload=self.library_modules)

    # -- workers --------------------------------------------------------------

    def _spawn(self, preload: list[str] | None = None) -> None:
        monitor_end, worker_end = ipc.channel_pair()
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        started_ns = time.time_ns()
        pid = os.fork()
        if pid == 0:   # the worker
            try:
                monitor_end.close()
                self._close_in_child()
                worker_side.run_worker(self.command, worker_end, self.changed_since_start,
                                       self.verbose, preload)
            finally:
                os._exit(1)
        worker_end.close()
        monitor_end.setblocking(False)
        worker = Worker(pid, monitor_end, started_ns)
        self.workers[pid] = worker
        if preload is None:
            self.pending = worker
        else:
            worker.state = "standby"
            self.standby = worker
        self.selector.register(monitor_end, selectors.EVENT_READ, worker)

    def _close_in_child(self) -> None:
        """In a new worker: drop every descriptor that belongs to the monitor."""
        fds = [self._signal_r, self._signal_w, self._watch_r, self._watch_w]
        fds += [w.channel.fileno() for w in self.workers.values()]
        fds += [s.fileno() for s in self.sockets.values()]
        try:
            self.selector.close()
        except OSError:
            pass
        for fd in fds:
            try:
                os.close(fd)
            except OSError:
                pass

    def _read_worker(self, worker: Worker) -> None:
        while worker.channel.fileno() >= 0:
            try:
                message, fds = ipc.receive(worker.channel)
            except BlockingIOError:
                return
            except OSError:
                message, fds = None, []
            except ValueError:          # not one of our messages: ignore it
                continue
            for fd in fds:
                os.close(fd)
            if message is None:
                self._unregister(worker)
                return
            try:
                self._handle(worker, message)
            except Exception:
                # Whatever a worker sends, the monitor must go on serving.
                import traceback
                self._say("Internal error in the reload monitor (still running):\n"
                          + traceback.format_exc().rstrip(), stream=sys.stderr)

    def _handle(self, worker: Worker, message: dict) -> None:
        op = message.get("op")
        if op == "files":
            self._watch_files(worker, message.get("paths", []))
        elif op == "bind":
            self._bind(worker, message)
        elif op == "loaded":
            worker.state = "loaded"
            if worker is self.pending:
                if self.plain_restart and self.current is not None:
                    self._stop(self.current)   # "go" follows when it has exited
                else:
                    self._go(worker)
        elif op == "ready":
            if worker is self.pending:
                self._promote(worker)
        elif op == "standing":
            if worker is self.standby:
                worker.state = "standing"
        elif op == "modules":
            worker.modules.extend(message.get("names", []))
            if message.get("last") and worker is self.current and self.use_standby:
                self._new_libraries(worker.modules)
        elif op == "error":
            worker.failed = True
            worker.error = message.get("message", "")
            worker.address_in_use = bool(message.get("address_in_use"))
            if worker is self.pending and not self.stopping and not worker.address_in_use:
                self._report_error(message.get("message", ""))

    def _new_libraries(self, modules: list[str]) -> None:
        """The serving worker's libraries: the standby should have imported these."""
        if modules == self.library_modules:
            return
        self.library_modules = list(modules)
        if self.standby is not None:
            standby, self.standby = self.standby, None
            self._discard(standby)
        self.standby_due = time.monotonic()

    def _watch_files(self, worker: Worker, paths) -> None:
        worker.files.update(paths)
        if worker.stale_if_read.intersection(paths) and worker is self.pending:
            self.pending = None
            self._discard(worker)
            self._spawn()
        new = self.watcher.add(paths)
        for path in new:
            # Changed between the worker reading it and the watch starting?
            try:
                if os.stat(path).st_mtime_ns > worker.started_ns:
                    self.note_change(path, WRITTEN)
            except OSError:
                pass

    def _bind(self, worker: Worker, message: dict) -> None:
        family = message["family"]
        address = tuple(message["address"])
        key = (family, *address[:2])
        sock = self.sockets.get(key)
        if sock is None:
            try:
                sock = listening_socket(family, message.get("proto", 0), address,
                                         message.get("v6only"))
            except OSError as exc:
                self._send(worker, {"op": "socket", "error": exc.strerror or str(exc),
                                    "errno": exc.errno})
                return
            self.sockets[key] = sock
        worker.adopted.add(key)
        self._send(worker, {"op": "socket"}, [sock.fileno()])

    def _go(self, worker: Worker) -> None:
        worker.state = "started"
        worker.go_at = time.monotonic()
        self._send(worker, {"op": "go"})
        if self.plain_restart:
            self._promote(worker)

    def _promote(self, worker: Worker) -> None:
        old, self.current = self.current, worker
        self.pending = None
        worker.state = "serving"
        if old is not None and old is not worker:
            self._stop(old)
        if self.use_standby and self.library_modules and self.standby is None:
            self.standby_due = time.monotonic() + STANDBY_DELAY

    def _stop(self, worker: Worker) -> None:
        if worker.state != "stopping":
            worker.state = "stopping"
            worker.kill_at = time.monotonic() + STOP_TIMEOUT
            worker.signal(signal.SIGTERM)

    def _send(self, worker: Worker, message: dict, fds=()) -> None:
        try:
            ipc.send(worker.channel, message, fds)
        except OSError:
            pass    # it died; the reaper deals with that

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            worker = self.workers.get(pid)
            if worker is not None:
                self._exited(worker, os.waitstatus_to_exitcode(status))

    def _exited(self, worker: Worker, code: int) -> None:
        self._read_worker(worker)      # what it said last (an error) comes first
        was_current = worker is self.current
        self._forget(worker)
        if self.stopping:
            return
        if worker is self.standby:
            self.standby = None
        elif worker is self.pending:
            self.pending = None
            if worker.address_in_use and not worker.adopted and self.current is not None:
                # The runner binds its sockets without Python's socket module:
                # the old worker must let go of the address first.
                self.plain_restart = True
                self._say("The server binds its own sockets: reloading by stopping the old "
                          "server first (requests may be refused meanwhile).")
                self._spawn()
            elif worker.address_in_use:
                self._report_error(worker.error)
            elif not worker.failed:
                self._report_error(f"The new server process exited with {_status(code)} "
                                   "before it was serving.")
        elif was_current:
            if worker.state != "stopping":
                self._say(f"The server process exited with {_status(code)}; "
                          "waiting for a change to restart it.")
        if (self.pending is not None and self.pending.state == "loaded"
                and self.current is None):
            self._go(self.pending)
        self._close_unused_sockets()
        if (self.use_standby and self.library_modules and self.standby is None
                and self.standby_due is None):
            self.standby_due = time.monotonic() + STANDBY_DELAY   # e.g. after a broken edit

    def _forget(self, worker: Worker) -> None:
        self.workers.pop(worker.pid, None)
        self._unregister(worker)
        if worker is self.current:
            self.current = None

    def _unregister(self, worker: Worker) -> None:
        if worker.channel.fileno() >= 0:
            try:
                self.selector.unregister(worker.channel)
            except (KeyError, ValueError):
                pass
            worker.channel.close()

    def _close_unused_sockets(self) -> None:
        """A socket no worker uses any more (the port was edited) stops listening."""
        used = set()
        for worker in self.workers.values():
            used |= worker.adopted
        if self.current is None or not self.current.adopted:
            return      # nothing serving from our sockets: keep them for the next worker
        for key in [k for k in self.sockets if k not in used]:
            self.sockets.pop(key).close()

    def _report_error(self, message: str) -> None:
        if self.current is not None:
            header = "Error loading the changed application; the previous version keeps serving:"
        else:
            header = "Error loading the application; waiting for a change to try again:"
        self._say(f"{header}\n{message}", stream=sys.stderr)

    # -- time -------------------------------------------------------------------

    def _deadlines(self):
        if self.reload_due is not None:
            yield self.reload_due
        if self.standby_due is not None:
            yield self.standby_due
        if self.stop_deadline is not None:
            yield self.stop_deadline
        for worker in self.workers.values():
            if worker.kill_at is not None:
                yield worker.kill_at
            if worker.state == "started" and worker.go_at is not None:
                yield worker.go_at + READY_TIMEOUT

    def _timeout(self) -> float | None:
        deadlines = list(self._deadlines())
        if not deadlines:
            return None
        return max(0.0, min(deadlines) - time.monotonic())

    def _run_timers(self) -> None:
        now = time.monotonic()
        if self.reload_due is not None and now >= self.reload_due:
            self.reload()
        if self.standby_due is not None and now >= self.standby_due:
            if self.pending is not None:
                self.standby_due = now + STANDBY_DELAY    # after the new worker is up
            else:
                self._spawn_standby()
        if self.stop_deadline is not None and now >= self.stop_deadline:
            self._kill_all()
        for worker in list(self.workers.values()):
            if worker.kill_at is not None and now >= worker.kill_at:
                worker.signal(signal.SIGKILL)
                worker.kill_at = None
            elif (worker is self.pending and worker.state == "started"
                  and worker.go_at is not None and now >= worker.go_at + READY_TIMEOUT):
                self._promote(worker)

    def _kill_all(self) -> None:
        for worker in list(self.workers.values()):
            worker.signal(signal.SIGKILL)
        for worker in list(self.workers.values()):
            try:
                os.waitpid(worker.pid, 0)
            except ChildProcessError:
                pass
            self._forget(worker)
        self.current = self.pending = self.standby = None

    def _say(self, text: str, stream=None) -> None:
        stream = stream or sys.stdout
        try:
            print(text, file=stream, flush=True)
        except (OSError, ValueError):
            pass


def _note_signal(signum, frame) -> None:
    """The wake-up descriptor carries the signal number to the loop."""


def _pipe() -> tuple[int, int]:
    r, w = os.pipe()
    os.set_blocking(r, False)
    os.set_blocking(w, False)
    return r, w


def _drop_bytecode(path: str) -> None:
    """Remove the cached bytecode of a changed source file.

    The cache is validated by the source's mtime in whole seconds and its
    size, so an edit that keeps the size within the same second would
    otherwise run the old code.
    """
    if not path.endswith(".py") or sys.implementation.cache_tag is None:
        return
    try:
        os.unlink(importlib.util.cache_from_source(path))
    except (OSError, ValueError):
        pass


def _short(path: str) -> str:
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return rel if not rel.startswith(".." + os.sep) else path


def _status(code: int) -> str:
    return f"signal {-code}" if code < 0 else f"status {code}"
