"""MLPS scoring: item verdicts per host, the weighted 符合率, high-risk gating, fixes that raise the
score most, and roll-ups school → district → bureau. The method is documented in docs/scoring.md.

Pure functions of the run document's hosts: a score is computed from the stored results each time it
is shown and never stored on its own.
"""
from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache

from checks.contract import OS_GROUPS
from checks.controls import framework

STANDARD = "GB/T 22239-2019 "

CONFORM, PARTIAL, NONCONFORM = "conform", "partial", "nonconform"  # 符合 / 部分符合 / 不符合
NOT_APPLICABLE, NOT_ASSESSED = "not_applicable", "not_assessed"      # 不适用 / 未测 (only waived results)
AWAITING = "awaiting"    # 待取证: applicable, no pass/fail evidence and no attestation — scores 0
ITEM_SCORE = {CONFORM: 1.0, PARTIAL: 0.5, NONCONFORM: 0.0, AWAITING: 0.0}
HIGH_RISK_SEVERITIES = ("high", "critical")
# 2025 report template: 符合 above 90 % with no major risk, 不符合 below 60 %, 基本符合 between.
COMPLIANT_ABOVE, FAILING_BELOW = 90.0, 60.0
# Added before rounding: sums taken in another order (SQL roll-ups) differ by a few ulps, and a true
# tie such as 62.25 must round the same way from either side.
ROUND_NUDGE = 1e-9


def round_half_up(value: float, digits: int) -> float:
    """四舍五入, as assessment reports round (Python's round() goes to the even neighbour on ties).
    reports/rollup_sql.py rounds with the same formula in SQL."""
    scale = 10 ** digits
    return math.floor(value * scale + 0.5 + ROUND_NUDGE) / scale


@dataclass(frozen=True)
class ItemTable:
    weights: dict[int, dict[str, float]]      # level -> item clause ('8.1.4.1 a') -> weight
    points: dict[str, dict]                   # control point number ('1') -> {zh, en}
    high_risk: dict[str, dict]                # item clause -> {zh, en} of its trigger (at the levels it fires)
    roles: dict[str, dict[str, str]]          # item clause -> check id -> key | informational (others: supporting)
    trigger_checks: dict[str, frozenset]      # item clause -> checks whose high/critical failure is a key failure
    triggers: dict[str, frozenset]            # item clause -> checks whose high/critical failure raises its trigger
    not_applicable: dict[str, dict]           # item clause -> {zh, en}: why it is 不适用 on an operating system
    asks: dict[str, dict]                     # item clause -> {zh, en}: what to attest when no check covers it
    device_na: dict = None                    # item clause -> {zh, en}: why it is 不适用 on a network device


@lru_cache(maxsize=1)
def item_table() -> ItemTable:
    """The scored items of GB/T 22239-2019 from its controls file (checks/frameworks/gbt22239-2019.yaml)."""
    fw = framework("gbt22239")
    roles, trig, na, asks, device_na = {}, {}, {}, {}, {}
    for r in fw.requirements.values():
        for clause in r.clause.values():
            roles[clause] = {c: r.role_of(c) for c in (*r.key_checks, *r.informational)}
            trig[clause] = frozenset(r.trigger_checks)
            if r.host_not_applicable:
                na[clause] = r.host_not_applicable
            if r.device_not_applicable:
                device_na[clause] = r.device_not_applicable
            what = r.title or {"zh": r.point.zh, "en": r.point.en}
            asks[clause] = {"zh": f"没有检查覆盖此项；请提供 {fw.standard} {clause}（{what['zh']}）的证明",
                            "en": f"no check covers it; attest {fw.standard} {clause} ({what['en']})"}
    return ItemTable(fw.weights(), fw.scored_points(), fw.high_risk(), roles, trig, fw.triggers(), na, asks, device_na)


def _point_cached(item: str) -> str:
    return _POINTS.get(item) or _POINTS.setdefault(item, point_of(item))


