"""The MLPS verdict rules (docs/scoring.md §2-§4), one implementation for every reader: the item verdict of a
host from the results citing it (key, trigger and informational roles from the controls file, 待取证 scoring 0),
high-risk candidates, and ``Tally``, the summable inputs of a 符合率 (per level and item: weight, sum of item
scores, hosts that assessed it, attested share), from which rates, control-point scores and verdicts follow.

``reports.scoring`` builds reports on these; the store's aggregates (``audits.store.aggregates``) compute the
same figures once, at ingest. Pure functions: no I/O.
"""
from __future__ import annotations

import math
from collections import Counter, defaultdict
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Iterable

from audits.model.once import once
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
    device_na: dict[str, dict] = field(default_factory=dict)  # item clause -> {zh, en}: 不适用 on a network device


@once
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


# The item verdict (docs/scoring.md §2) from counts of the scored (non-informational) results citing the item: p
# passes, f failures, na not-applicable, wv waived, n all of them, kf failed key points (a key check, or a trigger
# check at high/critical severity), ko key points left open (manual or error), host_na (the item is 不适用 on an
# operating system). The first rule that holds gives the verdict, else 部分符合. Written once, with & and | so the
# same lambdas evaluate on numbers (``item_verdict``, here) and build SQL (``audits.store.verdict_sql``).
ITEM_RULES = (
    (lambda c: c.host_na, NOT_APPLICABLE),
    (lambda c: (c.p + c.f == 0) & (c.n > 0) & (c.na == c.n), NOT_APPLICABLE),  # only not-applicable answers
    (lambda c: (c.p + c.f == 0) & (c.wv > 0), NOT_ASSESSED),    # an accepted risk, left out until the waiver expires
    (lambda c: c.p + c.f == 0, AWAITING),                       # no pass/fail evidence: 待取证, scores 0
    (lambda c: (c.kf > 0) | (c.p == 0), NONCONFORM),            # a failing key point, or nothing passes
    (lambda c: (c.f == 0) & (c.ko == 0), CONFORM),              # all passing and no key point left open
)
OTHERWISE = PARTIAL


@dataclass(frozen=True)
class Counts:
    p: int = 0
    f: int = 0
    na: int = 0
    wv: int = 0
    n: int = 0
    kf: int = 0
    ko: int = 0
    host_na: bool = False


def item_verdict(c: Counts) -> str:
    for rule, verdict_ in ITEM_RULES:
        if rule(c):
            return verdict_
    return OTHERWISE


def _judge(table: ItemTable, clause: str, weight: float, rows: dict[str, dict]) -> Item:
    """One item from the results citing it (docs/scoring.md §2, ``ITEM_RULES``): a failing key point → 不符合; else
    any failing supporting check, or a key point left unanswered → 部分符合 (all failing → 不符合); all passing → 符合.
    Informational results are not scored, not_applicable ones left out; no pass/fail evidence at all → 待取证 (scores
    0) unless the only answers are waivers."""
    if clause in table.not_applicable:
        return Item(clause, weight, NOT_APPLICABLE, ask=table.not_applicable[clause])
    roles, trig = table.roles.get(clause, {}), table.trigger_checks.get(clause, frozenset())
    scored = {cid: r for cid, r in rows.items() if roles.get(cid) != "informational"}
    info = {cid: r["status"] for cid, r in rows.items() if cid not in scored}
    statuses = {cid: r["status"] for cid, r in scored.items()}
    judged = [r for r in scored.values() if r["status"] in ("pass", "fail")]
    key_failed = sorted(cid for cid, r in scored.items() if r["status"] == "fail" and
                        (roles.get(cid) == "key" or (cid in trig and r["severity"] in HIGH_RISK_SEVERITIES)))
    tally = Counter(statuses.values())
    key_open = sum(1 for cid, r in scored.items() if roles.get(cid) == "key" and r["status"] in ("manual", "error"))
    verdict_ = item_verdict(Counts(p=tally["pass"], f=tally["fail"], na=tally["not_applicable"], wv=tally["waived"],
                                   n=len(statuses), kf=len(key_failed), ko=key_open))
    if judged:
        attested = all(r.get("underlying") == "manual" for r in judged)
        return Item(clause, weight, verdict_, statuses, info, key_failed, attested)
    if verdict_ != AWAITING:
        return Item(clause, weight, verdict_, statuses, info)
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


