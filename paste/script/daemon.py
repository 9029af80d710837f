# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""Pid files, detaching from the terminal, signalling and stopping a server.

The pid file is the single source of truth about a running server, and its
*lock* is what makes it trustworthy: the server opens the file, takes an
exclusive ``flock`` on it and keeps the descriptor open for as long as it
lives (the lock survives ``fork``, so a daemonized server holds it too).
Hence:

* two ``start`` commands can never both run: the second one cannot lock;
* a pid file nobody holds a lock on is stale, whatever its number says: the
  process is gone, or the number now belongs to an unrelated program that
  must not be touched;
* ``stop`` knows the server has exited when the lock is released, which is
  immune to pid reuse and also covers the server's forked children.

Signals reach the server through a pidfd opened *before* the file is
checked (:class:`ServerProcess`), so a number recycled in between is never
signalled. Files are never opened through a symbolic link
(:func:`open_no_follow`): ``paster serve`` often runs as root, in
directories that its unprivileged user may write to.

Nothing here imports the command layer; errors are :class:`PidFileError`
subclasses that the command turns into one-line messages.
"""
from __future__ import annotations

import errno
import os
import signal
import stat
import sys
import time

from paste.script.util.streams import flush_std_streams

__all__ = [
    "PidFile", "PidFileError", "AlreadyRunning", "PidStatus", "ServerProcess",
    "open_no_follow", "process_alive", "daemonize", "redirect_output", "Startup",
    "stop_daemon", "install_exit_handlers",
]


class PidFileError(Exception):
    """A pid file cannot be used (unwritable directory, garbage content...)."""


try:
    import fcntl
except ImportError:  # not POSIX: serving in the foreground still works
    class _NoLocks:
        LOCK_SH = LOCK_EX = LOCK_NB = 0

        @staticmethod
        def flock(fd, operation):
            raise PidFileError("Pid files (--pid-file, --daemon, stop, status) "
                               "need a POSIX system")

    fcntl = _NoLocks()


def open_no_follow(path: str, flags: int, mode: int = 0o644,
                   regular: bool = False) -> tuple[int, bool]:
    """Open ``path`` without following a symbolic link: ``(fd, created)``.

    With ``os.O_CREAT`` in ``flags``, a missing file is created exclusively,
    and ``created`` is true only for a file this call made (the only kind a
    caller may hand to another user). A symbolic link, a regular file with
    a second hard link, and with ``regular`` anything but a regular file
    raise :class:`OSError` whose ``strerror`` says so: through any of them,
    a process running as root would write to a file someone else chose.
    The last component only is checked; the directories are the caller's
    choice.
    """
    flags |= getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
    create = bool(flags & os.O_CREAT)
    flags &= ~(os.O_CREAT | os.O_EXCL)
    for _attempt in range(20):
        if create:
            try:
                return _checked(os.open(path, flags | os.O_CREAT | os.O_EXCL, mode),
                                path, regular), True
            except FileExistsError:
                pass        # it exists (maybe as a link): open what is there
        try:
            fd = os.open(path, flags)
        except FileNotFoundError:
            if create:
                continue    # removed in between: create it after all
            raise
        except OSError as exc:
            if exc.errno == errno.ELOOP and os.path.islink(path):
                raise OSError(errno.ELOOP, "it is a symbolic link, which is never followed",
                              path) from None
            raise
        return _checked(fd, path, regular), False
    raise OSError(errno.EAGAIN, "it keeps being replaced", path)


def _checked(fd: int, path: str, regular: bool) -> int:
    info = os.fstat(fd)
    problem = None
    if regular and not stat.S_ISREG(info.st_mode):
        problem = (errno.EINVAL, "it is not a regular file")
    elif stat.S_ISREG(info.st_mode) and info.st_nlink > 1:
        problem = (errno.EMLINK, "it has other hard links, through which it is never written")
    if problem is not None:
        os.close(fd)
        raise OSError(*problem, path)
    return fd


class AlreadyRunning(PidFileError):
    """Another live process holds the pid file."""

    def __init__(self, path: str, pid: int | None):
        self.path = path
        self.pid = pid
        running = f"PID {pid}" if pid else "another process"
        super().__init__(f"Server already running in {running} (pid file {path})")


class PidStatus:
    """What a pid file says, as LSB ``status`` exit codes."""

    RUNNING = 0      # a process holds the lock
    DEAD = 1         # the file remains but nobody holds it
    NOT_RUNNING = 3  # no pid file at all
    UNKNOWN = 4      # the file holds garbage

    def __init__(self, code: int, pid: int | None, path: str):
        self.code = code
        self.pid = pid
        self.path = path

    @property
    def running(self) -> bool:
        return self.code == self.RUNNING

    def describe(self) -> str:
        if self.code == self.RUNNING:
            return f"Server running in PID {self.pid}"
        if self.code == self.DEAD:
            what = f"PID {self.pid}" if self.pid else "no PID"
            return f"Server not running (stale pid file {self.path} names {what})"
        if self.code == self.UNKNOWN:
            return f"Server status unknown: pid file {self.path} does not hold a process id"
        return f"No PID file {self.path}: server not running"


def _parse_pid(text: str, path: str) -> int | None:
    """The pid on the first line of ``text``; None when empty; garbage is an error."""
    first = text.strip().splitlines()[0].strip() if text.strip() else ""
    if not first:
        return None
    try:
        pid = int(first)
    except ValueError:
        raise PidFileError(
            f"Pid file {path} does not hold a process id: {first[:40]!r}") from None
    if pid <= 0:
        raise PidFileError(f"Pid file {path} holds an invalid process id: {pid}")
    return pid


class PidFile:
    """A locked pid file (see the module docstring for the protocol).

    >>> pid_file = PidFile("paster.pid")
    >>> pid_file.acquire()       # AlreadyRunning if a live server holds it
    >>> ...serve...
    >>> pid_file.release()       # removes the file
    """

    def __init__(self, path: str):
        self.path = os.path.abspath(path)
        self._fd: int | None = None
        self._created = False

    def __repr__(self) -> str:
        return f"<PidFile {self.path} {'held' if self._fd is not None else 'free'}>"

    def _open(self, flags: int, doing: str) -> tuple[int, bool]:
        """Open the file itself, never a link; FileNotFoundError passes through."""
        try:
            return open_no_follow(self.path, flags | os.O_NONBLOCK, regular=True)
        except FileNotFoundError:
            if flags & os.O_CREAT:
                raise PidFileError(f"Cannot {doing} pid file {self.path}: "
                                   "No such file or directory") from None
            raise
        except OSError as exc:
            raise PidFileError(f"Cannot {doing} pid file {self.path}: {exc.strerror}") from None

    # -- reading (any process) --------------------------------------------

    def read(self) -> int | None:
        """The recorded pid, None when the file is missing or empty."""
        try:
            fd, _ = self._open(os.O_RDONLY, "read")
        except FileNotFoundError:
            return None
        try:
            return _parse_pid(os.read(fd, 4096).decode("ascii", "replace"), self.path)
        finally:
            os.close(fd)

    def is_locked(self) -> bool:
        """True when some live process holds the lock on the file."""
        try:
            fd, _ = self._open(os.O_RDONLY, "open")
        except FileNotFoundError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)  # also drops the shared lock if we got it
        return False

    def status(self) -> PidStatus:
        """Running (locked), dead (file left behind), not running (no file), unknown.

        A symbolic link in place of the file is a :class:`PidFileError`.
        """
        if not os.path.lexists(self.path):
            return PidStatus(PidStatus.NOT_RUNNING, None, self.path)
        locked = self.is_locked()
        pid = None
        # The owner truncates then writes its pid; retry briefly on an empty read.
        for _ in range(50):
            try:
                pid = self.read()
            except PidFileError:
                return PidStatus(PidStatus.UNKNOWN, None, self.path)
            if pid is not None or not locked:
                break
            time.sleep(0.01)
        if locked:
            return PidStatus(PidStatus.RUNNING, pid, self.path)
        if pid is None:
            # Gone meanwhile, or empty: an empty, unlocked file is what a server
            # that could not unlink it (unprivileged, in a root-owned
            # directory) leaves on exit.
            return PidStatus(PidStatus.NOT_RUNNING, None, self.path)
        return PidStatus(PidStatus.DEAD, pid, self.path)

    # -- owning (the server) ------------------------------------------------

    def acquire(self, pid: int | None = None) -> int | None:
        """Create or take over the file, lock it and record ``pid`` (default: ours).

        Returns the stale pid that was replaced, if any. Raises
        :class:`AlreadyRunning` when a live process holds the file, and
        :class:`PidFileError` when it cannot be created or is a symbolic link.
        """
        for _attempt in range(20):
            fd, created = self._open(os.O_RDWR | os.O_CREAT, "create")
            if not self._lock(fd):
                os.close(fd)
                raise AlreadyRunning(self.path, self._read_quietly())
            # The previous owner may have unlinked the file between our open
            # and our lock: then we locked an orphan; start again.
            if self._same_file(fd):
                break
            os.close(fd)
        else:
            raise PidFileError(f"Cannot take pid file {self.path}: it keeps changing")
        stale = self._read_fd(fd)
        self._fd, self._created = fd, created
        self.write(pid)
        return stale

    @classmethod
    def inherit(cls, path: str, fd: int) -> "PidFile":
        """The pid file whose locked descriptor ``fd`` this process inherited
        (a monitor re-executed by SIGUSR2); :meth:`write` makes it ours, and
        the old monitor, whose pid the file then no longer names, leaves it
        in place when it exits (:meth:`release`)."""
        pid_file = cls(path)
        pid_file._fd = fd
        return pid_file

    def fileno(self) -> int | None:
        """The locked descriptor (None when the file is not held)."""
        return self._fd

    def _same_file(self, fd: int) -> bool:
        try:
            there = os.lstat(self.path)
        except FileNotFoundError:
            return False
        here = os.fstat(fd)
        return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)

    def _lock(self, fd: int) -> bool:
        # A concurrent ``status`` holds a shared lock for a few microseconds:
        # retry a little before concluding that a server runs.
        for _ in range(10):
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                time.sleep(0.005)
        return False

    def _read_fd(self, fd: int) -> int | None:
        try:
            return _parse_pid(os.pread(fd, 4096, 0).decode("ascii", "replace"), self.path)
        except PidFileError:
            return None

    def _read_quietly(self) -> int | None:
        try:
            return self.read()
        except PidFileError:
            return None

    def write(self, pid: int | None = None) -> None:
        """Record ``pid`` (default: the calling process, which becomes the owner)."""
        if self._fd is None:
            raise PidFileError(f"Pid file {self.path} is not held")
        data = f"{pid or os.getpid()}\n".encode("ascii")
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, data, 0)

    def chown(self, uid: int, gid: int) -> None:
        """Hand the file to the user the server will run as, if :meth:`acquire`
        created it (a file found in place keeps its owner)."""
        if self._fd is not None and self._created:
            os.fchown(self._fd, uid, gid)

    def release(self) -> None:
        """Drop the lock, and remove the file if it still names this process.

        What the file says decides: a forked child, or a monitor whose
        re-executed successor has written its own pid, leaves it in place.
        """
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            if self._read_fd(fd) == os.getpid() and self._same_file(fd):
                try:
                    os.unlink(self.path)
                except PermissionError:
                    # No right to unlink (privileges were dropped): leave it
                    # empty, which reads as "not running".
                    os.ftruncate(fd, 0)
        finally:
            os.close(fd)


# ---------------------------------------------------------------------------
# Signalling

def process_alive(pid: int) -> bool:
    """Whether a process numbered ``pid`` exists and has not exited (a zombie has).

    The number alone may be a recycled one: to act on a server, go through
    :class:`ServerProcess`.
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[-1].split()[0] != b"Z"  # zombie: exited
    except OSError:
        return True


