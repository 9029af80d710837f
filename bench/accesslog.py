"""What the access log costs one request, in one process, without a server.

    python bench/accesslog.py

A hello-world application called as a server would (environ, the
iterable, ``close()``), three ways: bare; wrapped by the worker's
``InFlight`` (as under every ``paster serve``); and wrapped with
``--access-log`` on (the combined format, written to ``/dev/null`` in
batches). Also the time to make one line, and to note and write one.
The best of five repeats of 200,000 calls each, in microseconds.

This is the cost the log adds to a worker's interpreter; under load the
throughput ratio (``bench/serve.py``) also depends on how that time falls
between a server's threads.
"""
import os
import time
import timeit

from paste.script.serving.accesslog import AccessLog, compile_format, line_maker
from paste.script.serving.inflight import InFlight, Request

COMBINED = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"'
ENVIRON = {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "SCRIPT_NAME": "", "QUERY_STRING": "",
           "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": "5555",
           "HTTP_USER_AGENT": "wrk", "HTTP_HOST": "x"}
CALLS = 200_000


def app(environ, start_response):
    body = b"Hello, world!\n"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def server_start_response(status, headers, exc_info=None):
    return None


def best(function) -> float:
    return min(timeit.repeat(function, number=CALLS, repeat=5)) / CALLS * 1e6


def served(wrapped):
    def one():
        result = wrapped(dict(ENVIRON), server_start_response)
        for _ in result:
            pass
        close = getattr(result, "close", None)     # a server calls it when there is one
        if close is not None:
            close()
    return one


def main() -> None:
    fd = os.open(os.devnull, os.O_WRONLY)
    log = AccessLog(fd, COMBINED)
    bare = best(served(app))
    plain = best(served(InFlight(app)))
    logged = best(served(InFlight(app, access_log=log)))
    log.flush()
    request = Request(None, dict(ENVIRON))
    request.status, request.headers, request.length = "200 OK", [("Content-Length", "14")], 14
    make = line_maker(compile_format(COMBINED))
    line = best(lambda: make(request, request.environ, time.monotonic()))
    noted = best(lambda: log.write(request))
    log.flush()
    os.close(fd)
    print(f"bare application              {bare:6.2f} us")
    print(f"in InFlight (paster serve)    {plain:6.2f} us")
    print(f"with --access-log             {logged:6.2f} us  (+{logged - plain:.2f} us)")
    print(f"making one combined line      {line:6.2f} us")
    print(f"noting one request (+ batch)  {noted:6.2f} us")


if __name__ == "__main__":
    main()
