"""Run the same command line against PasteScript 3.7.0 and against this project.

A :class:`Side` is one ``paster`` (3.7.0's in a pinned throw-away venv, or
ours from the project's venv), optionally with an *overlay*: a venv that
sees its base environment's packages through a ``.pth`` and holds extra
distributions (third-party templates, a plugin package) installed into it
alone, so the base environments stay clean for the other tests.

:class:`Pair.run` prepares two identical fresh directories with the same
``setup`` callable, runs the command in each and returns both
:class:`Result` objects; their text output has the directory, the venv
and the interpreter replaced by placeholders so the two can be compared
directly.
"""
from __future__ import annotations

import os
import subprocess
import sys
import venv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

#: What the 3.7.0 side runs on: the last release, and the newest setuptools
#: that still ships pkg_resources (which 3.7.0 imports).  Exact pins, so a
#: new upload to the registry cannot change what the tests compare against.
#: Cheetah3 imports the cgi module that Python 3.13 removed; there, as on
#: our side, its continuation CT3 provides the same ``Cheetah`` package.
PINS_37 = [
    "PasteScript==3.7.0",
    "Paste==3.10.1",
    "PasteDeploy==3.1.0",
    'Cheetah3==3.2.6.post1; python_version < "3.13"',
    'CT3==3.4.0.post5; python_version >= "3.13"',
    "setuptools==81.0.0",
    "six==1.17.0",
]


def purelib(python: Path) -> str:
    return subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True).stdout.strip()


def pip(python: Path, *args: str, cwd=None) -> None:
    """``pip install ARGS`` into the environment of ``python`` (run by our pip)."""
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q",
         "--disable-pip-version-check", *args],
        capture_output=True, text=True, cwd=cwd)
    if proc.returncode:
        raise AssertionError(f"pip install {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")


def build_wheel(src: Path, out: Path) -> Path:
    """Build the distribution whose ``setup.py`` is in ``src`` into a wheel in ``out``.

    The source is copied first (a build writes ``build/`` and ``*.egg-info``
    next to ``setup.py``) and built with this environment's setuptools, so
    no network is needed. Returns the wheel's path.
    """
    import shutil
    work = out / f"src-{src.name}"
    shutil.copytree(src, work, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--disable-pip-version-check", "--no-deps",
         "--no-build-isolation", "-w", str(out), str(work)],
        capture_output=True, text=True)
    if proc.returncode:
        raise AssertionError(f"building {src} failed:\n{proc.stdout}\n{proc.stderr}")
    wheels = sorted(out.glob("*.whl"))
    if len(wheels) != 1:
        raise AssertionError(f"expected one wheel in {out}, found {wheels}")
    return wheels[0]


def build_wheels(dest: Path, *requirements: str) -> list:
    """Wheels of ``requirements`` (exact pins or local paths), without their dependencies.

    Built once by this interpreter's pip, with no build isolation (the
    test venv's setuptools builds the old sdists of template packages in
    seconds instead of a fresh build environment each), so both sides of
    a pair install the very same files.
    """
    dest.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--disable-pip-version-check",
         "--no-deps", "--no-build-isolation", "-w", str(dest), *requirements],
        capture_output=True, text=True)
    if proc.returncode:
        raise AssertionError(f"pip wheel {' '.join(requirements)} failed:\n"
                             f"{proc.stdout}\n{proc.stderr}")
    return sorted(str(path) for path in dest.glob("*.whl"))


def write_stub_distribution(site_dir: Path, name: str, version: str) -> Path:
    """A metadata-only distribution ``name==version`` in ``site_dir``.

    For requirements that a template package declares but never imports
    (3.7.0 resolves every declared requirement with pkg_resources before
    it loads an entry point); nothing else sees it.
    """
    info = Path(site_dir) / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (info / "INSTALLER").write_text("differential-test-stub\n")
    return info


def make_37_venv(path: Path) -> Path:
    """A venv at ``path`` with PasteScript 3.7.0 and its pinned dependencies."""
    venv.EnvBuilder(with_pip=False, symlinks=True).create(path)
    python = path / "bin" / "python"
    pip(python, *PINS_37)
    return python


