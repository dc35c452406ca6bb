#!/usr/bin/env python3
"""A Trainyard client in Python over Kafka alone, built from docs/wire-format.md (no Trainyard code).

It submits and cancels jobs on <prefix>.requests and follows them on <prefix>.status, with the
ordering guarantees intact: every message about a job is keyed by its job id and partitioned with
murmur2, as Trainyard's own producers and Kafka's Java client do.

    trainyard_client.py [--brokers B] [--topic-prefix P] job-id TEAM KEY
    trainyard_client.py ... submit SPEC.json [--idempotency-key KEY]   prints the job id
    trainyard_client.py ... cancel JOB_ID [--reason TEXT]
    trainyard_client.py ... follow JOB_ID... [--timeout SECONDS]        prints each status change
    trainyard_client.py ... demo --team TEAM [--run-id ID]              submit, resubmit, cancel, follow

Needs confluent-kafka (PyPI; its wheel bundles librdkafka). `demo` is what CI runs against a local
fleet: it exits 0 only if every step behaved as the contract says.
"""

import argparse
import datetime
import hashlib
import json
import sys
import time
import uuid

from confluent_kafka import Consumer, Producer

CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"
TERMINAL = {"SUCCEEDED", "FAILED", "CANCELLED", "TIMED_OUT", "REJECTED"}


def derived_job_id(team, idempotency_key):
    """The job id of (team, key): SHA-256 of b"trainyard-job-id" NUL team NUL key (UTF-8), first
    16 bytes as a 128-bit big-endian number, written as 26 Crockford base32 digits (5 bits each,
    most significant first; the first digit holds the top 3 bits)."""
    digest = hashlib.sha256(b"trainyard-job-id\0" + team.encode() + b"\0" + idempotency_key.encode()).digest()[:16]
    number = int.from_bytes(digest, "big")
    return "".join(CROCKFORD[(number >> (5 * (25 - index))) & 31] for index in range(26))


def fresh_job_id(now=None):
    """A time-ordered id: 48-bit milliseconds since 1970, then 80 random bits."""
    millis = int((now or time.time()) * 1000)
    number = (millis << 80) | int.from_bytes(uuid.uuid4().bytes[:10], "big")
    return "".join(CROCKFORD[(number >> (5 * (25 - index))) & 31] for index in range(26))


def murmur2(data):
    """Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2), as a signed 32-bit int."""
    length, seed, m, r = len(data), 0x9747B28C, 0x5BD1E995, 24
    h = (seed ^ length) & 0xFFFFFFFF
    for index in range(0, length - length % 4, 4):
        k = int.from_bytes(data[index:index + 4], "little")
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> r
        k = (k * m) & 0xFFFFFFFF
        h = ((h * m) & 0xFFFFFFFF) ^ k
    tail = length % 4
    base = length - tail
    if tail == 3:
        h ^= data[base + 2] << 16
    if tail >= 2:
        h ^= data[base + 1] << 8
    if tail >= 1:
        h ^= data[base]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h


def java_partition(key, partitions):
    """The partition Kafka's Java client picks for a keyed record."""
    return (murmur2(key.encode()) & 0x7FFFFFFF) % partitions


