# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""The worker side of ``--reload``: a child forked by the monitor.

The worker loads the application afresh (the monitor never imports it),
tells the monitor which files that read, waits for the go-ahead, and serves.
Listening sockets come from the monitor: ``socket.socket.bind`` is
intercepted, and for a TCP address the monitor's socket for that address is
put in place (``os.dup2``) of the runner's own, so any runner that binds
through Python's ``socket`` module (waitress, the wsgiutils runner, cheroot,
flup, Twisted) keeps accepting on the same socket across reloads.

A worker can also start as a warm *standby*: forked ahead of time, it
imports the installed libraries (standard library, site-packages) that the
serving worker reported using, then waits for the monitor's ``load``; a
reload then only imports the application's own code.

SIGTERM stops a worker gracefully: its listening descriptors are pointed at
a private socket nobody connects to (so it accepts nothing new and the next
worker gets every new connection), and the process exits once no request
has been in flight for a short while (clients on keep-alive connections to
it reconnect, to the new worker, at the latest after
:data:`KEEPALIVE_LIMIT`).
"""
from __future__ import annotations

import importlib
import importlib.util
import os
import queue
import signal
import socket
import sys
import threading
import time
import traceback

from paste.script.reloader import ipc

__all__ = ["run_worker", "InFlight", "module_files", "format_error"]

#: After SIGTERM, exit once no request ran for this long (seconds) ...
QUIET_PERIOD = 0.25
#: ... or, between requests, after this long: a keep-alive client that keeps
#: sending on its connection to the old worker moves to the new one then.
KEEPALIVE_LIMIT = 1.0
#: ... or after this long, whatever is still running.
GRACE_PERIOD = 10.0
#: A serving worker reports the library modules it loaded after this long
#: (the runner imports some on the first requests).
LIBRARY_REPORT_DELAY = 1.0


class WorkerChannel:
    """The worker's end of the channel; one thread reads what the monitor sends."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self._send_lock = threading.Lock()
        self.go = threading.Event()
        self.load = threading.Event()
        self.load_changed: list[str] = []
        self.replies: queue.Queue = queue.Queue()
        self._sent: set[str] = set()
        thread = threading.Thread(target=self._read, name="paster-reload-channel", daemon=True)
        thread.start()

    def send(self, message: dict, fds=()) -> None:
        with self._send_lock:
            ipc.send(self.sock, message, fds)

    def send_files(self, paths) -> None:
        """Tell the monitor to watch these paths (each path is sent once)."""
        with self._send_lock:
            new = [p for p in dict.fromkeys(paths) if p and p not in self._sent]
            self._sent.update(new)
            for piece in ipc.chunks(new):
                ipc.send(self.sock, {"op": "files", "paths": piece})

    def _read(self) -> None:
        while True:
            try:
                message, fds = ipc.receive(self.sock)
            except InterruptedError:
                continue
            except OSError:
                message, fds = None, []
            except ValueError:
                continue
            if message is None:
                # The monitor is gone (killed, crashed): never outlive it.
                _exit(1)
            op = message.get("op")
            if op == "go":
                self.go.set()
            elif op == "changed":
                self.load_changed.extend(message.get("paths", []))
            elif op == "load":
                self.load.set()
            elif op == "socket":
                self.replies.put((message, fds))
            else:
                for fd in fds:
                    os.close(fd)


