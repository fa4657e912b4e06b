"""Aggregates computed once, at ingest (issue #21): what every bureau view reads instead of the results.

Three tables (migration 19), written in the same transaction as the rows they summarise:

- ``agg_hosts`` — per (run, host): school, level, status, every GB/T 22239-2019 item of its level with its
  verdict, weight and whether attestations alone answered it (one text column), high-risk candidates, the
  host's own weighted rate inputs (Σw·x, Σw, Σw·attested) and rate;
- ``agg_schools`` — per (run, school): names, district, city, host counts and unreachable reasons, the
  score (rate, verdict, attested, item verdict counts, control points, high-risk candidates), the score of each
  system (as ``reports.scoring.system_scores``) and the school's ``Tally`` (so schools of several runs combine);
- ``agg_runs`` — per run: schools, hosts, the sum and count of school rates, schools with a high risk.

The verdicts are ``audits.model.verdicts`` (the rules ``reports.scoring`` uses), so a stored aggregate equals
the score computed from the results. Seams: ``host_row`` is pure (a host's ``result_items`` rows in, its
aggregate row out); ``write_hosts``, ``refresh_school`` and ``refresh_run`` write them given a connection,
inside the caller's transaction; ``rebuild`` recomputes every aggregate of some runs from the raw results.
Nothing here imports the rest of the store (tables are referred to by name), so the store can import this.
"""
from __future__ import annotations

import json
from collections import Counter, defaultdict
from functools import lru_cache
from typing import Callable, Iterable

from sqlalchemy import (Column, Float, Index, Integer, MetaData, String, Table, Text, and_, case, cast, column, delete,
                        func, insert, select, table, true)
from sqlalchemy import text as sql_text
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ClauseElement, Executable

from audits.store import verdict_sql

from audits.model.verdicts import ITEM_SCORE, Item, Tally, clause_items, item_table, round_half_up

RUN_ID_LENGTH = 160
metadata = MetaData()

hosts_agg_t = Table(
    "agg_hosts", metadata,
    Column("run_id", String(RUN_ID_LENGTH), primary_key=True),
    Column("host_id", String(64), primary_key=True),
    Column("school", String(64), nullable=False),
    Column("level", Integer),
    Column("status", String(20), nullable=False),
    Column("risks", Integer, nullable=False),   # high-risk candidates
    Column("num", Float, nullable=False),       # Σ weight × item score
    Column("den", Float, nullable=False),       # Σ weight of the items assessed
    Column("att", Float, nullable=False),       # Σ weight of the items attestations alone answered
    Column("rate", Float),
    # every item of the host's level: "clause=verdict=weight=attested" joined by ";" (ITEM_SEP), in no order
    Column("items", Text, nullable=False),
)
schools_agg_t = Table(
    "agg_schools", metadata,
    Column("run_id", String(RUN_ID_LENGTH), primary_key=True),
    Column("school", String(64), primary_key=True),
    Column("district", String(64), nullable=False),
    Column("city", String(64)),                 # the first host's city (None: the run's bureau)
    Column("name", Text),
    Column("district_name", Text),
    Column("hosts", Integer, nullable=False),
    Column("audited", Integer, nullable=False),
    Column("reasons", Text, nullable=False),    # JSON {reason: hosts} of the unreachable hosts
    Column("rate", Float),
    Column("verdict", String(24)),
    Column("attested", Float),
    Column("high_risk", Integer, nullable=False),
    Column("items", Text, nullable=False),      # JSON {verdict: count}
    Column("points", Text, nullable=False),     # JSON {point: 10-point score}
    Column("systems", Text, nullable=False),    # JSON, as reports.scoring.system_scores
    Column("tally", Text, nullable=False),      # JSON Tally.to_json()
)
Index("ix_agg_schools_school", schools_agg_t.c.school)
runs_agg_t = Table(
    "agg_runs", metadata,
    Column("run_id", String(RUN_ID_LENGTH), primary_key=True),
    Column("schools", Integer, nullable=False),
    Column("hosts", Integer, nullable=False),
    Column("audited", Integer, nullable=False),
    Column("rated", Integer, nullable=False),     # schools with a rate
    Column("rate_sum", Float, nullable=False),    # Σ of their (rounded) rates
    Column("high_risk_schools", Integer, nullable=False),
)
TABLES = (hosts_agg_t, schools_agg_t, runs_agg_t)
ITEM_SEP = ";"

