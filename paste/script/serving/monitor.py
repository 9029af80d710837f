# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""The monitor: one thread around a selector, deciding for the workers.

The monitor has imported PasteDeploy and the server runner, never the
application. It forks workers (:mod:`.pool`), hands them the listening
sockets (:mod:`.sockets`), and turns what happens into actions, each kind
through one table: signals (:attr:`Monitor.SIGNALS`), messages from workers
(:attr:`Monitor.HANDLERS`, named in :mod:`.protocol`), and the events its
collaborators post (:attr:`Monitor.EVENTS`: the reporter, the reloader, the
health checks never call back into the monitor). Each turn of the loop
reads the signals first, then the workers, then reaps the ones that
exited, so a stop that came with the workers' exits is known before the
exits are looked at. The loop never blocks but in ``select``, and the
monitor has no thread of its own (the ``--reload`` watcher is a process),
so forking is always safe.
"""
from __future__ import annotations

import collections
import os
import selectors
import signal
import sys
import time

from paste.script.serving import ipc
from paste.script.serving.processes import WorkerRecord, close_quietly, fork_worker
from paste.script.serving.protocol import Event, Op

__all__ = ["Monitor"]


class Monitor:
    """Runs ``command``'s server in worker processes until told to stop.

    ``settings`` (:class:`.settings.EngineSettings`) says how: the number of
    workers, ``--reload``, the graceful timeout, where to report.
    """

    def __init__(self, command, settings, watcher_factory=None):
        from paste.script.serving.control import StateFile
        from paste.script.serving.health import Health
        from paste.script.serving.logfile import LogFile
        from paste.script.serving.pool import Pool
        from paste.script.serving.reporting import Reporter
        from paste.script.serving.sockets import SocketPool
        from paste.script.serving.systemd import Notifier, listen_fds
        self.command = command
        self.settings = settings
        self.verbose = settings.verbose
        self.events: collections.deque = collections.deque()
        self.notifier = Notifier()
        self.sockets = SocketPool(listen_fds(), owner=settings.log_owner)
        self.state = StateFile(settings.pid_path)
        self.log = LogFile(settings.log_file, settings.log_owner)
        self.report = Reporter(self.post, settings, self.notifier, self.state, self.say)
        self.pool = Pool(self.report, self._fork, self.sockets, settings.workers,
                         settings.graceful_timeout, settings.start_timeout,
                         on_forget=self.unregister)
        self.report.pool = self.pool
        self.health = Health(self.post, settings.worker_timeout, settings.max_worker_memory,
                             settings.graceful_timeout)
        self.reloader = None
        if settings.reload:
            from paste.script.serving.reloading import Reloader
            self.reloader = Reloader(self, self.pool, settings.reload_interval,
                                     self.verbose, watcher_factory)
            self.report.reloader = self.reloader
        self.upgrade = None             # an upgrade.Upgrade under way (SIGUSR2)
        self.exit_code = 0
        self.error = None               # the ServeError to raise when start-up failed
        self.done = False
        self.stopped_by: int | None = None     # the signal that stopped it
        self.HANDLERS = {
            Op.BIND: self.pool.bind, Op.LOADED: self.pool.loaded, Op.READY: self.pool.ready,
            Op.SERVING: self.pool.serving_alone, Op.RELEASED: self.pool.released,
            Op.FINISHED: self.pool.finished, Op.ERROR: self.pool.error,
            Op.SINGLE: self.pool.single, Op.STANDING: self.pool.standing,
            Op.BEAT: self.health.beat, Op.RETIRE: self._retire,
            Op.FILES: self._files, Op.MODULES: self._modules}
        self.SIGNALS = {
            signal.SIGHUP: self._hup, signal.SIGTERM: self._stop_signal,
            signal.SIGINT: self._stop_signal, signal.SIGQUIT: self._stop_signal,
            signal.SIGUSR1: self._reopen_logs, signal.SIGUSR2: self._usr2,
            signal.SIGTTIN: self._resize, signal.SIGTTOU: self._resize,
            signal.SIGCHLD: lambda signum: None}
        self.EVENTS = {
            Event.SHUTDOWN: self.shutdown, Event.RELOAD: self.start_generation,
            Event.RETRY_START: self._retry_start, Event.REPLACE: self._replace,
            Event.UPGRADE: self._start_upgrade}
        self.retry_at: float | None = None     # --monitor-restart: the next start-up try

    def post(self, event: Event, **data) -> None:
        """Ask the monitor to act (collaborators call this; the loop does the acting)."""
        self.events.append((event, data))

    # -- running -----------------------------------------------------------------

    def run(self) -> int:
        from paste.script.serving.signals import SignalPipe
        self.selector = selectors.DefaultSelector()
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
        self._act()
        ready = self.selector.select(self._timeout())
        self._signals(self.signals.read())
        for key, _mask in ready:
            if key.data == "watch":
                self.reloader.read_changes()
            elif isinstance(key.data, WorkerRecord):
                self._read_worker(key.data)
            elif key.data == "upgrade" and self.upgrade is not None:
                self.upgrade.read()
        self._reap()
        self._run_timers()
        self._act()
        if self.pool.stopping and not len(self.pool.procs) and self.upgrade is None:
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

    # -- signals -------------------------------------------------------------------

    def _signals(self, signums: list[int]) -> None:
        # A stop first: the workers' exits that came with it are expected.
        stops = (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT)
        for signum in sorted(signums, key=lambda s: s not in stops):
            handler = self.SIGNALS.get(signum)
            if handler is not None and (signum in stops or not self.pool.stopping):
                handler(signum)

    def _hup(self, signum: int) -> None:
        if self.verbose > 0:
            self.say("SIGHUP received; reloading.")
        self.post(Event.RELOAD)

    def _stop_signal(self, signum: int) -> None:
        if self.stopped_by is None:
            self.stopped_by = signum
        if self.upgrade is not None:
            self.upgrade.stop()
        self.shutdown(signal.Signals(signum).name)

    def _reopen_logs(self, signum: int) -> None:
        self.log.reopen_for(self.pool.procs, self.say, self.verbose)
        if self.settings.access_log_file is not None:
            self.settings.access_log_file.reopen_for(self.pool.procs, self.say)

    def _usr2(self, signum: int) -> None:
        self.post(Event.UPGRADE)

    def _resize(self, signum: int) -> None:
        change = +1 if signum == signal.SIGTTIN else -1
        if change > 0 and self.pool.single_runner:
            self.say(f"SIGTTIN ignored: the {self.pool.single_runner} server runs in one process.")
            return
        self.pool.resize(self.pool.size + change)
        self.say(f"SIG{'TTIN' if change > 0 else 'TTOU'}: {self.pool.size} "
                 f"worker{'s' if self.pool.size != 1 else ''}.")
        self.report.write_state()

    # -- events --------------------------------------------------------------------

    def shutdown(self, reason: str = "", error=None) -> None:
        """Stop every worker gracefully; asked twice, at once.

        ``error`` (a :class:`.errors.ServeError`) is raised once everything
        has stopped: the first generation could not start.
        """
        if error is not None and self.error is None:
            self.error = error
        if self.pool.stopping:
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

    def start_generation(self, changed=(), first: bool = False) -> None:
        """Start a generation of workers with the code and configuration on disk."""
        if self.pool.stopping:
            return
        if not first:
            self.notifier.reloading("loading the new code")
            size = self.settings.workers_from_config(self.command)
            if size is not None:
                self.pool.size = size
        self.pool.start_generation(changed)
        self.command.preloaded_server = None        # the first workers have it
        self.state.update(reloads=self.pool.generation - 1)

    def start_reload(self, changed=()) -> None:
        """A collaborator's request for a new generation (the reloader's)."""
        self.post(Event.RELOAD, changed=list(changed))

    def _retry_start(self, delay: float) -> None:
        """--monitor-restart: try the first generation again after ``delay``."""
        self.pool.spawn_due = None
        self.retry_at = time.monotonic() + delay

    def _replace(self, worker: WorkerRecord, why: str) -> None:
        if self.pool.retire(worker, why):
            self.say(f"Replacing server child {worker.pid}: {why}.", sys.stderr)

    def _start_upgrade(self) -> None:
        from paste.script.serving.upgrade import Upgrade
        if self.upgrade is not None:
            self.say("SIGUSR2 ignored: an upgrade is under way.")
            return
        self.upgrade = Upgrade.start(self)
        if self.upgrade is not None:
            self.selector.register(self.upgrade, selectors.EVENT_READ, "upgrade")

    def upgrade_over(self, succeeded: bool) -> None:
        """The new monitor serves (stop here, leaving it the sockets), or it failed."""
        if self.upgrade is not None:
            try:
                self.selector.unregister(self.upgrade)
            except (KeyError, ValueError):
                pass
        if succeeded:
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
        worker = fork_worker(start, self._close_in_child)
        worker.generation = generation
        self.selector.register(worker.channel, selectors.EVENT_READ, worker)
        return worker

    def _close_in_child(self) -> None:
        """In a new worker: drop every descriptor that belongs to the monitor."""
        self.settings.startup.close()
        try:
            self.selector.close()
        except OSError:
            pass
        self.notifier.close()
        fds = [self.signals.read_fd, self.signals.write_fd] + self.sockets.fds()
        fds += [w.channel.fileno() for w in self.pool.procs]
        fds += self.reloader.fds() if self.reloader is not None else []
        fds += self.upgrade.fds() if self.upgrade is not None else []
        close_quietly(fds)

    def unregister(self, worker: WorkerRecord) -> None:
        if worker.channel.fileno() >= 0:
            try:
                self.selector.unregister(worker.channel)
            except (KeyError, ValueError):
                pass
            worker.channel.close()

    def _read_worker(self, worker: WorkerRecord) -> None:
        while worker.channel.fileno() >= 0:
            try:
                message, fds = ipc.receive(worker.channel)
            except BlockingIOError:
                return
            except OSError:
                message, fds = None, []
            except ValueError:          # not one of our messages: ignore it
                continue
            ipc.close_fds(fds)
            if message is None:
                self.unregister(worker)
                return
            try:
                handler = self.HANDLERS.get(Op(message.get("op")))
                if handler is not None:
                    handler(worker, message)
            except Exception:
                # Whatever a worker sends, the monitor must go on serving.
                import traceback
                self.say("Internal error in the monitor (still running):\n"
                         + traceback.format_exc().rstrip(), sys.stderr)

    def _files(self, worker: WorkerRecord, message: dict) -> None:
        if self.reloader is not None:
            self.reloader.files(worker, message.get("paths", []))

    def _modules(self, worker: WorkerRecord, message: dict) -> None:
        if self.reloader is not None:
            self.reloader.modules(worker, message.get("names", []), message.get("last"))

    def _retire(self, worker: WorkerRecord, message: dict) -> None:
        self.post(Event.REPLACE, worker=worker,
                  why=f"it has served {message.get('served')} requests (--max-requests)")

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            code = os.waitstatus_to_exitcode(status)
            if self.upgrade is not None and pid == self.upgrade.pid:
                self.upgrade.exited(code)
                continue
            worker = self.pool.procs.get(pid)
            self.pool.procs.discarded.discard(pid)
            if worker is not None:
                self._read_worker(worker)      # what it said last (an error) comes first
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
