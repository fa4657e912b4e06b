"""Network pack, services that answer without credentials: Redis (nmap redis-info) and SNMP with a
default community (snmp-brute with a two-word list, ``public`` and ``private``)."""
from __future__ import annotations

from checks.contract import Outcome, check
from checks.facts import evidence_lines

from ._facts import ANY_OS, open_ports, scanned, script_lines


@check(
    id="network.service.redis_no_auth",
    title={"zh": "Redis 不允许未认证访问", "en": "Redis does not answer without authentication"},
    severity="high",
    refs=["GB/T 22239-2019 8.1.4.1 a", "GB/T 22239-2019 7.1.4.1 a", "GB/T 22239-2019 8.1.4.4 b",
          "GB/T 22239-2019 7.1.4.4 b"],
    probes=[],
    applies=ANY_OS,
    rationale={"zh": "未设置口令的 Redis 可被任何能连上的人读写数据，并常被利用写入计划任务或 SSH 公钥获取主机权限。nmap 的 "
                     "redis-info 发送 INFO 命令（只读）：返回了服务器信息即为未认证可访问，返回 “Authentication required” 为已认证。",
               "en": "A Redis without a password lets anyone who can connect read and write its data, and is commonly "
                     "abused to plant cron jobs or SSH keys. nmap's redis-info sends INFO (read-only): server details in "
                     "the answer mean no authentication; 'Authentication required' means it is protected."},
    remediation={"zh": "在 redis.conf 中设置 requirepass（Redis 6+ 使用 ACL 用户）、bind 127.0.0.1 或内网地址并保持 "
                       "protected-mode yes，重启 Redis；用防火墙只允许应用服务器访问 6379。",
                 "en": "Set requirepass (Redis 6+: ACL users), bind 127.0.0.1 or an internal address with protected-mode "
                       "yes in redis.conf and restart; allow only the application servers to reach 6379."},
)
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


@check(
    id="network.service.snmp_default_community",
    title={"zh": "SNMP 不接受默认团体名（public、private）", "en": "SNMP does not accept a default community (public, private)"},
    severity="high",
    refs=["GB/T 22239-2019 8.1.4.2 b", "GB/T 22239-2019 7.1.4.2 b"],
    probes=[],
    applies=ANY_OS,
    rationale={"zh": "应重命名或删除默认账户、修改默认口令；SNMP 团体名就是口令，public/private 可读出设备配置、路由表和账户，"
                     "可写团体名还能修改配置。扫描只尝试 public 和 private 两个名称（UDP 161，需要 root 运行扫描）。",
               "en": "Default accounts must be renamed or removed and default passwords changed; an SNMP community is a "
                     "password, and public/private expose device configuration, routes and accounts (a writable one "
                     "changes them). The scan tries only public and private (UDP 161; the scan must run as root)."},
    remediation={"zh": "改用 SNMPv3（authPriv）；必须用 v2c 时设置难以猜测的团体名，并用 ACL 只允许网管服务器访问。",
                 "en": "Use SNMPv3 (authPriv); where v2c is unavoidable set a hard-to-guess community and allow only the "
                       "management server by ACL."},
)
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
