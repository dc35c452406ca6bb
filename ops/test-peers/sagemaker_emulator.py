#!/usr/bin/env python3
"""A test-support extension of moto that behaves like SageMaker where Trainyard depends on it.

moto 5.2.1 marks training and processing jobs Completed at once, has no StopTrainingJob /
StopProcessingJob, silently replaces a job created twice under one name and emits no EventBridge
events. This script patches moto in-process
and serves it (SageMaker, SQS, EventBridge, IAM on one port) with:

- lifecycles, for training and processing jobs: a job is InProgress/Starting, then
  InProgress/Training (its start time set), then ends as its labels (tags) choose:
  `emulator.outcome` = completed (default) | failed-algorithm | failed-capacity | hang (runs until
  stopped or out of time) | held (runs until the test releases it, then completes);
  `emulator.seconds` (default 3) is its run time; past StoppingCondition.MaxRuntimeInSeconds it is Stopped/MaxRuntimeExceeded
  (processing jobs have no SecondaryStatus, so only the status shows);
- StopTrainingJob / StopProcessingJob (Stopping, then Stopped one second later;
  ValidationException when not running);
- ResourceInUse on a duplicate job name, as AWS answers;
- POST /_emulator/release `{"name": NAME}` (unsigned): a `held` job completes once training
  (the test, not the emulator's clock, decides how long it runs);
- `--capacity N`: creating a job answers ResourceLimitExceeded while N jobs are in progress;
- `--throttle-first N`: the first N SageMaker calls answer 400 ThrottlingException;
- every status change published through EventBridge PutEvents ("SageMaker Training Job State
  Change" / "SageMaker Processing Job State Change", source aws.sagemaker, detail = the
  Describe fields, times in epoch milliseconds),
  which a rule delivers to an SQS queue; per job `emulator.events` = normal | duplicate (each
  event twice, and a stale InProgress event after the final one) | drop (no events at all);
- CloudWatch Logs as SageMaker writes them: when a job starts training its container "prints"
  its `emulator.log` tag, and when it ends its `emulator.log-at-exit` tag, as events of the stream
  `<job name>/algo-1-<epoch>` in `/aws/sagemaker/TrainingJobs` or `/aws/sagemaker/ProcessingJobs`;
  FilterLogEvents honours `logStreamNamePrefix` and interleaves streams by time, as AWS does
  (moto ignores the prefix and would answer with every job's events);
- signatures checked: moto runs with INITIAL_NO_AUTH_ACTION_COUNT=3, the three calls that create
  an IAM user, its access key and an allow-all policy; every later call needs a valid SigV4
  signature with that key (a wrong one gets 403 SignatureDoesNotMatch).

Prints one JSON line on stdout when ready: endpoint, region, accessKeyId, secretAccessKey,
queueUrl. Writes every create's outcome to `--audit` (JSON lines). Runs until stdin
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
RELEASED = set()  # names of held jobs the test released
EVENTS = []  # (family, detail) waiting to be published
LOG_LINES = []  # (log group, stream, message) waiting to be written to CloudWatch Logs


class Family:
    """The attribute vocabulary of one SageMaker job family in moto's models."""

    def __init__(self, noun, store, prefix, secondary, detail_type):
        self.noun, self.store, self.prefix, self.secondary, self.detail_type = noun, store, prefix, secondary, detail_type
        self.log_group = f"/aws/sagemaker/{noun}s"

    def status(self, job):
        return getattr(job, f"{self.prefix}_job_status")

    def set(self, job, status, secondary=None):
        setattr(job, f"{self.prefix}_job_status", status)
        if self.secondary:
            job.secondary_status = secondary or status
        job.last_modified_time = now()
        if status in ("Completed", "Failed", "Stopped"):
            setattr(job, f"{self.prefix}_end_time", job.last_modified_time)


TRAINING = Family("TrainingJob", "training_jobs", "training", True, "SageMaker Training Job State Change")
PROCESSING = Family("ProcessingJob", "processing_jobs", "processing", False, "SageMaker Processing Job State Change")


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


def emit(family, name, job):
    mode = PLANS.get(name, {}).get("events", "normal")
    if mode == "drop":
        return
    detail = snapshot(job)
    EVENTS.append((family, detail))
    if mode == "duplicate":
        EVENTS.append((family, detail))


