"""MLPS pack, 入侵防范 intrusion prevention: GB/T 22239-2019 8.1.4.4 (level 3) / 7.1.4.4 (level 2).

a minimal installation (risky server packages), b services/shares/ports (risky and undeclared
listeners, NFS and Samba shares), c management access restricted by address and a default-deny host
firewall, e known vulnerabilities (the xz backdoor;
pending security updates are ``patching.security_updates``, which cites 8.1.4.4 e too), f (level 3) intrusion
detection agents. The rulesets are read by ``checks.parsers.firewall``, the shares by
``checks.parsers.exports`` and ``checks.parsers.samba``, sshd and TCP wrappers by
``checks.parsers.sshd`` and ``checks.parsers.tcpwrappers``.
"""
from __future__ import annotations

import ipaddress
import re

from audits.model.inventory import parse_port
from audits.model.probes import OS_PROBE
from checks import parsers
from checks.baselines import allowed_port_specs
from checks.contract import Outcome, evaluator
from checks.probe_catalogue import named
from checks.facts import (DPKG_VERSIONS, SSHD_T, evidence_lines, gathered, listeners, os_family, probe_failure, probe_state, running)
from checks.parsers.exports import export_lines, export_problems
from checks.parsers.firewall import (default_deny, firewalld_exposure, firewalld_zones, input_chains, ipt_chains, nft_chains,
                                     port_reachability)
from checks.parsers.samba import guest_shares, smb_sections
from checks.parsers.sshd import host_pattern_admits, sshd_values
from checks.parsers.tcpwrappers import libwrap_honoured, sshd_access

from ._listen import port_check

# ---------------------------------------------------------------------------------------------
# Probes (read-only). Same probe string = same probe, so other families naming these share them.
RPM_NAMES = named("rpm_names")
XZ_DEB = named("xz_deb")
XZ_RPM = named("xz_rpm")
EXPORTS = named("exports")
TESTPARM = named("testparm")
SMB_CONF = named("smb_conf")
# sshd's effective configuration for a connection from an outside address (TEST-NET-3), so that
# "Match Address" blocks are applied the way sshd applies them; plain ``sshd -T`` ignores Match.
SSHD_OUTSIDE = named("sshd_outside")
TCP_WRAPPERS = named("tcp_wrappers")
HOST_ADDRS = named("host_addrs")
NFT = named("nft")
IPT4 = named("ipt4")
IPT6 = named("ipt6")
FIREWALLD = named("firewalld")
FIREWALLD_ZONES = named("firewalld_zones")   # the zones firewalld applies (targets, interfaces, sources)
UNLISTED_PORT = 64999                        # a port no service of a school server listens on
IPTL4 = named("iptl4")                       # iptables-legacy beside iptables-nft: both tables filter
IPTL6 = named("iptl6")
UFW = named("ufw")


# ---------------------------------------------------------------------------------------------
# Small helpers
def _os_release(facts) -> dict[str, str]:
    res = facts.get(OS_PROBE)
    return parsers.os_release(res.stdout) if not res.error and res.stdout else {}


def _installed(facts, host):
    """Installed package names from dpkg (Debian family) or rpm (RHEL family): (names, probe, Outcome)."""
    fam = os_family(facts, host)
    order = {"debian": [DPKG_VERSIONS], "rhel": [RPM_NAMES]}.get(fam, [DPKG_VERSIONS, RPM_NAMES])
    last = None
    for probe in order:
        st, res = probe_state(facts, probe)
        if st == "ok":
            if probe is DPKG_VERSIONS:  # only a package whose files are on disk (ii, hi) counts
                return set(parsers.dpkg_versions(res.stdout)), probe, None
            return {ln.split()[0] for ln in res.stdout.splitlines() if ln.strip()}, probe, None
        last = (st, res, probe)
    st, res, probe = last
    return None, probe, Outcome.error(f"无法列出已安装软件包（{probe}）：{probe_failure(res)}",
                                      f"cannot list installed packages ({probe}): {probe_failure(res)}", res.stderr[:300])


