#!/usr/bin/env python
"""Requests per second and latency of each server runner, with wrk, against baselines measured in the same run.

Every server serves the same hello-world WSGI application on loopback:

* baselines: ``egg:Paste#http`` (the old Paste HTTP server, installed with pip
  into a throw-away virtualenv so its ``paste`` package stays out of this
  one), bare waitress, and granian (a server written in Rust, through its
  WSGI interface, one worker; ``pip install "PasteScript[bench]"``; left out
  when it is not installed);
* a second application spends about 1 ms of Python per request (a loop
  whose length is measured once, before the servers start, so every server
  runs the same work): bare waitress, granian and ``wsgiutils`` serve it too,
  to compare them where the application, not the server, takes the time;
* the HTTP runners: ``wsgiutils``, ``cherrypy`` (cheroot), ``twisted``;
* nginx in front of ``flup_fcgi_thread``, ``flup_fcgi_fork``,
  ``flup_scgi_thread``, ``flup_scgi_fork``, and nginx proxying HTTP to
  ``wsgiutils`` (the scale-out setup, with one instance).

With ``--workers N`` (N > 1) the servers run in N processes sharing one
listening socket instead: waitress and ``wsgiutils`` under ``paster serve
--workers N``, granian with ``--workers N`` (the other rows are left out).

Each server is measured ``--rounds`` times, interleaved, so a burst of load
from elsewhere on the machine hits every server alike. The report prints the
best and the median requests per second of each, the ratios of the medians
to Paste#http, waitress and granian (serving the same application), the
median 50th and 99th percentile latency, and the failures (wrk's errors,
timeouts of over 2 s included, and non-2xx answers).

Usage: python bench/runners.py [--duration 5] [--connections 16] [--rounds 2]
       [--workers 1] [--only wsgiutils] [--only "1 ms"] [--no-1ms]
Needs wrk and nginx (``apt-get install -y wrk nginx``) and network access to
PyPI the first time (for the Paste baseline).
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
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

WORK = "1 ms app"

HELLO_APP = '''
def app(environ, start_response):
    body = b"Hello, world!\\n"
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("Content-Length", str(len(body)))])
    return [body]
'''

# What paster serve loads: [app:main] with these factories.
FACTORIES = '''
def hello(global_conf, **local_conf):
    from hello_app import app
    return app

def work(global_conf, **local_conf):
    from work_app import app
    return app
'''

PASTER_CONFIG = '''
[app:main]
paste.app_factory = bench_factories:{factory}

[server:main]
use = {server}
host = 127.0.0.1
port = {port}
'''

# About 1 ms of pure Python per request; LOOPS is measured by work_loops().
WORK_APP = '''
LOOPS = {loops}

def app(environ, start_response):
    total = 0
    for i in range(LOOPS):
        total += i * i
    body = b"worked %d\\n" % (total % 1000)
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("Content-Length", str(len(body)))])
    return [body]
'''


def work_loops(seconds: float = 0.001) -> int:
    """How many turns of WORK_APP's loop take ``seconds`` here (best of several tries)."""
    namespace: dict = {}
    exec(WORK_APP.format(loops=100_000), namespace)
    app = namespace["app"]
    best = min(_timed(app) for _ in range(20))
    return max(1, int(100_000 * seconds / best))


def _timed(app) -> float:
    import time
    start = time.perf_counter()
    app({}, lambda status, headers: None)
    return time.perf_counter() - start

# One definition of the nginx parameter blocks and the loopback helpers:
# the ones the front-end tests use.
sys.path.insert(0, str(ROOT))
from tests.runner_support import FASTCGI_PARAMS, SCGI_PARAMS  # noqa: E402
from tests.support import free_port  # noqa: E402
from tests.support import wait_for_port as _wait_for_port  # noqa: E402


def wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 20) -> None:
    _wait_for_port(port, timeout=timeout, proc=proc)


