"""Huawei VRP and H3C Comware (V7, and V5's ``user-interface`` form) configurations into the device model.
The two share most of their syntax (``#`` blocks, ``undo``, ``info-center``, ``snmp-agent``, ``local-user``);
where they differ (Huawei ``aaa`` block vs H3C ``local-user`` blocks and ``password-control``), both forms are
read. Effective values: the explicit line, else (H3C) ``display password-control``, else the vendor default."""
from __future__ import annotations

import re

from . import common
from .defaults import default
from .model import EXPLICIT, Account, Acl, AclRule, Community, DeviceConfig, Interface, Line, Setting
from .tree import Node, Tree

_PHYSICAL = re.compile(r"^(?:(?:Ten|Twenty|Forty|Hundred|FortyG|HundredG|TwentyFiveG)?-?GigabitEthernet|Ethernet|"
                       r"XGigabitEthernet|MultiGE|FastEthernet|GE|XGE|FGE|HGE|WGE)\s*\d", re.I)
_NEUTRAL = re.compile(r"^(?:undo shutdown|shutdown|port link-mode|combo\b|negotiation auto|undo negotiation|"
                      r"undo portswitch|portswitch|flow-control|jumboframe|undo lldp)", re.I)
_IP = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$|^[0-9a-f:]+:[0-9a-f:]*$", re.I)


def _storage(words: list[str]) -> tuple[str, str | None]:
    """('hashed'|'encrypted'|'cleartext'|'none', cleartext value) from ``… password <kind> <value>``."""
    lw = [w.lower() for w in words]
    for i, w in enumerate(lw):
        if w in ("irreversible-cipher", "hash"):
            return "hashed", None
        if w == "cipher":
            return "encrypted", None
        if w in ("simple", "plain"):
            return "cleartext", words[i + 1] if i + 1 < len(words) else ""
    return "unknown", None


def _account(cfg: DeviceConfig, accounts: dict, name: str, line: int) -> Account:
    if name not in accounts:
        accounts[name] = Account(name, line)
        cfg.accounts.append(accounts[name])
    return accounts[name]


def _huawei_local_user(cfg, accounts, node: Node):
    w = node.words  # local-user NAME <attribute> …
    if len(w) < 3:
        _account(cfg, accounts, w[1] if len(w) > 1 else "?", node.line)
        return
    acc = _account(cfg, accounts, w[1], node.line)
    attr = w[2].lower()
    if attr == "password":
        acc.storage, acc.cleartext = _storage(w[3:])
        acc.secret_line, acc.secret_text = node.line, common.mask(node.text)
    elif attr == "privilege" and len(w) > 4 and w[4].isdigit():
        acc.privilege = int(w[4])
        acc.role = f"level {w[4]}"
    elif attr == "service-type":
        acc.services = tuple(x.lower() for x in w[3:])
    elif attr == "idle-timeout":
        secs = common.idle_seconds(w[3:])
        if secs is not None:
            acc.idle_seconds = Setting.at(node, secs)


def _h3c_local_user(cfg, accounts, node: Node):
    w = node.words  # local-user NAME [class manage|network]
    acc = _account(cfg, accounts, w[1] if len(w) > 1 else "?", node.line)
    for c in node.children:
        cw = c.words
        head = cw[0].lower()
        if head == "password":
            acc.storage, acc.cleartext = _storage(cw[1:])
            acc.secret_line, acc.secret_text = c.line, common.mask(c.text)
        elif head == "service-type":
            acc.services = tuple(x.lower() for x in cw[1:])
        elif head == "authorization-attribute" and len(cw) > 2:
            if cw[1].lower() == "user-role":
                acc.role = cw[2]
                acc.privilege = 15 if cw[2].lower() in ("network-admin", "level-15") else \
                    int(cw[2][6:]) if cw[2].lower().startswith("level-") and cw[2][6:].isdigit() else 1
            elif cw[1].lower() == "level" and cw[2].isdigit():   # V5
                acc.privilege = int(cw[2])
                acc.role = f"level {cw[2]}"
        elif head == "level" and len(cw) > 1 and cw[1].isdigit():  # V5 'level 3'
            acc.privilege = int(cw[1])
            acc.role = f"level {cw[1]}"


