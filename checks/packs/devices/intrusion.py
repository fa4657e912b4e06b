"""Device pack, 入侵防范 (8.1.4.4 / 7.1.4.4): unneeded services, management access restricted by ACL."""
from __future__ import annotations

from checks.contract import Outcome, evaluator

from ._device import lines, model, passed

_SERVICES = {"ftp_server": "FTP server", "small_servers": "TCP/UDP small servers", "source_route": "IP source routing",
             "cdp": "CDP", "lldp": "LLDP", "finger": "finger", "proxy_arp": "proxy ARP"}


@evaluator("devices.intrusion.unneeded_services")
def unneeded_services(facts, host, params):
    cfg, err = model(facts, host)
    if err:
        return err
    bad, ok, unknown = [], [], []
    for name in params["unneeded"]:
        if name == "proxy_arp":
            bad += [f"proxy ARP on {s.value}: {s.evidence()} (no 'no ip proxy-arp')"
                    for s in cfg.services.get("proxy_arp_interfaces", [])]
            continue
        s = cfg.services.get(name)
        if s is None:
            continue
        label = _SERVICES.get(name, name)
        if not s.known:
            unknown.append(f"{label}: {s.evidence()}")
        elif s.value:
            bad.append(f"{label}: {s.evidence()}")
        else:
            ok.append(f"{label} off: {s.evidence()}")
    if bad:
        return Outcome.failed(f"开启了不需要的服务（{len(bad)} 项）", f"{len(bad)} unneeded service(s) enabled", lines(bad))
    return passed(cfg, "未开启不需要的服务", "no unneeded service is enabled", lines(ok + unknown))


@evaluator("devices.intrusion.mgmt_acl")
def mgmt_acl(facts, host):
    cfg, err = model(facts, host)
    if err:
        return err
    if not cfg.vty:
        return Outcome.manual("配置中没有 vty 线路，请人工核实管理访问限制", "no vty lines in the configuration; confirm how "
                              "management access is restricted")
    bad, ok = [], []
    global_acl = cfg.ssh_acl.value if cfg.ssh_acl.known else None
    for ln in cfg.vty:
        if ln.inbound.known and not ln.inbound.value:
            ok.append(f"{ln.name}: no inbound protocol ({ln.inbound.evidence()})")
        elif ln.acl:
            acl = cfg.acls.get(ln.acl)
            if acl is not None and any(r.action == "permit" and r.any_any for r in acl.rules):
                bad.append(f"{ln.name}: ACL {ln.acl} (line {ln.acl_line}) permits any source")
            else:
                ok.append(f"{ln.name}: ACL {ln.acl} (line {ln.acl_line})")
        elif global_acl and ln.inbound.known and ln.inbound.value <= {"ssh"}:
            ok.append(f"{ln.name}: SSH only, {cfg.ssh_acl.evidence()}")
        else:
            bad.append(f"{ln.name} (line {ln.line}): no inbound ACL")
    for c in cfg.communities:   # SNMP v1/v2c is management access too
        (ok if c.acl else bad).append(f"SNMP line {c.line}: {c.text}" + (f" (ACL {c.acl})" if c.acl else " without an ACL"))
    if cfg.http_server.value or cfg.https_server.value:
        if cfg.http_acl.known:
            ok.append(f"web: {cfg.http_acl.evidence()}")
        else:
            web = cfg.https_server if cfg.https_server.value else cfg.http_server
            bad.append(f"web management without an ACL: {web.evidence()}")
    if bad:
        return Outcome.failed("设备管理访问未限制管理终端地址", "management access is not limited to management addresses",
                              lines(bad + ok))
    return passed(cfg, "远程管理只允许 ACL 中的管理地址", "remote management is limited to the addresses of an ACL", lines(ok))
