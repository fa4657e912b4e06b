"""The bureau view: each school's latest scored result and its history, and the roll-ups a bureau
compares (ranking of schools and districts, districts × MLPS control points, the distribution of
scores, the trend over time, schools with unreachable hosts or no recent result).

Built from stored runs in the order of their start time, ties broken by run id (never by the order
they were stored: an old bundle imported late goes into the school's history, not to the top): a
school's latest run is the latest started run that audited any of its hosts. ``from_store`` reads the scores
the store aggregated at ingest (one row per run and school); ``from_store_raw`` computes them from the stored
results with ``reports.scoring`` (the same figures). The view is plain data: ``reports/dashboard.py`` renders it and
``auditctl dashboard --json`` writes it.
"""
from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Iterable

from .scoring import item_table, round_half_up, score_hosts

VIEW_VERSION = "1.0"
BINS = 10  # the distribution of school rates: [0,10) … [90,100]


@dataclass
class _School:
    id: str
    summary: dict
    history: list[tuple[str, float | None]] = field(default_factory=list)  # (run start, rate)


def school_summary(school: str, hosts: list[dict], run: dict) -> dict:
    """One school's figures from one run's hosts of that school."""
    sc = score_hosts(hosts)
    first = hosts[0]
    city = first.get("city") or run.get("bureau") or ""
    reasons = Counter(h.get("reason") or "error" for h in hosts if h["status"] != "audited")
    return {"id": school, "name": next((h["school_name"] for h in hosts if h.get("school_name")), school),
            "district": first.get("district") or "",
            "district_name": next((h["district_name"] for h in hosts if h.get("district_name")), None)
            or first.get("district") or "",
            "city": city,
            "city_name": (run.get("bureau_name") or city) if city == run.get("bureau") else city,
            "rate": sc["rate"], "verdict": sc["verdict"], "high_risk": len(sc["high_risk"]), "points": sc["points"],
            "hosts": len(hosts), "audited": sum(1 for h in hosts if h["status"] == "audited"),
            "unreachable": sum(reasons.values()), "reasons": dict(sorted(reasons.items())),
            "run_id": run["id"], "run_at": run["started_at"]}


