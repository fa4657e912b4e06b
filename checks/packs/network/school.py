"""Network pack, school level: live addresses in the school's declared subnets that the inventory does
not list (undeclared assets). Judged on the synthetic host ``network@<school>`` (role
``network-segment``), whose ``Facts.meta["network_school"]`` holds the live and declared addresses."""
from __future__ import annotations

from audits.model.inventory import SEGMENT_ROLE
from checks.contract import Outcome, check
from checks.packs.mlps._shared import evidence_lines

from ._facts import ANY_OS, scanned
from .exposure import ASSET_REFS


@check(
    id="network.school.undeclared_hosts",
    title={"zh": "学校网段中没有台账以外的在线主机", "en": "No live host in the school's subnets is missing from the inventory"},
    severity="medium",
    refs=ASSET_REFS,
    probes=[],
    applies={**ANY_OS, "roles": (SEGMENT_ROLE,)},
    rationale={"zh": "应编制并保存与保护对象相关的资产清单；扫描学校在台账 networks 中声明的网段，在线但未登记的地址是未纳入管理的"
                     "资产（私接设备、遗忘的测试机、未打补丁的旧系统），也是攻击者最先利用的地方。只扫描台账声明的网段和主机。",
               "en": "An asset list of what is protected must be kept; scanning the subnets the school declares under "
                     "networks, a live address not in the inventory is an unmanaged asset (a rogue device, a forgotten "
                     "test machine, an unpatched legacy system) and the first thing an attacker uses. Only declared "
                     "subnets and hosts are scanned."},
    remediation={"zh": "逐一确认这些地址：是学校资产的，登记到资产台账（并纳入审计）；不是的，断开或隔离。",
                 "en": "Identify each address: add school assets to the inventory (so they are audited); disconnect or "
                       "isolate the rest."},
)
def undeclared_hosts(facts, host):
    m, out = scanned(facts, "network_school", up=False)
    if out:
        return out
    declared = set((m.get("declared") or {}).values())
    live = m.get("live") or []
    extra = [h for h in live if h.get("address") not in declared]
    nets = ", ".join(m.get("networks") or [])
    if extra:
        return Outcome.failed(f"网段 {nets} 中有 {len(extra)} 个在线地址不在资产台账中",
                              f"{len(extra)} live address(es) in {nets} are not in the inventory",
                              evidence_lines(f"{h['address']}: open {', '.join(h.get('ports') or []) or '(none)'}"
                                             for h in extra))
    return Outcome.passed(f"网段 {nets} 中 {len(live)} 个在线地址均已登记", f"all {len(live)} live address(es) in {nets} "
                          "are in the inventory", evidence_lines(h["address"] for h in live))
