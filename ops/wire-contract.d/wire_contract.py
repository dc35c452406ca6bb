"""The wire contract's checks: JSON Schemas (docs/schemas/v1) against messages, docs and corpus.

    wire_contract.py validate FILE      FILE: JSON lines {"topic": requests|events|status|alerts|dlq,
                                        "key": str, "value": str, "headers": {str: str},
                                        "expectInvalid": bool} as read from the topics. Every value
                                        must validate against its topic's schema and carry its job id
                                        (alert id) as key, except those sent as invalid on purpose,
                                        which the schema must refuse; DLQ entries need the headers.
    wire_contract.py check              docs/wire-format.md's field tables equal the schemas; the v1
                                        corpus (docs/schemas/examples/v1) validates, its invalid
                                        examples are refused; the job-id vectors hold.
    wire_contract.py tables             prints the field tables generated from the schemas.

Prints one summary line (`wire-contract: ...`) and exits 1 on any failure.
"""

import hashlib
import json
import pathlib
import re
import sys

import jsonschema
import referencing
from referencing.jsonschema import DRAFT202012

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "docs" / "schemas" / "v1"
EXAMPLES = ROOT / "docs" / "schemas" / "examples" / "v1"
DOC = ROOT / "docs" / "wire-format.md"

# The schema of each topic's values (the DLQ holds refused requests: checked against "requests").
TOPIC_SCHEMAS = {
    "requests": "request.schema.json",
    "events": "lifecycle-event.schema.json",
    "status": "job-status.schema.json",
    "alerts": "alert.schema.json",
}
ERROR_CODES = {"MALFORMED", "UNKNOWN_SCHEMA", "UNKNOWN_TYPE", "OVERSIZED", "INVALID_SPEC"}


def load_registry():
    """Every schema of the folder, registered under its file URI (relative $refs resolve between them)."""
    resources = []
    for path in sorted(SCHEMAS.glob("*.schema.json")):
        contents = json.loads(path.read_text())
        # Without $schema, jsonschema keeps this module's validator class (ECMA patterns) across $refs.
        contents.pop("$schema", None)
        resources.append((path.as_uri(), DRAFT202012.create_resource(contents)))
    return referencing.Registry().with_resources(resources)


REGISTRY = load_registry()


def ecma_pattern(validator, pattern, instance, schema):
    """`pattern` as ECMA-262 reads it: Python's `$` also matches before a final newline, ECMA's does not."""
    if validator.is_type(instance, "string"):
        python_pattern = pattern[:-1] + r"\Z" if pattern.endswith("$") else pattern
        if not re.search(python_pattern, instance):
            yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


ContractValidator = jsonschema.validators.extend(jsonschema.Draft202012Validator, {"pattern": ecma_pattern})


def validator(name):
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$ref": (SCHEMAS / name).as_uri()}
    return ContractValidator(schema, registry=REGISTRY)


def errors(name, value):
    """The schema's complaints about `value` (bytes or text of one message), empty when it validates."""
    try:
        document = json.loads(value)
    except (ValueError, UnicodeDecodeError) as error:
        return [f"not JSON: {error}"]
    return [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in validator(name).iter_errors(document)]


# ---------------------------------------------------------------------------------------------
# Job ids derived from (team, idempotency key)

CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"


def derived_job_id(team, key):
    """SHA-256 of "trainyard-job-id" NUL team NUL key (UTF-8); the first 16 bytes as 26 base32 digits."""
    digest = hashlib.sha256(b"trainyard-job-id\0" + team.encode() + b"\0" + key.encode()).digest()[:16]
    number = int.from_bytes(digest, "big")
    return "".join(CROCKFORD[(number >> (5 * (25 - index))) & 31] for index in range(26))


# ---------------------------------------------------------------------------------------------
# validate: messages recorded from the topics


def validate_recording(path):
    failures = []
    counts = {}
    for line_number, line in enumerate(pathlib.Path(path).read_text().splitlines(), 1):
        if not line.strip():
            continue
        record = json.loads(line)
        topic, key, value = record["topic"], record.get("key"), record["value"]
        counts[topic] = counts.get(topic, 0) + 1
        where = f"{topic} #{line_number} key={key}"
        if topic == "dlq":
            # Refused requests: malformed ones, and valid ones the fleet's routing could not place.
            headers = record.get("headers", {})
            if headers.get("trainyard-error-code") not in ERROR_CODES:
                failures.append(f"{where}: trainyard-error-code {headers.get('trainyard-error-code')!r} is not one of {sorted(ERROR_CODES)}")
            if not headers.get("trainyard-error-reason"):
                failures.append(f"{where}: no trainyard-error-reason header")
            continue
        if record.get("expectInvalid"):
            # Sent on purpose to show that the schema refuses what workers refuse.
            if not errors(TOPIC_SCHEMAS[topic], value):
                failures.append(f"{where}: an invalid example the schema accepts: {value[:300]}")
            continue
        problems = errors(TOPIC_SCHEMAS[topic], value)
        if problems:
            failures.append(f"{where}: {'; '.join(problems[:5])}: {value[:300]}")
            continue
        document = json.loads(value)
        expected_key = document.get("alertId") if topic == "alerts" else document.get("jobId")
        if key != expected_key:
            failures.append(f"{where}: key {key!r} is not the message's {'alertId' if topic == 'alerts' else 'jobId'} {expected_key!r}")
    summary = " ".join(f"{topic}={count}" for topic, count in sorted(counts.items()))
    return failures, f"messages={sum(counts.values())} {summary}"


