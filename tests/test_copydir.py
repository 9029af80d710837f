"""paste.script.copydir: names, skip rules, renderers, conflicts, safety."""
from __future__ import annotations

import builtins
import io
import os

import pytest

from paste.script import copydir
from paste.script.copydir import (
    CopyError, SkipTemplate, TemplateError, UnsafePath, copy_dir, should_skip_file,
    skip_template, substitute_content, substitute_filename,
)
from tests.support import write


def copy(src, dest, vars=None, **kw):
    out = io.StringIO()
    kw.setdefault("verbosity", 1)
    copy_dir(src if isinstance(src, tuple) else str(src), str(dest), vars or {}, out_=out, **kw)
    return out.getvalue()


@pytest.fixture(autouse=True)
def fresh_answers():
    copydir.reset_answers()
    yield
    copydir.reset_answers()


# -- names ---------------------------------------------------------------

def test_substitute_filename_vars_and_builtins():
    vars = copydir.with_name_defaults({"package": "foo", "egg": "Foo_Bar"})
    assert substitute_filename("+package+", vars) == "foo"
    assert substitute_filename("+egg+.egg-info", vars) == "Foo_Bar.egg-info"
    assert substitute_filename("+dot+gitignore", vars) == ".gitignore"
    assert substitute_filename("c+plus+plus", vars) == "c+plus"
    assert substitute_filename("+plus++package+", vars) == "+foo"
    assert substitute_filename("+unknown+.txt", vars) == "+unknown+.txt"
    assert substitute_filename("+dot+", copydir.with_name_defaults({"dot": "DOT"})) == "DOT"
    # Only the given variables: copy_dir is what adds dot and plus (as in 3.7).
    assert substitute_filename("+dot+x", {}) == "+dot+x"


def test_copy_dir_adds_dot_and_plus_to_the_callers_vars(tmp_path):
    write(tmp_path / "tmpl" / "+dot+x", "x\n")
    vars = {"project": "P"}
    copy(tmp_path / "tmpl", tmp_path / "out", vars)
    assert vars == {"project": "P", "dot": ".", "plus": "+"}
    assert (tmp_path / "out" / ".x").exists()


@pytest.mark.parametrize("name, reason", [
    (".svn", "hidden"), (".git", "hidden"), (".hg", "hidden"), (".gitignore", "hidden"),
    (".#file.txt", "hidden"), (".DS_Store", "hidden"), ("._setup.py_tmpl", "hidden"),
    ("CVS", "version control"), ("_darcs", "version control"), ("__pycache__", "bytecode"),
    ("mod.pyc", ".pyc"), ("mod.pyo", ".pyo"), ("Mod$py.class", "$py.class"),
    ("file.txt~", "backup"), ("old.bak", "backup"),
])
def test_skip_rules(name, reason):
    message = should_skip_file(name)
    assert message and reason in message and "%(filename)s" in message


@pytest.mark.parametrize("name", ["+dot+gitignore", "setup.py", "#", "a#b", "#auto#", "CVS.txt",
                                  "x.py", "foo_tmpl", "old.bak1", "a~b"])
def test_not_skipped(name):
    assert should_skip_file(name) is None


def test_skipped_entries_are_not_copied(tmp_path):
    src = tmp_path / "tmpl"
    for name in ["keep.txt", ".gitignore", "mod.pyc", "a.txt~", ".#lock", "#auto#", ".DS_Store",
                 "__pycache__/mod.cpython-311.pyc", ".git/HEAD", ".svn/entries", "CVS/Root",
                 "_darcs/x", ".hg/x", "mod.pyo", "old.bak", "+dot+made"]:
        write(src / name, "x")
    (src / "._keep.txt_tmpl").write_bytes(b"\x00\x05\x16\x07\xff\xfe")  # not UTF-8
    out = copy(src, tmp_path / "out", verbosity=2)
    copied = sorted(os.listdir(tmp_path / "out"))
    assert copied == ["#auto#", ".made", "keep.txt"]
    assert "Skipping bytecode cache directory" in out and "Skipping hidden file" in out


# -- content ---------------------------------------------------------------

def test_string_template_rendering():
    vars = {"name": "World", "version": "1.0", "nothing_here": None}
    text = "Hi $name, ${name.lower()} $$5 ${repr(version)} [${nothing_here}] ${missing|'fallback'}"
    assert substitute_content(text, vars) == "Hi World, world $5 '1.0' [] fallback"


