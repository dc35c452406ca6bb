"""An Airflow operator that runs a Trainyard job through the HTTP API and waits for it.

Copy this file into your DAGs folder (or a plugin). It needs only the standard library and, at
run time, Airflow itself; without Airflow it still imports (for tests and scripts).

    from trainyard_operator import TrainyardJobOperator

    train = TrainyardJobOperator(
        task_id="train",
        spec={"apiVersion": "trainyard/v1", "name": "nightly-train", "team": "ranking",
              "kind": "training", "command": ["python", "train.py"]},
    )

The API address and key come from the arguments, else from TRAINYARD_API_URL and
TRAINYARD_API_KEY (use an Airflow connection or secret backend to set them; the key is never
logged). The idempotency key is derived from the DAG id, task id, run id and map index, so a
retried or re-run task instance attaches to the job it already submitted instead of starting a
second one; Trainyard's own retry policy (the spec's `retry`) decides about new attempts.
"""

import json
import os
import time
import urllib.error
import urllib.request

try:
    from airflow.exceptions import AirflowException
    from airflow.models import BaseOperator
except ImportError:  # Airflow is not installed: keep the module importable.

    class AirflowException(Exception):
        pass

    class BaseOperator:
        template_fields = ()

        def __init__(self, task_id=None, **kwargs):
            self.task_id = task_id


TERMINAL_STATES = {"SUCCEEDED", "FAILED", "CANCELLED", "TIMED_OUT", "REJECTED"}


class TrainyardJobFailed(AirflowException):
    """The job ended in a state other than SUCCEEDED."""

    def __init__(self, job):
        self.job = job
        detail = ", ".join(str(part) for part in (job.get("reason"), job.get("exitCode") and f"exit {job['exitCode']}") if part)
        super().__init__(f"Trainyard job {job.get('jobId')} ended {job.get('state')}" + (f": {detail}" if detail else ""))


class TrainyardJobOperator(BaseOperator):
    """Submits `spec` (a dict in Trainyard's job spec format) and waits until the job is terminal.

    Returns the job id (pushed to XCom by Airflow). Raises `TrainyardJobFailed` when the job does
    not succeed, and `AirflowException` when the API refuses the spec (with its field messages).
    """

    template_fields = ("spec",)

    def __init__(self, *, spec, api_url=None, api_key=None, poll_interval=10.0, request_timeout=30.0, **kwargs):
        super().__init__(**kwargs)
        self.spec = spec
        self.api_url = api_url
        self.api_key = api_key
        self.poll_interval = poll_interval
        self.request_timeout = request_timeout
        self.job_id = None

    # -- Airflow hooks --------------------------------------------------------------------

    def execute(self, context):
        self.job_id = self.submit(context)
        job = self.wait(self.job_id)
        if job["state"] != "SUCCEEDED":
            raise TrainyardJobFailed(job)
        return self.job_id

    def on_kill(self):
        """Airflow calls this when the task is stopped: the job is cancelled, not orphaned."""
        if self.job_id:
            self.cancel(self.job_id, reason=f"Airflow task {self.task_id} was killed")

    # -- API calls --------------------------------------------------------------------------

    @staticmethod
    def idempotency_key(context):
        """`airflow:<dag>:<task>:<run>[:<map index>]`: stable across retries of one task instance."""
        ti = context["ti"]
        parts = ["airflow", ti.dag_id, ti.task_id, context["run_id"]]
        if getattr(ti, "map_index", -1) not in (None, -1):
            parts.append(str(ti.map_index))
        return ":".join(parts)

    def submit(self, context):
        reply = self._call(
            "POST", "/v1/jobs", body=self.spec, headers={"Idempotency-Key": self.idempotency_key(context)}
        )
        return reply["jobId"]

    def job(self, job_id):
        return self._call("GET", f"/v1/jobs/{job_id}")

    def cancel(self, job_id, reason):
        return self._call("POST", f"/v1/jobs/{job_id}/cancel", body={"reason": reason})

    def wait(self, job_id):
        while True:
            job = self.job(job_id)
            if job["state"] in TERMINAL_STATES:
                return job
            time.sleep(self.poll_interval)

    def _call(self, method, path, body=None, headers=None):
        base = (self.api_url or os.environ.get("TRAINYARD_API_URL") or "").rstrip("/")
        key = self.api_key or os.environ.get("TRAINYARD_API_KEY")
        if not base or not key:
            raise AirflowException("set api_url/api_key or TRAINYARD_API_URL/TRAINYARD_API_KEY")
        request = urllib.request.Request(base + path, method=method)
        request.add_header("Authorization", f"Bearer {key}")
        request.add_header("Accept", "application/json")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, data=data, timeout=self.request_timeout) as response:
                return json.load(response)
        except urllib.error.HTTPError as error:
            raise AirflowException(f"Trainyard API {method} {path}: HTTP {error.code}: {_describe(error)}") from None


def _describe(error):
    """The API's error message and field messages, never the request (it carries the key)."""
    try:
        detail = json.load(error)["error"]
    except (ValueError, KeyError, TypeError):
        return error.reason
    fields = "; ".join(f"{item['field']}: {item['message']}" for item in detail.get("fields") or [])
    return detail.get("message", "") + (f" ({fields})" if fields else "")
