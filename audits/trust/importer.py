"""The bureau's side of signed bundles: verify a received bundle and store its run, or refuse it.

Order of checks (each refusal names the file and the field; nothing is stored): size (before
reading), JSON shape, numbers, surrogates, NULs and string lengths (before any database work);
signed bytes already imported are skipped here (they passed every check when imported; the store is
unchanged); the signer's key is registered, not revoked and registered for the school the bundle
claims; the Ed25519 signature over the signed bytes; the body against the published run-document
schema; the run id and every id that becomes a file name or a key (run, host, school, district,
system) against the rule they were created under; every host's school, district, city and names
against the bureau's own inventory (identity comes from the bureau, never from the bundle); waivers
and attestations complete; every row against the store's column limits. Control characters in the
body's text are cleaned again (a bundle need not come from our collector). A run is stored under the
bureau-side id ``RUN_ID@SCHOOL``: a run id is unique only together with its school, so each school of
a multi-school run imports its own bundle and no school can take another school's run id.
The run, hosts, results and the import record are written in one transaction (``audits.store.bulk``).

Speed (issue #21): each check is made once, in C where a library does it exactly (the schema by
``bodytypes``, the canonical bytes by msgspec), and a bundle whose text is ``fmt.plain_text`` (no
escape, no control or bidi character: nothing to refuse or clean in its strings) skips the walks over
every string; the length of its results' strings is then bounded by the JSON columns that hold them
(``_tuples_fit``), so such a string is refused with the column limits rather than before the key
checks. The garbage collector is paused while a bundle is imported.
"""
from __future__ import annotations

import gc
import json
import math
import re
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from sqlalchemy import Float, Integer, String
from sqlalchemy.exc import IntegrityError

from audits.model.errors import InputError, Problem
from audits.model.inventory import IDENTIFIER
from audits.model.yamlsafe import TooLarge, read_capped
from audits.store import bulk
from audits.trust import bodytypes, bundle as fmt
from audits.trust.signing import verify
from audits.store.database import (STANDARD, HostRecord, Store, hosts_t, imported_bundles_t, items_t,
                                   result_item_rows, results_t, runs_t)

