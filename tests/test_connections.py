"""A stopping worker's view of its connections (paste.script.serving.connections).

``TCP_INFO`` has no accessor in Python: the offset of ``tcpi_bytes_received``
is Linux's ABI, written down in the module. This checks it against a real
connection, so it fails loudly should it ever not hold.
"""
from __future__ import annotations

import socket
import time

from paste.script.serving.connections import Connections, bytes_received
from paste.script.serving.inflight import InFlight


def pair():
    listener = socket.create_server(("127.0.0.1", 0))
    client = socket.create_connection(listener.getsockname())
    server, _ = listener.accept()
    return listener, client, server


def test_bytes_received_reads_the_kernels_count():
    listener, client, server = pair()
    try:
        assert bytes_received(server) == 0
        client.sendall(b"x" * 1234)
        deadline = time.monotonic() + 5
        while bytes_received(server) != 1234 and time.monotonic() < deadline:
            time.sleep(0.001)
        assert bytes_received(server) == 1234
        assert server.recv(2000) == b"x" * 1234
        assert bytes_received(server) == 1234     # what arrived, not what is waiting
    finally:
        for sock in (listener, client, server):
            sock.close()


def test_connections_are_found_by_the_listeners_address_and_closed_when_idle(monkeypatch):
    import paste.script.serving.connections as connections
    monkeypatch.setattr(connections, "SECOND_LOOK", 0.05)
    listener, client, server = pair()
    other = socket.socket()                       # the application's own, never touched
    other.bind(("127.0.0.1", 0))
    other.listen(1)
    outgoing = socket.create_connection(other.getsockname())
    inflight = InFlight(lambda environ, start_response: [])
    found = Connections([listener], inflight)
    try:
        client.sendall(b"GET / HTTP/1.1\r\n\r\n")
        assert server.recv(100)                   # the server read the request...
        assert found.close_idle() == 1            # ... and the connection is its
        deadline = time.monotonic() + 5
        while found.close_idle() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert server.recv(100) == b""            # shut down for reading: end-of-file
        outgoing.sendall(b"still mine")
        accepted, _ = other.accept()
        assert accepted.recv(100) == b"still mine"
        accepted.close()
    finally:
        found.close()
        for sock in (listener, client, server, other, outgoing):
            sock.close()
