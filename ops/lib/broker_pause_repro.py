#!/usr/bin/env python3
"""Issue #18's reproduction, scripted: a fleet of 2 workers and an aggregator (local backend, the
services' defaults) on a fresh local broker; 150 jobs of `sleep 2`; 4 s after the submission the
broker is SIGSTOPped for --pause seconds, then continued. Passes when every job is terminal within
--timeout seconds of the broker's return. Prints one line per try:

    pause-repro: try=N pause_s=P terminal=T/150 finished_after_return_s=S states={...}

Usage: broker_pause_repro.py --binary PATH --root REPO [--tries N] [--pause SECONDS] [--timeout SECONDS] [--log-level L] [--keep]
Needs TANSU_BIN and our librdkafka on LD_LIBRARY_PATH (run it under ops/lib/common.sh's
use_built_rdkafka, as ops/chaos does). Leaves the temp dir (logs/, trainyard.db) of a failed try.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import broker_faults  # noqa: E402
from harness import job_states, kill_local_runs  # noqa: E402

TERMINAL = {"SUCCEEDED", "FAILED", "CANCELLED", "TIMED_OUT", "REJECTED"}


def one_try(args, number: int) -> bool:
    directory = tempfile.mkdtemp(prefix=f"trainyard-pause-repro-{number}-")
    home, logs = os.path.join(directory, "home"), os.path.join(directory, "logs")
    os.makedirs(home)
    os.makedirs(logs)
    port = broker_faults.free_port()
    broker = [os.path.join(args.root, "ops", "broker"), "--dir", os.path.join(directory, "broker"), "--port", str(port)]
    subprocess.run([*broker, "start"], check=True, capture_output=True)
    env = {key: value for key, value in os.environ.items() if not key.startswith("TRAINYARD_")}
    env.update({"TRAINYARD_BROKERS": f"127.0.0.1:{port}", "TRAINYARD_HOME": home, "TRAINYARD_LOG_FORMAT": "text",
                "TRAINYARD_TOPIC_PREFIX": f"repro{number}", "TRAINYARD_LOG_LEVEL": args.log_level})
    services: list[subprocess.Popen] = []
    ok = False
    try:
        subprocess.run([args.binary, "topics", "create"], env=env, check=True, capture_output=True)
        for name, argv in [("aggregator", ["aggregator", "--http-address", "127.0.0.1:0"]),
                           ("worker-1", ["worker", "--http-address", "127.0.0.1:0"]),
                           ("worker-2", ["worker", "--http-address", "127.0.0.1:0"])]:
            with open(os.path.join(logs, f"{name}.log"), "wb") as log_file:
                services.append(subprocess.Popen([args.binary, *argv], env=env, stdout=log_file, stderr=subprocess.STDOUT,
                                                 stdin=subprocess.DEVNULL, start_new_session=True))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # both workers hold partitions
            texts = [open(os.path.join(logs, f"worker-{n}.log"), errors="replace").read() for n in (1, 2)]
            if all("partitions assigned" in text for text in texts):
                break
            time.sleep(0.2)
        specs = []
        for index in range(150):
            path = os.path.join(directory, f"j{index}.json")
            with open(path, "w") as handle:
                json.dump({"apiVersion": "trainyard/v1", "name": f"pause-{index}", "team": "ml-platform", "kind": "batch",
                           "command": ["/bin/sleep", "2"], "maxRuntimeSeconds": 120,
                           "env": {"PAUSE_REPRO_RUN": directory}}, handle)
            specs.append(path)
        ids = subprocess.run([args.binary, "submit", *specs], env=env, check=True, capture_output=True, text=True).stdout.split()
        time.sleep(4)
        broker_pid = int(open(os.path.join(directory, "broker", "tansu.pid")).read())
        broker_faults.pause_process(broker_pid, args.pause)
        returned = time.monotonic()
        db = os.path.join(home, "trainyard.db")
        finished_after = None
        while time.monotonic() - returned < args.timeout:
            current = job_states(db, timeout=5)
            if all(current.get(job_id) in TERMINAL for job_id in ids):
                finished_after = time.monotonic() - returned
                break
            time.sleep(1)
        current = job_states(db, timeout=5)
        terminal = sum(1 for job_id in ids if current.get(job_id) in TERMINAL)
        counts = dict(sorted(Counter(current.get(job_id, "MISSING") for job_id in ids).items()))
        print(f"pause-repro: try={number} pause_s={args.pause:.0f} terminal={terminal}/{len(ids)} "
              f"finished_after_return_s={'%.1f' % finished_after if finished_after is not None else 'never'} states={counts}",
              flush=True)
        ok = finished_after is not None
    finally:
        for service in services:
            if service.poll() is None:
                service.send_signal(signal.SIGKILL)
                service.wait()
        kill_local_runs(os.path.join(home, "state", "runs"), f"PAUSE_REPRO_RUN={directory}".encode())
        subprocess.run([*broker, "stop"], capture_output=True)
        if ok and not args.keep:
            shutil.rmtree(directory, ignore_errors=True)
        else:
            print(f"pause-repro: kept {directory}", file=sys.stderr)
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", required=True)
    parser.add_argument("--root", required=True)
    parser.add_argument("--tries", type=int, default=1)
    parser.add_argument("--pause", type=float, default=30.0)
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--keep", action="store_true", help="keep every try's temp dir, not only failed ones")
    parser.add_argument("--log-level", default="info", help="of the services (debug shows the workers' pause and resume)")
    args = parser.parse_args()
    passed = sum(one_try(args, number) for number in range(1, args.tries + 1))
    print(f"pause-repro: {passed}/{args.tries} tries finished every job", flush=True)
    return 0 if passed == args.tries else 1


if __name__ == "__main__":
    sys.exit(main())
