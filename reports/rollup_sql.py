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
                        tuple_,
                        select, text, values)

from audits.store.database import Store, hosts_t, items_t
from checks.contract import OS_GROUPS

from .scoring import HIGH_RISK_SEVERITIES, ROUND_NUDGE, SEGMENT_PREFIX, item_table, point_of, verdict

VERDICTS = ("conform", "partial", "nonconform", "not_applicable", "not_assessed", "awaiting")


def _tables():
    """From the GB/T 22239-2019 controls file, as SQL VALUES: the item weights (with the items not applicable to an
    operating system, and those not applicable to a network device), the evidence roles (clause, check, key | trigger | informational) and the (clause, check)
    pairs whose high/critical failure raises the clause's high-risk trigger."""
    table = item_table()
    weights = values(column("level", Integer), column("clause", String), column("point", String),
                     column("weight", Float), column("host_na", Integer), column("device_na", Integer),
                     name="weights").data(
        [(lvl, clause, point_of(clause), w, int(clause in table.not_applicable), int(clause in table.device_na))
         for lvl, items in sorted(table.weights.items()) for clause, w in items.items()]).cte("weights")
    role_rows = sorted({(c, cid, role) for c, named in table.roles.items() for cid, role in named.items()} |
                       {(c, cid, "trigger") for c, ids in table.trigger_checks.items() for cid in ids})
    roles = values(column("clause", String), column("check_id", String), column("role", String),
                   name="roles").data(role_rows or [("", "", "")]).cte("roles")
    triggers = values(column("clause", String), column("check_id", String), name="triggers").data(
        sorted((c, cid) for c, ids in table.triggers.items() for cid in ids) or [("", "")]).cte("triggers")
    return weights, roles, triggers


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
    weights, roles, triggers = _tables()
    ri = items_t.alias("ri")
    audited = and_(scope, h.c.status == "audited")

    def count(cond):
        return func.sum(case((cond, 1), else_=0))

    high = ri.c.severity.in_(HIGH_RISK_SEVERITIES)
    # 1. per host and item of its level (docs/scoring.md §2): the scored (non-informational) results citing it …
    scored = (select(ri.c.run_id, ri.c.host_id, ri.c.clause,
                     count(ri.c.status == "pass").label("p"), count(ri.c.status == "fail").label("f"),
                     count(ri.c.status == "not_applicable").label("na"), count(ri.c.status == "waived").label("wv"),
                     func.count().label("n"),
                     count(and_(ri.c.status == "fail", or_(roles.c.role == "key", and_(roles.c.role == "trigger", high))))
                     .label("kf"),
                     count(and_(ri.c.status.in_(("pass", "fail")), ri.c.underlying == "manual")).label("att"),
                     count(and_(roles.c.role == "key", ri.c.status.in_(("manual", "error")))).label("ko"))
              .select_from(ri.join(h, and_(h.c.run_id == ri.c.run_id, h.c.host_id == ri.c.host_id))
                           .outerjoin(roles, and_(roles.c.clause == ri.c.clause, roles.c.check_id == ri.c.check_id)))
              .where(audited, or_(roles.c.role.is_(None), roles.c.role != "informational"))
              .group_by(ri.c.run_id, ri.c.host_id, ri.c.clause)).subquery("scored")
    # … over every item of the host's level, so an item nothing answered is 待取证 (score 0)
    p, f, na, wv, n, kf, att, ko = (func.coalesce(getattr(scored.c, k), 0)
                                    for k in ("p", "f", "na", "wv", "n", "kf", "att", "ko"))
    # not applicable to any host, or to a network device (its os family is a device platform; docs/devices.md)
    host_na = or_(weights.c.host_na == 1, and_(weights.c.device_na == 1, h.c.os_family.in_(sorted(OS_GROUPS["device"]))))
    score = case((host_na, None), (and_(p + f == 0, n > 0, na == n), None), (and_(p + f == 0, wv > 0), None),
                 (p + f == 0, 0.0), (kf > 0, 0.0), (p == 0, 0.0), (and_(f == 0, ko == 0), 1.0), else_=0.5)
    verdict_ = case((host_na, "not_applicable"), (and_(p + f == 0, n > 0, na == n), "not_applicable"),
                    (and_(p + f == 0, wv > 0), "not_assessed"), (p + f == 0, "awaiting"),
                    (or_(kf > 0, p == 0), "nonconform"), (and_(f == 0, ko == 0), "conform"), else_="partial")
    attested = case((and_(p + f > 0, att == p + f), 1.0), else_=0.0)
    per_host = (select(h.c.school, h.c.level, weights.c.clause, weights.c.point, weights.c.weight, score, verdict_,
                       attested)
                .select_from(h.join(weights, weights.c.level == h.c.level)
                             .outerjoin(scored, and_(scored.c.run_id == h.c.run_id, scored.c.host_id == h.c.host_id,
                                                     scored.c.clause == weights.c.clause)))
                .where(audited, ~h.c.host_id.startswith(SEGMENT_PREFIX, autoescape=True)))
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
    candidates = (select(h.c.school, ri.c.run_id, ri.c.host_id, ri.c.check_id)
                  .select_from(ri.join(h, and_(h.c.run_id == ri.c.run_id, h.c.host_id == ri.c.host_id))
                               .join(triggers, and_(triggers.c.clause == ri.c.clause,
                                                    triggers.c.check_id == ri.c.check_id)))
                  .where(audited, ri.c.severity.in_(HIGH_RISK_SEVERITIES),
                         or_(ri.c.status == "fail", and_(ri.c.status == "waived", ri.c.underlying == "fail")))
                  .group_by(h.c.school, ri.c.run_id, ri.c.host_id, ri.c.check_id)).subquery("candidates")
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
