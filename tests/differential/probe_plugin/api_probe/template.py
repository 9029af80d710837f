"""``paster create -t api_probe``: a template whose hooks report what they see."""
import os
import sys

from paste.script import pluginlib
from paste.script.templates import Template, var

from api_probe import show


class ProbeTemplate(Template):
    _template_dir = "probe_template"
    summary = "A template that reports what it sees"
    egg_plugins = ["PasteApiProbe"]
    vars = [var("greeting", "What the README says", default="hello")]

    def pre(self, command, output_dir, vars):
        show("pre output_dir", command.shorten(output_dir))
        show("pre vars", {name: vars[name] for name in ("project", "package", "egg", "greeting")})
        show("pre template_dir", os.path.relpath(self.template_dir(), self.module_dir()))
        show("pre module_dir is the package", self.module_dir() == os.path.dirname(__file__))
        show("pre simulate", command.simulate)
        show("pre run_command", command.run_command(sys.executable, "-c", "print('from pre')"))
        show("pre distro", str(pluginlib.get_distro("PasteApiProbe")))

    def post(self, command, output_dir, vars):
        show("post files", sorted(os.listdir(output_dir)))
        with open(os.path.join(output_dir, "README.txt")) as f:
            show("post README", f.read())
        show("post shorten", command.shorten(output_dir, "README.txt"))
