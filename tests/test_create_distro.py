"""``paster create``: options, variables, templates, conflicts and bad input."""
from __future__ import annotations

import configparser
import importlib
import os
import shutil
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from paste.script.command import main
from tests.support import PYTHON, paster_env, run_paster, write


def make_dist(root: Path, name: str, templates: dict, modules: dict) -> Path:
    """A distribution on ``root`` (a sys.path entry): a dist-info with template entry points."""
    info = root / f"{name}-1.0.dist-info"
    write(info / "METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    lines = "".join(f"{n} = {target}\n" for n, target in templates.items())
    write(info / "entry_points.txt", f"[paste.paster_create_template]\n{lines}")
    for path, text in modules.items():
        write(root / path, text)
    return root


@pytest.fixture
def tmpl_path(tmp_path, monkeypatch):
    """A fresh sys.path entry for throw-away template distributions, and a work dir as cwd."""
    root = tmp_path / "site"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    yield root
    importlib.invalidate_caches()


def unique(prefix="tmplmod"):
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def create(*args):
    return main(["create", *args])


def no_input(monkeypatch):
    def fail(prompt=""):
        raise AssertionError(f"unexpected prompt {prompt!r}")
    monkeypatch.setattr("builtins.input", fail)


# -- listing ---------------------------------------------------------------

def test_list_templates_format(capsys):
    assert create("--list-templates") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Available templates:"
    assert "  basic_package:  A basic setuptools-enabled package" in lines
    assert "  paste_deploy:   A web application deployed through paste.deploy" in lines
    names = [line.split(":")[0].strip() for line in lines[1:]]
    assert names == sorted(names)


def test_list_templates_shows_broken_template(tmpl_path, capsys):
    make_dist(tmpl_path, "BrokenTmpl", {"aaa_broken": "no_such_module_xyz:Thing"}, {})
    assert create("--list-templates") == 0
    out = capsys.readouterr().out
    assert "  aaa_broken:" in out and "failed to load" in out and "no_such_module_xyz" in out
    assert "basic_package:" in out


def test_list_variables(capsys):
    assert create("--list-variables", "-t", "paste_deploy") == 0
    out = capsys.readouterr().out
    assert "Variables for template PasteScript#basic_package:" in out
    assert "  version           Version (like 0.1)" in out
    assert "      default: False" in out


def test_unknown_template_names_known_ones(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert create("-t", "nonesuch", "Foo") == 2
    err = capsys.readouterr().err
    assert "nonesuch" in err and "basic_package" in err and "paste_deploy" in err
    assert "Traceback" not in err
    assert os.listdir(tmp_path) == []


def test_unknown_distribution_in_spec(capsys):
    assert create("-t", "NoSuchDist#basic_package", "--list-variables") == 2
    assert "NoSuchDist" in capsys.readouterr().err


# -- creating ----------------------------------------------------------------

def test_basic_package_no_interactive(tmp_path, monkeypatch, capsys):
    no_input(monkeypatch)
    monkeypatch.chdir(tmp_path)
    assert create("--no-interactive", "-q", "My-Project", "version=1.0", "author=Ann O'Neil",
                  "license_name=MIT") == 0
    out = tmp_path / "My-Project"
    setup_py = (out / "setup.py").read_text()
    assert "version = '1.0'\n" in setup_py
    assert "name='My-Project'," in setup_py
    assert "author=\"Ann O'Neil\"," in setup_py
    assert "zip_safe=False," in setup_py
    assert "        # -*- Extra requirements: -*-\n" in setup_py
    assert "    # -*- Entry points: -*-\n" in setup_py
    compile(setup_py, "setup.py", "exec")
    assert (out / "setup.cfg").read_text() == "[egg_info]\ntag_build = dev\ntag_svn_revision = true\n"
    assert (out / "myproject" / "__init__.py").read_text() == "#\n"
    assert "MIT" in (out / "docs" / "license.txt").read_text()
    assert (out / "My_Project.egg-info" / "PKG-INFO").exists()
    assert capsys.readouterr().out == ""


def test_output_dir_option(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert create("--no-interactive", "-q", "-o", "sub/dir", "Foo") == 0
    assert (tmp_path / "sub" / "dir" / "Foo" / "setup.py").exists()


def test_simulate_writes_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert create("--no-interactive", "--simulate", "Foo") == 0
    assert os.listdir(tmp_path) == []
    out = capsys.readouterr().out
    assert "Copying setup.py_tmpl to ./Foo/setup.py" in out
    assert "Would run" in out and "egg_info" in out


def test_existing_different_file_kept_then_overwritten(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "Foo" / "setup.cfg", "[mine]\n")
    assert create("--no-interactive", "Foo") == 0
    assert (tmp_path / "Foo" / "setup.cfg").read_text() == "[mine]\n"
    assert "--overwrite" in capsys.readouterr().out
    assert create("--no-interactive", "-q", "--overwrite", "Foo") == 0
    assert (tmp_path / "Foo" / "setup.cfg").read_text().startswith("[egg_info]")


def test_interactive_conflict_backup_through_stdin(tmp_path):
    write(tmp_path / "Foo" / "setup.cfg", "[mine]\n")
    answers = "\n" * 9 + "d\nb\n"    # nine variables take their defaults, then diff, backup
    proc = run_paster("create", "Foo", cwd=tmp_path, input=answers)
    assert proc.returncode == 0, proc.stderr
    assert "+[egg_info]" in proc.stdout and "-[mine]" in proc.stdout
    assert (tmp_path / "Foo" / "setup.cfg.bak").read_text() == "[mine]\n"
    assert (tmp_path / "Foo" / "setup.cfg").read_text().startswith("[egg_info]")


def test_config_round_trip(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = write(tmp_path / "vars.ini", """
        [other]
        keep = me

        [pastescript]
        author = From Config
        version = 2.0
        """)
    assert create("--no-interactive", "-q", "--config", str(config), "Foo", "version=3.0") == 0
    setup_py = (tmp_path / "Foo" / "setup.py").read_text()
    assert "author='From Config'" in setup_py
    assert "version = '3.0'" in setup_py              # command line beats the file
    parser = configparser.RawConfigParser()
    parser.read(config)
    assert parser.get("other", "keep") == "me"
    assert parser.get("pastescript", "version") == "3.0"
    assert parser.get("pastescript", "author") == "From Config"
    assert parser.get("pastescript", "zip_safe") == "False"
    assert not parser.has_option("pastescript", "project")
    shutil.rmtree(tmp_path / "Foo")
    # The written file alone reproduces the project.
    assert create("--no-interactive", "-q", "--config", str(config), "Foo") == 0
    assert (tmp_path / "Foo" / "setup.py").read_text() == setup_py


def test_inspect_files(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert create("--no-interactive", "-q", "-t", "paste_deploy", "Foo") == 0
    write(tmp_path / "Foo" / "NOTES.txt", "mine\n")
    os.unlink(tmp_path / "Foo" / "docs" / "license.txt")
    capsys.readouterr()
    assert create("--inspect-files", "-t", "paste_deploy", "Foo") == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines() if line.startswith("Foo/")}
    assert "PasteScript#basic_package (setup.py_tmpl)" in lines["Foo/setup.py"]
    assert "PasteDeploy#paste_deploy (+package+/wsgiapp.py_tmpl)" in lines["Foo/foo/wsgiapp.py"]
    assert "not from any template" in lines["Foo/NOTES.txt"]
    assert "missing" in out and "Foo/docs/license.txt" in out


def test_bad_project_names(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for name in ("../evil", "/abs", "a/b", "...", "-_-" if False else "--"):
        assert create("--no-interactive", name) == 2, name
        assert "Traceback" not in capsys.readouterr().err
    assert os.listdir(tmp_path) == []


def test_bad_var_argument(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert create("--no-interactive", "Foo", "novalue") == 2
    assert "novalue" in capsys.readouterr().err


def test_project_name_asked_when_missing(tmp_path):
    proc = run_paster("create", "-t", "basic_package", cwd=tmp_path, input="Asked\n" + "\n" * 9)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "Asked" / "setup.py").exists()
    proc = run_paster("create", "--no-interactive", cwd=tmp_path)
    assert proc.returncode == 2 and "project name" in proc.stderr


# -- templates of our own ------------------------------------------------------

REQUIRED_MODULE = '''
import os
from paste.script.templates import Template, var, NoDefault

class Base(Template):
    _template_dir = "base_tmpl"
    summary = "base"
    vars = [var("base_var", "Base variable", default="b")]
    egg_plugins = ["BasePlugin"]

class Middle(Template):
    _template_dir = "middle_tmpl"
    summary = "middle"
    required_templates = ["base"]
    egg_plugins = ["MiddlePlugin", "BasePlugin"]

class Top(Template):
    _template_dir = "top_tmpl"
    summary = "top"
    required_templates = ["middle", "base"]
    vars = [var("needed", "A required one", default=NoDefault),
            var("also_needed", None, default=NoDefault)]

    def pre(self, command, output_dir, vars):
        vars["from_pre"] = "pre ran"

    def post(self, command, output_dir, vars):
        with open(os.path.join(output_dir, "post.txt"), "w") as f:
            f.write("post saw " + vars["from_pre"])
'''


@pytest.fixture
def layered(tmpl_path):
    module = unique()
    make_dist(tmpl_path, "Layered", {"base": f"{module}:Base", "middle": f"{module}:Middle",
                                     "top": f"{module}:Top"}, {
        f"{module}.py": REQUIRED_MODULE,
        "base_tmpl/base.txt_tmpl": "base $base_var\n",
        "base_tmpl/setup.py": "from setuptools import setup\nsetup(name='Proj', version='1')\n",
        "middle_tmpl/middle.txt": "middle\n",
        "top_tmpl/top.txt_tmpl": "top $needed $also_needed $from_pre\n",
    })
    return tmpl_path


def test_required_templates_transitive_once(layered, capsys):
    assert create("--no-interactive", "-t", "top", "Proj", "needed=n", "also_needed=a") == 0
    out = capsys.readouterr().out
    order = [line.split()[-1] for line in out.splitlines() if line.startswith("Creating template")]
    assert order == ["base", "middle", "top"]
    proj = Path("Proj")
    assert (proj / "base.txt").read_text() == "base b\n"
    assert (proj / "top.txt").read_text() == "top n a pre ran\n"
    assert (proj / "post.txt").read_text() == "post saw pre ran"
    plugins = (proj / "Proj.egg-info" / "paster_plugins.txt").read_text().split()
    assert plugins == ["BasePlugin", "MiddlePlugin"]


def test_missing_required_variables_all_listed_nothing_written(layered, capsys):
    assert create("--no-interactive", "-t", "top", "Proj") == 2
    err = capsys.readouterr().err
    assert "needed (A required one)" in err and "also_needed" in err
    assert "Traceback" not in err
    assert os.listdir(".") == []


def test_variables_gathered_before_writing(layered, monkeypatch):
    asked = []

    def fake_input(prompt=""):
        asked.append((prompt, os.path.exists("Proj")))
        return "x"
    monkeypatch.setattr("builtins.input", fake_input)
    assert create("-t", "top", "Proj") == 0
    assert [p.split(" ")[1].rstrip(":") for p, _ in asked] == ["needed", "also_needed", "base_var"]
    assert not any(existed for _, existed in asked)


def test_template_syntax_error_names_file_and_line(tmpl_path, capsys):
    module = unique()
    make_dist(tmpl_path, "Chee", {"chee": f"{module}:Chee"}, {
        f"{module}.py": "from paste.script.templates import Template\n"
                        "class Chee(Template):\n    _template_dir = 't'\n    use_cheetah = True\n",
        "t/ok.txt": "fine\n",
        "t/bad.txt_tmpl": "line 1\n#if $x\nline 3\n#end for\n",
    })
    assert create("--no-interactive", "-t", "chee", "Proj", "x=1") == 1
    err = capsys.readouterr().err
    assert "bad.txt_tmpl:4" in err and "Traceback" not in err
    assert not os.path.exists("Proj/ok.txt")


def test_variable_escaping_output_dir_is_refused(tmpl_path, tmp_path, capsys):
    module = unique()
    make_dist(tmpl_path, "Esc", {"esc": f"{module}:Esc"}, {
        f"{module}.py": "from paste.script.templates import Template\n"
                        "class Esc(Template):\n    _template_dir = 't'\n",
        "t/+target+.txt": "x\n",
    })
    assert create("--no-interactive", "-t", "esc", "Proj", "target=../../escaped") == 1
    assert "outside the output directory" in capsys.readouterr().err
    assert not (tmp_path / "escaped.txt").exists()


def test_self_requiring_template(tmpl_path, capsys):
    module = unique()
    make_dist(tmpl_path, "Loop", {"loop_a": f"{module}:A", "loop_b": f"{module}:B"}, {
        f"{module}.py": "from paste.script.templates import Template\n"
                        "class A(Template):\n    _template_dir = 't'\n    required_templates = ['loop_b']\n"
                        "class B(Template):\n    _template_dir = 't'\n    required_templates = ['loop_a']\n",
    })
    assert create("--no-interactive", "-t", "loop_a", "Proj") == 1
    assert "requires itself" in capsys.readouterr().err


# -- environment ---------------------------------------------------------------

@pytest.fixture(scope="module")
def svn():
    if shutil.which("svn") is None or shutil.which("svnadmin") is None:
        subprocess.run(["apt-get", "install", "-y", "subversion"], capture_output=True, timeout=300)
    assert shutil.which("svn"), "subversion is needed (apt-get install -y subversion)"
    return shutil.which("svn")


def test_svn_repository(tmp_path, svn):
    repo = tmp_path / "repo"
    subprocess.run(["svnadmin", "create", str(repo)], check=True)
    work = tmp_path / "work"
    work.mkdir()
    proc = run_paster("create", "--no-interactive", "-q", "--svn-repository", f"file://{repo}",
                      "Foo", cwd=work)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    listing = subprocess.run([svn, "ls", f"file://{repo}/Foo"], capture_output=True, text=True,
                             check=True).stdout.split()
    assert listing == ["branches/", "tags/", "trunk/"]
    status = subprocess.run([svn, "status"], cwd=work / "Foo", capture_output=True, text=True,
                            check=True).stdout
    added = {line.split()[-1] for line in status.splitlines() if line.startswith("A")}
    assert {"setup.py", "setup.cfg", "foo", "foo/__init__.py", "docs/license.txt"} <= added
    assert not any("egg-info" in name for name in added)
    commit = subprocess.run([svn, "commit", "-m", "initial"], cwd=work / "Foo",
                            capture_output=True, text=True)
    assert commit.returncode == 0, commit.stderr


@pytest.fixture
def readonly_dir(tmp_path):
    """A directory nobody can create files in, even root (immutable, or a read-only mount)."""
    path = tmp_path / "ro"
    path.mkdir()
    undo = None
    if os.geteuid() != 0:
        path.chmod(0o555)
        undo = ["chmod", "755", str(path)]
    elif subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode == 0:
        undo = ["chattr", "-i", str(path)]
    elif subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(path)],
                        capture_output=True).returncode == 0:
        undo = ["umount", str(path)]
    assert undo, "cannot make a read-only directory (need chattr or mount as root)"
    yield path
    subprocess.run(undo, check=True)


def test_output_directory_not_writable(readonly_dir, tmp_path):
    proc = run_paster("create", "--no-interactive", "-o", str(readonly_dir), "Foo", cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert str(readonly_dir / "Foo") in proc.stderr
    assert ("Permission denied" in proc.stderr or "Operation not permitted" in proc.stderr
            or "Read-only file system" in proc.stderr)
    assert "Traceback" not in proc.stderr
    assert os.listdir(readonly_dir) == []


def test_verbose_shows_more_and_quiet_nothing(tmp_path):
    quiet = run_paster("create", "--no-interactive", "-q", "A", cwd=tmp_path)
    assert quiet.returncode == 0 and quiet.stdout == ""
    loud = run_paster("create", "--no-interactive", "-v", "B", cwd=tmp_path)
    assert "Creating with variables" in loud.stdout and "Running setup.py egg_info" in loud.stdout
    normal = run_paster("create", "--no-interactive", "C", cwd=tmp_path)
    assert "Copying setup.py_tmpl" in normal.stdout and "Creating with variables" not in normal.stdout
