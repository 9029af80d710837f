# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""Pid files, detaching from the terminal, stopping and supervising a server.

The pid file is the single source of truth about a running server, and its
*lock* is what makes it trustworthy: the server opens the file, takes an
exclusive ``flock`` on it and keeps the descriptor open for as long as it
lives (the lock survives ``fork``, so a daemonized or supervised server
holds it too). Hence:

* two ``start`` commands can never both run: the second one cannot lock;
* a pid file nobody holds a lock on is stale, whatever its number says: the
  process is gone, or the number now belongs to an unrelated program that
  must not be touched;
* ``stop`` knows the server has exited when the lock is released, which is
  immune to pid reuse and also covers the server's forked children.

Nothing here imports the command layer; errors are :class:`PidFileError`
subclasses that the command turns into one-line messages.
"""
from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable

__all__ = [
    "PidFile", "PidFileError", "AlreadyRunning", "PidStatus",
    "daemonize", "redirect_output", "Startup", "stop_daemon", "supervise",
    "install_exit_handlers",
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
        self._owner: int | None = None

    def __repr__(self) -> str:
        return f"<PidFile {self.path} {'held' if self._fd is not None else 'free'}>"

    # -- reading (any process) --------------------------------------------

    def read(self) -> int | None:
        """The recorded pid, None when the file is missing or empty."""
        try:
            with open(self.path, encoding="ascii", errors="replace") as f:
                text = f.read(4096)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise PidFileError(f"Cannot read pid file {self.path}: {exc.strerror}") from None
        return _parse_pid(text, self.path)

    def is_locked(self) -> bool:
        """True when some live process holds the lock on the file."""
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise PidFileError(f"Cannot open pid file {self.path}: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)  # also drops the shared lock if we got it
        return False

    def status(self) -> PidStatus:
        """Running (locked), dead (file left behind), not running (no file), unknown."""
        if not os.path.exists(self.path):
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
        :class:`PidFileError` when it cannot be created.
        """
        for _attempt in range(20):
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            except OSError as exc:
                raise PidFileError(
                    f"Cannot create pid file {self.path}: {exc.strerror}") from None
            if not self._lock(fd):
                os.close(fd)
                raise AlreadyRunning(self.path, self._read_quietly())
            # The previous owner may have unlinked the file between our open
            # and our lock: then we locked an orphan; start again.
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        else:
            raise PidFileError(f"Cannot take pid file {self.path}: it keeps changing")
        stale = self._read_fd(fd)
        self._fd = fd
        self.write(pid)
        return stale

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
        pid = pid or os.getpid()
        data = f"{pid}\n".encode("ascii")
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, data, 0)
        self._owner = pid

    @classmethod
    def inherit(cls, path: str, fd: int) -> "PidFile":
        """The pid file whose locked descriptor ``fd`` this process inherited
        (a monitor re-executed by SIGUSR2); :meth:`write` makes it ours."""
        pid_file = cls(path)
        pid_file._fd = fd
        return pid_file

    def fileno(self) -> int | None:
        """The locked descriptor (None when the file is not held)."""
        return self._fd

    def chown(self, uid: int, gid: int) -> None:
        """Hand the file to the user the server will run as."""
        if self._fd is not None:
            os.fchown(self._fd, uid, gid)

    def release(self) -> None:
        """Remove the file and drop the lock (only in the process that owns it)."""
        if self._fd is None or self._owner != os.getpid():
            return
        fd, self._fd = self._fd, None
        try:
            same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
        except OSError:
            same = False
        try:
            if same:
                try:
                    os.unlink(self.path)
                except PermissionError:
                    # No right to unlink (privileges were dropped): leave it
                    # empty, which reads as "not running".
                    os.ftruncate(fd, 0)
        finally:
            os.close(fd)

    def forget(self) -> None:
        """Close the descriptor without removing the file (in a forked child)."""
        if self._fd is not None and self._owner != os.getpid():
            os.close(self._fd)
            self._fd = None


# ---------------------------------------------------------------------------
# Stopping

