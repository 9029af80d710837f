"""``paster request`` / ``paster post`` against 3.7.0: the environ and the exit status.

The probe plugin's application answers with its environ as JSON.
"""
import json

import pytest

from tests.differential.harness import Pair

#: Keys only we set, on purpose (see docs/changelog.rst): CGI requires REMOTE_ADDR.
OURS_ONLY = {"REMOTE_ADDR"}


def write_config(work):
    (work / "probe.ini").write_text(
        "[app:main]\nuse = egg:PasteApiProbe\ncolour = blue\n\n"
        "[app:other]\nuse = egg:PasteApiProbe\ncolour = %(paint)s\n")


def environs(old, new):
    assert (old.returncode, old.stderr) == (0, ""), old.output
    assert (new.returncode, new.stderr) == (0, ""), new.output
    old_env, new_env = json.loads(old.stdout), json.loads(new.stdout)
    assert set(new_env) - set(old_env) == OURS_ONLY
    return old_env, {k: v for k, v in new_env.items() if k not in OURS_ONLY}


@pytest.mark.parametrize("args", [
    ["/some/path"],
    ["relative/path"],                       # joined onto /.command/
    ["../up"],
    ["http://example.com:8080/full"],        # 3.7 kept only the path
    ["/q", "a=1", "b=two words"],            # extra arguments make the query string
    ["/q", "--page=2", "-v", "-q", "-h"],    # unknown options (and -v, -q, -h after the URL) too
    ["/h", "--header", "X-Probe-Thing: yes", "--header=Content-Type:application/json"],
])
def test_request_environ_as_37(probe_pair: Pair, args):
    old_env, new_env = environs(*probe_pair.run("request", "probe.ini", *args,
                                                setup=write_config))
    assert new_env == old_env
    assert new_env["paste.command_request"] is True
    assert new_env["CONTENT_TYPE"] in ("text/plain", "application/json")
    assert new_env["HTTP_ACCEPT"] == "text/plain;q=1.0, */*;q=0.1"


def test_relative_url_under_dot_command(probe_pair: Pair):
    old_env, new_env = environs(*probe_pair.run("request", "probe.ini", "cron/daily",
                                                setup=write_config))
    assert new_env["PATH_INFO"] == old_env["PATH_INFO"] == "/.command/cron/daily"


def test_app_name_option(probe_pair: Pair):
    # --config-var crashes in 3.7 (AttributeError), so the other app is
    # compared with its own default from the config's [DEFAULT]-less section.
    def setup(work):
        (work / "probe.ini").write_text(
            "[app:main]\nuse = egg:PasteApiProbe\n\n"
            "[app:other]\nuse = egg:PasteApiProbe\ncolour = green\n")
    old_env, new_env = environs(*probe_pair.run("request", "-n", "other", "probe.ini", "/",
                                                setup=setup))
    assert new_env == old_env
    assert new_env["local_conf"] == {"colour": "green"}


def test_display_headers(probe_pair: Pair):
    old, new = probe_pair.run("request", "probe.ini", "/status/200", "--display-headers",
                              setup=write_config)
    assert old.returncode == new.returncode == 0
    assert new.stdout == old.stdout == "Content-Type: text/plain\nX-Probe: yes\n\nstatus 200\n"


@pytest.mark.parametrize("status, old_code, new_code", [
    (200, 0, 0), (201, 201, 0), (302, 46, 0), (404, 148, 4), (500, 244, 5)])
def test_exit_status(probe_pair: Pair, status, old_code, new_code):
    # Documented difference: 3.7 exited with the HTTP status itself, truncated
    # by the shell (status & 255); ours exits 0 for 2xx/3xx and the status class
    # otherwise.
    old, new = probe_pair.run("request", "probe.ini", f"/status/{status}", setup=write_config)
    assert (old.returncode, new.returncode) == (old_code, new_code)
    assert new.stdout == old.stdout == f"status {status}\n"


def test_post_body(probe_pair: Pair):
    old, new = probe_pair.run("post", "probe.ini", "/form", setup=write_config,
                              input="name=value&x=1")
    old_env, new_env = environs(old, new)
    # Documented difference: 3.7 handed the text stream sys.stdin with
    # CONTENT_LENGTH -1; ours the body as bytes with its length.
    assert (old_env.pop("CONTENT_LENGTH"), new_env.pop("CONTENT_LENGTH")) == ("-1", "14")
    assert (old_env.pop("body"), new_env.pop("body")) == ("'name=value&x=1'", "b'name=value&x=1'")
    assert (old_env.pop("wsgi.input"), new_env.pop("wsgi.input")) == ("<TextIOWrapper>", "<BytesIO>")
    assert new_env == old_env
    assert new_env["REQUEST_METHOD"] == "POST" and new_env["CONTENT_TYPE"] == "text/plain"


def test_query_in_the_url_is_kept(probe_pair: Pair):
    # Documented difference: 3.7 replaced the URL's query string with the
    # extra arguments (here: with nothing).
    old_env, new_env = environs(*probe_pair.run("request", "probe.ini", "/search?q=paste",
                                                setup=write_config))
    assert (old_env.pop("QUERY_STRING"), new_env.pop("QUERY_STRING")) == ("", "q=paste")
    assert new_env == old_env


def test_config_var_works(probe_pair: Pair):
    # Documented difference: 3.7 fails with AttributeError (self.option).
    old, new = probe_pair.run("request", "--config-var", "paint:red", "-n", "other",
                              "probe.ini", "/", setup=write_config)
    assert old.returncode == 1 and "AttributeError" in old.stderr
    assert new.returncode == 0 and json.loads(new.stdout)["local_conf"] == {"colour": "red"}


def test_application_error_is_one_line(probe_pair: Pair):
    old, new = probe_pair.run("request", "probe.ini", "/raise", setup=write_config)
    assert old.returncode == 1 and "Traceback" in old.stderr
    assert new.returncode == 1 and "Traceback" not in new.stderr
    assert new.stderr.strip() == ("The application raised RuntimeError: the probe app raised "
                                  "while handling GET /raise (run with -v for the traceback)")
