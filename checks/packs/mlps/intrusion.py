"""MLPS pack, 入侵防范 intrusion prevention: GB/T 22239-2019 8.1.4.4 (level 3) / 7.1.4.4 (level 2).

a minimal installation (risky server packages), b services/shares/ports (risky and undeclared
listeners, NFS and Samba shares), c management access restricted by address and a default-deny host
firewall, e known vulnerabilities (the xz backdoor;
pending security updates are ``patching.security_updates``, which cites 8.1.4.4 e too), f (level 3) intrusion
detection agents. The firewall readers below evaluate ``nft list ruleset`` and ``iptables-save``
output for one question: would a NEW TCP connection from an arbitrary outside address to a port be
accepted? Matches this reader does not understand are taken the pessimistic way (an accept that
might apply counts as open, a drop that might not apply is ignored), so a doubtful ruleset fails
rather than passes.
"""
from __future__ import annotations

import ipaddress
import re
import shlex
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from audits.model.inventory import parse_port
from audits.model.probes import OS_PROBE, Probe
from checks import parsers
from checks.contract import Outcome, check

from ._listen import _listeners, port_check
from ._shared import SS, SSHD_T, evidence_lines, files, gathered

# ---------------------------------------------------------------------------------------------
# Probes (read-only). Same probe string = same probe, so other families naming these share them.
RPM_NAMES = Probe("command", "rpm -qa --qf '%{NAME}\\n'")
XZ_DEB = Probe("command", "dpkg-query -W -f='${Package} ${Version} ${Status}\\n' liblzma5 xz-utils")
XZ_RPM = Probe("command", "rpm -q --qf '%{NAME} %{VERSION}-%{RELEASE}\\n' xz-libs xz")
EXPORTS = Probe("command", "grep -Hs '' /etc/exports /etc/exports.d/*.exports")
TESTPARM = Probe("command", "testparm -s")
SMB_CONF = Probe("file", "/etc/samba/smb.conf")
# sshd's effective configuration for a connection from an outside address (TEST-NET-3), so that
# "Match Address" blocks are applied the way sshd applies them; plain ``sshd -T`` ignores Match.
SSHD_OUTSIDE = Probe("command", "sshd -T -C user=root,host=outside.invalid,addr=203.0.113.7", True)
TCP_WRAPPERS = Probe("command", "grep -Hs '' /etc/hosts.allow /etc/hosts.deny")
HOST_ADDRS = Probe("command", "hostname -I")
NFT = Probe("command", "nft list ruleset", True)
IPT4 = Probe("command", "iptables-save", True)
IPT6 = Probe("command", "ip6tables-save", True)
FIREWALLD = Probe("command", "firewall-cmd --state")
UFW = Probe("command", "ufw status verbose", True)
# Installed package versions (shared with the patching pack's pending-update check: one dpkg-query per host).
DPKG_VERSIONS = Probe("command", "dpkg-query -W -f='${Package} ${Version} ${db:Status-Abbrev}\\n'")
PS = Probe("command", "ps -eo comm=")


# ---------------------------------------------------------------------------------------------
# Small helpers
def _state(facts, probe):
    """('ok' | 'missing' | 'error', result). A sudo command that is not installed reaches us as a
    gathering error ("sudo: nft: command not found"), which means missing, not denied."""
    res = facts.get(probe)
    if res.error:
        return ("missing" if "command not found" in res.error else "error"), res
    if res.rc == 0:
        return "ok", res
    if res.rc == 127 or res.missing():
        return "missing", res
    return "error", res


def _why(res) -> str:
    return res.error or f"exit {res.rc}: {(res.stderr or '').strip()[:200]}"


def _family(facts, host) -> str:
    fam = facts.meta.get("os_family") or getattr(host, "os", "")
    return fam if fam in ("debian", "rhel") else ""


def _os_release(facts) -> dict[str, str]:
    res = facts.get(OS_PROBE)
    return parsers.os_release(res.stdout) if not res.error and res.stdout else {}


def _installed(facts, host):
    """Installed package names from dpkg (Debian family) or rpm (RHEL family): (names, probe, Outcome)."""
    fam = _family(facts, host)
    order = {"debian": [DPKG_VERSIONS], "rhel": [RPM_NAMES]}.get(fam, [DPKG_VERSIONS, RPM_NAMES])
    last = None
    for probe in order:
        st, res = _state(facts, probe)
        if st == "ok":
            if probe is DPKG_VERSIONS:  # only a package whose files are on disk (ii, hi) counts
                return set(parsers.dpkg_versions(res.stdout)), probe, None
            return {ln.split()[0] for ln in res.stdout.splitlines() if ln.strip()}, probe, None
        last = (st, res, probe)
    st, res, probe = last
    return None, probe, Outcome.error(f"无法列出已安装软件包（{probe}）：{_why(res)}",
                                      f"cannot list installed packages ({probe}): {_why(res)}", res.stderr[:300])


def allowed_ports(host, params) -> set[tuple[int | None, str]]:
    """The ports a host may expose: ``base_ports``, its own inventory ``ports:`` and its roles' ``role_ports``
    (shared with the network view's ``network.exposure.undeclared_ports``)."""
    specs = list(params["base_ports"]) + list((getattr(host, "settings", None) or {}).get("ports", []))
    mapping = params["role_ports"] or {}
    for role in getattr(host, "roles", []) or []:
        specs += mapping.get(role, []) or []
    return {parse_port(spec) for spec in specs}


# ---------------------------------------------------------------------------------------------
@check(
    id="mlps.intrusion.risky_ports",
    title={"zh": "未对外开放高危端口", "en": "No high-risk ports open beyond loopback"},
    severity="medium",
    refs=["GB/T 22239-2019 8.1.4.4 b", "GB/T 22239-2019 7.1.4.4 b"],
    probes=[SS],
    params={"ports": {69: "tftp", 111: "rpcbind", 135: "msrpc", 137: "netbios-ns", 139: "netbios", 445: "smb",
                      873: "rsync", 2049: "nfs", 3389: "rdp", 5900: "vnc", 6379: "redis", 9200: "elasticsearch",
                      11211: "memcached", 27017: "mongodb"}},
    rationale={"zh": "应关闭不需要的系统服务、默认共享和高危端口；只监听在本机回环地址上的服务不计。",
               "en": "Unneeded services, default shares and high-risk ports must be closed; services bound to loopback only are not counted."},
    remediation={"zh": "停用不需要的服务，或让其只监听 127.0.0.1，并用防火墙限制来源地址。",
                 "en": "Disable unneeded services, or bind them to 127.0.0.1 and restrict sources with the firewall."},
)
def risky_ports(facts, host, params):
    ports = {int(k): str(v) for k, v in params["ports"].items()}
    return port_check(facts, ports, "", "对外开放高危端口", "high-risk ports open",
                       "未发现对外开放的高危端口", "no high-risk port open beyond loopback")


# ---------------------------------------------------------------------------------------------
@check(
    id="mlps.intrusion.risky_packages",
    title={"zh": "未安装高风险的服务端软件包（telnet、rsh、NIS、tftp、xinetd、talk、vsftpd 等）",
           "en": "No risky server packages installed (telnet, rsh, NIS, tftp, xinetd, talk, vsftpd, ...)"},
    severity="medium",
    refs=["GB/T 22239-2019 8.1.4.4 a", "GB/T 22239-2019 7.1.4.4 a"],
    probes={"debian": [DPKG_VERSIONS], "rhel": [RPM_NAMES]},
    params={"packages": ["telnetd", "telnetd-ssl", "inetutils-telnetd", "telnet-server",
                         "rsh-server", "rsh-redone-server", "ypserv", "nis",
                         "tftpd", "tftpd-hpa", "atftpd", "tftp-server",
                         "xinetd", "openbsd-inetd", "inetutils-inetd",
                         "talkd", "inetutils-talkd", "talk-server", "vsftpd"]},
    rationale={"zh": "应遵循最小安装原则，仅安装需要的组件和应用程序。telnet、rsh、talk 明文传输口令，NIS、tftp 无有效鉴别，"
                     "inetd/xinetd 会按需拉起这些旧服务；即使当前未监听，装在系统上也会被误启用。"
                     "Debian 系只计状态为已安装的包（dpkg 的 config-files 残留不计），RHEL 系以 rpm -qa 为准。"
                     "确需保留的（如教学用 FTP）应在计划中调整 packages 参数或登记豁免。",
               "en": "Install only what is needed. telnet, rsh and talk carry passwords in clear, NIS and tftp have no real "
                     "authentication, and inetd/xinetd start such services on demand; installed but idle, they can still be "
                     "switched on by mistake. On Debian only packages whose files are installed count (dpkg 'config-files' "
                     "remnants do not); on RHEL rpm -qa decides. Packages that are really needed (e.g. an FTP service for "
                     "teaching) belong in the plan's 'packages' parameter or a waiver."},
    remediation={"zh": "卸载：Debian/Ubuntu 执行 apt-get purge 包名；RHEL 系执行 dnf remove 包名。远程管理与文件传输改用 SSH/SFTP。",
                 "en": "Remove them: apt-get purge NAME (Debian/Ubuntu) or dnf remove NAME (RHEL family); use SSH/SFTP "
                       "for management and file transfer."},
)
def risky_packages(facts, host, params):
    names, probe, err = _installed(facts, host)
    if err:
        return err
    risky = [p for p in params["packages"] if str(p) in names]
    if risky:
        return Outcome.failed(f"已安装高风险软件包：{', '.join(risky)}", f"risky packages installed: {', '.join(risky)}",
                              "\n".join(f"{p}: installed ({probe.arg.split()[0]})" for p in risky))
    return Outcome.passed("未安装所列高风险软件包", "none of the listed risky packages is installed",
                          f"checked {len(params['packages'])} names against {len(names)} installed packages")


