# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""The server's threads, and who does what: one leads the event loop, others run applications.

``threads`` applications may run at once, on ``threads + 1`` threads. At
any moment one thread is the *leader*: it runs the event loop
(:meth:`WSGIServer.lead <.server.WSGIServer.lead>`), reads requests and,
when a request is complete, usually runs its application itself, *inline*:
no hand-over to another thread, no wake-up, no switch of the interpreter
lock, which is most of what a request costs a Python server. (Leader and
followers, as in the ACE framework; nginx's and Envoy's workers also run a
request where its bytes were read.)

An application may take long (a slow query, a ``sleep``): the loop must not
wait for it. So while the leader runs one, another thread, the *watcher*,
watches the clock: when the call has lasted ``TAKEOVER`` seconds, the
watcher becomes the leader and runs the loop, and the old leader finishes
its request and then serves like any other thread. The watcher checks a few
times a ``TAKEOVER`` while requests run, and sleeps while the server is
idle; the leader wakes it (one system call) when it starts a request after
an idle spell.

An application that usually takes long (most of its recent calls over
``INLINE_LIMIT``, a database query for instance) is not run inline at all:
one after the other, such requests would wait for each other, where
threads run them side by side. The leader then hands them to free threads,
as a classic pool does. (A share of slow calls, not an average time, so
that a call the operating system preempted now and then does not count.)

When ``threads`` applications run, or no thread is free to watch, the
leader runs nothing inline: complete requests wait in ``jobs``, first in
first out, and each thread that finishes an application takes the next one.
Free threads beyond the leader and the watcher wait.
"""
from __future__ import annotations

import collections
import logging
import threading
import time
from typing import Callable

__all__ = ["Crew", "TAKEOVER"]

log = logging.getLogger("paste.script.wsgiutils_server")

#: Seconds an application may run inline before another thread takes the loop
#: over (if the loop has something to do).
TAKEOVER = 0.002
#: Applications most of whose calls take longer than this (seconds) run on other threads.
INLINE_LIMIT = 0.0005
#: Checks without a request running before the watcher sleeps until woken.
_IDLE_CHECKS = 4
_LEAD, _WATCH = "lead", "watch"


class Crew:
    """``size + 1`` threads taking the roles of leader, watcher and application runners.

    ``lead()`` runs the loop and returns True when the server stopped,
    False when this thread was replaced while it ran an application;
    ``serve(conn)`` answers a connection's requests (and hands it back).
    """

    def __init__(self, size: int, lead: Callable[[], bool], serve: Callable, busy: Callable,
                 freed=None):
        self.size = size
        self.running = 0          # applications running, inline or not
        self.jobs = collections.deque()
        self.slow_share = 0.0     # recent application calls over INLINE_LIMIT, moving average
        self._busy = busy         # whether the loop has something to do
        self._lead = lead
        self._serve = serve
        self._freed = freed       # called (no lock held) after each application
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._watch_wakeup = threading.Condition(self._lock)
        self._leader = None       # the leading thread's ident
        self._watcher = None
        self._watcher_asleep = False
        self._parked = 0          # free threads waiting for work
        self._inline_since = 0.0  # when the leader's inline application began (0: none)
        self._stopped = False
        self._threads = [threading.Thread(target=self._main, name=f"wsgiutils-{n}", daemon=True)
                         for n in range(size + 1)]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self, wait: float = 0.0) -> None:
        """Let every thread end once it has nothing to do; wait up to ``wait`` seconds."""
        self._stop_all()
        deadline = time.monotonic() + wait
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(max(0.0, deadline - time.monotonic()))

    def is_leader(self) -> bool:
        return self._leader == threading.get_ident()

    @property
    def full(self) -> bool:
        """No thread can start an application now."""
        return self.running >= self.size

    # -- the leader ------------------------------------------------------------------

    def run(self, conn, now: float) -> bool:
        """Run ``conn``'s requests inline, or queue them; False if this thread no longer leads."""
        with self._lock:
            if not self._can_inline():
                self.jobs.append(conn)
                if self._parked and self.running < self.size:
                    self._idle.notify()
                return True
            self._enter(now)
        return self._inline(conn)

    def run_queued(self, now: float) -> bool:
        """Run the first queued connection inline if a thread may; False as :meth:`run`."""
        if not self.jobs:
            return True
        with self._lock:
            if not self.jobs or not self._can_inline():
                return True
            conn = self.jobs.popleft()
            self._enter(now)
        return self._inline(conn)

    def _can_inline(self) -> bool:
        # lock held
        return self.running < self.size and self._watcher is not None and not self._stopped \
            and self.slow_share < 0.5

    def _enter(self, now: float) -> None:
        # lock held
        self.running += 1
        self._inline_since = now
        if self._watcher_asleep:
            self._watcher_asleep = False
            self._watch_wakeup.notify()

    def _inline(self, conn) -> bool:
        self._call(conn)
        with self._lock:
            self.running -= 1
            leads = self._leader == threading.get_ident()
            if leads:
                self._inline_since = 0.0
        if self._freed is not None:
            self._freed()
        return leads

    # -- every thread ----------------------------------------------------------------

    def _main(self) -> None:
        me = threading.get_ident()
        while True:
            task = self._next(me)
            if task is None:
                return
            if task is _WATCH:
                if not self._watch(me):
                    continue
                task = _LEAD
            if task is _LEAD:
                if self._lead():
                    self._stop_all()
                    return
                continue
            self._call(task)
            with self._lock:
                self.running -= 1
            if self._freed is not None:
                self._freed()

    def _stop_all(self) -> None:
        with self._lock:
            self._leader = None
            self._stopped = True
            self._idle.notify_all()
            self._watch_wakeup.notify_all()

    def _next(self, me: int):
        with self._lock:
            while not self._stopped:
                if self.jobs and self.running < self.size:
                    self.running += 1
                    return self.jobs.popleft()
                if self._leader is None:
                    self._leader = me
                    return _LEAD
                if self._watcher is None:
                    self._watcher = me
                    return _WATCH
                self._parked += 1
                self._idle.wait()
                self._parked -= 1
            return None

    def _watch(self, me: int) -> bool:
        """Watch the leader's inline application; True once this thread took the lead over."""
        idle_checks = 0
        with self._lock:
            while not self._stopped:
                since = self._inline_since
                if since:
                    idle_checks = 0
                    wait = since + TAKEOVER - time.monotonic()
                    if wait <= 0 and self._busy():
                        self._leader = me      # the old one finishes its request, then serves
                        self._watcher = None
                        self._inline_since = 0.0
                        self._idle.notify()    # a free thread becomes the watcher
                        return True
                    self._watch_wakeup.wait(max(wait, TAKEOVER / 2))
                elif idle_checks < _IDLE_CHECKS:
                    idle_checks += 1
                    self._watch_wakeup.wait(TAKEOVER)
                else:
                    self._watcher_asleep = True
                    self._watch_wakeup.wait()
                    self._watcher_asleep = False
                    idle_checks = 0
            self._watcher = None
            return False

    def _call(self, conn) -> None:
        start = time.monotonic()
        try:
            self._serve(conn)
        except BaseException:
            log.exception("wsgiutils: unexpected error on a connection")
            conn.abandon()
        slow = time.monotonic() - start > INLINE_LIMIT
        self.slow_share += (slow - self.slow_share) * 0.0625
