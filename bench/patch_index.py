#!/usr/bin/env python3
"""Benchmark (not a test): the auditor's patch index for a fleet of N Debian 12 hosts. Prints the
time to fetch and verify bookworm-security from the Debian mirror (or to use the held copy), to load
the held index (signature + SHA256 + parse), and to enrich and judge N hosts that each report this
machine's dpkg-query output.

Usage:  .venv/bin/python bench/patch_index.py --hosts 300 [--mirror URL] [--cache DIR]
"""
from __future__ import annotations

import argparse
import datetime as dt
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from audits.model.evaluation import check_params  # noqa: E402
from audits.model.inventory import DEFAULT_SETTINGS, Host, Source, merge_settings  # noqa: E402
from audits.model.probes import OS_PROBE, Facts, ProbeResult  # noqa: E402
from audits.patchdata.index import Store  # noqa: E402
from audits.patchdata.provider import DEFAULTS, RunIndex, enrich_debian  # noqa: E402
from checks.probe_catalogue import named  # noqa: E402
from checks.registry import load_registry  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hosts", type=int, default=300)
    ap.add_argument("--mirror", default="http://deb.debian.org/debian-security")
    ap.add_argument("--cache", help="index cache directory (default: a new temporary one)")
    a = ap.parse_args()
    store = Store(Path(a.cache) if a.cache else Path(tempfile.mkdtemp(prefix="bench-patch-")))
    t = time.perf_counter()
    idx, did = store.refresh(a.mirror, "bookworm-security", ["main"], ["amd64"])
    print(f"refresh ({did}): {time.perf_counter() - t:.2f} s, {len(idx.offers)} packages, {idx.release.signature}")
    t = time.perf_counter()
    store.held("debian", "bookworm-security")
    print(f"load held index (gpgv + SHA256 + parse): {time.perf_counter() - t:.2f} s")
    dpkg = subprocess.run(["dpkg-query", "-W", "-f=${Package} ${Architecture} ${Version} ${db:Status-Abbrev}\n"],
                          capture_output=True, text=True, check=True).stdout
    versions = "\n".join(" ".join([ln.split()[0], ln.split()[2], ln.split()[3]]) for ln in dpkg.splitlines() if len(ln.split()) >= 4)
    osr = Path("/etc/os-release").read_text()
    check = load_registry().by_id["patching.security_updates"]
    params = check_params(check, {})
    run = RunIndex({**DEFAULTS}, store=store, now=dt.datetime.now(dt.timezone.utc))
    t = time.perf_counter()
    statuses = {}
    for i in range(a.hosts):
        f = Facts(f"h{i}")
        f.results[OS_PROBE] = ProbeResult(osr, 0, "")
        f.results[named("dpkg_packages")] = ProbeResult(dpkg, 0, "")
        f.results[named("dpkg_versions")] = ProbeResult(versions, 0, "")
        f.results[named("apt_sources")] = ProbeResult("", 2, "")
        f.meta["os_family"] = "debian"
        enrich_debian(run, f, named("dpkg_packages"), named("apt_sources"))
        host = Host(f"h{i}", "192.0.2.1", "s", "d", [], 3, merge_settings(DEFAULT_SETTINGS, {"os": "debian"}), Source("b", 0))
        out = check.run(f, host, params)
        statuses[out.status.value] = statuses.get(out.status.value, 0) + 1
    el = time.perf_counter() - t
    print(f"enrich + judge {a.hosts} hosts ({len(dpkg.splitlines())} packages each): {el:.2f} s "
          f"({1000 * el / a.hosts:.1f} ms/host); statuses {statuses}")


if __name__ == "__main__":
    main()