# ---------------------------------------------------------------------------------------------
@check(
    id="mlps.intrusion.undeclared_listeners",
    title={"zh": "对外监听的端口均为主机角色所需", "en": "Every port listening beyond loopback is needed by the host's roles"},
    severity="medium",
    refs=["GB/T 22239-2019 8.1.4.4 b", "GB/T 22239-2019 7.1.4.4 b"],
    probes=[SS],
    params={"base_ports": [22],
            "role_ports": {"ssh": [22], "web": [80, 443], "proxy": [3128, 8080], "db": [1433, 1521, 3306, 5236, 5432, 54321],
                           "dns": [53], "mail": [25, 110, 143, 465, 587, 993, 995], "ntp": ["123/udp"],
                           "dhcp": ["67/udp"], "ldap": [389, 636], "syslog": [514, 6514], "file": [139, 445, 2049]},
            "client_udp_ports": [68, 546]},
    rationale={"zh": "应关闭不需要的系统服务和端口。清单在资产台账（inventory）中按主机角色（roles）声明：base_ports 对所有主机放行，"
                     "role_ports 按角色放行（纯数字匹配 TCP 和 UDP，写成 “123/udp” 则只匹配该协议）；client_udp_ports 是 DHCP 客户端"
                     "套接字，不算服务。只监听回环地址的不计。未在 role_ports 中的角色名不放行任何端口。",
               "en": "Unneeded services and ports must be closed. What is needed is declared per host role in the inventory: "
                     "base_ports apply to every host, role_ports per role (a bare number matches TCP and UDP, '123/udp' only "
                     "that protocol); client_udp_ports are DHCP client sockets, not services. Loopback-only listeners are not "
                     "counted. A role name missing from role_ports allows nothing."},
    remediation={"zh": "停用不需要的服务（systemctl disable --now 服务名）或让其只监听 127.0.0.1；确实需要的端口，在资产台账中为主机"
                       "声明相应角色（roles: [web]），或在检查计划中为该角色补充端口。",
                 "en": "Stop services that are not needed (systemctl disable --now NAME) or bind them to 127.0.0.1; for ports "
                       "that are needed, give the host the right role in the inventory (roles: [web]) or add the port to that "
                       "role in the plan."},
)
def undeclared_listeners(facts, host, params):
    found, err = _listeners(facts)
    if found is None:
        return Outcome.error(f"无法列出监听端口：{err}", f"cannot list listening ports: {err}")
    roles = list(getattr(host, "roles", []) or [])
    allowed = allowed_ports(host, params)
    client_udp = {int(p) for p in params["client_udp_ports"]}

    def ok(entry) -> bool:
        port, proto = int(entry["port"]), entry["proto"].lower()
        if proto.startswith("udp") and port in client_udp:
            return True
        return any(p == port and (not want or proto.startswith(want)) for p, want in allowed)

    bad = [e for e in found if not ok(e)]
    declared = ", ".join(roles) or "无"

    def show(e):
        return f"{e['proto']} " + (f"[{e['address']}]" if ":" in e["address"] else e["address"]) + f":{e['port']}"

    if bad:
        ports = sorted({f"{e['port']}/{e['proto']}" for e in bad}, key=lambda s: (int(s.split("/")[0]), s))
        ev = evidence_lines(show(e) for e in bad)
        return Outcome.failed(f"{len(ports)} 个端口不在主机角色（{declared}）允许的范围内：{', '.join(ports)}",
                              f"{len(ports)} port(s) not allowed for the host's roles ({', '.join(roles) or 'none'}): "
                              f"{', '.join(ports)}", ev)
    return Outcome.passed(f"对外监听端口均为角色（{declared}）所需", f"all listeners are allowed for the roles "
                          f"({', '.join(roles) or 'none'})",
                          evidence_lines(show(e) for e in found))


# ---------------------------------------------------------------------------------------------
def _export_lines(text: str) -> list[tuple[str, str]]:
    """(path:lineno-ish, logical line) for /etc/exports and exports.d, joining backslash continuations."""
    out: list[tuple[str, str]] = []
    pending, where = "", ""
    for raw in text.splitlines():
        path, sep, line = raw.partition(":")
        if not sep or not path.startswith("/"):
            continue
        body = line.split("#", 1)[0].rstrip()
        if pending:
            body = pending + " " + body.strip()
        else:
            where = path
        if body.endswith("\\"):
            pending = body[:-1]
            continue
        pending = ""
        if body.strip():
            out.append((where, body.strip()))
    return out


def _exports_problems(line: str) -> list[str]:
    """What is wrong with one exports(5) line: export to everyone and/or no_root_squash."""
    try:
        words = shlex.split(line)
    except ValueError:
        words = line.split()
    if not words:
        return []
    path, rest = words[0], words[1:]
    # options may also be given as a separate "(opts)" after a space: that is an export to everyone
    problems, default_opts, clients = [], "", []
    for w in rest:
        if w.startswith("-") and not clients:
            default_opts = w[1:]
            continue
        clients.append(w)
    no_client = not clients
    if no_client:
        problems.append("no client given → exported to every host")
        clients = ["()"]
    for c in clients:
        host, _, opts = c.partition("(")
        opts = (default_opts + "," + opts.rstrip(")")).strip(",")
        if host in ("*", "0.0.0.0/0", "::/0", "*.*") or re.fullmatch(r"[*?]+", host):
            problems.append(f"{host} → exported to every host")
        elif not host and not no_client:
            problems.append(f"({opts}) without a host (space before the options) → exported to every host")
        if "no_root_squash" in [o.strip() for o in opts.split(",")]:
            problems.append(f"{host or '*'}({opts}) → no_root_squash")
    return [f"{path}: {p}" for p in problems]


@check(
    id="mlps.intrusion.nfs_exports",
    title={"zh": "NFS 共享不对所有主机开放且不使用 no_root_squash", "en": "NFS exports are not open to everyone and do not use no_root_squash"},
    severity="high",
    refs=["GB/T 22239-2019 8.1.4.4 b", "GB/T 22239-2019 7.1.4.4 b"],
    probes=[EXPORTS],
    rationale={"zh": "应关闭默认共享。/etc/exports（及 /etc/exports.d/*.exports）中客户端写成 “*”、或路径后不写客户端、或选项前多一个空格"
                     "（“/srv (rw)” 表示对所有主机读写），都会把目录共享给任何主机；no_root_squash 让客户端的 root 在服务器上也是 root。"
                     "没有这些文件即没有 NFS 共享，判为符合。本项检查配置文件，不判断 nfs-server 是否在运行。",
               "en": "Default shares must be closed. In /etc/exports (and /etc/exports.d/*.exports) a client of '*', a path "
                     "with no client, or a space before the options ('/srv (rw)' means read-write for every host) shares the "
                     "directory with anyone; no_root_squash makes a client's root root on the server too. Without these "
                     "files there is no NFS share, which passes. The check reads the configuration; it does not ask whether "
                     "nfs-server runs."},
    remediation={"zh": "把客户端限定为具体网段并去掉 no_root_squash，例如 “/srv/share 10.1.2.0/24(ro,sync,root_squash)”，然后执行 exportfs -ra。",
                 "en": "Name the client network and drop no_root_squash, e.g. '/srv/share 10.1.2.0/24(ro,sync,root_squash)', "
                       "then run exportfs -ra."},
)
def nfs_exports(facts, host):
    text, err = gathered(facts, EXPORTS)
    if err:
        return err
    entries = _export_lines(text)
    problems = [f"{where}: {p}" for where, line in entries for p in _exports_problems(line)]
    if problems:
        return Outcome.failed(f"NFS 共享配置不当（{len(problems)} 处）", f"{len(problems)} unsafe NFS export setting(s)",
                              evidence_lines(problems))
    if not entries:
        return Outcome.passed("未配置 NFS 共享", "no NFS exports are configured")
    return Outcome.passed("NFS 共享均限定了客户端且未使用 no_root_squash", "every NFS export names its clients and squashes root",
                          evidence_lines(f"{w}: {ln}" for w, ln in entries))


