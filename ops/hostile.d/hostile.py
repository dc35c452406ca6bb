"""Hostile HTTP clients against a live Trainyard aggregator (see ops/hostile).

Everything is sent over raw sockets so nothing normalizes it: malformed and repeated headers,
non-UTF-8 bytes, YAML and JSON built to hurt a parser, slow clients, bursts of connections.
Prints one summary line and exits 1 on a crash, a 5xx, a hang or memory over the bound.
Standard library only.
"""

import argparse
import asyncio
import json
import os
import random
import sys
import time

ENDPOINTS = [
    ("POST", "/v1/jobs"), ("GET", "/v1/jobs"), ("GET", "/v1/jobs/{id}"), ("GET", "/v1/jobs/{id}/events"),
    ("POST", "/v1/jobs/{id}/cancel"), ("POST", "/v1/login-links"), ("GET", "/"), ("GET", "/jobs/{id}"),
    ("GET", "/login"), ("POST", "/login"), ("POST", "/logout"), ("GET", "/healthz"), ("GET", "/metrics"),
    ("GET", "/openapi.yaml"), ("DELETE", "/v1/jobs"), ("PUT", "/v1/jobs/{id}"), ("OPTIONS", "/v1/jobs"),
]

BASE_YAML = "apiVersion: trainyard/v1\nname: hostile\nteam: fuzz\ncommand: [\"true\"]\nretry: {maxAttempts: 1}\n"
BASE_JSON = {"apiVersion": "trainyard/v1", "name": "hostile", "team": "fuzz", "command": ["true"], "retry": {"maxAttempts": 1}}


def odd_values(rng):
    """Header values nobody should send."""
    return rng.choice([
        b"", b";", b";;", b" ; ", b",", b"; charset=utf-8", b"\xff\xfe\xfd", b"\xc3\x28", b"application/json\x00",
        b"a" * rng.choice([100, 4096, 16384, 60000]), "ÿ€字\u202e".encode(), b"application/json, application/yaml",
        b"application/yaml; charset=\xff", b"text/yaml;;;;;", b"*/*", b"application/*", b"multipart/form-data; boundary=",
        b"Bearer", b"Bearer ", b"Bearer ty_" + b"f" * 64, b"Basic Zm9vOmJhcg==", b"bearer \xff", b"Bearer " + b"x" * 20000,
        b"trainyard_session=", b"trainyard_session=;trainyard_session=x", b"=;=;=", b"trainyard_session=" + b"a" * 8000,
        b"trainyard_session=\"quoted\"", b"a=b; " * 500, b"\t", b"   ",
    ])


