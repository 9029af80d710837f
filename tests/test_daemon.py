"""paste.script.daemon: the locked pid file, stopping, supervising (real processes)."""
import os
import signal
import subprocess
import textwrap
import time

import pytest

from paste.script.daemon import (
    AlreadyRunning, PidFile, PidFileError, PidStatus, stop_daemon)
from tests.support import PYTHON, pid_alive

HOLDER = textwrap.dedent("""
    import signal, sys, time
    from paste.script.daemon import PidFile, AlreadyRunning, install_exit_handlers
    path, mode = sys.argv[1], sys.argv[2]
    if mode == "stubborn":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    else:
        install_exit_handlers()
    pid_file = PidFile(path)
    try:
        stale = pid_file.acquire()
    except AlreadyRunning as exc:
        print("refused", exc.pid, flush=True)
        sys.exit(1)
    print("ready", stale, flush=True)
    try:
        time.sleep(float(sys.argv[3]) if len(sys.argv) > 3 else 60)
    finally:
        pid_file.release()
""")


@pytest.fixture
def holder(tmp_path):
    """Start processes that hold a pid file; every one is killed at the end."""
    script = tmp_path / "holder.py"
    script.write_text(HOLDER)
    procs = []

    def start(path, mode="normal", seconds=None, wait=True):
        argv = [PYTHON, str(script), str(path), mode] + ([str(seconds)] if seconds else [])
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, start_new_session=True)
        procs.append(proc)
        if wait:
            line = proc.stdout.readline().split()
            assert line and line[0] in ("ready", "refused"), line
            proc.first_line = line
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


@pytest.fixture
def bystander():
    """An unrelated live process (the kind a reused pid may belong to)."""
    proc = subprocess.Popen(["sleep", "60"])
    yield proc
    proc.kill()
    proc.wait(5)


def test_acquire_records_pid_and_release_removes_file(tmp_path):
    path = tmp_path / "app.pid"
    pid_file = PidFile(str(path))
    assert pid_file.acquire() is None
    assert path.read_text() == f"{os.getpid()}\n"
    status = pid_file.status()
    assert status.code == PidStatus.RUNNING and status.pid == os.getpid()
    pid_file.release()
    assert not path.exists()
    assert pid_file.status().code == PidStatus.NOT_RUNNING


def test_second_owner_is_refused_while_first_runs(tmp_path, holder):
    path = tmp_path / "app.pid"
    first = holder(path)
    assert first.first_line[0] == "ready"
    second = holder(path)
    assert second.first_line == ["refused", str(first.pid)]
    assert second.wait(5) == 1
    assert pid_alive(first.pid)
    assert path.read_text().strip() == str(first.pid)
    with pytest.raises(AlreadyRunning) as info:
        PidFile(str(path)).acquire()
    assert info.value.pid == first.pid


def test_concurrent_starts_only_one_wins(tmp_path, holder):
    path = tmp_path / "app.pid"
    procs = [holder(path, seconds=3, wait=False) for _ in range(6)]
    results = [proc.stdout.readline().split()[0] for proc in procs]
    assert results.count("ready") == 1, results
    winner = procs[results.index("ready")]
    assert path.read_text().strip() == str(winner.pid)


def test_stale_file_of_dead_process_is_replaced(tmp_path):
    dead = subprocess.Popen(["true"])
    dead.wait()
    path = tmp_path / "app.pid"
    path.write_text(f"{dead.pid}\n")
    pid_file = PidFile(str(path))
    assert pid_file.status().code == PidStatus.DEAD
    assert pid_file.acquire() == dead.pid
    assert path.read_text() == f"{os.getpid()}\n"
    pid_file.release()


def test_pid_reused_by_unrelated_process_is_not_trusted(tmp_path, bystander):
    path = tmp_path / "app.pid"
    path.write_text(f"{bystander.pid}\n")
    status = PidFile(str(path)).status()
    assert status.code == PidStatus.DEAD and status.pid == bystander.pid
    said = []
    assert stop_daemon(PidFile(str(path)), log=said.append) == 0     # LSB: nothing to stop
    assert len(said) == 1 and "not running" in said[0]
    assert not path.exists()
    assert bystander.poll() is None  # never signalled
    path.write_text(f"{bystander.pid}\n")
    pid_file = PidFile(str(path))
    assert pid_file.acquire() == bystander.pid
    pid_file.release()
    assert bystander.poll() is None


def test_status_codes(tmp_path, holder):
    path = tmp_path / "app.pid"
    assert PidFile(str(path)).status().code == 3
    path.write_text("")
    assert PidFile(str(path)).status().code == 3  # left empty by an unprivileged server
    path.write_text("not a pid\n")
    status = PidFile(str(path)).status()
    assert status.code == PidStatus.UNKNOWN
    assert "does not hold a process id" in status.describe()
    path.unlink()
    proc = holder(path)
    status = PidFile(str(path)).status()
    assert (status.code, status.pid) == (0, proc.pid)
    assert status.describe() == f"Server running in PID {proc.pid}"


