# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""Loading the server and the application, through PasteDeploy's public API only.

``loadapp`` loads the application; the server section is loaded with
``loadcontext(SERVER, …)``, which gives the runner and the section's options
as PasteDeploy read them (``use = config:other.ini`` and ``set`` overrides
included). The options go to the runner, but for ``paster serve``'s own
settings (:mod:`.settings`) that the runner does not take
(:meth:`.runners.RunnerInfo.takes`): those are the engine's. What PasteDeploy
raises for a bad configuration becomes one :class:`~.errors.ServeError` line.
"""
from __future__ import annotations

import errno
import os

from paste.script.serving.errors import ServeError

__all__ = ["ServerRunner", "load_server", "load_app", "load_app_and_server",
           "configure_logging", "resolve_server_name"]


def resolve_server_name(command) -> str | None:
    """The server section ``paster serve cfg.ini#name`` means.

    ``--server-name`` wins; else, as in 3.7, ``#name`` names the server
    section too when the config has a ``[server:name]``; else ``main``.
    """
    name = getattr(command, "server_name", None)
    fragment = getattr(command, "server_fragment", None)
    if name or not fragment or not getattr(command, "config_file", None):
        return name
    from paste.deploy.loadwsgi import SERVER, ConfigLoader
    try:
        ConfigLoader(command.config_file).find_config_section(SERVER, fragment)
    except (LookupError, OSError, ValueError):
        return None
    except Exception:      # a broken file: loading reports it in its words
        return None
    return fragment


def load_server(command, spec, name=None, relative_to=None, global_conf=None) -> "ServerRunner":
    """The server runner for ``spec``, with its section split between it and the engine."""
    from paste.deploy.loadwsgi import SERVER, loadcontext

    from paste.script.serving.runners import describe
    from paste.script.serving.settings import SETTINGS
    with load_errors(command, spec, "server"):
        context = loadcontext(SERVER, spec, name=name, relative_to=relative_to,
                              global_conf=dict(global_conf or {}))
    info = describe(context.object)
    section = dict(context.local_conf)
    own = {s.name: section[s.name] for s in SETTINGS
           if s.name in section and not info.takes(s.name)}
    context.local_conf = {k: v for k, v in section.items() if k not in own}
    if info.adapter is not None:
        context.object = info.adapter
    with load_errors(command, spec, "server"):
        server = context.create()
    return ServerRunner(server, info, context.local_conf, own, _where(spec, name))


def _where(spec: str, name: str | None) -> str:
    if name and ":" in name:          # --server-name config:other.ini[#name]
        spec, name = name, None
    scheme, _, rest = spec.partition(":")
    if scheme.lower() != "config":
        return spec
    path, _, fragment = rest.partition("#")
    return f"[server:{name or fragment or 'main'}] of {os.path.abspath(path)}"


def load_app(command, spec, name=None, relative_to=None, global_conf=None):
    from paste.deploy import loadapp
    with load_errors(command, spec, "application"):
        return loadapp(spec, name=name, relative_to=relative_to, global_conf=dict(global_conf or {}))


def load_server_of(command):
    """``command``'s server, as its ``loadserver`` (a 3.x method subclasses override) gives it."""
    return command.loadserver(command.server_spec, name=command.server_name,
                              relative_to=command.relative_to, global_conf=command.global_conf)


def load_app_and_server(command):
    """Configure logging, load the server and the app; return ``(app, server)``.

    A server the monitor loaded from the same configuration just before
    forking (``command.preloaded_server``) is used as it is.
    """
    if command.config_file:
        configure_logging(command, command.config_file)
    server = getattr(command, "preloaded_server", None)
    if server is None:
        server = load_server_of(command)
    app = command.loadapp(command.app_spec, name=command.app_name,
                          relative_to=command.relative_to, global_conf=command.global_conf)
    return app, server