def test_string_template_standard_vars():
    text = "${html_quote('<a>')} ${url_quote('a b')} ${empty} ${test(flag, 'yes', 'no')}"
    assert substitute_content(text, {"flag": 0}) == '&lt;a&gt; a%20b "" no'


def test_string_template_error_names_file_line_and_expression():
    with pytest.raises(TemplateError) as info:
        substitute_content("line one\nline two ${undefined_var + 1}\n", {}, filename="x/setup.py_tmpl")
    message = str(info.value)
    assert "x/setup.py_tmpl:2" in message
    assert "${undefined_var + 1}" in message
    assert "NameError" in message
    assert info.value.lineno == 2


def test_lone_dollar_is_an_error_with_line():
    with pytest.raises(TemplateError) as info:
        substitute_content("a\n\nprice: $ 5\n", {}, filename="f_tmpl")
    assert "f_tmpl:3" in str(info.value) and "$$" in str(info.value)


def test_cheetah_rendering():
    text = "#for $i in $range($n)\n$i:$name\n#end for\n"
    assert substitute_content(text, {"n": 2, "name": "x"}, use_cheetah=True) == "0:x\n1:x\n"


def test_cheetah_syntax_error_names_file_and_line():
    with pytest.raises(TemplateError) as info:
        substitute_content("one\n#if $x\nthree\n#end for\n", {"x": 1}, filename="t.txt_tmpl",
                           use_cheetah=True)
    assert "t.txt_tmpl:4" in str(info.value)
    assert "Cheetah syntax error" in str(info.value)


def test_cheetah_runtime_error_names_line_and_expression():
    with pytest.raises(TemplateError) as info:
        substitute_content("one\ntwo $nope.attr\n", {}, filename="t_tmpl", use_cheetah=True)
    assert "t_tmpl:2" in str(info.value)
    assert "$nope.attr" in str(info.value)


def test_custom_renderer_receives_vars_and_filename():
    seen = {}

    def renderer(content, vars, filename=None):
        seen["filename"] = filename
        return content.upper() + vars["project"]

    assert substitute_content("abc", {"project": "P"}, filename="f", template_renderer=renderer) == "ABCP"
    assert seen["filename"] == "f"


def test_custom_renderer_error_is_wrapped():
    def renderer(content, vars, filename=None):
        raise KeyError("boom")

    with pytest.raises(TemplateError) as info:
        substitute_content("abc", {}, filename="f_tmpl", template_renderer=renderer)
    assert "f_tmpl" in str(info.value) and "boom" in str(info.value)


def test_skip_template_in_each_renderer(tmp_path):
    src = tmp_path / "tmpl"
    write(src / "a.txt_tmpl", "${skip_template(flag)}content\n")
    write(src / "keep.txt", "kept\n")
    cheetah = tmp_path / "cheetah"
    write(cheetah / "b.txt_tmpl", "#silent $skip_template($flag)\nb\n")
    copy(src, tmp_path / "out", {"flag": True})
    assert sorted(os.listdir(tmp_path / "out")) == ["keep.txt"]
    copy(cheetah, tmp_path / "out2", {"flag": True}, use_cheetah=True)
    assert os.listdir(tmp_path / "out2") == []
    copy(cheetah, tmp_path / "out4", {"flag": False}, use_cheetah=True)
    assert (tmp_path / "out4" / "b.txt").read_text() == "b\n"
    copy(src, tmp_path / "out3", {"flag": False})
    assert (tmp_path / "out3" / "a.txt").read_text() == "content\n"
    assert skip_template(False) is None
    with pytest.raises(SkipTemplate):
        skip_template(True)


def test_binary_and_plain_files_copied_byte_for_byte(tmp_path):
    src = tmp_path / "tmpl"
    src.mkdir()
    blob = bytes(range(256)) * 4
    (src / "logo.png").write_bytes(blob)
    (src / "crlf.txt").write_bytes(b"$project\r\nline\r\n")
    (src / "rendered.txt_tmpl").write_bytes(b"$project\r\n")
    copy(src, tmp_path / "out", {"project": "P"})
    out = tmp_path / "out"
    assert (out / "logo.png").read_bytes() == blob
    assert (out / "crlf.txt").read_bytes() == b"$project\r\nline\r\n"
    assert (out / "rendered.txt").read_bytes() == b"P\r\n"
    assert (out / "crlf.txt").stat().st_size == 16


