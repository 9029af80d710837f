# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""Noticing that watched files changed: file-system events, or polling.

Both strategies have one interface, :class:`FileWatcher`: ``add(paths)``,
``start()``, ``stop()``, and a callback ``on_change(path, kind)`` called from
the watcher's own thread. ``kind`` tells how settled the change is:
``"written"`` (a writer closed the file, a file was renamed into its place,
or polling saw a new state), ``"writing"`` (the file is open for writing; a
close follows), ``"touched"`` (its metadata changed: ``chmod``, ``utime``;
no writer is implied) or ``"removed"`` (deleted or renamed away; editors
that keep a backup re-create it at once). :mod:`.settle` decides when that
makes a reload.

:func:`make_watcher` prefers events (watchdog, which uses inotify on Linux)
and falls back to polling every ``interval`` seconds when watchdog is not
installed or the kernel refuses more watches.

Both strategies run threads, and the monitor forks workers: a fork while a
thread holds a lock (the import lock, a logging or allocator lock) leaves
that lock held forever in the child. So under ``--reload`` the watcher runs
in a small process of its own, :class:`WatcherProcess`, forked by the
monitor before it has any thread.
"""
from __future__ import annotations

import os
import threading
from typing import Callable, Iterable

__all__ = ["FileWatcher", "EventWatcher", "PollingWatcher", "make_watcher", "WatcherProcess",
           "WRITTEN", "WRITING", "TOUCHED", "REMOVED"]

WRITTEN = "written"
WRITING = "writing"
TOUCHED = "touched"
REMOVED = "removed"

OnChange = Callable[[str, str], None]


class FileWatcher:
    """Calls ``on_change(path, kind)`` when one of the added paths changes."""

    method = "none"

    def __init__(self, on_change: OnChange):
        self._on_change = on_change
        self.paths: set[str] = set()
        # A symlinked module (``pip install -e`` in strict mode makes them)
        # changes where its target is: that path is watched too, and a
        # change there is reported for the link.
        self.links: dict[str, set[str]] = {}
        # Targets watched only for their links: a change is one file
        # changed, reported under the name it was imported by.
        self.only_targets: set[str] = set()
        self._lock = threading.Lock()

    def on_change(self, path: str, kind: str) -> None:
        if path not in self.only_targets:
            self._on_change(path, kind)
        for link in self.links.get(path, ()):
            self._on_change(link, kind)

    def add(self, paths: Iterable[str]) -> list[str]:
        """Watch these paths too; return the ones that were not watched yet."""
        new = []
        with self._lock:
            for path in paths:
                path = os.path.abspath(path)
                if path in self.paths:
                    self.only_targets.discard(path)
                    continue
                self.paths.add(path)
                new.append(path)
                target = os.path.realpath(path)
                if target != path:
                    self.links.setdefault(target, set()).add(path)
                    if target not in self.paths:
                        self.paths.add(target)
                        self.only_targets.add(target)
                        new.append(target)
        if new:
            self._watch(new)
        return new

    def _watch(self, paths: list[str]) -> None:
        """Start noticing changes to these new paths."""

    def start(self) -> None:
        """Begin watching (in a background thread)."""

    def stop(self) -> None:
        """Stop watching; no callback is made afterwards."""


def _stat_key(path: str):
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino, st.st_dev)


class PollingWatcher(FileWatcher):
    """Compares every path's ``stat`` with the last one, every ``interval`` seconds."""

    method = "polling"

    def __init__(self, on_change: OnChange, interval: float = 1.0):
        super().__init__(on_change)
        self.interval = max(float(interval), 0.01)
        self._states: dict[str, object] = {}
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def _watch(self, paths):
        states = {path: _stat_key(path) for path in paths}
        with self._lock:
            self._states.update(states)

    def start(self):
        self._thread = threading.Thread(target=self._run, name="paster-reload-poll",
                                        daemon=True)
        self._thread.start()

    def stop(self):
        self._stopped.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(self.interval + 1)

    def check(self) -> None:
        """Compare every path once (the polling thread calls this each interval)."""
        with self._lock:
            paths = list(self._states)
        for path in paths:
            state = _stat_key(path)
            with self._lock:
                changed = self._states.get(path) != state
                self._states[path] = state
            if changed and not self._stopped.is_set():
                self.on_change(path, WRITTEN if state is not None else REMOVED)

    def _run(self):
        while not self._stopped.wait(self.interval):
            self.check()


