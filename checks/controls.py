"""Frameworks as data: the controls files under ``checks/frameworks/`` (GB/T 22239-2019 first).

A controls file describes a standard once: its control points, and for each requirement its clause
number per MLPS level, the assessors' item weight, whether it is a key item and the high-risk
trigger it can raise. Checks name requirements (``gbt22239:auth.a``, or ``gbt22239:auth.a@3`` to cite
it at some levels only) and get their clause references from here; the catalogue, scoring, the SQL
roll-ups and the reports read the same tables. A second framework is a second file, not code.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from audits.model import yamlsafe
from audits.model.errors import InputError, Problem, did_you_mean

FRAMEWORKS_DIR = Path(__file__).resolve().parent / "frameworks"
_REQUIRE = re.compile(r"^([a-z0-9][a-z0-9_-]*):([a-z0-9][a-z0-9_.-]*?)(?:@([0-9](?:,[0-9])*))?$")
_LEVEL_KEYS = {"any": None, **{str(n): n for n in range(1, 6)}}
FILE_FIELDS = {"framework", "standard", "title", "control_points", "requirements"}
POINT_FIELDS = {"clause", "point", "zh", "en"}
REQUIREMENT_FIELDS = {"clause", "weight", "key", "high_risk", "title", "evidence", "host_not_applicable",
                      "device_not_applicable"}
EVIDENCE_FIELDS = {"key", "informational", "trigger"}
# The role a check's result plays in the verdict of an item it cites (docs/scoring.md §2).
KEY, SUPPORTING, INFORMATIONAL = "key", "supporting", "informational"


@dataclass(frozen=True)
class ControlPoint:
    id: str                          # 'auth', 'ops.backup'
    clause: dict                     # level (int, or None for a level-free framework) -> '8.1.4.1'
    zh: str
    en: str
    point: str | None = None         # the scored point's number ('1' … '11'), None when not scored


@dataclass(frozen=True)
class Requirement:
    id: str                          # 'auth.a'
    point: ControlPoint
    clause: dict                     # level -> '8.1.4.1 a'
    weight: dict = field(default_factory=dict)      # level -> item weight (scored requirements only)
    key: bool = False
    high_risk: dict | None = None    # {zh, en}
    high_risk_levels: tuple = ()     # levels at which ``high_risk`` fires
    title: dict | None = None        # {zh, en}: what a person attests when no check covers it
    key_checks: tuple = ()           # checks carrying the key point: one failing makes the item 不符合
    informational: tuple = ()        # checks shown beside the item but never scored (connection facts …)
    trigger_checks: tuple = ()       # supporting checks whose high/critical failure is the trigger (and key)
    evidence_lines: dict = field(default_factory=dict, compare=False)  # check id -> line in the controls file
    host_not_applicable: dict | None = None   # {zh, en}: why the item is 不适用 for an operating system
    device_not_applicable: dict | None = None  # {zh, en}: why the item is 不适用 for a network device

    def role_of(self, check_id: str) -> str:
        """key | supporting | informational: the part ``check_id``'s results play in this item's verdict."""
        if check_id in self.key_checks:
            return KEY
        return INFORMATIONAL if check_id in self.informational else SUPPORTING

    def raises(self, check_id: str) -> bool:
        """Whether a high/critical failure of ``check_id`` hits this requirement's high-risk trigger."""
        return bool(self.high_risk) and (check_id in self.key_checks or check_id in self.trigger_checks)


