#!/usr/bin/env python3
"""A stand-in for the parts of kube-apiserver (and the Job controller and kubelet behind it)
that Trainyard's Kubernetes backend depends on. It is NOT a Kubernetes API server: no etcd, no
admission, no scheduler; it exists because no real API server can be installed on our test
machines.

What it implements, following the documented API behaviour:
- batch/v1 Jobs: create (409 AlreadyExists on a duplicate name), get, list, delete
  (propagationPolicy Background: the Job goes at once, its pods shortly after); v1 Pods: list.
- Label selectors (`k=v`, `k==v`, `k!=v`, `k`, `!k`, comma = and).
- One monotonically increasing resourceVersion across all objects; list returns it.
- Watches (`?watch=true&resourceVersion=N`): ADDED/MODIFIED/DELETED since N, then live;
  BOOKMARK events when `allowWatchBookmarks=true`; `timeoutSeconds`; a resourceVersion older than
  the compaction point gets HTTP 200 with an ERROR event carrying Status 410 (Expired), like etcd
  compaction; list with a too-old resourceVersion is not supported (lists are always fresh).
- Bearer-token auth (401), optional TLS with optional client certificates, and 403 for verbs
  named with --forbid (RBAC), with the Status a real server sends.
- Scripted pod lifecycles chosen by the Job's main-container env `KUBE_STANDIN_SCENARIO`:
  succeed, fail (exit code KUBE_STANDIN_EXIT_CODE), sidecar-fails (main exits 0, an injected
  sidecar exits 1, the Job is marked Failed), oom, image-pull (ErrImagePull/ImagePullBackOff
  forever), evicted (DisruptionTarget, PodFailurePolicy), unschedulable (PodScheduled=False for
  KUBE_STANDIN_UNSCHEDULABLE_SECONDS, then runs and succeeds), run-forever. Run time:
  KUBE_STANDIN_SECONDS. activeDeadlineSeconds is enforced (DeadlineExceeded).
  KUBE_STANDIN_CREATE_DELAY makes the create answer that long after storing the Job (to kill a
  client mid-request).
- Test controls (no auth): POST /_standin/drop-watches (cut every open watch connection without
  ending the chunked body), POST /_standin/expire (compact at the current version: every older
  resourceVersion becomes too old and open watches get the 410 ERROR event), POST
  /_standin/fail-next `{"codes": [429, 503]}` (answer the next API requests with these codes;
  429 carries `Retry-After: 0`), POST /_standin/release `{"job": NAME}` (the Job's run time
  ends now: tests decide when a running pod finishes instead of racing a clock), GET
  /_standin/created-jobs (every Job body a successful create received), GET /_standin/stats
  (creates/conflicts per name, requests per method and path, open watches per kind).

Prints `PORT <n>` on stdout once listening on 127.0.0.1.
"""

import argparse
import json
import random
import signal
import socket
import ssl
import string
import sys
import threading
import time
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


def now_rfc3339():
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def status(code, reason, message, details=None):
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message, "reason": reason, "code": code}
    if details:
        body["details"] = details
    return body


def parse_selector(text):
    """Returns a predicate over a labels dict."""
    terms = []
    for raw in filter(None, (t.strip() for t in (text or "").split(","))):
        if "!=" in raw:
            k, v = raw.split("!=", 1)
            terms.append(lambda labels, k=k, v=v: labels.get(k) != v)
        elif "==" in raw or "=" in raw:
            k, v = raw.split("==", 1) if "==" in raw else raw.split("=", 1)
            terms.append(lambda labels, k=k, v=v: labels.get(k) == v)
        elif raw.startswith("!"):
            terms.append(lambda labels, k=raw[1:]: k not in labels)
        else:
            terms.append(lambda labels, k=raw: k in labels)
    return lambda labels: all(t(labels or {}) for t in terms)


