"""The check catalogue: what ``auditctl checks list/show`` print and the generated pack document
(``docs/checks/<pack>.md``, written by ``auditctl checks doc --pack PACK``), all from the checks.
"""
from __future__ import annotations

from collections import OrderedDict

from .contract import Check
from .controls import framework, parse_requirement

def _families() -> "OrderedDict[str, tuple[str, str, str]]":
    """Control points of GB/T 22239-2019 from its controls file: level-3 number -> (zh, en, level-2 number)."""
    out = OrderedDict()
    for p in framework("gbt22239").points.values():
        if 3 in p.clause:
            out[p.clause[3]] = (p.zh, p.en, p.clause.get(2, "— (level 3 only)"))
    return out


FAMILIES = _families()


def describe(c: Check) -> dict:
    by_level: dict[str, list[str]] = {}
    for r in c.refs:
        by_level.setdefault(str(r.level) if r.level else "any", []).append(str(r))
    return {"id": c.id, "pack": c.pack, "title": c.title.to_json(), "severity": c.severity,
            "references": [str(r) for r in c.refs], "references_by_level": by_level, "levels": list(c.levels),
            "applies": {"os": list(c.applies.os), "levels": list(c.applies.levels), "roles": list(c.applies.roles)},
            "manual": c.attest.to_json() if c.attest else None,
            "manual_only": c.manual_only.to_json() if c.manual_only else None,
            "probes": {k: [str(p) for p in v] for k, v in c.probes.items()}, "params": dict(c.params),
            "rationale": c.rationale.to_json(), "remediation": c.remediation.to_json(), "source": c.source}


def family_of(c: Check) -> str:
    """The level-3 control point a check belongs to, from the controls file: that of its first scored
    (安全计算环境) clause, else of its first clause of another control point."""
    by_clause = framework("gbt22239").by_clause()
    points = [by_clause[r.clause].point for r in c.refs if r.standard == framework("gbt22239").standard
              and r.clause in by_clause]
    for p in sorted(points, key=lambda p: p.point is None):  # stable: scored points first, in citation order
        if 3 in p.clause:
            return p.clause[3]
    return "other"


def _cell(v) -> str:
    return str(v).replace("|", "\\|").replace("\n", " ")


def _params(c: Check) -> str:
    return "<br>".join(f"`{k}` = `{_cell(v)}`" for k, v in c.params.items()) or "—"


def _evidence(c: Check) -> str:
    parts = [f"{k}: `{_cell(p)}`" for k, ps in c.probes.items() for p in ps]
    if c.host_probes:
        doc = (c.host_probes.__doc__ or "probes built from the host's declarations").strip().splitlines()[0]
        parts.append(f"declared: {_cell(doc)}")
    return "; ".join(parts) or "— (declarations and attestations only)"


def roles(c: Check) -> list[str]:
    """The check's role in each item it cites ('gbt22239:auth.c key'), from the controls files' ``evidence:``
    (docs/scoring.md §2): key, trigger, informational, or supporting."""
    out = []
    for text in c.requires:
        fw, rid, _ = parse_requirement(text)
        req = fw.requirements[rid]
        role = "trigger" if c.id in req.trigger_checks else req.role_of(c.id)
        out.append(f"{fw.name}:{rid} {role}")
    return out


def markdown(checks: list[Check], pack: str) -> str:
    checks = sorted(checks, key=lambda c: c.id)
    groups: dict[str, list[Check]] = {}
    for c in checks:
        groups.setdefault(family_of(c), []).append(c)
    manual = sum(1 for c in checks if c.attest)
    out = [f"# `{pack}` pack: check catalogue", "",
           "Generated from the checks by `auditctl checks doc --pack " + pack + "`; do not edit by hand.", "",
           f"{len(checks)} checks ({manual} answered by attestation where the host cannot show the evidence). "
           "Clauses are GB/T 22239-2019: level 3 is chapter 8 (8.1.4.x), level 2 chapter 7 (7.1.4.x); a host is "
           "judged by its MLPS level from the inventory and a check whose clauses exist only at level 3 is not "
           "applicable to a level-2 host. Every threshold is a parameter a bureau can override in its audit plan "
           f"(`params: {{{pack}: {{NAME: VALUE}}}}` for the pack, or `params: {{CHECK_ID: {{NAME: VALUE}}}}` for one "
           "check).", ""]
    out += ["| control point (L3 / L2) | checks |", "|---|---|"]
    for key, (zh, en, twin) in FAMILIES.items():
        if key in groups:
            out.append(f"| {key} / {twin} {zh} {en} | {len(groups[key])} |")
    if "other" in groups:
        out.append(f"| other | {len(groups['other'])} |")
    out.append("")
    for key in list(FAMILIES) + ["other"]:
        if key not in groups:
            continue
        zh, en, twin = FAMILIES.get(key, ("其他", "Other", ""))
        out += [f"## {key} {zh} / {twin} — {en}", ""]
        for c in groups[key]:
            levels = "/".join(map(str, c.levels))
            out += [f"### `{c.id}` — {c.title.zh}", "", f"*{c.title.en}*", "",
                    "| | |", "|---|---|",
                    f"| severity | {c.severity} |",
                    f"| clauses | {'; '.join(_cell(r) for r in c.refs)} |",
                    f"| role in the item | {'; '.join(roles(c))} |",
                    f"| levels | {levels} |",
                    f"| os | {', '.join(c.applies.os)}" + (f"; roles {', '.join(c.applies.roles)}" if c.applies.roles else "")
                    + " |",
                    f"| thresholds | {_params(c)} |",
                    f"| evidence | {_evidence(c)} |"]
            if c.attest:
                out.append(f"| attestation | {_cell(c.attest.zh)} / {_cell(c.attest.en)} |")
            if c.manual_only:
                out.append(f"| manual only | {_cell(c.manual_only.zh)} / {_cell(c.manual_only.en)} |")
            out += ["", f"**理由 / Rationale.** {c.rationale.zh}", "", c.rationale.en, "",
                    f"**整改 / Remediation.** {c.remediation.zh}", "", c.remediation.en, ""]
    return "\n".join(out).rstrip() + "\n"
