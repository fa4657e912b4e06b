"""The verdict rules of ``audits.model.verdicts`` as SQL (SQLAlchemy Core; the same on SQLite and PostgreSQL), for
the paths that judge millions of results inside the database: the aggregates' rebuild (``audits.store.aggregates``)
and the from-scratch roll-up (``reports.rollup_sql``).

Nothing here restates a rule: the item weights, evidence roles and triggers come from the controls file
(``item_table``) as VALUES tables, the verdict is ``ITEM_RULES`` evaluated on SQL expressions, the item score is
``ITEM_SCORE`` and rounding is ``round_half_up``'s formula.
"""
from __future__ import annotations

from types import SimpleNamespace

from sqlalchemy import Float, Integer, String, and_, case, column, func, or_, select, true, values

from checks.contract import OS_GROUPS

from audits.model.verdicts import (HIGH_RISK_SEVERITIES, ITEM_RULES, ITEM_SCORE, OTHERWISE, ROUND_NUDGE, SEGMENT_PREFIX,
                                   item_table, point_of)


def rule_tables():
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


def rounded(expr, digits: int):
    """``round_half_up`` in SQL (floor(v·10^d + 0.5 + nudge) / 10^d), same on SQLite and PostgreSQL.
    NULL stays NULL (SQLAlchemy's SQLite floor() is a Python function that refuses None)."""
    scale = 10 ** digits
    return case((expr.is_(None), None), else_=func.floor(expr * scale + (0.5 + ROUND_NUDGE)) / float(scale))


def item_verdict(c):
    """``ITEM_RULES`` on SQL count expressions (``c``: p, f, na, wv, n, kf, ko, host_na)."""
    return case(*((rule(c), verdict) for rule, verdict in ITEM_RULES), else_=OTHERWISE)


def item_score(verdict):
    """``ITEM_SCORE`` of a verdict expression (NULL: not scored)."""
    return case(*((verdict == v, x) for v, x in ITEM_SCORE.items()), else_=None)


def _count(cond):
    return func.sum(case((cond, 1), else_=0))


def host_items(h, ri, audited, tables=None, items_scope=None, lateral=False):
    """Every item of each audited host's level (``h``: run_hosts, ``audited``: which of its rows) judged from its
    ``result_items`` (``ri``): run_id, host_id, school, level, clause, point, weight, score, verdict, attested.
    ``items_scope``: a condition on ``ri`` alone that selects the results of those hosts (their runs), so the
    results are grouped without joining every row to its host first.
    ``lateral`` (PostgreSQL only: SQLite has no LATERAL): the same rows judged host by host — per audited host its
    results found through the (run_id, host_id, …) primary key and grouped by clause, then outer-joined to the items
    of its level — instead of grouping every result of the runs by (run, host, clause) in one hash table (millions
    of groups of text keys, spilled to disk at a province's size) and joining that to every (host, item)."""
    weights, roles, _ = tables or rule_tables()
    if lateral:
        return _host_items_lateral(h, ri, audited, weights, roles)
    # the scored (non-informational) results citing each (host, item), counted as ITEM_RULES reads them …
    scored = (select(ri.c.run_id, ri.c.host_id, ri.c.clause, *_counts(ri, roles))
              .select_from((ri if items_scope is not None else
                            ri.join(h, and_(h.c.run_id == ri.c.run_id, h.c.host_id == ri.c.host_id)))
                           .outerjoin(roles, and_(roles.c.clause == ri.c.clause, roles.c.check_id == ri.c.check_id)))
              .where(items_scope if items_scope is not None else audited,
                     or_(roles.c.role.is_(None), roles.c.role != "informational"))
              .group_by(ri.c.run_id, ri.c.host_id, ri.c.clause)).subquery("scored")
    # … over every item of the host's level, so an item nothing answered is 待取证 (score 0)
    return (select(h.c.run_id, h.c.host_id, h.c.school, h.c.level, *_judged_columns(h, weights, scored))
            .select_from(h.join(weights, weights.c.level == h.c.level)
                         .outerjoin(scored, and_(scored.c.run_id == h.c.run_id, scored.c.host_id == h.c.host_id,
                                                 scored.c.clause == weights.c.clause)))
            .where(audited, ~h.c.host_id.startswith(SEGMENT_PREFIX, autoescape=True)))


