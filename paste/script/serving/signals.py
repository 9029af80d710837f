# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""Signals in the monitor and in its workers.

The monitor's table (gunicorn's and nginx's, except that old code serves
until new code does):

=========  ====================================================================
SIGHUP     start a new generation of workers with the code and config on disk
SIGTERM    stop accepting, let the workers finish their requests, exit 0
SIGINT     the same (Ctrl-C); a second SIGTERM or SIGINT stops at once
SIGQUIT    the same (a graceful stop, as nginx's operators send it)
SIGUSR1    reopen ``--log-file`` and ``--access-log`` (after logrotate moved them)
SIGUSR2    re-execute the monitor in place (a binary upgrade: :mod:`.upgrade`)
SIGTTIN    one worker more
SIGTTOU    one worker fewer (never below one)
SIGWINCH   ignored (gunicorn's "stop the workers" is not this engine's)
SIGCHLD    a worker exited
=========  ====================================================================

A signal ignored when ``paster serve`` starts stays ignored, as it did in
3.7: a shell script's background job (``paster serve app.ini &``) ignores
SIGINT and SIGQUIT, and ``nohup`` makes SIGHUP ignored.

In the monitor a handler does nothing but let Python write the signal's
number on the wake-up pipe, which the event loop reads: nothing runs at an
unsafe moment. Workers ignore the terminal's signals (Ctrl-C, hang-up, job
control) and the monitor's own: the monitor decides for them. SIGTERM sent
to a worker directly (systemd stopping a whole control group) makes it stop
gracefully, through its control thread.
"""
from __future__ import annotations

import os
import signal

__all__ = ["HANDLED", "SignalPipe", "worker_signals", "wake_only", "signal_events"]

HANDLED = (signal.SIGHUP, signal.SIGTERM, signal.SIGINT, signal.SIGQUIT, signal.SIGUSR1,
           signal.SIGUSR2, signal.SIGTTIN, signal.SIGTTOU, signal.SIGCHLD)
#: What a worker leaves to the monitor.
_WORKER_IGNORES = (signal.SIGINT, signal.SIGQUIT, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2,
                   signal.SIGTTIN, signal.SIGTTOU, signal.SIGWINCH)


_STOPS = (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT)


def _events() -> dict:
    from paste.script.serving.protocol import Event
    table = {signal.SIGHUP: (Event.RELOAD, {"why": "SIGHUP received"}),
             signal.SIGUSR1: (Event.REOPEN_LOGS, {}),
             signal.SIGUSR2: (Event.UPGRADE, {}),
             signal.SIGTTIN: (Event.RESIZE, {"change": +1}),
             signal.SIGTTOU: (Event.RESIZE, {"change": -1})}
    for signum in _STOPS:
        table[signum] = (Event.SHUTDOWN, {"reason": signal.Signals(signum).name,
                                          "signum": signum})
    return table


def signal_events(signums: list[int], stopping: bool) -> list:
    """The monitor's events for these signals: ``[(Event, data), ...]``.

    A stop comes first (the workers' exits that came with it are expected);
    once stopping, only another stop means anything. SIGCHLD is no event:
    the loop reaps on every turn.
    """
    table = _events()
    ordered = sorted(signums, key=lambda s: s not in _STOPS)
    return [table[s] for s in ordered if s in table and (s in _STOPS or not stopping)]


def wake_only(signum, frame) -> None:
    """The wake-up descriptor carries the signal number to whoever reads it."""


class SignalPipe:
    """The monitor's signals, as bytes on a non-blocking pipe."""

    def __init__(self):
        self.read_fd, self.write_fd = os.pipe()
        for fd in (self.read_fd, self.write_fd):
            os.set_blocking(fd, False)
        self._previous: dict = {}
        self.ignored: set[int] = set()      # ignored at start: they stay so

    def fileno(self) -> int:
        return self.read_fd

    def install(self) -> None:
        for signum in HANDLED:
            if signum != signal.SIGCHLD and signal.getsignal(signum) is signal.SIG_IGN:
                self.ignored.add(signum)
                continue
            self._previous[signum] = signal.signal(signum, wake_only)
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
        signums = []
        while True:
            try:
                data = os.read(self.read_fd, 512)
            except BlockingIOError:
                return signums
            if not data:
                return signums
            signums.extend(data)

    def close(self) -> None:
        for fd in (self.read_fd, self.write_fd):
            try:
                os.close(fd)
            except OSError:
                pass


def worker_signals() -> None:
    """In a new worker: the monitor's handlers off; terminal signals are the monitor's."""
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, wake_only)
    for signum in _WORKER_IGNORES:
        signal.signal(signum, signal.SIG_IGN)
