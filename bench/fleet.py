#!/usr/bin/env python3
"""Benchmark (not a test): how near a full audit of a fleet comes to the cost of just logging in.

Builds a campus lab of N live sshd hosts in network namespaces on this machine and times, best of
``--repeat``, every host at once:

1. ``auditctl run`` (every pack, one SSH exchange per host, store, JSON and HTML);
2. the floor: system ``ssh host true`` to every host at once;
3. the product's own probe script (exactly the one auditctl sends each host) through plain OpenSSH,
   ``ssh host bash -s``, one session per host: the same host work without auditctl;
4. ``auditctl run --packs fleet`` (the connection checks: handshake and the OS probe only);
5. Ansible ad-hoc ``-m shell`` with the same commands, if ``ansible`` is on PATH.

For each it measures host CPU: the lab hosts are sshd processes on this machine, put in a cpuacct
cgroup of their own, so everything their sessions run (sshd's per-connection processes, bash, the
probes, sudo) is counted there. auditctl's own
CPU is its process's (RUSAGE_CHILDREN), per host both averaged and marginal (a one-host run's CPU,
start-up included, taken off). From the per-host figures it projects a district of ``--district``
hosts on one auditor and on ``--collectors`` collectors. The last line printed is ONE JSON object with
every figure (names with units), the floors they compare with and the load average.

Usage (root, builds its own lab; run it alone on the lab):
    flock /tmp/lab-queue.lock .venv/bin/python bench/fleet.py --hosts 11
"""
from __future__ import annotations

import argparse
import json
import os
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

from audits.collect.script import build_script, new_nonce, shell_command  # noqa: E402
from audits.model.probes import OS_PROBE  # noqa: E402
from tests.lab.campus_lab import CampusLab  # noqa: E402



class HostCPU:
    """CPU spent by the lab hosts: their sshd processes and everything they start (sessions, bash,
    probes, sudo). A cgroup-v1 cpuacct group holding the lab's sshd processes counts it exactly, as
    children are born into it; /proc's cutime would miss what sshd's session processes never wait for."""

    ROOT = Path("/sys/fs/cgroup/cpuacct")

    def __init__(self, pids):
        self.group = self.ROOT / f"auditctl-bench-{os.getpid()}"
        self.group.mkdir()
        for pid in pids:
            (self.group / "cgroup.procs").write_text(f"{pid}\n")

    def seconds(self) -> float:
        return int((self.group / "cpuacct.usage").read_text()) / 1e9

    def close(self):
        for pid in (self.group / "cgroup.procs").read_text().split():
            try:
                (self.ROOT / "cgroup.procs").write_text(f"{pid}\n")
            except OSError:
                pass
        self.group.rmdir()


