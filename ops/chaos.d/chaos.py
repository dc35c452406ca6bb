#!/usr/bin/env python3
"""The chaos harness behind ops/chaos (see its header for what is run and what is checked).

Python 3.11 standard library only. Run it through ops/chaos, which builds the binary and puts
our librdkafka on LD_LIBRARY_PATH (kcat needs it).
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import random
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import broker_faults  # noqa: E402
from harness import (  # noqa: E402  (after the path is set)
    T0,
    TERMINAL,
    HarnessError,
    ServiceProcess,
    kill_local_runs,
    kill_marked,
    log,
    proc_cmdline,
    run_then_tidy,
    set_name,
    supervisor_pids,
)

set_name("chaos")

# ---------------------------------------------------------------------------------------------
# The plan: every random choice, from the seed.

SCRIPT = (
    'echo "$TRAINYARD_JOB_ID $TRAINYARD_ATTEMPT $(date +%s.%N)" >> "$CHAOS_STARTS"; '
    'sleep "$1"; '
    'echo "$TRAINYARD_JOB_ID $TRAINYARD_ATTEMPT $(date +%s.%N)" >> "$CHAOS_ENDS"; '
    'exit "$2"'
)


@dataclasses.dataclass
class Job:
    index: int
    kind: str  # ok | fail | slow
    sleep: float
    exit_code: int
    max_runtime: int
    cancel_after: float | None
    batch: int
    job_id: str = ""
    submitted_at: float = 0.0  # wall clock, just before its batch's submit started
    cancel_sent_at: float | None = None  # wall clock, just before `trainyard cancel` started
    cancel_done_at: float | None = None

    def spec(self, starts: str, ends: str, backend: str = "local") -> dict:
        if backend == "simulated":
            # Nothing runs: the simulated backend plays the same script from the job's labels.
            labels = {"trainyard.io.simulate-seconds": f"{self.sleep:.2f}", "trainyard.io.simulate-exit-code": str(self.exit_code)}
            return {**self.spec(starts, ends), "command": ["true"], "env": {},
                    "labels": {"chaos-index": str(self.index), "chaos-kind": self.kind, **labels}}
        return {
            "apiVersion": "trainyard/v1",
            "name": f"chaos-{self.index:05d}-{self.kind}",
            "team": "chaos",
            "kind": "batch",
            "command": ["/bin/sh", "-c", SCRIPT, "chaos-job", f"{self.sleep:.2f}", str(self.exit_code)],
            "env": {"CHAOS_STARTS": starts, "CHAOS_ENDS": ends},
            "maxRuntimeSeconds": self.max_runtime,
            "retry": {"maxAttempts": 2, "backoffSeconds": 1},
            "labels": {"chaos-index": str(self.index), "chaos-kind": self.kind},
        }


def plan_jobs(seed: int, count: int, batches: int) -> list[Job]:
    rng = random.Random(f"{seed}/jobs")
    jobs = []
    for index in range(count):
        roll = rng.random()
        if roll < 0.15:
            kind, sleep, code, max_runtime = "fail", rng.uniform(0.1, 3.0), rng.randint(1, 120), 30
        elif roll < 0.24:
            kind, sleep, code, max_runtime = "slow", rng.uniform(2.2, 3.0), 0, 1
        else:
            kind, sleep, code, max_runtime = "ok", rng.uniform(0.1, 3.0), 0, 30
        cancel = rng.uniform(0.0, 3.0) if rng.random() < 0.08 else None
        jobs.append(Job(index, kind, round(sleep, 2), code, max_runtime, cancel, index * batches // count))
    return jobs


# ---------------------------------------------------------------------------------------------
# Processes


class Service(ServiceProcess):
    """One incarnation of `trainyard aggregator|worker`, started detached, output to its own log."""

    def __init__(self, name: str, argv: list[str], env: dict, log_path: str):
        self.name = name
        self.log_path = log_path
        self.log_offset = 0
        self.log_rest = b""
        self.assigned: set[str] = set()  # partitions, from its log
        self.started_at = time.time()
        self.first_assignment_at: float | None = None
        self.assignments = 0
        self.partial_revocations = 0
        self.incremental_assignments = 0
        self.revocations = 0
        self.start(argv, env, log_path)

    def kill9(self) -> float:
        at = time.time()
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()
        return at

    CHANGE = re.compile(r"partitions (assigned|revoked)")
    # Both spellings seen: partitions=["p.requests[0]", "p.requests[1]"] and partitions=p.requests[0,1] p.events[2]
    PARTITIONS = re.compile(r"([A-Za-z0-9._-]+)\[([0-9][0-9, ]*)\]")

    def read_log(self) -> list[tuple[str, set[str]]]:
        """New assignment changes in its log since the last call (applied to `assigned`)."""
        try:
            with open(self.log_path, "rb") as handle:
                handle.seek(self.log_offset)
                data = handle.read()
        except OSError:
            return []
        self.log_offset += len(data)
        lines = (self.log_rest + data).split(b"\n")
        self.log_rest = lines.pop()
        changes = []
        for raw in lines:
            line = raw.decode(errors="replace")
            match = self.CHANGE.search(line)
            if not match or "partitions=" not in line:
                continue
            partitions = {f"{topic}[{number.strip()}]" for topic, numbers in self.PARTITIONS.findall(line.split("partitions=", 1)[1])
                          for number in numbers.split(",") if number.strip()}
            if match.group(1) == "assigned":
                if self.assigned or not partitions:
                    self.incremental_assignments += 1  # eager assignments always start from nothing
                self.assigned |= partitions
                self.assignments += 1
                if self.first_assignment_at is None:
                    self.first_assignment_at = time.time()
            else:
                self.revocations += 1
                if partitions and partitions < self.assigned:
                    self.partial_revocations += 1
                self.assigned -= partitions
            changes.append((match.group(1), partitions))
        return changes


# ---------------------------------------------------------------------------------------------
# Store and topics


def open_ro(path: str) -> sqlite3.Connection | None:
    if not os.path.exists(path):
        return None
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    return connection


def store_states(path: str) -> dict[str, tuple]:
    """job_id → (state, exit_code, attempt) from a store; {} while it does not exist yet."""
    try:
        connection = open_ro(path)
        if connection is None:
            return {}
        try:
            return {row[0]: row[1:] for row in connection.execute("SELECT job_id, state, exit_code, attempt FROM jobs")}
        finally:
            connection.close()
    except sqlite3.Error:
        return {}


def store_offsets(path: str) -> dict[tuple[str, int], int]:
    try:
        connection = open_ro(path)
        if connection is None:
            return {}
        try:
            return {(t, p): o for t, p, o in connection.execute("SELECT topic, partition, next_offset FROM consumed_offsets")}
        finally:
            connection.close()
    except sqlite3.Error:
        return {}


def store_tables(path: str) -> dict[str, tuple[list[str], dict]]:
    """table → (columns, job_id → rows in a canonical order), for every table of the store but
    consumed_offsets, status_outbox, the alert tables and schema_migrations (rows of tables without a
    job_id column under None)."""
    connection = open_ro(path)
    if connection is None:
        raise HarnessError(f"no store at {path}")
    try:
        tables = {}
        names = [row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
        for table in sorted(names):
            # Delivery state, not facts: where each store is in reading the topics and in
            # publishing the status topic (a verifying replay does not publish); alerts depend on
            # the aggregator's clock, not on the topics (a verifying replay runs --no-alerts).
            if table in ("consumed_offsets", "schema_migrations", "status_outbox", "alerts_firing", "alert_outbox"):
                continue
            cursor = connection.execute(f'SELECT * FROM "{table}"')
            columns = [description[0] for description in cursor.description]
            key = columns.index("job_id") if "job_id" in columns else None
            rows: dict = defaultdict(list)
            for row in cursor:
                rows[row[key] if key is not None else None].append(row)
            for group in rows.values():
                group.sort(key=repr)
            tables[table] = (columns, dict(rows))
        return tables
    finally:
        connection.close()


def kcat(brokers: str, topic: str, fmt: str, timeout: float = 120) -> list[str]:
    """Every message of `topic` (all partitions, from the beginning), one formatted line each."""
    result = subprocess.run(
        ["kcat", "-b", brokers, "-C", "-t", topic, "-o", "beginning", "-e", "-q", "-f", fmt],
        capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        raise HarnessError(f"kcat on {topic} failed ({result.returncode}): {result.stderr.strip()[-500:]}")
    return [line for line in result.stdout.split("\n") if line]


def topic_ends(brokers: str, topics: list[str]) -> dict[tuple[str, int], int]:
    """(topic, partition) → next offset after the last message, read through (Tansu's
    ListOffsets LATEST is wrong on the local broker, so the messages themselves are counted)."""
    ends: dict[tuple[str, int], int] = {}
    for topic in topics:
        for line in kcat(brokers, topic, "%p %o\n"):
            partition, offset = (int(part) for part in line.split())
            ends[(topic, partition)] = max(ends.get((topic, partition), 0), offset + 1)
    return ends


def caught_up(offsets: dict, ends: dict) -> bool:
    return all(offsets.get(key, 0) >= end for key, end in ends.items())


def simulated_markers(path: str) -> tuple[list[tuple[str, int, float]], list[tuple[str, int, float]]]:
    """The simulated backend's state file read as the starts and ends files: one start per row of
    its audit trail (simulated_starts), and an end for each attempt whose scripted run ended by
    itself (before its timeout and any stop) by now."""
    connection = open_ro(path)
    if connection is None:
        return [], []
    try:
        starts = [(job_id, attempt, at) for job_id, attempt, at in connection.execute(
            "SELECT job_id, attempt, started_at FROM simulated_starts ORDER BY started_at")]
        ends = [(job_id, attempt, at) for job_id, attempt, at in connection.execute(
            "SELECT job_id, attempt, ends_at FROM simulated_attempts WHERE ends_at <= times_out_at AND ends_at <= ? "
            "AND (stopped_at IS NULL OR stopped_at >= ends_at)", (time.time(),))]
        return starts, ends
    except sqlite3.Error:
        return [], []
    finally:
        connection.close()


def read_markers(path: str) -> list[tuple[str, int, float]]:
    """Lines "<job id> <attempt> <epoch seconds>" of a starts or ends file."""
    markers = []
    if not os.path.exists(path):
        return markers
    with open(path) as handle:
        for line in handle:
            parts = line.split()
            if len(parts) >= 2:
                markers.append((parts[0], int(parts[1]), float(parts[2]) if len(parts) > 2 else 0.0))
    return markers


# ---------------------------------------------------------------------------------------------
# The run


class Chaos:
    def __init__(self, args):
        self.args = args
        self.seed = args.seed
        self.rng = random.Random(f"{self.seed}/chaos")
        self.root = args.root
        self.dir = tempfile.mkdtemp(prefix=f"trainyard-chaos-{self.seed}-")
        self.bin = os.path.join(self.dir, "bin", "trainyard")
        self.home = os.path.join(self.dir, "home")
        self.replay_home = os.path.join(self.dir, "replay")
        self.logs = os.path.join(self.dir, "logs")
        self.specs = os.path.join(self.dir, "specs")
        self.broker_dir = os.path.join(self.dir, "broker")
        self.starts = os.path.join(self.dir, "starts")
        self.ends = os.path.join(self.dir, "ends")
        self.runs = os.path.join(self.home, "state", "runs")
        self.simulated_state = os.path.join(self.home, "state", "simulated.sqlite")
        self.worker_config = os.path.join(self.dir, "worker.yaml")
        self.db = os.path.join(self.home, "trainyard.db")
        self.replay_db = os.path.join(self.replay_home, "trainyard.db")
        self.prefix = f"chaos{self.seed % 1000000}"
        self.topics = [f"{self.prefix}.requests", f"{self.prefix}.events"]
        self.brokers = ""
        self.marker = f"TRAINYARD_CHAOS_RUN={self.dir}".encode()
        self.job_marker = f"CHAOS_STARTS={self.starts}".encode()
        self.workers: list[Service | None] = [None] * args.workers
        self.incarnations = Counter()
        self.aggregator: Service | None = None
        self.replay: Service | None = None
        self.retired: list[Service] = []
        self.children: list[subprocess.Popen] = []  # cancel commands in flight
        self.kills: list[dict] = []
        self.aggregator_kills: list[float] = []
        self.broker_started = False
        self.jobs = plan_jobs(self.seed, args.jobs, min(10, args.jobs))
        self.by_id: dict[str, Job] = {}
        self.starts_count = 0
        self.starts_offset = 0
        self.first_submit = 0.0
        self.notes: list[str] = []
        self.hostname = socket.gethostname()
        self.role_options: dict[str, list[str]] = {}
        # --broker-faults: Tansu behind a fault proxy, and the faults it went through.
        self.tansu: broker_faults.ProxiedTansu | None = None
        self.store: broker_faults.ObjectStore | None = None
        self.proxy: broker_faults.FaultProxy | None = None
        self.faults: broker_faults.FaultInjector | None = None
        self.fault_in_flight: set[str] = set()
        self.fault_gate = threading.Lock()

    # -- environment ----------------------------------------------------------------------

    def env(self, home: str | None = None) -> dict:
        env = {key: value for key, value in os.environ.items()
               if key not in ("TRAINYARD_DB", "TRAINYARD_STATE_DIR", "TRAINYARD_KAFKA_PROPERTIES", "TRAINYARD_CONCURRENCY",
                              "TRAINYARD_SECRETS_DIR")}
        env.update({
            "TRAINYARD_BROKERS": self.brokers, "TRAINYARD_TOPIC_PREFIX": self.prefix, "TRAINYARD_HOME": home or self.home,
            "TRAINYARD_LOG_LEVEL": os.environ.get("TRAINYARD_LOG_LEVEL", "info"), "TRAINYARD_CHAOS_RUN": self.dir,
            "TRAINYARD_LOG_FORMAT": "text",  # the assignment lines of the worker logs are parsed
        })
        return env

    def cli(self, *arguments: str, timeout: float = 120) -> str:
        result = subprocess.run([self.bin, *arguments], env=self.env(), capture_output=True, text=True, timeout=timeout,
                                stdin=subprocess.DEVNULL)
        if result.returncode != 0:
            raise HarnessError(f"trainyard {arguments[0]} failed ({result.returncode}): {result.stderr.strip()[-1000:]}")
        return result.stdout

    # -- setup ----------------------------------------------------------------------------

    def setup(self):
        for path in (os.path.dirname(self.bin), self.home, self.replay_home, self.logs, self.specs, self.broker_dir):
            os.makedirs(path, exist_ok=True)
        shutil.copy2(self.args.binary, self.bin)  # a rebuild during the run must not change what runs
        supervisor = os.path.join(os.path.dirname(self.args.binary), "trainyard-local-supervise")
        if os.path.exists(supervisor):  # the local backend runs it from beside the worker's binary
            shutil.copy2(supervisor, os.path.join(os.path.dirname(self.bin), "trainyard-local-supervise"))
        with open(self.worker_config, "w") as handle:
            handle.write("backends:\n  - {name: simulated, type: simulated}\n")
        # Services that serve /metrics get a free port each (several run on this host).
        for role in ("worker", "aggregator"):
            usage = subprocess.run([self.bin, role, "--help"], capture_output=True, text=True, stdin=subprocess.DEVNULL).stdout
            self.role_options[role] = ["--http-address", "127.0.0.1:0"] if "--http-address" in usage else []
        for attempt in range(3 if not self.args.broker_faults else 0):
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                port = probe.getsockname()[1]
            result = subprocess.run([os.path.join(self.root, "ops", "broker"), "--dir", self.broker_dir, "--port", str(port), "start"],
                                    capture_output=True, text=True, stdin=subprocess.DEVNULL)
            if result.returncode == 0:
                break
            if attempt == 2:
                raise HarnessError(f"ops/broker start failed: {result.stderr.strip()[-1000:]}")
        if self.args.broker_faults:
            # The fleet (and this harness) reach the broker only through the fault proxy.
            broker_port, port = broker_faults.free_port(), broker_faults.free_port()
            if self.args.broker_storage == "s3":
                self.store = broker_faults.ObjectStore(self.args.python, os.path.join(self.root, "ops", "test-peers", "s3_store.py"),
                                                       self.broker_dir)
                log(f"broker storage: S3 at {self.store.endpoint}")
            self.tansu = broker_faults.ProxiedTansu(os.environ["TANSU_BIN"], self.broker_dir, broker_port, port, self.store)
            self.proxy = broker_faults.FaultProxy(port, ("127.0.0.1", broker_port))
        self.broker_started = True
        self.brokers = f"127.0.0.1:{port}"
        log(f"broker {self.brokers} (dir {self.broker_dir}), topic prefix {self.prefix}, temp dir {self.dir}")
        self.cli("topics", "create", "--partitions", str(self.args.partitions))
        self.start_aggregator()
        for slot in range(self.args.workers):
            self.start_worker(slot)
        # Submit once the group has settled, so that the throughput covers running, not joining.
        deadline = time.monotonic() + 60
        wanted = {f"{self.prefix}.requests[{p}]" for p in range(self.args.partitions)}
        stable_since = None
        while time.monotonic() < deadline:
            self.poll_logs()
            owners = self.ownership()
            covered = set(owners) == wanted and all(len(o) == 1 for o in owners.values())
            if covered:
                stable_since = stable_since or time.monotonic()
                if time.monotonic() - stable_since > 2:
                    break
            else:
                stable_since = None
            self.check_services()
            time.sleep(0.2)
        owners = self.ownership()
        joins = [w.first_assignment_at - w.started_at for w in self.workers if w and w.first_assignment_at]
        if not owners:
            log(f"warning: no partition assignment seen in the worker logs within 60 s (strategy {self.args.strategy}); "
                f"submitting anyway (see {self.logs}/worker-*.log)")
            self.notes.append("no partition assignment seen in the worker logs before submission")
        log(f"group settled: {len(owners)}/{len(wanted)} partitions owned by {sum(1 for w in self.workers if w and w.assigned)} "
            f"workers, first assignment {min(joins):.1f}–{max(joins):.1f} s after start ({self.args.strategy})"
            if joins else "group: no assignment seen")
        if set(owners) != wanted:
            self.notes.append(f"at submission only {len(owners)}/{len(wanted)} partitions were owned")

    def service_argv(self, role: str, extra: list[str]) -> list[str]:
        timeouts = []
        if self.args.session_timeout_ms:
            session = self.args.session_timeout_ms
            timeouts = ["--kafka-property", f"session.timeout.ms={session}",
                        "--kafka-property", f"heartbeat.interval.ms={max(100, session // 3)}"]
        return [self.bin, role, *timeouts, *self.role_options.get(role, []), *extra]

    def start_aggregator(self):
        self.incarnations["aggregator"] += 1
        name = f"aggregator.{self.incarnations['aggregator']}"
        self.aggregator = Service(name, self.service_argv("aggregator", ["--group", f"{self.prefix}-aggregator"]), self.env(),
                                  os.path.join(self.logs, f"{name}.log"))
        log(f"started {name} (pid {self.aggregator.pid})")

    def start_worker(self, slot: int):
        self.incarnations[f"worker-{slot + 1}"] += 1
        name = f"worker-{slot + 1}.{self.incarnations[f'worker-{slot + 1}']}"
        argv = self.service_argv("worker", [
            "--group", f"{self.prefix}-workers", "--assignment-strategy", self.args.strategy,
            "--concurrency", str(self.args.concurrency),
            *(["--config", self.worker_config] if self.args.backend == "simulated" else [])])
        self.workers[slot] = Service(name, argv, self.env(), os.path.join(self.logs, f"{name}.log"))
        log(f"started {name} (pid {self.workers[slot].pid})")

    def check_services(self):
        for service in [self.aggregator, *self.workers]:
            if service and not service.alive():
                raise HarnessError(f"{service.name} exited by itself with status {service.process.returncode}; see {service.log_path}")

    def poll_logs(self):
        for worker in self.workers:
            if worker:
                worker.read_log()

    def ownership(self) -> dict[str, list[str]]:
        owners: dict[str, list[str]] = defaultdict(list)
        for worker in self.workers:
            if worker and worker.alive():
                for partition in worker.assigned:
                    owners[partition].append(worker.name)
        return owners

    # -- chaos ----------------------------------------------------------------------------

    def submit_batch(self, batch: int):
        jobs = [job for job in self.jobs if job.batch == batch]
        files = []
        for job in jobs:
            path = os.path.join(self.specs, f"job-{job.index:05d}.json")
            with open(path, "w") as handle:
                json.dump(job.spec(self.starts, self.ends, self.args.backend), handle)
            files.append(path)
        at = time.time()
        ids = self.cli("submit", *files, timeout=300).split()
        if len(ids) != len(jobs):
            raise HarnessError(f"trainyard submit printed {len(ids)} ids for {len(jobs)} files")
        for job, job_id in zip(jobs, ids):
            job.job_id, job.submitted_at = job_id, at
            self.by_id[job_id] = job
        if batch == 0:
            self.first_submit = at
        log(f"submitted batch {batch + 1}: {len(jobs)} jobs in {time.time() - at:.1f} s")

    # -- broker faults --------------------------------------------------------------------

    def gate_open(self) -> bool:
        """True (holding the gate) when no broker fault is under way, so a client command may start."""
        if self.faults is None:
            return True
        self.fault_gate.acquire()
        if self.faults.active is None:
            return True
        self.fault_gate.release()
        return False

    def release_gate(self):
        if self.faults is not None:
            self.fault_gate.release()

    def start_faults(self):
        self.faults = broker_faults.FaultInjector(self.fault_plan, self.tansu, self.proxy, log=log, gate=self.fault_gate,
                                                  busy=lambda: bool(self.children), settled=self.faults_settled,
                                                  on_start=self.note_in_flight)
        self.faults.start()
        log("broker faults planned: " + ", ".join(f"+{fault.at:.0f}s {fault.describe()}" for fault in self.fault_plan))

    def note_in_flight(self, fault: broker_faults.Fault):
        """At a fault's start: the jobs in flight (claimed, not terminal) as the store shows them."""
        states = store_states(self.db)
        self.fault_in_flight = {job_id for job_id in self.by_id if states.get(job_id, ("QUEUED",))[0] not in TERMINAL | {"QUEUED"}}

    def faults_settled(self) -> bool:
        """True when the jobs in flight at the last fault's start are terminal in the store (or 120 s
        after that fault ended), so the next fault does not fall into the last one's recovery."""
        last = self.faults.done[-1] if self.faults is not None and self.faults.done else None
        if last is None or time.time() - last.ended > 120:
            return True
        states = store_states(self.db)
        return all(states.get(job_id, ("",))[0] in TERMINAL for job_id in self.fault_in_flight)

    def recoveries(self, events) -> list[tuple[broker_faults.Fault, int, float | None]]:
        """Per broker fault: the jobs in flight when it began (their last event before it was not
        terminal) and the recovery: from the broker's return to the last of their next terminal
        events (0 when all were terminal before it returned; None when one never was)."""
        results = []
        for fault in self.faults.done if self.faults else []:
            last: dict[str, dict] = {}
            for event in events:
                if event["_ts"] >= fault.started:
                    break
                last[event.get("jobId")] = event
            in_flight = {job_id for job_id, event in last.items() if job_id in self.by_id and event.get("state") not in TERMINAL}
            finished: dict[str, float] = {}
            for event in events:
                job_id = event.get("jobId")
                if event["_ts"] >= fault.started and job_id in in_flight and event.get("state") in TERMINAL:
                    finished.setdefault(job_id, event["_ts"])
            recovery = None if in_flight - set(finished) else max([0.0, *(at - fault.ended for at in finished.values())])
            results.append((fault, len(in_flight), recovery))
        return results

    def count_starts(self) -> int:
        if self.args.backend == "simulated":
            return len(simulated_markers(self.simulated_state)[0])
        try:
            with open(self.starts, "rb") as handle:
                handle.seek(self.starts_offset)
                data = handle.read()
        except OSError:
            return self.starts_count
        complete = data.rfind(b"\n") + 1
        self.starts_offset += complete
        self.starts_count += data[:complete].count(b"\n")
        return self.starts_count

    def reap_children(self):
        still = []
        for child in self.children:
            code = child.poll()
            if code is None:
                still.append(child)
            else:
                job = child.chaos_job  # type: ignore[attr-defined]
                job.cancel_done_at = time.time()
                if code != 0:
                    self.notes.append(f"trainyard cancel {job.job_id} exited {code}")
        self.children = still

    def run_chaos(self) -> tuple[set[str], str]:
        """Submits, cancels and kills until every job is terminal (or the deadline / a stall)."""
        args = self.args
        batches = sorted({job.batch for job in self.jobs})
        batch_gaps = [self.rng.uniform(0.5, 2.0) for _ in batches]
        if self.proxy is not None:
            # Spread the submissions over the fault plan, so that faults meet jobs in flight.
            self.fault_plan = broker_faults.plan_faults(self.seed, None, pauses=args.broker_pauses, max_pause=args.max_broker_pause,
                                                        restarts=args.broker_restarts)
            span = self.fault_plan[-1].at + self.fault_plan[-1].seconds
            batch_gaps = [span / len(batches) * self.rng.uniform(0.7, 1.3) for _ in batches]
            args.deadline += span
        # one threshold in each of A equal slices of 10–90 % of the jobs started, so the kills are spread out
        slices = max(1, args.aggregator_kills)
        aggregator_thresholds = [(0.1 + 0.8 * (k + self.rng.random()) / slices) * len(self.jobs) for k in range(args.aggregator_kills)]
        next_batch = 0
        next_batch_at = time.monotonic()
        next_kill_at = time.monotonic() + self.rng.uniform(0.5, 1.5) * args.kill_interval
        restarts: list[tuple[float, str, int]] = []  # (monotonic time, role, slot)
        kills_left = args.kills if args.kills is not None else 10 ** 9
        cancels = []
        deadline = None
        last_progress = time.monotonic()
        last_terminal = -1
        next_report = time.monotonic()
        terminal: set[str] = set()
        reason = "all terminal"
        while True:
            now = time.monotonic()
            self.poll_logs()
            self.reap_children()
            # submissions (never while a broker fault is under way; a fault waits for a submission)
            if next_batch < len(batches) and now >= next_batch_at and self.gate_open():
                try:
                    self.submit_batch(batches[next_batch])
                finally:
                    self.release_gate()
                for job in self.jobs:
                    if job.batch == batches[next_batch] and job.cancel_after is not None:
                        cancels.append((time.time() + job.cancel_after, job))
                cancels.sort(key=lambda entry: entry[0])
                next_batch_at = time.monotonic() + batch_gaps[next_batch]
                next_batch += 1
                if next_batch == 1 and self.proxy is not None:
                    self.start_faults()
                if next_batch == len(batches):
                    deadline = time.monotonic() + args.deadline - (time.time() - self.first_submit)
                continue
            # cancels (at most 4 `trainyard cancel` processes at once)
            while cancels and cancels[0][0] <= time.time() and len(self.children) < 4 and self.gate_open():
                try:
                    _, job = cancels.pop(0)
                    job.cancel_sent_at = time.time()
                    child = subprocess.Popen([self.bin, "cancel", job.job_id, "--reason", "chaos"], env=self.env(),
                                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                    child.chaos_job = job  # type: ignore[attr-defined]
                    self.children.append(child)  # a running cancel counts as busy: no fault starts until it ended
                finally:
                    self.release_gate()
            # restarts due
            for entry in [r for r in restarts if r[0] <= now]:
                restarts.remove(entry)
                if entry[1] == "aggregator":
                    self.start_aggregator()
                else:
                    self.start_worker(entry[2])
            # worker kills
            if now >= next_kill_at and kills_left > 0 and next_batch > 0:
                slot = self.rng.randrange(args.workers)
                victim = self.workers[slot]
                if victim is not None and victim.alive():
                    owned = sorted(victim.assigned)
                    at = victim.kill9()
                    self.retired.append(victim)
                    self.workers[slot] = None
                    self.kills.append({"at": at, "name": victim.name, "pid": victim.pid, "partitions": owned,
                                       "reassigned_at": None})
                    kills_left -= 1
                    delay = self.rng.uniform(0.5, 2.0)
                    restarts.append((now + delay, "worker", slot))
                    log(f"kill -9 {victim.name} (pid {victim.pid}, {len(owned)} partitions); restart in {delay:.1f} s")
                next_kill_at = now + self.rng.uniform(0.5, 1.5) * args.kill_interval
            # aggregator kills, at thresholds of started jobs (an outside measure of progress)
            started = self.count_starts()
            if (aggregator_thresholds and started >= aggregator_thresholds[0] and self.aggregator is not None
                    and time.time() - self.aggregator.started_at > 3):
                aggregator_thresholds.pop(0)
                victim = self.aggregator
                at = victim.kill9()
                self.retired.append(victim)
                self.aggregator = None
                self.aggregator_kills.append(at)
                delay = self.rng.uniform(0.5, 3.0)
                restarts.append((now + delay, "aggregator", 0))
                log(f"kill -9 {victim.name} (pid {victim.pid}) at {started} starts; restart in {delay:.1f} s")
            self.track_reassignments()
            self.check_services()
            # progress
            states = store_states(self.db)
            terminal = {job_id for job_id in self.by_id if states.get(job_id, ("",))[0] in TERMINAL}
            if len(terminal) != last_terminal:
                last_terminal, last_progress = len(terminal), now
            if now >= next_report:
                counts = Counter(states[job_id][0] for job_id in self.by_id if job_id in states)
                log(f"submitted {len(self.by_id)}/{len(self.jobs)}, started {started}, terminal {len(terminal)} "
                    f"(store: {dict(sorted(counts.items()))}), worker kills {len(self.kills)}, "
                    f"aggregator kills {len(self.aggregator_kills)}")
                next_report = now + 5
            everything_sent = next_batch == len(batches) and not cancels and not self.children
            if everything_sent and len(terminal) == len(self.jobs) and not restarts and (self.faults is None or self.faults.finished):
                reason = "all jobs terminal"
                break
            if deadline is not None and now >= deadline:
                reason = f"deadline ({args.deadline:.0f} s after the first submission)"
                break
            if self.faults is not None and self.faults.active is not None:
                last_progress = now  # nothing can progress while the broker is away: a stall counts from its return
            if everything_sent and now - last_progress > args.stall_timeout and not restarts:
                reason = f"no job became terminal for {args.stall_timeout:.0f} s"
                break
            time.sleep(0.2)
        if self.faults is not None:
            self.faults.stop()
        for entry in restarts:  # bring the fleet back to full strength for the settle phase
            if entry[1] == "aggregator":
                self.start_aggregator()
            else:
                self.start_worker(entry[2])
        while self.children:
            self.reap_children()
            time.sleep(0.1)
        self.chaos_end = time.time()
        log(f"chaos phase over: {reason}; {len(terminal)}/{len(self.jobs)} terminal, {len(self.kills)} worker kills, "
            f"{len(self.aggregator_kills)} aggregator kills")
        return terminal, reason

    def track_reassignments(self):
        """For each kill: when every partition the victim held is owned by some live worker."""
        owners = None
        for kill in self.kills:
            if kill["reassigned_at"] is None:
                owners = owners if owners is not None else self.ownership()
                if all(partition in owners for partition in kill["partitions"]):
                    kill["reassigned_at"] = time.time()

    # -- settle ---------------------------------------------------------------------------

    def wait_caught_up(self, db: str, what: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            ends = topic_ends(self.brokers, self.topics)
            offsets = store_offsets(db)
            if caught_up(offsets, ends):
                # the topics are quiet by now (workers stopped): read their ends once more to be sure
                if topic_ends(self.brokers, self.topics) == ends:
                    return True
                continue
            if time.monotonic() >= deadline:
                behind = {f"{t}[{p}]": f"{offsets.get((t, p), 0)}/{e}" for (t, p), e in ends.items() if offsets.get((t, p), 0) < e}
                log(f"{what} has not caught up after {timeout:.0f} s: {behind}")
                return False
            time.sleep(1)

    def settle(self, terminal_at_deadline: set[str]) -> set[str]:
        grace_until = time.monotonic() + (0 if len(terminal_at_deadline) == len(self.jobs) else self.args.grace)
        while time.monotonic() < grace_until:
            states = store_states(self.db)
            if all(states.get(job_id, ("",))[0] in TERMINAL for job_id in self.by_id):
                break
            time.sleep(1)
        self.poll_logs()
        owners = self.ownership()
        wanted = {f"{self.prefix}.requests[{p}]" for p in range(self.args.partitions)}
        double = {p: o for p, o in owners.items() if len(o) > 1}
        log(f"assignment at the end (worker logs): {len(owners)}/{len(wanted)} partitions owned"
            + (f", owned twice: {double}" if double else ""))
        recent_kill = self.kills and time.time() - self.kills[-1]["at"] < 30
        if set(owners) != wanted and not recent_kill:
            self.notes.append(f"at the end of the chaos phase (no worker kill in the last 30 s) partitions without an owner: "
                              f"{sorted(wanted - set(owners))}")
        # Workers first (SIGTERM: graceful hand-over), then wait for the jobs they started to end.
        for worker in self.workers:
            if worker:
                if not worker.stop(20):
                    self.notes.append(f"{worker.name} ignored SIGTERM for 20 s")
                self.retired.append(worker)
        self.workers = [None] * len(self.workers)
        deadline = time.monotonic() + 20
        while supervisor_pids(self.runs) and time.monotonic() < deadline:
            time.sleep(0.5)
        left = supervisor_pids(self.runs)
        if left:
            self.notes.append(f"{len(left)} local supervisors still ran 20 s after the workers stopped: "
                              + ", ".join(proc_cmdline(pid)[2] for pid in left[:5]))
        log("workers stopped; waiting for the aggregator to reach the ends of the topics")
        if not self.wait_caught_up(self.db, "the aggregator", 90):
            self.notes.append("the aggregator did not catch up with the topics")
        states = store_states(self.db)
        lost = {job_id for job_id in self.by_id if states.get(job_id, ("",))[0] not in TERMINAL}
        # The replay: a second aggregator, own home and group, from offset 0.
        self.replay = Service("replay-aggregator", self.service_argv("aggregator", ["--group", f"{self.prefix}-replay", "--no-status-topic", "--no-alerts"]),
                              self.env(self.replay_home), os.path.join(self.logs, "replay-aggregator.log"))
        log(f"started the replay aggregator (pid {self.replay.pid}, home {self.replay_home})")
        started = time.monotonic()
        if not self.wait_caught_up(self.replay_db, "the replay aggregator", 180):
            self.notes.append("the replay aggregator did not catch up with the topics")
        log(f"replay caught up in {time.monotonic() - started:.1f} s")
        for service in (self.aggregator, self.replay):
            if service and not service.stop(20):
                self.notes.append(f"{service.name} ignored SIGTERM for 20 s")
        return lost

    # -- analysis -------------------------------------------------------------------------

    def analyse(self, terminal_at_deadline: set[str], lost: set[str], reason: str) -> int:
        if self.args.backend == "simulated":
            starts, ends = simulated_markers(self.simulated_state)
        else:
            starts, ends = read_markers(self.starts), read_markers(self.ends)
        start_count = Counter((job_id, attempt) for job_id, attempt, _ in starts)
        double_started = {key: count for key, count in start_count.items() if count > 1}
        start_at = {}
        for job_id, attempt, at in starts:
            start_at.setdefault((job_id, attempt), at)
        end_at = {}
        for job_id, attempt, at in ends:
            end_at.setdefault((job_id, attempt), at)
        unknown = {job_id for job_id, _, _ in starts if job_id not in self.by_id}

        tables = store_tables(self.db)
        columns, jobs = tables["jobs"]
        column = {name: index for index, name in enumerate(columns)}
        row_of = {job_id: rows[0] for job_id, rows in jobs.items()}
        attempt_columns, attempt_rows = tables["attempts"]
        event_columns, event_rows = tables["job_events"]
        ev = {name: index for index, name in enumerate(event_columns)}
        self.ev = ev

        wrong: dict[str, str] = {}
        for job in self.jobs:
            row = row_of.get(job.job_id)
            if row is None or row[column["state"]] not in TERMINAL:
                continue
            verdict = self.judge(job, row[column["state"]], row[column["exit_code"]], row[column["attempt"]], start_at, end_at)
            if verdict:
                wrong[job.job_id] = verdict
        late = {job.job_id for job in self.jobs} - terminal_at_deadline
        stuck = late | set(wrong)

        # Terminal events that disagree within one attempt (the store resolves them by authority).
        conflicts = {}
        for job_id, rows in event_rows.items():
            by_attempt = defaultdict(set)
            for row in rows:
                if row[ev["state"]] in TERMINAL:
                    by_attempt[row[ev["attempt"]]].add((row[ev["state"]], row[ev["source"]]))
            for attempt, seen in by_attempt.items():
                if len({state for state, _ in seen}) > 1:
                    conflicts[(job_id, attempt)] = sorted(seen)
        attempt_index = attempt_columns.index("attempt")
        retried = {job_id for job_id, rows in attempt_rows.items() if any(row[attempt_index] > 1 for row in rows)}
        started_attempts = defaultdict(set)
        for job_id, attempt in start_count:
            started_attempts[job_id].add(attempt)
        attempt_mismatch = {job_id: (row_of[job_id][column["attempt"]], sorted(started_attempts[job_id]))
                            for job_id in started_attempts if job_id in row_of
                            and max(started_attempts[job_id]) > (row_of[job_id][column["attempt"]] or 0)}
        stuck |= set(attempt_mismatch)

        diverged, samples = self.compare_stores(tables)
        events = self.read_events()
        jobs_per_s, finish = self.throughput(events, row_of, column)
        handovers = self.handovers(events)
        lag = self.report_lag(events, row_of, column)

        # ---- report
        log("---- report")
        log(f"seed {self.seed}, jobs {len(self.jobs)} ({dict(Counter(job.kind for job in self.jobs))}, "
            f"{sum(1 for job in self.jobs if job.cancel_sent_at)} cancelled), workers {self.args.workers}, "
            f"strategy {self.args.strategy}, concurrency {self.args.concurrency}, partitions {self.args.partitions}")
        log(f"chaos phase ended: {reason}; wall time {time.monotonic() - T0:.0f} s in all, "
            f"{finish:.1f} s from first submit to the last job's terminal event")
        final = Counter(row[column["state"]] for row in row_of.values() if row[column["job_id"]] in self.by_id)
        log(f"final states: {dict(sorted(final.items()))}; jobs with a 2nd attempt: {len(retried)}")
        log(f"starts file: {len(starts)} lines, {len(start_count)} distinct (job, attempt); ends file: {len(ends)} lines")
        if lag:
            worst = max(lag, key=lag.get)
            ordered = sorted(lag.values())
            log(f"outcome → first terminal event on the topic: median {ordered[len(ordered) // 2]:.1f} s, "
                f"p99 {ordered[int(len(ordered) * 0.99)]:.1f} s, max {lag[worst]:.1f} s ({worst})")
        self.report_assignor()
        for kill in handovers:
            log("worker kill {name} at +{rel:.1f}s: {n} jobs in flight{ho}; partitions {parts} reassigned {ra}".format(
                name=kill["name"], rel=kill["at"] - self.first_submit, n=kill["in_flight"],
                ho=(f", hand-over first {kill['first']:.1f} s, all {kill['max']:.1f} s (slowest {kill['slowest']})"
                    if kill["max"] is not None else ""),
                parts=len(kill["partitions"]),
                ra=(f"after {kill['reassigned_at'] - kill['at']:.1f} s" if kill["reassigned_at"] else "never (seen in logs)")))
            if kill["never"]:
                log(f"  jobs never handed over after that kill: {kill['never'][:10]}")
        for at in self.aggregator_kills:
            log(f"aggregator kill at +{at - self.first_submit:.1f}s")
        if double_started:
            log(f"DOUBLE STARTS: {dict(list(double_started.items())[:20])}")
        if unknown:
            log(f"starts of jobs this run did not submit: {sorted(unknown)[:10]}")
        for job_id in sorted(lost)[:20]:
            log(f"LOST {self.describe(job_id, row_of, column, start_at, end_at, event_rows)}")
        for job_id in sorted(late - lost)[:20]:
            log(f"LATE (terminal only after the chaos phase) {self.describe(job_id, row_of, column, start_at, end_at, event_rows)}")
        for job_id, verdict in sorted(wrong.items())[:20]:
            log(f"WRONG STATE {verdict}: {self.describe(job_id, row_of, column, start_at, end_at, event_rows)}")
        for job_id, (stored, started_list) in sorted(attempt_mismatch.items())[:20]:
            log(f"ATTEMPT MISMATCH {job_id}: store says attempt {stored}, starts file has attempts {started_list}")
        log(f"attempts with conflicting terminal events (resolved by authority): {len(conflicts)}"
            + (", e.g. " + "; ".join(f"{key[0]} a{key[1]}: {value}" for key, value in list(conflicts.items())[:5]) if conflicts else ""))
        cancel_kinds = Counter()
        for job in self.jobs:
            if job.cancel_sent_at is None or job.job_id not in row_of:
                continue
            row = row_of[job.job_id]
            key = (job.job_id, row[column["attempt"]])
            state = row[column["state"]]
            if state == "CANCELLED":
                cancel_kinds["CANCELLED before its process started" if key not in start_at else
                             "CANCELLED while running" if key not in end_at else "CANCELLED as its process ended"] += 1
            else:
                cancel_kinds[f"{state} (ended by itself first)"] += 1
        log(f"cancels: {sum(cancel_kinds.values())} sent; " + ", ".join(f"{k}: {v}" for k, v in sorted(cancel_kinds.items())))
        for sample in samples:
            log(f"DIVERGED {sample}")
        for note in self.notes:
            log(f"note: {note}")

        recoveries = self.recoveries(events)
        for fault, in_flight, recovery in recoveries:
            log(f"broker fault {fault.describe()} at +{fault.started - self.first_submit:.1f}s: {in_flight} jobs in flight, "
                + (f"recovered {recovery:.1f} s after the broker returned" if recovery is not None else "NOT RECOVERED (a job in flight never ended)"))
        handover_values = [kill["max"] for kill in handovers if kill["max"] is not None]
        max_handover = f"{max(handover_values):.1f}" if handover_values else "n/a"
        failed = bool(lost or double_started or stuck or diverged)
        print(f"chaos: jobs={len(self.jobs)} lost={len(lost)} double_started={len(double_started)} stuck={len(stuck)} "
              f"diverged={diverged} jobs_per_s={jobs_per_s:.2f} max_handover_s={max_handover}" + self.fault_summary(recoveries), flush=True)
        return 1 if failed else 0

    def fault_summary(self, recoveries) -> str:
        if not self.args.broker_faults:
            return ""
        values = [recovery for _, _, recovery in recoveries]
        worst = "n/a" if not values else "never" if None in values else f"{max(values):.1f}"
        return f" broker_faults={len(recoveries)} max_recovery_s={worst}"

    def judge(self, job: Job, state: str, exit_code, attempt: int, start_at: dict, end_at: dict) -> str | None:
        """Why the terminal state is wrong for what the job did, or None when it is right."""
        key = (job.job_id, attempt)
        started, ended = start_at.get(key), end_at.get(key)
        natural = {"ok": "SUCCEEDED", "fail": "FAILED", "slow": "TIMED_OUT"}[job.kind]

        def natural_ok() -> str | None:
            if state != natural:
                return f"{state}, expected {natural}"
            if started is None:
                return f"{state} but attempt {attempt} never started"
            if job.kind == "slow":
                return None
            if ended is None:
                return f"{state} but attempt {attempt} never ended by itself"
            if exit_code != job.exit_code:
                return f"{state} with exit code {exit_code}, expected {job.exit_code}"
            return None

        if job.cancel_sent_at is None:
            return natural_ok()
        if state == "CANCELLED":
            if ended is not None and ended < job.cancel_sent_at:
                return f"CANCELLED, but its process had ended {job.cancel_sent_at - ended:.2f} s before the cancel was sent"
            if job.kind == "slow" and started is not None and job.cancel_sent_at > started + job.max_runtime + 1.0:
                return f"CANCELLED, but it should have timed out {job.cancel_sent_at - started - job.max_runtime:.1f} s before the cancel"
            return None
        if job.kind == "slow" and state == "TIMED_OUT":
            return None if started is not None else "TIMED_OUT but never started"
        verdict = natural_ok()
        if verdict:
            return f"cancel sent, {verdict}"
        return None  # it finished by itself before the cancel took effect

    def describe(self, job_id, row_of, column, start_at, end_at, event_rows) -> str:
        job = self.by_id[job_id]
        row = row_of.get(job_id)
        stored = f"store {row[column['state']]} attempt {row[column['attempt']]} exit {row[column['exit_code']]}" if row else "no store row"
        starts = {attempt: round(at - job.submitted_at, 2) for (jid, attempt), at in start_at.items() if jid == job_id}
        ends = {attempt: round(at - job.submitted_at, 2) for (jid, attempt), at in end_at.items() if jid == job_id}
        ev = self.ev
        events = [(r[ev["partition"]], r[ev["offset"]], f"a{r[ev['attempt']]} {r[ev['state']]}/{r[ev['source']]}@"
                   f"{json.loads(r[ev['payload_json']]).get('workerId', '-')}") for r in event_rows.get(job_id, [])]
        events = [text for _, _, text in sorted(events)]
        runs = sorted(name for name in os.listdir(self.runs) if job_id in name) if os.path.isdir(self.runs) else []
        run_files = {name: sorted(os.listdir(os.path.join(self.runs, name))) for name in runs}
        cancel = f", cancel sent +{job.cancel_sent_at - job.submitted_at:.2f}s" if job.cancel_sent_at else ""
        return (f"{job_id} (#{job.index} {job.kind} sleep {job.sleep} exit {job.exit_code} max {job.max_runtime}s{cancel}): "
                f"{stored}; starts {starts}; ends {ends}; events {events}; run dirs {run_files}")

    def compare_stores(self, mine: dict) -> tuple[int, list[str]]:
        replay = store_tables(self.replay_db)
        differing = set()
        samples = []
        for table in sorted(set(mine) | set(replay)):
            columns, rows = mine.get(table, ([], {}))
            replay_columns, replay_rows = replay.get(table, ([], {}))
            if columns != replay_columns:
                samples.append(f"{table}: columns differ {columns} vs {replay_columns}")
            for job_id in set(rows) | set(replay_rows):
                a, b = rows.get(job_id, []), replay_rows.get(job_id, [])
                if a != b:
                    differing.add(job_id)
                    if len(samples) < 8:
                        detail = []
                        for ra, rb in zip(a, b):
                            detail += [f"{name}: {va!r} vs replay {vb!r}" for name, va, vb in zip(columns, ra, rb) if va != vb]
                        if len(a) != len(b):
                            detail.append(f"{len(a)} rows vs replay {len(b)}")
                        samples.append(f"{table} {job_id}: " + "; ".join(detail[:6]))
        return len(differing), samples

    def read_events(self) -> list[dict]:
        events = []
        for line in kcat(self.brokers, f"{self.prefix}.events", "%p\t%o\t%T\t%s\n"):
            partition, offset, timestamp, payload = line.split("\t", 3)
            try:
                event = json.loads(payload)
            except ValueError:
                continue
            event["_ts"] = int(timestamp) / 1000.0
            event["_pos"] = (int(partition), int(offset))
            events.append(event)
        events.sort(key=lambda e: (e["_ts"], e["_pos"]))
        return events

    def throughput(self, events, row_of, column) -> tuple[float, float]:
        finished = {}
        for event in events:
            job_id = event.get("jobId")
            row = row_of.get(job_id)
            if job_id in self.by_id and row and event.get("state") in TERMINAL and event.get("attempt") == row[column["attempt"]]:
                finished.setdefault(job_id, event["_ts"])
        if not finished:
            return 0.0, 0.0
        span = max(finished.values()) - self.first_submit
        return (len(finished) / span if span > 0 else 0.0), span

    def report_lag(self, events, row_of, column) -> dict[str, float]:
        """Per job: seconds from the outcome its supervisor recorded (status.json finishedAt of the
        store's final attempt) to the first terminal event of that attempt on the events topic."""
        first: dict[tuple[str, int], float] = {}
        for event in events:
            if event.get("state") in TERMINAL:
                first.setdefault((event.get("jobId"), event.get("attempt")), event["_ts"])
        lag = {}
        for job_id, row in row_of.items():
            attempt = row[column["attempt"]]
            path = os.path.join(self.runs, f"ty-{job_id}-a{attempt}", "status.json")
            try:
                with open(path) as handle:
                    finished = handle.read()
                at = datetime.datetime.fromisoformat(json.loads(finished)["finishedAt"].replace("Z", "+00:00")).timestamp()
            except (OSError, ValueError, KeyError):
                continue
            if (job_id, attempt) in first:
                lag[job_id] = max(0.0, first[(job_id, attempt)] - at)
        return lag

    def handovers(self, events) -> list[dict]:
        results = []
        for kill in self.kills:
            suffix = f"-{kill['pid']}"
            last: dict[str, dict] = {}
            for event in events:
                if event["_ts"] >= kill["at"]:
                    break
                last[event["jobId"]] = event
            in_flight = {job_id for job_id, event in last.items()
                         if str(event.get("workerId", "")).endswith(suffix) and event.get("state") not in TERMINAL}
            taken: dict[str, float] = {}
            for event in events:
                if event["_ts"] < kill["at"] or event["jobId"] not in in_flight or event["jobId"] in taken:
                    continue
                if not str(event.get("workerId", "")).endswith(suffix):
                    taken[event["jobId"]] = event["_ts"] - kill["at"]
            results.append({**kill, "in_flight": len(in_flight),
                            "max": max(taken.values()) if taken else None,
                            "first": min(taken.values()) if taken else None,
                            "slowest": max(taken, key=taken.get) if taken else None,
                            "never": sorted(in_flight - set(taken))})
        return results

    def report_assignor(self):
        services = [s for s in self.retired if s.name.startswith("worker")]
        assignments = sum(s.assignments for s in services)
        revocations = sum(s.revocations for s in services)
        partial = sum(s.partial_revocations for s in services)
        incremental = sum(s.incremental_assignments for s in services)
        errors = Counter()
        for service in services + ([self.aggregator] if self.aggregator else []) + [s for s in self.retired if s.name.startswith("aggregator")]:
            try:
                with open(service.log_path, errors="replace") as handle:
                    for line in handle:
                        if " error " in line or " warning " in line or " critical " in line:
                            text = re.sub(r"\d+", "#", line.split(": ", 1)[-1].strip())[:140]
                            errors[f"{service.name.split('.')[0].rstrip('-0123456789') or service.name}: {text}"] += 1
            except OSError:
                pass
        if partial or incremental:
            protocol = (f"incremental rebalancing in use ({incremental} assignments added to a running worker, "
                        f"{partial} revocations of a subset)")
        else:
            protocol = "eager rebalancing (every assignment started from nothing, every revocation took all)"
        log(f"assignor {self.args.strategy}: {assignments} assignments, {revocations} revocations in worker logs, {protocol}")
        for text, count in errors.most_common(8):
            log(f"  log x{count}: {text}")

    # -- cleanup --------------------------------------------------------------------------

    def cleanup(self):
        for child in self.children:
            if child.poll() is None:
                child.kill()
        services = [s for s in [self.aggregator, self.replay, *self.workers, *self.retired] if s]
        for service in services:
            if service.alive():
                service.process.kill()
                service.process.wait()
        # Anything else carrying our markers (services whose Popen we lost, jobs and their children).
        kill_marked(self.marker)
        kill_marked(self.job_marker)
        kill_local_runs(self.runs, self.job_marker)
        if self.faults is not None:
            self.faults.stop()
        if self.proxy is not None:
            self.proxy.close()
        if self.tansu is not None:
            self.tansu.stop()
            if self.store is not None:
                self.store.stop()
        elif self.broker_started:
            subprocess.run([os.path.join(self.root, "ops", "broker"), "--dir", self.broker_dir, "stop"],
                           capture_output=True, stdin=subprocess.DEVNULL)


def main() -> int:
    parser = argparse.ArgumentParser(prog="ops/chaos", description="Chaos run of a local Trainyard fleet (see ops/chaos).")
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--seed", type=int, default=None, help="default: random (printed)")
    parser.add_argument("--kills", type=int, default=None, help="at most this many worker kills (default: until the jobs are done)")
    parser.add_argument("--aggregator-kills", type=int, default=2)
    parser.add_argument("--kill-interval", type=float, default=10.0, help="mean seconds between worker kills (uniform 0.5–1.5×)")
    parser.add_argument("--strategy", choices=["range", "roundrobin", "cooperative-sticky"], default="range")
    parser.add_argument("--concurrency", type=int, default=16, help="jobs at once per worker")
    parser.add_argument("--partitions", type=int, default=12)
    parser.add_argument("--session-timeout-ms", type=int, default=None,
                        help="consumer session timeout of workers and aggregators (default: theirs, 6000)")
    parser.add_argument("--deadline", type=float, default=None, help="seconds after the first submission (default 120 + 0.5 × jobs)")
    parser.add_argument("--stall-timeout", type=float, default=90.0)
    parser.add_argument("--grace", type=float, default=20.0, help="extra seconds for late jobs before the workers are stopped")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir even after a clean pass")
    parser.add_argument("--broker-faults", action="store_true",
                        help="also fault the broker: SIGSTOP pauses and, through a TCP proxy, connection cuts, resets, one-way stalls, latency")
    parser.add_argument("--broker-pauses", type=int, default=5, help="with --broker-faults: broker pauses (5–MAX s, one ≥ 25 s)")
    parser.add_argument("--max-broker-pause", type=float, default=40.0, help="with --broker-faults: longest pause, seconds")
    parser.add_argument("--broker-storage", choices=["memory", "s3"], default="memory",
                        help="with --broker-faults: the broker's storage; on s3 (moto's S3) it survives restarts")
    parser.add_argument("--broker-restarts", type=int, default=None,
                        help="with --broker-storage s3: broker restarts (SIGKILL, down 1–10 s, same ports and storage; default 2)")
    parser.add_argument("--python", default=sys.executable, help=argparse.SUPPRESS)
    parser.add_argument("--backend", choices=["local", "simulated"], default="local",
                        help="where the jobs run: local processes, or the simulated backend (same script, from labels; "
                             "starts and ends read from its state file)")
    parser.add_argument("--binary", required=True, help=argparse.SUPPRESS)
    parser.add_argument("--root", required=True, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.jobs < 1 or args.workers < 1:
        parser.error("--jobs and --workers must be at least 1")
    if args.broker_storage == "s3" and not args.broker_faults:
        parser.error("--broker-storage s3 goes with --broker-faults")
    if args.broker_restarts is None:
        args.broker_restarts = 2 if args.broker_storage == "s3" else 0
    elif args.broker_restarts > 0 and args.broker_storage != "s3":
        parser.error("--broker-restarts needs --broker-storage s3: a broker in memory loses its topics when restarted")
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(1, 2 ** 31)
    if args.deadline is None:
        args.deadline = 120 + 0.5 * args.jobs
    log(f"seed {args.seed} (repeat with --seed {args.seed}); jobs {args.jobs}, workers {args.workers}, "
        f"strategy {args.strategy}, kills {'until done' if args.kills is None else args.kills}, aggregator kills {args.aggregator_kills}")

    chaos = Chaos(args)

    def run() -> int:
        chaos.setup()
        terminal, reason = chaos.run_chaos()
        lost = chaos.settle(terminal)
        return chaos.analyse(terminal, lost, reason)

    return run_then_tidy(run, chaos.cleanup, chaos.dir, args.keep, " (logs/, home/trainyard.db, home/state/runs/, replay/, starts, ends)")


if __name__ == "__main__":
    sys.exit(main())