class SocketBroker:
    """Gets TCP listening sockets from the monitor when the server binds them."""

    def __init__(self, channel: WorkerChannel):
        self.channel = channel
        self.adopted: list[socket.socket] = []
        self._released: list[socket.socket] = []
        self.ready_sent = False
        self._bind = socket.socket.bind
        self._listen = socket.socket.listen
        self._shutdown = socket.socket.shutdown
        self._lock = threading.Lock()

    def install(self) -> None:
        broker = self

        def bind(sock, address):
            if broker.wants(sock):
                return broker.adopt(sock, address)
            return broker._bind(sock, address)

        def listen(sock, *args):
            broker._listen(sock, *args)
            if any(s is sock for s in broker.adopted):
                broker.serving()

        def shutdown(sock, how):
            # A runner stopping (Twisted does this) must not shut the socket
            # down for the monitor and the next worker too: let go of it first.
            if any(s is sock for s in broker.adopted):
                broker.release([sock])
            return broker._shutdown(sock, how)

        bind.__doc__ = socket.socket.bind.__doc__
        listen.__doc__ = socket.socket.listen.__doc__
        shutdown.__doc__ = socket.socket.shutdown.__doc__
        socket.socket.bind = bind
        socket.socket.listen = listen
        socket.socket.shutdown = shutdown

    @staticmethod
    def wants(sock) -> bool:
        return sock.family in (socket.AF_INET, socket.AF_INET6) and sock.type == socket.SOCK_STREAM

    def adopt(self, sock: socket.socket, address) -> None:
        v6only = None
        if sock.family == socket.AF_INET6:
            try:
                v6only = bool(sock.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY))
            except OSError:
                v6only = None
        with self._lock:
            self.channel.send({"op": "bind", "family": int(sock.family), "proto": sock.proto,
                               "address": list(address), "v6only": v6only})
            reply, fds = self.channel.replies.get()
        if reply.get("error") or not fds:
            for fd in fds:
                os.close(fd)
            raise OSError(reply.get("errno") or 0, reply.get("error") or "no socket from the monitor")
        timeout = sock.gettimeout()
        os.dup2(fds[0], sock.fileno(), inheritable=False)
        os.close(fds[0])
        # The shared socket's blocking flag follows this runner's expectation.
        sock.settimeout(timeout)
        self.adopted.append(sock)

    def serving(self) -> None:
        with self._lock:
            if self.ready_sent:
                return
            self.ready_sent = True
        self.channel.send({"op": "ready"})

    def release(self, sockets=None) -> bool:
        """Stop accepting on the shared sockets; True if there were any."""
        for sock in list(self.adopted if sockets is None else sockets):
            if sock in self._released:
                continue
            self._released.append(sock)
            try:
                fd = sock.fileno()
                if fd < 0:
                    continue
                private = _private_listener()
                os.dup2(private.fileno(), fd, inheritable=False)
                private.close()
            except OSError:
                pass
        return bool(self.adopted)


def _private_listener() -> socket.socket:
    """A listening socket no one knows the address of: it never becomes readable."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    socket.socket.__base__.bind(sock, ("127.0.0.1", 0))
    socket.socket.__base__.listen(sock, 1)
    sock.setblocking(False)
    return sock


class ConfigRecorder:
    """Notes every config file PasteDeploy reads (including ``use = config:``)."""

    def __init__(self):
        self.files: list[str] = []

    def install(self) -> None:
        from paste.deploy import loadwsgi
        original = loadwsgi.ConfigLoader.__init__
        recorder = self

        def __init__(loader, filename, *args, **kw):
            recorder.files.append(os.path.abspath(filename.strip()))
            return original(loader, filename, *args, **kw)

        loadwsgi.ConfigLoader.__init__ = __init__


class InFlight:
    """WSGI middleware counting requests in flight, so a stop can wait for them."""

    def __init__(self, app):
        self.app = app
        self.active = 0
        self.last_activity = time.monotonic()
        self._lock = threading.Lock()

    def __call__(self, environ, start_response):
        with self._lock:
            self.active += 1
            self.last_activity = time.monotonic()
        try:
            result = self.app(environ, start_response)
        except BaseException:
            self._finished()
            raise
        file_wrapper = environ.get("wsgi.file_wrapper")
        if isinstance(file_wrapper, type) and isinstance(result, file_wrapper):
            # Keep the server's fast path for files (it recognises its own
            # wrapper); the request counts as done once the body is handed over.
            self._finished()
            return result
        cls = _SizedResponse if hasattr(result, "__len__") else _Response
        return cls(result, self._finished)

    def _finished(self) -> None:
        with self._lock:
            self.active -= 1
            self.last_activity = time.monotonic()

    def idle_for(self) -> float:
        """Seconds since the last request ended; 0 while one is running."""
        with self._lock:
            if self.active:
                return 0.0
            return time.monotonic() - self.last_activity


class _Response:
    """The application's iterable, reporting when the server has closed it."""

    def __init__(self, result, done):
        self._result = result
        self._done = done

    def __iter__(self):
        return iter(self._result)

    def close(self):
        done, self._done = self._done, None
        if done is None:
            return          # closed already
        try:
            close = getattr(self._result, "close", None)
            if close is not None:
                close()
        finally:
            done()


