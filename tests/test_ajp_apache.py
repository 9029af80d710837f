"""flup's AJP runners under ``paster serve``, behind a real Apache (mod_proxy_ajp)."""
from __future__ import annotations

import json
import os

import pytest

from tests.runner_support import (
    HELLO, apache_error_log, kill_group, load, output_of, start_apache, start_served,
    write_config)
from tests.support import free_port, http_get


@pytest.fixture(scope="module", params=["thread", "fork"])
def front(request, tmp_path_factory):
    pool = request.param
    directory = tmp_path_factory.mktemp(f"ajp-{pool}")
    backend_port = free_port()
    config = write_config(directory, "\n".join([
        f"use = egg:PasteScript#flup_ajp_{pool}",
        "host = 127.0.0.1",
        f"port = {backend_port}",
        "loggingLevel = WARNING",
        # Apache keeps its AJP connections open, and each one holds a thread
        # or a process of ours: the pool must be larger than Apache's
        # connection pool (``max`` below).
        "maxThreads = 200" if pool == "thread" else "maxSpare = 20",
    ]))
    limit = "" if pool == "thread" else " max=16"
    backend = start_served(config, wait_port=backend_port)
    port = free_port()
    try:
        apache = start_apache(directory, f"""
            ProxyPass "/" "ajp://127.0.0.1:{backend_port}/"{limit}
            ProxyTimeout 60
            """, port, modules=("proxy", "proxy_ajp"))
    except BaseException:
        kill_group(backend)
        raise
    yield {"port": port, "dir": directory, "backend": backend, "pool": pool}
    kill_group(apache)
    kill_group(backend)


def url(front, path="/"):
    return f"http://127.0.0.1:{front['port']}{path}"


def test_get(front):
    status, _, body = http_get(url(front))
    assert status == 200, apache_error_log(front["dir"]) + output_of(front["backend"])
    assert body == HELLO


def test_query_string_and_headers(front):
    status, _, body = http_get(url(front, "/echo?q=a%26b&n=2"), headers={"X-Trace": "t-1"})
    data = json.loads(body)
    assert status == 200
    assert data["path"] == "/echo"
    assert data["query"] == "q=a%26b&n=2"
    assert data["headers"]["HTTP_X_TRACE"] == "t-1"


def test_post_with_body(front):
    payload = os.urandom(200_000)
    status, _, body = http_get(url(front, "/echo"), data=payload,
                               headers={"Content-Type": "application/octet-stream"})
    data = json.loads(body)
    assert status == 200
    assert data["length"] == len(payload)
    assert data["body"].encode("latin-1") == payload


def test_large_response(front):
    status, _, body = http_get(url(front, "/big?n=2000000"), timeout=30)
    assert status == 200
    assert body == bytes(range(256)) * (2_000_000 // 256) + b"x" * (2_000_000 % 256)


def test_application_error_is_a_500(front):
    assert http_get(url(front, "/error"))[0] == 500
    assert http_get(url(front))[2] == HELLO


def test_load_2000_requests_64_connections(front):
    stats = load(front["port"], total=2_000, concurrency=64)
    assert stats["errors"] == 0, (stats["bad"], apache_error_log(front["dir"])[-2000:])
    assert stats["ok"] == 2_000


@pytest.mark.parametrize("pool", ["thread", "fork"])
def test_stop_closes_apaches_idle_ajp_connections(tmp_path, pool):
    """Apache keeps its AJP connections open between requests: under the
    engine's stop the runner closes them (else it would wait 20 s for them),
    lets the request in flight finish, and returns."""
    from tests.runner_support import EngineHarness, concurrent_gets, request_in_flight
    config = write_config(tmp_path, "\n".join([
        f"use = egg:PasteScript#flup_ajp_{pool}", "host = 127.0.0.1", "port = 0",
        "loggingLevel = WARNING", "shutdown_timeout = 20",
        "maxThreads = 50" if pool == "thread" else "maxSpare = 8"]))
    harness = EngineHarness(config)
    apache = None
    try:
        harness.ready()
        harness.send("go")
        port = free_port()
        apache = start_apache(tmp_path, f"""
            ProxyPass "/" "ajp://127.0.0.1:{harness.port}/" max=6
            ProxyTimeout 60
            """, port, modules=("proxy", "proxy_ajp"))
        warm = concurrent_gets(f"http://127.0.0.1:{port}/slow?t=0.3", 4)
        assert [reply[2] for reply in warm] == [b"slept"] * 4, apache_error_log(tmp_path)
        thread, slow = request_in_flight(harness, f"http://127.0.0.1:{port}/slow?t=1")
        harness.stop()
        thread.join(30)
        assert slow and slow[0][0] == 200 and slow[0][2] == b"slept", (
            slow, apache_error_log(tmp_path))
        assert harness.returned(timeout=10)["children"] == []
        assert harness.proc.wait(10) == 0
    finally:
        if apache is not None:
            kill_group(apache)
        output = harness.close()
    assert "Traceback" not in output, output