_POINTS: dict[str, str] = {}


def point_of(item: str) -> str:
    """The control point of an item, numbered as at level 3: '8.1.4.10 a' -> '10'. Level 2 has no
    数据保密性, so its 7.1.4.8-7.1.4.10 (数据备份恢复, 剩余信息保护, 个人信息保护) are points 9-11
    (the controls file says which point each clause belongs to)."""
    point = framework("gbt22239").point_of(item)
    if point is None:
        raise KeyError(f"{item} is not a scored item of GB/T 22239-2019")
    return point


@dataclass
class Item:
    clause: str
    weight: float
    verdict: str
    checks: dict[str, str] = field(default_factory=dict)  # check id -> status, of the scored (non-informational) results
    informational: dict[str, str] = field(default_factory=dict)   # check id -> status, shown but not scored
    key_failed: list[str] = field(default_factory=list)   # the key-point checks that failed
    attested: bool = False      # every scored result is an attestation's answer (none measured on the host)
    ask: dict | None = None     # awaiting evidence: what to attest ({zh, en}); not applicable: why

    @property
    def score(self) -> float | None:
        return ITEM_SCORE.get(self.verdict)


@lru_cache(maxsize=8)
def _clause_of(level: int) -> dict[str, str]:
    """'GB/T 22239-2019 8.1.4.1 a' -> '8.1.4.1 a' for the items of one level (one lookup per reference)."""
    return {STANDARD + c: c for c in item_table().weights.get(level, {})}


def _is_failing(r: dict) -> bool:
    return r["status"] == "fail" or (r["status"] == "waived" and r.get("underlying") == "fail")


def _judge(table: ItemTable, clause: str, weight: float, rows: dict[str, dict]) -> Item:
    """One item from the results citing it (docs/scoring.md §2): a failing key point → 不符合; else any failing
    supporting check, or a key point left unanswered → 部分符合 (all failing → 不符合); all passing → 符合. Informational results are not scored,
    not_applicable ones left out; no pass/fail evidence at all → 待取证 (scores 0) unless the only answers are waivers."""
    if clause in table.not_applicable:
        return Item(clause, weight, NOT_APPLICABLE, ask=table.not_applicable[clause])
    roles, trig = table.roles.get(clause, {}), table.trigger_checks.get(clause, frozenset())
    scored = {cid: r for cid, r in rows.items() if roles.get(cid) != "informational"}
    info = {cid: r["status"] for cid, r in rows.items() if cid not in scored}
    statuses = {cid: r["status"] for cid, r in scored.items()}
    judged = [r for r in scored.values() if r["status"] in ("pass", "fail")]
    key_failed = sorted(cid for cid, r in scored.items() if r["status"] == "fail" and
                        (roles.get(cid) == "key" or (cid in trig and r["severity"] in HIGH_RISK_SEVERITIES)))
    if judged:
        passed = any(r["status"] == "pass" for r in judged)
        failed = any(r["status"] == "fail" for r in judged)
        # a key point nobody answered (manual without attestation, or an error) keeps the item from 符合
        key_open = any(roles.get(cid) == "key" and r["status"] in ("manual", "error") for cid, r in scored.items())
        verdict_ = NONCONFORM if key_failed or not passed else PARTIAL if failed or key_open else CONFORM
        attested = all(r.get("underlying") == "manual" for r in judged)
        return Item(clause, weight, verdict_, statuses, info, key_failed, attested)
    if statuses and all(st == "not_applicable" for st in statuses.values()):
        return Item(clause, weight, NOT_APPLICABLE, statuses, info)
    if any(st == "waived" for st in statuses.values()):   # an accepted risk, left out until the waiver expires
        return Item(clause, weight, NOT_ASSESSED, statuses, info)
    asks = [r["message"] for cid, r in sorted(scored.items()) if r["status"] == "manual" and r.get("message")]
    errors = [cid for cid, r in sorted(scored.items()) if r["status"] == "error"]
    if asks:
        ask = {"zh": "；".join(_text(m, "zh") for m in asks), "en": "; ".join(_text(m, "en") for m in asks)}
    elif errors:
        ask = {"zh": f"检查出错（{', '.join(errors)}）：修复后重新审计，或提供证明",
               "en": f"the checks erred ({', '.join(errors)}): fix and audit again, or attest"}
    else:
        ask = table.asks[clause]
    return Item(clause, weight, AWAITING, statuses, info, ask=ask)


