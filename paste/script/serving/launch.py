# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""What ``paster serve`` does once its arguments are parsed.

:func:`run` takes a parsed :class:`~paste.script.serve.ServeCommand` and
performs its action: ``status``, ``stop``, ``restart`` (a SIGHUP to a
running server, waiting for the outcome), or serving, in the foreground or
as a daemon, under the monitor (:mod:`.monitor`). The process-level
mechanisms live elsewhere: pid files and detaching in
:mod:`paste.script.daemon`, ``--user``/``--group`` in
:mod:`paste.script.privileges`.
"""
from __future__ import annotations

import os
import sys

from paste.script.command import BadCommand

__all__ = ["Settings", "run", "run_reloader"]


class Settings:
    """How the monitor runs: what the command line and the config say."""

    def __init__(self, workers: int | None = None, graceful_timeout: float = 30.0,
                 reload: bool = False, reload_interval: float = 1.0,
                 monitor_restart: bool = False, verbose: int = 1, log_file: str | None = None,
                 log_owner: tuple | None = None, pid_path: str | None = None, startup=None):
        from paste.script.daemon import Startup
        self.workers_given = workers         # --workers (None: the config's, or 1)
        self.workers = workers or 1
        self.graceful_timeout = graceful_timeout
        self.reload = reload
        self.reload_interval = reload_interval
        self.monitor_restart = monitor_restart
        self.verbose = verbose
        self.log_file = log_file
        self.log_owner = log_owner
        self.pid_path = pid_path
        self.startup = startup or Startup()

    @classmethod
    def from_command(cls, command, **kw) -> "Settings":
        opts = command.options
        settings = cls(workers=getattr(opts, "workers", None),
                       reload=bool(getattr(opts, "reload", False)),
                       reload_interval=_interval(getattr(opts, "reload_interval", None)),
                       monitor_restart=bool(getattr(opts, "monitor_restart", False)),
                       verbose=getattr(command, "verbose", 1),
                       log_file=getattr(opts, "log_file", None), **kw)
        config = settings.config_options(command)
        if settings.workers_given is None and "workers" in config:
            settings.workers = config["workers"]
        given = getattr(opts, "graceful_timeout", None)
        settings.graceful_timeout = given if given is not None else config.get("graceful_timeout", 30.0)
        return settings

    def config_options(self, command) -> dict:
        """``workers`` and ``graceful_timeout`` from the server section, converted."""
        from paste.script.serving.loading import ServerSection
        from paste.script.util.options import OptionError, asfloat, asint
        if not getattr(command, "server_spec", None):
            return {}
        section = ServerSection.find(command.server_spec, command.server_name,
                                     command.relative_to, command.global_conf)
        if section is None:
            return {}
        converted = {}
        for name, (convert, least) in (("workers", (asint, 1)),
                                       ("graceful_timeout", (asfloat, 0))):
            if name in section.options:
                try:
                    value = convert(section.options[name])
                except ValueError as exc:
                    raise BadCommand(f"Bad value for option {name!r} in {section.where}: "
                                     f"{section.options[name]!r} ({getattr(exc, 'expected', exc)})") from None
                if value < least:
                    raise OptionError(name, value, f"expected at least {least}", section.where)
                converted[name] = value
        return converted

    def workers_from_config(self, command) -> int | None:
        """On SIGHUP: the number of workers the config now asks for (None: keep)."""
        if self.workers_given is not None:
            return None
        try:
            return self.config_options(command).get("workers", 1)
        except (BadCommand, ValueError):
            return None     # the new workers report the broken config


def _interval(value) -> float:
    from paste.script.util.options import asfloat
    return asfloat(value) if value not in (None, "") else 1.0


# -- actions ----------------------------------------------------------------------

def run(command) -> int:
    """Perform the action of a parsed ``paster serve`` command."""
    opts = command.options
    if opts.reload and opts.monitor_restart:
        raise BadCommand("--reload and --monitor-restart cannot be used together")
    if getattr(opts, "workers", None) is not None and opts.workers < 1:
        raise BadCommand(f"--workers must be at least 1 (got {opts.workers})")
    if getattr(opts, "graceful_timeout", None) is not None and opts.graceful_timeout < 0:
        raise BadCommand(f"--graceful-timeout cannot be negative (got {opts.graceful_timeout:g})")
    action = command.action
    if action == "status" or opts.show_status:
        return command.show_status()
    if action == "restart":
        reloaded = _reload_running(command)
        if reloaded is not None:
            return reloaded
    if action in ("stop", "restart") or opts.stop_daemon:
        result = command.stop_daemon()
        if action == "stop" or (opts.stop_daemon and action != "restart"):
            return result
    if action in ("start", "restart"):
        opts.daemon = True
    if opts.daemon:
        if opts.reload:
            raise BadCommand("--reload and --daemon cannot be used together")
        opts.pid_file = opts.pid_file or "paster.pid"
        opts.log_file = opts.log_file or "paster.log"
    return serve(command)


def stop(command) -> int:
    """``stop``: SIGTERM, then wait as long as the server's workers may take."""
    from paste.script.daemon import PidFile, PidFileError, stop_daemon
    from paste.script.serving.control import read_state
    pid_file = PidFile(command.options.pid_file or "paster.pid")
    state = read_state(pid_file.path) or {}
    timeout = max(10.0, float(state.get("graceful_timeout") or 0) + 5.0)
    try:
        return stop_daemon(pid_file, timeout=timeout, log=command._say)
    except PidFileError as exc:
        raise BadCommand(str(exc), exit_code=1) from None