class Store:
    """All objects, the event log and the resource-version clock, behind one condition."""

    def __init__(self):
        self.cv = threading.Condition()
        self.rv = 1000
        self.compacted = 0  # watches from a resourceVersion below this get 410
        self.objects = {"jobs": {}, "pods": {}}  # kind -> (ns, name) -> object
        self.log = []  # (rv, kind, type, object)
        self.created_jobs = []
        self.creates = {}
        self.conflicts = {}
        self.requests = {}
        self.drop_generation = 0
        self.expire_generation = 0
        self.failures = []  # HTTP codes to answer the next API requests with, in order
        self.released = set()  # (ns, name) of Jobs whose run time was ended by /_standin/release
        self.open_watches = {"jobs": 0, "pods": 0}
        self.pod_logs = {}  # (ns, pod name) -> lines the main container printed

    def print_lines(self, ns, pod, text):
        if not text:
            return
        with self.cv:
            self.pod_logs.setdefault((ns, pod), []).extend(line + "\n" for line in text.split("\n"))
            self.cv.notify_all()

    def _emit(self, kind, event_type, obj):
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)
        self.log.append((self.rv, kind, event_type, json.loads(json.dumps(obj))))
        self.cv.notify_all()

    def put(self, kind, obj, event_type="MODIFIED"):
        with self.cv:
            key = (obj["metadata"]["namespace"], obj["metadata"]["name"])
            if event_type == "MODIFIED" and key not in self.objects[kind]:
                return False  # deleted meanwhile: scenario threads stop quietly
            self.objects[kind][key] = obj
            self._emit(kind, event_type, obj)
            return True

    def delete(self, kind, ns, name):
        with self.cv:
            obj = self.objects[kind].pop((ns, name), None)
            if obj is not None:
                self._emit(kind, "DELETED", obj)
            return obj

    def get(self, kind, ns, name):
        with self.cv:
            obj = self.objects[kind].get((ns, name))
            return json.loads(json.dumps(obj)) if obj else None


STORE = Store()


