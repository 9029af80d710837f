# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""In a worker: the thread that talks to the monitor, and the runner hooks it serves.

:class:`WorkerControl` owns the worker's end of the channel. One thread
waits on the channel and on the worker's signal pipe (SIGTERM from outside
the monitor, say systemd's ``KillMode=control-group``); every message it
reads goes to one handler (:attr:`WorkerControl.HANDLERS`). It also ticks
once a second: the heartbeat (``--worker-timeout``) and the file
descriptor check. :class:`EngineHooks` is what :mod:`paste.script.serving`'s
functions do in a worker: ``listen`` asks the monitor for its socket,
``ready`` waits for the go-ahead, ``on_stop`` registers the runner's
graceful stop.

Nothing here runs in a signal handler: the handlers only let Python write
the signal's number on the pipe (``signal.set_wakeup_fd``).
"""
from __future__ import annotations

import os
import selectors
import signal
import socket
import threading
import time

# Everything a worker may need is imported now: once it runs as --user, the
# interpreter's own files may be out of its reach.
from paste.script.daemon import redirect_output
from paste.script.runners_common import ListenError, format_address
from paste.script.serving import Standalone, ipc
from paste.script.serving.errors import ServeError
from paste.script.serving.sockets import resolve_address
from paste.script.util.streams import flush_std_streams
from paste.script.serving.protocol import Op

__all__ = ["WorkerControl", "EngineHooks", "WorkerOptions", "exit_now", "before_exit", "TICK"]

#: How often the control thread ticks (heartbeat, descriptor check), seconds.
TICK = 1.0


class WorkerOptions:
    """What the monitor tells a worker when it forks it."""

    def __init__(self, reload: bool = False, graceful_timeout: float = 30.0,
                 pool_size: int = 1, verbose: int = 1, hold: bool = False,
                 worker_timeout: float | None = None, max_requests: int = 0,
                 max_requests_jitter: int = 0, access_log=None, prepare=None):
        self.reload = reload
        self.graceful_timeout = graceful_timeout
        self.pool_size = pool_size
        self.verbose = verbose
        self.hold = hold                    # wait for GO before starting the runner
        self.worker_timeout = worker_timeout
        self.max_requests = max_requests    # 0: never retire
        self.max_requests_jitter = max_requests_jitter
        self.access_log = access_log        # an accesslog.AccessLog, or None
        self.prepare = prepare              # run before loading (user, umask, chdir, env)


#: Called before a worker exits (what it holds to write: the access log's lines).
before_exit: list = []


def exit_now(code: int) -> None:
    """End the worker process at once (after writing out what it holds)."""
    for flush in before_exit:
        try:
            flush()
        except Exception:
            pass
    flush_std_streams()
    os._exit(code)


class _Replies:
    """The monitor's answers to ``bind``, for the thread that asked (one at a time)."""

    def __init__(self):
        self._items: list = []
        self._ready = threading.Condition()

    def put(self, item) -> None:
        with self._ready:
            self._items.append(item)
            self._ready.notify()

    def get(self):
        with self._ready:
            while not self._items:
                self._ready.wait()
            return self._items.pop(0)