def _group_alive(pgid: int) -> bool:
    """Whether a process of group ``pgid`` has not exited yet (zombies have).

    Killed children of a killed server are reparented to init, which reaps
    them when it will: their zombies still count for ``killpg(pgid, 0)``,
    so where there is a ``/proc``, look at each process's state.
    """
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        entries = os.listdir("/proc")
    except OSError:
        return True
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[-1].split()
        except OSError:
            continue            # gone meanwhile
        if fields[2] == str(pgid).encode() and fields[0] != b"Z":
            return True
    return False


def _pidfd_open(pid: int) -> int | None:
    """A pidfd for ``pid``; None where the system has none. ProcessLookupError if gone."""
    opener = getattr(os, "pidfd_open", None)
    if opener is None or not hasattr(signal, "pidfd_send_signal"):
        return None
    try:
        return opener(pid)
    except ProcessLookupError:
        raise
    except OSError as exc:
        if exc.errno in (errno.ENOSYS, errno.EPERM, errno.EINVAL):
            return None     # an old kernel, or a sandbox that forbids it
        raise


def _names(pid_file: PidFile, pid: int) -> bool:
    """Whether ``pid_file`` is locked and names ``pid``."""
    status = pid_file.status()
    return status.running and status.pid == pid


def _holds(pid: int, path: str) -> bool | None:
    """Whether process ``pid`` has the file ``path`` open (None: cannot tell here)."""
    if not os.path.isdir("/proc/self/fd"):
        return None
    try:
        target = os.lstat(path)
        names = os.listdir(f"/proc/{pid}/fd")
    except FileNotFoundError:
        return None         # the file is gone, or the process (see alive())
    except OSError:
        return None         # another user's process
    wanted = (target.st_dev, target.st_ino)
    for name in names:
        try:
            info = os.stat(f"/proc/{pid}/fd/{name}")
        except OSError:
            continue
        if (info.st_dev, info.st_ino) == wanted:
            return True
    return False


