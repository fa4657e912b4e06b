"""The results store: SQLite by default, any SQLAlchemy URL (PostgreSQL) on the same code path.

Runs are append-only: a run row, one row per audited host written as soon as that host is done,
and one row per check result. Saving a host is idempotent per (run, host): a second save of the same
host (a collector task delivered twice) is ignored, so nothing is ever doubled. Each result's MLPS
clauses are also written to ``result_items`` (one row per result and clause), the input of the SQL
roll-ups in ``reports/rollup_sql.py``. The only update is a run's finish (status, finished_at). Results
carry the check's titles, references and remediation as they were, so any stored run can be
re-rendered after the check library has changed. The schema is versioned; migrations run forward
on open and a database newer than this program is refused. The aggregates every bureau view reads
(``audits/store/aggregates.py``, migration 19) are written in the same transaction as each saved host,
imported run and finished run.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import (Column, Float, ForeignKey, Index, Integer, MetaData, String, Table, Text, create_engine,
                        func, insert, select, update)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.engine import Engine

from audits.model.clock import now
from audits.store import aggregates
from audits.store.bulk import STANDARD, write_hosts  # noqa: F401 (STANDARD: re-exported)

metadata = MetaData()
# A run's id: the runner's ``20261202T060656Z-82dee5``, or the bureau's ``RUN_ID@SCHOOL`` for an
# imported school bundle (both ids up to 64 characters: a run id is unique only with its school).
RUN_ID_LENGTH = 160

meta_t = Table("auditctl_meta", metadata, Column("key", String(64), primary_key=True), Column("value", Text))
runs_t = Table(
    "runs", metadata,
    Column("id", String(RUN_ID_LENGTH), primary_key=True),
    # Order of creation in this store: wall clocks on campus machines are unreliable and two runs can
    # start in the same second, so "the previous run" is decided by seq, never by started_at.
    Column("seq", Integer, nullable=False, unique=True),
    Column("started_at", String(40), nullable=False),
    Column("finished_at", String(40)),
    Column("status", String(20), nullable=False),  # running | completed | incomplete | interrupted
    Column("scope", Text, nullable=False),  # JSON: inventory, plan, limit, packs, params, bureau
    Column("tool_version", String(40), nullable=False),
)
hosts_t = Table(
    "run_hosts", metadata,
    Column("run_id", String(RUN_ID_LENGTH), ForeignKey("runs.id"), primary_key=True),
    Column("host_id", String(64), primary_key=True),
    Column("address", String(255), nullable=False),
    Column("school", String(64), nullable=False),
    Column("district", String(64), nullable=False),
    Column("city", String(64)),  # migration 6: the district's city (bureau roll-ups); None in older runs
    Column("level", Integer),
    Column("os_family", String(20)),
    Column("status", String(20), nullable=False),  # audited | unreachable
    Column("reason", String(40)),
    Column("detail", Text),
    Column("started_at", String(40)),
    Column("finished_at", String(40)),
    Column("duration", Float),
    # v2: names and systems as the inventory said at audit time, for reports and bureau roll-ups
    Column("name", Text),
    Column("school_name", Text),
    Column("district_name", Text),
    Column("systems", Text),  # JSON list of {id, name, level}
)
results_t = Table(
    "results", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(RUN_ID_LENGTH), ForeignKey("runs.id"), nullable=False),
    Column("host_id", String(64), nullable=False),
    Column("check_id", String(128), nullable=False),
    Column("status", String(20), nullable=False),
    Column("severity", String(10), nullable=False),
    Column("refs", Text, nullable=False),  # JSON list of "GB/T 22239-2019 8.1.4.1 a"
    Column("title", Text, nullable=False),  # JSON {zh, en}
    Column("message", Text, nullable=False),  # JSON {zh, en}
    Column("remediation", Text, nullable=False),  # JSON {zh, en}
    Column("evidence", Text, nullable=False),
    Column("evaluated_at", String(40), nullable=False),
    Column("underlying", String(20)),  # the real outcome under a waiver/attestation (status shows the answer)
    Column("exceptions", Text),  # JSON list of the waivers/attestations that applied (kept when expired too)
)
Index("ix_results_run_host", results_t.c.run_id, results_t.c.host_id)
# One row per (result, GB/T 22239-2019 clause it cites), written with the result: SQL roll-ups group
# these instead of parsing the refs JSON of every result. Results are never mutated, so the copy of
# status/severity/underlying cannot drift.
items_t = Table(
    "result_items", metadata,
    Column("run_id", String(RUN_ID_LENGTH), ForeignKey("runs.id"), primary_key=True),
    Column("host_id", String(64), primary_key=True),
    Column("check_id", String(128), primary_key=True),
    Column("clause", String(32), primary_key=True),  # '8.1.4.1 a' (the clause at the host's level)
    Column("status", String(20), nullable=False),
    Column("severity", String(10), nullable=False),
    Column("underlying", String(20)),
)
Index("ix_result_items_clause", items_t.c.clause, items_t.c.status)


def result_item_rows(run_id: str, host_id: str, results: list[dict]) -> list[dict]:
    """The result_items rows of one host's results (refs as a list or as its stored JSON text)."""
    rows = {}
    for r in results:
        refs = json.loads(r["refs"]) if isinstance(r["refs"], str) else r["refs"]
        for ref in refs:
            if ref.startswith(STANDARD):
                rows[(r["check_id"], ref[len(STANDARD):])] = {
                    "run_id": run_id, "host_id": host_id, "check_id": r["check_id"], "clause": ref[len(STANDARD):],
                    "status": r["status"], "severity": r["severity"], "underlying": r.get("underlying")}
    return list(rows.values())