# ---------------------------------------------------------------------------------------------
# tables: docs/wire-format.md's field tables, generated from the schemas

# Which table documents which schema: `<!-- fields: NAME -->` right above the table in the doc.
TABLES = ["submit-request", "cancel-request", "job-spec", "lifecycle-event", "job-status", "alert"]
NAMED_TYPES = {
    "jobId": "job id",
    "timestamp": "timestamp",
    "state": "state",
    "source": "source",
    "failureClass": "failure class",
    "attempt": "integer",
    "exitCode": "integer",
    "backendName": "string",
    "teamText": "string",
}


def resolve(schema):
    """A property's schema with a $ref into common.schema.json or the local $defs followed once."""
    ref = schema.get("$ref")
    if not ref:
        return schema, None
    file, _, pointer = ref.partition("#")
    document = json.loads((SCHEMAS / file).read_text()) if file else CURRENT[0]
    target = document
    for part in pointer.strip("/").split("/") if pointer else []:
        target = target[part]
    name = pointer.rsplit("/", 1)[-1] if pointer else file
    return {**target, **{k: v for k, v in schema.items() if k != "$ref"}}, name


CURRENT = [None]


def type_text(schema):
    resolved, name = resolve(schema)
    if name in NAMED_TYPES:
        return NAMED_TYPES[name]
    if name == "job-spec.schema.json":
        return "JobSpec"
    if "const" in resolved:
        return f"`{json.dumps(resolved['const'])}`".replace('`"', "`").replace('"`', "`")
    if "enum" in resolved:
        return " ".join(f"`{value}`" for value in resolved["enum"])
    kind = resolved.get("type")
    if kind == "array":
        return f"[{type_text(resolved.get('items', {}))}]"
    if kind == "object" and "additionalProperties" in resolved and isinstance(resolved["additionalProperties"], dict):
        return f"{{string: {type_text(resolved['additionalProperties'])}}}"
    return kind or "any"


def number(value):
    return str(int(value)) if float(value).is_integer() else str(value)


def bounds_text(schema):
    resolved, name = resolve(schema)
    if (name in NAMED_TYPES and name not in ("attempt", "exitCode")) or name == "job-spec.schema.json":
        return ""
    parts = []
    low, high = resolved.get("minimum"), resolved.get("maximum")
    if "exclusiveMinimum" in resolved:
        parts.append(f"> {number(resolved['exclusiveMinimum'])}" + (f", ≤ {number(high)}" if high is not None else ""))
    elif low is not None and high is not None:
        parts.append(f"{number(low)}–{number(high)}")
    elif low is not None:
        parts.append(f"≥ {number(low)}")
    if "minItems" in resolved or "maxItems" in resolved:
        parts.append(f"{resolved.get('minItems', 0)}–{resolved['maxItems']} items" if "maxItems" in resolved else f"≥ {resolved['minItems']} items")
    if "maxProperties" in resolved:
        parts.append(f"≤ {resolved['maxProperties']} entries")
    names = resolved.get("propertyNames", {})
    if "pattern" in names:
        parts.append(f"keys `{names['pattern']}`")
    elif "maxLength" in names:
        parts.append(f"keys {names.get('minLength', 0)}–{names['maxLength']} characters")
    values = resolved.get("additionalProperties")
    items = resolved.get("items") if resolved.get("type") == "array" else None
    for label, inner in (("values", values if isinstance(values, dict) else None), ("each", items)):
        if inner:
            inner_text = bounds_text(inner)
            if inner_text:
                parts.append(f"{label} {inner_text.replace('; ', ', ')}")
    if "maxLength" in resolved and "pattern" not in resolved:
        parts.append(f"≤ {resolved['maxLength']} characters")
    if "pattern" in resolved:
        pattern = resolved["pattern"]
        parts.append(f"`{pattern}`" if len(pattern) <= 60 else "pattern in the schema")
        if "maxLength" in resolved:
            parts.append(f"≤ {resolved['maxLength']} characters")
    return "; ".join(parts)