class _SizedResponse(_Response):
    # Servers use len() == 1 to set Content-Length themselves; keep that.
    def __len__(self):
        return len(self._result)


# -- what the worker loaded ------------------------------------------------

def module_source(module) -> str | None:
    """The source file of a module (``.py`` for a cached ``.pyc``), or None."""
    try:
        filename = module.__dict__.get("__file__")
    except Exception:
        return None
    if not isinstance(filename, str) or not filename:
        return None
    if filename.endswith((".pyc", ".pyo")):
        try:
            filename = importlib.util.source_from_cache(filename)
        except ValueError:
            filename = filename[:-1]
    return os.path.abspath(filename)


def module_files() -> list[str]:
    return [path for path in map(module_source, list(sys.modules.values())) if path]


def error_files(exc: BaseException) -> list[str]:
    """Files named by an error: the broken module is not in ``sys.modules``."""
    files = []
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, SyntaxError) and exc.filename:
            files.append(os.path.abspath(exc.filename))
        for frame in traceback.extract_tb(exc.__traceback__):
            if not frame.filename.startswith("<"):
                files.append(os.path.abspath(frame.filename))
        exc = exc.__cause__ or exc.__context__
    return files


def _machinery_dirs() -> tuple[str, ...]:
    dirs = [os.path.dirname(os.path.dirname(os.path.abspath(__file__)))]   # paste/script
    dirs.append(os.path.dirname(os.path.abspath(importlib.__file__)))      # importlib
    deploy = sys.modules.get("paste.deploy")
    if deploy is not None and getattr(deploy, "__file__", None):
        dirs.append(os.path.dirname(os.path.abspath(deploy.__file__)))
    return tuple(d + os.sep for d in dirs)


def format_error(exc: BaseException) -> str:
    """The error as a user wants to read it: their frames, not the loader's."""
    message = getattr(exc, "message", None)
    if type(exc).__name__ == "BadCommand" and isinstance(message, str):
        return message
    machinery = _machinery_dirs()
    te = traceback.TracebackException.from_exception(exc)
    seen = set()
    node = te
    while node is not None and id(node) not in seen:
        seen.add(id(node))
        frames = [f for f in node.stack
                  if not f.filename.startswith(machinery)
                  and not f.filename.startswith("<frozen importlib")]
        node.stack = traceback.StackSummary.from_list(frames)
        node = node.__cause__ or node.__context__
    return "".join(te.format()).rstrip("\n")


# -- the worker process ----------------------------------------------------

def _exit(code: int) -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    os._exit(code)


def purge_modules(changed: set[str]) -> None:
    """Forget modules the monitor imported whose source has changed since."""
    if not changed:
        return
    for name, module in list(sys.modules.items()):
        if module_source(module) in changed:
            del sys.modules[name]


def run_worker(command, sock: socket.socket, changed: set[str] = frozenset(),
               verbose: int = 1, preload: list[str] | None = None) -> None:
    """Load and serve ``command``'s application; never returns (the process exits).

    With ``preload`` (module names), the worker is a warm standby: it imports
    those library modules first, then waits for the monitor's ``load``.
    """
    try:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGINT, signal.SIG_IGN)   # Ctrl-C is the monitor's to handle
        for signum in (signal.SIGTERM, signal.SIGCHLD, signal.SIGHUP):
            signal.signal(signum, signal.SIG_DFL)
        channel = WorkerChannel(sock)
        if preload is not None:
            changed = _stand_by(channel, preload)
        _serve(command, channel, changed, verbose)
    except SystemExit as exc:
        _exit(exc.code if isinstance(exc.code, int) else 1)
    except BaseException:
        traceback.print_exc()
        _exit(1)
    _exit(0)


