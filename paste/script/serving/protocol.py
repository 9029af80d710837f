# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""The engine's vocabulary, in one place: worker states, messages, monitor events.

A worker process and the monitor talk over a channel (:mod:`.ipc`) in
messages named by :class:`Op`. Each side maps every name it receives to one
handler in one table (``Monitor.HANDLERS``, ``WorkerControl.HANDLERS``), so
the whole protocol reads here and there, nowhere else.

A worker's life, as the monitor records it (:class:`State`)::

    LOADING ──LOADED──> STARTING ──READY──> READY ──(GO)──> SERVING ──(STOP)──> STOPPING
       │                   └──────── SERVING (a runner that binds its own socket)
       └─(standby)─ STANDBY ──STANDING──> STANDING ──(LOAD)──> LOADING

The monitor acts on :class:`Event` s that its collaborators post (the pool,
the reporter, the reloader, the health checks); none of them calls back
into the monitor.
"""
from __future__ import annotations

import enum

__all__ = ["Op", "State", "Event"]


class Op(str, enum.Enum):
    """The name of a message on a worker's channel (its ``op`` field)."""

    # worker -> monitor
    BIND = "bind"            # a listening socket, please: {address, backlog, mode}
    LOADED = "loaded"        # the application and the server are loaded
    READY = "ready"          # the runner is set up; waits for GO before accepting
    SERVING = "serving"      # accepting (a runner that took no socket from the monitor)
    RELEASED = "released"    # stopping: accepts nothing any more
    FINISHED = "finished"    # the runner returned on its own (cgi serves once)
    ERROR = "error"          # loading or starting failed: {message, summary, exit_code, ...}
    SINGLE = "single"        # the runner serves from one process only: {runner}
    FILES = "files"          # --reload: files it read: {paths}
    MODULES = "modules"      # --reload: the library modules it uses: {names, last}
    STANDING = "standing"    # a standby has imported its libraries
    BEAT = "beat"            # heartbeat: {active, done, oldest, fds_exhausted}
    RETIRE = "retire"        # --max-requests reached: {served}
    # monitor -> worker
    SOCKET = "socket"        # the answer to BIND: a descriptor, or {error, errno}
    GO = "go"                # start accepting
    STOP = "stop"            # stop gracefully
    LOAD = "load"            # a standby: load the application now
    CHANGED = "changed"      # a standby: these files changed since the fork: {paths}
    LOG = "log"              # the reopened --log-file, as a descriptor
    ACCESS_LOG = "access_log"  # reopen the access log (SIGUSR1)


class State(str, enum.Enum):
    """Where a worker is in its life, as the monitor knows it."""

    STANDBY = "standby"      # forked ahead of time, importing libraries
    STANDING = "standing"    # a standby waiting for LOAD
    LOADING = "loading"      # loading the application
    STARTING = "starting"    # loaded; the runner is setting up
    READY = "ready"          # set up; waiting for GO
    SERVING = "serving"      # accepting connections
    STOPPING = "stopping"    # told to stop; finishing its requests


class Event(str, enum.Enum):
    """What the monitor's collaborators ask it to do (``Monitor.post``)."""

    SHUTDOWN = "shutdown"        # stop everything gracefully: {reason, error, signum}
    RELOAD = "reload"            # start a generation with the code on disk: {changed, why}
    RETRY_START = "retry_start"  # --monitor-restart: the first generation again: {delay}
    REPLACE = "replace"          # a worker must go; start its successor first: {worker, why}
    RESIZE = "resize"            # one worker more or fewer: {change}
    REOPEN_LOGS = "reopen_logs"  # logrotate moved the log files
    UPGRADE = "upgrade"          # SIGUSR2: re-execute the monitor in place
    UPGRADED = "upgraded"        # the new monitor serves, or failed: {succeeded}
