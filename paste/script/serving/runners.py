# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""What the engine knows about server runners, and how it hands them its sockets.

A ``paste.server_runner`` is a black box: ``runner(app, global_conf,
**options)`` serves until it returns. The engine needs three facts about it:

* which options it takes (:meth:`RunnerInfo.takes`): a ``[server:…]``
  option of that name is the runner's, otherwise ``paster serve`` may read
  it as its own (``workers``);
* how many request threads it runs (:meth:`RunnerInfo.threads`), for
  ``--worker-timeout``;
* whether it gets its listening sockets from the monitor. PasteScript's
  own runners ask for them (:func:`paste.script.serving.listen`); waitress
  takes pre-bound sockets through its documented ``sockets`` argument, which
  :func:`serve_waitress` uses. Any other runner binds its own socket: it
  serves from one process, and a reload stops the old one before the new
  one starts.

A runner that manages processes of its own (gunicorn's paste runner) runs
as 3.7 ran it: one process, the whole section passed to it.
"""
from __future__ import annotations

import importlib
import socket

__all__ = ["RunnerInfo", "describe", "serve_waitress", "waitress_addresses", "OncePerSecond"]

#: Option names by which runners size their request thread pools.
_THREAD_OPTIONS = ("threads", "numthreads", "maxThreads", "max_threads")
_WAITRESS_ADDRESS_OPTIONS = ("host", "port", "listen", "unix_socket", "unix_socket_perms")


class RunnerInfo:
    """What is known of one runner (by default: nothing, so it takes every option)."""

    #: It forks processes of its own and must be the only one serving.
    manages_processes = False

    def __init__(self, runner, options=None, defaults=None, adapter=None):
        self.runner = runner
        self.options = options          # the names it takes (None: unknown, all)
        self.defaults = defaults or {}
        self.adapter = adapter          # called in its place (same signature)

    @property
    def name(self) -> str:
        module = getattr(self.runner, "__module__", None) or "?"
        return f"{module}:{getattr(self.runner, '__qualname__', '?')}"

    def takes(self, option: str) -> bool:
        """Whether an option of this name in its section is the runner's."""
        return self.options is None or option in self.options

    def check(self, options: dict) -> None:
        """Raise for an option the runner would refuse (``paster serve --check``)."""
        if self.adapter is serve_waitress:
            check_waitress(options)
        elif self.options is not None and getattr(self.runner, "__module__", "").startswith(
                "paste.script."):
            from paste.script.runners_common import runner_options
            table = importlib.import_module(self.runner.__module__).OPTIONS
            runner_options(options, table, self.name)

    def threads(self, local_conf: dict) -> int | None:
        """How many requests it runs at once, if known."""
        for name in _THREAD_OPTIONS:
            value = local_conf.get(name, self.defaults.get(name))
            if value is not None and (self.options is None or name in self.options):
                try:
                    return max(1, int(value))
                except (TypeError, ValueError):
                    return None
        return None


class _ProcessManager(RunnerInfo):
    manages_processes = True


# waitress's documented arguments (waitress.readthedocs.io, "Arguments to
# waitress.serve"): none of them is one of paster serve's own settings.
_WAITRESS_OPTIONS = frozenset("""
    host port listen ipv4 ipv6 unix_socket unix_socket_perms sockets threads trusted_proxy
    trusted_proxy_count trusted_proxy_headers log_untrusted_proxy_headers clear_untrusted_proxy_headers
    url_scheme url_prefix ident backlog recv_bytes send_bytes outbuf_overflow
    outbuf_high_watermark inbuf_overflow connection_limit cleanup_interval channel_timeout
    log_socket_errors max_request_header_size max_request_body_size expose_tracebacks
    asyncore_loop_timeout asyncore_use_poll channel_request_lookahead server_name
""".split())


def describe(runner) -> RunnerInfo:
    """What the engine knows about ``runner`` (the object a server section names)."""
    module = getattr(runner, "__module__", "") or ""
    name = getattr(runner, "__name__", "")
    if module == "waitress" and name == "serve_paste":
        return RunnerInfo(runner, _WAITRESS_OPTIONS, {"threads": 4}, adapter=serve_waitress)
    if module.startswith("gunicorn"):
        return _ProcessManager(runner)
    if module.startswith("paste.script."):
        try:
            table = importlib.import_module(module)
        except ImportError:
            return RunnerInfo(runner)
        options = getattr(runner, "options", None) or getattr(table, "OPTIONS", None)
        defaults = getattr(table, "DEFAULTS", None)
        return RunnerInfo(runner, frozenset(options) if options is not None else None,
                          defaults)
    return RunnerInfo(runner)


# -- waitress ------------------------------------------------------------------

def waitress_addresses(options: dict) -> tuple[list, int | None]:
    """Where waitress would listen for these options, and the Unix socket's mode.

    Follows waitress's documented meaning: ``unix_socket`` (with
    ``unix_socket_perms``, default 600), else each ``listen`` entry
    (``host:port``, ``[v6]:port``, ``*:port``), else ``host`` (default
    ``0.0.0.0``) and ``port`` (default 8080); every address a name resolves
    to, limited by ``ipv4``/``ipv6``.
    """
    from paste.script.runners_common import passive_addresses
    from paste.script.util.options import asbool
    if options.get("unix_socket"):
        return [str(options["unix_socket"])], int(str(options.get("unix_socket_perms", "600")), 8)
    if options.get("listen"):
        entries = str(options["listen"]).split()
    else:
        entries = [f"{options.get('host', '0.0.0.0')}:{options.get('port', 8080)}"]
    family = socket.AF_UNSPEC
    ipv4, ipv6 = asbool(options.get("ipv4", True)), asbool(options.get("ipv6", True))
    if ipv4 and not ipv6:
        family = socket.AF_INET
    elif ipv6 and not ipv4:
        family = socket.AF_INET6
    addresses = []
    for entry in entries:
        host, _, port = entry.rpartition(":")
        if not host or "]" in port:
            host, port = entry, str(options.get("port", 8080))
        host = host.strip("[]")
        if not port.strip().isdigit():
            from paste.script.util.options import OptionError
            name = "listen" if options.get("listen") else "port"
            raise OptionError(name, options.get(name, port), "expected a port number")
        try:
            infos = passive_addresses(None if host == "*" else host, int(port), family,
                                      socket.IPPROTO_TCP)
        except OSError as exc:
            from paste.script.runners_common import format_address, listen_error
            raise listen_error(exc, format_address(host, port)) from None
        for info in infos:
            address = info[4][:2]
            if address not in addresses:
                addresses.append(address)
    return addresses, None


class OncePerSecond:
    """A logging filter: the same message at most once a second, then how many were left out.

    Out of file descriptors, waitress logs a traceback each time its loop
    finds the listening socket readable (hundreds a second), and under load
    a "Task queue depth" warning for nearly every request (those have
    :class:`QueueWarnings`); one line a second says as much. Keyed by the
    message's format string, so it holds no more than the code has messages.
    """

    def __init__(self, interval: float = 1.0):
        self.interval = interval
        self._last: dict = {}           # format string -> [when, left out since]

    def filter(self, record) -> bool:
        import time
        now = time.monotonic()
        key = record.msg
        seen = self._last.get(key)
        if seen is not None and now - seen[0] < self.interval:
            seen[1] += 1
            return False
        if seen is not None and seen[1]:
            record.msg = f"{key} ({seen[1]} more like it in the last {now - seen[0]:.0f}s)"
            record.exc_info = record.exc_text = None
        self._last[key] = [now, 0]
        return True


class QueueWarnings:
    """A logging filter for waitress's "Task queue depth" warnings: one a second, and
    none made in between.

    Under load waitress warns for nearly every request it queues, and a
    filter only drops a record once it is made (the caller's frame looked
    up, a ``LogRecord`` built): that was a quarter of a hello-world
    worker's time under wrk. So once a warning has gone out, its logger is
    set to ``ERROR`` for ``interval`` seconds (a timer gives it back its
    level), and the warnings meanwhile are never made.
    """

    def __init__(self, logger, interval: float = 1.0):
        self.logger = logger
        self.interval = interval
        self._muted_before = False

    def filter(self, record) -> bool:
        import logging
        import threading
        if self._muted_before:
            record.msg = f"{record.msg} (one such warning a second at most)"
        self._muted_before = True
        level = self.logger.level
        self.logger.setLevel(logging.ERROR)
        timer = threading.Timer(self.interval, self.logger.setLevel, args=(level,))
        timer.daemon = True
        timer.start()
        return True


def serve_waitress(app, global_conf, **options):
    """``egg:waitress#main``, on the monitor's sockets (waitress's ``sockets`` argument)."""
    import logging

    import waitress

    from paste.script import serving
    addresses, mode = waitress_addresses(options)
    rest = {k: v for k, v in options.items() if k not in _WAITRESS_ADDRESS_OPTIONS}
    backlog = int(rest.get("backlog", 1024))
    sockets = [serving.listen(address, backlog=backlog, mode=mode) for address in addresses]
    logging.basicConfig()      # as waitress.serve does: its warnings reach stderr
    # A logger's filter sees only its own records: waitress's queue warnings
    # ("Task queue depth is 2", one per request under load) have their own.
    logging.getLogger("waitress").addFilter(OncePerSecond())
    queue = logging.getLogger("waitress.queue")
    queue.addFilter(QueueWarnings(queue))
    server = waitress.create_server(app, sockets=sockets, **rest)
    server.print_listen("Serving on http://{}:{}")
    serving.ready()
    server.run()


def check_waitress(options: dict) -> None:
    """Raise ``ValueError`` for an option waitress would refuse (``paster serve --check``)."""
    # waitress has no public validator; Adjustments is the class its
    # create_server() builds from the options, documented as their table.
    from waitress.adjustments import Adjustments
    waitress_addresses(options)
    Adjustments(**{k: v for k, v in options.items() if k not in _WAITRESS_ADDRESS_OPTIONS})
