#!/usr/bin/env python3
"""Benchmark (not a test): the network view of one school's /24 — the campus lab subnet with a handful
of live hosts (N sshd hosts, a silent host, a declared but absent host) — through ``auditctl scan``.

Prints the wall time of the whole command (scan, 14 checks per host, store, JSON, HTML), the nmap
scan's own seconds, and how many addresses answered. Run it through the lab queue (one lab per machine):

    flock /tmp/lab-queue.lock .venv/bin/python bench/network.py --hosts 5 [--scan-type connect]
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import auditctl  # noqa: E402
from tests.lab.campus_lab import CampusLab  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hosts", type=int, default=5)
    ap.add_argument("--subnet", default="10.203.0")
    ap.add_argument("--scan-type", default="auto", choices=("auto", "syn", "connect"))
    ap.add_argument("--max-rate", type=int, default=300)
    args = ap.parse_args()
    workdir = CampusLab.make_workdir()
    lab = CampusLab(workdir, n_hosts=args.hosts, subnet_prefix=args.subnet)
    try:
        lab.build()
        inv = lab.write_inventory(workdir / "inventory.yaml")
        doc = yaml.safe_load(inv.read_text())
        doc["districts"][0]["schools"][0]["networks"] = [f"{args.subnet}.0/24"]
        inv.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))
        t0 = time.monotonic()
        rc = auditctl.main(["scan", "-q", "-i", str(inv), "--db", str(workdir / "r.db"), "--json",
                            str(workdir / "r.json"), "--out", str(workdir / "html"), "--scan-type", args.scan_type,
                            "--max-rate", str(args.max_rate)])
        wall = time.monotonic() - t0
        run = json.loads((workdir / "r.json").read_text())
        seg = next(h for h in run["hosts"] if h["id"].startswith("network@"))
        (live,) = [r for r in seg["results"] if r["check_id"] == "network.school.undeclared_hosts"]
        print(f"auditctl scan of {args.subnet}.0/24 ({args.scan_type}, max-rate {args.max_rate}): exit {rc}, "
              f"{wall:.2f} s wall, {len(run['hosts'])} host records, {run['summary']['results']['fail']} failed results")
        print(f"school record: {live['status']} — {live['message']['en']}")
    finally:
        lab.teardown()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