def allowed_ports(host, params) -> set[tuple[int | None, str]]:
    """The ports a host may expose: ``base_ports``, its own inventory ``ports:`` and its roles' ``role_ports``
    (shared with the network view's ``network.exposure.undeclared_ports``)."""
    return {parse_port(spec) for spec in allowed_port_specs(host, params)}


# ---------------------------------------------------------------------------------------------
@evaluator("mlps.intrusion.risky_ports")
def risky_ports(facts, host, params):
    ports = {int(k): str(v) for k, v in params["ports"].items()}
    return port_check(facts, ports, "", "对外开放高危端口", "high-risk ports open",
                       "未发现对外开放的高危端口", "no high-risk port open beyond loopback")


# ---------------------------------------------------------------------------------------------
@evaluator("mlps.intrusion.risky_packages")
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
@evaluator("mlps.intrusion.undeclared_listeners")
def undeclared_listeners(facts, host, params):
    found, err = listeners(facts)
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
        return (f"{e['proto']} " + (f"[{e['address']}]" if ":" in e["address"] else e["address"]) + f":{e['port']}"
                + (f" ({', '.join(e['procs'])})" if e.get("procs") else ""))

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
@evaluator("mlps.intrusion.nfs_exports")
def nfs_exports(facts, host):
    text, err = gathered(facts, EXPORTS)
    if err:
        return err
    entries = export_lines(text)
    problems = [f"{where}: {p}" for where, line in entries for p in export_problems(line)]
    if problems:
        return Outcome.failed(f"NFS 共享配置不当（{len(problems)} 处）", f"{len(problems)} unsafe NFS export setting(s)",
                              evidence_lines(problems))
    if not entries:
        return Outcome.passed("未配置 NFS 共享", "no NFS exports are configured")
    return Outcome.passed("NFS 共享均限定了客户端且未使用 no_root_squash", "every NFS export names its clients and squashes root",
                          evidence_lines(f"{w}: {ln}" for w, ln in entries))


# ---------------------------------------------------------------------------------------------
@evaluator("mlps.intrusion.samba_guest")
def samba_guest(facts, host):
    st, res = probe_state(facts, TESTPARM)
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
    sections = smb_sections(text)
    bad = guest_shares(sections)
    if bad:
        return Outcome.failed(f"允许匿名访问的 Samba 共享：{len(bad)} 个", f"{len(bad)} Samba share(s) allow guest access",
                              evidence_lines([f"source: {source}"] + bad))
    shares = [s[0] for s in sections if s[0].lower() != "global"]
    return Outcome.passed("Samba 共享均不允许匿名访问", "no Samba share allows guest access",
                          f"source: {source}; shares: {', '.join(shares) or '(none)'}")


# ---------------------------------------------------------------------------------------------
def _rulesets(facts, fams: set[int]):
    """Parsed rulesets from nft and iptables-save, the states seen, and the probes that errored."""
    out, errors, present = [], [], []
    for probe in (NFT, IPT4, IPT6):
        if probe is IPT6 and 6 not in fams:
            continue
        st, res = probe_state(facts, probe)
        if st == "ok":
            out.append(nft_chains(res.stdout) if probe is NFT else ipt_chains(res.stdout, 4 if probe is IPT4 else 6))
            present.append(probe.arg.split()[0])
        elif st == "error":
            errors.append(f"{probe.arg}: {probe_failure(res)}")
    # iptables-legacy tables still filter beside nftables (iptables-nft's iptables-save does not show
    # them); an absent or refused legacy tool means there is nothing more to add.
    for probe in (IPTL4, IPTL6):
        if probe is IPTL6 and 6 not in fams:
            continue
        st, res = probe_state(facts, probe)
        if st == "ok" and re.search(r"^\*filter", res.stdout, re.M):
            out.append(ipt_chains(res.stdout, 4 if probe is IPTL4 else 6))
            present.append(probe.arg.split()[0])
    return out, present, errors