def write_paster_script(bindir: Path, python: Path) -> Path:
    """A ``paster`` console script in ``bindir`` that runs ``python``."""
    script = bindir / "paster"
    script.write_text(
        f"#!{python}\n"
        "import sys\n"
        "from paste.script.command import run\n"
        "if __name__ == '__main__':\n"
        "    sys.exit(run())\n")
    script.chmod(0o755)
    return script


@dataclass
class Side:
    """One ``paster``: its name in reports, its venv's bin directory and python."""

    name: str
    bindir: Path
    python: Path
    #: Text replaced by ``{venv}`` in output (the venv root).
    venv_root: Path
    #: Environment variables this side always runs with.
    base_env: dict = field(default_factory=dict)

    @property
    def paster(self) -> Path:
        return self.bindir / "paster"

    def overlay(self, path: Path, *requirements: str, deps: bool = False,
                stubs: tuple = ()) -> "Side":
        """A venv at ``path`` seeing this side's packages, plus ``requirements``.

        ``stubs`` are ``(name, version)`` pairs written as metadata-only
        distributions (see :func:`write_stub_distribution`).
        """
        venv.EnvBuilder(with_pip=False, symlinks=True).create(path)
        python = path / "bin" / "python"
        site_dir = purelib(python)
        Path(site_dir, "_base_env.pth").write_text(
            f"import site; site.addsitedir({purelib(self.python)!r})\n")
        write_paster_script(path / "bin", python)
        if requirements:
            pip(python, *([] if deps else ["--no-deps"]), *requirements)
        for name, version in stubs:
            write_stub_distribution(Path(site_dir), name, version)
        return Side(self.name, path / "bin", python, path, self.base_env)

    def env(self, extra: Optional[dict] = None) -> dict:
        env = dict(os.environ)
        for key in ("PASTE_CONFIG_FILE", "PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"):
            env.pop(key, None)
        env["PATH"] = f"{self.bindir}{os.pathsep}{env.get('PATH', '')}"
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env.update(self.base_env)
        env.update(extra or {})
        return env


@dataclass
class Result:
    side: str
    returncode: int
    stdout: str
    stderr: str
    cwd: Path
    raw_stdout: str = field(repr=False, default="")

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def tree(self, sub: str = ".", skip: Callable[[str], bool] = lambda rel: False) -> dict:
        """``{relative path: bytes}`` of every file under ``cwd/sub``."""
        top = self.cwd / sub
        files = {}
        for path in sorted(top.rglob("*")):
            rel = path.relative_to(top).as_posix()
            if path.is_file() and not skip(rel):
                files[rel] = path.read_bytes()
        return files


def normalize(text: str, side: Side, cwd: Path) -> str:
    """Replace the paths that necessarily differ between the two runs."""
    for real, placeholder in (
            (str(cwd), "{work}"),
            (str(side.python), "{python}"),
            (str(side.venv_root), "{venv}"),
            (sys.executable, "{python}"),
            (str(Path(sys.executable).parent.parent), "{venv}")):
        text = text.replace(real, placeholder)
    return text


class Pair:
    """3.7.0 and ours, run side by side in identical fresh directories."""

    def __init__(self, old: Side, new: Side, tmp: Path):
        self.old, self.new, self.tmp = old, new, tmp
        self._count = 0

    def run(self, *args: str, setup: Optional[Callable[[Path], None]] = None,
            input: Optional[str] = None, env: Optional[dict] = None,
            timeout: float = 120, cwd: str = "work", again: Optional[tuple] = None) -> tuple:
        """Run ``paster ARGS`` on both sides; return ``(result_37, result_ours)``.

        Each side gets ``tmp/N/<side>/<cwd>`` as its working directory,
        prepared by ``setup(path)`` first.  The directory name is the same
        on both sides, so names that leak into generated files match.
        With ``again`` (the pair of results of an earlier run), each side
        runs in the directory it ran in then instead.
        """
        self._count += 1
        results = []
        for number, side in enumerate((self.old, self.new)):
            if again is not None:
                work = again[number].cwd
            else:
                work = self.tmp / str(self._count) / side.name / cwd
                work.mkdir(parents=True)
                if setup is not None:
                    setup(work)
            proc = subprocess.run(
                [str(side.paster), *args], cwd=work, input=input, capture_output=True,
                text=True, timeout=timeout, env=side.env(env))
            results.append(Result(
                side.name, proc.returncode, normalize(proc.stdout, side, work),
                normalize(proc.stderr, side, work), work, raw_stdout=proc.stdout))
        return tuple(results)


    def run_python(self, code: str, setup: Optional[Callable[[Path], None]] = None,
                   env: Optional[dict] = None, timeout: float = 120,
                   input: Optional[str] = None) -> tuple:
        """Run ``python -c CODE`` with each side's interpreter, like :meth:`run`.

        For comparing the Python API that plugins use.
        """
        self._count += 1
        results = []
        for side in (self.old, self.new):
            work = self.tmp / str(self._count) / side.name / "work"
            work.mkdir(parents=True)
            if setup is not None:
                setup(work)
            proc = subprocess.run(
                [str(side.python), "-c", code], cwd=work, capture_output=True, text=True,
                timeout=timeout, env=side.env(env), input=input)
            results.append(Result(
                side.name, proc.returncode, normalize(proc.stdout, side, work),
                normalize(proc.stderr, side, work), work, raw_stdout=proc.stdout))
        return tuple(results)


