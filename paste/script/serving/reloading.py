# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""``--reload``: a saved file starts a new generation of workers.

The file watcher runs in a process of its own (:class:`.watcher.WatcherProcess`,
forked here before the monitor has forked anything else) and sends each
change back over a pipe that the monitor's loop polls:
:meth:`Reloader.read_changes` hands them to a :class:`.settle.SettlePolicy`,
which says when the files have settled (no writer still at work, a burst
over) and which paths changed. Changes that come while a generation is
still loading make it stale: it is given up at once, so code read half
before and half after a change is never served. A burst of changes (a
``git checkout``) is announced once.

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
import time

from paste.script.serving.loaded import library_roots
from paste.script.serving.protocol import Event, State
from paste.script.serving.settle import SettlePolicy
from paste.script.serving.watcher import WRITTEN, WatcherProcess

__all__ = ["Reloader"]

#: A warm standby is forked this long after a new worker serves (so the two
#: do not compete for the CPU while the new one starts).
STANDBY_DELAY = 0.05
#: While paths wait to be sent to the watcher (its pipe was full), retry this often.
SEND_RETRY = 0.01
#: The longest wait before starting the file watcher again when it keeps dying.
RESTART_MOST = 60.0


class Reloader:
    """Watches the files the workers read; starts a generation when one changes.

    ``watcher_factory(interval, events=, poll_roots=)`` makes the watcher
    (a :class:`.watcher.WatcherProcess` unless given).
    """

    def __init__(self, post, say, pool, interval: float, verbose: int, watcher_factory=None):
        self.post = post                # the monitor's event queue
        self.say = say
        self.pool = pool
        self.interval = interval
        self.verbose = verbose
        # Events miss changes made by another machine (NFS, some container
        # bind mounts); PASTE_RELOAD_POLL=1 polls every reload interval instead.
        self.use_events = os.environ.get("PASTE_RELOAD_POLL", "").strip() in ("", "0")
        # PASTE_RELOAD_PRELOAD=0: no warm standby.
        self.use_standby = os.environ.get("PASTE_RELOAD_PRELOAD", "").strip() != "0"
        self.library_modules: list[str] | None = None
        self.standby_due: float | None = None
        self.policy = SettlePolicy()
        self.superseded = False     # a generation was given up for newer changes
        self.libraries: tuple[str, ...] = library_roots()
        self.watcher = (watcher_factory or WatcherProcess)(
            interval, events=self.use_events, poll_roots=self.libraries)
        self.method_said = False
        self.restart_due: float | None = None
        self.restarts = 0
        self.lost_at_ns = 0
        self.ended: int | None = None     # the watcher process last seen ending
        self.monitor_files: frozenset[str] = frozenset()

    def fileno(self) -> int:
        return self.watcher.fileno()

    def fds(self) -> list[int]:
        return self.watcher.fds()

    def start(self, config_file: str | None) -> None:
        """Fork the watcher process (the monitor has no thread: see :mod:`.watcher`)."""
        from paste.script.serving.loaded import module_files
        self.monitor_files = frozenset(module_files())
        started_ns = time.time_ns()
        self.watcher.start()
        if config_file:
            self.watcher.add([config_file], since_ns=started_ns)

    def close(self) -> None:
        self.watcher.close()

    # -- changes -------------------------------------------------------------

    def read_changes(self) -> None:
        """The watcher's pipe is readable: take in what it sent."""
        for path, kind in self.watcher.read():
            self.note_change(path, kind)
        if self.watcher.method and not self.method_said:
            self.method_said = True
            if self.verbose > 1:
                self.say(f"Watching files for changes ({self.watcher.method}).")
        if not self.watcher.alive and self.restart_due is None and self.ended != self.watcher.pid:
            self.ended = self.watcher.pid
            self._watcher_ended()
        self.watcher.flush()

    def note_change(self, path: str, kind: str = WRITTEN) -> None:
        if self.pool.stopping:
            return
        self.policy.note(path, kind, time.monotonic())
        self._give_up_stale_generation()

    def _give_up_stale_generation(self) -> None:
        """A pending generation may have read files from before this change:
        it must never serve. (Its workers wait for the monitor's go, so none
        has answered anything yet.)"""
        if self.pool.give_up_pending():
            self.superseded = True
            self.want_standby()

    def reload(self, paths: list[str] | None = None) -> None:
        """Start a generation with the code as it is now on disk."""
        if paths is None:
            paths = self.policy.take(float("inf")) or []
        if self.pool.stopping or not paths:
            return
        again, self.superseded = self.superseded or self.pool.pending is not None, False
        if self.verbose > 0 and not again:
            # A generation given up for newer changes is not announced twice:
            # one save of many files (a branch switch) is one reload to the reader.
            shown = ", ".join(_short(p) for p in paths[:3])
            more = f" and {len(paths) - 3} more" if len(paths) > 3 else ""
            self.say(f"{shown}{more} changed; reloading.")
        elif self.verbose > 1:
            self.say(f"{len(paths)} more file(s) changed; reloading again.")
        # What a fork inherits from the monitor and must load afresh: only
        # the monitor's own modules (bounded by them, not by the changes seen).
        self.pool.changed.update(set(paths).intersection(self.monitor_files))
        for path in paths:
            _drop_bytecode(path)
        self.post(Event.RELOAD, changed=list(paths))

    def _watcher_ended(self) -> None:
        if self.pool.stopping:
            return
        if not self.watcher.can_restart:
            self.say("The file watcher exited: changes are no longer noticed "
                             "(restart paster serve).", sys.stderr)
            return
        delay = min(2.0 ** (self.restarts - 1), RESTART_MOST) if self.restarts else 0.0
        self.restarts += 1
        self.say(f"The file watcher (PID {self.watcher.pid}) exited; starting "
                         f"another{f' in {delay:g}s' if delay else ''}.", sys.stderr)
        self.restart_due = time.monotonic() + delay
        # What changed from a second before it ended is taken as changed.
        self.lost_at_ns = time.time_ns() - 1_000_000_000

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
        # The watcher reports those modified since the worker started, once watched.
        new = self.watcher.add(paths, since_ns=worker.started_ns)
        if worker.state is State.SERVING and self.verbose > 1:
            for path in new:
                if not path.startswith(self.libraries):
                    self.say(f"Watching {_short(path)} (imported while serving).")

    def modules(self, worker, names: list[str], last: bool) -> None:
        """The library modules the serving worker uses: the standby should import these."""
        worker.modules.extend(names)
        if last and not self.use_standby and self.verbose > 1:
            self.say("No warm standby (PASTE_RELOAD_PRELOAD=0).")
        if not (last and self.use_standby and worker.generation == self.pool.serving):
            return
        if worker.modules == self.library_modules:
            return
        self.library_modules = list(worker.modules)
        if self.pool.standby is not None:
            self.pool.procs.discard(self.pool.standby)
        self.standby_due = time.monotonic()

    def stop_timers(self) -> None:
        """The server stops: no reload, no standby, no new watcher any more."""
        self.policy.clear()
        self.standby_due = self.restart_due = None

    def want_standby(self) -> None:
        """A generation serves (or failed): fork a standby shortly, if there is none."""
        if self.use_standby and self.library_modules and self.pool.standby is None:
            self.standby_due = time.monotonic() + STANDBY_DELAY

    # -- time ----------------------------------------------------------------------

    def deadlines(self):
        due = self.policy.due()
        if due is not None:
            yield due
        if self.standby_due is not None:
            yield self.standby_due
        if self.restart_due is not None:
            yield self.restart_due
        if self.watcher.sending:
            yield time.monotonic() + SEND_RETRY

    def run_timers(self, now: float) -> None:
        self.watcher.flush()
        paths = self.policy.take(now)
        if paths:
            self.reload(paths)
        if self.restart_due is not None and now >= self.restart_due:
            self.restart_due = None
            if not self.pool.stopping:
                self.watcher.restart(self.lost_at_ns)
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
