"""Device pack, 安全区域边界 (8.1.3.1 b, 8.1.3.2) and 安全通信网络 (8.1.2.2): unused ports shut down, DHCP snooping
and ARP inspection on access switches, ACL rule sets (deny by default, no permit any any), SNMP versions."""
from __future__ import annotations

from checks.contract import Outcome, evaluator

from ._device import lines, model, passed


@evaluator("devices.boundary.unused_ports")
def unused_ports(facts, host):
    cfg, err = model(facts, host)
    if err:
        return err
    physical = [i for i in cfg.interfaces if i.physical]
    if not physical:
        return Outcome.not_applicable("配置中没有物理端口", "no physical ports in the configuration")
    idle = [i for i in physical if not i.configured and not i.shutdown]
    if idle:
        return Outcome.failed(f"{len(idle)} 个未使用的物理端口未关闭（shutdown）", f"{len(idle)} unused physical port(s) not shut down",
                              lines(f"line {i.line}: interface {i.name}" for i in idle))
    down = [i for i in physical if i.shutdown]
    return passed(cfg, f"未使用的端口均已关闭（{len(down)} 个 shutdown）", f"unused ports are shut down ({len(down)} shut down)",
                  lines(f"line {i.line}: interface {i.name} shutdown" for i in down))


@evaluator("devices.boundary.l2_protection")
def l2_protection(facts, host):
    cfg, err = model(facts, host)
    if err:
        return err
    access = [i for i in cfg.interfaces if i.access_port]
    if not access:
        return Outcome.not_applicable("没有接入端口（非接入交换机）", "no access ports (not an access switch)")
    bad = [f"{label}: {s.evidence()}" for label, s in (("DHCP snooping", cfg.dhcp_snooping), ("ARP inspection", cfg.arp_inspection))
           if not (s.known and s.value)]
    if bad:
        return Outcome.failed("接入端口未启用 DHCP Snooping / ARP 检测，无法限制私接设备与地址仿冒",
                              "access ports without DHCP snooping / ARP inspection: rogue devices and spoofed addresses "
                              "are not restricted", lines(bad + [f"{len(access)} access port(s), first at line {access[0].line}"]))
    return passed(cfg, "已启用 DHCP Snooping 与 ARP 检测", "DHCP snooping and ARP inspection are on",
                  lines([cfg.dhcp_snooping.evidence(), cfg.arp_inspection.evidence()]))


def _applied(cfg, host, params):
    """(ACLs applied to interfaces, outcome when there are none)."""
    applied = []
    for name, itf, line, text in cfg.applied_acls:
        acl = cfg.acls.get(name)
        applied.append((name, itf, line, text, acl))
    if applied:
        return applied, None
    boundary = set(params["boundary_roles"]) & set(getattr(host, "roles", ()))
    if boundary:
        return [], Outcome.failed(f"边界设备（角色 {', '.join(sorted(boundary))}）的接口未应用访问控制列表",
                                  f"a boundary device (role {', '.join(sorted(boundary))}) applies no ACL to any interface",
                                  "no traffic-filter / packet-filter / ip access-group line")
    return [], Outcome.not_applicable("接口未应用 ACL，且主机未声明边界角色", "no ACL applied to an interface and the host "
                                      f"declares no boundary role ({', '.join(params['boundary_roles'])})")


@evaluator("devices.boundary.acl_default_deny")
def acl_default_deny(facts, host, params):
    cfg, err = model(facts, host)
    if err:
        return err
    applied, out = _applied(cfg, host, params)
    if out:
        return out
    bad, ok = [], []
    for name, itf, line, text, acl in applied:
        if acl is None:
            bad.append(f"line {line}: {itf}: {text} — ACL {name} is not defined")
            continue
        last = acl.rules[-1] if acl.rules else None
        if last and last.catch_all and last.action == "deny":
            ok.append(f"{itf}: ACL {name} ends with line {last.line}: {last.text}")
        elif last and last.catch_all and last.action == "permit":
            bad.append(f"{itf}: ACL {name} ends by permitting everything: line {last.line}: {last.text}")
        elif acl.implicit_deny:
            ok.append(f"{itf}: ACL {name} (line {acl.line}): the vendor denies what no rule permits")
        else:
            bad.append(f"{itf}: ACL {name} (line {acl.line}) has no final deny; unmatched traffic is forwarded")
    if bad:
        return Outcome.failed("边界访问控制列表未默认拒绝", "boundary ACLs do not deny by default", lines(bad + ok))
    return passed(cfg, "边界访问控制列表默认拒绝未允许的通信", "boundary ACLs deny everything not permitted", lines(ok))


@evaluator("devices.boundary.acl_permit_any")
def acl_permit_any(facts, host, params):
    cfg, err = model(facts, host)
    if err:
        return err
    applied, out = _applied(cfg, host, params)
    if out:
        return out
    bad, ok = [], []
    for name, itf, line, text, acl in applied:
        if acl is None:
            continue
        wide = [r for r in acl.rules if r.action == "permit" and r.any_any]
        bad += [f"{itf}: ACL {name} line {r.line}: {r.text}" for r in wide]
        if not wide:
            ok.append(f"{itf}: ACL {name}: {len(acl.rules)} rule(s), none permits any to any")
    if bad:
        return Outcome.failed("访问控制规则允许任意源到任意目的的通信（permit any any）",
                              "an ACL permits any source to any destination (permit any any)", lines(bad))
    return passed(cfg, "边界访问控制规则限定了地址、端口或协议", "boundary ACL rules name addresses, ports or protocols", lines(ok))


@evaluator("devices.comm.snmp_version")
def snmp_version(facts, host):
    cfg, err = model(facts, host)
    if err:
        return err
    if not cfg.snmp_enabled:
        return passed(cfg, "未启用 SNMP", "SNMP is not enabled")
    s = cfg.snmp_versions
    if not s.known:
        return Outcome.manual("SNMP 已启用但版本无法从配置判定，请人工核实", "SNMP is on but its versions are not in the "
                              "configuration; confirm on the device")
    old = sorted(set(s.value) & {"v1", "v2c"})
    if old:
        return Outcome.failed(f"SNMP 启用了不加密的 {'/'.join(old)}（团体名明文传输）",
                              f"SNMP {'/'.join(old)} is enabled (community strings and data in plaintext)", s.evidence())
    return passed(cfg, "SNMP 仅使用 v3", "SNMP uses v3 only", s.evidence())
