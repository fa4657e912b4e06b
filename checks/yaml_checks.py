"""Declarative checks: one YAML entry (probe + expectation) compiles to a ``Check``.

Entry fields: ``id``, ``title`` {zh, en}, ``severity``, ``requires`` (the requirements it tests, from a
controls file: ``gbt22239:auth.a``, ``gbt22239:access.a@2``; see ``checks/controls.py``; third-party
packs may cite clauses directly with ``refs``), ``applies`` {os, levels, roles},
``probe`` (string, or a mapping of os family to string), ``sudo``, ``parse`` (raw, lines,
keyvalue, sshd, stat), ``when_missing`` (status when the file or command does not exist),
``expect`` (a list of conditions that must all hold), ``params`` (defaults a plan may override),
``shared_params`` (names of parameters shared with other packs, from ``checks/baselines.yaml``),
``rationale``, ``remediation``, ``manual``, ``manual_only``.

A check whose logic is Python has the same entry without ``probe``/``expect``: ``probes`` lists what it
gathers (a list, or a mapping of os family to list), ``needs_host: true`` keeps it from judging an
unreachable host, and the pack's Python module registers its evaluation with ``@evaluator(ID)`` (and
probes built from the host's declarations with ``@declared_probes(ID, …)``). A probe is written as a
string (``sudo file:/etc/shadow``) or by its name in ``checks/probes.yaml`` / the pack's ``probes.yaml``.

``manual: {zh, en}`` marks an item no probe can prove (or can only hint at): it says what a person
must attest. Without a ``probe`` the check is always ``manual`` (answered by an attestation in the
inventory); with a probe and ``expect``, the probe's evidence passes it and anything else leaves it
``manual`` instead of ``fail`` (auto-hint + attest). ``manual_only: {zh, en}`` says why no host can hold the
evidence of an item that is always ``manual`` (no probe, no Python); every other check must be able to fail on
what a host shows (``tests/test_check_fixtures.py`` keeps a failing fixture of each check's own logic).

Conditions (like Wazuh SCA / kube-bench):
- ``{key: K, <op>: V, default: D}`` on keyvalue/sshd/stat output; ops ``eq ne in not_in lt le gt ge
  regex not_regex``; for stat also ``mode_max: '0640'`` (no permission bit beyond it),
  ``owner: [..]``, ``group: [..]``;
- ``{lines: any|all|none, regex: R}`` on the lines of the output;
- ``{exists: true|false}`` whether the file/command was there.
A value ``{param: NAME}`` is replaced by the check's parameter of that name.
"""
from __future__ import annotations

import copy
import re
from pathlib import Path

from audits.model import yamlsafe
from audits.model.errors import InputError, Problem
from audits.model.errors import did_you_mean
from audits.model.probes import OS_PROBE, Facts, Probe

from . import parsers
from . import probe_catalogue
from .baselines import shared_params
from .contract import SEVERITIES, Check, Outcome, Reference, Status, Text, applicability, probe_for
from .controls import parse_requirement, references

ENTRY_FIELDS = {"id", "title", "severity", "refs", "requires", "applies", "probe", "probes", "sudo", "parse",
                "when_missing", "expect", "params", "shared_params", "rationale", "remediation", "manual", "manual_only",
                "needs_host"}
PYTHON_ONLY = ("probes", "needs_host")     # fields of a check evaluated by Python
DECLARATIVE_ONLY = ("probe", "sudo", "parse", "when_missing", "expect")
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
    probes = probe_specs(entry["probe"])
    if entry.get("sudo"):
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


def entry_params(e) -> dict:
    """The entry's parameter defaults: its shared parameters (copied) and then its own."""
    shared = {n: copy.deepcopy(shared_params()[n]) for n in e.get("shared_params") or []}
    return {**shared, **dict(e.get("params") or {})}


def probe_specs(spec) -> dict[str, tuple]:
    """A check's probes (a string, a list, or a mapping of os family to either; names or probe strings)
    → {family or 'any': (Probe, …)}; a per-family name in a plain list adds its variants per family."""
    out: dict[str, list] = {}
    if isinstance(spec, dict):
        for fam, items in spec.items():
            for item in (items if isinstance(items, list) else [items]):
                out.setdefault(str(fam), []).extend(probe_catalogue.resolve(item, str(fam)))
    else:
        for item in (spec if isinstance(spec, list) else [spec]):
            if probe_catalogue.is_name(item) and "any" not in probe_catalogue.variants(item):
                for fam, p in probe_catalogue.variants(item).items():
                    out.setdefault(fam, []).append(p)
            else:
                out.setdefault("any", []).extend(probe_catalogue.resolve(item))
    return {k: tuple(v) for k, v in out.items()}


