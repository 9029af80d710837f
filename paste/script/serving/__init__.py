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
``connections``    in a worker: the connections it accepted, closed as it stops
``inflight``       in a worker: the requests it is answering
``sockets``        in the monitor: listening sockets, bound or inherited
``systemd``        socket activation and readiness notification
``signals``        signals as bytes on the monitor's wake-up pipe
``logfile``        ``--log-file``, reopened on SIGUSR1
``control``        the state file, and ``restart`` of a running server
``ipc``            the channel between the monitor and one worker
``loaded``         what a worker loaded (files, libraries, errors)
``watcher``        noticing file changes, in a process of its own (``--reload``)
``settle``         ``--reload``: when changed files are ready to be loaded
=================  ==============================================================

This module stays tiny. It is what applications and server runners call:

* applications: :func:`watch_file` (also as ``paste.script.serve.watch_file``
  and ``paste.script.reloader.watch_file``);
* server runners: :func:`listen` for their listening sockets, :func:`ready`
  right before they accept, :func:`on_stop` for a graceful stop,
  :func:`single_process` when they cannot share their sockets, and
  :func:`pool_size`.

Outside ``paster serve`` (a runner called by another launcher, or by a
test) each of these does what a runner on its own would do: :func:`listen`
binds, the others return at once. In a worker, the worker installs the
engine's versions with :func:`use_engine`.
"""
from __future__ import annotations

import os

__all__ = ["watch_file", "watched_files", "single_process", "listen", "ready", "on_stop", "owns_signals",
           "pool_size", "use_engine", "Standalone"]

_registered: list[str] = []


class Standalone:
    """What the runner hooks do outside ``paster serve``; a worker's engine replaces it.

    :func:`use_engine` takes any object with these methods.
    """

    #: Number of worker processes sharing the listening sockets (None: no engine).
    pool_size: int | None = None

    def listen(self, address, backlog: int = 1024, mode: int | None = None):
        from paste.script.serving.sockets import bind_listener
        return bind_listener(address, backlog=backlog, mode=mode)

    def ready(self) -> None:
        """Nothing to wait for: the runner accepts at once."""

    def on_stop(self, callback) -> None:
        """Nobody but the runner's own signal handlers stops it."""

    def single_process(self, runner: str) -> None:
        """One process is all there is."""

    def files_read(self, paths: list[str]) -> None:
        """No reloader to tell."""

    @property
    def owns_signals(self) -> bool:
        return False


_engine = Standalone()


def use_engine(engine) -> None:
    """Install the hooks of the serving engine (called by a ``paster serve`` worker)."""
    global _engine
    _engine = engine


def watch_file(path) -> None:
    """Restart the server (under ``--reload``) when the file at ``path`` changes.

    For files the application reads that Python's import system does not
    know about: templates, data files, extra configuration. Relative paths
    are taken from the current directory. Outside ``--reload`` this only
    records the path, so calling it is always safe.
    """
    path = os.path.abspath(os.fspath(path))
    _registered.append(path)
    _engine.files_read([path])


def watched_files() -> list[str]:
    """The paths registered with :func:`watch_file` in this process."""
    return list(_registered)


def listen(address, backlog: int = 1024, mode: int | None = None):
    """A listening, non-blocking socket on ``address`` for a server runner.

    ``address`` is ``(host, port)`` for TCP (``host`` may be a name, an IPv4
    or an IPv6 address, bracketed or not, or ``""`` for every address) or a
    filesystem path (``str``) for a Unix socket, created with ``mode`` (e.g.
    ``0o600``). Raises :class:`paste.script.runners_common.ListenError`, an
    ``OSError`` that names the address, when it cannot listen there.

    Under ``paster serve`` this is the monitor's socket for the address: the
    monitor binds it once (as root if the port needs it) and every worker of
    every generation accepts from it, so nothing is refused while code is
    swapped. The socket is shared with other processes: keep it
    non-blocking, and never ``shutdown()`` it (closing it is fine).
    Elsewhere a new socket is bound here.
    """
    return _engine.listen(address, backlog=backlog, mode=mode)


def ready() -> None:
    """Called by a runner once it is set up, right before it starts accepting.

    Under ``paster serve`` this tells the monitor that the worker loaded, and
    blocks until the monitor lets it accept: once every worker of its
    generation is ready and the previous generation stopped accepting, so
    that a client never gets old code after new. An error the runner raises
    before calling it is a failed start (the old workers go on serving).
    Elsewhere it returns at once.
    """
    _engine.ready()


def on_stop(callback) -> None:
    """Register how the runner stops gracefully under ``paster serve``.

    When the worker must stop (a new generation serves, SIGTERM, Ctrl-C,
    ``--max-requests``, ...), the engine first stops the runner accepting
    (its listening descriptors then lead nowhere) and calls ``callback()``
    once, from another thread. The runner then closes its idle keep-alive
    connections at once, lets the busy ones finish the response they are
    sending (and closes them after it), and returns from its serve function
    when nothing is left. The engine ends the worker after the graceful
    timeout in any case. Without a callback the engine closes the
    connections from outside, as each falls idle. Elsewhere this does
    nothing.
    """
    _engine.on_stop(callback)


def owns_signals() -> bool:
    """True in a ``paster serve`` worker: SIGTERM and SIGINT are the engine's.

    A runner that stops on those signals on its own
    (:func:`paste.script.runners_common.stop_signals`) leaves them alone
    there; the engine calls what it registered with :func:`on_stop`.
    """
    return _engine.owns_signals


def pool_size() -> int | None:
    """How many worker processes share the listening sockets (None outside ``paster serve``).

    A runner may use it to decide whether to leave connections to the other
    workers (one of several should not take a whole burst of them).
    """
    return _engine.pool_size


def single_process(runner: str) -> None:
    """Called by a runner that can only serve from one process (flup, cgi).

    In a worker of a pool of more than one, this raises the error that
    ``paster serve`` reports; otherwise it tells the monitor not to add
    workers (SIGTTIN). Outside ``paster serve`` it does nothing.
    """
    _engine.single_process(runner)
