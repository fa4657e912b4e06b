"""Writing hosts and their results in bulk, inside a transaction the caller owns.

``write_hosts(conn, run_id, hosts)`` is the one place rows of ``run_hosts``, ``results`` and
``result_items`` are written: ``Store.save_host`` (one host of a running audit) and ``Store.import_run``
(every host of an imported bundle) both call it inside their own transaction, so whatever else that
transaction writes (the bundle record, aggregates computed at ingest) commits or rolls back with
the rows. On PostgreSQL the results and items go through ``COPY … FROM STDIN`` (psycopg 3
``cursor.copy``), on SQLite through one ``executemany`` per table; the few host rows through an
ordinary insert. Nothing here commits.

A results row stores ``refs``, ``title``, ``message``, ``remediation`` and ``exceptions`` as JSON text,
exactly as ``json.dumps(value, ensure_ascii=False)`` writes it; the same value recurs on every host
of a run (one check, one title), so each distinct value is encoded once per process (a bounded memo kept
across calls: a live run saves its hosts one call at a time).
"""
from __future__ import annotations

import json

from sqlalchemy import column, insert, table

# The standard every result_items clause belongs to (``audits.store.database`` re-exports it); the
# table and column names below are those of ``audits.store.database`` (which imports this module).
STANDARD = "GB/T 22239-2019 "
HOSTS, RESULTS, ITEMS = "run_hosts", "results", "result_items"

RESULT_COLUMNS = ("run_id", "host_id", "check_id", "status", "severity", "refs", "title", "message", "remediation",
                  "evidence", "evaluated_at", "underlying", "exceptions")
ITEM_COLUMNS = ("run_id", "host_id", "check_id", "clause", "status", "severity", "underlying")


class _Encoder:
    """json.dumps(value, ensure_ascii=False) of the small JSON values of results (a {zh, en} text, a list
    of references), each distinct value encoded once. Only values made of strings are remembered (a
    string never equals a number, so a hit is exact where 1 == True would not be); a dict's key keeps
    the order of its keys, which the text keeps too. At most ``limit`` values of each kind are remembered
    (past it the memo starts again: per-host messages must not grow it without bound)."""

    def __init__(self, limit: int = 20_000):
        self.dicts: dict = {}
        self.lists: dict = {}
        self.limit = limit

    def bound(self) -> None:
        """Forget everything once either memo holds ``limit`` values (called between hosts)."""
        if len(self.dicts) >= self.limit or len(self.lists) >= self.limit:
            self.dicts, self.lists = {}, {}

    def text(self, value) -> str:
        if type(value) is dict:
            key = tuple(value.items())
            try:
                out = self.dicts.get(key)
            except TypeError:  # an unhashable value inside
                return json.dumps(value, ensure_ascii=False)
            if out is None:
                out = json.dumps(value, ensure_ascii=False)
                if all(type(v) is str for v in value.values()):
                    self.dicts[key] = out
            return out
        return json.dumps(value, ensure_ascii=False)

    def refs(self, refs) -> tuple[list, str]:
        if type(refs) is list:
            key = tuple(refs)
            try:
                out = self.lists.get(key)
            except TypeError:
                return refs, json.dumps(refs, ensure_ascii=False)
            if out is None:
                out = json.dumps(refs, ensure_ascii=False)
                if all(type(v) is str for v in refs):
                    self.lists[key] = out
            return refs, out
        return (json.loads(refs) if isinstance(refs, str) else refs), json.dumps(refs, ensure_ascii=False)


_ENCODER = _Encoder()   # shared by every call (and thread: a miss after another thread's reset is only a miss)


def rows_of(run_id: str, hosts) -> tuple[list[dict], list[tuple], list[tuple]]:
    """(host rows, results rows, result_items rows) of ``hosts`` ([(HostRecord, [result dict])]), as
    tuples in RESULT_COLUMNS / ITEM_COLUMNS order. result_items holds one row per (result, clause of
    GB/T 22239-2019 it cites); a clause cited twice by one check on one host is one row (the last)."""
    enc = _ENCODER
    text, refs_of = enc.text, enc.refs
    host_rows, results, items = [], [], []
    add, cut = results.append, len(STANDARD)
    for rec, host_results in hosts:
        enc.bound()
        dicts = enc.dicts
        row = dict(rec.__dict__, run_id=run_id,
                   systems=json.dumps(rec.systems, ensure_ascii=False) if rec.systems is not None else None)
        host_rows.append(row)
        host_id = rec.host_id
        seen: dict = {}
        for r in host_results:
            refs, refs_text = refs_of(r["refs"])
            exceptions = r.get("exceptions")
            underlying = r.get("underlying")
            check_id, status, severity = r["check_id"], r["status"], r["severity"]
            t, m, x = r["title"], r["message"], r["remediation"]
            try:  # the common case inline: each text already encoded for an earlier host
                tt, mt, xt = dicts[tuple(t.items())], dicts[tuple(m.items())], dicts[tuple(x.items())]
            except (KeyError, TypeError, AttributeError):
                tt, mt, xt = text(t), text(m), text(x)
            add((run_id, host_id, check_id, status, severity, refs_text, tt, mt, xt, r["evidence"], r["evaluated_at"],
                 underlying, json.dumps(exceptions, ensure_ascii=False) if exceptions else None))
            for ref in refs:
                if ref.startswith(STANDARD):
                    seen[(check_id, ref[cut:])] = (run_id, host_id, check_id, ref[cut:], status, severity, underlying)
        items.extend(seen.values())
    return host_rows, results, items


def write_hosts(conn, run_id: str, hosts, rows=None) -> list[tuple[object, list[dict]]]:
    """Insert ``hosts`` ([(HostRecord, [result dict])]) of run ``run_id`` and all their results and
    result_items through ``conn`` (a SQLAlchemy Connection in a transaction the caller commits).
    ``rows``: ``rows_of(run_id, hosts)`` if the caller already has them. Returns [(HostRecord, its
    result_items rows as dicts)], the input of ``aggregates.after_host``/``after_run``."""
    host_rows, results, items = rows if rows is not None else rows_of(run_id, hosts)
    if host_rows:
        conn.execute(insert(table(HOSTS, *map(column, host_rows[0]))), host_rows)
    if conn.dialect.name == "postgresql":
        _copy(conn, RESULTS, RESULT_COLUMNS, results)
        _copy(conn, ITEMS, ITEM_COLUMNS, items)
    else:
        _executemany(conn, RESULTS, RESULT_COLUMNS, results)
        _executemany(conn, ITEMS, ITEM_COLUMNS, items)
    by_host: dict = {}
    for item in items:  # contiguous per host, in the hosts' order
        by_host.setdefault(item[1], []).append(dict(zip(ITEM_COLUMNS, item)))
    return [(rec, by_host.get(rec.host_id, [])) for rec, _ in hosts]


def _copy(conn, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
    if not rows:
        return
    import psycopg

    from sqlalchemy.exc import IntegrityError

    # binary COPY: every column written here is text (VARCHAR/TEXT), so each value goes as its UTF-8
    # bytes, with no escaping on our side nor unescaping on the server's
    statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)"
    raw = conn.connection.driver_connection  # the psycopg 3 connection, inside SQLAlchemy's transaction
    try:
        with raw.cursor() as cur, cur.copy(statement) as copy:
            copy.set_types(["text"] * len(columns))
            for row in rows:
                copy.write_row(row)
    except psycopg.IntegrityError as exc:  # as SQLAlchemy would raise it: callers detect races by this class
        raise IntegrityError(statement, None, exc) from None


def _executemany(conn, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
    if rows:
        conn.exec_driver_sql(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                             rows)