def rows(schema, prefix=""):
    """(field, type, required-or-default, bounds) per property, nested objects as dotted rows."""
    required = set(schema.get("required", []))
    result = []
    for field, property_schema in schema.get("properties", {}).items():
        path = prefix + field
        resolved, referenced = resolve(property_schema)
        if "default" in resolved:
            default = resolved["default"]
            presence = f"`{default if isinstance(default, str) else json.dumps(default, separators=(',', ':'))}`"
        else:
            presence = "required" if field in required else "optional"
        result.append((path, type_text(property_schema), presence, bounds_text(property_schema)))
        if referenced:
            continue
        if resolved.get("type") == "object" and "properties" in resolved:
            result += rows(resolved, path + ".")
        elif resolved.get("type") == "array" and "properties" in resolved.get("items", {}):
            result += rows(resolved["items"], path + "[].")
    return result


def table_rows(name):
    schema = json.loads((SCHEMAS / f"{name}.schema.json").read_text())
    CURRENT[0] = schema
    return rows(schema)


def cell(text):
    return text.replace("|", "\\|")


def render(name):
    lines = ["| field | type | presence | bounds | notes |", "| --- | --- | --- | --- | --- |"]
    lines += [f"| `{field}` | {cell(kind)} | {cell(presence)} | {cell(bounds)} | |" for field, kind, presence, bounds in table_rows(name)]
    return "\n".join(lines)


def split_row(line):
    cells = re.split(r"(?<!\\)\|", line.strip())[1:-1]
    return [c.strip().replace("\\|", "|") for c in cells]


def check_doc_tables():
    failures = []
    text = DOC.read_text()
    for name in TABLES:
        marker = f"<!-- fields: {name} -->"
        if marker not in text:
            failures.append(f"docs/wire-format.md: no table marked {marker}")
            continue
        lines = text.split(marker, 1)[1].lstrip("\n").splitlines()
        body = []
        for line in lines[2:]:
            if not line.startswith("|"):
                break
            body.append(split_row(line))
        documented = [(c[0].strip("`"), c[1], c[2], c[3]) for c in body]
        expected = table_rows(name)
        for row in expected:
            if row not in documented:
                near = [d for d in documented if d[0] == row[0]]
                failures.append(f"docs/wire-format.md ({name}): row for `{row[0]}` should read {row[1:]}, " + (f"reads {near[0][1:]}" if near else "missing"))
        for row in documented:
            if row[0] not in {e[0] for e in expected}:
                failures.append(f"docs/wire-format.md ({name}): `{row[0]}` is not in {name}.schema.json")
    return failures


# ---------------------------------------------------------------------------------------------
# check: docs, corpus, vectors

CORPUS_SCHEMAS = {
    "submit-request": "submit-request.schema.json",
    "cancel-request": "cancel-request.schema.json",
    "lifecycle-event": "lifecycle-event.schema.json",
    "job-status": "job-status.schema.json",
    "alert": "alert.schema.json",
}


def check_corpus():
    failures = []
    count = 0
    for folder, schema in CORPUS_SCHEMAS.items():
        for path in sorted((EXAMPLES / folder).glob("*.json")):
            count += 1
            for problem in errors(schema, path.read_bytes()):
                failures.append(f"{path.relative_to(ROOT)}: {problem}")
            if folder != "job-status" and folder != "alert":
                for problem in errors("request.schema.json", path.read_bytes()) if folder.endswith("request") else []:
                    failures.append(f"{path.relative_to(ROOT)} (as a request): {problem}")
    for path in sorted((EXAMPLES / "invalid").glob("*.json")):
        count += 1
        code = path.name.split(".", 1)[0]
        if code not in ERROR_CODES:
            failures.append(f"{path.relative_to(ROOT)}: the name must start with the error code a worker gives it")
        if not errors("request.schema.json", path.read_bytes()):
            failures.append(f"{path.relative_to(ROOT)}: the request schema accepts it")
    vectors = json.loads((EXAMPLES / "job-id-vectors.json").read_text())
    for vector in vectors:
        got = derived_job_id(vector["team"], vector["idempotencyKey"])
        if got != vector["jobId"]:
            failures.append(f"job-id-vectors.json: ({vector['team']!r}, {vector['idempotencyKey']!r}) derives {got}, not {vector['jobId']}")
    return failures, count, len(vectors)


def main(arguments):
    if arguments[:1] == ["validate"] and len(arguments) == 2:
        failures, summary = validate_recording(arguments[1])
        print(f"wire-contract: {summary} failures={len(failures)}")
    elif arguments == ["check"]:
        failures = check_doc_tables()
        tables = len(TABLES)
        corpus_failures, corpus, vectors = check_corpus()
        failures += corpus_failures
        print(f"wire-contract: tables={tables} corpus={corpus} vectors={vectors} failures={len(failures)}")
    elif arguments == ["tables"]:
        for name in TABLES:
            print(f"<!-- fields: {name} -->\n{render(name)}\n")
        return 0
    else:
        print(__doc__, file=sys.stderr)
        return 2
    for failure in failures:
        print(f"  {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
