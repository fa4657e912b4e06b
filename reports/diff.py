"""Differences between two runs: new, fixed, still-open and no-longer-assessed findings.

A finding is a ``fail`` result, identified by (host, check). It is *fixed* only when the later run
judged the same check on the same host and it passed (or became not applicable); when the host was
unreachable or the check was not run, it is *not assessed* — never silently counted as fixed.
Pure functions over run documents (``reports.document.run_document``).
"""
from __future__ import annotations

from .document import SEVERITY_ORDER

JUDGED_OK = ("pass", "not_applicable", "waived")


def _index(doc: dict) -> dict[tuple[str, str], dict]:
    return {(h["id"], r["check_id"]): {**r, "host": h["id"], "school": h["school"]}
            for h in doc["hosts"] for r in h["results"]}


def _row(r: dict) -> dict:
    return {"host": r["host"], "school": r["school"], "check_id": r["check_id"], "severity": r["severity"],
            "title": r["title"], "references": r["references"], "evidence": r["evidence"]}


def same_scope(a: dict, b: dict) -> bool:
    """Two stored runs audited the same thing (inventory, limit, packs)."""
    key = lambda r: (r["scope"].get("inventory"), r["scope"].get("limit"), tuple(r["scope"].get("packs", [])))  # noqa: E731
    return key(a) == key(b)


def previous_run(runs: list[dict], run_id: str) -> dict | None:
    """The latest earlier run of the same scope as ``run_id`` (``runs`` newest first, as the store lists them)."""
    ids = [r["id"] for r in runs]
    if run_id not in ids:
        return None
    at = ids.index(run_id)
    return next((r for r in runs[at + 1:] if same_scope(r, runs[at])), None)


def diff_runs(old: dict, new: dict) -> dict:
    a, b = _index(old), _index(new)
    out = {"from": old["run"]["id"], "to": new["run"]["id"], "new": [], "fixed": [], "still_open": [],
           "not_assessed": []}
    for key, r in b.items():
        if r["status"] == "fail":
            prev = a.get(key)
            if prev and prev["status"] == "fail":
                row = _row(r)
                row["evidence_changed"] = prev["evidence"] != r["evidence"]
                out["still_open"].append(row)
            else:
                out["new"].append(_row(r))
    for key, r in a.items():
        if r["status"] != "fail":
            continue
        later = b.get(key)
        if later and later["status"] in JUDGED_OK:
            out["fixed"].append(_row(r))
        elif not later or later["status"] != "fail":
            out["not_assessed"].append({**_row(r), "now": later["status"] if later else "missing"})
    for k in ("new", "fixed", "still_open", "not_assessed"):
        out[k].sort(key=lambda x: (-SEVERITY_ORDER.get(x["severity"], 0), x["host"], x["check_id"]))
    out["counts"] = {k: len(out[k]) for k in ("new", "fixed", "still_open", "not_assessed")}
    return out


def format_text(d: dict, lang: str = "zh") -> str:
    heads = {"zh": {"new": "新增问题", "fixed": "已修复", "still_open": "仍未修复", "not_assessed": "本次未评估"},
             "en": {"new": "new", "fixed": "fixed", "still_open": "still open", "not_assessed": "not assessed"}}[lang]
    lines = [f"{d['from']} → {d['to']}: " + ", ".join(f"{heads[k]} {d['counts'][k]}" for k in heads)]
    for k, head in heads.items():
        if d[k]:
            lines.append(f"\n{head} ({len(d[k])}):")
            lines += [f"  [{r['severity']}] {r['host']}  {r['check_id']}  {r['title'][lang]}" for r in d[k]]
    return "\n".join(lines)
