#!/usr/bin/env python3
"""Consistency checks for Trainyard's deployment files, run by ops/lint-deploy.

Each subcommand prints one line per finding ("file: problem") and exits 1 if it found any:

  compose     docker/compose.yaml: Compose-spec parse (compose_spec), references, healthchecks, grace
  k8s         ops/k8s: kustomization coverage, config/secret references, probes, KEDA wiring, RBAC
  dockerfile  docker/Dockerfile: runtime stage user, healthcheck, stop signal, volume, pinned bases
  metrics     rules, rule tests and dashboard use only the metrics and labels of metrics.txt
  runbooks    every alert has severity, summary, description and a runbook_url whose anchor exists
  grafana     dashboard structure: ids, layout, targets, datasource and variables
  sources     metrics.txt against the metric registrations in Sources/ (names, types, labels)
  live        compare metrics.txt with a running process's /metrics (URLs as arguments)

Needs PyYAML (and compose_spec for `compose`): run it with the lint venv's python.
"""
from __future__ import annotations

import base64
import json
import re
import sys
import urllib.request
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker/compose.yaml"
DOCKERFILE = ROOT / "docker/Dockerfile"
K8S = ROOT / "ops/k8s"
RULES = ROOT / "ops/prometheus/rules.yaml"
RULE_TESTS = ROOT / "ops/prometheus/rules.test.yaml"
METRICS = ROOT / "ops/prometheus/metrics.txt"
DASHBOARD = ROOT / "ops/grafana/trainyard.json"
DEPLOYMENT_DOC = ROOT / "docs/deployment.md"

WORKER_GROUP = "trainyard-workers"
ALLOWED_SECRETS = {"trainyard-kafka-credentials", "trainyard-api-keys", "trainyard-alerts-webhook"}
# The Kubernetes backend's needs, and nothing more (docs/backends/kubernetes.md: create, watch,
# delete Jobs; read pod statuses).
# Per Role: the worker's Kubernetes backend, and the aggregator reading job logs.
EXPECTED_RBAC = {
    "trainyard-kubernetes-backend": {
        ("batch", "jobs"): {"create", "get", "list", "watch", "delete"},
        ("", "pods"): {"get", "list", "watch"},
    },
    "trainyard-job-logs": {
        ("", "pods"): {"list"},
        ("", "pods/log"): {"get"},
    },
}
MIN_WORKER_GRACE_SECONDS = 90

findings: list[str] = []


def finding(where: Path | str, message: str) -> None:
    if isinstance(where, Path) and where.is_relative_to(ROOT):
        where = where.relative_to(ROOT)
    findings.append(f"{where}: {message}")


def load_docs(path: Path) -> list[dict]:
    with path.open() as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def seconds(value) -> float:
    """Compose durations (90s, 1m30s, 500ms) and plain numbers, in seconds."""
    if isinstance(value, (int, float)):
        return float(value)
    total, units = 0.0, {"h": 3600, "m": 60, "s": 1, "ms": 0.001, "us": 1e-6}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|us|h|m|s)", str(value))
    if not parts or "".join(n + u for n, u in parts) != str(value):
        raise ValueError(f"not a duration: {value!r}")
    for number, unit in parts:
        total += float(number) * units[unit]
    return total


def option(args: list[str], name: str) -> str | None:
    """Value of `--name V` or `--name=V` in an argv."""
    for i, arg in enumerate(args):
        if arg == name and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def port_of(address: str | None) -> int | None:
    if not address or ":" not in address:
        return None
    try:
        return int(address.rsplit(":", 1)[1])
    except ValueError:
        return None


def topics_partitions_from_compose() -> int | None:
    data = load_docs(COMPOSE)[0]
    for service in (data.get("services") or {}).values():
        command = service.get("command") or []
        if command[:2] == ["topics", "create"]:
            value = option(command, "--partitions")
            return int(value) if value else 12
    return None


# ---------------------------------------------------------------------------------------------
def interpolate(text: str) -> str:
    """Compose's variable interpolation with nothing set: ${VAR:-default} and ${VAR-default} give
    the default; a ${VAR} without one is a finding (the file must work with an empty environment)."""
    def replace(match: re.Match) -> str:
        name, default = match.group(1), match.group(3)
        if default is None:
            finding(COMPOSE, f"${{{name}}} has no default")
            return ""
        return default
    text = re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(:?-([^}]*))?\}", replace, text)
    return text.replace("$$", "$")


