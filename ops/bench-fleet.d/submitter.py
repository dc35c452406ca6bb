#!/usr/bin/env python3
"""The benchmark's submitter: one long-lived confluent-kafka producer (runs in the bench venv).

    submitter.py --brokers B --topic T --count N --work simulated|local|held --out FILE [--rate R]

Writes N submit requests, as the Swift client writes them (JobRequestCodec; docs/wire-format.md),
to the requests topic. With --rate each request is stamped (`submittedAt`) and handed to the
producer the moment it is due at R per second (open loop: a late one is not made up for by a
burst; linger 0, so it is sent at once); without it, all at once (default linger, batched).
FILE gets one JSON line per acknowledged request: its job id, the `submittedAt` instant (s), the
record's timestamp (ms, from the delivery report: CreateTime, stamped at `produce`) and when the
broker's acknowledgement reached this process (s). Exits non-zero when a request was not stored.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import time

from confluent_kafka import KafkaException, Producer

ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"


def job_id(at: float) -> str:
    """A fresh time-ordered job id: 48 bits of milliseconds, 80 random bits, 26 base32 characters."""
    value = (int(at * 1000) << 80) | random.getrandbits(80)
    return "".join(ALPHABET[(value >> (5 * (25 - i))) & 31] for i in range(26))


def timestamp(at: float) -> str:
    millis = int(round(at * 1000))
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(millis // 1000)) + f".{millis % 1000:03d}Z"


def request(index: int, work: str, at: float) -> tuple[str, bytes]:
    """(job id, the submit request's JSON) of the benchmark's `index`th job of `work`."""
    identifier = job_id(at)
    if work == "local":
        command, labels, max_runtime = ["/bin/true"], {}, 600
    else:
        command, labels, max_runtime = ["true"], ({"bench": "held"} if work == "held" else {}), 7200
    body = {
        "jobId": identifier, "schema": 1, "type": "submit", "submittedAt": timestamp(at),
        "spec": {"apiVersion": "trainyard/v1", "name": f"bench-{index}", "team": "bench", "kind": "batch",
                 "command": command, "maxRuntimeSeconds": max_runtime, "labels": labels},
    }
    return identifier, json.dumps(body, separators=(",", ":")).encode()


def main() -> int:
    parser = argparse.ArgumentParser(prog="submitter.py")
    parser.add_argument("--brokers", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--work", choices=["simulated", "local", "held"], required=True)
    parser.add_argument("--rate", type=float, help="requests per second (open loop); all at once without it")
    parser.add_argument("--first-index", type=int, default=1)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    settings = {"bootstrap.servers": args.brokers, "acks": "all"}
    if args.rate:
        settings["linger.ms"] = 0
    producer = Producer(settings)
    # The producer connects before the clock starts: a real client's producer is long-lived.
    producer.list_topics(args.topic, timeout=30)
    acknowledged: list[dict] = []
    failures: list[str] = []

    def delivered(error, message, identifier: str, submitted: float):
        if error is not None:
            failures.append(f"{identifier}: {error}")
            return
        _, record = message.timestamp()
        acknowledged.append({"job": identifier, "submitted": submitted, "record_ms": record, "acked": time.time()})

    started = time.time()
    for number in range(args.count):
        if args.rate:
            due = started + number / args.rate
            while (wait := due - time.time()) > 0:
                producer.poll(wait)  # serves delivery reports while it waits
        submitted = time.time()
        identifier, value = request(args.first_index + number, args.work, submitted)
        while True:
            try:
                producer.produce(args.topic, key=identifier.encode(), value=value,
                                 on_delivery=lambda error, message, i=identifier, s=submitted: delivered(error, message, i, s))
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
    if producer.flush(120) != 0:
        failures.append("messages still unacknowledged after 120 s")
    with open(args.out, "w") as handle:
        for entry in acknowledged:
            handle.write(json.dumps(entry) + "\n")
    if failures:
        print(f"{len(failures)} requests not stored, e.g. {failures[0]}", file=sys.stderr)
        return 1
    print(f"{started:.6f}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KafkaException as error:
        print(f"producer failed: {error}", file=sys.stderr)
        sys.exit(1)
