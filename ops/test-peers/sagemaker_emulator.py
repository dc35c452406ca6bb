#!/usr/bin/env python3
"""A test-support extension of moto that behaves like SageMaker where Trainyard depends on it.

moto 5.2.1 marks training jobs Completed at once, has no StopTrainingJob, silently replaces a job
created twice under one name and emits no EventBridge events. This script patches moto in-process
and serves it (SageMaker, SQS, EventBridge, IAM on one port) with:

- lifecycles: a job is InProgress/Starting, then InProgress/Training (TrainingStartTime set), then
  ends as its labels (tags) choose: `emulator.outcome` = completed (default) | failed-algorithm |
  failed-capacity | hang (runs until stopped or out of time); `emulator.seconds` (default 3) is
  its run time; past StoppingCondition.MaxRuntimeInSeconds it is Stopped/MaxRuntimeExceeded;
- StopTrainingJob (Stopping, then Stopped one second later; ValidationException when not running);
- ResourceInUse on a duplicate CreateTrainingJob name, as AWS answers;
- `--capacity N`: CreateTrainingJob answers ResourceLimitExceeded while N jobs are in progress;
- `--throttle-first N`: the first N SageMaker calls answer 400 ThrottlingException;
- every status change published through EventBridge PutEvents ("SageMaker Training Job State
  Change", source aws.sagemaker, detail = the Describe fields, times in epoch milliseconds),
  which a rule delivers to an SQS queue; per job `emulator.events` = normal | duplicate (each
  event twice, and a stale InProgress event after the final one) | drop (no events at all);
- signatures checked: moto runs with INITIAL_NO_AUTH_ACTION_COUNT=3, the three calls that create
  an IAM user, its access key and an allow-all policy; every later call needs a valid SigV4
  signature with that key (a wrong one gets 403 SignatureDoesNotMatch).

Prints one JSON line on stdout when ready: endpoint, region, accessKeyId, secretAccessKey,
queueUrl. Writes every CreateTrainingJob outcome to `--audit` (JSON lines). Runs until stdin
closes or SIGTERM.
"""

import argparse
import json
import os
import sys
import threading
import time

os.environ["INITIAL_NO_AUTH_ACTION_COUNT"] = "3"
os.environ.setdefault("MOTO_ALLOW_NONEXISTENT_REGION", "true")

import boto3  # noqa: E402
from moto.core.responses import ActionResult  # noqa: E402
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app  # noqa: E402
from moto.sagemaker import models as sm_models  # noqa: E402
from moto.sagemaker.exceptions import ResourceInUseException, SagemakerClientError, ValidationError  # noqa: E402
from moto.sagemaker.responses import SageMakerResponse  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

REGION = "us-east-1"
LOCK = threading.RLock()
PLANS = {}  # job name -> lifecycle plan
EVENTS = []  # (job name, detail) waiting to be published


class ResourceLimitExceeded(SagemakerClientError):
    code = "ResourceLimitExceeded"


def now():
    return sm_models.utcnow()


def tag_map(job):
    return {t["Key"]: t["Value"] for t in (job.tags or [])}


def snapshot(job):
    """The state-change event detail: Describe's fields, timestamps as epoch milliseconds."""
    detail = {}
    for key, value in job.response_object.items():
        detail[key] = int(value.timestamp() * 1000) if hasattr(value, "timestamp") else value
    return json.loads(json.dumps(detail, default=str))


def emit(job):
    mode = PLANS.get(job.training_job_name, {}).get("events", "normal")
    if mode == "drop":
        return
    detail = snapshot(job)
    EVENTS.append((job.training_job_name, detail))
    if mode == "duplicate":
        EVENTS.append((job.training_job_name, detail))


def install_patches(args, audit):
    backend_class = sm_models.SageMakerModelBackend
    original_create = backend_class.create_training_job

    def create_training_job(self, training_job_name, **kwargs):
        with LOCK:
            if training_job_name in self.training_jobs:
                audit({"action": "CreateTrainingJob", "name": training_job_name, "result": "ResourceInUse"})
                raise ResourceInUseException(f"Training job names must be unique within an AWS account and region, "
                                             f"and a training job with this name already exists ({training_job_name})")
            running = sum(1 for j in self.training_jobs.values() if j.training_job_status in ("InProgress", "Stopping"))
            if args.capacity is not None and running >= args.capacity:
                audit({"action": "CreateTrainingJob", "name": training_job_name, "result": "ResourceLimitExceeded"})
                raise ResourceLimitExceeded(f"The account-level service limit 'ml.m5.large for training job usage' is "
                                            f"{args.capacity} Instances, with current utilization of {running} Instances")
            job = original_create(self, training_job_name, **kwargs)
            job.training_job_status, job.secondary_status = "InProgress", "Starting"
            job.training_start_time = job.training_end_time = None
            job.last_modified_time = now()
            tags = tag_map(job)
            PLANS[training_job_name] = {
                "created": time.monotonic(), "started": None,
                "outcome": tags.get("emulator.outcome", "completed"),
                "seconds": float(tags.get("emulator.seconds", "3")),
                "events": tags.get("emulator.events", "normal"),
                "max_runtime": float((job.stopping_condition or {}).get("MaxRuntimeInSeconds", 86400)),
                "stop_at": None, "job": job,
            }
            audit({"action": "CreateTrainingJob", "name": training_job_name, "result": "created"})
            emit(job)
            return job

    backend_class.create_training_job = create_training_job

    def stop_training_job(self):
        name = self._get_param("TrainingJobName")
        with LOCK:
            job = self.sagemaker_backend.training_jobs.get(name)
            if job is None:
                raise ValidationError(message=f"Requested resource not found: training job {name}")
            if job.training_job_status != "InProgress":
                raise ValidationError(message=f"The training job {name} is not in progress (status {job.training_job_status})")
            job.training_job_status, job.secondary_status = "Stopping", "Stopping"
            job.last_modified_time = now()
            PLANS[name]["stop_at"] = time.monotonic() + 1
            emit(job)
        return ActionResult({})

    SageMakerResponse.stop_training_job = stop_training_job


