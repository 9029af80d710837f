"""``paster create``: options, variables, templates, conflicts and bad input."""
from __future__ import annotations

import configparser
import importlib
import os
import shutil
import signal
import subprocess
import sys
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
    # As in 3.7: a warning line before the list, and the others listed.
    assert out.startswith("Warning: could not load entry point aaa_broken (ModuleNotFoundError: "
                          "No module named 'no_such_module_xyz')\nAvailable templates:\n")
    assert "aaa_broken:" not in out and "  basic_package:" in out


def test_template_needing_paste_says_how_to_get_it(tmpl_path, capsys):
    make_dist(tmpl_path, "NeedsPaste", {"needs_paste": "needspaste:Tmpl"},
              {"needspaste.py": "from paste.util.template import paste_script_template_renderer\n"})
    assert create("--list-templates") == 0
    assert "(the template needs Paste: install PasteScript[paste])" in capsys.readouterr().out
    assert create("-t", "needs_paste", "--no-interactive", "Foo") == 1
    err = capsys.readouterr().err
    assert err.strip().endswith("No module named 'paste.util' (the template needs Paste: "
                                "install PasteScript[paste])")


def test_list_variables(capsys):
    assert create("--list-variables", "-t", "paste_deploy") == 0
    out = capsys.readouterr().out
    # 3.7's order (required templates first) and format
    assert out.startswith("basic_package (from PasteScript#basic_package)\n" + "-" * 46 + "\n")
    assert "paste_deploy (from" not in out  # no variables: said with -vv only
    assert create("--list-variables", "-vv", "-t", "paste_deploy") == 0
    out = capsys.readouterr().out
    assert out.endswith("paste_deploy (from PasteDeploy#paste_deploy)\n" + "-" * 44
                        + "\n  No variables found\n\n")
    assert "version           Version (like 0.1)\n      default: ''\n      should_echo: True\n" in out
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
    assert "license='MIT'," in setup_py
    assert "zip_safe=False," in setup_py
    assert "          # -*- Extra requirements: -*-\n" in setup_py
    assert "      # -*- Entry points: -*-\n" in setup_py
    compile(setup_py, "setup.py", "exec")
    assert (out / "setup.cfg").read_text() == "[egg_info]\ntag_build = dev\ntag_svn_revision = true\n"
    assert (out / "myproject" / "__init__.py").read_text() == "#\n"
    assert sorted(os.listdir(out)) == ["My_Project.egg-info", "myproject", "setup.cfg", "setup.py"]
    assert (out / "My_Project.egg-info" / "PKG-INFO").exists()
    # -q leaves one line, which 3.7 printed whatever the verbosity
    assert capsys.readouterr().out == "Creating directory ./My-Project\n"


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
    assert "No setup.py (cannot run egg_info)" in out  # none was written, as in 3.7
    write(tmp_path / "Foo" / "setup.py", "raise SystemExit('must not run')\n")
    assert create("--no-interactive", "--simulate", "Foo") == 0
    assert f"Running {sys.executable} setup.py egg_info\n" in capsys.readouterr().out
    assert os.listdir(tmp_path / "Foo") == ["setup.py"]


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
    assert create("--no-interactive", "-q", "--config", str(config), "Foo", "version=3.0",
                  "url=http://example.com") == 0
    setup_py = (tmp_path / "Foo" / "setup.py").read_text()
    assert "author='From Config'" in setup_py
    assert "version = '3.0'" in setup_py              # command line beats the file
    parser = configparser.RawConfigParser()
    parser.read(config)
    assert parser.get("other", "keep") == "me"
    # As in 3.7: only variables the file lacks are added; non-strings as __eval__.
    assert parser.get("pastescript", "version") == "2.0"
    assert parser.get("pastescript", "author") == "From Config"
    assert parser.get("pastescript", "url") == "http://example.com"
    assert parser.get("pastescript", "zip_safe__eval__") == "False"
    assert parser.get("pastescript", "egg_plugins__eval__") == "[]"
    assert parser.get("pastescript", "egg") == "Foo"
    assert not parser.has_option("pastescript", "project")
    assert not parser.has_option("pastescript", "package")
    shutil.rmtree(tmp_path / "Foo")
    # The written file alone makes the project again (with the file's version).
    assert create("--no-interactive", "-q", "--config", str(config), "Foo") == 0
    assert (tmp_path / "Foo" / "setup.py").read_text() == setup_py.replace("'3.0'", "'2.0'")


