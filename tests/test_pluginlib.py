import os
import subprocess
import textwrap

import pytest

from paste.script import pluginlib
from tests.support import make_venv, pip_install, write


def test_find_egg_info_dir_walks_up(tmp_path):
    project = tmp_path / "proj"
    (project / "Proj.egg-info").mkdir(parents=True)
    deep = project / "a" / "b"
    deep.mkdir(parents=True)
    assert pluginlib.find_egg_info_dir(str(deep)) == str(project / "Proj.egg-info")
    assert pluginlib.find_egg_info_dir(str(project)) == str(project / "Proj.egg-info")


def test_find_egg_info_dir_none(tmp_path):
    assert pluginlib.find_egg_info_dir(str(tmp_path)) is None


def test_egg_name_and_egg_info_dir(tmp_path):
    assert pluginlib.egg_name("My-Project") == "My_Project"
    assert pluginlib.egg_name("zope.interface") == "zope.interface"
    (tmp_path / "My_Project.egg-info").mkdir()
    assert pluginlib.egg_info_dir(str(tmp_path), "My-Project") == str(tmp_path / "My_Project.egg-info")
    with pytest.raises(OSError, match="No egg-info directory for 'Other'"):
        pluginlib.egg_info_dir(str(tmp_path), "Other")


def test_egg_info_dir_in_a_subdirectory(tmp_path):
    # A src/ layout: egg_info writes it there; found as 3.7 found it.
    (tmp_path / "src" / "Other.egg-info").mkdir(parents=True)
    (tmp_path / "setup.py").write_text("")
    assert pluginlib.egg_info_dir(str(tmp_path), "Other") == str(tmp_path / "src" / "Other.egg-info")
    (tmp_path / "Other.egg-info").mkdir()
    assert pluginlib.egg_info_dir(str(tmp_path), "Other") == str(tmp_path / "Other.egg-info")


def test_add_and_remove_plugin_keep_other_lines(tmp_path, capsys):
    egg = tmp_path / "X.egg-info"
    # As in 3.7: a missing egg-info directory is created.
    pluginlib.add_plugin(str(egg), "PasteScript")
    assert (egg / "paster_plugins.txt").read_text() == "PasteScript\n"
    pluginlib.add_plugin(str(egg), "Pylons")
    pluginlib.add_plugin(str(egg), "PasteScript")  # already there: not added twice
    assert (egg / "paster_plugins.txt").read_text() == "PasteScript\nPylons\n"
    pluginlib.remove_plugin(str(egg), "PasteScript")
    assert (egg / "paster_plugins.txt").read_text() == "Pylons\n"
    pluginlib.remove_plugin(str(egg), "PYLONS")  # compared case-insensitively, as in 3.7
    assert (egg / "paster_plugins.txt").read_text() == ""
    # 3.7 printed what it wrote
    assert capsys.readouterr().out == "writing ['Pylons']\nwriting []\n"


def test_remove_plugin_raises_value_error(tmp_path):
    egg = tmp_path / "X.egg-info"
    egg.mkdir()
    with pytest.raises(ValueError, match="file does not exist"):
        pluginlib.remove_plugin(str(egg), "PasteScript")
    pluginlib.add_plugin(str(egg), "Pylons")
    with pytest.raises(ValueError, match=r"Plugin PasteScript not found in file .* \(from: \['Pylons'\]\)"):
        pluginlib.remove_plugin(str(egg), "PasteScript")
    assert (egg / "paster_plugins.txt").read_text() == "Pylons\n"


@pytest.mark.parametrize("spec, expected", [
    ("PasteScript", ("PasteScript", "")),
    ("PasteScript>=3.0", ("PasteScript", ">=3.0")),
    ("Paste_Script [extra] >= 1.0, <5", ("Paste_Script", "<5,>=1.0")),
    ("PasteScript#wsgiutils", ("PasteScript", "")),
])
def test_parse_requirement(spec, expected):
    assert pluginlib.parse_requirement(spec) == expected


@pytest.mark.parametrize("spec", ["", "Foo Bar", ">=1.0", "Foo>=x y"])
def test_parse_requirement_refuses(spec):
    with pytest.raises(pluginlib.PluginError, match="Not a distribution name"):
        pluginlib.parse_requirement(spec)


