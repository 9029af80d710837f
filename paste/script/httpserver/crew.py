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

An application that mostly waits (a database query, a call to another
service) is not run inline at all: one after the other, such requests would
wait for each other, where threads wait side by side. The leader then hands
them to free threads, as a classic pool does. A call *waited* when it took
over ``INLINE_LIMIT`` and got well under its share of the interpreter lock
(under 30% of the time divided by the applications running alongside it):
so an application that computes, which only takes turns with the others for
the lock, stays inline however many threads run. One call in eight is
measured (a thread's CPU clock costs a system call).

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

__all__ = ["Crew", "TakeoverPolicy", "TAKEOVER", "LONG_TAKEOVER"]

log = logging.getLogger("paste.script.wsgiutils_server")

#: Seconds an application may run inline before another thread takes the loop
#: over (if the loop has something to do and the application waits) ...
TAKEOVER = 0.002
#: ... and even if it computes.
LONG_TAKEOVER = 0.02
#: Applications most of whose calls wait longer than this (seconds) run on other threads.
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
                 wake: Callable[[], None], freed=None):
        self.size = size
        self.running = 0          # applications running, inline or not
        self.jobs = collections.deque()
        self.waiting_share = 0.0  # recent application calls that mostly waited, moving average
        self._call_count = 0
        self._busy = busy         # whether the loop has something to do
        self._wake = wake         # wake the leader up (it may run a queued request now)
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
            if self.jobs or not self._can_inline():
                self.jobs.append(conn)  # first come, first served
                if not self._can_inline():
                    self._hand_out()
                    return True
                conn = self.jobs.popleft()
            self._enter(now)
        return self._inline(conn)

    def run_queued(self, now: float) -> bool:
        """Run the first queued connection inline if a thread may, else see that free
        threads take the queue; False as :meth:`run`.

        The loop calls it at every turn: whatever changed the mode meanwhile
        (applications measured as waiting, or computing again), no queued
        request waits for another one to arrive.
        """
        if not self.jobs:
            return True
        with self._lock:
            if not self.jobs:
                return True
            if not self._can_inline():
                self._hand_out()
                return True
            conn = self.jobs.popleft()
            self._enter(now)
        return self._inline(conn)

    def _pooling(self) -> bool:
        """Applications mostly wait: threads run them side by side, as a pool."""
        return self.waiting_share >= 0.5

    def _hand_out(self) -> None:
        # lock held: wake a free thread for each queued job one may start now
        if self._pooling() and self._parked:
            free = min(len(self.jobs), self.size - self.running, self._parked)
            if free > 0:
                self._idle.notify(free)

    def _can_inline(self) -> bool:
        # lock held
        return self.running < self.size and self._watcher is not None and not self._stopped \
            and not self._pooling()

    def _enter(self, now: float) -> None:
        # lock held
        self.running += 1
        self._inline_since = now
        if self._watcher_asleep:
            self._watcher_asleep = False
            self._watch_wakeup.notify()

    def _inline(self, conn) -> bool:
        self._call(conn)
        return self._finished()

    def _finished(self) -> bool:
        """An application ended on this thread; True if this thread leads."""
        with self._lock:
            self.running -= 1
            leads = self._leader == threading.get_ident()
            if leads:
                self._inline_since = 0.0   # back in the loop, which takes the queue
            elif self.jobs:
                if self._pooling():
                    self._hand_out()   # this thread takes one; others may take more
                else:
                    self._wake()       # the leader runs them now
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
            self._finished()

    def _stop_all(self) -> None:
        with self._lock:
            self._leader = None
            self._stopped = True
            self._idle.notify_all()
            self._watch_wakeup.notify_all()

    def _next(self, me: int):
        with self._lock:
            while not self._stopped:
                # Applications that compute are run by the leader, one at a
                # time; more threads would only take turns for the lock.
                if self.jobs and self.running < self.size and self._pooling():
                    self.running += 1
                    return self.jobs.popleft()
                if self._leader is None:
                    self._leader = me
                    return _LEAD
                if self._watcher is None:
                    self._watcher = me
                    if self.jobs:
                        self._wake()   # with a watcher, the leader may run them now
                    return _WATCH
                self._parked += 1
                self._idle.wait()
                self._parked -= 1
            return None

    def _watch(self, me: int) -> bool:
        """Watch the leader's inline application; True once this thread took the lead over."""
        idle_checks = 0
        policy = TakeoverPolicy()
        with self._lock:
            while not self._stopped:
                since = self._inline_since
                if since:
                    idle_checks = 0
                    now = time.monotonic()
                    if now - since < TAKEOVER:
                        self._watch_wakeup.wait(since + TAKEOVER - now)
                        continue
                    if policy.due(self._leader, since, now, self.running) and self._busy():
                        self._leader = me      # the old one finishes its request, then serves
                        self._watcher = None
                        self._inline_since = 0.0
                        self._idle.notify()    # a free thread becomes the watcher
                        return True
                    self._watch_wakeup.wait(TAKEOVER / 2)
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
        self._call_count += 1
        sample = not self._call_count & 7
        if sample:
            start, cpu, alongside = time.monotonic(), time.thread_time(), self.running
        try:
            self._serve(conn)
        except BaseException:
            log.exception("wsgiutils: unexpected error on a connection")
            conn.close_after = True   # the connection is in doubt: end it
            conn.output.broken = True
            conn.release()
        if sample:
            wall = time.monotonic() - start
            waited = wall > INLINE_LIMIT \
                and time.thread_time() - cpu < 0.3 * wall / max(1, alongside)
            self.waiting_share += (waited - self.waiting_share) * 0.25


class TakeoverPolicy:
    """When the watcher takes the loop over from a leader running an application inline.

    An application that waits (for a database, a service, a lock) holds the
    loop for nothing: it is taken over once it has run ``TAKEOVER`` seconds
    and its thread's CPU clock shows it waiting (on the CPU under half of
    its share of the time since the last look, with the other applications
    running). One that computes would only take turns
    for the interpreter lock with a new leader: it is taken over after
    ``LONG_TAKEOVER`` seconds, so that the loop never stops longer.
    Where a thread's CPU clock cannot be read, ``TAKEOVER`` decides alone.
    """

    def __init__(self):
        self._look = None         # (the inline call's start, wall clock, leader's CPU clock)

    def due(self, leader: int | None, since: float, now: float, running: int) -> bool:
        """Whether to take over from ``leader``, inline since ``since``, while
        ``running`` applications share the interpreter lock."""
        if now - since >= LONG_TAKEOVER:
            return True
        cpu = _cpu_clock(leader)
        if cpu is None:
            return True
        look = self._look
        self._look = (since, now, cpu)
        if look is None or look[0] != since:
            return False  # a first look at this call
        return cpu - look[2] < 0.5 * (now - look[1]) / max(1, running)


def _cpu_clock(ident: int | None) -> float | None:
    """The CPU time of the thread ``ident`` (a pthread id), or None where unknown."""
    if ident is None or not hasattr(time, "pthread_getcpuclockid"):
        return None
    try:
        return time.clock_gettime(time.pthread_getcpuclockid(ident))
    except (OSError, OverflowError):
        return None
