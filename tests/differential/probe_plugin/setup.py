"""PasteApiProbe: a plugin that exercises the PasteScript API plugins use.

Built into a wheel once per test session and installed next to
PasteScript 3.7.0 and next to this project; its command, template and
installer print what the API gives them, so the two outputs can be compared.
"""
import os

from setuptools import setup
from setuptools.command.egg_info import egg_info


class egg_info_with_extras(egg_info):
    """Also write paster_plugins.txt and the config template into the metadata."""

    def run(self):
        super().run()
        self.write_file("paster plugins", os.path.join(self.egg_info, "paster_plugins.txt"),
                        "PasteScript\n")
        with open("paste_deploy_config.ini_tmpl") as f:
            self.write_file("config template",
                            os.path.join(self.egg_info, "paste_deploy_config.ini_tmpl"),
                            f.read())


setup(
    name="PasteApiProbe",
    version="0.3",
    description="Exercises the PasteScript plugin API",
    packages=["api_probe"],
    package_data={"api_probe": ["probe_template/*", "probe_template/+package+/*"]},
    cmdclass={"egg_info": egg_info_with_extras},
    entry_points={
        "paste.global_paster_command": ["api-probe = api_probe.commands:ProbeCommand"],
        "paste.paster_command": ["api-probe-local = api_probe.commands:LocalCommand"],
        "paste.paster_create_template": ["api_probe = api_probe.template:ProbeTemplate"],
        "paste.app_factory": ["main = api_probe.app:make_app",
                              "plain = api_probe.app:make_app"],
        "paste.app_install": ["main = api_probe.install:ProbeInstaller",
                              "plain = paste.script.appinstall:Installer"],
        "paste.entry_point_description": [
            "api_probe.widgets = api_probe.desc:WidgetsDescription"],
        "api_probe.widgets": ["alpha = api_probe.widgets:Alpha",
                              "beta_utils = api_probe.widgets:make_beta [fancy]",
                              "gamma = api_probe.widgets:Gamma"],
        "api_probe.gadgets": ["spinner = api_probe.widgets:Alpha"],
        "paste.description.api_probe.widgets": ["alpha = api_probe.desc:AlphaDescription"],
        "paste.description.api_probe.gadgets": ["generic = api_probe.desc:GadgetDescription"],
    },
    extras_require={"fancy": []},
)
