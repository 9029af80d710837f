#!/usr/bin/env python
"""``paster serve --workers`` against ``gunicorn --paste``, measured in the same run.

    python bench/workers.py [--seconds 10] [--rounds 3] [--hups 10] [--workers 2]

The application spends about 1 ms of Python (CPU time of its thread) on
every request, so a single process is bound by the GIL and only more
processes use more cores. Both servers serve it from the same
``[app:main]``: ``paster serve --workers N`` with waitress, and gunicorn's
default sync workers (``gunicorn --paste app.ini -w N``). gunicorn,
PasteDeploy and waitress are installed into a throw-away virtualenv under
the system temp directory (shared with ``bench/reload.py``, reused between
runs), so nothing of gunicorn enters the project's environment.

Measured, each line printed with the load average of the machine around it:

1. requests/s with ``wrk -t2 -c16``, 1 and N workers: paster with
   waitress (``paster``), paster with the project's own server
   (``wsgiutils``), gunicorn, and bare waitress forked into N processes on
   one socket (what the engine itself costs); the median of ``--rounds``
   rounds, servers interleaved. Targets: paster N workers / paster 1
   worker >= 1.6 (on 2 cores); paster / gunicorn with the same workers
   >= 1.0 with at least one of the two runners (both are printed).
2. ``--hups`` SIGHUP restarts, one a second, under wrk load: failed
   requests (connect, read, write and timeout errors, non-2xx answers)
   must be 0, and the last version must answer afterwards. wrk sends
   ``Connection: close`` here, a new connection per request (gunicorn's
   sync workers close every connection anyway): what is measured is whether
   a restart refuses or drops anything. A keep-alive run of paster follows,
   for the record.
3. A broken deploy (the application factory raises) then SIGHUP, with a
   client requesting every 10 ms: paster must go on answering with the old
   code; gunicorn's master exits when new workers fail to boot. Both
   outcomes are printed.

Needs wrk (``apt-get install wrk``) and, the first time, network access to
install gunicorn into the throw-away venv.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))
from reload import gunicorn_python  # noqa: E402  (the shared throw-away venv)
from tests.serving_support import get as get_url  # noqa: E402  (the tests' client)
from tests.support import free_port  # noqa: E402

APP = '''\
import os, time
VERSION = "{version}"

def make_app(global_conf, **local_conf):
    {factory_extra}
    def app(environ, start_response):
        # About 1 ms of Python, whatever else the machine is doing.
        until = time.thread_time() + 0.001
        n = 0
        while time.thread_time() < until:
            n += 1
        body = f"{{VERSION}} pid={{os.getpid()}}".encode()
        start_response("200 OK", [("Content-Type", "text/plain"),
                                  ("Content-Length", str(len(body)))])
        return [body]
    return app
'''

CONFIG = '''\
[app:main]
paste.app_factory = benchapp:make_app

[server:main]
use = {server}
host = 127.0.0.1
port = {port}
'''


# The reference: waitress itself, in N processes forked after binding one socket.
BARE_WAITRESS = """
import os, socket, sys, waitress, benchapp
sock = socket.socket()
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sock.bind(("127.0.0.1", int(sys.argv[1])))
sock.listen(1024)
for _ in range(int(sys.argv[2]) - 1):
    if os.fork() == 0:
        break