def check_compose() -> None:
    text = interpolate(COMPOSE.read_text())
    try:
        from compose_spec import PyOptions  # strict Compose-spec parser (Rust compose_spec crate)
    except ImportError:
        finding(COMPOSE, "python package compose_spec is missing (ops/lint-deploy installs it)")
    else:
        try:
            PyOptions(apply_merge=True).from_yaml(text).validate()
        except ValueError as error:
            finding(COMPOSE, f"not valid per the Compose specification: {error}")

    data = yaml.safe_load(text)
    services = data.get("services") or {}
    declared_volumes = set((data.get("volumes") or {}).keys())
    used_volumes: set[str] = set()
    if not services:
        finding(COMPOSE, "no services")
    for name, service in services.items():
        where = f"{COMPOSE.relative_to(ROOT)}: service {name}"
        if not service.get("image") and not service.get("build"):
            finding(where, "has neither image nor build")
        image = str(service.get("image", ""))
        if image and (":" not in image.rsplit("/", 1)[-1] or image.endswith(":latest")):
            finding(where, f"image {image!r} has no pinned tag")
        depends = service.get("depends_on") or {}
        if isinstance(depends, list):
            depends = {d: {"condition": "service_started"} for d in depends}
        for target, spec in depends.items():
            if target not in services:
                finding(where, f"depends_on {target!r}, which is not a service")
                continue
            condition = (spec or {}).get("condition", "service_started")
            target_service = services[target]
            if condition == "service_healthy":
                check = target_service.get("healthcheck") or {}
                if not check.get("test") or check.get("disable"):
                    finding(where, f"waits for {target} to be healthy, but {target} has no healthcheck")
            if condition == "service_completed_successfully" and target_service.get("restart", "no") != "no":
                finding(where, f"waits for {target} to complete, but {target} restarts ({target_service.get('restart')})")
        restart = service.get("restart", "no")
        check = service.get("healthcheck") or {}
        long_running = restart != "no"
        if long_running and (not check.get("test") or check.get("disable")):
            finding(where, "long-running service without a healthcheck")
        for key in ("interval", "timeout", "start_period"):
            if key in check:
                try:
                    seconds(check[key])
                except ValueError as error:
                    finding(where, f"healthcheck.{key}: {error}")
        for port in service.get("ports") or []:
            if isinstance(port, str) and not port.startswith("127.0.0.1:"):
                finding(where, f"port {port!r} is published on every interface; bind it to 127.0.0.1")
        for volume in service.get("volumes") or []:
            source = volume.split(":", 1)[0] if isinstance(volume, str) else volume.get("source", "")
            if source and not source.startswith((".", "/", "$", "~")):
                used_volumes.add(source)
                if source not in declared_volumes:
                    finding(where, f"uses volume {source!r}, which is not declared under volumes:")

        command = service.get("command") or []
        role = command[0] if command else None
        if role in ("worker", "aggregator"):
            address = option(command, "--http-address")
            if not address or not address.startswith("0.0.0.0:"):
                finding(where, f"{role} must listen on 0.0.0.0 in a container (--http-address 0.0.0.0:PORT), got {address!r}")
            test = " ".join(check.get("test") or [])
            if port_of(address) and f":{port_of(address)}/" not in test:
                finding(where, f"healthcheck does not probe the --http-address port {port_of(address)}")
            if "/readyz" not in test:
                finding(where, "healthcheck should probe /readyz (healthy = ready, which depends_on relies on)")
            env = service.get("environment") or {}
            if "TRAINYARD_BROKERS" not in env:
                finding(where, "TRAINYARD_BROKERS is not set")
        if role == "worker":
            grace = seconds(service.get("stop_grace_period", "10s"))
            if grace < MIN_WORKER_GRACE_SECONDS:
                finding(where, f"stop_grace_period {grace:g}s < {MIN_WORKER_GRACE_SECONDS}s: the worker needs up to 60 s to hand over")
        env = service.get("environment") or {}
        if isinstance(env, dict) and "CLUSTER_ID" in env:
            cluster_id = str(env["CLUSTER_ID"])
            try:
                raw = base64.urlsafe_b64decode(cluster_id + "=" * (-len(cluster_id) % 4))
            except ValueError:
                raw = b""
            if len(raw) != 16 or len(cluster_id) != 22:
                finding(where, f"CLUSTER_ID {cluster_id!r} is not a base64url-encoded 16-byte UUID (22 characters)")
    for volume in sorted(declared_volumes - used_volumes):
        finding(COMPOSE, f"volume {volume!r} is declared but no service uses it")
    if topics_partitions_from_compose() is None:
        finding(COMPOSE, "no one-shot service runs `topics create`")


# ---------------------------------------------------------------------------------------------
def pod_spec(doc: dict) -> dict | None:
    kind = doc.get("kind")
    if kind in ("Deployment", "StatefulSet", "Job"):
        return doc["spec"]["template"]["spec"]
    return None


def template_labels(doc: dict) -> dict:
    return doc["spec"]["template"]["metadata"].get("labels", {})