def timestamp():
    """ISO 8601 UTC with milliseconds and a Z, as the contract writes timestamps."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class TrainyardClient:
    def __init__(self, brokers, prefix="trainyard"):
        self.brokers = brokers
        self.requests = f"{prefix}.requests"
        self.status = f"{prefix}.status"
        # murmur2_random: Java's partitioner. librdkafka's default (consistent_random, CRC32) would
        # put a job's cancel on another partition than the submit sent by the CLI or the API.
        self.producer = Producer({"bootstrap.servers": brokers, "partitioner": "murmur2_random", "enable.idempotence": True})
        self.deliveries = []  # (key, partition) of every acknowledged request

    def _send(self, job_id, envelope):
        errors = []

        def delivered(error, message):
            if error is not None:
                errors.append(error)
            else:
                self.deliveries.append((message.key().decode(), message.partition()))

        value = json.dumps(envelope, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()
        self.producer.produce(self.requests, key=job_id.encode(), value=value, on_delivery=delivered)
        if self.producer.flush(30) != 0 or errors:
            raise RuntimeError(f"request for {job_id} not acknowledged: {errors or 'timeout'}")

    def submit(self, spec, idempotency_key=None):
        """Publishes a submit command; returns the job id (the derived one when a key is given)."""
        spec = dict(spec)
        if idempotency_key is not None:
            spec["idempotencyKey"] = idempotency_key
        key = spec.get("idempotencyKey")
        job_id = derived_job_id(spec["team"], key) if key is not None else fresh_job_id()
        self._send(job_id, {"schema": 1, "type": "submit", "jobId": job_id, "submittedAt": timestamp(), "spec": spec})
        return job_id

    def cancel(self, job_id, reason=None):
        envelope = {"schema": 1, "type": "cancel", "jobId": job_id, "requestedAt": timestamp()}
        if reason is not None:
            envelope["reason"] = reason
        self._send(job_id, envelope)

    def follow(self, job_ids, until, timeout=120.0, on_change=None):
        """Reads the status topic from the beginning until `until(latest)` holds, where `latest`
        maps each followed job id to its newest status (latest message per key wins). Messages
        of other schema versions are skipped with a warning; unknown fields are ignored."""
        wanted = set(job_ids)
        latest = {}
        consumer = Consumer({
            "bootstrap.servers": self.brokers, "group.id": f"trainyard-client-{uuid.uuid4()}",
            "auto.offset.reset": "earliest", "enable.auto.commit": False,
        })
        consumer.subscribe([self.status])
        deadline = time.monotonic() + timeout
        try:
            while not until(latest):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"no such status within {timeout} s; latest: {latest}")
                message = consumer.poll(0.5)
                if message is None or message.error() is not None:
                    continue
                key = message.key().decode() if message.key() else None
                if key not in wanted or message.value() is None:  # tombstones: none today, skip them anyway
                    continue
                status = json.loads(message.value())
                if status.get("schema") != 1:
                    print(f"warning: skipping a status of schema {status.get('schema')}", file=sys.stderr)
                    continue
                previous = latest.get(key)
                latest[key] = status
                if on_change and (previous is None or (previous["attempt"], previous["state"]) != (status["attempt"], status["state"])):
                    on_change(status)
        finally:
            consumer.close()
        return latest

    def close(self):
        self.producer.flush(30)


def print_change(status):
    print(f"status {status['jobId']} attempt={status['attempt']} {status['state']}" + (f" ({status['reason']})" if "reason" in status else ""), flush=True)


def demo(client, team, run_id, partitions):
    """Submit with an idempotency key, resubmit after it finished (same id, no second run), submit
    and cancel a long job; every request on the partition Java would choose."""
    spec = {"apiVersion": "trainyard/v1", "name": "python-client-short", "team": team, "command": ["sleep", "0.2"],
            "maxRuntimeSeconds": 60, "retry": {"maxAttempts": 1}, "labels": {"client": "python"}}
    key = f"python-client-{run_id}"
    short = client.submit(spec, idempotency_key=key)
    print(f"submitted {short} (idempotency key {key})", flush=True)
    assert short == derived_job_id(team, key)
    done = client.follow([short], lambda latest: latest.get(short, {}).get("state") in TERMINAL, on_change=print_change)
    assert done[short]["state"] == "SUCCEEDED", done[short]

    again = client.submit(spec, idempotency_key=key)
    print(f"resubmitted {again}", flush=True)
    assert again == short, (again, short)

    long_spec = dict(spec, name="python-client-long", command=["sleep", "300"])
    long = client.submit(long_spec)
    print(f"submitted {long}", flush=True)
    client.follow([long], lambda latest: latest.get(long, {}).get("state") == "RUNNING", on_change=print_change)
    client.cancel(long, reason="cancelled by the python client")
    print(f"cancelled {long}", flush=True)
    final = client.follow([long], lambda latest: latest.get(long, {}).get("state") in TERMINAL, on_change=print_change)
    assert final[long]["state"] == "CANCELLED", final[long]
    assert final[long].get("reason") == "cancelled by the python client", final[long]

    if partitions:
        for message_key, partition in client.deliveries:
            expected = java_partition(message_key, partitions)
            assert partition == expected, f"{message_key} went to partition {partition}; Java's client picks {expected}"
    print(f"python-client: ok short={short} long={long} requests={len(client.deliveries)}", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--brokers", default="127.0.0.1:19092")
    parser.add_argument("--topic-prefix", default="trainyard")
    commands = parser.add_subparsers(dest="command", required=True)
    job_id = commands.add_parser("job-id")
    job_id.add_argument("team")
    job_id.add_argument("key")
    submit = commands.add_parser("submit")
    submit.add_argument("spec")
    submit.add_argument("--idempotency-key")
    cancel = commands.add_parser("cancel")
    cancel.add_argument("job_id")
    cancel.add_argument("--reason")
    follow = commands.add_parser("follow")
    follow.add_argument("job_ids", nargs="+")
    follow.add_argument("--timeout", type=float, default=3600)
    run = commands.add_parser("demo")
    run.add_argument("--team", required=True)
    run.add_argument("--run-id", default=str(uuid.uuid4()))
    run.add_argument("--partitions", type=int, default=0, help="the requests topic's partition count: check each request's partition")
    arguments = parser.parse_args()

    if arguments.command == "job-id":
        print(derived_job_id(arguments.team, arguments.key))
        return 0
    client = TrainyardClient(arguments.brokers, arguments.topic_prefix)
    try:
        if arguments.command == "submit":
            with open(arguments.spec, encoding="utf-8") as file:
                print(client.submit(json.load(file), arguments.idempotency_key))
        elif arguments.command == "cancel":
            client.cancel(arguments.job_id, arguments.reason)
        elif arguments.command == "follow":
            client.follow(arguments.job_ids, lambda latest: len(latest) == len(set(arguments.job_ids))
                          and all(s["state"] in TERMINAL for s in latest.values()), arguments.timeout, print_change)
        elif arguments.command == "demo":
            demo(client, arguments.team, arguments.run_id, arguments.partitions)
    finally:
        client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