def _wait_unlocked(pid_file: PidFile, pid: int, timeout: float) -> bool:
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
                log: Callable[[str], None] = print) -> int:
    """Stop the server holding ``pid_file``: 0 when stopped, and also 0 when none
    was running (LSB: stopping a stopped service succeeds), after saying so.

    SIGTERM first; after ``timeout`` seconds SIGKILL to the server's process
    group (which takes its forked children too). A stale pid file is removed,
    and the process whose number it names is never signalled.
    """
    status = pid_file.status()
    if status.code == PidStatus.UNKNOWN:
        raise PidFileError(status.describe())
    if not status.running:
        log(status.describe())
        if status.code == PidStatus.DEAD or os.path.exists(pid_file.path):
            _remove_stale(pid_file)
        return 0
    pid = status.pid
    if pid is None:
        raise PidFileError(f"Pid file {pid_file.path} is locked but empty")
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    except PermissionError:
        raise PidFileError(f"Not allowed to signal PID {pid} (run as its user or root)") from None
    if not _wait_unlocked(pid_file, pid, timeout):
        log(f"PID {pid} did not stop after {timeout:g}s; killing it")
        _kill_group(pid)
        if not _wait_unlocked(pid_file, pid, kill_timeout):
            raise PidFileError(f"PID {pid} could not be stopped")
    # The lock goes with the pid file, just before the interpreter exits:
    # wait for the exit itself, so that "stopped" means gone.
    if not _wait_gone(pid, timeout):
        _kill_group(pid)
        _wait_gone(pid, kill_timeout)
    _remove_stale(pid_file)
    log(f"Server in PID {pid} stopped")
    return 0


def _alive(pid: int) -> bool:
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


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    delay = 0.001
    while _alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(delay)
        delay = min(delay * 2, 0.05)
    return True


