"""A synthetic bureau for tests and benchmarks: generated (seeded, reproducible) results of the real
check catalogue for many schools and several runs — never hand-written outcomes.

Each school has a "maturity" drawn once; a check passes on a host with that probability, and later
runs improve a little, so rankings, the distribution and the trend have real shape. Some hosts are
unreachable. Results carry each check's real clauses for the host's level, so scoring works as on a
real run.
"""
from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

from checks.registry import load_registry

REASONS = ("timeout", "refused", "no_route", "auth_failed")


def catalogue() -> list[dict]:
    """id, severity and clauses per level of every built-in mlps check."""
    out = []
    for c in load_registry().by_id.values():
        if c.pack != "mlps":
            continue
        out.append({"id": c.id, "severity": c.severity,
                    "refs": {lvl: [str(r) for r in c.refs_for_level(lvl)] if lvl in c.levels else [] for lvl in (2, 3)},
                    "title": c.title.to_json()})
    return sorted(out, key=lambda c: c["id"])


def bureau_runs(schools: int = 50, districts: int = 5, hosts: int = 4, runs: int = 3, seed: int = 7,
                start: datetime | None = None, checks: list[dict] | None = None):
    """Yield (run, hosts) pairs, oldest first: one run per school per round, like imported bundles."""
    rng = random.Random(seed)
    checks = checks or catalogue()
    start = start or datetime(2026, 9, 1, tzinfo=timezone.utc)
    maturity = {s: rng.uniform(0.35, 0.98) for s in range(schools)}
    for round_ in range(runs):
        for s in range(schools):
            sid, did = f"school-{s:05d}", f"district-{s % districts:03d}"
            when = start + timedelta(days=7 * round_, minutes=s)
            stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ")
            run = {"id": f"{when:%Y%m%dT%H%M%SZ}-{s:06x}", "started_at": stamp, "bureau": "synthetic-city",
                   "bureau_name": "示范市教育局"}
            p = min(0.99, maturity[s] + 0.03 * round_)
            hs = []
            for h in range(hosts):
                level = 3 if h == 0 else 2
                host = {"id": f"{sid}-h{h}", "address": f"10.{s // 250}.{s % 250}.{h + 10}", "school": sid,
                        "district": did, "school_name": f"第{s + 1}学校", "district_name": f"第{s % districts + 1}区",
                        "level": level, "status": "audited", "reason": None, "results": [],
                        "systems": [{"id": "campus", "name": "校园网", "level": level}]}
                if rng.random() < 0.04:
                    host.update(status="unreachable", reason=rng.choice(REASONS))
                else:
                    for c in checks:
                        refs = c["refs"][level]
                        if not refs:
                            continue
                        x = rng.random()
                        status = "pass" if x < p else "fail" if x < p + (1 - p) * 0.85 else "error"
                        host["results"].append({"check_id": c["id"], "status": status, "severity": c["severity"],
                                                "references": refs, "underlying": None, "title": c["title"]})
                hs.append(host)
            yield run, hs


def save_to_store(store, run: dict, hosts: list[dict]) -> None:
    """Write one generated run into a results store the way the runner does."""
    from audits.store.database import HostRecord

    store.create_run(run["id"], {"inventory": "synthetic", "bureau": run["bureau"],
                                 "bureau_name": run["bureau_name"], "packs": ["mlps"]}, "synthetic", run["started_at"])
    for h in hosts:
        rec = HostRecord(h["id"], h["address"], h["school"], h["district"], h["level"], "debian", h["status"],
                         h["reason"], "", run["started_at"], run["started_at"], 1.0, None, h["school_name"],
                         h["district_name"], h["systems"])
        rows = [{"check_id": r["check_id"], "status": r["status"], "severity": r["severity"], "refs": r["references"],
                 "title": r["title"], "message": {"zh": "", "en": ""}, "remediation": {"zh": "", "en": ""},
                 "evidence": "", "evaluated_at": run["started_at"], "underlying": r["underlying"]}
                for r in h["results"]]
        store.save_host(run["id"], rec, rows)
    store.finish_run(run["id"], "incomplete" if any(h["status"] != "audited" for h in hosts) else "completed")
