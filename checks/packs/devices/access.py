"""Device pack, 访问控制 (8.1.4.2 / 7.1.4.2): default account names, separated user levels/roles, SNMP
communities (default names, write access)."""
from __future__ import annotations

from checks.contract import Outcome, evaluator

from ._device import lines, model, passed


@evaluator("devices.access.default_accounts")
def default_accounts(facts, host, params):
    cfg, err = model(facts, host)
    if err:
        return err
    names = {str(n).lower() for n in params["default_accounts"]}
    bad = [a for a in cfg.accounts if a.name.lower() in names]
    if bad:
        return Outcome.failed(f"仍在使用厂商默认账户名：{', '.join(a.name for a in bad)}",
                              f"vendor default account name(s) still in use: {', '.join(a.name for a in bad)}",
                              lines(f"line {a.line}: local user {a.name}" for a in bad))
    return passed(cfg, f"{len(cfg.accounts)} 个本地账户均非默认账户名", f"none of the {len(cfg.accounts)} local account(s) "
                  "has a vendor default name", lines(f"line {a.line}: local user {a.name}" for a in cfg.accounts))


@evaluator("devices.access.separate_roles")
def separate_roles(facts, host):
    cfg, err = model(facts, host)
    if err:
        return err
    accounts = [a for a in cfg.accounts if a.storage != "none" or a.secret_line]
    ev = lines(f"line {a.line}: {a.name} {a.role or 'default level'}" for a in accounts)
    levels = {a.role or "default" for a in accounts}
    if len(accounts) < 2:
        if cfg.remote_login_auth.known and cfg.remote_login_auth.value:
            return passed(cfg, "登录由 AAA 服务器鉴别与授权（角色在 AAA 服务器上划分）",
                          "logins are authenticated by an AAA server (roles are assigned there)",
                          cfg.remote_login_auth.evidence() + ("\n" + ev if ev else ""))
        return Outcome.failed("只有一个本地管理账户，未划分管理员角色（系统、审计、安全）",
                              "a single local administrator account: no separate administrator roles", ev or "no local accounts")
    if len(levels) < 2:
        level = next(iter(levels))
        return Outcome.failed(f"{len(accounts)} 个本地账户权限级别相同（{level}），未按最小权限分配",
                              f"all {len(accounts)} local accounts have the same level ({level}): no least privilege", ev)
    return passed(cfg, f"本地账户分属 {len(levels)} 种权限级别/角色", f"local accounts hold {len(levels)} distinct levels/roles", ev)


@evaluator("devices.access.snmp_community")
def snmp_community(facts, host, params):
    cfg, err = model(facts, host)
    if err:
        return err
    defaults = {str(c).lower() for c in params["default_communities"]}
    bad = []
    for c in cfg.communities:
        if c.name is not None and (c.name == "" or c.name.lower() in defaults):
            bad.append(f"line {c.line}: {c.text} (a default community{', read-write' if c.write else ''})")
        elif c.write and not c.acl:
            bad.append(f"line {c.line}: {c.text} (read-write without an ACL)")
    if bad:
        return Outcome.failed("SNMP 使用默认团体名或无访问限制的读写团体名", "SNMP uses a default community or an unrestricted "
                              "read-write community", lines(bad))
    if not cfg.communities:
        return passed(cfg, "未配置 SNMP 团体名（v1/v2c）", "no SNMP v1/v2c community configured")
    return passed(cfg, f"{len(cfg.communities)} 个团体名均非默认值（加密保存的团体名由网络扫描验证）",
                  f"{len(cfg.communities)} community(ies), none a default (encrypted ones are tried by the network scan)",
                  lines(f"line {c.line}: {c.text}" for c in cfg.communities))
