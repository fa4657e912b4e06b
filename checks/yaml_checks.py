"""Declarative checks: one YAML entry (probe + expectation) compiles to a ``Check``.

Entry fields: ``id``, ``title`` {zh, en}, ``severity``, ``refs``, ``applies`` {os, levels, roles},
``probe`` (string, or a mapping of os family to string), ``sudo``, ``parse`` (raw, lines,
keyvalue, sshd, stat), ``when_missing`` (status when the file or command does not exist),
``expect`` (a list of conditions that must all hold), ``params`` (defaults a plan may override),
``rationale``, ``remediation``, ``manual``.

``manual: {zh, en}`` marks an item no probe can prove (or can only hint at): it says what a person
must attest. Without a ``probe`` the check is always ``manual`` (answered by an attestation in the
inventory); with a probe and ``expect``, the probe's evidence passes it and anything else leaves it
``manual`` instead of ``fail`` (auto-hint + attest).

Conditions (like Wazuh SCA / kube-bench):
- ``{key: K, <op>: V, default: D}`` on keyvalue/sshd/stat output; ops ``eq ne in not_in lt le gt ge
  regex not_regex``; for stat also ``mode_max: '0640'`` (no permission bit beyond it),
  ``owner: [..]``, ``group: [..]``;
- ``{lines: any|all|none, regex: R}`` on the lines of the output;
- ``{exists: true|false}`` whether the file/command was there.
A value ``{param: NAME}`` is replaced by the check's parameter of that name.
"""
from __future__ import annotations

import re
from pathlib import Path

from audits.model import yamlsafe
from audits.model.errors import InputError, Problem
from audits.model.errors import did_you_mean
from audits.model.probes import Facts

from . import parsers
from .contract import (SEVERITIES, Check, Outcome, Reference, Status, Text, applicability, normalise_probes,
                       probe_for)

ENTRY_FIELDS = {"id", "title", "severity", "refs", "applies", "probe", "sudo", "parse", "when_missing", "expect",
                "params", "rationale", "remediation", "manual"}
OPS = {"eq", "ne", "in", "not_in", "lt", "le", "gt", "ge", "regex", "not_regex"}
COND_FIELDS = OPS | {"key", "default", "lines", "exists", "mode_max", "owner", "group"}
WHEN_MISSING = {"not_applicable": Status.NOT_APPLICABLE, "fail": Status.FAIL, "pass": Status.PASS,
                "error": Status.ERROR, "manual": Status.MANUAL}
_OP_TEXT = {"eq": ("应等于", "must equal"), "ne": ("不应等于", "must not equal"), "in": ("应为其一", "must be one of"),
            "not_in": ("不应为", "must not be one of"), "lt": ("应小于", "must be <"), "le": ("应不大于", "must be <="),
            "gt": ("应大于", "must be >"), "ge": ("应不小于", "must be >="), "regex": ("应匹配", "must match"),
            "not_regex": ("不应匹配", "must not match")}


def _num(v):
    try:
        return float(str(v).strip())
    except ValueError:
        return None


def _resolve(v, params):
    if isinstance(v, dict) and set(v) == {"param"}:
        return params[v["param"]]
    if isinstance(v, list):
        return [_resolve(x, params) for x in v]
    return v


_BOOL_WORDS = {"yes": "true", "on": "true", "true": "true", "no": "false", "off": "false", "false": "false"}


def _word(v) -> str:
    """Case-insensitive comparison form; YAML 1.1 turns an unquoted ``no`` into False, so booleans
    and the words yes/no/on/off/true/false compare equal to each other."""
    s = str(v).lower()
    return _BOOL_WORDS.get(s, s)


def _compare(op: str, actual, want) -> bool:
    if op in ("eq", "ne"):
        a, w = _word(actual), _word(want)
        return (a == w) if op == "eq" else (a != w)
    if op in ("in", "not_in"):
        hit = _word(actual) in [_word(x) for x in want]
        return hit if op == "in" else not hit
    if op in ("regex", "not_regex"):
        hit = re.search(str(want), str(actual)) is not None
        return hit if op == "regex" else not hit
    a, w = _num(actual), _num(want)
    if a is None or w is None:
        return False
    return {"lt": a < w, "le": a <= w, "gt": a > w, "ge": a >= w}[op]


