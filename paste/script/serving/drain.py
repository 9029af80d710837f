# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""In a worker: stopping gracefully, whatever the runner.

When the monitor says ``stop`` (or SIGTERM comes from outside, or the
monitor is gone), :class:`GracefulStop`:

1. stops the runner accepting: the runner's own stop
   (:func:`paste.script.serving.on_stop`) is called, and the listening
   descriptors the engine handed out are pointed at a private socket nobody
   connects to, so the other workers get every new connection;
2. tells the monitor (``released``): the new generation may go now;
3. lets the requests in flight finish: a runner with its own stop closes its
   connections and returns from its serve call; for the others the worker
   closes each keep-alive connection as it falls idle (:mod:`.connections`).
   A runner that installed its own SIGTERM handler (gunicorn's, which
   stops its own workers) gets the signal;
4. ends the process when nothing is left, or after the graceful timeout,
   with every process the runner started.
"""
from __future__ import annotations

import os
import signal
import socket
import threading
import time
import traceback

from paste.script.serving.connections import Connections
from paste.script.serving.control_thread import exit_now
from paste.script.serving.processes import descendants, kill_tree
from paste.script.serving.signals import wake_only

__all__ = ["GracefulStop", "release_listener"]

#: Without connections to watch, exit once no request ran for this long ...
QUIET_PERIOD = 0.25
#: ... or, in any case, after this long.
KEEPALIVE_LIMIT = 1.0
#: A stopping worker that takes longer than this says what it waits for.
SLOW_STOP = 5.0
#: How often the drain looks at its connections.
LOOK_EVERY = 0.005


def release_listener(sock: socket.socket) -> None:
    """Point ``sock``'s descriptor at a private listening socket nobody connects to.

    The shared socket stays open in the monitor and the other workers; this
    process no longer accepts from it, whatever its runner polls.
    """
    try:
        fd = sock.fileno()
    except OSError:
        return
    if fd < 0:
        return
    family = socket.AF_UNIX if sock.family == socket.AF_UNIX else socket.AF_INET
    private = socket.socket(family, socket.SOCK_STREAM)
    try:
        # An address nobody knows: a loopback port, or an abstract Unix name
        # (Linux's autobind), since a Unix socket must be bound to listen.
        private.bind(("127.0.0.1", 0) if family == socket.AF_INET else "")
        private.listen(1)
        private.setblocking(False)
        os.dup2(private.fileno(), fd, inheritable=False)
    except OSError as exc:      # it would go on accepting: say so
        print(f"Server child {os.getpid()} could not stop accepting: {exc}", flush=True)
    finally:
        private.close()


class GracefulStop:
    """Stop accepting, let the requests finish, end the process."""

    def __init__(self, inflight, hooks, timeout: float, on_released, serve_returned):
        self.inflight = inflight
        self.hooks = hooks                  # control_thread.EngineHooks
        self.timeout = timeout
        self.on_released = on_released
        self.serve_returned = serve_returned   # a threading.Event the main thread sets
        self.stopping = False
        self.reason = ""
        self._started = threading.Event()

    def __call__(self, reason: str = "") -> None:
        """Begin stopping (from the control thread; a second call does nothing)."""
        if self.stopping:
            return
        self.stopping, self.reason = True, reason
        self.own_stop = bool(self.hooks.stop_callbacks)
        self.connections = None
        if not self.own_stop and self.hooks.listeners:
            # Before the listeners are released: their addresses say which
            # connections are theirs.
            self.connections = Connections(self.hooks.listeners, self.inflight)
            self.inflight.on_started = self.connections.request_started
            self.inflight.closing = True
        # Released first, as serving.on_stop promises: a runner's own stop
        # may then poke its listening socket (cheroot connects to it) harmlessly.
        for sock in self.hooks.listeners:
            release_listener(sock)
        for callback in list(self.hooks.stop_callbacks):
            try:
                callback()
            except Exception:
                traceback.print_exc()
        try:
            self.on_released()
        except (OSError, ValueError):
            pass
        threading.Thread(target=self._drain, name="paster-worker-drain", daemon=True).start()

    @staticmethod
    def _runner_handles_sigterm() -> bool:
        handler = signal.getsignal(signal.SIGTERM)
        return callable(handler) and handler is not wake_only

    def _drain(self) -> None:
        started = time.monotonic()
        deadline = started + self.timeout
        report_at = started + SLOW_STOP
        own_stop, connections = self.own_stop, self.connections
        if not own_stop and self._runner_handles_sigterm():
            os.kill(os.getpid(), signal.SIGTERM)     # the runner stops its own way
            own_stop = True
        while time.monotonic() < deadline:
            if self.serve_returned.is_set():
                self._end(0)
            still_open = connections.close_idle() if connections is not None else 0
            if time.monotonic() > report_at:
                report_at = deadline
                print(f"Server child {os.getpid()} still finishing: {self.inflight.active} "
                      f"request(s) in flight, {still_open} connection(s) open.", flush=True)
            if not own_stop and self.inflight.active == 0 and self._quiet(connections,
                                                                          still_open, started):
                self._end(0)
            time.sleep(LOOK_EVERY)
        if self.inflight.active:
            print(f"Server child {os.getpid()}: {self.inflight.active} request(s) in flight "
                  f"cut after the graceful timeout ({self.timeout:g}s).", flush=True)
            self._end(1)
        self._end(0)

    def _quiet(self, connections, still_open: int, started: float) -> bool:
        if connections is not None:
            return not still_open and not descendants(os.getpid())
        stopped_for = time.monotonic() - started
        return stopped_for >= QUIET_PERIOD and (self.inflight.idle_for() >= QUIET_PERIOD
                                                or stopped_for >= KEEPALIVE_LIMIT)

    @staticmethod
    def _end(code: int) -> None:
        kill_tree(os.getpid(), include_root=False)
        exit_now(code)
