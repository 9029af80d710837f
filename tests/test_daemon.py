"""paste.script.daemon: the locked pid file, signalling, stopping, detaching (real processes)."""
import os
import signal
import subprocess
import textwrap
import time

import pytest

from paste.script.daemon import (
    AlreadyRunning, PidFile, PidFileError, PidStatus, ServerProcess, open_no_follow,
    stop_daemon)
from tests.support import PYTHON, pid_alive

HOLDER = textwrap.dedent("""
    import os, signal, sys, time
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
    if mode == "orphan":
        # A child keeps the file (and its lock) open after its parent, the
        # server the file names, has died.
        child = os.fork()
        if child == 0:
            os.setsid()     # the parent's number must be free to reuse: not our group's
            time.sleep(60)
            os._exit(0)
        print("ready", child, flush=True)
        os._exit(0)
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
        for pid in [proc.pid] + getattr(proc, "orphans", []):
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
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
    """A forked child must not remove its parent's pid file: the file names the parent."""
    path = tmp_path / "app.pid"
    pid_file = PidFile(str(path))
    pid_file.acquire()
    child = os.fork()
    if child == 0:
        pid_file.release()
        os._exit(0)
    os.waitpid(child, 0)
    assert path.read_text() == f"{os.getpid()}\n" and pid_file.status().running
    pid_file.release()
    assert not path.exists()


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


# -- files are never followed through a link -----------------------------------------

@pytest.fixture
def precious(tmp_path):
    """A file that a link planted in place of a pid file points to."""
    target = tmp_path / "precious"
    target.write_bytes(b"not yours\n")
    target.chmod(0o600)
    return target


def test_a_symlinked_pid_file_is_refused_and_its_target_untouched(tmp_path, precious):
    link = tmp_path / "app.pid"
    link.symlink_to(precious)
    for act in (lambda: PidFile(str(link)).acquire(), lambda: PidFile(str(link)).status(),
                lambda: stop_daemon(PidFile(str(link)), log=lambda m: None)):
        with pytest.raises(PidFileError, match="symbolic link, which is never followed"):
            act()
    assert precious.read_bytes() == b"not yours\n" and link.is_symlink()
    dangling = tmp_path / "other.pid"
    dangling.symlink_to(tmp_path / "created-through-the-link")
    with pytest.raises(PidFileError, match=r"^Cannot create pid file .*other\.pid: it is a symbolic link"):
        PidFile(str(dangling)).acquire()
    assert not (tmp_path / "created-through-the-link").exists()


def test_a_hard_linked_pid_file_is_refused(tmp_path, precious):
    os.link(precious, tmp_path / "app.pid")
    with pytest.raises(PidFileError, match="other hard links"):
        PidFile(str(tmp_path / "app.pid")).acquire()
    assert precious.read_bytes() == b"not yours\n"


def test_open_no_follow_says_whether_it_created_the_file(tmp_path):
    path = str(tmp_path / "log")
    fd, created = open_no_follow(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    os.close(fd)
    assert created
    fd, created = open_no_follow(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    os.close(fd)
    assert not created
    fd, created = open_no_follow(os.devnull, os.O_WRONLY | os.O_CREAT)   # not regular: fine
    os.close(fd)
    with pytest.raises(OSError, match="not a regular file"):
        open_no_follow(os.devnull, os.O_WRONLY, regular=True)


# -- signals never reach a recycled pid ---------------------------------------------------

def spawn_with_pid(pid: int, argv: list) -> subprocess.Popen:
    """Start ``argv`` as process number ``pid``, as a recycled pid would be (root)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with open("/proc/sys/kernel/ns_last_pid", "w") as f:
            f.write(str(pid - 1))
        proc = subprocess.Popen(argv)
        if proc.pid == pid:
            return proc
        proc.kill()         # another process took the number first: again
        proc.wait()
    raise AssertionError(f"could not start a process as PID {pid}")


@pytest.mark.root
def test_a_server_that_exits_after_the_check_takes_no_one_with_it(tmp_path, holder):
    """The race of issue 16 item 14: checked, then gone, and its pid recycled."""
    path = tmp_path / "app.pid"
    server_proc = holder(path)
    server = ServerProcess.find(PidFile(str(path)), server_proc.pid)
    assert server is not None and server.alive()
    with server:
        os.killpg(server_proc.pid, signal.SIGKILL)
        server_proc.wait(5)
        bystander = spawn_with_pid(server_proc.pid, ["sleep", "60"])
        try:
            assert not server.alive()
            assert server.signal(signal.SIGTERM) is False
            assert bystander.poll() is None
        finally:
            bystander.kill()
            bystander.wait()


@pytest.mark.root
def test_stop_never_signals_a_recycled_pid_while_an_orphan_holds_the_lock(tmp_path, holder):
    path = tmp_path / "app.pid"
    dead = holder(path, mode="orphan")
    orphan = int(dead.first_line[1])
    dead.orphans = [orphan]
    assert dead.wait(5) == 0
    assert PidFile(str(path)).status().running           # the orphan holds the lock
    bystander = spawn_with_pid(dead.pid, ["sleep", "60"])
    try:
        with pytest.raises(PidFileError, match=f"names PID {dead.pid}, but that process does "
                                               "not hold it"):
            stop_daemon(PidFile(str(path)), log=lambda m: None)
        assert bystander.poll() is None and pid_alive(orphan)
        assert path.read_text() == f"{dead.pid}\n"
    finally:
        bystander.kill()
        bystander.wait()


# -- a re-executed server takes the pid file over ----------------------------------------------

def test_a_successor_takes_the_pid_file_over_and_the_parent_leaves_it(tmp_path):
    path = tmp_path / "app.pid"
    pid_file = PidFile(str(path))
    pid_file.acquire()
    fd = pid_file.fileno()
    os.set_inheritable(fd, True)
    code = ("import sys, time; from paste.script.daemon import PidFile\n"
            "PidFile.inherit(sys.argv[1], int(sys.argv[2])).write(); print('took', flush=True)\n"
            "time.sleep(60)\n")
    successor = subprocess.Popen([PYTHON, "-c", code, str(path), str(fd)], pass_fds=[fd],
                                 stdout=subprocess.PIPE, text=True)
    try:
        assert successor.stdout.readline() == "took\n"
        pid_file.release()                  # the parent exits
        assert path.read_text() == f"{successor.pid}\n"
        status = PidFile(str(path)).status()
        assert status.running and status.pid == successor.pid
    finally:
        successor.kill()
        successor.wait()
    assert not PidFile(str(path)).status().running


# -- a start that never ends ------------------------------------------------------------

NEVER_READY = textwrap.dedent("""
    import os, signal, sys, time
    from paste.script.daemon import daemonize
    startup = daemonize(log_file=sys.argv[2], timeout=float(sys.argv[3]))
    pids = [os.getpid()]
    if sys.argv[4:] == ["stubborn"]:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        child = os.fork()               # a worker, in the daemon's process group
        if child == 0:
            # 1 GiB of touched memory: freeing it makes the worker take
            # longer to die than the daemon, as a big worker would.
            memory = bytearray(1 << 30)
            memory[::4096] = b"x" * ((1 << 30) // 4096)
            time.sleep(300)
            os._exit(0)
        pids.append(child)
    with open(sys.argv[1] + ".tmp", "w") as f:
        f.write(" ".join(map(str, pids)))
    os.rename(sys.argv[1] + ".tmp", sys.argv[1])
    time.sleep(300)         # a factory that never returns
""")


@pytest.fixture
def never_ready(tmp_path):
    """Run NEVER_READY; whatever it left running is killed at the end."""
    script = tmp_path / "never.py"
    script.write_text(NEVER_READY)
    pid_path = tmp_path / "daemon.pid"

    def run(*args):
        try:
            return subprocess.run([PYTHON, str(script), str(pid_path), "the.log", *args],
                                  capture_output=True, text=True, timeout=60)
        except subprocess.TimeoutExpired as exc:
            raise AssertionError("the terminal still waits for the daemon") from exc

    yield run, pid_path
    for pid in (pid_path.read_text().split() if pid_path.exists() else []):
        if pid_alive(int(pid)):
            os.kill(int(pid), signal.SIGKILL)


def test_a_daemon_that_never_reports_is_stopped_after_the_start_timeout(never_ready):
    run, pid_path = never_ready
    started = time.monotonic()
    result = run("1")
    took = time.monotonic() - started
    daemon_pid = int(pid_path.read_text())
    assert result.returncode == 1
    assert result.stderr == (f"Server in PID {daemon_pid} did not start within 1s "
                             "(--start-timeout): stopping it; see the.log\n")
    assert 1 <= took < 30
    assert not pid_alive(daemon_pid)        # LSB: a failed start leaves nothing running


@pytest.mark.slow
def test_a_daemon_deaf_to_sigterm_is_killed_with_its_process_group(never_ready):
    from paste.script.daemon import STOP_GRACE
    run, pid_path = never_ready
    started = time.monotonic()
    result = run("0.5", "stubborn")
    took = time.monotonic() - started
    pids = [int(pid) for pid in pid_path.read_text().split()]
    assert result.returncode == 1 and "did not start within 0.5s" in result.stderr
    assert len(pids) == 2 and not any(pid_alive(pid) for pid in pids)
    assert STOP_GRACE <= took < STOP_GRACE + 20


HUP_DEAF = textwrap.dedent("""
    import signal, sys, time
    from paste.script.daemon import PidFile
    from paste.script.serving.control import StateFile
    signal.signal(signal.SIGHUP, lambda *a: None)   # takes the reload, never finishes it
    pid_file = PidFile(sys.argv[1])
    pid_file.acquire()
    state = StateFile(sys.argv[1], log_file="server.log")
    state.update()
    print("ready", flush=True)
    time.sleep(60)
""")


def test_restart_gives_up_after_the_start_timeout_and_the_server_goes_on(tmp_path):
    from paste.script.serving.control import reload_running
    script = tmp_path / "deaf.py"
    script.write_text(HUP_DEAF)
    pid_path = tmp_path / "app.pid"
    server = subprocess.Popen([PYTHON, str(script), str(pid_path)], cwd=tmp_path,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout.readline() == "ready\n"
        ok, message = reload_running(str(pid_path), server.pid, timeout=0.5)
        assert not ok
        assert message == (f"Server in PID {server.pid} has not reported the new code ready "
                           f"after 0.5s; the old code goes on serving "
                           f"(see {tmp_path / 'server.log'})")
        assert server.poll() is None
    finally:
        server.kill()
        server.wait()
