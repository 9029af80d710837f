# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""Signals in the monitor and in its workers.

The monitor's table (gunicorn's, except that old code serves until new code
does):

=========  ====================================================================
SIGHUP     start a new generation of workers with the code and config on disk
SIGTERM    stop accepting, let the workers finish their requests, exit 0
SIGINT     the same (Ctrl-C); a second SIGTERM or SIGINT stops at once
SIGUSR1    reopen ``--log-file`` (after logrotate moved it)
SIGTTIN    one worker more
SIGTTOU    one worker fewer (never below one)
SIGCHLD    a worker exited
=========  ====================================================================

In the monitor a handler does nothing but let Python write the signal's
number on the wake-up pipe, which the event loop reads: nothing runs at an
unsafe moment. Workers leave the terminal's signals (Ctrl-C, hang-up, job
control) and stray SIGUSR1s to the monitor, which decides for them.
"""
from __future__ import annotations

import os
import signal

__all__ = ["HANDLED", "SignalPipe", "worker_signals"]

HANDLED = (signal.SIGHUP, signal.SIGTERM, signal.SIGINT, signal.SIGUSR1,
           signal.SIGTTIN, signal.SIGTTOU, signal.SIGCHLD)


def _note(signum, frame) -> None:
    """The wake-up descriptor carries the signal number to the loop."""


class SignalPipe:
    """The monitor's signals, as bytes on a non-blocking pipe."""

    def __init__(self):
        self.read_fd, self.write_fd = os.pipe()
        for fd in (self.read_fd, self.write_fd):
            os.set_blocking(fd, False)
        self._previous: dict = {}

    def fileno(self) -> int:
        return self.read_fd

    def install(self) -> None:
        for signum in HANDLED:
            self._previous[signum] = signal.signal(signum, _note)
        self._previous["wakeup"] = signal.set_wakeup_fd(self.write_fd,
                                                        warn_on_full_buffer=False)

    def restore(self) -> None:
        if not self._previous:
            return
        signal.set_wakeup_fd(self._previous.pop("wakeup"))
        for signum, handler in self._previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
        self._previous = {}

    def read(self) -> list[int]:
        """The signals received since the last call, in the order they came."""
        try:
            data = os.read(self.read_fd, 512)
        except BlockingIOError:
            return []
        return list(data)

    def close(self) -> None:
        for fd in (self.read_fd, self.write_fd):
            try:
                os.close(fd)
            except OSError:
                pass


def worker_signals() -> None:
    """In a new worker: the monitor's handlers off; terminal signals are the monitor's.

    The no-op handlers (rather than ``SIG_IGN``) are reset by ``exec``, so
    programs the application starts get the usual dispositions.
    """
    signal.set_wakeup_fd(-1)
    for signum in (signal.SIGTERM, signal.SIGCHLD):
        signal.signal(signum, signal.SIG_DFL)
    for signum in (signal.SIGINT, signal.SIGHUP, signal.SIGUSR1, signal.SIGTTIN,
                   signal.SIGTTOU):
        signal.signal(signum, _note)
