# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""The monitor: one thread around a selector, deciding for the workers.

The monitor has imported PasteDeploy and the server runner, never the
application. It forks workers (:mod:`.pool`), hands them the listening
sockets (:mod:`.sockets`), and turns what happens into actions: signals
(:mod:`.signals`), messages from workers, file changes under ``--reload``
(:mod:`.reloading`), timers. What users see comes from here too: the
``Starting server`` line, reload outcomes, replaced workers, and the
notifications systemd (:mod:`.systemd`) and ``restart`` (:mod:`.control`)
read.
"""
from __future__ import annotations

import os
import selectors
import signal
import sys
import time

from paste.script.serving import ipc
from paste.script.serving.pool import Pool
from paste.script.serving.processes import Worker, close_quietly, fork_worker
from paste.script.serving.worker import WorkerOptions
from paste.script.serving.reporting import Reporter

__all__ = ["Monitor"]

class Monitor:
    """Runs ``command``'s server in worker processes until told to stop.

    ``settings`` (:class:`.launch.Settings`) says how: the number of
    workers, ``--reload``, the graceful timeout, where to report.
    """

    def __init__(self, command, settings, watcher_factory=None):
        from paste.script.serving.control import StateFile
        from paste.script.serving.logfile import LogFile
        from paste.script.serving.sockets import SocketPool
        from paste.script.serving.systemd import Notifier, listen_fds
        self.command = command
        self.settings = settings
        self.verbose = settings.verbose
        self.notifier = Notifier()
        self.sockets = SocketPool(listen_fds())
        self.state = StateFile(settings.pid_path, settings.log_file)
        self.log = LogFile(settings.log_file, settings.log_owner)
        self.report = Reporter(self)
        self.pool = Pool(self.report, self._fork, self.sockets, settings.workers,
                         settings.graceful_timeout, on_forget=self.unregister)
        self.reloader = None
        if settings.reload:
            from paste.script.serving.reloading import Reloader
            self.reloader = Reloader(self, self.pool, settings.reload_interval,
                                     self.verbose, watcher_factory)
        self.exit_code = 0
        self.error = None          # the BadCommand to raise when start-up failed
        self.done = False
        self.stop_deadline: float | None = None
        self.retry_at: float | None = None     # --monitor-restart: the next start-up try

    # -- running -----------------------------------------------------------------

    def run(self) -> int:
        from paste.script.serving.signals import SignalPipe
        self.selector = selectors.DefaultSelector()
        self.signals = SignalPipe()
        self.selector.register(self.signals, selectors.EVENT_READ, "signal")
        self.signals.install()
        try:
            if self.reloader is not None:
                self.selector.register(self.reloader, selectors.EVENT_READ, "watch")
                self.reloader.start(getattr(self.command, "config_file", None))
            self._warm_up()
            self.start_reload(first=True)
            while not self.done:
                self.loop_once()
        finally:
            self.pool.kill_all()
            if self.reloader is not None:
                self.reloader.close()
            self.signals.restore()
            self.signals.close()
            self.sockets.close()
            self.selector.close()
            self.notifier.close()
            self.state.remove()
        if self.error is not None:
            raise self.error
        return self.exit_code

    def loop_once(self) -> None:
        for key, _mask in self.selector.select(self._timeout()):
            if key.data == "signal":
                self._signals(self.signals.read())
            elif key.data == "watch":
                self.reloader.read_changes()
            else:
                self._read_worker(key.data)
        self._reap()
        self._run_timers()
        if self.pool.stopping and not len(self.pool.procs):
            self.done = True

    def _warm_up(self) -> None:
        """Load the server here, once, so each fork starts warm.

        Only the server is loaded: the application's modules must be imported
        by each worker afresh. The first workers, forked from the very same
        configuration, use this server as it is; later ones load theirs from
        the configuration then on disk. Errors are left for the worker to
        report.
        """
        command = self.command
        loader = getattr(command, "loadserver", None)
        if loader is None or not getattr(command, "server_spec", None):
            return
        try:
            command.preloaded_server = loader(
                command.server_spec, name=command.server_name,
                relative_to=command.relative_to, global_conf=command.global_conf)
        except Exception:
            pass

    # -- signals -------------------------------------------------------------------

    def _signals(self, signums: list[int]) -> None:
        # A stop first: the workers' exits that came with it are expected.
        for signum in sorted(signums, key=lambda s: s not in (signal.SIGTERM, signal.SIGINT)):
            if signum in (signal.SIGTERM, signal.SIGINT):
                self.shutdown(signal.Signals(signum).name)
            elif self.pool.stopping:
                continue
            elif signum == signal.SIGHUP:
                if self.verbose > 0:
                    self.say("SIGHUP received; reloading.")
                self.start_reload()
            elif signum == signal.SIGUSR1:
                self.log.reopen_for(self.pool.procs, self.say, self.verbose)
            elif signum in (signal.SIGTTIN, signal.SIGTTOU):
                self._resize(+1 if signum == signal.SIGTTIN else -1)

    def shutdown(self, reason: str = "") -> None:
        """Stop every worker gracefully; asked twice, at once."""
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
        if self.reloader is not None:
            self.reloader.reload_due = self.reloader.standby_due = None

    def _resize(self, change: int) -> None:
        if change > 0 and self.pool.single_runner:
            self.say(f"SIGTTIN ignored: the {self.pool.single_runner} server runs in one process.")
            return
        self.pool.resize(self.pool.size + change)
        self.say(f"SIG{'TTIN' if change > 0 else 'TTOU'}: {self.pool.size} "
                 f"worker{'s' if self.pool.size != 1 else ''}.")
        self.report.write_state()

    # -- generations -------------------------------------------------------------------

    def start_reload(self, changed=(), first: bool = False) -> None:
        """Start a generation of workers with the code and configuration on disk."""
        if not first:
            self.notifier.reloading("loading the new code")
            size = self.settings.workers_from_config(self.command)
            if size is not None:
                self.pool.size = size
        self.pool.start_generation(changed)
        self.command.preloaded_server = None        # the first workers have it
        self.state.update(reloads=self.pool.generation - 1)

    def unregister(self, worker: Worker) -> None:
        if worker.channel.fileno() >= 0:
            try:
                self.selector.unregister(worker.channel)
            except (KeyError, ValueError):
                pass
            worker.channel.close()

    # -- workers -----------------------------------------------------------------------

    def _fork(self, preload: list[str] | None = None) -> Worker:
        options = WorkerOptions(reload=self.settings.reload, pool_size=self.pool.size,
                                graceful_timeout=self.settings.graceful_timeout,
                                verbose=self.verbose)
        worker = fork_worker(self.command, options, self.pool.changed, preload,
                             self._close_in_child)
        self.selector.register(worker.channel, selectors.EVENT_READ, worker)
        return worker

    def _close_in_child(self) -> None:
        """In a new worker: drop every descriptor that belongs to the monitor."""
        self.settings.startup.close()
        fds = [self.signals.read_fd, self.signals.write_fd] + self.sockets.fds()
        fds += [w.channel.fileno() for w in self.pool.procs]
        fds += self.reloader.fds() if self.reloader is not None else []
        close_quietly(self.selector, fds)

    def _read_worker(self, worker: Worker) -> None:
        while worker.channel.fileno() >= 0:
            try:
                message, fds = ipc.receive(worker.channel)
            except BlockingIOError:
                return
            except OSError:
                message, fds = None, []
            except ValueError:          # not one of our messages: ignore it
                continue
            for fd in fds:
                os.close(fd)
            if message is None:
                self.unregister(worker)
                return
            try:
                op = message.get("op")
                if op == "files" and self.reloader is not None:
                    self.reloader.files(worker, message.get("paths", []))
                elif op == "modules" and self.reloader is not None:
                    self.reloader.modules(worker, message.get("names", []), message.get("last"))
                else:
                    self.pool.handle(worker, message)
            except Exception:
                # Whatever a worker sends, the monitor must go on serving.
                import traceback
                self.say("Internal error in the monitor (still running):\n"
                         + traceback.format_exc().rstrip(), sys.stderr)

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            worker = self.pool.procs.get(pid)
            if worker is not None:
                self._read_worker(worker)      # what it said last (an error) comes first
                code = os.waitstatus_to_exitcode(status)
                if code and self.pool.stopping and worker.serving_since is not None:
                    self.exit_code = 1          # a serving worker could not finish its requests
                self.pool.exited(worker, code)

    # -- time ------------------------------------------------------------------------

    def _timeout(self) -> float | None:
        deadlines = list(self.pool.deadlines())
        if self.reloader is not None:
            deadlines += list(self.reloader.deadlines())
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
            self.start_reload(first=True)
        self.pool.run_timers(now)

    def retry_start(self, delay: float) -> None:
        """--monitor-restart: try the first generation again after ``delay``."""
        self.pool.spawn_due = None
        self.retry_at = time.monotonic() + delay

    def say(self, text: str, stream=None) -> None:
        try:
            print(text, file=stream or sys.stdout, flush=True)
        except (OSError, ValueError):
            pass
