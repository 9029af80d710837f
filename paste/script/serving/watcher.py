# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""Noticing that watched files changed: file-system events, or polling.

Both strategies have one interface, :class:`FileWatcher`: ``add(paths)``,
``start()``, ``stop()``, and a callback ``on_change(path, kind)`` called from
the watcher's own thread. ``kind`` tells the monitor how settled the change
is: ``"written"`` (a writer closed the file, a file was renamed into its
place, or polling saw a new state), ``"writing"`` (a write is under way; a
close usually follows within a millisecond) or ``"removed"`` (deleted or
renamed away; editors that keep a backup re-create it at once).

:func:`make_watcher` prefers events (watchdog, which uses inotify on Linux)
and falls back to polling every ``interval`` seconds when watchdog is not
installed or the kernel refuses more watches.
"""
from __future__ import annotations

import os
import threading
from typing import Callable, Iterable

__all__ = ["FileWatcher", "EventWatcher", "PollingWatcher", "make_watcher",
           "WRITTEN", "WRITING", "REMOVED"]

WRITTEN = "written"
WRITING = "writing"
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
        self._lock = threading.Lock()

    def on_change(self, path: str, kind: str) -> None:
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
                    continue
                self.paths.add(path)
                new.append(path)
                target = os.path.realpath(path)
                if target != path:
                    self.links.setdefault(target, set()).add(path)
                    if target not in self.paths:
                        self.paths.add(target)
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
              "created": WRITING, "modified": WRITING, "attrib": WRITING}

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
