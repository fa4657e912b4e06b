"""Network pack, school level: live addresses in the school's declared subnets that the inventory does
not list (undeclared assets). Judged on the synthetic host ``network@<school>`` (role
``network-segment``), whose ``Facts.meta["network_school"]`` holds the live and declared addresses."""
from __future__ import annotations

from checks.contract import Outcome, evaluator
from checks.facts import evidence_lines

from ._facts import scanned


@evaluator("network.school.undeclared_hosts")
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
