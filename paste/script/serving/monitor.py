# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""The monitor: one thread around a selector, deciding for the workers.

The monitor has imported PasteDeploy and the server runner, never the
application. It forks workers (:mod:`.pool`, :mod:`.channels`), hands them
the listening sockets (:mod:`.sockets`), and turns what happens into
actions. Everything it acts on is an :class:`~.protocol.Event` in one
queue, dispatched through one table (:attr:`Monitor.EVENTS`): signals
become events (:func:`.signals.signal_events`), and its collaborators (the
reporter, the reloader, the health checks, an upgrade) post events rather
than call back into it. Messages from workers go through their own table
(:attr:`Monitor.HANDLERS`, named in :mod:`.protocol`).

Each turn of the loop acts on the signals first, then reads the workers,
then reaps the ones that exited, so a stop that came with the workers'
exits is known before the exits are looked at. The loop never blocks but
in ``select``, and the monitor has no thread of its own (the ``--reload``
watcher is a process), so forking is always safe.
"""
from __future__ import annotations

import collections
import selectors
import sys
import time

from paste.script.serving.processes import WorkerRecord
from paste.script.serving.protocol import Event, Op

__all__ = ["Monitor"]


class Monitor:
    """Runs ``command``'s server in worker processes until told to stop.

    ``settings`` (:class:`.settings.EngineSettings`) says how: the number of
    workers, ``--reload``, the graceful timeout, where to report.
    """

    def __init__(self, command, settings, watcher_factory=None):
        self.command = command
        self.settings = settings
        self.verbose = settings.verbose
        self.events: collections.deque = collections.deque()
        self.upgrade = None             # an upgrade.Upgrade under way (SIGUSR2)
        self.exit_code = 0
        self.error = None               # the ServeError to raise when start-up failed
        self.done = False
        self.stopped_by: int | None = None     # the signal that stopped it
        self.retry_at: float | None = None     # --monitor-restart: the next start-up try
        _assemble(self, watcher_factory)
        pool, health = self.pool, self.health
        self.HANDLERS = {
            Op.BIND: pool.bind, Op.LOADED: pool.loaded, Op.READY: pool.ready,
            Op.SERVING: pool.serving_alone, Op.RELEASED: pool.released,
            Op.FINISHED: pool.finished, Op.ERROR: pool.error, Op.SINGLE: pool.single,
            Op.STANDING: pool.standing, Op.BEAT: health.beat, Op.RETIRE: self._retire}
        if self.reloader is not None:
            self.HANDLERS[Op.FILES] = self.reloader.files_message
            self.HANDLERS[Op.MODULES] = self.reloader.modules_message
        self.EVENTS = {
            Event.SHUTDOWN: self.shutdown, Event.RELOAD: self.start_generation,
            Event.RETRY_START: self._retry_start, Event.REPLACE: self._replace,
            Event.RESIZE: self.pool.resize_by, Event.REOPEN_LOGS: self._reopen_logs,
            Event.UPGRADE: self._upgrade, Event.UPGRADED: self._upgraded}

    def post(self, event: Event, **data) -> None:
        """Ask the monitor to act (collaborators call this; the loop does the acting)."""
        self.events.append((event, data))

    # -- running -----------------------------------------------------------------

    def run(self) -> int:
        from paste.script.serving.channels import WorkerChannels
        from paste.script.serving.signals import SignalPipe
        self.selector = selectors.DefaultSelector()
        self.channels = WorkerChannels(self.selector, self.HANDLERS, self.say)
        self.signals = SignalPipe()
        self.selector.register(self.signals, selectors.EVENT_READ, "signal")
        self.signals.install()
        try:
            if self.reloader is not None:
                self.reloader.start(getattr(self.command, "config_file", None))
                self.selector.register(self.reloader, selectors.EVENT_READ, "watch")
            self.post(Event.RELOAD, first=True)
            while not self.done:
                self.loop_once()
        finally:
            self._close()
        if self.error is not None:
            raise self.error
        return self.exit_code

    def loop_once(self) -> None:
        from paste.script.serving.signals import signal_events
        self._act()
        ready = self.selector.select(self._timeout())
        for event, data in signal_events(self.signals.read(), self.pool.stopping):
            self.post(event, **data)
        self._act()
        for key, _mask in ready:
            if key.data == "watch":
                self.reloader.read_changes()
            elif isinstance(key.data, WorkerRecord):
                self.channels.read(key.data)
            elif key.data == "upgrade" and self.upgrade is not None:
                self.upgrade.read()
        self.channels.reap(self._exited)
        self._run_timers()
        self._act()
        if self.pool.stopping and not len(self.pool.procs):
            self.done = True

    def _act(self) -> None:
        while self.events:
            event, data = self.events.popleft()
            self.EVENTS[event](**data)

    def _close(self) -> None:
        handed_over = self.upgrade is not None and self.upgrade.succeeded
        self.pool.kill_all()
        if self.reloader is not None:
            self.reloader.close()
        self.signals.restore()
        self.signals.close()
        self.sockets.close(unlink=not handed_over)
        self.selector.close()
        self.notifier.close()
        if not handed_over:
            self.state.remove()

    # -- events --------------------------------------------------------------------

    def shutdown(self, reason: str = "", error=None, signum: int | None = None) -> None:
        """Stop every worker gracefully; asked twice, at once.

        ``error`` (a :class:`.errors.ServeError`) is raised once everything
        has stopped: the first generation could not start.
        """
        if error is not None and self.error is None:
            self.error = error
        if signum is not None and self.stopped_by is None:
            self.stopped_by = signum
        if self.upgrade is not None:
            self.upgrade.stop()
        if self.pool.stopping:
            if signum is None:
                return
            if any(w.serving_since is not None for w in self.pool.procs):
                self.exit_code = 1          # requests still in flight are cut
            self.pool.kill_all()
            self.done = True
            return
        self.notifier.stopping()
        if self.verbose > 1:
            self.say(f"Stopping ({reason}): the workers finish their requests "
                     f"(at most {self.settings.graceful_timeout:g}s).")
        self.pool.stop_all()
        if self.upgrade is None or not self.upgrade.succeeded:
            self.sockets.stop_listening()
        if self.reloader is not None:
            self.reloader.stop_timers()

    def start_generation(self, changed=(), first: bool = False, why: str = "") -> None:
        """Start a generation of workers with the code and configuration on disk."""
        if self.pool.stopping:
            return
        if why and self.verbose > 0:
            self.say(f"{why}; reloading.")
        if not first:
            self.notifier.reloading("loading the new code")
            size = self.settings.workers_from_config(self.command)
            if size is not None:
                self.pool.size = size
        self.pool.start_generation(changed)
        self.command.preloaded_server = None        # the first workers have it
        self.state.update(reloads=self.pool.generation - 1)

    def _retry_start(self, delay: float) -> None:
        """--monitor-restart: try the first generation again after ``delay``."""
        self.pool.spawn_due = None
        self.retry_at = time.monotonic() + delay

    def _replace(self, worker: WorkerRecord, why: str) -> None:
        if self.pool.retire(worker, why):
            self.say(f"Replacing server child {worker.pid}: {why}.", sys.stderr)

    def _reopen_logs(self) -> None:
        self.log.reopen_for(self.pool.procs, self.say, self.verbose)
        if self.settings.access_log_file is not None:
            self.settings.access_log_file.reopen_for(self.pool.procs, self.say)

    def _upgrade(self) -> None:
        from paste.script.serving.upgrade import Upgrade
        if self.upgrade is not None:
            self.say("SIGUSR2 ignored: an upgrade is under way.")
            return
        self.upgrade = Upgrade.start(self.settings, self.pool, self.sockets, self.notifier,
                                     self.post, self.say)
        if self.upgrade is not None:
            self.selector.register(self.upgrade, selectors.EVENT_READ, "upgrade")

    def _upgraded(self, succeeded: bool) -> None:
        """The new monitor serves (stop here, leaving it the sockets), or it failed."""
        try:
            self.selector.unregister(self.upgrade)
        except (KeyError, ValueError):
            pass
        if succeeded:
            self.command.handed_over = True
            self.shutdown("upgraded")
        else:
            self.upgrade = None

    # -- workers -----------------------------------------------------------------------

    def _fork(self, generation, preload: list[str] | None = None,
              hold: bool = False) -> WorkerRecord:
        from paste.script.serving.worker import run_worker
        options = self.settings.worker_options(self.pool.size, hold)
        changed = set(self.pool.changed)     # the monitor's modules a fork must load afresh

        def start(sock) -> None:
            run_worker(self.command, sock, options, preload, changed)
        fds = [self.signals.read_fd, self.signals.write_fd] + self.sockets.fds()
        fds += self.reloader.fds() if self.reloader is not None else []
        fds += self.upgrade.fds() if self.upgrade is not None else []
        return self.channels.fork(start, generation, fds, self._in_child)

    def _in_child(self) -> None:
        """In a new worker, first: what belongs to the monitor alone."""
        self.settings.startup.close()
        self.notifier.close()

    def _retire(self, worker: WorkerRecord, message: dict) -> None:
        self.post(Event.REPLACE, worker=worker,
                  why=f"it has served {message.get('served')} requests (--max-requests)")

    def _exited(self, pid: int, code: int) -> None:
        if self.upgrade is not None and pid == self.upgrade.pid:
            self.upgrade.exited(code)
            return
        worker = self.pool.procs.get(pid)
        self.pool.procs.discarded.discard(pid)
        if worker is not None:
            self.channels.read(worker)     # what it said last (an error) comes first
            if code and self.pool.stopping and worker.serving_since is not None:
                self.exit_code = 1          # a serving worker could not finish its requests
            self.pool.exited(worker, code)

    # -- time ------------------------------------------------------------------------

    def _timeout(self) -> float | None:
        if self.events:
            return 0.0
        deadlines = list(self.pool.deadlines())
        if self.reloader is not None:
            deadlines += list(self.reloader.deadlines())
        if self.pool.serving is not None:
            deadlines += list(self.health.deadlines(self.pool.procs))
        if self.retry_at is not None:
            deadlines.append(self.retry_at)
        if not deadlines:
            return None
        return max(0.0, min(deadlines) - time.monotonic())

    def _run_timers(self) -> None:
        now = time.monotonic()
        if self.reloader is not None:
            self.reloader.run_timers(now)
        if self.retry_at is not None and now >= self.retry_at:
            self.retry_at = None
            self.post(Event.RELOAD, first=True)
        self.pool.run_timers(now)
        if not self.pool.stopping:
            self.health.check(now, list(self.pool.procs))

    def say(self, text: str, stream=None) -> None:
        try:
            print(text, file=stream or sys.stdout, flush=True)
        except (OSError, ValueError):
            pass


def _assemble(monitor: Monitor, watcher_factory=None) -> None:
    """The monitor's collaborators, from its settings; each posts to ``monitor.post``."""
    from paste.script.serving.control import StateFile
    from paste.script.serving.health import Health
    from paste.script.serving.logfile import LogFile
    from paste.script.serving.pool import Pool
    from paste.script.serving.reporting import Reporter
    from paste.script.serving.sockets import SocketPool
    from paste.script.serving.systemd import Notifier, listen_fds
    settings = monitor.settings
    monitor.notifier = Notifier()
    monitor.sockets = SocketPool(listen_fds(), owner=settings.log_owner)
    monitor.state = StateFile(settings.pid_path, settings.log_file)
    monitor.log = LogFile(settings.log_file, settings.log_owner)
    monitor.report = Reporter(monitor.post, settings, monitor.notifier, monitor.state,
                              monitor.say)
    monitor.pool = Pool(monitor.report, monitor._fork, monitor.sockets, settings.workers,
                        settings.graceful_timeout, settings.start_timeout,
                        on_forget=lambda worker: monitor.channels.unregister(worker))
    monitor.report.pool = monitor.pool
    monitor.health = Health(monitor.post, settings.worker_timeout, settings.max_worker_memory,
                            settings.graceful_timeout)
    monitor.reloader = None
    if settings.reload:
        from paste.script.serving.reloading import Reloader
        monitor.reloader = Reloader(monitor.post, monitor.say, monitor.pool,
                                    settings.reload_interval,
                                    monitor.verbose, watcher_factory)
        monitor.report.reloader = monitor.reloader
