# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""``--access-log``: one line per request, written by the worker whatever the runner.

The format is gunicorn's: ``%(name)s`` atoms in a Python %-format, the
Apache combined format by default. The atoms:

=========  ==================================================================
``h``      client address (``REMOTE_ADDR``: behind a trusted proxy, the one
           the runner worked out from the proxy's headers)
``l``      ``-``
``u``      user name (``REMOTE_USER``) or ``-``
``t``      when the request began, ``[10/Oct/2026:13:55:36 +0000]``
``r``      request line: ``GET /path?query HTTP/1.1``
``m``      method; ``U`` path; ``q`` query string; ``H`` protocol
``s``      status code
``b``      response body bytes, or ``-``; ``B`` the same, ``0`` for none
``f``      referer; ``a`` user agent
``T``      request time, whole seconds; ``M`` milliseconds; ``D`` microseconds;
           ``L`` decimal seconds
``p``      the worker's pid
``{Name}i``  request header; ``{Name}o`` response header; ``{key}e`` environ
=========  ==================================================================

Values that come from the client are escaped (quotes, backslashes, control
characters), so a request cannot forge a line. Lines go out in whole
batches, within a second, each batch one ``write`` on a descriptor opened
with ``O_APPEND``, so the lines of several workers never interleave. The monitor opens the file (``-`` is standard error) and
hands it to the workers; on SIGUSR1 it reopens it, as it does the log file.
"""
from __future__ import annotations

import collections
import os
import re
import time
from urllib.parse import quote

__all__ = ["AccessLog", "AccessLogFile", "escape", "check_format", "compile_format",
           "line_maker"]

#: Requests a worker holds before it writes their lines out.
BATCH = 512
_UNSAFE = re.compile(r'[\x00-\x1f\x7f"\\]')
_ATOM = re.compile(r"%\((\{[^}]*\}[ioe]|[a-zA-Z])\)")


def escape(value) -> str:
    """A client-supplied value, safe in one log line between quotes."""
    text = str(value)
    if text.isprintable() and '"' not in text and "\\" not in text:
        return text
    return _UNSAFE.sub(lambda m: "\\" + m.group() if m.group() in '"\\'
                       else f"\\x{ord(m.group()):02x}", text)


class _Clock:
    """``[%d/%b/%Y:%H:%M:%S %z]`` for a ``time.monotonic()`` value, formatted
    once per second; the wall clock's offset is read again with each new
    second, so a step of the system clock shows within a second."""

    def __init__(self):
        self.second = None
        self.text = ""
        self.offset = time.time() - time.monotonic()

    def __call__(self, monotonic: float) -> str:
        second = int(monotonic + self.offset)
        if second != self.second:
            self.offset = time.time() - time.monotonic()
            second = int(monotonic + self.offset)
            self.second = second
            self.text = time.strftime("[%d/%b/%Y:%H:%M:%S %z]", time.localtime(second))
        return self.text


_clock = _Clock()


def _header(headers, name: str):
    name = name.lower()
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


def _response_header(headers, name: str):
    value = _header(headers, name)
    return "-" if value is None else value


def _path(environ) -> str:
    return environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")


#: Paths as the request line shows them (``quote`` is a third of the time of
#: making a line); emptied when it holds :data:`QUOTED_PATHS`.
_quoted: dict = {}
QUOTED_PATHS = 1024


def _request_line(environ) -> str:
    uri = environ.get("REQUEST_URI") or environ.get("RAW_URI")
    if not uri:
        path = _path(environ)
        uri = _quoted.get(path)
        if uri is None:
            if len(_quoted) >= QUOTED_PATHS:
                _quoted.clear()
            uri = _quoted[path] = quote(path, safe="/;=,:@!$&'()*+~")
        if environ.get("QUERY_STRING"):
            uri += "?" + environ["QUERY_STRING"]
    return f"{environ.get('REQUEST_METHOD', '-')} {uri} {environ.get('SERVER_PROTOCOL', '-')}"


def _length(request) -> int:
    if request.length:
        return request.length
    declared = _header(request.headers, "content-length")
    try:
        return int(declared) if declared is not None else 0
    except ValueError:
        return 0


def _elapsed(request, now) -> float:
    return max(0.0, now - request.started)


#: Each atom as a Python expression over ``r`` (the request), ``e`` (its
#: environ) and ``now`` (when it ended), of any type (the line is an
#: f-string of their values), and whether its value comes from
#: the client (to be escaped); :func:`line_maker` puts those of a format
#: into one generated function.
_ATOMS = {
    "h": ('e.get("REMOTE_ADDR") or "-"', True),
    "l": ('"-"', False),
    "u": ('e.get("REMOTE_USER") or "-"', True),
    "t": ("_clock.text if _clock.second == int(r.started + _clock.offset) "
          "else _clock(r.started)", False),
    "r": ("_request_line(e)", True),
    "m": ('e.get("REQUEST_METHOD", "-")', True),
    "U": ("_path(e)", True),
    "q": ('e.get("QUERY_STRING", "")', True),
    "H": ('e.get("SERVER_PROTOCOL", "-")', True),
    "s": ('r.status[:3] or "-"', False),
    "b": ('r.length or _length(r) or "-"', False),
    "B": ("r.length or _length(r)", False),
    "f": ('e.get("HTTP_REFERER") or "-"', True),
    "a": ('e.get("HTTP_USER_AGENT") or "-"', True),
    "T": ("int(_elapsed(r, now))", False),
    "M": ("int(_elapsed(r, now) * 1000)", False),
    "D": ("int(_elapsed(r, now) * 1_000_000)", False),
    "L": ('f"{_elapsed(r, now):.6f}"', False),
    "p": ("_getpid()", False),
}

#: The names those expressions use.
_NAMES = {"_escape": escape, "_clock": _clock, "_request_line": _request_line, "_path": _path,
          "_length": _length, "_elapsed": _elapsed, "_getpid": os.getpid,
          "_response_header": _response_header}


class AccessLog:
    """Writes one line per finished request on descriptor ``fd``, in ``fmt``.

    Lines are made and written in batches: when :data:`BATCH` requests are
    waiting, once a second (the worker's control thread calls :meth:`flush`),
    and before the worker exits. A line made and written per request holds
    up the thread that answered it, and lets go of the interpreter's lock
    for the ``write``: the server's other threads then queue for it (a
    quarter of a hello-world's throughput with waitress).
    """

    def __init__(self, fd: int, fmt: str):
        self.fd = fd
        self.format = fmt
        self._make = line_maker(compile_format(fmt))
        # (request, when it ended), waiting for a write: a deque, whose
        # append and popleft are atomic, so the request's path takes no lock.
        self._lines = collections.deque()

    def write(self, request, now: float | None = None) -> None:
        """Note a finished request, which ended at ``now`` (``time.monotonic()``;
        None: now); its line is made when the batch is written."""
        lines = self._lines
        lines.append((request, time.monotonic() if now is None else now))
        if len(lines) >= BATCH:
            self.flush()

    def flush(self) -> None:
        """Write out the lines waiting (whole lines: the lines of workers never mix)."""
        lines = self._lines
        waiting = []
        try:
            for _ in range(len(lines)):
                waiting.append(lines.popleft())
        except IndexError:
            pass            # another thread is writing them
        if not waiting:
            return
        make = self._make
        lines = []
        for request, now in waiting:
            try:
                lines.append(make(request, request.environ, now))
            except Exception:
                pass    # a request the log cannot describe is not worth failing
        data = ("\n".join(lines) + "\n").encode("utf-8", "backslashreplace")
        try:
            while data:
                data = data[os.write(self.fd, data):]
        except OSError:
            pass        # a full disk must not fail the requests

    def reopen(self, fd: int) -> None:
        """SIGUSR1: write to ``fd`` (the reopened file) from now on."""
        self.flush()
        os.dup2(fd, self.fd)
        os.close(fd)


def _header_atom(kind: str, name: str) -> tuple[str, bool]:
    """The expression of a ``%({Name}i)s``, ``{Name}o`` or ``{key}e`` atom (all escaped)."""
    if kind == "i":
        key = "HTTP_" + name.upper().replace("-", "_")
        return f"e[{key!r}] if {key!r} in e else '-'", True
    if kind == "o":
        return f"_response_header(r.headers, {name!r})", True
    return f"e[{name!r}] if {name!r} in e else '-'", True


def compile_format(fmt: str) -> list:
    """``fmt`` as its parts, in order: ``("text", literal)``, and ``("atom", expression)``
    or ``("client", expression)`` for a value that must be escaped.

    Raises ``ValueError`` naming an unknown atom.
    """
    check_format(fmt)
    parts: list = []
    position = 0
    for match in _ATOM.finditer(fmt):
        literal = fmt[position:match.start()]
        if literal:
            parts.append(("text", literal.replace("%%", "%")))
        atom = match.group(1)
        if atom.startswith("{"):
            expression, client = _header_atom(atom[-1], atom[1:-2])
        else:
            expression, client = _ATOMS[atom]
        parts.append(("client" if client else "atom", expression))
        position = match.end() + 1          # the "s" after "%(x)"
    if fmt[position:]:
        parts.append(("text", fmt[position:].replace("%%", "%")))
    return parts


def line_maker(parts: list):
    """One function ``(request, environ, now) -> line`` for :func:`compile_format`'s parts.

    Generated, as ``collections.namedtuple`` generates its classes: the
    atoms' expressions are inlined and their values joined by one
    f-string, with no function call per atom and no loop over the parts
    asking each whether it is a literal (that loop was a third of the time
    of making a line, the calls another third). The client's values are
    checked together, once: they nearly always need no escaping, and only
    when one does is each escaped.
    """
    names = dict(_NAMES)
    lines = ["def make(r, e, now):"]
    line = []               # the names whose values make the line, in order
    client = []
    for number, (kind, value) in enumerate(parts):
        name = f"_{number}"
        if kind == "text":
            names[name] = value
        else:
            lines.append(f"    {name} = {value}")
            if kind == "client":
                client.append(name)
        line.append(name)
    if client:
        lines.append(f"    whole = f\"{''.join('{%s}' % name for name in client)}\"")
        lines.append("    if not whole.isprintable() or '\"' in whole or '\\\\' in whole:")
        lines.extend(f"        {name} = _escape({name})" for name in client)
    lines.append(f"    return f\"{''.join('{%s}' % name for name in line)}\"")
    exec("\n".join(lines) + "\n", names)   # noqa: S102 - names, and the table above
    return names["make"]


def check_format(fmt: str) -> None:
    """Raise ``ValueError`` naming an unknown atom in an access log format."""
    for match in _ATOM.finditer(fmt):
        atom = match.group(1)
        if not atom.startswith("{") and atom not in _ATOMS:
            raise ValueError(f"unknown access log atom %({atom})s")
    if fmt.replace("%%", "").count("%") != len(_ATOM.findall(fmt)):
        raise ValueError("the access log format may only hold %(atom)s fields")


class AccessLogFile:
    """In the monitor: the ``--access-log`` file, opened for the workers and reopened on SIGUSR1.

    ``-`` is standard error (which ``--log-file`` redirects): nothing to
    open. The file is opened (and created, for ``owner``, the user the
    workers run as) here, so the workers need no right to open it.
    """

    def __init__(self, path: str, owner: tuple | None = None):
        self.path = None if path == "-" else os.path.abspath(path)
        self.owner = owner
        self.fd = 2 if self.path is None else self._open()

    def _open(self) -> int:
        from paste.script.serving.errors import ServeError
        from paste.script.serving.logfile import open_log
        try:
            return open_log(self.path, self.owner)     # given to the user only if created
        except OSError as exc:
            raise ServeError(f"Cannot open access log {self.path}: {exc.strerror}") from None

    def reopen_for(self, workers, say) -> None:
        """SIGUSR1: open the path again, and hand it to every worker."""
        if self.path is None:
            return
        import sys
        try:
            fd = self._open()
        except Exception as exc:
            say(f"SIGUSR1: cannot reopen the access log: {exc}", sys.stderr)
            return
        os.dup2(fd, self.fd)
        for worker in workers:
            worker.send({"op": "access_log"}, [fd])
        os.close(fd)
        say("SIGUSR1: reopened the access log.")
