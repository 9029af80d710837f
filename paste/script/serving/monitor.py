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

from paste.script.serving import ipc, worker as worker_side
from paste.script.serving.pool import Pool, Worker, flush_stdio

__all__ = ["Monitor"]

#: Crash loops are reported from this many failures in a row.
CRASH_LOOP = 3


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
        self.state = StateFile(settings.pid_path)
        self.log = LogFile(settings.log_file, settings.log_owner)
        self.pool = Pool(self, self._fork, self.sockets, settings.workers,
                         settings.graceful_timeout)
        self.reloader = None
        if settings.reload:
            from paste.script.serving.reloading import Reloader
            self.reloader = Reloader(self, self.pool, settings.reload_interval,
                                     self.verbose, watcher_factory)
        self.exit_code = 0
        self.error = None          # the BadCommand to raise when start-up failed
        self.started = False       # "Starting server in PID N." said
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
        if self.pool.stopping and not self.pool.workers:
            self.done = True

    def _warm_up(self) -> None:
        """Import the server machinery here, once, so each fork starts warm.

        Only the server is loaded: the application's modules must be imported
        by each worker afresh. Errors are left for the worker to report.
        """
        command = self.command
        loader = getattr(command, "loadserver", None)
        if loader is None or not getattr(command, "server_spec", None):
            return
        try:
            loader(command.server_spec, name=command.server_name,
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
                self._reopen_log()
            elif signum in (signal.SIGTTIN, signal.SIGTTOU):
                self._resize(+1 if signum == signal.SIGTTIN else -1)

    def shutdown(self, reason: str = "") -> None:
        """Stop every worker gracefully; asked twice, at once."""
        if self.pool.stopping:
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

    def _reopen_log(self) -> None:
        try:
            fd = self.log.reopen()
        except OSError as exc:
            self.say(f"SIGUSR1: cannot reopen {self.log.path}: {exc.strerror}", sys.stderr)
            return
        if fd is None:
            self.say("SIGUSR1: there is no --log-file to reopen.")
            return
        for worker in list(self.pool.workers.values()):
            worker.send({"op": "log"}, [fd])
        os.close(fd)
        if self.verbose > 1:
            self.say(f"SIGUSR1: reopened {self.log.path}.")

    def _resize(self, change: int) -> None:
        if change > 0 and self.pool.single_runner:
            self.say(f"SIGTTIN ignored: the {self.pool.single_runner} server runs in one process.")
            return
        self.pool.resize(self.pool.size + change)
        self.say(f"SIG{'TTIN' if change > 0 else 'TTOU'}: {self.pool.size} "
                 f"worker{'s' if self.pool.size != 1 else ''}.")
        self._write_state()

    # -- generations -------------------------------------------------------------------

    def start_reload(self, changed=(), first: bool = False) -> None:
        """Start a generation of workers with the code and configuration on disk."""
        if not first:
            self.notifier.reloading("loading the new code")
            size = self.settings.workers_from_config(self.command)
            if size is not None:
                self.pool.size = size
        self.pool.start_generation(changed)
        self.state.update(reloads=self.pool.generation - 1)

    # Pool events: what the pool tells the monitor.

    def worker_loaded(self, worker: Worker) -> None:
        if not self.started and self.verbose > 0:
            self.say(f"Starting server in PID {os.getpid()}.")
        self.started = True

    def generation_serving(self, generation: int, workers: list[Worker], first: bool) -> None:
        pids = ", ".join(str(w.pid) for w in workers)
        if first:
            self.settings.startup.ready()
            self.settings.startup.close()
            self.notifier.ready(f"serving with {len(workers)} worker(s)")
        else:
            self.notifier.ready(f"reloaded: {len(workers)} worker(s) serve the new code")
            if self.verbose > 0 and not self.settings.reload:
                self.say(f"Reloaded: workers {pids} serve the new code.")
        self._write_state(reloaded=generation - 1, ok=True, error="")
        if self.reloader is not None:
            self.reloader.want_standby()
        if self.verbose > 0:
            for address in dict.fromkeys(a for w in workers for a in w.new_addresses):
                self.say(f"Now listening on {address}.")
        if self.verbose > 1:
            self.say(f"Generation {generation} serving: workers {pids}.")

    def generation_failed(self, generation: int, worker: Worker, first: bool) -> None:
        self._write_state(reloaded=generation - 1, ok=False, error=worker.summary)
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
        self.reloader.want_standby()

    def _startup_failed(self, worker: Worker) -> None:
        from paste.script.command import BadCommand
        self.settings.startup.failed(worker.summary, worker.exit_code)
        if self.settings.monitor_restart:
            self.settings.startup.close()     # the terminal has its answer; we go on trying
            delay = self.pool.backoff.failed(0.0) or self.pool.backoff.first
            self.say(f"Server child {worker.pid} failed to start; restarting in {delay:g}s",
                     sys.stderr)
            self.pool.spawn_due = None
            self.retry_at = time.monotonic() + delay
            return
        if worker.exit_code == 1 and worker.error != worker.summary:
            if self.verbose > 1 or self.settings.log_file:
                self.say(worker.error, sys.stderr)
            message = f"Error: {worker.summary} (run with -v for the traceback)"
        else:
            message = worker.summary
        self.error = BadCommand(message, exit_code=worker.exit_code)
        self.shutdown("start-up failed")

    def plain_restart(self) -> None:
        self.say("The server binds its own sockets: reloading by stopping the old server "
                 "first (requests may be refused meanwhile).")

    def worker_serving(self, worker: Worker) -> None:
        if self.verbose > 1:
            self.say(f"Server child {worker.pid} serving.")

    def worker_died(self, worker: Worker, code: int, delay: float, failures: int) -> None:
        when = "at once" if not delay else f"in {delay:g}s"
        self.say(f"Server child {worker.pid} exited ({_how(code)}); restarting {when}")
        if failures >= CRASH_LOOP:
            serving = len([w for w in self.pool.members(self.pool.serving) if w.state == "serving"])
            self.say(f"Workers keep dying ({failures} in a row); {serving} still serving.",
                     sys.stderr)
            self.notifier.status(f"crash loop: {failures} workers died in a row")

    def server_finished(self, worker: Worker) -> None:
        if self.settings.reload:
            self.say(f"The server process exited with status 0; waiting for a change "
                     "to restart it.")
            return
        self.shutdown("the server finished")

    def unregister(self, worker: Worker) -> None:
        if worker.channel.fileno() >= 0:
            try:
                self.selector.unregister(worker.channel)
            except (KeyError, ValueError):
                pass
            worker.channel.close()

    def _write_state(self, **changes) -> None:
        workers = [w.pid for w in self.pool.members(self.pool.serving)]
        self.state.update(workers=workers, graceful_timeout=self.settings.graceful_timeout,
                          **changes)

    # -- workers -----------------------------------------------------------------------

    def _fork(self, preload: list[str] | None = None) -> Worker:
        monitor_end, worker_end = ipc.channel_pair()
        flush_stdio()
        options = worker_side.WorkerOptions(
            reload=self.settings.reload, graceful_timeout=self.settings.graceful_timeout,
            pool_size=self.pool.size, verbose=self.verbose)
        pid = os.fork()
        if pid == 0:   # the worker
            try:
                monitor_end.close()
                self._close_in_child()
                worker_side.run_worker(self.command, worker_end, self.pool.changed,
                                       self.verbose, preload, options)
            finally:
                os._exit(1)
        worker_end.close()
        monitor_end.setblocking(False)
        worker = Worker(pid, monitor_end, None)
        self.selector.register(monitor_end, selectors.EVENT_READ, worker)
        return worker

    def _close_in_child(self) -> None:
        """In a new worker: drop every descriptor that belongs to the monitor."""
        self.settings.startup.close()
        fds = [self.signals.read_fd, self.signals.write_fd] + self.sockets.fds()
        fds += [w.channel.fileno() for w in self.pool.workers.values()]
        if self.reloader is not None:
            fds += self.reloader.fds()
        try:
            self.selector.close()
        except OSError:
            pass
        for fd in fds:
            try:
                os.close(fd)
            except OSError:
                pass

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
            worker = self.pool.workers.get(pid)
            if worker is not None:
                self._read_worker(worker)      # what it said last (an error) comes first
                self.pool.exited(worker, os.waitstatus_to_exitcode(status))

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

    def say(self, text: str, stream=None) -> None:
        try:
            print(text, file=stream or sys.stdout, flush=True)
        except (OSError, ValueError):
            pass


def _how(code: int) -> str:
    """How a process ended, as the supervisor of ``--monitor-restart`` always said it."""
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"
