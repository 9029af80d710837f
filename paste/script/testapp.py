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

# The page and row templates (%-formatted, 3.x's names and keys): a page
# gets ``environ``, the rows joined; a row gets ``key``, ``value``,
# ``value_repr`` and ``value_literal`` (the repr as HTML). Code may replace
# them; the application reads them for each request.
html_page_template = """\
<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
<title>Test Application</title>
</head>
<body>
<h1>Test Application: Working!</h1>
<table border="1">
%(environ)s
</table>
<p>To see how the server handles an error, add <code>?error=true</code> to the URL.</p>
</body>
</html>
"""

html_row_template = "<tr><td><b>%(key)s</b></td><td><tt>%(value_literal)s</tt></td></tr>\n"

text_page_template = "%(environ)s"
text_row_template = "%(key)s: %(value_repr)s\n"


def make_literal(value: str) -> str:
    """``value`` as HTML text: escaped (quotes too), line breaks as ``<br>``."""
    value = html.escape(value, True)
    value = value.replace("\n\r", "\n").replace("\r", "\n")
    return value.replace("\n", "<br>\n")


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
        if self.text:
            page, row = text_page_template, text_row_template
            content_type = "text/plain; charset=utf-8"
        else:
            page, row = html_page_template, html_row_template
            content_type = "text/html; charset=utf-8"
        rows = "".join(row % _row_values(key, environ[key], html_key=not self.text)
                       for key in sorted(environ))
        data = (page % {"environ": rows}).encode("utf-8")
        start_response("200 OK", [("Content-Type", content_type),
                                  ("Content-Length", str(len(data)))])
        return [data]


def _row_values(key: str, value: Any, html_key: bool) -> dict:
    try:
        value_repr = repr(value)
    except Exception as exc:  # a broken __repr__ in some middleware's object
        value_repr = f"Cannot use repr(): {exc}"
    return {"key": html.escape(key) if html_key else key, "value": value,
            "value_repr": value_repr, "value_literal": make_literal(value_repr)}


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