def yaml_body(rng):
    """A YAML document with features a job spec never needs."""
    kind = rng.randrange(12)
    if kind == 0:  # the alias bomb of issue 13, at some depth
        levels = rng.randint(1, 9)
        text = "x-junk:\n  l0: &l0 [\"aaaaaaaaaa\"]\n"
        for level in range(1, levels + 1):
            text += f"  l{level}: &l{level} [" + ",".join([f"*l{level - 1}"] * 10) + "]\n"
        return BASE_YAML + text
    if kind == 1:
        return BASE_YAML + "labels: &l {a: b}\nenv: *l\n"
    if kind == 2:
        return BASE_YAML + "hyperparameters:\n  <<: {lr: '0.1'}\n  <<: [{a: b}, {c: d}]\n"
    if kind == 3:
        return BASE_YAML + rng.choice(["labels: !!python/object:os.system {}\n", "image: !!binary aGVsbG8=\n", "env: !custom {A: b}\n",
                                       "name: !!str 5\n", "%TAG ! tag:evil,2026:\n---\nname: x\n"])
    if kind == 4:
        depth = rng.choice([40, 1000, 60000])
        return BASE_YAML + "labels: " + "[" * depth + "]" * depth + "\n"
    if kind == 5:
        depth = rng.choice([40, 300])
        return BASE_YAML + "".join("  " * i + f"k{i}:\n" for i in range(depth))
    if kind == 6:
        return BASE_YAML + "labels: {big: '" + "x" * rng.choice([1000, 200000, 300000]) + "'}\n"
    if kind == 7:
        return BASE_YAML + "name: a\nname: b\nlabels: {a: 1, a: 2}\n"
    if kind == 8:
        return BASE_YAML + "---\n" + BASE_YAML
    if kind == 9:
        return BASE_YAML + rng.choice(["resources: {cpu: .nan}\n", "resources: {cpu: .inf}\n", "resources: {cpu: 1e400}\n",
                                       "maxRuntimeSeconds: 99999999999999999999999\n", "resources: {memoryGiB: -0}\n",
                                       "retry: {maxAttempts: 0x7fffffffffffffff}\n", "warmPoolSeconds: 2026-12-03\n"])
    if kind == 10:
        return BASE_YAML + rng.choice(["labels: {? [a, b] : c}\n", "labels: {? {a: b} : c}\n", "\tname: tab\n", "labels: {a: *undefined}\n",
                                       "command: |\n" + "  x\n" * 1000, "\ufeffname: bom\n"])
    return rng.choice(["", "---\n", "~\n", "[]\n", "'just a string'\n", "{", "a: b: c\n", "- - - -\n", "name: [unclosed\n"])


def json_body(rng):
    """A JSON document at the edges of depth and numbers."""
    kind = rng.randrange(8)
    if kind == 0:
        depth = rng.choice([100, 600, 100000])
        return '{"apiVersion":"trainyard/v1","name":"n","team":"fuzz","command":["true"],"labels":' + "[" * depth + "]" * depth + "}"
    if kind == 1:
        depth = rng.choice([100, 600, 50000])
        return '{"a":' * depth + "1" + "}" * depth
    if kind == 2:
        number = rng.choice(["1e309", "-1e309", "1e-400", "123456789012345678901234567890", "-0", "0.0000000000000000000001", "NaN",
                             "Infinity", "1.7976931348623157e308", "9223372036854775808", "-9223372036854775809", "1" * 5000])
        field = rng.choice(['"resources":{"cpu":%s}', '"maxRuntimeSeconds":%s', '"retry":{"maxAttempts":%s}', '"warmPoolSeconds":%s'])
        return json.dumps(BASE_JSON)[:-1] + "," + (field % number) + "}"
    if kind == 3:
        return json.dumps(BASE_JSON)[:-1] + ',"name":"dup","name":"dup2"}'
    if kind == 4:
        return json.dumps(BASE_JSON)[:-1] + rng.choice([',"env":{"A":"\\ud800"}}', ',"env":{"A":"\\u0000"}}', ',"labels":{"\\udfff":"x"}}'])
    if kind == 5:
        return json.dumps(BASE_JSON) + rng.choice(["garbage", "}", "{}", "\x00", "   \n"])
    if kind == 6:
        return json.dumps(BASE_JSON)[:-1] + ',"labels":{' + ",".join(f'"k{i}":"v"' for i in range(rng.choice([100, 20000]))) + "}}"
    return rng.choice(["{", "{}", '{"":""}', "{" + '"a":1,' * 10000 + '"b":2}', "\ufeff{}", "{\"apiVersion\": null}"])


def valid_spec(rng):
    spec = dict(BASE_JSON)
    spec["name"] = f"hostile-{rng.randrange(10**6)}"
    return json.dumps(spec)


class Tally:
    def __init__(self):
        self.requests = 0
        self.statuses = {}
        self.server_errors = []
        self.dropped = 0
        self.hangs = []
        self.idle = 0
        self.slow_cases = []
        self.slowest_ms = 0.0
        self.slowest_case = ""


