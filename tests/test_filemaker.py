"""paste.script.filemaker.FileOp: rendering one file into an existing project."""
from __future__ import annotations

import builtins

import pytest

from paste.script.command import BadCommand
from paste.script.filemaker import FileOp
from tests.support import write


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A project directory (egg-info naming package ``foo``) as the current directory."""
    root = tmp_path / "Foo"
    write(root / "Foo.egg-info" / "top_level.txt", "foo\n")
    write(root / "Foo.egg-info" / "PKG-INFO", "Metadata-Version: 2.1\nName: Foo\nVersion: 1\n")
    write(root / "foo" / "__init__.py", "#\n")
    templates = tmp_path / "templates"
    write(templates / "controller.py_tmpl", "# ${base_package}.${name}\nclass ${name.title()}: pass\n")
    write(templates / "plain.txt", "no $substitution here\n")
    monkeypatch.chdir(root / "foo")
    return root, templates


def test_copy_file_renders_into_new_package_dirs(project):
    root, templates = project
    op = FileOp(source_dir=str(templates), template_vars={"name": "blog"}, verbose=False)
    target = op.copy_file("controller.py_tmpl", "controllers/admin", filename="blog")
    expected = root / "foo" / "controllers" / "admin" / "blog.py"
    assert target == str(expected)
    assert expected.read_text() == "# foo.blog\nclass Blog: pass\n"
    assert (root / "foo" / "controllers" / "__init__.py").read_text() == "#\n"
    assert (root / "foo" / "controllers" / "admin" / "__init__.py").exists()


def test_copy_file_not_a_package(project):
    root, templates = project
    op = FileOp(source_dir=str(templates), verbose=False)
    op.copy_file("plain.txt", "data", add_py=False, package=False)
    assert (root / "foo" / "data" / "plain.txt").read_text() == "no $substitution here\n"
    assert not (root / "foo" / "data" / "__init__.py").exists()


def test_resource_source_dir(project):
    root, _ = project
    op = FileOp(source_dir=("paste.script", "paster-templates/basic_package"), verbose=False)
    op.copy_file("setup.cfg", "conf", add_py=False, package=False)
    assert (root / "foo" / "conf" / "setup.cfg").read_text().startswith("[egg_info]\n")


@pytest.mark.parametrize("name, expected", [
    ("comments", ("comments", "")), ("admin/comments", ("comments", "admin")),
    ("admin.comments", ("comments", "admin")), ("h/ab/fred.py", ("fred", "h/ab")),
    ("fred.py", ("fred", "")),
])
def test_parse_path_name_args(name, expected):
    assert FileOp().parse_path_name_args(name) == expected


def test_copy_dir(project):
    root, templates = project
    write(templates / "views" / "+name+" / "page.html_tmpl", "<h1>${name}</h1>\n")
    write(templates / "views" / "static.txt", "$as is\n")
    write(templates / "views" / "+dot+keep", "")
    write(templates / "views" / ".hidden", "")
    op = FileOp(source_dir=str(templates), template_vars={"name": "blog"}, verbose=False)
    target = op.copy_dir("views", "web", destname="pages")
    assert target == str(root / "foo" / "web" / "pages")
    made = sorted(str(p.relative_to(root / "foo" / "web")) for p in
                  (root / "foo" / "web").rglob("*") if p.is_file())
    assert made == ["__init__.py", "pages/.keep", "pages/__init__.py", "pages/blog/__init__.py",
                    "pages/blog/page.html", "pages/static.txt"]
    assert (root / "foo" / "web" / "pages" / "blog" / "page.html").read_text() == "<h1>blog</h1>\n"
    assert (root / "foo" / "web" / "pages" / "static.txt").read_text() == "$as is\n"
    with pytest.raises(BadCommand, match="not found"):
        op.copy_dir("no-such-dir", "web")


def test_shorten_and_run_command(project, capsys):
    root, _ = project
    op = FileOp(verbose=False)
    assert op.shorten(str(root / "foo" / "x.py")) == "x.py"
    assert op.shorten(str(root), "y") == str(root / "y")
    assert op.run_command("echo", "hi") == b"hi\n"
    assert op.run_command("sh", "-c", "echo err >&2; exit 3", capture_stderr=True,
                          expect_returncode=True) == b"err\n"
    with pytest.raises(OSError, match="Error executing command sh"):
        op.run_command("sh", "-c", "exit 3")
    with pytest.raises(OSError, match="was not found"):
        op.run_command("/no/such/program")
    assert op.svn_command("--no-such-option") is None
    assert op.svn_command("--no-such-option") is None
    assert capsys.readouterr().out.count("Unable to run svn command") == 1
    assert FileOp(simulate=True, verbose=False).run_command("false") is None


def test_simulate_writes_nothing(project, capsys):
    root, templates = project
    op = FileOp(source_dir=str(templates), template_vars={"name": "x"}, simulate=True)
    op.copy_file("controller.py_tmpl", "controllers", filename="x")
    assert not (root / "foo" / "controllers").exists()
    assert "Creating" in capsys.readouterr().out


def test_existing_differing_file_kept_without_interaction(project, capsys):
    root, templates = project
    write(root / "foo" / "views" / "x.py", "old\n")
    op = FileOp(source_dir=str(templates), template_vars={"name": "x"}, interactive=False)
    op.copy_file("controller.py_tmpl", "views", filename="x")
    assert (root / "foo" / "views" / "x.py").read_text() == "old\n"
    out = capsys.readouterr().out
    assert "Warning" in out and "+class X: pass" in out


@pytest.mark.parametrize("answer, expected", [("y", "# foo.x\nclass X: pass\n"), ("n", "old\n")])
def test_existing_differing_file_interactive(project, monkeypatch, answer, expected):
    root, templates = project
    write(root / "foo" / "views" / "x.py", "old\n")
    monkeypatch.setattr(builtins, "input", lambda prompt="": answer)
    op = FileOp(source_dir=str(templates), template_vars={"name": "x"}, interactive=True)
    op.copy_file("controller.py_tmpl", "views", filename="x")
    assert (root / "foo" / "views" / "x.py").read_text() == expected


def test_overwrite(project):
    root, templates = project
    write(root / "foo" / "views" / "x.py", "old\n")
    op = FileOp(source_dir=str(templates), template_vars={"name": "x"}, interactive=False,
                overwrite=True, verbose=False)
    op.copy_file("controller.py_tmpl", "views", filename="x")
    assert (root / "foo" / "views" / "x.py").read_text().startswith("# foo.x")


def test_find_dir_uses_existing_directory(project):
    root, _ = project
    (root / "foo" / "models").mkdir()
    assert FileOp(verbose=False).find_dir("models") == ("foo", str(root / "foo" / "models"))


def test_find_dir_without_egg_info(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(BadCommand) as info:
        FileOp().find_dir("x")
    assert "egg-info" in str(info.value)


@pytest.mark.parametrize("dest, expected", [
    ("user", ("", "user")), ("admin/user", ("admin", "user")), ("admin.user", ("admin", "user")),
    ("admin/user.py", ("admin", "user")), ("a/b/c", ("a/b", "c")),
])
def test_parse_dest(dest, expected):
    assert FileOp().parse_dest(dest) == expected


@pytest.mark.parametrize("dest", ["../x", "/abs/x", "a/../../x", "bad-name", ""])
def test_parse_dest_refuses(dest):
    with pytest.raises(BadCommand):
        FileOp().parse_dest(dest)


def test_find_dir_refuses_escape(project):
    with pytest.raises(BadCommand):
        FileOp().find_dir("../../elsewhere")


def test_template_error_is_one_line(project):
    root, templates = project
    write(templates / "broken.py_tmpl", "x = ${undefined}\n")
    with pytest.raises(BadCommand) as info:
        FileOp(source_dir=str(templates), verbose=False).copy_file("broken.py_tmpl", "v")
    assert "broken.py_tmpl:1" in str(info.value) and "undefined" in str(info.value)
