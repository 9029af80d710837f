"""egg:PasteScript#test: the page that lists the request environment."""
from __future__ import annotations

import io
from wsgiref.util import setup_testing_defaults

import pytest

from paste.script.testapp import TestApplication, make_test_application
from paste.script.util.options import OptionError


def call(app, path="/", query="", **extra):
    environ = {"PATH_INFO": path, "QUERY_STRING": query}
    environ.update(extra)
    setup_testing_defaults(environ)
    captured = {}

    def start_response(status, headers, exc_info=None):
        captured["status"] = status
        captured["headers"] = dict(headers)
        return lambda data: None

    body = b"".join(app(environ, start_response))
    return captured["status"], captured["headers"], body


def test_html_page_lists_the_environment_escaped():
    app = make_test_application({})
    status, headers, body = call(app, query="x=1", HTTP_X_EVIL="<script>alert(1)</script>")
    page = body.decode("utf-8")
    assert status == "200 OK"
    assert headers["Content-Type"].startswith("text/html")
    assert int(headers["Content-Length"]) == len(body)
    assert "<title>Test Application</title>" in page
    assert "<b>HTTP_X_EVIL</b>" in page
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<b>QUERY_STRING</b>" in page and "&#x27;x=1&#x27;" in page


def test_text_option():
    app = make_test_application({}, text="true")
    status, headers, body = call(app, path="/where")
    assert headers["Content-Type"].startswith("text/plain")
    assert "PATH_INFO: '/where'\n" in body.decode("utf-8")


def test_error_query_raises():
    app = make_test_application({})
    with pytest.raises(RuntimeError, match="error report"):
        call(app, query="error=true")


def test_lint_option_wraps_in_the_wsgi_validator():
    from wsgiref.validate import validator
    app = make_test_application({}, lint="yes")
    assert app.__name__ == validator(TestApplication()).__name__  # the validator's wrapper
    environ = {}
    setup_testing_defaults(environ)
    environ["wsgi.input"] = io.BytesIO()
    environ["QUERY_STRING"] = ""
    captured = []
    result = app(environ, lambda status, headers, exc_info=None: captured.append(status))
    assert b"Test Application" in b"".join(result)
    result.close()
    assert captured == ["200 OK"]


def test_bad_and_unknown_options():
    with pytest.raises(OptionError, match="'text'.*'maybe'"):
        make_test_application({}, text="maybe")
    with pytest.raises(OptionError, match="'colour'.*unknown option"):
        make_test_application({}, colour="blue")


def test_entry_point_is_registered():
    from importlib.metadata import distribution  # entry_points(group=) needs 3.10
    (point,) = [ep for ep in distribution("PasteScript").entry_points
                if ep.group == "paste.app_factory" and ep.name == "test"]
    assert point.load() is make_test_application


def test_through_paster_request(tmp_path):
    from tests.support import run_paster, write
    config = write(tmp_path / "app.ini", """
        [app:main]
        use = egg:PasteScript#test
        """)
    result = run_paster("request", str(config), "/hello?a=<b>")
    assert result.returncode == 0, result.stderr
    assert "<title>Test Application</title>" in result.stdout
    assert "&#x27;/hello&#x27;" in result.stdout
    assert "a=&lt;b&gt;" in result.stdout
