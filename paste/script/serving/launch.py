# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""What ``paster serve`` does once its arguments are parsed.

:func:`run` takes a parsed :class:`~paste.script.serve.ServeCommand` and
performs its action: ``status``, ``stop``, ``restart`` (a SIGHUP to a
running server, waiting for the outcome), ``--check``, or serving, in the
foreground or as a daemon, under the monitor (:mod:`.monitor`). The
process-level mechanisms live elsewhere: pid files and detaching in
:mod:`paste.script.daemon`, ``--user``/``--group`` in
:mod:`paste.script.privileges`. Errors are :class:`.errors.ServeError`
lines; the command turns them into its own.
"""
from __future__ import annotations

import os
import signal
import sys

from paste.script.serving.errors import ServeError

__all__ = ["run", "serve", "stop", "status", "check", "run_reloader"]


def _say(command, message: str) -> None:
    if getattr(command, "verbose", 1) > 0:
        print(message, flush=True)


def run(command) -> int:
    """Perform the action of a parsed ``paster serve`` command."""
    from paste.script.serving.settings import EngineSettings
    opts = command.options
    if opts.reload and opts.monitor_restart:
        raise ServeError("--reload and --monitor-restart cannot be used together")
    if getattr(opts, "check", False):
        return check(command)
    action = command.action
    if _inherited() is not None:
        return serve(command)       # a monitor re-executed by SIGUSR2: it just serves
    if action == "status" or opts.show_status:
        return status(command)
    # Bad settings are refused before anything is stopped or started.
    EngineSettings.from_options(opts)
    if action == "restart":
        reloaded = _reload_running(command)
        if reloaded is not None:
            return reloaded
    if action in ("stop", "restart") or opts.stop_daemon:
        result = stop(command)
        if action == "stop" or (opts.stop_daemon and action != "restart"):
            return result
    if action in ("start", "restart"):
        opts.daemon = True
    if opts.daemon:
        if opts.reload:
            raise ServeError("--reload and --daemon cannot be used together")
        opts.pid_file = opts.pid_file or "paster.pid"
        opts.log_file = opts.log_file or "paster.log"
    return serve(command)


def status(command) -> int:
    """``status``: LSB's answer about the server holding the pid file."""
    from paste.script.daemon import PidFile, PidFileError
    try:
        state = PidFile(command.options.pid_file or "paster.pid").status()
    except PidFileError as exc:
        raise ServeError(str(exc), exit_code=4) from None
    print(state.describe())
    return state.code


def stop(command) -> int:
    """``stop``: SIGTERM, then wait as long as the server's workers may take."""
    from paste.script.daemon import PidFile, PidFileError, stop_daemon
    from paste.script.serving.control import read_state
    pid_file = PidFile(command.options.pid_file or "paster.pid")
    state = read_state(pid_file.path) or {}
    timeout = max(10.0, float(state.get("graceful_timeout") or 0) + 5.0)
    try:
        return stop_daemon(pid_file, timeout=timeout, log=lambda text: _say(command, text))
    except PidFileError as exc:
        raise ServeError(str(exc), exit_code=1) from None


def _reload_running(command) -> int | None:
    """``restart`` of a running server: new workers, same pid; None if none runs."""
    from paste.script.daemon import PidFile, PidFileError
    from paste.script.serving.control import reload_running
    pid_file = PidFile(command.options.pid_file or "paster.pid")
    try:
        state = pid_file.status()
    except PidFileError as exc:
        raise ServeError(str(exc), exit_code=1) from None
    if not state.running or not state.pid:
        return None
    timeout = _start_timeout(command) + 5.0
    try:
        outcome = reload_running(pid_file.path, state.pid, timeout=timeout)
    except PermissionError:
        raise ServeError(f"Not allowed to signal PID {state.pid} (run as its user or root)",
                         exit_code=1) from None
    if outcome is None:
        return None         # a server without a state file: stop and start it
    ok, message = outcome
    if ok:
        _say(command, message)
        return 0
    print(message, file=sys.stderr)
    return 1