def advance(job, plan):
    """Moves one job along its planned lifecycle; returns True when it changed."""
    t = time.monotonic()
    if job.training_job_status == "Stopping" and plan["stop_at"] and t >= plan["stop_at"]:
        job.training_job_status, job.secondary_status = "Stopped", "Stopped"
    elif job.training_job_status != "InProgress":
        return False
    elif plan["started"] is None and t - plan["created"] >= 1:
        plan["started"] = t
        job.secondary_status, job.training_start_time = "Training", now()
    elif plan["started"] is not None and t - plan["started"] >= plan["max_runtime"]:
        job.training_job_status, job.secondary_status = "Stopped", "MaxRuntimeExceeded"
    elif plan["started"] is not None and t - plan["started"] >= plan["seconds"] and plan["outcome"] != "hang":
        if plan["outcome"] == "completed":
            job.training_job_status, job.secondary_status = "Completed", "Completed"
        else:
            category = "CapacityError" if plan["outcome"] == "failed-capacity" else "AlgorithmError"
            job.training_job_status, job.secondary_status = "Failed", "Failed"
            job.failure_reason = f"{category}: the emulated job failed as its emulator.outcome label asked"
    else:
        return False
    job.last_modified_time = now()
    if job.training_job_status in ("Completed", "Failed", "Stopped"):
        job.training_end_time = job.last_modified_time
    return True


def lifecycle_loop(events_client):
    while True:
        time.sleep(0.2)
        with LOCK:
            for name, plan in list(PLANS.items()):
                job = plan["job"]
                if advance(job, plan):
                    emit(job)
                    if job.training_job_status in ("Completed", "Failed", "Stopped") and plan["events"] == "duplicate":
                        stale = snapshot(job)
                        stale.update({"TrainingJobStatus": "InProgress", "SecondaryStatus": "Training"})
                        EVENTS.append((name, stale))
            pending = EVENTS[:]
            del EVENTS[:]
        for name, detail in pending:
            arn = detail.get("TrainingJobArn", name)
            events_client.put_events(Entries=[{
                "Source": "aws.sagemaker", "DetailType": "SageMaker Training Job State Change",
                "Resources": [arn], "Detail": json.dumps(detail),
            }])


class Throttle:
    """WSGI middleware: the first N SageMaker calls answer 400 ThrottlingException."""

    def __init__(self, app, count, audit):
        self.app, self.remaining, self.lock, self.audit = app, count, threading.Lock(), audit

    def __call__(self, environ, start_response):
        if environ.get("HTTP_X_AMZ_TARGET", "").startswith("SageMaker."):
            with self.lock:
                throttle = self.remaining > 0
                self.remaining -= 1 if throttle else 0
            if throttle:
                self.audit({"action": environ["HTTP_X_AMZ_TARGET"], "result": "ThrottlingException"})
                body = json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"}).encode()
                start_response("400 Bad Request", [("Content-Type", "application/x-amz-json-1.1"), ("Content-Length", str(len(body)))])
                return [body]
        return self.app(environ, start_response)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--throttle-first", type=int, default=0)
    parser.add_argument("--capacity", type=int, default=None)
    parser.add_argument("--audit", default=os.devnull)
    args = parser.parse_args()

    audit_lock = threading.Lock()

    def audit(record):
        with audit_lock, open(args.audit, "a") as out:
            out.write(json.dumps(record) + "\n")

    install_patches(args, audit)
    app = Throttle(DomainDispatcherApplication(create_backend_app), args.throttle_first, audit)
    server = make_server("127.0.0.1", args.port, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{server.server_port}"

    def client(service, key="testing", secret="testing"):
        return boto3.client(service, region_name=REGION, endpoint_url=endpoint,
                            aws_access_key_id=key, aws_secret_access_key=secret)

    iam = client("iam")  # the three unauthenticated calls
    iam.create_user(UserName="trainyard")
    key = iam.create_access_key(UserName="trainyard")["AccessKey"]
    iam.put_user_policy(UserName="trainyard", PolicyName="all", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
    key_id, secret = key["AccessKeyId"], key["SecretAccessKey"]
    sqs, events = client("sqs", key_id, secret), client("events", key_id, secret)
    queue_url = sqs.create_queue(QueueName="trainyard-sagemaker-events", Attributes={"VisibilityTimeout": "5"})["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="trainyard-sagemaker", EventPattern=json.dumps(
        {"source": ["aws.sagemaker"], "detail-type": ["SageMaker Training Job State Change", "SageMaker Processing Job State Change"]}))
    events.put_targets(Rule="trainyard-sagemaker", Targets=[{"Id": "queue", "Arn": queue_arn}])
    threading.Thread(target=lifecycle_loop, args=(events,), daemon=True).start()

    print(json.dumps({"endpoint": endpoint, "region": REGION, "accessKeyId": key_id, "secretAccessKey": secret,
                      "queueUrl": queue_url}), flush=True)
    try:
        sys.stdin.read()
    except KeyboardInterrupt:
        pass
    server.shutdown()


if __name__ == "__main__":
    main()
