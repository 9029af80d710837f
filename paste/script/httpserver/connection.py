# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""One client connection: who owns it, what it waits for, and how it ends.

A connection is in one state at a time, and each state has one owner:

``READING`` (the event loop)
    bytes go to the :class:`~.request.RequestReader` as they arrive; the
    request head must arrive within ``request_header_timeout``; a body may
    pause ``request_body_timeout`` at most, and must arrive at
    ``request_body_min_rate`` bytes a second on average (after a first
    ``request_body_timeout``); an idle keep-alive connection lasts
    ``channel_timeout``.
``BUSY`` (a thread running the application)
    complete requests, bodies buffered, are served one after the other.
``FLUSHING`` (the event loop)
    the application is done, the loop sends what is still queued; a client
    that reads nothing for ``send_timeout`` seconds is cut off.
``LINGERING`` (the event loop)
    the answer is sent and the connection ends: the write side is shut down
    and what the client still sends is read and dropped until it closes, is
    silent for two seconds, or thirty seconds have passed, so that closing
    with unread bytes (which makes the kernel send a reset) cannot destroy
    the answer before the client has read it (Apache's lingering close).
``CLOSED``

Only the loop closes sockets; threads hand connections back to it. Bytes
that arrive while the loop does not own the connection (events from an
edge-triggered poller come regardless) are remembered in ``pending_read``
and read when it does again.
"""
from __future__ import annotations

import logging
import socket
import threading
import time

from paste.script.httpserver.output import ClientDisconnected, OutputQueue
from paste.script.httpserver.request import RECV_SIZE, RequestError, RequestReader
from paste.script.httpserver.wsgi import error_response

__all__ = ["Connection", "Clock", "Lingering", "READING", "BUSY", "FLUSHING", "LINGERING", "CLOSED"]

log = logging.getLogger("paste.script.wsgiutils_server")

READING, BUSY, FLUSHING, LINGERING, CLOSED = "reading", "busy", "flushing", "lingering", "closed"
LINGER_IDLE = 2.0       # a lingering client silent this long has read the answer
LINGER_MAX = 30.0       # ... and none lingers longer than this
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


class Connection:
    """A client socket, its request reader and its output queue."""

    __slots__ = ("server", "sock", "fd", "addr", "reader", "lock", "output", "state",
                 "served", "close_after", "clock", "lingering", "pending_read")

    def __init__(self, server, sock: socket.socket, addr, now: float):
        settings = server.settings
        self.server = server
        self.sock = sock
        self.fd = sock.fileno()
        self.addr = addr
        self.reader = RequestReader(settings.max_request_header_size,
                                    settings.max_request_body_size, settings.inbuf_overflow,
                                    server.spool)
        self.lock = threading.RLock()
        self.output = OutputQueue(sock, self.lock, settings.outbuf_high_watermark,
                                  settings.send_timeout, settings.write_timeout, self._arm)
        self.state = READING
        self.served = 0
        self.close_after = False
        self.clock = Clock(now)
        self.lingering = None    # a Lingering once the answer is sent and the end comes
        self.pending_read = False

    # -- events (loop thread) ----------------------------------------------------

    def on_readable(self, now: float) -> None:
        state = self.state
        if state is READING:
            self._read(now)
        elif state is LINGERING:
            self._drain(now)
        elif state is not CLOSED:
            with self.lock:
                if self.state is not READING:
                    self.pending_read = True   # read once it is handed back
                    return
            self._read(now)  # handed back meanwhile

    def poke(self) -> None:
        """Act on what the poller may not report (loop thread): bytes that arrived
        while another thread owned the connection, more than one read took, or
        room to send found while a thread wrote."""
        now = time.monotonic()
        self.on_writable(now)
        self.on_readable(now)

    def _read(self, now: float) -> None:
        try:
            data = self.sock.recv(RECV_SIZE)
        except BlockingIOError:
            with self.lock:
                self._arm()
            return
        except OSError:
            self.close()
            return
        if not data:
            self.close()  # the client left; a partial request has no one to answer
            return
        reader = self.reader
        reader.feed(data)
        if reader.done:
            self.state = BUSY
            self.pending_read = len(data) == RECV_SIZE  # maybe more behind it
            self.server.dispatch(self)
        elif reader.error is not None:
            self.state = BUSY
            self.answer_error(reader.error)
            self.release(now)
        else:
            self.clock.track(now, reader.current, self.served)
            with self.lock:
                if reader.current is not None and reader.current.continue_pending:
                    self._send_continue()
                self._arm()
            if len(data) == RECV_SIZE:
                self.server.call_soon(self.poke)  # maybe more

    def on_writable(self, now: float) -> None:
        if not self.output.items:
            return  # an edge-triggered poller reports writable with every event
        with self.lock:
            state = self.state
            if state is CLOSED or not self.output.items:
                return
            if not self.output.flush(now):
                if state is not BUSY:  # else its thread finds out and hands it back
                    self.close()
                return
            if state is FLUSHING and not self.output.items:
                self._flushed(now)
            else:
                self._arm()

    def check_deadlines(self, now: float, settings) -> None:
        state = self.state
        if state is READING:
            current = self.reader.current
            overdue = self.clock.overdue(now, settings, current, self.served)
            if overdue is Clock.IDLE:
                self.close()  # idle: nothing to answer
            elif overdue:
                self._time_out(now, overdue)
        elif state is FLUSHING:
            if self.output.stalled(now):
                log.info("wsgiutils: %s read nothing for %gs: closing", self.addr,
                         settings.send_timeout)
                self.close()
        elif state is LINGERING and now >= self.lingering.until:
            self.close()

    # -- the owner's side ----------------------------------------------------------

    def answer_error(self, error: RequestError) -> None:
        """Answer ``error`` (the caller owns the connection), then close."""
        log.debug("wsgiutils: %s from %s: %s", error.status, self.addr, error.detail)
        self.close_after = True
        try:
            self.output.write(error_response(error.status, error.detail,
                                             self.server.date_header()), wait=False)
        except ClientDisconnected:
            pass

    def release(self, now: float | None = None) -> None:
        """End the owner's turn: read the next request, or let the loop finish."""
        with self.lock:
            state = self.state
            if state is CLOSED:
                self.reader.close()
                return
            if self.output.broken:
                self.state = FLUSHING
                self.server.call_soon(self.close)
            elif self.output.items:
                self.state = FLUSHING  # on_writable() takes over once it is sent
                self._arm()
                if self.server.poller.edge_triggered:
                    self.server.call_soon(self.poke)  # the edge may have passed
            elif self.close_after or self.reader.finished:
                self.close_after = True
                self.state = FLUSHING
                self.server.call_soon(self._flushed)
            else:
                # Kept open even if the server is stopping: a client that has
                # just had a keep-alive answer may be sending its next request
                # now (answered with Connection: close); the stop closes the
                # connection only once it has been idle for a while.
                self._resume_reading(now)

    def _resume_reading(self, now: float | None) -> None:
        # lock held
        self.served += 1
        self.state = READING
        current = self.reader.current  # the start of a pipelined request, or None
        self.clock.restart(now if now is not None else time.monotonic(), current)
        if current is not None and current.continue_pending:
            self._send_continue()
        if not self.server.poller.edge_triggered:
            self._arm()
        if self.pending_read:
            self.pending_read = False
            self.server.call_soon(self.poke)

    def _send_continue(self) -> None:
        # lock held; nothing else is queued before it in this state
        self.reader.current.continue_pending = False
        try:
            self.output.write(CONTINUE, wait=False)
        except ClientDisconnected:
            pass

    def _arm(self) -> None:
        # lock held: ask the loop for the next event this state needs
        state = self.state
        if state is CLOSED:
            return
        read = state is READING or state is LINGERING
        write = bool(self.output.items)
        if read or write:
            self.server.poller.arm(self.fd, self, read, write)

    # -- ending (loop thread) --------------------------------------------------------

    def _flushed(self, now: float | None = None) -> None:
        with self.lock:
            if self.state is not FLUSHING:
                return
            if self.output.broken:
                self.close()
            elif self.close_after:
                self._linger(now if now is not None else time.monotonic())
            else:
                self._resume_reading(now)   # as in release()

    def _time_out(self, now: float, detail: str) -> None:
        self.reader.close()
        self.state = BUSY
        self.answer_error(RequestError(408, detail))
        self.release(now)

    def _linger(self, now: float) -> None:
        # lock held; everything is sent
        self.reader.close()
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            self.close()
            return
        self.state = LINGERING
        self.lingering = Lingering(now)
        self._arm()
        self.server.call_soon(self.poke)  # bytes that came while flushing

    def _drain(self, now: float) -> None:
        done, more = self.lingering.drain(self.sock, now)
        if more:
            self.server.call_soon(self.poke)  # the poller may not say
        if done:
            self.close()
            return
        with self.lock:
            self._arm()

    def close(self) -> None:
        with self.lock:
            state = self.state
            if state is CLOSED:
                return
            self.state = CLOSED
            self.server.poller.remove(self.fd)
            try:
                self.sock.close()
            except OSError:
                pass
            self.output.drop()
            if state is not BUSY:  # a thread still reads its request's body
                self.reader.close()
        self.server.connection_closed(self)

    def close_if_idle(self) -> None:
        """Close the connection if no request is under way (the server is stopping)."""
        if self.state is READING and self.reader.current is None:
            self._read(time.monotonic())  # what arrived before the stop is still served
            if self.state is READING and self.reader.current is None:
                self.close()


class Lingering:
    """The end of a lingering close: what the client still sends is dropped, until when."""

    __slots__ = ("until", "end")

    def __init__(self, now: float):
        self.end = now + LINGER_MAX
        self.until = now + LINGER_IDLE

    def drain(self, sock: socket.socket, now: float) -> tuple:
        """Read and drop what arrived: ``(done, more)``, done once the client closed,
        failed or stayed silent until ``until``; more when there may be more to read."""
        for _ in range(16):
            try:
                data = sock.recv(RECV_SIZE)
            except BlockingIOError:
                return now >= self.until, False
            except OSError:
                return True, False
            if not data:
                return True, False  # the client has read the answer and closed
            self.until = min(now + LINGER_IDLE, self.end)
        return now >= self.until, True


class Clock:
    """The deadlines of a connection that the loop reads from: when its current wait began.

    The wait is for the next request (``channel_timeout`` once a request was
    served, ``request_header_timeout`` on a new connection), for the rest
    of a head (``request_header_timeout`` from its first byte), or for the
    next bytes of a body (``request_body_timeout`` of silence, and
    ``request_body_min_rate`` on average).
    """

    IDLE = "idle"   # :meth:`overdue`: close, there is nothing to answer
    __slots__ = ("since", "timed")

    def __init__(self, now: float):
        self.since = now         # start of the current wait (idle, head, silence in a body)
        self.timed = None        # the request whose head ``since`` times

    def restart(self, now: float, current) -> None:
        """A new wait: for ``current`` (a pipelined request begun), or for a request."""
        self.since = now
        self.timed = current

    def track(self, now: float, current, served: int) -> None:
        """Bytes of ``current`` arrived: restart the clocks they reset."""
        if current is not self.timed:
            if self.timed is not None or served:
                self.since = now  # a new connection's head is timed from the accept
            self.timed = current
        elif current is not None and not current.in_head:
            self.since = now
        if current is not None and not current.in_head and current.body_started is None:
            current.body_started = now

    def overdue(self, now: float, settings, current, served: int):
        """None, :attr:`IDLE`, or why the request is answered 408."""
        waited = now - self.since
        if current is None:
            limit = settings.channel_timeout if served else settings.request_header_timeout
            return self.IDLE if waited > limit else None
        if current.in_head:
            if waited > settings.request_header_timeout:
                return "the request head took too long to arrive"
            return None
        if waited > settings.request_body_timeout:
            return "the client stopped sending the request body"
        if current.body is not None and current.body_started is not None and now > (
                current.body_started + settings.request_body_timeout
                + current.body.size / settings.request_body_min_rate):
            return "the request body arrives too slowly"
        return None
