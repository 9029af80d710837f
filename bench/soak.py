#!/usr/bin/env python
"""``paster serve`` over a long run: nothing grows, no switch cuts a request.

    python bench/soak.py [--requests 200000] [--hups 200] [--exits 1000]
                         [--only leak|hups|exits]

Three soaks, each against a real ``paster serve`` on loopback, each printed
with the load average around it:

1. **Memory per connection.** For each of waitress, wsgiutils and cheroot:
   ``wrk -H 'Connection: close'`` makes ``--requests`` requests, each on a
   new connection, against one worker; the worker's RSS after a tenth of
   them and after all of them. Target: within 2 MiB.
2. **Switches under keep-alive load.** ``--hups`` SIGHUPs, one after the
   other, while 8 keep-alive clients (``pause=0``: a request as soon as the
   last answer came) and a new-connection prober run against 2 waitress
   workers. Targets: 0 failed requests; every client on the new generation
   within 1 s of each "Generation N serving"; the monitor's descriptors and
   RSS the same after the last HUP as after the tenth; no zombie.
3. **Requests that kill their worker.** ``--exits`` requests to an endpoint
   that calls ``os._exit`` in its worker, among normal traffic (4 clients,
   new connections), with 2 workers. Target: no normal request waits over
   1 s.

Needs wrk (``apt-get install wrk``).
"""
from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.serving_support import KeepAliveClient, Prober, Site, get, pid_of  # noqa: E402

RUNNERS = ("egg:waitress#main", "egg:PasteScript#wsgiutils", "egg:PasteScript#cherrypy")


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def rss(pid: int) -> int:
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def zombies(pid: int) -> int:
    count = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] == "Z" and int(fields[1]) == pid:
                count += 1
    return count


def settled(pid: int, workers: int, timeout: float = 30.0) -> None:
    """Wait until the old generation has gone: only ``workers`` children left.

    Until then the monitor still holds the old workers' channels, and its
    descriptor count says nothing about a leak.
    """
    deadline = time.monotonic() + timeout
    path = f"/proc/{pid}/task/{pid}/children"
    while time.monotonic() < deadline:
        with open(path) as f:
            if len(f.read().split()) == workers:
                return
        time.sleep(0.01)
    raise AssertionError(f"the monitor still has old workers after {timeout}s")


def wrk_close(port: int, requests: int) -> int:
    """Make about ``requests`` requests, each on a new connection; return how many wrk made."""
    made = 0
    while made < requests:
        seconds = 10
        out = subprocess.run(["wrk", "-t2", "-c16", f"-d{seconds}s", "-H", "Connection: close",
                              f"http://127.0.0.1:{port}/"], capture_output=True, text=True,
                             check=True).stdout
        made += int(re.search(r"(\d+) requests in", out).group(1))
        errors = re.search(r"Socket errors: (.*)", out)
        if errors or "Non-2xx" in out:
            print("   wrk:", errors.group(0) if errors else "non-2xx answers")
    return made