# ---------------------------------------------------------------------------------------------
_TRUE = {"yes", "true", "1", "on"}


def _smb_sections(text: str) -> list[tuple[str, dict[str, str], list[str]]]:
    """smb.conf / testparm -s → [(section, {normalised key: value}, raw lines)]."""
    out: list[tuple[str, dict[str, str], list[str]]] = []
    cur: tuple[str, dict[str, str], list[str]] | None = None
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if pending:
            line = pending + line
            pending = ""
        if not line or line[0] in "#;":
            continue
        if line.endswith("\\"):
            pending = line[:-1]
            continue
        m = re.match(r"^\[([^\]]+)\]$", line)
        if m:
            cur = (m.group(1).strip(), {}, [])
            out.append(cur)
            continue
        key, eq, value = line.partition("=")
        if not eq or cur is None:
            continue
        k = re.sub(r"\s+", " ", key.strip().lower())
        cur[1][k] = value.strip()
        cur[2].append(f"[{cur[0]}] {k} = {value.strip()}")
    return out


def _smb_guest(sections) -> list[str]:
    glob = next((s for s in sections if s[0].lower() == "global"), None)

    def guest(kv: dict[str, str], default: bool) -> tuple[bool, str]:
        for k in ("guest ok", "public", "guest only", "only guest"):
            if k in kv:
                if kv[k].lower() in _TRUE:
                    return True, f"{k} = {kv[k]}"
        if "guest ok" in kv or "public" in kv:
            return False, ""
        return default, "guest ok = yes (from [global])" if default else ""

    g_default, _ = guest(glob[1], False) if glob else (False, "")
    bad = []
    for name, kv, _lines in sections:
        if name.lower() == "global":
            continue
        is_guest, why = guest(kv, g_default)
        if is_guest:
            bad.append(f"[{name}] {why}" + (f" (path = {kv['path']})" if "path" in kv else ""))
    return bad


@check(
    id="mlps.intrusion.samba_guest",
    title={"zh": "Samba 共享不允许匿名（guest）访问", "en": "No Samba share allows guest access"},
    severity="high",
    refs=["GB/T 22239-2019 8.1.4.4 b", "GB/T 22239-2019 7.1.4.4 b"],
    probes=[TESTPARM, SMB_CONF],
    rationale={"zh": "应关闭默认共享；允许 guest 的 Samba 共享任何人无需口令即可访问。优先读 testparm -s 的有效配置（含 include），未安装 testparm 时"
                     "读 /etc/samba/smb.conf。[global] 中的 guest ok 是所有共享的默认值。guest ok、public 是同义参数，guest only 也视为匿名。"
                     "未安装 Samba（两者都没有）即没有共享，判为符合，与 NFS 项一致。用户共享（net usershare）不在本项范围。",
               "en": "Default shares must be closed; a Samba share with guest access needs no password at all. The effective "
                     "configuration from testparm -s (includes resolved) is read first, /etc/samba/smb.conf when testparm is "
                     "not installed. 'guest ok' in [global] is every share's default; 'public' is a synonym and 'guest only' "
                     "counts as guest access too. Without Samba (neither present) there is no share, which passes, as for "
                     "NFS. User shares (net usershare) are out of scope."},
    remediation={"zh": "在相应共享中设置 “guest ok = no” 并用 valid users = @组名 限定用户，在 [global] 设置 “map to guest = never”，然后 smbcontrol all reload-config。",
                 "en": "Set 'guest ok = no' in those shares and restrict them with 'valid users = @group'; set 'map to guest = "
                       "never' in [global]; then run smbcontrol all reload-config."},
)
def samba_guest(facts, host):
    st, res = _state(facts, TESTPARM)
    source = "testparm -s"
    if st == "ok":
        text = res.stdout
    else:
        text, err = gathered(facts, SMB_CONF, missing=None)
        if err is not None:
            conf = facts.get(SMB_CONF)
            if conf.error is None and conf.missing():
                if st == "missing":
                    return Outcome.passed("未安装 Samba，无共享", "Samba is not installed: no shares", "testparm: not installed; "
                                          "/etc/samba/smb.conf: absent")
                return Outcome.passed("未配置 Samba（无 smb.conf）", "Samba is not configured (no smb.conf)",
                                      "/etc/samba/smb.conf: absent")
            return err
        source = "/etc/samba/smb.conf"
    sections = _smb_sections(text)
    bad = _smb_guest(sections)
    if bad:
        return Outcome.failed(f"允许匿名访问的 Samba 共享：{len(bad)} 个", f"{len(bad)} Samba share(s) allow guest access",
                              evidence_lines([f"source: {source}"] + bad))
    shares = [s[0] for s in sections if s[0].lower() != "global"]
    return Outcome.passed("Samba 共享均不允许匿名访问", "no Samba share allows guest access",
                          f"source: {source}; shares: {', '.join(shares) or '(none)'}")


# ---------------------------------------------------------------------------------------------
# Firewall readers: one model for nftables and iptables rulesets.
SERVICES = {"ssh": 22, "http": 80, "https": 443, "telnet": 23, "ftp": 21, "smtp": 25, "domain": 53, "ntp": 123}
ANY_NET = ("0.0.0.0/0", "::/0", "0/0")


@dataclass
class Rule:
    text: str
    verdict: str | None = None        # accept | deny | return | jump | goto | None
    target: str = ""
    families: frozenset = frozenset({4, 6})
    src: str | None = None            # None | 'pos' (only some sources) | 'neg' (all but some sources)
    ports: list | None = None         # None: any port; else [(neg, [(lo, hi)...] or None=unresolved)]
    never: bool = False               # a match a new outside TCP packet cannot satisfy
    maybe: bool = False               # a match this reader does not understand
    bare: bool = False                # no match at all (unconditional)

    def applies(self, fam: int, ports: set[int]) -> str:
        """'yes' | 'no' | 'maybe' for a NEW TCP packet from an arbitrary source to one of ``ports``."""
        if fam not in self.families or self.never:
            return "no"
        state = "yes"
        for neg, ranges in self.ports or []:
            if ranges is None:
                state = "maybe"
                continue
            hit = any(lo <= p <= hi for p in ports for lo, hi in ranges)
            if hit == neg:
                return "no"
        return "maybe" if self.maybe else state


@dataclass
class Chain:
    name: str
    hook: str = ""
    kind: str = ""
    policy: str = "accept"
    families: frozenset = frozenset({4, 6})
    label: str = ""
    rules: list = field(default_factory=list)


def _ranges(value: str, sets: dict[str, list[str]] | None = None):
    """'22' / 'ssh' / '1-1024' / '{ 22, 80 }' / '22:25' / '22,80' / '@name' → [(lo, hi)] or None (unknown)."""
    v = value.strip()
    if v.startswith("@"):
        if sets is None or v[1:] not in sets:
            return None
        items = sets[v[1:]]
    else:
        items = [x for x in re.split(r"[,\s{}]+", v) if x]
    out = []
    for it in items:
        m = re.fullmatch(r"(\w+)(?:[-:](\w+))?", it)
        if not m:
            return None
        lo, hi = m.group(1), m.group(2) or m.group(1)
        lo_n = int(lo) if lo.isdigit() else SERVICES.get(lo)
        hi_n = int(hi) if hi.isdigit() else SERVICES.get(hi)
        if lo_n is None or hi_n is None:
            return None
        out.append((lo_n, hi_n))
    return out


def _is_any_net(value: str) -> bool:
    return any(a in re.split(r"[,\s{}]+", value) for a in ANY_NET)


_NFT_NEUTRAL = [r"\bcounter(?:\s+packets\s+\d+\s+bytes\s+\d+)?", r'\bcomment\s+"[^"]*"',
                r'\blog(?:\s+prefix\s+"[^"]*"|\s+level\s+\S+|\s+group\s+\d+|\s+flags\s+\S+)*']
_VAL = r"(!=\s*)?(\{[^}]*\}|\"[^\"]*\"|\S+)"


def _vals(v: str) -> list[str]:
    return [x.strip('"') for x in re.split(r"[,\s{}]+", v) if x]