# The store's own tables, by name only (audits.store.database imports this module).
_run_hosts = table("run_hosts", column("run_id"), column("host_id"), column("school"), column("district"),
                   column("city"), column("level"), column("status"), column("reason"), column("school_name"),
                   column("district_name"), column("systems"), column("os_family"))
_items = table("result_items", column("run_id"), column("host_id"), column("check_id"), column("clause"),
               column("status"), column("severity"), column("underlying"))
_runs = table("runs", column("id"), column("status"))


# -- pure ------------------------------------------------------------------------------------------
def host_row(run_id: str, host, item_rows: Iterable[dict]) -> dict:
    """The ``agg_hosts`` row of one host (``host``: host_id, school, level, status — a HostRecord or the like) from
    its ``result_items`` rows: every item of its level judged, its high-risk candidates, its weighted rate inputs.
    An unreachable host has no items."""
    items, risks = clause_items(host.level, host.host_id, item_rows, host.os_family) if host.status == "audited" else ({}, 0)
    num = den = att = 0.0
    for it in items.values():
        x = ITEM_SCORE.get(it.verdict)
        if x is not None:
            num, den, att = num + it.weight * x, den + it.weight, att + (it.weight if it.attested else 0.0)
    one = round_half_up(100.0 * num / den, 1) if den else None   # as Tally.score() of this host alone
    return {"run_id": run_id, "host_id": host.host_id, "school": host.school, "level": host.level,
            "status": host.status, "risks": risks, "num": num, "den": den, "att": att, "rate": one,
            "items": ITEM_SEP.join(f"{c}={it.verdict}={it.weight!r}={int(it.attested)}" for c, it in items.items())}


def stored_items(level: int | None, text: str | None) -> dict[str, Item]:
    """An ``agg_hosts.items`` text back as judged items, in the controls file's order (as ``host_items`` gives
    them)."""
    got = {}
    for entry in (text or "").split(ITEM_SEP):
        if entry:
            clause, verdict, weight, attested = entry.split("=")
            got[clause] = Item(clause, float(weight), verdict, attested=attested == "1")
    return {c: got[c] for c in item_table().weights.get(level or 0, ()) if c in got}


def _systems(hosts: list[dict]) -> dict[str, tuple[dict, list[str]]]:
    """system id -> (its first declaration, its hosts' ids); hosts that serve no declared system are under ""."""
    out: dict[str, tuple[dict, list[str]]] = {}
    for h in hosts:
        sys_list = json.loads(h["systems"]) if isinstance(h["systems"], str) else h["systems"]
        for sy in sys_list or [{"id": "", "name": "", "level": h["level"]}]:
            out.setdefault(sy["id"], (sy, []))[1].append(h["host_id"])
    return out


def school_row(run_id: str, school: str, hosts: list[dict], tally_of: dict[str, Tally]) -> dict:
    """The ``agg_schools`` row of one school from its hosts (run_hosts rows, by host id) and the ``Tally`` of each
    audited one (its judged items and high-risk candidates): the same figures as ``reports.scoring.score_hosts``
    and ``system_scores``."""
    audited = {h["host_id"] for h in hosts if h["status"] == "audited"}
    tally = Tally()
    for h in hosts:
        if h["host_id"] in audited and h["host_id"] in tally_of:
            tally.merge(tally_of[h["host_id"]])
    per_system = {}
    for sid, (_, ids) in _systems(hosts).items():
        t = per_system[sid] = Tally()
        for hid in ids:
            if hid in audited and hid in tally_of:
                t.merge(tally_of[hid])
    return _school_row(run_id, school, hosts, tally, per_system)


