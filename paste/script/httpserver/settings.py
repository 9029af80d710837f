# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""Every option of the server, declared once: its default and its converter.

The ``[server:main]`` section of an INI file, ``make_server(**options)`` and
the documentation all use this one table. Options that waitress also has
keep waitress's names (``threads``, ``connection_limit``,
``channel_timeout``, ``max_request_header_size``, ``max_request_body_size``,
``inbuf_overflow``, ``outbuf_high_watermark``); where the default differs
from waitress's, the comment says why.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Mapping

from paste.script.runners_common import runner_options
from paste.script.util.options import asfloat, asint, asport, at_least, positive

__all__ = ["Settings"]

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB


def _option(default: Any, converter, doc: str):
    return field(default=default, metadata={"convert": converter, "doc": doc})


_seconds = positive(asfloat)


@dataclass(frozen=True)
class Settings:
    """The server's options, converted and checked."""

    host: str = _option("localhost", str, "address to listen on")
    port: int = _option(8080, asport, "TCP port (0 picks a free one)")
    threads: int = _option(10, at_least(asint, 1), "worker threads running the application")
    request_queue_size: int = _option(1024, at_least(asint, 1), "listen backlog")
    connection_limit: int = _option(
        100, at_least(asint, 1), "open connections at most; idle keep-alive ones are closed first")
    # Waitress allows 256 KiB; browsers send a few KiB, and the old server had 64 KiB.
    max_request_header_size: int = _option(
        64 * KiB, at_least(asint, 1024), "request line and headers, in bytes (else 431)")
    max_request_body_size: int = _option(1 * GiB, at_least(asint, 0), "request body, in bytes (else 413)")
    inbuf_overflow: int = _option(
        512 * KiB, at_least(asint, 0), "request bodies larger than this go to a temporary file")
    # Waitress allows 16 MiB per connection, spooled to disk past 1 MiB; this
    # server keeps its queue in memory, so it pauses the application sooner.
    outbuf_high_watermark: int = _option(
        1 * MiB, at_least(asint, 1), "queued response bytes before the application waits")
    request_header_timeout: float = _option(
        30.0, _seconds, "seconds for a whole request head to arrive (else 408)")
    request_body_timeout: float = _option(
        30.0, _seconds, "seconds a client may stay silent while sending a body (else 408)")
    # A body trickling in (a byte every 20 s) is never silent for long: past
    # a first request_body_timeout it must arrive at this rate (Apache's
    # mod_reqtimeout MinRate works the same way).
    request_body_min_rate: float = _option(
        1024.0, positive(asfloat), "bytes a second a request body must average (else 408)")
    # Bodies past inbuf_overflow go to temporary files; this bounds the disk
    # that all connections may take at once (waitress has no such bound).
    max_request_spool_size: int = _option(
        4 * GiB, at_least(asint, 0), "bytes of request bodies in temporary files at once (else 503)")
    channel_timeout: float = _option(120.0, _seconds, "seconds an idle keep-alive connection stays open")
    send_timeout: float = _option(
        30.0, _seconds, "seconds a client may leave the response unread before it is cut")
    # A thread waiting for a client to read holds back other requests: it
    # waits less than the loop, which holds only memory (cheroot: 10 s).
    write_timeout: float = _option(
        10.0, _seconds, "seconds a thread waits for a client to read a streamed response")
    shutdown_timeout: float = _option(
        30.0, _seconds, "seconds requests in flight may take to finish on SIGTERM/SIGINT")

    @classmethod
    def table(cls) -> dict:
        """Option name -> converter, for :func:`runner_options`."""
        return {f.name: f.metadata["convert"] for f in fields(cls)}

    @classmethod
    def from_options(cls, options: Mapping[str, Any], runner: str = "wsgiutils") -> "Settings":
        """Settings from INI strings or Python values; a bad one is an ``OptionError``."""
        return cls(**runner_options(options, cls.table(), runner))

    @classmethod
    def documented(cls) -> list:
        """(name, default, description) of every option, in declaration order."""
        return [(f.name, f.default, f.metadata["doc"]) for f in fields(cls)]
