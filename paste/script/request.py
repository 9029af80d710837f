# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""``paster request`` / ``paster post``: one request through the app, no server.

The application described by a config file is loaded in process, called
once with a WSGI environ built from the URL (and, for ``post``, a body read
from stdin), and its response body is written to stdout as bytes. The exit
status says how it went: 0 for 2xx and 3xx, the status class (4 or 5)
otherwise, 1 when the application could not be loaded or raised.
"""
from __future__ import annotations

import io
import os
import re
import sys

from paste.script.command import BadCommand, Command
from paste.script.util.specs import has_scheme

__all__ = ["RequestCommand", "build_environ", "call_app", "Response"]


def __getattr__(name: str):
    # 3.x imported PasteDeploy's loadapp here; importing it only when asked
    # keeps ``paster help``, which imports this module, fast.
    if name == "loadapp":
        from paste.deploy import loadapp
        return loadapp
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")




class Response:
    """What a WSGI application answered: status line, header list, body bytes."""

    def __init__(self, status: str, headers: list, body: bytes):
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def status_code(self) -> int:
        try:
            return int(self.status.split(None, 1)[0])
        except (ValueError, IndexError):
            return 0


def build_environ(url: str, method: str = "GET", body: bytes | None = None,
                  headers: list | tuple = (), query_args: list | tuple = (),
                  errors=None) -> dict:
    """The WSGI environ ``paster request``/``post`` send for ``url``.

    As in PasteScript 3.x: a URL not starting with ``/`` is taken relative
    to ``/.command/``; a full ``http://host/path`` URL gives only its path
    and query (the request is always for ``localhost:80`` over http);
    ``CONTENT_TYPE`` is ``text/plain`` and ``HTTP_ACCEPT`` prefers
    ``text/plain``; ``paste.command_request`` is True. ``headers`` become
    ``HTTP_*`` variables (``Content-Type`` and ``Content-Length`` become
    ``CONTENT_TYPE``/``CONTENT_LENGTH``); ``query_args`` (``name=value``
    strings) are URL-quoted and appended to the URL's query string. A
    ``body`` (for POST) is ``wsgi.input``, with its length.
    """
    from urllib.parse import unquote_to_bytes, urljoin, urlsplit
    parts = urlsplit(urljoin("/.command/", url))
    query = parts.query
    extra = "&".join(_quote_arg(arg) for arg in query_args)
    if extra:
        query = f"{query}&{extra}" if query else extra
    environ = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        # WSGI wants the unquoted path as bytes decoded from latin-1.
        "PATH_INFO": unquote_to_bytes(parts.path).decode("latin-1"),
        "QUERY_STRING": query,
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.0",
        "HTTP_HOST": "localhost",
        "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_TYPE": "text/plain",
        "HTTP_ACCEPT": "text/plain;q=1.0, */*;q=0.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body or b""),
        "wsgi.errors": errors if errors is not None else sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": True,
        "paste.command_request": True,
    }
    if body is not None:
        environ["CONTENT_LENGTH"] = str(len(body))
    for name, value in headers:
        key = name.strip().upper().replace("-", "_")
        if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            environ[key] = value
        else:
            environ[f"HTTP_{key}"] = value
    return environ


def _quote_arg(arg: str) -> str:
    from urllib.parse import quote
    if "=" in arg:
        name, value = arg.split("=", 1)
        return f"{quote(name)}={quote(value)}"
    return quote(arg)


def call_app(app, environ: dict) -> Response:
    """Call a WSGI application once and collect its whole response."""
    answer: dict = {}
    chunks: list[bytes] = []

    def start_response(status, headers, exc_info=None):
        if exc_info and answer and chunks:
            # Body already produced: the application must not change its mind.
            raise exc_info[1].with_traceback(exc_info[2])
        answer["status"], answer["headers"] = status, list(headers)
        return chunks.append

    result = app(environ, start_response)
    try:
        for chunk in result:
            if chunk:
                chunks.append(chunk)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    if not answer:
        raise RuntimeError("the application returned without calling start_response()")
    return Response(answer["status"], answer["headers"], b"".join(chunks))


class RequestCommand(Command):
    """``paster request CONFIG_FILE URL`` and ``paster post CONFIG_FILE URL``."""

    min_args = 2
    usage = "CONFIG_FILE URL [OPTIONS/ARGUMENTS]"
    takes_config_file = 1
    summary = "Run a request for the described application"
    description = """\
    Make one request to the web application described by a Paste Deploy
    configuration file, without starting a server, and write the response
    body to stdout.

    'paster request config.ini /url' requests /url (GET); 'paster post
    config.ini /url < data' POSTs the data read from stdin. A URL that
    does not start with / is relative to /.command/. The request has
    environ['paste.command_request'] = True, so the application can tell
    these calls from normal requests.

    Arguments after the config file and URL that are not options listed
    here (NAME=VALUE, --page=2...) are added to the query string.

    Exit status: 0 for a 2xx or 3xx response, 4 or 5 for a 4xx or 5xx one,
    1 when the application cannot be loaded or raises an exception.
    """

    parser = Command.standard_parser(quiet=True)
    parser.add_option(
        "-n", "--app-name", dest="app_name", metavar="NAME",
        help="Load the named application (default main)")
    parser.add_option(
        "--config-var", dest="config_vars", metavar="NAME:VALUE", action="append",
        help="Variable to make available in the config for %()s substitution "
             "(you can use this option multiple times)")
    parser.add_option(
        "--header", dest="headers", metavar="NAME:VALUE", action="append",
        help="Header to add to the request (you can use this option multiple times)")
    parser.add_option(
        "--display-headers", dest="display_headers", action="store_true",
        help="Display the headers of the response")

    # As in 3.x: these options are paster's wherever they appear; any other
    # argument starting with '-' goes to the application's query string.
    ARG_OPTIONS = ["-n", "--app-name", "--config-var", "--header"]
    OTHER_OPTIONS = ["--display-headers"]
    # ... except these, which are paster's when given before the URL.
    LEADING_OPTIONS = ["-h", "--help", "--verbose", "--quiet"]

    def parse_args(self, args: list) -> None:
        ours, self.app_args = self.split_args(args)
        super().parse_args(ours)

    def split_args(self, args: list) -> tuple[list, list]:
        """(paster's arguments, the application's extra query arguments)."""
        positionals = 1 if os.environ.get("PASTE_CONFIG_FILE") else 2
        ours, theirs = [], []
        seen = 0
        args = list(args)
        while args:
            arg = args.pop(0)
            if not arg.startswith("-"):
                ours.append(arg)
                seen += 1
            elif arg in self.ARG_OPTIONS:
                if not args:
                    raise BadCommand(f"Option {arg} takes an argument")
                ours += [arg, args.pop(0)]
            elif arg.split("=", 1)[0] in self.ARG_OPTIONS or arg in self.OTHER_OPTIONS:
                ours.append(arg)
            elif seen < positionals and (arg in self.LEADING_OPTIONS
                                         or re.fullmatch(r"-[vq]+", arg)):
                ours.append(arg)
            else:
                theirs.append(arg)
        return ours, theirs

    def command(self):
        config_spec, url = self.args[0], self.args[1]
        query_args = list(self.args[2:]) + self.app_args
        global_conf = self.pairs(self.options.config_vars, "--config-var")
        headers = list(self.pairs(self.options.headers, "--header").items())
        method = "POST" if self.command_name.lower() == "post" else "GET"
        body = self.read_input() if method == "POST" else None

        app = self.load_app(config_spec, global_conf)
        environ = build_environ(url, method, body, headers, query_args)
        try:
            response = call_app(app, environ)
        except Exception as exc:
            if self.verbose > 0:
                raise
            raise BadCommand(
                f"The application raised {type(exc).__name__}: {exc} while handling "
                f"{method} {url} (run with -v for the traceback)", exit_code=1) from None
        return self.report(response)

    @staticmethod
    def pairs(items, option: str) -> dict:
        result = {}
        for item in items or ():
            if ":" not in item:
                raise BadCommand(f"Bad option, should be NAME:VALUE: {option}={item}")
            name, value = item.split(":", 1)
            if not name.strip():
                raise BadCommand(f"Bad option, the name is empty: {option}={item}")
            result[name.strip()] = value.strip()
        return result

    # -- collaborators (small methods so tests and subclasses can swap them)

    def read_input(self) -> bytes:
        """The request body for ``post``: all of stdin."""
        stream = getattr(sys.stdin, "buffer", sys.stdin)
        data = stream.read()
        return data.encode("utf-8") if isinstance(data, str) else data

    def output(self) -> io.RawIOBase:
        """Where the response goes (bytes): stdout."""
        sys.stdout.flush()
        return getattr(sys.stdout, "buffer", None) or _TextAsBytes(sys.stdout)

    def load_app(self, config_spec: str, global_conf: dict):
        """Load the application with PasteDeploy; user errors become one line."""
        from paste.deploy import loadapp
        if not has_scheme(config_spec):
            config_path = config_spec
            config_spec = f"config:{config_spec}"
        elif config_spec.startswith("config:"):
            config_path = config_spec[len("config:"):].split("#", 1)[0]
        else:
            config_path = None
        if config_path is not None:
            config_path = config_path.split("#", 1)[0]
            if not os.path.isfile(config_path):
                raise BadCommand(f"Config file not found: {config_path}")
        if self.options.app_name:
            config_spec = f"{config_spec.split('#', 1)[0]}#{self.options.app_name}"
        try:
            return loadapp(config_spec, relative_to=os.getcwd(), global_conf=global_conf)
        except LookupError as exc:
            if self.verbose > 0:
                raise
            raise BadCommand(f"Cannot load the application from {config_spec}: {exc}") from None
        except Exception as exc:
            if self.verbose > 0:
                raise
            raise BadCommand(
                f"Error loading the application from {config_spec}: "
                f"{type(exc).__name__}: {exc} (run with -v for the traceback)",
                exit_code=1) from None

    def report(self, response: Response) -> int:
        out = self.output()
        if self.options.display_headers:
            head = "".join(f"{name}: {value}\n" for name, value in response.headers) + "\n"
            out.write(head.encode("latin-1", "replace"))
        out.write(response.body)
        out.flush()
        code = response.status_code
        if 200 <= code < 400:
            return 0
        if self.verbose >= 0:
            print(response.status, file=sys.stderr)
        return code // 100 if 400 <= code < 600 else 1


class _TextAsBytes:
    """A bytes-accepting face for a text stream that has no ``buffer``."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, data: bytes) -> int:
        self.stream.write(data.decode("utf-8", "replace"))
        return len(data)

    def flush(self) -> None:
        self.stream.flush()
