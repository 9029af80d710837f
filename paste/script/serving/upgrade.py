# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""SIGUSR2: re-execute the monitor in place (a binary upgrade, as nginx and gunicorn do).

After ``pip install -U`` of PasteScript, the runner or the application's
libraries, SIGUSR2 makes the monitor start a new monitor from the same
command line, with the programs now on disk. The new monitor inherits:

* the listening sockets, as systemd passes them (``LISTEN_FDS``), so no
  connection is refused meanwhile;
* the locked pid file's descriptor, so ``status`` and ``stop`` work
  throughout (the lock is held by both, then by the new one alone);
* standard output and error (``--log-file``), and ``NOTIFY_SOCKET``.

It starts its workers; once they serve, it writes its pid into the pid
file and tells the old monitor through a pipe (the same report a daemon
gives its terminal), and the old monitor stops its workers gracefully and
exits, leaving the sockets and the pid file to the new one. If the new
monitor fails to start, the old one says so and goes on serving.

SIGTERM to the old monitor during an upgrade stops both.
"""
from __future__ import annotations

import os
import signal
import sys

from paste.script.serving.protocol import Event

__all__ = ["Upgrade", "Inherited", "inherited", "ENVIRON"]

#: ``<pid file fd>:<report fd>``, set for the new monitor.
ENVIRON = "PASTE_SCRIPT_UPGRADE"
_SOCKETS_START = 3


class Upgrade:
    """In the old monitor: the new monitor, from its start to its report.

    What happens is posted to the monitor (:data:`~.protocol.Event.UPGRADED`).
    """

    def __init__(self, pid: int, read_fd: int, post, say):
        self.pid = pid
        self.read_fd = read_fd
        self.post = post
        self.say = say
        self.succeeded = False
        self.over = False
        self._buffer = b""

    @classmethod
    def start(cls, settings, pool, socket_pool, notifier, post, say) -> "Upgrade | None":
        pid_file = settings.pid_file
        if pool.serving is None or pid_file is None or pid_file.fileno() is None:
            say("SIGUSR2 ignored: a binary upgrade needs a running server with a "
                "pid file (--pid-file or --daemon).", sys.stderr)
            return None
        sockets = socket_pool.listening()
        read_fd, write_fd = os.pipe()
        from paste.script.util.streams import flush_std_streams
        flush_std_streams()
        pid = os.fork()
        if pid == 0:
            try:
                os.close(read_fd)
                _exec_new_monitor([s.fileno() for s in sockets], pid_file.fileno(), write_fd,
                                  notifier.address)
            finally:
                os._exit(127)
        os.close(write_fd)
        os.set_blocking(read_fd, False)
        say(f"SIGUSR2: starting a new monitor (PID {pid}) with the code on disk.")
        return cls(pid, read_fd, post, say)

    def fileno(self) -> int:
        return self.read_fd

    def fds(self) -> list[int]:
        return [self.read_fd]

    def read(self) -> None:
        """What the new monitor reported: serving (``R``) or failed (``E``)."""
        try:
            chunk = os.read(self.read_fd, 4096)
        except BlockingIOError:
            return
        self._buffer += chunk
        while b"\n" in self._buffer:
            line, self._buffer = self._buffer.split(b"\n", 1)
            text = line.decode("utf-8", "replace")
            if text.startswith("R") and not self.over:
                self.succeeded = self.over = True
                self.say(f"SIGUSR2: the new monitor (PID {self.pid}) serves; this one stops.")
                self.post(Event.UPGRADED, succeeded=True)
            elif text.startswith("E"):
                self.say(f"SIGUSR2: the new monitor failed: {text[1:].partition(' ')[2]}",
                         sys.stderr)
        if not chunk:
            self._close()

    def exited(self, code: int) -> None:
        """The new monitor exited (reaped by the old one, its parent)."""
        self._close()
        if not self.over:
            from paste.script.serving.processes import how_it_ended
            self.over = True
            self.say(f"SIGUSR2: the new monitor ended ({how_it_ended(code)}) before it "
                     "served; this one goes on serving.", sys.stderr)
            self.post(Event.UPGRADED, succeeded=False)

    def stop(self) -> None:
        """The old monitor is told to stop: the new one, not yet in charge, stops too."""
        if not self.succeeded:
            try:
                os.kill(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    def _close(self) -> None:
        if self.read_fd >= 0:
            os.close(self.read_fd)
            self.read_fd = -1


def _exec_new_monitor(socket_fds: list[int], pid_fd: int, report_fd: int,
                      notify_address: str | None) -> None:
    """In the child: put the sockets at 3, 4, … and become the new monitor."""
    keep = [os.dup(fd) for fd in socket_fds + [pid_fd, report_fd]]
    for number, fd in enumerate(keep[:len(socket_fds)]):
        os.dup2(fd, _SOCKETS_START + number, inheritable=True)
    top = _SOCKETS_START + len(socket_fds)
    pid_target, report_target = top, top + 1
    os.dup2(keep[-2], pid_target, inheritable=True)
    os.dup2(keep[-1], report_target, inheritable=True)
    environ = dict(os.environ)
    environ.update(LISTEN_PID=str(os.getpid()), LISTEN_FDS=str(len(socket_fds)))
    environ[ENVIRON] = f"{pid_target}:{report_target}"
    if notify_address:
        environ["NOTIFY_SOCKET"] = "@" + notify_address[1:] if notify_address.startswith("\0") \
            else notify_address
    argv = list(getattr(sys, "orig_argv", None) or [sys.executable, *sys.argv])
    os.execve(sys.executable, [sys.executable, *argv[1:]], environ)


class Inherited:
    """In the new monitor: what the old one handed over."""

    def __init__(self, pid_fd: int, report_fd: int):
        self.pid_fd = pid_fd
        self.report_fd = report_fd

    def pid_file(self, path: str | None):
        from paste.script.daemon import PidFile
        os.set_inheritable(self.pid_fd, False)
        return PidFile.inherit(path or "paster.pid", self.pid_fd)

    def startup(self, pid_file):
        """The report the old monitor waits for; the pid file becomes ours just before it."""
        from paste.script.daemon import Startup
        os.set_inheritable(self.report_fd, False)

        class Takeover(Startup):
            def ready(self) -> None:
                if pid_file is not None:
                    pid_file.write()
                super().ready()
        return Takeover(self.report_fd)


_inherited: list = []


def inherited() -> Inherited | None:
    """What an old monitor handed to this process (None: this is no upgrade)."""
    if not _inherited:
        value = os.environ.pop(ENVIRON, "")
        pid_fd, _, report_fd = value.partition(":")
        _inherited.append(Inherited(int(pid_fd), int(report_fd))
                          if pid_fd.isdigit() and report_fd.isdigit() else None)
    return _inherited[0]
