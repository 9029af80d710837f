"""``paster serve`` overhead against the floor of any PasteDeploy launcher, in one run.

    python bench/serve.py [--runs N] [--seconds S] [--rounds R]

* start-up: from process start to the first answered request, ``paster serve
  config.ini`` (waitress runner) against the floor of any PasteDeploy
  launcher: a script calling ``loadserver`` and ``loadapp`` on the same
  config and serving. Target: <= 1.15x (SPEC section 8, PasteDeploy used
  through its public API only). A one-line ``waitress.serve`` script on the
  same app is timed too, for reference (it skips PasteDeploy altogether).
* throughput: requests per second with ``wrk`` (16 connections) against
  bare waitress, in R interleaved rounds (the order reversed every other
  round); the ratio is the median of the rounds' ratios.  Target: >= 0.98x.
* the operators' settings: ``paster serve`` with ``--access-log FILE`` and
  ``--worker-timeout 30`` (one line written per request, a heartbeat a
  second) against ``paster serve`` without them, in the same rounds, on
  waitress and on ``wsgiutils`` (the runner of docs/example_app.ini).
  Target: >= 0.95x (issue 18).

Needs ``wrk`` on PATH for the throughput part (``apt-get install wrk``).
"""
import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

APP = '''
def app(environ, start_response):
    body = b"Hello, world!\\n"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]

def make_app(global_conf, **local_conf):
    return app
'''


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def time_to_first_answer(argv, port, env, cwd):
    request = b"GET / HTTP/1.0\r\nHost: x\r\n\r\n"
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                    s.sendall(request)
                    if s.recv(64).split(b" ", 2)[1:2] == [b"200"]:
                        return time.perf_counter() - start
            except OSError:
                pass
            if proc.poll() is not None:
                raise RuntimeError(f"{argv} exited with {proc.returncode}")
            time.sleep(0.001)
    finally:
        proc.terminate()
        proc.wait(10)


def paired_ratio(values, baselines):
    """The median of the ratios of values and baselines measured in the same round."""
    return statistics.median(v / b for v, b in zip(values, baselines))


def wrk_rps(port, seconds):
    out = subprocess.run(["wrk", "-t2", "-c16", f"-d{seconds}s", f"http://127.0.0.1:{port}/"],
                         capture_output=True, text=True, check=True).stdout
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3, help="throughput rounds (median)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="paster-serve-bench-"))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    # The application's module in a directory of its own: the config is
    # rewritten each round (a new port), and a directory on sys.path that
    # changes on every start is not what a deployment looks like.
    lib = work / "lib"
    lib.mkdir()
    env["PYTHONPATH"] = str(lib)
    (lib / "helloapp.py").write_text(APP)
    paster = shutil.which("paster", path=os.path.dirname(sys.executable))

    def commands(port, runner="egg:waitress#main"):
        (work / "hello.ini").write_text(
            "[app:main]\npaste.app_factory = helloapp:make_app\n\n"
            f"[server:main]\nuse = {runner}\nhost = 127.0.0.1\nport = {port}\n")
        bare = [sys.executable, "-c",
                f"import waitress, helloapp; waitress.serve(helloapp.app, host='127.0.0.1', port={port})"]
        return bare, [paster, "serve", "-q", str(work / "hello.ini")]

    def floor():
        ini = str(work / "hello.ini")
        return [sys.executable, "-c",
                "from paste.deploy import loadapp, loadserver; "
                f"server = loadserver('config:{ini}'); server(loadapp('config:{ini}'))"]

    try:
        bare_t, paster_t, deploy_t = [], [], []
        print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        for i in range(args.runs + 1):
            port = free_port()
            bare, served = commands(port)
            b = time_to_first_answer(bare, port, env, work)
            p = time_to_first_answer(served, port, env, work)
            d = time_to_first_answer(floor(), port, env, work)
            if i:  # the first round warms the bytecode caches
                bare_t.append(b)
                paster_t.append(p)
                deploy_t.append(d)
        b, p, d = (statistics.median(t) for t in (bare_t, paster_t, deploy_t))
        print(f"start to first answer: loadserver+loadapp floor {d * 1000:6.1f} ms, paster serve "
              f"{p * 1000:6.1f} ms  -> {p / d:4.2f}x (target <= 1.15x)")
        print(f"  for reference, a bare waitress.serve script: {b * 1000:6.1f} ms "
              f"(paster serve {p / b:4.2f}x, the floor {d / b:4.2f}x)")
        if shutil.which("wrk"):
            throughput(args, work, env, commands)
        else:
            print("throughput: skipped, wrk not found")
        print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


#: The servers of each throughput round: (name, runner, with the operators' settings).
SERVERS = [("bare", None, False), ("paster", "egg:waitress#main", False),
           ("operated", "egg:waitress#main", True),
           ("wsgiutils", "egg:PasteScript#wsgiutils", False),
           ("wsgiutils operated", "egg:PasteScript#wsgiutils", True)]


def throughput(args, work, env, commands):
    runs = {name: [] for name, _, _ in SERVERS}
    for number in range(args.rounds):    # interleaved: load from elsewhere hits all alike
        # ... in turn first and last, so that none gains from its place
        for name, runner, operated in (SERVERS if number % 2 == 0 else SERVERS[::-1]):
            port = free_port()
            bare, served = commands(port, runner or "egg:waitress#main")
            argv = bare if runner is None else served
            if operated:
                argv = served[:2] + ["--access-log", str(work / "access.log"),
                                     "--worker-timeout", "30"] + served[2:]
            proc = subprocess.Popen(argv, env=env, cwd=work,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                _wait(port)
                wrk_rps(port, 1)  # warm
                runs[name].append(wrk_rps(port, args.seconds))
            finally:
                proc.terminate()
                proc.wait(10)
    results = {name: statistics.median(values) for name, values in runs.items()}
    # Each ratio is the median of the rounds' own ratios: the servers of a
    # round ran seconds apart, so what the machine does meanwhile (this VM
    # drifts by a few per cent from minute to minute) weighs on both alike.
    ratio = paired_ratio(runs["paster"], runs["bare"])
    print(f"throughput: waitress.serve {results['bare']:8.0f} req/s, paster serve "
          f"{results['paster']:8.0f} req/s  -> {ratio:4.2f}x (target >= 0.98x)")
    for runner, plain, operated in (("waitress", "paster", "operated"),
                                    ("wsgiutils", "wsgiutils", "wsgiutils operated")):
        print(f"  {runner}, with --access-log and --worker-timeout: "
              f"{results[operated]:8.0f} req/s -> {paired_ratio(runs[operated], runs[plain]):4.2f}x "
              f"{results[plain]:8.0f} req/s without them (target >= 0.95x)")
        print("    rounds: " + " ".join(f"{o / p:4.2f}" for o, p in zip(runs[operated], runs[plain])))


def _wait(port, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.01)
    raise RuntimeError(f"nothing on port {port}")


if __name__ == "__main__":
    main()
