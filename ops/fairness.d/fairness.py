#!/usr/bin/env python3
"""The fair-share harness behind ops/fairness (see its header for what is run and checked).

Python 3.11 standard library only; run it through ops/fairness.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from harness import TERMINAL, HarnessError, ServiceProcess, job_states, kill_marked, log, run_then_tidy, set_name  # noqa: E402

set_name("fairness")


class Fairness:
    def __init__(self, args):
        self.args = args
        self.rng = random.Random(f"{args.seed}/plan")
        self.dir = tempfile.mkdtemp(prefix="trainyard-fairness-")
        self.home = os.path.join(self.dir, "home")
        self.logs = os.path.join(self.dir, "logs")
        self.specs = os.path.join(self.dir, "specs")
        self.broker_dir = os.path.join(self.dir, "broker")
        self.bin = os.path.join(self.dir, "bin", "trainyard")
        self.prefix = f"fair{args.seed}x{os.getpid()}"
        self.marker = f"TRAINYARD_FAIRNESS_RUN={self.dir}".encode()
        self.teams = [chr(ord("a") + index) for index in range(args.teams)]
        self.weights = dict(zip(self.teams, args.weights))
        # Membership changes (kills, restarts): share_error leaves out the hand-over after each.
        self.kill_times: list[float] = []
        self.restart_times: list[float] = []
        self.brokers = ""
        self.broker_started = False
        self.services: list[ServiceProcess] = []
        self.workers: list[ServiceProcess | None] = [None] * args.workers
        self.incarnations = Counter()
        self.submitted: dict[str, tuple[str, float]] = {}  # job id → (team, wall clock before its submit)
        self.kills = 0

    def env(self) -> dict:
        env = {k: v for k, v in os.environ.items() if k not in ("TRAINYARD_DB", "TRAINYARD_STATE_DIR", "TRAINYARD_CONCURRENCY")}
        env.update({"TRAINYARD_BROKERS": self.brokers, "TRAINYARD_TOPIC_PREFIX": self.prefix, "TRAINYARD_HOME": self.home,
                    "TRAINYARD_LOG_LEVEL": os.environ.get("TRAINYARD_LOG_LEVEL", "info"), "TRAINYARD_FAIRNESS_RUN": self.dir})
        return env

    def cli(self, *arguments: str) -> str:
        result = subprocess.run([self.bin, *arguments], env=self.env(), capture_output=True, text=True, timeout=300,
                                stdin=subprocess.DEVNULL)
        if result.returncode != 0:
            raise HarnessError(f"trainyard {arguments[0]} failed ({result.returncode}): {result.stderr.strip()[-1000:]}")
        return result.stdout

    def start(self, name: str, argv: list[str]) -> ServiceProcess:
        service = ServiceProcess()
        service.start(argv, self.env(), os.path.join(self.logs, f"{name}.log"))
        self.services.append(service)
        return service

    def start_worker(self, slot: int):
        if self.incarnations[slot]:
            self.restart_times.append(time.time())
        self.incarnations[slot] += 1
        self.workers[slot] = self.start(f"worker-{slot + 1}.{self.incarnations[slot]}", [
            self.bin, "worker", "--http-address", "127.0.0.1:0", "--group", f"{self.prefix}-workers",
            "--config", self.worker_config, "--quotas", self.quotas])

    def setup(self):
        for path in (os.path.dirname(self.bin), self.home, self.logs, self.specs, self.broker_dir):
            os.makedirs(path, exist_ok=True)
        shutil.copy2(self.args.binary, self.bin)
        self.worker_config = os.path.join(self.dir, "worker.yaml")
        with open(self.worker_config, "w") as handle:
            handle.write(f"backends:\n  - {{name: simulated, type: simulated, concurrency: {self.args.concurrency}}}\n")
        self.quotas = os.path.join(self.dir, "quotas.yaml")
        with open(self.quotas, "w") as handle:
            handle.write(f"defaults: {{maxAttempts: {self.args.quota}, weight: 1}}\nteams:\n")
            for team in self.teams:
                handle.write(f"  {team}: {{weight: {self.weights[team]:g}}}\n")
        for attempt in range(3):
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                port = probe.getsockname()[1]
            result = subprocess.run([os.path.join(self.args.root, "ops", "broker"), "--dir", self.broker_dir, "--port", str(port), "start"],
                                    capture_output=True, text=True, stdin=subprocess.DEVNULL)
            if result.returncode == 0:
                break
            if attempt == 2:
                raise HarnessError(f"ops/broker start failed: {result.stderr.strip()[-1000:]}")
        self.broker_started = True
        self.brokers = f"127.0.0.1:{port}"
        log(f"broker {self.brokers}, topic prefix {self.prefix}, temp dir {self.dir}")
        self.cli("topics", "create", "--partitions", str(self.args.partitions))
        self.start("aggregator", [self.bin, "aggregator", "--http-address", "127.0.0.1:0", "--group", f"{self.prefix}-aggregator"])
        for slot in range(self.args.workers):
            self.start_worker(slot)
        # Submit once every worker has joined (its log shows an assignment), so the waits measured
        # are the fleet's, not the group's first join.
        deadline = time.time() + 60
        while time.time() < deadline and not all(self.assigned(slot) for slot in range(self.args.workers)):
            time.sleep(0.2)

    def assigned(self, slot: int) -> bool:
        path = os.path.join(self.logs, f"worker-{slot + 1}.{self.incarnations[slot]}.log")
        try:
            with open(path, errors="replace") as handle:
                return "partitions assigned" in handle.read()
        except OSError:
            return False

    def submit(self, team: str, count: int, tag: str):
        files = []
        for index in range(count):
            seconds = round(self.rng.uniform(0.5, 2.0), 2)
            path = os.path.join(self.specs, f"{tag}-{index:05d}.json")
            with open(path, "w") as handle:
                json.dump({"apiVersion": "trainyard/v1", "name": f"{tag}-{index}", "team": team, "kind": "batch", "command": ["true"],
                           "maxRuntimeSeconds": 60, "labels": {"trainyard.io.simulate-seconds": str(seconds)}}, handle)
            files.append(path)
        at = time.time()
        ids = self.cli("submit", *files).split()
        if len(ids) != count:
            raise HarnessError(f"trainyard submit printed {len(ids)} ids for {count} files")
        for job_id in ids:
            self.submitted[job_id] = (team, at)

    def states(self) -> dict[str, str]:
        return job_states(os.path.join(self.home, "trainyard.db"))

    def run(self) -> int:
        args = self.args
        flood_team, steady = self.teams[0], self.teams[1:]
        flood = int(args.jobs * 0.6)
        steady_jobs = args.jobs - flood
        start = time.time()
        self.submit(flood_team, flood, "flood")
        log(f"team {flood_team} submitted {flood} jobs at once")
        # The others submit --steady-batch jobs at a time over the time the flood needs at its quota.
        span = flood * 1.25 / max(1, args.quota)
        next_kill = time.time() + self.rng.uniform(0.5, 1.5) * args.kill_interval
        restarts: list[tuple[float, int]] = []
        batches = [min(args.steady_batch, steady_jobs - first) for first in range(0, steady_jobs, args.steady_batch)]
        for index, count in enumerate(batches):
            self.submit(steady[index % len(steady)], count, f"steady-{index}")
            pause = span / max(1, len(batches))
            until = time.time() + self.rng.uniform(0.5, 1.5) * pause
            while time.time() < until:
                next_kill, restarts = self.chaos(next_kill, restarts)
                time.sleep(0.05)
        deadline = time.time() + args.deadline
        while time.time() < deadline:
            next_kill, restarts = self.chaos(next_kill, restarts)
            states = self.states()
            done = sum(1 for job_id in self.submitted if states.get(job_id) in TERMINAL)
            if done == len(self.submitted):
                break
            time.sleep(0.5)
        for at, slot in restarts:
            self.start_worker(slot)
        log(f"all terminal or deadline after {time.time() - start:.1f} s; {self.kills} worker kills")
        time.sleep(2)  # the aggregator's last batch
        return self.analyse()

    def chaos(self, next_kill: float, restarts: list[tuple[float, int]]):
        now = time.time()
        for at, slot in [r for r in restarts if r[0] <= now]:
            self.start_worker(slot)
        restarts = [r for r in restarts if r[0] > now]
        if self.args.kills and now >= next_kill and self.kills < self.args.kills:
            slot = self.rng.randrange(len(self.workers))
            worker = self.workers[slot]
            if worker and worker.alive() and all(s != slot for _, s in restarts):
                os.kill(worker.pid, signal.SIGKILL)
                worker.process.wait()
                self.kills += 1
                self.kill_times.append(now)
                log(f"killed worker-{slot + 1} (kill {self.kills})")
                restarts.append((now + self.rng.uniform(0.5, 2.0), slot))
            next_kill = now + self.rng.uniform(0.5, 1.5) * self.args.kill_interval
        return next_kill, restarts

    def analyse(self) -> int:
        states = self.states()
        lost = [job_id for job_id in self.submitted if states.get(job_id) not in TERMINAL]
        ledger = sqlite3.connect(f"file:{os.path.join(self.home, 'state', 'simulated.sqlite')}?mode=ro", uri=True, timeout=10)
        try:
            starts = Counter((job, attempt) for job, attempt in ledger.execute("SELECT job_id, attempt FROM simulated_starts"))
            attempts = list(ledger.execute(
                "SELECT job_id, team, created_at, MIN(ends_at, times_out_at, COALESCE(stopped_at, ends_at)) FROM simulated_attempts"))
        finally:
            ledger.close()
        double_started = sum(1 for count in starts.values() if count > 1)
        first_start: dict[str, float] = {}
        changes: dict[str, list[tuple[float, int]]] = defaultdict(list)
        for job_id, team, begin, end in attempts:
            first_start[job_id] = min(first_start.get(job_id, begin), begin)
            changes[team] += [(begin, 1), (end, -1)]
        over = 0
        for team, team_changes in changes.items():
            running = most = 0
            for _, delta in sorted(team_changes, key=lambda change: (change[0], change[1])):
                running += delta
                most = max(most, running)
            log(f"team {team}: at most {most} attempts at once (quota {self.args.quota})")
            over = max(over, most - self.args.quota)
        waits = sorted(first_start[job_id] - at for job_id, (team, at) in self.submitted.items()
                       if team != self.teams[0] and job_id in first_start)
        p99 = waits[min(len(waits) - 1, int(0.99 * len(waits)))] if waits else float("nan")
        share_error = self.share_error(attempts, first_start)
        print(f"fairness: jobs={len(self.submitted)} over_quota_max={over} share_error={share_error:.3f} "
              f"small_team_wait_p99_s={p99:.2f} lost={len(lost)} double_started={double_started}", flush=True)
        if lost:
            log(f"lost: {lost[:10]}")
        return 0 if over <= 0 and not lost and double_started == 0 else 1

    def share_error(self, attempts, first_start) -> float:
        """Mean over 0.25 s samples of the converged run, at instants when two or more teams have
        a backlog (a job submitted over --converge-seconds earlier and not yet started: a job in
        transit through the claim is not contention), of the largest |team's running − its fair
        allocation| / all running of those teams. The fair allocation splits that total by weight,
        capped at each team's demand (running + backlog), the rest shared among the others
        (weighted water-filling). Converged: samples within --hand-over-seconds +
        --converge-seconds after a worker kill, or --converge-seconds after a restart, are left
        out (the killed worker's partitions have no owner until the group notices)."""
        submitted_by_team = defaultdict(list)
        for job_id, (team, at) in self.submitted.items():
            submitted_by_team[team].append((at, first_start.get(job_id, float("inf"))))
        if not attempts:
            return 0.0
        settle = self.args.converge_seconds
        unsettled = [(at, at + self.args.hand_over_seconds + settle) for at in self.kill_times]
        unsettled += [(at, at + settle) for at in self.restart_times]
        begin = min(at for _, at in self.submitted.values())
        end = max(a[3] for a in attempts)
        errors = []
        instant = begin
        while instant < end:
            if any(start <= instant < stop for start, stop in unsettled):
                instant += 0.25
                continue
            settled = instant - settle
            backlog = {team: sum(1 for at, started in jobs if at <= settled and instant < started) for team, jobs in submitted_by_team.items()}
            backlogged = [team for team, count in backlog.items() if count]
            if len(backlogged) >= 2:
                running = {team: sum(1 for _, t, b, e in attempts if t == team and b <= instant < e) for team in backlogged}
                total = sum(running.values())
                if total:
                    demands = {team: running[team] + backlog[team] for team in backlogged}
                    allocation = water_fill(total, demands, self.weights)
                    errors.append(max(abs(running[team] - allocation[team]) for team in backlogged) / total)
            instant += 0.25
        return sum(errors) / len(errors) if errors else 0.0

    def cleanup(self):
        for service in self.services:
            if service.alive():
                service.process.kill()
                service.process.wait()
        kill_marked(self.marker)
        if self.broker_started:
            subprocess.run([os.path.join(self.args.root, "ops", "broker"), "--dir", self.broker_dir, "stop"],
                           capture_output=True, stdin=subprocess.DEVNULL)


def water_fill(total: float, demands: dict[str, int], weights: dict[str, float]) -> dict[str, float]:
    """Splits `total` among teams by weight, none above its demand; what one cannot use goes to
    the rest, again by weight."""
    allocation = {team: 0.0 for team in demands}
    open_teams = set(demands)
    left = float(total)
    while open_teams and left > 1e-9:
        weight_sum = sum(weights[team] for team in open_teams)
        handed = 0.0
        for team in sorted(open_teams):
            take = min(left * weights[team] / weight_sum, demands[team] - allocation[team])
            allocation[team] += take
            handed += take
        left -= handed
        open_teams = {team for team in open_teams if allocation[team] < demands[team] - 1e-9}
    return allocation


def main() -> int:
    parser = argparse.ArgumentParser(prog="ops/fairness", description="Team quotas and fair share under a flood (see ops/fairness).")
    parser.add_argument("--teams", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=300)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--seed", type=int, default=None, help="default: random (printed)")
    parser.add_argument("--quota", type=int, default=4, help="maxAttempts of every team")
    parser.add_argument("--weights", default=None, help="fair-share weights, one per team: 2:1:1 (default all 1)")
    parser.add_argument("--steady-batch", type=int, default=4, help="jobs per submission of the other teams")
    parser.add_argument("--kills", type=int, default=3, help="worker kills (SIGKILL, restart 0.5–2 s later)")
    parser.add_argument("--kill-interval", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=64, help="jobs at once per worker")
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--deadline", type=float, default=300.0, help="seconds after the last submission")
    parser.add_argument("--converge-seconds", type=float, default=2.0, help="share_error counts a job as backlog once it waited this long")
    parser.add_argument("--hand-over-seconds", type=float, default=6.0,
                        help="share_error leaves out this long (+ --converge-seconds) after a kill (the workers' session timeout)")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--binary", required=True, help=argparse.SUPPRESS)
    parser.add_argument("--root", required=True, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.teams < 2 or args.jobs < args.teams or args.workers < 1 or args.steady_batch < 1:
        parser.error("--teams ≥ 2, --jobs ≥ --teams, --workers ≥ 1, --steady-batch ≥ 1")
    try:
        args.weights = [float(weight) for weight in args.weights.split(":")] if args.weights else [1.0] * args.teams
    except ValueError:
        parser.error("--weights: numbers separated by colons, e.g. 2:1:1")
    if len(args.weights) != args.teams or min(args.weights) <= 0:
        parser.error("--weights: one weight above 0 per team")
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(1, 2 ** 31)
    log(f"seed {args.seed}; teams {args.teams}, jobs {args.jobs}, workers {args.workers}, quota {args.quota}, "
        f"weights {':'.join(f'{w:g}' for w in args.weights)}, concurrency {args.concurrency}")
    fairness = Fairness(args)

    def run() -> int:
        fairness.setup()
        return fairness.run()

    return run_then_tidy(run, fairness.cleanup, fairness.dir, args.keep)


if __name__ == "__main__":
    sys.exit(main())