def test_names_substituted_in_directories_and_files(tmp_path):
    src = tmp_path / "tmpl"
    write(src / "+package+" / "+package+_mod.py_tmpl", "name = ${repr(package)}\n")
    write(src / "+dot+config", "plain $package\n")
    copy(src, tmp_path / "out", {"package": "foo"})
    assert (tmp_path / "out" / "foo" / "foo_mod.py").read_text() == "name = 'foo'\n"
    assert (tmp_path / "out" / ".config").read_text() == "plain $package\n"


def test_resource_tuple_source(tmp_path):
    # The basic_package template, read through importlib.resources.
    from paste.script.templates import paste_script_template_renderer
    copy(("paste.script", "paster-templates/basic_package"), tmp_path / "out",
         {"project": "P", "package": "p", "version": "1", "description": "", "long_description": "",
          "keywords": "", "author": "", "author_email": "", "url": "", "license_name": "MIT",
          "zip_safe": False}, template_renderer=paste_script_template_renderer)
    assert (tmp_path / "out" / "p" / "__init__.py").read_text() == "#\n"
    setup_py = (tmp_path / "out" / "setup.py").read_text()
    assert "version = '1'\n" in setup_py and "license='MIT'," in setup_py


def test_render_error_writes_nothing(tmp_path):
    src = tmp_path / "tmpl"
    write(src / "a_first.txt", "fine\n")
    write(src / "z_broken.txt_tmpl", "ok\n${1/0}\n")
    with pytest.raises(TemplateError) as info:
        copy(src, tmp_path / "out")
    assert "z_broken.txt_tmpl:2" in str(info.value) and "ZeroDivisionError" in str(info.value)
    assert not (tmp_path / "out").exists()


# -- conflicts ---------------------------------------------------------------

@pytest.fixture
def conflict(tmp_path):
    src = tmp_path / "tmpl"
    write(src / "same.txt", "same\n")
    write(src / "differ.txt", "new line\n")
    out = tmp_path / "out"
    write(out / "same.txt", "same\n")
    write(out / "differ.txt", "old line\n")
    os.utime(out / "same.txt", (1000, 1000))
    return src, out


def answers(monkeypatch, *replies):
    queue = list(replies)

    def fake_input(prompt=""):
        if not queue:
            raise EOFError
        return queue.pop(0)
    monkeypatch.setattr(builtins, "input", fake_input)
    return queue


def test_identical_file_left_alone(conflict):
    src, out = conflict
    log = copy(src, out, verbosity=2, overwrite=False)
    assert os.stat(out / "same.txt").st_mtime == 1000
    assert "already exists (same content)" in log


def test_differing_file_kept_with_warning(conflict):
    src, out = conflict
    log = copy(src, out, overwrite=False, interactive=False)
    assert (out / "differ.txt").read_text() == "old line\n"
    assert "Warning" in log and "--overwrite" in log


def test_overwrite_replaces(conflict):
    src, out = conflict
    copy(src, out, overwrite=True)
    assert (out / "differ.txt").read_text() == "new line\n"


def test_interactive_no_keeps(conflict, monkeypatch):
    src, out = conflict
    answers(monkeypatch, "n")
    log = copy(src, out, overwrite=False, interactive=True)
    assert (out / "differ.txt").read_text() == "old line\n"
    assert "Replace 9 bytes with 9 bytes (1/1 lines changed)" in log
    assert "Overwrite " in log and "[y/n/d/B/?]" in log


def test_interactive_question_comes_before_overwrite(conflict, monkeypatch):
    # As in 3.7: when interactive, the question is asked even with overwrite.
    src, out = conflict
    answers(monkeypatch, "n")
    copy(src, out, overwrite=True, interactive=True)
    assert (out / "differ.txt").read_text() == "old line\n"


def test_overwrite_false_keeps_files_at_every_depth(tmp_path):
    # 3.7 dropped the flag in its recursion, so files below the top were
    # replaced whatever overwrite said; here the documented parameter holds.
    src = tmp_path / "tmpl"
    write(src / "top.txt", "new\n")
    write(src / "sub" / "deep.txt", "new\n")
    write(src / "sub" / "deeper" / "deepest.txt", "new\n")
    out = tmp_path / "out"
    write(out / "top.txt", "old\n")
    write(out / "sub" / "deep.txt", "old\n")
    write(out / "sub" / "deeper" / "deepest.txt", "old\n")
    log = copy(src, out, overwrite=False, interactive=False)
    assert [(out / rel).read_text() for rel in ("top.txt", "sub/deep.txt",
                                                "sub/deeper/deepest.txt")] == ["old\n"] * 3
    assert log.count("Warning") == 3


