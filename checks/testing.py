"""Fixture testing for checks: recorded facts in, expected status out.

One file per check, ``<dir>/<check_id>.yaml``, holding its cases::

    cases:
      - name: pass-debian            # 'pass…'/'fail…' name the expectation; os from host
        host: {os: debian, level: 3, roles: [web]}
        params: {max_password_age: 60}          # optional plan parameters
        expect: pass                             # pass | fail | manual | not_applicable | error | waived
        probes:
          "file:/etc/login.defs": "PASS_MAX_DAYS 90\\n"          # stdout, exit 0
          "sudo command:sshd -T": {stdout: "...", rc: 0}
          "file:/etc/security/faillock.conf": {rc: 1, stderr: "No such file or directory"}

A probe key is written as in check definitions (``[sudo ]KIND:ARG``). Network checks read scan
facts instead of probes: ``network: {ports: [{port: 23, proto: tcp, state: open, service: telnet}]}``
(defaults: scanned, host up, at the host's address) and, for school-level checks,
``network_school: {networks: [...], declared: {id: address}, live: [{address: ...}]}``. A network device's case
names its platform as ``host: {os: huawei-vrp}`` and may give a saved configuration file as ``config: PATH``
(relative to the fixture file): it becomes the output of the platform's configuration command. Cases may also carry
``attestations``/``waivers`` (inventory form) and ``today`` to test how exceptions apply.
The older one-case-per-file JSON form (``<dir>/<check_id>/<name>.json``) is still read.
Bureaus that ship their own pack can test it the same way (``run_case``).
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path

from dataclasses import replace

from audits.model import yamlsafe
from audits.model.errors import InputError
from audits.model.declarations import parse_backup, parse_dr
from audits.model.waivers import Exceptions, apply_exceptions, parse_entries
from audits.model.inventory import DEFAULT_SETTINGS, Host, Source, merge_settings
from audits.model.probes import Facts, ProbeResult
from checks import parsers
from checks.contract import Check, Outcome, Text, parse_probe


@dataclass
class Case:
    check_id: str
    name: str
    host: Host
    facts: Facts
    expect: str
    params: dict = field(default_factory=dict)
    exceptions: Exceptions | None = None
    today: dt.date | None = None
    source: str = ""

    @property
    def kind(self) -> str:
        return self.name.split("-", 1)[0]


def fixture_host(spec: dict) -> Host:
    """A host from a case's ``host:`` mapping; ``backup:``/``dr:`` are a system's declarations in the
    inventory's form (``rpo_hours``/``rto_hours`` beside them, ``standby_address`` for the standby);
    ``no_backup``/``no_dr`` list systems of the host that declare no backup / no DR."""
    settings = merge_settings(DEFAULT_SETTINGS, {"os": spec.get("os", "auto"), "roles": spec.get("roles", []),
                                                 "facts": spec.get("facts", {}), "ports": spec.get("ports", [])})
    level = spec.get("level", 3)
    problems: list = []
    backup = dr = ()
    if spec.get("backup") is not None:
        backup = (parse_backup(spec["backup"], "fixture", "host.backup", "fixture-system", level,
                               spec.get("rpo_hours"), problems),)
    if spec.get("dr") is not None:
        d = parse_dr(spec["dr"], "fixture", "host.dr", "fixture-system", level, spec.get("rpo_hours"),
                     spec.get("rto_hours"), problems)
        if d and d.standby and spec.get("standby_address"):
            d = replace(d, standby=replace(d.standby, address=str(spec["standby_address"])))
        dr = (d,)
    if problems:
        raise InputError(problems)
    return Host(spec.get("id", "fixture"), spec.get("address", "192.0.2.1"), spec.get("school", "fixture-school"),
                "fixture-district", list(spec.get("systems", [])), level, settings,
                Source("fixture", 0), backup=tuple(b for b in backup if b), dr=tuple(d for d in dr if d),
                no_backup=tuple(spec.get("no_backup", ())), no_dr=tuple(spec.get("no_dr", ())),
                system_info=[{"id": str(s), "name": str(s), "level": level} for s in spec.get("systems", [])])


def _facts(host: Host, probes, meta: dict | None = None) -> Facts:
    facts = Facts(host.id, meta=dict(meta or {}))
    if isinstance(probes, list):  # Facts.to_json form
        facts = Facts.from_json({"host_id": host.id, "probes": probes, "meta": meta or {}})
    else:
        for key, value in (probes or {}).items():
            probe = parse_probe(str(key))
            if isinstance(value, dict):
                facts.results[probe] = ProbeResult(str(value.get("stdout", "")), value.get("rc", 0),
                                                   str(value.get("stderr", "")), bool(value.get("truncated", False)),
                                                   value.get("error"))
            else:
                facts.results[probe] = ProbeResult(str(value), 0, "")
    facts.meta.setdefault("os_family", host.os if host.os != "auto" else parsers.os_family(""))
    return facts


def _config_probe(host: Host, data: dict, base: Path | None) -> dict:
    """``config: PATH`` → {configuration command of the host's device platform: the file's text}."""
    from checks.parsers.devices import COMMANDS, config_probe

    if host.os not in COMMANDS:
        raise ValueError(f"config: needs a device platform as host.os ({', '.join(COMMANDS)})")
    text = ((base or Path(".")) / str(data["config"])).read_text(encoding="utf-8", errors="replace")
    return {config_probe(host.os).key: text}


def _case(check_id: str, data: dict, source: str, name: str, base: Path | None = None) -> Case:
    host = fixture_host(dict(data.get("host", {})))
    exc = None
    if data.get("attestations") or data.get("waivers"):
        exc = Exceptions(parse_entries(data.get("waivers", []), "waiver", source, {"host": host.id}),
                         parse_entries(data.get("attestations", []), "attestation", source, {"host": host.id}))
    today = data.get("today")
    if isinstance(today, str):
        today = dt.date.fromisoformat(today)
    meta = dict(data.get("meta") or {})
    if "network" in data:
        meta["network"] = {"scanned": True, "state": "up", "address": host.address, "udp": False, "reason": "recorded",
                           "source": "fixture", "scanned_at": "2026-12-01T00:00:00Z", "ports": [],
                           **dict(data["network"])}
    if "network_school" in data:
        meta["network_school"] = {"scanned": True, "error": None, "networks": [], "declared": {}, "live": [],
                                  "source": "fixture", **dict(data["network_school"])}
    probes = data.get("probes", {})
    if "config" in data:
        probes = {**_config_probe(host, data, base), **dict(probes or {})}
    return Case(check_id, name, host, _facts(host, probes, meta), str(data["expect"]),
                dict(data.get("params") or {}), exc, today, source)


def load_cases(directory) -> list[Case]:
    """Every case under a fixture directory, in both forms."""
    directory = Path(directory)
    out: list[Case] = []
    for path in sorted(directory.glob("*.yaml")):
        doc = yamlsafe.load_file(path)
        for i, c in enumerate(doc.get("cases", [])):
            out.append(_case(path.stem, c, f"{path}:{doc['cases'].line_of(i)}", str(c.get("name", f"case{i}")),
                             path.parent))
    for path in sorted(directory.glob("*/*.json")):
        out.append(_case(path.parent.name, json.loads(path.read_text(encoding="utf-8")), str(path), path.stem))
    return out


def run_case(check: Check, case: Case) -> Outcome:
    """The check's outcome on the case's facts, with the case's exceptions applied like the engine does."""
    from audits.model.evaluation import check_params, result_row

    out = check.run(case.facts, case.host, check_params(check, {check.pack: case.params}))
    if case.exceptions is None:
        return out
    row = result_row(check, out, case.host.level)
    row = apply_exceptions(row, case.host, case.exceptions, case.today or dt.date.today())
    out.status = type(out.status)(row["status"])
    out.message = Text.of(row["message"])
    out.evidence = row.get("evidence", out.evidence)
    return out


