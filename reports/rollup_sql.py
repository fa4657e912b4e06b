"""Bureau roll-ups as SQL aggregations over a results store (SQLite or PostgreSQL, SQLAlchemy Core).

The same method and the same numbers as ``reports.scoring.rollup`` (docs/scoring.md §7), computed by
the database from ``result_items`` (one row per result and cited clause) and ``run_hosts``, so a
province's millions of results are never loaded into Python. Python only shapes the per-school rows
the database returns. Differences in shape: a school's ``high_risk`` is the number of high-risk
candidates, and per-system scores are left out (the school report keeps both in detail).
"""
from __future__ import annotations

from collections import defaultdict

from sqlalchemy import (Column, Float, Integer, MetaData, String, Table, and_, case, column, func, insert, literal, or_,
                        select, text, tuple_, values)

from audits.store.database import Store, hosts_t, items_t

from .scoring import HIGH_RISK_SEVERITIES, ROUND_NUDGE, item_table, point_of, verdict

VERDICTS = ("conform", "partial", "nonconform", "not_applicable")  # not_assessed = every other item


def _tables():
    """The item weights and the high-risk trigger clauses of the GB/T 22239-2019 controls file as SQL VALUES."""
    table = item_table()
    weights = values(column("level", Integer), column("clause", String), column("point", String),
                     column("weight", Float), name="weights").data(
        [(lvl, clause, point_of(clause), w) for lvl, items in sorted(table.weights.items())
         for clause, w in items.items()]).cte("weights")
    triggers = values(column("clause", String), name="triggers").data(
        [(c,) for c in sorted(table.high_risk)]).cte("triggers")
    return weights, triggers


def _rounded(expr, digits: int):
    """``scoring.round_half_up`` in SQL (floor(v·10^d + 0.5 + nudge) / 10^d), same on SQLite and PostgreSQL.
    NULL stays NULL (SQLAlchemy's SQLite floor() is a Python function that refuses None)."""
    scale = 10 ** digits
    return case((expr.is_(None), None), else_=func.floor(expr * scale + (0.5 + ROUND_NUDGE)) / float(scale))


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
    not replace a newer one)."""
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
    weights, triggers = _tables()
    ri = items_t.alias("ri")
    audited = and_(scope, h.c.status == "audited")
    counts = {s: func.sum(case((ri.c.status == s, 1), else_=0)) for s in ("pass", "fail", "not_applicable")}
    p, f, na, n = counts["pass"], counts["fail"], counts["not_applicable"], func.count()

    # 1. per host and item of its level, from the results citing it: score and verdict (docs/scoring.md §2)
    per_host = (select(h.c.school, h.c.level, ri.c.clause, weights.c.point, weights.c.weight,
                       case((p + f == 0, None), (f == 0, 1.0), (p == 0, 0.0), else_=0.5),
                       case((and_(p + f == 0, na == n), "not_applicable"), (p + f == 0, "not_assessed"),
                            (f == 0, "conform"), (p == 0, "nonconform"), else_="partial"))
                .select_from(ri.join(h, and_(h.c.run_id == ri.c.run_id, h.c.host_id == ri.c.host_id))
                             .join(weights, and_(weights.c.level == h.c.level, weights.c.clause == ri.c.clause)))
                .where(audited)
                .group_by(h.c.run_id, h.c.host_id, h.c.school, h.c.level, ri.c.clause, weights.c.point,
                          weights.c.weight))
    hi = _materialised(conn, "rollup_host_items", per_host, Column("school", String), Column("level", Integer),
                       Column("clause", String), Column("point", String), Column("weight", Float),
                       Column("score", Float), Column("verdict", String))
    temps.append(hi)
    # 2. per school and (level, item): the mean score over the hosts that assessed it (§3)
    per_item = (select(hi.c.school, hi.c.point, hi.c.weight, func.avg(hi.c.score))
                .where(hi.c.score.is_not(None))
                .group_by(hi.c.school, hi.c.level, hi.c.clause, hi.c.point, hi.c.weight))
    si = _materialised(conn, "rollup_school_items", per_item, Column("school", String), Column("point", String),
                       Column("weight", Float), Column("x", Float))
    temps.append(si)
    wx, w = func.sum(si.c.weight * si.c.x), func.sum(si.c.weight)
    rates = select(si.c.school, _rounded(literal(100.0) * wx / w, 1).label("rate")).group_by(si.c.school).subquery()
    points_q = select(si.c.school, si.c.point, _rounded(literal(10.0) * wx / w, 2)).group_by(si.c.school, si.c.point)
    verdicts_q = select(hi.c.school, hi.c.verdict, func.count()).group_by(hi.c.school, hi.c.verdict)
    items_total_q = (select(h.c.school, func.count())
                     .select_from(h.join(weights, weights.c.level == h.c.level)).where(audited).group_by(h.c.school))
    # 3. high-risk candidates: failing (or waived but failing) high/critical results citing a trigger item (§4)
    candidates = (select(h.c.school, ri.c.run_id, ri.c.host_id, ri.c.check_id)
                  .select_from(ri.join(h, and_(h.c.run_id == ri.c.run_id, h.c.host_id == ri.c.host_id))
                               .join(triggers, triggers.c.clause == ri.c.clause))
                  .where(audited, ri.c.severity.in_(HIGH_RISK_SEVERITIES),
                         or_(ri.c.status == "fail", and_(ri.c.status == "waived", ri.c.underlying == "fail")))
                  .group_by(h.c.school, ri.c.run_id, ri.c.host_id, ri.c.check_id)).subquery("candidates")
    risks = select(candidates.c.school, func.count().label("n")).group_by(candidates.c.school).subquery()
    # 4. every school of the runs (unreachable-only schools too) with its rate and candidates
    members = (select(h.c.school, func.max(h.c.district).label("district"),
                      func.coalesce(func.max(h.c.city), "").label("city"))
               .where(scope).group_by(h.c.school)).subquery()
    per_school = (select(members.c.school, members.c.district, members.c.city, rates.c.rate,
                         func.coalesce(risks.c.n, 0))
                  .select_from(members.outerjoin(rates, rates.c.school == members.c.school)
                               .outerjoin(risks, risks.c.school == members.c.school)))
    sc = _materialised(conn, "rollup_schools", per_school, Column("school", String), Column("district", String),
                       Column("city", String), Column("rate", Float), Column("high_risk", Integer))
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
    items_total = dict(conn.execute(items_total_q).all())
    districts = conn.execute(group(sc.c.district)).mappings().all()
    cities = conn.execute(group(sc.c.city)).mappings().all()
    overall = conn.execute(group()).mappings().first()

    schools = {}
    for r in school_rows:
        verdicts = {v: k for v, k in item_counts.get(r["school"], {}).items() if v in VERDICTS}
        rest = items_total.get(r["school"], 0) - sum(verdicts.values())
        if rest:
            verdicts["not_assessed"] = rest
        schools[r["school"]] = {
            "rate": r["rate"], "verdict": verdict(r["rate"], r["high_risk"] > 0), "high_risk": r["high_risk"],
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
