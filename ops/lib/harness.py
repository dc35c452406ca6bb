"""Process plumbing shared by the Python drivers of ops/chaos, ops/scale and ops/fairness (stdlib only).

Import it after putting ops/lib on sys.path; call `set_name("chaos")` once for the log prefix.
"""

import ctypes
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time

T0 = time.monotonic()
_name = "ops"


def set_name(name: str) -> None:
    global _name
    _name = name


def log(message: str) -> None:
    print(f"[{_name} {time.strftime('%H:%M:%S')} {time.monotonic() - T0:7.1f}s] {message}", file=sys.stderr, flush=True)


class Interrupted(Exception):
    """A SIGINT/SIGTERM arrived: clean up and leave."""


class HarnessError(Exception):
    """The harness itself failed (not the system under test)."""


def on_signal(number, _frame):
    raise Interrupted(signal.Signals(number).name)


def run_until_done(run, cleanup) -> int:
    """Runs `run()` (returning an exit status) with SIGINT/SIGTERM/SIGHUP turned into
    `Interrupted` (status 130) and harness failures into status 2; `cleanup()` always runs, with
    those signals ignored so a second one cannot cut it short."""
    for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(number, on_signal)
    status = 2
    try:
        status = run()
    except Interrupted as interruption:
        log(f"interrupted ({interruption}); cleaning up")
        status = 130
    except (HarnessError, subprocess.TimeoutExpired, OSError) as error:
        log(f"error: {error}")
        status = 2
    finally:
        for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(number, signal.SIG_IGN)
        cleanup()
    return status


def run_then_tidy(run, cleanup, directory: str, keep: bool, kept_note: str = "") -> int:
    """`run_until_done(run, cleanup)`, then removes `directory` after a passing run (unless
    `keep`), or logs where it was kept."""
    status = run_until_done(run, cleanup)
    if status == 0 and not keep:
        shutil.rmtree(directory, ignore_errors=True)
    else:
        log(f"kept {directory}{kept_note}")
    return status


def job_states(db: str, timeout: float = 10) -> dict[str, str]:
    """Job id → state in the aggregator's store at `db`, read-only; empty when it does not exist
    yet or cannot be read now (the aggregator may be writing)."""
    if not os.path.exists(db):
        return {}
    try:
        connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=timeout)
        try:
            return dict(connection.execute("SELECT job_id, state FROM jobs"))
        finally:
            connection.close()
    except sqlite3.Error:
        return {}


def set_parent_death_signal():
    """Child side of Popen: the child dies with the driver, even when the driver is SIGKILLed."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def proc_cmdline(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return [part.decode(errors="replace") for part in handle.read().split(b"\0") if part]
    except OSError:
        return []


def proc_environ_has(pid: int, entry: bytes) -> bool:
    try:
        with open(f"/proc/{pid}/environ", "rb") as handle:
            return entry in handle.read().split(b"\0")
    except OSError:
        return False


def proc_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def all_pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


# Job states after which nothing changes.
TERMINAL = {"SUCCEEDED", "FAILED", "CANCELLED", "TIMED_OUT", "REJECTED"}


def supervisor_pids(runs: str) -> list[int]:
    """Live `trainyard local-supervise` processes of the run directories under `runs`."""
    pids = []
    for pid in all_pids():
        argv = proc_cmdline(pid)
        if len(argv) >= 3 and argv[1] == "local-supervise" and argv[2].startswith(runs + "/") and proc_alive(pid):
            pids.append(pid)
    return pids


def kill_marked(marker: bytes) -> None:
    """SIGKILL every other process with `marker` in its environment (services, jobs)."""
    for pid in all_pids():
        if pid != os.getpid() and proc_environ_has(pid, marker):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def kill_local_runs(runs: str, job_marker: bytes) -> None:
    """SIGKILL the process groups of the local jobs under `runs` (those carrying `job_marker`) and
    their supervisors: nothing a harness started may outlive it."""
    if os.path.isdir(runs):
        for name in os.listdir(runs):
            try:
                with open(os.path.join(runs, name, "process.json")) as handle:
                    pid = int(json.load(handle)["pid"])
            except (OSError, ValueError, KeyError, TypeError):
                continue
            if proc_alive(pid) and proc_environ_has(pid, job_marker):
                try:
                    os.killpg(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
    for pid in supervisor_pids(runs):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


class ServiceProcess:
    """A `trainyard` service started detached in its own session, its output in a log file.

    Subclasses add what they read from the log; `start` sets `process` and `pid`.
    """

    def start(self, argv: list[str], env: dict, log_path: str) -> None:
        with open(log_path, "ab") as out:
            self.process = subprocess.Popen(
                argv, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True, preexec_fn=set_parent_death_signal)
        self.pid = self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float) -> bool:
        """SIGTERM, wait; SIGKILL after `timeout`. True when it exited by itself."""
        if not self.alive():
            return True
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
            return True
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            return False