class ServerProcess:
    """The server that a locked pid file names, which signals reach safely.

    Where the kernel has pidfds (Linux 5.3 and later), :meth:`find` opens
    one *before* checking the pid file: from then on the descriptor means
    that very process, so a signal sent through it reaches the server or,
    if the server has exited meanwhile, no one, even if its number has been
    given to another program. Elsewhere it falls back to ``os.kill``, with
    the small window between the check and the signal that pidfds close.
    """

    def __init__(self, pid: int, pidfd: int | None = None):
        self.pid = pid
        self._pidfd = pidfd

    @classmethod
    def find(cls, pid_file: PidFile, pid: int) -> "ServerProcess | None":
        """The server ``pid`` if it holds ``pid_file`` now; None when it has gone.

        Raises :class:`PidFileError` when the file is locked and names
        ``pid``, but another process holds it: the server died while, for
        instance, an orphaned child of its kept the lock, and its number
        may now be anyone's.
        """
        try:
            server = cls(pid, _pidfd_open(pid))
        except ProcessLookupError:
            return None
        try:
            named = _names(pid_file, pid)
            holds = _holds(pid, pid_file.path) if named else None
            if holds is False:
                named = _names(pid_file, pid)   # or did the server let it go meanwhile?
            # Checked last: alive now, so alive during the checks above.
            gone = not named or not server.alive()
        except BaseException:
            server.close()
            raise
        if gone:
            server.close()
            return None
        if holds is False:
            server.close()
            raise PidFileError(f"Pid file {pid_file.path} names PID {pid}, but that process "
                               "does not hold it: not signalling a process that may not be "
                               "the server")
        return server

    def __enter__(self) -> "ServerProcess":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def signal(self, signum: int) -> bool:
        """Send ``signum``; False when the server has exited. PermissionError passes."""
        try:
            if self._pidfd is not None:
                signal.pidfd_send_signal(self._pidfd, signum)
            else:
                os.kill(self.pid, signum)
        except ProcessLookupError:
            return False
        return True

    def alive(self) -> bool:
        """Whether the server has not exited yet."""
        return not self.wait_gone(0)

    def wait_gone(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the server to exit; True once it has."""
        if self._pidfd is not None:
            import select
            return bool(select.select([self._pidfd], [], [], max(0.0, timeout))[0])
        deadline = time.monotonic() + timeout
        delay = 0.001
        while process_alive(self.pid):
            if time.monotonic() >= deadline:
                return False
            time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 2, 0.05)
        return True

    def kill_group(self, timeout: float) -> bool:
        """SIGKILL the server's process group (its forked children too).

        Waits up to ``timeout`` seconds for every process of the group to
        have exited, not only the server: a SIGKILL is delivered when its
        target next runs, and "killed" must mean gone. True once they have.
        """
        try:
            pgid = os.getpgid(self.pid)
        except ProcessLookupError:
            return True
        if not self.alive():
            return True     # the number, and so the group found, may be another's now
        if pgid == os.getpgrp() or pgid <= 1:
            self.signal(signal.SIGKILL)
            return self.wait_gone(timeout)
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            return True
        deadline = time.monotonic() + timeout
        delay = 0.001
        while _group_alive(pgid):
            if time.monotonic() >= deadline:
                return False
            time.sleep(delay)
            delay = min(delay * 2, 0.05)
        return self.wait_gone(max(0.0, deadline - time.monotonic()))

    def close(self) -> None:
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None


# ---------------------------------------------------------------------------
# Stopping

def _wait_unlocked(pid_file: PidFile, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    delay = 0.002
    while True:
        if not pid_file.is_locked():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


def stop_daemon(pid_file: PidFile, timeout: float = 10.0, kill_timeout: float = 5.0,
                log=print) -> int:
    """Stop the server holding ``pid_file``: 0 when stopped, and also 0 when none
    was running (LSB: stopping a stopped service succeeds), after saying so.

    SIGTERM first; after ``timeout`` seconds SIGKILL to the server's process
    group (which takes its forked children too). A stale pid file is removed,
    and the process whose number it names is never signalled.
    """
    for _attempt in range(5):
        status = pid_file.status()
        if status.code == PidStatus.UNKNOWN:
            raise PidFileError(status.describe())
        if not status.running:
            log(status.describe())
            if os.path.lexists(pid_file.path):
                _remove_stale(pid_file)
            return 0
        if status.pid is None:
            raise PidFileError(f"Pid file {pid_file.path} is locked but empty")
        server = ServerProcess.find(pid_file, status.pid)
        if server is not None:
            with server:
                return _stop(server, pid_file, timeout, kill_timeout, log)
        time.sleep(0.05)    # it is exiting, or the file is changing hands
    raise PidFileError(f"Pid file {pid_file.path} is locked, but PID {status.pid} that it "
                       "names has exited (a process it started may still hold the file)")


def _stop(server: ServerProcess, pid_file: PidFile, timeout: float, kill_timeout: float,
          log) -> int:
    pid = server.pid
    try:
        server.signal(signal.SIGTERM)
    except PermissionError:
        raise PidFileError(f"Not allowed to signal PID {pid} (run as its user or root)") from None
    if not _wait_unlocked(pid_file, timeout):
        log(f"PID {pid} did not stop after {timeout:g}s; killing it")
        server.kill_group(kill_timeout)
        if not _wait_unlocked(pid_file, kill_timeout):
            raise PidFileError(f"PID {pid} could not be stopped")
    # The lock goes with the pid file, just before the interpreter exits:
    # wait for the exit itself, so that "stopped" means gone.
    if not server.wait_gone(timeout):
        server.kill_group(kill_timeout)
    _remove_stale(pid_file)
    log(f"Server in PID {pid} stopped")
    return 0


def _remove_stale(pid_file: PidFile) -> None:
    """Remove a pid file nobody holds, taking its lock so as not to race a new owner."""
    try:
        fd, _ = pid_file._open(os.O_RDWR, "remove")
    except FileNotFoundError:
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return  # a new server took it meanwhile: it is not stale any more
        if pid_file._same_file(fd):
            try:
                os.unlink(pid_file.path)
            except FileNotFoundError:
                pass
    finally:
        os.close(fd)


# ---------------------------------------------------------------------------
# Detaching

def redirect_output(fd: int) -> None:
    """Send this process's stdout and stderr (file descriptors 1 and 2) to ``fd``."""
    flush_std_streams()
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(line_buffering=True)
        except (AttributeError, ValueError):
            pass


class Startup:
    """The daemon's way to tell the waiting terminal process how start-up went.

    Messages are lines on a pipe: ``P<pid>`` (detached: the daemon's pid),
    ``R<pid>`` (serving) or ``E<exit code> <message>``. Writing to a closed
    pipe is ignored: a server reporting after the terminal has gone is
    harmless.
    """

    def __init__(self, fd: int | None = None):
        self._fd = fd

    def _send(self, line: str) -> None:
        if self._fd is None:
            return
        try:
            os.write(self._fd, (line.replace("\n", " ") + "\n").encode("utf-8", "replace"))
        except OSError:
            pass

    def ready(self) -> None:
        """Serving: the waiting terminal can return at once."""
        self._send(f"R{os.getpid()}")

    def failed(self, message: str, exit_code: int = 1) -> None:
        self._send(f"E{exit_code} {message}")

    def close(self) -> None:
        if self._fd is not None:
            try:
                os.close(self._fd)
            except OSError:
                pass
            self._fd = None


def _read_lines(fd: int, timeout: float | None):
    """Yield complete lines from ``fd``; stop at EOF or after ``timeout``."""
    import selectors
    buf = b""
    deadline = None if timeout is None else time.monotonic() + timeout
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        while True:
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not sel.select(wait):
                return
            chunk = os.read(fd, 4096)
            if not chunk:
                if buf:
                    yield buf.decode("utf-8", "replace")
                yield None  # EOF
                return
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                yield line.decode("utf-8", "replace")


#: How long a daemon that did not start in time may take to stop on SIGTERM
#: before its process group is killed.
STOP_GRACE = 10.0


def _wait_for_daemon(fd: int, log_file: str | None, start_timeout: float | None) -> int:
    """In the terminal process: wait for the daemon's report; return the exit code.

    A daemon that has not reported within ``start_timeout`` seconds is
    stopped: ``start`` failed, so, as LSB and systemd's start timeout have
    it, nothing of it is left running.
    """
    where = f"; see {log_file}" if log_file else ""
    server = None
    try:
        for line in _read_lines(fd, start_timeout):
            if line is None:
                print(f"Server exited during start-up{where}", file=sys.stderr)
                return 1
            if line.startswith("P") and line[1:].isdigit() and server is None:
                try:
                    server = ServerProcess(int(line[1:]), _pidfd_open(int(line[1:])))
                except ProcessLookupError:
                    pass    # gone already: the end of the pipe follows
            elif line.startswith("E"):
                return _report_failure(fd, line, where)
            elif line.startswith("R"):
                return 0
        what = f"Server in PID {server.pid}" if server is not None else "Server"
        print(f"{what} did not start within {start_timeout:g}s (--start-timeout): "
              f"stopping it{where}", file=sys.stderr)
        if server is not None:
            _stop_unstarted(fd, server)
        return 1
    finally:
        if server is not None:
            server.close()


def _stop_unstarted(fd: int, server: ServerProcess) -> None:
    """SIGTERM, then SIGKILL to its process group; the end of the pipe means gone."""
    try:
        server.signal(signal.SIGTERM)
    except PermissionError:
        return
    for line in _read_lines(fd, STOP_GRACE):
        if line is None:
            server.wait_gone(STOP_GRACE)
            return
    server.kill_group(STOP_GRACE)


def _report_failure(fd: int, line: str, where: str) -> int:
    code, _, message = line[1:].partition(" ")
    print(message + where, file=sys.stderr)
    # The daemon is cleaning up (removing its pid file) and exiting: wait
    # for that, signalled by the end of the pipe, so that when this
    # returns nothing of the failed start is left.
    for rest in _read_lines(fd, 10.0):
        if rest is None:
            break
    return int(code) if code.isdigit() else 1


def daemonize(log_fd: int | None = None, log_file: str | None = None,
              timeout: float | None = 60.0) -> Startup:
    """Detach from the terminal; returns only in the daemon.

    Double fork with a new session in between (the daemon can never get a
    controlling terminal back), working directory kept, stdin from
    ``/dev/null``, stdout and stderr to ``log_fd`` (or ``/dev/null``). The
    original process waits until the daemon reports through the returned
    :class:`Startup` and exits with 0, or with the failure's exit code after
    printing its message. A daemon that has not reported after ``timeout``
    seconds (None: no limit) is stopped, and the original process exits 1.
    """
    flush_std_streams()
    read_end, write_end = os.pipe()
    first = os.fork()
    if first:
        os.close(write_end)
        os.waitpid(first, 0)
        try:
            code = _wait_for_daemon(read_end, log_file, timeout)
        except KeyboardInterrupt:
            code = 130
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    os.close(read_end)
    os.setsid()
    if os.fork():
        os._exit(0)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    redirect_output(log_fd if log_fd is not None else devnull)
    os.close(devnull)
    os.set_inheritable(write_end, False)
    startup = Startup(write_end)
    startup._send(f"P{os.getpid()}")
    return startup


# ---------------------------------------------------------------------------
# Signals

class _Terminated(SystemExit):
    """Raised in the main thread by SIGTERM so that ``finally`` blocks run."""


def _raise_terminated(signum, frame):
    raise _Terminated(0)


def install_exit_handlers() -> None:
    """SIGTERM ends the process like Ctrl-C does: cleanly, through ``finally``."""
    signal.signal(signal.SIGTERM, _raise_terminated)
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        return
    signal.signal(signal.SIGINT, signal.default_int_handler)
