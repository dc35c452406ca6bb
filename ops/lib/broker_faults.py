#!/usr/bin/env python3
"""Broker faults for the harnesses: a TCP proxy between the fleet and the broker that can reset,
refuse, slow down or stall (one direction) its connections, and SIGSTOP/SIGCONT pauses of the
broker process. Python 3.11 standard library only.

Kafka clients connect to the address the broker advertises, so a proxied broker must advertise
the proxy: `ProxiedTansu` starts Tansu listening on one port and advertising the proxy's. On
persistent storage (`ObjectStore`: moto's S3, from ops/test-peers/s3_store.py) the plan can also
restart the broker: SIGKILL, down for a while, started again on the same ports and storage.

As a command (a manual reproduction of issue #18 against a running broker):

    broker_faults.py pause --pid PID --seconds S      SIGSTOP the broker for S seconds
    broker_faults.py proxy --listen PORT --target HOST:PORT [--plan SECONDS --seed N]
                                                      forward (and with --plan, inject faults)
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

# ---------------------------------------------------------------------------------------------
# The proxy


class _Pipe:
    """One client connection and its upstream connection, forwarded both ways by one thread."""

    def __init__(self, proxy: "FaultProxy", client: socket.socket, upstream: socket.socket):
        self.proxy = proxy
        self.client = client
        self.upstream = upstream
        self.closed = False

    def reset(self):
        """Closes both ends with RST (SO_LINGER 0), as a cut cable or a crashed NAT would."""
        if self.closed:
            return
        self.closed = True
        for end in (self.client, self.upstream):
            try:
                end.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                end.close()
            except OSError:
                pass

    def run(self):
        pending = {self.client: b"", self.upstream: b""}  # bytes read from the key, not yet sent on
        other = {self.client: self.upstream, self.upstream: self.client}
        try:
            while not self.closed:
                readable = [end for end in (self.client, self.upstream)
                            if not self.proxy.stalled(end is self.client) and len(pending[end]) < 1 << 20]
                ready, _, _ = select.select(readable, [], [], 0.05)
                for end in ready:
                    data = end.recv(65536)
                    if not data:
                        self.reset()
                        return
                    pending[end] += data
                for end, data in pending.items():
                    if data and not self.proxy.stalled(end is self.client):
                        delay = self.proxy.latency_s
                        if delay:
                            time.sleep(delay)
                        other[end].sendall(data)
                        pending[end] = b""
        except OSError:
            self.reset()
        finally:
            self.proxy.forget(self)


class FaultProxy:
    """Forwards 127.0.0.1:`listen_port` to `target`; the fault methods change what it does."""

    def __init__(self, listen_port: int, target: tuple[str, int]):
        self.target = target
        self.listen_port = listen_port
        self.latency_s = 0.0
        self.refusing = False
        self._stall = {True: False, False: False}  # client→broker, broker→client
        self._pipes: set[_Pipe] = set()
        self._lock = threading.Lock()
        self._server = socket.socket()
        self._server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._server.bind(("127.0.0.1", listen_port))
        self._server.listen(128)
        self._running = True
        threading.Thread(target=self._accept, name="broker-proxy", daemon=True).start()

    def stalled(self, from_client: bool) -> bool:
        return self._stall[from_client]

    def forget(self, pipe: _Pipe):
        with self._lock:
            self._pipes.discard(pipe)

    def _accept(self):
        while self._running:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            if self.refusing:
                _Pipe(self, client, client).reset()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            for end in (client, upstream):
                end.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            pipe = _Pipe(self, client, upstream)
            with self._lock:
                self._pipes.add(pipe)
            threading.Thread(target=pipe.run, name="broker-proxy-pipe", daemon=True).start()

    # -- faults -------------------------------------------------------------------------------

    def reset_all(self):
        """Resets every open connection (clients reconnect at once)."""
        with self._lock:
            pipes = list(self._pipes)
        for pipe in pipes:
            pipe.reset()

    def cut(self, seconds: float):
        """Resets every connection and refuses new ones for `seconds`."""
        self.refusing = True
        self.reset_all()
        time.sleep(seconds)
        self.refusing = False

    def stall(self, from_client: bool, seconds: float):
        """Holds the bytes of one direction for `seconds` (connections stay open), then sends them."""
        self._stall[from_client] = True
        time.sleep(seconds)
        self._stall[from_client] = False

    def slow(self, latency_s: float, seconds: float):
        """Adds `latency_s` to every forwarded chunk for `seconds`."""
        self.latency_s = latency_s
        time.sleep(seconds)
        self.latency_s = 0.0

    def close(self):
        self._running = False
        self._server.close()
        self.reset_all()


# ---------------------------------------------------------------------------------------------
# Broker pauses and the fault plan


def pause_process(pid: int, seconds: float):
    """SIGSTOP `pid` for `seconds` (it is always continued, even when the sleep is interrupted)."""
    os.kill(pid, signal.SIGSTOP)
    try:
        time.sleep(seconds)
    finally:
        os.kill(pid, signal.SIGCONT)


@dataclasses.dataclass
class Fault:
    kind: str  # pause | restart | cut | reset | stall-in | stall-out | latency
    at: float  # seconds after the plan starts
    seconds: float
    started: float = 0.0  # wall clock
    ended: float = 0.0  # wall clock: the broker is back

    def describe(self) -> str:
        return f"{self.kind} {self.seconds:.1f}s"


def plan_faults(seed: int, duration: float | None, pauses: int = 5, others: int = 6, max_pause: float = 40.0,
                restarts: int = 0) -> list[Fault]:
    """A schedule of `pauses` broker pauses of 5–`max_pause` s (at least one of 25 s or more),
    `restarts` broker restarts (down 1–10 s) and `others` proxy faults, never two at once (each
    starts after the previous one ended plus 5–15 s of calm); squeezed into `duration` seconds
    when one is given and it is longer. Without restarts a seed gives the same plan as before
    they existed."""
    rng = random.Random(f"{seed}/broker-faults")
    kinds = ["pause"] * pauses + [rng.choice(["cut", "reset", "stall-in", "stall-out", "latency"]) for _ in range(others)]
    kinds += ["restart"] * restarts
    rng.shuffle(kinds)
    long_pause = next(index for index, kind in enumerate(kinds) if kind == "pause") if pauses else None
    faults, at = [], rng.uniform(3, 8)
    for index, kind in enumerate(kinds):
        if kind == "pause":
            seconds = rng.uniform(min(25, max_pause), max_pause) if index == long_pause else rng.uniform(5, max_pause)
        elif kind == "reset":
            seconds = 0.0
        elif kind == "restart":
            seconds = rng.uniform(1, 10)
        else:
            seconds = rng.uniform(3, 15)
        faults.append(Fault(kind, at, round(seconds, 1)))
        at += seconds + rng.uniform(5, 15)
    scale = duration / at if duration and at > duration else 1.0
    for fault in faults:
        fault.at *= scale
    return faults


class FaultInjector:
    """Runs a fault plan in a thread against a broker (a `ProxiedTansu`) and (optionally) its proxy.

    A fault starts only while `busy()` is false, checked under `gate`: a harness that holds
    `gate` while it starts a client command (and counts it busy until it ends) never has one cut
    off by a fault; it checks `active` under the same lock before starting one.

    A fault also waits until `settled()` (e.g. the jobs in flight at the previous fault have
    ended), so that one fault's recovery is not measured across the next fault; `on_start(fault)`
    runs under `gate` just before a fault begins. A delayed fault delays the rest of the plan."""

    def __init__(self, plan: list[Fault], broker: "ProxiedTansu | None", proxy: FaultProxy | None, log=print,
                 gate: threading.Lock | None = None, busy=lambda: False, settled=lambda: True,
                 on_start=lambda fault: None):
        self.plan = [fault for fault in plan if (proxy is not None or fault.kind in ("pause", "restart"))
                     and (broker is not None or fault.kind not in ("pause", "restart"))]
        self.broker = broker
        self.proxy = proxy
        self.log = log
        self.gate = gate or threading.Lock()
        self.busy = busy
        self.settled = settled
        self.on_start = on_start
        self.done: list[Fault] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="broker-faults", daemon=True)

    def start(self):
        self.started = time.time()
        self._thread.start()

    def stop(self):
        """Stops before the next fault; a fault under way is finished first (the broker continued)."""
        self._stop.set()
        self._thread.join()

    @property
    def active(self) -> Fault | None:
        return next((fault for fault in self.plan if fault.started and not fault.ended), None)

    @property
    def finished(self) -> bool:
        return len(self.done) == len(self.plan) or not self._thread.is_alive()

    def _run(self):
        delay = 0.0  # how much later than planned the faults so far began
        for fault in self.plan:
            planned = self.started + fault.at + delay
            if self._stop.wait(max(0.0, planned - time.time())):
                return
            while True:
                with self.gate:
                    if not self.busy() and self.settled():
                        self.on_start(fault)
                        fault.started = time.time()
                        break
                if self._stop.wait(0.1):
                    return
            delay += max(0.0, fault.started - planned)
            self.log(f"broker fault: {fault.describe()}")
            if fault.kind == "pause":
                pause_process(self.broker.pid, fault.seconds)
            elif fault.kind == "restart":
                self.broker.restart(fault.seconds)
            elif fault.kind == "cut":
                self.proxy.cut(fault.seconds)
            elif fault.kind == "reset":
                self.proxy.reset_all()
            elif fault.kind in ("stall-in", "stall-out"):
                self.proxy.stall(fault.kind == "stall-in", fault.seconds)
            elif fault.kind == "latency":
                self.proxy.slow(0.2, fault.seconds)
            fault.ended = time.time()
            self.done.append(fault)
            self.log(f"broker fault over: {fault.describe()}")


class ObjectStore:
    """S3-compatible storage for a broker that must survive its restarts: ops/test-peers/s3_store.py
    (moto's S3, one bucket) run with `python` (the test-peer venv's interpreter), log in `directory`."""

    def __init__(self, python: str, script: str, directory: str):
        os.makedirs(directory, exist_ok=True)
        with open(os.path.join(directory, "s3-store.log"), "ab") as log_file:
            self.process = subprocess.Popen([python, script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log_file,
                                            start_new_session=True)
        line = self.process.stdout.readline()
        try:
            info = json.loads(line)
        except ValueError:
            self.stop()
            raise RuntimeError(f"the S3 store did not start (see {directory}/s3-store.log)") from None
        self.endpoint, self.bucket = info["endpoint"], info["bucket"]

    @property
    def storage_engine(self) -> str:
        return f"s3://{self.bucket}/"

    @property
    def environment(self) -> dict[str, str]:
        """What Tansu needs to reach the store (fake credentials: moto does not check them here)."""
        return {"AWS_ENDPOINT": self.endpoint, "AWS_ALLOW_HTTP": "true", "AWS_ACCESS_KEY_ID": "test",
                "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}

    def stop(self):
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


class ProxiedTansu:
    """Tansu listening on `broker_port` and advertising `proxy_port`, so clients that bootstrap
    through the proxy keep using it; in memory, or on `store` (then `restart` keeps its topics,
    records, groups and offsets). Log in `directory`/tansu.log, pid in `directory`/tansu.pid."""

    def __init__(self, tansu: str, directory: str, broker_port: int, proxy_port: int, store: ObjectStore | None = None):
        self.tansu, self.directory, self.broker_port, self.proxy_port, self.store = tansu, directory, broker_port, proxy_port, store
        self.process: subprocess.Popen | None = None
        os.makedirs(directory, exist_ok=True)
        self.start()

    @property
    def pid(self) -> int:
        return self.process.pid

    def start(self):
        env = {key: value for key, value in os.environ.items() if key not in ("OTEL_EXPORTER_OTLP_ENDPOINT", "SCHEMA_REGISTRY")}
        env["NO_COLOR"] = "1"
        if self.store is not None:
            env.update(self.store.environment)
        storage = self.store.storage_engine if self.store is not None else "memory://tansu/"
        with open(os.path.join(self.directory, "tansu.log"), "ab") as log_file:
            self.process = subprocess.Popen(
                [self.tansu, "broker", "--cluster-id", "trainyard-faults", "--listener-url", f"tcp://127.0.0.1:{self.broker_port}",
                 "--advertised-listener-url", f"tcp://127.0.0.1:{self.proxy_port}", "--storage-engine", storage],
                stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        with open(os.path.join(self.directory, "tansu.pid"), "w") as handle:
            handle.write(f"{self.process.pid}\n")
        deadline = time.monotonic() + 60  # on S3 the first start makes a few round trips to the store
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.broker_port)) == 0:
                    return
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        self.process.kill()
        raise RuntimeError(f"tansu did not listen on {self.broker_port} (see {self.directory}/tansu.log)")

    def restart(self, down_seconds: float):
        """SIGKILL (nothing flushed, as a crashed host), `down_seconds` away, then started again on
        the same ports and storage; returns once it listens."""
        self.process.kill()
        self.process.wait()
        time.sleep(down_seconds)
        self.start()

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGCONT)  # in case a pause was cut short
            self.process.kill()
            self.process.wait()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    pause = commands.add_parser("pause", help="SIGSTOP a broker for a while")
    pause.add_argument("--pid", type=int, required=True)
    pause.add_argument("--seconds", type=float, required=True)
    proxy = commands.add_parser("proxy", help="run a fault proxy in the foreground")
    proxy.add_argument("--listen", type=int, required=True)
    proxy.add_argument("--target", required=True)
    proxy.add_argument("--plan", type=float, help="inject proxy faults over this many seconds")
    proxy.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if args.command == "pause":
        pause_process(args.pid, args.seconds)
        return 0
    host, port = args.target.rsplit(":", 1)
    running = FaultProxy(args.listen, (host, int(port)))
    if args.plan:
        injector = FaultInjector([f for f in plan_faults(args.seed, args.plan, pauses=0) if f.kind != "pause"], None, running,
                                 log=lambda text: print(text, file=sys.stderr, flush=True))
        injector.start()
    try:
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    finally:
        running.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