_MCAST = re.compile(r"^(22[4-9]|23\d)\.|^255\.255\.255\.255|^ff[0-9a-f]{2}:|^fe80:")


def _nft_rule(text: str, sets: dict[str, list[str]], table_fams: frozenset) -> list[Rule]:
    """One nft rule line → Rules (a verdict map becomes one Rule per entry)."""
    body = text
    for rx in _NFT_NEUTRAL:
        body = re.sub(rx, " ", body)
    body = " " + re.sub(r"\s+", " ", body).strip() + " "
    vmap = None
    m = re.search(r"\s(\S+(?:\s\S+)?)\svmap\s(\{[^}]*\})\s*$", body)
    if m:
        vmap = (m.group(1).strip(), m.group(2))
        body = body[: m.start()] + " "
    verdict, target = None, ""
    if not vmap:
        m = re.search(r"\s(accept|drop|reject(?:\s+with\s+.*)?|return|queue.*|continue|(jump|goto)\s+(\S+))\s*$", body)
        if m:
            word = m.group(1).split()[0]
            verdict = {"drop": "deny", "reject": "deny", "queue": None, "continue": None}.get(word, word)
            target = m.group(3) or ""
            body = body[: m.start()] + " "
    r = Rule(text=text.strip(), verdict=verdict, target=target, families=table_fams)
    matched = False

    def only(fam):
        r.families = r.families & frozenset({fam})

    def take(rx, fn):
        nonlocal body, matched
        while True:
            mm = re.search(rx, body)
            if not mm:
                return
            matched = True
            fn(*mm.groups())
            body = body[: mm.start()] + " " + body[mm.end():]

    def saddr(l3, neg, v):
        only(4 if l3 == "ip" else 6)
        if not (_is_any_net(v) and not neg):
            r.src = "neg" if neg else "pos"

    def daddr(l3, neg, v):
        only(4 if l3 == "ip" else 6)
        if not neg and _MCAST.match(v.strip("{ ")):
            r.never = True
        else:
            r.maybe = True

    def proto(kind, neg, v):
        if kind.startswith("ip "):
            only(4)
        elif kind.startswith("ip6 "):
            only(6)
        if (("tcp" in _vals(v)) or ("6" in _vals(v))) == bool(neg):
            r.never = True

    def l4(proto_, what, neg, v):
        if proto_ not in ("tcp", "th"):
            r.never = True
        elif what == "dport":
            r.ports = (r.ports or []) + [(bool(neg), _ranges(v, sets))]
        else:
            r.maybe = True

    def ct(what, neg, v):
        if what == "state":
            if ("new" in _vals(v)) == bool(neg):
                r.never = True
        elif what == "status" and "dnat" in _vals(v) and not neg:
            r.never = True
        else:
            r.maybe = True

    def iif(neg, v):
        if "lo" in _vals(v) and not neg:
            r.never = True
        else:
            r.maybe = True

    def fib(neg, v):
        if set(_vals(v)) & {"broadcast", "multicast", "anycast"} and not neg:
            r.never = True
        elif _vals(v) != ["local"] or neg:
            r.maybe = True

    def pkttype(neg, v):
        if v in ("broadcast", "multicast") and not neg:
            r.never = True
        elif v != "host" or neg:
            r.maybe = True

    take(r"\s(ip|ip6) saddr\s" + _VAL, saddr)
    take(r"\s(ip|ip6) daddr\s" + _VAL, daddr)
    take(r"\s(ip protocol|ip6 nexthdr|meta l4proto)\s" + _VAL, proto)
    take(r"\s(tcp|udp|udplite|sctp|dccp|th) (dport|sport|flags|option)\s" + _VAL, l4)
    take(r"\s(?:icmp|icmpv6) (?:type|code)\s" + _VAL, lambda neg, v: setattr(r, "never", True))
    take(r"\sct (state|status|mark|helper|direction|original|reply)\s" + _VAL, ct)
    take(r"\s(?:meta\s)?(?:iif|iifname)\s" + _VAL, iif)
    take(r"\sfib daddr type\s" + _VAL, fib)
    take(r"\smeta nfproto (ipv4|ipv6)", lambda v: only(4 if v == "ipv4" else 6))
    take(r"\s(?:meta\s)?pkttype\s" + _VAL, pkttype)
    take(r"\slimit rate\s(?:over\s)?\S+(?:\sburst\s\d+\s\w+)?", lambda: setattr(r, "maybe", True))
    if body.strip():
        matched = True
        r.maybe = True
    r.bare = not matched
    if not vmap:
        return [r]
    # verdict map: one pseudo-rule per entry, keyed by what the map looks at
    key, out = vmap[0], []
    for ent in [e.strip() for e in vmap[1].strip("{} ").split(",") if e.strip()]:
        k, _, v = ent.partition(":")
        k, words = k.strip().strip('"'), v.split()
        rr = Rule(text=f"{text.strip()} [{ent}]", verdict={"drop": "deny", "reject": "deny"}.get(words[0], words[0])
                  if words else None, target=words[1] if len(words) > 1 else "", families=r.families, src=r.src,
                  ports=list(r.ports or []), never=r.never, maybe=r.maybe)
        if rr.verdict in ("queue", "continue"):
            rr.verdict = None
        if key == "ct state":
            rr.never = rr.never or k != "new"
        elif key in ("tcp dport", "th dport"):
            rr.ports = rr.ports + [(False, _ranges(k, sets))]
        elif key in ("ip saddr", "ip6 saddr"):
            rr.src = rr.src if k in ANY_NET else "pos"
        elif key in ("iif", "iifname", "meta iifname", "meta iif"):
            rr.never, rr.maybe = (True, rr.maybe) if k == "lo" else (rr.never, True)
        elif key == "meta l4proto":
            rr.never = rr.never or k not in ("tcp", "6")
        else:
            rr.maybe = True
        out.append(rr)
    return out


def nft_chains(text: str) -> dict[str, Chain]:
    """``nft list ruleset`` → chains keyed 'family table/chain' (jump targets resolve within the table)."""
    chains: dict[str, Chain] = {}
    table = None            # (family, name)
    block = None            # ('chain', Chain) | ('set', name) | ('other', None)
    depth = 0
    sets: dict[tuple, dict[str, list[str]]] = {}
    pending = ""
    set_buf = ""
    raw_rules: list[tuple[Chain, str, tuple]] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if pending:
            line = pending + " " + line
            pending = ""
        if table is None:
            m = re.match(r"^table\s+(\w+)\s+(\S+)\s*\{$", line)
            if m:
                table = (m.group(1), m.group(2))
                sets.setdefault(table, {})
            continue
        if block is None:
            if line == "}":
                table = None
                continue
            m = re.match(r"^chain\s+(\S+)\s*\{$", line)
            if m:
                fams = {"ip": frozenset({4}), "ip6": frozenset({6}), "inet": frozenset({4, 6})}.get(table[0], frozenset())
                ch = Chain(name=m.group(1), families=fams, label=f"{table[0]} {table[1]}/{m.group(1)}")
                chains[f"{table[0]} {table[1]}/{m.group(1)}"] = ch
                block = ("chain", ch)
                continue
            m = re.match(r"^(set|map)\s+(\S+)\s*\{$", line)
            if m:
                block = ("set", m.group(2))
                set_buf = ""
                depth = 1
                continue
            if line.endswith("{"):
                block = ("other", None)
                depth = 1
            continue
        kind, obj = block
        if kind == "chain":
            if line == "}":
                block = None
                continue
            if line.count("{") > line.count("}"):
                pending = line
                continue
            m = re.match(r"^type\s+(\w+)\s+hook\s+(\w+)(?:\s+device\s+\S+)?\s+priority\s+[^;]+;(?:\s*policy\s+(\w+);)?", line)
            if m:
                obj.kind, obj.hook, obj.policy = m.group(1), m.group(2), m.group(3) or "accept"
                continue
            raw_rules.append((obj, line, table))
            continue
        depth += line.count("{") - line.count("}")
        if kind == "set":
            set_buf += " " + line
        if depth <= 0:
            if kind == "set":
                m = re.search(r"elements\s*=\s*\{([^}]*)\}", set_buf)
                sets[table][obj] = [x for x in re.split(r"[,\s]+", m.group(1)) if x] if m else []
            block = None
    for ch, line, tbl in raw_rules:
        for r in _nft_rule(line, sets.get(tbl, {}), ch.families):
            if r.verdict in ("jump", "goto"):
                r.target = f"{tbl[0]} {tbl[1]}/{r.target}"
            ch.rules.append(r)
    return chains


