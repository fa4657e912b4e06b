"""The bureau's side of signed bundles: verify a received bundle and store its run, or refuse it.

Order of checks (each refusal names the file; nothing is stored): size and JSON shape; signed bytes
already imported are skipped here (they passed every check when imported; the store is unchanged);
the signer's key is registered, not revoked and registered for the school the bundle claims; the
Ed25519 signature over the signed bytes; the body against the published run-document schema, the
run id and every host's school, the store's column limits; another bundle for a run already in the
store is refused.
The run, hosts, results and the import record are written in one transaction.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from sqlalchemy.exc import IntegrityError

from audits.model.errors import InputError, Problem
from audits.trust import bundle as fmt
from audits.trust.signing import verify
from audits.store.database import HostRecord, Store, hosts_t, results_t



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


def _check_body(body: dict, claimed_school: str, run_id: str, refuse) -> None:
    error = next(iter(sorted(_validator().iter_errors(body), key=lambda e: list(e.absolute_path))), None)
    if error is not None:
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
        refuse(f"does not match the run-document schema at body{where}: {error.message[:200]}", "body")
    if body["run"]["id"] != run_id:
        refuse(f"run_id {run_id[:64]!r} differs from the body's run id {body['run']['id'][:64]!r}", "run_id")
    if body["run"]["status"] == "running":
        refuse("the run is still running; bundle it when it has finished", "body.run.status")
    if not body["hosts"]:
        refuse("the bundle has no hosts", "body.hosts")
    host_limits, result_limits = _limits(hosts_t), _limits(results_t)
    seen = set()
    for i, h in enumerate(body["hosts"]):
        if h["school"] != claimed_school:
            refuse(f"host {h['id'][:64]!r} belongs to school {h['school'][:64]!r}, not to the signer's school "
                   f"{claimed_school!r}", f"body.hosts[{i}].school")
        if h["id"] in seen:
            refuse(f"host {h['id'][:64]!r} appears twice", f"body.hosts[{i}].id")
        seen.add(h["id"])
        for field, column in HOST_FIELDS.items():
            if isinstance(h.get(field), str) and len(h[field]) > host_limits[column]:
                refuse(f"longer than {host_limits[column]} characters", f"body.hosts[{i}].{field}")
        for j, r in enumerate(h["results"]):
            for field, column in RESULT_FIELDS.items():
                if len(r[field]) > result_limits[column]:
                    refuse(f"longer than {result_limits[column]} characters", f"body.hosts[{i}].results[{j}].{field}")
    if len(run_id) > 64:
        refuse("longer than 64 characters", "run_id")
    if len(body["tool"]["version"]) > 40:
        refuse("longer than 40 characters", "body.tool.version")


def _rows(body: dict) -> tuple[dict, list[tuple[HostRecord, list[dict]]]]:
    """The store rows of a run document, as the runner and ``Store.save_host`` write them, so an
    imported run reads back (``reports.document.run_document``) exactly as the school's own."""
    run = body["run"]
    scope = {k: run.get(k) for k in ("inventory", "plan", "limit", "bureau", "bureau_name")}
    scope["packs"] = run.get("packs", [])
    run_row = {"id": run["id"], "started_at": run["started_at"], "finished_at": run["finished_at"],
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


def _counts(body: dict) -> tuple[int, int]:
    return len(body["hosts"]), sum(len(h["results"]) for h in body["hosts"])


def import_bundle(store: Store, path) -> Imported:
    """Verify one bundle file and store it, or raise InputError (nothing stored)."""
    source = str(path)

    def refuse(msg, field="(bundle)"):
        raise InputError([Problem(source, 0, field, f"refused: {msg}")])

    try:
        with open(path, "rb") as fh:
            data = fh.read(fmt.MAX_BUNDLE_BYTES + 1)
    except OSError as exc:
        refuse(f"cannot read: {exc.strerror}")
    try:
        bundle, signature = fmt.parse(data, source)
    except InputError as exc:
        refuse(exc.problems[0].message, exc.problems[0].field)
    school, key_id = bundle["signer"]["school"], bundle["signer"]["key_id"]
    dig = fmt.digest(bundle)
    before = store.imported_bundle(digest=dig)
    if before:  # these exact signed bytes passed every check below when they were imported (a later
        # revocation of the key does not undo an import; runs are append-only)
        return Imported(source, bundle["run_id"], school, *_counts(bundle["body"]), skipped=True,
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
    if not verify(key["public_key"], signature, fmt.signed_bytes(bundle)):
        refuse("the signature does not match the content (tampered, or signed with another key)", "signature")
    body = bundle["body"]
    _check_body(body, school, bundle["run_id"], refuse)
    counts = _counts(body)
    other = store.imported_bundle(run_id=bundle["run_id"])
    if other and other["digest"] == dig:  # the same bundle, imported by another process meanwhile
        return Imported(source, bundle["run_id"], school, *counts, skipped=True, imported_at=other["imported_at"])
    if other:
        refuse(f"run {bundle['run_id']} was already imported on {other['imported_at']} from a different bundle "
               f"(sha256 {other['digest'][:16]}); a run is imported once", "run_id")
    if store.has_run(bundle["run_id"]):
        refuse(f"a run with id {bundle['run_id']} already exists in this store", "run_id")
    run_row, hosts = _rows(body)
    try:
        stored = store.import_run(run_row, hosts, {"digest": dig, "school": school, "key_id": key_id})
    except IntegrityError:  # another import of this run committed between our checks and our write
        stored = False
    if not stored:
        before = store.imported_bundle(digest=dig)
        if before is None:
            refuse(f"run {bundle['run_id']} was stored by another import at the same time", "run_id")
        return Imported(source, bundle["run_id"], school, *counts, skipped=True, imported_at=before["imported_at"])
    return Imported(source, bundle["run_id"], school, *counts)
