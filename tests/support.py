"""Helpers shared by the test modules: real processes on loopback."""
from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening_inodes(port: int) -> set:
    """Socket inodes listening on TCP ``port`` (any address), from /proc/net."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as f:
            next(f)
            for line in f:
                fields = line.split()
                if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(fields[9])
    return inodes


def process_tree(pid: int) -> list:
    """``pid`` and all its descendants that are alive now."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        with contextlib.suppress(OSError):
            for task in os.listdir(f"/proc/{current}/task"):
                with contextlib.suppress(OSError):
                    with open(f"/proc/{current}/task/{task}/children") as f:
                        todo.extend(int(child) for child in f.read().split())
    return found


def port_owner(port: int, pid: int) -> bool:
    """Whether ``pid`` or one of its descendants holds the socket listening on ``port``."""
    inodes = {f"socket:[{inode}]" for inode in listening_inodes(port)}
    for member in process_tree(pid):
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{member}/fd"):
                with contextlib.suppress(OSError):
                    if os.readlink(f"/proc/{member}/fd/{fd}") in inodes:
                        return True
    return False


def wait_for_port(port: int, host: str = "127.0.0.1", timeout: float = 15.0,
                  proc: subprocess.Popen | None = None, pid: int | None = None) -> None:
    """Block until the process started by the test accepts connections on (host, port).

    The listener must belong to ``proc`` (or the process ``pid``, for a
    daemon that detached) or one of its descendants: another program that
    happens to hold the port does not count.
    """
    if proc is None and pid is None:
        raise TypeError("wait_for_port needs the process expected to listen: proc= or pid=")
    owner = proc.pid if proc is not None else pid
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            out = proc.stdout.read() if proc.stdout else ""
            raise AssertionError(f"process exited with {proc.returncode} before listening:\n{out}")
        with contextlib.suppress(OSError):
            with socket.create_connection((host, port), timeout=0.5):
                if port_owner(port, owner):
                    return
        time.sleep(0.02)
    raise AssertionError(f"process {owner} not listening on {host}:{port} after {timeout}s")


def http_get(url: str, timeout: float = 10.0, data: bytes | None = None,
             headers: dict | None = None) -> tuple[int, dict, bytes]:
    """(status, headers, body) for one request; HTTP errors are returned, not raised."""
    req = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def read_to_close(sock: socket.socket, timeout: float | None = None) -> bytes:
    """Everything ``sock`` receives until the server closes it (``timeout``: per read)."""
    if timeout is not None:
        sock.settimeout(timeout)
    out = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return out
        out += chunk


def write(path: Path, text: str, mode: int | None = None) -> Path:
    """Write dedented text to path (creating parents); return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    if mode is not None:
        path.chmod(mode)
    return path


def paster_env(**extra: str) -> dict:
    env = dict(os.environ)
    env.pop("PASTE_CONFIG_FILE", None)
    env.update(extra)
    return env


def run_paster(*args: str, cwd=None, input: str | bytes | None = None,
               timeout: float = 60, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run ``python -m paste.script ARGS`` to completion, capturing text output."""
    return subprocess.run(
        [PYTHON, "-m", "paste.script", *args], cwd=cwd, input=input,
        capture_output=True, text=not isinstance(input, bytes), timeout=timeout,
        env=env or paster_env())


def start_paster(*args: str, cwd=None, env: dict | None = None) -> subprocess.Popen:
    """Start ``python -m paste.script ARGS`` in the background (stdout+stderr merged)."""
    return subprocess.Popen(
        [PYTHON, "-m", "paste.script", *args], cwd=cwd, env=env or paster_env(),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True)


def stop_process(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 10) -> str:
    """Signal proc, wait for it, kill its group if it lingers; return its output."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
    return proc.stdout.read() if proc.stdout else ""


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0); treat it as gone.
    with contextlib.suppress(OSError):
        with open(f"/proc/{pid}/stat") as f:
            if f.read().split(")")[-1].split()[0] == "Z":
                return False
    return True


def make_venv(path: Path) -> Path:
    """A throw-away venv at ``path`` that sees this interpreter's packages.

    The new venv gets a ``.pth`` that adds the running environment's
    site-packages as a site directory (so its ``.pth`` files, including an
    editable PasteScript install, are processed too); distributions
    installed into the new venv stay in it. Returns its python.
    """
    import sysconfig
    import venv
    venv.EnvBuilder(with_pip=False, symlinks=True).create(path)
    python = Path(path) / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True).stdout.strip()
    parent = sysconfig.get_paths()["purelib"]
    Path(purelib, "_parent_env.pth").write_text(f"import site; site.addsitedir({parent!r})\n")
    return python


def pip_install(python: Path, *args: str, cwd=None) -> None:
    """``pip install --no-deps --no-build-isolation ARGS`` with the given venv python."""
    proc = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
         "--disable-pip-version-check", *args],
        capture_output=True, text=True, cwd=cwd)
    if proc.returncode:
        raise AssertionError(f"pip install {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