def install_patches(args, audit):
    backend_class = sm_models.SageMakerModelBackend
    for family in (TRAINING, PROCESSING):
        install_family(backend_class, family, args, audit)


def install_family(backend_class, family, args, audit):
    create_name = f"create_{family.prefix}_job"
    original_create = getattr(backend_class, create_name)
    action = f"Create{family.noun}"

    def create(self, **kwargs):
        name = kwargs[f"{family.prefix}_job_name"]
        with LOCK:
            if name in getattr(self, family.store):
                audit({"action": action, "name": name, "result": "ResourceInUse"})
                raise ResourceInUseException(f"{family.noun} names must be unique within an AWS account and region, "
                                             f"and a job with this name already exists ({name})")
            running = sum(1 for fam in (TRAINING, PROCESSING) for j in getattr(self, fam.store).values()
                          if fam.status(j) in ("InProgress", "Stopping"))
            if args.capacity is not None and running >= args.capacity:
                audit({"action": action, "name": name, "result": "ResourceLimitExceeded"})
                raise ResourceLimitExceeded(f"The account-level service limit 'ml.m5.large for {family.prefix} job usage' is "
                                            f"{args.capacity} Instances, with current utilization of {running} Instances")
            job = original_create(self, **kwargs)
            setattr(job, f"{family.prefix}_start_time", None)
            setattr(job, f"{family.prefix}_end_time", None)
            family.set(job, "InProgress", "Starting")
            tags = tag_map(job)
            PLANS[name] = {
                "name": name, "created": time.monotonic(), "started": None,
                "outcome": tags.get("emulator.outcome", "completed"),
                "seconds": float(tags.get("emulator.seconds", "3")),
                "events": tags.get("emulator.events", "normal"),
                "max_runtime": float((job.stopping_condition or {}).get("MaxRuntimeInSeconds", 86400)),
                "stop_at": None, "job": job, "family": family,
                "log": tags.get("emulator.log"), "log_at_exit": tags.get("emulator.log-at-exit"),
                "stream": f"{name}/algo-1-{int(time.time())}",
            }
            audit({"action": action, "name": name, "result": "created"})
            emit(family, name, job)
            return job

    setattr(backend_class, create_name, create)

    def stop(self):
        name = self._get_param(f"{family.noun}Name")
        with LOCK:
            job = getattr(self.sagemaker_backend, family.store).get(name)
            if job is None:
                raise ValidationError(message=f"Requested resource not found: {family.noun} {name}")
            if family.status(job) != "InProgress":
                raise ValidationError(message=f"The job {name} is not in progress (status {family.status(job)})")
            family.set(job, "Stopping")
            PLANS[name]["stop_at"] = time.monotonic() + 1
            emit(family, name, job)
        return ActionResult({})

    setattr(SageMakerResponse, f"stop_{family.prefix}_job", stop)


def print_line(plan, text):
    if text:
        LOG_LINES.append((plan["family"].log_group, plan["stream"], text))


def advance(job, plan):
    """Moves one job along its planned lifecycle; returns True when it changed."""
    changed = step(job, plan)
    if changed and plan["family"].status(job) == "InProgress" and plan["started"] is not None and not plan.get("printed"):
        plan["printed"] = True
        print_line(plan, plan["log"])
    if changed and plan["family"].status(job) in ("Completed", "Failed", "Stopped") and plan.get("printed"):
        print_line(plan, plan["log_at_exit"])
    return changed


def step(job, plan):
    family, t = plan["family"], time.monotonic()
    status = family.status(job)
    if status == "Stopping" and plan["stop_at"] and t >= plan["stop_at"]:
        family.set(job, "Stopped")
    elif status != "InProgress":
        return False
    elif plan["started"] is None and t - plan["created"] >= 1:
        plan["started"] = t
        setattr(job, f"{family.prefix}_start_time", now())
        family.set(job, "InProgress", "Training")
    elif plan["started"] is not None and t - plan["started"] >= plan["max_runtime"]:
        family.set(job, "Stopped", "MaxRuntimeExceeded")
    elif plan["started"] is not None and ended(plan, t):
        if plan["outcome"] in ("completed", "held"):
            family.set(job, "Completed")
        else:
            category = "CapacityError" if plan["outcome"] == "failed-capacity" else "AlgorithmError"
            job.failure_reason = f"{category}: the emulated job failed as its emulator.outcome label asked"
            family.set(job, "Failed")
    else:
        return False
    return True