def load_fixture(path) -> tuple[Facts, Host, str]:
    """One JSON fixture (older form)."""
    c = _case(Path(path).parent.name, json.loads(Path(path).read_text(encoding="utf-8")), str(path), Path(path).stem)
    return c.facts, c.host, c.expect


def run_fixture(check: Check, path, params: dict | None = None) -> tuple[Outcome, str]:
    facts, host, expect = load_fixture(path)
    return check.run(facts, host, params), expect


def fail_coverage(cases: list[Case], registry) -> dict[str, dict]:
    """Per check: the statuses its own logic gave on its fixture cases (attestations and waivers left out),
    whether some case fails on its own logic (``own_fail``), whether some case fails only through an
    expired attestation (``attestation_fail``), and its ``manual_only`` reason if it declares one.
    A check whose only failing case is an expired attestation never shows that its logic can fail."""
    from audits.model.evaluation import check_params

    out: dict[str, dict] = {c.id: {"own": set(), "own_fail": False, "attestation_fail": False,
                                   "manual_only": c.manual_only.en if c.manual_only else None} for c in registry}
    for case in cases:
        check = registry.by_id.get(case.check_id)
        if check is None:
            continue
        own = check.run(case.facts, case.host, check_params(check, {check.pack: case.params})).status.value
        row = out[check.id]
        row["own"].add(own)
        if own == "fail":
            row["own_fail"] = True
        elif case.expect == "fail":
            row["attestation_fail"] = True
    return out