def _line(cfg: DeviceConfig, node: Node):
    w = node.words
    kind = w[1].lower() if len(w) > 1 else "vty"
    if kind == "maxvty" or kind == "class":
        return
    kind = {"console": "con", "aux": "aux"}.get(kind, kind)
    ln = Line(kind, " ".join(w[1:]), node.line)
    for c in node.children:
        cw = c.words
        head = cw[0].lower()
        if head == "idle-timeout":
            secs = common.idle_seconds(cw[1:])
            if secs is not None:
                ln.idle_seconds = Setting.at(c, secs)
        elif head == "protocol" and len(cw) > 2 and cw[1].lower() == "inbound":
            protos = {p.lower() for p in cw[2:]}
            if "all" in protos:
                protos = {"ssh", "telnet"}
            ln.inbound = Setting.at(c, frozenset(protos))
        elif head == "acl" and "inbound" in (x.lower() for x in cw):
            ln.acl, ln.acl_line = cw[-2] if len(cw) >= 3 else None, c.line
            if len(cw) > 2 and cw[1].lower() in ("number", "name", "ipv6", "mac"):
                ln.acl = cw[2] if cw[1].lower() != "ipv6" else cw[-2]
        elif head == "authentication-mode" and len(cw) > 1:
            ln.auth, ln.auth_line = cw[1].lower(), c.line
        elif head == "set" and "password" in (x.lower() for x in cw):
            ln.has_password = True
    cfg.lines_.append(ln)


def _acl(cfg: DeviceConfig, node: Node):
    w = node.words
    lw = [x.lower() for x in w]
    name = w[-1]
    for key in ("name", "number", "basic", "advanced"):   # 'acl name X [N]', 'acl advanced name X', 'acl number N'
        if key in lw[1:-1]:
            name = w[lw.index(key, 1) + 1]
            break
    acl = Acl(name, node.line)
    for c in node.find(r"^rule\b"):
        cw = [x.lower() for x in c.words]
        action = "permit" if "permit" in cw else "deny" if "deny" in cw else ""
        if not action:
            continue
        src = cw[cw.index("source") + 1:] if "source" in cw else []
        dst = cw[cw.index("destination") + 1:] if "destination" in cw else []
        rest = cw[cw.index(action) + 1:]
        any_src, any_dst = common.is_any(src), common.is_any(dst)
        # 'rule 10 deny' / 'rule deny ip': nothing else narrows it
        catch_all = any_src and any_dst and all(x in ("ip", "any") for x in rest if x not in ("logging",))
        acl.rules.append(AclRule(c.line, c.text, action, any_src and any_dst and not _narrowed(rest), catch_all))
    cfg.acls[name] = acl


def _narrowed(rest: list[str]) -> bool:
    """A rule that names a port, a protocol other than ip, time range … is narrower than any→any."""
    return any(x in ("destination-port", "source-port", "time-range", "icmp-type", "tcp", "udp", "icmp", "vpn-instance",
                     "fragment", "dscp", "precedence", "tos", "established") for x in rest)


def _interface(cfg: DeviceConfig, node: Node):
    name = " ".join(node.words[1:])
    itf = Interface(name, node.line, physical=bool(_PHYSICAL.match(name)))
    for c in node.children:
        t = c.text.lower()
        if t == "shutdown":
            itf.shutdown = True
        elif t == "undo shutdown":
            itf.shutdown = False
        elif not _NEUTRAL.match(t):
            itf.configured = True
        if t.startswith(("port link-type access", "port access vlan", "port default vlan")):
            itf.access_port = True
        m = re.match(r"^(?:traffic-filter|packet-filter)\b(.*)$", c.text, re.I)
        if m:
            ww = m.group(1).split()
            lw = [x.lower() for x in ww]
            acl = ww[lw.index("name") + 1] if "name" in lw[:-1] else None     # … acl name X / packet-filter name X
            acl = acl or next((x for x in ww if x.isdigit()), None)            # … acl 3001 / packet-filter 3001
            if acl:
                cfg.applied_acls.append((acl, name, c.line, c.text))
    cfg.interfaces.append(itf)


