#!/usr/bin/env python3
"""Benchmark (not a test): audit N lab hosts and print hosts/second for

1. ``auditctl run`` (every mlps and fleet check, one SSH exchange per host), and with ``--packs fleet``
   alone (the connection checks: the same handshake and exchange with only the OS probe),
2. the floor: a bare ``ssh host true`` over the same hosts at the same concurrency,
3. Ansible ad-hoc (``ansible -m shell``) running the same probe commands, if ansible is installed.

Usage (root, builds its own network-namespace lab):
    .venv/bin/python bench/fleet.py --hosts 50 --forks 32
"""
from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from audits.model.probes import OS_PROBE
from audits.collect.script import shell_command  # noqa: E402
from tests.lab.campus_lab import CampusLab  # noqa: E402


def ssh_true(lab, host) -> bool:
    r = subprocess.run(["ssh", "-F", "/dev/null", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
                        "-o", f"UserKnownHostsFile={lab.known_hosts}", "-i", str(lab.key_file),
                        f"{host.user}@{host.address}", "true"], capture_output=True, timeout=60)
    return r.returncode == 0


def probe_commands() -> str:
    """The same read-only commands auditctl gathers, as one shell line for Ansible."""
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

        own_cpu: dict[str, float] = {}

        def auditctl_run(packs="mlps,fleet"):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            subprocess.run([sys.executable, str(ROOT / "auditctl.py"), "run", "-q", "-i", str(inv), "--limit", limit,
                            "--packs", packs, "--forks", str(args.forks), "--db", str(work / "b.db"),
                            "--out", str(work / "out"), "--json", str(work / "b.json"),
                            "--known-hosts", str(lab.known_hosts)], capture_output=True, text=True)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            own_cpu[packs] = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
            doc = json.loads((work / "b.json").read_text())
            return sum(1 for h in doc["hosts"] if h["status"] == "audited")

        def floor():
            with ThreadPoolExecutor(args.forks) as pool:
                return sum(pool.map(lambda h: ssh_true(lab, h), live))

        methods = [("audit", "auditctl run (all probes, one exchange/host)", auditctl_run),
                   ("floor", "ssh host true (floor)", floor),
                   ("audit-os", "auditctl run --packs fleet (OS probe only)", lambda: auditctl_run("fleet"))]
        ansible_bin = shutil.which("ansible")
        if ansible_bin:
            ainv = work / "ansible.ini"
            ainv.write_text("[lab]\n" + "".join(f"{h.address} ansible_user={h.user}\n" for h in live))
            cmd = probe_commands()

            def ansible():
                return ansible_cmd(cmd)

            def ansible_cmd(cmd):
                r = subprocess.run([ansible_bin, "lab", "-i", str(ainv), "-f", str(args.forks), "-m", "shell",
                                    "-a", json.dumps({"cmd": cmd, "executable": "/bin/bash"}),
                                    "--private-key", str(lab.key_file), "-o"], capture_output=True, text=True,
                                   env={"ANSIBLE_HOST_KEY_CHECKING": "True", "ANSIBLE_SSH_ARGS":
                                        f"-o UserKnownHostsFile={lab.known_hosts}", "PATH": "/usr/bin:/bin:"
                                        + str(Path(ansible_bin).parent), "HOME": str(work)})
                return r.stdout.count("CHANGED") + r.stdout.count("SUCCESS")

            methods.append(("ansible", "ansible -m shell (same commands)", ansible))
            os_cmd = shell_command(OS_PROBE)
            methods.append(("ansible-os", "ansible -m shell (OS probe only)", lambda: ansible_cmd(os_cmd)))
        for key, name, fn in methods:
            best = None
            for _ in range(args.repeat):
                ok, secs = timed(fn)
                best = secs if best is None or secs < best else best
            rows.append((key, name, ok, best))
    print(f"lab: {len(live)} live hosts (built in {build:.1f}s), forks {args.forks}, best of {args.repeat}")
    secs_of = {}
    for key, name, ok, secs in rows:
        secs_of[key] = secs
        print(f"{name:48} {ok:3}/{len(live)} ok  {secs:6.2f}s  {len(live) / secs:7.1f} hosts/s")
    for packs, cpu in own_cpu.items():
        print(f"auditctl's own CPU (--packs {packs}, last run): {cpu:.2f}s, {1000 * cpu / len(live):.0f} ms/host")
    print(f"auditctl (all probes) vs floor: {secs_of['audit'] / secs_of['floor']:.2f}x the floor's time")
    print(f"auditctl --packs fleet vs floor: {secs_of['audit-os'] / secs_of['floor']:.2f}x the floor's time")
    if "ansible" in secs_of:
        print(f"auditctl vs ansible, same commands: {secs_of['ansible'] / secs_of['audit']:.1f}x faster")
        print(f"auditctl vs ansible, OS probe only: {secs_of['ansible-os'] / secs_of['audit-os']:.1f}x faster")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
