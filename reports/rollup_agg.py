"""Bureau roll-ups read from the aggregates the store keeps at ingest (``audits.store.aggregates``).

The same numbers and shape as ``reports.rollup_sql.rollup_sql`` (and ``reports.scoring.rollup``), read from one
``agg_schools`` row per (run, school): O(schools), whatever the number of results. When a school has hosts in
several of the given runs, its stored ``Tally`` rows are added up and scored again, as if its hosts had been
scored together. ``rollup_sql`` over ``result_items`` stays the from-scratch path (docs/scoring.md §7).
"""
from __future__ import annotations

import json
from collections import defaultdict

from sqlalchemy import func, select

from audits.store.aggregates import schools_agg_t
from audits.store.database import Store, runs_t

from .scoring import Tally, round_half_up, verdict

COLUMNS = ("run_id", "school", "district", "city", "rate", "verdict", "attested", "high_risk", "items", "points")


def latest_school_rows(conn, columns) -> list:
    """The agg_schools rows of each school's latest finished run (by the run's start time, ties broken by the
    larger run id — ``Store.latest_runs_query``'s rule)."""
    s = schools_agg_t
    ranked = (select(*columns, func.row_number().over(
        partition_by=s.c.school, order_by=(runs_t.c.started_at.desc(), runs_t.c.id.desc())).label("n"))
        .select_from(s.join(runs_t, runs_t.c.id == s.c.run_id)).where(runs_t.c.status != "running")).subquery()
    return conn.execute(select(*(ranked.c[c.name] for c in columns)).where(ranked.c.n == 1)
                        .order_by(ranked.c.school)).mappings().all()


def rollup_agg(store: Store, run_ids: list[str] | None = None) -> dict:
    """Scores per school, district, city and overall for the given runs; without run ids, for each school's
    latest finished run."""
    s = schools_agg_t
    cols = [s.c[c] for c in COLUMNS]
    with store.engine.connect() as conn:
        if run_ids is None:
            rows = latest_school_rows(conn, cols)
        else:
            rows = []
            ids = list(run_ids)
            for i in range(0, len(ids), 500):
                rows += conn.execute(select(*cols).where(s.c.run_id.in_(ids[i:i + 500]))).mappings().all()
        by_school: dict[str, list] = defaultdict(list)
        for r in rows:
            by_school[r["school"]].append(r)
        merged = {sc: rs for sc, rs in by_school.items() if len(rs) > 1}
        tallies: dict[str, Tally] = {}
        if merged:   # a school with hosts in several runs: add up its tallies
            wanted = {(r["run_id"], sc) for sc, rs in merged.items() for r in rs}
            names = sorted(merged)
            for i in range(0, len(names), 500):
                for run_id, school, tally in conn.execute(select(s.c.run_id, s.c.school, s.c.tally)
                                                          .where(s.c.school.in_(names[i:i + 500]))):
                    if (run_id, school) in wanted:
                        t = Tally.from_json(json.loads(tally))
                        tallies[school] = tallies[school].merge(t) if school in tallies else t
    schools, city_of = {}, {}
    for school in sorted(by_school):
        rs = by_school[school]
        if school in tallies:
            sc = tallies[school].score()
            rate, high = sc["rate"], tallies[school].risks
            entry = {"rate": rate, "verdict": verdict(rate, high > 0), "high_risk": high, "attested": sc["attested"],
                     "items": sc["items"], "points": sc["points"]}
        else:
            r = rs[0]
            entry = {"rate": r["rate"], "verdict": r["verdict"], "high_risk": r["high_risk"],
                     "attested": r["attested"], "items": json.loads(r["items"]), "points": json.loads(r["points"])}
        entry["district"] = max(r["district"] for r in rs)
        city_of[school] = max((r["city"] or "" for r in rs), default="")
        schools[school] = entry

    def group(names):
        rates = [schools[n]["rate"] for n in names if schools[n]["rate"] is not None]
        return {"rate": round_half_up(sum(rates) / len(rates), 1) if rates else None, "schools": len(names),
                "high_risk_schools": sum(1 for n in names if schools[n]["high_risk"])}

    districts: dict[str, list] = defaultdict(list)
    cities: dict[str, list] = defaultdict(list)
    for name, sc in schools.items():
        districts[sc["district"]].append(name)
        cities[city_of[name]].append(name)
    overall = group(list(schools))
    return {"method": "docs/scoring.md", "schools": schools,
            "districts": {k: group(v) for k, v in sorted(districts.items())},
            "cities": {k: group(v) for k, v in sorted(cities.items())},
            "overall": {"rate": overall["rate"], "schools": overall["schools"]}}