def check_env(where: str, container: dict, configmaps: dict[str, dict]) -> None:
    defined: list[str] = []
    for entry in container.get("env") or []:
        name = entry["name"]
        value = entry.get("value")
        source = entry.get("valueFrom") or {}
        if value is not None:
            for reference in re.findall(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", value):
                if reference not in defined:
                    finding(where, f"env {name} refers to $({reference}), which is not defined before it (the kubelet expands only earlier variables)")
            for match in re.finditer(r"(?:^|,)\s*([\w.]*(?:password|secret|token)[\w.]*)\s*=\s*([^,]*)", value, re.I):
                if not re.fullmatch(r"\$\([A-Za-z_][A-Za-z0-9_]*\)", match.group(2).strip()):
                    finding(where, f"env {name} sets {match.group(1)} to a literal; take it from a Secret-backed variable")
            if re.search(r"password|secret|token", name, re.I):
                finding(where, f"env {name} has a literal value; secrets come from secretKeyRef")
        if "configMapKeyRef" in source:
            ref = source["configMapKeyRef"]
            data = configmaps.get(ref["name"])
            if data is None:
                finding(where, f"env {name} refers to ConfigMap {ref['name']!r}, which is not in ops/k8s")
            elif ref["key"] not in data:
                finding(where, f"env {name} refers to key {ref['key']!r}, which ConfigMap {ref['name']} does not have")
        if "secretKeyRef" in source and source["secretKeyRef"]["name"] not in ALLOWED_SECRETS:
            finding(where, f"env {name} refers to Secret {source['secretKeyRef']['name']!r} (expected one of {sorted(ALLOWED_SECRETS)})")
        defined.append(name)


def check_container_security(where: str, spec: dict, container: dict) -> None:
    pod_security = spec.get("securityContext") or {}
    security = container.get("securityContext") or {}
    if not (security.get("runAsNonRoot") or pod_security.get("runAsNonRoot")):
        finding(where, "runAsNonRoot is not set")
    user = security.get("runAsUser", pod_security.get("runAsUser"))
    if user in (None, 0):
        finding(where, "runAsUser must be a non-zero uid (the image's user is 10001)")
    if security.get("allowPrivilegeEscalation") is not False:
        finding(where, "allowPrivilegeEscalation must be false")
    if security.get("readOnlyRootFilesystem") is not True:
        finding(where, "readOnlyRootFilesystem must be true")
    if "ALL" not in ((security.get("capabilities") or {}).get("drop") or []):
        finding(where, "capabilities must drop ALL")
    if (pod_security.get("seccompProfile") or {}).get("type") != "RuntimeDefault":
        finding(where, "pod seccompProfile must be RuntimeDefault")
    resources = container.get("resources") or {}
    if not (resources.get("requests") or {}).get("cpu") or not (resources.get("requests") or {}).get("memory"):
        finding(where, "resources.requests needs cpu and memory")
    if not (resources.get("limits") or {}).get("memory"):
        finding(where, "resources.limits needs memory")
    if container.get("image") != "trainyard":
        finding(where, f"image {container.get('image')!r}: use `trainyard` (kustomization.yaml's images: sets registry and tag)")


def check_probes(where: str, container: dict, port: int) -> None:
    ports = {p.get("name"): p["containerPort"] for p in container.get("ports") or []}
    address = option(container.get("args") or [], "--http-address")
    if address != f"0.0.0.0:{port}":
        finding(where, f"args need --http-address 0.0.0.0:{port} (got {address!r})")
    for probe_name, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz"), ("startupProbe", "/healthz")):
        probe = container.get(probe_name)
        if not probe:
            finding(where, f"{probe_name} is missing")
            continue
        http = probe.get("httpGet") or {}
        probe_port = ports.get(http.get("port"), http.get("port"))
        if http.get("path") != path or probe_port != port:
            finding(where, f"{probe_name} must GET {path} on port {port} (got {http.get('path')} on {probe_port})")


def check_k8s() -> None:
    kustomization_path = K8S / "kustomization.yaml"
    kustomization = load_docs(kustomization_path)[0]
    listed = kustomization.get("resources") or []
    for resource in listed:
        if not (K8S / resource).is_file():
            finding(kustomization_path, f"lists {resource}, which does not exist")
    for path in sorted(K8S.glob("*.yaml")):
        if path.name != "kustomization.yaml" and path.name not in listed:
            finding(kustomization_path, f"does not list {path.name}")
    image_names = {image.get("name") for image in kustomization.get("images") or []}
    if "trainyard" not in image_names:
        finding(kustomization_path, "images: has no entry for `trainyard`")

    docs: list[tuple[Path, dict]] = []
    for path in sorted(K8S.rglob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for doc in load_docs(path):
            docs.append((path, doc))
    by_kind: dict[str, dict[str, tuple[Path, dict]]] = {}
    for path, doc in docs:
        kind, name = doc.get("kind"), doc.get("metadata", {}).get("name")
        if kind == "Secret":
            finding(path, f"contains Secret {name}: secrets are created by the operator, never committed")
        if "namespace" in doc.get("metadata", {}):
            finding(path, f"{kind} {name} sets metadata.namespace; the manifests are namespace-agnostic")
        if name in by_kind.setdefault(kind, {}):
            finding(path, f"duplicate {kind} {name}")
        by_kind[kind][name] = (path, doc)

    configmaps = {name: (doc.get("data") or {}) for name, (_, doc) in by_kind.get("ConfigMap", {}).items()}
    services = by_kind.get("Service", {})
    workloads = {**by_kind.get("Deployment", {}), **by_kind.get("StatefulSet", {}), **by_kind.get("Job", {})}

    for name, (path, doc) in workloads.items():
        spec = pod_spec(doc)
        where = f"{path.relative_to(ROOT)}: {doc['kind']} {name}"
        for container in spec.get("containers") or []:
            cwhere = f"{where}, container {container['name']}"
            check_env(cwhere, container, configmaps)
            check_container_security(cwhere, spec, container)
            mounts = {m["name"] for m in container.get("volumeMounts") or []}
            volumes = {v["name"] for v in spec.get("volumes") or []}
            volumes |= {t["metadata"]["name"] for t in doc["spec"].get("volumeClaimTemplates") or []}
            for mount in sorted(mounts - volumes):
                finding(cwhere, f"mounts volume {mount!r}, which the pod does not define")
        for volume in spec.get("volumes") or []:
            if "configMap" in volume:
                data = configmaps.get(volume["configMap"]["name"])
                if data is None:
                    finding(where, f"volume {volume['name']} refers to a ConfigMap not in ops/k8s")
                    continue
                for item in volume["configMap"].get("items") or []:
                    if item["key"] not in data:
                        finding(where, f"volume {volume['name']} projects key {item['key']!r}, which the ConfigMap lacks")
            if "secret" in volume and volume["secret"]["secretName"] not in ALLOWED_SECRETS:
                finding(where, f"volume {volume['name']} mounts Secret {volume['secret']['secretName']!r}")
        account = spec.get("serviceAccountName")
        if account and account not in by_kind.get("ServiceAccount", {}):
            finding(where, f"serviceAccountName {account!r} is not defined")

    # The worker Deployment.
    worker = by_kind.get("Deployment", {}).get("trainyard-worker")
    if not worker:
        finding(K8S, "no Deployment trainyard-worker")
    else:
        path, doc = worker
        where = f"{path.relative_to(ROOT)}: Deployment trainyard-worker"
        spec = pod_spec(doc)
        if "replicas" in doc["spec"]:
            finding(where, "sets spec.replicas; KEDA owns the replica count (an apply would reset it)")
        if (spec.get("terminationGracePeriodSeconds") or 30) < MIN_WORKER_GRACE_SECONDS:
            finding(where, f"terminationGracePeriodSeconds < {MIN_WORKER_GRACE_SECONDS}: the worker needs up to 60 s to hand over")
        container = spec["containers"][0]
        if (container.get("args") or [None])[0] != "worker":
            finding(where, "the container does not run `trainyard worker`")
        group = option(container.get("args") or [], "--group") or WORKER_GROUP
        check_probes(where, container, 9090)
        strategy = (doc["spec"].get("strategy") or {}).get("rollingUpdate") or {}
        if str(strategy.get("maxUnavailable", "25%")) != "0":
            finding(where, "rollingUpdate.maxUnavailable should be 0 (a new worker joins before an old one leaves)")
        bindings = by_kind.get("RoleBinding", {})
        bound = any(
            s.get("kind") == "ServiceAccount" and s.get("name") == spec.get("serviceAccountName")
            for _, b in bindings.values() for s in b.get("subjects") or []
        )
        if not bound:
            finding(where, "its ServiceAccount has no RoleBinding (the Kubernetes backend needs the Role)")

    # The aggregator StatefulSet.
    aggregator = by_kind.get("StatefulSet", {}).get("trainyard-aggregator")
    if not aggregator:
        finding(K8S, "no StatefulSet trainyard-aggregator")
    else:
        path, doc = aggregator
        where = f"{path.relative_to(ROOT)}: StatefulSet trainyard-aggregator"
        if doc["spec"].get("replicas") != 1:
            finding(where, "replicas must be 1 (one writer per SQLite store and consumer group)")
        container = pod_spec(doc)["containers"][0]
        if (container.get("args") or [None])[0] != "aggregator":
            finding(where, "the container does not run `trainyard aggregator`")
        check_probes(where, container, 8080)
        env = {e["name"]: e.get("value") for e in container.get("env") or []}
        templates = {t["metadata"]["name"] for t in doc["spec"].get("volumeClaimTemplates") or []}
        mounts = {m["name"]: m["mountPath"] for m in container.get("volumeMounts") or []}
        db = env.get("TRAINYARD_DB") or ""
        if not any(mounts.get(t) and db.startswith(mounts[t].rstrip("/") + "/") for t in templates):
            finding(where, f"TRAINYARD_DB ({db!r}) is not on a volumeClaimTemplate volume")
        governing = doc["spec"].get("serviceName")
        if governing not in services or services[governing][1]["spec"].get("clusterIP") != "None":
            finding(where, f"serviceName {governing!r} must be a headless Service in ops/k8s")

    # Services and PDBs select existing pods.
    for kind in ("Service", "PodDisruptionBudget"):
        for name, (path, doc) in by_kind.get(kind, {}).items():
            selector = doc["spec"].get("selector") or {}
            selector = selector.get("matchLabels", selector) if kind == "PodDisruptionBudget" else selector
            matches = [w for w in workloads.values() if selector and all(template_labels(w[1]).get(k) == v for k, v in selector.items())]
            if not matches:
                finding(path, f"{kind} {name} selects no pod template")
            if kind == "Service":
                for port in doc["spec"].get("ports") or []:
                    target = port.get("targetPort")
                    if isinstance(target, str) and not any(
                        any(p.get("name") == target for c in pod_spec(w[1])["containers"] for p in c.get("ports") or [])
                        for w in matches
                    ):
                        finding(path, f"Service {name} targets port {target!r}, which its pods do not name")

    # RBAC: exactly what the Kubernetes backend and the log reader use.
    for name in EXPECTED_RBAC.keys() - by_kind.get("Role", {}).keys():
        finding(K8S, f"no Role {name}")
    for name, (path, doc) in by_kind.get("Role", {}).items():
        expected = EXPECTED_RBAC.get(name, {})
        granted: dict[tuple[str, str], set[str]] = {}
        for rule in doc.get("rules") or []:
            for group in rule.get("apiGroups") or []:
                for resource in rule.get("resources") or []:
                    granted.setdefault((group, resource), set()).update(rule.get("verbs") or [])
        if granted != expected:
            finding(path, f"Role {name} grants {sorted((g, r, sorted(v)) for (g, r), v in granted.items())}; "
                          f"expected exactly {sorted((g, r, sorted(v)) for (g, r), v in expected.items())}")
    if by_kind.get("ClusterRole") or by_kind.get("ClusterRoleBinding"):
        finding(K8S, "cluster-scoped RBAC: the backend needs a namespaced Role only")

    # KEDA: the ScaledObject drives the worker Deployment on the right group and topic.
    partitions = set()
    job = by_kind.get("Job", {}).get("trainyard-topics-create")
    if job:
        args = pod_spec(job[1])["containers"][0].get("args") or []
        partitions.add(int(option(args, "--partitions") or 12))
    compose_partitions = topics_partitions_from_compose()
    if compose_partitions:
        partitions.add(compose_partitions)
    if len(partitions) > 1:
        finding(K8S, f"the topics Job and docker/compose.yaml create different partition counts: {sorted(partitions)}")
    config = configmaps.get("trainyard-config", {})
    for name, (path, doc) in by_kind.get("ScaledObject", {}).items():
        spec = doc["spec"]
        target = spec["scaleTargetRef"]
        if target.get("kind", "Deployment") != "Deployment" or target["name"] not in by_kind.get("Deployment", {}):
            finding(path, f"ScaledObject {name} targets {target}, which is not a Deployment in ops/k8s")
            continue
        if spec.get("minReplicaCount", 0) < 1:
            finding(path, f"ScaledObject {name}: minReplicaCount must be >= 1 (in-flight jobs need an owner)")
        if partitions and spec.get("maxReplicaCount", 100) > min(partitions):
            finding(path, f"ScaledObject {name}: maxReplicaCount {spec.get('maxReplicaCount')} > {min(partitions)} partitions (extra workers idle)")
        target_container = pod_spec(by_kind["Deployment"][target["name"]][1])["containers"][0]
        target_env = {e["name"] for e in target_container.get("env") or []}
        for trigger in spec.get("triggers") or []:
            if trigger.get("type") != "kafka":
                continue
            meta = trigger.get("metadata") or {}
            if meta.get("consumerGroup") != WORKER_GROUP:
                finding(path, f"kafka trigger consumerGroup {meta.get('consumerGroup')!r}, the workers' group is {WORKER_GROUP!r}")
            expected_topic = f"{config.get('TRAINYARD_TOPIC_PREFIX', 'trainyard')}.requests"
            if meta.get("topic") != expected_topic:
                finding(path, f"kafka trigger topic {meta.get('topic')!r}, expected {expected_topic!r} (ConfigMap's TRAINYARD_TOPIC_PREFIX)")
            env_name = meta.get("bootstrapServersFromEnv")
            if env_name and env_name not in target_env:
                finding(path, f"bootstrapServersFromEnv {env_name} is not an env var of the target's container")
            if "TRAINYARD_CONCURRENCY" in config and meta.get("lagThreshold") != str(config["TRAINYARD_CONCURRENCY"]):
                finding(path, f"lagThreshold {meta.get('lagThreshold')!r} != TRAINYARD_CONCURRENCY {config['TRAINYARD_CONCURRENCY']!r}")
            if meta.get("offsetResetPolicy") != "earliest":
                finding(path, "offsetResetPolicy must be earliest, as the workers' auto.offset.reset")
            auth = (trigger.get("authenticationRef") or {}).get("name")
            if auth and auth not in by_kind.get("TriggerAuthentication", {}):
                finding(path, f"authenticationRef {auth!r} is not a TriggerAuthentication in ops/k8s")
            if meta.get("sasl", "none") != "none" and not auth:
                finding(path, "SASL without an authenticationRef: where would the credentials come from?")
    for name, (path, doc) in by_kind.get("TriggerAuthentication", {}).items():
        for ref in doc["spec"].get("secretTargetRef") or []:
            if ref["name"] not in ALLOWED_SECRETS:
                finding(path, f"TriggerAuthentication {name} reads Secret {ref['name']!r}")
    if not by_kind.get("ScaledObject"):
        finding(K8S, "no KEDA ScaledObject")


# ---------------------------------------------------------------------------------------------
def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    out, current = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if current and stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        current += stripped
        keyword, _, rest = current.partition(" ")
        out.append((keyword.upper(), rest.strip()))
        current = ""
    return out


def check_dockerfile() -> None:
    instructions = dockerfile_instructions(DOCKERFILE.read_text())
    args = {}
    stages: list[list[tuple[str, str]]] = []
    for keyword, rest in instructions:
        if keyword == "ARG" and not stages:
            name, _, default = rest.partition("=")
            args[name] = default
        if keyword == "FROM":
            stages.append([])
        if stages:
            stages[-1].append((keyword, rest))
    if len(stages) < 2:
        finding(DOCKERFILE, "not a multi-stage build")
        return
    for stage in stages:
        image = stage[0][1].split()[0]
        resolved = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), ""), image)
        if ":" not in resolved or resolved.endswith(":latest") or resolved.endswith(":") or "-:" in resolved:
            finding(DOCKERFILE, f"FROM {image} resolves to {resolved!r}: pin a tag")
    final = stages[-1]
    keywords = [k for k, _ in final]
    users = [rest for k, rest in final if k == "USER"]
    if not users or users[-1].split(":")[0] in ("0", "root"):
        finding(DOCKERFILE, "the runtime stage does not switch to a non-root USER")
    elif not users[-1].split(":")[0].isdigit():
        finding(DOCKERFILE, "USER should be numeric so Kubernetes' runAsNonRoot can verify it")
    if "HEALTHCHECK" not in keywords:
        finding(DOCKERFILE, "the runtime stage has no HEALTHCHECK")
    if ("STOPSIGNAL", "SIGTERM") not in final:
        finding(DOCKERFILE, "the runtime stage has no STOPSIGNAL SIGTERM")
    if not any(k == "VOLUME" and "/var/lib/trainyard" in rest for k, rest in final):
        finding(DOCKERFILE, "no VOLUME for /var/lib/trainyard")
    if not any(k == "ENTRYPOINT" and "trainyard" in rest for k, rest in final):
        finding(DOCKERFILE, "ENTRYPOINT does not run trainyard")
    build = " ".join(rest for k, rest in stages[0] if k == "RUN")
    if "--product trainyard" not in build or "-c release" not in build:
        finding(DOCKERFILE, "the build stage does not run `swift build -c release --product trainyard`")


