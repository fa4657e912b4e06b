"""Disaster-recovery pack: level-3 systems (GB/T 22239-2019 8.1.4.9 c hot redundancy; 8.1.10.13
应急预案管理 c–d for the DR plan and drills) and drills at level 2 too (7.1.10.13 b).

The inventory declares each system's RPO/RTO (``rpo_hours``/``rto_hours``) and ``dr:`` (standby,
plan review date, last drill with its achieved RTO; ``audits.model.declarations``). Dates are judged in UTC
against the run's start: a date after the run started is an error, never a pass. The standby is
judged from the primary host itself: a TCP connection from the primary to the standby's service
port (the path a failover or replication uses) must be accepted — read-only, no data is sent.
"""
from __future__ import annotations

import shlex

from audits.model.probes import Probe
from checks.contract import Outcome, declared_probes, evaluator
from checks.facts import age_hours, evidence_lines
from checks.parsers.times import human

CONNECT_SECONDS = 5


def standby_probe(address: str, port: int) -> Probe:
    # The address is data, never script text: bash -c receives it as $0 (quoted), so an address such
    # as 127.0.0.1$(id>/tmp/x) is only ever a (bad) file name under /dev/tcp.
    return Probe("command", f"timeout {CONNECT_SECONDS} bash -c 'exec 3<>\"/dev/tcp/$0/$1\"' "
                            f"{shlex.quote(str(address))} {int(port)} && echo open")


@declared_probes("dr.standby_ready")
def standby_probes(host) -> list[Probe]:
    """timeout 5 bash -c 'exec 3<>"/dev/tcp/$0/$1"' STANDBY PORT && echo open, run on the primary"""
    return [standby_probe(d.standby.address, d.standby.port) for d in getattr(host, "dr", ())
            if d.standby and d.standby.address and d.standby.port]


def _policies(host, min_level: int = 3) -> tuple[tuple, Outcome | None]:
    """The host's DR declarations of systems at ``min_level`` or above (level 3 for objectives, plan reviews and
    standbys; level 2 for drills), or a not-applicable outcome when it has none and lacks none."""
    drs = tuple(d for d in getattr(host, "dr", ()) or () if d.level >= min_level)
    if drs or getattr(host, "no_dr", ()):
        return drs, None
    return drs, Outcome.not_applicable("主机不属于声明了灾备的三级系统", "the host serves no level-3 system with DR declarations")


def _missing(host) -> list[str]:
    return [f"system {s}: no dr: declared" for s in getattr(host, "no_dr", ())]


@evaluator("dr.objectives_declared")
def objectives_declared(facts, host):
    drs, na = _policies(host)
    if na:
        return na
    gaps = _missing(host)
    for d in drs:
        lack = [k for k, v in (("rpo_hours", d.rpo_hours), ("rto_hours", d.rto_hours), ("dr.standby", d.standby)) if not v]
        if lack:
            gaps.append(f"system {d.system}: missing {', '.join(lack)}")
    if gaps:
        return Outcome.failed("灾备目标未声明完整：" + "；".join(gaps), "DR objectives incompletely declared: " + "; ".join(gaps),
                              evidence_lines(gaps))
    return Outcome.passed("已声明 RPO、RTO 和备用系统", "RPO, RTO and standby are declared",
                          evidence_lines(f"{d.system}: RPO {d.rpo_hours:g} h, RTO {d.rto_hours:g} h, standby "
                                         f"{d.standby.host or d.standby.site}" for d in drs))


