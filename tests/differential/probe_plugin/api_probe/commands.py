"""``paster api-probe SECTION``: print what each part of the API gives a plugin."""
import os
import sys

from paste.script import command as command_module
from paste.script import entrypoints, pluginlib
from paste.script.command import Command

from api_probe import show

PY = sys.executable


class ProbeCommand(Command):
    """Reports on the PasteScript API, one section at a time."""

    summary = "Report what the PasteScript API gives a plugin"
    usage = "SECTION"
    min_args = 1
    max_args = 1
    parser = Command.standard_parser(verbose=True, simulate=True)

    def command(self):
        section = self.args[0].replace("-", "_")
        getattr(self, f"section_{section}")()

    def section_dist(self):
        dist = pluginlib.get_distro("PasteApiProbe")
        show("project_name", dist.project_name)
        show("key", dist.key)
        show("version", dist.version)
        show("str", str(dist))
        show("repr", repr(dist))
        show("location", dist.location)
        show("has_metadata top_level.txt", dist.has_metadata("top_level.txt"))
        show("has_metadata nope", dist.has_metadata("nope"))
        show("get_metadata top_level.txt", dist.get_metadata("top_level.txt"))
        show("get_metadata_lines paster_plugins.txt",
             list(dist.get_metadata_lines("paster_plugins.txt")))
        try:
            dist.get_metadata("nope.txt")
        except OSError as exc:
            show("get_metadata nope.txt", (type(exc).__name__, str(exc)))
        entry_map = dist.get_entry_map()
        show("entry map groups", sorted(entry_map))
        show("entry map widgets", entry_map["api_probe.widgets"])
        show("get_entry_map widgets", dist.get_entry_map("api_probe.widgets"))
        show("get_entry_map missing", dist.get_entry_map("no.such.group"))
        ep = dist.get_entry_info("api_probe.widgets", "beta_utils")
        for attr in ("name", "module_name", "attrs", "extras"):
            show(f"entry {attr}", getattr(ep, attr))
        show("entry str", str(ep))
        show("entry repr", repr(ep))
        show("entry dist", repr(ep.dist))
        show("entry load", ep.load().__name__)
        show("get_entry_info missing", dist.get_entry_info("api_probe.widgets", "nope"))
        show("load_entry_point", dist.load_entry_point("api_probe.widgets", "alpha").__name__)
        try:
            dist.load_entry_point("api_probe.widgets", "nope")
        except ImportError as exc:
            show("load_entry_point missing", str(exc))
        show("spec with version", str(pluginlib.get_distro("PasteApiProbe>=0.2")))

    def section_commands(self):
        commands = command_module.get_commands()
        show("command names", sorted(commands))
        ep = commands["api-probe"]
        for attr in ("name", "module_name", "attrs"):
            show(f"command {attr}", getattr(ep, attr))
        show("command str", str(ep))
        show("command repr", repr(ep))
        show("command dist", repr(ep.dist))
        show("command dist project_name", ep.dist.project_name)
        show("command loads", ep.load() is ProbeCommand)
        show("help dist key", commands["help"].dist.key)

    def section_plugins(self):
        plugins = ["PasteApiProbe"]
        found = pluginlib.resolve_plugins(plugins)
        show("resolve_plugins keys", [dist.key for dist in found])
        show("resolve_plugins first", repr(found[0]))
        show("list after", plugins)
        show("has project_name", [hasattr(dist, "project_name") for dist in found])
        show("commands of plugins", sorted(pluginlib.load_commands_from_plugins(found)))
        show("commands of names", sorted(pluginlib.load_commands_from_plugins(["PasteApiProbe"])))
        twice = pluginlib.resolve_plugins(["PasteApiProbe", "PasteApiProbe"])
        show("name given twice", [dist.key for dist in twice])
        show("parse_lines", pluginlib.parse_lines("a\n# no\n\n  b  \n"))
        show("egg_name", pluginlib.egg_name("Paste Api-Probe"))

    def section_run(self):
        both = "import sys; print('out', flush=True); sys.stderr.write('err\\n')"
        show("stdout only", self.run_command(PY, "-c", both))
        show("capture_stderr", self.run_command(PY, "-c", both, capture_stderr=True))
        code3 = "import sys; print('three'); sys.exit(3)"
        show("expect_returncode", self.run_command(PY, "-c", code3, expect_returncode=True))
        show("warn_returncode", self.run_command(PY, "-c", code3, warn_returncode=True))
        try:
            self.run_command(PY, "-c", code3)
        except OSError as exc:
            show("failure", (type(exc).__name__, str(exc)))
        try:
            self.run_command("/no/such/program", "x")
        except OSError as exc:
            show("missing program", (type(exc).__name__, str(exc)))
        try:
            self.run_command(PY, "-c", "pass", bogus=1)
        except AssertionError as exc:
            show("unknown keyword", str(exc))
        os.makedirs("sub", exist_ok=True)
        show("cwd", self.run_command(PY, "-c", "import os; print(os.path.basename(os.getcwd()))",
                                     cwd=os.path.abspath("sub")))
        self.simulate = True
        show("simulated", self.run_command(PY, "-c", "print('not shown')"))
        show("forced", self.run_command(PY, "-c", "print('forced')", force_no_simulate=True))
        try:
            self.run_command("no-such-program-for-the-probe")
        except OSError as exc:
            show("missing program, simulating", str(exc))

    def section_run_stderr(self):
        # stderr of a failing program is shown; 3.x printed it as a bytes repr
        try:
            self.run_command(PY, "-c", "import sys; sys.stderr.write('bad\\n'); sys.exit(2)")
        except OSError as exc:
            show("failure", str(exc))

    def section_svn(self):
        bindir = os.path.abspath("fakebin")
        os.makedirs(bindir, exist_ok=True)
        svn = os.path.join(bindir, "svn")
        with open(svn, "w") as f:
            f.write('#!/bin/sh\necho "svn $*"\nexit ${PROBE_SVN_EXIT:-0}\n')
        os.chmod(svn, 0o755)
        os.environ["PATH"] = bindir + os.pathsep + os.environ["PATH"]
        show("svn ok", self.svn_command("status", "-q"))
        os.environ["PROBE_SVN_EXIT"] = "1"
        show("svn failing", self.svn_command("add", "x"))
        show("svn failing again", self.svn_command("add", "y"))

    def section_shorten(self):
        here = os.getcwd()
        show("cwd", self.shorten(here))
        show("below", self.shorten(os.path.join(here, "a", "b")))
        show("joined", self.shorten(here, "c", "d.txt"))
        show("elsewhere", self.shorten("/elsewhere/file"))
        show("relative", self.shorten("rel/file"))

    def section_epdesc(self):
        desc = entrypoints.EntryPointDescription("some.group")
        show("EntryPointDescription group", desc.group)
        from api_probe import widgets
        show("super_generic function", entrypoints.super_generic(widgets.make_beta).description)
        show("super_generic class", entrypoints.super_generic(widgets.Alpha).description)
        show("super_generic undocumented", entrypoints.super_generic(widgets.Gamma).description)
        show("dedent", entrypoints.dedent("\n    a\n      b\n"))


class LocalCommand(Command):
    """Only active where PasteApiProbe is a plugin."""

    summary = "A plugin-only command of the probe"
    parser = Command.standard_parser()

    def command(self):
        print(f"local command ran with {self.args!r}")
