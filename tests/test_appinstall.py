"""make-config and setup-app: a real application package installed with pip.

The end-to-end checks install a throw-away package into a temporary venv
(once per module) that sees the checkout's PasteScript and PasteDeploy,
then drive ``paster`` in that venv. Smaller checks build a bare egg-info
distribution on ``sys.path`` (the ``fake_site`` fixture) and run the
commands in process.
"""
import configparser
import os
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from paste.script.command import main
from tests.support import (free_port, http_get, paster_env, stop_process,
                           wait_for_port, write)

# -- the throw-away application package -------------------------------------

SETUP_PY = '''
import os
from setuptools import setup
from setuptools.command.egg_info import egg_info


class egg_info_with_config(egg_info):
    """Put the deployment template into the metadata directory, as real apps do."""

    def run(self):
        super().run()
        with open("paste_deploy_config.ini_tmpl") as f:
            self.write_file("deployment config template",
                            os.path.join(self.egg_info, "paste_deploy_config.ini_tmpl"),
                            f.read())


setup(
    name="ThrowAwayApp",
    version="1.2",
    description="An application that exists for one test run",
    packages=["throwaway_app"],
    cmdclass={"egg_info": egg_info_with_config},
    entry_points={
        "paste.app_factory": ["main = throwaway_app:make_app"],
        "paste.app_install": ["main = paste.script.appinstall:Installer"],
    },
)
'''

APP_PY = '''
def make_app(global_conf, greeting="hello", secret="", **local_conf):
    def app(environ, start_response):
        body = f"throwaway says {greeting} ({len(secret)}-char secret)".encode()
        start_response("200 OK", [("Content-Type", "text/plain"),
                                  ("Content-Length", str(len(body)))])
        return [body]
    return app
'''

WEBSETUP_PY = '''
import os


def setup_app(command, conf, vars):
    with open(conf["marker"], "w") as f:
        f.write(f"greeting={conf['greeting']}\\n")
        f.write(f"filename={os.path.basename(conf.filename)}\\n")
        f.write(f"command={command.command_name}\\n")
        f.write(f"vars={sorted(vars.items())}\\n")
'''

TEMPLATE = '''\
# config for $project_name ($ep_name), instance $app_instance_uuid
[app:main]
use = egg:$requirement
greeting = $greeting
secret = $app_instance_secret
marker = %(here)s/setup-done.txt

[server:main]
use = egg:waitress#main
host = 127.0.0.1
port = $http_port
'''


def _site_packages(venv: Path) -> Path:
    return venv / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"


@pytest.fixture(scope="module")
def app_venv(tmp_path_factory):
    """A venv in which ThrowAwayApp is pip-installed; returns its python."""
    root = tmp_path_factory.mktemp("appinstall")
    pkg = root / "src"
    write(pkg / "setup.py", SETUP_PY)
    write(pkg / "paste_deploy_config.ini_tmpl", TEMPLATE)
    write(pkg / "throwaway_app" / "__init__.py", APP_PY)
    write(pkg / "throwaway_app" / "websetup.py", WEBSETUP_PY)
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    # Everything installed for the test run (PasteScript editable, PasteDeploy,
    # waitress, pip, setuptools) stays visible, .pth files included.
    parents = dict.fromkeys(sysconfig.get_paths()[key] for key in ("purelib", "platlib"))
    (_site_packages(venv) / "_parent_env.pth").write_text("".join(
        f"import site; site.addsitedir({parent!r})\n" for parent in parents))
    python = venv / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps",
                    "--no-build-isolation", "--no-index", str(pkg)],
                   check=True, capture_output=True, cwd=root)
    return python


def paster(python, *args, cwd, input=None, env=None):
    return subprocess.run([str(python), "-m", "paste.script", *args], cwd=cwd, input=input,
                          capture_output=True, text=True, timeout=60,
                          env=env or paster_env(HOME=str(cwd)))


def read_ini(path) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser()
    parser.read(path)
    return parser