def _has_ipv6(facts) -> bool:
    st, res = probe_state(facts, HOST_ADDRS)
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
def _tcp_wrappers_effective(facts, fam: str) -> bool:
    """Whether this host's sshd honours hosts.allow/deny (see ``libwrap_honoured``)."""
    return libwrap_honoured(_os_release(facts), fam)


@evaluator("mlps.intrusion.ssh_source_restricted")
def ssh_source_restricted(facts, host, params):
    passes, notes, errors = [], [], []
    st, res = probe_state(facts, SSHD_OUTSIDE)
    outside = True
    if st != "ok":
        outside = False
        st, res = probe_state(facts, SSHD_T)
    if st == "missing":
        return Outcome.not_applicable("未安装 sshd，无 SSH 管理通道", "sshd is not installed: no SSH management access")
    kv: dict[str, list[str]] = {}
    if st == "error":
        errors.append(f"sshd -T: {probe_failure(res)}")
    else:
        kv = sshd_values(res.stdout)
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
    if allow and all("@" in u and not host_pattern_admits(u.split("@", 1)[1]) for u in allow):
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
        hst, hres = probe_state(facts, HOST_ADDRS)
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
    fam = os_family(facts, host)
    wst, wres = probe_state(facts, TCP_WRAPPERS)
    if wst in ("ok", "error") and wres.stdout and not wres.error:
        allow_lines, deny_lines = sshd_access(wres.stdout)
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
@evaluator("mlps.intrusion.host_firewall")
def host_firewall(facts, host):
    fams = {4, 6} if _has_ipv6(facts) else {4}
    rulesets, present, errors = _rulesets(facts, fams)
    covered: dict[int, list[str]] = {f: [f"IPv{f} {ln}" for ln in default_deny(rulesets, f)] for f in fams}
    extra = []
    st, res = probe_state(facts, FIREWALLD)
    if st == "ok" and res.stdout.strip() == "running":
        zst, zres = probe_state(facts, FIREWALLD_ZONES)
        zones = firewalld_zones(zres.stdout) if zst == "ok" else []
        if zones:
            open_, notes = firewalld_exposure(zones)
            if open_:
                return Outcome.failed("firewalld 在运行，但网卡所在区域接受全部连接（如 trusted 区域，target ACCEPT），等于没有过滤",
                                      "firewalld runs but the zone the interfaces are in accepts every connection (e.g. the "
                                      "trusted zone, target ACCEPT): nothing is filtered", evidence_lines(open_ + notes))
            extra.extend(["firewalld: running"] + notes)
        else:
            # zones unreadable: judge the ruleset firewalld wrote instead of trusting "running". Its
            # filter_INPUT ends in a reject, so also follow a NEW packet to an unlisted port through
            # the zone dispatch: a zone that accepts everything (trusted) shows up as "open".
            covered.setdefault(0, []).append("firewalld: running (zones not readable: "
                                             f"{probe_failure(zres) if zst != 'ok' else 'no zone listed'})")
            for f in sorted(fams):
                verdict, ev = port_reachability(rulesets, f, {UNLISTED_PORT})
                if verdict == "open":
                    covered[f] = []
                    covered[0].append(f"IPv{f}: a new connection to port {UNLISTED_PORT} is accepted: " + "; ".join(ev[:3]))
    ust, ures = probe_state(facts, UFW)
    if ust == "ok" and re.search(r"^Status:\s*active", ures.stdout, re.M):
        if re.search(r"^Default:\s*(deny|reject)\s*\(incoming\)", ures.stdout, re.M):
            extra.append("ufw: active, default deny (incoming)")
        else:
            d = re.search(r"^Default:.*$", ures.stdout, re.M)
            covered.setdefault(0, []).append("ufw active but " + (d.group(0) if d else "no default policy shown"))
    elif ust == "error":
        errors.append(f"ufw status: {probe_failure(ures)}")
    if extra:
        return Outcome.passed("主机防火墙已启用并默认拒绝入站", "a host firewall is active with default-deny inbound",
                              evidence_lines(extra + [ln for f in sorted(fams) for ln in covered[f]]))
    missing = [f for f in sorted(fams) if not covered[f]]
    if not missing:
        return Outcome.passed("主机防火墙已启用并默认拒绝入站", "a host firewall is active with default-deny inbound",
                              evidence_lines(ln for f in sorted(fams) for ln in covered[f]))
    seen = [f"IPv{f} {c.label}: policy {c.policy}" for rs in rulesets for f in missing for _k, c in input_chains(rs, f)]
    if not seen and not present and errors:
        return Outcome.error("无法读取防火墙规则：" + "；".join(errors)[:300], "cannot read the firewall rules: " +
                             "; ".join(errors)[:300])
    what = "、".join(f"IPv{f}" for f in missing)
    ev = seen + covered.get(0, [])
    if not seen:
        ev.append(f"no input chain in: {', '.join(present)}" if present else
                  "no nftables/iptables ruleset, firewalld not running, ufw not active")
    if st == "ok" or st == "error":
        ev.append(f"firewall-cmd --state: {(res.stdout or res.stderr).strip()[:80] or probe_failure(res)}")
    return Outcome.failed(f"{what} 入站未默认拒绝（未发现默认拒绝的主机防火墙）", f"no default-deny inbound firewall for "
                          f"{', '.join(f'IPv{f}' for f in missing)}", evidence_lines(ev + errors))