class Bench:
    def __init__(self, workdir: Path, paste_python: str, loops: int = 1):
        self.workdir = workdir
        self.paste_python = paste_python
        (workdir / "hello_app.py").write_text(HELLO_APP)
        (workdir / "work_app.py").write_text(WORK_APP.format(loops=loops))
        (workdir / "bench_factories.py").write_text(FACTORIES)
        self.procs: list[subprocess.Popen] = []

    def start(self, argv: list, port: int, env: dict | None = None) -> None:
        log = open(self.workdir / f"server-{len(self.procs)}.log", "wb")
        proc = subprocess.Popen(argv, cwd=self.workdir, stdout=log, stderr=subprocess.STDOUT,
                                env=env or self.env(), start_new_session=True)
        self.procs.append(proc)
        wait_for_port(port, proc)

    def env(self) -> dict:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(self.workdir), str(ROOT)])
        return env

    def python_server(self, code: str, port: int, python: str = sys.executable,
                      env: dict | None = None, app: str = "hello_app") -> None:
        script = f"import sys\nsys.path.insert(0, '.')\nfrom {app} import app\n" + code
        self.start([python, "-c", script], port, env)

    def runner(self, module: str, function: str, options: dict, app: str = "hello_app") -> None:
        """Start a runner the way PasteDeploy calls it: every option a string."""
        opts = ", ".join(f"{k}={str(v)!r}" for k, v in options.items())
        self.python_server(f"from paste.script.{module} import {function}\n"
                           f"{function}(app, {{}}, {opts})\n", int(options["port"]), app=app)

    def paster_serve(self, server: str, port: int, workers: int, app: str) -> None:
        """``paster serve --workers N`` of ``server`` (an egg: spec) on ``app``."""
        factory = "hello" if app == "hello_app" else "work"
        ini = self.workdir / f"{factory}-{port}.ini"
        ini.write_text(PASTER_CONFIG.format(factory=factory, server=server, port=port))
        self.start([sys.executable, "-m", "paste.script", "serve", "-q", "--workers",
                    str(workers), str(ini)], port)
        time.sleep(1.0)  # every worker has started (they accept as soon as they are up)

    def granian(self, port: int, workers: int, app: str) -> None:
        granian = shutil.which("granian", path=os.path.dirname(sys.executable)) \
            or shutil.which("granian")
        self.start([granian, "--interface", "wsgi", "--host", "127.0.0.1", "--port", str(port),
                    "--workers", str(workers), "--log-level", "warning", f"{app}:app"], port)

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for proc in self.procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
        self.procs.clear()


def start_nginx(bench: Bench, backend_port: int, location: str) -> int:
    front = free_port()
    prefix = bench.workdir / f"nginx-{front}"
    (prefix / "logs").mkdir(parents=True)
    conf = prefix / "nginx.conf"
    conf.write_text(f"""
daemon off;
worker_processes 1;
user root;
pid {prefix}/nginx.pid;
error_log {prefix}/logs/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    scgi_temp_path {prefix}/scgi;
    uwsgi_temp_path {prefix}/uwsgi;
    keepalive_requests 1000000;
    upstream backend_http {{ server 127.0.0.1:{backend_port}; keepalive 32; }}
    server {{
        listen 127.0.0.1:{front};
        location / {{
{location}
        }}
    }}
}}
""")
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    bench.start([nginx, "-p", str(prefix), "-c", str(conf)], front)
    return front


def granian_installed() -> bool:
    return bool(shutil.which("granian", path=os.path.dirname(sys.executable))
                or shutil.which("granian"))


