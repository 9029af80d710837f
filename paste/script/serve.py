# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""``paster serve``: load a Paste Deploy app and server and run them.

The command composes small parts: :mod:`paste.script.daemon` (pid file,
detaching, stopping, supervising), :mod:`paste.script.privileges`
(``--user``/``--group``) and :mod:`paste.script.reloader` (``--reload``,
imported only when asked for). What is loaded is kept on the instance
(``app_spec``, ``server_spec``, ...) and :meth:`ServeCommand.load_app_and_server`
does the loading, so a reloader can call it again in a fresh child process.
"""
from __future__ import annotations

import errno
import os
import re
import sys

from paste.script.command import BadCommand, Command
from paste.script.reloader import watch_file  # noqa: F401  (re-exported: apps call serve.watch_file)

__all__ = ["ServeCommand"]

_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:", re.I)
ACTIONS = ("start", "stop", "restart", "status")


class ServeCommand(Command):
    summary = "Serve the described application"
    usage = "CONFIG_FILE [start|stop|restart|status] [var=value]"
    description = """\
    This command serves a web application that uses a Paste Deploy
    configuration file for the server and application.

    If start/stop/restart is given, then --daemon is implied, and it will
    start (normal operation), stop (--stop-daemon), or do both. status
    reports whether a daemon runs (LSB exit codes: 0 running, 1 dead with a
    pid file left, 3 not running).

    var=value arguments are available in the configuration file as
    %(var)s, e.g. port = %(http_port)s.
    """
    min_args = 0
    max_args = None
    takes_config_file = 1
    default_verbosity = 1

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

    # Set by _parse_arguments (the reloader relies on these names).
    config_file: str | None = None
    app_spec: str = ""
    app_name: str | None = None
    server_spec: str = ""
    server_name: str | None = None
    global_conf: dict = {}
    relative_to: str = ""
    action: str | None = None

    # -- the command ------------------------------------------------------

    def command(self):
        self._parse_arguments()
        opts = self.options
        if opts.reload and opts.monitor_restart:
            raise BadCommand("--reload and --monitor-restart cannot be used together")
        if self.action == "status" or opts.show_status:
            return self.show_status()
        if self.action in ("stop", "restart") or opts.stop_daemon:
            result = self.stop_daemon()
            if self.action == "stop" or (opts.stop_daemon and self.action != "restart"):
                return result
        if self.action in ("start", "restart"):
            opts.daemon = True
        if opts.daemon:
            opts.pid_file = opts.pid_file or "paster.pid"
            opts.log_file = opts.log_file or "paster.log"
        if opts.reload:
            if opts.daemon:
                raise BadCommand("--reload and --daemon cannot be used together")
            self._identity = self._resolve_identity()
            self._redirect_to_log_file()
            try:
                from paste.script.reloader import run_reloader
            except ImportError:
                raise BadCommand("--reload is not available") from None
            # The monitor holds the pid file (and stays privileged to bind);
            # each worker drops privileges after loading (drop_privileges).
            pid_file = self._acquire_pid_file()
            if pid_file is False:
                return 1
            try:
                return run_reloader(self)
            finally:
                if pid_file is not None:
                    pid_file.release()
        return self.serve()

    def _resolve_identity(self):
        from paste.script import privileges
        try:
            return privileges.resolve(self.options.set_user, self.options.set_group)
        except privileges.PrivilegeError as exc:
            raise BadCommand(str(exc)) from None

    def _acquire_pid_file(self):
        """The locked pid file of ``--pid-file`` (None without one; False if a server runs)."""
        from paste.script import daemon
        if not self.options.pid_file:
            return None
        pid_file = daemon.PidFile(self.options.pid_file)
        try:
            stale = pid_file.acquire()
        except daemon.AlreadyRunning as exc:
            print(exc, file=sys.stderr)
            return False
        except daemon.PidFileError as exc:
            raise BadCommand(str(exc)) from None
        if stale and self.verbose > 1:
            print(f"Replaced stale pid file {pid_file.path} (PID {stale})")
        return pid_file

    def drop_privileges(self) -> None:
        """Switch to ``--user``/``--group`` (called once the app is loaded)."""
        from paste.script import privileges
        privileges.drop_privileges(getattr(self, "_identity", None))

    def _parse_arguments(self) -> None:
        """Turn the arguments into the specs that :meth:`load_app_and_server` uses."""
        args = list(self.args)
        opts = self.options
        if not args:
            if opts.show_status or opts.stop_daemon:
                return  # only the pid file matters
            raise BadCommand("You must give a config file (paster serve CONFIG_FILE)")
        spec = args.pop(0)
        # The action may follow var=value arguments (an [exe] ``add`` puts
        # those before what is typed after ./app.ini).
        actions = [arg for arg in args if arg in ACTIONS]
        if len(actions) > 1:
            raise BadCommand(f"Give one of {'|'.join(ACTIONS)}, not {' and '.join(actions)}")
        if actions:
            self.action = actions[0]
            args.remove(self.action)
        for arg in args:
            if "=" not in arg:
                raise BadCommand(f"Unknown argument {arg!r}: expected "
                                 f"{', '.join(ACTIONS)} or var=value")
        self.global_conf = self.parse_vars(args)
        if not _SCHEME.match(spec) or (len(spec) > 1 and spec[1] == ":" and os.name == "nt"):
            spec = "config:" + spec
        scheme, _, rest = spec.partition(":")
        if scheme.lower() == "config":
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
            if _SCHEME.match(opts.server):
                self.server_spec = opts.server
            else:
                self.server_spec = "egg:PasteScript#" + opts.server
        else:
            self.server_spec = self.app_spec.split("#", 1)[0]
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

    # -- status and stop --------------------------------------------------

    def _pid_file(self):
        from paste.script.daemon import PidFile
        return PidFile(self.options.pid_file or "paster.pid")

    def show_status(self) -> int:
        from paste.script.daemon import PidFileError
        try:
            status = self._pid_file().status()
        except PidFileError as exc:
            raise BadCommand(str(exc), exit_code=4) from None
        print(status.describe())
        return status.code

    def stop_daemon(self) -> int:
        from paste.script.daemon import PidFileError, stop_daemon
        try:
            return stop_daemon(self._pid_file(), log=self._say)
        except PidFileError as exc:
            raise BadCommand(str(exc), exit_code=1) from None

    def _say(self, message: str) -> None:
        if self.verbose > 0:
            print(message)

    # -- serving ------------------------------------------------------------

    def serve(self) -> int:
        """Serve in the foreground, or as a daemon, holding the pid file if any."""
        from paste.script import daemon
        opts = self.options
        identity = self._identity = self._resolve_identity()
        log_fd = self._open_log_file()
        try:
            pid_file = self._acquire_pid_file()
        except BaseException:
            if log_fd is not None:
                os.close(log_fd)
            raise
        if pid_file is False:
            if log_fd is not None:
                os.close(log_fd)
            return 1
        try:
            if identity is not None and identity.uid is not None:
                # Let the server, once unprivileged, still use its files.
                if pid_file is not None:
                    pid_file.chown(identity.uid, -1 if identity.gid is None else identity.gid)
                if log_fd is not None:
                    os.fchown(log_fd, identity.uid, -1 if identity.gid is None else identity.gid)
            if opts.daemon:
                if self.verbose > 0:
                    print(f"Entering daemon mode (log file {opts.log_file})")
                startup = daemon.daemonize(log_fd, log_file=opts.log_file)
                if pid_file is not None:
                    pid_file.write()
            else:
                startup = daemon.Startup()
                if log_fd is not None:
                    daemon.redirect_output(log_fd)
            if log_fd is not None:
                os.close(log_fd)
            daemon.install_exit_handlers()
            if opts.monitor_restart:
                # Only the first child reports to the waiting terminal.
                return daemon.supervise(lambda: self._serve_once(startup, pid_file),
                                        log=self._say, after_fork=startup.close)
            return self._serve_once(startup, pid_file)
        except KeyboardInterrupt:
            return 0
        finally:
            if pid_file is not None:
                pid_file.release()

    def _serve_once(self, startup, pid_file=None) -> int:
        if pid_file is not None:
            pid_file.forget()  # in a supervised child: the parent owns the file
        try:
            app, server = self.load_app_and_server()
            self.drop_privileges()
        except BadCommand as exc:
            startup.failed(exc.message, exc.exit_code)
            raise
        except Exception as exc:
            startup.failed(f"{type(exc).__name__}: {exc}")
            raise
        startup.loaded()
        if self.verbose > 0:
            print(f"Starting server in PID {os.getpid()}.")
            sys.stdout.flush()
        try:
            server(app)
        except BadCommand as exc:
            startup.failed(exc.message, exc.exit_code)
            raise
        except KeyboardInterrupt:
            pass
        except SystemExit as exc:
            if exc.code not in (None, 0):
                raise  # the runner's own verdict, e.g. requests cut on stopping
        except Exception as exc:
            startup.failed(f"{type(exc).__name__}: {exc}")
            raise
        return 0

    def _open_log_file(self) -> int | None:
        path = self.options.log_file
        if not path:
            return None
        try:
            return os.open(os.path.abspath(path),
                           os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise BadCommand(f"Cannot open log file {path}: {exc.strerror}") from None

    def _redirect_to_log_file(self) -> None:
        fd = self._open_log_file()
        if fd is not None:
            from paste.script.daemon import redirect_output
            redirect_output(fd)
            os.close(fd)

    # -- loading (also called by the reloader, possibly in a forked child) --

    def load_app_and_server(self):
        """Configure logging, load the server and the app; return ``(app, server)``.

        ``server(app)`` serves until the process is told to stop.
        """
        if self.config_file:
            self._configure_logging(self.config_file)
        server = self.loadserver(self.server_spec, name=self.server_name,
                                 relative_to=self.relative_to, global_conf=self.global_conf)
        app = self.loadapp(self.app_spec, name=self.app_name,
                           relative_to=self.relative_to, global_conf=self.global_conf)
        return app, server

    def _configure_logging(self, config_file: str) -> None:
        try:
            with open(config_file, encoding="utf-8") as f:
                has_loggers = any(line.strip() == "[loggers]" for line in f)
        except OSError as exc:
            raise BadCommand(f"Cannot read config file {config_file}: {exc.strerror}") from None
        if has_loggers:
            try:
                self.logging_file_config(config_file)
            except Exception as exc:
                raise BadCommand(
                    f"Bad logging configuration in {config_file}: "
                    f"{type(exc).__name__}: {exc}") from None

    def loadserver(self, spec, name=None, relative_to=None, global_conf=None):
        """The server runner for ``spec``, wrapped to name bad option values."""
        loadwsgi = paste_deploy()
        with _load_errors(self, spec, "server"):
            context = loadwsgi.loadcontext(loadwsgi.SERVER, spec, name=name,
                                           relative_to=relative_to,
                                           global_conf=dict(global_conf or {}))
            server = context.create()
        return _ServerRunner(server, context, spec, name)

    def loadapp(self, spec, name=None, relative_to=None, global_conf=None):
        loadwsgi = paste_deploy()
        with _load_errors(self, spec, "application"):
            return loadwsgi.loadapp(spec, name=name, relative_to=relative_to,
                                    global_conf=dict(global_conf or {}))


# ---------------------------------------------------------------------------
# Loading PasteDeploy quickly
#
# ``paster serve`` should answer its first request about as soon as a
# script calling the server directly would (SPEC section 8). Importing
# PasteDeploy imports importlib.metadata (and the email, zipfile, csv...
# packages behind it), which alone costs more than the rest of the start-up,
# and ``inspect`` (with ast, dis, tokenize), which it only needs to explain a
# factory's TypeError. So PasteDeploy is imported seeing stand-ins for those
# two modules (only PasteDeploy keeps them; ``sys.modules`` is restored right
# after): any attribute of a stand-in imports the real module, except
# ``EntryPoint``, which PasteDeploy uses as ``EntryPoint(value=...).load()``
# for ``paste.app_factory = module:attr`` lines and gets directly. ``egg:``
# specs, for which PasteDeploy would call ``distribution()``, are resolved
# through pluginlib's entry-point index (the one the dispatcher uses),
# falling back to PasteDeploy's own loader for anything not found there, so
# errors and corner cases stay exactly PasteDeploy's.

def paste_deploy():
    """``paste.deploy.loadwsgi``, set up for a fast start."""
    loadwsgi = sys.modules.get("paste.deploy.loadwsgi")
    if loadwsgi is None:
        loadwsgi = _import_paste_deploy()
    loaders = getattr(loadwsgi, "_loaders", None)
    # Only where PasteDeploy's internals are the ones this was written for
    # (3.x); another version keeps its own egg: loader, just slower.
    if (isinstance(loaders, dict) and "egg" in loaders
            and all(hasattr(loadwsgi, name) for name in ("LoaderContext", "EggLoader", "_Loader"))
            and not isinstance(loaders["egg"], _FastEggLoading)):
        loaders["egg"] = _FastEggLoading(loadwsgi, loaders["egg"])
    return loadwsgi


def _import_paste_deploy():
    import importlib
    stand_ins = {}
    if "importlib.metadata" not in sys.modules:
        stand_ins["importlib.metadata"] = _StandIn("importlib.metadata",
                                                   EntryPoint=_EntryPointValue)
    if "inspect" not in sys.modules:
        stand_ins["inspect"] = _StandIn("inspect")
    sys.modules.update(stand_ins)
    if "importlib.metadata" in stand_ins:
        importlib.metadata = stand_ins["importlib.metadata"]
    try:
        from paste.deploy import loadwsgi
    finally:
        for name, stand_in in stand_ins.items():
            if sys.modules.get(name) is stand_in:
                del sys.modules[name]
        if getattr(importlib, "metadata", None) is stand_ins.get("importlib.metadata"):
            del importlib.metadata
    return loadwsgi


class _StandIn(type(sys)):
    """A module whose attributes come from the real one, imported on first use."""

    def __init__(self, name: str, **overrides):
        super().__init__(name)
        self.__spec__ = None
        self.__dict__.update(overrides)

    def __getattr__(self, attr):
        import importlib
        return getattr(importlib.import_module(self.__name__), attr)


_ENTRY_POINT = re.compile(r"^(?P<module>[\w.]+)\s*(:\s*(?P<attr>[\w.]+)\s*)?(\[.*\]\s*)?$")


class _EntryPointValue:
    """``importlib.metadata.EntryPoint(name, group, value).load()``, without the import."""

    def __init__(self, name=None, group=None, value=""):
        self.name = name
        self.group = group
        self.value = value

    def load(self):
        match = _ENTRY_POINT.match(self.value)
        if match is None:  # let the real class report the malformed value
            from importlib.metadata import EntryPoint
            return EntryPoint(name=self.name, group=self.group, value=self.value).load()
        import importlib
        obj = importlib.import_module(match.group("module"))
        for part in filter(None, (match.group("attr") or "").split(".")):
            obj = getattr(obj, part)
        return obj


class _LazyDistribution:
    """``LoaderContext.distribution``, looked up only if someone asks for it."""

    def __init__(self, name: str):
        self._name = name
        self._dist = None

    def __getattr__(self, attr):
        if self._dist is None:
            from importlib.metadata import distribution
            self._dist = distribution(self._name)
        return getattr(self._dist, attr)


class _FastEggLoading:
    """The ``egg:`` scheme of PasteDeploy's loader registry, via pluginlib's index."""

    def __init__(self, loadwsgi, fallback):
        self.loadwsgi = loadwsgi
        self.fallback = fallback

    def __call__(self, object_type, uri, spec, name, relative_to, global_conf):
        loadwsgi = self.loadwsgi
        found = None
        if not (name and loadwsgi._Loader._absolute_re.search(name)):
            found = self._find(object_type, spec, name or "main")
        if found is None:
            return self.fallback(object_type, uri, spec, name=name,
                                 relative_to=relative_to, global_conf=global_conf)
        obj, protocol, entry_name = found
        return loadwsgi.LoaderContext(
            obj, object_type, protocol, global_conf or {}, {},
            loadwsgi.EggLoader(spec), distribution=_LazyDistribution(spec),
            entry_point_name=entry_name)

    @staticmethod
    def _find(object_type, spec, name):
        from paste.script import pluginlib
        try:
            groups = {}
            for protocols in object_type.egg_protocols:
                for protocol in protocols:
                    groups[protocol] = [ep for ep in pluginlib.entry_points(protocol, spec)
                                        if ep.name == name]
        except (pluginlib.PluginNotFound, OSError, ValueError):
            return None
        possible = []
        for protocols in object_type.egg_protocols:
            for protocol in protocols:
                if groups[protocol]:
                    entry = groups[protocol][0]
                    possible.append((entry, protocol))
                    break
        if len(possible) != 1:
            return None  # not found or ambiguous: PasteDeploy says so in its words
        entry, protocol = possible[0]
        return entry.load(), protocol, entry.name


class _load_errors:
    """Turn what PasteDeploy raises for a bad config into one-line BadCommands."""

    def __init__(self, command: ServeCommand, spec: str, what: str):
        self.command = command
        self.spec = spec
        self.what = what

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc is None:
            return False
        import configparser
        from importlib.metadata import PackageNotFoundError
        from paste.script.util.options import OptionError
        if isinstance(exc, PackageNotFoundError):
            # .name is 3.10+; on 3.9 the name is the exception's argument.
            name = getattr(exc, "name", None) or (exc.args[0] if exc.args else "?")
            raise BadCommand(
                f"Distribution {name!r} not found (from {self.what} {self.spec}): "
                f"is it installed?") from None
        if isinstance(exc, LookupError):
            message = str(exc).strip("'\"")
            if (self.what == "server" and self.command.options.server
                    and self.spec.startswith("egg:PasteScript#")
                    and "not found in egg" in message):
                message = _unknown_runner(self.command.options.server)
            if (self.what == "server" and not self.command.options.server
                    and not self.command.options.server_name
                    and self.command.config_file is None):
                message += " (give a server with -s/--server, e.g. -s egg:waitress#main)"
            raise BadCommand(message) from None
        if isinstance(exc, OptionError):
            raise BadCommand(str(exc)) from None
        if isinstance(exc, configparser.Error):
            raise BadCommand(f"Bad configuration for {self.what} ({self.spec}): "
                             f"{' '.join(str(exc).split())}") from None
        if isinstance(exc, (FileNotFoundError, IsADirectoryError, PermissionError)):
            raise BadCommand(f"Cannot read {exc.filename}: {exc.strerror}") from None
        return False


def _unknown_runner(name: str) -> str:
    from paste.script import pluginlib
    names = sorted({ep.name for ep in pluginlib.entry_points("paste.server_runner")
                    if ep.value.startswith("paste.script.")})
    return (f"Unknown server runner {name!r} for -s/--server "
            f"(known: {', '.join(names) or 'none'}; or give a full egg: spec)")


def _is_option_error(exc: Exception) -> bool:
    # paste.script.util.options.OptionError, recognised without importing it
    return all(hasattr(exc, attr) for attr in ("name", "value", "expected", "where"))


class _ServerRunner:
    """Calls the loaded server; a bad option value found only then names the option.

    Runners convert their string options when they start; PasteScript's own
    raise :class:`~paste.script.util.options.OptionError`, others (waitress)
    a bare ``ValueError``: find which option of the server section holds the
    offending value, so the user reads which line to fix.
    """

    def __init__(self, server, context, spec: str, name: str | None = None):
        self.server = server
        self.context = context
        self.spec = spec
        self.name = name

    def __call__(self, app):
        # Nothing is imported here: privileges may have been dropped, and the
        # interpreter's own files may not be readable any more.
        try:
            return self.server(app)
        except ValueError as exc:
            if _is_option_error(exc):
                where = self._where()
                if not exc.where or where not in exc.where:
                    exc.where = where
                raise BadCommand(str(exc)) from None
            self._bad_value(exc)
            raise
        except TypeError as exc:
            self._bad_value(exc)
            raise
        except ImportError as exc:
            if hasattr(exc, "extra"):  # a runner's missing optional package
                raise BadCommand(str(exc)) from None
            raise
        except OSError as exc:
            if hasattr(exc, "address"):  # the runners' ListenError names it
                raise BadCommand(str(exc), exit_code=1) from None
            if exc.errno in (errno.EADDRINUSE, errno.EACCES, errno.EADDRNOTAVAIL):
                raise BadCommand(f"Server cannot listen ({self._where()}): {exc.strerror}",
                                 exit_code=1) from None
            raise

    def __getattr__(self, name):
        return getattr(self.server, name)

    def _bad_value(self, exc: Exception) -> None:
        """A BadCommand naming the option whose value ``exc`` complains about."""
        named = self._option_for(exc)
        if named is not None:
            name, value = named
            raise BadCommand(f"Bad value for option {name!r} in {self._where()}: "
                             f"{value!r} ({exc})") from None

    def _where(self) -> str:
        loader = getattr(self.context, "loader", None)
        filename = getattr(loader, "filename", None)
        if not filename:
            return self.spec
        try:
            from paste.deploy.loadwsgi import SERVER
            section = loader.find_config_section(SERVER, name=self.name)
        except Exception:
            section = f"server:{self.name or 'main'}"
        return f"[{section}] of {filename}"

    def _option_for(self, exc: Exception):
        text = str(exc)
        for name, value in (getattr(self.context, "local_conf", None) or {}).items():
            if isinstance(value, str) and value.strip() and repr(value.strip()) in text:
                return name, value
        return None


# ---------------------------------------------------------------------------
# Names the original module exported, kept for code that imports them. The
# daemon machinery itself lives in paste.script.daemon.

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
    from paste.script.daemon import _alive
    pid = read_pidfile(pidfile)
    return pid if pid is not None and _alive(pid) else None


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