class BureauView:
    """Feed runs oldest first with ``add_run``; ``build`` gives the view."""

    def __init__(self):
        self.schools: dict[str, _School] = {}
        self.runs = 0

    def add_run(self, run: dict, hosts: Iterable[dict]) -> None:
        by_school: dict[str, list[dict]] = defaultdict(list)
        for h in hosts:
            by_school[h["school"]].append(h)
        if not by_school:
            return
        self.runs += 1
        for school, hs in by_school.items():
            self.add_summary(school_summary(school, hs, run))

    def add_summary(self, summary: dict) -> None:
        """One school's figures from one run (``school_summary``, or ``summary_of`` a stored aggregate row),
        runs oldest first."""
        st = self.schools.get(summary["id"])
        if st is None:
            st = self.schools[summary["id"]] = _School(summary["id"], summary)
        else:
            summary["change"] = (round_half_up(summary["rate"] - st.summary["rate"], 1)
                                 if summary["rate"] is not None and st.summary["rate"] is not None else None)
            st.summary = summary
        st.history.append((summary["run_at"], summary["rate"]))

    def districts(self) -> dict[str, str]:
        return {s.summary["district"]: s.summary["district_name"] for s in self.schools.values()}

    def build(self, *, declared: dict[str, dict] | None = None, now: datetime | None = None,
              stale_days: int = 90, name: str = "", district: str | None = None) -> dict:
        """The view of the whole bureau, or of one ``district``. ``declared``: the schools an inventory
        says should report ({id: {name, district, district_name}}); those without any result are listed
        as missing. A school whose latest result is older than ``stale_days`` is listed as stale."""
        now = now or datetime.now(timezone.utc)
        cutoff = (now - timedelta(days=stale_days)).strftime("%Y-%m-%dT%H:%M:%SZ")
        schools = [s for s in self.schools.values() if district is None or s.summary["district"] == district]
        if district is not None:
            declared = {k: d for k, d in (declared or {}).items() if d.get("district") == district}
        rows = sorted((dict(s.summary) for s in schools),
                      key=lambda r: (r["rate"] is None, -(r["rate"] or 0), r["id"]))
        for i, r in enumerate(rows, 1):
            r["rank"] = i
            r.setdefault("change", None)
        missing = [{"id": sid, "name": d.get("name") or sid, "district": d.get("district", ""),
                    "district_name": d.get("district_name") or d.get("district", ""), "reason": "no_results",
                    "run_at": None}
                   for sid, d in sorted((declared or {}).items()) if sid not in self.schools]
        missing += [{"id": r["id"], "name": r["name"], "district": r["district"], "district_name": r["district_name"],
                     "reason": "stale", "run_at": r["run_at"]} for r in rows if r["run_at"] < cutoff]
        unreachable = [{"id": r["id"], "name": r["name"], "district": r["district"],
                        "district_name": r["district_name"], "unreachable": r["unreachable"], "hosts": r["hosts"],
                        "reasons": r["reasons"], "run_at": r["run_at"]}
                       for r in sorted(rows, key=lambda r: (-r["unreachable"], r["id"])) if r["unreachable"]]
        declared_in = Counter(d.get("district", "") for sid, d in (declared or {}).items() if sid not in self.schools)
        return {"view_version": VIEW_VERSION, "name": name, "district": district,
                "generated_at": now.strftime("%Y-%m-%dT%H:%M:%SZ"), "stale_days": stale_days, "runs": self.runs,
                "points": item_table().points,
                "overall": _group_figures(rows),
                "districts": _groups(rows, "district", "district_name", declared_in),
                "cities": _groups(rows, "city", "city_name", Counter()),
                "distribution": distribution(rows),
                "trend": trend([(t, s.id, rate) for s in schools for t, rate in s.history]),
                "schools": rows, "missing": missing, "unreachable": unreachable}


def _mean(values) -> float | None:
    values = [v for v in values if v is not None]
    return round_half_up(sum(values) / len(values), 1) if values else None


def _group_figures(rows: list[dict]) -> dict:
    points: dict[str, list[float]] = defaultdict(list)
    for r in rows:
        for p, v in r["points"].items():
            points[p].append(v)
    return {"rate": _mean(r["rate"] for r in rows), "schools": len(rows),
            "verdicts": dict(Counter(r["verdict"] or "not_scored" for r in rows)),
            "high_risk_schools": sum(1 for r in rows if r["high_risk"]),
            "unreachable_schools": sum(1 for r in rows if r["unreachable"]),
            "points": {p: round_half_up(sum(v) / len(v), 2) for p, v in sorted(points.items(), key=lambda kv: int(kv[0]))}}


def _groups(rows: list[dict], key: str, name_key: str, missing: Counter) -> list[dict]:
    """Districts (or cities) ranked by the mean of their schools' rates (each school counts once)."""
    by: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        by[r[key]].append(r)
    out = [{"id": k, "name": rs[0][name_key] or k, **_group_figures(rs), "missing": missing.get(k, 0)}
           for k, rs in by.items()]
    out.sort(key=lambda g: (g["rate"] is None, -(g["rate"] or 0), g["id"]))
    for i, g in enumerate(out, 1):
        g["rank"] = i
    return out


