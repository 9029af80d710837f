"""paster request / paster post: one request through an application, no server."""
import io
import json
import os
import sys
from pathlib import Path

import pytest

from paste.script.command import BadCommand, main
from paste.script.request import RequestCommand, build_environ, call_app
from tests.support import ROOT, paster_env, run_paster, write

ECHO_APP = '''
import json


def make_app(global_conf, greeting="hello", **local_conf):
    def app(environ, start_response):
        path = environ["PATH_INFO"]
        if path == "/boom":
            raise RuntimeError("the app exploded")
        if path == "/missing":
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"no such page"]
        if path == "/redirect":
            start_response("302 Found", [("Location", "/elsewhere")])
            return [b""]
        if path == "/binary":
            start_response("200 OK", [("Content-Type", "application/octet-stream")])
            return [bytes(range(256))]
        if path == "/write":
            write = start_response("200 OK", [("Content-Type", "text/plain")])
            write(b"written ")
            return [b"and returned"]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        info = {
            "method": environ["REQUEST_METHOD"],
            "path": path,
            "query": environ["QUERY_STRING"],
            "body": environ["wsgi.input"].read(length).decode("latin-1"),
            "content_type": environ.get("CONTENT_TYPE"),
            "x_foo": environ.get("HTTP_X_FOO"),
            "host": environ["HTTP_HOST"],
            "command_request": environ.get("paste.command_request"),
            "greeting": greeting,
            "app": local_conf.get("which", "main"),
        }
        start_response("200 OK", [("Content-Type", "application/json"),
                                  ("X-Echo", "yes")])
        return [json.dumps(info).encode()]
    return app


def make_broken(global_conf, **local_conf):
    raise ValueError("cannot build this app")
'''


@pytest.fixture
def echo(fake_site):
    """A config file for the echo application (module on sys.path); returns its name."""
    write(fake_site.site / "echoapp.py", ECHO_APP)
    write(fake_site.work / "echo.ini", """
        [app:main]
        paste.app_factory = echoapp:make_app

        [app:greet]
        paste.app_factory = echoapp:make_app
        greeting = %(word)s

        [app:other]
        paste.app_factory = echoapp:make_app
        which = other

        [app:broken]
        paste.app_factory = echoapp:make_broken
    """)
    yield "echo.ini"
    sys.modules.pop("echoapp", None)


def request_json(capsysbinary, *args):
    code = main(["request", *args])
    out = capsysbinary.readouterr().out
    assert code == 0, out
    return json.loads(out)


def test_example_config_prints_the_test_app(tmp_path):
    result = run_paster("request", str(ROOT / "docs" / "example_app.ini"), "/", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "<title>Test Application</title>" in result.stdout
    assert "paste.command_request" in result.stdout


def test_get_path_query_and_extra_arguments(echo, capsysbinary):
    info = request_json(capsysbinary, echo, "/some%20page?a=1", "b=two words", "--c=3")
    assert info["method"] == "GET"
    assert info["path"] == "/some page"
    assert info["query"] == "a=1&b=two%20words&--c=3"
    assert info["body"] == ""
    assert info["host"] == "localhost"
    assert info["command_request"] is True


def test_post_reads_the_body_from_stdin(echo, fake_site):
    env = paster_env(PYTHONPATH=str(fake_site.site))
    result = run_paster("post", echo, "/form", "--header", "Content-Type:text/plain",
                        cwd=fake_site.work, input=b"name=value&x=\xff", env=env)
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["method"] == "POST"
    assert info["body"] == "name=value&x=\xff"
    assert info["content_type"] == "text/plain"


def test_post_default_content_type(echo, capsysbinary, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"a=1")))
    info = request_json_post(capsysbinary, echo, "/")
    assert info["body"] == "a=1"
    assert info["content_type"] == "text/plain"  # what 3.x sent, GET or POST


def request_json_post(capsysbinary, *args):
    code = main(["post", *args])
    out = capsysbinary.readouterr().out
    assert code == 0, out
    return json.loads(out)


def test_header_and_display_headers(echo, capsysbinary):
    assert main(["request", "--display-headers", echo, "/", "--header", "X-Foo: bar",
                 "--header=Host:example.org"]) == 0
    out = capsysbinary.readouterr().out.decode()
    head, body = out.split("\n\n", 1)
    assert head.splitlines() == ["Content-Type: application/json", "X-Echo: yes"]
    info = json.loads(body)
    assert info["x_foo"] == "bar"
    assert info["host"] == "example.org"


def test_full_url_gives_its_path_and_query(echo, capsysbinary):
    # 3.x sent every request to localhost:80, whatever host the URL named
    info = request_json(capsysbinary, echo, "http://example.com:8080/x?y=1")
    assert (info["host"], info["path"], info["query"]) == ("localhost", "/x", "y=1")


def test_relative_url_is_under_dot_command(echo, capsysbinary):
    info = request_json(capsysbinary, echo, "relative/path?q=1")
    assert (info["path"], info["query"]) == ("/.command/relative/path", "q=1")
    assert request_json(capsysbinary, echo, "../up")["path"] == "/up"


def test_not_found_exits_non_zero(echo, capsysbinary):
    assert main(["request", echo, "/missing"]) == 4
    captured = capsysbinary.readouterr()
    assert captured.out == b"no such page"
    assert captured.err.decode().strip() == "404 Not Found"


