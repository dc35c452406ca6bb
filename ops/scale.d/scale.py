#!/usr/bin/env python3
"""The driver behind ops/scale (see its header for what is run and what is measured).

Python 3.11 standard library only. Run it through ops/scale, which builds the release binary,
puts our librdkafka on the library path (ops/broker's readiness probe needs it) and prepares the
plotting venv.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from harness import (  # noqa: E402  (after the path is set)
    TERMINAL,
    HarnessError,
    ServiceProcess,
    kill_local_runs,
    kill_marked,
    log,
    run_until_done,
    set_name,
    supervisor_pids,
)

set_name("scale")

# ---------------------------------------------------------------------------------------------
# Small helpers


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile (p in 0–100) of `values`; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def fmt(value: float | None, digits: int = 2, unit: str = "") -> str:
    return "n/a" if value is None else f"{value:.{digits}f}{unit}"


def cpu_times() -> tuple[int, int]:
    """(busy, total) jiffies of all cores, from /proc/stat."""
    with open("/proc/stat") as handle:
        fields = [int(x) for x in handle.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    total = sum(fields[:8])  # guest time is already inside user/nice
    return total - idle, total


def proc_cpu_ticks(pid: int) -> int:
    """utime + stime + cutime + cstime of a process (clock ticks; children count once reaped)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return sum(int(x) for x in fields[11:15])
    except (OSError, IndexError, ValueError):
        return 0