_JUDGED: ContextVar[dict | None] = ContextVar("judged_once", default=None)


@contextmanager
def judged_once():
    """Within this block ``host_items`` judges each host (the same dict object) once: one report asks for a
    host's items for its school's score, each of its systems' scores, the item breakdown and the top fixes. The
    host dicts must not change inside the block (reports only read them); each call still gets its own dict of
    the (shared, unchanged) items. Per thread and task (a context variable); nothing is kept after the block."""
    token = _JUDGED.set({})
    try:
        yield
    finally:
        _JUDGED.reset(token)


def host_items(host: dict) -> dict[str, Item]:
    """Every item of the host's level with its verdict from the results citing it."""
    memo = _JUDGED.get()
    if memo is None:
        return _host_items(host)
    hit = memo.get(id(host))
    if hit is None or hit[0] is not host:   # the memo holds the host itself, so its id is not reused meanwhile
        hit = memo[id(host)] = (host, _host_items(host))
    return dict(hit[1])


def _host_items(host: dict) -> dict[str, Item]:
    level = host.get("level") or 0
    clause_of = _clause_of(level)
    cited: dict[str, dict[str, dict]] = defaultdict(dict)  # clause -> check id -> result
    for r in host["results"]:
        for ref in r["references"]:
            clause = clause_of.get(ref)
            if clause is not None:
                cited[clause][r["check_id"]] = r
    return judge_items(level, host["id"], cited, is_device(host.get("os_family")))


def is_device(os_family: str | None) -> bool:
    """A network device: its os family is its platform (audits.run.platforms; docs/devices.md)."""
    return os_family in OS_GROUPS["device"]


def judge_items(level: int | None, host_id: str, cited: dict[str, dict[str, dict]],
                device: bool = False) -> dict[str, Item]:
    """Every item of a host's level judged from ``cited`` (clause -> check id -> result citing it); nothing for a
    level without scored items or for the network view's segment record. On a network device (``device``) the items
    the controls file marks ``device_not_applicable`` are 不适用."""
    table = item_table()
    weights = table.weights.get(level or 0)
    if not weights or str(host_id).startswith(SEGMENT_PREFIX):
        return {}
    return {clause: Item(clause, weight, NOT_APPLICABLE, ask=table.device_na[clause])
            if device and clause in table.device_na else _judge(table, clause, weight, cited.get(clause, {}))
            for clause, weight in weights.items()}


def clause_items(level: int | None, host_id: str, rows: Iterable[dict],
                 os_family: str | None = None) -> tuple[dict[str, Item], int]:
    """A host's items and its number of high-risk candidates from its ``result_items`` rows (one per result and
    cited GB/T 22239-2019 clause: check_id, clause, status, severity, underlying) — the same verdicts as
    ``host_items`` and ``len(high_risks)`` over the results the rows came from."""
    weights = item_table().weights.get(level or 0, {})
    triggers = item_table().triggers
    cited: dict[str, dict[str, dict]] = defaultdict(dict)
    risky = set()
    for r in rows:
        clause = r["clause"]
        if clause in weights:
            cited[clause][r["check_id"]] = r
        if (r["severity"] in HIGH_RISK_SEVERITIES and _is_failing(r) and r["check_id"] in triggers.get(clause, ())):
            risky.add(r["check_id"])
    return judge_items(level, host_id, cited, is_device(os_family)), len(risky)


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



def verdict(rate: float | None, high_risk: bool) -> str | None:
    """2025 template: 符合 needs > 90 % and no high-risk candidate; 不符合 below 60 %; else 基本符合."""
    if rate is None:
        return None
    if rate < FAILING_BELOW:
        return "noncompliant"
    if rate > COMPLIANT_ABOVE and not high_risk:
        return "compliant"
    return "basically_compliant"