def _password_control(cfg: DeviceConfig, tree: Tree, rel: str, shown: str):
    """H3C password-control: explicit lines, else ``display password-control``, else the defaults."""
    enabled = None
    for n in tree.find(r"^(?:undo )?password-control enable\b"):
        enabled = Setting.at(n, not n.text.lower().startswith("undo"))
    m = re.search(r"Password control:\s*(Enabled|Disabled)", shown or "", re.I)
    if enabled is None and m:
        enabled = Setting(m.group(1).lower() == "enabled", EXPLICIT, None, f"display password-control: {' '.join(m.group(0).split())}")
    on = bool(enabled and enabled.value)
    sfx = "_enabled_default" if on else ""

    def pick(name, rx_line, rx_shown, conv):
        for n in reversed(tree.find(rx_line)):
            v = conv(n.words)
            if v is not None:
                return Setting.at(n, v) if on else Setting(0 if name != "lockout" else False, EXPLICIT, n.line,
                                                           f"{n.text} (password-control is not enabled)")
        ms = re.search(rx_shown, shown or "", re.I) if rx_shown else None
        if ms:
            return Setting(conv(ms.groups()), EXPLICIT, None, f"display password-control: {' '.join(ms.group(0).split())}")
        d = default(cfg.platform, rel, name + sfx)
        if on and enabled and enabled.source == EXPLICIT and d.known:
            d.text = f"{d.text} (password-control enabled at line {enabled.line})" if enabled.line else d.text
        return d

    def last(ws):
        return int(ws[-1]) if ws and str(ws[-1]).isdigit() else None

    cfg.min_length = pick("min_length", r"^password-control length \d", r"Password length:\s*Enabled \((\d+)", last)
    cfg.complexity = pick("complexity", r"^password-control composition type-number \d",
                          r"Password composition:\s*Enabled \((\d+) types?", lambda ws: _type_number(ws))
    cfg.max_age_days = pick("max_age_days", r"^password-control aging \d", r"Password aging:\s*Enabled \((\d+)",
                            last)
    cfg.lockout = pick("lockout", r"^password-control login-attempt \d",
                       r"User authentication attempts:\s*(\d+)", lambda ws: _attempts(ws))


def _type_number(ws) -> int | None:
    ws = [str(w).lower() for w in ws]
    if "type-number" in ws and ws.index("type-number") + 1 < len(ws) and ws[ws.index("type-number") + 1].isdigit():
        return int(ws[ws.index("type-number") + 1])
    return int(ws[0]) if ws and ws[0].isdigit() else None


def _attempts(ws) -> dict | None:
    ws = [str(w).lower() for w in ws]
    if "login-attempt" in ws:
        i = ws.index("login-attempt")
        n = int(ws[i + 1]) if i + 1 < len(ws) and ws[i + 1].isdigit() else None
        lock = None
        if "lock-time" in ws and ws.index("lock-time") + 1 < len(ws) and ws[ws.index("lock-time") + 1].isdigit():
            lock = int(ws[ws.index("lock-time") + 1])
        if "unlock" in ws:
            return False   # exceed unlock: no lock at all
        return {"attempts": n, "window_min": 0, "lock_min": lock if lock is not None else (None if "lock" in ws else 1)}
    return {"attempts": int(ws[0]), "window_min": 0, "lock_min": None} if ws and ws[0].isdigit() else None


