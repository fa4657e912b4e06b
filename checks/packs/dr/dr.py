"""Disaster-recovery pack: level-3 systems (GB/T 22239-2019 8.1.4.9 c hot redundancy; 8.1.10.13
应急预案管理 b–d for the DR plan and drills).

The inventory declares each system's RPO/RTO (``rpo_hours``/``rto_hours``) and ``dr:`` (standby,
plan review date, last drill with its achieved RTO; ``audits.policies``). Dates are judged in UTC
against the run's start: a date after the run started is an error, never a pass. The standby is
judged from the primary host itself: a TCP connection from the primary to the standby's service
port (the path a failover or replication uses) must be accepted — read-only, no data is sent.
"""
from __future__ import annotations

import shlex

from audits.model.probes import Probe
from checks.ages import age_hours, human
from checks.contract import Outcome, check
from checks.packs.mlps._shared import evidence_lines

APPLIES = {"levels": (3, 4)}
CONNECT_SECONDS = 5


def standby_probe(address: str, port: int) -> Probe:
    target = shlex.quote(f"exec 3<>/dev/tcp/{address}/{int(port)}")
    return Probe("command", f"timeout {CONNECT_SECONDS} bash -c {target} && echo open")


def standby_probes(host) -> list[Probe]:
    """timeout 5 bash -c 'exec 3<>/dev/tcp/STANDBY/PORT' && echo open, run on the primary"""
    return [standby_probe(d.standby.address, d.standby.port) for d in getattr(host, "dr", ())
            if d.standby and d.standby.address and d.standby.port]


def _policies(host) -> tuple[tuple, Outcome | None]:
    drs = tuple(getattr(host, "dr", ()) or ())
    if drs or getattr(host, "no_dr", ()):
        return drs, None
    return drs, Outcome.not_applicable("主机不属于声明了灾备的三级系统", "the host serves no level-3 system with DR declarations")


def _missing(host) -> list[str]:
    return [f"system {s}: no dr: declared" for s in getattr(host, "no_dr", ())]


@check(
    id="dr.objectives_declared",
    title={"zh": "三级系统声明了 RPO、RTO 和备用系统", "en": "Level-3 systems declare their RPO, RTO and standby"},
    severity="medium",
    refs=["GB/T 22239-2019 8.1.4.9 c", "GB/T 22239-2019 8.1.10.11 c"],
    applies=APPLIES,
    probes=[],
    needs_host=True,  # judged from the dr: declarations, not for an unreachable host
    rationale={"zh": "灾难恢复从目标开始：恢复点目标（RPO，可丢失多少数据）和恢复时间目标（RTO，多久恢复），以及承担切换的备用主机或备用场地。"
                     "本项检查清单中系统的 rpo_hours、rto_hours 和 dr.standby。",
               "en": "Disaster recovery starts from objectives: the recovery point objective (RPO, how much data may be lost), "
                     "the recovery time objective (RTO, how soon service returns) and the standby host or site that takes "
                     "over. The system's rpo_hours, rto_hours and dr.standby in the inventory are checked."},
    remediation={"zh": "在清单的系统上写明 rpo_hours、rto_hours 和 dr: {standby: {host: 备机, port: 服务端口}}（或 {site: 灾备场地}）。",
                 "en": "Declare rpo_hours, rto_hours and dr: {standby: {host: ID, port: PORT}} (or {site: NAME}) on the "
                       "system in the inventory."},
)
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


def _dated(facts, host, pick, what_zh, what_en, limit_days, extra=None) -> Outcome:
    """Every declaration's date (``pick(d)``) within ``limit_days`` of the run's start."""
    drs, na = _policies(host)
    if na:
        return na
    fails, ok = _missing(host), []
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


