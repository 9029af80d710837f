# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""``--reload``: when the files that changed have settled enough to load.

:class:`SettlePolicy` takes each change as the file watcher reports it (a
path, its kind, the time it came) and says when to reload and with which
paths. It knows nothing of processes or clocks, so it is tested on exact
sequences of events. Its rules:

* One file saved (a writer closed it, or it was renamed into place) is
  loaded ``SETTLE`` after the close: an editor's save is served at once.
* No file is loaded while it is open for writing: a file with a write event
  and no close yet holds the reload back until it is closed, or until
  ``WRITER_CAP`` after its last write for a writer that never closes.
* A removed file is given ``REMOVE_GRACE`` to come back (editors that rename
  the original to a backup, then write the new one; ``git checkout``, which
  unlinks a file before writing the new version).
* Two files or more changed since the last reload, or one changed within
  ``BURST_QUIET`` of the changes that made the last reload, are a burst (a
  branch switch, a ``git pull``, a tool rewriting a tree): it is loaded once
  nothing has changed for ``BURST_QUIET``, so pauses shorter than that
  within the burst (another process had the CPU, a filter such as Git LFS
  ran) do not split it. (Its first file may have been loaded already, a few
  milliseconds after its close: the reloader gives up a generation still
  loading when more changes come.)

It keeps one entry per changed file, forgotten at each reload.
"""
from __future__ import annotations

from paste.script.serving.watcher import REMOVED, TOUCHED, WRITING, WRITTEN

__all__ = ["SettlePolicy", "SETTLE", "BURST_QUIET", "WRITER_CAP", "REMOVE_GRACE"]

#: After a single file is closed: time for the rest of its save to come.
SETTLE = 0.002
#: A burst of changes is loaded once nothing has changed for this long.
BURST_QUIET = 0.15
#: The longest wait for a writer that never closes the file (after its last write).
WRITER_CAP = 0.5
#: How long a removed file is given to come back.
REMOVE_GRACE = 0.1


class SettlePolicy:
    """Changed files in, a due time and the paths to load out."""

    def __init__(self, settle: float = SETTLE, burst_quiet: float = BURST_QUIET,
                 writer_cap: float = WRITER_CAP, remove_grace: float = REMOVE_GRACE):
        self.settle = settle
        self.burst_quiet = burst_quiet
        self.writer_cap = writer_cap
        self.remove_grace = remove_grace
        self._files: dict[str, tuple[str, float]] = {}   # path -> (state, time of its last event)
        self._first = 0.0               # the first change since the last reload
        self._last = 0.0                # the last change
        self._previous: float | None = None   # the last change the last reload took
        self._due: float | None = None
        self._stale = False

    def __len__(self) -> int:
        """How many changed files wait for the next reload."""
        return len(self._files)

    def note(self, path: str, kind: str, now: float) -> None:
        """``path`` changed (``kind``: one of :mod:`.watcher`'s kinds) at ``now``."""
        state = self._files.get(path, (WRITTEN, now))[0]
        if kind == TOUCHED:
            # Metadata only (chmod, utime): says nothing of a writer, so it
            # neither opens nor ends a write.
            kind = WRITING if state == WRITING else WRITTEN
        elif kind not in (WRITTEN, WRITING, REMOVED):
            kind = WRITTEN
        if not self._files:
            self._first = self._last = now
        self._files[path] = (kind, now)
        self._last = max(self._last, now)
        self._stale = True

    def due(self) -> float | None:
        """When to reload (``take`` then returns the paths), or None: nothing changed."""
        if self._stale:
            self._stale = False
            self._due = self._compute_due()
        return self._due

    def _compute_due(self) -> float | None:
        if not self._files:
            return None
        burst = len(self._files) > 1 or (
            self._previous is not None and self._first - self._previous < self.burst_quiet)
        due = self._last + (self.burst_quiet if burst else self.settle)
        for state, at in self._files.values():
            if state == WRITING:
                due = max(due, at + self.writer_cap)
            elif state == REMOVED:
                due = max(due, at + self.remove_grace)
        return due

    def take(self, now: float) -> list[str] | None:
        """The changed paths (sorted) if it is time to reload at ``now``, else None."""
        due = self.due()
        if due is None or now < due:
            return None
        paths = sorted(self._files)
        self.clear()
        self._previous = self._last
        return paths

    def clear(self) -> None:
        """Forget the changes not taken yet (the server is stopping)."""
        self._files.clear()
        self._due = None
        self._stale = False
