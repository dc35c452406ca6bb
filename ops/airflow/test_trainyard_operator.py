"""Tests of the Airflow operator against a real Trainyard API (aggregator, worker, broker).

Run by IntegrationTests/APITests (`ops/test`), which starts the fleet and passes
TRAINYARD_API_URL and a team key in TRAINYARD_API_KEY (team "alpha"). Airflow is not installed.
"""

import os
import threading
import time
import uuid

import pytest

from trainyard_operator import AirflowException, TrainyardJobFailed, TrainyardJobOperator


class TaskInstance:
    def __init__(self, dag_id, task_id, map_index=-1):
        self.dag_id, self.task_id, self.map_index = dag_id, task_id, map_index


def context(task_id, run_id=None):
    return {"ti": TaskInstance("nightly", task_id), "run_id": run_id or f"manual__{uuid.uuid4()}"}


def spec(name, command, **extra):
    return {"apiVersion": "trainyard/v1", "name": name, "team": "alpha", "command": command,
            "retry": {"maxAttempts": 1}, **extra}


def operator(task_id, job_spec):
    return TrainyardJobOperator(task_id=task_id, spec=job_spec, poll_interval=0.2)


def test_success_returns_the_job_id():
    op = operator("ok", spec("airflow-ok", ["true"]))
    job_id = op.execute(context("ok"))
    assert op.job(job_id)["state"] == "SUCCEEDED"


def test_a_retried_task_instance_attaches_to_the_same_job():
    ctx = context("once")
    first = operator("once", spec("airflow-once", ["true"])).execute(ctx)
    second = operator("once", spec("airflow-once", ["true"])).execute(ctx)
    assert first == second
    other_run = operator("once", spec("airflow-once", ["true"])).execute(context("once"))
    assert other_run != first


def test_a_failed_job_fails_the_task_with_its_reason():
    op = operator("fails", spec("airflow-fails", ["/bin/sh", "-c", "exit 3"]))
    with pytest.raises(TrainyardJobFailed) as failure:
        op.execute(context("fails"))
    assert failure.value.job["state"] == "FAILED"
    assert "exit 3" in str(failure.value)


def test_an_invalid_spec_is_refused_with_the_field_named():
    op = operator("invalid", spec("airflow-invalid", ["true"], resources={"cpu": -1}))
    with pytest.raises(AirflowException) as refusal:
        op.execute(context("invalid"))
    assert "HTTP 400" in str(refusal.value) and "resources.cpu" in str(refusal.value)
    assert os.environ["TRAINYARD_API_KEY"] not in str(refusal.value)


def test_on_kill_cancels_the_running_job():
    op = operator("long", spec("airflow-long", ["sleep", "300"]))
    outcome = {}

    def run():
        try:
            op.execute(context("long"))
        except TrainyardJobFailed as failure:
            outcome["job"] = failure.job

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (op.job_id is None or op.job(op.job_id)["state"] != "RUNNING"):
        time.sleep(0.2)
    assert op.job_id and op.job(op.job_id)["state"] == "RUNNING"
    op.on_kill()
    thread.join(timeout=60)
    assert outcome["job"]["state"] == "CANCELLED"
