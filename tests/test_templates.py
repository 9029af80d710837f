"""paste.script.templates: Template, var, BasicPackage and Cheetah introspection."""
from __future__ import annotations

import builtins
import getpass
import os
import sys
import types

import pytest

from paste.script.command import BadCommand, Command
from paste.script.templates import (
    BasicPackage, MissingVariables, NoDefault, Template, find_args_in_dir,
    find_args_in_template, paste_script_template_renderer, var,
)
from tests.support import write


class FakeCommand(Command):
    """A real Command, only its flags set by hand."""

    def __init__(self, interactive=False, verbose=0, simulate=False, overwrite=False):
        super().__init__("create")
        self.interactive = interactive
        self.verbose = verbose
        self.simulate = simulate
        self.overwrite = overwrite


def make_template(tmp_path, **attrs):
    attrs.setdefault("_template_dir", str(tmp_path / "tmpl"))
    return type("T", (Template,), attrs)("t")


def test_no_default_is_the_command_sentinel():
    from paste.script import command
    assert NoDefault is command.NoDefault


def test_var_descriptions_and_print_vars(capsys):
    vars = [var("version", "Version (like 0.1)"), var("password", "Secret", default=NoDefault,
                                                       should_echo=False), var("x", None)]
    assert vars[0].full_description() == "version (Version (like 0.1))"
    assert vars[2].full_description() == "x"
    var.print_vars(vars, indent=2)
    # 3.7's format, which plugins parse: should_echo is shown when True (sic)
    assert capsys.readouterr().out == (
        "  version   Version (like 0.1)\n"
        "      default: ''\n"
        "      should_echo: True\n"
        "  password  Secret\n"
        "  x\n"
        "      default: ''\n"
        "      should_echo: True\n"
        "\n")


def test_check_vars_non_interactive_defaults_and_given():
    t = type("T", (Template,), {"vars": [var("a", "A", default="1"), var("b", "B")]})("t")
    vars = {"b": "given", "extra": "kept"}
    result = t.check_vars(vars, FakeCommand())
    assert result == {"a": "1", "b": "given", "extra": "kept"}
    assert vars["a"] == "1"


def test_check_vars_missing_lists_all():
    t = type("T", (Template,), {"vars": [var("a", "First", default=NoDefault), var("b", None, default=NoDefault),
                                         var("c", "C")]})("t")
    with pytest.raises(MissingVariables) as info:
        t.check_vars({}, FakeCommand())
    assert [v.name for v in info.value.missing] == ["a", "b"]
    assert "a (First)" in str(info.value) and "  b" in str(info.value)
    assert isinstance(info.value, BadCommand)


def test_check_vars_interactive_asks_with_default(monkeypatch):
    prompts = []
    replies = iter(["", "typed"])

    def fake_input(prompt=""):
        prompts.append(prompt)
        return next(replies)
    monkeypatch.setattr(builtins, "input", fake_input)
    t = type("T", (Template,), {"vars": [var("a", "A", default="dflt"), var("b", "B", default=NoDefault)]})("t")
    result = t.check_vars({}, FakeCommand(interactive=True))
    assert result == {"a": "dflt", "b": "typed"}
    assert prompts == ["Enter a (A) ['dflt']: ", "Enter b (B): "]


def test_should_echo_false_reads_with_getpass(monkeypatch):
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": "s3cret")
    monkeypatch.setattr(builtins, "input", lambda prompt="": pytest.fail("echoed input used"))
    t = type("T", (Template,), {"vars": [var("password", "Password", should_echo=False)]})("t")
    assert t.check_vars({}, FakeCommand(interactive=True))["password"] == "s3cret"


def test_template_dir_relative_to_module_and_tuple(tmp_path, monkeypatch):
    module = types.ModuleType("fake_tmpl_module")
    module.__file__ = str(tmp_path / "pkg" / "fake_tmpl_module.py")
    monkeypatch.setitem(sys.modules, "fake_tmpl_module", module)
    cls = type("T", (Template,), {"_template_dir": "templates/x", "__module__": "fake_tmpl_module"})
    assert cls("t").module_dir() == str(tmp_path / "pkg")
    assert cls("t").template_dir() == str(tmp_path / "pkg" / "templates" / "x")
    cls2 = type("T2", (Template,), {"_template_dir": ("paste.script", "paster-templates/basic_package")})
    assert cls2("t").template_dir() == ("paste.script", "paster-templates/basic_package")
    with pytest.raises(BadCommand):
        Template("bare").template_dir()


def test_basic_package_template():
    t = BasicPackage("basic_package")
    assert os.path.isfile(os.path.join(t.template_dir(), "setup.py_tmpl"))
    names = [v.name for v in t.read_vars()]
    assert names == ["version", "description", "long_description", "keywords", "author",
                     "author_email", "url", "license_name", "zip_safe"]
    assert t.summary == "A basic setuptools-enabled package"
    # Values pass through as given, as in 3.7 (no conversion of zip_safe).
    vars = {"zip_safe": "False"}
    assert t.check_vars(vars, FakeCommand())["zip_safe"] == "False"