# Text the collector would never have kept (script._text): C0 except tab/newline/CR, DEL, C1, and the
# bidirectional overrides and line separators that reorder what a terminal or a page shows.
_CONTROL = re.compile(r"[\x01-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
IDENTITY_FIELDS = ("district", "city", "school_name", "district_name")


def stored_run_id(run_id: str, school: str) -> str:
    """The bureau's id of a school's imported run: a run id is unique only together with its school."""
    return f"{run_id}@{school}"


def bureau_identity(inventory) -> dict[str, dict]:
    """school id -> what the bureau's inventory says it is: {district, city, school_name, district_name}
    exactly as the inventory loader gives them to the school's hosts and the runner stores them (the
    district's city, else the bureau's id; None for a name left empty)."""
    out = {}
    for sid, s in inventory.schools.items():
        d = inventory.districts.get(s.district)
        out[sid] = {"district": s.district, "city": ((d.city if d else "") or inventory.bureau_id or "bureau"),
                    "school_name": s.name or None, "district_name": (d.name if d else s.district) or None}
    return out



@dataclass
class Imported:
    source: str
    run_id: str
    school: str
    hosts: int
    results: int
    skipped: bool = False  # already imported: nothing changed
    imported_at: str | None = None


def _inline_refs(node, defs: dict, seen: tuple = ()):
    """The schema with its local ``#/$defs/NAME`` references replaced by their targets: the same meaning,
    and jsonschema validates a large body about twice as fast without resolving a reference per node.
    A recursive definition keeps its reference."""
    if isinstance(node, list):
        return [_inline_refs(v, defs, seen) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: _inline_refs(v, defs, seen) for k, v in node.items() if k != "$ref"}
    ref = node.get("$ref")
    if ref is None:
        return out
    name = ref.removeprefix("#/$defs/")
    if name == ref or name not in defs or name in seen:
        out["$ref"] = ref
        return out
    target = _inline_refs(defs[name], defs, seen + (name,))
    return {**out, "allOf": [target]} if out else target


@lru_cache(maxsize=1)
def _validator():
    import jsonschema

    schema = json.loads((resources.files("audits.trust") / "results.schema.json").read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(_inline_refs(schema, schema.get("$defs", {})))


def _limits(table) -> dict[str, int]:
    return {c.name: c.type.length for c in table.c if getattr(c.type, "length", None)}


HOST_FIELDS = {"id": "host_id", "address": "address", "school": "school", "district": "district",
               "os_family": "os_family", "reason": "reason", "city": "city"}
RESULT_FIELDS = {"check_id": "check_id", "status": "status", "severity": "severity"}


def schema_error(body) -> str | None:
    """The refusal of a body that does not match the run-document schema, or None. The compiled check
    (``bodytypes.fast_valid``, msgspec) answers for a valid body; anything it does not accept is judged
    and worded by jsonschema, as before, so the refusals are exactly jsonschema's."""
    if bodytypes.fast_valid(body):
        return None
    error = next(iter(sorted(_validator().iter_errors(body), key=lambda e: list(e.absolute_path))), None)
    if error is None:
        return None
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
    return f"does not match the run-document schema at body{where}: {error.message[:200]}"


def _long_result_string(results: list[dict], i: int) -> tuple[str, str] | None:
    """(field, reason) of the first string of host ``i``'s results (store form) longer than MAX_STRING."""
    for j, r in enumerate(results):
        found = fmt.bad_value({k: r[k] for k in ("check_id", "title", "message", "remediation", "evidence", "refs",
                                                 "exceptions") if k in r}, f"body.hosts[{i}].results[{j}]")
        if found:
            return found[0].replace(".refs", ".references"), found[1]
    return None


def _check_body(body: dict, claimed_school: str, run_id: str, refuse, identity: dict) -> None:
    """Everything the bureau requires of a body beyond its signature and its rows' column limits."""
    error = schema_error(body)
    if error is not None:
        refuse(error, "body")
    if body["run"]["id"] != run_id:
        refuse(f"run_id {run_id[:64]!r} differs from the body's run id {body['run']['id'][:64]!r}", "run_id")
    if body["run"]["status"] == "running":
        refuse("the run is still running; bundle it when it has finished", "body.run.status")
    if not body["hosts"]:
        refuse("the bundle has no hosts", "body.hosts")
    host_limits, result_limits = _limits(hosts_t), _limits(results_t)
    cid_cap, status_cap, severity_cap = (result_limits[RESULT_FIELDS[f]] for f in ("check_id", "status", "severity"))
    clause_cap = items_t.c.clause.type.length + len(STANDARD)
    seen = set()
    for i, h in enumerate(body["hosts"]):
        if h["school"] != claimed_school:
            refuse(f"host {h['id'][:64]!r} belongs to school {h['school'][:64]!r}, not to the signer's school "
                   f"{claimed_school!r}", f"body.hosts[{i}].school")
        if not IDENTIFIER.match(h["id"]):
            refuse(f"{h['id'][:64]!r} is not a valid host id", f"body.hosts[{i}].id")
        for k, sys_ in enumerate(h.get("systems") or []):
            if not IDENTIFIER.match(sys_["id"]):
                refuse(f"{sys_['id'][:64]!r} is not a valid system id", f"body.hosts[{i}].systems[{k}].id")
        for field in IDENTITY_FIELDS:  # the bureau's word, not the school's
            claimed, known = h.get(field) or None, identity.get(field)
            if field == "district":
                claimed = h["district"]
            if claimed != known:
                refuse(f"the bundle says {str(claimed)[:64]!r}, the bureau's inventory says {known!r} for school "
                       f"{claimed_school!r}", f"body.hosts[{i}].{field}")
        if h["id"] in seen:
            refuse(f"host {h['id'][:64]!r} appears twice", f"body.hosts[{i}].id")
        seen.add(h["id"])
        for field, column in HOST_FIELDS.items():
            if isinstance(h.get(field), str) and len(h[field]) > host_limits[column]:
                refuse(f"longer than {host_limits[column]} characters", f"body.hosts[{i}].{field}")
        for j, r in enumerate(h["results"]):
            if len(r["check_id"]) > cid_cap or len(r["status"]) > status_cap or len(r["severity"]) > severity_cap:
                for field, column in RESULT_FIELDS.items():
                    if len(r[field]) > result_limits[column]:
                        refuse(f"longer than {result_limits[column]} characters",
                               f"body.hosts[{i}].results[{j}].{field}")
            for ref in r["references"]:
                if len(ref) > clause_cap and ref.startswith(STANDARD):
                    refuse(f"clause longer than {items_t.c.clause.type.length} characters",
                           f"body.hosts[{i}].results[{j}].references[{r['references'].index(ref)}]")
            exceptions = r.get("exceptions")
            for k, e in enumerate(exceptions or ()):  # what the report shows of each, present
                need = ("reason", "approver") if e["kind"] == "waiver" else ("document", "by")
                for field in need:
                    if not isinstance(e.get(field), str) or not e[field].strip():
                        refuse(f"a {e['kind']} must carry its {field}",
                               f"body.hosts[{i}].results[{j}].exceptions[{k}].{field}")
                if e["kind"] == "attestation" and not (e.get("date") is None or isinstance(e.get("date"), str)):
                    refuse("must be a date or null", f"body.hosts[{i}].results[{j}].exceptions[{k}].date")
    if len(body["tool"]["version"]) > 40:
        refuse("longer than 40 characters", "body.tool.version")


def _rows(body: dict, run_id: str) -> tuple[dict, list[tuple[HostRecord, list[dict]]]]:
    """The store rows of a run document, as the runner and ``Store.save_host`` write them, so an
    imported run reads back (``reports.document.run_document``) exactly as the school's own, under
    the bureau's ``run_id``."""
    run = body["run"]
    scope = {k: run.get(k) for k in ("inventory", "plan", "limit", "bureau", "bureau_name")}
    scope["packs"] = run.get("packs", [])
    run_row = {"id": run_id, "started_at": run["started_at"], "finished_at": run["finished_at"],
               "status": run["status"], "scope": scope, "tool_version": body["tool"]["version"]}
    hosts = []
    for h in body["hosts"]:
        rec = HostRecord(h["id"], h["address"], h["school"], h["district"], h["level"], h["os_family"] or "",
                         h["status"], h["reason"], h["detail"] or "", h["started_at"], h["finished_at"],
                         h["duration_seconds"], name=h.get("name"), school_name=h.get("school_name"),
                         district_name=h.get("district_name"), systems=h.get("systems") or None,
                         city=h.get("city"))
        evaluated = h["finished_at"]  # the document does not carry per-result times; the host's end is the bound
        results = [{"check_id": r["check_id"], "status": r["status"], "severity": r["severity"],
                    "refs": r["references"], "title": r["title"], "message": r["message"],
                    "remediation": r["remediation"], "evidence": r["evidence"], "evaluated_at": evaluated,
                    "underlying": r.get("underlying"), "exceptions": r.get("exceptions") or []}
                   for r in h["results"]]
        hosts.append((rec, results))
    return run_row, hosts


def _clean(value):
    """The body with control characters in every string (keys too) replaced by U+FFFD, as the collector
    cleans host output: imported text reaches terminals, CSV and JUnit like the school's own."""
    if isinstance(value, str):
        return _CONTROL.sub("\ufffd", value)
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, dict):
        return {_clean(k): _clean(v) for k, v in value.items()}
    return value


def _check_row(table, row: dict, where: str, refuse) -> None:
    for c in table.c:
        v = row.get(c.name)
        if v is None:
            continue
        if isinstance(c.type, String) and getattr(c.type, "length", None) and isinstance(v, str) \
                and len(v) > c.type.length:
            refuse(f"longer than {c.type.length} characters", f"{where}.{c.name}")
        if isinstance(c.type, Integer) and not isinstance(c.type, Float) and isinstance(v, int) \
                and abs(v) > fmt.MAX_INT:
            refuse("integer out of range", f"{where}.{c.name}")
        if isinstance(c.type, Float) and isinstance(v, float) and not math.isfinite(v):
            refuse("number out of range", f"{where}.{c.name}")


def _tuples_fit(table, columns: tuple[str, ...], rows: list[tuple]) -> bool:
    """True when every value of ``rows`` (tuples in ``columns`` order) fits its column, looked at column
    by column over all rows at once; False when one may not (the per-row check then names it). A
    text column's JSON is at most MAX_STRING characters, so no string inside it is longer (the part of
    ``fmt.bad_value`` that ``fmt.parse(strings=False)`` leaves to the importer)."""
    for n, name in enumerate(columns):
        t = table.c[name].type
        cap = getattr(t, "length", None) or (fmt.MAX_STRING if isinstance(t, String) else None)
        if cap is None:
            return False  # a numeric column: not in the bulk rows; judged row by row
        try:
            if max(map(len, filter(None, [row[n] for row in rows])), default=0) > cap:
                return False
        except TypeError:  # a value that is not text
            return False
    return True


def _check_rows(run_row: dict, hosts: list, rows, refuse) -> None:
    """Every value against its column before any database work: string lengths, integer range, finite
    floats (PostgreSQL refuses what SQLite would keep, and the refusal must be the same on both), and
    no string longer than MAX_STRING. ``rows``: ``bulk.rows_of`` of ``hosts``, as they will be written."""
    _check_row(runs_t, run_row, "body.run", refuse)
    host_rows, results, items = rows
    for i, row in enumerate(host_rows):
        _check_row(hosts_t, row, f"body.hosts[{i}]", refuse)
    if _tuples_fit(results_t, bulk.RESULT_COLUMNS, results) and _tuples_fit(items_t, bulk.ITEM_COLUMNS, items):
        return
    for i, (rec, host_results) in enumerate(hosts):  # name the first value that does not fit, as before
        found = _long_result_string(host_results, i)
        if found:
            refuse(found[1], found[0])
        for j, r in enumerate(host_results):
            _check_row(results_t, r, f"body.hosts[{i}].results[{j}]", refuse)
        for item in result_item_rows(run_row["id"], rec.host_id, host_results):
            _check_row(items_t, item, f"body.hosts[{i}].results", refuse)


def _counts(body: dict) -> tuple[int, int]:
    return len(body["hosts"]), sum(len(h["results"]) for h in body["hosts"])


@contextmanager
def _no_gc():
    """Python's cyclic garbage collector paused: parsing a bundle makes hundreds of thousands of dicts
    and lists (none in a cycle), and each collection they trigger walks all of them again (about a
    quarter of the parse time). Reference counting still frees everything as usual."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def import_bundle(store: Store, path, identity: dict[str, dict] | None = None) -> Imported:
    """Verify one bundle file and store it, or raise InputError (nothing stored); see ``_import``."""
    with _no_gc():
        return _import(store, path, identity)


def _import(store: Store, path, identity: dict[str, dict] | None = None) -> Imported:
    """Verify one bundle file and store it, or raise InputError (nothing stored). ``identity``: the
    bureau's inventory as ``bureau_identity`` gives it; without it nothing can be imported (the
    bureau, not the bundle, says which district and city a school belongs to and what it is called)."""
    source = str(path)

    def refuse(msg, field="(bundle)"):
        raise InputError([Problem(source, 0, field, f"refused: {msg}")])

    try:
        data = read_capped(path, fmt.MAX_BUNDLE_BYTES)
    except TooLarge as exc:
        refuse(f"larger than {fmt.MAX_BUNDLE_BYTES} bytes ({exc.size}); not read")
    except OSError as exc:
        refuse(f"cannot read: {exc.strerror}")
    plain, facts = fmt.plain_text(data), {}
    try:
        bundle, signature = fmt.parse(data, source, strings=not plain, facts=facts)
    except InputError as exc:
        refuse(exc.problems[0].message, exc.problems[0].field)
    school, key_id = bundle["signer"]["school"], bundle["signer"]["key_id"]
    if not IDENTIFIER.match(bundle["run_id"]):
        refuse(f"{bundle['run_id'][:64]!r} is not a valid run id (letters, digits, '_', '.', '-'; up to 64; "
               "not starting with '.')", "run_id")
    # encoded once, for the digest and the signature check; in C when no float needs Python's own notation
    signed, dig = fmt.signed_bytes_and_digest(bundle, fast=facts["plain_floats"])
    before = store.imported_bundle(digest=dig)
    if before:  # these exact signed bytes passed every check below when they were imported (a later
        # revocation of the key does not undo an import; runs are append-only)
        return Imported(source, before["run_id"], school, *_counts(bundle["body"]), skipped=True,
                        imported_at=before["imported_at"])
    key = store.trusted_key(key_id)
    if key is None:
        refuse(f"signed with key {key_id[:16]!r}, which is not registered in this store "
               f"(register the school's public key with: auditctl keys trust {school[:64]} FILE.pub)", "signer.key_id")
    if key["revoked_at"]:
        refuse(f"signed with key {key_id[:16]} of school '{key['school']}', revoked on {key['revoked_at']}",
               "signer.key_id")
    if key["school"] != school:
        refuse(f"the bundle claims school {school[:64]!r} but key {key_id[:16]} is registered for school "
               f"'{key['school']}'", "signer.school")
    if not verify(key["public_key"], signature, signed):
        refuse("the signature does not match the content (tampered, or signed with another key)", "signature")
    if identity is None:
        refuse("the bureau's inventory is needed to know the school's district, city and names "
               "(auditctl import -i INVENTORY)", "signer.school")
    if school not in identity:
        refuse(f"school {school!r} is not in the bureau's inventory", "signer.school")
    body = bundle["body"]
    del signed, data
    _check_body(body, school, bundle["run_id"], refuse, identity[school])
    if not plain:  # nothing to clean in a plain text (fmt.plain_text)
        body = _clean(body)
    counts = _counts(body)
    run_id = stored_run_id(bundle["run_id"], school)
    # the run first, then its bundle record: both commit in one transaction, so a run seen here has its record
    # seen next (the other order left a window in which a concurrent import of the same bundle was refused)
    exists = store.has_run(run_id)
    other = store.imported_bundle(run_id=run_id)
    if other and other["digest"] == dig:  # the same bundle, imported by another process meanwhile
        return Imported(source, run_id, school, *counts, skipped=True, imported_at=other["imported_at"])
    if other:
        refuse(f"run {bundle['run_id']} of school {school} was already imported on {other['imported_at']} from a "
               f"different bundle (sha256 {other['digest'][:16]}); a run is imported once", "run_id")
    if exists:
        refuse(f"a run with id {run_id} already exists in this store", "run_id")
    run_row, hosts = _rows(body, run_id)
    rows = bulk.rows_of(run_id, hosts)
    _check_rows(run_row, hosts, rows, refuse)
    try:
        stored = store.import_run(run_row, hosts, {"digest": dig, "school": school, "key_id": key_id}, rows=rows)
    except IntegrityError:  # another import of this run committed between our checks and our write
        stored = False
    if not stored:
        before = store.imported_bundle(digest=dig)
        if before is None:
            refuse(f"run {bundle['run_id']} was stored by another import at the same time", "run_id")
        return Imported(source, run_id, school, *counts, skipped=True, imported_at=before["imported_at"])
    return Imported(source, run_id, school, *counts)