def ours_side() -> Side:
    """This project's ``paster``, from the environment running the tests."""
    bindir = Path(sys.executable).parent
    root = bindir.parent
    if not (bindir / "paster").exists():  # pragma: no cover - a checkout without install
        raise AssertionError(f"no paster script beside {sys.executable}: install the project first")
    return Side("ours", bindir, Path(sys.executable), root)


def pkg_info_fields(data: bytes, names=("Name", "Version", "Summary", "Home-page",
                                        "Author", "Author-email", "Keywords")) -> dict:
    """The user-set header fields of a PKG-INFO (setuptools versions differ in the rest)."""
    fields = {}
    for line in data.decode("utf-8").split("\n\n", 1)[0].splitlines():
        key, _, value = line.partition(": ")
        if key in names:
            fields[key] = value
    return fields


def comparable_tree(result: Result, sub: str = ".") -> dict:
    """A tree with what setuptools itself writes reduced to what the project decides.

    The two sides run ``setup.py egg_info`` with different setuptools
    releases (3.7.0 needs one that still has pkg_resources), so
    ``PKG-INFO`` is compared by its user-set fields and ``SOURCES.txt``
    as a set of lines; every other file byte for byte.
    """
    tree = result.tree(sub)
    for rel in list(tree):
        parts = rel.split("/")
        if len(parts) >= 2 and parts[-2].endswith(".egg-info"):
            if parts[-1] == "PKG-INFO":
                tree[rel] = pkg_info_fields(tree[rel])
            elif parts[-1] == "SOURCES.txt":
                tree[rel] = sorted(set(tree[rel].decode().split()))
    return tree


def assert_same_tree(old: Result, new: Result, sub: str = ".") -> dict:
    """The two generated trees are equal (names and bytes); returns ours."""
    old_tree, new_tree = comparable_tree(old, sub), comparable_tree(new, sub)
    only_old = sorted(set(old_tree) - set(new_tree))
    only_new = sorted(set(new_tree) - set(old_tree))
    differing = sorted(k for k in set(old_tree) & set(new_tree) if old_tree[k] != new_tree[k])
    assert not (only_old or only_new or differing), (
        f"only in 3.7: {only_old}\nonly in ours: {only_new}\ndiffering: {differing}\n"
        + "".join(f"--- {k}\n3.7:  {old_tree[k]!r}\nours: {new_tree[k]!r}\n" for k in differing))
    return new_tree


def assert_same_run(old: Result, new: Result, returncode: int = 0) -> dict:
    """Both exited with ``returncode`` and made equal trees; returns ours."""
    assert (old.returncode, new.returncode) == (returncode, returncode), (
        f"3.7 exit {old.returncode}:\n{old.output[-3000:]}\n"
        f"ours exit {new.returncode}:\n{new.output[-3000:]}")
    return assert_same_tree(old, new)


def assert_no_answer(old: Result, new: Result, question: str) -> None:
    """End of input at ``question``: 3.7 died with an EOFError traceback
    (exit 1); ours says so in one line (exit 2). Neither wrote anything."""
    assert old.returncode == 1 and old.stderr.rstrip().endswith(
        "EOFError: EOF when reading a line"), old.output
    assert new.returncode == 2 and "Traceback" not in new.output, new.output
    assert new.stderr.strip().splitlines()[-1] == f"No answer (end of input) to: {question}"
    assert old.tree() == new.tree() == {}