def ended(plan, t):
    """Whether a training job's run time is over: a held job's when released, a hanging job's never."""
    if plan["outcome"] == "held":
        return plan["name"] in RELEASED
    return plan["outcome"] != "hang" and t - plan["started"] >= plan["seconds"]


def write_logs(logs_client, lines):
    for group, stream, message in lines:
        try:
            logs_client.create_log_group(logGroupName=group)
        except logs_client.exceptions.ResourceAlreadyExistsException:
            pass
        try:
            logs_client.create_log_stream(logGroupName=group, logStreamName=stream)
        except logs_client.exceptions.ResourceAlreadyExistsException:
            pass
        logs_client.put_log_events(logGroupName=group, logStreamName=stream,
                                   logEvents=[{"timestamp": int(time.time() * 1000), "message": message}])


def install_log_filter():
    """FilterLogEvents as AWS answers it: only the streams named by `logStreamNamePrefix`, interleaved by time."""
    from moto.logs.responses import LogsResponse

    def filter_log_events(self):
        group_name = self._get_param("logGroupName")
        prefix = self._get_param("logStreamNamePrefix")
        names = self._get_param("logStreamNames", [])
        if prefix is not None:
            group = self.logs_backend.groups.get(group_name)
            if group is None:
                from moto.logs.exceptions import ResourceNotFoundException
                raise ResourceNotFoundException()
            names = [name for name in group.streams if name.startswith(prefix)]
            if not names:
                return json.dumps({"events": [], "searchedLogStreams": []})
        events, next_token, searched = self.logs_backend.filter_log_events(
            group_name, names, self._get_param("startTime"), self._get_param("endTime"), self._get_param("limit"),
            self._get_param("nextToken"), self._get_param("filterPattern"), True)
        return json.dumps({"events": events, "nextToken": next_token, "searchedLogStreams": searched})

    LogsResponse.filter_log_events = filter_log_events


def lifecycle_loop(events_client, logs_client):
    while True:
        time.sleep(0.2)
        with LOCK:
            for name, plan in list(PLANS.items()):
                job, family = plan["job"], plan["family"]
                if advance(job, plan):
                    emit(family, name, job)
                    if family.status(job) in ("Completed", "Failed", "Stopped") and plan["events"] == "duplicate":
                        stale = snapshot(job)
                        stale[f"{family.noun}Status"] = "InProgress"
                        EVENTS.append((family, stale))
            pending = EVENTS[:]
            del EVENTS[:]
            lines = LOG_LINES[:]
            del LOG_LINES[:]
        write_logs(logs_client, lines)
        for family, detail in pending:
            events_client.put_events(Entries=[{
                "Source": "aws.sagemaker", "DetailType": family.detail_type,
                "Resources": [detail.get(f"{family.noun}Arn", "")], "Detail": json.dumps(detail),
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


class ReleaseControl:
    """WSGI middleware: POST /_emulator/release `{"name": NAME}` releases a held job."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") == "/_emulator/release" and environ.get("REQUEST_METHOD") == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            name = json.loads(environ["wsgi.input"].read(length))["name"]
            with LOCK:
                RELEASED.add(name)
            body = json.dumps({"released": name}).encode()
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
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
    install_log_filter()
    app = ReleaseControl(Throttle(DomainDispatcherApplication(create_backend_app), args.throttle_first, audit))
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
    threading.Thread(target=lifecycle_loop, args=(events, client("logs", key_id, secret)), daemon=True).start()

    print(json.dumps({"endpoint": endpoint, "region": REGION, "accessKeyId": key_id, "secretAccessKey": secret,
                      "queueUrl": queue_url}), flush=True)
    try:
        sys.stdin.read()
    except KeyboardInterrupt:
        pass
    server.shutdown()


if __name__ == "__main__":
    main()
