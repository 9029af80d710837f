"""The probe's installer: reports on its ``dist`` in make-config and setup-app."""
from paste.script.appinstall import Installer

from api_probe import show


class ProbeInstaller(Installer):

    def config_content(self, command, vars):
        dist = self.dist
        show("installer project_name", dist.project_name)
        show("installer version", dist.version)
        show("installer repr", repr(dist))
        show("installer location", dist.location)
        show("installer has_metadata", (dist.has_metadata("paste_deploy_config.ini_tmpl"),
                                        dist.has_metadata("nope")))
        show("installer top_level", list(dist.get_metadata_lines("top_level.txt")))
        show("installer entry", dist.get_entry_info("paste.app_install", "main"))
        show("installer loads itself",
             dist.load_entry_point("paste.app_install", "main") is ProbeInstaller)
        show("installer group and name", (self.ep_group, self.ep_name))
        show("installer vars", sorted(vars))
        show("installer computed vars", {name: vars[name] for name in
                                         ("project_name", "app_name", "requirement",
                                          "ep_name", "ep_group")})
        show("installer uuid type", type(vars["app_instance_uuid"]).__name__)
        show("installer description", self.description(None))
        show("installer simple_config", self.simple_config(vars))
        show("installer editable", self.editable_config_files("x.ini"))
        content = super().config_content(command, vars) + "# written by ProbeInstaller\n"
        # 3.7's ensure_file writes bytes only (a str fails there)
        return content.encode("utf-8")

    def setup_config(self, command, filename, section, vars):
        # 3.x handed an importlib.metadata distribution here (from PasteDeploy):
        # use what both offer.
        dist = self.dist
        show("setup version", dist.version)
        show("setup name", dist.metadata["Name"])
        show("setup top_level", dist.read_text("top_level.txt"))
        show("setup installers", sorted(ep.name for ep in dist.entry_points
                                        if ep.group == "paste.app_install"))
        show("setup section", section)
        show("setup simulate", command.simulate)
        show("setup group and name", (self.ep_group, self.ep_name))
        super().setup_config(command, filename, section, vars)
