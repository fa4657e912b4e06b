"""Aggregates computed once, at ingest (issue #21): what every bureau view reads instead of the results.

Four tables (migration 19), written in the same transaction as the rows they summarise:

- ``agg_host_items`` — per (run, host, GB/T 22239-2019 item of the host's level): weight, verdict, attested;
- ``agg_hosts`` — per (run, host): school, level, status, high-risk candidates, the host's own weighted
  rate inputs (Σw·x, Σw, Σw·attested) and rate;
- ``agg_schools`` — per (run, school): names, district, city, host counts and unreachable reasons, the
  score (rate, verdict, attested, item verdict counts, control points, high-risk candidates), the score of each
  system (as ``reports.scoring.system_scores``) and the school's ``Tally`` (so schools of several runs combine);
- ``agg_runs`` — per run: schools, hosts, the sum and count of school rates, schools with a high risk.

The verdicts are ``audits.model.verdicts`` (the rules ``reports.scoring`` uses), so a stored aggregate equals
the score computed from the results. Seams: ``host_rows`` is pure (a host's ``result_items`` rows in, its
aggregate rows out); ``write_hosts``, ``refresh_school`` and ``refresh_run`` write them given a connection,
inside the caller's transaction; ``rebuild`` recomputes every aggregate of some runs from the raw results.
Nothing here imports the rest of the store (tables are referred to by name), so the store can import this.
"""
from __future__ import annotations

import json
from collections import Counter, defaultdict
from typing import Callable, Iterable

from sqlalchemy import Column, Float, Index, Integer, MetaData, String, Table, Text, column, delete, insert, select, table
from sqlalchemy import text as sql_text

from audits.model.verdicts import ITEM_SCORE, Item, Tally, clause_items, item_table, round_half_up

RUN_ID_LENGTH = 160
metadata = MetaData()

host_items_t = Table(
    "agg_host_items", metadata,
    Column("run_id", String(RUN_ID_LENGTH), primary_key=True),
    Column("host_id", String(64), primary_key=True),
    Column("clause", String(32), primary_key=True),
    Column("level", Integer, nullable=False),
    Column("weight", Float, nullable=False),
    Column("verdict", String(16), nullable=False),
    Column("attested", Integer, nullable=False),
)
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
TABLES = (host_items_t, hosts_agg_t, schools_agg_t, runs_agg_t)

# The store's own tables, by name only (audits.store.database imports this module).
_run_hosts = table("run_hosts", column("run_id"), column("host_id"), column("school"), column("district"),
                   column("city"), column("level"), column("status"), column("reason"), column("school_name"),
                   column("district_name"), column("systems"))
_items = table("result_items", column("run_id"), column("host_id"), column("check_id"), column("clause"),
               column("status"), column("severity"), column("underlying"))
_runs = table("runs", column("id"), column("status"))


# -- pure ------------------------------------------------------------------------------------------
def host_rows(run_id: str, host, item_rows: Iterable[dict]) -> tuple[dict, list[dict]]:
    """The ``agg_hosts`` row and ``agg_host_items`` rows of one host (``host``: host_id, school, level, status —
    a HostRecord or the like) from its ``result_items`` rows. An unreachable host has no items."""
    items, risks = clause_items(host.level, host.host_id, item_rows) if host.status == "audited" else ({}, 0)
    return _host_rows(run_id, host, items, risks)


def _host_rows(run_id: str, host, items: dict[str, Item], risks: int) -> tuple[dict, list[dict]]:
    num = den = att = 0.0
    rows = []
    for clause, it in items.items():
        rows.append({"run_id": run_id, "host_id": host.host_id, "clause": clause, "level": host.level,
                     "weight": it.weight, "verdict": it.verdict, "attested": 1 if it.attested else 0})
        x = ITEM_SCORE.get(it.verdict)
        if x is not None:
            num, den, att = num + it.weight * x, den + it.weight, att + (it.weight if it.attested else 0.0)
    one = round_half_up(100.0 * num / den, 1) if den else None   # as Tally.score() of this host alone
    return ({"run_id": run_id, "host_id": host.host_id, "school": host.school, "level": host.level,
             "status": host.status, "risks": risks, "num": num, "den": den, "att": att, "rate": one}, rows)


def _items_of(level: int | None, rows: Iterable[dict]) -> dict[str, Item]:
    """Stored item rows back as judged items, in the controls file's order (as ``host_items`` gives them, so
    sums are taken in the same order)."""
    got = {r["clause"]: Item(r["clause"], r["weight"], r["verdict"], attested=bool(r["attested"])) for r in rows}
    return {c: got[c] for c in item_table().weights.get(level or 0, ()) if c in got}


