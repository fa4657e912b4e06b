"""Network pack, exposure: what a declared host offers to the network (GB/T 22239-2019 8.1.4.4 b/c,
8.1.4.1 c), whether it answers at all, and ports beyond what its roles need.

The host-side twins (``mlps.auth.plaintext_remote_mgmt``, ``mlps.intrusion.risky_ports``,
``mlps.intrusion.undeclared_listeners``) read ``ss`` on the host; these read the scan, so they also
cover hosts nobody can log in to, and they see what a firewall really lets through. They cite the
same clauses.
"""
from __future__ import annotations

from types import SimpleNamespace

from checks.baselines import ROLE_PORTS, param_defaults
from checks.contract import Outcome, check
from checks.facts import evidence_lines

from ._facts import ANY_OS, allowed_ports, declared, declared_ports, open_ports, port_finding, scanned, show

# The role table shared with the host-side mlps.intrusion.undeclared_listeners, under the name the
# decorator of undeclared_ports reads it by.
host_side = SimpleNamespace(undeclared_listeners=param_defaults(ROLE_PORTS))

PLAINTEXT = {21: "ftp", 23: "telnet", 512: "rexec", 513: "rlogin", 514: "rsh"}
PLAINTEXT_SERVICES = {"ftp", "telnet", "exec", "login", "shell", "rlogin", "rsh", "rexec"}
DATABASES = {1433: "sql-server", 1521: "oracle", 3306: "mysql", 5432: "postgresql", 6379: "redis",
             9200: "elasticsearch", 11211: "memcached", 27017: "mongodb"}
DATABASE_SERVICES = {"mysql", "postgresql", "ms-sql-s", "oracle-tns", "redis", "mongodb", "memcached",
                     "elasticsearch"}
REMOTE_DESKTOP_SMB = {139: "netbios-ssn", 445: "smb", 3389: "rdp", **{p: "vnc" for p in range(5900, 5911)}}
REMOTE_DESKTOP_SMB_SERVICES = {"microsoft-ds", "netbios-ssn", "ms-wbt-server", "vnc"}
ASSET_REFS = ["GB/T 22239-2019 8.1.10.2 a", "GB/T 22239-2019 7.1.10.2 a"]


def _exposed(facts, ports: dict, services: set, allowed, found: tuple[str, str], ok: tuple[str, str]) -> Outcome:
    """Open TCP ports in ``ports`` (or a service nmap names in ``services``) not in ``allowed``: fail with them."""
    m, out = scanned(facts)
    if out:
        return out
    hits = [p for p in open_ports(m) if ((p["port"] in ports and p["proto"] == "tcp") or p.get("service") in services)
            and not declared(p, allowed)]
    return port_finding(hits, ports, *found, *ok)


@check(
    id="network.exposure.plaintext_services",
    title={"zh": "网络上看不到明文远程管理或文件传输服务（telnet、rlogin、rsh、ftp）",
           "en": "No plaintext remote management or file transfer reachable on the network (telnet, rlogin, rsh, ftp)"},
    severity="high",
    refs=["GB/T 22239-2019 8.1.4.1 c", "GB/T 22239-2019 7.1.4.1 c", "GB/T 22239-2019 8.1.4.8 a"],
    probes=[],
    applies=ANY_OS,
    rationale={"zh": "远程管理时应防止鉴别信息在网络传输中被窃听；telnet、rlogin/rsh/rexec 和 ftp 以明文传送口令。按端口（21、23、"
                     "512–514）和 nmap 识别出的服务名判断，所以改到其他端口的 telnet 也会被发现。与主机侧的 "
                     "mlps.auth.plaintext_remote_mgmt 引用相同条款。",
               "en": "Remote management must keep credentials from being overheard; telnet, rlogin/rsh/rexec and ftp send "
                     "passwords in clear. Judged by port (21, 23, 512-514) and by the service nmap recognises, so telnet "
                     "moved to another port is found too. Cites the same clauses as the host-side "
                     "mlps.auth.plaintext_remote_mgmt."},
    remediation={"zh": "停用这些服务（如 systemctl disable --now telnet.socket vsftpd；网络设备上 no telnet server / 关闭 ftp），"
                       "改用 SSH/SFTP；网络设备只允许 SSH 管理。",
                 "en": "Stop these services (e.g. systemctl disable --now telnet.socket vsftpd; on network devices "
                       "'no telnet server', disable ftp) and use SSH/SFTP; allow only SSH management on network devices."},
)
def plaintext_services(facts, host):
    return _exposed(facts, PLAINTEXT, PLAINTEXT_SERVICES, set(),
                    ("网络上可访问明文管理/传输服务", "plaintext management/transfer services reachable"),
                    ("网络上未发现明文管理或传输服务", "no plaintext management or transfer service reachable"))