@lru_cache(maxsize=16)
def _order_of(level: int | None) -> dict[str, int]:
    return {c: i for i, c in enumerate(item_table().weights.get(level or 0, {}))}


class Tally:
    """What a score (docs/scoring.md §3) is computed from, summed over hosts: per level and item its weight, the
    sum of the item scores of the hosts that assessed it, their number and how many attestations alone answered;
    the count of item verdicts and of high-risk candidates. Tallies of disjoint sets of hosts add up (``merge``),
    and ``to_json``/``from_json`` store one, so a school's score can be kept and combined without its results."""

    __slots__ = ("levels", "verdicts", "risks")

    def __init__(self):
        self.levels: dict[int, dict[str, list]] = {}     # level -> clause -> [weight, Σscore, hosts, Σattested]
        self.verdicts: dict[str, int] = defaultdict(int)
        self.risks = 0

    def add(self, level: int | None, items: dict[str, Item], risks: int = 0) -> "Tally":
        """One audited host's judged items (``host_items``) and its number of high-risk candidates."""
        of = self.levels.setdefault(level, {})
        for clause, item in items.items():
            self.verdicts[item.verdict] += 1
            x = ITEM_SCORE.get(item.verdict)
            if x is not None:
                acc = of.get(clause)
                if acc is None:
                    acc = of[clause] = [item.weight, 0.0, 0, 0]
                acc[1] += x
                acc[2] += 1
                acc[3] += 1 if item.attested else 0
        self.risks += risks
        return self

    def merge(self, other: "Tally") -> "Tally":
        for level, items in other.levels.items():
            of = self.levels.setdefault(level, {})
            for clause, (w, s, n, a) in items.items():
                acc = of.setdefault(clause, [w, 0.0, 0, 0])
                acc[1], acc[2], acc[3] = acc[1] + s, acc[2] + n, acc[3] + a
        for v, k in other.verdicts.items():
            self.verdicts[v] += k
        self.risks += other.risks
        return self

    def score(self) -> dict:
        """rate (符合率), verdict, attested share, item verdict counts and 10-point control-point scores."""
        num = den = att = 0.0
        points: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
        for _, items in self._ordered():
            for clause, (w, s, n, a) in items:
                x = s / n
                num, den, att = num + w * x, den + w, att + w * a / n
                acc = points[_point_cached(clause)]
                acc[0], acc[1] = acc[0] + w * x, acc[1] + w
        rate = round_half_up(100.0 * num / den, 1) if den else None
        return {"rate": rate, "verdict": verdict(rate, self.risks > 0),
                "attested": round_half_up(100.0 * att / den, 1) if den else None,
                "items": dict(sorted(self.verdicts.items())),
                "points": {p: round_half_up(10.0 * n / d, 2)
                           for p, (n, d) in sorted(points.items(), key=lambda kv: int(kv[0]))}}

    def _ordered(self):
        """Levels ascending, each level's items in the controls file's order: sums are taken in one order
        whatever order the hosts came in, so a tally scores the same wherever it was built."""
        for level in sorted(self.levels, key=lambda lvl: -1 if lvl is None else lvl):
            if not self.levels[level]:
                continue
            order = _order_of(level)
            yield level, sorted(self.levels[level].items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0]))

    def to_json(self) -> dict:
        return {"levels": {str(lvl): dict(items) for lvl, items in self._ordered()},
                "verdicts": dict(sorted(self.verdicts.items())), "risks": self.risks}

    @classmethod
    def from_json(cls, data: dict) -> "Tally":
        t = cls()
        t.levels = {(int(lvl) if lvl != "None" else None): {c: list(v) for c, v in items.items()}
                    for lvl, items in data["levels"].items()}
        t.verdicts.update(data["verdicts"])
        t.risks = data["risks"]
        return t