def _add_missing_columns(table: Table, names: tuple[str, ...]):
    """A migration step: ALTER TABLE … ADD COLUMN for each of ``names`` the table lacks (a store
    created by an older version); a fresh store already has them from the table definition."""
    def step(conn):
        from sqlalchemy import inspect

        have = {c["name"] for c in inspect(conn).get_columns(table.name)}
        for name in names:
            if name not in have:
                col = table.c[name]
                conn.exec_driver_sql(f"ALTER TABLE {table.name} ADD COLUMN {name} "
                                     f"{col.type.compile(dialect=conn.dialect)}")
    return step


def _backfill_result_items(conn):
    """Migration 6: result_items for the runs stored before it existed, one host at a time."""
    from itertools import groupby

    rows = conn.execute(select(results_t.c.run_id, results_t.c.host_id, results_t.c.check_id, results_t.c.status,
                               results_t.c.severity, results_t.c.underlying, results_t.c.refs)
                        .order_by(results_t.c.run_id, results_t.c.host_id)).mappings().all()
    for (run_id, host_id), group in groupby(rows, key=lambda r: (r["run_id"], r["host_id"])):
        have = conn.execute(select(func.count()).select_from(items_t).where(
            items_t.c.run_id == run_id, items_t.c.host_id == host_id)).scalar()
        items = [] if have else result_item_rows(run_id, host_id, list(group))
        if items:
            conn.execute(insert(items_t), items)


# Version -> steps (a Table is created if missing; a callable gets the connection). Every step is
# idempotent, so versions other branches add (3-5) can land in any order. Numbers may have gaps.
# The bureau's side of signed bundles (docs/bundles.md): the schools' registered public keys and every
# bundle imported, so a replayed bundle or a second bundle for the same run is recognised.
trusted_keys_t = Table(
    "trusted_keys", metadata,
    Column("key_id", String(64), primary_key=True),  # sha256 hex of the raw Ed25519 public key
    Column("school", String(64), nullable=False, index=True),
    Column("public_key", Text, nullable=False),  # PEM SubjectPublicKeyInfo
    Column("added_at", String(40), nullable=False),
    Column("revoked_at", String(40)),
)
imported_bundles_t = Table(
    "imported_bundles", metadata,
    Column("digest", String(64), primary_key=True),  # sha256 hex of the signed bytes
    Column("run_id", String(RUN_ID_LENGTH), ForeignKey("runs.id"), nullable=False, unique=True),  # RUN_ID@SCHOOL
    Column("school", String(64), nullable=False),
    Column("key_id", String(64), nullable=False),
    Column("imported_at", String(40), nullable=False),
)

def _widen_run_ids(conn):
    """Migration 18: run id columns wide enough for the bureau's ``RUN_ID@SCHOOL`` (PostgreSQL enforces
    VARCHAR lengths; SQLite does not, so there it is nothing to do)."""
    if conn.dialect.name != "postgresql":
        return
    for table, column in (("runs", "id"), ("run_hosts", "run_id"), ("results", "run_id"),
                          ("result_items", "run_id"), ("imported_bundles", "run_id")):
        conn.exec_driver_sql(f"ALTER TABLE {table} ALTER COLUMN {column} TYPE VARCHAR({RUN_ID_LENGTH})")