@check(
    id="network.exposure.database_ports",
    title={"zh": "数据库和缓存端口不对网络开放（MySQL、PostgreSQL、SQL Server、Redis、MongoDB、Elasticsearch 等）",
           "en": "Database and cache ports are not reachable on the network (MySQL, PostgreSQL, SQL Server, Redis, "
                 "MongoDB, Elasticsearch, ...)"},
    severity="medium",
    refs=["GB/T 22239-2019 8.1.4.4 b", "GB/T 22239-2019 7.1.4.4 b", "GB/T 22239-2019 8.1.4.4 c",
          "GB/T 22239-2019 7.1.4.4 c"],
    probes=[],
    applies=ANY_OS,
    rationale={"zh": "数据库和缓存服务只应对需要它的应用服务器开放；从扫描所在网段就能连上，说明端口没有被限制来源（高危端口）。"
                     "资产台账中为主机写明 ports: [3306] 表示学校确认该端口需要开放，不再报告；只凭角色（db）不算确认。",
               "en": "Database and cache services should be reachable only from the application servers that use them; "
                     "reaching them from the scanner's segment shows the port is not restricted by source (a high-risk "
                     "port). A host whose inventory entry lists the port (ports: [3306]) is confirmed by the school and "
                     "not reported; a role (db) alone is not a confirmation."},
    remediation={"zh": "让数据库只监听内网地址或 127.0.0.1，并用主机防火墙或网络 ACL 只允许应用服务器访问；确需开放的端口写入资产台账"
                       "的 ports。",
                 "en": "Bind the database to an internal address or 127.0.0.1 and allow only the application servers in "
                       "the host firewall or network ACL; list ports that must stay open under the host's ports in the "
                       "inventory."},
)
def database_ports(facts, host):
    return _exposed(facts, DATABASES, DATABASE_SERVICES, declared_ports(host),
                    ("网络上可访问数据库/缓存端口", "database/cache ports reachable"),
                    ("网络上未发现开放的数据库或缓存端口", "no database or cache port reachable"))


@check(
    id="network.exposure.remote_desktop_smb",
    title={"zh": "SMB、RDP、VNC 不对网络开放", "en": "SMB, RDP and VNC are not reachable on the network"},
    severity="medium",
    refs=["GB/T 22239-2019 8.1.4.4 b", "GB/T 22239-2019 7.1.4.4 b", "GB/T 22239-2019 8.1.4.4 c",
          "GB/T 22239-2019 7.1.4.4 c"],
    probes=[],
    applies=ANY_OS,
    rationale={"zh": "SMB（139/445）是默认共享和蠕虫传播的通道，RDP（3389）和 VNC（5900–5910）是远程管理入口，应只对管理网段或"
                     "堡垒机开放。资产台账中为主机写明的 ports（如文件服务器的 445）不再报告。",
               "en": "SMB (139/445) carries default shares and worms; RDP (3389) and VNC (5900-5910) are remote-management "
                     "entry points that should be open only to the management segment or a bastion. Ports listed under the "
                     "host's ports in the inventory (e.g. 445 on a file server) are not reported."},
    remediation={"zh": "关闭不需要的共享和远程桌面；需要的，用防火墙只允许管理网段/堡垒机访问，并在资产台账中写明端口。",
                 "en": "Turn off shares and remote desktops that are not needed; for those that are, allow only the "
                       "management segment or bastion in the firewall and list the port in the inventory."},
)
def remote_desktop_smb(facts, host):
    return _exposed(facts, REMOTE_DESKTOP_SMB, REMOTE_DESKTOP_SMB_SERVICES, declared_ports(host),
                    ("网络上可访问 SMB/远程桌面端口", "SMB/remote-desktop ports reachable"),
                    ("网络上未发现开放的 SMB、RDP 或 VNC", "no SMB, RDP or VNC reachable"))


@check(
    id="network.exposure.undeclared_ports",
    title={"zh": "网络上开放的端口均为主机角色所需", "en": "Every port open on the network is needed by the host's roles"},
    severity="medium",
    refs=["GB/T 22239-2019 8.1.4.4 b", "GB/T 22239-2019 7.1.4.4 b"],
    probes=[],
    applies=ANY_OS,
    params={"base_ports": list(host_side.undeclared_listeners.check.params["base_ports"]),
            "role_ports": dict(host_side.undeclared_listeners.check.params["role_ports"])},
    rationale={"zh": "与主机侧的 mlps.intrusion.undeclared_listeners 使用同一份角色端口表（base_ports、role_ports 参数），再加上资产"
                     "台账中主机自己的 ports；这里看的是从网络上实际能连上的端口。只扫描了常见端口和台账中声明的端口。",
               "en": "Uses the same role table as the host-side mlps.intrusion.undeclared_listeners (parameters base_ports, "
                     "role_ports) plus the host's own ports from the inventory; this one judges what is really reachable "
                     "from the network. Only the usual ports and the ports declared in the inventory are scanned."},
    remediation={"zh": "停用不需要的服务或用防火墙屏蔽；确实需要的端口，在资产台账中为主机声明角色（roles: [web]）或 ports。",
                 "en": "Stop or firewall services that are not needed; for needed ports give the host the right role "
                       "(roles: [web]) or list them under ports in the inventory."},
)
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


@check(
    id="network.exposure.host_answers",
    title={"zh": "台账中的主机在网络上应答", "en": "The inventory's host answers on the network"},
    severity="low",
    refs=ASSET_REFS,
    probes=[],
    applies=ANY_OS,
    rationale={"zh": "资产清单应与实际一致：登记了却不应答的地址，可能是已下线却未更新台账、地址登记错误，或被防火墙完全屏蔽"
                     "（此时其余网络检查也无从判断）。扫描同时用 ICMP 和常见 TCP 端口探测存活。",
               "en": "The asset list must match reality: a declared address that does not answer is decommissioned but "
                     "still listed, wrongly recorded, or completely firewalled (then the other network checks cannot "
                     "judge it). Discovery uses ICMP and common TCP ports."},
    remediation={"zh": "核对资产台账：更正地址、删除已下线的主机，或允许审计机对其进行探测。",
                 "en": "Review the inventory: correct the address, remove decommissioned hosts, or let the auditor's "
                       "scanner reach the host."},
)
def host_answers(facts, host):
    m, out = scanned(facts, up=False)
    if out:
        return out
    if m.get("state") == "up":
        return Outcome.passed("主机应答扫描", "the host answers", f"{m.get('address')}: up ({m.get('reason', '')})")
    return Outcome.failed(f"台账中的地址 {m.get('address')} 未应答扫描", f"declared address {m.get('address')} did not answer",
                          f"{m.get('address')}: down ({m.get('reason') or 'no answer'})")
