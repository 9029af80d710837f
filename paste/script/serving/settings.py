# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""``paster serve``'s own settings: declared once, read from the command line or the config.

Each setting is one row of :data:`SETTINGS`: its name, converter, default
and help. ``paster serve`` turns the rows into its options (``--max-requests
N``), so an executable config's ``[exe]`` section sets them too
(``max_requests = 500``). A ``[server:…]`` section may also hold them, but
only where the runner takes no option of that name: the section belongs to
the runner, as it did in 3.7 (``egg:gunicorn#main`` with ``workers = 3`` is
gunicorn's business). The command line wins over the config.
"""
from __future__ import annotations

from paste.script.util.options import (OptionError, asfloat, asint, asoctal, assize, at_least,
                                       positive)

__all__ = ["Setting", "SETTINGS", "EngineSettings", "COMBINED_LOG_FORMAT", "parse_env", "convert",
           "setting"]

#: The Apache combined log format, in gunicorn's atoms.
COMBINED_LOG_FORMAT = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"'


def _text(value: object) -> str:
    return str(value).strip()


_text.expected = "expected some text"


def parse_env(values) -> dict[str, str]:
    """``["A=1", "B=x y"]`` (or one string of such words) -> ``{"A": "1", "B": "x y"}``."""
    if isinstance(values, str):
        values = values.split()
    env = {}
    for item in values or ():
        name, sep, value = str(item).partition("=")
        if not sep or not name.strip() or " " in name.strip():
            raise ValueError(item)
        env[name.strip()] = value
    return env


parse_env.expected = "expected NAME=VALUE"


class Setting:
    """One of ``paster serve``'s own settings."""

    __slots__ = ("name", "convert", "default", "metavar", "help", "repeat")

    def __init__(self, name: str, convert, default, metavar: str, help: str,
                 repeat: bool = False):
        self.name = name            # as in a config (``max_requests``)
        self.convert = convert
        self.default = default
        self.metavar = metavar
        self.help = help
        self.repeat = repeat        # the option may be given more than once

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


SETTINGS: tuple[Setting, ...] = (
    Setting("workers", at_least(asint, 1), 1, "N",
            "Serve with N worker processes (default 1, or workers = N in the server section "
            "when the runner takes no such option)"),
    Setting("graceful_timeout", at_least(asfloat, 0), 30.0, "SECONDS",
            "How long stopping workers may take to finish their requests (default 30)"),
    Setting("start_timeout", positive(asfloat), 60.0, "SECONDS",
            "Give up on new workers that are not serving after SECONDS (default 60)"),
    Setting("worker_timeout", positive(asfloat), None, "SECONDS",
            "Replace a worker whose main loop, or whose every thread, is stuck this long"),
    Setting("max_requests", at_least(asint, 0), 0, "N",
            "Replace each worker gracefully after it has served N requests (0: never)"),
    Setting("max_requests_jitter", at_least(asint, 0), 0, "J",
            "Add a random 0 to J to each worker's --max-requests"),
    Setting("max_worker_memory", assize, None, "SIZE",
            "Replace a worker whose resident memory passes SIZE (e.g. 512M)"),
    Setting("access_log", _text, None, "FILE",
            "Write one line per request to FILE (- for standard error)"),
    Setting("access_log_format", _text, COMBINED_LOG_FORMAT, "FORMAT",
            "The access log's format, in gunicorn's %(x)s atoms (default: Apache combined)"),
    Setting("umask", asoctal, None, "MASK",
            "Set the workers' umask (e.g. 027) before the application loads"),
    Setting("chdir", _text, None, "DIR",
            "Change the workers' directory before the application loads"),
    Setting("env", parse_env, None, "NAME=VALUE",
            "Set an environment variable in the workers (may be repeated)", repeat=True),
)

_BY_NAME = {setting.name: setting for setting in SETTINGS}


class EngineSettings:
    """How the monitor runs: its own settings, and what the command says."""

    def __init__(self, reload: bool = False, reload_interval: float = 1.0,
                 monitor_restart: bool = False, verbose: int = 1, log_file: str | None = None,
                 log_owner: tuple | None = None, pid_path: str | None = None, startup=None,
                 **values):
        from paste.script.daemon import Startup
        for setting in SETTINGS:
            setattr(self, setting.name, values.pop(setting.name, setting.default))
        if values:
            raise TypeError(f"unknown settings: {', '.join(values)}")
        self.given: set[str] = set()        # the settings the command line gave
        self.env = dict(self.env or {})
        self.reload = reload
        self.reload_interval = reload_interval
        self.monitor_restart = monitor_restart
        self.verbose = verbose
        self.log_file = log_file
        self.log_owner = log_owner
        self.pid_path = pid_path
        self.startup = startup or Startup()
        self.prepare = None             # run in each worker before it loads (launch sets it)
        self.access_log_file = None     # the opened --access-log (accesslog.AccessLogFile)
        self.pid_file = None            # the held daemon.PidFile, if any

    @classmethod
    def from_options(cls, options, **kw) -> "EngineSettings":
        """The settings given on the command line (or ``[exe]``), converted."""
        from paste.script.serving.errors import ServeError
        values, given = {}, set()
        for setting in SETTINGS:
            raw = getattr(options, setting.name, None)
            if raw is None or raw == []:
                continue
            try:
                values[setting.name] = convert(setting, raw, "")
            except OptionError as exc:
                raise ServeError(f"Bad value for {setting.flag}: {exc.value!r} "
                                 f"({exc.expected})") from None
            given.add(setting.name)
        settings = cls(**values, **kw)
        settings.given = given
        return settings

    def apply(self, options: dict, where: str) -> None:
        """Take the settings a server section holds (the ones that are not the runner's,
        :class:`.loading.ServerRunner`'s ``engine_options``), unless the command
        line gave them."""
        from paste.script.serving.errors import ServeError
        for name, raw in options.items():
            if name in self.given or name not in _BY_NAME:
                continue
            try:
                value = convert(_BY_NAME[name], raw, where)
            except OptionError as exc:
                raise ServeError(str(exc)) from None
            setattr(self, name, dict(value) if name == "env" else value)


    def worker_options(self, pool_size: int, hold: bool = False):
        """What a worker forked now is told (:class:`.control_thread.WorkerOptions`)."""
        from paste.script.serving.control_thread import WorkerOptions
        access_log = None
        if self.access_log_file is not None:
            from paste.script.serving.accesslog import AccessLog
            access_log = AccessLog(self.access_log_file.fd, self.access_log_format)
        return WorkerOptions(
            reload=self.reload, graceful_timeout=self.graceful_timeout, pool_size=pool_size,
            verbose=self.verbose, hold=hold, worker_timeout=self.worker_timeout,
            max_requests=self.max_requests, max_requests_jitter=self.max_requests_jitter,
            access_log=access_log, prepare=self.prepare)

    def workers_from_config(self, command) -> int | None:
        """On SIGHUP: the number of workers the config now asks for (None: keep)."""
        if "workers" in self.given:
            return None
        from paste.script.serving.loading import load_server_of
        try:
            server = load_server_of(command)
            raw = getattr(server, "engine_options", {}).get("workers")
            return 1 if raw is None else convert(_BY_NAME["workers"], raw, "")
        except Exception:
            return None     # the new workers report the broken config


def convert(setting: Setting, raw, where: str):
    """One setting's value from a string (or a list of them, for one given repeatedly)."""
    try:
        return setting.convert(list(raw) if isinstance(raw, tuple) else raw)
    except (TypeError, ValueError):
        raise OptionError(setting.name, raw, getattr(setting.convert, "expected", "bad value"),
                          where) from None


def setting(name: str) -> Setting:
    """The row of :data:`SETTINGS` called ``name``."""
    return _BY_NAME[name]
