"""Cost of rendering a template tree, as a ratio against a plain copy in the same run.

    python bench/create.py [--runs N] [--files N]

Builds a generated template of N files (default 2,000) in 40 directories,
half of them ``*_tmpl`` files with a few ``$var``/``${expression}``
substitutions each, the other half plain files copied byte for byte, some
with ``+package+`` in their names. Then measures (median of the runs, each
into a fresh output directory):

* ``shutil.copytree``                                 the baseline
* ``copydir.copy_dir`` with ``string.Template`` syntax
* ``copydir.copy_dir`` with Cheetah (``use_cheetah``)

and prints each time and its ratio to the baseline (Cheetah's cache of
compiled templates is emptied before each of its runs: each file of a real
``paster create`` is compiled once). Run it with ``TMPDIR`` on a tmpfs
(``TMPDIR=/dev/shm``) to see the CPU cost; on a busy disk the copying
dominates every contender alike. The contenders run in\nturn within each round, so load from other processes hits them alike.
"""
import argparse
import io
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from paste.script import copydir  # noqa: E402

TEMPLATE_TEXT = """\
# ${project} -- module number {n}
NAME = ${repr(project)}
PACKAGE = '$package'
VERSION = ${repr(version)}
AUTHOR = ${author|'nobody'}

def describe():
    return NAME + ' ' + VERSION
"""

CHEETAH_TEXT = """\
# $project -- module number {n}
NAME = '$project'
PACKAGE = '$package'
VERSION = '$version'
AUTHOR = '$author'

def describe():
    return NAME + ' ' + VERSION
"""

PLAIN_TEXT = """\
# A plain file, number {n}, copied as it is: $not_a_variable

def here():
    return os.path.dirname(__file__)
"""

VARS = {"project": "BenchProject", "package": "benchproject", "version": "1.0", "author": "Ann"}


def build_tree(root: Path, files: int, cheetah: bool) -> None:
    per_dir = max(1, files // 40)
    text = CHEETAH_TEXT if cheetah else TEMPLATE_TEXT
    for n in range(files):
        directory = root / ("+package+" if n % 4 == 0 else "") / f"dir{n // per_dir:02d}"
        directory.mkdir(parents=True, exist_ok=True)
        if n % 2:
            (directory / f"mod{n}.py_tmpl").write_text(text.replace("{n}", str(n)))
        else:
            (directory / f"plain{n}+package+.py").write_text(PLAIN_TEXT.replace("{n}", str(n)))


def timed(funcs: dict, runs: int, scratch: Path) -> dict:
    """Median time of each function; the runs are interleaved so that load
    from other processes hits every contender alike."""
    times: dict = {name: [] for name in funcs}
    for run in range(runs + 1):
        for name, func in funcs.items():
            dest = scratch / f"out-{name}-{run}"
            start = time.perf_counter()
            func(dest)
            elapsed = time.perf_counter() - start
            shutil.rmtree(dest)
            if run:  # the first round only warms caches (and imports Cheetah)
                times[name].append(elapsed)
    return {name: statistics.median(values) for name, values in times.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--files", type=int, default=2000)
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="paster-bench-create-"))
    try:
        plain_tree = scratch / "tmpl"
        cheetah_tree = scratch / "tmpl_cheetah"
        build_tree(plain_tree, args.files, cheetah=False)
        build_tree(cheetah_tree, args.files, cheetah=True)
        sink = io.StringIO()

        def render(dest, source=plain_tree, cheetah=False):
            if cheetah:
                # Cheetah caches compiled templates by source text; a real
                # ``paster create`` renders each file once, so start cold.
                from Cheetah.Template import Template
                Template._CHEETAH_compileCache.clear()
            copydir.copy_dir(str(source), str(dest), VARS, verbosity=0, out_=sink,
                             use_cheetah=cheetah, interactive=False, overwrite=False)

        result = timed({
            "copytree": lambda dest: shutil.copytree(plain_tree, dest),
            "string": render,
            "cheetah": lambda dest: render(dest, cheetah_tree, True),
        }, args.runs, scratch)
        base, string_t, cheetah_t = result["copytree"], result["string"], result["cheetah"]
        print(f"{args.files} files ({args.files // 2} *_tmpl), median of {args.runs} runs")
        print(f"shutil.copytree (baseline)        {base * 1000:8.1f} ms  1.00x")
        print(f"copy_dir, string.Template syntax  {string_t * 1000:8.1f} ms  {string_t / base:.2f}x")
        print(f"copy_dir, Cheetah                 {cheetah_t * 1000:8.1f} ms  {cheetah_t / base:.2f}x")
    finally:
        shutil.rmtree(scratch)


if __name__ == "__main__":
    main()
