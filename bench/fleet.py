#!/usr/bin/env python3
"""Benchmark (not a test): audit N lab hosts and print hosts/second for

1. ``auditctl run`` (every mlps and fleet check, one SSH exchange per host),
2. the floor: a bare ``ssh host true`` over the same hosts at the same concurrency,
3. Ansible ad-hoc (``ansible -m shell``) running the same probe commands, if ansible is installed.

Usage (root, builds its own network-namespace lab):
    .venv/bin/python bench/fleet.py --hosts 50 --forks 32
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.lab.campus_lab import CampusLab  # noqa: E402


def ssh_true(lab, host) -> bool:
    r = subprocess.run(["ssh", "-F", "/dev/null", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
                        "-o", f"UserKnownHostsFile={lab.known_hosts}", "-i", str(lab.key_file),
                        f"{host.user}@{host.address}", "true"], capture_output=True, timeout=60)
    return r.returncode == 0


def probe_commands() -> str:
    """The same read-only commands auditctl gathers, as one shell line for Ansible."""
    from audits.probes import OS_PROBE, shell_command
    from checks.registry import load_registry

    probes = {OS_PROBE}
    for c in load_registry().select(["mlps"]):
        probes |= c.probes_for("auto")
    return "; ".join(f"{{ {shell_command(p)} ; }} >/dev/null 2>&1" for p in sorted(probes)) + "; true"


def timed(fn):
    t0 = time.monotonic()
    out = fn()
    return out, time.monotonic() - t0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hosts", type=int, default=50)
    ap.add_argument("--forks", type=int, default=32)
    ap.add_argument("--repeat", type=int, default=2, help="runs per method; the best is reported")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="auditctl-bench-"))
    t0 = time.monotonic()
    with CampusLab(work, n_hosts=args.hosts) as lab:  # entering builds the lab
        build = time.monotonic() - t0
        live = [h for h in lab.hosts if h.kind in ("compliant", "misconfigured")]
        inv = work / "lab.yaml"
        lab.write_inventory(inv)
        limit = ",".join(h.id for h in live)
        rows = []

        def auditctl_run():
            subprocess.run([sys.executable, str(ROOT / "auditctl.py"), "run", "-q", "-i", str(inv), "--limit", limit,
                                "--forks", str(args.forks), "--db", str(work / "b.db"), "--out", str(work / "out"),
                                "--json", str(work / "b.json"), "--known-hosts", str(lab.known_hosts)],
                               capture_output=True, text=True)
            doc = json.loads((work / "b.json").read_text())
            return sum(1 for h in doc["hosts"] if h["status"] == "audited")

        def floor():
            with ThreadPoolExecutor(args.forks) as pool:
                return sum(pool.map(lambda h: ssh_true(lab, h), live))

        methods = [("auditctl run (all probes, one exchange/host)", auditctl_run), ("ssh host true (floor)", floor)]
        ansible_bin = shutil.which("ansible")
        if ansible_bin:
            ainv = work / "ansible.ini"
            ainv.write_text("[lab]\n" + "".join(f"{h.address} ansible_user={h.user}\n" for h in live))
            cmd = probe_commands()

            def ansible():
                r = subprocess.run([ansible_bin, "lab", "-i", str(ainv), "-f", str(args.forks), "-m", "shell", "-a", json.dumps({"cmd": cmd, "executable": "/bin/bash"}),
                                    "--private-key", str(lab.key_file), "-o"], capture_output=True, text=True,
                                   env={"ANSIBLE_HOST_KEY_CHECKING": "True", "ANSIBLE_SSH_ARGS":
                                        f"-o UserKnownHostsFile={lab.known_hosts}", "PATH": "/usr/bin:/bin:"
                                        + str(Path(ansible_bin).parent), "HOME": str(work)})
                return r.stdout.count("CHANGED") + r.stdout.count("SUCCESS")

            methods.append(("ansible -m shell (same commands)", ansible))
        for name, fn in methods:
            best = None
            for _ in range(args.repeat):
                ok, secs = timed(fn)
                best = secs if best is None or secs < best else best
            rows.append((name, ok, best))
    print(f"lab: {len(live)} live hosts (built in {build:.1f}s), forks {args.forks}, best of {args.repeat}")
    floor_rate = None
    for name, ok, secs in rows:
        rate = len(live) / secs
        floor_rate = rate if "floor" in name else floor_rate
        print(f"{name:48} {ok:3}/{len(live)} ok  {secs:6.2f}s  {rate:7.1f} hosts/s")
    if floor_rate:
        audit_rate = len(live) / rows[0][2]
        print(f"auditctl vs floor: {floor_rate / audit_rate:.2f}x slower")
        if len(rows) > 2:
            print(f"auditctl vs ansible: {rows[2][2] / rows[0][2]:.1f}x faster")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
