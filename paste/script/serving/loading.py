# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""Loading the server and the application, through PasteDeploy's public API only.

``loadserver`` and ``loadapp`` do the work; what they raise for a bad
configuration becomes one :class:`~paste.script.command.BadCommand` line.
PasteDeploy hands a runner every option of its section, and its API does
not show them, so the server section is also read here
(:class:`ServerSection`), for two things:

* the engine's own options, ``workers`` and ``graceful_timeout``: passed to
  ``loadserver`` as global variables too, which PasteDeploy (as for any
  name in ``[DEFAULT]``) then leaves out of the options the runner gets;
* naming the option whose value a runner refuses
  (``Bad value for option 'port' in [server:main] of app.ini``).
"""
from __future__ import annotations

import errno
import os

from paste.script.command import BadCommand
from paste.script.util.specs import has_scheme

__all__ = ["ServerSection", "ServerRunner", "ENGINE_OPTIONS", "load_server", "load_app",
           "load_app_and_server", "configure_logging"]

#: Options of a server section that are the engine's, not the runner's.
ENGINE_OPTIONS = ("workers", "graceful_timeout")


class ServerSection:
    """The raw options of the ``[server:NAME]`` section a server is loaded from."""

    def __init__(self, filename: str, name: str, options: dict, globals_=()):
        self.filename = filename
        self.name = name          # the section's name, e.g. "server:main"
        self.options = options
        self.globals = set(globals_)   # [DEFAULT] and var=value names (PasteDeploy's globals)

    def __repr__(self) -> str:
        return f"<ServerSection [{self.name}] of {self.filename}>"

    @property
    def where(self) -> str:
        return f"[{self.name}] of {self.filename}"

    @classmethod
    def find(cls, spec: str, name: str | None, relative_to: str,
             global_conf: dict | None) -> "ServerSection | None":
        """The section ``loadserver(spec, name)`` reads, if it is in a config file."""
        if name and has_scheme(name):     # --server-name config:other.ini#x
            spec, name = name, None
        if "#" in spec:
            spec, fragment = spec.split("#", 1)
            name = name or fragment
        scheme, _, path = spec.partition(":")
        if scheme.lower() != "config":
            return None
        path = os.path.join(relative_to or os.getcwd(), path)
        import configparser
        parser = configparser.ConfigParser(
            defaults={**{k: str(v) for k, v in (global_conf or {}).items()},
                      "here": os.path.dirname(path), "__file__": path},
            interpolation=configparser.BasicInterpolation(), strict=False)
        parser.optionxform = str      # PasteDeploy keeps the case of option names
        try:
            with open(path, encoding="utf-8") as f:
                parser.read_file(f, path)
        except (OSError, UnicodeDecodeError, configparser.Error):
            return None               # PasteDeploy reports that in its words
        wanted = name or "main"
        for section in parser.sections():
            prefix, _, rest = section.partition(":")
            if prefix.strip() == "server" and rest.strip() == wanted:
                options = {}
                for option in parser.options(section):
                    try:
                        options[option] = parser.get(section, option)
                    except configparser.Error:
                        options[option] = parser.get(section, option, raw=True)
                return cls(path, section, options, parser.defaults())
        return None

    def engine_options(self) -> dict:
        return {name: self.options[name] for name in ENGINE_OPTIONS if name in self.options}

    def runner_options(self) -> dict:
        """The options the runner gets (PasteDeploy leaves out ``use`` and globals)."""
        return {k: v for k, v in self.options.items()
                if k != "use" and k not in ENGINE_OPTIONS and " " not in k
                and k not in self.globals}


def load_server(command, spec, name=None, relative_to=None, global_conf=None) -> "ServerRunner":
    """The server runner for ``spec``, wrapped to name bad option values."""
    from paste.deploy import loadserver
    global_conf = dict(global_conf or {})
    section = ServerSection.find(spec, name, relative_to, global_conf)
    if section is not None:
        for option, value in section.engine_options().items():
            global_conf.setdefault(option, value)
    with load_errors(command, spec, "server"):
        server = loadserver(spec, name=name, relative_to=relative_to, global_conf=global_conf)
    return ServerRunner(server, section, spec)


def load_app(command, spec, name=None, relative_to=None, global_conf=None):
    from paste.deploy import loadapp
    with load_errors(command, spec, "application"):
        return loadapp(spec, name=name, relative_to=relative_to, global_conf=dict(global_conf or {}))


def load_app_and_server(command):
    """Configure logging, load the server and the app; return ``(app, server)``.

    A server the monitor loaded from the same configuration just before
    forking (``command.preloaded_server``) is used as it is.
    """
    if command.config_file:
        configure_logging(command, command.config_file)
    server = getattr(command, "preloaded_server", None)
    if server is None:
        server = command.loadserver(command.server_spec, name=command.server_name,
                                    relative_to=command.relative_to,
                                    global_conf=command.global_conf)
    app = command.loadapp(command.app_spec, name=command.app_name,
                          relative_to=command.relative_to, global_conf=command.global_conf)
    return app, server


def configure_logging(command, config_file: str) -> None:
    """Apply the config's ``[loggers]`` section, if it has one."""
    try:
        with open(config_file, encoding="utf-8") as f:
            has_loggers = any(line.strip() == "[loggers]" for line in f)
    except OSError as exc:
        raise BadCommand(f"Cannot read config file {config_file}: {exc.strerror}") from None
    if has_loggers:
        try:
            command.logging_file_config(config_file)
        except Exception as exc:
            raise BadCommand(
                f"Bad logging configuration in {config_file}: "
                f"{type(exc).__name__}: {exc}") from None


