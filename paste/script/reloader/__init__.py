# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""``paster serve --reload``: serve new code as soon as a file is saved.

A *monitor* process (:mod:`.monitor`) watches files (:mod:`.watcher`) and
owns the listening sockets (:mod:`.sockets`); each version of the code runs
in a *worker* process (:mod:`.worker`) forked from it, which loads the
application afresh and reports back over a socket pair (:mod:`.ipc`) which
files it read (:mod:`.loaded`) and when it is serving. The old worker is
only stopped once the new one serves, and then finishes the requests it has
in flight (:mod:`.inflight`), so a broken edit leaves the previous code
answering and no request is lost.

This module stays tiny: ``paste.script.serve`` re-exports :func:`watch_file`,
and applications import it at start-up.
"""
from __future__ import annotations

import os

__all__ = ["run_reloader", "watch_file", "watched_files"]

_registered: list[str] = []
# In a worker, the function that sends new paths to the monitor.
_report = None


def watch_file(path) -> None:
    """Restart the server (under ``--reload``) when the file at ``path`` changes.

    For files the application reads that Python's import system does not
    know about: templates, data files, extra configuration. Relative paths
    are taken from the current directory. Outside ``--reload`` this only
    records the path, so calling it is always safe.
    """
    path = os.path.abspath(os.fspath(path))
    _registered.append(path)
    report = _report
    if report is not None:
        report([path])


def watched_files() -> list[str]:
    """The paths registered with :func:`watch_file` in this process."""
    return list(_registered)


def run_reloader(command) -> int:
    """Serve ``command``'s application under the reload monitor until stopped.

    ``command`` is a :class:`paste.script.serve.ServeCommand` after argument
    parsing; the monitor calls its ``load_app_and_server()`` in each worker.
    """
    if not hasattr(os, "fork"):
        from paste.script.command import BadCommand
        raise BadCommand("--reload needs os.fork(), which this platform does not have")
    from paste.script.reloader.monitor import Monitor
    return Monitor(command).run()
