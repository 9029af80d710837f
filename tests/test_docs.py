"""The documentation builds without a warning, and its examples are real."""
import configparser
import subprocess
import sys

from tests.support import ROOT


def test_sphinx_builds_without_warnings(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "sphinx", "-q", "-W", "-b", "html",
                           str(ROOT / "docs"), str(tmp_path / "html")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_example_app_ini_is_an_executable_config():
    path = ROOT / "docs" / "example_app.ini"
    assert path.stat().st_mode & 0o111
    assert path.read_text().startswith("#!/usr/bin/env paster\n")
    parser = configparser.ConfigParser()
    parser.read(path)
    assert parser.get("app:main", "use") == "egg:PasteScript#test"
    assert parser.get("server:main", "use") == "egg:PasteScript#wsgiutils"
    assert (parser.get("server:main", "host"), parser.get("server:main", "port")) == ("127.0.0.1", "8080")
    assert parser.get("exe", "command") == "serve"


def readme_commands() -> list:
    """The literal (four-space indented) lines of README.rst, as .ci/run reads them."""
    text = (ROOT / "README.rst").read_text()
    return [line[4:] for line in text.splitlines() if line.startswith("    ") and line[4] != " "]


def test_readme_starts_with_the_two_commands():
    serve, tests = readme_commands()[:2]
    assert serve.startswith("python3 -m venv .venv && ")
    assert serve.endswith(" && .venv/bin/paster serve docs/example_app.ini")
    assert ".venv/bin/pip install -e '.[all,test]' && .venv/bin/python -m pytest" in tests
    # The test extra holds what the tests need, so README's command is enough.
    assert tests.endswith(".venv/bin/python -m pytest")


def test_ci_runs_readme_commands_and_installs_nothing_itself():
    ci = (ROOT / ".ci" / "run").read_text()
    code = [line for line in ci.splitlines() if not line.lstrip().startswith("#")]
    assert "README.rst" in ci
    for forbidden in ("pip install", "apt-get install", "ensurepip"):
        assert not [line for line in code if forbidden in line], forbidden
    # The extraction .ci/run uses gives the same two lines as README's reader.
    extract = next(line for line in code if "README.rst" in line and "sed" in line)
    command = extract.split("< <(", 1)[1].rsplit(")", 1)[0]
    out = subprocess.run(["bash", "-c", command], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout.splitlines()
    assert out == readme_commands()[:2]


def test_example_app_ini_serves_the_test_application(tmp_path):
    from tests.support import free_port, http_get, start_paster, stop_process, wait_for_port
    port = free_port()
    config = tmp_path / "example_app.ini"
    config.write_text((ROOT / "docs" / "example_app.ini").read_text().replace(
        "port = 8080", f"port = {port}"))
    proc = start_paster("serve", str(config), cwd=tmp_path)
    try:
        wait_for_port(port, proc=proc)
        status, headers, body = http_get(f"http://127.0.0.1:{port}/?x=1")
        assert status == 200
        assert b"<title>Test Application</title>" in body
    finally:
        out = stop_process(proc)
    assert "Starting server in PID" in out and f"serving on http://127.0.0.1:{port}" in out