# ---------------------------------------------------------------------------------------------
def _xz_bad(version: str) -> bool:
    v = version.split(":", 1)[-1]
    upstream = v.rsplit("-", 1)[0] if "-" in v else v
    if "really" in upstream or "revert" in upstream:
        return False
    return re.match(r"^5\.6\.[01](?![0-9])", upstream) is not None


@evaluator("mlps.intrusion.xz_backdoor")
def xz_backdoor(facts, host):
    fam = os_family(facts, host)
    order = {"debian": [XZ_DEB], "rhel": [XZ_RPM]}.get(fam, [XZ_DEB, XZ_RPM])
    for probe in order:
        res = facts.get(probe)
        if res.error or res.rc in (None, 127) or (res.rc not in (0, 1) and res.missing()):
            if len(order) > 1:
                continue
            if res.rc == 127 or (res.error and "command not found" in res.error):
                return Outcome.error(f"主机上没有 {probe.arg.split()[0]}", f"{probe.arg.split()[0]} is not on the host")
            return Outcome.error(f"无法查询 xz 版本：{probe_failure(res)}", f"cannot query the xz version: {probe_failure(res)}")
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
@evaluator("mlps.intrusion.hids_agent")
def hids_agent(facts, host, params):
    names, err = running(facts, params["hids_processes"])
    if err:
        return err
    if names:
        return Outcome.passed(f"入侵检测代理正在运行：{', '.join(names)}", f"intrusion-detection agent running: {', '.join(names)}",
                              "\n".join(f"process {n[:15]}" for n in names))
    ev = "none of: " + ", ".join(params["hids_processes"])
    nids = (getattr(host, "facts", None) or {}).get("network_ids") if isinstance(getattr(host, "facts", None), dict) else None
    if nids:
        return Outcome.manual(f"未发现主机入侵检测代理进程；清单声明该主机由网络入侵检测 {str(nids)[:100]} 覆盖，需人工证明其覆盖范围和告警途径",
                              "no host intrusion-detection agent process found; the inventory declares the host covered by "
                              f"the network IDS {str(nids)[:100]}, whose coverage and alarm path need an attestation", ev)
    return Outcome.failed("未发现任何已知的主机入侵检测代理进程，且清单未声明网络入侵检测覆盖（facts: network_ids）",
                          "no known host intrusion-detection agent process runs and the inventory declares no network IDS "
                          "covering the host (facts: network_ids)", ev)