def test_redirect_is_success(echo, capsysbinary):
    assert main(["request", echo, "/redirect", "--display-headers"]) == 0
    assert b"Location: /elsewhere" in capsysbinary.readouterr().out


def test_body_is_written_as_bytes(echo, capsysbinary):
    assert main(["request", echo, "/binary"]) == 0
    assert capsysbinary.readouterr().out == bytes(range(256))


def test_write_callable_output_comes_first(echo, capsysbinary):
    assert main(["request", echo, "/write"]) == 0
    assert capsysbinary.readouterr().out == b"written and returned"


def test_app_name_and_config_var(echo, capsysbinary):
    assert request_json(capsysbinary, "-n", "other", echo, "/")["app"] == "other"
    assert request_json(capsysbinary, echo, "/", "--app-name=other")["app"] == "other"
    info = request_json(capsysbinary, "-n", "greet", echo, "/", "--config-var", "word:bonjour")
    assert info["greeting"] == "bonjour"


def test_config_file_from_environment(echo, capsysbinary, monkeypatch):
    # What a #! config (paster exe) does: the config comes from the environment.
    monkeypatch.setenv("PASTE_CONFIG_FILE", os.path.abspath(echo))
    info = request_json(capsysbinary, "/from-env", "k=v")
    assert (info["path"], info["query"]) == ("/from-env", "k=v")


def test_executable_config_runs_request(echo, fake_site):
    script = write(fake_site.work / "run.ini", f"""
        #!/usr/bin/env paster
        [exe]
        command = request

        {Path(echo).read_text()}
    """, mode=0o755)
    env = paster_env(PYTHONPATH=str(fake_site.site))
    result = run_paster("exe", str(script), "/via-exe", cwd=fake_site.work, env=env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["path"] == "/via-exe"


def test_application_that_raises_is_one_line(echo, capsysbinary):
    assert main(["request", echo, "/boom"]) == 1
    err = capsysbinary.readouterr().err.decode()
    assert err.strip().splitlines() == [
        "The application raised RuntimeError: the app exploded while handling GET /boom "
        "(run with -v for the traceback)"]


def test_application_that_raises_with_verbose_shows_traceback(echo, fake_site):
    env = paster_env(PYTHONPATH=str(fake_site.site))
    result = run_paster("request", "-v", echo, "/boom", cwd=fake_site.work, env=env)
    assert result.returncode != 0
    assert "Traceback" in result.stderr
    assert "RuntimeError: the app exploded" in result.stderr


def test_application_that_fails_to_load(echo, capsysbinary):
    assert main(["request", "-n", "broken", echo, "/"]) == 1
    err = capsysbinary.readouterr().err.decode()
    assert "ValueError: cannot build this app" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("args, message", [
    (["missing.ini", "/"], "Config file not found: missing.ini"),
    (["-n", "nosuch", "echo.ini", "/"], "nosuch"),
    (["echo.ini", "/", "--header", "novalue"], "should be NAME:VALUE: --header=novalue"),
    (["echo.ini", "/", "--config-var=x"], "should be NAME:VALUE: --config-var=x"),
    (["echo.ini"], "at least 2"),
])
def test_bad_input_is_one_line(echo, capsysbinary, args, message):
    assert main(["request", *args]) == 2
    captured = capsysbinary.readouterr()
    err = captured.err.decode().strip()
    assert message in err
    assert len(err.splitlines()) == 1, err
    assert captured.out == b""


def test_split_args_as_3x():
    command = RequestCommand("request")
    # After the config file and URL, only the options with values and
    # --display-headers are paster's; everything else goes to the application.
    ours, theirs = command.split_args(
        ["-v", "c.ini", "-q", "/u", "a=1", "--header", "X:1", "--zzz", "-nmain", "-v",
         "--display-headers", "--app-name=x", "-h"])
    assert ours == ["-v", "c.ini", "-q", "/u", "a=1", "--header", "X:1", "--display-headers",
                    "--app-name=x"]
    assert theirs == ["--zzz", "-nmain", "-v", "-h"]
    with pytest.raises(BadCommand, match="Option --header takes an argument"):
        command.split_args(["c.ini", "/", "--header"])


def test_build_environ_and_call_app():
    environ = build_environ("/a%2Fb?x=1", "POST", b"data", [("X-Y", "z")], ["q=w w"])
    assert environ["PATH_INFO"] == "/a/b"
    assert environ["QUERY_STRING"] == "x=1&q=w%20w"
    assert environ["CONTENT_LENGTH"] == "4"
    assert environ["CONTENT_TYPE"] == "text/plain"
    assert environ["HTTP_ACCEPT"] == "text/plain;q=1.0, */*;q=0.1"
    assert environ["paste.command_request"] is True
    assert (environ["SERVER_NAME"], environ["SERVER_PORT"], environ["HTTP_HOST"]) == \
        ("localhost", "80", "localhost")
    assert "CONTENT_LENGTH" not in build_environ("/")
    assert environ["HTTP_X_Y"] == "z"
    assert environ["wsgi.input"].read() == b"data"

    closed = []

    class Body(list):
        def close(self):
            closed.append(True)

    def app(environ, start_response):
        start_response("201 Created", [("A", "b")])
        return Body([b"x", b"", b"y"])

    response = call_app(app, build_environ("/"))
    assert (response.status_code, response.headers, response.body) == (201, [("A", "b")], b"xy")
    assert closed == [True]