def test_stop_terminates_the_holder_and_removes_file(tmp_path, holder):
    path = tmp_path / "app.pid"
    proc = holder(path)
    messages = []
    assert stop_daemon(PidFile(str(path)), log=messages.append) == 0
    assert proc.wait(5) == 0  # SIGTERM ran its finally: clean exit
    assert not path.exists()
    assert messages == [f"Server in PID {proc.pid} stopped"]
    assert stop_daemon(PidFile(str(path)), log=messages.append) == 0   # LSB: already stopped
    assert len(messages) == 2 and "not running" in messages[1]


def test_stop_escalates_to_sigkill(tmp_path, holder):
    path = tmp_path / "app.pid"
    proc = holder(path, mode="stubborn")
    messages = []
    assert stop_daemon(PidFile(str(path)), timeout=0.5, log=messages.append) == 0
    assert proc.wait(5) == -signal.SIGKILL
    assert not path.exists()
    assert "killing it" in messages[0]


def test_stop_with_garbage_pid_file_is_an_error(tmp_path):
    path = tmp_path / "app.pid"
    path.write_text("garbage\n")
    with pytest.raises(PidFileError, match="does not hold a process id"):
        stop_daemon(PidFile(str(path)), log=lambda m: None)
    assert path.exists()  # not ours to judge: left for the user


def test_unwritable_location_is_a_clear_error(tmp_path):
    with pytest.raises(PidFileError, match="Cannot create pid file"):
        PidFile(str(tmp_path / "no" / "such" / "dir" / "app.pid")).acquire()
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")
    with pytest.raises(PidFileError, match="Not a directory"):
        PidFile(str(not_a_dir / "app.pid")).acquire()


def test_release_in_other_process_keeps_file(tmp_path):
    """A forked child (supervised server) must not remove its parent's pid file."""
    path = tmp_path / "app.pid"
    pid_file = PidFile(str(path))
    pid_file.acquire()
    child = os.fork()
    if child == 0:
        pid_file.forget()
        pid_file.release()
        os._exit(0)
    os.waitpid(child, 0)
    assert path.exists() and pid_file.status().running
    pid_file.release()
    assert not path.exists()


SUPERVISED = textwrap.dedent("""
    import os, sys, time
    from paste.script.daemon import supervise
    pids = sys.argv[1]
    def child():
        with open(pids, "a") as f:
            f.write(f"{os.getpid()}\\n")
        time.sleep(60)
        return 0
    sys.exit(supervise(child, first_delay=0.05, log=lambda m: print(m, flush=True)))
""")


def _read_pids(path, count, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            pids = [int(p) for p in path.read_text().split()]
            if len(pids) >= count:
                return pids
        time.sleep(0.02)
    raise AssertionError(f"expected {count} children in {path}")


def test_supervise_restarts_dead_child_and_stops_on_sigterm(tmp_path):
    script = tmp_path / "supervised.py"
    script.write_text(SUPERVISED)
    pids = tmp_path / "pids"
    proc = subprocess.Popen([PYTHON, str(script), str(pids)], stdout=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        first = _read_pids(pids, 1)[0]
        os.kill(first, signal.SIGKILL)
        second = _read_pids(pids, 2)[1]
        assert second != first and pid_alive(second)
        assert "killed by SIGKILL" in proc.stdout.readline()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
        assert not pid_alive(second)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def test_nothing_heavy_imported():
    out = subprocess.run(
        # Only what these imports add counts: the interpreter's start-up may
        # have loaded some of them already (pathlib imports pwd on 3.13).
        [PYTHON, "-c", "import sys; before = set(sys.modules);"
                       "import paste.script.daemon, paste.script.privileges;"
                       "print(sorted(m for m in ('selectors', 'typing', 'subprocess', 'pwd') "
                       "if m in sys.modules and m not in before))"],
        capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


CRASHING = textwrap.dedent("""
    import sys
    from paste.script.daemon import supervise
    sys.exit(supervise(lambda: 3, first_delay=0.05, max_delay=0.2,
                       log=lambda m: print(m, flush=True)))
""")


def test_supervise_backs_off_while_the_child_keeps_dying(tmp_path):
    script = tmp_path / "crashing.py"
    script.write_text(CRASHING)
    proc = subprocess.Popen([PYTHON, str(script)], stdout=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        lines = [proc.stdout.readline() for _ in range(5)]
        delays = [line.rsplit("restarting in ", 1)[1].strip() for line in lines]
        assert delays == ["0.05s", "0.1s", "0.2s", "0.2s", "0.2s"]
        assert all("(exit code 3)" in line for line in lines)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