def _start_timeout(command) -> float:
    from paste.script.serving.settings import SETTINGS, convert
    raw = getattr(command.options, "start_timeout", None)
    row = next(s for s in SETTINGS if s.name == "start_timeout")
    return row.default if raw is None else convert(row, raw, "on the command line")


# -- serving ------------------------------------------------------------------------

def serve(command) -> int:
    """Serve in the foreground, or as a daemon, holding the pid file if any."""
    from paste.script import daemon
    opts = command.options
    identity = command.identity = _resolve_identity(opts)
    owner = None
    if identity is not None and identity.uid is not None:
        owner = (identity.uid, -1 if identity.gid is None else identity.gid)
    upgrade = _inherited()
    # The pid file first: a server that cannot start leaves no log file behind.
    pid_file = upgrade.pid_file(opts.pid_file) if upgrade is not None else \
        _acquire_pid_file(opts.pid_file, command.verbose, owner)
    if pid_file is False:
        # LSB: starting a daemon that runs succeeds (3.7 also exited 0); a
        # foreground serve that cannot serve has failed.
        return 0 if opts.daemon else 1
    try:
        log_fd = _open_log_file(opts.log_file, owner) if upgrade is None else None
    except BaseException:
        if pid_file is not None:
            pid_file.release()
        raise
    startup = upgrade.startup(pid_file) if upgrade is not None else daemon.Startup()
    stopped_by = None
    try:
        if opts.daemon and upgrade is None:
            _say(command, f"Entering daemon mode (log file {opts.log_file})")
            startup = daemon.daemonize(log_fd, log_file=opts.log_file,
                                       timeout=_start_timeout(command))
            if pid_file is not None:
                pid_file.write()
        elif log_fd is not None:
            daemon.redirect_output(log_fd)
        if log_fd is not None:
            os.close(log_fd)
        if not hasattr(os, "fork"):
            return _serve_in_process(command, startup)
        from paste.script.serving.processes import pause_collector, resume_collector
        pause_collector()       # until the first fork turns it back on
        try:
            monitor = _monitor(command, owner, startup, pid_file)
            code = monitor.run()
        finally:
            resume_collector()  # a start that failed before the first fork
        stopped_by = monitor.stopped_by
        return code
    except ServeError as exc:
        startup.failed(exc.message, exc.exit_code)
        raise
    finally:
        if pid_file is not None and not getattr(command, "handed_over", False):
            pid_file.release()
        if stopped_by == signal.SIGINT:
            raise KeyboardInterrupt      # Ctrl-C: the caller (a shell loop) must see it


def _inherited():
    """What a monitor re-executed by SIGUSR2 inherits (None for any other start)."""
    if "PASTE_SCRIPT_UPGRADE" not in os.environ and "paste.script.serving.upgrade" not in sys.modules:
        return None     # the common case, without importing the module
    from paste.script.serving.upgrade import inherited
    return inherited()


def _monitor(command, owner, startup, pid_file):
    """The monitor, with the settings of the command line and of the server section."""
    from paste.script.serving.loading import load_server_of, resolve_server_name
    from paste.script.serving.monitor import Monitor
    from paste.script.serving.settings import EngineSettings
    opts = command.options
    settings = EngineSettings.from_options(
        opts, reload=bool(opts.reload), reload_interval=_interval(opts.reload_interval),
        monitor_restart=bool(opts.monitor_restart), verbose=command.verbose,
        log_file=opts.log_file, log_owner=owner, startup=startup,
        pid_path=pid_file.path if pid_file else None)
    command.server_name = resolve_server_name(command)
    try:
        # Loaded here, once, so that each fork starts warm (the application
        # itself is only ever loaded by the workers); the first workers use
        # it as it is. An error is the first worker's to report.
        command.preloaded_server = load_server_of(command)
    except Exception:
        command.preloaded_server = None
    server = command.preloaded_server
    if server is not None:
        settings.apply(getattr(server, "engine_options", {}), getattr(server, "where", ""))
        info = getattr(server, "info", None)
        if info is not None and info.manages_processes and settings.workers > 1:
            raise ServeError(f"The server runner {info.name} manages its own worker "
                             "processes: set their number in its section, not with --workers")
    settings.prepare = _preparation(command, settings)
    if settings.access_log:
        from paste.script.serving.accesslog import AccessLogFile
        settings.access_log_file = AccessLogFile(settings.access_log, owner)
    settings.pid_file = pid_file
    return Monitor(command, settings)