def wait_reaped(pids, timeout: float = 10.0) -> None:
    """Until every session of these sshd processes has ended (its CPU then counts)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        busy = False
        for pid in pids:
            try:
                busy |= bool(Path(f"/proc/{pid}/task/{pid}/children").read_text().strip())
            except OSError:
                pass
        if not busy:
            return
        time.sleep(0.05)


def ssh_argv(lab, host, *command) -> list[str]:
    return ["ssh", "-F", "/dev/null", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
            "-o", f"UserKnownHostsFile={lab.known_hosts}", "-i", str(lab.key_file), "-p", str(host.port),
            f"{host.user}@{host.address}", *command]


def probe_commands() -> str:
    """The same read-only commands auditctl gathers, as one shell line for Ansible."""
    from checks.registry import load_registry

    probes = {OS_PROBE}
    for c in load_registry().select(["mlps"]):
        probes |= c.probes_for("auto")
    return "; ".join(f"{{ {shell_command(p)} ; }} >/dev/null 2>&1" for p in sorted(probes)) + "; true"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hosts", type=int, default=11, help="lab hosts (3 compliant : 2 misconfigured)")
    ap.add_argument("--forks", type=int, default=0, help="hosts at once (default: all)")
    ap.add_argument("--packs", default="", help="packs for the full audit (default: all)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per method; the best of each figure is reported")
    ap.add_argument("--district", type=int, default=10_000, help="hosts in the projected district")
    ap.add_argument("--collectors", type=int, default=10, help="collectors in the second projection")
    ap.add_argument("--project-forks", type=int, default=32, help="hosts at once in the projection (auditctl's default)")
    ap.add_argument("--note", default="", help="what else was running (goes into the JSON line)")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="auditctl-bench-"))
    t0 = time.monotonic()
    with CampusLab(work, n_hosts=args.hosts) as lab:  # entering builds the lab
        build = time.monotonic() - t0
        live = [h for h in lab.hosts if h.kind in ("compliant", "misconfigured")]
        n = len(live)
        forks = args.forks or n
        inv = work / "lab.yaml"
        lab.write_inventory(inv)
        limit = ",".join(h.id for h in live)
        sshd_pids = [lab._procs[h.id].pid for h in live if h.id in lab._procs]
        host_cpu = HostCPU(sshd_pids)

        from audits.inventory.load import load_inventory
        from audits.model.evaluation import gather_plan
        from checks.registry import load_registry

        checks = load_registry().select(args.packs.split(",") if args.packs else None)
        hosts = dict(load_inventory(inv).hosts)
        scripts = {h.id: build_script(gather_plan(checks, hosts[h.id]), new_nonce(),
                                      float(hosts[h.id].settings.get("command_timeout", 30)), as_root=False)
                   for h in live}
        n_probes = max(s.count("\np ") for s in scripts.values())

        # as installed: byte-compiled (pip compiles at install; this shell may say PYTHONDONTWRITEBYTECODE)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "auditctl.py")]
                       + [str(ROOT / d) for d in ("audits", "checks", "reports")], env=env, capture_output=True)

        def auditctl_run(packs: str, hosts_limit: str = limit) -> tuple[int, float]:
            cmd = [sys.executable, str(ROOT / "auditctl.py"), "run", "-q", "-i", str(inv), "--limit", hosts_limit,
                   "--forks", str(forks), "--db", str(work / "b.db"), "--out", str(work / "out"),
                   "--json", str(work / "b.json"), "--known-hosts", str(lab.known_hosts)]
            if packs:
                cmd += ["--packs", packs]
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            r = subprocess.run(cmd, capture_output=True, text=True, env=env)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            if r.returncode not in (0, 1) or not (work / "b.json").exists():
                sys.exit(f"auditctl run failed (exit {r.returncode}):\n{r.stderr[-3000:]}")
            doc = json.loads((work / "b.json").read_text())
            (work / "b.json").unlink()
            ok = sum(1 for h in doc["hosts"] if h["status"] == "audited")
            return ok, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)

        def everyone(fn):
            with ThreadPoolExecutor(forks) as pool:
                return sum(pool.map(fn, live))

        def floor():
            return everyone(lambda h: subprocess.run(ssh_argv(lab, h, "true"), capture_output=True,
                                                     timeout=120).returncode == 0), 0.0

        def own_script():
            def one(h):
                r = subprocess.run(ssh_argv(lab, h, "bash -s"), input=scripts[h.id].encode(), capture_output=True,
                                   timeout=300)
                return r.returncode == 0 and r.stdout.rstrip().endswith(b"DONE")
            return everyone(one), 0.0

        methods = [("audit", "auditctl run (every pack, one exchange/host)", lambda: auditctl_run(args.packs)),
                   ("floor", "ssh host true, every host at once (floor)", floor),
                   ("script", "its own script via plain OpenSSH (bash -s)", own_script),
                   ("audit_os", "auditctl run --packs fleet (OS probe only)", lambda: auditctl_run("fleet"))]
        ansible_bin = shutil.which("ansible")
        if ansible_bin:
            ainv = work / "ansible.ini"
            ainv.write_text("[lab]\n" + "".join(f"{h.address} ansible_user={h.user}\n" for h in live))

            def ansible_cmd(cmd):
                r = subprocess.run([ansible_bin, "lab", "-i", str(ainv), "-f", str(forks), "-m", "shell",
                                    "-a", json.dumps({"cmd": cmd, "executable": "/bin/bash"}),
                                    "--private-key", str(lab.key_file), "-o"], capture_output=True, text=True,
                                   env={"ANSIBLE_HOST_KEY_CHECKING": "True", "ANSIBLE_SSH_ARGS":
                                        f"-o UserKnownHostsFile={lab.known_hosts}", "PATH": "/usr/bin:/bin:"
                                        + str(Path(ansible_bin).parent), "HOME": str(work)})
                return r.stdout.count("CHANGED") + r.stdout.count("SUCCESS"), 0.0

            cmd = probe_commands()
            methods.append(("ansible", "ansible -m shell (same commands)", lambda: ansible_cmd(cmd)))
        rows = {}
        for key, name, fn in methods:
            best = None
            for _ in range(args.repeat):
                wait_reaped(sshd_pids)
                host0 = host_cpu.seconds()
                t = time.monotonic()
                ok, own = fn()
                secs = time.monotonic() - t
                wait_reaped(sshd_pids)
                host = host_cpu.seconds() - host0
                if best is None:
                    best = {"name": name, "ok": ok, "secs": secs, "own_cpu": own, "host_cpu": host}
                # each figure its own best: wall, auditctl CPU and host CPU vary with the machine's other load
                best = {"name": name, "ok": min(ok, best["ok"]), "secs": min(secs, best["secs"]),
                        "own_cpu": min(own, best["own_cpu"]), "host_cpu": min(host, best["host_cpu"])}
            rows[key] = best
        # auditctl's fixed cost (start-up, registry, run bookkeeping): a one-host run, best of repeat
        one_cpu = min(auditctl_run(args.packs, live[0].id)[1] for _ in range(args.repeat))
        load = os.getloadavg()
        host_cpu.close()
    shutil.rmtree(work, ignore_errors=True)

    a, fl, sc = rows["audit"], rows["floor"], rows["script"]
    own_avg = a["own_cpu"] / n
    own_marginal = max(0.0, a["own_cpu"] - one_cpu) / max(1, n - 1)
    host_per = a["host_cpu"] / n
    floor_host = fl["host_cpu"] / n
    print(f"lab: {n} live hosts (built in {build:.1f}s), forks {forks}, best of {args.repeat}, "
          f"{n_probes} probes per host, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    for key, r in rows.items():
        print(f"{r['name']:48} {r['ok']:3}/{n} ok  {r['secs']:6.2f}s  {n / r['secs']:7.1f} hosts/s  "
              f"host CPU {1000 * r['host_cpu'] / n:6.1f} ms/host")
    print(f"auditctl's own CPU: {a['own_cpu']:.2f}s for {n} hosts = {1000 * own_avg:.0f} ms/host averaged, "
          f"{1000 * own_marginal:.0f} ms/host marginal (one-host run: {one_cpu:.2f}s)")
    ratio_floor = a["secs"] / fl["secs"]
    ratio_script = a["secs"] / sc["secs"]
    print(f"full audit vs ssh host true: {ratio_floor:.2f}x (target <= 2.5x, goal 1.5x)")
    print(f"full audit vs its own script via OpenSSH: {ratio_script:.2f}x (target <= 1.5x)")
    print(f"host CPU per audit: {1000 * host_per:.0f} ms (ssh host true: {1000 * floor_host:.0f} ms)")
    # Projection: on a real fleet each host's share runs on the host, in parallel; the auditor pays its own
    # CPU per host (marginal) on its cores, and no host takes less than its own audit's host-side time.
    cores = os.cpu_count() or 1
    auditor_cpu = args.district * own_marginal
    pf = args.project_forks
    one_auditor = max(auditor_cpu / cores, args.district / pf * host_per)
    per_collector = args.district / args.collectors
    n_collectors = max(per_collector * own_marginal / cores, per_collector / pf * host_per)
    print(f"projection, {args.district} hosts: auditctl CPU {auditor_cpu:.0f} s; one auditor ({cores} cores, "
          f"{pf} at once) ~{one_auditor / 60:.1f} min; {args.collectors} such collectors ~{n_collectors / 60:.1f} min "
          f"(each host's own share, {1000 * host_per:.0f} ms of CPU, runs on that host)")
    figures = {
        "bench": "fleet", "hosts": n, "forks": forks, "probes_per_host": n_probes, "repeat": args.repeat,
        "audit_s": round(a["secs"], 3), "floor_ssh_true_s": round(fl["secs"], 3),
        "own_script_openssh_s": round(sc["secs"], 3), "audit_os_only_s": round(rows["audit_os"]["secs"], 3),
        "ratio_audit_to_ssh_true": round(ratio_floor, 2), "ratio_audit_to_ssh_true_target": 2.5,
        "ratio_audit_to_ssh_true_goal": 1.5,
        "ratio_audit_to_own_script": round(ratio_script, 2), "ratio_audit_to_own_script_target": 1.5,
        "auditctl_cpu_ms_per_host_avg": round(1000 * own_avg, 1),
        "auditctl_cpu_ms_per_host_marginal": round(1000 * own_marginal, 1), "auditctl_cpu_ms_per_host_target": 30,
        "auditctl_one_host_run_cpu_s": round(one_cpu, 3),
        "host_cpu_ms_per_audit": round(1000 * host_per, 1), "host_cpu_ms_ssh_true": round(1000 * floor_host, 1),
        "host_cpu_ms_own_script": round(1000 * sc["host_cpu"] / n, 1),
        "district_hosts": args.district, "district_auditor_cpu_s": round(auditor_cpu, 1),
        "district_one_auditor_min": round(one_auditor / 60, 2), "collectors": args.collectors,
        "project_forks": pf,
        "district_n_collectors_min": round(n_collectors / 60, 2), "cores": cores,
        "loadavg_1_5_15": [round(x, 2) for x in load], "note": args.note,
    }
    if "ansible" in rows:
        figures["ansible_s"] = round(rows["ansible"]["secs"], 3)
    print(json.dumps(figures, sort_keys=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
