"""Scale-out: nginx load-balancing two daemonized `paster serve` instances.

This is the deployment ``docs/frontends.rst`` describes: when one process is
not enough, run several ``paster serve --daemon`` instances of the same
config on different ports and let nginx spread the requests. Stopping one
instance (``paster serve --stop-daemon``) must not lose a request: it
finishes what it has, nginx sees the refused connections, marks it down and
sends everything to the other.
"""
from __future__ import annotations

import asyncio
import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from tests.runner_support import _read_response, kill_group, load, nginx_error_log, start_nginx, write_app
from tests.serving_support import wait_for_children
from tests.support import free_port, pid_alive, run_paster, wait_for_port, write


def read_pid(path: Path) -> int:
    return int(path.read_text().split()[0])


@pytest.fixture
def cluster(tmp_path):
    write_app(tmp_path)
    config = write(tmp_path / "site.ini", """
        [app:main]
        use = call:runner_test_app:make_app

        [server:main]
        use = egg:PasteScript#wsgiutils
        host = 127.0.0.1
        port = %(http_port)s
        threads = 8
        """)
    instances = []
    nginx = None
    try:
        for name in ("a", "b"):
            port = free_port()
            pid_file, log_file = tmp_path / f"{name}.pid", tmp_path / f"{name}.log"
            result = run_paster("serve", "--daemon", f"--pid-file={pid_file}",
                                f"--log-file={log_file}", str(config), f"http_port={port}",
                                cwd=tmp_path, env=_env(tmp_path))
            if pid_file.exists():     # recorded before asserting: cleaned up whatever happens
                instances.append({"name": name, "port": port, "pid_file": pid_file,
                                  "log": log_file, "pid": read_pid(pid_file)})
            assert result.returncode == 0, (result.stdout, result.stderr)
            wait_for_port(port, pid=read_pid(pid_file))
            # The daemon is the monitor; its one worker answers.
            instances[-1]["worker"] = wait_for_children(instances[-1]["pid"], 1)[0]
        front_port = free_port()
        servers = "\n".join(f"server 127.0.0.1:{i['port']} max_fails=1 fail_timeout=30s;"
                            for i in instances)
        nginx = start_nginx(tmp_path, f"""
            upstream app {{
                {servers}
                keepalive 32;
            }}
            server {{
                listen 127.0.0.1:{front_port};
                location / {{
                    proxy_pass http://app;
                    proxy_http_version 1.1;
                    proxy_set_header Connection "";
                    proxy_set_header Host $host;
                    proxy_next_upstream error timeout http_502 http_503;
                    proxy_connect_timeout 2s;
                }}
            }}
            """, front_port)
        yield {"dir": tmp_path, "config": config, "instances": instances, "port": front_port}
    finally:
        if nginx is not None:
            kill_group(nginx)
        for instance in instances:
            if pid_alive(instance["pid"]):
                run_paster("serve", "--stop-daemon", f"--pid-file={instance['pid_file']}",
                           str(config), cwd=tmp_path, env=_env(tmp_path))
            if pid_alive(instance["pid"]):  # never leave a daemon behind, whatever failed
                os.killpg(os.getpgid(instance["pid"]), signal.SIGKILL)


def _env(directory: Path) -> dict:
    from tests.runner_support import runner_env
    return runner_env(directory)


def backend_pids(port: int, count: int) -> set:
    """The pids that answered ``count`` sequential requests through nginx."""
    from tests.support import http_get
    pids = set()
    for _ in range(count):
        status, _, body = http_get(f"http://127.0.0.1:{port}/echo")
        assert status == 200
        pids.add(json.loads(body)["pid"])
    return pids


def test_load_is_spread_over_both_instances(cluster):
    expected = {i["worker"] for i in cluster["instances"]}
    assert backend_pids(cluster["port"], 20) == expected
    stats = load(cluster["port"], total=10_000, concurrency=64)
    assert stats["errors"] == 0, (stats["bad"], nginx_error_log(cluster["dir"])[-2000:])
    assert stats["ok"] == 10_000


def test_stopping_one_instance_loses_no_request(cluster):
    port = cluster["port"]
    a, b = cluster["instances"]
    outcome = {"ok": 0, "errors": [], "pids_after_stop": set()}
    stopped = threading.Event()
    done = threading.Event()

    async def client():
        request = b"GET /echo HTTP/1.1\r\nHost: front\r\n\r\n"

        async def worker():
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            try:
                while not done.is_set():
                    sent_after_stop = stopped.is_set()
                    writer.write(request)
                    try:
                        status, _, body = await asyncio.wait_for(_read_response(reader), 30)
                    except Exception as exc:
                        outcome["errors"].append(repr(exc))
                        writer.close()
                        reader, writer = await asyncio.open_connection("127.0.0.1", port)
                        continue
                    if status != 200:
                        outcome["errors"].append(status)
                        continue
                    outcome["ok"] += 1
                    if sent_after_stop:
                        outcome["pids_after_stop"].add(json.loads(body)["pid"])
            finally:
                writer.close()

        await asyncio.gather(*(worker() for _ in range(16)))

    thread = threading.Thread(target=lambda: asyncio.run(client()))
    thread.start()
    try:
        time.sleep(1.0)  # both instances busy
        before = outcome["ok"]
        result = run_paster("serve", "--stop-daemon", f"--pid-file={a['pid_file']}",
                            str(cluster["config"]), cwd=cluster["dir"], env=_env(cluster["dir"]))
        assert result.returncode == 0, (result.stdout, result.stderr)
        for _ in range(100):  # the stop command returns once the pid file is released
            if not pid_alive(a["pid"]) and not pid_alive(a["worker"]):
                break
            time.sleep(0.05)
        assert not pid_alive(a["pid"]) and not pid_alive(a["worker"])
        stopped.set()
        time.sleep(1.5)  # keep going on the remaining instance
    finally:
        done.set()
        thread.join(60)
    assert outcome["errors"] == [], (outcome["errors"][:5], nginx_error_log(cluster["dir"])[-2000:])
    assert before > 0 and outcome["ok"] > before
    assert outcome["pids_after_stop"] == {b["worker"]}
    assert not a["pid_file"].exists()