async def read_response(reader):
    """One response: the head, then its Content-Length or chunked body (or to the end)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lowered = head.lower()
    if b"\r\ncontent-length:" in lowered:
        length = int(lowered.split(b"\r\ncontent-length:", 1)[1].split(b"\r\n", 1)[0].strip())
        return head + await reader.readexactly(length)
    if b"\r\ntransfer-encoding: chunked" in lowered:
        body = b""
        while not body.endswith(b"0\r\n\r\n"):
            chunk = await reader.read(65536)
            if not chunk:
                break
            body += chunk
        return head + body
    return head + await reader.read(-1)


async def exchange(host, port, payload, timeout, tally, case, expects_answer=True):
    """Sends `payload` on a new connection; returns the status (0 when the server closed without
    one, -1 when nothing came within `timeout`). A request that needs no answer (an incomplete
    one: the server rightly waits, then closes the idle connection) does not count as a hang."""
    started = time.monotonic()
    tally.requests += 1
    writer = None
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        writer.write(payload)
        await writer.drain()
        answer = await asyncio.wait_for(read_response(reader), timeout)
    except asyncio.TimeoutError:
        if expects_answer:
            tally.hangs.append(case)
        else:
            tally.idle += 1
        return -1
    except (ConnectionError, OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
        answer = b""
    finally:
        if writer is not None:
            writer.close()
    elapsed = (time.monotonic() - started) * 1000
    if elapsed > tally.slowest_ms:
        tally.slowest_ms, tally.slowest_case = elapsed, case
    tally.slow_cases = sorted(tally.slow_cases + [(elapsed, case)], reverse=True)[:5]
    status = 0
    if answer.startswith(b"HTTP/"):
        try:
            status = int(answer.split(b" ", 2)[1])
        except (IndexError, ValueError):
            status = 0
    if status == 0:
        tally.dropped += 1
    tally.statuses[status] = tally.statuses.get(status, 0) + 1
    if status >= 500:
        tally.server_errors.append(f"{status} {case}: {answer[:300]!r}")
    return status


def request_bytes(method, path, headers, body=b""):
    lines = [f"{method} {path} HTTP/1.1".encode("latin-1", "replace")]
    lines += headers
    lines += [b"Connection: close", b"Content-Length: " + str(len(body)).encode()]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def random_case(rng, args, job_ids):
    """One hostile request: (bytes, description, whether it must be answered)."""
    host = f"Host: {args.host}:{args.port}".encode()
    auth = f"Authorization: Bearer {args.key}".encode()
    kind = rng.randrange(100)
    job = rng.choice(job_ids) if job_ids else "0" * 26
    if kind < 30:  # a spec body: YAML or JSON built to hurt, with an odd or a right Content-Type
        if rng.random() < 0.5:
            body, ctype = yaml_body(rng).encode("utf-8", "surrogatepass"), b"application/yaml"
        else:
            body, ctype = json_body(rng).encode("utf-8", "surrogatepass"), b"application/json"
        if rng.random() < 0.2:
            ctype = odd_values(rng)
        headers = [host, auth, b"Content-Type: " + ctype]
        if rng.random() < 0.2:
            headers.append(b"Idempotency-Key: " + rng.choice([b"k", odd_values(rng), b"x" * 300]))
        return request_bytes("POST", "/v1/jobs", headers, body[: 300 * 1024]), f"spec body ({body[:60]!r}..., {len(body)} bytes)", True
    if kind < 60:  # odd header values on any endpoint, sometimes repeated
        method, path = rng.choice(ENDPOINTS)
        path = path.replace("{id}", rng.choice([job, "x", "%00", "..%2F..", "a" * 300, "%ff%fe"]))
        headers = [host]
        for name in rng.sample([b"Content-Type", b"Accept", b"Authorization", b"Cookie", b"Idempotency-Key", b"Origin", b"Sec-Fetch-Site",
                                b"X-Forwarded-Proto", b"Forwarded", b"X-Forwarded-Host"], rng.randint(1, 5)):
            for _ in range(rng.choice([1, 1, 1, 2, 5])):
                headers.append(name + b": " + odd_values(rng))
        if rng.random() < 0.5 and not any(h.startswith(b"Authorization") for h in headers):
            headers.append(auth)
        body = rng.choice([b"", b"{}", b'{"reason":"x"}', b"key=&next=%2F%09%2Fevil", b"\xff" * 10, b"{" * 1000])
        return request_bytes(method, path, headers, body), f"{method} {path[:60]} with odd headers", True
    if kind < 75:  # query strings and login redirects
        query = rng.choice([
            "limit=0", "limit=99999999999999999999", "state=%ff", "cursor=" + "A" * 500, "label==", "label=%00=%00", "team=&team=",
            "createdSince=9999-99-99T99:99:99Z", "createdSince=-1", "%zz=%zz", "a" * 5000, "limit=1&limit=2", "cursor=djE6Li4v",
        ])
        target = rng.choice(["/v1/jobs?", "/?", "/login?next=", "/login?token=x&next="])
        if target.startswith("/login"):
            query = rng.choice(["/%09/evil.example", "%2F%2Fevil.example", "/%5Cevil", "https://evil.example", "/%0d%0aSet-Cookie:x=y",
                                "/\u3000/x", "%E2%80%AE/x", "/" + "a" * 600])
        return request_bytes("GET", target + query, [host, auth]), f"GET {target}{query[:60]}", True
    if kind < 80:  # a cookie session pretending to change things from elsewhere
        method, path = rng.choice([("POST", f"/v1/jobs/{job}/cancel"), ("POST", "/logout"), ("POST", "/v1/jobs"), ("POST", "/login")])
        headers = [host, b"Cookie: trainyard_session=" + rng.choice([b"0" * 64, b"", b"x"]), b"Origin: " + rng.choice([
            b"http://evil.example", b"null", b"", b"http://" + args.host.encode() + b":1"])]
        return request_bytes(method, path, headers, b"key=" + args.key.encode()), f"{method} {path} cross-origin", True
    if kind < 82:  # a valid job: the fleet runs it
        headers = [host, auth, b"Content-Type: application/json"]
        if rng.random() < 0.5:
            headers.append(b"Idempotency-Key: hostile-" + str(rng.randrange(20)).encode())
        return request_bytes("POST", "/v1/jobs", headers, valid_spec(rng).encode()), "valid spec", True
    # Broken HTTP itself.
    raw = rng.choice([
        b"GET / HTTP/1.1\r\n\r\n", b"GET /\xff HTTP/1.1\r\nHost: x\r\n\r\n", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
        b"GET / HTTP/9.9\r\nHost: x\r\n\r\n", b"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
        b"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n",
        b"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 100000 + b"\r\n\r\n", b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 5000 + b"\r\n",
        b"\r\n\r\n\r\n", b"GET" + b" " * 10000 + b"/ HTTP/1.1\r\n\r\n", b"GET / HTTP/1.1\nHost: x\n\n", b"G\x00T / HTTP/1.1\r\n\r\n",
    ])
    # Bytes that are not a complete request may rightly get no answer before the idle timeout.
    return raw, f"broken HTTP {raw[:40]!r}", False


async def slow_client(host, port, hold_seconds, tally):
    """Opens a connection and dribbles a request one byte at a time, then goes quiet."""
    tally.requests += 1
    try:
        reader, writer = await asyncio.open_connection(host, port)
        for byte in b"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n{":
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(hold_seconds / 80)
        writer.close()
    except (ConnectionError, OSError):
        pass


async def burst(host, port, connections, tally):
    """Opens many connections at once (beyond the server's cap), each asking for /healthz."""
    async def one(_):
        return await exchange(host, port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 60, tally, "burst /healthz")
    return await asyncio.gather(*(one(i) for i in range(connections)))


def rss_mb(pid, field):
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--pid", type=int, required=True, help="the aggregator's pid (crash and memory checks)")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=20261203)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--max-rss-mb", type=float, default=400)
    parser.add_argument("--timeout", type=float, default=30)
    parser.add_argument("--job-id", action="append", default=[])
    args = parser.parse_args()
    address = args.url.split("//", 1)[1]
    args.host, port = address.rsplit(":", 1)
    args.port = int(port)
    rng = random.Random(args.seed)
    tally = Tally()
    baseline = rss_mb(args.pid, "VmRSS") or 0

    # The two reproductions of issue 13 first: time to the answer and memory growth.
    auth = f"Authorization: Bearer {args.key}".encode()
    bomb = BASE_YAML + "x-junk:\n  l0: &l0 [\"aaaaaaaaaa\"]\n" + "".join(
        f"  l{level}: &l{level} [" + ",".join([f"*l{level - 1}"] * 10) + "]\n" for level in range(1, 7))
    for label, ctype, body in [("Content-Type ;", b";", json.dumps(BASE_JSON)), ("alias bomb 6x10", b"application/yaml", bomb)]:
        before = rss_mb(args.pid, "VmRSS") or 0
        started = time.monotonic()
        status = await exchange(args.host, args.port, request_bytes("POST", "/v1/jobs", [b"Host: x", auth, b"Content-Type: " + ctype],
                                                                     body.encode()), args.timeout, tally, label)
        elapsed = (time.monotonic() - started) * 1000
        after = rss_mb(args.pid, "VmRSS") or 0
        print(f"hostile: issue 13 reproduction, {label} ({len(body)} bytes): HTTP {status} in {elapsed:.1f} ms, RSS {after - before:+.1f} MB")

    # Slow clients and a burst of connections first, while the fuzzing goes on beside them.
    slow = [asyncio.create_task(slow_client(args.host, args.port, 8, tally)) for _ in range(20)]
    burst_statuses = await burst(args.host, args.port, 700, tally)

    queue = asyncio.Queue()
    # The final /healthz is one of the N.
    remaining = max(0, args.requests - tally.requests - 1)
    for _ in range(remaining):
        queue.put_nowait(random_case(rng, args, args.job_id))

    async def worker():
        while True:
            try:
                payload, case, expects_answer = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            await exchange(args.host, args.port, payload, args.timeout if expects_answer else 3, tally, case, expects_answer)
            if tally.requests % 500 == 0 and not os.path.exists(f"/proc/{args.pid}"):
                return

    await asyncio.gather(*(worker() for _ in range(args.concurrency)))
    await asyncio.gather(*slow)
    alive = os.path.exists(f"/proc/{args.pid}") and await exchange(
        args.host, args.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 30, tally, "final /healthz") == 200
    peak = rss_mb(args.pid, "VmHWM") or 0
    crashes = 0 if alive else 1
    five = len(tally.server_errors)
    print(
        f"hostile: requests={tally.requests} crashes={crashes} 5xx={five} max_rss_mb={peak:.0f} slowest_ms={tally.slowest_ms:.0f}"
        f" (baseline_rss_mb={baseline:.0f} hangs={len(tally.hangs)} dropped={tally.dropped} idle={tally.idle}"
        f" burst_ok={sum(1 for s in burst_statuses if s == 200)}/{len(burst_statuses)}"
        f" statuses={dict(sorted(tally.statuses.items()))})")
    for elapsed, case in tally.slow_cases:
        print(f"  slow: {elapsed:.0f} ms {case[:200]}", file=sys.stderr)
    for error in tally.server_errors[:10]:
        print("  5xx: " + error, file=sys.stderr)
    for hang in tally.hangs[:10]:
        print("  no answer within the timeout: " + hang, file=sys.stderr)
    failed = crashes or five or tally.hangs or peak > args.max_rss_mb
    if peak > args.max_rss_mb:
        print(f"  memory: peak RSS {peak:.0f} MB is over the bound {args.max_rss_mb:.0f} MB", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
