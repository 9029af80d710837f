"""Edit-to-new-response time and failed requests under ``paster serve --reload``.

    python bench/reload.py [--edits N] [--no-gunicorn] [--no-burst] [--baseline-tree DIR]

Serves a hello-world app under waitress with ``--reload --reload-interval 1``
and requests it every 10 ms (a new connection each time) while the app's
source is rewritten N times (default 20). For each edit it records the time
from the write to the first response carrying the new text, and it counts
every request that failed (refused, reset, timed out, not 200) during the
whole run. Then it writes a syntax error, keeps requesting for 2 s (every
answer must still come from the last good code), fixes it and times the fix.

The same probe runs, in the same run, against ``gunicorn --paste CONFIG
--reload -w 1`` (gunicorn, inotify and PasteDeploy installed into a
throw-away venv under the system temp directory, reused between runs), and
the ratio of the medians is printed. With ``--baseline-tree DIR``, the
paste.script of another checkout (DIR on PYTHONPATH) is measured too, in the
same run, for a before/after comparison. Targets (SPEC section 8): median
<= 0.05 s, never slower than gunicorn, 0 failed requests, 0 errors during a
broken edit.

Then, for each server, a burst: an application importing 200 modules is
switched six times between two "branches" by rewriting every module as
``git checkout`` does (unlink, create, write, close), while a client
requests it every 10 ms. It prints how long after the last write the new
branch was served, and how many answers mixed the branches or failed
(targets for paster: none; issue 16 item 7).

Each version of the source has a different size, so no server can be fooled
by a stale bytecode cache (validated by mtime in whole seconds and size).
"""
from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

GUNICORN_VENV = Path(tempfile.gettempdir()) / "paster-bench-gunicorn-venv"

APP = """\
# version {version}{padding}
def make_app(global_conf, **local):
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"version {version}"]
    return app
"""

CONFIG = """\
[app:main]
paste.app_factory = helloapp:make_app

[server:main]
use = {server}
host = 127.0.0.1
port = {port}
"""


BURST_MODULES = 200

BURST_APP = """\
import importlib

def make_app(global_conf, **local):
    modules = [importlib.import_module(f"burstpkg.mod{i:03d}") for i in range(200)]
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [",".join(sorted({m.BRANCH for m in modules})).encode()]
    return app
"""