def _build_aggregates(conn):
    """Migration 19: the aggregates of the runs stored before it (none in a fresh store)."""
    if conn.execute(select(runs_t.c.id).limit(1)).first():
        aggregates.rebuild(conn)


MIGRATIONS = {1: [runs_t, hosts_t, results_t],
              2: [_add_missing_columns(hosts_t, ("name", "school_name", "district_name", "systems"))],
              3: [trusted_keys_t, imported_bundles_t],  # signed bundles
              6: [_add_missing_columns(hosts_t, ("city",)), items_t, _backfill_result_items],
              18: [_widen_run_ids],  # issue #18: imported runs are RUN_ID@SCHOOL
              19: [*aggregates.TABLES, _build_aggregates]}  # issue #21: aggregates at ingest
SCHEMA_VERSION = max(MIGRATIONS)


def _next_seq(conn) -> int:
    """The next run's ``seq`` (unique: a concurrent writer that took the same number fails the insert,
    and the caller retries)."""
    return (conn.execute(select(func.max(runs_t.c.seq))).scalar() or 0) + 1


class StoreError(Exception):
    pass


def default_url() -> str:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return f"sqlite:///{os.path.join(base, 'auditctl', 'results.db')}"


def normalise_url(url: str | None) -> str:
    if not url:
        url = default_url()
    if "://" not in url:  # a plain path means an SQLite file
        url = f"sqlite:///{os.path.abspath(url)}"
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    return url


@dataclass
class HostRecord:
    host_id: str
    address: str
    school: str
    district: str
    level: int | None
    os_family: str
    status: str
    reason: str | None
    detail: str
    started_at: str
    finished_at: str
    duration: float
    name: str | None = None
    school_name: str | None = None
    district_name: str | None = None
    systems: list[dict] | None = None  # [{id, name, level}]
    city: str | None = None