class load_errors:
    """Turn what PasteDeploy raises for a bad config into one-line BadCommands."""

    def __init__(self, command, spec: str, what: str):
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
        options = getattr(self.command, "options", None)
        if isinstance(exc, PackageNotFoundError):
            # .name is 3.10+; on 3.9 the name is the exception's argument.
            name = getattr(exc, "name", None) or (exc.args[0] if exc.args else "?")
            raise BadCommand(
                f"Distribution {name!r} not found (from {self.what} {self.spec}): "
                f"is it installed?") from None
        if isinstance(exc, LookupError):
            message = str(exc).strip("'\"")
            if (self.what == "server" and getattr(options, "server", None)
                    and self.spec.startswith("egg:PasteScript#")
                    and "not found in egg" in message):
                message = _unknown_runner(options.server)
            if (self.what == "server" and not getattr(options, "server", None)
                    and not getattr(options, "server_name", None)
                    and getattr(self.command, "config_file", None) is None):
                message += " (give a server with -s/--server, e.g. -s egg:waitress#main)"
            raise BadCommand(message) from None
        if isinstance(exc, OptionError):
            raise BadCommand(str(exc)) from None
        if isinstance(exc, (configparser.ParsingError, configparser.DuplicateSectionError,
                            configparser.DuplicateOptionError)):
            # The file as a whole is broken, whichever section was asked for.
            source = getattr(exc, "source", None) or self.spec
            raise BadCommand(f"Bad configuration file {source}: "
                             f"{' '.join(str(exc).split())}") from None
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


class ServerRunner:
    """Calls the loaded server; a bad option value found only then names the option.

    Runners convert their string options when they start; PasteScript's own
    raise :class:`~paste.script.util.options.OptionError`, others (waitress)
    a bare ``ValueError``: find which option of the server section holds the
    offending value, so the user reads which line to fix.
    """

    def __init__(self, server, section: ServerSection | None, spec: str):
        self.server = server
        self.section = section
        self.spec = spec

    @property
    def options(self) -> dict:
        """The options the runner gets from its section (empty without one)."""
        return self.section.runner_options() if self.section is not None else {}

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
        text = str(exc)
        for name, value in self.options.items():
            if isinstance(value, str) and value.strip() and repr(value.strip()) in text:
                raise BadCommand(f"Bad value for option {name!r} in {self._where()}: "
                                 f"{value!r} ({exc})") from None

    def _where(self) -> str:
        return self.section.where if self.section is not None else self.spec