BURST_MODULE = """\
BRANCH = "{branch}"
# {padding}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Prober(threading.Thread):
    """Requests / every 10 ms on a fresh connection; records every outcome."""

    def __init__(self, port: int, period: float = 0.01):
        super().__init__(daemon=True)
        self.port = port
        self.period = period
        self.results: list[tuple[float, str | None]] = []   # (time, body or None)
        self.stopped = threading.Event()
        self.lock = threading.Lock()
        self.errors: list[str] = []

    def request(self) -> str | None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            conn.request("GET", "/")
            resp = conn.getresponse()
            body = resp.read().decode()
            if resp.status != 200:
                self.errors.append(f"HTTP {resp.status}: {body[:200]!r}")
                return None
            return body
        except (OSError, http.client.HTTPException) as exc:
            self.errors.append(repr(exc))
            return None
        finally:
            conn.close()

    def run(self):
        next_at = time.monotonic()
        while not self.stopped.is_set():
            body = self.request()
            with self.lock:
                self.results.append((time.monotonic(), body))
            next_at += self.period
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            else:
                next_at = time.monotonic()

    def since(self, start: float):
        with self.lock:
            return [r for r in self.results if r[0] >= start]


_writes = [0]


def write_app(path: Path, version: str) -> None:
    # Different size for every version (see the module docstring).
    _writes[0] += 1
    path.write_text(APP.format(version=version, padding=" " + "x" * _writes[0]))


def wait_for(prober: Prober, start: float, text: str, timeout: float) -> float | None:
    deadline = start + timeout
    while time.monotonic() < deadline:
        for t, body in prober.since(start):
            if body == text:
                return t - start
        time.sleep(0.002)
    return None


@contextlib.contextmanager
def served(name: str, argv: list[str], env: dict, workdir: Path, port: int, first: str):
    """Run the server until the block ends; yield a started Prober once it answers ``first``."""
    log = open(workdir / f"{name}.log", "w")
    proc = subprocess.Popen(argv, cwd=workdir, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    prober = Prober(port)
    try:
        start = time.monotonic()
        while prober.request() != first:
            if proc.poll() is not None or time.monotonic() - start > 30:
                raise SystemExit(f"{name}: server did not start ({argv})")
            time.sleep(0.05)
        time.sleep(1.0)
        prober.errors.clear()
        prober.start()
        time.sleep(0.5)
        yield prober
    finally:
        prober.stopped.set()
        if prober.is_alive():
            prober.join(10)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        log.close()
        if os.environ.get("BENCH_SHOW_LOG"):
            print((workdir / f"{name}.log").read_text())


def measure(name: str, argv: list[str], env: dict, workdir: Path, port: int,
            edits: int) -> dict:
    app = workdir / "helloapp.py"
    write_app(app, "0")
    with served(name, argv, env, workdir, port, "version 0") as prober:
        run_start = time.monotonic()
        latencies = []
        for i in range(1, edits + 1):
            version = str(i)
            edit_at = time.monotonic()
            write_app(app, version)
            latency = wait_for(prober, edit_at, f"version {version}", 10.0)
            latencies.append(latency if latency is not None else float("inf"))
            time.sleep(0.4)
        failed = sum(1 for _t, body in prober.since(run_start) if body is None)
        total = len(prober.since(run_start))

        # A broken edit: every answer for 2 s must come from the last good code.
        last_good = f"version {edits}"
        broken_at = time.monotonic()
        app.write_text(APP.format(version="broken", padding="") + "def broken(:\n")
        time.sleep(2.0)
        during = prober.since(broken_at)
        broken_errors = sum(1 for _t, body in during if body != last_good)
        fix_at = time.monotonic()
        write_app(app, "fixed")
        fix_latency = wait_for(prober, fix_at, "version fixed", 10.0)
    finite = [x for x in latencies if x != float("inf")]
    return {
        "name": name,
        "median": statistics.median(latencies),
        "worst": max(latencies),
        "missed": len(latencies) - len(finite),
        "failed": failed,
        "requests": total,
        "broken_errors": broken_errors,
        "broken_requests": len(during),
        "errors": sorted(set(prober.errors)),
        "fix": fix_latency if fix_latency is not None else float("inf"),
    }


def switch_branch(package: Path, branch: str, switch: int) -> None:
    """Rewrite every module as ``git checkout`` does: unlink, then create and write."""
    for i in range(BURST_MODULES):
        path = package / f"mod{i:03d}.py"
        if path.exists():
            path.unlink()
        path.write_text(BURST_MODULE.format(branch=branch, padding="x" * (switch + i)))


def measure_burst(name: str, argv: list[str], env: dict, workdir: Path, port: int,
                  server: str, switches: int = 6) -> dict:
    """Switch 200 modules between two "branches": how long, and any mixed answer?"""
    package = workdir / "burstpkg"
    package.mkdir(exist_ok=True)
    (package / "__init__.py").write_text("")
    (workdir / "burstapp.py").write_text(BURST_APP)
    switch_branch(package, "a", 0)
    (workdir / "app.ini").write_text(
        CONFIG.format(port=port, server=server).replace("helloapp", "burstapp"))
    with served(name, argv, env, workdir, port, "a") as prober:
        run_start = time.monotonic()
        latencies = []
        for switch in range(1, switches + 1):
            branch = "b" if switch % 2 else "a"
            switch_branch(package, branch, switch)
            done_at = time.monotonic()
            latency = wait_for(prober, done_at, branch, 30.0)
            latencies.append(latency if latency is not None else float("inf"))
            time.sleep(0.5)
        answers = prober.since(run_start)
    return {
        "name": name,
        "median": statistics.median(latencies),
        "worst": max(latencies),
        "mixed": sum(1 for _t, body in answers if body is not None and body not in "ab"),
        "failed": sum(1 for _t, body in answers if body is None),
        "requests": len(answers),
    }


def show_burst(r: dict) -> None:
    print(f"{r['name']:>9}: 200 modules switched 6 times: new branch served "
          f"{r['median']:.3f} s (median) after the last write, worst {r['worst']:.3f} s; "
          f"{r['mixed']} answers of {r['requests']} mixed the branches, {r['failed']} failed")


def gunicorn_python() -> Path | None:
    python = GUNICORN_VENV / "bin" / "python"
    if (GUNICORN_VENV / "bin" / "gunicorn").exists():
        return python
    print(f"installing gunicorn, inotify and PasteDeploy into {GUNICORN_VENV} ...", flush=True)
    try:
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(GUNICORN_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                        "gunicorn", "inotify", "PasteDeploy", "waitress"], check=True)
    except (subprocess.CalledProcessError, OSError) as exc:
        print(f"could not install gunicorn: {exc}")
        return None
    return python


def show(r: dict) -> None:
    print(f"{r['name']:>9}: median {r['median']:.3f} s, worst {r['worst']:.3f} s"
          f"{' (' + str(r['missed']) + ' edits never served)' if r['missed'] else ''}; "
          f"failed requests {r['failed']} of {r['requests']}; "
          f"broken edit: {r['broken_errors']} of {r['broken_requests']} not from the last good code; "
          f"fix served after {r['fix']:.3f} s")
    for error in r["errors"]:
        print(f"           request error: {error}")


def contenders(args, paster: str, env: dict, workdir: Path) -> list:
    """(name, argv for a port, env, server runner) of every server measured."""
    found = [("paster", lambda port: [paster, "serve", "--reload", "--reload-interval", "1", "-q",
                                      "app.ini"], env, args.server)]
    if args.baseline_tree:
        base_env = dict(env, PYTHONPATH=os.pathsep.join(
            [str(workdir), os.path.abspath(args.baseline_tree)]))
        found.append(("baseline", lambda port: [sys.executable, "-m", "paste.script", "serve",
                                                "--reload", "--reload-interval", "1", "-q",
                                                "app.ini"], base_env, args.server))
    python = None if args.no_gunicorn else gunicorn_python()
    if python is not None:
        found.append(("gunicorn", lambda port: [str(python), "-m", "gunicorn", "--paste",
                                                "app.ini", "--reload", "-w", "1",
                                                "-b", f"127.0.0.1:{port}"],
                      env, "egg:waitress#main"))
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edits", type=int, default=20)
    parser.add_argument("--no-gunicorn", action="store_true")
    parser.add_argument("--no-burst", action="store_true",
                        help="skip the 200-module branch switches")
    parser.add_argument("--server", default="egg:waitress#main",
                        help="the [server:main] runner for paster (default egg:waitress#main)")
    parser.add_argument("--baseline-tree", metavar="DIR",
                        help="also measure the paste.script in DIR (a checkout of another "
                             "version, e.g. `git worktree add DIR main`), in the same run")
    args = parser.parse_args()
    bindir = os.path.dirname(sys.executable)
    paster = shutil.which("paster", path=bindir) or shutil.which("paster")
    workdir = Path(tempfile.mkdtemp(prefix="paster-bench-reload-"))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PASTE_CONFIG_FILE")}
    env["PYTHONPATH"] = str(workdir)
    results, bursts = {}, {}
    try:
        servers = contenders(args, paster, env, workdir)
        for name, argv, server_env, server in servers:
            port = free_port()
            (workdir / "app.ini").write_text(CONFIG.format(port=port, server=server))
            results[name] = measure(name, argv(port), server_env, workdir, port, args.edits)
            show(results[name])
        for name in results:
            if name != "paster":
                ratio = results["paster"]["median"] / results[name]["median"]
                print(f"median edit-to-new-response, paster / {name}: {ratio:.2f}x"
                      + (" (target <= 1.0x, and paster <= 0.050 s)" if name == "gunicorn" else ""))
        for name, argv, server_env, server in ([] if args.no_burst else servers):
            port = free_port()
            bursts[name] = measure_burst(name, argv(port), server_env, workdir, port, server)
            show_burst(bursts[name])
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    ours = results["paster"]
    ok = (ours["median"] <= 0.05 and ours["failed"] == 0 and ours["broken_errors"] == 0
          and all(r["mixed"] == 0 and r["failed"] == 0 for n, r in bursts.items() if n == "paster"))
    print(f"paster runner: {args.server}")
    print("targets met" if ok else "targets NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