def target_setups(bench: Bench, workers: int = 1):
    """(name, start function returning the port wrk should hit)."""

    def paste_http():
        port = free_port()
        env = dict(os.environ, PYTHONPATH=str(bench.workdir))  # not this checkout's paste/
        bench.python_server(
            f"from paste import httpserver\nhttpserver.serve(app, host='127.0.0.1', port={port})\n",
            port, python=bench.paste_python, env=env)
        return port

    def waitress(app="hello_app"):
        def start():
            port = free_port()
            if workers > 1:
                bench.paster_serve("egg:waitress#main", port, workers, app)
                return port
            bench.python_server(
                f"import waitress\nwaitress.serve(app, host='127.0.0.1', port={port}, _quiet=True)\n",
                port, app=app)
            return port
        return start

    def granian(app="hello_app"):
        def start():
            port = free_port()
            bench.granian(port, workers, app)
            return port
        return start

    def http_runner(module, function, app="hello_app"):
        def start():
            port = free_port()
            if workers > 1:
                bench.paster_serve("egg:PasteScript#wsgiutils", port, workers, app)
                return port
            bench.runner(module, function, {"host": "127.0.0.1", "port": port}, app=app)
            return port
        return start

    def behind_nginx(runner, kind):
        def start():
            backend = free_port()
            function = {"fcgi_thread": "run_fcgi_thread", "fcgi_fork": "run_fcgi_fork",
                        "scgi_thread": "run_scgi_thread", "scgi_fork": "run_scgi_fork",
                        "http": "run_server"}[runner]
            module = "wsgiutils_server" if runner == "http" else "flup_server"
            options = {"host": "127.0.0.1", "port": backend}
            if runner.startswith("scgi"):
                options["loggingLevel"] = "WARNING"  # flup logs every SCGI request otherwise
            bench.runner(module, function, options)
            if kind == "fastcgi":
                location = f"{FASTCGI_PARAMS}fastcgi_pass 127.0.0.1:{backend};"
            elif kind == "scgi":
                location = f"{SCGI_PARAMS}scgi_pass 127.0.0.1:{backend};"
            else:
                location = ("proxy_pass http://backend_http;\nproxy_http_version 1.1;\n"
                            'proxy_set_header Connection "";')
            return start_nginx(bench, backend, location)
        return start

    with_granian = granian_installed()
    if workers > 1:
        targets = [("waitress (baseline)", waitress()),
                   ("granian (baseline)", granian()),
                   ("wsgiutils", http_runner("wsgiutils_server", "run_server")),
                   (f"waitress {WORK} (baseline)", waitress("work_app")),
                   (f"granian {WORK} (baseline)", granian("work_app")),
                   (f"wsgiutils {WORK}", http_runner("wsgiutils_server", "run_server", "work_app"))]
        return [(name, start) for name, start in targets if with_granian or "granian" not in name]
    targets = [
        ("Paste#http (baseline)", paste_http),
        ("waitress (baseline)", waitress()),
        ("granian (baseline)", granian()),
        ("wsgiutils", http_runner("wsgiutils_server", "run_server")),
        ("cherrypy (cheroot)", http_runner("cherrypy_server", "cpwsgi_server")),
        ("twisted", http_runner("twisted_web2_server", "run_twisted")),
        ("nginx -> flup_fcgi_thread", behind_nginx("fcgi_thread", "fastcgi")),
        ("nginx -> flup_fcgi_fork", behind_nginx("fcgi_fork", "fastcgi")),
        ("nginx -> flup_scgi_thread", behind_nginx("scgi_thread", "scgi")),
        ("nginx -> flup_scgi_fork", behind_nginx("scgi_fork", "scgi")),
        ("nginx -> wsgiutils (HTTP proxy)", behind_nginx("http", "http")),
        (f"waitress {WORK} (baseline)", waitress("work_app")),
        (f"granian {WORK} (baseline)", granian("work_app")),
        (f"wsgiutils {WORK}", http_runner("wsgiutils_server", "run_server", "work_app")),
    ]
    return [(name, start) for name, start in targets if with_granian or "granian" not in name]


def _seconds(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text)
    if match is None:
        raise ValueError(f"wrk printed a latency this script does not know: {text!r}")
    value, unit = match.groups()
    return float(value) * {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}[unit]


def run_wrk(port: int, duration: float, connections: int) -> dict:
    """One wrk run after a short warm-up: rate, failures, timeouts, p50 and p99 (seconds)."""
    url = f"http://127.0.0.1:{port}/"
    subprocess.run(["wrk", "-t2", f"-c{connections}", "-d1s", url], capture_output=True)
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{duration:g}s", "--latency",
                          url], capture_output=True, text=True, check=True).stdout
    percentiles = dict(re.findall(r"^ +(50|99)% +(\S+) *$", out, re.M))
    if len(percentiles) != 2:
        raise SystemExit(f"no latency distribution in wrk's output:\n{out}")
    result = {"rate": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
              "errors": 0, "timeouts": 0,
              "p50": _seconds(percentiles["50"]), "p99": _seconds(percentiles["99"])}
    match = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    if match:
        result["errors"] += int(match.group(1))
    match = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if match:
        result["errors"] += sum(int(n) for n in match.groups())
        result["timeouts"] = int(match.group(4))
    return result


