"""The Python API plugins use, against 3.7.0, through the PasteApiProbe plugin.

The probe (``probe_plugin/``) is a real distribution installed on both
sides. Its command prints what ``pluginlib``, ``get_commands()``,
``run_command``... give it; its template and installer print what
``create``, ``make-config`` and ``setup-app`` hand them. Each test runs the
same command line on both sides and compares.
"""
import pytest

from tests.differential.harness import Pair


def same(old, new):
    """Both sides exited alike and printed the same."""
    assert (old.returncode, old.stderr) == (0, ""), old.output
    assert (new.returncode, new.stderr) == (0, ""), new.output
    assert new.stdout == old.stdout
    return new.stdout


@pytest.mark.parametrize("section, expected", [
    ("commands", "command repr: \"EntryPoint.parse('api-probe = api_probe.commands:ProbeCommand')\""),
    ("svn", "Unable to run svn command (Error executing command svn); proceeding anyway\n"),
    ("shorten", "cwd: ''\n"),
    ("epdesc", "super_generic undocumented: '(self, /, *args, **kwargs)'\n"),
])
def test_probe_command_sections(probe_pair: Pair, section, expected):
    # dist, plugins and run have tests of their own below
    out = same(*probe_pair.run("api-probe", section))
    assert expected in out


def test_dist_is_pkg_resources_shaped(probe_pair: Pair):
    out = same(*probe_pair.run("api-probe", "dist"))
    # what 3.7's pkg_resources gave: the name from the metadata directory,
    # the sys.path entry as location, entry points with extras
    assert "project_name: 'pasteapiprobe'\n" in out
    assert "repr: 'pasteapiprobe 0.3 ({venv}/lib/" in out
    assert "entry str: 'beta_utils = api_probe.widgets:make_beta [fancy]'\n" in out
    assert "entry repr: \"EntryPoint.parse('beta_utils = api_probe.widgets:make_beta [fancy]')\"" in out
    assert "load_entry_point missing: \"Entry point ('api_probe.widgets', 'nope') not found\"" in out


def test_resolve_plugins_returns_distributions(probe_pair: Pair):
    out = same(*probe_pair.run("api-probe", "plugins"))
    assert "resolve_plugins keys: ['pasteapiprobe', 'pastescript']\n" in out
    assert "list after: []\n" in out
    assert "commands of plugins: ['api-probe-local', 'grep']\n" in out


def test_run_command_contract(probe_pair: Pair):
    out = same(*probe_pair.run("api-probe", "run"))
    assert "stdout only: b'out\\n'\n" in out
    assert "capture_stderr: b'out\\nerr\\n'\n" in out
    assert "simulated: None\n" in out
    assert "unknown keyword: \"Arguments not expected: {'bogus': 1}\"\n" in out


def test_run_command_shows_stderr_as_text(probe_pair: Pair):
    # Documented difference: 3.7 printed a failing program's stderr as a
    # bytes repr (b'bad\n'), a Python 3 port slip; we print the text.
    old, new = probe_pair.run("api-probe", "run-stderr")
    assert old.returncode == new.returncode == 0
    assert "Error (exit code: 2)\nb'bad\\n'\n" in old.stdout
    assert "Error (exit code: 2)\nbad\n" in new.stdout
    assert old.stdout.replace("b'bad\\n'", "bad") == new.stdout


def test_plugin_command_through_plugin_option(probe_pair: Pair):
    old, new = probe_pair.run("--plugin=PasteApiProbe", "api-probe-local", "x")
    same(old, new)
    assert new.stdout == "local command ran with ['x']\n"


def test_template_hooks(probe_pair: Pair):
    old, new = probe_pair.run("create", "-t", "api_probe", "ProbeProj", "--no-interactive")
    assert old.returncode == new.returncode == 0, old.output + new.output

    def report(result):
        return [line for line in result.stdout.splitlines() if line.startswith(("pre ", "post "))]

    assert report(new) == report(old)
    assert "pre vars: {'project': 'ProbeProj', 'package': 'probeproj', 'egg': 'ProbeProj', " \
           "'greeting': 'hello'}" in report(new)
    assert new.tree() == old.tree()


def test_installer_in_make_config(probe_pair: Pair):
    old, new = probe_pair.run("make-config", "PasteApiProbe", "probe.ini")
    out = same(old, new)
    assert "installer project_name: 'pasteapiprobe'\n" in out
    assert "installer uuid type: 'UUID'\n" in out
    assert new.tree() == old.tree()
    assert new.tree()["probe.ini"].endswith(b"# written by ProbeInstaller\n")


def test_default_installer_in_make_config(probe_pair: Pair):
    old, new = probe_pair.run("make-config", "PasteApiProbe#plain", "plain.ini")
    # Documented difference: 3.7's ensure_file writes bytes only, so its own
    # default installer (which renders a str) fails with a traceback and
    # leaves an empty file. Up to there both say the same.
    assert old.returncode == 1
    assert "TypeError: a bytes-like object is required, not 'str'" in old.stderr
    assert old.tree()["plain.ini"] == b""
    assert (new.returncode, new.stderr) == (0, "")
    assert new.stdout.startswith(old.stdout)
    assert new.tree()["plain.ini"] == (b"[app:main]\nuse = egg:PasteApiProbe\n"
                                       b"project = pasteapiprobe\napp_name = pasteapiprobe\n"
                                       b"ep = paste.app_factory#plain\n")


def test_make_config_info(probe_pair: Pair):
    same(*probe_pair.run("make-config", "--info", "PasteApiProbe"))


def write_probe_ini(work):
    (work / "probe.ini").write_text("[app:main]\nuse = egg:PasteApiProbe\nsetting = 1\n")


@pytest.mark.parametrize("args", [[], ["-n"], ["--simulate"], ["--name", "main"], ["-v"]])
def test_installer_in_setup_app(probe_pair: Pair, args):
    old, new = probe_pair.run("setup-app", *args, "probe.ini", setup=write_probe_ini)
    out = same(old, new)
    simulate = bool(set(args) & {"-n", "--simulate"})
    assert f"websetup simulate: {simulate}\n" in out
    assert "setup name: 'PasteApiProbe'\n" in out