class EventWatcher(FileWatcher):
    """Watches the directories of the paths with watchdog (inotify on Linux).

    Directories are watched non-recursively, so a change anywhere else (the
    ``__pycache__`` the worker writes, log files) costs nothing; events for
    files nobody registered are dropped in the handler.
    """

    method = "events"

    def __init__(self, on_change: OnChange, interval: float = 1.0,
                 poll_roots: tuple[str, ...] = ()):
        super().__init__(on_change)
        self.interval = interval
        self.poll_roots = tuple(poll_roots)
        self._polling: PollingWatcher | None = None
        from watchdog.events import FileSystemEventHandler
        from watchdog.observers import Observer

        watcher = self

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event):
                watcher._event(event)

        self._handler = Handler()
        self._observer = Observer()
        self._dirs: set[str] = set()
        self._stopped = False

    def _watch(self, paths):
        unwatchable = []
        for path in paths:
            directory = os.path.dirname(path)
            if directory in self._dirs:
                continue
            if self.poll_roots and path.startswith(self.poll_roots):
                unwatchable.append(path)    # installed code: rarely changes, polled
                continue
            if not os.path.isdir(directory):
                unwatchable.append(path)
                continue
            try:
                self._observer.schedule(self._handler, directory, recursive=False)
            except OSError:     # gone meanwhile, or out of inotify watches
                unwatchable.append(path)
            else:
                self._dirs.add(directory)
        if unwatchable:
            if self._polling is None:
                self._polling = PollingWatcher(self.on_change, self.interval)
                if self._observer.is_alive():
                    self._polling.start()
            self._polling.add(unwatchable)

    def start(self):
        self._observer.start()
        if self._polling is not None:
            self._polling.start()

    def stop(self):
        self._stopped = True
        if self._polling is not None:
            self._polling.stop()
        self._observer.stop()
        if self._observer.is_alive() and self._observer is not threading.current_thread():
            self._observer.join(2)

    # Reading a file (the worker importing it) gives "opened"/"closed_no_write";
    # those, and directory events, are not changes.
    _KINDS = {"closed": WRITTEN, "moved": REMOVED, "deleted": REMOVED,
              "created": WRITING, "modified": WRITING, "attrib": TOUCHED}

    def _event(self, event) -> None:
        if self._stopped or event.is_directory:
            return
        kind = self._KINDS.get(event.event_type)
        if kind is None:
            return
        changes = [(os.fsdecode(event.src_path), kind)]
        if event.event_type == "moved":     # the source went away, the target is complete
            changes.append((os.fsdecode(event.dest_path), WRITTEN))
        for path, kind in changes:
            if path in self.paths:
                self.on_change(path, kind)


def make_watcher(on_change: OnChange, interval: float = 1.0, events: bool = True,
                 poll_roots: tuple[str, ...] = ()) -> FileWatcher:
    """An :class:`EventWatcher` when watchdog works here, else a :class:`PollingWatcher`.

    Paths under ``poll_roots`` (installed libraries: many directories, few
    changes) are polled even when events work, which spares a watch and a
    thread per directory.
    """
    if events:
        try:
            watcher = EventWatcher(on_change, interval, poll_roots)
            watcher.start()
            return watcher
        except (ImportError, OSError):
            pass
    watcher = PollingWatcher(on_change, interval)
    watcher.start()
    return watcher


# -- the watcher process -----------------------------------------------------------
#
# Monitor -> watcher, records ending in NUL: ``b"<check>:<path>"``: watch this
# path; once it is watched, report it as changed if ``check`` says so:
# ``!`` it has changed already; ``-`` it did not exist when the monitor sent
# it, ``s<mtime_ns>,<size>,<inode>`` its state then; ``t<ns>`` it was
# modified after that time (``time.time_ns()``); ``?`` no check.
# Watcher -> monitor: ``b"<code><path>"`` with a code of _CODES, or ``b"M<method>"``.

