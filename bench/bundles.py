#!/usr/bin/env python3
"""Benchmark (not a test): a bureau importing the signed bundles of S schools, each of H hosts with C
check results, end to end through ``import_bundle`` (read, parse, signature, schema, identity and
column checks, one transaction per bundle), into SQLite and/or PostgreSQL; compared with
``json.loads`` of the same files (the floor: the issue's target is import <= 3x json.loads).

The hosts are copies (new ids) of one real local audit of this machine, so every result carries real
titles, messages, remediation and evidence; each school gets its own Ed25519 key, registered at the
bureau before timing. Bundles are made one at a time and deleted after their import (a province
does not fit /tmp at once); making them is not timed. Peak memory is the bench process's peak RSS
(it includes making the bundles); the database server's memory is not in it.

Usage:  .venv/bin/python bench/bundles.py --schools 50 [--hosts 20] [--checks 80] [--stores sqlite,postgresql]
Prints the figures per store and ends with ONE JSON line of them.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import auditctl  # noqa: E402
from audits.store.database import Store  # noqa: E402
from audits.trust import importer  # noqa: E402
from audits.trust.signing import key_id, public_pem  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402
from reports.bundle import make_bundle  # noqa: E402
from reports.document import run_document  # noqa: E402


def template(tmp: Path, hosts: int, checks: int) -> dict:
    """A run document of one school with ``hosts`` copies of this machine's real audit, ``checks``
    results each (the audit's results repeated under new check ids if it has fewer)."""
    inv = tmp / "inv.yaml"
    inv.write_text("school: {id: s1, district: d1, systems: [{id: x, level: 3}], hosts: "
                   "[{id: me, address: 127.0.0.1, connection: local, systems: [x]}]}\n")
    db = str(tmp / "school.db")
    auditctl.main(["run", "-q", "-i", str(inv), "--db", db, "--out", str(tmp / "out")])
    st = Store(db)
    real = st.runs(1)[0]
    (rec,) = st.hosts(real["id"])
    audited = [{k: v for k, v in r.items() if k not in ("id", "run_id", "host_id")}
               for r in st.results(real["id"])[rec.host_id]]
    rows = [dict(audited[i % len(audited)], check_id=audited[i % len(audited)]["check_id"]
                 + ("" if i < len(audited) else f".x{i}")) for i in range(checks)]
    big = "20991231T000000Z-bench0"
    st.create_run(big, real["scope"], "0.1.0")
    for i in range(hosts):
        st.save_host(big, replace(rec, host_id=f"h{i:04d}", address=f"10.0.{i // 250}.{i % 250}"), rows)
    st.finish_run(big, "completed")
    return run_document(st, big, school="s1")


def school_bundle(body: dict, n: int, key) -> tuple[bytes, str, dict]:
    """School n's signed bundle (bytes as `auditctl bundle` writes them), its id and the bureau's identity
    of it. ``body`` is edited in place (the next school's edit replaces this one's)."""
    school, district = f"s{n:05d}", f"d{n // 50:03d}"
    ident = {"district": district, "city": "c1", "school_name": f"School {n}", "district_name": f"District {n // 50}"}
    body["run"]["id"] = f"20991231T000000Z-b{n:05d}"
    for h in body["hosts"]:
        h.update(school=school, **ident)
    bundle = make_bundle(body, school, key)
    return (json.dumps(bundle, ensure_ascii=False) + "\n").encode("utf-8"), school, ident


def server_cpu(store: Store) -> float:
    """CPU seconds used so far by the PostgreSQL server processes serving this store's database (read
    from /proc: the server runs on this machine); 0 for SQLite, whose work is this process's."""
    if not store.url.startswith("postgresql"):
        return 0.0
    from sqlalchemy import text

    with store.engine.connect() as conn:
        pids = [p for (p,) in conn.execute(text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()"))]
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def measure(url: str, body: dict, schools: int, tmp: Path) -> dict:
    store = Store(url)
    keys = [Ed25519PrivateKey.generate() for _ in range(schools)]
    for n, k in enumerate(keys):
        store.trust_key(f"s{n:05d}", key_id(k.public_key()), public_pem(k.public_key()))
    identity: dict = {}
    loads = loads_cpu = wall = cpu = server = 0.0
    size = results = 0
    path = tmp / "bundle.json"
    for n in range(schools):
        data, school, ident = school_bundle(body, n, keys[n])
        identity[school] = ident
        path.write_bytes(data)
        t, c = time.perf_counter(), time.process_time()
        json.loads(data)
        loads += time.perf_counter() - t
        loads_cpu += time.process_time() - c
        s0 = server_cpu(store)
        t, c = time.perf_counter(), time.process_time()
        r = importer.import_bundle(store, path, identity)
        wall += time.perf_counter() - t
        cpu += time.process_time() - c
        server += server_cpu(store) - s0
        assert not r.skipped, r
        size += len(data)
        results += r.results
    path.unlink()
    store.engine.dispose()
    return {"schools": schools, "results": results, "bytes": size, "import_wall_s": round(wall, 3),
            "import_cpu_s": round(cpu, 3), "server_cpu_s": round(server, 3), "json_loads_s": round(loads, 3),
            "json_loads_cpu_s": round(loads_cpu, 3), "results_per_s": round(results / wall),
            "results_per_cpu_s": round(results / (cpu + server)),
            "ratio_to_json_loads": round(wall / loads, 2), "cpu_ratio_to_json_loads": round((cpu + server) / loads_cpu, 2)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--schools", type=int, default=50)
    ap.add_argument("--hosts", type=int, default=20)
    ap.add_argument("--checks", type=int, default=80)
    ap.add_argument("--stores", default="sqlite,postgresql")
    args = ap.parse_args()
    figures = {"bench": "bundles", "hosts_per_school": args.hosts, "checks_per_host": args.checks,
               "floor": "json.loads of the same bundle files (target: import <= 3x)",
               "units": {"import_wall_s": "s", "import_cpu_s": "s (this process)", "json_loads_s": "s",
                         "server_cpu_s": "s (PostgreSQL backends, from /proc)", "json_loads_cpu_s": "s",
                         "results_per_s": "results/s (wall)", "results_per_cpu_s": "results per CPU second "
                         "(this process + database server)", "ratio_to_json_loads": "wall / wall",
                         "cpu_ratio_to_json_loads": "CPU (this process + server) / CPU", "peak_rss_mib": "MiB",
                         "bytes": "bytes"},
               "stores": {}}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        body = template(tmp, args.hosts, args.checks)
        for name in args.stores.split(","):
            if name == "sqlite":
                f = measure(f"sqlite:///{tmp / 'bureau.db'}", body, args.schools, tmp)
            else:
                from tests.conftest import fresh_pg_database

                pg = fresh_pg_database("auditctl_bench_")
                try:
                    url = pg.__enter__()
                except BaseException as exc:  # a skip or no server
                    print(f"(PostgreSQL not measured: {exc})")
                    continue
                try:
                    f = measure(url, body, args.schools, tmp)
                finally:
                    pg.__exit__(None, None, None)
            figures["stores"][name] = f
            print(f"{name}: {f['schools']} schools, {f['results']:,} results, {f['bytes'] / 2**20:.1f} MiB:\n"
                  f"  import {f['import_wall_s']:.2f} s wall, {f['import_cpu_s']:.2f} s CPU here + "
                  f"{f['server_cpu_s']:.2f} s CPU in the database server; {f['results_per_s']:,} results/s wall, "
                  f"{f['results_per_cpu_s']:,} per CPU second\n"
                  f"  json.loads {f['json_loads_s']:.2f} s wall ({f['json_loads_cpu_s']:.2f} s CPU); import / json.loads: "
                  f"{f['ratio_to_json_loads']:.2f}x wall, {f['cpu_ratio_to_json_loads']:.2f}x CPU")
    figures["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    figures["load_average"] = [round(x, 2) for x in os.getloadavg()]
    figures["cpus"] = os.cpu_count()
    print(f"peak memory (RSS of this process): {figures['peak_rss_mib']} MiB; load average {figures['load_average']}")
    print(json.dumps(figures, sort_keys=True))


if __name__ == "__main__":
    main()