def paste_venv(path: Path) -> str:
    """A virtualenv with Paste (for Paste#http), made once and reused."""
    python = path / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
    probe = subprocess.run([str(python), "-c", "import paste.httpserver"], capture_output=True)
    if probe.returncode != 0:
        subprocess.run([str(python), "-m", "pip", "install", "-q", "Paste"], check=True)
    return str(python)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workers", type=int, default=1,
                        help="processes per server (paster serve --workers, granian --workers)")
    parser.add_argument("--paste-venv", type=Path,
                        default=Path(tempfile.gettempdir()) / "pastescript-bench-paste",
                        help="throw-away virtualenv for the Paste#http baseline")
    parser.add_argument("--only", action="append", default=[],
                        help="measure only targets whose name contains this (baselines always)")
    parser.add_argument("--no-1ms", dest="work", action="store_false",
                        help=f"leave out the application that spends {WORK} of Python a request")
    args = parser.parse_args(argv)
    for tool in ("wrk", "nginx"):
        if not shutil.which(tool) and not Path(f"/usr/sbin/{tool}").exists():
            print(f"{tool} is needed: apt-get install -y {tool}", file=sys.stderr)
            return 2
    if not granian_installed():
        print('granian is not installed (pip install "PasteScript[bench]"): its rows are left out',
              file=sys.stderr)

    paste_python = paste_venv(args.paste_venv) if args.workers == 1 else sys.executable
    loops = work_loops() if args.work else 1
    if args.work:
        print(f"{WORK} application: {loops} turns of its loop per request", flush=True)
    results: dict[str, list] = {}
    with tempfile.TemporaryDirectory(prefix="bench-runners-") as tmp:
        bench = Bench(Path(tmp), paste_python, loops)
        targets = [(name, start) for name, start in target_setups(bench, args.workers)
                   if (args.work or WORK not in name)
                   and ("baseline" in name or not args.only
                        or any(word in name for word in args.only))]
        for round_number in range(args.rounds):
            for name, start in targets:
                try:
                    port = start()
                    result = run_wrk(port, args.duration, args.connections)
                finally:
                    bench.stop_all()
                results.setdefault(name, []).append(result)
                print(f"round {round_number + 1}: {name:34} {result['rate']:10.0f} req/s  "
                      f"p50 {result['p50'] * 1000:7.2f} ms  p99 {result['p99'] * 1000:8.2f} ms  "
                      f"errors {result['errors']} (timeouts {result['timeouts']})", flush=True)
    report(results, args)
    return 0


def report(results: dict, args) -> None:
    median = {name: {key: statistics.median(run[key] for run in runs)
                     for key in ("rate", "p50", "p99")} for name, runs in results.items()}
    best = {name: max(run["rate"] for run in runs) for name, runs in results.items()}
    errors = {name: sum(run["errors"] for run in runs) for name, runs in results.items()}
    print()
    print(f"wrk -t2 -c{args.connections} -d{args.duration:g}s, {args.rounds} rounds, "
          f"{args.workers} process(es) per server, Python {sys.version.split()[0]}, "
          f"{os.cpu_count()} CPUs")
    print(f"{'server':34} {'best':>8} {'median':>8} {'median vs':>10} {'median vs':>10} "
          f"{'median vs':>10} {'p50':>8} {'p99':>8} {'errors':>7}")
    print(f"{'':34} {'req/s':>8} {'req/s':>8} {'Paste#http':>10} {'waitress':>10} "
          f"{'granian':>10} {'ms':>8} {'ms':>8}")

    def versus(name: str, baseline: str) -> str:
        key = baseline.format(work=f" {WORK}" if WORK in name else "")
        if key not in median or WORK in name and baseline.startswith("Paste"):
            return f"{'-':>10}"
        return f"{median[name]['rate'] / median[key]['rate']:9.2f}x"

    for name in results:
        row = median[name]
        print(f"{name:34} {best[name]:8.0f} {row['rate']:8.0f} "
              f"{versus(name, 'Paste#http (baseline)')} {versus(name, 'waitress{work} (baseline)')} "
              f"{versus(name, 'granian{work} (baseline)')} {row['p50'] * 1000:8.2f} "
              f"{row['p99'] * 1000:8.2f} {errors[name]:7d}")


if __name__ == "__main__":
    sys.exit(main())