def ipt_chains(text: str, fam: int) -> dict[str, Chain]:
    """``iptables-save`` / ``ip6tables-save`` → the filter table's chains."""
    chains: dict[str, Chain] = {}
    table = ""
    fams = frozenset({fam})
    tool = "iptables" if fam == 4 else "ip6tables"
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("*"):
            table = line[1:]
            continue
        if table != "filter" or not line or line.startswith("#"):
            continue
        if line.startswith(":"):
            name, _, rest = line[1:].partition(" ")
            pol = rest.split()[0] if rest.split() else "-"
            chains[name] = Chain(name=name, hook="input" if name == "INPUT" else "", kind="filter" if name == "INPUT" else "",
                                 policy={"DROP": "drop", "ACCEPT": "accept"}.get(pol, "accept"), families=fams,
                                 label=f"{tool} filter/{name}")
            continue
        if not line.startswith("-A "):
            continue
        try:
            tok = shlex.split(line)
        except ValueError:
            tok = line.split()
        ch = chains.setdefault(tok[1], Chain(name=tok[1], families=fams, label=f"{tool} filter/{tok[1]}"))
        ch.rules.append(_ipt_rule(line, tok[2:], fams))
    return chains


_IPT_NEUTRAL = {"--comment", "--set", "--name", "--mask", "--rsource", "--rdest"}


def _ipt_rule(text: str, tok: list[str], fams: frozenset) -> Rule:
    r = Rule(text=text, families=fams)
    neg = False
    i = 0
    matched = False
    while i < len(tok):
        t = tok[i]
        nxt = tok[i + 1] if i + 1 < len(tok) else ""
        if t == "!":
            neg = True
            i += 1
            continue
        if t in ("-j", "--jump", "-g", "--goto"):
            tgt = nxt
            if tgt in ("ACCEPT",):
                r.verdict = "accept"
            elif tgt in ("DROP", "REJECT"):
                r.verdict = "deny"
            elif tgt == "RETURN":
                r.verdict = "return"
            elif tgt in ("LOG", "NFLOG", "ULOG", "MARK", "CONNMARK", "CT", "NOTRACK", "TRACE", "AUDIT", ""):
                r.verdict = None
            elif tgt.isupper() and tgt not in ("INPUT", "FORWARD", "OUTPUT"):
                r.verdict = None          # other targets (NFQUEUE, TCPMSS, ...) decide nothing here
            else:
                r.verdict, r.target = ("goto" if t in ("-g", "--goto") else "jump"), tgt
            break
        matched = True
        if t in ("-s", "--source", "--src-range"):
            if not (_is_any_net(nxt) and not neg):
                r.src = "neg" if neg else "pos"
            i += 2
        elif t in ("-d", "--destination", "--dst-range"):
            if not neg and re.match(r"^(22[4-9]|23\d)\.|^255\.255\.255\.255|^ff[0-9a-f]{2}:|^fe80:", nxt):
                r.never = True
            else:
                r.maybe = True
            i += 2
        elif t in ("-p", "--protocol"):
            hit = nxt.lower() in ("tcp", "6", "all", "0")
            if hit == neg:
                r.never = True
            i += 2
        elif t in ("-i", "--in-interface"):
            if nxt == "lo" and not neg:
                r.never = True
            else:
                r.maybe = True
            i += 2
        elif t in ("--dport", "--destination-port", "--dports", "--destination-ports", "--ports"):
            r.ports = (r.ports or []) + [(neg, _ranges(nxt))]
            i += 2
        elif t in ("--ctstate", "--state"):
            if ("NEW" in nxt.upper().split(",")) == neg:
                r.never = True
            i += 2
        elif t == "--match-set":
            flags = tok[i + 2] if i + 2 < len(tok) else ""
            if flags.split(",")[0] == "src":
                r.src = "neg" if neg else "pos"
            else:
                r.maybe = True
            i += 3
        elif t == "--dst-type":
            if nxt.upper() in ("BROADCAST", "MULTICAST", "ANYCAST") and not neg:
                r.never = True
            elif nxt.upper() != "LOCAL" or neg:
                r.maybe = True
            i += 2
        elif t in ("--icmp-type", "--icmpv6-type"):
            r.never = True
            i += 2
        elif t == "-m" or t == "--match":
            i += 2
        elif t in _IPT_NEUTRAL:
            i += 1
            while i < len(tok) and not tok[i].startswith("-") and tok[i] != "!":
                i += 1
        else:
            r.maybe = True
            i += 1
            while i < len(tok) and not tok[i].startswith("-") and tok[i] != "!":
                i += 1
        neg = False
    r.bare = not matched or not (r.src or r.ports or r.never or r.maybe)
    return r


def _walk(chains: dict[str, Chain], name: str, fam: int, ports: set[int], certain: bool, limited: list,
          depth: int = 0) -> tuple[str | None, str]:
    """Follow one chain for a NEW TCP packet from an arbitrary source: ('open'|'deny'|None, rule)."""
    ch = chains.get(name)
    if ch is None or depth > 24:
        return None, ""
    for r in ch.rules:
        a = r.applies(fam, ports)
        if a == "no" or r.verdict is None:
            continue
        if r.src == "pos":
            # only some source addresses take this rule: an arbitrary outside packet does not
            if r.verdict in ("accept", "jump", "goto"):
                limited.append(f"{ch.label}: {r.text}")
            continue
        sure = certain and a == "yes"
        if r.verdict == "accept":
            return "open", f"{ch.label}: {r.text}"
        if r.verdict == "deny":
            if sure:
                return "deny", f"{ch.label}: {r.text}"
            continue
        if r.verdict == "return":
            if sure:
                return None, ""
            certain = False
            continue
        if r.verdict in ("jump", "goto"):
            res, ev = _walk(chains, r.target, fam, ports, sure, limited, depth + 1)
            if res:
                return res, ev
            if r.verdict == "goto":
                if sure:
                    return None, ""
                certain = False
    return None, ""


def _input_chains(chains: dict[str, Chain], fam: int) -> list[tuple[str, Chain]]:
    return [(k, c) for k, c in chains.items() if c.hook == "input" and c.kind == "filter" and fam in c.families]


def port_reachability(rulesets: list[dict[str, Chain]], fam: int, ports: set[int]):
    """('restricted' | 'open' | 'none', evidence lines): does any input chain drop NEW packets to
    ``ports`` from an arbitrary source? 'none' when no input chain exists at all."""
    evidence, limited, seen = [], [], False
    for chains in rulesets:
        for key, ch in _input_chains(chains, fam):
            seen = True
            res, ev = _walk(chains, key, fam, ports, True, limited)
            if res is None:
                res, ev = ("deny" if ch.policy == "drop" else "open"), f"{ch.label}: policy {ch.policy}"
            if res == "deny":
                return "restricted", list(dict.fromkeys(limited)) + [ev]
            evidence.append(ev)
    return ("open" if seen else "none"), evidence


def default_deny(rulesets: list[dict[str, Chain]], fam: int) -> list[str]:
    """Input chains whose default is to drop (policy drop, or a last rule that drops everything)."""
    out = []
    for chains in rulesets:
        for _key, ch in _input_chains(chains, fam):
            last = ch.rules[-1] if ch.rules else None
            if ch.policy == "drop":
                out.append(f"{ch.label}: policy drop")
            elif last is not None and last.verdict == "deny" and last.bare and fam in last.families:
                out.append(f"{ch.label}: last rule '{last.text}'")
    return out


def _rulesets(facts, fams: set[int]):
    """Parsed rulesets from nft and iptables-save, the states seen, and the probes that errored."""
    out, errors, present = [], [], []
    for probe in (NFT, IPT4, IPT6):
        if probe is IPT6 and 6 not in fams:
            continue
        st, res = _state(facts, probe)
        if st == "ok":
            out.append(nft_chains(res.stdout) if probe is NFT else ipt_chains(res.stdout, 4 if probe is IPT4 else 6))
            present.append(probe.arg.split()[0])
        elif st == "error":
            errors.append(f"{probe.arg}: {_why(res)}")
    return out, present, errors


def _has_ipv6(facts) -> bool:
    st, res = _state(facts, HOST_ADDRS)
    if st != "ok":
        return False
    for a in res.stdout.split():
        try:
            ip = ipaddress.ip_address(a.split("%")[0])
        except ValueError:
            continue
        if ip.version == 6 and not ip.is_link_local and not ip.is_loopback:
            return True
    return False


