# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""``paster serve``: load a Paste Deploy app and server and run them.

:class:`ServeCommand` parses the command line and hands over to the
serving engine (:mod:`paste.script.serving`): a monitor process that owns
the listening sockets and runs the application in worker processes
(``--workers``, graceful restarts on SIGHUP and ``restart``, ``--reload``,
systemd). Pid files and detaching live in :mod:`paste.script.daemon`,
``--user``/``--group`` in :mod:`paste.script.privileges`, loading through
PasteDeploy in :mod:`paste.script.serving.loading`. What is loaded is kept
on the instance (``app_spec``, ``server_spec``, ...), and
:meth:`ServeCommand.load_app_and_server` does the loading in each worker.
"""
from __future__ import annotations

import os

from paste.script.command import BadCommand, Command
from paste.script.util.specs import has_scheme
from paste.script.serving import watch_file  # noqa: F401  (re-exported: apps call serve.watch_file)

__all__ = ["ServeCommand"]

ACTIONS = ("start", "stop", "restart", "status")


def _add_setting_options(parser) -> None:
    """``paster serve``'s own settings (:mod:`.serving.settings`), one option each."""
    from paste.script.serving.settings import SETTINGS
    for setting in SETTINGS:
        parser.add_option(setting.flag, dest=setting.name, metavar=setting.metavar,
                          action="append" if setting.repeat else "store", help=setting.help)


def _parser():
    """``paster serve``'s options (3.7's, then the engine's own settings)."""
    parser = Command.standard_parser(quiet=True)
    parser.add_option("-n", "--app-name", dest="app_name", metavar="NAME",
                      help="Load the named application (default main)")
    parser.add_option("-s", "--server", dest="server", metavar="SERVER_TYPE",
                      help="Use the named server runner (egg:PasteScript#NAME), "
                           "or a full egg: or config: spec")
    parser.add_option("--server-name", dest="server_name", metavar="SECTION_NAME",
                      help="Use the named server as defined in the configuration "
                           "file (default: main); config:other.ini reads another file")
    parser.add_option("--daemon", dest="daemon", action="store_true",
                      help="Run in daemon (background) mode")
    parser.add_option("--pid-file", dest="pid_file", metavar="FILENAME",
                      help="Save PID to file (default to paster.pid if running in "
                           "daemon mode)")
    parser.add_option("--log-file", dest="log_file", metavar="LOG_FILE",
                      help="Save output to the given log file (redirects stdout "
                           "and stderr; default paster.log in daemon mode)")
    parser.add_option("--reload", dest="reload", action="store_true",
                      help="Use auto-restart file monitor")
    parser.add_option("--reload-interval", dest="reload_interval", type="float",
                      default=1.0, metavar="SECONDS",
                      help="Seconds between checking files where polling is used "
                           "(low number can cause significant CPU usage)")
    parser.add_option("--monitor-restart", dest="monitor_restart", action="store_true",
                      help="Auto-restart the server if it dies")
    parser.add_option("--status", dest="show_status", action="store_true",
                      help="Show the status of the (presumably daemonized) server")
    parser.add_option("--user", dest="set_user", metavar="USERNAME",
                      help="Set the user (usually only possible when run as root)")
    parser.add_option("--group", dest="set_group", metavar="GROUP",
                      help="Set the group (usually only possible when run as root)")
    parser.add_option("--stop-daemon", dest="stop_daemon", action="store_true",
                      help="Stop a daemonized server (given a PID file, or default "
                           "paster.pid file)")
    parser.add_option("--check", dest="check", action="store_true",
                      help="Load the application and the server as a worker would, print "
                           "one line and exit (0: they load; 1: the error); start nothing")
    _add_setting_options(parser)
    return parser


