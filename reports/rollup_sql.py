"""Bureau roll-ups as SQL aggregations over a results store (SQLite or PostgreSQL, SQLAlchemy Core).

The same method and the same numbers as ``reports.scoring.rollup`` (docs/scoring.md §7), computed by
the database from ``result_items`` (one row per result and cited clause) and ``run_hosts``, so a
province's millions of results are never loaded into Python. Python only shapes the per-school rows
the database returns. One difference in shape: a school's ``high_risk`` is the number of high-risk
candidates (the school report keeps the list with its details).
"""
from __future__ import annotations

from collections import defaultdict

from sqlalchemy import Float, Integer, String, and_, case, column, func, literal, or_, select, values

from audits.store import Store, hosts_t, items_t

from .scoring import HIGH_RISK_SEVERITIES, ROUND_NUDGE, item_table, point_of, verdict

VERDICTS = ("conform", "partial", "nonconform", "not_applicable")  # not_assessed = every other item


def _tables():
    """The item weights and the high-risk trigger clauses of reports/mlps_items.yaml as SQL VALUES."""
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


def rollup_sql(store: Store, run_ids: list[str]) -> dict:
    """Scores per school, district, city and overall for the hosts of the given runs."""
    weights, triggers = _tables()
    h, ri = hosts_t.alias("h"), items_t.alias("ri")
    audited = and_(h.c.run_id.in_(run_ids), h.c.status == "audited")
    counts = {s: func.sum(case((ri.c.status == s, 1), else_=0)) for s in ("pass", "fail", "not_applicable")}

    # 1. per host and item of its level: how many citing results passed, failed, were not applicable
    per_host = (select(h.c.school, h.c.level, ri.c.clause, weights.c.weight, weights.c.point,
                       counts["pass"].label("p"), counts["fail"].label("f"), counts["not_applicable"].label("na"),
                       func.count().label("n"))
                .select_from(ri.join(h, and_(h.c.run_id == ri.c.run_id, h.c.host_id == ri.c.host_id))
                             .join(weights, and_(weights.c.level == h.c.level, weights.c.clause == ri.c.clause)))
                .where(audited)
                .group_by(h.c.run_id, h.c.host_id, h.c.school, h.c.level, ri.c.clause, weights.c.weight,
                          weights.c.point)).cte("per_host")
    judged = per_host.c.p + per_host.c.f
    score = case((judged == 0, None), (per_host.c.f == 0, 1.0), (per_host.c.p == 0, 0.0), else_=0.5)
    item_verdict = case((and_(judged == 0, per_host.c.na == per_host.c.n), "not_applicable"),
                        (judged == 0, "not_assessed"), (per_host.c.f == 0, "conform"),
                        (per_host.c.p == 0, "nonconform"), else_="partial")
    # 2. per school and (level, item): the mean score over the hosts that assessed it
    per_item = (select(per_host.c.school, per_host.c.point, per_host.c.weight, func.avg(score).label("x"))
                .where(judged > 0)
                .group_by(per_host.c.school, per_host.c.level, per_host.c.clause, per_host.c.weight,
                          per_host.c.point)).cte("per_item")
    wx = func.sum(per_item.c.weight * per_item.c.x)
    w = func.sum(per_item.c.weight)
    rates = select(per_item.c.school, _rounded(literal(100.0) * wx / w, 1).label("rate")) \
        .group_by(per_item.c.school).cte("rates")
    points_q = select(per_item.c.school, per_item.c.point, _rounded(literal(10.0) * wx / w, 2).label("score")) \
        .group_by(per_item.c.school, per_item.c.point)
    host_verdicts = select(per_host.c.school, item_verdict.label("verdict")).subquery("host_verdicts")
    verdicts_q = select(host_verdicts.c.school, host_verdicts.c.verdict, func.count().label("n")) \
        .group_by(host_verdicts.c.school, host_verdicts.c.verdict)
    items_total_q = (select(h.c.school, func.count().label("n"))
                     .select_from(h.join(weights, weights.c.level == h.c.level)).where(audited).group_by(h.c.school))
    # 3. high-risk candidates: failing (or waived but failing) high/critical results citing a trigger item
    candidates = (select(h.c.school, ri.c.run_id, ri.c.host_id, ri.c.check_id)
                  .select_from(ri.join(h, and_(h.c.run_id == ri.c.run_id, h.c.host_id == ri.c.host_id))
                               .join(triggers, triggers.c.clause == ri.c.clause))
                  .where(audited, ri.c.severity.in_(HIGH_RISK_SEVERITIES),
                         or_(ri.c.status == "fail", and_(ri.c.status == "waived", ri.c.underlying == "fail")))
                  .group_by(h.c.school, ri.c.run_id, ri.c.host_id, ri.c.check_id)).subquery("candidates")
    risks = select(candidates.c.school, func.count().label("n")).group_by(candidates.c.school).cte("risks")
    # 4. every school of the runs (unreachable-only schools too), with its rate and candidates
    members = (select(h.c.school, func.max(h.c.district).label("district"),
                      func.coalesce(func.max(h.c.city), "").label("city"))
               .where(h.c.run_id.in_(run_ids)).group_by(h.c.school)).cte("members")
    schools_q = (select(members.c.school, members.c.district, members.c.city, rates.c.rate,
                        func.coalesce(risks.c.n, 0).label("high_risk"))
                 .select_from(members.outerjoin(rates, rates.c.school == members.c.school)
                              .outerjoin(risks, risks.c.school == members.c.school))).cte("school_scores")

    def group(key=None):
        s = schools_q.c
        cols = [_rounded(func.avg(s.rate), 1).label("rate"), func.count().label("schools"),
                func.sum(case((s.high_risk > 0, 1), else_=0)).label("high_risk_schools")]
        q = select(*([key] if key is not None else []), *cols)
        return q.group_by(key) if key is not None else q

    with store.engine.connect() as conn:
        school_rows = conn.execute(select(schools_q).order_by(schools_q.c.school)).mappings().all()
        points = _nested(conn.execute(points_q))
        item_counts = _nested(conn.execute(verdicts_q))
        items_total = dict(conn.execute(items_total_q).all())
        districts = conn.execute(group(schools_q.c.district).order_by(schools_q.c.district)).mappings().all()
        cities = conn.execute(group(schools_q.c.city).order_by(schools_q.c.city)).mappings().all()
        overall = conn.execute(group()).mappings().first()

    schools = {}
    for r in school_rows:
        counts_ = {v: n for v, n in item_counts.get(r["school"], {}).items() if v in VERDICTS}
        rest = items_total.get(r["school"], 0) - sum(counts_.values())
        if rest:
            counts_["not_assessed"] = rest
        schools[r["school"]] = {
            "rate": r["rate"], "verdict": verdict(r["rate"], r["high_risk"] > 0), "high_risk": r["high_risk"],
            "items": dict(sorted(counts_.items())),
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
