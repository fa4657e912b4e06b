#!/usr/bin/env python3
"""Benchmark (not a test): the local vulnerability database at the size of the real feeds.

1. Writes a synthetic Debian Security Tracker JSON of about the real size (default 30 000 source packages,
   ~80 MB; the real file is reported at ~78 MB), imports it with ``auditctl vulndb import`` in a child
   process, and prints the time, the child's peak RSS and the database size — the streaming import must keep
   memory bounded whatever the file size (compare --packages 3000 with 30000).
2. Matches one host of N installed packages (this machine's ``dpkg-query`` list when present) against it and
   prints the time per host.
3. Version comparisons per second: python-debian's ``version_compare`` (what deb matching uses) and our
   ``rpmvercmp``/``evr_compare`` (what RPM matching uses; no maintained PyPI package was worth the
   dependency: rpm-vercmp is unmaintained since 2018, univers pulls four libraries).

Usage:  .venv/bin/python bench/vulndb.py [--packages 30000]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from audits.patchdata import vulnmatch  # noqa: E402
from audits.patchdata.hostpkgs import dpkg_sources  # noqa: E402
from checks.parsers.rpmver import evr_compare, rpmvercmp  # noqa: E402
from audits.patchdata.vulndb import VulnDB  # noqa: E402

RELEASES = ["bullseye", "bookworm", "trixie", "sid"]


def write_tracker(path: Path, packages: int, local: list[str]) -> None:
    rnd = random.Random(1)
    names = local + [f"pkg{i}" for i in range(max(0, packages - len(local)))]
    with open(path, "w") as f:
        f.write("{")
        for i, name in enumerate(names):
            cves = {}
            for j in range(rnd.randint(1, 12)):
                rels = {}
                for code in RELEASES:
                    kind = rnd.random()
                    if kind < 0.6:
                        v = f"{rnd.randint(1, 9)}.{rnd.randint(0, 20)}-{rnd.randint(1, 5)}+deb12u{rnd.randint(1, 9)}"
                        rels[code] = {"status": "resolved", "repositories": {code: v, f"{code}-security": v},
                                      "fixed_version": v, "urgency": rnd.choice(["low", "medium", "high", "not yet assigned"])}
                    elif kind < 0.8:
                        rels[code] = {"status": "open", "repositories": {code: "1.0-1"}, "urgency": "low",
                                      "nodsa": "Minor issue", "nodsa_reason": "postponed"}
                    else:
                        rels[code] = {"status": "resolved", "repositories": {code: "1.0-1"}, "fixed_version": "0",
                                      "urgency": "unimportant"}
                cves[f"CVE-20{rnd.randint(10, 26)}-{rnd.randint(1000, 99999)}"] = {
                    "description": "x" * rnd.randint(20, 120), "scope": "remote", "releases": rels}
            f.write(("," if i else "") + json.dumps(name) + ":" + json.dumps(cves))
        f.write("}")


def local_packages() -> str:
    try:
        return subprocess.run(["dpkg-query", "-W", "-f=${binary:Package}\t${db:Status-Abbrev}\t${Version}\t"
                               "${source:Package}\t${source:Version}\n"], capture_output=True, text=True).stdout
    except OSError:
        return ""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--packages", type=int, default=30000)
    args = ap.parse_args()
    host_text = local_packages()
    host = dpkg_sources(host_text)
    with tempfile.TemporaryDirectory() as tmp:
        feed, db = Path(tmp) / "tracker.json", Path(tmp) / "v.sqlite"
        t = time.perf_counter()
        write_tracker(feed, args.packages, sorted({p.source for p in host}))
        print(f"synthetic tracker JSON: {args.packages} source packages, {feed.stat().st_size / 1e6:.1f} MB "
              f"(written in {time.perf_counter() - t:.1f} s)")
        t = time.perf_counter()
        r = subprocess.run([sys.executable, str(ROOT / "auditctl.py"), "vulndb", "import", "--db", str(db), str(feed),
                            "--as-of", "2026-03-01"], capture_output=True, text=True)
        took = time.perf_counter() - t
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(r.stdout.strip() or r.stderr.strip())
        print(f"import: {took:.1f} s, peak RSS of the importing process {peak:.0f} MB, database "
              f"{db.stat().st_size / 1e6:.1f} MB")
        d = VulnDB(db, create=False)
        if host:
            t = time.perf_counter()
            res = vulnmatch.match(d, "debian", "debian:12", "debian", host)
            first = time.perf_counter() - t
            t = time.perf_counter()
            for _ in range(5):
                vulnmatch.match(d, "debian", "debian:12", "debian", host)
            again = (time.perf_counter() - t) / 5
            print(f"match one host of {len(host)} packages: {first * 1000:.0f} ms first, {again * 1000:.0f} ms with "
                  f"warm caches; {len(res['findings'])} findings")
    from debian.debian_support import version_compare
    pairs = [("3.0.11-1~deb12u2", "3.0.13-1~deb12u1"), ("1:9.2p1-2+deb12u3", "1:9.2p1-2+deb12u5"),
             ("2.36-9+deb12u9", "2.36-9+deb12u10")] * 20000
    t = time.perf_counter()
    for a, b in pairs:
        version_compare(a, b)
    print(f"python-debian version_compare: {len(pairs) / (time.perf_counter() - t):,.0f} comparisons/s")
    rp = [("1:3.0.7-27.el9", "1:3.0.7-28.el9_4"), ("0:1.5.1-19.el9", "0:1.5.1-21.el9_5"),
          ("0:4.2.46-34.el7", "0:4.2.46-35.el7_9")] * 20000
    t = time.perf_counter()
    for a, b in rp:
        evr_compare(a, b)
    print(f"evr_compare (rpmvercmp of version and release): {len(rp) / (time.perf_counter() - t):,.0f} comparisons/s")
    t = time.perf_counter()
    for a, b in rp:
        rpmvercmp(a, b)
    print(f"rpmvercmp alone: {len(rp) / (time.perf_counter() - t):,.0f} comparisons/s")


if __name__ == "__main__":
    main()
