"""Network pack, services that answer without credentials: Redis (nmap redis-info), SNMP with a
default community (snmp-brute with a two-word list, ``public`` and ``private``), anonymous FTP (ftp-anon),
MongoDB (mongodb-info), Elasticsearch (http-headers on 9200) and memcached (memcached-info). No password
is guessed: each script asks once, read-only, as nobody (or as ``anonymous`` for FTP)."""
from __future__ import annotations

import re

from checks.contract import Outcome, evaluator
from checks.facts import evidence_lines

from ._facts import headers, open_ports, scanned, script_lines


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


# ------------------------------------------------------------------ issue #16: no or default credentials
def _service_ports(m, script: str, services: tuple[str, ...], ports: tuple[int, ...]) -> list[dict]:
    return [p for p in open_ports(m, "tcp")
            if script in p.get("scripts", {}) or p.get("service") in services or p.get("port") in ports]


def _judge(open_, closed, unknown, what_zh, what_en) -> Outcome:
    if open_:
        return Outcome.failed(f"{what_zh} 未认证即可访问", f"{what_en} answers without authentication",
                              evidence_lines(open_ + closed + unknown))
    if unknown and not closed:
        return Outcome.error(f"无法判断 {what_zh} 是否需要认证", f"cannot tell whether {what_en} requires authentication",
                             evidence_lines(unknown))
    return Outcome.passed(f"{what_zh} 要求认证", f"{what_en} requires authentication", evidence_lines(closed + unknown))


@evaluator("network.service.ftp_anonymous")
def ftp_anonymous(facts, host):
    m, out = scanned(facts)
    if out:
        return out
    ports = [p for p in open_ports(m, "tcp") if "ftp-anon" in p.get("scripts", {}) or p.get("service") == "ftp"]
    if not ports:
        return Outcome.not_applicable("网络上未发现 FTP 服务", "no FTP service found on the network")
    anon = [f"{p['port']}/tcp: {script_lines(p['scripts']['ftp-anon'])[0].strip()}" for p in ports
            if script_lines(p.get("scripts", {}).get("ftp-anon", ""))
            and "anonymous ftp login allowed" in p["scripts"]["ftp-anon"].lower()]
    if anon:
        return Outcome.failed("FTP 允许匿名登录", "FTP allows anonymous login", evidence_lines(anon))
    # ftp-anon prints nothing when the anonymous login is refused
    return Outcome.passed("FTP 拒绝匿名登录", "FTP refuses anonymous login",
                          evidence_lines(f"{p['port']}/tcp: anonymous login refused" for p in ports))


@evaluator("network.service.mongodb_no_auth")
def mongodb_no_auth(facts, host):
    m, out = scanned(facts)
    if out:
        return out
    ports = _service_ports(m, "mongodb-info", ("mongodb", "mongod"), (27017,))
    if not ports:
        return Outcome.not_applicable("网络上未发现 MongoDB", "no MongoDB found on the network")
    open_, closed, unknown = [], [], []
    for p in ports:
        text = p.get("scripts", {}).get("mongodb-info", "")
        low = text.lower()
        if "requires authentication" in low or "unauthorized" in low or "auth failed" in low:
            closed.append(f"{p['port']}/tcp: authentication required")
        elif "server status" in low and re.search(r"^\s*(uptime|connections|opcounters)\b", text, re.M):
            open_.append(f"{p['port']}/tcp answers serverStatus without authentication")
        else:
            unknown.append(f"{p['port']}/tcp: mongodb-info gave no usable answer (MongoDB 6.0+ ignores its protocol)")
    return _judge(open_, closed, unknown, "MongoDB", "MongoDB")


@evaluator("network.service.elasticsearch_no_auth")
def elasticsearch_no_auth(facts, host):
    m, out = scanned(facts)
    if out:
        return out
    ports = []
    for p in open_ports(m, "tcp"):
        scripts = p.get("scripts", {})
        h = headers(scripts.get("http-headers", ""))
        if (p.get("port") in (9200, 9201) or "campus-es-auth" in scripts or "x-elastic-product" in h
                or "elasticsearch" in p.get("product", "").lower()):
            ports.append((p, h, scripts.get("http-headers", ""), scripts.get("campus-es-auth", "")))
    if not ports:
        return Outcome.not_applicable("网络上未发现 Elasticsearch", "no Elasticsearch found on the network")
    open_, closed, unknown = [], [], []
    for p, h, text, ours in ports:
        # audits/collect/nse/campus-es-auth.nse: "status 200; x-elastic-product Elasticsearch; content-type ..."
        mine = re.match(r"\s*status (\d{3}); x-elastic-product (.*?); content-type (.*)$", ours.strip())
        if mine:
            code = mine.group(1)
            if mine.group(2) != "-":
                h = {**h, "x-elastic-product": mine.group(2)}
            h = {**h, "content-type": mine.group(3)}
        else:
            status = re.search(r"HTTP/[\d.]+ (\d{3})", text)
            code = status.group(1) if status else ""
        elastic = "x-elastic-product" in h or "application/json" in h.get("content-type", "")
        if code == "200" and elastic:
            open_.append(f"{p['port']}/tcp: HEAD / answered 200 without credentials ({h.get('x-elastic-product') or 'JSON'})")
        elif code in ("401", "403"):
            closed.append(f"{p['port']}/tcp: HEAD / answered {code}")
        else:
            unknown.append(f"{p['port']}/tcp: no Elasticsearch answer to HEAD / ({code or 'no HTTP status'})")
    return _judge(open_, closed, unknown, "Elasticsearch", "Elasticsearch")


@evaluator("network.service.memcached_no_auth")
def memcached_no_auth(facts, host):
    m, out = scanned(facts)
    if out:
        return out
    ports = _service_ports(m, "memcached-info", ("memcached", "memcache"), (11211,))
    if not ports:
        return Outcome.not_applicable("网络上未发现 memcached", "no memcached found on the network")
    open_, closed, unknown = [], [], []
    for p in ports:
        lines = [ln.strip() for ln in script_lines(p.get("scripts", {}).get("memcached-info", ""))]
        fields = dict(ln.split(": ", 1) for ln in lines if ": " in ln)
        if fields.get("Authentication", "").lower() == "yes":
            closed.append(f"{p['port']}/tcp: SASL authentication enabled")
        elif any(k in fields for k in ("Process ID", "Uptime", "Current connections", "Total connections")):
            open_.append(f"{p['port']}/tcp answers stats without authentication: "
                         + "; ".join(f"{k}: {v}" for k, v in list(fields.items())[:3]))
        else:
            unknown.append(f"{p['port']}/tcp: memcached-info gave no answer")
    return _judge(open_, closed, unknown, "memcached", "memcached")
