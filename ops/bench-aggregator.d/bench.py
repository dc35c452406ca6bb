"""Helpers of ops/bench-aggregator.

  bench.py generate JOBS DIR        writes DIR/requests.tsv and DIR/events.tsv ("key<TAB>value" lines)
  bench.py measure JOBS MESSAGES RAW_RATE STATUS_TOPIC DB -- AGGREGATOR-COMMAND...

generate: per job, a submit command and 5 lifecycle events (CLAIMED, PROVISIONING, PENDING,
RUNNING, SUCCEEDED), encoded as Trainyard's own encoders write them (sorted keys, ISO 8601
timestamps with milliseconds).

measure: starts the aggregator, and times from the first message it applied until the store
holds every job's terminal state (and, with the status topic on, until its status outbox is
empty: every status published). The group join before the first message is left out, as in
the raw consumer's timing. CPU is the aggregator's user + system time over the same window;
RSS its peak resident set. Prints the summary line.
"""
import json
import os
import sqlite3
import subprocess
import sys
import time

ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"


def job_id(millis, serial):
    value = (millis << 80) | (0xBEEF << 64) | serial
    chars = []
    for _ in range(26):
        chars.append(ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def stamp(millis):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(millis // 1000)) + ".%03dZ" % (millis % 1000)


def dumps(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def generate(jobs, folder):
    base = 1_764_000_000_000
    spec_defaults = {
        "apiVersion": "trainyard/v1", "args": [], "backend": "local", "command": ["/bin/true"], "env": {},
        "hyperparameters": {}, "inputs": [], "kind": "batch", "labels": {"bench": "aggregator"}, "maxRuntimeSeconds": 3600,
        "resources": {"cpu": 1, "gpu": 0, "memoryMiB": 1024}, "retry": {"backoffSeconds": 5, "maxAttempts": 3, "retryOnUserError": False},
        "secrets": [], "team": "bench",
    }
    states = ["CLAIMED", "PROVISIONING", "PENDING", "RUNNING", "SUCCEEDED"]
    with open(os.path.join(folder, "requests.tsv"), "w") as requests, open(os.path.join(folder, "events.tsv"), "w") as events:
        for index in range(jobs):
            millis = base + index * 7
            identifier = job_id(millis, index)
            spec = dict(spec_defaults, name="bench-%d" % index)
            requests.write("%s\t%s\n" % (identifier, dumps(
                {"jobId": identifier, "schema": 1, "spec": spec, "submittedAt": stamp(millis), "type": "submit"})))
            for step, state in enumerate(states):
                event = {
                    "attempt": 1, "backend": "local", "jobId": identifier, "occurredAt": stamp(millis + 100 + 250 * step),
                    "resourceName": "trainyard-%s-1" % identifier, "schema": 1, "source": "backend" if state == "SUCCEEDED" else "worker",
                    "state": state, "team": "bench", "workerId": "bench-worker-%d" % (index % 2),
                }
                if state == "SUCCEEDED":
                    event["exitCode"] = 0
                events.write("%s\t%s\n" % (identifier, dumps(event)))


def process_times(pid):
    with open("/proc/%d/stat" % pid) as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid):
    with open("/proc/%d/status" % pid) as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def measure(jobs, messages, raw_rate, status_topic, db, command):
    log = open(db + ".log", "w")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        connection = None
        deadline = time.monotonic() + 3600
        start = cpu_start = None
        while time.monotonic() < deadline:
            if process.poll() is not None:
                sys.exit("the aggregator exited with status %d (see %s.log)" % (process.returncode, db))
            if connection is None and os.path.exists(db):
                try:
                    connection = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=30)
                except sqlite3.Error:
                    connection = None
            if connection is not None:
                try:
                    if start is None:
                        if connection.execute("SELECT count(*) FROM consumed_offsets").fetchone()[0] > 0:
                            start, cpu_start = time.monotonic(), process_times(process.pid)
                    else:
                        done = connection.execute(
                            "SELECT count(*) FROM jobs WHERE state IN ('SUCCEEDED','FAILED','CANCELLED','TIMED_OUT','REJECTED')").fetchone()[0]
                        pending = connection.execute("SELECT count(*) FROM status_outbox").fetchone()[0] if status_topic == "on" else 0
                        if done >= jobs and pending == 0:
                            break
                except sqlite3.Error:
                    pass  # the schema is not there yet
            time.sleep(0.05 if start is None else 0.1)
        else:
            sys.exit("the store did not hold every job's terminal state within an hour")
        seconds = time.monotonic() - start
        cpu = process_times(process.pid) - cpu_start
        rss = peak_rss_mb(process.pid)
    finally:
        process.terminate()
        process.wait()
    rate = messages / seconds
    print("aggregator: jobs=%d messages=%d seconds=%.2f msgs_per_s=%.0f raw_msgs_per_s=%.0f ratio=%.3f cpu_ms_per_1k_msgs=%.1f rss_mb=%.0f status_topic=%s"
          % (jobs, messages, seconds, rate, raw_rate, rate / raw_rate, cpu * 1000 / messages * 1000, rss, status_topic))


if __name__ == "__main__":
    if sys.argv[1] == "generate":
        generate(int(sys.argv[2]), sys.argv[3])
    elif sys.argv[1] == "measure":
        separator = sys.argv.index("--")
        jobs, messages, raw_rate, status_topic, db = sys.argv[2:separator]
        measure(int(jobs), int(messages), float(raw_rate), status_topic, db, sys.argv[separator + 1:])
    else:
        sys.exit(__doc__)
