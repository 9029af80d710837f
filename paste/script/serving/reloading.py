# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""``--reload``: a saved file starts a new generation of workers.

The file watcher (:mod:`.watcher`) runs in its own thread and queues each
change; a byte on a pipe wakes the monitor's loop, which calls
:meth:`Reloader.read_changes`. A change is acted on once the writer has
closed the file (``SETTLE``), or after ``WRITE_SETTLE`` for a file still
being written or removed (editors that rename the original to a backup
write the new one a moment later). A burst of changes (a ``git checkout``)
that keeps superseding a generation still loading is announced once.

Between changes a *standby* worker waits with the libraries the serving
worker uses already imported (its framework, the runner's lazy imports), so
a reload only imports the application's own code; a library file that
changed since the standby imported it makes the pool fork a fresh worker
instead.
"""
from __future__ import annotations

import importlib.util
import os
import sys
import threading
import time

from paste.script.serving.loaded import library_roots
from paste.script.serving.watcher import WRITTEN, make_watcher

__all__ = ["Reloader"]

#: How long to wait for more events after a settled change (seconds).
SETTLE = 0.002
#: How long to wait for a writer to close the file it is writing, or for a
#: removed file to come back.
WRITE_SETTLE = 0.1
#: A warm standby is forked this long after a new worker serves (so the two
#: do not compete for the CPU while the new one starts).
STANDBY_DELAY = 0.05


class Reloader:
    """Watches the files the workers read; starts a generation when one changes."""

    def __init__(self, monitor, pool, interval: float, verbose: int, watcher_factory=None):
        self.monitor = monitor
        self.pool = pool
        self.interval = interval
        self.verbose = verbose
        self.watcher_factory = watcher_factory or make_watcher
        # Events miss changes made by another machine (NFS, some container
        # bind mounts); PASTE_RELOAD_POLL=1 polls every reload interval instead.
        self.use_events = os.environ.get("PASTE_RELOAD_POLL", "").strip() in ("", "0")
        # PASTE_RELOAD_PRELOAD=0: no warm standby.
        self.use_standby = os.environ.get("PASTE_RELOAD_PRELOAD", "").strip() != "0"
        self.library_modules: list[str] | None = None
        self.standby_due: float | None = None
        self.changed: set[str] = set()          # since the last reload
        self.reload_due: float | None = None
        self._events: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._read_fd, self._write_fd = os.pipe()
        for fd in (self._read_fd, self._write_fd):
            os.set_blocking(fd, False)
        self.watcher = None
        self.libraries: tuple[str, ...] = ()
        self.monitor_files: frozenset[str] = frozenset()

    def fileno(self) -> int:
        return self._read_fd

    def fds(self) -> list[int]:
        return [self._read_fd, self._write_fd]

    def start(self, config_file: str | None) -> None:
        from paste.script.serving.loaded import module_files
        self.monitor_files = frozenset(module_files())
        self.libraries = library_roots()
        self.watcher = self.watcher_factory(self._on_change, self.interval,
                                            events=self.use_events, poll_roots=self.libraries)
        if self.verbose > 1:
            self.monitor.say(f"Watching files for changes ({self.watcher.method}).")
        if config_file:
            self.watcher.add([config_file])

    def close(self) -> None:
        if self.watcher is not None:
            self.watcher.stop()
        for fd in self.fds():
            try:
                os.close(fd)
            except OSError:
                pass

    # -- changes -------------------------------------------------------------

    def _on_change(self, path: str, kind: str) -> None:
        """Called in the watcher's thread: queue the change, wake the loop."""
        with self._lock:
            self._events.append((path, kind))
        try:
            os.write(self._write_fd, b".")
        except OSError:
            pass

    def read_changes(self) -> None:
        try:
            os.read(self._read_fd, 4096)
        except BlockingIOError:
            pass
        with self._lock:
            events, self._events = self._events, []
        for path, kind in events:
            self.note_change(path, kind)

    def note_change(self, path: str, kind: str = WRITTEN) -> None:
        if self.pool.stopping:
            return
        self.changed.add(path)
        due = time.monotonic() + (SETTLE if kind == WRITTEN else WRITE_SETTLE)
        if self.reload_due is None or due < self.reload_due:
            self.reload_due = due

    def reload(self) -> None:
        """Start a generation with the code as it is now on disk."""
        paths, self.changed = sorted(self.changed), set()
        self.reload_due = None
        if self.pool.stopping or not paths:
            return
        if self.verbose > 0 and self.pool.pending is None:
            # A generation still loading is superseded silently: one save of
            # many files (a branch switch) is one reload to the reader.
            shown = ", ".join(_short(p) for p in paths[:3])
            more = f" and {len(paths) - 3} more" if len(paths) > 3 else ""
            self.monitor.say(f"{shown}{more} changed; reloading.")
        elif self.verbose > 1:
            self.monitor.say(f"{len(paths)} more file(s) changed; reloading again.")
        # What a fork inherits from the monitor and must load afresh: only
        # the monitor's own modules (bounded by them, not by the changes seen).
        self.pool.changed.update(set(paths).intersection(self.monitor_files))
        for path in paths:
            _drop_bytecode(path)
        self.monitor.start_reload(paths)

    # -- what workers report ---------------------------------------------------

    def files_message(self, worker, message: dict) -> None:
        """A worker's ``files`` message (:data:`.protocol.Op.FILES`)."""
        self.files(worker, message.get("paths", []))

    def modules_message(self, worker, message: dict) -> None:
        """A worker's ``modules`` message (:data:`.protocol.Op.MODULES`)."""
        self.modules(worker, message.get("names", []), message.get("last"))

    def files(self, worker, paths) -> None:
        """Watch what a worker read; a file changed since it was read means a reload."""
        worker.files.update(paths)
        if worker.stale_if_read.intersection(paths) and worker.generation == self.pool.pending:
            self.pool.replace_stale(worker)
        new = self.watcher.add(paths)
        late = worker.state in ("started", "serving")
        for path in new:
            if late and self.verbose > 1 and not path.startswith(self.libraries):
                self.monitor.say(f"Watching {_short(path)} (imported while serving).")
            try:
                if os.stat(path).st_mtime_ns > worker.started_ns:
                    self.note_change(path, WRITTEN)
            except OSError:
                pass

    def modules(self, worker, names: list[str], last: bool) -> None:
        """The library modules the serving worker uses: the standby should import these."""
        worker.modules.extend(names)
        if not (last and self.use_standby and worker.generation == self.pool.serving):
            return
        if worker.modules == self.library_modules:
            return
        self.library_modules = list(worker.modules)
        if self.pool.standby is not None:
            self.pool.procs.discard(self.pool.standby)
        self.standby_due = time.monotonic()

    def stop_timers(self) -> None:
        """The server stops: no reload, no standby any more."""
        self.reload_due = self.standby_due = None

    def want_standby(self) -> None:
        """A generation serves (or failed): fork a standby shortly, if there is none."""
        if self.use_standby and self.library_modules and self.pool.standby is None:
            self.standby_due = time.monotonic() + STANDBY_DELAY

    # -- time ----------------------------------------------------------------------

    def deadlines(self):
        if self.reload_due is not None:
            yield self.reload_due
        if self.standby_due is not None:
            yield self.standby_due

    def run_timers(self, now: float) -> None:
        if self.reload_due is not None and now >= self.reload_due:
            self.reload()
        if self.standby_due is not None and now >= self.standby_due:
            if self.pool.pending is not None:
                self.standby_due = now + STANDBY_DELAY    # after the new workers are up
            else:
                self.standby_due = None
                if self.library_modules:
                    self.pool.add_standby(self.library_modules)


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
