"""Bureau roll-ups as SQL aggregations over a results store (SQLite or PostgreSQL, SQLAlchemy Core).

The same method and the same numbers as ``reports.scoring.rollup`` (docs/scoring.md §7), computed by
the database from ``result_items`` (one row per result and cited clause) and ``run_hosts``, so a
province's millions of results are never loaded into Python. Python only shapes the per-school rows
the database returns. Differences in shape: a school's ``high_risk`` is the number of high-risk
candidates, and per-system scores are left out (the school report keeps both in detail).
"""
from __future__ import annotations

from collections import defaultdict

from sqlalchemy import Column, Float, Integer, MetaData, String, Table, and_, case, func, insert, literal, select, text, tuple_

from audits.store import verdict_sql
from audits.store.database import Store, hosts_t, items_t
from audits.store.verdict_sql import rule_tables
from audits.store.verdict_sql import rounded as _rounded

from .scoring import verdict

VERDICTS = ("conform", "partial", "nonconform", "not_applicable", "not_assessed", "awaiting")


def _materialised(conn, name: str, query, *columns: Column) -> Table:
    """A temporary table holding a query's rows, so later steps read them once instead of recomputing."""
    t = Table(name, MetaData(), *columns, prefixes=["TEMPORARY"])
    t.drop(conn, checkfirst=True)
    t.create(conn)
    conn.execute(insert(t).from_select([c.name for c in columns], query))
    return t


def rollup_sql(store: Store, run_ids: list[str] | None = None) -> dict:
    """Scores per school, district, city and overall for the hosts of the given runs; without run ids,
    for each school's latest run (by start time, ``Store.latest_runs_query``: a run imported late does
    not replace a newer one; issue #18)."""
    with store.engine.begin() as conn:
        if conn.dialect.name == "postgresql":   # the per-host step hashes millions of groups in memory
            conn.execute(text("SET LOCAL work_mem = '256MB'"))
        temps = []
        h = hosts_t.alias("h")
        scope = (h.c.run_id.in_(list(run_ids)) if run_ids is not None else
                 tuple_(h.c.school, h.c.run_id).in_(store.latest_runs_query()))
        try:
            return _rollup(conn, h, scope, temps)
        finally:
            for t in temps:
                t.drop(conn, checkfirst=True)


def _rollup(conn, h, scope, temps: list) -> dict:
    tables = rule_tables()
    ri = items_t.alias("ri")
    audited = and_(scope, h.c.status == "audited")
    # 1. per host and item of its level (docs/scoring.md §2): the shared SQL of the verdict rules
    judged = verdict_sql.host_items(h, ri, audited, tables).subquery("judged")
    per_host = select(judged.c.school, judged.c.level, judged.c.clause, judged.c.point, judged.c.weight,
                      judged.c.score, judged.c.verdict, judged.c.attested)
    hi = _materialised(conn, "rollup_host_items", per_host, Column("school", String), Column("level", Integer),
                       Column("clause", String), Column("point", String), Column("weight", Float),
                       Column("score", Float), Column("verdict", String), Column("attested", Float))
    temps.append(hi)
    # 2. per school and (level, item): the mean score over the hosts that assessed it (§3)
    per_item = (select(hi.c.school, hi.c.point, hi.c.weight, func.avg(hi.c.score), func.avg(hi.c.attested))
                .where(hi.c.score.is_not(None))
                .group_by(hi.c.school, hi.c.level, hi.c.clause, hi.c.point, hi.c.weight))
    si = _materialised(conn, "rollup_school_items", per_item, Column("school", String), Column("point", String),
                       Column("weight", Float), Column("x", Float), Column("a", Float))
    temps.append(si)
    wx, w = func.sum(si.c.weight * si.c.x), func.sum(si.c.weight)
    rates = select(si.c.school, _rounded(literal(100.0) * wx / w, 1).label("rate"),
                   _rounded(literal(100.0) * func.sum(si.c.weight * si.c.a) / w, 1).label("attested"),
                   ).group_by(si.c.school).subquery()
    points_q = select(si.c.school, si.c.point, _rounded(literal(10.0) * wx / w, 2)).group_by(si.c.school, si.c.point)
    verdicts_q = select(hi.c.school, hi.c.verdict, func.count()).group_by(hi.c.school, hi.c.verdict)
    # 3. high-risk candidates: failing (or waived but failing) high/critical results citing a trigger item (§4)
    candidates = verdict_sql.candidates(h, ri, audited, tables).subquery("candidates")
    risks = select(candidates.c.school, func.count().label("n")).group_by(candidates.c.school).subquery()
    # 4. every school of the runs (unreachable-only schools too) with its rate and candidates
    members = (select(h.c.school, func.max(h.c.district).label("district"),
                      func.coalesce(func.max(h.c.city), "").label("city"))
               .where(scope).group_by(h.c.school)).subquery()
    per_school = (select(members.c.school, members.c.district, members.c.city, rates.c.rate, rates.c.attested,
                         func.coalesce(risks.c.n, 0))
                  .select_from(members.outerjoin(rates, rates.c.school == members.c.school)
                               .outerjoin(risks, risks.c.school == members.c.school)))
    sc = _materialised(conn, "rollup_schools", per_school, Column("school", String), Column("district", String),
                       Column("city", String), Column("rate", Float), Column("attested", Float),
                       Column("high_risk", Integer))
    temps.append(sc)

    def group(key=None):
        cols = [_rounded(func.avg(sc.c.rate), 1).label("rate"), func.count().label("schools"),
                func.sum(case((sc.c.high_risk > 0, 1), else_=0)).label("high_risk_schools")]
        if key is None:
            return select(*cols)
        return select(key, *cols).group_by(key).order_by(key)

    school_rows = conn.execute(select(sc).order_by(sc.c.school)).mappings().all()
    points = _nested(conn.execute(points_q))
    item_counts = _nested(conn.execute(verdicts_q))
    districts = conn.execute(group(sc.c.district)).mappings().all()
    cities = conn.execute(group(sc.c.city)).mappings().all()
    overall = conn.execute(group()).mappings().first()

    schools = {}
    for r in school_rows:
        verdicts = {v: k for v, k in item_counts.get(r["school"], {}).items() if v in VERDICTS}
        schools[r["school"]] = {
            "rate": r["rate"], "verdict": verdict(r["rate"], r["high_risk"] > 0), "high_risk": r["high_risk"],
            "attested": r["attested"],
            "items": dict(sorted(verdicts.items())),
            "points": dict(sorted(points.get(r["school"], {}).items(), key=lambda kv: int(kv[0]))),
            "district": r["district"]}

    def shaped(rows, key):
        return {r[key]: {"rate": r["rate"], "schools": r["schools"], "high_risk_schools": r["high_risk_schools"]}
                for r in rows}

    return {"method": "docs/scoring.md", "schools": schools, "districts": shaped(districts, "district"),
            "cities": shaped(cities, "city"),
            "overall": {"rate": overall["rate"] if schools else None, "schools": overall["schools"]}}


def _nested(rows) -> dict[str, dict]:
    out: dict[str, dict] = defaultdict(dict)
    for school, key, value in rows:
        out[school][key] = value
    return out
