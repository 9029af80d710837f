"""The cgi runner: one request per process, from the environment and stdin to stdout.

The web-server test uses the standard library's ``http.server`` CGI handler:
Apache refuses to run CGI programs as root, and as ``www-data`` it cannot
reach the test interpreter when that lives under ``/root``.
"""
from __future__ import annotations

import json
import os
import subprocess
import textwrap

import pytest

from tests.runner_support import kill_group, runner_env, write_config
from tests.support import PYTHON, ROOT, free_port, wait_for_port

CGI_ENV = {
    "GATEWAY_INTERFACE": "CGI/1.1", "SERVER_NAME": "cgi.example", "SERVER_PORT": "80",
    "SERVER_PROTOCOL": "HTTP/1.1", "SCRIPT_NAME": "/cgi-bin/app.cgi", "REMOTE_ADDR": "127.0.0.1",
}


def run_cgi(directory, environ, body=b"", command=None):
    """Run the cgi runner as a web server would: variables, stdin, stdout."""
    env = runner_env(directory)
    env.update(CGI_ENV)
    env.update(environ)
    command = command or [PYTHON, str(directory / "app.cgi")]
    return subprocess.run(command, input=body, capture_output=True, env=env,
                          cwd=directory, timeout=60)


def split_response(output: bytes):
    head, _, body = output.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines)
    return headers, body


@pytest.fixture
def cgi_dir(tmp_path):
    config = write_config(tmp_path, "use = egg:PasteScript#cgi")
    script = tmp_path / "app.cgi"
    script.write_text(textwrap.dedent(f"""\
        #!{PYTHON}
        import sys
        sys.path[:0] = [{str(tmp_path)!r}, {str(ROOT)!r}]
        from paste.deploy import loadapp, loadserver
        config = "config:{config}"
        loadserver(config)(loadapp(config))
        """))
    script.chmod(0o755)
    return tmp_path


def test_get_from_the_environment(cgi_dir):
    result = run_cgi(cgi_dir, {"REQUEST_METHOD": "GET", "PATH_INFO": "/echo",
                               "QUERY_STRING": "a=1&b=2", "HTTP_X_TRACE": "t"})
    assert result.returncode == 0, result.stderr
    headers, body = split_response(result.stdout)
    assert headers["Status"] == "200 OK"
    data = json.loads(body)
    assert data["query"] == "a=1&b=2"
    assert data["path"] == "/echo"
    assert data["script_name"] == "/cgi-bin/app.cgi"
    assert data["headers"] == {"HTTP_X_TRACE": "t"}


def test_post_body_from_stdin(cgi_dir):
    payload = os.urandom(50_000)
    result = run_cgi(cgi_dir, {"REQUEST_METHOD": "POST", "PATH_INFO": "/echo",
                               "CONTENT_LENGTH": str(len(payload)),
                               "CONTENT_TYPE": "application/octet-stream"}, body=payload)
    headers, body = split_response(result.stdout)
    data = json.loads(body)
    assert headers["Status"] == "200 OK"
    assert data["body"].encode("latin-1") == payload
    assert data["content_type"] == "application/octet-stream"


def test_application_error_is_a_500_status(cgi_dir):
    result = run_cgi(cgi_dir, {"REQUEST_METHOD": "GET", "PATH_INFO": "/error"})
    headers, _ = split_response(result.stdout)
    assert headers["Status"].startswith("500")
    assert b"the test app fails on purpose" in result.stderr  # the traceback goes to the log


def test_paster_serve_quiet_prints_only_the_response(tmp_path):
    config = write_config(tmp_path, "use = egg:PasteScript#cgi", app="use = egg:PasteScript#test")
    result = run_cgi(tmp_path, {"REQUEST_METHOD": "GET", "PATH_INFO": "/page"},
                     command=[PYTHON, "-m", "paste.script", "serve", "-q", str(config)])
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(b"Status: 200 OK\r\n")
    headers, body = split_response(result.stdout)
    assert int(headers["Content-Length"]) == len(body)
    assert b"<title>Test Application</title>" in body


def test_options_are_refused():
    from paste.script.cgi_server import paste_run_cgi
    from paste.script.util.options import OptionError
    with pytest.raises(OptionError, match="'port'.*unknown option"):
        paste_run_cgi(lambda e, s: [], {}, port="80")


def test_run_with_cgi_in_process():
    import io
    from paste.script.cgi_server import run_with_cgi

    def app(environ, start_response):
        body = environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"]))
        start_response("201 Created", [("Content-Type", "text/plain")])
        return [environ["wsgi.url_scheme"].encode(), b":", body]

    out, err = io.BytesIO(), io.StringIO()
    run_with_cgi(app, environ={**CGI_ENV, "REQUEST_METHOD": "PUT", "CONTENT_LENGTH": "3",
                               "HTTPS": "on"},
                 stdin=io.BytesIO(b"abc"), stdout=out, stderr=err)
    headers, body = split_response(out.getvalue())
    assert headers["Status"] == "201 Created"
    assert body == b"https:abc"


def test_through_a_web_servers_cgi_handler(cgi_dir):
    """http.server runs the script per request, as Apache's mod_cgi would."""
    site = cgi_dir / "site"
    (site / "cgi-bin").mkdir(parents=True)
    (cgi_dir / "app.cgi").rename(site / "cgi-bin" / "app.cgi")
    port = free_port()
    # As root, http.server would switch CGI children to "nobody", who may not
    # reach this interpreter; keep the current user instead.
    server_code = (
        "import http.server as h, os, sys, warnings\n"
        "warnings.simplefilter('ignore', DeprecationWarning)\n"
        "h.nobody_uid = os.getuid\n"
        "os.chdir(sys.argv[2])\n"
        "h.ThreadingHTTPServer(('127.0.0.1', int(sys.argv[1])), h.CGIHTTPRequestHandler).serve_forever()\n"
    )
    env = runner_env(cgi_dir)
    web = subprocess.Popen([PYTHON, "-c", server_code, str(port), str(site)], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           start_new_session=True)
    try:
        wait_for_port(port, proc=web)
        import http.client
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("POST", "/cgi-bin/app.cgi/echo?x=%2F1", body=b"posted body",
                     headers={"Content-Type": "text/plain"})
        resp = conn.getresponse()
        data = json.loads(resp.read())
        # http.server sends its own status line and passes the script's
        # header block through, Status header included.
        assert resp.getheader("Status") == "200 OK"
        assert data["method"] == "POST"
        assert data["path"] == "/echo"
        assert data["script_name"] == "/cgi-bin/app.cgi"
        assert data["query"] == "x=%2F1"
        assert data["body"] == "posted body"
        conn.request("GET", "/cgi-bin/app.cgi/error")
        resp = conn.getresponse()
        resp.read()
        assert resp.getheader("Status").startswith("500")
        conn.close()
    finally:
        kill_group(web)