def _fmt(v) -> str:
    def one(x):
        return ("yes" if x else "no") if isinstance(x, bool) else str(x)
    return ", ".join(map(one, v)) if isinstance(v, list) else one(v)


def _eval_condition(cond: dict, parsed, raw: str, params) -> tuple[bool, str, str, str]:
    """Returns (holds, evidence line, zh message, en message)."""
    if "lines" in cond:
        rx = re.compile(str(_resolve(cond["regex"], params)))
        hits = [ln for ln in parsers.lines(raw) if rx.search(ln)]
        mode = cond["lines"]
        ev = "\n".join(hits[:10])
        if mode == "none":
            return (not hits, ev, f"存在不应出现的行（{len(hits)} 行）", f"{len(hits)} line(s) match {rx.pattern!r}, none allowed")
        if mode == "any":
            return (bool(hits), ev, f"未找到匹配 {rx.pattern} 的行", f"no line matches {rx.pattern!r}")
        bad = [ln for ln in parsers.lines(raw) if not rx.search(ln)]
        return (not bad, "\n".join(bad[:10]), f"有 {len(bad)} 行不符合要求", f"{len(bad)} line(s) do not match {rx.pattern!r}")
    if any(k in cond for k in ("mode_max", "owner", "group")):
        st = parsed
        if not st:
            return (False, raw[:200], "无法读取文件属性", "could not read the file's mode and owner")
        ev = f"{st['mode']} {st['owner']}:{st['group']}"
        if "mode_max" in cond:
            limit = int(str(_resolve(cond["mode_max"], params)), 8)
            extra = int(st["mode"], 8) & ~limit & 0o7777
            if extra:
                return (False, ev, f"权限 {st['mode']} 超出 {limit:04o}", f"mode {st['mode']} is more permissive than {limit:04o}")
        for k, zh in (("owner", "属主"), ("group", "属组")):
            if k in cond:
                allowed = _resolve(cond[k], params)
                allowed = allowed if isinstance(allowed, list) else [allowed]
                if st[k] not in [str(a) for a in allowed]:
                    return (False, ev, f"{zh} {st[k]} 不在 {_fmt(allowed)} 中", f"{k} {st[k]} not in {_fmt(allowed)}")
        return (True, ev, "", "")
    key = cond["key"]
    op = next(o for o in OPS if o in cond)
    want = _resolve(cond[op], params)
    actual = parsed.get(key) if isinstance(parsed, dict) else None
    shown = actual
    if actual is None:
        if "default" not in cond:
            return (False, f"{key}: (not set)", f"未设置 {key}", f"{key} is not set")
        actual = _resolve(cond["default"], params)
        shown = f"{actual} (default)"
    ok = _compare(op, actual, want)
    zh_op, en_op = _OP_TEXT[op]
    return (ok, f"{key} {shown}", f"{key} 当前为 {shown}，{zh_op} {_fmt(want)}",
            f"{key} is {shown}; {en_op} {_fmt(want)}")


def make_evaluator(entry: dict):
    if "manual" in entry:
        return _manual_evaluator(entry)
    return _probe_evaluator(entry)


def _manual_evaluator(entry: dict):
    ask = Text.of(entry["manual"])
    if "probe" not in entry:
        def evaluate(facts: Facts, host, params):
            return Outcome.manual(f"需人工核查并提供证明：{ask.zh}", f"needs an attestation: {ask.en}")

        from audits.model.probes import OS_PROBE

        return {"any": (OS_PROBE,)}, evaluate
    probes, measured = _probe_evaluator(entry)

    def evaluate(facts: Facts, host, params):
        out = measured(facts, host, params)
        if out.status in (Status.FAIL, Status.NOT_APPLICABLE):
            return Outcome.manual(f"未发现可自动确认的证据（{out.message.zh}）；需人工核查并提供证明：{ask.zh}",
                                  f"no evidence the host shows by itself ({out.message.en}); needs an attestation: "
                                  f"{ask.en}", out.evidence)
        return out

    return probes, evaluate


