# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""The serving engine of ``paster serve``: a monitor process and its workers.

Every ``paster serve`` runs the same way. The *monitor* (the ``paster``
process, whose pid the pid file holds) owns the listening sockets and never
imports the application; each *worker* is forked from it, loads the
application afresh and serves on the monitor's sockets. New code (``kill
-HUP``, ``restart``, a saved file under ``--reload``) starts a new generation
of workers, and the old one stops only once the new one serves, so a broken
deploy or edit leaves the previous code answering and no request is refused.

One mechanism per module:

=================  ==============================================================
``launch``         what ``paster serve`` does once its arguments are parsed
``loading``        PasteDeploy through its public API; errors as one line
``monitor``        the monitor's event loop: signals, worker channels, timers
``pool``           the workers' state machine (generations, replacement, back-off)
``processes``      the worker processes: forking them, stopping them, killing them
``reporting``      what happens, told to users, systemd, ``restart``, the terminal
``reloading``      ``--reload``: file changes start a generation; warm standby
``worker``         the worker process: load, report, serve, drain
``handover``       in a worker: the monitor's sockets in place of the runner's
``connections``    in a worker: the connections it accepted, closed as it stops
``inflight``       in a worker: the requests it is answering
``sockets``        in the monitor: listening sockets, bound or inherited
``systemd``        socket activation and readiness notification
``signals``        signals as bytes on the monitor's wake-up pipe
``logfile``        ``--log-file``, reopened on SIGUSR1
``control``        the state file, and ``restart`` of a running server
``ipc``            the channel between the monitor and one worker
``loaded``         what a worker loaded (files, libraries, errors)
``watcher``        noticing file changes (only ``--reload`` uses it)
=================  ==============================================================

This module stays tiny: applications import :func:`watch_file` at start-up
(also as ``paste.script.serve.watch_file`` and
``paste.script.reloader.watch_file``), and runners call
:func:`single_process`.
"""
from __future__ import annotations

import os

__all__ = ["watch_file", "watched_files", "single_process"]

_registered: list[str] = []
# In a worker under --reload: the function that sends new paths to the monitor.
_report = None
# In a worker: the number of workers the monitor runs, and how to tell it
# that the runner serves from one process only.
_pool_size: int | None = None
_single = None


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


def single_process(runner: str) -> None:
    """Called by a runner that can only serve from one process (flup, cgi).

    In a worker of a pool of more than one, this raises the error that
    ``paster serve`` reports; otherwise it tells the monitor not to add
    workers (SIGTTIN). Outside ``paster serve`` it does nothing.
    """
    if _pool_size is not None and _pool_size > 1:
        from paste.script.command import BadCommand
        raise BadCommand(f"The {runner} server runs in one process: it cannot be "
                         f"served by {_pool_size} workers (use --workers 1)")
    if _single is not None:
        _single(runner)
