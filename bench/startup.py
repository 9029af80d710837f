"""Start-up cost of ``paster``, as ratios against a bare interpreter measured in the same run.

    python bench/startup.py [--runs N]

Measures (median wall time of N runs each, bytecode caches warm):

* ``python -c pass``                         the baseline
* ``paster help``, ``paster --version``      target: <= 2.0x the baseline
* both again with 300 extra distributions    target: paster help grows <= 1.2x
  (dist-info directories with entry points, on PYTHONPATH)

PYTHONDONTWRITEBYTECODE is removed from the environment: an installed
PasteScript has its .pyc files, and timing the compiler is not the point.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def median_time(argv, env, runs):
    subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # warm
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def make_distributions(root: Path, count: int) -> None:
    for i in range(count):
        info = root / f"filler_dist_{i:03d}-1.0.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: filler-dist-{i:03d}\nVersion: 1.0\n\n")
        (info / "entry_points.txt").write_text(
            f"[console_scripts]\nfiller{i} = filler_{i}:main\n\n"
            f"[some.plugin.group]\nthing{i} = filler_{i}:thing\n")
        (info / "RECORD").write_text("")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    args = parser.parse_args()
    python = sys.executable
    paster = shutil.which("paster", path=os.path.dirname(python)) or shutil.which("paster")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    workdir = tempfile.mkdtemp(prefix="paster-bench-")
    os.chdir(workdir)  # no project egg-info around
    try:
        base = median_time([python, "-c", "pass"], env, args.runs)
        help_ = median_time([paster, "help"], env, args.runs)
        version = median_time([paster, "--version"], env, args.runs)
        filler = Path(workdir) / "filler"
        make_distributions(filler, 300)
        # As if installed a while ago: a directory modified within the last
        # two seconds is rescanned on every run (see pluginlib's cache).
        old = time.time() - 60
        os.utime(filler, (old, old))
        env300 = dict(env, PYTHONPATH=str(filler))
        base300 = median_time([python, "-c", "pass"], env300, args.runs)
        help300 = median_time([paster, "help"], env300, args.runs)
    finally:
        os.chdir("/")
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"python -c pass              {base * 1000:7.1f} ms")
    print(f"paster help                 {help_ * 1000:7.1f} ms   {help_ / base:4.2f}x baseline (target <= 2.0x)")
    print(f"paster --version            {version * 1000:7.1f} ms   {version / base:4.2f}x baseline (target <= 2.0x)")
    print(f"python -c pass  (+300 dists) {base300 * 1000:6.1f} ms")
    print(f"paster help     (+300 dists) {help300 * 1000:6.1f} ms   {help300 / help_:4.2f}x without them "
          f"(target <= 1.2x); {help300 / base300:4.2f}x its baseline")


if __name__ == "__main__":
    main()