def school_row(run_id: str, school: str, hosts: list[dict], tally_of: dict[str, Tally]) -> dict:
    """The ``agg_schools`` row of one school from its hosts (run_hosts rows, by host id) and the ``Tally`` of each
    audited one (its judged items and high-risk candidates): the same figures as ``reports.scoring.score_hosts``
    and ``system_scores``."""
    tally = Tally()
    systems: dict[str, list] = {}   # system id -> [info, Tally, host ids]
    for h in hosts:
        mine = tally_of.get(h["host_id"]) if h["status"] == "audited" else None
        if mine is not None:
            tally.merge(mine)
        sys_list = json.loads(h["systems"]) if isinstance(h["systems"], str) else h["systems"]
        for sy in sys_list or [{"id": "", "name": "", "level": h["level"]}]:
            entry = systems.setdefault(sy["id"], [sy, Tally(), []])
            entry[2].append(h["host_id"])
            if mine is not None:
                entry[1].merge(mine)
    sc = tally.score()
    first = hosts[0]
    reasons = Counter(h["reason"] or "error" for h in hosts if h["status"] != "audited")
    sys_out = {}
    for sid, (info, t, ids) in sorted(systems.items()):
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
    if conn.dialect.name == "postgresql":
        names = [c.name for c in tbl.columns]
        cur = conn.connection.driver_connection.cursor()
        with cur.copy(f"COPY {tbl.name} ({', '.join(names)}) FROM STDIN") as cp:
            for r in rows:
                cp.write_row([r[n] for n in names])
        return
    conn.execute(insert(tbl), rows)


def write_hosts(conn, hosts: list[tuple[dict, list[dict]]]) -> None:
    """Write ``host_rows`` results (one or many hosts)."""
    bulk_insert(conn, hosts_agg_t, [h for h, _ in hosts])
    bulk_insert(conn, host_items_t, [r for _, rows in hosts for r in rows])


def _lock(conn, key: str) -> None:
    """Serialise refreshes of one school (PostgreSQL: concurrent collectors save hosts of the same school; the
    second refresh waits and then sees the first host's rows). SQLite writers are serialised already."""
    if conn.dialect.name == "postgresql":
        conn.execute(sql_text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 21))"), {"k": key})


def refresh_school(conn, run_id: str, school: str) -> dict:
    """Recompute the ``agg_schools`` row of one school of a run from its hosts' aggregate rows."""
    _lock(conn, f"{run_id}\n{school}")
    hosts = [dict(r) for r in conn.execute(
        select(_run_hosts).where(_run_hosts.c.run_id == run_id, _run_hosts.c.school == school)
        .order_by(_run_hosts.c.host_id)).mappings()]
    if not hosts:
        conn.execute(delete(schools_agg_t).where(schools_agg_t.c.run_id == run_id, schools_agg_t.c.school == school))
        return {}
    ah = hosts_agg_t
    risks = dict(conn.execute(select(ah.c.host_id, ah.c.risks).where(ah.c.run_id == run_id, ah.c.school == school)).all())
    hi = host_items_t
    by_host: dict[str, list] = defaultdict(list)
    for r in conn.execute(select(hi.c.host_id, hi.c.clause, hi.c.weight, hi.c.verdict, hi.c.attested)
                          .select_from(hi.join(ah, (ah.c.run_id == hi.c.run_id) & (ah.c.host_id == hi.c.host_id)))
                          .where(hi.c.run_id == run_id, ah.c.school == school)
                          .order_by(hi.c.host_id)).mappings():
        by_host[r["host_id"]].append(r)
    levels = {h["host_id"]: h["level"] for h in hosts}
    tallies = {h: Tally().add(levels[h], _items_of(levels[h], rs), risks.get(h, 0)) for h, rs in by_host.items()}
    for h, n in risks.items():   # an audited host with no scored items may still have candidates
        tallies.setdefault(h, Tally().add(levels.get(h), {}, n))
    row = school_row(run_id, school, hosts, tallies)
    conn.execute(delete(schools_agg_t).where(schools_agg_t.c.run_id == run_id, schools_agg_t.c.school == school))
    conn.execute(insert(schools_agg_t), [row])
    return row


