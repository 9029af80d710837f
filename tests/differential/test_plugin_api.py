"""The Python API plugins use, against 3.7.0, through the PasteApiProbe plugin.

The probe (``probe_plugin/``) is a real distribution installed on both
sides. Its command prints what ``pluginlib``, ``get_commands()``,
``run_command``... give it; its template and installer print what
``create``, ``make-config`` and ``setup-app`` hand them. Each test runs the
same command line on both sides and compares.
"""
import re

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


# -- issue 19 ----------------------------------------------------------------

PLUGIN_FILES = '''
import os
from paste.script import pluginlib

def show(label, call):
    try:
        print(label, repr(call()))
    except Exception as exc:
        print(label, type(exc).__name__, str(exc).replace(os.getcwd(), "{work}"))

egg = os.path.join("new", "X.egg-info")
show("add to a missing directory", lambda: pluginlib.add_plugin(egg, "PasteScript"))
show("file", lambda: open(os.path.join(egg, "paster_plugins.txt")).read())
show("add again", lambda: pluginlib.add_plugin(egg, "PasteScript"))
show("add other", lambda: pluginlib.add_plugin(egg, "Pylons"))
show("remove unknown", lambda: pluginlib.remove_plugin(egg, "Nope"))
show("remove, other case", lambda: pluginlib.remove_plugin(egg, "pastescript"))
show("remove last", lambda: pluginlib.remove_plugin(egg, "Pylons"))
show("file", lambda: open(os.path.join(egg, "paster_plugins.txt")).read())
os.mkdir("empty.egg-info")
show("remove without a file", lambda: pluginlib.remove_plugin("empty.egg-info", "X"))
'''


def test_add_and_remove_plugin(pair: Pair):
    # Item 2: add_plugin creates a missing egg-info directory; remove_plugin
    # raises ValueError for a plugin not listed and for a missing file.
    out = same(*pair.run_python(PLUGIN_FILES))
    assert "add to a missing directory None\n" in out
    assert "remove unknown ValueError Plugin Nope not found in file " in out
    assert "remove without a file ValueError Cannot remove plugin from " in out
    assert out.endswith("file ''\n" + "remove without a file ValueError Cannot remove plugin "
                        "from empty.egg-info/paster_plugins.txt; file does not exist\n")


ENSURE_FILE = '''
import os
from paste.script.command import Command

class Writer(Command):
    summary = "writes"
    parser = Command.standard_parser(verbose=True, interactive=True, overwrite=True)

    def command(self):
        try:
            self.ensure_file("new.ini", None)
        except AssertionError as exc:
            print("AssertionError:", exc)
        print("files:", sorted(os.listdir(".")))
        self.ensure_file("app.ini", b"[app:main]\\nnew = 1\\n")
        print("app.ini:", open("app.ini").read().splitlines())

Writer("writer").run(["-i"])
'''


def write_app_ini(work):
    (work / "app.ini").write_text("[app:main]\nold = 1\n")


def test_ensure_file_none_and_a_differing_file(pair: Pair):
    # Item 3: None is an AssertionError and nothing is written, as in 3.7.
    # Item 4: a differing file is shown and asked about, no by default
    # (Enter); 3.7 meant that ([y/N]) but its diff of bytes raised a
    # TypeError before the question.
    old, new = pair.run_python(ENSURE_FILE, setup=write_app_ini, input="\n")
    head = ("AssertionError: You cannot pass a content of None\n"
            "files: ['app.ini']\n"
            "Warning: file app.ini does not match expected content\n")
    assert old.stdout == head and old.returncode == 1
    assert old.stderr.rstrip().endswith("TypeError: lines to compare must be str, not bytes "
                                        "(b'[app:main]')")
    assert (new.returncode, new.stderr) == (0, "")
    assert new.stdout == head + (
        "--- app.ini (old)\n+++ app.ini (new)\n@@ -1,2 +1,2 @@\n [app:main]\n-old = 1\n"
        "+new = 1\nOverwrite file with new content? [y/N] Not overwriting\n"
        "app.ini: ['[app:main]', 'old = 1']\n")


def test_make_config_never_shows_the_secret(probe_pair: Pair):
    # Issue 16 item 19: -vv lists the variables; 3.7 showed the generated
    # app_instance_secret there, ours does not. The rest is the same.
    old, new = probe_pair.run("make-config", "-vv", "PasteApiProbe", "probe.ini")
    assert (old.returncode, new.returncode) == (0, 0), old.output + new.output
    secret = re.compile(r"^  app_instance_secret: (.*)$", re.M)
    uuid = re.compile(r"^  app_instance_uuid: (.*)$", re.M)
    assert re.fullmatch(r"'[A-Za-z0-9+/]{25}'", secret.search(old.stdout).group(1))
    assert secret.search(new.stdout).group(1) == "(secret, not shown)"
    assert [secret.sub("", uuid.sub("", r.stdout)) for r in (old, new)] == \
        [secret.sub("", uuid.sub("", new.stdout))] * 2
    assert new.tree() == old.tree()


PIPELINE_INI = """\
[app:main]
use = egg:PasteApiProbe
setting = 1

[pipeline:pipe]
pipeline = deco main

[app:filtered]
use = egg:PasteApiProbe
setting = 1
filter-with = deco

[filter:deco]
paste.filter_factory = api_probe.widgets:make_filter
"""


def write_pipeline_ini(work):
    (work / "probe.ini").write_text(PIPELINE_INI)


@pytest.mark.parametrize("name", ["pipe", "filtered"])
def test_setup_app_through_a_pipeline_or_a_filter(probe_pair: Pair, name):
    # Item 7: websetup gets the wrapped application's configuration, as for
    # a plain [app:...]; 3.7 refused pipelines and filters.
    plain_old, plain_new = probe_pair.run("setup-app", "probe.ini", setup=write_pipeline_ini)
    wrapped_old, wrapped_new = probe_pair.run("setup-app", f"--name={name}", "probe.ini",
                                              setup=write_pipeline_ini)
    assert plain_new.stdout == plain_old.stdout and "'setting': '1'" in plain_old.stdout
    assert wrapped_old.returncode == 2
    assert wrapped_old.stdout.startswith(f"The section '{name}' is not the application")
    assert (wrapped_new.returncode, wrapped_new.stderr) == (0, "")

    def websetup(result):
        return [line for line in result.stdout.splitlines() if line.startswith("websetup ")]

    assert websetup(wrapped_new) == websetup(plain_old)