# ---------------------------------------------------------------------------------------------
PROCESSES = ("worker", "aggregator")


def declared_metrics(with_process: bool = False) -> dict:
    """metrics.txt as {name: (type, labels)}, or {name: (type, labels, process)}."""
    metrics = {}
    for number, line in enumerate(METRICS.read_text().splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) not in (3, 4) or parts[1] not in ("counter", "gauge", "histogram", "summary") or parts[2] not in PROCESSES:
            finding(METRICS, f"line {number}: expected `NAME TYPE {'|'.join(PROCESSES)} [LABEL,...]`, got {line!r}")
            continue
        if not re.fullmatch(r"trainyard_[a-z0-9_]+", parts[0]):
            finding(METRICS, f"line {number}: {parts[0]!r} is not a trainyard_ metric name")
        if parts[1] == "counter" and not parts[0].endswith("_total"):
            finding(METRICS, f"line {number}: counter {parts[0]} should end in _total")
        labels = set(parts[3].split(",")) if len(parts) == 4 else set()
        metrics[parts[0]] = (parts[1], labels, parts[2]) if with_process else (parts[1], labels)
    return metrics


PROMQL_KEYWORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool",
    "offset", "inf", "nan", "atan2", "start", "end",
}
TARGET_LABELS = {"job", "instance", "namespace", "pod"}