@check(
    id="dr.plan_reviewed",
    title={"zh": "灾难恢复预案 12 个月内评审过", "en": "The DR plan was reviewed within 12 months"},
    severity="medium",
    refs=["GB/T 22239-2019 8.1.10.13 b", "GB/T 22239-2019 8.1.10.13 d"],
    applies=APPLIES,
    probes=[],
    needs_host=True,  # judged from the dr: declarations, not for an unreachable host
    params={"plan_review_days": 365},
    rationale={"zh": "三级要求针对重要事件制定包括系统恢复流程在内的应急预案，并定期评估、修订。本项读取清单中 dr.plan_reviewed 日期，"
                     "与本次审计开始时间（UTC）比较，默认不超过 365 天；晚于审计开始的日期为错误。",
               "en": "Level 3 requires emergency plans for important events, including system recovery, that are "
                     "re-evaluated and revised regularly. dr.plan_reviewed in the inventory is compared with the run's start "
                     "(UTC); 365 days at most by default; a date after the run started is an error."},
    remediation={"zh": "每年评审并修订灾难恢复预案，在清单中更新 dr.plan_reviewed。", "en": "Review and revise the DR plan every year "
                 "and update dr.plan_reviewed in the inventory."},
)
def plan_reviewed(facts, host, params):
    return _dated(facts, host, lambda d: d.plan_reviewed, "灾难恢复预案评审", "DR plan review",
                  float(params["plan_review_days"]))


@check(
    id="dr.drill_recorded",
    title={"zh": "12 个月内做过灾备演练且实际恢复时间不超过 RTO", "en": "A DR drill within 12 months met the declared RTO"},
    severity="medium",
    refs=["GB/T 22239-2019 8.1.10.13 c"],
    applies=APPLIES,
    probes=[],
    needs_host=True,  # judged from the dr: declarations, not for an unreachable host
    params={"drill_days": 365},
    rationale={"zh": "应急预案需要定期演练；演练记录应写明日期和实际达到的恢复时间。本项读取清单中 dr.drill 的 date 与 achieved_rto_hours："
                     "演练不早于 drill_days（默认 365 天），实际恢复时间不超过系统声明的 rto_hours。",
               "en": "Emergency plans must be exercised; a drill record gives the date and the recovery time achieved. "
                     "dr.drill.date and achieved_rto_hours in the inventory: the drill within drill_days (default 365) and "
                     "the achieved recovery time no worse than the system's rto_hours."},
    remediation={"zh": "按预案做切换演练，记录实际恢复时间；未达到 RTO 时改进预案或备用系统后再演练。",
                 "en": "Run a failover drill by the plan and record the recovery time achieved; if it missed the RTO, improve "
                       "the plan or the standby and drill again."},
)
def drill_recorded(facts, host, params):
    def rto_gap(d):
        if d.rto_hours is None:
            return "no rto_hours declared to compare with"
        if d.drill_rto_hours is not None and d.drill_rto_hours > d.rto_hours:
            return f"achieved RTO {d.drill_rto_hours:g} h worse than the declared {d.rto_hours:g} h"
        return None

    return _dated(facts, host, lambda d: d.drill_date, "灾备演练", "DR drill", float(params["drill_days"]), rto_gap)


@check(
    id="dr.standby_ready",
    title={"zh": "备用主机可达并运行同一服务", "en": "The standby host is reachable and runs the same service"},
    severity="high",
    refs=["GB/T 22239-2019 8.1.4.9 c"],
    applies=APPLIES,
    probes=[],
    host_probes=standby_probes,
    attest={"zh": "说明备用场地（地址、切换方式、数据同步方式）并附最近的同步或切换记录。",
            "en": "Describe the standby site (where, how failover works, how data is synchronised) with the latest "
                  "synchronisation or failover record."},
    rationale={"zh": "三级要求重要数据处理系统热冗余。备用主机在清单中是另一台主机（dr.standby.host 和服务端口）：从主用主机向备机的服务端口"
                     f"发起 TCP 连接（{CONNECT_SECONDS} 秒内，不发送数据），连接被接受说明备机在主用主机所在网络可达且该服务在监听。"
                     "数据是否同步（复制延迟）不在此判断。备用为场地（dr.standby.site）时由证明回答。",
               "en": "Level 3 requires hot redundancy of important data-processing systems. The standby is another "
                     "inventory host (dr.standby.host and the service port): the primary opens a TCP connection to the "
                     f"standby's service port (within {CONNECT_SECONDS} s, no data sent); an accepted connection shows the "
                     "standby is reachable from the primary's network and the service listens. Whether the data is in sync "
                     "(replication lag) is not judged here. A standby site (dr.standby.site) is answered by an attestation."},
    remediation={"zh": "启动备机上的服务并开放主备之间的网络；在清单中核对 dr.standby 的主机和端口。",
                 "en": "Start the service on the standby and open the network between primary and standby; check the host "
                       "and port of dr.standby in the inventory."},
)
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
