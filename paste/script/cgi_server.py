# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""``egg:PasteScript#cgi``: answer one request as a CGI program.

The web server runs the program once per request: the request comes from
the environment (``os.environ``) and standard input, the response goes to
standard output as a ``Status:`` line, headers, a blank line and the body
(RFC 3875). Nothing else may be printed to standard output, so start it
with ``paster serve -q`` or from a small script (see ``docs/runners.rst``).
"""
from __future__ import annotations

import os
import sys
from typing import Any, Callable

from paste.script.runners_common import runner_options

__all__ = ["paste_run_cgi", "run_with_cgi", "OPTIONS"]

#: The runner takes no option: anything given is a mistake.
OPTIONS: dict = {}

#: Where :func:`run_with_cgi` writes the response when it is given no
#: stream: the binary standard output, as in 3.x. Code may replace it (a
#: test, with an ``io.BytesIO``); None means ``sys.stdout.buffer`` at the
#: time of the request.
stdout = getattr(sys.__stdout__, "buffer", None)


def paste_run_cgi(wsgi_app: Callable, global_conf: dict, **local_conf: Any) -> None:
    """Run ``wsgi_app`` for the one request described by the CGI environment."""
    runner_options(local_conf, OPTIONS, "cgi")
    from paste.script.serving import single_process
    single_process("cgi")   # one request, on this process's stdin and stdout
    run_with_cgi(wsgi_app)


def run_with_cgi(application: Callable, environ: dict | None = None,
                 stdin=None, stdout=None, stderr=None) -> None:
    """Run one request through ``application`` following the CGI 1.1 contract.

    ``environ`` defaults to ``os.environ``; ``stdin`` to the binary standard
    input, ``stdout`` to this module's ``stdout``. The standard library's ``wsgiref`` CGI handler does the
    work: it fills in the WSGI keys, frames the response with a ``Status:``
    header and answers 500 (logging the traceback to ``stderr``) when the
    application fails.
    """
    from wsgiref.handlers import BaseCGIHandler

    environ = dict(os.environ if environ is None else environ)
    stdin = stdin if stdin is not None else sys.stdin.buffer
    if stdout is None:
        stdout = globals()["stdout"] or sys.stdout.buffer
    stderr = stderr if stderr is not None else sys.stderr
    # wsgiref fills PATH_INFO/SCRIPT_NAME from the CGI variables; an empty
    # PATH_INFO is fine, but WSGI wants SCRIPT_NAME and PATH_INFO present.
    environ.setdefault("SCRIPT_NAME", "")
    environ.setdefault("PATH_INFO", "")
    handler = BaseCGIHandler(stdin, stdout, stderr, environ,
                             multithread=False, multiprocess=True)
    handler.run_once = True
    handler.os_environ = {}  # the request's variables are all in ``environ``
    handler.run(application)
    stdout.flush()