def _stand_by(channel: WorkerChannel, names: list[str]) -> set[str]:
    """Import library modules ahead of the next change; return the changed files then."""
    for name in names:
        if name in sys.modules:
            continue
        try:
            importlib.import_module(name)
        except BaseException:   # noqa: BLE001 - the application will import it its own way
            pass
    channel.send_files(module_files())
    channel.send({"op": "standing"})
    channel.load.wait()
    return set(channel.load_changed)


def library_roots() -> tuple[str, ...]:
    """Directories of installed code: the standard library and site-packages."""
    import site
    import sysconfig
    paths = sysconfig.get_paths()
    roots = [paths.get(key) for key in ("stdlib", "platstdlib", "purelib", "platlib")]
    try:
        roots += site.getsitepackages() + [site.getusersitepackages()]
    except AttributeError:      # some embedded interpreters
        pass
    return tuple(sorted({os.path.join(os.path.abspath(r), "") for r in roots if r}))


def library_modules(roots: tuple[str, ...] | None = None) -> list[str]:
    """Names of the loaded modules that are installed code, in import order."""
    roots = roots or library_roots()
    names = []
    for name, module in list(sys.modules.items()):
        source = module_source(module)
        if source and source.startswith(roots) and name != "__main__":
            names.append(name)
    return names


def _report_libraries(channel: WorkerChannel) -> None:
    time.sleep(LIBRARY_REPORT_DELAY)
    try:
        pieces = list(ipc.chunks(library_modules())) or [[]]
        for number, piece in enumerate(pieces, 1):
            channel.send({"op": "modules", "names": piece, "last": number == len(pieces)})
    except (OSError, ValueError):
        pass


def _serve(command, channel: WorkerChannel, changed, verbose) -> None:
    import paste.script.reloader as reloader
    reloader._report = channel.send_files
    purge_modules(set(changed))
    importlib.invalidate_caches()
    recorder = ConfigRecorder()
    recorder.install()
    broker = SocketBroker(channel)
    broker.install()
    try:
        app, server = command.load_app_and_server()
    except BaseException as exc:
        channel.send_files(module_files() + recorder.files + reloader.watched_files()
                           + error_files(exc))
        channel.send({"op": "error", "message": format_error(exc)})
        _exit(3)
    channel.send_files(module_files() + recorder.files + reloader.watched_files())
    channel.send({"op": "loaded"})
    channel.go.wait()
    app = InFlight(app)
    signal.signal(signal.SIGTERM, _graceful_stop(app, broker))
    if verbose > 0:
        print(f"Starting server in PID {os.getpid()}.")
        sys.stdout.flush()
    threading.Thread(target=_report_libraries, args=(channel,), daemon=True).start()
    try:
        server(app)
    except BaseException as exc:
        if broker.ready_sent:
            raise
        # Failed before serving (a bad server option, a taken address): a
        # broken edit like any other, for the monitor to report once.
        channel.send_files(error_files(exc))
        channel.send({"op": "error", "message": format_error(exc),
                      "address_in_use": _address_in_use(exc) and not broker.adopted})
        _exit(3)


def _address_in_use(exc: BaseException | None) -> bool:
    import errno
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE:
            return True
        if "Address already in use" in str(exc):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _graceful_stop(app: InFlight, broker: SocketBroker):
    stopping = []

    def handler(signum, frame):
        if stopping:
            return
        stopping.append(time.monotonic())
        released = broker.release()
        quiet = QUIET_PERIOD if released else 0.0
        threading.Thread(target=_drain, args=(app, quiet), daemon=True).start()

    return handler


def _drain(app: InFlight, quiet: float) -> None:
    deadline = time.monotonic() + GRACE_PERIOD
    started = time.monotonic()
    while time.monotonic() < deadline:
        idle = app.idle_for()
        stopped_for = time.monotonic() - started
        if app.active == 0 and stopped_for >= quiet and (idle >= quiet or stopped_for >= KEEPALIVE_LIMIT):
            break
        time.sleep(0.01)
    _exit(0)