@dataclass(frozen=True)
class Framework:
    name: str                        # 'gbt22239'
    standard: str                    # 'GB/T 22239-2019'
    title: dict
    points: dict                     # id -> ControlPoint, in file order
    requirements: dict               # id -> Requirement, in file order
    source: str = ""

    def clauses(self, requirement: str, levels=None) -> list[str]:
        """The requirement's clause numbers, highest level first (``levels`` restricts them)."""
        req = self.requirements[requirement]
        keys = sorted(req.clause, key=lambda lv: -(lv or 0))
        return [req.clause[lv] for lv in keys if levels is None or lv in levels]

    def by_clause(self) -> dict[str, Requirement]:
        """'8.1.4.1 a' -> its requirement, over every level."""
        return {c: r for r in self.requirements.values() for c in r.clause.values()}

    def weights(self) -> dict[int, dict[str, float]]:
        """level -> clause -> item weight, for the scored requirements, in file order."""
        out: dict[int, dict[str, float]] = {}
        for r in self.requirements.values():
            for lv, clause in r.clause.items():
                if lv in r.weight:
                    out.setdefault(lv, {})[clause] = r.weight[lv]
        return dict(sorted(out.items(), key=lambda kv: -kv[0]))

    def role_of(self, requirement: str, check_id: str) -> str:
        """key | supporting | informational: the role of a check's results in a requirement's item verdict."""
        return self.requirements[requirement].role_of(check_id)

    def roles(self) -> dict[str, dict[str, str]]:
        """clause (every level) -> check id -> role, for the checks the controls file names (others: supporting)."""
        out: dict[str, dict[str, str]] = {}
        for r in self.requirements.values():
            named = {c: r.role_of(c) for c in (*r.key_checks, *r.trigger_checks, *r.informational)}
            for clause in r.clause.values():
                out[clause] = named
        return out

    def triggers(self) -> dict[str, frozenset]:
        """clause -> the checks whose high/critical failure raises that clause's high-risk trigger, at the
        levels where the trigger fires (key checks and declared trigger checks of the requirement)."""
        return {r.clause[lv]: frozenset((*r.key_checks, *r.trigger_checks)) for r in self.requirements.values()
                if r.high_risk for lv in r.clause if lv in r.high_risk_levels}

    def high_risk(self) -> dict[str, dict]:
        """clause -> {zh, en} of the high-risk trigger that a failed result on it raises."""
        return {r.clause[lv]: dict(r.high_risk) for r in self.requirements.values() if r.high_risk
                for lv in r.clause if lv in r.high_risk_levels}

    def scored_points(self) -> dict[str, dict]:
        """point number ('1' … '11') -> {zh, en}."""
        return {p.point: {"zh": p.zh, "en": p.en} for p in self.points.values() if p.point}

    def point_of(self, clause: str) -> str | None:
        req = self.by_clause().get(clause)
        return req.point.point if req else None


def _levels(value, file, line, where, problems) -> dict:
    if not isinstance(value, dict) or not value:
        problems.append(Problem(file, line, where, "must map a level (2, 3, …, or 'any') to a value"))
        return {}
    out = {}
    for k, v in value.items():
        if str(k) not in _LEVEL_KEYS:
            problems.append(Problem(file, value.line_of(k), f"{where}.{k}", "a level is 1–5 or 'any'"))
            continue
        out[_LEVEL_KEYS[str(k)]] = v
    return out


def _entries(doc, section: str, fields: set, file: str, problems: list):
    """(id, mapping, field path, line) of each entry of a section; non-mappings and unknown fields are problems."""
    node = doc.get(section) or {}
    for key, value in node.items():
        where, line = f"{section}.{key}", node.line_of(key)
        if not isinstance(value, dict):
            problems.append(Problem(file, line, where, "must be a mapping"))
            continue
        for k in value:
            if k not in fields:
                problems.append(Problem(file, value.line_of(k), f"{where}.{k}", "unknown field" + did_you_mean(str(k), fields)))
        yield str(key), value, where, line


def _text(r, name: str, file: str, where: str, problems: list) -> dict | None:
    """An optional {zh, en} field of a requirement."""
    if name not in r:
        return None
    v = r[name]
    if not isinstance(v, dict) or set(v) != {"zh", "en"}:
        problems.append(Problem(file, r.line_of(name), f"{where}.{name}", "must be {zh: ..., en: ...}"))
        return None
    return {"zh": str(v["zh"]), "en": str(v["en"])}