waitress.serve(benchapp.make_app({}), sockets=[sock], _quiet=True)
"""


def load() -> str:
    return "load {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def get(port: int, timeout: float = 5.0) -> str | None:
    return get_url(f"http://127.0.0.1:{port}/", timeout)


class Server:
    """One server process (paster or gunicorn) on a free port."""

    def __init__(self, kind: str, workers: int, bench: "Bench"):
        self.kind = kind
        self.workers = workers
        self.bench = bench
        self.port = free_port()
        self.proc = None

    def argv(self) -> list[str]:
        ini = self.bench.write_config(self.port)
        if self.kind == "paster":
            return [self.bench.paster, "serve", "-q", "--workers", str(self.workers), str(ini)]
        if self.kind == "wsgiutils":
            # paster serve again, with the project's own server instead of waitress
            ini = self.bench.write_config(self.port, "egg:PasteScript#wsgiutils")
            return [self.bench.paster, "serve", "-q", "--workers", str(self.workers), str(ini)]
        if self.kind == "waitress":
            return [sys.executable, "-c", BARE_WAITRESS, str(self.port), str(self.workers)]
        return [str(self.bench.gunicorn), "-m", "gunicorn", "--paste", str(ini),
                "-w", str(self.workers), "-b", f"127.0.0.1:{self.port}",
                "--graceful-timeout", "30", "--log-level", "warning"]

    def __enter__(self):
        self.log = open(self.bench.work / f"{self.kind}-{self.workers}.log", "a")
        self.proc = subprocess.Popen(self.argv(), cwd=self.bench.work, env=self.bench.env,
                                     stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + 60
        while get(self.port) is None:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"{self.kind} did not start; see {self.log.name}")
            time.sleep(0.05)
        # Every worker up: a few answers from each.
        pids = set()
        while len(pids) < self.workers and time.monotonic() < deadline:
            body = get(self.port)
            if body:
                pids.add(body.rsplit("pid=", 1)[1])
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(40)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None


def wrk(port: int, seconds: float, close: bool = False) -> dict:
    argv = ["wrk", "-t2", "-c16", f"-d{seconds:g}s", "--timeout", "10s"]
    if close:
        argv += ["-H", "Connection: close"]
    out = subprocess.run(argv + [f"http://127.0.0.1:{port}/"], capture_output=True,
                         text=True, check=True).stdout
    result = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
              "requests": int(re.search(r"(\d+) requests in", out).group(1)),
              "errors": 0, "non2xx": 0}
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if errors:
        result["errors"] = sum(int(x) for x in errors.groups())
        result["detail"] = errors.group(0)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        result["non2xx"] = int(non2xx.group(1))
    result["failed"] = result["errors"] + result["non2xx"]
    return result


class Bench:
    def __init__(self, args):
        self.args = args
        self.work = Path(tempfile.mkdtemp(prefix="paster-bench-workers-"))
        bindir = os.path.dirname(sys.executable)
        self.paster = shutil.which("paster", path=bindir) or shutil.which("paster")
        self.gunicorn = gunicorn_python()
        self.env = {k: v for k, v in os.environ.items()
                    if k not in ("PYTHONDONTWRITEBYTECODE", "PASTE_CONFIG_FILE")}
        self.env["PYTHONPATH"] = str(self.work)
        self.versions = 0
        self.write_app("v0")

    def write_app(self, version: str, factory_extra: str = "pass") -> None:
        self.versions += 1      # a different size each time: no stale bytecode
        (self.work / "benchapp.py").write_text(
            APP.format(version=version, factory_extra=factory_extra) + "#" * self.versions + "\n")

    def write_config(self, port: int, server: str = "egg:waitress#main") -> Path:
        ini = self.work / f"app-{port}.ini"
        ini.write_text(CONFIG.format(port=port, server=server))
        return ini

    def kinds(self) -> list[str]:
        return ["paster"] + (["gunicorn"] if self.gunicorn is not None else [])

    def throughput_kinds(self) -> list[str]:
        return self.kinds() + ["wsgiutils", "waitress"]

    # 1. throughput
    def throughput(self) -> dict:
        """Median requests/s of each server over the rounds, measured interleaved
        so that load from elsewhere hits every server alike."""
        runs: dict = {}
        for round_ in range(1, self.args.rounds + 1):
            for workers in (1, self.args.workers):
                for kind in self.throughput_kinds():
                    with Server(kind, workers, self) as server:
                        wrk(server.port, 1)                       # warm up
                        before = load()
                        result = wrk(server.port, self.args.seconds)
                        runs.setdefault((kind, workers), []).append(result["rps"])
                        print(f"  round {round_}: {kind:8} --workers {workers}: "
                              f"{result['rps']:8.0f} req/s ({result['failed']} failed; "
                              f"{before} -> {load()})", flush=True)
        rps = {key: statistics.median(values) for key, values in runs.items()}
        for (kind, workers), value in sorted(rps.items(), key=lambda item: (item[0][1], item[0][0])):
            print(f"  median {kind:8} --workers {workers}: {value:8.0f} req/s")
        return rps

    # 2. restarts under load
    def hups(self, kind: str, close: bool = True) -> dict:
        self.write_app("v0")
        with Server(kind, self.args.workers, self) as server:
            outcome = {}
            seconds = self.args.hups + 2.0

            def load_it():
                outcome.update(wrk(server.port, seconds, close=close))

            thread = threading.Thread(target=load_it)
            before = load()
            thread.start()
            time.sleep(1.0)
            for number in range(1, self.args.hups + 1):
                self.write_app(f"v{number}")
                os.kill(server.proc.pid, signal.SIGHUP)
                time.sleep(1.0)
            thread.join()
            time.sleep(0.5)
            last = get(server.port)
            outcome["new_code"] = bool(last and last.startswith(f"v{self.args.hups} "))
            outcome["alive"] = server.alive
            outcome["load"] = f"{before} -> {load()}"
        return outcome

    # 3. broken deploy
    def broken_deploy(self, kind: str) -> dict:
        self.write_app("v0")
        with Server(kind, self.args.workers, self) as server:
            answers: list[str | None] = []
            done = threading.Event()

            def probe():
                while not done.is_set():
                    answers.append(get(server.port, timeout=2))
                    time.sleep(0.01)

            thread = threading.Thread(target=probe)
            thread.start()
            time.sleep(1.0)
            before = len(answers)
            self.write_app("broken", factory_extra="raise RuntimeError('no database')")
            os.kill(server.proc.pid, signal.SIGHUP)
            time.sleep(self.args.broken_seconds)
            done.set()
            thread.join()
            after = answers[before:]
            return {"after": len(after), "ok": sum(1 for a in after if a and a.startswith("v0 ")),
                    "failed": sum(1 for a in after if a is None), "alive": server.alive,
                    "exit": server.proc.poll()}

    def close(self):
        shutil.rmtree(self.work, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="wrk duration per measure")
    parser.add_argument("--rounds", type=int, default=3, help="throughput rounds (median)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--hups", type=int, default=10)
    parser.add_argument("--broken-seconds", type=float, default=5.0)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk not found (apt-get install wrk)")
    bench = Bench(args)
    ok = True
    try:
        print(f"machine: {os.cpu_count()} cores, {load()}", flush=True)
        print("1. requests/s, an app spending ~1 ms of Python per request (wrk -t2 -c16):")
        rps = bench.throughput()
        scale = rps["paster", args.workers] / rps["paster", 1]
        print(f"  paster {args.workers} workers / 1 worker: {scale:.2f}x (target >= 1.6x)")
        ok &= scale >= 1.6
        print(f"  wsgiutils {args.workers} workers / 1 worker: "
              f"{rps['wsgiutils', args.workers] / rps['wsgiutils', 1]:.2f}x")
        for workers in (1, args.workers):
            if bench.gunicorn is not None:
                for kind in ("paster", "wsgiutils"):
                    ratio = rps[kind, workers] / rps["gunicorn", workers]
                    print(f"  {kind} / gunicorn, {workers} worker(s): {ratio:.2f}x "
                          "(target >= 1.0x)")
                ok &= max(rps["paster", workers], rps["wsgiutils", workers]) \
                    >= rps["gunicorn", workers]
            print(f"  paster / bare waitress in {workers} process(es): "
                  f"{rps['paster', workers] / rps['waitress', workers]:.2f}x (what the engine costs)")
        print(f"2. {args.hups} SIGHUP restarts under wrk load, new connection per request:")
        for kind in bench.kinds():
            r = bench.hups(kind)
            print(f"  {kind:8}: {r['failed']} failed of {r['requests']} "
                  f"({r.get('detail', 'no socket errors')}, {r['non2xx']} non-2xx); "
                  f"new code after: {r['new_code']}; still running: {r['alive']}; {r['load']}",
                  flush=True)
            if kind == "paster":
                ok &= r["failed"] == 0 and r["new_code"]
        r = bench.hups("paster", close=False)
        print(f"  paster, keep-alive connections: {r['failed']} failed of {r['requests']} "
              f"({r.get('detail', 'no socket errors')}); new code after: {r['new_code']}; "
              f"{r['load']}", flush=True)
        print("3. broken deploy (the factory raises) + SIGHUP, a client every 10 ms:")
        for kind in bench.kinds():
            before = load()
            r = bench.broken_deploy(kind)
            state = "still running" if r["alive"] else f"exited with {r['exit']}"
            print(f"  {kind:8}: after the HUP {r['ok']} of {r['after']} answered by the old "
                  f"code, {r['failed']} failed; server {state}; {before} -> {load()}", flush=True)
            if kind == "paster":
                ok &= r["failed"] == 0 and r["alive"]
    finally:
        bench.close()
    print("targets met" if ok else "targets NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
