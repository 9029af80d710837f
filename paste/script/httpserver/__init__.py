# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""The HTTP/1.1 server behind ``egg:PasteScript#wsgiutils``, one job per module.

``settings``
    every option, its default and its converter, declared once.
``server``
    the event loop: socket events, deadlines, stopping.
``crew``
    the threads: one leads the loop and runs most requests itself, another
    takes the loop over when an application takes long.
``accepting``
    new connections: when to accept, sharing a socket with other
    processes, running out of descriptors.
``poller``
    readiness events (edge-triggered epoll, or one-shot :mod:`selectors`).
``connection``
    one client connection: its states and their owners, reading requests,
    closing properly (lingering close).
``request``
    parsing with ``httptools`` (llhttp, strict), limits, body buffering.
``output``
    response bytes queued and flushed without letting a client hold a worker.
``wsgi``
    the WSGI call, the environment, the response and its framing.

The runner itself is :func:`paste.script.wsgiutils_server.run_server`.
"""
from paste.script.httpserver.output import ClientDisconnected
from paste.script.httpserver.server import WSGIServer
from paste.script.httpserver.settings import Settings
from paste.script.httpserver.wsgi import FileWrapper

__all__ = ["WSGIServer", "Settings", "FileWrapper", "ClientDisconnected"]
