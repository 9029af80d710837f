"""The documentation builds without a warning, and its examples are real."""
import configparser
import re
import subprocess
import sys

from tests.support import ROOT


def test_sphinx_builds_without_warnings(tmp_path):
    # The dummy builder reads and resolves everything (references, toctree,
    # directives: where the warnings come from) and writes nothing.
    proc = subprocess.run([sys.executable, "-m", "sphinx", "-q", "-W", "--keep-going",
                           "-b", "dummy", str(ROOT / "docs"), str(tmp_path / "out")],
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


#: The Debian packages README's second command installs, each with the
#: program of it that the tests run.
SYSTEM_PACKAGES = {"nginx": "nginx", "apache2": "apache2", "subversion": "svn",
                   "openssl": "openssl", "systemd": "systemd-socket-activate"}


def source_of_the_tests() -> str:
    """The source of every test module and helper but this one."""
    return "\n".join(path.read_text() for path in sorted((ROOT / "tests").rglob("*.py"))
                     if path.name != "test_docs.py")


def test_readme_installs_what_the_tests_run_and_nothing_else():
    install = re.search(r"apt-get install -y ([^&]+) &&", readme_commands()[1])
    assert install and sorted(install.group(1).split()) == sorted(SYSTEM_PACKAGES)
    sources = source_of_the_tests()
    for package, program in SYSTEM_PACKAGES.items():
        assert re.search(rf"[\"']{re.escape(program)}[\"']", sources), f"no test runs {package}"
    # Only bench/ runs wrk; README says how to get it.
    assert not re.search(r"[\"']wrk[\"']", sources)
    assert "``apt-get install -y wrk``" in (ROOT / "README.rst").read_text()


def test_no_test_installs_system_packages():
    """README's command installs them: a test run does not change the machine."""
    assert not re.search(r"[\"']apt(-get)?[\"']\s*,\s*[\"']install", source_of_the_tests())


def test_ci_runs_readme_commands_and_installs_nothing_itself():
    ci = (ROOT / ".ci" / "run").read_text()
    code = [line for line in ci.splitlines() if not line.lstrip().startswith("#")]
    assert "README.rst" in ci
    for forbidden in ("pip install", "apt-get install", "ensurepip"):
        assert not [line for line in code if forbidden in line], forbidden
    # It stops what it started by PID, never by a name that another
    # process on the machine could match.
    for forbidden in ("pkill", "killall"):
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


def test_tests_readme_tells_the_markers_and_timeout_setup_cfg_sets():
    cfg = configparser.ConfigParser(interpolation=None)
    cfg.read(ROOT / "setup.cfg")
    pytest_cfg = cfg["tool:pytest"]
    markers = [line.split(":", 1)[0] for line in pytest_cfg["markers"].strip().splitlines()]
    readme = (ROOT / "tests" / "README.rst").read_text()
    documented = re.findall(r"^``(\w+)``\n    ", readme.split("Markers\n", 1)[1].split("\nHow it", 1)[0],
                            re.M)
    assert documented == markers
    assert "--strict-markers" in pytest_cfg["addopts"].split()
    assert f"fails after {pytest_cfg['timeout']} seconds" in readme
    assert '-m "not network and not slow"' in readme


def test_tests_readme_example_test_passes(tmp_path):
    readme = (ROOT / "tests" / "README.rst").read_text()
    block = next(b for b in re.findall(r"::\n\n((?:    .*\n|\n)+)", readme) if "def test_" in b)
    (tmp_path / "test_example.py").write_text("\n".join(line[4:] for line in block.splitlines()))
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "test_example.py"], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0 and "1 passed" in proc.stdout, proc.stdout + proc.stderr

