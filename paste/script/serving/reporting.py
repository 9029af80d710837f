# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""What the monitor tells about its workers, and to whom.

The pool (:mod:`.pool`) reports what happens to generations and workers;
:class:`Reporter` turns that into the lines users read (``Starting server
in PID N.``, reload outcomes, replaced workers, crash loops), systemd's
notifications (:mod:`.systemd`), the state file that ``restart`` and
``stop`` read (:mod:`.control`), and the start-up report a daemon's
terminal waits for. When the very first generation fails, it decides with
the monitor what happens next: exit with the error, retry
(``--monitor-restart``), or wait for a change (``--reload``).
"""
from __future__ import annotations

import os
import sys

from paste.script.serving.errors import ServeError
from paste.script.serving.processes import WorkerRecord as Worker, how_it_ended
from paste.script.serving.protocol import Event

__all__ = ["Reporter"]

#: Crash loops are reported from this many failures in a row.
CRASH_LOOP = 3


class Reporter:
    """The pool's events, told to the user, systemd, ``restart`` and the terminal."""

    def __init__(self, post, settings, notifier, state, say):
        self.post = post              # the monitor's event queue
        self.settings = settings
        self.notifier = notifier
        self.state = state
        self.say = say
        self.verbose = settings.verbose
        self.started = False       # "Starting server in PID N." said
        self.pool = None           # set by the monitor
        self.reloader = None

    def worker_loaded(self, worker: Worker) -> None:
        if not self.started and self.verbose > 0:
            self.say(f"Starting server in PID {os.getpid()}.")
        self.started = True

    def generation_serving(self, generation: int, workers: list[Worker], first: bool) -> None:
        pids = ", ".join(str(w.pid) for w in workers)
        # The state first: whoever ``start`` or ``restart`` wakes reads it current.
        self.write_state(reloaded=generation - 1, ok=True, error="")
        if first:
            self.settings.startup.ready()
            self.settings.startup.close()
            self.notifier.ready(f"serving with {len(workers)} worker(s)")
        else:
            self.notifier.ready(f"reloaded: {len(workers)} worker(s) serve the new code")
            if self.verbose > 0 and not self.settings.reload:
                self.say(f"Reloaded: workers {pids} serve the new code.")
        if self.reloader is not None:
            self.reloader.want_standby()
        if self.verbose > 0:
            for address in dict.fromkeys(a for w in workers for a in w.new_addresses):
                self.say(f"Now listening on {address}.")
        if self.verbose > 1:
            self.say(f"Generation {generation} serving: workers {pids}.")

    def generation_failed(self, generation: int, worker: Worker, first: bool) -> None:
        self.write_state(reloaded=generation - 1, ok=False, error=worker.summary)
        if self.settings.reload:
            self._report_reload_error(worker, first)
        elif first:
            self._startup_failed(worker)
        else:
            self.say("The new code failed to load; the previous workers keep serving:\n"
                     + worker.error, sys.stderr)
            self.notifier.ready(f"reload failed: {worker.summary}")

    def _report_reload_error(self, worker: Worker, first: bool) -> None:
        if worker.refused:
            message = (f"Cannot listen on {worker.refused[-1]}: the address is already in use"
                       + ("; the previous version keeps serving." if not first else "."))
            self.say(message, sys.stderr)
        elif not first:
            self.say("Error loading the changed application; the previous version keeps "
                     f"serving:\n{worker.error}", sys.stderr)
        else:
            self.say("Error loading the application; waiting for a change to try again:\n"
                     + worker.error, sys.stderr)
        self.notifier.ready(f"reload failed: {worker.summary}")
        if self.reloader is not None:
            self.reloader.want_standby()

    def _startup_failed(self, worker: Worker) -> None:
        self.settings.startup.failed(worker.summary, worker.exit_code)
        if self.settings.monitor_restart:
            self.settings.startup.close()   # the terminal has its answer; we go on trying
            delay = self.pool.backoff.failed() or self.pool.backoff.first
            self.say(f"Server child {worker.pid} failed to start; restarting in {delay:g}s",
                     sys.stderr)
            self.post(Event.RETRY_START, delay=delay)
            return
        if worker.exit_code == 1 and worker.error != worker.summary:
            if self.verbose > 1 or self.settings.log_file:
                self.say(worker.error, sys.stderr)
            message = f"Error: {worker.summary} (run with -v for the traceback)"
        else:
            message = worker.summary
        self.post(Event.SHUTDOWN, reason="start-up failed",
                  error=ServeError(message, exit_code=worker.exit_code))

    def plain_restart(self) -> None:
        self.say("The server binds its own sockets: reloading by stopping the old server "
                 "first (requests may be refused meanwhile).")

    def standby_ready(self, worker: Worker) -> None:
        if self.verbose > 1:
            self.say(f"Standby {worker.pid} ready for the next change.")

    def worker_serving(self, worker: Worker) -> None:
        if self.verbose > 1:
            self.say(f"Server child {worker.pid} serving.")

    def worker_died(self, worker: Worker, code: int, delay: float, failures: int) -> None:
        when = "at once" if not delay else f"in {delay:g}s"
        self.say(f"Server child {worker.pid} exited ({how_it_ended(code)}); restarting {when}")
        if failures >= CRASH_LOOP:
            serving = len([w for w in self.pool.members(self.pool.serving)
                           if w.state == "serving"])
            self.say(f"Workers keep dying ({failures} in a row); {serving} still serving.",
                     sys.stderr)
            self.notifier.status(f"crash loop: {failures} workers died in a row")

    def server_finished(self, worker: Worker) -> None:
        if self.settings.reload:
            self.say("The server process exited with status 0; waiting for a change "
                     "to restart it.")
            return
        self.post(Event.SHUTDOWN, reason="the server finished")

    def resized(self, change: int, size: int) -> None:
        self.say(f"SIG{'TTIN' if change > 0 else 'TTOU'}: {size} "
                 f"worker{'s' if size != 1 else ''}.")
        self.write_state()

    def resize_refused(self, runner: str) -> None:
        self.say(f"SIGTTIN ignored: the {runner} server runs in one process.")

    def write_state(self, **changes) -> None:
        workers = [w.pid for w in self.pool.members(self.pool.serving)]
        self.state.update(workers=workers,
                                  graceful_timeout=self.settings.graceful_timeout, **changes)