def _school_row(run_id: str, school: str, hosts: list[dict], tally: Tally, per_system: dict[str, Tally]) -> dict:
    sc = tally.score()
    first = hosts[0]
    reasons = Counter(h["reason"] or "error" for h in hosts if h["status"] != "audited")
    sys_out = {}
    for sid, (info, ids) in sorted(_systems(hosts).items()):
        t = per_system[sid]
        s = t.score()
        sys_out[sid] = {"name": info.get("name") or sid, "level": info.get("level"), "hosts": ids,
                        "rate": s["rate"], "verdict": s["verdict"], "high_risk": t.risks}
    return {"run_id": run_id, "school": school, "district": first["district"] or "", "city": first["city"],
            "name": next((h["school_name"] for h in hosts if h["school_name"]), None),
            "district_name": next((h["district_name"] for h in hosts if h["district_name"]), None),
            "hosts": len(hosts), "audited": len(hosts) - sum(reasons.values()),
            "reasons": json.dumps(dict(sorted(reasons.items()))), "rate": sc["rate"], "verdict": sc["verdict"],
            "attested": sc["attested"], "high_risk": tally.risks, "items": json.dumps(sc["items"]),
            "points": json.dumps(sc["points"]), "systems": json.dumps(sys_out, ensure_ascii=False),
            "tally": json.dumps(tally.to_json(), separators=(",", ":"))}


def run_row(run_id: str, schools: list[dict]) -> dict:
    rates = [s["rate"] for s in schools if s["rate"] is not None]
    return {"run_id": run_id, "schools": len(schools), "hosts": sum(s["hosts"] for s in schools),
            "audited": sum(s["audited"] for s in schools), "rated": len(rates), "rate_sum": sum(rates),
            "high_risk_schools": sum(1 for s in schools if s["high_risk"])}


# -- writing, inside the caller's transaction --------------------------------------------------------
def bulk_insert(conn, tbl: Table, rows: list[dict]) -> None:
    """Insert many rows: PostgreSQL ``COPY`` on the transaction's own connection, else executemany."""
    if not rows:
        return
    if conn.dialect.name == "postgresql" and len(rows) >= 100:   # a few rows: one INSERT is one round trip
        names = [c.name for c in tbl.columns]
        cur = conn.connection.driver_connection.cursor()
        with cur.copy(f"COPY {tbl.name} ({', '.join(names)}) FROM STDIN") as cp:
            for r in rows:
                cp.write_row([r[n] for n in names])
        return
    conn.execute(insert(tbl), rows)


def write_hosts(conn, rows: list[dict]) -> None:
    """Write ``host_row`` rows (one or many hosts)."""
    bulk_insert(conn, hosts_agg_t, rows)


def _lock(conn, key: str) -> None:
    """Serialise refreshes of one school (PostgreSQL: concurrent collectors save hosts of the same school; the
    second refresh waits and then sees the first host's rows). SQLite writers are serialised already."""
    if conn.dialect.name == "postgresql":
        conn.execute(sql_text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 21))"), {"k": key})


def refresh_school(conn, run_id: str, school: str) -> dict:
    """Recompute the ``agg_schools`` row of one school of a run from its hosts' rows (``agg_hosts``)."""
    _lock(conn, f"{run_id}\n{school}")
    ah = hosts_agg_t
    hosts, tallies = [], {}
    for r in conn.execute(select(_run_hosts, ah.c["items"], ah.c.risks)
                          .select_from(_run_hosts.outerjoin(ah, and_(ah.c.run_id == _run_hosts.c.run_id,
                                                                     ah.c.host_id == _run_hosts.c.host_id)))
                          .where(_run_hosts.c.run_id == run_id, _run_hosts.c.school == school)
                          .order_by(_run_hosts.c.host_id)).mappings():
        hosts.append(r)
        if r["risks"] is not None:
            tallies[r["host_id"]] = _host_tally(r["level"], r["items"], r["risks"])
    if not hosts:
        conn.execute(delete(schools_agg_t).where(schools_agg_t.c.run_id == run_id, schools_agg_t.c.school == school))
        return {}
    row = school_row(run_id, school, hosts, tallies)
    _upsert(conn, schools_agg_t, row, ("run_id", "school"))
    return row