def _evidence(r, file: str, where: str, problems: list) -> tuple[dict, dict]:
    """A requirement's ``evidence: {key, informational, trigger}`` lists of check ids, and each id's line.
    Whether the named checks exist and cite the requirement is checked against the registry
    (``check_evidence``), which is loaded after the controls files."""
    roles: dict[str, tuple] = {k: () for k in EVIDENCE_FIELDS}
    lines: dict[str, int] = {}
    if "evidence" not in r:
        return roles, lines
    ev, at = r["evidence"], f"{where}.evidence"
    if not isinstance(ev, dict):
        problems.append(Problem(file, r.line_of("evidence"), at, "must map key/informational/trigger to check ids"))
        return roles, lines
    for k in ev:
        if k not in EVIDENCE_FIELDS:
            problems.append(Problem(file, ev.line_of(k), f"{at}.{k}", "unknown field" + did_you_mean(str(k), EVIDENCE_FIELDS)))
            continue
        ids = ev[k]
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            problems.append(Problem(file, ev.line_of(k), f"{at}.{k}", "must be a list of check ids"))
            continue
        for i, cid in enumerate(ids):
            line = ids.line_of(i) if hasattr(ids, "line_of") else ev.line_of(k)
            if cid in lines:
                problems.append(Problem(file, line, f"{at}.{k}", f"{cid} is named twice (a check has one role per item)"))
            lines[cid] = line
        roles[k] = tuple(ids)
    return roles, lines


def load_framework_file(path) -> Framework:
    """Read and validate one controls file, or raise InputError naming FILE:LINE: field for every problem."""
    file = str(path)
    doc = yamlsafe.load_file(path)
    problems: list[Problem] = []
    if not isinstance(doc, dict):
        raise InputError([Problem(file, 1, "framework", "a controls file is a mapping")])
    for k in doc:
        if k not in FILE_FIELDS:
            problems.append(Problem(file, doc.line_of(k), str(k), "unknown field" + did_you_mean(str(k), FILE_FIELDS)))
    for k in ("framework", "standard", "requirements"):
        if k not in doc:
            problems.append(Problem(file, doc.line, k, "missing required field"))
    if problems:
        raise InputError(problems)
    name = str(doc["framework"])
    if not re.match(r"^[a-z0-9][a-z0-9_-]*$", name):
        problems.append(Problem(file, doc.line_of("framework"), "framework", "a name in lower case, e.g. gbt22239"))
    points: dict[str, ControlPoint] = {}
    for pid, p, where, line in _entries(doc, "control_points", POINT_FIELDS, file, problems):
        clause = {lv: str(v) for lv, v in _levels(p.get("clause"), file, line, f"{where}.clause", problems).items()}
        points[str(pid)] = ControlPoint(str(pid), clause, str(p.get("zh", "")), str(p.get("en", "")),
                                        str(p["point"]) if "point" in p else None)
    requirements: dict[str, Requirement] = {}
    for rid, r, where, line in _entries(doc, "requirements", REQUIREMENT_FIELDS, file, problems):
        pid = rid.rsplit(".", 1)[0] if "." in rid else ""
        if pid not in points:
            problems.append(Problem(file, line, where, f"no control point {pid!r} (a requirement is <control point>.<letter>)"))
            continue
        clause = {lv: str(v) for lv, v in _levels(r.get("clause"), file, line, f"{where}.clause", problems).items()}
        weight = {}
        if "weight" in r:
            for lv, w in _levels(r["weight"], file, r.line_of("weight"), f"{where}.weight", problems).items():
                if lv not in clause:
                    problems.append(Problem(file, r.line_of("weight"), f"{where}.weight", f"no clause at level {lv}"))
                elif not isinstance(w, (int, float)) or isinstance(w, bool) or not 0 < w <= 1:
                    problems.append(Problem(file, r.line_of("weight"), f"{where}.weight", "a weight is a number in (0, 1]"))
                else:
                    weight[lv] = float(w)
        risk, risk_levels = None, ()
        if "high_risk" in r:
            h = r["high_risk"]
            if not isinstance(h, dict) or not {"zh", "en"} <= set(h) or set(h) - {"zh", "en", "levels"}:
                problems.append(Problem(file, r.line_of("high_risk"), f"{where}.high_risk", "must be {zh, en[, levels]}"))
            else:
                risk = {"zh": str(h["zh"]), "en": str(h["en"])}
                risk_levels = tuple(h.get("levels") or clause)
                if not set(risk_levels) <= set(clause):
                    problems.append(Problem(file, h.line_of("levels"), f"{where}.high_risk.levels", "a level the requirement has no clause at"))
        roles, lines = _evidence(r, file, where, problems)
        requirements[rid] = Requirement(rid, points[pid], clause, weight, bool(r.get("key", False)), risk, risk_levels,
                                        _text(r, "title", file, where, problems), roles["key"], roles["informational"],
                                        roles["trigger"], lines, _text(r, "host_not_applicable", file, where, problems),
                                        _text(r, "device_not_applicable", file, where, problems))
    if problems:
        raise InputError(problems)
    return Framework(name, str(doc["standard"]), dict(doc.get("title") or {}), points, requirements, file)