def series_names(metrics: dict[str, tuple[str, set[str]]]) -> dict[str, set[str]]:
    """Every series name a declared metric produces, with the labels it may carry."""
    names = {"up": set(TARGET_LABELS)}
    for name, (kind, labels) in metrics.items():
        labels = labels | TARGET_LABELS
        if kind == "histogram":
            names[name + "_bucket"] = labels | {"le"}
            names[name + "_sum"] = labels
            names[name + "_count"] = labels
        elif kind == "summary":
            names[name] = labels | {"quantile"}
            names[name + "_sum"] = labels
            names[name + "_count"] = labels
        else:
            names[name] = labels
    return names


def check_promql(where: str, expr: str, names: dict[str, set[str]], extra_names: set[str] = frozenset()) -> None:
    all_labels = set().union(*names.values())
    # Selectors with matchers: name{label op "value", ...}
    for name, body in re.findall(r"([A-Za-z_:][A-Za-z0-9_:]*)\s*\{([^}]*)\}", expr):
        for label in re.findall(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)", re.sub(r'"(?:[^"\\]|\\.)*"', '""', body)):
            if name in names and label not in names[name] | {"__name__"}:
                finding(where, f"{name} has no label {label!r} (metrics.txt: {sorted(names[name])})")
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = re.sub(r"'(?:[^'\\]|\\.)*'", "''", text)
    for clause in re.findall(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)", text):
        for label in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", clause):
            if label not in all_labels:
                finding(where, f"groups by label {label!r}, which no metric in metrics.txt has")
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = re.sub(r"\$\{?\w+\}?", " ", text)
    for match in re.finditer(r"(?<![\w.$:])([A-Za-z_:][A-Za-z0-9_:]*)(?![\w:])(?!\s*\()", text):
        token = match.group(1)
        if token.lower() in PROMQL_KEYWORDS or token in extra_names:
            continue
        if token not in names:
            finding(where, f"uses metric {token!r}, which is not in ops/prometheus/metrics.txt")


def check_metrics() -> None:
    metrics = declared_metrics()
    names = series_names(metrics)
    used: set[str] = set()

    def note_used(expr: str) -> None:
        used.update(n for n in re.findall(r"[A-Za-z_:][A-Za-z0-9_:]*", expr) if n in names)

    rules = load_docs(RULES)[0]
    for group in rules.get("groups") or []:
        for rule in group.get("rules") or []:
            where = f"{RULES.relative_to(ROOT)}: {rule.get('alert') or rule.get('record')}"
            check_promql(where, rule["expr"], names)
            note_used(rule["expr"])
            for text in (rule.get("annotations") or {}).values():
                for label in re.findall(r"\$labels\.([A-Za-z_][A-Za-z0-9_]*)", text):
                    if label not in set().union(*names.values()):
                        finding(where, f"annotation uses $labels.{label}, which no metric has")

    tests = load_docs(RULE_TESTS)[0]
    alerts = {"ALERTS", "ALERTS_FOR_STATE"}
    for test in tests.get("tests") or []:
        where = f"{RULE_TESTS.relative_to(ROOT)}: {test.get('name', 'test')}"
        for series in test.get("input_series") or []:
            check_promql(where, series["series"], names)
        for case in test.get("promql_expr_test") or []:
            check_promql(where, case["expr"], names, alerts)

    dashboard = json.loads(DASHBOARD.read_text())
    panels = list(dashboard.get("panels") or [])
    for panel in list(panels):
        panels.extend(panel.get("panels") or [])
    for panel in panels:
        for target in panel.get("targets") or []:
            if "expr" in target:
                where = f"{DASHBOARD.relative_to(ROOT)}: panel {panel.get('title')!r} {target.get('refId')}"
                check_promql(where, target["expr"], names)
                note_used(target["expr"])
    for variable in (dashboard.get("templating") or {}).get("list") or []:
        query = variable.get("query")
        query = query.get("query") if isinstance(query, dict) else query
        if variable.get("type") == "query" and isinstance(query, str):
            where = f"{DASHBOARD.relative_to(ROOT)}: variable {variable.get('name')}"
            match = re.fullmatch(r"label_values\(\s*(.+?)\s*,\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)", query.strip())
            if not match:
                finding(where, f"unsupported variable query {query!r}")
                continue
            selector, label = match.groups()
            check_promql(where, selector, names)
            metric = re.match(r"[A-Za-z_:][A-Za-z0-9_:]*", selector).group(0)
            if metric in names and label not in names[metric]:
                finding(where, f"label_values: {metric} has no label {label!r}")

    for name, (kind, _) in metrics.items():
        produced = {n for n in names if n == name or n.startswith(name + "_")}
        if not produced & used:
            finding(METRICS, f"{name} is used by neither the alert rules nor the dashboard")


def check_sources() -> None:
    """metrics.txt against the registrations in Sources/ (registry.counter/gauge/histogram("name",
    ..., labels: [...])), so a renamed metric or label fails CI before anyone scrapes a process."""
    metrics = declared_metrics()
    registered: dict[str, tuple[str, set[str], str]] = {}
    for path in sorted((ROOT / "Sources").rglob("*.swift")):
        text = path.read_text()
        calls = list(re.finditer(r"registry\.(counter|gauge|histogram|summary)\(\s*\"(trainyard_[a-z0-9_]+)\"", text))
        for i, call in enumerate(calls):
            end = calls[i + 1].start() if i + 1 < len(calls) else len(text)
            labels = re.search(r"labels:\s*\[([^\]]*)\]", text[call.end():end])
            names = set(re.findall(r'"([A-Za-z_][A-Za-z0-9_]*)"', labels.group(1))) if labels else set()
            registered[call.group(2)] = (call.group(1), names, str(path.relative_to(ROOT)))
    if not registered:
        finding(ROOT / "Sources", "no metric registrations found (registry.counter/gauge/histogram(\"trainyard_...\"))")
        return
    for name, (kind, labels, where) in sorted(registered.items()):
        if name not in metrics:
            finding(where, f"registers {name}, which ops/prometheus/metrics.txt does not list")
        elif metrics[name] != (kind, labels):
            finding(where, f"{name}: {kind} {sorted(labels)} in Sources, {metrics[name][0]} {sorted(metrics[name][1])} in metrics.txt")
    for name in sorted(set(metrics) - set(registered)):
        finding(METRICS, f"{name} is not registered anywhere in Sources/")


def check_live(urls: list[str]) -> None:
    metrics = declared_metrics()
    seen: set[str] = set()
    for url in urls:
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                text = response.read().decode()
        except OSError as error:
            finding(url, f"cannot read: {error}")
            continue
        types: dict[str, str] = {}
        for line in text.splitlines():
            if line.startswith("# TYPE "):
                _, _, name, kind = line.split(None, 3)
                types[name] = kind.strip()
        for name, kind in types.items():
            if not name.startswith("trainyard_"):
                continue
            seen.add(name)
            if name not in metrics:
                finding(url, f"exports {name} ({kind}), which metrics.txt does not list")
            elif metrics[name][0] != kind:
                finding(url, f"{name} is a {kind}, metrics.txt says {metrics[name][0]}")
        names = series_names(metrics)
        for line in text.splitlines():
            match = re.match(r"(trainyard_[A-Za-z0-9_:]*)(\{([^}]*)\})?\s", line)
            if not match or match.group(1) not in names:
                continue
            for label in re.findall(r'([A-Za-z_][A-Za-z0-9_]*)="', match.group(3) or ""):
                if label not in names[match.group(1)]:
                    finding(url, f"{match.group(1)} carries label {label!r}, which metrics.txt does not list")
    # A process that exports one of its metrics must export all of them (the rules and the
    # dashboard rely on every one).
    processes = declared_metrics(with_process=True)
    for process in PROCESSES:
        own = {name for name, (_, _, p) in processes.items() if p == process}
        if own & seen:
            for name in sorted(own - seen):
                finding(", ".join(urls), f"{process} metric {name} is not exported")
        else:
            print(f"note: no {process} was scraped")


# ---------------------------------------------------------------------------------------------
def github_slug(heading: str) -> str:
    slug = heading.strip().lower()
    slug = re.sub(r"[^\w\- ]", "", slug)
    return slug.replace(" ", "-")


def doc_anchors(path: Path) -> set[str]:
    anchors, fenced = set(), False
    for line in path.read_text().splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and re.match(r"#{1,6} ", line):
            anchors.add(github_slug(line.lstrip("#")))
    return anchors


def check_runbooks() -> None:
    if not DEPLOYMENT_DOC.is_file():
        finding(DEPLOYMENT_DOC, "missing")
        return
    anchors = doc_anchors(DEPLOYMENT_DOC)
    doc_text = DEPLOYMENT_DOC.read_text()
    # Links inside the page and to other repository files (with their anchors) resolve.
    for target in re.findall(r"\]\(([^)\s]+)\)", doc_text):
        if re.match(r"[a-z]+://", target):
            continue
        file_part, _, anchor = target.partition("#")
        linked = (DEPLOYMENT_DOC.parent / file_part).resolve() if file_part else DEPLOYMENT_DOC
        if not linked.exists():
            finding(DEPLOYMENT_DOC, f"link {target} points to a missing file")
        elif anchor and linked.suffix == ".md" and anchor not in doc_anchors(linked):
            finding(DEPLOYMENT_DOC, f"link {target}: no heading with anchor #{anchor}")
    rules = load_docs(RULES)[0]
    seen_alerts: set[str] = set()
    for group in rules.get("groups") or []:
        for rule in group.get("rules") or []:
            alert = rule.get("alert")
            if not alert:
                continue
            where = f"{RULES.relative_to(ROOT)}: {alert}"
            if alert in seen_alerts:
                finding(where, "alert name used twice")
            seen_alerts.add(alert)
            if (rule.get("labels") or {}).get("severity") not in ("critical", "warning", "info"):
                finding(where, "labels.severity must be critical, warning or info")
            annotations = rule.get("annotations") or {}
            for key in ("summary", "description", "runbook_url"):
                if not annotations.get(key):
                    finding(where, f"annotation {key} is missing")
            url = annotations.get("runbook_url", "")
            match = re.fullmatch(r"docs/deployment\.md#(runbook-[a-z0-9-]+)", url)
            if not match:
                finding(where, f"runbook_url {url!r} is not docs/deployment.md#runbook-...")
            elif match.group(1) not in anchors:
                finding(where, f"runbook_url anchor #{match.group(1)} is not a heading of docs/deployment.md")
            if alert not in doc_text:
                finding(where, "docs/deployment.md does not name this alert")


# ---------------------------------------------------------------------------------------------
def check_grafana() -> None:
    try:
        dashboard = json.loads(DASHBOARD.read_text())
    except json.JSONDecodeError as error:
        finding(DASHBOARD, f"not JSON: {error}")
        return
    for key in ("uid", "title", "schemaVersion", "panels", "templating"):
        if key not in dashboard:
            finding(DASHBOARD, f"missing top-level {key!r}")
    variables = {v.get("name"): v for v in (dashboard.get("templating") or {}).get("list") or []}
    datasource_vars = {n for n, v in variables.items() if v.get("type") == "datasource"}
    if not datasource_vars:
        finding(DASHBOARD, "no datasource variable: the dashboard would be bound to one Prometheus uid")
    panels = list(dashboard.get("panels") or [])
    ids: set[int] = set()
    cells: dict[tuple[int, int], str] = {}
    builtins = {"__rate_interval", "__interval", "__range", "__interval_ms", "__range_s"}
    for panel in panels:
        title = panel.get("title")
        if panel.get("id") in ids:
            finding(DASHBOARD, f"panel id {panel.get('id')} used twice")
        ids.add(panel.get("id"))
        grid = panel.get("gridPos") or {}
        if not all(isinstance(grid.get(k), int) for k in ("h", "w", "x", "y")) or grid["x"] + grid["w"] > 24:
            finding(DASHBOARD, f"panel {title!r} has a bad gridPos {grid}")
            continue
        for dx in range(grid["w"]):
            for dy in range(grid["h"]):
                cell = (grid["x"] + dx, grid["y"] + dy)
                if cell in cells:
                    finding(DASHBOARD, f"panel {title!r} overlaps panel {cells[cell]!r}")
                    break
                cells[cell] = title
            else:
                continue
            break
        if panel.get("type") == "row":
            continue
        if not panel.get("description"):
            finding(DASHBOARD, f"panel {title!r} has no description")
        targets = panel.get("targets") or []
        if not targets:
            finding(DASHBOARD, f"panel {title!r} has no query")
        ref_ids = [t.get("refId") for t in targets]
        if len(set(ref_ids)) != len(ref_ids):
            finding(DASHBOARD, f"panel {title!r} repeats a refId")
        for target in targets + [panel]:
            uid = (target.get("datasource") or {}).get("uid", "")
            if not re.fullmatch(r"\$\{(\w+)\}", uid) or uid[2:-1] not in datasource_vars:
                finding(DASHBOARD, f"panel {title!r} uses datasource {uid!r}, not the datasource variable")
        for target in targets:
            for variable in re.findall(r"\$\{?(\w+)\}?", target.get("expr", "")):
                if variable not in variables and variable not in builtins:
                    finding(DASHBOARD, f"panel {title!r} uses undefined variable ${variable}")


def main() -> int:
    checks = {
        "compose": check_compose, "k8s": check_k8s, "dockerfile": check_dockerfile, "metrics": check_metrics,
        "runbooks": check_runbooks, "grafana": check_grafana, "sources": check_sources,
    }
    if len(sys.argv) >= 2 and sys.argv[1] == "live":
        check_live(sys.argv[2:])
    elif len(sys.argv) == 2 and sys.argv[1] in checks:
        checks[sys.argv[1]]()
    else:
        print(f"usage: {sys.argv[0]} {{{'|'.join(checks)}}} | live URL...", file=sys.stderr)
        return 2
    for line in findings:
        print(line)
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