def proc_cpu_split(pid: int) -> tuple[int, int]:
    """(own utime + stime, reaped children's cutime + cstime) of a process, in clock ticks."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12]), int(fields[13]) + int(fields[14])
    except (OSError, IndexError, ValueError):
        return 0, 0


def proc_rss_kib(pid: int) -> int | None:
    """Resident set size of a process (VmRSS), KiB."""
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_broker(root: str, broker_dir: str) -> str:
    """Starts a throwaway broker (ops/broker) on a free loopback port, trying three ports (another
    process may take one between the probe and the bind); returns its address."""
    error = ""
    for _ in range(3):
        port = free_port()
        result = subprocess.run([os.path.join(root, "ops", "broker"), "--dir", broker_dir, "--port", str(port), "start"],
                                capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if result.returncode == 0:
            return f"127.0.0.1:{port}"
        error = result.stderr.strip()[-1000:]
    raise HarnessError(f"ops/broker start failed: {error}")


def parse_ts(text: str) -> float | None:
    """'2026-11-29T04:43:57.815Z' (the JSON log format) → epoch seconds."""
    for pattern in ("%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%SZ"):
        try:
            return dt.datetime.strptime(text, pattern).replace(tzinfo=dt.timezone.utc).timestamp()
        except ValueError:
            continue
    return None


def command_output(argv: list[str]) -> str:
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        return (result.stdout or result.stderr).strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def machine_description(root: str, binary: str) -> dict:
    info: dict = {"nproc": os.cpu_count()}
    try:
        info["nproc"] = int(command_output(["nproc"]) or os.cpu_count())
    except ValueError:
        pass
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemTotal:"):
                    info["memory_gib"] = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        with open("/etc/os-release") as handle:
            for line in handle:
                if line.startswith("PRETTY_NAME="):
                    info["os"] = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    info["kernel"] = platform.release()
    info["swift"] = command_output(["swift", "--version"]).splitlines()[0:1]
    info["swift"] = info["swift"][0] if info["swift"] else "unknown"
    tansu = os.environ.get("TANSU_BIN", "")
    info["broker"] = (command_output([tansu, "--version"]).splitlines() or ["Tansu"])[0] if tansu else "Tansu"
    info["librdkafka"] = command_output(["pkg-config", "--modversion", "rdkafka"]) or "unknown"
    info["python"] = platform.python_version()
    commit = command_output(["git", "-C", root, "rev-parse", "--short", "HEAD"])
    dirty = command_output(["git", "-C", root, "status", "--porcelain", "--", "Sources", "Package.swift"])
    info["commit"] = (commit or "unknown") + (" + uncommitted changes under Sources/" if dirty else "")
    info["binary"] = binary
    return info


# ---------------------------------------------------------------------------------------------
# Processes


class Service(ServiceProcess):
    """One `trainyard aggregator|worker`, its own session, output (JSON logs) to its own file."""

    def __init__(self, name: str, argv: list[str], env: dict, log_path: str):
        self.name = name
        self.log_path = log_path
        self.started_at = time.time()
        self.start(argv, env, log_path)

    def kill(self):
        if self.alive():
            self.process.kill()
            self.process.wait()

    def log_lines(self) -> list[dict]:
        lines = []
        try:
            with open(self.log_path, errors="replace") as handle:
                for raw in handle:
                    raw = raw.strip()
                    if not raw:
                        continue
                    try:
                        entry = json.loads(raw)
                    except ValueError:
                        entry = {"level": "unparsed", "msg": raw}
                    if isinstance(entry, dict):
                        lines.append(entry)
        except OSError:
            pass
        return lines


def partitions_of(text: str) -> set[str]:
    """'p.requests[0,1,2] p.events[3]' → {'p.requests[0]', …}."""
    result = set()
    for chunk in text.replace('"', " ").split():
        if "[" in chunk and chunk.endswith("]"):
            topic, numbers = chunk[:-1].split("[", 1)
            result |= {f"{topic}[{n.strip()}]" for n in numbers.split(",") if n.strip()}
    return result


# ---------------------------------------------------------------------------------------------
# One run: W workers drain the backlog


class Run:
    def __init__(self, driver: "Scale", workers: int):
        self.driver = driver
        self.args = driver.args
        self.workers_wanted = workers
        self.dir = os.path.join(driver.dir, f"w{workers}")
        self.home = os.path.join(self.dir, "home")
        self.logs = os.path.join(self.dir, "logs")
        self.broker_dir = os.path.join(self.dir, "broker")
        self.runs = os.path.join(self.home, "state", "runs")
        self.db = os.path.join(self.home, "trainyard.db")
        self.prefix = f"scale{os.getpid()}w{workers}"
        self.brokers = ""
        self.broker_started = False
        self.aggregator: Service | None = None
        self.workers: list[Service] = []
        self.job_ids: list[str] = []
        self.result: dict = {"workers": workers, "complete": False, "notes": []}

    # -- environment ----------------------------------------------------------------------

    def env(self) -> dict:
        env = {key: value for key, value in os.environ.items()
               if not key.startswith("TRAINYARD_") or key in ("TRAINYARD_RDKAFKA_LIBDIR",)}
        env.update({
            "TRAINYARD_BROKERS": self.brokers, "TRAINYARD_TOPIC_PREFIX": self.prefix, "TRAINYARD_HOME": self.home,
            "TRAINYARD_LOG_LEVEL": os.environ.get("TRAINYARD_LOG_LEVEL", "info"), "TRAINYARD_LOG_FORMAT": "json",
            "TRAINYARD_SCALE_RUN": self.driver.dir,
        })
        return env

    def cli(self, *arguments: str, timeout: float = 300) -> str:
        result = subprocess.run([self.driver.bin, *arguments], env=self.env(), capture_output=True, text=True,
                                timeout=timeout, stdin=subprocess.DEVNULL)
        if result.returncode != 0:
            raise HarnessError(f"trainyard {arguments[0]} failed ({result.returncode}): {result.stderr.strip()[-1000:]}")
        return result.stdout

    def note(self, text: str):
        self.result["notes"].append(text)
        log(f"note: {text}")

    # -- phases ---------------------------------------------------------------------------

    def setup(self):
        for path in (self.home, self.logs, self.broker_dir):
            os.makedirs(path, exist_ok=True)
        self.brokers = start_broker(self.driver.root, self.broker_dir)
        self.broker_started = True
        self.cli("topics", "create", "--partitions", str(self.args.partitions))
        self.aggregator = Service("aggregator", [self.driver.bin, "aggregator", "--group", f"{self.prefix}-aggregator",
                                                 "--http-address", "127.0.0.1:0"],
                                  self.env(), os.path.join(self.logs, "aggregator.log"))
        log(f"[{self.workers_wanted} workers] broker {self.brokers}, prefix {self.prefix}, aggregator pid {self.aggregator.pid}")

    def submit(self):
        files = self.driver.spec_files
        started = time.time()
        ids: list[str] = []
        for first in range(0, len(files), self.args.submit_batch):
            ids += self.cli("submit", *files[first:first + self.args.submit_batch], timeout=600).split()
        if len(ids) != len(files):
            raise HarnessError(f"trainyard submit printed {len(ids)} ids for {len(files)} files")
        if len(set(ids)) != len(ids):
            raise HarnessError("trainyard submit printed duplicate job ids")
        self.job_ids = ids
        submitted = time.time() - started
        self.result["submit_s"] = submitted
        log(f"[{self.workers_wanted} workers] submitted {len(ids)} jobs in {submitted:.1f} s "
            f"({len(ids) / submitted:.0f}/s); waiting for the aggregator to record them as QUEUED")
        # The backlog is a backlog: every job is on the topic and in the store before any worker exists.
        deadline = time.monotonic() + 180
        while True:
            self.check_services()
            known = self.count("SELECT COUNT(*) FROM jobs")
            if known >= len(ids):
                break
            if time.monotonic() >= deadline:
                raise HarnessError(f"the aggregator recorded only {known}/{len(ids)} jobs 180 s after the submission")
            time.sleep(0.5)
        self.result["queued_after_s"] = time.time() - started

    def start_workers(self):
        argv_tail = ["--group", f"{self.prefix}-workers", "--concurrency", str(self.args.concurrency),
                     "--http-address", "127.0.0.1:0"]
        for prop in self.args.worker_kafka_property:
            argv_tail += ["--kafka-property", prop]
        env = self.env()
        self.load_at_start = os.getloadavg()
        self.cpu_samples = [(time.time(), *cpu_times())]
        self.own_cpu_start = self.own_cpu_ticks()
        self.cpu_split_start = self.cpu_split()
        for number in range(1, self.workers_wanted + 1):
            self.workers.append(Service(f"worker-{number}", [self.driver.bin, "worker", *argv_tail], env,
                                        os.path.join(self.logs, f"worker-{number}.log")))
        self.workers_started_at = min(w.started_at for w in self.workers)
        spread = max(w.started_at for w in self.workers) - self.workers_started_at
        log(f"[{self.workers_wanted} workers] started worker pids {[w.pid for w in self.workers]} "
            f"(within {spread * 1000:.0f} ms); load average {self.load_at_start[0]:.2f}")

    def wait_drained(self):
        n = len(self.job_ids)
        timeout = self.args.timeout if self.args.timeout else 300 + n * self.args.run_seconds
        deadline = time.monotonic() + timeout
        last_done, last_progress = -1, time.monotonic()
        next_report = time.monotonic() + 5
        reason = ""
        while True:
            self.cpu_samples.append((time.time(), *cpu_times()))
            self.check_services()
            done = self.count(f"SELECT COUNT(*) FROM jobs WHERE state IN ({','.join('?' * len(TERMINAL))})", sorted(TERMINAL))
            now = time.monotonic()
            if done != last_done:
                last_done, last_progress = done, now
            if now >= next_report:
                running = self.count("SELECT COUNT(*) FROM jobs WHERE state = 'RUNNING'")
                log(f"[{self.workers_wanted} workers] {done}/{n} terminal, {running} running, "
                    f"{time.time() - self.workers_started_at:.0f} s since the workers started")
                next_report = now + 5
            if done >= n:
                reason = "all terminal"
                break
            if now >= deadline:
                reason = f"timeout ({timeout:.0f} s)"
                break
            if now - last_progress > self.args.stall_timeout:
                reason = f"no job became terminal for {self.args.stall_timeout:.0f} s"
                break
            time.sleep(0.5)
        self.drained_at = time.time()
        self.cpu_samples.append((self.drained_at, *cpu_times()))
        self.own_cpu_end = self.own_cpu_ticks()
        self.cpu_split_end = self.cpu_split()
        self.worker_rss_kib = [proc_rss_kib(w.pid) for w in self.workers]
        self.load_at_end = os.getloadavg()
        self.result["complete"] = last_done >= n
        self.result["end_reason"] = reason
        if not self.result["complete"]:
            self.note(f"stopped waiting: {reason}; {last_done}/{n} terminal")

    def stop_services(self):
        for worker in self.workers:
            if not worker.stop(20):
                self.note(f"{worker.name} (pid {worker.pid}) ignored SIGTERM for 20 s")
        deadline = time.monotonic() + 15
        while supervisor_pids(self.runs) and time.monotonic() < deadline:
            time.sleep(0.5)
        left = supervisor_pids(self.runs)
        if left:
            self.note(f"{len(left)} local supervisors still ran 15 s after the workers stopped (killed)")
        # Let the aggregator take in the last events (everything terminal is in already when complete).
        if self.aggregator and not self.aggregator.stop(20):
            self.note("the aggregator ignored SIGTERM for 20 s")

    # -- store ----------------------------------------------------------------------------

    def connect(self) -> sqlite3.Connection | None:
        if not os.path.exists(self.db):
            return None
        return sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=10)

    def count(self, sql: str, parameters: list | None = None) -> int:
        try:
            connection = self.connect()
            if connection is None:
                return 0
            try:
                return int(connection.execute(sql, parameters or []).fetchone()[0])
            finally:
                connection.close()
        except sqlite3.Error:
            return 0

    def check_services(self):
        for service in [self.aggregator, *self.workers]:
            if service and not service.alive():
                tail = [line.get("msg", "") for line in service.log_lines()[-5:]]
                raise HarnessError(f"{service.name} (pid {service.pid}) exited by itself with status "
                                   f"{service.process.returncode}; last log lines: {tail}")

    def broker_pid(self) -> int | None:
        try:
            with open(os.path.join(self.broker_dir, "tansu.pid")) as handle:
                return int(handle.read().strip())
        except (OSError, ValueError):
            return None

    def own_cpu_ticks(self) -> int:
        """CPU used so far by this run: broker, aggregator, workers and (once reaped) supervisors and jobs."""
        pids = [s.pid for s in [self.aggregator, *self.workers] if s]
        broker = self.broker_pid()
        return sum(proc_cpu_ticks(pid) for pid in pids + ([broker] if broker else []))

    def cpu_split(self) -> dict[str, int]:
        """CPU ticks so far per kind of process: workers (own), supervisors and jobs (reaped by the
        workers), aggregator, broker."""
        split = {"worker": 0, "supervisors_and_jobs": 0, "aggregator": 0, "broker": 0}
        for worker in self.workers:
            own, children = proc_cpu_split(worker.pid)
            split["worker"] += own
            split["supervisors_and_jobs"] += children
        if self.aggregator:
            split["aggregator"] = sum(proc_cpu_split(self.aggregator.pid))
        broker = self.broker_pid()
        if broker:
            split["broker"] = sum(proc_cpu_split(broker))
        return split

    # -- figures --------------------------------------------------------------------------

    def analyse(self):
        r = self.result
        n = len(self.job_ids)
        wanted = set(self.job_ids)
        connection = self.connect()
        if connection is None:
            raise HarnessError(f"no store at {self.db}")
        try:
            jobs = {row[0]: row for row in connection.execute(
                "SELECT job_id, state, submitted_at, attempt, claimed_at, started_at, finished_at, updated_at FROM jobs")}
            attempts: dict[str, dict[int, dict]] = defaultdict(dict)
            for job_id, attempt, first_seen in connection.execute("SELECT job_id, attempt, first_seen_json FROM attempts"):
                try:
                    attempts[job_id][attempt] = json.loads(first_seen)
                except ValueError:
                    attempts[job_id][attempt] = {}
            claims: dict[str, list[tuple[float, str]]] = defaultdict(list)  # workerId → [(time, job)]
            runs_by: dict[str, list[float]] = defaultdict(list)
            for job_id, state, occurred_at, payload in connection.execute(
                    "SELECT job_id, state, occurred_at, payload_json FROM job_events WHERE state IN ('CLAIMED', 'RUNNING')"):
                try:
                    worker_id = str(json.loads(payload).get("workerId", ""))
                except ValueError:
                    worker_id = ""
                if state == "CLAIMED":
                    claims[worker_id].append((occurred_at, job_id))
                else:
                    runs_by[worker_id].append(occurred_at)
        finally:
            connection.close()

        states = Counter(jobs[j][1] if j in jobs else "MISSING" for j in wanted)
        r["states"] = dict(sorted(states.items()))
        r["retried"] = sum(1 for j in wanted if max(attempts.get(j, {0: {}})) > 1)
        submitted = {j: jobs[j][2] for j in wanted if j in jobs and jobs[j][2] is not None}
        first_claim, running_at, claim_to_running, enqueue_to_running, terminal_at = [], {}, [], [], []
        for job_id in wanted:
            per_attempt = attempts.get(job_id, {})
            real = {a: seen for a, seen in per_attempt.items() if a >= 1}
            claimed = [seen["CLAIMED"] for seen in real.values() if "CLAIMED" in seen]
            if claimed:
                first_claim.append(min(claimed))
            # The first attempt that ran: its RUNNING, and its own CLAIMED.
            for attempt in sorted(real):
                seen = real[attempt]
                if "RUNNING" in seen:
                    running_at[job_id] = seen["RUNNING"]
                    if "CLAIMED" in seen:
                        claim_to_running.append(seen["RUNNING"] - seen["CLAIMED"])
                    if job_id in submitted:
                        enqueue_to_running.append(seen["RUNNING"] - submitted[job_id])
                    break
            row = jobs.get(job_id)
            if row and row[1] in TERMINAL:
                terminal_at.append(row[6] if row[6] is not None else row[7])
        terminal_at.sort()
        r["terminal"] = len(terminal_at)
        r["first_claim"] = min(first_claim) if first_claim else None
        r["last_terminal"] = terminal_at[-1] if terminal_at else None
        r["workers_started_at"] = self.workers_started_at
        if r["first_claim"] is not None and r["last_terminal"] is not None and r["last_terminal"] > r["first_claim"]:
            r["drain_s"] = r["last_terminal"] - r["first_claim"]
            r["jobs_per_s"] = len(terminal_at) / r["drain_s"]
        else:
            r["drain_s"] = r["jobs_per_s"] = None
        r["wall_s"] = (r["last_terminal"] - self.workers_started_at) if r["last_terminal"] else None
        r["wall_jobs_per_s"] = (len(terminal_at) / r["wall_s"]) if r["wall_s"] else None
        if len(terminal_at) >= 10:
            low, high = terminal_at[int(0.1 * len(terminal_at))], terminal_at[int(0.9 * len(terminal_at)) - 1]
            middle = int(0.9 * len(terminal_at)) - 1 - int(0.1 * len(terminal_at))
            r["steady_jobs_per_s"] = middle / (high - low) if high > low else None
        else:
            r["steady_jobs_per_s"] = None
        for name, values in (("enqueue_to_running", enqueue_to_running), ("claim_to_running", claim_to_running)):
            r[f"{name}_p50"] = percentile(values, 50)
            r[f"{name}_p99"] = percentile(values, 99)
            r[f"{name}_max"] = max(values) if values else None
        r["ran"] = len(running_at)
        # Little's law: jobs held in a worker's slot (CLAIMED → terminal) on average over the drain.
        held = []
        for job_id in wanted:
            row = jobs.get(job_id)
            claimed_at = [seen["CLAIMED"] for a, seen in attempts.get(job_id, {}).items() if a >= 1 and "CLAIMED" in seen]
            if row and row[1] in TERMINAL and claimed_at:
                end = row[6] if row[6] is not None else row[7]
                held.append(end - min(claimed_at))
        r["claim_to_terminal_p50"] = percentile(held, 50)
        r["avg_in_flight"] = sum(held) / r["drain_s"] if r.get("drain_s") else None
        r["slots"] = self.workers_wanted * self.args.concurrency
        r["bound_jobs_per_s"] = (self.workers_wanted * self.args.concurrency / self.args.run_seconds
                                 if self.args.run_seconds > 0 else None)
        # CPU busy over the drain (first claim → last terminal), from /proc/stat samples every ~0.5 s.
        window = [sample for sample in self.cpu_samples
                  if r["first_claim"] is not None and r["last_terminal"] is not None
                  and r["first_claim"] - 0.25 <= sample[0] <= r["last_terminal"] + 0.25]
        if len(window) < 2:
            window = [self.cpu_samples[0], self.cpu_samples[-1]]
        busy, total = window[-1][1] - window[0][1], window[-1][2] - window[0][2]
        r["cpu_busy_pct"] = 100.0 * busy / total if total > 0 else None
        # Whose CPU: this run's processes against the whole machine, workers' start → drained.
        first, last = self.cpu_samples[0], self.cpu_samples[-1]
        total_all = last[2] - first[2]
        if total_all > 0:
            machine_pct = 100.0 * (last[1] - first[1]) / total_all
            own_pct = 100.0 * (self.own_cpu_end - self.own_cpu_start) / total_all
            r["own_cpu_pct"] = min(own_pct, machine_pct)
            r["other_cpu_pct"] = max(0.0, machine_pct - own_pct)
        else:
            r["own_cpu_pct"] = r["other_cpu_pct"] = None
        tick_ms = 1000.0 / os.sysconf("SC_CLK_TCK")
        r["cpu_ms_per_job"] = {kind: (self.cpu_split_end[kind] - self.cpu_split_start.get(kind, 0)) * tick_ms / max(1, n)
                               for kind in self.cpu_split_end}
        rss = [value for value in self.worker_rss_kib if value is not None]
        r["worker_rss_mib"] = max(rss) / 1024 if rss else None
        r["load_at_start"] = round(self.load_at_start[0], 2)
        r["load_at_end"] = round(self.load_at_end[0], 2)

        # Per worker: start → assigned (log) → first CLAIMED (store).
        per_worker = []
        all_turnarounds: list[float] = []
        hostname = socket.gethostname()
        for worker in self.workers:
            suffix = f"-{worker.pid}"
            worker_ids = [w for w in claims if w.endswith(suffix)] + [w for w in runs_by if w.endswith(suffix) and w not in claims]
            claims_of = [(t, job) for w in worker_ids for t, job in claims.get(w, [])]
            claimed = sorted(t for t, _ in claims_of)
            jobs_claimed = {job for w in worker_ids for _, job in claims.get(w, [])}
            ran = sorted(t for w in worker_ids for t in runs_by.get(w, []))
            entries = worker.log_lines()
            first_assigned, assigned, assignments, revocations, ready = None, set(), 0, 0, None
            for entry in entries:
                message = str(entry.get("msg", ""))
                at = parse_ts(str(entry.get("ts", "")))
                if at is not None and at > self.drained_at:
                    break  # the shutdown's revocations are not the run's assignment
                if message == "worker started" and ready is None:
                    ready = at
                elif message == "partitions assigned":
                    parts = partitions_of(str(entry.get("partitions", "")))
                    assignments += 1
                    if parts and first_assigned is None:
                        first_assigned = at
                    assigned = parts if not assigned else assigned | parts
                elif message == "partitions revoked":
                    revocations += 1
                    assigned -= partitions_of(str(entry.get("partitions", "")))
            requests = sorted(p for p in assigned if ".requests[" in p)
            # A freed slot's turnaround: with a backlog, the k-th claim (k ≥ C) reuses the slot of the
            # (k − C)-th job to end, so the gap is claim k − end k−C (the job's end → its slot's next claim).
            first_claims = sorted(min(t for t, job in claims_of if job == j) for j in jobs_claimed)
            ends = sorted(jobs[j][6] for j in jobs_claimed if j in jobs and jobs[j][6] is not None)
            c = self.args.concurrency
            turnaround = [first_claims[k] - ends[k - c] for k in range(c, len(first_claims)) if k - c < len(ends)]
            all_turnarounds.extend(turnaround)
            info = {
                "name": worker.name, "pid": worker.pid, "worker_id": worker_ids[0] if worker_ids else f"{hostname}-{worker.pid}",
                "start_offset_s": worker.started_at - self.workers_started_at,
                "ready_s": (ready - worker.started_at) if ready else None,
                "assigned_s": (first_assigned - worker.started_at) if first_assigned else None,
                "first_claim_s": (claimed[0] - worker.started_at) if claimed else None,
                "first_running_s": (ran[0] - worker.started_at) if ran else None,
                "jobs_claimed": len(jobs_claimed),
                "claim_burst_interval_s": burst_interval(claimed),
                "partitions_at_end": len(requests),
                "assignments": assignments, "revocations": revocations,
            }
            per_worker.append(info)
            if not claimed:
                self.note(f"{worker.name} (pid {worker.pid}) never claimed a job")
            if assignments == 0:
                self.note(f"{worker.name} (pid {worker.pid}) never got partitions (no 'partitions assigned' in its log)")
        r["per_worker"] = per_worker
        r["slot_turnaround_p50"] = percentile(all_turnarounds, 50)
        r["slot_turnaround_p99"] = percentile(all_turnarounds, 99)
        other = {w: len(c) for w, c in claims.items() if not any(w.endswith(f"-{x.pid}") for x in self.workers)}
        if other:
            self.note(f"CLAIMED events from unknown workers: {other}")

        # Warnings and errors in the logs.
        issues = Counter()
        for service in [self.aggregator, *self.workers]:
            if service is None:
                continue
            for entry in service.log_lines():
                if entry.get("level") in ("warning", "error", "critical", "unparsed"):
                    at = parse_ts(str(entry.get("ts", "")))
                    when = "at shutdown" if at is not None and at > self.drained_at else "during the run"
                    issues[f"{service.name.split('-')[0]} {when}: {entry.get('level')}: {str(entry.get('msg', ''))[:160]}"] += 1
        r["log_issues"] = dict(issues.most_common(12))
        if states.get("SUCCEEDED", 0) != n:
            self.note(f"not every job SUCCEEDED: {r['states']}")
        if r["retried"]:
            self.note(f"{r['retried']} jobs needed a second attempt")

    def print_report(self):
        r = self.result
        lines = [
            f"--- {self.workers_wanted} worker(s): {len(self.job_ids)} jobs × sleep {self.args.run_seconds:g} s, "
            f"{self.args.partitions} partitions, concurrency {self.args.concurrency}/worker",
            f"  final states            {r['states']}" + (f", {r['retried']} retried" if r["retried"] else ""),
            f"  jobs/s                  {fmt(r['jobs_per_s'], 1)}  (N / first CLAIMED → last terminal, {fmt(r['drain_s'], 1)} s)",
            f"  steady jobs/s           {fmt(r['steady_jobs_per_s'], 1)}  (middle 80 % of completions)",
            f"  wall                    {fmt(r['wall_s'], 1)} s from the workers' start ({fmt(r['wall_jobs_per_s'], 1)} jobs/s)",
            f"  concurrency bound       {fmt(r['bound_jobs_per_s'], 0)} jobs/s (W × C / run time)",
            f"  enqueue→RUNNING         p50 {fmt(r['enqueue_to_running_p50'], 1)} s, p99 {fmt(r['enqueue_to_running_p99'], 1)} s "
            f"(queueing: the backlog was submitted first)",
            f"  claim→RUNNING           p50 {fmt(ms(r['claim_to_running_p50']), 0)} ms, p99 {fmt(ms(r['claim_to_running_p99']), 0)} ms, "
            f"max {fmt(ms(r['claim_to_running_max']), 0)} ms",
            f"  slots in use            {fmt(r['avg_in_flight'], 1)} of {r['slots']} on average (CLAIMED → terminal p50 "
            f"{fmt(ms(r['claim_to_terminal_p50']), 0)} ms for a {self.args.run_seconds:g} s job)",
            f"  slot turnaround         p50 {fmt(ms(r['slot_turnaround_p50']), 0)} ms, p99 {fmt(ms(r['slot_turnaround_p99']), 0)} ms "
            f"(a job's end → the next claim on its slot)",
            f"  machine                 CPU busy {fmt(r['cpu_busy_pct'], 0)} % of {self.driver.machine['nproc']} cores (drain), "
            f"load {r['load_at_start']} at start, {r['load_at_end']} at end; submit {r['submit_s']:.1f} s",
            f"  whose CPU               this run {fmt(r['own_cpu_pct'], 0)} %, other processes {fmt(r['other_cpu_pct'], 0)} % "
            f"of the machine (workers' start → drained)",
            "  CPU per job             " + ", ".join(f"{kind.replace('_', ' ')} {value:.2f} ms" for kind, value in r["cpu_ms_per_job"].items())
            + f", total {sum(r['cpu_ms_per_job'].values()):.2f} ms (utime + stime; supervisors and jobs once reaped by the workers)",
            f"  worker RSS              {fmt(r['worker_rss_mib'], 0)} MiB (largest worker, at the end of the drain)",
            "  worker     pid       started  ready   assigned  1st claim  1st RUNNING  jobs   partitions  assignments  claim bursts every",
        ]
        for w in r["per_worker"]:
            lines.append(f"  {w['name']:<10} {w['pid']:<9} +{w['start_offset_s'] * 1000:4.0f}ms {fmt(w['ready_s'], 2):>6}s "
                         f"{fmt(w['assigned_s'], 2):>7}s {fmt(w['first_claim_s'], 2):>8}s {fmt(w['first_running_s'], 2):>10}s "
                         f"{w['jobs_claimed']:>6} {w['partitions_at_end']:>6}      {w['assignments']:>6}       "
                         f"{fmt(w['claim_burst_interval_s'], 2)} s")
        for text, number in r["log_issues"].items():
            lines.append(f"  log x{number}: {text}")
        for text in r["notes"]:
            lines.append(f"  note: {text}")
        print("\n".join(lines), flush=True)

    # -- cleanup --------------------------------------------------------------------------

    def cleanup(self):
        for service in [self.aggregator, *self.workers]:
            if service:
                service.kill()
        kill_marked(self.driver.marker)
        kill_local_runs(self.runs, self.driver.marker)
        if self.broker_started:
            subprocess.run([os.path.join(self.driver.root, "ops", "broker"), "--dir", self.broker_dir, "stop"],
                           capture_output=True, stdin=subprocess.DEVNULL)
            self.broker_started = False


def burst_interval(times: list[float], gap: float = 0.05) -> float | None:
    """Median time between the starts of claim bursts (claims less than `gap` apart form one burst)."""
    if not times:
        return None
    starts = [times[0]]
    for previous, current in zip(times, times[1:]):
        if current - previous > gap:
            starts.append(current)
    return percentile([b - a for a, b in zip(starts, starts[1:])], 50)


def ms(value: float | None) -> float | None:
    return None if value is None else value * 1000


# ---------------------------------------------------------------------------------------------
# The whole run


class Scale:
    def __init__(self, args):
        self.args = args
        self.root = args.root
        self.dir = tempfile.mkdtemp(prefix="trainyard-scale-")
        self.bin = os.path.join(self.dir, "bin", "trainyard")
        self.marker = f"TRAINYARD_SCALE_RUN={self.dir}".encode()
        self.spec_files: list[str] = []
        self.runs: list[Run] = []
        self.machine: dict = {}

    def prepare(self):
        os.makedirs(os.path.dirname(self.bin))
        shutil.copy2(self.args.binary, self.bin)  # a rebuild during the run must not change what runs
        # The local backend's small supervisor is found beside the binary (else it runs `trainyard local-supervise`).
        supervisor = os.path.join(os.path.dirname(self.args.binary), "trainyard-local-supervise")
        if os.access(supervisor, os.X_OK):
            shutil.copy2(supervisor, os.path.join(os.path.dirname(self.bin), "trainyard-local-supervise"))
        self.machine = machine_description(self.root, self.args.binary)
        specs = os.path.join(self.dir, "specs")
        os.makedirs(specs)
        for index in range(self.args.jobs):
            path = os.path.join(specs, f"job-{index:05d}.json")
            with open(path, "w") as handle:
                json.dump({
                    "apiVersion": "trainyard/v1", "name": f"scale-{index:05d}", "team": "scale", "kind": "batch",
                    "command": ["/bin/sleep", f"{self.args.run_seconds:g}"],
                    "env": {"TRAINYARD_SCALE_RUN": self.dir},  # marks the job processes for the cleanup
                    "maxRuntimeSeconds": max(60, int(self.args.run_seconds * 10)),
                }, handle)
            self.spec_files.append(path)
        m = self.machine
        log(f"machine: {m.get('nproc')} cores ({m.get('cpu', '?')}), {m.get('memory_gib', '?')} GiB, {m.get('os', '?')}, "
            f"{m.get('swift')}, {m.get('broker')}, librdkafka {m.get('librdkafka')}; load average {os.getloadavg()[0]:.2f}")

    def run_all(self) -> int:
        self.prepare()
        self.started = time.time()
        for workers in self.args.worker_counts:
            run = Run(self, workers)
            self.runs.append(run)
            try:
                run.setup()
                run.submit()
                run.start_workers()
                run.wait_drained()
                run.stop_services()
                run.analyse()
                run.print_report()
            finally:
                run.cleanup()
        self.finished = time.time()
        self.print_summary()
        if self.args.markdown:
            self.write_markdown(self.args.markdown)
        if self.args.plot:
            self.plot(self.args.plot)
        ok = all(run.result.get("complete") and run.result.get("states", {}).get("SUCCEEDED") == self.args.jobs
                 for run in self.runs)
        return 0 if ok else 1

    def summary_rows(self) -> list[list[str]]:
        rows = []
        for run in self.runs:
            r = run.result
            workers = r.get("per_worker", [])
            claim_times = [w["first_claim_s"] for w in workers if w["first_claim_s"] is not None]
            joins = ", ".join(fmt(w["first_claim_s"], 1) for w in workers)
            rows.append([
                str(r["workers"]), fmt(r.get("jobs_per_s"), 1), fmt(r.get("steady_jobs_per_s"), 1), fmt(r.get("wall_s"), 1),
                f"{fmt(r.get('enqueue_to_running_p50'), 1)} / {fmt(r.get('enqueue_to_running_p99'), 1)}",
                f"{fmt(ms(r.get('claim_to_running_p50')), 0)} / {fmt(ms(r.get('claim_to_running_p99')), 0)}",
                joins + (f" (max {max(claim_times):.1f})" if len(claim_times) > 1 else ""),
                fmt(r.get("cpu_busy_pct"), 0),
                fmt(r.get("other_cpu_pct"), 0),
                f"{fmt(r.get('avg_in_flight'), 1)} / {r.get('slots', 'n/a')}",
                fmt(ms(r.get("slot_turnaround_p50")), 0),
                str(r.get("load_at_start", "n/a")),
            ])
        return rows

    HEADERS = ["workers", "jobs/s", "steady jobs/s", "wall s", "enqueue→RUNNING p50 / p99 s",
               "claim→RUNNING p50 / p99 ms", "worker start → 1st claim s", "CPU busy %", "CPU of other processes %", "slots held / W×C", "job end → next claim on its slot p50 ms", "load at start"]

    def print_summary(self):
        rows = self.summary_rows()
        widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(self.HEADERS)]
        print(f"\n=== summary: {self.args.jobs} jobs × sleep {self.args.run_seconds:g} s, {self.args.partitions} partitions, "
              f"concurrency {self.args.concurrency}/worker, {self.machine.get('nproc')} cores; "
              f"script ran {self.finished - self.started:.0f} s", flush=True)
        print("  ".join(h.ljust(widths[i]) for i, h in enumerate(self.HEADERS)))
        for row in rows:
            print("  ".join(value.ljust(widths[i]) for i, value in enumerate(row)), flush=True)

    def write_markdown(self, path: str):
        m, a = self.machine, self.args
        rows = self.summary_rows()
        out = []
        out.append("# Scaling: a fixed backlog drained by 1, 2, 4 … workers\n")
        out.append(f"Produced by `ops/scale` on {time.strftime('%Y-%m-%d %H:%M %Z', time.localtime(self.started))} "
                   f"(the whole script ran {(self.finished - self.started) / 60:.1f} min). Command:\n")
        command = ["ops/scale"]
        if a.jobs != 5000:
            command += ["--jobs", str(a.jobs)]
        if a.worker_counts != [1, 2, 4]:
            command += ["--workers", f"\"{' '.join(map(str, a.worker_counts))}\""]
        for flag, value, default in (("--run-seconds", a.run_seconds, 0.2), ("--partitions", a.partitions, 12),
                                     ("--concurrency", a.concurrency, 16)):
            if value != default:
                command += [flag, f"{value:g}"]
        if a.markdown != os.path.join(self.root, "docs", "scaling.md"):
            command += ["--markdown", a.markdown]
        if a.plot:
            inside = os.path.abspath(a.plot).startswith(os.path.abspath(self.root) + os.sep)
            command += ["--plot", os.path.relpath(a.plot, self.root) if inside else a.plot]
        out.append("```sh\n" + " ".join(command) + "\n```\n")
        out.append(f"**Machine: {m.get('nproc')} cores** ({m.get('cpu', 'unknown CPU')}), {m.get('memory_gib', '?')} GiB, "
                   f"{m.get('os', '?')} (kernel {m.get('kernel')}), {m.get('swift')}, release build of `trainyard` "
                   f"({m.get('commit')}), librdkafka {m.get('librdkafka')}, broker {m.get('broker')} (in-memory storage) on "
                   f"loopback, one broker, aggregator and fleet per row, all on this machine.\n")
        out.append(f"**Workload:** {a.jobs} jobs, each `/bin/sleep {a.run_seconds:g}` on the local backend, submitted as one "
                   f"backlog before any worker starts (the aggregator had recorded all of them as QUEUED); "
                   f"{a.partitions} partitions; `--concurrency {a.concurrency}` per worker (so at most "
                   f"{fmt(a.concurrency / a.run_seconds if a.run_seconds > 0 else None, 0)} jobs/s per worker if starting a job "
                   f"cost nothing); "
                   f"the W workers are started at the same moment; default consumer settings "
                   f"(`session.timeout.ms=6000`, range assignor).\n")
        out.append("| " + " | ".join(self.HEADERS) + " |")
        out.append("| " + " | ".join("---" for _ in self.HEADERS) + " |")
        for row in rows:
            out.append("| " + " | ".join(row) + " |")
        out.append("")
        out.append("- **jobs/s**: N / (last terminal state − first CLAIMED event). **steady**: the middle 80 % of "
                   "completions over the time they took. **wall**: from the workers' process start to the last "
                   "terminal state (includes joining the group).")
        out.append("- **enqueue→RUNNING**: RUNNING first seen − `submitted_at`. The whole backlog was submitted first, "
                   "so this is queueing time (roughly half the drain time at p50), not scheduling latency.")
        out.append("- **claim→RUNNING**: the attempt's CLAIMED to its RUNNING (the worker's claim, the local "
                   "supervisor's start, the job's start): the provisioning latency, which grows with CPU contention.")
        out.append("- **worker start → 1st claim**: per worker, from its process start to its first CLAIMED event "
                   "(process start, group join, assignment, first fetch). Workers that start together join one "
                   "rebalance; the local broker completes a join in about half of `session.timeout.ms` (~3 s).")
        out.append(f"- **CPU busy**: all {m.get('nproc')} cores (the whole machine, from `/proc/stat`) from the first claim "
                   "to the last terminal state; **CPU of other processes**: the machine's busy time minus what this run's "
                   "processes used (broker, aggregator, workers, and the supervisors and jobs they reaped), from the "
                   "workers' start to the end: other people's work on a shared machine; **load at start**: 1-minute load average when the workers started. "
                   "**slots**: jobs held by the workers (CLAIMED → terminal) on average over the drain, of W × "
                   f"{a.concurrency}. **job end → next claim on its slot**: with a backlog a worker's k-th claim "
                   f"reuses the slot of the (k − {a.concurrency})-th of its jobs to end; the gap covers noticing the "
                   "end (the worker observes every 200 ms), publishing it, freeing the slot, resuming the paused "
                   "partitions, fetching and claiming.")
        out.append("")
        per = ["| workers | worker | ready s | partitions assigned s | 1st claim s | 1st RUNNING s | jobs claimed | "
               "partitions at end | assignments | claim bursts every s |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        for run in self.runs:
            for w in run.result.get("per_worker", []):
                per.append(f"| {run.workers_wanted} | {w['name']} | {fmt(w['ready_s'], 2)} | {fmt(w['assigned_s'], 2)} | "
                           f"{fmt(w['first_claim_s'], 2)} | {fmt(w['first_running_s'], 2)} | {w['jobs_claimed']} | "
                           f"{w['partitions_at_end']} | {w['assignments']} | {fmt(w['claim_burst_interval_s'], 2)} |")
        out.append("Per worker (seconds after its own process start):\n")
        out += per
        out.append("")
        cores = m.get("nproc")
        verdicts = []
        for run in self.runs:
            r = run.result
            if r.get("cpu_busy_pct") is None or r.get("avg_in_flight") is None:
                continue
            full = r["avg_in_flight"] / r["slots"] if r["slots"] else 0
            what = ("CPU-bound" if r["cpu_busy_pct"] >= 85
                    else "slots idle while the CPU had room: bound by the claim path" if full < 0.8 else "neither saturated")
            verdicts.append(f"{r['workers']} worker{'s' if r['workers'] > 1 else ''}: CPU {r['cpu_busy_pct']:.0f} % busy, "
                            f"{r['avg_in_flight']:.1f} of {r['slots']} slots held, a freed slot waited "
                            f"{fmt(ms(r.get('slot_turnaround_p50')), 0)} ms (p50) from its job's end to its next claim "
                            f"({what})" + (f"; other processes used {r['other_cpu_pct']:.0f} % of the machine meanwhile"
                                           if (r.get("other_cpu_pct") or 0) >= 10 else ""))
        out.append("**What bounds it.** Every local job costs two process starts (a detached "
                   "`trainyard local-supervise`, then the job itself) plus the worker's and the aggregator's work for "
                   f"its five events, all on the same {cores} cores as the broker and the aggregator. Where the CPU "
                   "is saturated, process starts are the bound, not Kafka, the partition count or the workers' "
                   "concurrency. Per run:\n")
        out += [f"- {text}" for text in verdicts]
        out.append("")
        out.append(f"Adding workers on the same {cores} cores adds claimers, not CPU, so the curve flattens where the "
                   "CPU saturates. These are this machine's figures for local jobs, not the fleet's ceiling: on a real "
                   "fleet each worker brings its own cores, and Kubernetes or SageMaker jobs do not run on the "
                   "worker's host at all.")
        def label(run):
            return f"{run.workers_wanted} worker{'s' if run.workers_wanted > 1 else ''}"
        notes = [f"{label(run)}: {text}" for run in self.runs for text in run.result.get("notes", [])]
        issues = [f"{label(run)}: {text} (×{count})" for run in self.runs
                  for text, count in run.result.get("log_issues", {}).items()]
        if notes or issues:
            out.append("")
            out.append("Notes from the run:\n")
            out += [f"- {text}" for text in notes + issues]
        if self.args.plot:
            out.append("")
            name = os.path.relpath(os.path.abspath(self.args.plot), os.path.dirname(os.path.abspath(path)))
            out.append(f"![throughput vs workers]({name})")
        out.append("")
        out.append("Figures from one run on a shared machine; re-run `ops/scale` to compare.")
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "w") as handle:
            handle.write("\n".join(out) + "\n")
        log(f"wrote {path}")

    def plot(self, path: str):
        if not self.args.plot_python:
            log("--plot given but no plotting python (run through ops/scale); skipped")
            return
        data = os.path.join(self.dir, "results.json")
        with open(data, "w") as handle:
            json.dump({"machine": self.machine, "args": {k: v for k, v in vars(self.args).items() if isinstance(v, (int, float, str, list))},
                       "runs": [run.result for run in self.runs]}, handle, indent=1)
        result = subprocess.run([self.args.plot_python, os.path.join(self.root, "ops", "scale.d", "plot.py"), data, path],
                                capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if result.returncode != 0:
            raise HarnessError(f"plot failed: {result.stderr.strip()[-1000:]}")
        log(f"wrote {path}")

    def cleanup(self):
        for run in self.runs:
            run.cleanup()
        kill_marked(self.marker)
        if self.args.keep:
            log(f"kept {self.dir} (w*/logs, w*/home/trainyard.db, w*/home/state/runs)")
        else:
            shutil.rmtree(self.dir, ignore_errors=True)


def parse_args(argv: list[str]):
    parser = argparse.ArgumentParser(prog="ops/scale", description="Scaling run of local Trainyard fleets (see ops/scale).")
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--workers", default="1 2 4", help='worker counts, e.g. "1 2 4" (spaces or commas)')
    parser.add_argument("--run-seconds", type=float, default=0.2, help="each job is /bin/sleep S")
    parser.add_argument("--partitions", type=int, default=12)
    parser.add_argument("--concurrency", type=int, default=16, help="jobs at once per worker")
    parser.add_argument("--plot", default="", help="write a PNG of throughput vs workers here")
    parser.add_argument("--markdown", default="docs/scaling.md", help="figures table (relative to the repo root); 'none' to skip")
    parser.add_argument("--timeout", type=float, default=None, help="per run, seconds after the workers start (default 300 + N × S)")
    parser.add_argument("--stall-timeout", type=float, default=120.0, help="give up a run after this long without a job finishing")
    parser.add_argument("--submit-batch", type=int, default=1000, help=argparse.SUPPRESS)
    parser.add_argument("--worker-kafka-property", action="append", default=[], metavar="K=V",
                        help="extra librdkafka property for the workers (repeatable), e.g. fetch.wait.max.ms=100")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir")
    parser.add_argument("--check-args", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--binary", help=argparse.SUPPRESS)
    parser.add_argument("--root", help=argparse.SUPPRESS)
    parser.add_argument("--plot-python", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        args.worker_counts = [int(x) for x in args.workers.replace(",", " ").split()]
    except ValueError:
        parser.error(f"--workers: not a list of numbers: {args.workers!r}")
    if not args.worker_counts or any(w < 1 for w in args.worker_counts):
        parser.error("--workers needs at least one count, each ≥ 1")
    if args.jobs < 1 or args.partitions < 1 or args.concurrency < 1 or args.run_seconds < 0:
        parser.error("--jobs, --partitions, --concurrency must be ≥ 1 and --run-seconds ≥ 0")
    if args.run_seconds == 0:
        args.run_seconds = 0.0
    if args.markdown.lower() in ("", "none"):
        args.markdown = ""
    if not args.check_args:
        if not args.binary or not args.root:
            parser.error("run it through ops/scale (--binary and --root are set there)")
        if args.markdown and not os.path.isabs(args.markdown):
            args.markdown = os.path.join(args.root, args.markdown)
        if args.plot:
            args.plot = os.path.abspath(args.plot)
    return args


def main() -> int:
    args = parse_args(sys.argv[1:])
    if args.check_args:
        return 0
    if args.run_seconds == 0:
        log("note: --run-seconds 0: the concurrency bound is infinite")
    scale = Scale(args)
    log(f"jobs {args.jobs} × sleep {args.run_seconds:g} s, workers {args.worker_counts}, partitions {args.partitions}, "
        f"concurrency {args.concurrency}; temp dir {scale.dir}")
    return run_until_done(scale.run_all, scale.cleanup)


if __name__ == "__main__":
    sys.exit(main())
