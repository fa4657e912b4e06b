"""The run document: one stored run as the versioned JSON structure every renderer reads.

Its schema is documented in docs/results-schema.md and published as docs/results.schema.json.
Fixed names: top level ``schema_version``, ``run`` (id, started_at, finished_at, status), ``hosts``
(id, address, school, status, reason, results); each result check_id, status, severity,
references, evidence, message.
"""
from __future__ import annotations

from collections import Counter

from audits import __version__
from audits.model.severity import SEVERITY_ORDER
from audits.store.database import Store

from .scoring import rollup

SCHEMA_VERSION = "1.1"
STATUSES = ("pass", "fail", "error", "not_applicable", "manual", "waived")


def document_hosts(store: Store, run_id: str) -> list[dict]:
    """The ``hosts`` of a stored run's document, with their results."""
    results = store.results(run_id)
    hosts = []
    for h in store.hosts(run_id):
        rows = [{"check_id": r["check_id"], "title": r["title"], "status": r["status"], "severity": r["severity"],
                 "references": r["refs"], "evidence": r["evidence"], "message": r["message"],
                 "remediation": r["remediation"], "underlying": r["underlying"], "exceptions": r["exceptions"]}
                for r in results.get(h.host_id, [])]
        hosts.append({"id": h.host_id, "address": h.address, "school": h.school, "district": h.district,
                      "level": h.level, "os_family": h.os_family or None, "status": h.status, "reason": h.reason,
                      "detail": h.detail or None, "started_at": h.started_at, "finished_at": h.finished_at,
                      "duration_seconds": h.duration, "name": h.name, "school_name": h.school_name,
                      "district_name": h.district_name, "city": h.city, "systems": h.systems or [],
                      "results": rows})
    return hosts


def run_document(store: Store, run_id: str, school: str | None = None) -> dict:
    """The run as a document; with ``school``, only that school's hosts (summary and scores follow)."""
    run = store.run(run_id)
    hosts = [h for h in document_hosts(store, run_id) if school is None or h["school"] == school]
    scope = run["scope"]
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "auditctl", "version": run["tool_version"], "rendered_by": __version__},
        "run": {"id": run["id"], "started_at": run["started_at"], "finished_at": run["finished_at"],
                "status": run["status"], "inventory": scope.get("inventory"), "plan": scope.get("plan"),
                "limit": scope.get("limit"), "packs": scope.get("packs", []), "bureau": scope.get("bureau"),
                "bureau_name": scope.get("bureau_name")},
        "summary": summarise(hosts),
        "scores": rollup(hosts),
        "hosts": hosts,
    }


def summarise(hosts: list[dict]) -> dict:
    statuses = Counter(r["status"] for h in hosts for r in h["results"])
    failed_sev = Counter(r["severity"] for h in hosts for r in h["results"] if r["status"] == "fail")
    return {"hosts": len(hosts), "audited": sum(1 for h in hosts if h["status"] == "audited"),
            "unreachable": sum(1 for h in hosts if h["status"] != "audited"),
            "results": {s: statuses.get(s, 0) for s in STATUSES},
            "failed_by_severity": {s: failed_sev.get(s, 0) for s in SEVERITY_ORDER}}
