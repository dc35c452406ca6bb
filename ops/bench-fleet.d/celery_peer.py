"""The Celery 5 + Redis peer of ops/bench-fleet: what a team would otherwise run for the same work.

Run inside the bench venv (Celery from PyPI). As a worker:
    celery -A celery_peer worker --pool prefork --concurrency W
As the submitter (`python celery_peer.py submit WORK N` enqueues N tasks, prints "OK"); after
the run, `python celery_peer.py first-start` prints when the first task started.

Settings a team would pick for work that must not be lost: acks_late (a task is acknowledged
after it ran, so a killed worker's task is delivered again — and may run twice), one result
write per task (the result backend, Redis), prefetch at Celery's default. The broker and the
result backend are one Redis on loopback (db 0 and db 1): BENCH_REDIS_URL names it.
"""
import os
import subprocess
import sys
import time

from celery import Celery
from celery.signals import worker_ready

REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379")
app = Celery("celery_peer", broker=f"{REDIS}/0", backend=f"{REDIS}/1")
app.conf.update(
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    task_ignore_result=False,
    result_expires=None,
    worker_hijack_root_logger=False,
    broker_connection_retry_on_startup=True,
)


@worker_ready.connect
def announce_ready(**_) -> None:
    """Tells the driver (BENCH_READY_FILE) that the worker and its pool are up."""
    path = os.environ.get("BENCH_READY_FILE")
    if path:
        with open(path, "w") as handle:
            handle.write("ready\n")


@app.task(name="bench.null")
def null() -> float:
    """Does nothing; returns when it started (epoch seconds)."""
    return time.time()


@app.task(name="bench.subprocess")
def run_true() -> float:
    """Runs /bin/true as a subprocess, as a task that shells out to a tool would."""
    started = time.time()
    subprocess.run(["/bin/true"], check=True)
    return started


def first_start() -> None:
    """Prints when the first task started (the smallest result)."""
    import json

    client = app.backend.client
    starts = []
    keys = list(client.scan_iter("celery-task-meta-*", count=1000))
    for first in range(0, len(keys), 1000):
        for raw in client.mget(keys[first:first + 1000]):
            if raw:
                starts.append(float(json.loads(raw)["result"]))
    print(min(starts), flush=True)


def submit(work: str, count: int) -> None:
    task = {"null": null, "subprocess": run_true}[work]
    for _ in range(count):
        task.apply_async()
    print("OK", flush=True)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "submit":
        submit(sys.argv[2], int(sys.argv[3]))
    elif sys.argv[1:] == ["first-start"]:
        first_start()
    else:
        sys.exit("usage: celery_peer.py submit null|subprocess N | first-start")