def test_new_output_is_3_7s_split(tmp_path):
    # What paster create uses in a project it has just made: the files are
    # the earlier templates', kept silently at the top, replaced below.
    src = tmp_path / "tmpl"
    write(src / "top.txt", "new\n")
    write(src / "sub" / "deep.txt", "new\n")
    out = tmp_path / "out"
    write(out / "top.txt", "old\n")
    write(out / "sub" / "deep.txt", "old\n")
    log = copy(src, out, overwrite=False, interactive=False, new_output=True)
    assert "Warning" not in log
    assert (out / "top.txt").read_text() == "old\n"
    assert (out / "sub" / "deep.txt").read_text() == "new\n"


def test_interactive_yes_overwrites(conflict, monkeypatch):
    src, out = conflict
    answers(monkeypatch, "y")
    copy(src, out, overwrite=False, interactive=True)
    assert (out / "differ.txt").read_text() == "new line\n"
    assert not (out / "differ.txt.bak").exists()


def test_interactive_diff_then_backup(conflict, monkeypatch):
    src, out = conflict
    remaining = answers(monkeypatch, "d", "dc", "?", "b")
    log = copy(src, out, overwrite=False, interactive=True)
    assert remaining == []
    assert log.count("+new line") == 1 and "! new line" in log and "Responses:" in log
    assert (out / "differ.txt").read_text() == "new line\n"
    assert (out / "differ.txt.bak").read_text() == "old line\n"


def test_interactive_all_answers_following_files(tmp_path, monkeypatch):
    src = tmp_path / "tmpl"
    out = tmp_path / "out"
    for name in ("a.txt", "b.txt", "c.txt"):
        write(src / name, "new\n")
        write(out / name, "old\n")
    remaining = answers(monkeypatch, "all y", "n", "n")
    copy(src, out, overwrite=False, interactive=True)
    assert remaining == ["n", "n"]
    assert all((out / n).read_text() == "new\n" for n in ("a.txt", "b.txt", "c.txt"))
    assert copydir.all_answer == "y"


@pytest.mark.parametrize("reply, content, backups", [
    ("all n", "old\n", 0), ("all b", "new\n", 3), ("", "old\n", 1),
])
def test_interactive_answers_for_all(tmp_path, monkeypatch, reply, content, backups):
    src = tmp_path / "tmpl"
    out = tmp_path / "out"
    for name in ("a.txt", "b.txt", "c.txt"):
        write(src / name, "new\n")
        write(out / name, "old\n")
    answers(monkeypatch, reply, "n", "n")
    copy(src, out, overwrite=False, interactive=True)
    assert (out / "c.txt").read_text() == content
    assert len([n for n in os.listdir(out) if ".bak" in n]) == backups


def test_unknown_answer_shows_the_usage_and_asks_again(conflict, monkeypatch):
    src, out = conflict
    remaining = answers(monkeypatch, "a", "n")
    log = copy(src, out, overwrite=False, interactive=True)
    assert remaining == [] and log.count("[y/n/d/B/?]") == 2
    assert copydir.query_usage + "\n" in log
    assert (out / "differ.txt").read_text() == "old line\n"


def test_all_answer_set_beforehand(conflict, monkeypatch):
    # paster create sets it for a new project directory: no question.
    src, out = conflict
    answers(monkeypatch)
    copydir.all_answer = "y"
    copy(src, out, overwrite=False, interactive=True)
    assert (out / "differ.txt").read_text() == "new line\n"


def test_interactive_end_of_input_is_an_eoferror(conflict, monkeypatch):
    src, out = conflict
    answers(monkeypatch)
    with pytest.raises(EOFError, match="No answer"):
        copy(src, out, overwrite=False, interactive=True)
    assert (out / "differ.txt").read_text() == "old line\n"


def test_simulate_writes_nothing(tmp_path):
    src = tmp_path / "tmpl"
    write(src / "dir" / "a.txt_tmpl", "$x\n")
    write(src / "b.txt", "b\n")
    out = tmp_path / "out"
    out.mkdir()
    write(out / "b.txt", "old\n")
    log = copy(src, out, {"x": 1}, simulate=True, overwrite=True)
    assert sorted(os.listdir(out)) == ["b.txt"]
    assert (out / "b.txt").read_text() == "old\n"
    # 3.7's words under --simulate too: what would be copied, or replaced
    assert "Copying a.txt_tmpl" in log and f"Copying b.txt to {out}/b.txt" in log