# ---------------------------------------------------------------------------------------------
def _validate_entry(file: str, e, path: str, problems: list[Problem], python: bool = False) -> bool:
    start = len(problems)

    def bad(key, msg):
        problems.append(Problem(file, e.line_of(key) if key in e else e.line, f"{path}.{key}", msg))

    for k in e:
        if k not in ENTRY_FIELDS:
            bad(k, "unknown field" + did_you_mean(k, ENTRY_FIELDS))
    for k in ("id", "title", "severity") + (() if "manual" in e or python else ("probe",)):
        if k not in e:
            bad(k, "missing required field")
    if "refs" not in e and "requires" not in e:
        bad("requires", "missing required field: the requirements it tests, e.g. ['gbt22239:auth.a']")
    if python:
        for k in DECLARATIVE_ONLY:
            if k in e:
                bad(k, f"'{k}' is for declarative checks; {e.get('id')} is evaluated by Python (use 'probes')")
    else:
        for k in PYTHON_ONLY:
            if k in e:
                bad(k, f"'{k}' is for checks evaluated by Python; no @evaluator({e.get('id')!r}) in the pack")
    if "requires" in e and not isinstance(e["requires"], list):
        bad("requires", "must be a list of requirements, e.g. ['gbt22239:auth.a']")
    for r in (e.get("requires") if isinstance(e.get("requires"), list) else None) or []:
        try:
            parse_requirement(str(r))
        except ValueError as exc:
            bad("requires", str(exc))
    if "probes" in e:
        try:
            probe_specs(e["probes"])
        except (KeyError, ValueError) as exc:
            bad("probes", str(exc).strip('"'))
    if "manual" in e and not (isinstance(e["manual"], dict) and {"zh", "en"} <= set(e["manual"])):
        bad("manual", "must be {zh: ..., en: ...}: what a person must attest")
    if "manual_only" in e:
        if not (isinstance(e["manual_only"], dict) and {"zh", "en"} <= set(e["manual_only"])):
            bad("manual_only", "must be {zh: ..., en: ...}: why no host can hold the evidence")
        if "manual" not in e:
            bad("manual_only", "needs 'manual': what a person must attest")
        for k in ("probe", "probes"):
            if k in e:
                bad("manual_only", f"a manual-only item gathers nothing; drop '{k}' or 'manual_only'")
        if python:
            bad("manual_only", f"{e.get('id')} is evaluated by Python, so it is not manual-only")
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
    shared = e.get("shared_params") or []
    if not isinstance(shared, list):
        bad("shared_params", "must be a list of names from checks/baselines.yaml")
        shared = []
    for name in shared:
        if name not in shared_params():
            bad("shared_params", f"no shared parameter {name!r}" + did_you_mean(str(name), shared_params()))
        elif name in (e.get("params") or {}):
            bad("shared_params", f"{name!r} is also in params; a shared parameter is written once")
    params = {**{n: None for n in shared}, **(e.get("params") or {})}
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


def load_pack_file(path, evaluators=None, declared=None) -> list[Check]:
    """Compile every entry of a YAML check file, or raise InputError with every problem.

    ``evaluators`` maps check ids to their Python evaluation (``@evaluator``), ``declared`` check ids to
    their ``@declared_probes`` function."""
    evaluators, declared = evaluators or {}, declared or {}
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
        fn = evaluators.get(str(e.get("id")))
        if not _validate_entry(file, e, path_, problems, python=fn is not None):
            continue
        try:
            if fn is not None:
                probes = probe_specs(e.get("probes") or [])
            else:
                probes, fn = make_evaluator(e)
            refs = list(e.get("refs") or [])
            refs += [r for r in references(e.get("requires") or []) if r not in refs]
            out.append(Check(id=str(e["id"]), title=Text.of(e["title"]), severity=e["severity"],
                             refs=tuple(Reference.parse(str(r)) for r in refs), probes=probes, evaluate=fn,
                             applies=applicability(e.get("applies")), rationale=Text.of(e.get("rationale", "")),
                             remediation=Text.of(e.get("remediation", "")), params=entry_params(e),
                             source=f"{file}:{e.line}", attest=Text.of(e["manual"]) if "manual" in e else None,
                             manual_only=Text.of(e["manual_only"]) if "manual_only" in e else None,
                             host_probes=declared.get(str(e["id"])), needs_host=bool(e.get("needs_host", False)),
                             requires=tuple(str(r) for r in e.get("requires") or ())))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:  # a value of the wrong shape
            problems.append(Problem(file, e.line, path_, str(exc)))
    if problems:
        raise InputError(problems)
    return out


def load_pack_dir(directory: Path, evaluators=None, declared=None) -> list[Check]:
    """Every check file of a pack folder (``probes.yaml`` holds named probes, not checks). A registered
    evaluator or declared-probes function whose check id has no entry is an error naming its function."""
    checks, problems = [], []
    for f in sorted(directory.glob("*.yaml")):
        if f.name == "probes.yaml":
            continue
        try:
            checks.extend(load_pack_file(f, evaluators, declared))
        except InputError as e:
            problems.extend(e.problems)
    ids = {c.id for c in checks}
    for what, table in (("@evaluator", evaluators or {}), ("@declared_probes", declared or {})):
        for cid, fn in table.items():
            if cid not in ids and not problems:
                problems.append(Problem(f"{fn.__module__}.{fn.__name__}", 0, what,
                                        f"no YAML entry for check {cid!r} in {directory}"))
    if problems:
        raise InputError(problems)
    return checks