def test_get_distro_checks_the_version():
    assert pluginlib.get_distro("PasteScript>=4.0a0").project_name == "PasteScript"
    with pytest.raises(pluginlib.PluginError, match=r"is installed but 'PasteScript<1' is required"):
        pluginlib.get_distro("PasteScript<1")


def test_resolve_plugins_recursively_as_3x_did(fake_site):
    fake_site("FakePlugin", plugins=["PasteScript", "OtherPlugin"])
    fake_site("OtherPlugin", plugins=["FakePlugin"])  # a cycle must not loop
    given = ["FakePlugin"]
    found = pluginlib.resolve_plugins(given)
    # distributions, in 3.x's order: names are taken from the end of the list
    assert [dist.project_name for dist in found] == ["FakePlugin", "OtherPlugin", "PasteScript"]
    assert found[0].location == str(fake_site.site)
    assert given == []  # 3.x emptied the list it was given


def test_resolve_plugins_keeps_a_name_given_twice(fake_site):
    fake_site("FakePlugin")
    found = pluginlib.resolve_plugins(["FakePlugin", "FakePlugin"])
    assert [dist.project_name for dist in found] == ["FakePlugin", "FakePlugin"]


def test_resolve_unknown_plugin(fake_site):
    with pytest.raises(pluginlib.PluginNotFound, match="Plugin 'NoSuchThing' not found"):
        pluginlib.resolve_plugins(["NoSuchThing"])


def test_commands_from_plugins_and_globals(fake_site):
    fake_site("FakePlugin", entry_points="""
        [paste.paster_command]
        fake = fakeplugin.cmds:FakeCommand
        [paste.global_paster_command]
        everywhere = fakeplugin.cmds:FakeCommand
    """)
    local = pluginlib.load_commands_from_plugins(["FakePlugin"])
    assert list(local) == ["fake"]
    assert local["fake"].value == "fakeplugin.cmds:FakeCommand"
    globals_ = pluginlib.load_global_commands()
    assert "everywhere" in globals_ and "serve" in globals_ and "fake" not in globals_


def test_global_command_wins_over_a_plugin_command(fake_site):
    # as in 3.x's get_commands(): plugin commands first, then the global ones
    fake_site("FakePlugin", entry_points="""
        [paste.paster_command]
        serve = fakeplugin.cmds:NotServe
        only-here = fakeplugin.cmds:Mine
    """)
    from paste.script.command import get_commands
    commands = get_commands(["FakePlugin"])
    assert commands["serve"].value == "paste.script.serve:ServeCommand"
    assert commands["only-here"].value == "fakeplugin.cmds:Mine"
    assert commands["only-here"].dist.project_name == "FakePlugin"
    assert (commands["only-here"].module_name, commands["only-here"].attrs) == \
        ("fakeplugin.cmds", ("Mine",))


def test_get_distro_is_pkg_resources_shaped(fake_site):
    egg = fake_site("Fake_Plugin", entry_points="""
        [fake.group]
        thing = fakeplugin.mod:Thing [extra1]
    """, modules={"fakeplugin/__init__.py": "", "fakeplugin/mod.py": "class Thing: pass\n"})
    (egg / "top_level.txt").write_text("fakeplugin\n# comment\n\n")
    dist = pluginlib.get_distro("fake-plugin")
    assert (dist.project_name, dist.key, dist.version) == ("Fake-Plugin", "fake-plugin", "1.0")
    assert dist.location == str(fake_site.site)
    assert (str(dist), repr(dist)) == ("Fake-Plugin 1.0", f"Fake-Plugin 1.0 ({fake_site.site})")
    assert dist.has_metadata("top_level.txt") and not dist.has_metadata("nope")
    assert list(dist.get_metadata_lines("top_level.txt")) == ["fakeplugin"]
    with pytest.raises(FileNotFoundError):
        dist.get_metadata("nope")
    ep = dist.get_entry_info("fake.group", "thing")
    assert (ep.name, ep.module_name, ep.attrs, ep.extras) == (
        "thing", "fakeplugin.mod", ("Thing",), ("extra1",))
    assert str(ep) == "thing = fakeplugin.mod:Thing [extra1]"
    assert repr(ep) == "EntryPoint.parse('thing = fakeplugin.mod:Thing [extra1]')"
    assert ep.dist is dist and ep.load().__name__ == "Thing"
    assert dist.load_entry_point("fake.group", "thing") is ep.load()
    with pytest.raises(ImportError, match="Entry point \\('fake.group', 'nope'\\) not found"):
        dist.load_entry_point("fake.group", "nope")
    assert dist.get_entry_map("no.group") == {} and list(dist.get_entry_map()) == ["fake.group"]
    # it is an importlib.metadata distribution too
    import importlib.metadata
    assert isinstance(dist, importlib.metadata.Distribution)
    assert dist.metadata["Name"] == "Fake_Plugin"
    assert pluginlib.get_distro("Fake_Plugin>=1.0") == dist
    with pytest.raises(pluginlib.PluginError, match="is installed but 'Fake_Plugin>=2' is required"):
        pluginlib.get_distro("Fake_Plugin>=2")