def test_basic_package_renders_with_tempita():
    assert BasicPackage.template_renderer is paste_script_template_renderer
    assert paste_script_template_renderer(
        "{{for x in xs}}{{x}}{{endfor}} {{repr(name)}}{{if flag}}!{{endif}}",
        {"xs": [1, 2], "name": "n", "flag": True}, filename="f_tmpl") == "12 'n'!"


@pytest.mark.parametrize("given, literal", [
    ({}, b'description="",\n      long_description="""\\\n""",'),
    ({"description": "Plain words", "long_description": "Two\nlines"},
     b'description="Plain words",\n      long_description="""\\\nTwo\nlines""",'),
    # 3.7 wrote these into literals that are not Python; repr() keeps them valid.
    ({"description": 'say "hi"', "long_description": 'ends with "'},
     b"description='say \"hi\"',\n      long_description='ends with \"',"),
    ({"description": "back\\slash", "long_description": 'has """ inside'},
     b"description='back\\\\slash',\n      long_description='has \"\"\" inside',"),
])
def test_basic_package_setup_py_literals(tmp_path, given, literal):
    t = BasicPackage("basic_package")
    vars = {"project": "P", "package": "p", "egg": "P"}
    vars.update(given)
    t.check_vars(vars, FakeCommand())
    t.write_files(FakeCommand(), str(tmp_path / "P"), vars)
    setup_py = (tmp_path / "P" / "setup.py").read_bytes()
    assert literal in setup_py
    compile(setup_py, "setup.py", "exec")
    assert sorted(os.listdir(tmp_path / "P")) == ["p", "setup.cfg", "setup.py"]


def test_run_calls_hooks_in_order(tmp_path):
    write(tmp_path / "tmpl" / "f.txt_tmpl", "$who\n")
    calls = []

    class Hooked(Template):
        _template_dir = str(tmp_path / "tmpl")

        def pre(self, command, output_dir, vars):
            calls.append(("pre", os.path.exists(output_dir)))
            vars["who"] = "pre-set"

        def post(self, command, output_dir, vars):
            calls.append(("post", open(os.path.join(output_dir, "f.txt")).read()))

    Hooked("h").run(FakeCommand(), str(tmp_path / "out"), {})
    assert calls == [("pre", False), ("post", "pre-set\n")]


def test_write_files_simulate(tmp_path):
    write(tmp_path / "tmpl" / "f.txt", "x")
    make_template(tmp_path).write_files(FakeCommand(simulate=True), str(tmp_path / "out"), {})
    assert not (tmp_path / "out").exists()


def test_write_files_error_is_bad_command(tmp_path):
    write(tmp_path / "tmpl" / "f.txt_tmpl", "${nope}")
    with pytest.raises(BadCommand) as info:
        make_template(tmp_path).write_files(FakeCommand(), str(tmp_path / "out"), {})
    assert "f.txt_tmpl:1" in str(info.value)


# -- Cheetah introspection ------------------------------------------------

def test_find_args_in_template(tmp_path):
    path = write(tmp_path / "a.txt_tmpl", "#def body($name, $port=8080, $title='x')\n$name\n#end def\n$body($name)\n")
    found = find_args_in_template(str(path))
    assert [(v.name, v.default) for v in found] == [("name", NoDefault), ("port", 8080), ("title", "x")]


def test_find_args_in_template_without_body(tmp_path):
    assert find_args_in_template(str(write(tmp_path / "a_tmpl", "plain $x\n"))) is None


def test_find_args_in_dir(tmp_path, capsys):
    write(tmp_path / "a.txt_tmpl", "#def body($one)\n#end def\n")
    write(tmp_path / "sub" / "b.txt_tmpl", "#def body($two='2')\n#end def\n")
    write(tmp_path / "sub" / "c.txt_tmpl", "no def here\n")
    write(tmp_path / "plain.txt", "#def body($ignored)\n#end def\n")
    write(tmp_path / ".svn" / "x_tmpl", "#def body($skipped)\n#end def\n")
    found = find_args_in_dir(str(tmp_path), verbose=True)
    assert sorted(found) == ["one", "two"]
    assert found["two"].default == "2"
    assert "has no parseable variables" in capsys.readouterr().out


def test_read_vars_from_templates_needs_cheetah(tmp_path):
    write(tmp_path / "tmpl" / "a_tmpl", "#def body($x)\n#end def\n")
    t = make_template(tmp_path, read_vars_from_templates=True, vars=[var("y", "Y")])
    with pytest.raises(BadCommand):
        t.read_vars()
    t = make_template(tmp_path, read_vars_from_templates=True, use_cheetah=True, vars=[var("y", "Y")])
    assert [v.name for v in t.read_vars()] == ["y", "x"]
    with pytest.raises(MissingVariables):
        t.check_vars({"y": "1"}, FakeCommand())


def test_read_vars_from_broken_cheetah_template(tmp_path):
    write(tmp_path / "tmpl" / "sub" / "a.txt_tmpl", "#def body($x)\n#end for\n")
    t = make_template(tmp_path, read_vars_from_templates=True, use_cheetah=True)
    with pytest.raises(BadCommand) as info:
        t.read_vars()
    assert "a.txt_tmpl:2" in str(info.value)