def test_simulate_still_asks_when_interactive(conflict, monkeypatch):
    # As in 3.7; nothing is written and no backup is made, whatever the answer.
    src, out = conflict
    remaining = answers(monkeypatch, "b")
    log = copy(src, out, simulate=True, interactive=True)
    assert remaining == [] and "Overwrite " in log and "Copying differ.txt to" in log
    assert (out / "differ.txt").read_text() == "old line\n"
    assert not (out / "differ.txt.bak").exists()


def test_verbosity_levels(tmp_path):
    src = tmp_path / "tmpl"
    write(src / "a.txt", "a\n")
    write(src / "a.pyc", "a\n")
    assert copy(src, tmp_path / "q", verbosity=0) == ""
    normal = copy(src, tmp_path / "n", verbosity=1)
    assert "Copying a.txt" in normal and "Skipping" not in normal
    assert "Skipping .pyc file" in copy(src, tmp_path / "v", verbosity=2)


# -- safety ------------------------------------------------------------------

@pytest.mark.parametrize("value", ["../escape", "/abs/escape", "a\0b", "../../x", "sub/../../x"])
def test_names_that_escape_are_refused(tmp_path, value):
    src = tmp_path / "tmpl"
    write(src / "+name+.txt", "x\n")
    write(src / "aaa.txt", "first\n")
    out = tmp_path / "work" / "out"
    with pytest.raises(UnsafePath):
        copy(src, out, {"name": value})
    assert not (tmp_path / "work").exists()
    assert not (tmp_path / "escape.txt").exists()
    assert sorted(os.listdir(tmp_path)) == ["tmpl"]


def test_relative_subdirectory_name_is_allowed(tmp_path):
    src = tmp_path / "tmpl"
    write(src / "+name+.txt", "x\n")
    copy(src, tmp_path / "out", {"name": "a/b"})
    assert (tmp_path / "out" / "a" / "b.txt").read_text() == "x\n"


def test_symlink_in_template_pointing_out_is_refused(tmp_path):
    secret = write(tmp_path / "secret.txt", "secret\n")
    src = tmp_path / "tmpl"
    write(src / "ok.txt", "ok\n")
    os.symlink(secret, src / "leak.txt")
    with pytest.raises(UnsafePath) as info:
        copy(src, tmp_path / "out")
    assert "leak.txt" in str(info.value)
    assert not (tmp_path / "out").exists()


def test_symlink_in_template_pointing_inside_is_followed(tmp_path):
    src = tmp_path / "tmpl"
    write(src / "real.txt", "real\n")
    os.symlink(src / "real.txt", src / "alias.txt")
    copy(src, tmp_path / "out")
    assert (tmp_path / "out" / "alias.txt").read_text() == "real\n"


def test_symlink_loop_in_template_is_an_error(tmp_path):
    src = tmp_path / "tmpl"
    write(src / "sub" / "a.txt", "a\n")
    os.symlink(src, src / "sub" / "loop")
    with pytest.raises(CopyError) as info:
        copy(src, tmp_path / "out")
    assert "loop" in str(info.value)
    assert not (tmp_path / "out").exists()


def test_symlink_in_output_pointing_out_is_refused(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    src = tmp_path / "tmpl"
    write(src / "pkg" / "mod.py", "x\n")
    write(src / "link.txt", "x\n")
    out = tmp_path / "out"
    out.mkdir()
    os.symlink(outside, out / "pkg")
    with pytest.raises(UnsafePath):
        copy(src, out)
    os.unlink(out / "pkg")
    os.symlink(outside / "target.txt", out / "link.txt")
    with pytest.raises(UnsafePath):
        copy(src, out, overwrite=True)
    assert os.listdir(outside) == []


def test_two_entries_for_one_file_is_an_error(tmp_path):
    src = tmp_path / "tmpl"
    write(src / "a.txt", "plain\n")
    write(src / "a.txt_tmpl", "rendered\n")
    with pytest.raises(CopyError) as info:
        copy(src, tmp_path / "out")
    assert "a.txt_tmpl" in str(info.value) and not (tmp_path / "out").exists()


def test_missing_template_dir(tmp_path):
    with pytest.raises(CopyError):
        copy(tmp_path / "nope", tmp_path / "out")


def test_file_in_the_way_of_a_directory(tmp_path):
    src = tmp_path / "tmpl"
    write(src / "pkg" / "mod.py", "x\n")
    write(tmp_path / "out" / "pkg", "a file\n")
    with pytest.raises(CopyError) as info:
        copy(src, tmp_path / "out")
    assert "in the way" in str(info.value)
