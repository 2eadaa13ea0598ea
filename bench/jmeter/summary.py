#!/usr/bin/env python3
"""Figures of a JMeter results file (CSV .jtl) in the columns `cmc-bench pattern` prints:
requests, failures, mean / median / p95 / p99 / max response time and requests per second."""
import csv
import sys


def summarize(path):
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        sys.exit(f"{path}: no samples")
    times = sorted(int(row["elapsed"]) for row in rows)
    failures = sum(1 for row in rows if row["success"] != "true")
    starts = [int(row["timeStamp"]) for row in rows]
    ends = [int(row["timeStamp"]) + int(row["elapsed"]) for row in rows]
    seconds = max(1, max(ends) - min(starts)) / 1000

    def at(q):
        return times[min(len(times) - 1, int(len(times) * q))]

    threads = max(int(row.get("allThreads") or 0) for row in rows)
    print("tool     users  requests  failures  mean ms  median ms  p95 ms  p99 ms  max ms   req/s")
    print(f"jmeter {threads:7d} {len(times):9d} {failures:9d} {sum(times) / len(times):8.2f} {at(0.5):10d} {at(0.95):7d}"
          f" {at(0.99):7d} {times[-1]:7d} {len(times) / seconds:7.0f}")
    by_label = {}
    for row in rows:
        by_label.setdefault(row["label"], []).append(int(row["elapsed"]))
    for label, values in sorted(by_label.items()):
        print(f"  {label:32s} {len(values):8d} requests, mean {sum(values) / len(values):7.2f} ms")


if __name__ == "__main__":
    for argument in sys.argv[1:] or sys.exit("usage: summary.py results.jtl ..."):
        summarize(argument)