_CODES = {WRITTEN: b"W", WRITING: b"w", TOUCHED: b"T", REMOVED: b"R"}
_KIND_OF = {code[0]: kind for kind, code in _CODES.items()}
_METHOD = ord("M")
#: Writes up to this size are atomic on a pipe, so a watcher killed while
#: writing never leaves half a record behind for the next one.
_ATOMIC = 4096
#: What the watcher process is called in ``ps -o comm`` and ``top``.
PROCESS_NAME = "paster-watcher"


class WatcherProcess:
    """A :class:`FileWatcher` (made by :func:`make_watcher`) in a process of its own.

    The monitor polls :meth:`fileno` and calls :meth:`read` for the changes
    that came; :meth:`add` queues paths to watch without ever blocking (what
    the pipe cannot take yet is sent by a later :meth:`flush`). The process
    dies with the monitor: at the end of its channel, or by the kernel's
    parent-death signal when the monitor is killed. If it dies first,
    :meth:`read` reports that once, and :meth:`restart` starts another on
    the same descriptor, watching the same paths. What either side keeps
    grows only with the number of watched files.
    """

    def __init__(self, interval: float = 1.0, events: bool = True,
                 poll_roots: tuple[str, ...] = ()):
        self.interval = interval
        self.events = events
        self.poll_roots = tuple(poll_roots)
        self.method = ""                 # "events" or "polling", once the process said so
        self.pid: int | None = None
        self.alive = False
        self.can_restart = True
        self.watched: set[str] = set()
        self._pidfd: int | None = None
        # Changes come on _up, which the monitor polls from before the
        # process starts to its end; _spare is a writer of it kept while no
        # watcher process runs (so it does not read as ended).
        self._up, self._spare = os.pipe()
        os.set_blocking(self._up, False)
        self._down = -1                  # paths go there
        self._inbox = b""
        self._outbox = bytearray()

    def fileno(self) -> int:
        return self._up

    def fds(self) -> list[int]:
        """The monitor's descriptors for this process (a worker closes them)."""
        return [fd for fd in (self._up, self._down, self._spare, self._pidfd)
                if fd is not None and fd >= 0]

    @property
    def sending(self) -> bool:
        """Paths wait to be sent (the pipe was full): call :meth:`flush` again soon."""
        return self.alive and bool(self._outbox)

    def start(self) -> None:
        """Fork the watcher process (the caller must have no other thread)."""
        writer, self._spare = self._spare, None
        self._spawn(writer)
        self._outbox = bytearray(b"".join(_record(b"?", path) for path in sorted(self.watched)))
        self.flush()

    def _spawn(self, writer: int) -> None:
        reader, self._down = os.pipe()
        from paste.script.util.streams import flush_std_streams
        flush_std_streams()
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:     # the watcher: never returns
            try:
                _run_watcher(reader, writer, parent, self.interval, self.events,
                             self.poll_roots)
            except BaseException:
                import traceback
                traceback.print_exc()
            finally:
                os._exit(1)
        os.close(reader)
        os.close(writer)
        os.set_blocking(self._down, False)
        self.pid, self.alive, self.method = pid, True, ""
        self._pidfd = _pidfd_open(pid)

    def add(self, paths: Iterable[str], since_ns: int = -1) -> list[str]:
        """Watch these paths too; return the ones that were not watched yet.

        With ``since_ns`` (a ``time.time_ns()``), a new path is reported once
        it is watched if it was modified after that time, or created or
        removed after this call: nothing slips by while the watch starts.
        """
        new = []
        for path in paths:
            path = os.path.abspath(path)
            if path not in self.watched:
                self.watched.add(path)
                new.append(path)
                if self.alive:
                    self._outbox += _record(_check(path, since_ns), path)
        if new:
            self.flush()
        return new

    def flush(self) -> bool:
        """Send what fits in the pipe; True once nothing waits to be sent."""
        while self._outbox and self.alive:
            try:
                sent = os.write(self._down, self._outbox)
            except BlockingIOError:
                return False
            except OSError:          # it died: read() will say so
                return False
            del self._outbox[:sent]
        return not self._outbox

    def read(self) -> list[tuple[str, str]]:
        """The changes that came, as ``(path, kind)``; sets ``alive`` False at its end."""
        changes = []
        for _ in range(16):          # at most 1 MiB a call: the monitor has other work
            try:
                data = os.read(self._up, 65536)
            except OSError:          # nothing more now (or closed)
                break
            if not data:
                self._ended()
                break
            *records, self._inbox = (self._inbox + data).split(b"\0")
            for record in records:
                if record[:1] and record[0] == _METHOD:
                    self.method = record[1:].decode()
                elif record[:1] and record[0] in _KIND_OF:
                    changes.append((os.fsdecode(record[1:]), _KIND_OF[record[0]]))
        return changes

    def _ended(self) -> None:
        """The process is gone: keep the descriptor quiet until a restart."""
        self.alive = False
        self._inbox = b""
        self._outbox.clear()
        self._close_fd("_down")
        self._close_fd("_pidfd")
        try:
            # Linux: a new writer of the same pipe, so the descriptor the
            # monitor polls stays the same for the next watcher process.
            self._spare = os.open(f"/proc/self/fd/{self._up}", os.O_WRONLY | os.O_CLOEXEC)
            self.can_restart = True
        except OSError:
            # Elsewhere: a pipe nobody writes to in its place, so the
            # descriptor is never ready again; there is no restart.
            reader, self._spare = os.pipe()
            os.dup2(reader, self._up)
            os.close(reader)
            self.can_restart = False

    def restart(self, since_ns: int) -> None:
        """Start a new watcher process on the same descriptor, watching every path.

        Changes made while none ran are reported if they are newer than ``since_ns``.
        """
        writer, self._spare = self._spare, None
        self._spawn(writer)
        check = b"t%d" % since_ns
        self._outbox = bytearray(b"".join(_record(check, path) for path in sorted(self.watched)))
        self.flush()

    def close(self) -> None:
        """End the process and wait for it; close every descriptor."""
        import signal
        if self.alive and self.pid is not None:
            self._close_fd("_down")      # it exits at the end of its channel anyway
            try:
                if self._pidfd is not None:
                    signal.pidfd_send_signal(self._pidfd, signal.SIGKILL)
                else:
                    os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
            except (ChildProcessError, ProcessLookupError):
                pass                     # the monitor reaped it already
            self.alive = False
        for name in ("_up", "_down", "_spare", "_pidfd"):
            self._close_fd(name)

    def _close_fd(self, name: str) -> None:
        fd = getattr(self, name)
        if fd is not None and fd >= 0:
            try:
                os.close(fd)
            except OSError:
                pass
        setattr(self, name, None if name in ("_spare", "_pidfd") else -1)