class ServeCommand(Command):
    summary = "Serve the described application"
    usage = "CONFIG_FILE [start|stop|restart|status] [var=value]"
    description = """\
    This command serves a web application that uses a Paste Deploy
    configuration file for the server and application.

    If start/stop/restart is given, then --daemon is implied, and it will
    start (normal operation), stop (--stop-daemon), or do both. restart of a
    running server loads the new code in new workers (SIGHUP) and keeps the
    old ones serving if it fails. status reports whether a daemon runs (LSB
    exit codes: 0 running, 1 dead with a pid file left, 3 not running).

    var=value arguments are available in the configuration file as
    %(var)s, e.g. port = %(http_port)s.
    """
    min_args = 0
    max_args = None
    takes_config_file = 1
    default_verbosity = 1

    parser = _parser()

    #: The actions that may follow the config file (3.x's name for them).
    possible_subcommands = ACTIONS
    #: False in subclasses that serve without a config file: then the first
    #: argument may be an action, and ``loadapp``/``loadserver`` get "".
    requires_config_file = True

    # Set by _parse_arguments (the serving engine relies on these names).
    config_file: str | None = None
    app_spec: str = ""
    app_name: str | None = None
    server_spec: str = ""
    server_name: str | None = None
    global_conf: dict = {}
    relative_to: str = ""
    action: str | None = None
    server_fragment: str | None = None
    # The monitor's server, loaded from the same config, for the first workers.
    preloaded_server = None

    # The --user/--group identity (privileges.Identity), once resolved.
    identity = None
    # Set on a monitor whose pid file a re-executed monitor took over (SIGUSR2).
    handed_over = False

    def command(self):
        from paste.script.serving import launch
        from paste.script.serving.errors import ServeError
        try:
            self._parse_arguments()
            return launch.run(self)
        except ServeError as exc:
            raise BadCommand(exc.message, exit_code=exc.exit_code) from None

    def _parse_arguments(self) -> None:
        """Turn the arguments into the specs that :meth:`load_app_and_server` uses."""
        args = list(self.args)
        opts = self.options
        subcommands = tuple(self.possible_subcommands)
        if not self.requires_config_file:
            spec = ""
        elif not args:
            if opts.show_status or opts.stop_daemon:
                return  # only the pid file matters
            raise BadCommand("You must give a config file (paster serve CONFIG_FILE)")
        else:
            spec = args.pop(0)
        # The action may follow var=value arguments (an [exe] ``add`` puts
        # those before what is typed after ./app.ini).
        actions = [arg for arg in args if arg in subcommands]
        if len(actions) > 1:
            raise BadCommand(f"Give one of {'|'.join(subcommands)}, not {' and '.join(actions)}")
        if actions:
            self.action = actions[0]
            args.remove(self.action)
        for arg in args:
            if "=" not in arg:
                raise BadCommand(f"Unknown argument {arg!r}: expected "
                                 f"{', '.join(subcommands)} or var=value")
        self.global_conf = self.parse_vars(args)
        if spec and not has_scheme(spec):
            spec = "config:" + spec
        scheme, _, rest = spec.partition(":")
        if not spec:
            self.config_file = None
            self.app_spec = ""
            self.relative_to = os.getcwd()
        elif scheme.lower() == "config":
            path, _, fragment = rest.partition("#")
            path = os.path.abspath(path)
            self.config_file = path
            self.app_spec = "config:" + path + (f"#{fragment}" if fragment else "")
            self.relative_to = os.path.dirname(path)
        else:
            self.config_file = None
            self.app_spec = spec
            self.relative_to = os.getcwd()
        self.app_name = opts.app_name
        self.server_name = opts.server_name
        if opts.server:
            if self.server_name:
                raise BadCommand("Give either -s/--server or --server-name, not both")
            if has_scheme(opts.server):
                self.server_spec = opts.server
            else:
                self.server_spec = "egg:PasteScript#" + opts.server
        else:
            self.server_spec, _, fragment = self.app_spec.partition("#")
            # 3.7: cfg.ini#name serves on [server:name] when there is one.
            self.server_fragment = fragment or None
        if self.config_file and self.action not in ("stop", "status") \
                and not (opts.stop_daemon or opts.show_status):
            self._check_config_file(self.config_file)

    @staticmethod
    def _check_config_file(path: str) -> None:
        if os.path.isdir(path):
            raise BadCommand(f"{path} is a directory, not a config file")
        if not os.path.exists(path):
            raise BadCommand(f"Config file not found: {path}")
        if not os.access(path, os.R_OK):
            raise BadCommand(f"Config file not readable: {path}")

    # -- what the engine calls back ------------------------------------------------

    def show_status(self) -> int:
        """``status``: print whether the daemon runs; return LSB's exit code."""
        return self._engine_call("status")

    def stop_daemon(self) -> int:
        """``stop``: stop the daemon holding the pid file; return the exit code."""
        return self._engine_call("stop")

    def _engine_call(self, name: str) -> int:
        from paste.script.serving import launch
        from paste.script.serving.errors import ServeError
        try:
            return getattr(launch, name)(self)
        except ServeError as exc:
            raise BadCommand(exc.message, exit_code=exc.exit_code) from None

    def drop_privileges(self) -> None:
        """Switch to ``--user``/``--group`` (each worker does, before it loads the app)."""
        from paste.script import privileges
        privileges.drop_privileges(self.identity)

    def load_app_and_server(self):
        """Configure logging, load the server and the app; return ``(app, server)``.

        ``server(app)`` serves until the process is told to stop.
        """
        from paste.script.serving.loading import load_app_and_server
        return self._loading(load_app_and_server, self)

    def loadserver(self, spec, name=None, relative_to=None, global_conf=None):
        """The server runner for ``spec``, wrapped to name bad option values."""
        from paste.script.serving.loading import load_server
        return self._loading(load_server, self, spec, name, relative_to, global_conf)

    def loadapp(self, spec, name=None, relative_to=None, global_conf=None):
        from paste.script.serving.loading import load_app
        return self._loading(load_app, self, spec, name, relative_to, global_conf)

    @staticmethod
    def _loading(function, *args):
        from paste.script.serving.errors import ServeError
        try:
            return function(*args)
        except ServeError as exc:
            raise BadCommand(exc.message, exit_code=exc.exit_code) from None

    # -- 3.x's methods, for subclasses and code that call them ----------------------
    # paster serve itself goes through the serving engine; these do, one at a
    # time, what they did in 3.x.

    def restart_with_reloader(self) -> int:
        """Serve under the reload monitor (``--reload``); return the exit status."""
        self.options.reload = True
        return self.restart_with_monitor(reloader=True)

    def restart_with_monitor(self, reloader: bool = False) -> int:
        """Serve under the monitor, which replaces a worker that dies; with
        ``reloader``, the reload monitor. Return the exit status."""
        from paste.script.serving import launch
        from paste.script.serving.errors import ServeError
        if not (self.app_spec or self.config_file):
            self._parse_arguments()
        try:
            if reloader:
                return launch.run_reloader(self)
            return launch.serve(self)
        except ServeError as exc:
            raise BadCommand(exc.message, exit_code=exc.exit_code) from None

    def daemonize(self) -> None:
        """Detach this process (double fork, new session, stdio to /dev/null).

        Raises :class:`DaemonizeException` when the pid file names a live
        server. Returns in the daemon; the original process exits 0.
        """
        from paste.script import daemon
        pid_file = self.options.pid_file
        pid = live_pidfile(pid_file) if pid_file else None
        if pid:
            raise DaemonizeException(
                f"Daemon is already running (PID: {pid} from PID file {pid_file})")
        if self.verbose > 0:
            print("Entering daemon mode")
        startup = daemon.daemonize()
        startup.ready()
        startup.close()

    def record_pid(self, pid_file: str) -> None:
        """Write this process's pid to ``pid_file``, removed again when it exits
        (SIGTERM included: it becomes a ``SystemExit``, so no stale file stays)."""
        import atexit
        from paste.script.daemon import PidFile, PidFileError, install_exit_handlers
        if self.verbose > 1:
            print(f"Writing PID {os.getpid()} to {pid_file}")
        record = PidFile(pid_file)
        try:
            record.acquire()
            record.write()
        except PidFileError as exc:
            raise BadCommand(str(exc)) from None
        atexit.register(record.release)
        install_exit_handlers()

    def change_user_group(self, user, group) -> None:
        """Switch to ``user`` and ``group`` (names or numbers) now; as root only."""
        from paste.script import privileges
        try:
            identity = privileges.resolve(user, group)
        except privileges.PrivilegeError as exc:
            raise BadCommand(str(exc)) from None
        if identity is None:
            return
        if self.verbose > 0:
            print(f"Changing user to {identity.user}:{group or '(unknown)'} "
                  f"({identity.uid}:{identity.gid})")
        privileges.drop_privileges(identity)