def test_make_config_renders_the_package_template(app_venv, tmp_path):
    port = free_port()
    result = paster(app_venv, "make-config", "ThrowAwayApp", "app.ini",
                    f"http_port={port}", "greeting=bonjour", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    ini = read_ini(tmp_path / "app.ini")
    assert ini.get("app:main", "use") == "egg:ThrowAwayApp"
    assert ini.get("app:main", "greeting") == "bonjour"
    assert ini.get("server:main", "port") == str(port)
    assert re.fullmatch(r"[A-Za-z0-9+/]{25}", ini.get("app:main", "secret"))
    assert "Now you should edit the config files" in result.stdout
    assert "app.ini" in result.stdout


def test_make_config_secrets_differ_between_runs(app_venv, tmp_path):
    for name in ("one.ini", "two.ini"):
        result = paster(app_venv, "make-config", "ThrowAwayApp", name, "http_port=1",
                        "greeting=x", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
    one, two = read_ini(tmp_path / "one.ini"), read_ini(tmp_path / "two.ini")
    assert one.get("app:main", "secret") != two.get("app:main", "secret")
    first_lines = [(tmp_path / n).read_text().splitlines()[0] for n in ("one.ini", "two.ini")]
    assert first_lines[0] != first_lines[1]  # the instance uuid


def test_make_config_keeps_the_secret_secret(app_venv, tmp_path):
    # Issue 16 item 19: -vv lists the variables but not the secret; the file
    # holding it is readable by its owner only; a diff never shows it.
    result = paster(app_venv, "make-config", "-vv", "ThrowAwayApp", "app.ini",
                    "http_port=1", "greeting=x", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    secret = read_ini(tmp_path / "app.ini").get("app:main", "secret")
    assert "  app_instance_secret: (secret, not shown)\n" in result.stdout
    assert "  greeting: 'x'\n" in result.stdout
    assert secret not in result.stdout + result.stderr
    assert (tmp_path / "app.ini").stat().st_mode & 0o777 == 0o600
    again = paster(app_venv, "make-config", "--no-interactive", "ThrowAwayApp", "app.ini",
                   "http_port=2", "greeting=x", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "does not match expected content" in again.stdout
    assert "-port = 1" in again.stdout and "+port = 2" in again.stdout
    assert secret not in again.stdout
    assert read_ini(tmp_path / "app.ini").get("app:main", "secret") == secret  # kept


def test_setup_app_runs_websetup_then_serve_serves(app_venv, tmp_path):
    port = free_port()
    result = paster(app_venv, "make-config", "ThrowAwayApp", "app.ini",
                    f"http_port={port}", "greeting=salut", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    marker = tmp_path / "setup-done.txt"
    assert not marker.exists()

    result = paster(app_venv, "setup-app", "app.ini", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Running setup_app() from throwaway_app.websetup" in result.stdout
    text = marker.read_text()
    assert "greeting=salut" in text
    assert "filename=app.ini" in text
    assert "command=setup-app" in text

    proc = subprocess.Popen([str(app_venv), "-m", "paste.script", "serve", "app.ini"],
                            cwd=tmp_path, env=paster_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        wait_for_port(port, proc=proc)
        status, _, body = http_get(f"http://127.0.0.1:{port}/")
        assert status == 200
        assert body == b"throwaway says salut (25-char secret)"
    finally:
        stop_process(proc)


def test_make_config_with_setup_runs_setup_app(app_venv, tmp_path):
    result = paster(app_venv, "make-config", "--setup", "ThrowAwayApp", "app.ini",
                    "http_port=1", "greeting=hey", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "greeting=hey" in (tmp_path / "setup-done.txt").read_text()


def test_make_config_info(app_venv, tmp_path):
    result = paster(app_venv, "make-config", "--info", "ThrowAwayApp", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    # as in 3.x: the distribution found, then the installer's description();
    # pkg_resources named it after its metadata directory, whose spelling
    # depends on the pip and setuptools that installed it.
    site = _site_packages(app_venv.parent.parent)
    info = next(p for p in site.iterdir() if p.suffix in (".dist-info", ".egg-info"))
    name = info.name.split("-")[0]
    assert name.lower() == "throwawayapp"
    location = result.stdout.splitlines()[1].split(" from ", 1)[1]
    assert result.stdout == ("Distribution already installed:\n"
                             f"  {name} 1.2 from {location}\n"
                             "An application\n")
    assert not list(tmp_path.glob("*.ini"))


def test_make_config_unknown_package_says_what_to_install(app_venv, tmp_path):
    result = paster(app_venv, "make-config", "NoSuchPackageAnywhere", "app.ini", cwd=tmp_path)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "NoSuchPackageAnywhere" in lines[0]
    assert "pip install NoSuchPackageAnywhere" in lines[0]
    assert "Traceback" not in result.stdout + result.stderr
    assert not (tmp_path / "app.ini").exists()


def test_make_config_missing_template_variable_is_one_line(app_venv, tmp_path):
    result = paster(app_venv, "make-config", "ThrowAwayApp", "app.ini", "http_port=1",
                    cwd=tmp_path)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "greeting" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not (tmp_path / "app.ini").exists()


# -- in process, with a bare egg-info distribution ---------------------------

PLAIN_ENTRY_POINTS = """
    [paste.app_factory]
    main = plainapp:make_app
    other = plainapp:make_other
"""

PLAIN_MODULES = {
    "plainapp/__init__.py": '''
        def make_app(global_conf, **local_conf):
            def app(environ, start_response):
                start_response("200 OK", [("Content-Type", "text/plain")])
                return [b"plain main"]
            return app

        def make_other(global_conf, **local_conf):
            def app(environ, start_response):
                start_response("200 OK", [("Content-Type", "text/plain")])
                return [b"plain other"]
            return app
    ''',
    "plainapp/websetup.py": '''
        CALLS = []

        def setup_config(command, filename, section, vars):
            CALLS.append((command.command_name, filename, section, dict(vars)))
    ''',
}


@pytest.fixture
def plain(fake_site, monkeypatch):
    """A bare ``Plain.egg-info`` distribution (no template, old-style websetup)."""
    monkeypatch.setenv("HOME", str(fake_site.work))
    egg = fake_site("Plain", PLAIN_ENTRY_POINTS, modules=PLAIN_MODULES)
    (egg / "top_level.txt").write_text("plainapp\n")
    yield fake_site
    for name in [m for m in sys.modules if m == "plainapp" or m.startswith("plainapp.")]:
        del sys.modules[name]


def test_simple_config_without_template_loads(plain, capsys):
    assert main(["make-config", "Plain", "plain.ini"]) == 0
    text = Path("plain.ini").read_text()
    assert text == "[app:main]\nuse = egg:Plain\n"  # exactly 3.x's minimal config
    assert "No paste_deploy_config.ini_tmpl found" in capsys.readouterr().out
    from paste.deploy import loadapp
    from paste.script.request import build_environ, call_app
    app = loadapp("config:plain.ini", relative_to=os.getcwd())
    assert call_app(app, build_environ("/")).body == b"plain main"
    assert "Plain" in text


def test_named_application_from_fragment(plain, capsys):
    assert main(["make-config", "Plain#other", "other.ini"]) == 0
    assert read_ini("other.ini").get("app:main", "use") == "egg:Plain#other"
    assert main(["make-config", "--name", "other", "Plain#other", "x.ini"]) == 2
    assert "both --name and" in capsys.readouterr().err


def test_simulate_writes_nothing(plain, capsys):
    assert main(["make-config", "--simulate", "Plain", "plain.ini"]) == 0
    assert not Path("plain.ini").exists()


def test_make_config_needs_a_file_name(plain, capsys):
    assert main(["make-config", "Plain"]) == 2
    assert "You must give a configuration filename" in capsys.readouterr().err


def test_version_requirement_is_checked(plain, capsys):
    assert main(["make-config", "Plain>=1.0", "ok.ini"]) == 0
    assert main(["make-config", "Plain>=2", "no.ini"]) == 2
    err = capsys.readouterr().err
    assert "Plain 1.0 is installed" in err and "pip install 'Plain>=2'" in err
    assert not Path("no.ini").exists()


def test_setup_app_calls_old_style_setup_config(plain, capsys):
    assert main(["make-config", "Plain", "plain.ini"]) == 0
    assert main(["setup-app", "plain.ini"]) == 0
    import plainapp.websetup
    name, filename, section, vars = plainapp.websetup.CALLS[-1]
    assert name == "setup-app"
    assert filename == os.path.abspath("plain.ini")
    assert section == "app:main"
    assert "Running setup_config() from plainapp.websetup" in capsys.readouterr().out


def test_setup_app_follows_a_pipeline_to_the_application(plain, capsys):
    write(Path("pipe.ini"), """
        [pipeline:main]
        pipeline = deco app

        [filter:deco]
        paste.filter_factory = plainapp.deco:make_filter

        [app:app]
        use = egg:Plain
    """)
    write(plain.site / "plainapp" / "deco.py", """
        def make_filter(global_conf, **local_conf):
            return lambda app: app
    """)
    assert main(["setup-app", "pipe.ini"]) == 0, capsys.readouterr()
    import plainapp.websetup
    assert plainapp.websetup.CALLS[-1][1] == os.path.abspath("pipe.ini")


def test_setup_app_without_app_section_is_one_line(plain, capsys):
    write(Path("noapp.ini"), """
        [server:main]
        use = egg:waitress#main
    """)
    assert main(["setup-app", "noapp.ini"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "noapp.ini" in err and "main" in err


def test_setup_app_missing_config_and_section(plain, capsys):
    assert main(["setup-app", "missing.ini"]) == 2
    assert "Config file not found: missing.ini" in capsys.readouterr().err
    assert main(["make-config", "Plain", "plain.ini"]) == 0
    capsys.readouterr()
    assert main(["setup-app", "--name", "nosuch", "plain.ini"]) == 2
    assert "nosuch" in capsys.readouterr().err


def test_setup_app_section_without_distribution(plain, capsys):
    write(Path("explicit.ini"), """
        [app:main]
        paste.app_factory = plainapp:make_app
    """)
    assert main(["setup-app", "explicit.ini"]) == 2
    assert "does not name an installed distribution" in capsys.readouterr().err


def test_sysconfig_hooks(plain, capsys, tmp_path):
    sysconf = write(tmp_path / "mysys.py", """
        import os

        def add_custom_options(parser):
            parser.add_option("--flavour", dest="flavour", default="plain")

        def install_variables(installer):
            return {"from_sysconfig": paste_command.options.flavour}

        def default_config_filename(installer):
            return "default-from-sysconfig.ini"

        def post_setup_hook(installer, config_file):
            with open("post-hook.txt", "w") as f:
                f.write(f"{installer.project_name} {os.path.basename(config_file)}")
    """)
    assert main(["make-config", f"--sysconfig={sysconf}", "--flavour=lemon", "Plain"]) == 0
    assert Path("default-from-sysconfig.ini").exists()
    assert main(["setup-app", "--sysconfig", str(sysconf), "default-from-sysconfig.ini"]) == 0
    assert Path("post-hook.txt").read_text() == "Plain default-from-sysconfig.ini"
    import plainapp.websetup
    assert plainapp.websetup.CALLS[-1][3]["from_sysconfig"] == "plain"
    # The class-level parser was not changed: a plain run rejects --flavour.
    assert main(["make-config", "--flavour=x", "Plain", "p.ini"]) == 2


def test_make_config_setup_passes_sysconfigs_on(plain, capsys, tmp_path):
    sysconf = write(tmp_path / "hook.py", """
        def post_setup_hook(installer, config_file):
            open("hooked.txt", "w").write(installer.ep_name)
    """)
    assert main(["make-config", "--setup", "--sysconfig", str(sysconf), "Plain#other",
                 "other.ini"]) == 0
    assert Path("hooked.txt").read_text() == "other"
    import plainapp.websetup
    assert plainapp.websetup.CALLS[-1][2] == "app:main"


def test_user_sysconfig_and_no_default_sysconfig(plain, capsys):
    write(plain.work / ".paste" / "sysconfig.py", """
        def default_config_filename(installer):
            return "from-home.ini"
    """)
    assert main(["make-config", "Plain"]) == 0
    assert Path("from-home.ini").exists()
    assert main(["make-config", "--no-default-sysconfig", "Plain"]) == 2


def test_missing_explicit_sysconfig_is_an_error(plain, capsys):
    assert main(["make-config", "--sysconfig=/nonexistent/sys.py", "Plain", "x.ini"]) == 2
    assert "sysconfig file /nonexistent/sys.py does not exist" in capsys.readouterr().err


def test_edit_runs_the_editor(plain, capsys, monkeypatch, tmp_path):
    editor = write(tmp_path / "editor.sh", """
        #!/bin/sh
        echo "edited = yes" >> "$1"
    """, mode=0o755)
    monkeypatch.setenv("EDITOR", str(editor))
    assert main(["make-config", "--edit", "Plain", "plain.ini"]) == 0
    assert Path("plain.ini").read_text().endswith("edited = yes\n")
    monkeypatch.setenv("EDITOR", "false")
    assert main(["make-config", "--edit", "--overwrite", "Plain", "p2.ini"]) == 0
    assert "returned with error code 1" in capsys.readouterr().out


def test_help_lists_the_options(capsys):
    assert main(["make-config", "--help"]) == 0
    out = capsys.readouterr().out
    for option in ("--info", "--name", "--entry-group", "--edit", "--setup", "--sysconfig",
                   "--no-default-sysconfig"):
        assert option in out
    assert "-f URL, --find-links=URL" in out and "--easy-install=OP" in out
    assert "-n, --simulate" in out and "  --overwrite" in out
    assert main(["setup-app", "--help"]) == 0
    out = capsys.readouterr().out
    assert "-n, --simulate" in out  # as on every command, and in 3.x
    assert "  --name=SECTION_NAME" in out


def test_option_letters_as_3x(plain, capsys):
    assert main(["make-config", "Plain", "plain.ini"]) == 0
    capsys.readouterr()
    # setup-app -n is --simulate
    assert main(["setup-app", "-n", "plain.ini"]) == 0
    from plainapp import websetup
    assert websetup.CALLS[-1][0] == "setup-app"
    # make-config -f is --find-links: accepted, with a one-line notice
    assert main(["make-config", "-f", "http://example.invalid/links", "--easy-install",
                 "exclude-scripts", "Plain", "again.ini"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ("Note: easy_install is gone, so --easy-install and --find-links "
                            "are ignored (install packages with pip)\n")
    assert Path("again.ini").read_text() == "[app:main]\nuse = egg:Plain\n"
    # the second config file name is always the file, as in 3.x
    assert main(["make-config", "Plain", "x=1"]) == 0
    assert Path("x=1").exists()