class Store:
    def __init__(self, url: str | None = None):
        self.url = normalise_url(url)
        self._refs_cache: dict[str, list[str]] = {}
        try:
            self.engine: Engine = create_engine(self.url, future=True)
            if self.url.startswith("sqlite"):
                from sqlalchemy import event

                @event.listens_for(self.engine, "connect")
                def _pragmas(conn, _):
                    cur = conn.cursor()
                    cur.execute("PRAGMA journal_mode=WAL")
                    cur.execute("PRAGMA busy_timeout=10000")
                    cur.close()
            self.migrate()
        except StoreError:
            raise
        except Exception as exc:
            raise StoreError(f"cannot open results store {redact(self.url)}: {type(exc).__name__}: "
                             f"{str(exc).splitlines()[0][:200]}") from None

    # -- schema ---------------------------------------------------------------------------------
    def version(self, conn) -> int:
        meta_t.create(conn, checkfirst=True)
        row = conn.execute(select(meta_t.c.value).where(meta_t.c.key == "schema_version")).first()
        return int(row[0]) if row else 0

    def migrate(self) -> None:
        """Bring the schema to this version. Another process may be creating the same fresh store at
        the same moment (a scheduled run and a reader): a "table already exists" or duplicate-key error
        from that race is retried, and the retry sees the other process's tables."""
        import time

        from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

        for attempt in range(6):
            try:
                return self._migrate_once()
            except (OperationalError, ProgrammingError, IntegrityError) as exc:
                text = str(exc).lower()
                if attempt == 5 or not ("already exists" in text or "duplicate" in text or "unique" in text):
                    raise
                time.sleep(0.05 * (attempt + 1))

    def _migrate_once(self) -> None:
        """Apply every migration this store lacks. Applied numbers are recorded (``migrations``), so
        migrations merged from parallel work in any order (2, 3, 6, …) are each applied once even when
        a store already has a higher number; a store without the record has 1..schema_version."""
        with self.engine.begin() as conn:
            have = self.version(conn)
            if have > SCHEMA_VERSION:
                raise StoreError(f"results store {redact(self.url)} has schema v{have}, newer than this auditctl "
                                 f"(v{SCHEMA_VERSION}); upgrade auditctl")
            row = conn.execute(select(meta_t.c.value).where(meta_t.c.key == "migrations")).first()
            upto = set(range(1, have + 1))
            applied = {int(v) for v in row[0].split(",") if v} & upto if row else upto & set(MIGRATIONS)
            if applied - set(MIGRATIONS):
                raise StoreError(f"results store {redact(self.url)} has migrations this auditctl does not know "
                                 f"({sorted(applied - set(MIGRATIONS))}); upgrade auditctl")
            missing = sorted(set(MIGRATIONS) - applied)
            for v in missing:
                for step in MIGRATIONS[v]:
                    if isinstance(step, Table):
                        step.create(conn, checkfirst=True)
                    else:
                        step(conn)
            for table in (results_t, items_t):
                for ix in table.indexes:
                    ix.create(conn, checkfirst=True)
            for key, value in (("schema_version", str(SCHEMA_VERSION)),
                               ("migrations", ",".join(map(str, sorted(applied | set(MIGRATIONS)))))):
                if conn.execute(select(meta_t.c.key).where(meta_t.c.key == key)).first():
                    if missing or have < SCHEMA_VERSION:
                        conn.execute(update(meta_t).where(meta_t.c.key == key).values(value=value))
                else:
                    conn.execute(insert(meta_t).values(key=key, value=value))

    # -- writing --------------------------------------------------------------------------------
    def create_run(self, run_id: str, scope: dict, tool_version: str, started_at: str | None = None) -> None:
        """A new run row; ``started_at`` defaults to now (an imported run keeps its own)."""
        for attempt in range(20):  # seq is unique: a concurrent writer that took the same number makes us retry
            try:
                with self.engine.begin() as conn:
                    conn.execute(insert(runs_t).values(id=run_id, seq=_next_seq(conn), started_at=started_at or now(), status="running",
                                                       scope=json.dumps(scope, ensure_ascii=False, sort_keys=True),
                                                       tool_version=tool_version))
                return
            except IntegrityError:
                if attempt == 19 or self.has_run(run_id):
                    raise

    def has_run(self, run_id: str) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(select(runs_t.c.id).where(runs_t.c.id == run_id)).first() is not None

    def save_host(self, run_id: str, rec: HostRecord, results: list[dict]) -> bool:
        """One host's row and all its results, in one transaction (a host is saved whole or not at all).
        Idempotent: if the host is already saved in this run (a task delivered twice, a retry), nothing
        is written and False is returned; the first save wins."""
        try:
            with self.engine.begin() as conn:
                if conn.execute(select(hosts_t.c.host_id).where(hosts_t.c.run_id == run_id,
                                                                hosts_t.c.host_id == rec.host_id)).first():
                    return False
                items = self._insert_host(conn, run_id, rec, results)
                aggregates.after_host(conn, run_id, rec, items)
            return True
        except IntegrityError:  # a concurrent save of the same host won the race
            if self._has_host(run_id, rec.host_id):
                return False
            raise

    def _has_host(self, run_id: str, host_id: str) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(select(hosts_t.c.host_id).where(hosts_t.c.run_id == run_id,
                                                                hosts_t.c.host_id == host_id)).first() is not None

    def _insert_host(self, conn, run_id: str, rec: HostRecord, results: list[dict]) -> list[dict]:
        """The host's row, its results and their result_items (returned: the input of its aggregates)."""
        return write_hosts(conn, run_id, [(rec, results)])[0][1]

    def import_run(self, run: dict, hosts: list[tuple[HostRecord, list[dict]]], bundle: dict, rows=None) -> bool:
        """Store a verified bundle's run (``run``: id, started_at, finished_at, status, scope, tool_version),
        its hosts and results and the ``bundle`` record (digest, school, key_id) in ONE transaction.
        Returns False, storing nothing, when this bundle was already imported (a concurrent import won).
        ``rows``: ``bulk.rows_of(run["id"], hosts)`` when the caller has already built (and checked) them."""
        for attempt in range(20):
            try:
                with self.engine.begin() as conn:
                    if conn.execute(select(imported_bundles_t.c.digest)
                                    .where(imported_bundles_t.c.digest == bundle["digest"])).first():
                        return False
                    conn.execute(insert(runs_t).values(
                        seq=_next_seq(conn), **{**run, "scope": json.dumps(run["scope"], ensure_ascii=False, sort_keys=True)}))
                    stored = write_hosts(conn, run["id"], hosts, rows)  # bulk: COPY / executemany
                    aggregates.after_run(conn, run["id"], stored)
                    conn.execute(insert(imported_bundles_t).values(run_id=run["id"], imported_at=now(), **bundle))
                return True
            except IntegrityError:
                if attempt == 19 or self.has_run(run["id"]):
                    raise

    def imported_bundle(self, digest: str | None = None, run_id: str | None = None) -> dict | None:
        """The import record of a bundle, by its digest or by the run it carried."""
        q = select(imported_bundles_t)
        q = q.where(imported_bundles_t.c.digest == digest) if digest else q.where(imported_bundles_t.c.run_id == run_id)
        with self.engine.connect() as conn:
            row = conn.execute(q).mappings().first()
        return dict(row) if row else None

    # -- trusted school keys (bureau) ------------------------------------------------------------
    def trust_key(self, school: str, key_id: str, public_pem: str) -> str:
        """Register a school's public key. Returns 'added' or 'already trusted'; a key registered for
        another school, or revoked, is refused (StoreError)."""
        with self.engine.begin() as conn:
            row = conn.execute(select(trusted_keys_t).where(trusted_keys_t.c.key_id == key_id)).mappings().first()
            if row:
                if row["school"] != school:
                    raise StoreError(f"key {key_id[:16]} is already registered for school '{row['school']}'")
                if row["revoked_at"]:
                    raise StoreError(f"key {key_id[:16]} of school '{school}' was revoked on {row['revoked_at']}; "
                                     "a revoked key cannot be trusted again")
                return "already trusted"
            conn.execute(insert(trusted_keys_t).values(key_id=key_id, school=school, public_key=public_pem,
                                                       added_at=now()))
        return "added"

    def revoke_keys(self, school_or_key: str) -> list[str]:
        """Revoke every active key of a school, or one key by its id (or a unique prefix of 8+ characters)."""
        with self.engine.begin() as conn:
            active = conn.execute(select(trusted_keys_t.c.key_id, trusted_keys_t.c.school)
                                  .where(trusted_keys_t.c.revoked_at.is_(None))).all()
            ids = [k for k, s in active if s == school_or_key]
            if not ids and len(school_or_key) >= 8:
                ids = [k for k, _ in active if k.startswith(school_or_key.lower())]
                if len(ids) > 1:
                    raise StoreError(f"'{school_or_key}' matches {len(ids)} keys; give more of the key id")
            if ids:
                conn.execute(update(trusted_keys_t).where(trusted_keys_t.c.key_id.in_(ids)).values(revoked_at=now()))
        return ids

    def trusted_keys(self) -> list[dict]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(trusted_keys_t).order_by(trusted_keys_t.c.school, trusted_keys_t.c.added_at))
            return [dict(r) for r in rows.mappings()]

    def trusted_key(self, key_id: str) -> dict | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(trusted_keys_t).where(trusted_keys_t.c.key_id == key_id)).mappings().first()
        return dict(row) if row else None

    def finish_run(self, run_id: str, status: str) -> None:
        """A run's end: its status, and its totals in ``agg_runs`` (its hosts' and schools' aggregates were
        written as each host was saved)."""
        with self.engine.begin() as conn:
            conn.execute(update(runs_t).where(runs_t.c.id == run_id).values(status=status, finished_at=now()))
            aggregates.refresh_run(conn, run_id)

    def rebuild_aggregates(self, run_ids: list[str] | None = None, progress=None) -> dict:
        """Recompute the aggregates of the given runs (default: every run) from their raw results, in one
        transaction (``audits.store.aggregates.rebuild``): after a change of the scoring rules."""
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql("SET LOCAL work_mem = '256MB'")
                # the statements run once over millions of rows: compiling them costs seconds (2 s of a province's
                # judging step) and gains less
                conn.exec_driver_sql("SET LOCAL jit = off")
            if run_ids is not None:
                known = {r for (r,) in conn.execute(select(runs_t.c.id).where(runs_t.c.id.in_(run_ids)))}
                if set(run_ids) - known:
                    raise StoreError(f"no run {sorted(set(run_ids) - known)[0]!r} in {redact(self.url)}")
            return aggregates.rebuild(conn, run_ids, progress)

    def reopen_run(self, run_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(runs_t).where(runs_t.c.id == run_id).values(status="running", finished_at=None))

    # -- reading --------------------------------------------------------------------------------
    def run(self, run_id: str) -> dict:
        with self.engine.connect() as conn:
            row = conn.execute(select(runs_t).where(runs_t.c.id == run_id)).mappings().first()
        if not row:
            raise StoreError(f"no run '{run_id}' in {redact(self.url)}")
        d = dict(row)
        d["scope"] = json.loads(d["scope"])
        return d

    def runs(self, limit: int | None = 50, order: str = "seq") -> list[dict]:
        """Stored runs, newest first: by ``seq`` (the order this store made them: a local history), or
        with ``order="started"`` by the runs' own start time, ties broken by run id (the bureau: a run
        imported late is not newer for it)."""
        keys = ((runs_t.c.seq.desc(),) if order == "seq" else (runs_t.c.started_at.desc(), runs_t.c.id.desc()))
        with self.engine.connect() as conn:
            rows = conn.execute(select(runs_t).order_by(*keys).limit(limit)).mappings().all()
        return [{**r, "scope": json.loads(r["scope"])} for r in rows]

    def latest_runs_query(self):
        """SQL: (school, run_id) of each school's latest finished run — the latest by the run's start
        time, ties broken by the larger run id — whatever order the runs were stored or imported in."""
        pairs = (select(hosts_t.c.school, runs_t.c.id.label("run_id"), runs_t.c.started_at)
                 .select_from(hosts_t.join(runs_t, runs_t.c.id == hosts_t.c.run_id))
                 .where(runs_t.c.status != "running").distinct().subquery("pairs"))
        ranked = select(pairs.c.school, pairs.c.run_id, func.row_number().over(
            partition_by=pairs.c.school, order_by=(pairs.c.started_at.desc(), pairs.c.run_id.desc())).label("n")
        ).subquery("ranked")
        return select(ranked.c.school, ranked.c.run_id).where(ranked.c.n == 1)

    def latest_runs(self) -> dict[str, str]:
        """school -> the id of its latest finished run (``latest_runs_query``)."""
        with self.engine.connect() as conn:
            return dict(conn.execute(self.latest_runs_query()).all())

    def hosts(self, run_id: str) -> list[HostRecord]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(hosts_t).where(hosts_t.c.run_id == run_id).order_by(hosts_t.c.host_id)).mappings()
            return [HostRecord(**{k: (json.loads(v) if k == "systems" and v else v)
                                  for k, v in r.items() if k != "run_id"}) for r in rows]

    def results(self, run_id: str) -> dict[str, list[dict]]:
        out: dict[str, list[dict]] = {}
        seen: dict[str, dict | list] = {}

        def decoded(text: str):
            # the same title, reference list or message recurs on every host: each distinct text is decoded
            # once; a {lang: text} or a list of strings is kept and every row gets its own copy of it
            value = seen.get(text)
            if value is None:
                value = json.loads(text)
                kind = type(value)
                if not ((kind is dict and all(type(v) is str for v in value.values()))
                        or (kind is list and all(type(v) is str for v in value))):
                    return value
                seen[text] = value
            return dict(value) if type(value) is dict else list(value)

        with self.engine.connect() as conn:
            rows = conn.execute(select(results_t).where(results_t.c.run_id == run_id)
                                .order_by(results_t.c.host_id, results_t.c.check_id)).mappings()
            for r in rows:
                d = dict(r)
                for k in ("refs", "title", "message", "remediation"):
                    d[k] = decoded(d[k])
                d["exceptions"] = json.loads(d["exceptions"]) if d["exceptions"] else []
                out.setdefault(d["host_id"], []).append(d)
        return out

    def statuses(self, run_id: str) -> list[tuple[str, str, str, str]]:
        """(host_id, check_id, status, severity) of every result of a run, in ``results``' order: what a
        run's outcome counts, without decoding the texts of each result."""
        with self.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(
                select(results_t.c.host_id, results_t.c.check_id, results_t.c.status, results_t.c.severity)
                .where(results_t.c.run_id == run_id).order_by(results_t.c.host_id, results_t.c.check_id))]

    def scoring_rows(self, run_id: str) -> dict[str, list[dict]]:
        """Per host, only what scoring reads (check_id, status, severity, references, underlying): the
        bureau view reads every stored run, so titles, messages and evidence are left in the database."""
        out: dict[str, list[dict]] = {}
        refs_of = self._refs_cache  # the same JSON text recurs on every host and run: parse it once
        if len(refs_of) > 50_000:
            refs_of.clear()
        cols = (results_t.c.host_id, results_t.c.check_id, results_t.c.status, results_t.c.severity,
                results_t.c.refs, results_t.c.underlying)
        with self.engine.connect() as conn:
            for host_id, check_id, status, severity, refs, underlying in conn.execute(
                    select(*cols).where(results_t.c.run_id == run_id)).all():
                parsed = refs_of.get(refs)
                if parsed is None:
                    parsed = refs_of[refs] = json.loads(refs)
                out.setdefault(host_id, []).append({"check_id": check_id, "status": status, "severity": severity,
                                                    "references": parsed, "underlying": underlying})
        return out


def redact(url: str) -> str:
    """A store URL without its password, for messages."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "(store)"