# ---------------------------------------------------------------------------------------------
def _sshd_values(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for ln in text.splitlines():
        k, _, v = ln.strip().partition(" ")
        if k:
            out.setdefault(k.lower(), []).extend(v.split())
    return out


def _outside_matches(pattern: str, addr: str = "203.0.113.7") -> bool:
    """Whether an AllowUsers host pattern admits the outside test address (or any address)."""
    if pattern in ("", "*", "*.*") or re.fullmatch(r"[*?.]+", pattern):
        return True
    if "/" in pattern:
        try:
            return ipaddress.ip_address(addr) in ipaddress.ip_network(pattern, strict=False)
        except ValueError:
            return False
    return fnmatchcase(addr, pattern)


def _tcp_wrappers_effective(facts, fam: str) -> bool:
    """sshd honours hosts.allow/deny only when built with libwrap: Debian <= 12 and Ubuntu <= 24.04
    builds are; RHEL 8+ dropped tcp_wrappers. Newer releases are not trusted."""
    kv = _os_release(facts)
    ident, ver = kv.get("ID", "").lower(), kv.get("VERSION_ID", "")
    major = int(ver.split(".")[0]) if ver.split(".")[0].isdigit() else None
    if ident == "debian":
        return major is not None and major <= 12
    if ident == "ubuntu":
        try:
            return float(ver) <= 24.04
        except ValueError:
            return False
    if fam == "rhel" or any(i in (kv.get("ID_LIKE", "") + " " + ident) for i in ("rhel", "centos", "fedora")):
        return major is not None and major < 8
    return fam == "debian"


def _hosts_access(text: str) -> tuple[list[str] | None, list[str]]:
    """(sshd allow lines with an address list, deny-all lines) from hosts.allow / hosts.deny."""
    allow, deny, allow_all = [], [], False
    for path, lines in files(text).items():
        for ln in lines:
            parts = [p.strip() for p in ln.split(":")]
            if len(parts) < 2:
                continue
            daemons = [d for d in re.split(r"[,\s]+", parts[0]) if d]
            clients = [c for c in re.split(r"[,\s]+", parts[1]) if c]
            if not ({"sshd", "ALL"} & set(daemons)) or not clients:
                continue
            action = parts[2].lower() if len(parts) > 2 else ""
            denies = path.endswith("hosts.deny") or action == "deny"
            if denies and clients[0] == "ALL":
                deny.append(f"{path}: {ln}")
            elif not denies:
                if clients[0] == "ALL" and "EXCEPT" not in clients:
                    allow_all = True
                else:
                    allow.append(f"{path}: {ln}")
    return (None if allow_all else allow), deny


@check(
    id="mlps.intrusion.ssh_source_restricted",
    title={"zh": "SSH 管理访问按源地址限制", "en": "SSH management access is restricted by source address"},
    severity="medium",
    refs=["GB/T 22239-2019 8.1.4.4 c", "GB/T 22239-2019 7.1.4.4 c"],
    probes={"any": [SSHD_OUTSIDE, SSHD_T, TCP_WRAPPERS, HOST_ADDRS, NFT, IPT4, IPT6, OS_PROBE]},
    params={"management_networks": []},
    rationale={"zh": "应通过设定终端接入方式或网络地址范围对管理终端进行限制。判定（任一成立即符合）："
                     "① sshd 对外部地址（用 TEST-NET 地址 203.0.113.7 以 sshd -T -C 求值，会应用 Match Address 块）的有效配置中 "
                     "DenyUsers/DenyGroups 含 “*”，或 AllowUsers 每一项都带 @主机 且不匹配该外部地址（AllowGroups 不支持 @主机）；"
                     "② ListenAddress 全部为具体地址，且落在参数 management_networks 内，或只占主机地址（hostname -I）的一部分（专用管理网卡），"
                     "或只监听回环；③ TCP Wrappers：hosts.deny 对 sshd/ALL 为 ALL，hosts.allow 只对具体地址放行 sshd——仅当 sshd 链接 libwrap 时计入"
                     "（Debian ≤ 12、Ubuntu ≤ 24.04、RHEL 7；RHEL 8 起已移除，更新的发行版不计）；④ 防火墙：nft list ruleset、iptables-save "
                     "（有 IPv6 地址时还有 ip6tables-save）中某条 input 链对来自任意地址的新 TCP 连接到 sshd 端口最终丢弃/拒绝（按源地址放行的规则"
                     "之外）。firewalld、ufw 的规则也在这两份输出中（含 rich rule）。读不懂的匹配条件按不利方向处理；按网卡接口限制不计。"
                     "主机有全局 IPv6 地址且 sshd 监听 IPv6 时，IPv4 与 IPv6 都须受限。上级网络设备（堡垒机、ACL）上的限制主机看不到，"
                     "请用豁免登记。",
               "en": "Management terminals must be limited by access method or network address range. Passes when any of: "
                     "(1) sshd's effective configuration for an outside address (sshd -T -C with TEST-NET address "
                     "203.0.113.7, so Match Address blocks apply) has DenyUsers/DenyGroups '*', or every AllowUsers entry "
                     "carries an @host part that does not admit that address (AllowGroups has no @host form); "
                     "(2) every ListenAddress is a specific address that lies in the management_networks parameter, or is "
                     "a strict subset of the host's addresses (hostname -I: a dedicated management interface), or is "
                     "loopback only; (3) TCP wrappers: hosts.deny denies ALL for sshd/ALL and hosts.allow admits sshd only "
                     "for listed addresses — counted only where sshd links libwrap (Debian <= 12, Ubuntu <= 24.04, RHEL 7; "
                     "RHEL 8 removed it, newer releases are not trusted); (4) firewall: some input chain in nft list "
                     "ruleset, iptables-save (and ip6tables-save when the host has IPv6) ends by dropping or rejecting a new "
                     "TCP connection from an arbitrary address to sshd's port (apart from rules that accept listed "
                     "sources). firewalld and ufw rules, rich rules included, appear in those outputs. Matches the reader "
                     "does not understand count against the host; interface-based restrictions are not counted. When the "
                     "host has a global IPv6 address and sshd listens on IPv6, both IPv4 and IPv6 must be restricted. "
                     "Restrictions on upstream devices (bastion host, ACLs) are invisible here: record them as a waiver."},
    remediation={"zh": "任选其一：在 /etc/ssh/sshd_config 中设置 “AllowUsers admin@10.1.2.0/24”；或防火墙只对管理网段放行 22 端口："
                       "nftables “ip saddr 10.1.2.0/24 tcp dport 22 accept” 且 input 链 policy drop；firewalld "
                       "“firewall-cmd --permanent --remove-service=ssh” 并添加 rich rule “rule family=ipv4 source address=10.1.2.0/24 "
                       "service name=ssh accept”；ufw “ufw allow from 10.1.2.0/24 to any port 22 proto tcp” 并删除对任意来源放行 22 的规则。",
                 "en": "Any one of: 'AllowUsers admin@10.1.2.0/24' in /etc/ssh/sshd_config; or let the firewall admit port 22 "
                       "only from the management network: nftables 'ip saddr 10.1.2.0/24 tcp dport 22 accept' in an input "
                       "chain with policy drop; firewalld 'firewall-cmd --permanent --remove-service=ssh' plus the rich rule "
                       "'rule family=ipv4 source address=10.1.2.0/24 service name=ssh accept'; ufw 'ufw allow from "
                       "10.1.2.0/24 to any port 22 proto tcp' and delete rules that admit port 22 from anywhere."},
)
def ssh_source_restricted(facts, host, params):
    passes, notes, errors = [], [], []
    st, res = _state(facts, SSHD_OUTSIDE)
    outside = True
    if st != "ok":
        outside = False
        st, res = _state(facts, SSHD_T)
    if st == "missing":
        return Outcome.not_applicable("未安装 sshd，无 SSH 管理通道", "sshd is not installed: no SSH management access")
    kv: dict[str, list[str]] = {}
    if st == "error":
        errors.append(f"sshd -T: {_why(res)}")
    else:
        kv = _sshd_values(res.stdout)
    ports = {int(p) for p in kv.get("port", []) if p.isdigit()} or {22}
    listen = kv.get("listenaddress", [])
    for a in listen:
        m = re.match(r"^\[?(.*?)\]?:(\d+)$", a)
        if m:
            ports.add(int(m.group(2)))

    # (1) accounts, for the outside address
    deny_all = [f"{k} {v}" for k in ("denyusers", "denygroups") for v in kv.get(k, []) if v in ("*", "*@*")]
    if outside and deny_all:
        passes.append(f"sshd (from 203.0.113.7): {'; '.join(deny_all)}")
    allow = kv.get("allowusers", [])
    if allow and all("@" in u and not _outside_matches(u.split("@", 1)[1]) for u in allow):
        passes.append("sshd: allowusers " + " ".join(allow))
    elif kv:
        notes.append("sshd: allowusers " + (" ".join(allow) if allow else "(not set)"))

    # (2) listen addresses
    addrs = []
    for a in listen:
        m = re.match(r"^\[?(.*?)\]?:(\d+)$", a)
        addrs.append(m.group(1) if m else a)
    specific = [a for a in addrs if a not in ("0.0.0.0", "::", "*")]
    if addrs and len(specific) == len(addrs):
        nets = []
        for n in params["management_networks"] or []:
            try:
                nets.append(ipaddress.ip_network(str(n), strict=False))
            except ValueError:
                continue
        ips = []
        for a in specific:
            try:
                ips.append(ipaddress.ip_address(a.split("%")[0]))
            except ValueError:
                ips.append(None)
        hst, hres = _state(facts, HOST_ADDRS)
        host_ips = set(hres.stdout.split()) if hst == "ok" else set()
        non_loop = [a for a, ip in zip(specific, ips) if ip is None or not ip.is_loopback]
        if not non_loop:
            passes.append("sshd: listens on loopback only (" + ", ".join(specific) + ")")
        elif nets and all(ip is not None and any(ip in n for n in nets) for ip in ips if ip is None or not ip.is_loopback):
            passes.append("sshd: listenaddress in management networks (" + ", ".join(specific) + ")")
        elif host_ips and set(non_loop) < host_ips:
            passes.append(f"sshd: listenaddress {', '.join(non_loop)} (host addresses: {' '.join(sorted(host_ips))})")
        else:
            notes.append("sshd: listenaddress " + ", ".join(listen))
    elif listen:
        notes.append("sshd: listenaddress " + ", ".join(listen))

    # (3) TCP wrappers
    fam = _family(facts, host)
    wst, wres = _state(facts, TCP_WRAPPERS)
    if wst in ("ok", "error") and wres.stdout and not wres.error:
        allow_lines, deny_lines = _hosts_access(wres.stdout)
        if allow_lines is None and deny_lines:
            notes.append("tcp wrappers: hosts.allow admits sshd from ALL")
        elif deny_lines:
            if _tcp_wrappers_effective(facts, fam):
                passes.append("tcp wrappers: " + "; ".join(deny_lines + allow_lines))
            else:
                notes.append("tcp wrappers configured but this sshd build ignores them: " + "; ".join(deny_lines))

    # (4) firewall, per address family in use
    fams = {4}
    if _has_ipv6(facts) and (not addrs or any(a in ("::", "*") or ":" in a for a in addrs)):
        fams.add(6)
    rulesets, present, fw_errors = _rulesets(facts, fams)
    errors.extend(fw_errors)
    fw_ok = []
    for f in sorted(fams):
        verdict, ev = port_reachability(rulesets, f, ports)
        if verdict == "restricted":
            fw_ok.append((f, ev))
        else:
            notes.append(f"firewall IPv{f}: " + ("; ".join(ev[:3]) if ev else "no input chain (" +
                                                    (", ".join(present) or "no nft/iptables") + ")"))
    for f, ev in fw_ok:
        (passes if len(fw_ok) == len(fams) else notes).append(f"firewall IPv{f}: restricted — " + "; ".join(ev[:4]))

    port_txt = ", ".join(str(p) for p in sorted(ports))
    if passes:
        return Outcome.passed(f"SSH（端口 {port_txt}）已按来源地址限制", f"SSH (port {port_txt}) is restricted by source address",
                              evidence_lines(passes + notes))
    if errors:
        return Outcome.error("无法确认 SSH 访问来源限制：" + "；".join(errors)[:300],
                             "cannot tell whether SSH access is restricted: " + "; ".join(errors)[:300],
                             evidence_lines(notes + errors))
    return Outcome.failed(f"未发现对 SSH（端口 {port_txt}）来源地址的限制", f"no source-address restriction of SSH (port {port_txt}) found",
                          evidence_lines(notes or ["no sshd, TCP-wrapper or firewall restriction found"]))


# ---------------------------------------------------------------------------------------------
@check(
    id="mlps.intrusion.host_firewall",
    title={"zh": "主机防火墙已启用且入站默认拒绝", "en": "A host firewall is active and denies inbound traffic by default"},
    severity="medium",
    refs=["GB/T 22239-2019 8.1.4.4 c", "GB/T 22239-2019 7.1.4.4 c"],
    probes=[NFT, IPT4, IPT6, FIREWALLD, UFW, HOST_ADDRS],
    rationale={"zh": "主机防火墙是限制管理终端来源、关闭多余端口的技术手段。符合条件（任一）：nftables 中 input 钩子的 filter 链 policy drop "
                     "或最后一条规则无条件 drop/reject；iptables-save 中 INPUT 链策略 DROP 或最后一条规则无条件 DROP/REJECT；firewalld 正在运行"
                     "（区域默认拒绝未放行的流量）；ufw 处于 active 且 “Default: deny (incoming)”（或 reject）。主机有全局 IPv6 地址（hostname -I）"
                     "时 IPv6 也须默认拒绝（nftables inet/ip6 表或 ip6tables；firewalld、ufw 同时覆盖两者）。Debian 自带的 /etc/nftables.conf "
                     "是 policy accept，不算。",
               "en": "A host firewall is the technical means of limiting management sources and closing surplus ports. "
                     "Passes on any of: an nftables filter chain on the input hook with policy drop or a last rule that "
                     "drops/rejects everything; iptables-save INPUT policy DROP or a last unconditional DROP/REJECT rule; "
                     "firewalld running (zones reject what they do not admit); ufw active with 'Default: deny (incoming)' "
                     "(or reject). When the host has a global IPv6 address (hostname -I), IPv6 must be denied by default as "
                     "well (nftables inet/ip6 table or ip6tables; firewalld and ufw cover both). Debian's stock "
                     "/etc/nftables.conf has policy accept and does not count."},
    remediation={"zh": "RHEL 系：systemctl enable --now firewalld。Debian/Ubuntu：ufw default deny incoming；ufw allow from 管理网段 to any port 22；"
                       "ufw enable；或在 /etc/nftables.conf 的 input 链写 “policy drop;” 并放行所需端口，然后 systemctl enable --now nftables。",
                 "en": "RHEL family: systemctl enable --now firewalld. Debian/Ubuntu: ufw default deny incoming; ufw allow from "
                       "MGMT-NET to any port 22; ufw enable — or write 'policy drop;' in the input chain of "
                       "/etc/nftables.conf, admit the needed ports, then systemctl enable --now nftables."},
)
def host_firewall(facts, host):
    fams = {4, 6} if _has_ipv6(facts) else {4}
    rulesets, present, errors = _rulesets(facts, fams)
    covered: dict[int, list[str]] = {f: [f"IPv{f} {ln}" for ln in default_deny(rulesets, f)] for f in fams}
    extra = []
    st, res = _state(facts, FIREWALLD)
    if st == "ok" and res.stdout.strip() == "running":
        extra.append("firewalld: running")
    ust, ures = _state(facts, UFW)
    if ust == "ok" and re.search(r"^Status:\s*active", ures.stdout, re.M):
        if re.search(r"^Default:\s*(deny|reject)\s*\(incoming\)", ures.stdout, re.M):
            extra.append("ufw: active, default deny (incoming)")
        else:
            d = re.search(r"^Default:.*$", ures.stdout, re.M)
            covered.setdefault(0, []).append("ufw active but " + (d.group(0) if d else "no default policy shown"))
    elif ust == "error":
        errors.append(f"ufw status: {_why(ures)}")
    if extra:
        return Outcome.passed("主机防火墙已启用并默认拒绝入站", "a host firewall is active with default-deny inbound",
                              evidence_lines(extra + [ln for f in sorted(fams) for ln in covered[f]]))
    missing = [f for f in sorted(fams) if not covered[f]]
    if not missing:
        return Outcome.passed("主机防火墙已启用并默认拒绝入站", "a host firewall is active with default-deny inbound",
                              evidence_lines(ln for f in sorted(fams) for ln in covered[f]))
    seen = [f"IPv{f} {c.label}: policy {c.policy}" for rs in rulesets for f in missing for _k, c in _input_chains(rs, f)]
    if not seen and not present and errors:
        return Outcome.error("无法读取防火墙规则：" + "；".join(errors)[:300], "cannot read the firewall rules: " +
                             "; ".join(errors)[:300])
    what = "、".join(f"IPv{f}" for f in missing)
    ev = seen + covered.get(0, [])
    if not seen:
        ev.append(f"no input chain in: {', '.join(present)}" if present else
                  "no nftables/iptables ruleset, firewalld not running, ufw not active")
    if st == "ok" or st == "error":
        ev.append(f"firewall-cmd --state: {(res.stdout or res.stderr).strip()[:80] or _why(res)}")
    return Outcome.failed(f"{what} 入站未默认拒绝（未发现默认拒绝的主机防火墙）", f"no default-deny inbound firewall for "
                          f"{', '.join(f'IPv{f}' for f in missing)}", evidence_lines(ev + errors))


# ---------------------------------------------------------------------------------------------
def _xz_bad(version: str) -> bool:
    v = version.split(":", 1)[-1]
    upstream = v.rsplit("-", 1)[0] if "-" in v else v
    if "really" in upstream or "revert" in upstream:
        return False
    return re.match(r"^5\.6\.[01](?![0-9])", upstream) is not None


@check(
    id="mlps.intrusion.xz_backdoor",
    title={"zh": "未安装含后门的 xz/liblzma 5.6.0、5.6.1（CVE-2024-3094）",
           "en": "xz/liblzma 5.6.0 or 5.6.1 with the backdoor (CVE-2024-3094) is not installed"},
    severity="critical",
    refs=["GB/T 22239-2019 8.1.4.4 e", "GB/T 22239-2019 7.1.4.4 e"],
    probes={"debian": [XZ_DEB], "rhel": [XZ_RPM]},
    rationale={"zh": "xz 5.6.0 和 5.6.1 的发行包被植入后门，可经 sshd 远程执行代码，属可被利用的高危漏洞。只有 Debian 测试版/sid、"
                     "Fedora 40/41 测试版、openSUSE Tumbleweed、Kali 等短期发布过这两个版本；Debian 的修复包版本写作 “5.6.1+really5.4.5”，"
                     "不算。本项读包管理器记录的版本（Debian：liblzma5、xz-utils；RHEL 系：xz-libs、xz）；后门只在打 deb/rpm 包时植入，"
                     "源码自编译的不受影响。",
               "en": "The xz 5.6.0 and 5.6.1 release builds carried a backdoor reachable through sshd (remote code "
                     "execution): an exploitable high-risk vulnerability. Only Debian testing/sid, Fedora 40/41 pre-releases, "
                     "openSUSE Tumbleweed, Kali and a few others shipped them briefly; Debian's fixed package reads "
                     "'5.6.1+really5.4.5' and does not count. The package manager's versions are read (Debian: liblzma5, "
                     "xz-utils; RHEL family: xz-libs, xz); the backdoor was injected only into deb/rpm builds, so source "
                     "builds are not affected."},
    remediation={"zh": "立即升级或降级到发行版的修复版本（Debian：apt-get install liblzma5 xz-utils 得到 5.6.1+really5.4.5 或更新；"
                       "Fedora：dnf upgrade xz），并视为主机可能已被入侵：检查 sshd 登录记录、更换主机密钥和凭据。",
                 "en": "Upgrade or downgrade to the distribution's fixed build at once (Debian: apt-get install liblzma5 "
                       "xz-utils for 5.6.1+really5.4.5 or later; Fedora: dnf upgrade xz) and treat the host as possibly "
                       "compromised: review sshd logins, rotate host keys and credentials."},
)
def xz_backdoor(facts, host):
    fam = _family(facts, host)
    order = {"debian": [XZ_DEB], "rhel": [XZ_RPM]}.get(fam, [XZ_DEB, XZ_RPM])
    for probe in order:
        res = facts.get(probe)
        if res.error or res.rc in (None, 127) or (res.rc not in (0, 1) and res.missing()):
            if len(order) > 1:
                continue
            if res.rc == 127 or (res.error and "command not found" in res.error):
                return Outcome.error(f"主机上没有 {probe.arg.split()[0]}", f"{probe.arg.split()[0]} is not on the host")
            return Outcome.error(f"无法查询 xz 版本：{_why(res)}", f"cannot query the xz version: {_why(res)}")
        found, bad = [], []
        for ln in res.stdout.splitlines():
            parts = ln.split()
            if len(parts) < 2 or parts[0] == "package":
                continue
            if probe is XZ_DEB and (len(parts) < 5 or parts[-1] in ("not-installed", "config-files")):
                continue
            found.append(f"{parts[0]} {parts[1]}")
            if _xz_bad(parts[1]):
                bad.append(f"{parts[0]} {parts[1]}")
        if bad:
            return Outcome.failed(f"已安装含后门的 xz 版本：{', '.join(bad)}", f"backdoored xz installed: {', '.join(bad)}",
                                  "\n".join(bad))
        if found:
            return Outcome.passed("xz/liblzma 版本不受 CVE-2024-3094 影响", "xz/liblzma is not a backdoored version",
                                  "\n".join(found))
        return Outcome.passed("未安装 xz/liblzma 发行包", "no xz/liblzma package is installed", res.stdout.strip()[:200])
    return Outcome.error("无法查询 xz 版本（主机上没有 dpkg-query 或 rpm）", "cannot query the xz version (no dpkg-query or rpm)")


# ---------------------------------------------------------------------------------------------
def running(facts, names) -> tuple[list[str] | None, Outcome | None]:
    """Which of ``names`` run (``ps -eo comm=`` truncates names to 15 characters)."""
    text, err = gathered(facts, PS, missing=None)
    if err:
        return None, err
    comms = {ln.strip() for ln in text.splitlines() if ln.strip()}
    return [n for n in names if str(n)[:15] in comms], None


@check(
    id="mlps.intrusion.hids_agent",
    title={"zh": "运行主机入侵检测（HIDS/EDR）代理", "en": "A host intrusion-detection (HIDS/EDR) agent runs"},
    severity="medium",
    refs=["GB/T 22239-2019 8.1.4.4 f"],
    applies={"levels": (3, 4)},
    probes=[PS],
    params={"hids_processes": ["wazuh-agentd", "ossec-agentd", "YDService", "AliYunDun", "AliYunDunMonitor",
                               "titanagent", "yunsuo_agent_service", "safedog", "hostguard", "falcon-sensor",
                               "wdavdaemon", "ds_agent"]},
    attest={"zh": "说明重要节点的入侵检测手段（主机 HIDS/EDR，或覆盖该主机的网络 IDS/IPS）及发生严重入侵时的告警途径（告警接收人、方式），"
                  "并附检测与告警记录。",
            "en": "Describe how intrusions into this important node are detected (host HIDS/EDR, or a network IDS/IPS "
                  "covering the host) and how serious intrusions raise an alarm (who receives it, how), with detection and "
                  "alarm records."},
    rationale={"zh": "三级要求能检测到对重要节点的入侵并在发生严重入侵事件时告警。进程名来自 ps -eo comm=（内核截断为 15 个字符）："
                     "Wazuh/OSSEC、腾讯云主机安全 YDService、阿里云云安全中心 AliYunDun，以及青藤（titanagent）、云锁（yunsuo_agent_service）、"
                     "安全狗（safedog）、华为 HSS（hostguard）等——各厂商进程名随版本变化，请在计划中按实际产品调整 hids_processes。"
                     "fail2ban 只封禁暴力破解，不算入侵检测。找不到代理时，由网络 IDS 覆盖及告警途径的证明来回答（人工核查）。",
               "en": "Level 3 requires detecting intrusions into important nodes and alarming on serious ones. Process names "
                     "come from ps -eo comm= (the kernel truncates them to 15 characters): Wazuh/OSSEC, Tencent Cloud "
                     "YDService, Alibaba Cloud AliYunDun, and Qingteng (titanagent), Yunsuo (yunsuo_agent_service), Safedog "
                     "(safedog), Huawei HSS (hostguard) and others — vendors rename processes between versions, so adjust "
                     "hids_processes in the plan to the product in use. fail2ban only bans brute force and does not count. "
                     "Without an agent, an attestation of network IDS coverage and the alarm path answers the item."},
    remediation={"zh": "部署主机入侵检测代理（如 Wazuh agent，或所用云平台/安全厂商的主机安全代理）并配置告警通知；或提供覆盖该主机的网络入侵检测及告警证明。",
                 "en": "Deploy a host intrusion-detection agent (e.g. the Wazuh agent, or the cloud/security vendor's host "
                       "agent) with alarm notification, or attest network intrusion detection covering the host and its "
                       "alarm path."},
)
def hids_agent(facts, host, params):
    names, err = running(facts, params["hids_processes"])
    if err:
        return err
    if names:
        return Outcome.passed(f"入侵检测代理正在运行：{', '.join(names)}", f"intrusion-detection agent running: {', '.join(names)}",
                              "\n".join(f"process {n[:15]}" for n in names))
    return Outcome.manual("未发现主机入侵检测代理进程；需人工核查网络入侵检测覆盖及告警途径并提供证明",
                          "no host intrusion-detection agent process found; network IDS coverage and the alarm path must be "
                          "attested", "none of: " + ", ".join(params["hids_processes"]))