def distribution(rows: list[dict]) -> list[int]:
    """How many schools' rates fall in each tenth: [0,10), [10,20) … [90,100]."""
    bins = [0] * BINS
    for r in rows:
        if r["rate"] is not None:
            bins[min(int(r["rate"] // (100 / BINS)), BINS - 1)] += 1
    return bins


def trend(events: list[tuple[str, str, float | None]]) -> list[dict]:
    """Per day with results: the mean of every school's latest rate as of the end of that day."""
    latest: dict[str, float] = {}
    total, out = 0.0, []
    for day, group in _by_day(sorted(events)):
        for _, school, rate in group:
            if school in latest:
                total -= latest.pop(school)
            if rate is not None:
                latest[school] = rate
                total += rate
        out.append({"date": day, "rate": round_half_up(total / len(latest), 1) if latest else None, "schools": len(latest)})
    return out


def _by_day(events):
    day, group = None, []
    for e in events:
        if e[0][:10] != day:
            if group:
                yield day, group
            day, group = e[0][:10], []
        group.append(e)
    if group:
        yield day, group


def summary_of(row: dict, run: dict) -> dict:
    """``school_summary`` from a school's stored aggregate row (``agg_schools``) — the same figures."""
    city = row["city"] or run.get("bureau") or ""
    return {"id": row["school"], "name": row["name"] or row["school"], "district": row["district"],
            "district_name": row["district_name"] or row["district"], "city": city,
            "city_name": (run.get("bureau_name") or city) if city == run.get("bureau") else city,
            "rate": row["rate"], "verdict": row["verdict"], "high_risk": row["high_risk"],
            "points": json.loads(row["points"]), "hosts": row["hosts"], "audited": row["audited"],
            "unreachable": row["hosts"] - row["audited"], "reasons": json.loads(row["reasons"]),
            "run_id": run["id"], "run_at": run["started_at"]}


SUMMARY_COLUMNS = ("run_id", "school", "district", "city", "name", "district_name", "hosts", "audited", "reasons",
                   "rate", "verdict", "high_risk", "points")


def from_store(store) -> BureauView:
    """Every finished stored run, oldest started first (a run may hold one school or a whole bureau), read from
    the aggregates kept at ingest: one row per (run, school), no results (``from_store_raw`` scores the raw
    results instead)."""
    from sqlalchemy import select

    from audits.store.aggregates import schools_agg_t as s

    view = BureauView()
    by_run: dict[str, list[dict]] = defaultdict(list)
    with store.engine.connect() as conn:
        for r in conn.execute(select(*(s.c[c] for c in SUMMARY_COLUMNS)).order_by(s.c.run_id, s.c.school)).mappings():
            by_run[r["run_id"]].append(r)
    for run in reversed(store.runs(limit=None, order="started")):
        if run["status"] == "running" or not by_run.get(run["id"]):
            continue
        view.runs += 1
        info = {"id": run["id"], "started_at": run["started_at"], "bureau": run["scope"].get("bureau"),
                "bureau_name": run["scope"].get("bureau_name")}
        for row in by_run[run["id"]]:
            view.add_summary(summary_of(row, info))
    return view


def from_store_raw(store) -> BureauView:
    """``from_store`` computed from scratch: every finished run's results scored by ``reports.scoring``. Only
    the columns scoring needs are read."""
    view = BureauView()
    for run in reversed(store.runs(limit=None, order="started")):
        if run["status"] == "running":
            continue
        results = store.scoring_rows(run["id"])
        hosts = [{"id": h.host_id, "school": h.school, "district": h.district, "level": h.level,
                  "status": h.status, "reason": h.reason, "school_name": h.school_name,
                  "district_name": h.district_name, "city": h.city,
                  "results": results.get(h.host_id, [])}
                 for h in store.hosts(run["id"])]
        view.add_run({"id": run["id"], "started_at": run["started_at"], "bureau": run["scope"].get("bureau"),
                      "bureau_name": run["scope"].get("bureau_name")}, hosts)
    return view


def declared_schools(inventory) -> dict[str, dict]:
    """The schools an inventory declares, for the "missing results" list."""
    return {sid: {"name": s.name, "district": s.district,
                  "district_name": inventory.districts[s.district].name if s.district in inventory.districts
                  else s.district}
            for sid, s in inventory.schools.items()}