def _probe_evaluator(entry: dict):
    parse = entry.get("parse", "raw")
    conds = list(entry.get("expect") or [])
    when_missing = WHEN_MISSING[entry.get("when_missing", "not_applicable")]
    probes = normalise_probes(entry["probe"] if not isinstance(entry["probe"], dict) else dict(entry["probe"]))
    if entry.get("sudo"):
        from audits.model.probes import Probe

        probes = {k: tuple(Probe(p.kind, p.arg, True) for p in v) for k, v in probes.items()}

    def evaluate(facts: Facts, host, params):
        probe = probe_for(probes, facts)
        res = facts.get(probe)
        if res.error:
            return Outcome.error(f"无法采集 {probe}：{res.error}", f"could not gather {probe}: {res.error}")
        exists = res.rc == 0
        if not exists and not res.missing():
            return Outcome.error(f"采集 {probe} 失败（退出码 {res.rc}）", f"gathering {probe} failed (exit {res.rc})",
                                 res.stderr[:300])
        for c in conds:
            if "exists" in c:
                if bool(c["exists"]) != exists:
                    what = "存在" if exists else "不存在"
                    return Outcome.failed(f"{probe.arg} {what}", f"{probe.arg} {'exists' if exists else 'is missing'}",
                                          res.stdout[:300])
        if not exists:
            if all("exists" in c for c in conds):
                return Outcome.passed("符合要求", "as required", f"{probe.arg}: absent")
            what = probe.arg.split()[0] if probe.kind == "command" else probe.arg
            return Outcome(when_missing, Text(f"主机上没有 {what}", f"{what} is not present on the host"),
                           res.stderr[:200])
        parsed = parsers.PARSERS[parse](res.stdout)
        evidence, zh_bad, en_bad = [], [], []
        for c in conds:
            if "exists" in c:
                continue
            ok, ev, zh, en = _eval_condition(c, parsed, res.stdout, params)
            if ev:
                evidence.append(ev)
            if not ok:
                zh_bad.append(zh)
                en_bad.append(en)
        ev = "\n".join(dict.fromkeys(evidence))
        if zh_bad:
            return Outcome.failed("；".join(zh_bad), "; ".join(en_bad), ev)
        return Outcome.passed("符合要求", "as required", ev)

    return probes, evaluate