def _kill_group(pid: int) -> None:
    try:
        pgid = os.getpgid(pid)
    except ProcessLookupError:
        return
    try:
        if pgid != os.getpgrp() and pgid > 1:
            os.killpg(pgid, signal.SIGKILL)
        else:
            os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _remove_stale(pid_file: PidFile) -> None:
    """Remove a pid file nobody holds, taking its lock so as not to race a new owner."""
    try:
        fd = os.open(pid_file.path, os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise PidFileError(f"Cannot remove pid file {pid_file.path}: {exc.strerror}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return  # a new server took it meanwhile: it is not stale any more
        try:
            if os.fstat(fd).st_ino == os.stat(pid_file.path).st_ino:
                os.unlink(pid_file.path)
        except FileNotFoundError:
            pass
    finally:
        os.close(fd)


# ---------------------------------------------------------------------------
# Detaching

def redirect_output(fd: int) -> None:
    """Send this process's stdout and stderr (file descriptors 1 and 2) to ``fd``."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, ValueError, OSError):
            pass
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(line_buffering=True)
        except (AttributeError, ValueError):
            pass


class Startup:
    """The daemon's way to tell the waiting terminal process how start-up went.

    Messages are lines on a pipe: ``L<pid>`` (loaded, about to serve),
    ``R<pid>`` (serving) or ``E<exit code> <message>``. Writing to a closed
    pipe is ignored: a supervised child reporting after the terminal has
    gone is harmless.
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

    def loaded(self) -> None:
        self._send(f"L{os.getpid()}")

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


def _wait_for_daemon(fd: int, log_file: str | None, grace: float) -> int:
    """In the terminal process: wait for the daemon's report; return the exit code."""
    where = f"; see {log_file}" if log_file else ""
    pid = None
    for line in _read_lines(fd, None):
        if line is None:
            print(f"Server exited during start-up{where}", file=sys.stderr)
            return 1
        if line.startswith("E"):
            return _report_failure(fd, line, where)
        if line.startswith("R"):
            return 0
        if line.startswith("L"):
            pid = line[1:]
            break
    if pid is None:
        return 1
    # Loaded: give the server a moment to bind its socket; most start-up
    # failures (port in use, bad server option) happen right then.
    for line in _read_lines(fd, grace):
        if line is None:
            print(f"Server in PID {pid} exited during start-up{where}", file=sys.stderr)
            return 1
        if line.startswith("E"):
            return _report_failure(fd, line, where)
        if line.startswith("R"):
            return 0
    return 0


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
              grace: float = 0.2, timeout: float | None = None) -> Startup:
    """Detach from the terminal; returns only in the daemon.

    Double fork with a new session in between (the daemon can never get a
    controlling terminal back), working directory kept, stdin from
    ``/dev/null``, stdout and stderr to ``log_fd`` (or ``/dev/null``). The
    original process waits until the daemon reports through the returned
    :class:`Startup` and exits with 0, or with the failure's exit code after
    printing its message.
    """
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    read_end, write_end = os.pipe()
    first = os.fork()
    if first:
        os.close(write_end)
        os.waitpid(first, 0)
        try:
            code = _wait_for_daemon(read_end, log_file, grace)
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
    return Startup(write_end)


# ---------------------------------------------------------------------------
# Signals and supervision

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


def supervise(run_child: Callable[[], int], log: Callable[[str], None] = print,
              first_delay: float = 0.25, max_delay: float = 10.0,
              healthy_after: float = 10.0, stop_timeout: float = 10.0,
              after_fork: Callable[[], None] | None = None) -> int:
    """Run ``run_child()`` in a forked child, again whenever it dies, until SIGTERM/SIGINT.

    Restarts back off (``first_delay`` doubling up to ``max_delay``); a child
    that lived ``healthy_after`` seconds resets the delay. On SIGTERM or
    SIGINT the child gets SIGTERM, then SIGKILL after ``stop_timeout``; the
    return value is 0. ``after_fork()`` runs in this process after each fork
    (e.g. to leave a start-up report to the first child alone).
    """
    state = {"stopping": False, "child": None}

    def on_signal(signum, frame):
        state["stopping"] = True
        child = state["child"]
        if child:
            try:
                os.kill(child, signal.SIGTERM)
            except ProcessLookupError:
                pass

    old = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    delay = first_delay
    try:
        while not state["stopping"]:
            started = time.monotonic()
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                code = 1
                try:
                    for sig, handler in old.items():
                        signal.signal(sig, handler)
                    install_exit_handlers()
                    code = run_child() or 0
                except SystemExit as exc:
                    code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
                except BaseException:
                    import traceback
                    traceback.print_exc()
                finally:
                    sys.stdout.flush()
                    sys.stderr.flush()
                    os._exit(code)
            state["child"] = pid
            if after_fork is not None:
                after_fork()
            if state["stopping"]:  # a signal arrived between fork and here
                on_signal(signal.SIGTERM, None)
            code = _wait_child(pid, state, stop_timeout)
            state["child"] = None
            if state["stopping"]:
                break
            lived = time.monotonic() - started
            if lived >= healthy_after:
                delay = first_delay
            log(f"Server child {pid} exited ({_describe_status(code)}); "
                f"restarting in {delay:g}s")
            _sleep_unless(state, delay)
            delay = min(delay * 2, max_delay)
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
    return 0


def _wait_child(pid: int, state: dict, stop_timeout: float) -> int:
    deadline = None
    while True:
        try:
            done, status = os.waitpid(pid, 0 if deadline is None and not state["stopping"]
                                      else os.WNOHANG)
        except ChildProcessError:
            return 0
        if done:
            return status
        if deadline is None:
            deadline = time.monotonic() + stop_timeout
        elif time.monotonic() > deadline:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            deadline = float("inf")
        time.sleep(0.02)


def _sleep_unless(state: dict, seconds: float) -> None:
    end = time.monotonic() + seconds
    while not state["stopping"] and time.monotonic() < end:
        time.sleep(min(0.05, max(0.0, end - time.monotonic())))


def _describe_status(status: int) -> str:
    if os.WIFSIGNALED(status):
        try:
            name = signal.Signals(os.WTERMSIG(status)).name
        except ValueError:
            name = str(os.WTERMSIG(status))
        return f"killed by {name}"
    return f"exit code {os.waitstatus_to_exitcode(status)}"