@lru_cache(maxsize=4096)
def _host_tally(level: int | None, items: str | None, risks: int) -> Tally:
    """The ``Tally`` of one host's ``agg_hosts`` row — a pure function of the row's text, remembered: a school's row
    is summed again after each of its hosts is saved, from every host saved so far. Callers only read it
    (``Tally.merge`` into a new one)."""
    return Tally().add(level, stored_items(level, items), risks)


def _upsert(conn, tbl: Table, row: dict, keys: tuple[str, ...]) -> None:
    """INSERT … ON CONFLICT (keys) DO UPDATE: one statement on PostgreSQL and SQLite."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    elif conn.dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    else:
        conn.execute(delete(tbl).where(*(tbl.c[k] == row[k] for k in keys)))
        conn.execute(insert(tbl), [row])
        return
    stmt = dialect_insert(tbl)
    conn.execute(stmt.on_conflict_do_update(index_elements=list(keys),
                                            set_={k: stmt.excluded[k] for k in row if k not in keys}), row)


def refresh_run(conn, run_id: str) -> None:
    """Recompute the ``agg_runs`` row of a run from its schools' rows."""
    s = schools_agg_t
    rows = conn.execute(select(s.c.hosts, s.c.audited, s.c.rate, s.c.high_risk).where(s.c.run_id == run_id)).mappings()
    _upsert(conn, runs_agg_t, run_row(run_id, [dict(r) for r in rows]), ("run_id",))


def after_host(conn, run_id: str, host, item_rows: list[dict]) -> None:
    """A host was saved (``Store.save_host``): its aggregate rows, and its school's row again."""
    write_hosts(conn, [host_row(run_id, host, item_rows)])
    refresh_school(conn, run_id, host.school)


def after_run(conn, run_id: str, hosts: list[tuple[object, list[dict]]]) -> None:
    """A whole run was stored at once (``Store.import_run``): every host's rows, each school once, the run."""
    write_hosts(conn, [host_row(run_id, h, rows) for h, rows in hosts])
    for school in sorted({h.school for h, _ in hosts}):
        refresh_school(conn, run_id, school)
    refresh_run(conn, run_id)


# -- rebuild from the raw results ----------------------------------------------------------------------
RUN_BATCH = 500   # runs per pass of the rebuild's statements


def rebuild(conn, run_ids: list[str] | None = None, progress: Callable[[str], None] | None = None) -> dict:
    """Recompute every aggregate of the given runs (default: all) from ``run_hosts`` and ``result_items`` — after
    a scoring change, or for runs stored before the aggregates existed. The host items and host rows are judged
    by the database (``verdict_sql``: the same rules as ``host_row``, built from ``ITEM_RULES``), each school is
    scored in Python from its per-item sums (``Tally``), so no result passes through Python. Returns counts."""
    counts = {"runs": 0, "hosts": 0, "items": 0, "schools": 0}
    if run_ids is None:
        for t in TABLES:
            conn.execute(delete(t))
        batches = [None]
    else:
        run_ids = list(dict.fromkeys(run_ids))
        batches = [run_ids[i:i + RUN_BATCH] for i in range(0, len(run_ids), RUN_BATCH)]
        for batch in batches:
            for t in TABLES:
                conn.execute(delete(t).where(t.c.run_id.in_(batch)))
    tables = verdict_sql.rule_tables()
    for batch in batches:
        _rebuild_batch(conn, batch, tables, counts)
        if progress:
            progress(f"{counts['runs']} runs, {counts['hosts']} hosts, {counts['schools']} schools")
    return counts


class _CreateTempAs(Executable, ClauseElement):
    """CREATE TEMPORARY TABLE name AS SELECT … (PostgreSQL may run the SELECT in parallel, which it never does for
    INSERT … SELECT; nothing is WAL-logged)."""
    inherit_cache = False

    def __init__(self, name: str, query):
        self.name, self.query = name, query


@compiles(_CreateTempAs)
def _compile_create_temp_as(element, compiler, **kw):
    return f"CREATE TEMPORARY TABLE {element.name} AS {compiler.process(element.query, **kw)}"


JUDGED = ("run_id", "host_id", "school", "level", "clause", "point", "weight", "score", "verdict", "attested")