def _counts(ri, roles):
    """The scored (non-informational) results citing an item, counted as ITEM_RULES reads them."""
    high = ri.c.severity.in_(HIGH_RISK_SEVERITIES)
    return (_count(ri.c.status == "pass").label("p"), _count(ri.c.status == "fail").label("f"),
            _count(ri.c.status == "not_applicable").label("na"), _count(ri.c.status == "waived").label("wv"),
            func.count().label("n"),
            _count(and_(ri.c.status == "fail", or_(roles.c.role == "key", and_(roles.c.role == "trigger", high))))
            .label("kf"),
            _count(and_(ri.c.status.in_(("pass", "fail")), ri.c.underlying == "manual")).label("att"),
            _count(and_(roles.c.role == "key", ri.c.status.in_(("manual", "error")))).label("ko"))


def _judged_columns(h, weights, scored, score=True):
    """clause, point, weight, score, verdict, attested of an item of a host (``scored``: its counts, NULL: none;
    ``score=False``: without the score)."""
    c = SimpleNamespace(**{k: func.coalesce(getattr(scored.c, k), 0) for k in ("p", "f", "na", "wv", "n", "kf", "ko")},
                        # not applicable to any host, or to a network device (its os family is its platform)
                        host_na=or_(weights.c.host_na == 1,
                                    and_(weights.c.device_na == 1, h.c.os_family.in_(sorted(OS_GROUPS["device"])))))
    att = func.coalesce(scored.c.att, 0)
    verdict = item_verdict(c)
    # every judged (pass/fail) answer an attestation's: as Item.attested (never on an item 不适用 on the OS)
    attested = case((c.host_na, 0), (and_(c.p + c.f > 0, att == c.p + c.f), 1), else_=0)
    return (weights.c.clause, weights.c.point, weights.c.weight,
            *((item_score(verdict).label("score"),) if score else ()), verdict.label("verdict"),
            attested.label("attested"))


def _host_items_lateral(h, ri, audited, weights, roles):
    """``host_items`` host by host (PostgreSQL ``LATERAL``): the same columns, rows and expressions."""
    scored = (select(ri.c.clause, *_counts(ri, roles))
              .select_from(ri.outerjoin(roles, and_(roles.c.clause == ri.c.clause, roles.c.check_id == ri.c.check_id)))
              .where(ri.c.run_id == h.c.run_id, ri.c.host_id == h.c.host_id,
                     or_(roles.c.role.is_(None), roles.c.role != "informational"))
              .group_by(ri.c.clause).correlate(h)).lateral("scored")
    # the score from the verdict column (OFFSET 0: not flattened, so the verdict's CASE is evaluated once per item
    # rather than once more for each score it is compared with)
    items = (select(*_judged_columns(h, weights, scored, score=False))
             .select_from(weights.outerjoin(scored, scored.c.clause == weights.c.clause))
             .where(weights.c.level == h.c.level).correlate(h).offset(0)).lateral("items")
    return (select(h.c.run_id, h.c.host_id, h.c.school, h.c.level, items.c.clause, items.c.point, items.c.weight,
                   item_score(items.c.verdict).label("score"), items.c.verdict, items.c.attested)
            .select_from(h.join(items, true()))
            .where(audited, ~h.c.host_id.startswith(SEGMENT_PREFIX, autoescape=True)))


def candidates(h, ri, audited, tables=None):
    """High-risk candidates (docs/scoring.md §4): per audited host, each check with a failing (or waived but
    failing) high/critical result citing an item whose trigger it raises: run_id, host_id, school, check_id."""
    _, _, triggers = tables or rule_tables()
    # the trigger clauses and failing statuses also as plain conditions: the (clause, status) index finds the few
    # rows that can be candidates instead of every result being joined to the triggers
    clauses = sorted({c for c, ids in item_table().triggers.items() if ids}) or [""]
    return (select(ri.c.run_id, ri.c.host_id, h.c.school, ri.c.check_id)
            .select_from(ri.join(h, and_(h.c.run_id == ri.c.run_id, h.c.host_id == ri.c.host_id))
                         .join(triggers, and_(triggers.c.clause == ri.c.clause, triggers.c.check_id == ri.c.check_id)))
            .where(audited, ri.c.clause.in_(clauses), ri.c.status.in_(("fail", "waived")),
                   ri.c.severity.in_(HIGH_RISK_SEVERITIES),
                   or_(ri.c.status == "fail", and_(ri.c.status == "waived", ri.c.underlying == "fail")))
            .group_by(ri.c.run_id, ri.c.host_id, h.c.school, ri.c.check_id))