class WorkerControl:
    """The worker's side of the channel, and the thread that reads it."""

    def __init__(self, sock: socket.socket, options: WorkerOptions):
        self.sock = sock
        self.options = options
        self._send_lock = threading.Lock()
        self.go = threading.Event()
        self.load = threading.Event()
        self.load_changed: list[str] = []
        self.replies = _Replies()
        self.on_stop = None             # the drain, once the worker serves
        self.on_tick = []               # called every TICK in this thread
        self._sent: set[str] = set()
        self._signal_r, self._signal_w = os.pipe()
        for fd in (self._signal_r, self._signal_w):
            os.set_blocking(fd, False)
        self.HANDLERS = {Op.GO: self._go, Op.STOP: self._stop, Op.LOAD: self._load,
                         Op.CHANGED: self._changed, Op.SOCKET: self._socket,
                         Op.LOG: self._log, Op.ACCESS_LOG: self._access_log}
        self.thread = threading.Thread(target=self._run, name="paster-worker-control",
                                       daemon=True)

    def start(self) -> None:
        signal.set_wakeup_fd(self._signal_w, warn_on_full_buffer=False)
        self.thread.start()

    # -- sending ------------------------------------------------------------------

    def send(self, message: dict, fds=()) -> None:
        with self._send_lock:
            ipc.send(self.sock, message, fds)

    def send_quietly(self, message: dict) -> None:
        try:
            self.send(message)
        except (OSError, ValueError):
            pass

    def send_files(self, paths) -> None:
        """Tell the monitor to watch these paths (each path is sent once)."""
        with self._send_lock:
            new = [p for p in dict.fromkeys(paths) if p and p not in self._sent]
            self._sent.update(new)
            for piece in ipc.chunks(new):
                ipc.send(self.sock, {"op": Op.FILES, "paths": piece})

    # -- the thread -------------------------------------------------------------------

    def _run(self) -> None:
        selector = selectors.DefaultSelector()
        selector.register(self.sock, selectors.EVENT_READ, "channel")
        selector.register(self._signal_r, selectors.EVENT_READ, "signal")
        next_tick = time.monotonic() + TICK
        while True:
            for key, _mask in selector.select(max(0.0, next_tick - time.monotonic())):
                if key.data == "signal":
                    self._signals()
                else:
                    self._receive()
            now = time.monotonic()
            if now >= next_tick:
                next_tick = now + TICK
                for tick in list(self.on_tick):
                    tick()

    def _receive(self) -> None:
        try:
            message, fds = ipc.receive(self.sock)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            message, fds = None, []
        except ValueError:
            return
        if message is None:
            self._monitor_gone()
            return
        try:
            op = Op(message.get("op"))
        except ValueError:
            op = None
        handler = self.HANDLERS.get(op)
        if handler is None:
            ipc.close_fds(fds)
            return
        handler(message, fds)

    def _signals(self) -> None:
        try:
            data = os.read(self._signal_r, 512)
        except BlockingIOError:
            return
        if signal.SIGTERM in data:
            self._stop({"reason": "SIGTERM"}, [])

    def _monitor_gone(self) -> None:
        """The monitor is gone (killed, crashed): never outlive it."""
        if self.on_stop is not None:
            self.on_stop("the monitor is gone")
            while True:         # the drain ends the process
                time.sleep(3600)
        exit_now(1)

    # -- handlers -----------------------------------------------------------------

    def _go(self, message: dict, fds) -> None:
        self.go.set()

    def _stop(self, message: dict, fds) -> None:
        if self.on_stop is not None:
            self.on_stop(message.get("reason") or "told to stop")
        else:
            exit_now(0)     # not serving yet: nothing to finish

    def _load(self, message: dict, fds) -> None:
        self.load.set()

    def _changed(self, message: dict, fds) -> None:
        self.load_changed.extend(message.get("paths", []))

    def _socket(self, message: dict, fds) -> None:
        self.replies.put((message, fds))

    def _log(self, message: dict, fds) -> None:
        if fds:
            redirect_output(fds[0])
            ipc.close_fds(fds)

    def _access_log(self, message: dict, fds) -> None:
        access_log = self.options.access_log
        if access_log is not None and fds:
            access_log.reopen(fds[0])
        else:
            ipc.close_fds(fds)


class EngineHooks(Standalone):
    """The runner and application hooks of :mod:`paste.script.serving` in a worker."""

    owns_signals = True

    def __init__(self, control: WorkerControl, options: WorkerOptions):
        self.control = control
        self.pool_size = options.pool_size
        self.reload = options.reload
        self.stop_callbacks: list = []
        self.listeners: list[socket.socket] = []     # what listen() handed out
        self.asked = False              # listen() was called: the runner takes our sockets
        self.ready_sent = False
        self._bind_lock = threading.Lock()

    def listen(self, address, backlog: int = 1024, mode: int | None = None):
        family, proto, sockaddr = resolve_address(address)
        wire = sockaddr if family == socket.AF_UNIX else list(sockaddr[:2])
        self.asked = True
        with self._bind_lock:
            self.control.send({"op": Op.BIND, "family": int(family), "proto": proto,
                               "address": wire, "backlog": backlog, "mode": mode})
            reply, fds = self.control.replies.get()
        if reply.get("error") or not fds:
            ipc.close_fds(fds)
            shown = sockaddr if family == socket.AF_UNIX else format_address(*sockaddr[:2])
            raise ListenError(shown, reply.get("error") or "no socket from the monitor",
                              reply.get("errno") or None)
        sock = socket.socket(fileno=fds[0])
        sock.setblocking(False)
        self.listeners.append(sock)
        return sock

    def ready(self) -> None:
        if self.ready_sent:
            return
        self.ready_sent = True
        self.control.send({"op": Op.READY})
        self.control.go.wait()

    def on_stop(self, callback) -> None:
        self.stop_callbacks.append(callback)

    def single_process(self, runner: str) -> None:
        if self.pool_size is not None and self.pool_size > 1:
            raise ServeError(f"The {runner} server runs in one process: it cannot be "
                             f"served by {self.pool_size} workers (use --workers 1)")
        self.control.send({"op": Op.SINGLE, "runner": runner})

    def files_read(self, paths: list[str]) -> None:
        if self.reload:
            self.control.send_files(paths)