def _dated(facts, host, pick, what_zh, what_en, limit_days, extra=None, missing=(), min_level=3) -> Outcome:
    """Every declaration's date (``pick(d)``) within ``limit_days`` of the run's start; ``missing`` adds
    systems that should have declared one and did not."""
    drs, na = _policies(host, min_level)
    if na and not missing:
        return na
    fails, ok = _missing(host) + list(missing), []
    for d in drs:
        when = pick(d)
        if when is None:
            fails.append(f"system {d.system}: no {what_en} recorded")
            continue
        hours, err = age_hours(facts, when, f"{what_en} of {d.system}")
        if err:
            return err
        line = f"system {d.system}: {what_en} {when.isoformat()}, {human(hours)} before the run"
        if hours > limit_days * 24:
            fails.append(f"{line}, over {limit_days:g} days")
            continue
        more = extra(d) if extra else None
        if more:
            fails.append(f"{line}; {more}")
        else:
            ok.append(line)
    if fails:
        return Outcome.failed(f"{what_zh}不符合要求：" + "；".join(fails), f"{what_en}: " + "; ".join(fails),
                              evidence_lines(fails + ok))
    return Outcome.passed(f"{what_zh}在 {limit_days:g} 天之内", f"{what_en} within {limit_days:g} days", evidence_lines(ok))


@evaluator("dr.plan_reviewed")
def plan_reviewed(facts, host, params):
    return _dated(facts, host, lambda d: d.plan_reviewed, "灾难恢复预案评审", "DR plan review",
                  float(params["plan_review_days"]))


@evaluator("dr.drill_recorded")
def drill_recorded(facts, host, params):
    """Level 2 (7.1.10.13 b) and level 3 (8.1.10.13 c) both require drills: a level-2 system with no ``dr:``
    has no drill on record (a fail); the achieved RTO is compared where an RTO is declared (required at level 3)."""
    def rto_gap(d):
        if d.rto_hours is None:
            return "no rto_hours declared to compare with" if d.level >= 3 else None
        if d.drill_rto_hours is not None and d.drill_rto_hours > d.rto_hours:
            return f"achieved RTO {d.drill_rto_hours:g} h worse than the declared {d.rto_hours:g} h"
        return None

    declared = {d.system for d in getattr(host, "dr", ()) or ()}
    level2 = [f"system {s['id']}: no dr: declared (no drill on record)" for s in getattr(host, "system_info", ()) or ()
              if s.get("level") == 2 and s["id"] not in declared]
    return _dated(facts, host, lambda d: d.drill_date, "灾备演练", "DR drill", float(params["drill_days"]), rto_gap,
                  missing=level2, min_level=2)


@evaluator("dr.standby_ready")
def standby_ready(facts, host):
    drs, na = _policies(host)
    if na:
        return na
    fails, ok, sites = _missing(host), [], []
    for d in drs:
        sb = d.standby
        if sb is None:
            fails.append(f"system {d.system}: no standby declared")
            continue
        if sb.site:
            sites.append(f"system {d.system}: standby site {sb.site}")
            continue
        if not sb.address:
            fails.append(f"system {d.system}: standby host {sb.host} has no address")
            continue
        res = facts.get(standby_probe(sb.address, sb.port))
        where = f"{sb.host} {sb.address}:{sb.port}"
        if res.error and res.error != "probe timed out":
            return Outcome.error(f"无法从本机测试备机 {where}：{res.error}", f"cannot test the standby {where}: {res.error}")
        if res.rc == 0 and res.stdout.strip().endswith("open"):
            ok.append(f"system {d.system}: standby {where} accepted a connection from {host.id}")
        else:
            why = "timed out" if res.rc == 124 or res.error else ((res.stderr or "").strip().splitlines() or [f"exit {res.rc}"])[-1]
            fails.append(f"system {d.system}: standby {where} not reachable from {host.id}: {why[:160]}")
    if fails:
        return Outcome.failed("备用系统不可用：" + "；".join(fails), "standby not ready: " + "; ".join(fails),
                              evidence_lines(fails + ok))
    if sites and not ok:
        return Outcome.manual("备用为灾备场地，需人工核查", "the standby is a site: attest it", evidence_lines(sites))
    return Outcome.passed("备用主机可达且服务在监听", "the standby host is reachable and its service listens", evidence_lines(ok + sites))