def test_config_eval_keys(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = write(tmp_path / "vars.ini", """
        [pastescript]
        zip_safe__eval__ = True
        Keywords = Mixed Case
        """)
    assert create("--no-interactive", "-q", "--config", str(config), "Foo") == 0
    setup_py = (tmp_path / "Foo" / "setup.py").read_text()
    assert "zip_safe=True," in setup_py and "keywords='Mixed Case'," in setup_py
    text = config.read_text()
    assert "zip_safe__eval__ = True" in text and "zip_safe =" not in text


def test_inspect_files(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert create("--no-interactive", "-q", "-t", "paste_deploy", "Foo") == 0
    write(tmp_path / "Foo" / "NOTES.txt", "mine\n")
    os.unlink(tmp_path / "Foo" / "setup.cfg")
    capsys.readouterr()
    assert create("-q", "--inspect-files", "-t", "paste_deploy", "Foo") == 0
    out = capsys.readouterr().out
    # 3.7's format: the templates by name, directory by directory, then the missing files
    assert "setup.py from:\n  basic_package\nRecursing into Foo.egg-info/\n" in out
    assert "Recursing into foo/\n" in out and "  wsgiapp.py from:\n    paste_deploy\n" in out
    assert "NOTES.txt" not in out  # not from a template: said with -vv
    assert out.endswith("These files were supposed to be generated by templates\n"
                        "but were not found:\n  setup.cfg from:\n    basic_package\n")
    assert create("-v", "--inspect-files", "-t", "paste_deploy", "Foo") == 0
    assert "NOTES.txt (not from template)\n" in capsys.readouterr().out


def test_bad_project_names(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for name in ("", "  ", "a\0b"):
        assert create("--no-interactive", name) == 2, name
        assert "Traceback" not in capsys.readouterr().err
    assert os.listdir(tmp_path) == []


def test_project_names_with_a_path(tmp_path, monkeypatch):
    # As in 3.7: the path is kept, under the output directory (a leading / is dropped).
    monkeypatch.chdir(tmp_path)
    assert create("--no-interactive", "-q", "sub/Foo") == 0
    setup_py = (tmp_path / "sub" / "Foo" / "setup.py").read_text()
    assert "name='sub/Foo'," in setup_py
    assert (tmp_path / "sub" / "Foo" / "subfoo" / "__init__.py").exists()
    assert (tmp_path / "sub" / "Foo" / "sub_Foo.egg-info").is_dir()
    assert create("--no-interactive", "-q", "/Abs") == 0
    assert (tmp_path / "Abs" / "setup.py").exists()


def test_bad_var_argument(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert create("--no-interactive", "Foo", "novalue") == 2
    assert "novalue" in capsys.readouterr().err


def test_project_name_asked_when_missing(tmp_path):
    proc = run_paster("create", "-t", "basic_package", cwd=tmp_path, input="Asked\n" + "\n" * 9)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "Asked" / "setup.py").exists()
    proc = run_paster("create", "--no-interactive", cwd=tmp_path)
    assert proc.returncode == 2 and "PACKAGE_NAME" in proc.stderr


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

    def check_vars(self, vars, cmd):
        # The returned dict is what the templates get (as in 3.7).
        return dict(Template.check_vars(self, vars, cmd), from_check="returned")

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
        "top_tmpl/top.txt_tmpl": "top $needed $also_needed $from_pre $from_check $egg_plugins\n",
    })
    return tmpl_path


def test_required_templates_transitive_once(layered, capsys):
    assert create("--no-interactive", "-t", "top", "Proj", "needed=n", "also_needed=a") == 0
    out = capsys.readouterr().out
    order = [line.split()[-1] for line in out.splitlines() if line.startswith("Creating template")]
    assert order == ["base", "middle", "top"]
    proj = Path("Proj")
    assert (proj / "base.txt").read_text() == "base b\n"
    assert (proj / "top.txt").read_text() == (
        "top n a pre ran returned ['BasePlugin', 'MiddlePlugin']\n")
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
    assert {"setup.py", "setup.cfg", "foo", "foo/__init__.py", "Foo.egg-info"} <= added
    assert not any("egg-info/" in name for name in added)
    ignored = subprocess.run([svn, "propget", "svn:ignore", "Foo.egg-info"], cwd=work / "Foo",
                             capture_output=True, text=True, check=True).stdout.split()
    assert "PKG-INFO" in ignored and "SOURCES.txt" in ignored
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
    # Undone however the run ends but by SIGKILL: a failed test or Ctrl-C
    # (finally), SIGTERM (made an exception here, so that finally runs), an
    # interpreter that exits without finishing the fixture (atexit). Left in
    # place, the immutable directory could not even be removed.
    import atexit

    def undo_now():
        subprocess.run(undo, capture_output=True)

    def terminated(signum, frame):
        raise SystemExit(128 + signum)

    atexit.register(undo_now)
    previous = signal.signal(signal.SIGTERM, terminated)
    try:
        yield path
    finally:
        signal.signal(signal.SIGTERM, previous)
        atexit.unregister(undo_now)
        subprocess.run(undo, check=True)


def test_output_directory_not_writable(readonly_dir, tmp_path):
    proc = run_paster("create", "--no-interactive", "-o", str(readonly_dir), "Foo", cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert str(readonly_dir / "Foo") in proc.stderr
    assert ("Permission denied" in proc.stderr or "Operation not permitted" in proc.stderr
            or "Read-only file system" in proc.stderr)
    assert "Traceback" not in proc.stderr
    assert os.listdir(readonly_dir) == []


def test_verbose_shows_more_and_quiet_almost_nothing(tmp_path):
    quiet = run_paster("create", "--no-interactive", "-q", "A", cwd=tmp_path)
    assert quiet.returncode == 0 and quiet.stdout == "Creating directory ./A\n"
    loud = run_paster("create", "--no-interactive", "-v", "B", cwd=tmp_path)
    assert "  Directory ./B exists\n" in loud.stdout
    assert "  Not part of a svn working copy; cannot add file\n" in loud.stdout
    assert f"Running {sys.executable} setup.py egg_info" in loud.stdout
    assert "writing manifest file" not in loud.stdout  # egg_info's own output: -vv
    louder = run_paster("create", "--no-interactive", "-vv", "D", cwd=tmp_path)
    assert "Command output:\nrunning egg_info\n" in louder.stdout
    normal = run_paster("create", "--no-interactive", "C", cwd=tmp_path)
    assert "Copying setup.py_tmpl" in normal.stdout and "Directory ./C exists" not in normal.stdout


# -- end to end: pip install of generated projects and of a template package ---

SITE_PACKAGES = next(p for p in sys.path if p.endswith("site-packages") and p.startswith(sys.prefix))


def make_venv(path: Path, linked: bool = False) -> Path:
    """A venv without pip (fast); ``linked`` also sees this environment's packages.

    The link is a ``.pth`` that runs ``site.addsitedir`` on our site-packages,
    so PasteScript, PasteDeploy and Cheetah are importable there while what
    the test installs lives in the new venv only.
    """
    subprocess.run([PYTHON, "-m", "venv", "--without-pip", str(path)], check=True)
    python = path / "bin" / "python"
    if linked:
        site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                              capture_output=True, text=True, check=True).stdout.strip()
        write(Path(site) / "zz_link_test_env.pth", f"import site; site.addsitedir({SITE_PACKAGES!r})\n")
    return python


def pip_install(python: Path, project: Path, wheel_dir: Path) -> None:
    """Build ``project`` into a wheel (offline, current setuptools) and pip install it into ``python``'s venv."""
    build = subprocess.run([PYTHON, "-m", "pip", "wheel", "-q", "--no-build-isolation", "--no-deps",
                            "--no-index", "-w", str(wheel_dir), str(project)], capture_output=True, text=True)
    assert build.returncode == 0, build.stdout + build.stderr
    wheels = sorted(wheel_dir.glob("*.whl"))
    install = subprocess.run([PYTHON, "-m", "pip", "--python", str(python), "install", "-q", "--no-index",
                              "--no-deps", *map(str, wheels)], capture_output=True, text=True)
    assert install.returncode == 0, install.stdout + install.stderr


def run_in(python: Path, *args: str, cwd=None, input=None, timeout=120):
    return subprocess.run([str(python), *args], cwd=cwd, input=input, capture_output=True, text=True,
                          timeout=timeout, env=paster_env())


def test_basic_package_interactive_then_pip_install(tmp_path):
    # version, description, long_description, keywords, author, author_email, url, license, zip_safe
    answers = "2.5\nA test project\n\nkw1 kw2\nJane Doe\njane@example.org\nhttps://example.org\nBSD\nfalse\n"
    proc = run_paster("create", "Hello-World", cwd=tmp_path, input=answers)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Enter version (Version (like 0.1)) ['']:" in proc.stdout
    python = make_venv(tmp_path / "venv")
    pip_install(python, tmp_path / "Hello-World", tmp_path / "wheels")
    check = run_in(python, "-c", "import helloworld, importlib.metadata as m; d = m.metadata('Hello-World');"
                   "print(helloworld.__file__); print(d['Version'], d['Author'], d['Summary'], d['License'])",
                   cwd=tmp_path)
    assert check.returncode == 0, check.stderr
    assert str(tmp_path / "venv") in check.stdout
    assert "2.5.dev0 Jane Doe A test project BSD" in check.stdout


def test_basic_package_no_interactive_pip_install(tmp_path):
    proc = run_paster("create", "--no-interactive", "-q", "Foo", "version=1.0", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    python = make_venv(tmp_path / "venv")
    pip_install(python, tmp_path / "Foo", tmp_path / "wheels")
    check = run_in(python, "-c", "import foo, importlib.metadata as m; print(m.version('Foo'))", cwd=tmp_path)
    assert check.returncode == 0, check.stderr
    assert check.stdout.strip() == "1.0.dev0"


TEMPLATE_PACKAGE = {
    "setup.py": '''
        from setuptools import setup
        setup(
            name="ThrowAwayTemplates", version="0.1", packages=["throwaway"],
            package_data={"throwaway": ["templates/base/*", "templates/fancy/*", "templates/fancy/+package+/*",
                                        "templates/shout/*"]},
            entry_points={"paste.paster_create_template": [
                "tb_base = throwaway.tmpl:Base", "tb_fancy = throwaway.tmpl:Fancy",
                "tb_shout = throwaway.tmpl:Shout"]},
        )
        ''',
    "throwaway/__init__.py": "",
    "throwaway/tmpl.py": '''
        import os
        from paste.script.templates import Template, var

        def shout(content, vars, filename=None):
            return content.replace("NAME", vars["project"]).upper()

        class Base(Template):
            _template_dir = "templates/base"
            summary = "Throw-away base"
            egg_plugins = ["ThrowAwayTemplates"]
            vars = [var("greeting", "How to greet", default="hello")]

        class Fancy(Template):
            _template_dir = ("throwaway", "templates/fancy")
            summary = "Throw-away fancy, with Cheetah"
            required_templates = ["ThrowAwayTemplates#tb_base", "PasteScript#basic_package"]
            egg_plugins = ["PasteDeploy"]
            use_cheetah = True
            read_vars_from_templates = True

            def pre(self, command, output_dir, vars):
                vars["stamp"] = "pre:" + vars["package"]

            def post(self, command, output_dir, vars):
                with open(os.path.join(output_dir, "POST.txt"), "w") as f:
                    f.write("post saw " + vars["stamp"] + "\\n")

        class Shout(Template):
            _template_dir = "templates/shout"
            summary = "Throw-away custom renderer"
            template_renderer = staticmethod(shout)
        ''',
    "throwaway/templates/base/README.txt_tmpl": "$project says $greeting\n",
    "throwaway/templates/fancy/+dot+gitignore": "*.pyc\n",
    "throwaway/templates/fancy/+package+/settings.py_tmpl": '''
        #def body($port, $host='127.0.0.1')
        PORT = $port
        HOST = '$host'
        STAMP = '$stamp'
        #end def
        ''',
    "throwaway/templates/shout/NOTE.txt_tmpl": "made for NAME\n",
}


def test_template_package_installed_with_pip(tmp_path):
    source = tmp_path / "src"
    for name, text in TEMPLATE_PACKAGE.items():
        write(source / name, text)
    python = make_venv(tmp_path / "venv", linked=True)
    pip_install(python, source, tmp_path / "wheels")
    work = tmp_path / "work"
    work.mkdir()

    listed = run_in(python, "-m", "paste.script", "create", "--list-templates", cwd=work)
    assert "  tb_fancy:       Throw-away fancy, with Cheetah" in listed.stdout, listed.stdout + listed.stderr
    variables = run_in(python, "-m", "paste.script", "create", "--list-variables", "-t", "tb_fancy", cwd=work)
    # The distribution's name as pkg_resources gave it (from its metadata
    # directory, lower case in a current wheel), or as a required_templates
    # entry spells it: 3.7's names.
    assert "tb_fancy (from throwawaytemplates#tb_fancy)\n" in variables.stdout
    assert variables.stdout.startswith("tb_base (from ThrowAwayTemplates#tb_base)\n")
    assert "  port\n      should_echo: True\n" in variables.stdout
    assert "default: '127.0.0.1'" in variables.stdout

    missing = run_in(python, "-m", "paste.script", "create", "--no-interactive", "-t", "tb_fancy", "Proj",
                     cwd=work)
    assert missing.returncode == 2 and "port" in missing.stderr and os.listdir(work) == []

    proc = run_in(python, "-m", "paste.script", "create", "--no-interactive", "-t", "tb_fancy", "-t", "tb_shout",
                  "Proj", "port=9999", "greeting=hi", cwd=work)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proj = work / "Proj"
    assert (proj / "README.txt").read_text() == "Proj says hi\n"
    assert (proj / ".gitignore").read_text() == "*.pyc\n"
    assert (proj / "proj" / "settings.py").read_text() == "PORT = 9999\nHOST = '127.0.0.1'\nSTAMP = 'pre:proj'\n"
    assert (proj / "POST.txt").read_text() == "post saw pre:proj\n"
    assert (proj / "NOTE.txt").read_text() == "MADE FOR PROJ\n"
    assert (proj / "setup.py").exists() and (proj / "proj" / "__init__.py").exists()
    plugins = (proj / "Proj.egg-info" / "paster_plugins.txt").read_text().split()
    assert plugins == ["PasteDeploy", "ThrowAwayTemplates"]   # sorted, as in 3.7
    order = [line.split()[-1] for line in proc.stdout.splitlines() if line.startswith("Creating template")]
    assert order == ["tb_base", "basic_package", "tb_fancy", "tb_shout"]


def test_docs_example_template_end_to_end(tmp_path):
    """docs/example_template: installed with pip, it makes a project that pip installs and serves."""
    from tests.support import ROOT, free_port, http_get, stop_process, wait_for_port
    source = tmp_path / "example_template"
    shutil.copytree(ROOT / "docs" / "example_template", source,
                    ignore=shutil.ignore_patterns("*.egg-info", "build", "__pycache__"))
    python = make_venv(tmp_path / "venv", linked=True)
    pip_install(python, source, tmp_path / "wheels-templates")
    work = tmp_path / "work"
    work.mkdir()
    port = free_port()
    proc = run_in(python, "-m", "paste.script", "create", "--no-interactive", "-t", "example_wsgi",
                  "Greeter", "greeting=Howdy", f"http_port={port}", cwd=work)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # what docs/templates.rst shows
    assert proc.stdout.startswith(
        "Selected and implied templates:\n"
        "  PasteScript#basic_package      A basic setuptools-enabled package\n"
        "  exampletemplates#example_wsgi  A small WSGI application served by paster serve\n")
    project = work / "Greeter"
    assert (project / ".gitignore").exists()
    assert (project / "Greeter.egg-info" / "paster_plugins.txt").read_text().split() == ["PasteScript"]
    bad = run_in(python, "-m", "paste.script", "create", "--no-interactive", "-t", "example_wsgi",
                 "Other", "http_port=eighty", cwd=work)
    assert bad.returncode == 2 and "http_port must be a number" in bad.stderr
    pip_install(python, project, tmp_path / "wheels-project")
    server = subprocess.Popen([str(python), "-m", "paste.script", "serve", "docs/development.ini"],
                              cwd=project, env=paster_env(), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        wait_for_port(port, proc=server)
        status, _, body = http_get(f"http://127.0.0.1:{port}/")
    finally:
        stop_process(server)
    assert (status, body) == (200, b"Howdy from Greeter!\n")


def test_failing_egg_info_is_reported(tmpl_path, capsys):
    module = unique()
    make_dist(tmpl_path, "BadSetup", {"badsetup": f"{module}:T"}, {
        f"{module}.py": "from paste.script.templates import Template\n"
                        "class T(Template):\n    _template_dir = 't'\n",
        "t/setup.py": "raise SystemExit('setup.py refuses')\n",
    })
    assert create("--no-interactive", "-q", "-t", "badsetup", "Proj") == 1
    err = capsys.readouterr().err
    assert "egg_info" in err and "setup.py refuses" in err and "Traceback" not in err
