#!/usr/bin/env python3
"""Plots ops/scale's results: python3 plot.py RESULTS.json OUT.png (needs matplotlib; ops/scale
runs it with the interpreter of its plot venv)."""
from __future__ import annotations

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main() -> int:
    source, target = sys.argv[1], sys.argv[2]
    with open(source) as handle:
        data = json.load(handle)
    machine, args = data["machine"], data["args"]
    runs = [r for r in data["runs"] if r.get("jobs_per_s") is not None]
    if not runs:
        print("no run with figures to plot", file=sys.stderr)
        return 1
    workers = [r["workers"] for r in runs]
    rate = [r["jobs_per_s"] for r in runs]
    steady = [r.get("steady_jobs_per_s") for r in runs]

    fig, (ax_rate, ax_join, ax_lat) = plt.subplots(1, 3, figsize=(15, 5.2), gridspec_kw={"width_ratios": [1.5, 1, 1]},
                                                 layout="constrained")

    # Throughput vs workers, with what linear scaling from the smallest fleet would give.
    base_w, base_rate = workers[0], rate[0]
    ideal = [base_rate * w / base_w for w in workers]
    ax_rate.plot(workers, ideal, ":", color="grey", label=f"linear from {base_w} worker{'s' if base_w > 1 else ''}")
    ax_rate.plot(workers, rate, "o-", color="tab:blue", linewidth=2, markersize=8, label="jobs/s (first claim → last terminal)")
    if all(s is not None for s in steady):
        ax_rate.plot(workers, steady, "s--", color="tab:orange", label="steady jobs/s (middle 80 % of completions)")
    for w, value, r in zip(workers, rate, runs):
        busy = r.get("cpu_busy_pct")
        others = r.get("other_cpu_pct")
        label = (f"{value:.1f}" + (f"\nCPU {busy:.0f} %" if busy is not None else "")
                 + (f"\n(others {others:.0f} %)" if others is not None and others >= 10 else ""))
        ax_rate.annotate(label, (w, value), textcoords="offset points", xytext=(0, -12), ha="center", va="top",
                         fontsize=9.5, color="tab:blue", fontweight="bold")
    top = max(max(rate), max(ideal), max((s for s in steady if s is not None), default=0))
    ax_rate.set_ylim(0, top * 1.25)
    ax_rate.set_xticks(workers)
    ax_rate.set_xlim(min(workers) - 0.45, max(workers) + 0.45)
    ax_rate.set_xlabel("workers")
    ax_rate.set_ylabel("jobs / s")
    ax_rate.set_title("Throughput vs workers")
    ax_rate.grid(alpha=0.3)
    ax_rate.legend(loc="upper left", fontsize=9)

    # Time each worker took to contribute (its own process start → its first CLAIMED).
    for r in runs:
        for index, w in enumerate(r.get("per_worker", [])):
            x = r["workers"] + (index - (len(r["per_worker"]) - 1) / 2) * 0.08
            if w.get("assigned_s") is not None:
                ax_join.plot(x, w["assigned_s"], "o", markerfacecolor="none", color="tab:green", markersize=7)
            if w.get("first_claim_s") is not None:
                ax_join.plot(x, w["first_claim_s"], "x", color="tab:red", markersize=8, markeredgewidth=2)
    ax_join.plot([], [], "o", markerfacecolor="none", color="tab:green", label="partitions assigned")
    ax_join.plot([], [], "x", color="tab:red", markeredgewidth=2, label="first job claimed")
    ax_join.set_xticks(workers)
    ax_join.set_xlim(min(workers) - 0.7, max(workers) + 0.7)
    marks = [w.get(k) for r in runs for w in r.get("per_worker", []) for k in ("assigned_s", "first_claim_s")]
    ax_join.set_ylim(0, max([m for m in marks if m is not None] or [1]) * 1.2)
    ax_join.set_xlabel("workers (one mark per worker)")
    ax_join.set_ylabel("seconds after the worker's process start")
    ax_join.set_title("Time for a new worker to contribute")
    ax_join.grid(alpha=0.3)
    ax_join.legend(loc="lower right", fontsize=9)

    # Provisioning latency (claim → RUNNING): grows with CPU contention.
    p50 = [None if r.get("claim_to_running_p50") is None else r["claim_to_running_p50"] * 1000 for r in runs]
    p99 = [None if r.get("claim_to_running_p99") is None else r["claim_to_running_p99"] * 1000 for r in runs]
    ax_lat.plot(workers, p50, "o-", color="tab:purple", label="claim → RUNNING p50")
    ax_lat.plot(workers, p99, "^--", color="tab:purple", alpha=0.7, label="claim → RUNNING p99")
    for w, value in zip(workers, p99):
        if value is not None:
            ax_lat.annotate(f"{value:.0f}", (w, value), textcoords="offset points", xytext=(0, 7), ha="center", fontsize=9)
    for w, value in zip(workers, p50):
        if value is not None:
            ax_lat.annotate(f"{value:.0f}", (w, value), textcoords="offset points", xytext=(0, 7), ha="center", fontsize=9)
    ax_lat.set_xticks(workers)
    ax_lat.set_ylim(bottom=0, top=max(v for v in p99 + p50 if v is not None) * 1.25)
    ax_lat.set_xlabel("workers")
    ax_lat.set_ylabel("milliseconds")
    ax_lat.set_title("Provisioning latency")
    ax_lat.grid(alpha=0.3)
    ax_lat.legend(loc="lower right", fontsize=9)

    cores = machine.get("nproc", "?")
    busy = [r["cpu_busy_pct"] for r in runs if r.get("cpu_busy_pct") is not None]
    busy_text = (f"CPU busy {min(busy):.0f}–{max(busy):.0f} % during the runs" if len(busy) > 1
                 else f"CPU busy {busy[0]:.0f} % during the run" if busy else "")
    fig.suptitle(
        f"Trainyard, local backend: {args['jobs']} jobs × sleep {args['run_seconds']:g} s as a pre-submitted backlog, "
        f"{args['partitions']} partitions, concurrency {args['concurrency']}/worker\n"
        f"everything on one machine with {cores} cores ({machine.get('os', '')}, {machine.get('broker', '')}), "
        f"{busy_text}; each job costs two process starts (supervisor + job)",
        fontsize=11)
    fig.savefig(target, dpi=110)
    return 0


if __name__ == "__main__":
    sys.exit(main())