def _preparation(command, settings):
    """What each worker does before it loads anything: become what it serves as."""
    def prepare() -> None:
        os.environ.update(settings.env)
        if settings.umask is not None:
            os.umask(settings.umask)
        if settings.chdir:
            try:
                os.chdir(settings.chdir)
            except OSError as exc:
                raise ServeError(f"Cannot change to directory {settings.chdir} (--chdir): "
                                 f"{exc.strerror}") from None
        command.drop_privileges()
    return prepare


def check(command) -> int:
    """``--check``: load the application and the server as a worker would; start nothing."""
    from paste.script.serving.loading import (configure_logging, load_server_of,
                                              resolve_server_name)
    from paste.script.serving.settings import EngineSettings
    opts = command.options
    try:
        command.identity = _resolve_identity(opts)
        settings = EngineSettings.from_options(opts)
        command.server_name = resolve_server_name(command)
        _preparation(command, settings)()
        if command.config_file:
            configure_logging(command, command.config_file)
        server = load_server_of(command)
        settings.apply(getattr(server, "engine_options", {}), getattr(server, "where", ""))
        info = getattr(server, "info", None)
        if info is not None:
            try:
                info.check(server.options)
            except (ValueError, TypeError) as exc:
                server.name_bad_value(exc)
                raise
        command.loadapp(command.app_spec, name=command.app_name,
                        relative_to=command.relative_to, global_conf=command.global_conf)
    except Exception as exc:
        from paste.script.serving.errors import user_message
        from paste.script.serving.loaded import error_summary
        known = user_message(exc)
        print(f"Error: {known[0] if known else error_summary(exc)}", file=sys.stderr)
        return 1
    who = f" as user {command.identity.user}" if command.identity and command.identity.user else ""
    runner = info.name if info is not None else "the server"
    print(f"OK: {command.app_spec} and {getattr(server, 'where', command.server_spec)} "
          f"({runner}) load{who}.")
    return 0


def run_reloader(command) -> int:
    """Serve a command object under the reload monitor (``docs/reload.rst``)."""
    if not hasattr(os, "fork"):
        raise ServeError("--reload needs os.fork(), which this platform does not have")
    from paste.script.serving.monitor import Monitor
    from paste.script.serving.settings import EngineSettings
    options = getattr(command, "options", None)
    settings = EngineSettings(reload=True, verbose=getattr(command, "verbose", 1),
                              reload_interval=_interval(getattr(options, "reload_interval", None)))
    settings.prepare = getattr(command, "drop_privileges", None)
    return Monitor(command, settings).run()


def _interval(value) -> float:
    from paste.script.util.options import asfloat
    return asfloat(value) if value not in (None, "") else 1.0


def _serve_in_process(command, startup) -> int:
    """Without ``os.fork`` (Windows): load and serve in this process, as PasteScript 3 did."""
    from paste.script.daemon import install_exit_handlers
    install_exit_handlers()
    try:
        command.drop_privileges()
        app, server = command.load_app_and_server()
    except ServeError as exc:
        startup.failed(exc.message, exc.exit_code)
        raise
    startup.ready()
    _say(command, f"Starting server in PID {os.getpid()}.")
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
        raise ServeError(str(exc)) from None


def _acquire_pid_file(path: str | None, verbose: int, owner):
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
        raise ServeError(str(exc)) from None
    if owner is not None:
        pid_file.chown(*owner)      # the server's users keep using it once unprivileged
    if stale and verbose > 1:
        print(f"Replaced stale pid file {pid_file.path} (PID {stale})")
    return pid_file


def _open_log_file(path: str | None, owner) -> int | None:
    from paste.script.serving.logfile import open_log
    if not path:
        return None
    try:
        return open_log(path, owner)
    except OSError as exc:
        raise ServeError(f"Cannot open log file {path}: {exc.strerror}") from None