class Lifecycle(threading.Thread):
    """Plays one Job's scripted life: the Job controller's and the kubelet's part."""

    def __init__(self, job):
        super().__init__(daemon=True)
        self.ns = job["metadata"]["namespace"]
        self.name = job["metadata"]["name"]
        spec = job["spec"]
        self.deadline = spec.get("activeDeadlineSeconds")
        container = spec["template"]["spec"]["containers"][0]
        env = {e["name"]: e.get("value") for e in container.get("env", []) if "value" in e}
        self.scenario = env.get("KUBE_STANDIN_SCENARIO", "succeed")
        self.seconds = float(env.get("KUBE_STANDIN_SECONDS", "1"))
        self.exit_code = int(env.get("KUBE_STANDIN_EXIT_CODE", "1"))
        self.unschedulable = float(env.get("KUBE_STANDIN_UNSCHEDULABLE_SECONDS", "2"))
        self.log_at_start = env.get("KUBE_STANDIN_LOG", "")
        self.log_at_exit = env.get("KUBE_STANDIN_LOG_AT_EXIT", "")
        self.main = container["name"]
        self.started = time.monotonic()
        suffix = "".join(random.choice(string.ascii_lowercase + string.digits) for _ in range(5))
        labels = dict(spec["template"].get("metadata", {}).get("labels", {}))
        labels.update({"job-name": self.name, "batch.kubernetes.io/job-name": self.name,
                       "controller-uid": job["metadata"]["uid"], "batch.kubernetes.io/controller-uid": job["metadata"]["uid"]})
        containers = [self.main] + (["log-shipper"] if self.scenario == "sidecar-fails" else [])
        self.pod = {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"{self.name}-{suffix}", "namespace": self.ns, "labels": labels, "uid": str(uuid.uuid4()),
                         "creationTimestamp": now_rfc3339()},
            "spec": spec["template"]["spec"],
            "status": {"phase": "Pending", "conditions": [],
                       "containerStatuses": [{"name": c, "state": {"waiting": {"reason": "ContainerCreating"}}, "restartCount": 0} for c in containers]},
        }

    # Helpers that stop the script when the Job or pod is gone (deleted / cancelled).
    def job(self):
        job = STORE.get("jobs", self.ns, self.name)
        if job is None:
            raise SystemExit
        return job

    def update_job(self, mutate):
        job = self.job()
        mutate(job.setdefault("status", {}))
        if not STORE.put("jobs", job):
            raise SystemExit

    def update_pod(self, mutate):
        pod = STORE.get("pods", self.ns, self.pod["metadata"]["name"])
        if pod is None:
            raise SystemExit
        mutate(pod["status"])
        STORE.put("pods", pod)

    def sleep(self, seconds, releasable=False):
        """Sleeps, enforcing activeDeadlineSeconds meanwhile; a releasable sleep also ends when
        the test releases the Job."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if releasable:
                with STORE.cv:
                    if (self.ns, self.name) in STORE.released:
                        return
            self.job()
            if self.deadline is not None and time.monotonic() - self.started >= self.deadline:
                self.fail_job("DeadlineExceeded", "Job was active longer than specified deadline", kill_pod=True)
                raise SystemExit
            time.sleep(0.05)

    def container(self, status, name):
        return next(c for c in status["containerStatuses"] if c["name"] == name)

    def set_running(self):
        def mutate(status):
            status["phase"] = "Running"
            status["startTime"] = now_rfc3339()
            status["conditions"] = [{"type": "PodScheduled", "status": "True"}, {"type": "Ready", "status": "True"}]
            for c in status["containerStatuses"]:
                c["state"] = {"running": {"startedAt": now_rfc3339()}}
        self.update_pod(mutate)
        STORE.print_lines(self.ns, self.pod["metadata"]["name"], self.log_at_start)
        self.update_job(lambda s: s.update({"active": 1, "ready": 1}))

    def terminate(self, name, code, reason, phase=None):
        if name == self.main:
            STORE.print_lines(self.ns, self.pod["metadata"]["name"], self.log_at_exit)

        def mutate(status):
            c = self.container(status, name)
            started = c["state"].get("running", {}).get("startedAt", now_rfc3339())
            c["state"] = {"terminated": {"exitCode": code, "reason": reason, "startedAt": started, "finishedAt": now_rfc3339()}}
            if phase:
                status["phase"] = phase
        self.update_pod(mutate)

    def finish_job(self, succeeded):
        def mutate(status):
            status["active"] = 0
            status["ready"] = 0
            if succeeded:
                status["succeeded"] = 1
                status["completionTime"] = now_rfc3339()
                status["conditions"] = [
                    {"type": "SuccessCriteriaMet", "status": "True", "reason": "CompletionsReached", "lastTransitionTime": now_rfc3339()},
                    {"type": "Complete", "status": "True", "reason": "CompletionsReached", "lastTransitionTime": now_rfc3339()}]
            else:
                status["failed"] = 1
        self.update_job(mutate)
        if not succeeded:
            self.fail_job("BackoffLimitExceeded", "Job has reached the specified backoff limit")

    def fail_job(self, reason, message, kill_pod=False):
        def mutate(status):
            status["active"] = 0
            status["conditions"] = [
                {"type": "FailureTarget", "status": "True", "reason": reason, "message": message, "lastTransitionTime": now_rfc3339()},
                {"type": "Failed", "status": "True", "reason": reason, "message": message, "lastTransitionTime": now_rfc3339()}]
        if kill_pod:
            # The controller deletes the pod; the kubelet kills the container (SIGTERM → 143).
            pod = STORE.get("pods", self.ns, self.pod["metadata"]["name"])
            if pod is not None:
                pod["metadata"]["deletionTimestamp"] = now_rfc3339()
                for c in pod["status"]["containerStatuses"]:
                    if "terminated" not in c["state"]:
                        c["state"] = {"terminated": {"exitCode": 143, "reason": "Error", "finishedAt": now_rfc3339()}}
                pod["status"]["phase"] = "Failed"
                STORE.put("pods", pod)
        self.update_job(mutate)
        if kill_pod:
            STORE.delete("pods", self.ns, self.pod["metadata"]["name"])

    def run(self):
        try:
            self.play()
        except SystemExit:
            pass

    def play(self):
        self.sleep(0.2)
        STORE.put("pods", self.pod, "ADDED")
        self.update_job(lambda s: s.update({"active": 1, "startTime": now_rfc3339()}))
        if self.scenario == "unschedulable":
            self.update_pod(lambda s: s.update({"conditions": [{
                "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                "message": "0/3 nodes are available: 3 Insufficient nvidia.com/gpu."}]}))
            self.sleep(self.unschedulable)
        if self.scenario == "image-pull":
            self.sleep(0.3)
            for reason in ["ErrImagePull", "ImagePullBackOff"]:
                self.update_pod(lambda s, r=reason: self.container(s, self.main).update(
                    {"state": {"waiting": {"reason": r, "message": "Back-off pulling image \"registry.invalid/nope:1\""}}}))
                self.sleep(0.5)
            self.sleep(10**9)
        self.sleep(0.3)
        self.set_running()
        self.sleep(self.seconds if self.scenario != "run-forever" else 10**9, releasable=True)
        if self.scenario in ("succeed", "unschedulable"):
            self.terminate(self.main, 0, "Completed", phase="Succeeded")
            self.finish_job(True)
        elif self.scenario == "fail":
            self.terminate(self.main, self.exit_code, "Error", phase="Failed")
            self.finish_job(False)
        elif self.scenario == "oom":
            self.terminate(self.main, 137, "OOMKilled", phase="Failed")
            self.finish_job(False)
        elif self.scenario == "sidecar-fails":
            # The injected sidecar crashes; the main container still finishes its work.
            self.terminate("log-shipper", 1, "Error")
            self.sleep(0.5)
            self.terminate(self.main, 0, "Completed", phase="Failed")
            self.finish_job(False)
        elif self.scenario == "evicted":
            def evict(status):
                status["conditions"].append({"type": "DisruptionTarget", "status": "True", "reason": "TerminationByKubelet",
                                             "message": "The node was low on resource: memory."})
            self.update_pod(evict)
            self.terminate(self.main, 137, "Error")
            self.update_pod(lambda s: s.update({"phase": "Failed", "reason": "Evicted", "message": "The node was low on resource: memory."}))
            self.fail_job("PodFailurePolicy", f"Pod {self.ns}/{self.pod['metadata']['name']} has condition DisruptionTarget matching FailJob rule at index 0")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = "kube-apiserver-standin"

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("standin: " + fmt % args + "\n")

    def send_json(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"{}") if length else {}

    def authorized(self):
        if self.headers.get("Authorization") == f"Bearer {self.server.token}":
            return True
        return isinstance(self.connection, ssl.SSLSocket) and self.connection.getpeercert() is not None

    def route(self, method):
        url = urlparse(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        parts = [p for p in url.path.split("/") if p]
        with STORE.cv:
            key = f"{method} {url.path}"
            STORE.requests[key] = STORE.requests.get(key, 0) + 1
        if parts[:1] == ["_standin"]:
            return self.control(method, parts[1] if len(parts) > 1 else "")
        if not self.authorized():
            return self.send_json(401, status(401, "Unauthorized", "Unauthorized"))
        with STORE.cv:
            failure = STORE.failures.pop(0) if STORE.failures else None
        if failure == 429:
            data = json.dumps(status(429, "TooManyRequests", "the server has received too many requests")).encode()
            self.send_response(429)
            self.send_header("Content-Type", "application/json")
            self.send_header("Retry-After", "0")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.read_body()
            return self.wfile.write(data)
        if failure:
            self.read_body()
            return self.send_json(failure, status(failure, "InternalError", "injected failure"))
        # /apis/batch/v1/namespaces/NS/jobs[/NAME] or /api/v1/namespaces/NS/pods
        if parts[:3] == ["apis", "batch", "v1"] and len(parts) >= 5 and parts[3] == "namespaces" and parts[5:6] == ["jobs"]:
            ns, name, kind, group = parts[4], (parts[6] if len(parts) > 6 else None), "jobs", "batch"
        elif parts[:2] == ["api", "v1"] and len(parts) == 7 and parts[2] == "namespaces" and parts[4] == "pods" and parts[6] == "log":
            if method != "GET":
                return self.send_json(405, status(405, "MethodNotAllowed", "the server does not allow this method on the requested resource"))
            if "get:pods/log" in self.server.forbidden:
                return self.send_json(403, status(403, "Forbidden", f'pods "{parts[5]}" is forbidden: User "system:serviceaccount:trainyard:aggregator" cannot get resource "pods/log" in API group "" in the namespace "{parts[3]}"', {"name": parts[5], "kind": "pods"}))
            return self.pod_log(parts[3], parts[5], query)
        elif parts[:2] == ["api", "v1"] and len(parts) >= 5 and parts[2] == "namespaces" and parts[4:5] == ["pods"]:
            ns, name, kind, group = parts[3], (parts[5] if len(parts) > 5 else None), "pods", ""
        else:
            return self.send_json(404, status(404, "NotFound", "the server could not find the requested resource"))
        verb = {"POST": "create", "DELETE": "delete"}.get(method) or ("get" if name else ("watch" if query.get("watch") in ("true", "1") else "list"))
        if f"{verb}:{kind}" in self.server.forbidden:
            resource = f"{kind}.{group}" if group else kind
            return self.send_json(403, status(403, "Forbidden", f'{kind} is forbidden: User "system:serviceaccount:trainyard:worker" cannot {verb} resource "{kind}" in API group "{group}" in the namespace "{ns}"', {"kind": kind, "group": group}))
        if verb == "create" and kind == "jobs":
            return self.create_job(ns)
        if verb == "get":
            obj = STORE.get(kind, ns, name)
            return self.send_json(200, obj) if obj else self.send_json(404, status(404, "NotFound", f'{kind} "{name}" not found', {"name": name, "kind": kind}))
        if verb == "delete" and kind == "jobs":
            return self.delete_job(ns, name)
        if verb == "list":
            return self.list(kind, ns, query)
        if verb == "watch":
            return self.watch(kind, ns, query)
        return self.send_json(405, status(405, "MethodNotAllowed", "not supported by the stand-in"))

    def create_job(self, ns):
        job = self.read_body()
        name = job.get("metadata", {}).get("name")
        if not name:
            return self.send_json(422, status(422, "Invalid", "metadata.name: Required value"))
        with STORE.cv:
            if ("jobs" in STORE.objects) and (ns, name) in STORE.objects["jobs"]:
                STORE.conflicts[name] = STORE.conflicts.get(name, 0) + 1
                return self.send_json(409, status(409, "AlreadyExists", f'jobs.batch "{name}" already exists', {"name": name, "group": "batch", "kind": "jobs"}))
            STORE.created_jobs.append(json.loads(json.dumps(job)))
            STORE.creates[name] = STORE.creates.get(name, 0) + 1
            job["metadata"].update({"namespace": ns, "uid": str(uuid.uuid4()), "creationTimestamp": now_rfc3339(), "generation": 1})
            job["status"] = {}
            STORE.put("jobs", job, "ADDED")
            created = json.loads(json.dumps(job))
        Lifecycle(created).start()
        env = {e["name"]: e.get("value") for e in job["spec"]["template"]["spec"]["containers"][0].get("env", [])}
        time.sleep(float(env.get("KUBE_STANDIN_CREATE_DELAY") or 0))
        self.send_json(201, created)

    def delete_job(self, ns, name):
        body = self.read_body()
        job = STORE.delete("jobs", ns, name)
        if job is None:
            return self.send_json(404, status(404, "NotFound", f'jobs.batch "{name}" not found', {"name": name, "group": "batch", "kind": "jobs"}))

        def collect_pods():
            time.sleep(0.3)
            with STORE.cv:
                pods = [p for (pns, _), p in STORE.objects["pods"].items() if pns == ns and p["metadata"]["labels"].get("job-name") == name]
            for pod in pods:
                STORE.delete("pods", ns, pod["metadata"]["name"])
        if body.get("propagationPolicy", "Background") != "Orphan":
            threading.Thread(target=collect_pods, daemon=True).start()
        self.send_json(200, {"kind": "Status", "apiVersion": "v1", "status": "Success", "details": {"name": name, "group": "batch", "kind": "jobs"}})

    def list(self, kind, ns, query):
        selector = parse_selector(query.get("labelSelector"))
        with STORE.cv:
            items = [json.loads(json.dumps(o)) for (ons, _), o in STORE.objects[kind].items() if ons == ns and selector(o["metadata"].get("labels"))]
            rv = str(STORE.rv)
        self.send_json(200, {"kind": "JobList" if kind == "jobs" else "PodList", "apiVersion": "batch/v1" if kind == "jobs" else "v1",
                             "metadata": {"resourceVersion": rv}, "items": items})

    def pod_log(self, ns, name, query):
        pod = STORE.get("pods", ns, name)
        if pod is None:
            return self.send_json(404, status(404, "NotFound", f'pods "{name}" not found', {"name": name, "kind": "pods"}))
        names = [c["name"] for c in pod["spec"]["containers"]]
        container = query.get("container")
        if container is None:
            if len(names) != 1:
                return self.send_json(400, status(400, "BadRequest", f"a container name must be specified for pod {name}, choose one of: [{' '.join(names)}]"))
            container = names[0]
        if container not in names:
            return self.send_json(400, status(400, "BadRequest", f"container {container} is not valid for pod {name}"))
        flags = {}
        for flag in ("follow", "previous"):
            value = query.get(flag, "false")
            if value not in ("true", "false", "1", "0"):
                return self.send_json(400, status(400, "BadRequest", f'strconv.ParseBool: parsing "{value}": invalid syntax'))
            flags[flag] = value in ("true", "1")
        numbers = {}
        for field in ("tailLines", "limitBytes"):
            if field in query:
                try:
                    numbers[field] = int(query[field])
                except ValueError:
                    return self.send_json(400, status(400, "BadRequest", f'strconv.ParseInt: parsing "{query[field]}": invalid syntax'))
                if numbers[field] < (0 if field == "tailLines" else 1):
                    return self.send_json(422, status(422, "Invalid", f"PodLogOptions \"\" is invalid: {field}: Invalid value: {numbers[field]}"))
        state = next(c for c in pod["status"]["containerStatuses"] if c["name"] == container)
        if flags["previous"]:
            if not state.get("restartCount"):
                return self.send_json(400, status(400, "BadRequest", f'previous terminated container "{container}" in pod "{name}" not found'))
        elif "waiting" in state["state"]:
            reason = state["state"]["waiting"].get("reason", "ContainerCreating")
            return self.send_json(400, status(400, "BadRequest", f'container "{container}" in pod "{name}" is waiting to start: {reason}'))
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        key = (ns, name)
        budget = numbers.get("limitBytes")

        def send(text):
            nonlocal budget
            data = text.encode()
            if budget is not None:
                data, budget = data[:budget], budget - len(data[:budget])
            if data:
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()
            return budget is None or budget > 0
        try:
            with STORE.cv:
                lines = list(STORE.pod_logs.get(key, []))
            sent = len(lines)
            if "tailLines" in numbers:
                lines = lines[len(lines) - numbers["tailLines"]:] if numbers["tailLines"] else []
            going = send("".join(lines))
            while going and flags["follow"] and not flags["previous"]:
                with STORE.cv:
                    current = STORE.objects["pods"].get(key)
                    printed = STORE.pod_logs.get(key, [])
                    fresh = printed[sent:]
                    sent = len(printed)
                    ended = current is None or "terminated" in next(c for c in current["status"]["containerStatuses"] if c["name"] == container)["state"]
                    if not fresh and not ended:
                        STORE.cv.wait(timeout=0.2)
                going = send("".join(fresh))
                if ended and not fresh:
                    break
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.close_connection = True

    def write_chunk(self, obj):
        data = (json.dumps(obj) + "\n").encode()
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def watch(self, kind, ns, query):
        selector = parse_selector(query.get("labelSelector"))
        bookmarks = query.get("allowWatchBookmarks") == "true"
        timeout = float(query.get("timeoutSeconds") or 1800)
        since = int(query.get("resourceVersion") or 0)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        end = time.monotonic() + timeout
        last_bookmark = time.monotonic()
        with STORE.cv:
            generation = STORE.drop_generation
            expire_generation = STORE.expire_generation
            STORE.open_watches[kind] += 1
        try:
            while time.monotonic() < end:
                with STORE.cv:
                    if STORE.drop_generation != generation:
                        self.connection.shutdown(socket.SHUT_RDWR)
                        self.close_connection = True
                        return
                    if since < STORE.compacted or STORE.expire_generation != expire_generation:
                        expired = status(410, "Expired", f"too old resource version: {since} ({STORE.compacted})")
                        pending, since = [("ERROR", expired)], None
                    else:
                        pending = [(t, o) for (rv, k, t, o) in STORE.log if rv > since and k == kind
                                   and o["metadata"].get("namespace") == ns and selector(o["metadata"].get("labels"))]
                        since = STORE.rv
                        if not pending:
                            STORE.cv.wait(timeout=0.2)
                current = STORE.rv
                for event_type, obj in pending:
                    self.write_chunk({"type": event_type, "object": obj})
                if since is None:
                    break
                if bookmarks and time.monotonic() - last_bookmark >= 1:
                    last_bookmark = time.monotonic()
                    self.write_chunk({"type": "BOOKMARK", "object": {"kind": "Job" if kind == "jobs" else "Pod",
                                                                     "apiVersion": "batch/v1" if kind == "jobs" else "v1",
                                                                     "metadata": {"resourceVersion": str(current)}}})
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.close_connection = True
        finally:
            with STORE.cv:
                STORE.open_watches[kind] -= 1

    def control(self, method, action):
        with STORE.cv:
            if method == "POST" and action == "drop-watches":
                STORE.drop_generation += 1
                STORE.cv.notify_all()
                return self.send_json(200, {"dropped": True})
            if method == "POST" and action == "expire":
                # Like an etcd compaction at the current revision: older versions are gone, a fresh
                # list's version is watchable, and open watches end with 410.
                STORE.compacted = STORE.rv
                STORE.expire_generation += 1
                STORE.cv.notify_all()
                return self.send_json(200, {"compacted": STORE.compacted})
            if method == "POST" and action == "fail-next":
                STORE.failures.extend(int(code) for code in self.read_body().get("codes", []))
                return self.send_json(200, {"failures": STORE.failures})
            if method == "POST" and action == "release":
                body = self.read_body()
                STORE.released.add((body.get("namespace", "ml"), body["job"]))
                return self.send_json(200, {"released": body["job"]})
            if method == "GET" and action == "created-jobs":
                return self.send_json(200, STORE.created_jobs)
            if method == "GET" and action == "stats":
                return self.send_json(200, {"creates": STORE.creates, "conflicts": STORE.conflicts, "requests": STORE.requests,
                                            "openWatches": STORE.open_watches})
        self.send_json(404, {"error": f"unknown control {method} {action}"})

    def do_GET(self):
        self.route("GET")

    def do_POST(self):
        self.route("POST")

    def do_DELETE(self):
        self.route("DELETE")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--token", required=True, help="the bearer token clients must send")
    parser.add_argument("--tls-cert", help="serve HTTPS with this certificate (PEM)")
    parser.add_argument("--tls-key", help="the certificate's private key (PEM)")
    parser.add_argument("--client-ca", help="accept client certificates signed by this CA instead of a token")
    parser.add_argument("--forbid", action="append", default=[], help="answer 403 to VERB:RESOURCE, e.g. delete:jobs")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    # A parent may have blocked these (the mask is inherited across exec): be stoppable.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.token = args.token
    server.forbidden = set(args.forbid)
    server.verbose = args.verbose
    if args.tls_cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.tls_cert, args.tls_key)
        if args.client_ca:
            context.load_verify_locations(args.client_ca)
            context.verify_mode = ssl.CERT_OPTIONAL
        server.socket = context.wrap_socket(server.socket, server_side=True)
    print(f"PORT {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