def _record(check: bytes, path: str) -> bytes:
    return check + b":" + os.fsencode(path) + b"\0"


def _check(path: str, since_ns: int) -> bytes:
    """What the watcher process compares ``path`` with once it watches it."""
    if since_ns < 0:
        return b"?"
    try:
        st = os.stat(path)
    except OSError:
        return b"-"
    if st.st_mtime_ns > since_ns:
        return b"!"
    return b"s%d,%d,%d" % (st.st_mtime_ns, st.st_size, st.st_ino)


def _pidfd_open(pid: int) -> int | None:
    """A descriptor for the process that a recycled pid cannot fool (Linux 5.3+)."""
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


class PendingChanges:
    """In the watcher process: the changes not sent yet, the last kind of each path.

    ``put`` is called from the watcher's threads and writes a byte on the
    ``wake`` pipe; the main loop then sends what ``take`` returns. One
    entry per path, however many events come before it is sent.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._changes: dict[str, str] = {}
        self.wake, self._wake_writer = os.pipe()
        for fd in (self.wake, self._wake_writer):
            os.set_blocking(fd, False)

    def put(self, path: str, kind: str) -> None:
        with self._lock:
            self._changes.pop(path, None)        # keep the order of the last changes
            self._changes[path] = kind
        try:
            os.write(self._wake_writer, b".")
        except OSError:
            pass

    def take(self) -> list[bytes]:
        try:
            os.read(self.wake, 4096)
        except OSError:
            pass
        with self._lock:
            changes, self._changes = self._changes, {}
        return [_CODES[kind] + os.fsencode(path) + b"\0" for path, kind in changes.items()]


def _run_watcher(reader: int, writer: int, parent: int, interval: float, events: bool,
                 poll_roots: tuple[str, ...]) -> None:
    """The watcher process: watch what the monitor asks for, send back what changes."""
    import selectors
    import signal
    from paste.script.serving.signals import worker_signals
    worker_signals()         # the terminal's signals are the monitor's
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _die_with_parent(parent)
    _close_all_but({0, 1, 2, reader, writer})
    outbox = PendingChanges()
    watcher = make_watcher(outbox.put, interval, events=events, poll_roots=poll_roots)
    _send(writer, [b"M" + watcher.method.encode() + b"\0"])
    selector = selectors.DefaultSelector()
    selector.register(reader, selectors.EVENT_READ, "monitor")
    selector.register(outbox.wake, selectors.EVENT_READ, "changes")
    inbox = b""
    while True:
        for key, _mask in selector.select(1.0):
            if key.data == "monitor":
                data = os.read(reader, 65536)
                if not data:
                    os._exit(0)          # the monitor is gone, or done with us
                *records, inbox = (inbox + data).split(b"\0")
                _watch(watcher, outbox, records)
        _send(writer, outbox.take())
        if os.getppid() != parent:
            os._exit(0)


def _watch(watcher: FileWatcher, outbox: PendingChanges, records: list[bytes]) -> None:
    """Start watching the paths the monitor sent; report those changed meanwhile."""
    checks = {}
    for record in records:
        check, _, path = record.partition(b":")
        checks[os.fsdecode(path)] = check
    watcher.add(list(checks))
    for path, check in checks.items():       # now that it is watched: nothing slips by
        kind = _changed(path, check)
        if kind is not None:
            outbox.put(path, kind)


def _changed(path: str, check: bytes) -> str | None:
    """How ``path`` changed before it was watched, by ``check``: removed, or
    ``WRITING`` (changed, and nothing tells whether its writer is done: a close
    seen from now on, or the settle policy's cap, says when it is)."""
    if check == b"?":
        return None
    if check == b"!":
        return WRITING
    try:
        st = os.stat(path)
    except OSError:
        return REMOVED if check[:1] == b"s" else None
    if check == b"-":
        return WRITING
    if check[:1] == b"t":
        return WRITING if st.st_mtime_ns > int(check[1:]) else None
    return WRITING if check != b"s%d,%d,%d" % (st.st_mtime_ns, st.st_size, st.st_ino) else None


def _send(fd: int, records: list[bytes]) -> None:
    """Write whole records, in writes the pipe keeps whole; exit when the monitor is gone."""
    chunk = b""
    try:
        for record in records + [b""]:
            if chunk and (not record or len(chunk) + len(record) > _ATOMIC):
                os.write(fd, chunk)      # blocking: only this process waits
                chunk = b""
            chunk += record
    except OSError:
        os._exit(0)


def _die_with_parent(parent: int) -> None:
    """Be killed by the kernel when the monitor dies, even by SIGKILL (Linux)."""
    import signal
    import sys
    if sys.platform.startswith("linux"):
        try:
            import ctypes
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL, 0, 0, 0)                 # PR_SET_PDEATHSIG
            libc.prctl(15, PROCESS_NAME.encode(), 0, 0, 0)        # PR_SET_NAME
        except (OSError, AttributeError):
            pass        # the end of the channel and the parent check still end it
    if os.getppid() != parent:      # it died before the signal was armed
        os._exit(0)


def _close_all_but(keep: set[int]) -> None:
    """Close every inherited descriptor (sockets, the monitor's pipes) but ``keep``."""
    try:
        fds = [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:
        fds = list(range(3, min(os.sysconf("SC_OPEN_MAX"), 65536)))
    for fd in fds:
        if fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass
