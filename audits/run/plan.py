"""Audit plans (``audits/*.yaml``): which inventory, scope, packs, parameters and outputs a run uses,
so a scheduled job is one line: ``auditctl run --plan audits/school.yaml``.

Relative paths in a plan are relative to the plan file. Command-line options override the plan.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from audits.model import yamlsafe
from audits.model.errors import InputError, Problem, did_you_mean
from audits.model.inventory import port_spec
from audits.model.waivers import Exceptions, parse_entries
from audits.run.schedule_syntax import parse_schedule

PLAN_FIELDS = {"name", "inventory", "limit", "packs", "params", "outputs", "fail_on", "forks", "schedule", "lang",
               "description", "waivers", "attestations", "network"}
# network: the network stage's settings (audits/netscan.py ScanOptions); its presence makes `run` scan.
NETWORK_FIELDS = {"scan_type": ("auto", "syn", "connect"), "max_rate": (1, 100000), "host_timeout": (5, 3600), "script_timeout": (5, 600),
                  "timeout": (10, 86400), "ports": None, "snmp": bool}
OUTPUT_FIELDS = {"out", "json", "csv", "junit", "db"}
SEVERITY_NAMES = ("info", "low", "medium", "high", "critical")


@dataclass
class Plan:
    name: str = "adhoc"
    inventory: str | None = None
    limit: str | None = None
    packs: list[str] = field(default_factory=list)
    params: dict = field(default_factory=dict)
    out: str | None = None
    json: str | None = None
    csv: str | None = None
    junit: str | None = None
    db: str | None = None
    fail_on: str | None = None
    forks: int | None = None
    schedule: str | None = None
    lang: str = "zh"
    source: str | None = None
    exceptions: Exceptions = field(default_factory=Exceptions)  # plan waivers/attestations (scope required)
    network: dict | None = None  # network stage settings; None: `run` does no network scan


def load_plan(path) -> Plan:
    path = Path(path)
    doc = yamlsafe.load_file(path)
    file = str(path)
    problems: list[Problem] = []
    if not isinstance(doc, dict):
        raise InputError([Problem(file, 1, "(root)", "an audit plan must be a mapping")])

    def bad(node, key, msg, prefix=""):
        problems.append(Problem(file, node.line_of(key), f"{prefix}{key}", msg))

    for k in doc:
        if k not in PLAN_FIELDS:
            bad(doc, k, "unknown field" + did_you_mean(k, PLAN_FIELDS))
    base = path.parent

    def rel(v):
        return str((base / v).resolve()) if v is not None and "://" not in str(v) else v

    plan = Plan(source=file, name=str(doc.get("name", path.stem)))
    for key in ("inventory", "limit", "schedule"):
        if key in doc:
            if not isinstance(doc[key], str):
                bad(doc, key, "wrong type: expected a string")
            else:
                setattr(plan, key, doc[key])
    if plan.schedule is not None:
        try:
            parse_schedule(plan.schedule)
        except ValueError as exc:
            bad(doc, "schedule", str(exc))
            plan.schedule = None
    plan.inventory = rel(plan.inventory)
    if "packs" in doc:
        v = doc["packs"]
        if not (isinstance(v, list) and all(isinstance(x, str) for x in v)):
            bad(doc, "packs", "wrong type: expected a list of pack names")
        else:
            plan.packs = list(v)
    if "params" in doc:
        if not isinstance(doc["params"], dict) or not all(isinstance(v, dict) for v in doc["params"].values()):
            bad(doc, "params", "expected a mapping of pack or check id to a mapping of parameters")
        else:
            plan.params = doc["params"]  # keeps line numbers for parameter errors
    if "fail_on" in doc:
        if doc["fail_on"] not in SEVERITY_NAMES:
            bad(doc, "fail_on", f"must be one of {', '.join(SEVERITY_NAMES)}")
        else:
            plan.fail_on = doc["fail_on"]
    if "forks" in doc:
        v = doc["forks"]
        if not isinstance(v, int) or isinstance(v, bool) or not 1 <= v <= 1000:
            bad(doc, "forks", "must be an integer 1-1000")
        else:
            plan.forks = v
    if "lang" in doc:
        if doc["lang"] not in ("zh", "en"):
            bad(doc, "lang", "must be zh or en")
        else:
            plan.lang = doc["lang"]
    plan.exceptions = Exceptions(
        parse_entries(doc["waivers"], "waiver", file, None, "", problems) if "waivers" in doc else [],
        parse_entries(doc["attestations"], "attestation", file, None, "", problems) if "attestations" in doc else [])
    if "network" in doc:
        plan.network = _network(doc, bad)
    outs = doc.get("outputs")
    if outs is not None:
        if not isinstance(outs, dict):
            bad(doc, "outputs", "must be a mapping (out, json, csv, junit, db)")
        else:
            for k, v in outs.items():
                if k not in OUTPUT_FIELDS:
                    bad(outs, k, "unknown field" + did_you_mean(k, OUTPUT_FIELDS), "outputs.")
                elif not isinstance(v, str):
                    bad(outs, k, "wrong type: expected a path or URL", "outputs.")
                else:
                    setattr(plan, k, rel(v))
    if problems:
        raise InputError(problems)
    return plan


def _network(doc, bad) -> dict:
    """The plan's ``network:`` mapping (``true`` for the defaults), validated field by field."""
    node = doc["network"]
    if node is True:
        return {}
    if not isinstance(node, dict):
        bad(doc, "network", "must be true or a mapping (scan_type, max_rate, host_timeout, script_timeout, timeout, ports, "
                         "snmp)")
        return {}
    out = {}
    for k, v in node.items():
        rule = NETWORK_FIELDS.get(k, "unknown")
        if rule == "unknown":
            bad(node, k, "unknown field" + did_you_mean(k, NETWORK_FIELDS), "network.")
        elif k == "ports":
            if not (isinstance(v, list) and all(port_spec(p) for p in v)):
                bad(node, k, "expected a list of ports (8081 or '161/udp')", "network.")
            else:
                out[k] = tuple(v)
        elif rule is bool:
            if not isinstance(v, bool):
                bad(node, k, "expected true or false", "network.")
            else:
                out[k] = v
        elif isinstance(rule[0], str):
            if v not in rule:
                bad(node, k, f"must be one of {', '.join(rule)}", "network.")
            else:
                out[k] = v
        elif not isinstance(v, int) or isinstance(v, bool) or not rule[0] <= v <= rule[1]:
            bad(node, k, f"expected an integer {rule[0]}-{rule[1]}", "network.")
        else:
            out[k] = v
    return out
