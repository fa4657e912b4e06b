"""Judging a host from gathered facts, purely: which checks might apply and which probes they need,
each check's parameters (defaults, then the plan's pack and check values), the result row of an
outcome, and the waivers and attestations applied after it. No I/O: the runner, the collectors and
the fixture tests all judge alike.
"""
from __future__ import annotations

import datetime as dt
from typing import Iterable

from checks import parsers
from checks.contract import Check, Outcome

from audits.model.clock import now
from audits.model.errors import InputError, Problem, did_you_mean
from audits.model.inventory import Host
from audits.model.probes import OS_PROBE, Facts
from audits.model.waivers import Exceptions, apply_exceptions


def check_params(check: Check, plan_params: dict) -> dict:
    """A check's parameters: its defaults, then the plan's values for its pack, then for its id."""
    pack = {k: v for k, v in plan_params.get(check.pack, {}).items() if k in check.params}
    return {**check.params, **pack, **plan_params.get(check.id, {})}


def validate_params(plan_params: dict, checks: Iterable[Check], source: str = "plan") -> None:
    """Every parameter a plan sets must be declared by some check of that pack (or that check)."""
    checks = list(checks)
    by_id = {c.id: c for c in checks}
    by_pack: dict[str, set] = {}
    for c in checks:
        by_pack.setdefault(c.pack, set()).update(c.params)
    problems = []
    for target, values in plan_params.items():
        known = by_id[target].params.keys() if target in by_id else by_pack.get(target)
        line = getattr(plan_params, "line_of", lambda k: 0)(target)
        if known is None:
            problems.append(Problem(source, line, f"params.{target}", "no selected pack or check has this name"
                                    + did_you_mean(target, list(by_pack) + list(by_id))))
            continue
        for k in values:
            if k not in known:
                problems.append(Problem(source, getattr(values, "line_of", lambda _: line)(k), f"params.{target}.{k}",
                                        "unknown parameter" + did_you_mean(k, known)
                                        + (f"; known: {', '.join(sorted(known))}" if known else "")))
    if problems:
        raise InputError(problems)


def applicable_checks(checks: Iterable[Check], host: Host) -> list[Check]:
    """Checks that might apply before facts are known (the os may still be 'auto')."""
    return [c for c in checks if c.applies.reason_not(host.os, host.level, host.roles) is None]


def gather_plan(checks: Iterable[Check], host: Host, plan_params: dict | None = None) -> set:
    probes = {OS_PROBE}
    for c in applicable_checks(checks, host):
        probes |= c.probes_for_host(host, check_params(c, plan_params or {}))
    return probes


def result_row(check: Check, outcome: Outcome, level: int | None, at: str | None = None) -> dict:
    """A result as stored; ``at``: when it was evaluated (default now; to the second, so one host's checks share it)."""
    return {"check_id": check.id, "status": str(outcome.status), "severity": outcome.severity or check.severity,
            "refs": [r.text for r in check.refs_for_level(level)], "title": check.title.to_json(),
            "message": outcome.message.to_json(), "remediation": check.remediation.to_json(),
            "evidence": outcome.evidence, "evaluated_at": at or now()}


def evaluate_host(checks: Iterable[Check], facts: Facts, host: Host, plan_params: dict | None = None,
                  exceptions: Exceptions | None = None, today: dt.date | None = None,
                  run_started: str | None = None) -> list[dict]:
    """Pure: every check against the gathered facts, then the attestations and waivers that answer them.
    ``run_started`` (the run's UTC start) goes into ``facts.meta`` for checks that judge ages."""
    if run_started and "run_started" not in facts.meta:
        facts.meta["run_started"] = run_started
    if "os_family" not in facts.meta:
        facts.meta["os_family"] = parsers.os_family(facts.get(OS_PROBE).stdout) or host.os
    at = now()
    rows = [result_row(c, c.run(facts, host, check_params(c, plan_params or {})), host.level, at) for c in checks]
    if exceptions:
        day = today or dt.date.today()
        rows = [apply_exceptions(r, host, exceptions, day) for r in rows]
    return rows


def meta_only(checks: Iterable[Check]) -> list[Check]:
    """Checks that need no answer from the host (connection, network view, attestations): those also
    judge an unreachable host."""
    return [c for c in checks if not c.probes_for("auto") and c.host_probes is None and not c.needs_host]