def test_uninstalled_project_contributes_commands(tmp_path, monkeypatch):
    # A project directory with only an egg-info (never installed): paster run
    # inside it (or below it) sees its paste.paster_command entry points.
    project = tmp_path / "proj"
    write(project / "Proj.egg-info" / "PKG-INFO", "Metadata-Version: 2.1\nName: Proj\nVersion: 0.1\n")
    write(project / "Proj.egg-info" / "entry_points.txt", """
        [paste.paster_command]
        projcmd = projcmds:ProjCommand
    """)
    write(project / "projcmds.py", '''
        from paste.script.command import Command
        class ProjCommand(Command):
            summary = "A command of the project"
            parser = Command.standard_parser()
            def command(self):
                print("project command ran with", self.args)
    ''')
    sub = project / "src"
    sub.mkdir()
    proc = subprocess.run([os.sys.executable, "-m", "paste.script", "projcmd", "x"],
                          cwd=sub, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "project command ran with ['x']" in proc.stdout
    help_ = subprocess.run([os.sys.executable, "-m", "paste.script", "help"],
                           cwd=sub, capture_output=True, text=True)
    assert "projcmd" in help_.stdout and "A command of the project" in help_.stdout


@pytest.fixture(scope="module")
def plugin_venv(tmp_path_factory):
    """A real venv with a real pip-installed plugin distribution."""
    root = tmp_path_factory.mktemp("pluginvenv")
    python = make_venv(root / "venv")
    src = root / "src"
    write(src / "setup.py", """
        from setuptools import setup
        setup(
            name="ThrowAwayPlugin",
            version="0.1",
            py_modules=["throwaway_cmds"],
            paster_plugins=["PasteScript"],
            entry_points={
                "paste.global_paster_command": ["hello = throwaway_cmds:HelloCommand"],
                "paste.paster_command": ["local-only = throwaway_cmds:HelloCommand"],
            },
        )
    """)
    write(src / "throwaway_cmds.py", '''
        from paste.script.command import Command, BadCommand
        class HelloCommand(Command):
            summary = "Say hello from an installed plugin"
            usage = "NAME"
            group_name = "throwaway"
            min_args = 1
            parser = Command.standard_parser(verbose=True)
            parser.add_option("--shout", action="store_true")
            def command(self):
                if self.args[0] == "bad":
                    raise BadCommand("bad name given", exit_code=7)
                text = "hello " + self.args[0]
                print(text.upper() if self.options.shout else text)
    ''')
    pip_install(python, str(src))
    return python, src


def _paster(python, *args, cwd):
    return subprocess.run([str(python), "-m", "paste.script", *args],
                          capture_output=True, text=True, cwd=cwd)


def test_installed_global_command(plugin_venv, tmp_path):
    python, _ = plugin_venv
    proc = _paster(python, "hello", "--shout", "world", cwd=tmp_path)
    assert (proc.returncode, proc.stdout) == (0, "HELLO WORLD\n"), proc.stderr
    listing = _paster(python, "help", cwd=tmp_path).stdout
    # grouped commands come after the ungrouped ones, under their group name
    assert listing.index("serve") < listing.index("throwaway:") < listing.index("hello")
    assert "local-only" not in listing  # not an active plugin here


def test_plugin_option_activates_paster_command(plugin_venv, tmp_path):
    python, _ = plugin_venv
    proc = _paster(python, "--plugin=ThrowAwayPlugin", "local-only", "x", cwd=tmp_path)
    assert (proc.returncode, proc.stdout) == (0, "hello x\n"), proc.stderr
    # paster_plugins.txt (written by our egg_info writer) lists PasteScript,
    # so PasteScript's own plugin command (grep) is active too.
    listing = _paster(python, "--plugin=ThrowAwayPlugin", "help", cwd=tmp_path).stdout
    assert "local-only" in listing and "grep" in listing


def test_bad_command_exit_code_from_plugin(plugin_venv, tmp_path):
    python, _ = plugin_venv
    proc = _paster(python, "hello", "bad", cwd=tmp_path)
    assert proc.returncode == 7
    assert proc.stderr.strip() == "bad name given"
    assert "Traceback" not in proc.stderr


def test_egg_info_writer_and_keyword(plugin_venv, tmp_path):
    python, src = plugin_venv
    proc = subprocess.run([str(python), "setup.py", "-q", "egg_info"], cwd=src,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert (src / "ThrowAwayPlugin.egg-info" / "paster_plugins.txt").read_text() == "PasteScript\n"
    write(src / "bad" / "setup.py", """
        from setuptools import setup
        setup(name="Bad", version="1", paster_plugins="PasteScript")
    """)
    bad = subprocess.run([str(python), "setup.py", "-q", "egg_info"], cwd=src / "bad",
                         capture_output=True, text=True)
    assert bad.returncode != 0
    assert "'paster_plugins' must be a list of distribution names" in bad.stderr


def _run_help(env, cwd):
    proc = subprocess.run([os.sys.executable, "-m", "paste.script", "help"], env=env,
                          cwd=cwd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _dist_info(site, name, command):
    info = site / f"{name}-1.0.dist-info"
    write(info / "METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    write(info / "entry_points.txt", f"[paste.global_paster_command]\n{command} = x:Y\n")
    return info


def test_entry_point_cache_follows_installs_and_removals(tmp_path):
    site = tmp_path / "site"
    cache = tmp_path / "cache"
    _dist_info(site, "FirstDist", "first-cmd")
    old = os.stat(site).st_mtime - 10  # older than the racy window: cacheable
    os.utime(site, (old, old))
    env = {**os.environ, "PYTHONPATH": str(site), "PASTE_SCRIPT_CACHE_DIR": str(cache)}
    assert "first-cmd" in _run_help(env, tmp_path)
    assert list(cache.iterdir()), "the cache file was written"
    assert "first-cmd" in _run_help(env, tmp_path)  # served from the cache
    # an install changes the directory's mtime: the new command shows up
    _dist_info(site, "SecondDist", "second-cmd")
    listing = _run_help(env, tmp_path)
    assert "first-cmd" in listing and "second-cmd" in listing
    # and so does a removal
    import shutil
    shutil.rmtree(site / "FirstDist-1.0.dist-info")
    listing = _run_help(env, tmp_path)
    assert "first-cmd" not in listing and "second-cmd" in listing


def test_egg_info_entry_points_are_never_stale(tmp_path):
    site = tmp_path / "site"
    egg = site / "Proj.egg-info"
    write(egg / "PKG-INFO", "Metadata-Version: 2.1\nName: Proj\nVersion: 1\n")
    write(egg / "entry_points.txt", "[paste.global_paster_command]\nold-cmd = x:Y\n")
    old = os.stat(site).st_mtime - 10
    os.utime(site, (old, old))
    env = {**os.environ, "PYTHONPATH": str(site), "PASTE_SCRIPT_CACHE_DIR": str(tmp_path / "c")}
    assert "old-cmd" in _run_help(env, tmp_path)
    # egg_info rewrites the file in place; the directory mtime does not change
    (egg / "entry_points.txt").write_text("[paste.global_paster_command]\nnew-cmd = x:Y\n")
    os.utime(site, (old, old))
    listing = _run_help(env, tmp_path)
    assert "new-cmd" in listing and "old-cmd" not in listing


def test_cache_can_be_disabled_and_survives_garbage(tmp_path):
    site = tmp_path / "site"
    _dist_info(site, "OnlyDist", "only-cmd")
    cache = tmp_path / "cache"
    cache.mkdir()
    for name in ("entry-points-garbage.marshal",):
        (cache / name).write_bytes(b"\x00garbage")
    env = {**os.environ, "PYTHONPATH": str(site), "PASTE_SCRIPT_CACHE_DIR": ""}
    assert "only-cmd" in _run_help(env, tmp_path)
    env["PASTE_SCRIPT_CACHE_DIR"] = str(cache)
    # corrupt the real cache file name for this environment too
    code = ("import os; from paste.script import pluginlib as p; print(p._cache_file())")
    path = subprocess.run([os.sys.executable, "-c", code], env=env, capture_output=True,
                          text=True).stdout.strip()
    with open(path, "wb") as f:
        f.write(b"not a marshal file")
    assert "only-cmd" in _run_help(env, tmp_path)


@pytest.mark.parametrize("breakage", ["directory", "not-utf8"])
def test_unreadable_paster_plugins_txt_is_one_line(tmp_path, breakage):
    project = tmp_path / "proj"
    egg = project / "Proj.egg-info"
    write(egg / "PKG-INFO", "Metadata-Version: 2.1\nName: Proj\nVersion: 0.1\n")
    if breakage == "directory":
        (egg / "paster_plugins.txt").mkdir()
    else:
        (egg / "paster_plugins.txt").write_bytes(b"Paste\xffScript\n")
    proc = subprocess.run([os.sys.executable, "-m", "paste.script", "help"], cwd=project,
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr.startswith(f"Cannot read plugin list {egg / 'paster_plugins.txt'}: ")
    assert "Traceback" not in proc.stderr


def test_project_with_only_egg_info_run(tmp_path):
    # A real project, never installed: only 'python setup.py egg_info' was
    # run in it. Inside it (and below) its paster_command shows and runs;
    # elsewhere it does not.
    project = tmp_path / "LocalProj"
    write(project / "setup.py", """
        from setuptools import setup
        setup(name="LocalProj", version="0.1", py_modules=["localcmds"],
              paster_plugins=["PasteScript"],
              entry_points={"paste.paster_command": ["local-thing = localcmds:Thing"]})
    """)
    write(project / "localcmds.py", '''
        from paste.script.command import Command
        class Thing(Command):
            summary = "The local project's command"
            parser = Command.standard_parser()
            def command(self):
                print("local thing ran")
    ''')
    egg = subprocess.run([os.sys.executable, "setup.py", "-q", "egg_info"], cwd=project,
                         capture_output=True, text=True)
    assert egg.returncode == 0, egg.stderr
    (project / "pkg").mkdir()
    for cwd in (project, project / "pkg"):
        listing = _run_help(None, cwd)
        assert "local-thing  The local project's command" in listing
        assert "grep" in listing  # PasteScript is listed in its paster_plugins.txt
        ran = subprocess.run([os.sys.executable, "-m", "paste.script", "local-thing"], cwd=cwd,
                             capture_output=True, text=True)
        assert (ran.returncode, ran.stdout) == (0, "local thing ran\n"), ran.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert "local-thing" not in _run_help(None, elsewhere)
    missing = subprocess.run([os.sys.executable, "-m", "paste.script", "local-thing"],
                             cwd=elsewhere, capture_output=True, text=True)
    assert missing.returncode == 2 and "Command 'local-thing' not known" in missing.stderr


def test_wrapped_importlib_distribution_knows_its_metadata_directory(fake_site):
    # Found through importlib.metadata's public API (locate_file), not its _path.
    import importlib.metadata as md
    from paste.script.distribution import Distribution, metadata_dir_of
    fake_site("FakePlugin", plugins=["PasteScript"])
    inner = md.distribution("FakePlugin")
    dist = Distribution.wrap(inner)
    assert os.path.basename(dist.egg_info).startswith("FakePlugin")
    assert dist.egg_info == metadata_dir_of(inner)
    assert dist.location == str(fake_site.site)
    assert dist.has_metadata("paster_plugins.txt") and not dist.has_metadata("nope.txt")
    assert list(dist.get_metadata_lines("paster_plugins.txt")) == ["PasteScript"]