def _text(message, lang: str) -> str:
    return message.get(lang) or message.get("zh") or "" if isinstance(message, dict) else str(message)


# The network view's synthetic record of a school's segments (audits/collect/netscan.py, ``network@<school>``) is
# not a 测评对象: its school-level findings are listed, but it has no items of its own to await evidence for.
SEGMENT_PREFIX = "network@"


def host_items(host: dict) -> dict[str, Item]:
    """Every item of the host's level with its verdict from the results citing it."""
    level = host.get("level") or 0
    table = item_table()
    weights = table.weights.get(level)
    if not weights or str(host["id"]).startswith(SEGMENT_PREFIX):
        return {}
    clause_of = _clause_of(level)
    cited: dict[str, dict[str, dict]] = defaultdict(dict)  # clause -> check id -> result
    for r in host["results"]:
        for ref in r["references"]:
            clause = clause_of.get(ref)
            if clause is not None:
                cited[clause][r["check_id"]] = r
    device = host.get("os_family") in OS_GROUPS["device"]   # a network device (its os family is its platform)
    return {clause: Item(clause, weight, NOT_APPLICABLE, ask=table.device_na[clause]) if device and clause in table.device_na
            else _judge(table, clause, weight, cited.get(clause, {})) for clause, weight in weights.items()}


def high_risks(host: dict) -> list[dict]:
    """High-risk candidates: failed (or waived-but-failing) results of severity high/critical whose check raises the
    trigger of an item it cites (a key point of that item, or a check declared as its trigger) — the label is the
    trigger actually hit, never merely the first clause a check cites. A waiver never lifts the cap: the risk is
    accepted, not removed."""
    table = item_table()
    out = []
    for r in host["results"]:
        if not _is_failing(r) or r["severity"] not in HIGH_RISK_SEVERITIES:
            continue
        hit = [c for c in (ref[len(STANDARD):] for ref in r["references"] if ref.startswith(STANDARD))
               if r["check_id"] in table.triggers.get(c, ())]
        if hit:
            out.append({"host": host["id"], "check_id": r["check_id"], "clause": hit[0],
                        "rule": table.high_risk[hit[0]], "waived": r["status"] == "waived"})
    return out


def awaiting(hosts: list[dict]) -> list[dict]:
    """Items awaiting evidence (待取证) on the audited hosts — they score 0 until answered — grouped by item and
    by what to attest: [{clause, weight, hosts, checks, attest: {zh, en}}], in clause order."""
    return _awaiting([(h["id"], host_items(h)) for h in hosts if h["status"] == "audited"])


def _awaiting(judged: list[tuple[str, dict[str, Item]]]) -> list[dict]:
    groups: dict[tuple, dict] = {}
    for hid, items in judged:
        for clause, item in items.items():
            if item.verdict == AWAITING:
                g = groups.setdefault((clause, item.ask["zh"]), {"clause": clause, "weight": item.weight, "hosts": [],
                                                                 "checks": sorted(item.checks), "attest": item.ask})
                g["hosts"].append(hid)
    return [groups[k] for k in sorted(groups, key=lambda k: (_clause_key(k[0]), k[1]))]


def _clause_key(clause: str) -> tuple:
    return [int(x) for x in clause.split()[0].split(".")], clause.split()[-1]