# ---------------------------------------------------------------------------
# Names the original module exported, kept for code that imports them. The
# daemon machinery itself lives in paste.script.daemon.

def __getattr__(name: str):
    # 3.x imported PasteDeploy's loadapp and loadserver here; importing it
    # only when asked keeps ``paster help``, which imports this module, fast.
    if name in ("loadapp", "loadserver"):
        import paste.deploy
        return getattr(paste.deploy, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class DaemonizeException(Exception):
    """Daemon start-up refused (kept for code that catches it)."""


def read_pidfile(filename: str) -> int | None:
    """The pid recorded in ``filename``; None when missing, empty or unreadable."""
    from paste.script.daemon import PidFile, PidFileError
    try:
        return PidFile(filename).read()
    except PidFileError:
        return None


def live_pidfile(pidfile: str) -> int | None:
    """The pid of ``pidfile`` if that process is alive, else None."""
    from paste.script.daemon import process_alive
    pid = read_pidfile(pidfile)
    return pid if pid is not None and process_alive(pid) else None


class LazyWriter:
    """A file opened on its first write (so an unused log file is never created)."""

    def __init__(self, filename: str, mode: str = "w"):
        import threading
        self.filename = filename
        self.mode = mode
        self.fileobj = None
        self.lock = threading.Lock()

    def open(self):
        with self.lock:
            if self.fileobj is None:
                self.fileobj = open(self.filename, self.mode)
        return self.fileobj

    def write(self, text: str) -> None:
        fileobj = self.open()
        fileobj.write(text)
        fileobj.flush()

    def writelines(self, lines) -> None:
        fileobj = self.open()
        fileobj.writelines(lines)
        fileobj.flush()

    def flush(self) -> None:
        self.open().flush()


def ensure_port_cleanup(bound_addresses, maxtries: int = 30, sleeptime: float = 2) -> None:
    """At exit, wait until nothing listens on ``bound_addresses`` any more."""
    import atexit
    atexit.register(_wait_for_ports_free, bound_addresses, maxtries, sleeptime)


def _wait_for_ports_free(bound_addresses, maxtries: int, sleeptime: float) -> None:
    import socket
    import time
    for host, port in bound_addresses:
        for _ in range(maxtries):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
                try:
                    probe.connect((host, port))
                except OSError:
                    break  # nothing answers: the port is free
            time.sleep(sleeptime)
        else:
            raise SystemExit(f"Timeout waiting for port {host}:{port} to be free")