@lru_cache(maxsize=1)
def frameworks() -> dict[str, Framework]:
    """Every controls file under checks/frameworks/, by framework name."""
    out: dict[str, Framework] = {}
    problems: list[Problem] = []
    for f in sorted(FRAMEWORKS_DIR.glob("*.yaml")):
        try:
            fw = load_framework_file(f)
        except InputError as e:
            problems.extend(e.problems)
            continue
        if fw.name in out:
            problems.append(Problem(str(f), 1, "framework", f"{fw.name!r} is also defined in {out[fw.name].source}"))
        out[fw.name] = fw
    if problems:
        raise InputError(problems)
    return out


def framework(name: str = "gbt22239") -> Framework:
    return frameworks()[name]


def check_evidence(checks) -> None:
    """Every check a controls file names under ``evidence:`` must exist and cite that requirement (at one
    of its levels); otherwise an InputError naming the controls file's FILE:LINE and field."""
    cites: dict[str, set] = {}
    for c in checks:
        for text in c.requires:
            fw, rid, _ = parse_requirement(text)
            cites.setdefault(c.id, set()).add((fw.name, rid))
    problems = []
    for fw in frameworks().values():
        for r in fw.requirements.values():
            for cid, line in r.evidence_lines.items():
                field_ = "key" if cid in r.key_checks else "trigger" if cid in r.trigger_checks else "informational"
                where = f"requirements.{r.id}.evidence.{field_}"
                if cid not in cites:
                    problems.append(Problem(fw.source, line, where, f"no check {cid!r}" + did_you_mean(cid, cites)))
                elif (fw.name, r.id) not in cites[cid]:
                    problems.append(Problem(fw.source, line, where, f"{cid} does not cite {fw.name}:{r.id}"))
    if problems:
        raise InputError(problems)


def parse_requirement(text: str) -> tuple[Framework, str, tuple[int, ...] | None]:
    """'gbt22239:auth.a@3' -> (framework, 'auth.a', (3,)); ValueError naming what is wrong."""
    m = _REQUIRE.match(str(text).strip())
    if not m:
        raise ValueError(f"requirement {text!r} must look like 'gbt22239:auth.a' (optionally '@3' for some levels)")
    fws = frameworks()
    if m.group(1) not in fws:
        raise ValueError(f"unknown framework {m.group(1)!r} in {text!r}; known: {', '.join(sorted(fws))}")
    fw = fws[m.group(1)]
    if m.group(2) not in fw.requirements:
        close = [r for r in fw.requirements if r.split(".")[0] == m.group(2).split(".")[0]]
        hint = f"; {m.group(2).split('.')[0]} has {', '.join(close)}" if close else ""
        raise ValueError(f"{fw.standard} has no requirement {m.group(2)!r}{hint}")
    levels = tuple(int(x) for x in m.group(3).split(",")) if m.group(3) else None
    if levels:
        missing = [lv for lv in levels if lv not in fw.requirements[m.group(2)].clause]
        if missing:
            raise ValueError(f"{text!r}: {fw.standard} {m.group(2)} has no clause at level {missing[0]}")
    return fw, m.group(2), levels


def references(requires) -> list[str]:
    """The clause references ('GB/T 22239-2019 8.1.4.1 a', …) of a check's requirements, in order:
    each requirement's clauses highest level first, duplicates dropped."""
    out: list[str] = []
    for text in requires:
        fw, rid, levels = parse_requirement(text)
        for clause in fw.clauses(rid, levels):
            ref = f"{fw.standard} {clause}"
            if ref not in out:
                out.append(ref)
    return out