def _rebuild_batch(conn, batch: list[str] | None, tables, counts: dict) -> None:
    h, ri = _run_hosts.alias("h"), _items.alias("ri")
    scope = h.c.run_id.in_(batch) if batch is not None else true()
    audited = and_(scope, h.c.status == "audited")
    # 1. every item of every audited host, judged in the database, into a temporary table
    conn.execute(sql_text("DROP TABLE IF EXISTS agg_rebuild_judged"))
    # (PostgreSQL: host by host, each host's results through the primary key: no hash table of every (run, host,
    # item) of the runs, which spills to disk at a province's size)
    conn.execute(_CreateTempAs("agg_rebuild_judged", verdict_sql.host_items(
        h, ri, audited, tables, items_scope=ri.c.run_id.in_(batch) if batch is not None else true(),
        lateral=conn.dialect.name == "postgresql")))
    if conn.dialect.name == "postgresql":   # a temporary table has no statistics until analysed: hash, not sort
        conn.execute(sql_text("ANALYZE agg_rebuild_judged"))
    jt = table("agg_rebuild_judged", *(column(c) for c in JUDGED))
    try:
        _rebuild_from_judged(conn, batch, h, ri, scope, audited, tables, jt, counts)
    finally:
        conn.execute(sql_text("DROP TABLE IF EXISTS agg_rebuild_judged"))


def _rebuild_from_judged(conn, batch, h, ri, scope, audited, tables, jt, counts: dict) -> None:
    # 2. per host: its items, weighted rate inputs and high-risk candidates
    scored = jt.c.score.is_not(None)
    entry = (jt.c.clause + "=" + jt.c.verdict + "=" + cast(jt.c.weight, Text) + "=" + cast(jt.c.attested, Text))
    per_host = (select(jt.c.run_id, jt.c.host_id,
                       func.sum(case((scored, jt.c.weight * jt.c.score), else_=0.0)).label("num"),
                       func.sum(case((scored, jt.c.weight), else_=0.0)).label("den"),
                       func.sum(case((scored, jt.c.weight * jt.c.attested), else_=0.0)).label("att"),
                       func.aggregate_strings(entry, ITEM_SEP).label("items"), func.count().label("n"))
                .group_by(jt.c.run_id, jt.c.host_id)).subquery("per_host")
    cands = verdict_sql.candidates(h, ri, audited, tables).subquery("cands")
    risks = (select(cands.c.run_id, cands.c.host_id, func.count().label("n"))
             .group_by(cands.c.run_id, cands.c.host_id)).subquery("risks")
    num, den, att = (func.coalesce(per_host.c[k], 0.0) for k in ("num", "den", "att"))
    conn.execute(insert(hosts_agg_t).from_select(
        ["run_id", "host_id", "school", "level", "status", "risks", "num", "den", "att", "rate", "items"],
        select(h.c.run_id, h.c.host_id, h.c.school, h.c.level, h.c.status, func.coalesce(risks.c.n, 0), num, den, att,
               verdict_sql.rounded(100.0 * per_host.c.num / func.nullif(per_host.c.den, 0.0), 1),
               func.coalesce(per_host.c["items"], ""))
        .select_from(h.outerjoin(per_host, and_(per_host.c.run_id == h.c.run_id, per_host.c.host_id == h.c.host_id))
                     .outerjoin(risks, and_(risks.c.run_id == h.c.run_id, risks.c.host_id == h.c.host_id)))
        .where(scope)))
    counts["items"] += conn.execute(select(func.count()).select_from(jt)).scalar()
    # 3. per school (and system): the per-item sums of its audited hosts, scored by Tally
    ah = hosts_agg_t.alias("ah")
    in_batch = ah.c.run_id.in_(batch) if batch is not None else true()
    hosts_of: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for r in conn.execute(select(_run_hosts).where(_run_hosts.c.run_id.in_(batch) if batch is not None else true())
                          .order_by(_run_hosts.c.run_id, _run_hosts.c.school, _run_hosts.c.host_id)).mappings():
        hosts_of[(r["run_id"], r["school"])].append(dict(r))
    tallies: dict[tuple, Tally] = defaultdict(Tally)
    item_sums = (select(jt.c.run_id, jt.c.school, jt.c.level, jt.c.clause, func.max(jt.c.weight), func.sum(jt.c.score),
                        func.count(), func.sum(jt.c.attested))
                 .where(scored).group_by(jt.c.run_id, jt.c.school, jt.c.level, jt.c.clause))
    for run_id, school, level, clause, w, x, k, a in conn.execute(item_sums):
        tallies[(run_id, school)].levels.setdefault(level, {})[clause] = [w, float(x), k, int(a)]
    for run_id, school, v, k in conn.execute(select(jt.c.run_id, jt.c.school, jt.c.verdict, func.count())
                                             .group_by(jt.c.run_id, jt.c.school, jt.c.verdict)):
        tallies[(run_id, school)].verdicts[v] += k
    for run_id, school, k in conn.execute(select(ah.c.run_id, ah.c.school, func.sum(ah.c.risks))
                                          .where(in_batch, ah.c.status == "audited")
                                          .group_by(ah.c.run_id, ah.c.school)):
        tallies[(run_id, school)].risks = int(k or 0)
    system_tallies = _system_tallies(conn, hosts_of, jt, ah)
    rows = []
    for key in sorted(hosts_of):
        hosts = hosts_of[key]
        per_system = system_tallies.get(key) or {"": tallies[key]}   # no declared systems: the school is one
        rows.append(_school_row(key[0], key[1], hosts, tallies[key], per_system))
    bulk_insert(conn, schools_agg_t, rows)
    by_run: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        by_run[r["run_id"]].append(r)
    bulk_insert(conn, runs_agg_t, [run_row(run_id, rs) for run_id, rs in sorted(by_run.items())])
    counts["runs"] += len(by_run)
    counts["hosts"] += sum(len(hs) for hs in hosts_of.values())
    counts["schools"] += len(rows)