def soak_leak(work: Path, requests: int) -> bool:
    ok = True
    for server in RUNNERS:
        directory = work / server.split("#")[1]
        directory.mkdir()
        site = Site(directory, server=server)
        site.start()
        try:
            worker = pid_of(get(site.url))
            made = wrk_close(site.port, requests // 10)
            early = rss(worker)
            made += wrk_close(site.port, requests - made)
            late = rss(worker)
            grown = (late - early) / 2**20
            ok &= grown <= 2.0 and pid_of(get(site.url)) == worker
            print(f"{server:28} {made:>8,} connections: RSS {early / 2**20:6.1f} -> "
                  f"{late / 2**20:6.1f} MiB ({grown:+.2f} MiB; target within 2)   {load()}")
        finally:
            site.stop()
    return ok


def soak_hups(work: Path, hups: int) -> bool:
    (work / "hups").mkdir()
    site = Site(work / "hups", server="egg:waitress#main", extra="threads = 8")
    site.start("--workers", "2")
    clients = [KeepAliveClient(site.port, pause=0) for _ in range(8)]
    prober = Prober(site.url, period=0.01)
    for client in clients + [prober]:
        client.start()
    monitor = site.proc.pid
    late_switches, samples = [], {}
    try:
        for number in range(2, hups + 2):
            site.write_app(f"v{number}")
            mark = site.signal(signal.SIGHUP)
            site.said(rf"Generation {number} serving", mark, timeout=60)
            served = time.monotonic()
            deadline = served + 5
            while time.monotonic() < deadline and not all(
                    c.answers and (c.answers[-1][1] or "").startswith(f"v{number} ")
                    for c in clients):
                time.sleep(0.005)
            lag = time.monotonic() - served
            if lag > 1.0:
                late_switches.append((number, round(lag, 2)))
            if number in (11, hups + 1):
                settled(monitor, workers=2)
                samples[number] = (fds(monitor), rss(monitor))
    finally:
        failed = [e for c in clients for e in c.stop()] + prober.stop()
        dead = zombies(monitor)
        site.stop()
    answered = sum(len(c.answers) for c in clients) + len(prober.answers)
    (fds10, rss10), (fds_end, rss_end) = samples[11], samples[hups + 1]
    print(f"{hups} HUPs under keep-alive load: {len(failed)} of {answered:,} requests failed; "
          f"{len(late_switches)} switches over 1 s {late_switches[:5]}; monitor fds "
          f"{fds10} -> {fds_end}, RSS {rss10 / 2**20:.1f} -> {rss_end / 2**20:.1f} MiB; "
          f"{dead} zombie(s)   {load()}")
    if failed:
        print("   first failures:", failed[:5])
    return not failed and not late_switches and fds_end <= fds10 and \
        rss_end - rss10 < 2**20 and not dead


def soak_exits(work: Path, exits: int) -> bool:
    (work / "exits").mkdir()
    site = Site(work / "exits", server="egg:waitress#main")
    site.start("--workers", "2")
    waits: list[float] = []
    stop = threading.Event()

    def normal():
        while not stop.is_set():
            began = time.monotonic()
            if get(site.url, timeout=10) is not None:
                waits.append(time.monotonic() - began)
    clients = [threading.Thread(target=normal) for _ in range(4)]
    for client in clients:
        client.start()
    try:
        began = time.monotonic()
        for _ in range(exits):
            get(site.url + "exit", timeout=5)
        took = time.monotonic() - began
    finally:
        stop.set()
        for client in clients:
            client.join()
        site.stop()
    slow = [w for w in waits if w > 1.0]
    waits.sort()
    print(f"{exits} worker-killing requests in {took:.0f}s among {len(waits):,} normal ones: "
          f"{len(slow)} waited over 1 s; p50 {waits[len(waits) // 2] * 1000:.1f} ms, "
          f"p99 {waits[int(len(waits) * 0.99)] * 1000:.1f} ms, max {waits[-1] * 1000:.0f} ms   "
          f"{load()}")
    return not slow


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200_000)
    parser.add_argument("--hups", type=int, default=200)
    parser.add_argument("--exits", type=int, default=1000)
    parser.add_argument("--only", choices=("leak", "hups", "exits"))
    args = parser.parse_args()
    # The servers inherit this process's dispositions, and a server keeps a
    # SIGHUP that it was started with ignored (as 3.7 did): under ``nohup``
    # the HUP soak would wait for a reload that never comes.
    signal.signal(signal.SIGHUP, signal.SIG_DFL)
    work = Path(tempfile.mkdtemp(prefix="paster-soak-"))
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} cores, {load()}")
    results = {}
    if args.only in (None, "leak"):
        results["leak"] = soak_leak(work, args.requests)
    if args.only in (None, "hups"):
        results["hups"] = soak_hups(work, args.hups)
    if args.only in (None, "exits"):
        results["exits"] = soak_exits(work, args.exits)
    print("targets met:", ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in results.items()))
    return 0 if all(results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
