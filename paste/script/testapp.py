# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""``egg:PasteScript#test``: a page that shows the request it received.

Point a ``[server:main]`` at it to check that a server (or a front end in
front of it) passes the request through as expected. ``?error=true`` makes
the application raise, to see how errors are handled.
"""
from __future__ import annotations

import html
from typing import Any, Callable, Iterable

from paste.script.util.options import asbool, convert

__all__ = ["TestApplication", "make_test_application"]

_PAGE = """\
<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
<title>Test Application</title>
</head>
<body>
<h1>Test Application: Working!</h1>
<table border="1">
{rows}
</table>
<p>To see how the server handles an error, add <code>?error=true</code> to the URL.</p>
</body>
</html>
"""

_ROW = "<tr><td><b>{key}</b></td><td><tt>{value}</tt></td></tr>"


class TestApplication:
    """Lists the WSGI environment of each request, as HTML or plain text."""

    # Not a test case, whatever pytest's name-based collection thinks.
    __test__ = False

    def __init__(self, global_conf: dict | None = None, text: bool = False):
        self.global_conf = global_conf or {}
        self.text = text

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        query = environ.get("QUERY_STRING", "")
        if "error=" in query:
            raise RuntimeError("Here is your error report, ordered and delivered (?error=true)")
        items = sorted(environ.items())
        if self.text:
            body = "".join(f"{key}: {value!r}\n" for key, value in items)
            content_type = "text/plain; charset=utf-8"
        else:
            rows = "\n".join(_ROW.format(key=html.escape(key), value=html.escape(repr(value)))
                             for key, value in items)
            body = _PAGE.format(rows=rows)
            content_type = "text/html; charset=utf-8"
        data = body.encode("utf-8")
        start_response("200 OK", [("Content-Type", content_type),
                                  ("Content-Length", str(len(data)))])
        return [data]


_OPTIONS = {"text": asbool, "lint": asbool}


def make_test_application(global_conf: dict, **local_conf: Any) -> Callable:
    """Make the test application.

    Options: ``text = true`` lists the environment as plain text instead of
    HTML; ``lint = true`` wraps the application in the standard library's
    WSGI validator (``wsgiref.validate``), which checks both the server and
    the application for conformance.
    """
    options = convert(local_conf, _OPTIONS, "the test application", strict=True)
    app: Callable = TestApplication(global_conf=global_conf, text=options.get("text", False))
    if options.get("lint", False):
        from wsgiref.validate import validator
        app = validator(app)
    return app
