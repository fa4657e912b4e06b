"""Network pack, exposure: what a declared host offers to the network (GB/T 22239-2019 8.1.4.4 b/c,
8.1.4.1 c), whether it answers at all, and ports beyond what its roles need.

The host-side twins (``mlps.auth.plaintext_remote_mgmt``, ``mlps.intrusion.risky_ports``,
``mlps.intrusion.undeclared_listeners``) read ``ss`` on the host; these read the scan, so they also
cover hosts nobody can log in to, and they see what a firewall really lets through. They cite the
same clauses.
"""
from __future__ import annotations

from checks.contract import Outcome, evaluator
from checks.facts import evidence_lines

from ._facts import allowed_ports, declared, declared_ports, open_ports, port_finding, scanned, show

PLAINTEXT = {21: "ftp", 23: "telnet", 512: "rexec", 513: "rlogin", 514: "rsh"}
PLAINTEXT_SERVICES = {"ftp", "telnet", "exec", "login", "shell", "rlogin", "rsh", "rexec"}
DATABASES = {1433: "sql-server", 1521: "oracle", 3306: "mysql", 5432: "postgresql", 6379: "redis",
             9200: "elasticsearch", 11211: "memcached", 27017: "mongodb"}
DATABASE_SERVICES = {"mysql", "postgresql", "ms-sql-s", "oracle-tns", "redis", "mongodb", "memcached",
                     "elasticsearch"}
REMOTE_DESKTOP_SMB = {139: "netbios-ssn", 445: "smb", 3389: "rdp", **{p: "vnc" for p in range(5900, 5911)}}
REMOTE_DESKTOP_SMB_SERVICES = {"microsoft-ds", "netbios-ssn", "ms-wbt-server", "vnc"}


def _exposed(facts, ports: dict, services: set, allowed, found: tuple[str, str], ok: tuple[str, str]) -> Outcome:
    """Open TCP ports in ``ports`` (or a service nmap names in ``services``) not in ``allowed``: fail with them."""
    m, out = scanned(facts)
    if out:
        return out
    hits = [p for p in open_ports(m) if ((p["port"] in ports and p["proto"] == "tcp") or p.get("service") in services)
            and not declared(p, allowed)]
    return port_finding(hits, ports, *found, *ok)


@evaluator("network.exposure.plaintext_services")
def plaintext_services(facts, host):
    return _exposed(facts, PLAINTEXT, PLAINTEXT_SERVICES, set(),
                    ("网络上可访问明文管理/传输服务", "plaintext management/transfer services reachable"),
                    ("网络上未发现明文管理或传输服务", "no plaintext management or transfer service reachable"))


@evaluator("network.exposure.database_ports")
def database_ports(facts, host):
    return _exposed(facts, DATABASES, DATABASE_SERVICES, declared_ports(host),
                    ("网络上可访问数据库/缓存端口", "database/cache ports reachable"),
                    ("网络上未发现开放的数据库或缓存端口", "no database or cache port reachable"))


@evaluator("network.exposure.remote_desktop_smb")
def remote_desktop_smb(facts, host):
    return _exposed(facts, REMOTE_DESKTOP_SMB, REMOTE_DESKTOP_SMB_SERVICES, declared_ports(host),
                    ("网络上可访问 SMB/远程桌面端口", "SMB/remote-desktop ports reachable"),
                    ("网络上未发现开放的 SMB、RDP 或 VNC", "no SMB, RDP or VNC reachable"))


@evaluator("network.exposure.undeclared_ports")
def undeclared_ports(facts, host, params):
    m, out = scanned(facts)
    if out:
        return out
    allowed = allowed_ports(host, params)
    found = open_ports(m)
    bad = [p for p in found if not declared(p, allowed)]
    roles = ", ".join(getattr(host, "roles", []) or []) or "none"
    if bad:
        names = ", ".join(f"{p['port']}/{p['proto']}" for p in bad)
        return Outcome.failed(f"{len(bad)} 个开放端口不在主机角色（{roles}）或台账 ports 允许的范围内：{names}",
                              f"{len(bad)} open port(s) not allowed for the host's roles ({roles}) or inventory ports: "
                              f"{names}", evidence_lines(show(p) for p in bad))
    return Outcome.passed(f"开放端口均为角色（{roles}）所需", f"all open ports are allowed for the roles ({roles})",
                          evidence_lines(show(p) for p in found))


@evaluator("network.exposure.host_answers")
def host_answers(facts, host):
    m, out = scanned(facts, up=False)
    if out:
        return out
    if m.get("state") == "up":
        return Outcome.passed("主机应答扫描", "the host answers", f"{m.get('address')}: up ({m.get('reason', '')})")
    return Outcome.failed(f"台账中的地址 {m.get('address')} 未应答扫描", f"declared address {m.get('address')} did not answer",
                          f"{m.get('address')}: down ({m.get('reason') or 'no answer'})")