def parse(tree: Tree, platform: str, release: str, outputs: dict) -> DeviceConfig:
    cfg = DeviceConfig(platform, release, truncated=tree.truncated, lines=tree.lines)
    rel = release
    accounts: dict = {}
    h3c = platform == "h3c-comware"
    for n in tree.root.children:
        t = n.text
        tl = t.lower()
        if tl.startswith("sysname "):
            cfg.hostname = t.split(None, 1)[1][:64]
        elif tl.startswith("aaa") and tl == "aaa":
            for c in n.walk():
                cl = c.text.lower()
                if cl.startswith("local-user ") and not cl.startswith("local-user password"):
                    _huawei_local_user(cfg, accounts, c)
                elif cl.startswith("local-aaa-user wrong-password"):
                    cw = cl.split()
                    vals = {cw[i]: int(cw[i + 1]) for i in range(len(cw) - 1) if cw[i + 1].isdigit()}
                    cfg.lockout = Setting.at(c, {"attempts": vals.get("retry-time"), "window_min": vals.get("retry-interval"),
                                                 "lock_min": vals.get("block-time")})
                elif cl.startswith("undo local-aaa-user wrong-password"):
                    cfg.lockout = Setting.at(c, False)
                elif cl.startswith("password expire "):
                    cw = cl.split()
                    if cw[-1].isdigit():
                        cfg.max_age_days = Setting.at(c, int(cw[-1]))
                elif cl.startswith("authentication-mode ") and cl.split()[1] in ("hwtacacs", "radius"):
                    cfg.remote_login_auth = Setting.at(c, True)
        elif tl.startswith("local-user ") and h3c:
            _h3c_local_user(cfg, accounts, n)
        elif re.match(r"^(user-interface|line) (vty|con|console|aux|maxvty|class)\b", tl):
            _line(cfg, n)
        elif tl.startswith("interface "):
            _interface(cfg, n)
        elif re.match(r"^acl (number|name|basic|advanced|ipv6|\d)", tl):
            _acl(cfg, n)
        elif tl.startswith(("hwtacacs-server template", "radius-server template", "hwtacacs scheme", "radius scheme")):
            kind = "radius" if "radius" in tl else "hwtacacs"
            for c in n.walk():
                cw = c.words
                if re.match(r"^(?:hwtacacs-server|radius-server|primary|secondary) authentication\b", c.text, re.I):
                    addr = next((x for x in cw if _IP.match(x)), None)
                    if addr:
                        cfg.aaa_servers.append(Setting.at(c, (kind, addr)))
        elif tl.startswith("domain "):
            for c in n.find(r"^authentication (login|default)\b"):
                if re.search(r"\b(hwtacacs|radius)", c.text, re.I):
                    cfg.remote_login_auth = Setting.at(c, True)
    # global lines (Huawei prints some under blocks; read them anywhere)
    for n in tree.root.walk():
        t, tl = n.text, n.text.lower()
        undo = tl.startswith("undo ")
        body = tl[5:] if undo else tl
        if body == "telnet server enable" or (body == "telnet ipv6 server enable" and not undo):
            cfg.telnet_server = Setting.at(n, not undo)
        elif body in ("stelnet server enable", "ssh server enable", "stelnet ipv4 server enable"):
            cfg.ssh_server = Setting.at(n, not undo)
        elif re.match(r"^ssh user \S+ .*authentication-type \S+", body) and not undo:
            w = body.split()
            cfg.ssh_users[n.words[2]] = Setting.at(n, w[w.index("authentication-type") + 1])
        elif body == "ssh server compatible-ssh1x enable":
            cfg.ssh_v1 = Setting.at(n, not undo)
        elif re.match(r"^ssh server acl \S+", body) and not undo:
            cfg.ssh_acl = Setting.at(n, body.split()[3])
        elif body in ("http server enable", "ip http enable"):
            cfg.http_server = Setting.at(n, not undo)
        elif body in ("http secure-server enable", "ip https enable"):
            cfg.https_server = Setting.at(n, not undo)
        elif re.match(r"^(?:ip )?https? (?:server )?acl \S+", body) and not undo:
            cfg.http_acl = Setting.at(n, body.split()[-1])
        elif body == "ftp server enable" or body == "ftp ipv6 server enable":
            cfg.services["ftp_server"] = Setting.at(n, not undo)
        elif body in ("lldp enable", "lldp global enable"):
            cfg.services["lldp"] = Setting.at(n, not undo)
        elif body == "info-center enable":
            cfg.logging = Setting.at(n, not undo)
        elif re.match(r"^info-center loghost\b", body) and not undo:
            addr = next((x for x in n.words if _IP.match(x)), None)
            if addr:
                cfg.log_hosts.append(Setting.at(n, addr))
        elif re.match(r"^ntp-service unicast-server\b", body) and not undo:
            addr = next((x for x in n.words[2:] if not x.startswith("-")), None)
            if addr:
                cfg.ntp_servers.append(Setting.at(n, addr))
        elif body.startswith("clock timezone ") and not undo:
            cfg.timezone = Setting.at(n, t.split(None, 2)[2][:60])
        elif body == "snmp-agent" and not undo:
            cfg.snmp_enabled = True
        elif body.startswith("snmp-agent sys-info version") and not undo:
            cfg.snmp_enabled = True
            vs = {v for v in n.words[3:] if v.lower() in ("v1", "v2c", "v3", "all")}
            if "all" in vs:
                vs = {"v1", "v2c", "v3"}
            prev = cfg.snmp_versions.value if cfg.snmp_versions.known else frozenset()
            cfg.snmp_versions = Setting.at(n, frozenset(prev) | frozenset(vs))
        elif re.match(r"^snmp-agent community (read|write)\b", body) and not undo:
            cfg.snmp_enabled = True
            w = n.words[3:]
            kind = w[0].lower() if w else ""
            name = None
            if kind in ("simple", "plain"):
                name = w[1] if len(w) > 1 else ""
            elif kind != "cipher":
                name = w[0] if w else ""
            acl = None
            lw = [x.lower() for x in w]
            if "acl" in lw and lw.index("acl") + 1 < len(w):
                acl = w[lw.index("acl") + 1]
            cfg.communities.append(Community(n.line, common.mask(t), name, write=n.words[2].lower() == "write", acl=acl))
        elif body.startswith("snmp-agent usm-user") and not undo:
            cfg.snmp_v3_users += 1
        elif body in ("dhcp snooping enable", "dhcp-snooping"):
            cfg.dhcp_snooping = Setting.at(n, not undo)
        elif re.match(r"^(arp detection enable|arp anti-attack check user-bind enable|arp detection mode)", body) \
                and not undo:
            cfg.arp_inspection = Setting.at(n, True)
        elif body.startswith("set password min-length ") and not undo and n.words[-1].isdigit():
            cfg.min_length = Setting.at(n, int(n.words[-1]))
        elif body == "user-password complexity-check":
            cfg.complexity = Setting.at(n, 2 if not undo else 0)
    if h3c:
        _password_control(cfg, tree, rel, outputs.get("display password-control", ""))
    # effective values: what the configuration did not say comes from the vendor-default table
    for name in ("lockout", "min_length", "complexity", "max_age_days", "telnet_server", "ssh_server", "ssh_v1",
                 "http_server", "https_server", "logging", "dhcp_snooping", "arp_inspection"):
        if not getattr(cfg, name).known:
            setattr(cfg, name, default(platform, rel, name))
    if "ftp_server" not in cfg.services:
        cfg.services["ftp_server"] = default(platform, rel, "ftp_server")
    for ln in cfg.lines_:
        if not ln.idle_seconds.known:
            ln.idle_seconds = default(platform, rel, "idle_seconds")
        if not ln.inbound.known and ln.kind == "vty":
            ln.inbound = default(platform, rel, "vty_inbound")
    # a Huawei/H3C packet filter forwards what no rule matched, unless H3C's 'packet-filter default deny' says otherwise
    deny = tree.first(r"^packet-filter default deny\b") is not None
    for acl in cfg.acls.values():
        acl.implicit_deny = deny
    return cfg
