"""Network pack, services that answer without credentials: Redis (nmap redis-info) and SNMP with a
default community (snmp-brute with a two-word list, ``public`` and ``private``)."""
from __future__ import annotations

from checks.contract import Outcome, evaluator
from checks.facts import evidence_lines

from ._facts import open_ports, scanned, script_lines


@evaluator("network.service.redis_no_auth")
def redis_no_auth(facts, host):
    m, out = scanned(facts)
    if out:
        return out
    ports = [p for p in open_ports(m, "tcp") if "redis-info" in p.get("scripts", {}) or p.get("service") == "redis"]
    if not ports:
        return Outcome.not_applicable("网络上未发现 Redis", "no Redis found on the network")
    open_, closed, unknown = [], [], []
    for p in ports:
        text = p.get("scripts", {}).get("redis-info", "")
        lines = script_lines(text)
        if not lines:
            unknown.append(f"{p['port']}/tcp: redis-info gave no answer")
        elif lines[0].strip().startswith("ERROR"):
            (closed if "authentication required" in text.lower() else unknown).append(f"{p['port']}/tcp: {lines[0].strip()}")
        else:
            open_.append(f"{p['port']}/tcp answers INFO without authentication: " + "; ".join(x.strip() for x in lines[:4]))
    if open_:
        return Outcome.failed("Redis 未认证即可访问", "Redis answers without authentication", evidence_lines(open_ + closed))
    if unknown and not closed:
        return Outcome.error("无法判断 Redis 是否需要认证", "cannot tell whether Redis requires authentication",
                             evidence_lines(unknown))
    return Outcome.passed("Redis 要求认证", "Redis requires authentication", evidence_lines(closed + unknown))


@evaluator("network.service.snmp_default_community")
def snmp_default_community(facts, host):
    m, out = scanned(facts)
    if out:
        return out
    if not m.get("udp"):
        return Outcome.not_applicable("本次扫描未探测 UDP/SNMP（需要以 root 扫描）", "UDP/SNMP was not probed (needs a root scan)")
    snmp = [p for p in m.get("ports", []) if p.get("proto") == "udp" and p.get("port") == 161]
    valid = [f"161/udp: {ln.strip()}" for p in snmp for ln in script_lines(p.get("scripts", {}).get("snmp-brute", ""))
             if "valid credentials" in ln.lower()]
    if valid:
        return Outcome.failed("SNMP 接受默认团体名", "SNMP accepts a default community", evidence_lines(valid))
    state = snmp[0].get("state", "closed") if snmp else "closed"
    return Outcome.passed("SNMP 未接受默认团体名", "SNMP accepted no default community", f"161/udp: {state}")