# ---------------------------------------------------------------------------------------------
def _validate_entry(file: str, e, path: str, problems: list[Problem]) -> bool:
    start = len(problems)

    def bad(key, msg):
        problems.append(Problem(file, e.line_of(key) if key in e else e.line, f"{path}.{key}", msg))

    for k in e:
        if k not in ENTRY_FIELDS:
            bad(k, "unknown field" + did_you_mean(k, ENTRY_FIELDS))
    for k in ("id", "title", "severity", "refs") + (() if "manual" in e else ("probe",)):
        if k not in e:
            bad(k, "missing required field")
    if "manual" in e and not (isinstance(e["manual"], dict) and {"zh", "en"} <= set(e["manual"])):
        bad("manual", "must be {zh: ..., en: ...}: what a person must attest")
    if "severity" in e and e["severity"] not in SEVERITIES:
        bad("severity", f"{e['severity']!r} is not one of {', '.join(SEVERITIES)}")
    if "refs" in e and not isinstance(e["refs"], list):
        bad("refs", "must be a list of clauses, e.g. ['GB/T 22239-2019 8.1.4.1 a']")
    for r in (e.get("refs") if isinstance(e.get("refs"), list) else None) or []:
        try:
            Reference.parse(str(r))
        except ValueError as exc:
            bad("refs", str(exc))
    if "applies" in e and e["applies"] is not None and not isinstance(e["applies"], dict):
        bad("applies", "must be a mapping (os, levels, roles)")
    if "parse" in e and (not isinstance(e["parse"], str) or e["parse"] not in parsers.PARSERS):
        bad("parse", f"unknown parser{did_you_mean(e['parse'], parsers.PARSERS)}; one of {', '.join(parsers.PARSERS)}")
    if "when_missing" in e and (not isinstance(e["when_missing"], str) or e["when_missing"] not in WHEN_MISSING):
        bad("when_missing", f"must be one of {', '.join(WHEN_MISSING)}")
    params = e.get("params") or {}
    expect = e.get("expect")
    if expect is not None and not isinstance(expect, list):
        bad("expect", "must be a list of conditions")
        expect = []
    for i, c in enumerate(expect or []):
        cp = f"{path}.expect[{i}]"
        cline = e["expect"].line_of(i)
        if not isinstance(c, dict):
            problems.append(Problem(file, cline, cp, "a condition must be a mapping"))
            continue
        for k in c:
            if k not in COND_FIELDS:
                problems.append(Problem(file, c.line_of(k), f"{cp}.{k}", "unknown condition field" + did_you_mean(k, COND_FIELDS)))
        ops = [o for o in OPS if o in c]
        if "key" in c and len(ops) != 1:
            problems.append(Problem(file, cline, cp, f"a key condition needs exactly one of {', '.join(sorted(OPS))}"))
        if "lines" in c and (c["lines"] not in ("any", "all", "none") or "regex" not in c):
            problems.append(Problem(file, cline, cp, "a lines condition is {lines: any|all|none, regex: R}"))
        if not any(k in c for k in ("key", "lines", "exists", "mode_max", "owner", "group")):
            problems.append(Problem(file, cline, cp, "condition needs key, lines, exists, mode_max, owner or group"))
        for k, v in c.items():
            for ref in ([v] if not isinstance(v, list) else v):
                if isinstance(ref, dict) and set(ref) == {"param"} and ref["param"] not in params:
                    problems.append(Problem(file, c.line_of(k), f"{cp}.{k}",
                                            f"unknown parameter {ref['param']!r}" + did_you_mean(ref["param"], params)))
            if k in ("regex", "not_regex") and isinstance(v, str):
                try:
                    re.compile(v)
                except re.error as exc:
                    problems.append(Problem(file, c.line_of(k), f"{cp}.{k}", f"bad regular expression: {exc}"))
    return len(problems) == start


def load_pack_file(path) -> list[Check]:
    """Compile every entry of a YAML check file, or raise InputError with every problem."""
    file = str(path)
    doc = yamlsafe.load_file(path)
    problems: list[Problem] = []
    if not isinstance(doc, dict) or not isinstance(doc.get("checks"), list):
        raise InputError([Problem(file, getattr(doc, "line", 1), "checks", "a check file is a mapping with a 'checks:' list")])
    for k in doc:
        if k not in ("checks", "pack", "description"):
            problems.append(Problem(file, doc.line_of(k), k, "unknown field" + did_you_mean(k, ("checks", "pack", "description"))))
    out = []
    for i, e in enumerate(doc["checks"]):
        path_ = f"checks[{i}]"
        if not isinstance(e, dict):
            problems.append(Problem(file, doc["checks"].line_of(i), path_, "must be a mapping"))
            continue
        if not _validate_entry(file, e, path_, problems):
            continue
        try:
            probes, fn = make_evaluator(e)
            out.append(Check(id=str(e["id"]), title=Text.of(e["title"]), severity=e["severity"],
                             refs=tuple(Reference.parse(str(r)) for r in e["refs"]), probes=probes, evaluate=fn,
                             applies=applicability(e.get("applies")), rationale=Text.of(e.get("rationale", "")),
                             remediation=Text.of(e.get("remediation", "")), params=dict(e.get("params") or {}),
                             source=f"{file}:{e.line}", attest=Text.of(e["manual"]) if "manual" in e else None))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:  # a value of the wrong shape
            problems.append(Problem(file, e.line, path_, str(exc)))
    if problems:
        raise InputError(problems)
    return out


def load_pack_dir(directory: Path) -> list[Check]:
    checks, problems = [], []
    for f in sorted(directory.glob("*.yaml")):
        try:
            checks.extend(load_pack_file(f))
        except InputError as e:
            problems.extend(e.problems)
    if problems:
        raise InputError(problems)
    return checks