def _system_tallies(conn, hosts_of, jt, ah) -> dict[tuple, dict[str, Tally]]:
    """Per (run, school) whose hosts declare systems: each system's Tally, summed in the database over a temporary
    (run, host, system) table."""
    pairs = [(run_id, hid, school, sid)
             for (run_id, school), hosts in hosts_of.items() if any(h["systems"] not in (None, "", "[]") for h in hosts)
             for sid, (_, ids) in _systems(hosts).items() for hid in ids]
    if not pairs:
        return {}
    hs = Table("agg_rebuild_systems", MetaData(), Column("run_id", String(RUN_ID_LENGTH)), Column("host_id", String(64)),
               Column("school", String(64)), Column("system", Text), prefixes=["TEMPORARY"])
    hs.drop(conn, checkfirst=True)
    hs.create(conn)
    try:
        bulk_insert(conn, hs, [dict(zip(("run_id", "host_id", "school", "system"), p)) for p in pairs])
        out: dict[tuple, dict[str, Tally]] = defaultdict(lambda: defaultdict(Tally))
        join = hs.join(jt, and_(jt.c.run_id == hs.c.run_id, jt.c.host_id == hs.c.host_id))
        for run_id, school, sid, level, clause, w, x, k, a in conn.execute(
                select(hs.c.run_id, hs.c.school, hs.c.system, jt.c.level, jt.c.clause, func.max(jt.c.weight),
                       func.sum(jt.c.score), func.count(), func.sum(jt.c.attested))
                .select_from(join).where(jt.c.score.is_not(None))
                .group_by(hs.c.run_id, hs.c.school, hs.c.system, jt.c.level, jt.c.clause)):
            out[(run_id, school)][sid].levels.setdefault(level, {})[clause] = [w, float(x), k, int(a)]
        for run_id, school, sid, k in conn.execute(
                select(hs.c.run_id, hs.c.school, hs.c.system, func.sum(ah.c.risks))
                .select_from(hs.join(ah, and_(ah.c.run_id == hs.c.run_id, ah.c.host_id == hs.c.host_id)))
                .where(ah.c.status == "audited").group_by(hs.c.run_id, hs.c.school, hs.c.system)):
            out[(run_id, school)][sid].risks = int(k or 0)
        return out
    finally:
        hs.drop(conn, checkfirst=True)