def refresh_run(conn, run_id: str) -> None:
    """Recompute the ``agg_runs`` row of a run from its schools' rows."""
    s = schools_agg_t
    rows = conn.execute(select(s.c.hosts, s.c.audited, s.c.rate, s.c.high_risk).where(s.c.run_id == run_id)).mappings()
    conn.execute(delete(runs_agg_t).where(runs_agg_t.c.run_id == run_id))
    conn.execute(insert(runs_agg_t), [run_row(run_id, [dict(r) for r in rows])])


def after_host(conn, run_id: str, host, item_rows: list[dict]) -> None:
    """A host was saved (``Store.save_host``): its aggregate rows, and its school's row again."""
    write_hosts(conn, [host_rows(run_id, host, item_rows)])
    refresh_school(conn, run_id, host.school)


def after_run(conn, run_id: str, hosts: list[tuple[object, list[dict]]]) -> None:
    """A whole run was stored at once (``Store.import_run``): every host's rows, each school once, the run."""
    write_hosts(conn, [host_rows(run_id, h, rows) for h, rows in hosts])
    for school in sorted({h.school for h, _ in hosts}):
        refresh_school(conn, run_id, school)
    refresh_run(conn, run_id)


# -- rebuild from the raw results ----------------------------------------------------------------------
CHUNK = 2000  # hosts per query of their result_items


class _Host:
    __slots__ = ("host_id", "school", "level", "status")

    def __init__(self, r):
        self.host_id, self.school, self.level, self.status = r["host_id"], r["school"], r["level"], r["status"]


def rebuild(conn, run_ids: list[str] | None = None, progress: Callable[[str], None] | None = None) -> dict:
    """Recompute every aggregate of the given runs (default: all) from ``run_hosts`` and ``result_items`` — after
    a scoring change, or for runs stored before the aggregates existed. Hosts go by in chunks of whole schools
    (one query of their results each), so memory is bounded by the chunk, not the run. Returns counts."""
    if run_ids is None:
        run_ids = [r for (r,) in conn.execute(select(_runs.c.id).order_by(_runs.c.id))]
    counts = {"runs": 0, "hosts": 0, "items": 0, "schools": 0}
    for t in TABLES:
        for i in range(0, len(run_ids), 500):
            conn.execute(delete(t).where(t.c.run_id.in_(run_ids[i:i + 500])))
    for run_id in run_ids:
        hosts = [dict(r) for r in conn.execute(select(_run_hosts).where(_run_hosts.c.run_id == run_id)
                                               .order_by(_run_hosts.c.school, _run_hosts.c.host_id)).mappings()]
        schools = []
        for chunk in _school_chunks(hosts):
            grouped: dict[str, list] = defaultdict(list)
            q = (select(_items.c.host_id, _items.c.check_id, _items.c.clause, _items.c.status, _items.c.severity,
                        _items.c.underlying)
                 .where(_items.c.run_id == run_id,
                        _items.c.host_id.in_([h["host_id"] for h in chunk if h["status"] == "audited"])))
            for r in conn.execute(q).mappings():
                grouped[r["host_id"]].append(r)
            out, tallies = [], {}
            for h in chunk:
                host = _Host(h)
                items, risks = (clause_items(host.level, host.host_id, grouped.get(host.host_id, ()))
                                if host.status == "audited" else ({}, 0))
                hrow, irows = _host_rows(run_id, host, items, risks)
                out.append((hrow, irows))
                tallies[host.host_id] = Tally().add(host.level, items, risks)
                counts["items"] += len(irows)
            write_hosts(conn, out)
            by_school: dict[str, list[dict]] = defaultdict(list)
            for h in chunk:
                by_school[h["school"]].append(h)
            rows = [school_row(run_id, s, hs, tallies) for s, hs in by_school.items()]
            bulk_insert(conn, schools_agg_t, rows)
            schools += [{k: r[k] for k in ("hosts", "audited", "rate", "high_risk")} for r in rows]
        conn.execute(insert(runs_agg_t), [run_row(run_id, schools)])
        counts["runs"] += 1
        counts["hosts"] += len(hosts)
        counts["schools"] += len(schools)
        if progress:
            progress(f"{run_id}: {len(hosts)} hosts, {len(schools)} schools")
    return counts


def _school_chunks(hosts: list[dict]):
    """Consecutive runs of ``hosts`` (ordered by school) of about CHUNK hosts, never splitting a school."""
    chunk: list[dict] = []
    for h in hosts:
        if len(chunk) >= CHUNK and h["school"] != chunk[-1]["school"]:
            yield chunk
            chunk = []
        chunk.append(h)
    if chunk:
        yield chunk