def _reload_running(command) -> int | None:
    """``restart`` of a running server: new workers, same pid; None if none runs."""
    from paste.script.daemon import PidFile, PidFileError
    from paste.script.serving.control import reload_running
    pid_file = PidFile(command.options.pid_file or "paster.pid")
    try:
        status = pid_file.status()
    except PidFileError as exc:
        raise BadCommand(str(exc), exit_code=1) from None
    if not status.running or not status.pid:
        return None
    try:
        outcome = reload_running(pid_file.path, status.pid)
    except PermissionError:
        raise BadCommand(f"Not allowed to signal PID {status.pid} (run as its user or root)",
                         exit_code=1) from None
    if outcome is None:
        return None         # a server without a state file: stop and start it
    ok, message = outcome
    if ok:
        command._say(message)
        return 0
    print(message, file=sys.stderr)
    return 1


# -- serving ------------------------------------------------------------------------

def serve(command) -> int:
    """Serve in the foreground, or as a daemon, holding the pid file if any."""
    from paste.script import daemon
    opts = command.options
    identity = command._identity = _resolve_identity(opts)
    owner = None
    if identity is not None and identity.uid is not None:
        owner = (identity.uid, -1 if identity.gid is None else identity.gid)
    log_fd = _open_log_file(opts.log_file, owner)
    try:
        pid_file = _acquire_pid_file(opts.pid_file, command.verbose)
    except BaseException:
        if log_fd is not None:
            os.close(log_fd)
        raise
    if pid_file is False:
        # LSB: starting a daemon that runs succeeds (3.7 also exited 0); a
        # foreground serve that cannot serve has failed.
        if log_fd is not None:
            os.close(log_fd)
        return 0 if opts.daemon else 1
    startup = daemon.Startup()
    try:
        if owner is not None:
            # The server's users keep using these once unprivileged.
            if pid_file is not None:
                pid_file.chown(*owner)
        if opts.daemon:
            if command.verbose > 0:
                print(f"Entering daemon mode (log file {opts.log_file})")
            startup = daemon.daemonize(log_fd, log_file=opts.log_file)
            if pid_file is not None:
                pid_file.write()
        elif log_fd is not None:
            daemon.redirect_output(log_fd)
        if log_fd is not None:
            os.close(log_fd)
        if not hasattr(os, "fork"):
            return _serve_in_process(command, startup)
        settings = Settings.from_command(command, log_owner=owner, startup=startup,
                                         pid_path=pid_file.path if pid_file else None)
        from paste.script.serving.monitor import Monitor
        return Monitor(command, settings).run()
    except BadCommand as exc:
        startup.failed(exc.message, exc.exit_code)
        raise
    except KeyboardInterrupt:
        return 0
    finally:
        if pid_file is not None:
            pid_file.release()


def run_reloader(command) -> int:
    """Serve a command object under the reload monitor (``docs/reload.rst``)."""
    if not hasattr(os, "fork"):
        raise BadCommand("--reload needs os.fork(), which this platform does not have")
    options = getattr(command, "options", None)
    settings = Settings(reload=True, verbose=getattr(command, "verbose", 1),
                        reload_interval=_interval(getattr(options, "reload_interval", None)))
    from paste.script.serving.monitor import Monitor
    return Monitor(command, settings).run()


def _serve_in_process(command, startup) -> int:
    """Without ``os.fork`` (Windows): load and serve in this process, as PasteScript 3 did."""
    from paste.script.daemon import install_exit_handlers
    install_exit_handlers()
    try:
        app, server = command.load_app_and_server()
        command.drop_privileges()
    except BadCommand as exc:
        startup.failed(exc.message, exc.exit_code)
        raise
    if command.verbose > 0:
        print(f"Starting server in PID {os.getpid()}.", flush=True)
    try:
        server(app)
    except KeyboardInterrupt:
        pass
    except SystemExit as exc:
        if exc.code not in (None, 0):
            raise  # the runner's own verdict, e.g. requests cut on stopping
    return 0


def _resolve_identity(opts):
    from paste.script import privileges
    try:
        return privileges.resolve(opts.set_user, opts.set_group)
    except privileges.PrivilegeError as exc:
        raise BadCommand(str(exc)) from None


def _acquire_pid_file(path: str | None, verbose: int):
    """The locked pid file (None without one; False if a server runs)."""
    from paste.script import daemon
    if not path:
        return None
    pid_file = daemon.PidFile(path)
    try:
        stale = pid_file.acquire()
    except daemon.AlreadyRunning as exc:
        print(exc, file=sys.stderr)
        return False
    except daemon.PidFileError as exc:
        raise BadCommand(str(exc)) from None
    if stale and verbose > 1:
        print(f"Replaced stale pid file {pid_file.path} (PID {stale})")
    return pid_file


def _open_log_file(path: str | None, owner: tuple | None = None) -> int | None:
    from paste.script.serving.logfile import open_log
    if not path:
        return None
    try:
        return open_log(path, owner)
    except OSError as exc:
        raise BadCommand(f"Cannot open log file {path}: {exc.strerror}") from None