def configure_logging(command, config_file: str) -> None:
    """Apply the config's ``[loggers]`` section, if it has one."""
    try:
        with open(config_file, encoding="utf-8") as f:
            has_loggers = any(line.strip() == "[loggers]" for line in f)
    except OSError as exc:
        raise ServeError(f"Cannot read config file {config_file}: {exc.strerror}") from None
    if has_loggers:
        try:
            command.logging_file_config(config_file)
        except Exception as exc:
            raise ServeError(
                f"Bad logging configuration in {config_file}: "
                f"{type(exc).__name__}: {exc}") from None


class load_errors:
    """Turn what PasteDeploy raises for a bad config into one-line ServeErrors."""

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
            raise ServeError(
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
            raise ServeError(message) from None
        if isinstance(exc, OptionError):
            raise ServeError(str(exc)) from None
        if isinstance(exc, (configparser.ParsingError, configparser.DuplicateSectionError,
                            configparser.DuplicateOptionError)):
            # The file as a whole is broken, whichever section was asked for.
            source = getattr(exc, "source", None) or self.spec
            raise ServeError(f"Bad configuration file {source}: "
                             f"{' '.join(str(exc).split())}") from None
        if isinstance(exc, configparser.Error):
            raise ServeError(f"Bad configuration for {self.what} ({self.spec}): "
                             f"{' '.join(str(exc).split())}") from None
        if isinstance(exc, (FileNotFoundError, IsADirectoryError, PermissionError)):
            raise ServeError(f"Cannot read {exc.filename}: {exc.strerror}") from None
        return False


def _unknown_runner(name: str) -> str:
    from paste.script import pluginlib
    names = sorted({ep.name for ep in pluginlib.entry_points("paste.server_runner")
                    if ep.value.startswith("paste.script.")})
    return (f"Unknown server runner {name!r} for -s/--server "
            f"(known: {', '.join(names) or 'none'}; or give a full egg: spec)")


class ServerRunner:
    """Calls the loaded server; a bad option value found only then names the option.

    Runners convert their string options when they start; PasteScript's own
    raise :class:`~paste.script.util.options.OptionError`, others (waitress)
    a bare ``ValueError``: find which option of the server section holds the
    offending value, so the user reads which line to fix.

    ``info`` (:class:`.runners.RunnerInfo`) is what the engine knows of the
    runner, ``options`` what the runner gets, ``engine_options`` the
    section's settings that are ``paster serve``'s own.
    """

    def __init__(self, server, info, options: dict, engine_options: dict, where: str):
        self.server = server
        self.info = info
        self.options = options
        self.engine_options = engine_options
        self.where = where

    def __call__(self, app):
        # Nothing is imported here: privileges may have been dropped, and the
        # interpreter's own files may not be readable any more.
        from paste.script.util.options import OptionError
        try:
            return self.server(app)
        except OptionError as exc:
            if not exc.where or self.where not in exc.where:
                exc.where = self.where
            raise ServeError(str(exc)) from None
        except (ValueError, TypeError) as exc:
            self.name_bad_value(exc)
            raise
        except ImportError as exc:
            if hasattr(exc, "extra"):  # a runner's missing optional package
                raise ServeError(str(exc)) from None
            raise
        except OSError as exc:
            if hasattr(exc, "address"):  # the runners' ListenError names it
                raise ServeError(str(exc), exit_code=1) from None
            if exc.errno in (errno.EADDRINUSE, errno.EACCES, errno.EADDRNOTAVAIL):
                raise ServeError(f"Server cannot listen ({self.where}): {exc.strerror}",
                                 exit_code=1) from None
            raise

    def __getattr__(self, name):
        return getattr(self.server, name)

    def threads(self) -> int | None:
        """How many requests the runner answers at once, if known."""
        return self.info.threads(self.options)

    def name_bad_value(self, exc: Exception) -> None:
        """Raise a ServeError naming the option whose value ``exc`` complains about."""
        text = str(exc)
        for name, value in self.options.items():
            if isinstance(value, str) and value.strip() and repr(value.strip()) in text:
                raise ServeError(f"Bad value for option {name!r} in {self.where}: "
                                 f"{value!r} ({exc})") from None
