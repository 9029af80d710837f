# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""In the monitor: its ends of the workers' channels, from fork to reaping.

:class:`WorkerChannels` forks a worker with a new channel and registers
the channel with the monitor's selector; it reads what each worker says
and hands every message to the handler the monitor's table names
(:attr:`.monitor.Monitor.HANDLERS`); it reaps the processes that ended,
without ever blocking (``waitpid`` with ``WNOHANG``).
"""
from __future__ import annotations

import os
import selectors
import sys

from paste.script.serving import ipc
from paste.script.serving.processes import WorkerRecord, fork_worker
from paste.script.serving.protocol import Op

__all__ = ["WorkerChannels"]


class WorkerChannels:
    """Forking, reading and reaping the workers, for the monitor's loop."""

    def __init__(self, selector, handlers: dict, say):
        self.selector = selector
        self.handlers = handlers
        self.say = say
        self.open: dict[int, WorkerRecord] = {}     # by pid, while the channel is open

    def fork(self, start, generation, monitor_fds: list[int], before=None) -> WorkerRecord:
        """Fork a worker running ``start(channel)``; it first calls ``before()`` and
        closes ``monitor_fds`` and the other workers' channels."""
        def in_child() -> None:
            if before is not None:
                before()
            try:
                self.selector.close()
            except OSError:
                pass
            ipc.close_fds(monitor_fds + [w.channel.fileno() for w in self.open.values()])
        worker = fork_worker(start, in_child)
        worker.generation = generation
        self.selector.register(worker.channel, selectors.EVENT_READ, worker)
        self.open[worker.pid] = worker
        return worker

    def unregister(self, worker: WorkerRecord) -> None:
        self.open.pop(worker.pid, None)
        if worker.channel.fileno() >= 0:
            try:
                self.selector.unregister(worker.channel)
            except (KeyError, ValueError):
                pass
            worker.channel.close()

    def read(self, worker: WorkerRecord) -> None:
        """Hand every message waiting on ``worker``'s channel to its handler."""
        while worker.channel.fileno() >= 0:
            try:
                message, fds = ipc.receive(worker.channel)
            except BlockingIOError:
                return
            except OSError:
                message, fds = None, []
            except ValueError:          # not one of our messages: ignore it
                continue
            ipc.close_fds(fds)
            if message is None:
                self.unregister(worker)
                return
            try:
                handler = self.handlers.get(Op(message.get("op")))
                if handler is not None:
                    handler(worker, message)
            except Exception:
                # Whatever a worker sends, the monitor must go on serving.
                import traceback
                self.say("Internal error in the monitor (still running):\n"
                         + traceback.format_exc().rstrip(), sys.stderr)

    @staticmethod
    def reap(exited) -> None:
        """Call ``exited(pid, code)`` for each child process that ended; never wait."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            exited(pid, os.waitstatus_to_exitcode(status))
