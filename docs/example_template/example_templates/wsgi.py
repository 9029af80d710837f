import os

from paste.script.templates import Template, var


class WsgiAppTemplate(Template):
    """A WSGI application with a development config for ``paster serve``."""

    # Relative to this module's directory.
    _template_dir = "templates/wsgi_app"
    summary = "A small WSGI application served by paster serve"
    # basic_package writes setup.py, setup.cfg and the package directory first.
    required_templates = ["PasteScript#basic_package"]
    # Listed in the new project's paster_plugins.txt: its commands become
    # available inside the project.
    egg_plugins = ["PasteScript"]
    vars = [
        var("greeting", "What the application says", default="Hello"),
        var("http_port", "Port of the development server", default="8080"),
    ]

    def check_vars(self, vars, cmd):
        vars = super().check_vars(vars, cmd)
        if not str(vars["http_port"]).isdigit():
            raise cmd.BadCommand(f"http_port must be a number, not {vars['http_port']!r}")
        return vars

    def post(self, command, output_dir, vars):
        # basic_package's setup.py has marker comments for exactly this.
        setup_py = os.path.join(output_dir, "setup.py")
        command.insert_into_file(setup_py, "Extra requirements", "'PasteDeploy',\n", indent=True)
        command.insert_into_file(
            setup_py, "Entry points",
            "[paste.app_factory]\nmain = %(package)s.app:make_app\n" % vars, indent=True)
        if command.verbose:
            print(f"Now: cd {output_dir} && pip install -e . && "
                  f"paster serve docs/development.ini")
