#!/usr/bin/env python3
"""The driver behind ops/bench-fleet (see its header for what is run and what is measured).

Python 3.11 standard library only; the Celery side runs in the bench venv (celery_peer.py).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, os.path.join(HERE, "..", "scale.d"))
from harness import (  # noqa: E402  (after the path is set)
    TERMINAL,
    HarnessError,
    all_pids,
    kill_local_runs,
    kill_marked,
    log,
    run_until_done,
    proc_environ_has,
    set_name,
)
from scale import Service, free_port, machine_description, partitions_of, percentile, start_broker  # noqa: E402

set_name("bench-fleet")

TICK_MS = 1000.0 / os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------------------------------------
# /proc


def cpu_ms(pid: int, children: bool = True) -> tuple[float, float]:
    """(own, reaped children's) CPU of a process in ms; (0, 0) once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        own = (int(fields[11]) + int(fields[12])) * TICK_MS
        reaped = (int(fields[13]) + int(fields[14])) * TICK_MS if children else 0.0
        return own, reaped
    except (OSError, IndexError, ValueError):
        return 0.0, 0.0


def runqueue_wait_ms(pid: int) -> float:
    """How long the process's live threads have waited on a run queue (runnable, not running), ms."""
    total = 0.0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0.0
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/schedstat") as handle:
                total += int(handle.read().split()[1]) / 1e6
        except (OSError, IndexError, ValueError):
            continue
    return total


def rss_mb(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def session_pids(sid: int) -> list[int]:
    pids = []
    for pid in all_pids():
        try:
            with open(f"/proc/{pid}/stat") as handle:
                if int(handle.read().rsplit(")", 1)[1].split()[3]) == sid:
                    pids.append(pid)
        except (OSError, IndexError, ValueError):
            continue
    return pids


def fmt(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


# ---------------------------------------------------------------------------------------------
# Trainyard


class TrainyardFleet:
    """Broker, topics, aggregator and W workers of one backend, in their own temp dir."""

    def __init__(self, driver: "Bench", backend: str):
        self.driver = driver
        self.args = driver.args
        self.backend = backend
        self.dir = os.path.join(driver.dir, f"trainyard-{backend}")
        self.home = os.path.join(self.dir, "home")
        self.logs = os.path.join(self.dir, "logs")
        self.broker_dir = os.path.join(self.dir, "broker")
        self.db = os.path.join(self.home, "trainyard.db")
        self.runs = os.path.join(self.home, "state", "runs")
        self.ledger = os.path.join(self.home, "state", "simulated.sqlite")
        self.config = os.path.join(self.dir, "worker.yaml")
        self.prefix = f"bench{os.getpid()}{backend[:3]}"
        self.brokers = ""
        self.broker_started = False
        self.aggregator: Service | None = None
        self.workers: list[Service] = []
        self.index = 0
        self.batches = 0

    def env(self) -> dict:
        env = {key: value for key, value in os.environ.items()
               if not key.startswith("TRAINYARD_") or key in ("TRAINYARD_RDKAFKA_LIBDIR", "TRAINYARD_KAFKA_PROPERTIES")}
        env.update({"TRAINYARD_BROKERS": self.brokers, "TRAINYARD_TOPIC_PREFIX": self.prefix, "TRAINYARD_HOME": self.home,
                    "TRAINYARD_LOG_LEVEL": os.environ.get("TRAINYARD_LOG_LEVEL", "info"), "TRAINYARD_LOG_FORMAT": "json",
                    "TRAINYARD_BENCH_RUN": self.driver.dir})
        return env

    def start(self):
        for path in (self.home, self.logs, self.broker_dir):
            os.makedirs(path, exist_ok=True)
        with open(self.config, "w") as handle:
            if self.backend == "simulated":
                # The throughput target runs null attempts; `held` keeps attempts in flight for the RSS figure.
                handle.write("backends:\n  - {name: sim, type: simulated, seconds: 0}\n"
                             "  - {name: held, type: simulated, seconds: 3600, concurrency: 1000000}\n"
                             "routing:\n  default: sim\n  rules:\n    - {labels: {bench: held}, backend: held}\n")
            else:
                handle.write("backends:\n  - {name: local, type: local}\n")
        self.brokers = start_broker(self.driver.root, self.broker_dir)
        self.broker_started = True
        result = subprocess.run([self.driver.bin, "topics", "create", "--partitions", str(self.args.partitions)], env=self.env(),
                                capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120)
        if result.returncode != 0:
            raise HarnessError(f"trainyard topics create failed: {result.stderr.strip()[-1000:]}")
        self.aggregator = Service("aggregator", [self.driver.bin, "aggregator", "--group", f"{self.prefix}-aggregator",
                                                 "--http-address", "127.0.0.1:0"], self.env(), os.path.join(self.logs, "aggregator.log"))
        for number in range(1, self.args.workers + 1):
            self.workers.append(Service(f"worker-{number}", [self.driver.bin, "worker", "--group", f"{self.prefix}-workers",
                                                             "--http-address", "127.0.0.1:0", "--config", self.config],
                                        self.env(), os.path.join(self.logs, f"worker-{number}.log")))
        self.wait_settled()

    def wait_settled(self):
        """Until the workers own every requests partition, unchanged for 2 s."""
        wanted = {f"{self.prefix}.requests[{p}]" for p in range(self.args.partitions)}
        deadline, stable_since = time.monotonic() + 90, None
        while time.monotonic() < deadline:
            self.check()
            owned = set()
            for worker in self.workers:
                assigned: set[str] = set()
                for entry in worker.log_lines():
                    if entry.get("msg") == "partitions assigned":
                        assigned |= partitions_of(str(entry.get("partitions", "")))
                    elif entry.get("msg") == "partitions revoked":
                        assigned -= partitions_of(str(entry.get("partitions", "")))
                owned |= assigned
            if wanted <= owned:
                stable_since = stable_since or time.monotonic()
                if time.monotonic() - stable_since >= 2:
                    return
            else:
                stable_since = None
            time.sleep(0.2)
        raise HarnessError(f"{self.backend}: the workers did not own every partition within 90 s (see {self.logs})")

    def check(self):
        for service in [self.aggregator, *self.workers]:
            if service and not service.alive():
                raise HarnessError(f"{self.backend}: {service.name} exited with status {service.process.returncode}; see {service.log_path}")

    def broker_pid(self) -> int | None:
        try:
            with open(os.path.join(self.broker_dir, "tansu.pid")) as handle:
                return int(handle.read().strip())
        except (OSError, ValueError):
            return None

    def cpu(self) -> dict[str, float]:
        """CPU so far, ms: workers (own), supervisors (what the workers reaped: supervisors and jobs,
        plus live processes of this run that are not services), aggregator, broker."""
        workers = [cpu_ms(w.pid) for w in self.workers]
        services = {w.pid for w in self.workers} | {self.aggregator.pid}
        broker = self.broker_pid()
        marker = f"TRAINYARD_BENCH_RUN={self.driver.dir}".encode()
        others = [pid for pid in all_pids() if pid not in services and pid != os.getpid() and pid != broker
                  and proc_environ_has(pid, marker)]
        return {
            "worker": sum(own for own, _ in workers),
            "supervisor": sum(reaped for _, reaped in workers) + sum(sum(cpu_ms(pid)) for pid in others),
            "aggregator": cpu_ms(self.aggregator.pid, children=False)[0],
            "broker": cpu_ms(broker, children=False)[0] if broker else 0.0,
        }

    def runqueue_wait(self) -> dict[str, float]:
        """Run-queue wait so far, ms (see `runqueue_wait_ms`): the workers together, the broker."""
        broker = self.broker_pid()
        return {"workers": sum(runqueue_wait_ms(w.pid) for w in self.workers),
                "broker": runqueue_wait_ms(broker) if broker else 0.0}

    def worker_rss(self) -> list[float]:
        return [value for value in (rss_mb(w.pid) for w in self.workers) if value is not None]

    # -- submitting ---------------------------------------------------------------------------

    def produce(self, count: int, rate: float | None = None, held: bool = False) -> tuple[float, str]:
        """Writes `count` submit requests to the requests topic (paced at `rate` per second, else at
        once) through the bench's long-lived producer (submitter.py); returns when the first was
        written and the file of their acknowledgements (job, submittedAt, record time, acked)."""
        self.batches += 1
        acks = os.path.join(self.dir, f"submitted-{self.batches}.jsonl")
        work = "held" if held else self.backend
        command = [self.args.venv_python, os.path.join(HERE, "submitter.py"), "--brokers", self.brokers,
                   "--topic", f"{self.prefix}.requests", "--count", str(count), "--work", work,
                   "--first-index", str(self.index + 1), "--out", acks]
        if rate is not None:
            command += ["--rate", f"{rate:.3f}"]
        self.index += count
        result = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=600)
        if result.returncode != 0:
            raise HarnessError(f"the submitter failed: {result.stderr.strip()[-500:]}")
        return float(result.stdout.strip()), acks

    # -- the store ----------------------------------------------------------------------------

    def query(self, sql: str, parameters: tuple = ()) -> list[tuple]:
        if not os.path.exists(self.db):
            return []
        try:
            connection = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=10)
            try:
                return connection.execute(sql, parameters).fetchall()
            finally:
                connection.close()
        except sqlite3.Error:
            return []

    def terminal_count(self) -> int:
        rows = self.query(f"SELECT COUNT(*) FROM jobs WHERE state IN ({','.join('?' * len(TERMINAL))})", tuple(sorted(TERMINAL)))
        return rows[0][0] if rows else 0

    def wait_terminal(self, count: int, what: str) -> float:
        """Polls the store until `count` jobs are terminal; returns the moment it saw them."""
        last, last_change, next_report = -1, time.monotonic(), time.monotonic() + 10
        while True:
            self.check()
            done = self.terminal_count()
            now = time.monotonic()
            if done >= count:
                return time.time()
            if done != last:
                last, last_change = done, now
            if now - last_change > self.args.stall_timeout:
                raise HarnessError(f"{self.backend} {what}: no job became terminal for {self.args.stall_timeout:.0f} s ({done}/{count})")
            if now >= next_report:
                log(f"{self.backend} {what}: {done}/{count} terminal")
                next_report = now + 10
            time.sleep(0.05)

    def latency_split(self, acks: str) -> dict[str, list[float]]:
        """Where submit → RUNNING goes, ms, per job of one submitter batch (`acks`): `submit_to_running`
        (submittedAt to the first RUNNING of attempt 1: the summary line's figure) and its parts:
        submittedAt → the record's timestamp (the producer), → the broker's ack reaching the
        submitter, record → CLAIMED (linger, broker, the worker's fetch and its steps up to the
        claim), CLAIMED → RUNNING (the backend's start). Every instant is an event time taken on
        this machine's clock, so the aggregator's fetch wait and batching are in none of them."""
        sent: dict[str, dict] = {}
        with open(acks) as handle:
            for line in handle:
                entry = json.loads(line)
                sent[entry["job"]] = entry
        split: dict[str, list[float]] = {name: [] for name in (
            "submit_to_running", "submit_to_record", "submit_to_acked", "record_to_claimed", "acked_to_claimed",
            "submit_to_claimed", "claimed_to_running")}
        first = min((entry["submitted"] for entry in sent.values()), default=0.0)
        for job, first_seen in self.query(
                "SELECT j.job_id, a.first_seen_json FROM jobs j JOIN attempts a ON a.job_id = j.job_id AND a.attempt = 1 "
                "WHERE j.submitted_at >= ?", (first - 0.01,)):
            entry = sent.get(job)
            try:
                seen = json.loads(first_seen)
            except (TypeError, ValueError):
                continue
            running, claimed = seen.get("RUNNING"), seen.get("CLAIMED")
            if entry is None or running is None or claimed is None:
                continue
            submitted, record, acked = entry["submitted"], entry["record_ms"] / 1000, entry["acked"]
            for name, value in (("submit_to_running", running - submitted), ("submit_to_record", record - submitted),
                                ("submit_to_acked", acked - submitted), ("record_to_claimed", claimed - record),
                                ("acked_to_claimed", claimed - acked), ("submit_to_claimed", claimed - submitted),
                                ("claimed_to_running", running - claimed)):
                split[name].append(value * 1000)
        return split

    def first_claim(self) -> float | None:
        rows = self.query("SELECT MIN(claimed_at) FROM jobs")
        return rows[0][0] if rows and rows[0][0] is not None else None

    def last_claim_and_finish(self) -> tuple[float | None, float | None]:
        """The latest CLAIMED and the latest terminal time the workers reported (event times)."""
        rows = self.query("SELECT MAX(claimed_at), MAX(finished_at) FROM jobs")
        return rows[0] if rows else (None, None)

    def held_in_flight(self) -> int:
        if not os.path.exists(self.ledger):
            return 0
        try:
            connection = sqlite3.connect(f"file:{self.ledger}?mode=ro", uri=True, timeout=10)
            try:
                return connection.execute("SELECT COUNT(*) FROM simulated_attempts WHERE ends_at - starts_at >= 3600").fetchone()[0]
            finally:
                connection.close()
        except sqlite3.Error:
            return 0

    def stop(self):
        for service in [*self.workers, self.aggregator]:
            if service and service.alive():
                service.process.kill()
                service.process.wait()
        kill_local_runs(self.runs, f"TRAINYARD_BENCH_RUN={self.driver.dir}".encode())
        if self.broker_started:
            subprocess.run([os.path.join(self.driver.root, "ops", "broker"), "--dir", self.broker_dir, "stop"],
                           capture_output=True, stdin=subprocess.DEVNULL)
            self.broker_started = False


def bench_trainyard(driver: "Bench", backend: str) -> dict:
    args = driver.args
    fleet = TrainyardFleet(driver, backend)
    driver.fleets.append(fleet)
    try:
        fleet.start()
        # Idle: joined, nothing to do. What waiting costs (the workers' empty fetches every
        # fetch wait, the aggregator's, the broker answering them), per second.
        idle_before, idle_seconds = fleet.cpu(), 5.0
        time.sleep(idle_seconds)
        idle_after = fleet.cpu()
        idle_cpu = {name: (idle_after[name] - idle_before[name]) / idle_seconds for name in ("worker", "broker")}
        idle_rss = fleet.worker_rss()
        # Throughput: the whole backlog at once; the clock runs from the first claim until the
        # aggregator has stored every job's terminal state.
        before = fleet.cpu()
        fleet.produce(args.jobs)
        done_at = fleet.wait_terminal(args.jobs, "throughput")
        after = fleet.cpu()
        first = fleet.first_claim()
        rate = args.jobs / (done_at - first) if first and done_at > first else None
        cpu = {name: after[name] - before[name] for name in after}
        log(f"{backend}: {args.jobs} jobs terminal; {fmt(rate)} jobs/s; CPU ms {({k: round(v) for k, v in cpu.items()})}")
        if first:
            # Where the clock went: the workers' last claim and last outcome (event times) against
            # the moment the aggregator had stored every terminal state (its lag is the difference).
            last_claim, last_finish = fleet.last_claim_and_finish()
            log(f"{backend}: from the first claim, s: last claim {fmt(last_claim and last_claim - first, 2)}, "
                f"last outcome {fmt(last_finish and last_finish - first, 2)}, all stored {done_at - first:.2f}")
        # Latency: open-loop arrivals at half of that rate.
        latencies: list[float] = []
        split: dict[str, list[float]] = {}
        starved: dict[str, float] = {}
        if rate:
            half = rate / 2
            count = min(args.jobs, max(50, int(half * args.latency_seconds)))
            log(f"{backend}: {count} jobs at {half:.1f}/s (open loop) for submit→RUNNING")
            waited_before, phase_start = fleet.runqueue_wait(), time.monotonic()
            _, acks = fleet.produce(count, rate=half)
            waited_after, phase_seconds = fleet.runqueue_wait(), time.monotonic() - phase_start
            # CPU starvation during the phase: time the fleet's threads were runnable but not running.
            starved = {name: (waited_after[name] - waited_before[name]) / phase_seconds for name in waited_after}
            fleet.wait_terminal(args.jobs + count, "latency")
            split = fleet.latency_split(acks)
            latencies = split["submit_to_running"]
            # Where the time went, part by part (p50/p99 of each on its own: they do not add up).
            parts = ", ".join(f"{name} {fmt(percentile(values, 50), 0)}/{fmt(percentile(values, 99), 0)}"
                              for name, values in split.items())
            log(f"{backend}: p50/p99 ms ({len(latencies)} jobs): {parts}")
        result = {"system": "trainyard", "backend": backend, "jobs_per_s": rate, "cpu": cpu,
                  "p50": percentile(latencies, 50), "p99": percentile(latencies, 99), "idle_rss": idle_rss, "idle_cpu": idle_cpu, "split": split,
                  "starved": starved}
        if backend == "simulated" and args.in_flight > 0:
            log(f"simulated: {args.in_flight} attempts of an hour, for the worker RSS with attempts in flight")
            fleet.produce(args.in_flight, held=True)
            deadline = time.monotonic() + args.in_flight_seconds
            while fleet.held_in_flight() < args.in_flight and time.monotonic() < deadline:
                fleet.check()
                time.sleep(0.5)
            result["in_flight"] = fleet.held_in_flight()
            result["in_flight_rss"] = fleet.worker_rss()
        return result
    finally:
        fleet.stop()


# ---------------------------------------------------------------------------------------------
# Celery


class Redis:
    """redis-server on a free loopback port, no persistence, its own dir."""

    def __init__(self, driver: "Bench"):
        self.dir = os.path.join(driver.dir, "redis")
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_port()
        self.process = subprocess.Popen(
            [driver.args.redis_server, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", self.dir], stdout=open(os.path.join(self.dir, "redis.log"), "ab"), stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 20
        while self.command("PING") != "PONG":
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise HarnessError(f"redis-server did not start (see {self.dir}/redis.log)")
            time.sleep(0.1)

    def command(self, *words: str, db: int | None = None):
        """One RESP command (after SELECT db); returns a simple/integer reply, None on failure."""
        def encode(parts):
            return ("*%d\r\n" % len(parts) + "".join(f"${len(p)}\r\n{p}\r\n" for p in parts)).encode()
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=5) as connection:
                payload = (encode(["SELECT", str(db)]) if db is not None else b"") + encode(list(words))
                connection.sendall(payload)
                replies, buffer = [], b""
                while len(replies) < (2 if db is not None else 1):
                    chunk = connection.recv(4096)
                    if not chunk:
                        return None
                    buffer += chunk
                    while b"\r\n" in buffer and len(replies) < (2 if db is not None else 1):
                        line, buffer = buffer.split(b"\r\n", 1)
                        replies.append(line.decode())
                reply = replies[-1]
                return int(reply[1:]) if reply.startswith(":") else reply[1:]
        except OSError:
            return None

    def stop(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def stop_celery(worker: subprocess.Popen):
    """Warm shutdown (the main process stops and reaps its pool), then SIGKILL what is left of its session."""
    if worker.poll() is None:
        worker.terminate()
        try:
            worker.wait(15)
        except subprocess.TimeoutExpired:
            pass
    for pid in session_pids(worker.pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    worker.wait()


def bench_celery(driver: "Bench", work: str) -> dict:
    args = driver.args
    redis = Redis(driver)
    driver.redises.append(redis)
    env = {**os.environ, "BENCH_REDIS_URL": f"redis://127.0.0.1:{redis.port}", "TRAINYARD_BENCH_RUN": driver.dir,
           "PYTHONPATH": HERE}
    worker = None
    log_path = os.path.join(driver.dir, f"celery-{work}.log")

    def start_worker(ready_file: str) -> subprocess.Popen:
        process = subprocess.Popen(
            [os.path.join(os.path.dirname(args.venv_python), "celery"), "-A", "celery_peer", "worker", "--pool", "prefork",
             "--concurrency", str(args.workers), "--loglevel", "WARNING", "--without-gossip", "--without-mingle",
             "--without-heartbeat"], env={**env, "BENCH_READY_FILE": ready_file}, cwd=HERE, stdout=open(log_path, "ab"),
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        return process

    def session_cpu(process: subprocess.Popen) -> float:
        return sum(sum(cpu_ms(pid)) for pid in session_pids(process.pid))

    try:
        # What a worker costs to start (its CPU before the first task), measured on an empty queue
        # and subtracted below: the backlog is enqueued before the measured worker starts (enqueuing
        # is slower than a Celery worker drains a null task), so its startup falls inside the run.
        worker = start_worker(os.path.join(driver.dir, f"celery-{work}.calibration.ready"))
        deadline = time.monotonic() + 60
        while not os.path.exists(os.path.join(driver.dir, f"celery-{work}.calibration.ready")):
            if worker.poll() is not None or time.monotonic() > deadline:
                raise HarnessError(f"the celery worker did not get ready; see {log_path}")
            time.sleep(0.1)
        time.sleep(1)  # its pool processes settle
        startup = session_cpu(worker)
        stop_celery(worker)
        result = subprocess.run([args.venv_python, os.path.join(HERE, "celery_peer.py"), "submit", work, str(args.jobs)],
                                env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=600)
        if result.returncode != 0:
            raise HarnessError(f"celery submit failed: {result.stderr.strip()[-1000:]}")
        log(f"celery {work}: {args.jobs} tasks enqueued; starting {args.workers} prefork processes "
            f"(their startup, {startup:.0f} ms of CPU, is not counted)")
        redis_before = cpu_ms(redis.process.pid, children=False)[0]
        worker = start_worker(os.path.join(driver.dir, f"celery-{work}.ready"))
        last, last_change = -1, time.monotonic()
        while True:
            if worker.poll() is not None:
                raise HarnessError(f"the celery worker exited with {worker.returncode}; see {log_path}")
            done = redis.command("DBSIZE", db=1) or 0
            if done >= args.jobs:
                done_at = time.time()
                break
            if done != last:
                last, last_change = done, time.monotonic()
            if time.monotonic() - last_change > args.stall_timeout:
                raise HarnessError(f"celery {work}: stalled at {done}/{args.jobs} results")
            time.sleep(0.05)
        cpu = session_cpu(worker) - startup + cpu_ms(redis.process.pid, children=False)[0] - redis_before
        first = subprocess.run([args.venv_python, os.path.join(HERE, "celery_peer.py"), "first-start"], env=env,
                               capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=300)
        try:
            started = float(first.stdout.strip())
        except ValueError:
            raise HarnessError(f"celery first-start failed: {first.stderr.strip()[-500:]}")
        rate = args.jobs / (done_at - started) if done_at > started else None
        log(f"celery {work}: {fmt(rate)} jobs/s; CPU {cpu:.0f} ms (worker processes + redis)")
        return {"system": "celery", "work": work, "jobs_per_s": rate, "cpu_ms": cpu}
    finally:
        if worker:
            stop_celery(worker)
        redis.stop()


# ---------------------------------------------------------------------------------------------


class Bench:
    def __init__(self, args):
        self.args = args
        self.root = args.root
        self.dir = tempfile.mkdtemp(prefix="trainyard-bench-fleet-")
        self.bin = os.path.join(self.dir, "bin", "trainyard")
        self.fleets: list[TrainyardFleet] = []
        self.redises: list[Redis] = []

    def run(self) -> int:
        os.makedirs(os.path.dirname(self.bin))
        shutil.copy2(self.args.binary, self.bin)  # a rebuild during the run must not change what runs
        # The local backend's small supervisor is found beside the binary (else it runs `trainyard local-supervise`).
        supervisor = os.path.join(os.path.dirname(self.args.binary), "trainyard-local-supervise")
        if os.access(supervisor, os.X_OK):
            shutil.copy2(supervisor, os.path.join(os.path.dirname(self.bin), "trainyard-local-supervise"))
        machine = machine_description(self.root, self.args.binary)
        log(f"machine: {machine.get('nproc')} cores ({machine.get('cpu', '?')}), {machine.get('memory_gib', '?')} GiB, "
            f"{machine.get('os', '?')}; commit {machine.get('commit')}; load {os.getloadavg()[0]:.2f}")
        results = {}
        for step in self.args.only:
            if step in ("simulated", "local"):
                results[step] = bench_trainyard(self, step)
            else:
                results[step] = bench_celery(self, step.split("-", 1)[1])
        jobs, workers = self.args.jobs, self.args.workers
        for step, r in results.items():
            if r["system"] == "trainyard":
                cpu = r["cpu"]
                total = sum(cpu.values())
                print(f"fleet: system=trainyard backend={r['backend']} jobs={jobs} workers={workers} jobs_per_s={fmt(r['jobs_per_s'])} "
                      f"submit_to_running_p50_ms={fmt(r['p50'], 0)} p99_ms={fmt(r['p99'], 0)} cpu_ms_per_job={total / jobs:.2f} "
                      f"worker_cpu_ms={cpu['worker']:.0f} aggregator_cpu_ms={cpu['aggregator']:.0f} broker_cpu_ms={cpu['broker']:.0f} "
                      f"supervisor_cpu_ms={cpu['supervisor']:.0f}", flush=True)
            else:
                print(f"fleet: system=celery work={r['work']} jobs={jobs} workers={workers} jobs_per_s={fmt(r['jobs_per_s'])} "
                      f"cpu_ms_per_job={r['cpu_ms'] / jobs:.2f}", flush=True)
        for step, r in results.items():
            if r["system"] == "trainyard":
                line = (f"fleet: system=trainyard backend={r['backend']} worker_rss_idle_mb="
                        f"{fmt(max(r['idle_rss']) if r['idle_rss'] else None)}")
                line += (f" idle_worker_cpu_ms_per_s={r['idle_cpu']['worker']:.1f}"
                         f" idle_broker_cpu_ms_per_s={r['idle_cpu']['broker']:.1f}")
                if "in_flight" in r:
                    line += (f" attempts_in_flight={r['in_flight']} worker_rss_in_flight_mb="
                             f"{fmt(max(r['in_flight_rss']) if r['in_flight_rss'] else None)}")
                print(line, flush=True)
        for step, r in results.items():
            if r["system"] == "trainyard" and r["split"]:
                parts = " ".join(f"{name}_p50_ms={fmt(percentile(values, 50), 0)} {name}_p99_ms={fmt(percentile(values, 99), 0)}"
                                 for name, values in r["split"].items() if name != "submit_to_running")
                starved = r["starved"]
                print(f"fleet: system=trainyard backend={r['backend']} latency_jobs={len(r['split']['submit_to_running'])} {parts} "
                      f"runqueue_wait_ms_per_s_workers={starved['workers']:.1f} runqueue_wait_ms_per_s_broker={starved['broker']:.1f}",
                      flush=True)

        def ratio(a: str, b: str) -> str:
            x, y = results.get(a, {}).get("jobs_per_s"), results.get(b, {}).get("jobs_per_s")
            return f"{x / y:.2f}" if x and y else "n/a"
        print(f"fleet: ratios simulated/celery_null={ratio('simulated', 'celery-null')} "
              f"local/celery_subprocess={ratio('local', 'celery-subprocess')}", flush=True)
        return 0

    def cleanup(self):
        for fleet in self.fleets:
            fleet.stop()
        for redis in self.redises:
            redis.stop()
        kill_marked(f"TRAINYARD_BENCH_RUN={self.dir}".encode())
        if self.args.keep:
            log(f"kept {self.dir}")
        else:
            shutil.rmtree(self.dir, ignore_errors=True)


STEPS = ["simulated", "local", "celery-null", "celery-subprocess"]


def main() -> int:
    parser = argparse.ArgumentParser(prog="ops/bench-fleet", description="Trainyard vs Celery on one machine (see ops/bench-fleet).")
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--partitions", type=int, default=12)
    parser.add_argument("--latency-seconds", type=float, default=20, help="length of the open-loop phase")
    parser.add_argument("--in-flight", type=int, default=10000, help="simulated attempts held in flight for the RSS figure (0: skip)")
    parser.add_argument("--in-flight-seconds", type=float, default=120, help="at most this long to get them in flight")
    parser.add_argument("--stall-timeout", type=float, default=120)
    parser.add_argument("--only", default=",".join(STEPS), help=f"comma-separated subset of {','.join(STEPS)}")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--check-args", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--binary", help=argparse.SUPPRESS)
    parser.add_argument("--root", help=argparse.SUPPRESS)
    parser.add_argument("--venv-python", help=argparse.SUPPRESS)
    parser.add_argument("--redis-server", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.only = [step.strip() for step in args.only.split(",") if step.strip()]
    if not args.only or any(step not in STEPS for step in args.only):
        parser.error(f"--only takes a subset of {','.join(STEPS)}")
    if args.jobs < 1 or args.workers < 1 or args.partitions < 1:
        parser.error("--jobs, --workers and --partitions must be at least 1")
    if args.check_args:
        return 0
    if not (args.binary and args.root and args.venv_python and args.redis_server):
        parser.error("run it through ops/bench-fleet")
    bench = Bench(args)
    log(f"jobs {args.jobs}, workers {args.workers}, steps {args.only}; temp dir {bench.dir}")
    return run_until_done(bench.run, bench.cleanup)


if __name__ == "__main__":
    sys.exit(main())