def score_hosts(hosts: list[dict]) -> dict:
    """The score of a set of hosts (one host, a system, a school).

    Per level present, an item's value is the mean of its scores over the hosts that assessed it; the
    符合率 is the weighted mean of those values over every assessed (level, item) pair, × 100."""
    audited = [h for h in hosts if h["status"] == "audited"]
    items = [host_items(h) for h in audited]
    out = _aggregate([(h["level"], it) for h, it in zip(audited, items)], [x for h in audited for x in high_risks(h)])
    out["awaiting"] = _awaiting([(h["id"], it) for h, it in zip(audited, items)])
    return out


def _aggregate(judged: list[tuple[int, dict[str, Item]]], risks: list[dict]) -> dict:
    per_level: dict[int, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    attested_of: dict[tuple[int, str], list[int]] = defaultdict(list)
    weights: dict[tuple[int, str], float] = {}
    verdict_counts: dict[str, int] = defaultdict(int)
    for level, items in judged:
        scores_of = per_level[level]
        for clause, item in items.items():
            verdict_counts[item.verdict] += 1
            x = ITEM_SCORE.get(item.verdict)
            if x is not None:
                scores_of[clause].append(x)
                attested_of[(level, clause)].append(1 if item.attested else 0)
                weights[(level, clause)] = item.weight
    num = den = att = 0.0
    points: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for level, items in per_level.items():
        for clause, scores in items.items():
            w, x = weights[(level, clause)], sum(scores) / len(scores)
            a = attested_of[(level, clause)]
            num, den, att = num + w * x, den + w, att + w * sum(a) / len(a)
            acc = points[_point_cached(clause)]
            acc[0], acc[1] = acc[0] + w * x, acc[1] + w
    rate = round_half_up(100.0 * num / den, 1) if den else None
    return {"rate": rate, "verdict": verdict(rate, bool(risks)), "high_risk": risks,
            "attested": round_half_up(100.0 * att / den, 1) if den else None,
            "items": dict(sorted(verdict_counts.items())),
            "points": {p: round_half_up(10.0 * n / d, 2) for p, (n, d) in sorted(points.items(), key=lambda kv: int(kv[0]))}}


def system_scores(hosts: list[dict]) -> dict[str, dict]:
    """The score of each system (§3 over the audited hosts serving it; a host serving two systems counts in
    both), with its name, level and hosts. Hosts that serve no declared system are grouped under ""."""
    groups: dict[str, list[dict]] = defaultdict(list)
    info: dict[str, dict] = {}
    for h in hosts:
        for sy in h.get("systems") or [{"id": "", "name": "", "level": h.get("level")}]:
            groups[sy["id"]].append(h)
            info.setdefault(sy["id"], sy)
    out = {}
    for sid, hs in sorted(groups.items()):
        sc = score_hosts(hs)
        out[sid] = {"name": info[sid].get("name") or sid, "level": info[sid].get("level"),
                    "hosts": [h["id"] for h in hs], "rate": sc["rate"], "verdict": sc["verdict"],
                    "high_risk": len(sc["high_risk"])}
    return out


def item_breakdown(hosts: list[dict]) -> dict[str, list[dict]]:
    """Per control point, its items as judged on the audited hosts: how many hosts found each verdict and
    which checks failed on which hosts. Keys are control points ('1'..'11'), items sorted by clause."""
    acc: dict[str, dict] = {}
    for h in hosts:
        if h["status"] != "audited":
            continue
        for clause, item in host_items(h).items():
            row = acc.setdefault(clause, {"clause": clause, "weight": item.weight, "verdicts": defaultdict(int),
                                          "failing": defaultdict(list)})
            row["verdicts"][item.verdict] += 1
            for cid, st in item.checks.items():
                if st == "fail":
                    row["failing"][cid].append(h["id"])
    points: dict[str, list[dict]] = defaultdict(list)
    for clause in sorted(acc, key=_clause_key):
        row = acc[clause]
        points[point_of(clause)].append({**row, "verdicts": dict(row["verdicts"]),
                                         "failing": {c: hs for c, hs in sorted(row["failing"].items())}})
    return dict(sorted(points.items(), key=lambda kv: int(kv[0])))


def verdict(rate: float | None, high_risk: bool) -> str | None:
    """2025 template: 符合 needs > 90 % and no high-risk candidate; 不符合 below 60 %; else 基本符合."""
    if rate is None:
        return None
    if rate < FAILING_BELOW:
        return "noncompliant"
    if rate > COMPLIANT_ABOVE and not high_risk:
        return "compliant"
    return "basically_compliant"


def top_fixes(hosts: list[dict], n: int = 10) -> list[dict]:
    """The checks whose fixing (on every host where they fail) raises the 符合率 most, best first.
    Only the hosts where a check fails are judged again for it."""
    audited = [h for h in hosts if h["status"] == "audited"]
    items = [host_items(h) for h in audited]
    risks = [high_risks(h) for h in audited]
    base = _aggregate([(h["level"], it) for h, it in zip(audited, items)], [x for rs in risks for x in rs])
    if base["rate"] is None:
        return []
    failing_on: dict[str, list[int]] = defaultdict(list)
    for i, h in enumerate(audited):
        for cid in sorted({r["check_id"] for r in h["results"] if r["status"] == "fail"}):
            failing_on[cid].append(i)
    out = []
    for cid, where in sorted(failing_on.items()):
        new_items, new_risks = list(items), list(risks)
        for i in where:
            fixed = dict(audited[i], results=[dict(r, status="pass") if r["check_id"] == cid and r["status"] == "fail"
                                              else r for r in audited[i]["results"]])
            new_items[i], new_risks[i] = host_items(fixed), high_risks(fixed)
        after = _aggregate([(h["level"], it) for h, it in zip(audited, new_items)], [x for rs in new_risks for x in rs])
        gain = round_half_up((after["rate"] or 0) - base["rate"], 1)
        lifts_cap = len(after["high_risk"]) < len(base["high_risk"])
        if gain > 0 or lifts_cap:
            out.append({"check_id": cid, "gain": gain, "hosts": len(where), "removes_high_risk": lifts_cap})
    out.sort(key=lambda f: (-f["removes_high_risk"], -f["gain"], f["check_id"]))
    return out[:n]


def rollup(hosts: list[dict]) -> dict:
    """Scores per school (with its systems), per district (mean of its schools' rates) and for the whole run
    (mean of schools); per city too (mean of its schools' rates) when the hosts carry a ``city``.
    reports/rollup_sql.py computes the same numbers (systems aside) as SQL aggregations over a results store."""
    by_school: dict[str, list[dict]] = defaultdict(list)
    district_of: dict[str, str] = {}
    city_of: dict[str, str] = {}
    for h in hosts:
        by_school[h["school"]].append(h)
        district_of[h["school"]] = h.get("district") or ""
        city_of[h["school"]] = h.get("city") or ""
    schools = {s: {**score_hosts(hs), "district": district_of[s], "systems": system_scores(hs)}
               for s, hs in sorted(by_school.items())}
    districts: dict[str, list[str]] = defaultdict(list)
    cities: dict[str, list[str]] = defaultdict(list)
    for s, sc in schools.items():
        districts[sc["district"]].append(s)
        cities[city_of[s]].append(s)

    def mean(names):
        rates = [schools[s]["rate"] for s in names if schools[s]["rate"] is not None]
        return round_half_up(sum(rates) / len(rates), 1) if rates else None

    def group(by):
        return {k: {"rate": mean(ss), "schools": len(ss), "high_risk_schools": sum(1 for s in ss if schools[s]["high_risk"])}
                for k, ss in sorted(by.items())}

    out = {"method": "docs/scoring.md", "schools": schools, "districts": group(districts),
           "overall": {"rate": mean(schools), "schools": len(schools)}}
    if any(h.get("city") for h in hosts):
        out["cities"] = group(cities)
    return out
