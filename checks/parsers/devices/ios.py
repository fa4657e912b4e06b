"""Cisco IOS and Ruijie RGOS configurations (``show running-config``) into the device model. RGOS follows
IOS closely; where it differs (``enable service ssh-server|telnet-server|web-server``, ``password policy …``,
``logging server``) both forms are read. Effective values: the explicit line, else the vendor default."""
from __future__ import annotations

import re

from . import common
from .defaults import default
from .model import Account, Acl, AclRule, Community, DeviceConfig, Interface, Line, Setting
from .tree import Node, Tree

_PHYSICAL = re.compile(r"^(?:FastEthernet|GigabitEthernet|TenGigabitEthernet|TwentyFiveGigE|FortyGigabitEthernet|"
                       r"HundredGigE|Ethernet|TFGigabitEthernet|Fa|Gi|Te)\s*\d", re.I)
_NEUTRAL = re.compile(r"^(?:no shutdown|shutdown|no ip address|negotiation auto|media-type|no switchport$|"
                      r"spanning-tree portfast$|no cdp enable|no ip proxy-arp|no ip redirects|no ip unreachables)", re.I)
_IP = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$|^[0-9a-f:]+:[0-9a-f:]*$", re.I)


def _secret(words: list[str], kind: str) -> tuple[str, str | None]:
    """Storage of ``secret|password [type] value``: hashed / obfuscated (type 7) / cleartext."""
    t = words[0] if words else ""
    value = words[1] if len(words) > 1 and t.isdigit() else t
    if kind == "secret":
        return ("cleartext", value) if t == "0" else ("hashed", None)
    if t == "7":
        return "obfuscated", None
    if t in ("5", "8", "9"):
        return "hashed", None
    return "cleartext", value


def _account(cfg: DeviceConfig, accounts: dict, node: Node):
    w = node.words   # username NAME [privilege N] (secret|password) [type] VALUE | nopassword
    if len(w) < 2:
        return
    name = w[1]
    if name not in accounts:
        accounts[name] = Account(name, node.line)
        cfg.accounts.append(accounts[name])
    acc = accounts[name]
    lw = [x.lower() for x in w]
    if "privilege" in lw and lw.index("privilege") + 1 < len(w) and w[lw.index("privilege") + 1].isdigit():
        acc.privilege = int(w[lw.index("privilege") + 1])
        acc.role = f"privilege {acc.privilege}"
    for kind in ("secret", "password"):
        if kind in lw:
            acc.storage, acc.cleartext = _secret(w[lw.index(kind) + 1:], kind)
            acc.secret_line, acc.secret_text = node.line, common.mask(node.text)
            break
    else:
        if "nopassword" in lw:
            acc.storage, acc.secret_line, acc.secret_text = "none", node.line, node.text


def _enable(cfg: DeviceConfig, node: Node):
    w = node.words  # enable secret|password [level N] [type] VALUE
    lw = [x.lower() for x in w]
    kind = lw[1] if len(lw) > 1 else ""
    if kind not in ("secret", "password"):
        return
    rest = w[2:]
    if rest and rest[0].lower() == "level" and len(rest) > 1:
        rest = rest[2:]
    acc = Account(f"enable {kind}", node.line)
    acc.storage, acc.cleartext = _secret(rest, kind)
    acc.secret_line, acc.secret_text = node.line, common.mask(node.text)
    cfg.enable_secrets.append(acc)


def _line(cfg: DeviceConfig, node: Node):
    w = node.words
    kind = w[1].lower() if len(w) > 1 else "vty"
    kind = {"console": "con"}.get(kind, kind)
    ln = Line(kind, " ".join(w[1:]), node.line)
    for c in node.children:
        cw = c.words
        head = cw[0].lower()
        if head == "exec-timeout":
            secs = common.idle_seconds(cw[1:])
            if secs is not None:
                ln.idle_seconds = Setting.at(c, secs)
        elif head == "transport" and len(cw) > 2 and cw[1].lower() == "input":
            protos = {p.lower() for p in cw[2:]}
            if "all" in protos:
                protos = {"ssh", "telnet"}
            protos.discard("none")
            ln.inbound = Setting.at(c, frozenset(protos))
        elif head == "access-class" and len(cw) > 2 and cw[-1].lower() == "in":
            ln.acl, ln.acl_line = cw[1], c.line
        elif head == "ipv6" and len(cw) > 2 and cw[1].lower() == "access-class":
            ln.acl = ln.acl or cw[2]
            ln.acl_line = ln.acl_line or c.line
        elif head == "login":
            ln.auth, ln.auth_line = ("aaa" if len(cw) > 1 and cw[1].lower() == "authentication" else
                                     "local" if len(cw) > 1 and cw[1].lower() == "local" else "password"), c.line
        elif c.text.lower() == "no login":
            ln.auth, ln.auth_line = "none", c.line
        elif head == "password":
            ln.has_password = True
    cfg.lines_.append(ln)


def _rule(acl: Acl, node: Node, words: list[str], standard: bool):
    lw = [x.lower() for x in words]
    if lw and lw[0].isdigit():   # sequence number
        lw = lw[1:]
    if not lw or lw[0] not in ("permit", "deny"):
        return
    action, rest = lw[0], [x for x in lw[1:] if x not in ("log", "log-input")]
    if standard or (rest and rest[0] == "any") or (rest and _IP.match(rest[0])) or (rest and rest[0] == "host"):
        any_any = rest[:1] == ["any"] and len(rest) == 1
    else:
        proto, addrs = (rest[0] if rest else "ip"), rest[1:]
        any_any = proto == "ip" and addrs[:2] == ["any", "any"] and len(addrs) == 2
    acl.rules.append(AclRule(node.line, node.text, action, any_any, any_any))


def _interface(cfg: DeviceConfig, node: Node):
    name = " ".join(node.words[1:])
    itf = Interface(name, node.line, physical=bool(_PHYSICAL.match(name)))
    for c in node.children:
        t = c.text.lower()
        if t == "shutdown":
            itf.shutdown = True
        elif t == "no shutdown":
            itf.shutdown = False
        elif not _NEUTRAL.match(t):
            itf.configured = True
        if t.startswith(("switchport mode access", "switchport access vlan")):
            itf.access_port = True
        m = re.match(r"^ip access-group (\S+) (in|out)$", c.text, re.I)
        if m:
            cfg.applied_acls.append((m.group(1), name, c.line, c.text))
        if t.startswith("ip address ") and not any(x.text.lower() == "no ip proxy-arp" for x in node.children) \
                and itf.physical is not None:
            cfg.services.setdefault("proxy_arp_interfaces", []).append(Setting.at(c, name))
    cfg.interfaces.append(itf)


_LIFETIME = {"years": 365, "months": 30, "days": 1}


def _common_criteria(cfg: DeviceConfig, node: Node):
    """IOS ``aaa common-criteria policy NAME``: min-length, character classes, lifetime (local passwords)."""
    classes = 0
    for c in node.children:
        cw = [x.lower() for x in c.words]
        if cw[0] == "min-length" and len(cw) > 1 and cw[1].isdigit():
            cfg.min_length = Setting.at(c, int(cw[1]))
        elif cw[0] in ("upper-case", "lower-case", "numeric-count", "special-case") and cw[1:2] != ["0"]:
            classes += 1
            cfg.complexity = Setting(classes, "explicit", c.line, f"{node.text}: {classes} character classes required")
        elif cw[0] == "lifetime" and len(cw) > 2 and cw[2].isdigit() and cw[1] in _LIFETIME:
            cfg.max_age_days = Setting.at(c, int(cw[2]) * _LIFETIME[cw[1]])


def parse(tree: Tree, platform: str, release: str, outputs: dict) -> DeviceConfig:
    cfg = DeviceConfig(platform, release, truncated=tree.truncated, lines=tree.lines)
    rel = release
    accounts: dict = {}
    ruijie = platform == "ruijie-rgos"
    numbered: dict[str, Acl] = {}
    snmp_versions: set = set()
    snmp_nodes: list = []
    for n in tree.root.children:
        t, tl = n.text, n.text.lower()
        no = tl.startswith("no ")
        body = tl[3:] if no else tl
        if body.startswith("hostname ") and not no:
            cfg.hostname = t.split(None, 1)[1][:64]
        elif body.startswith("username ") and not no:
            _account(cfg, accounts, n)
        elif body.startswith("enable ") and body.split()[1:2] in (["secret"], ["password"]) and not no:
            _enable(cfg, n)
        elif re.match(r"^line (vty|con|console|aux)\b", tl):
            _line(cfg, n)
        elif tl.startswith("interface "):
            _interface(cfg, n)
        elif re.match(r"^ip access-list (standard|extended) \S+", tl):
            acl = Acl(n.words[3], n.line, implicit_deny=True)
            for c in n.children:
                _rule(acl, c, c.words, n.words[2].lower() == "standard")
            cfg.acls[acl.name] = acl
        elif re.match(r"^access-list \d+ (permit|deny)\b", tl):
            num = n.words[1]
            acl = numbered.setdefault(num, Acl(num, n.line, implicit_deny=True))
            _rule(acl, n, n.words[2:], int(num) < 100 or 1300 <= int(num) <= 1999)
            cfg.acls[num] = acl
        elif body.startswith("security passwords min-length ") and not no and n.words[-1].isdigit():
            cfg.min_length = Setting.at(n, int(n.words[-1]))
        elif body.startswith("password policy min-size ") and not no and n.words[-1].isdigit():
            cfg.min_length = Setting.at(n, int(n.words[-1]))
        elif body == "password policy strong":
            cfg.complexity = Setting.at(n, 0 if no else 2)
        elif re.match(r"^aaa common-criteria policy \S+", tl):
            _common_criteria(cfg, n)
        elif body.startswith("password policy life-cycle ") and not no and n.words[-1].isdigit():
            cfg.max_age_days = Setting.at(n, int(n.words[-1]))
        elif body.startswith("login block-for ") and not no:
            w = tl.split()
            vals = {w[i]: int(w[i + 1]) for i in range(len(w) - 1) if w[i + 1].isdigit()}
            cfg.lockout = Setting.at(n, {"attempts": vals.get("attempts"), "window_min": round(vals.get("within", 0) / 60, 1),
                                         "lock_min": round(vals.get("block-for", 0) / 60, 1)})
        elif body.startswith("aaa local authentication attempts") and not no:
            w = tl.split()
            num = next((int(x) for x in w if x.isdigit()), None)
            prev = cfg.lockout.value if cfg.lockout.known and isinstance(cfg.lockout.value, dict) else {}
            cfg.lockout = Setting.at(n, {"attempts": num, "window_min": prev.get("window_min"),
                                         "lock_min": prev.get("lock_min")})
        elif body.startswith("aaa local authentication lockout-time") and not no and n.words[-1].isdigit():
            prev = cfg.lockout.value if cfg.lockout.known and isinstance(cfg.lockout.value, dict) else {"attempts": None}
            cfg.lockout = Setting(dict(prev, lock_min=int(n.words[-1])), cfg.lockout.source if prev.get("attempts")
                                  else "explicit", cfg.lockout.line or n.line, cfg.lockout.text or n.text)
        elif body.startswith("ip ssh version "):
            cfg.ssh_v1 = Setting.at(n, n.words[-1] != "2")
            cfg.ssh_server = Setting.at(n, True) if not ruijie and not cfg.ssh_server.known else cfg.ssh_server
        elif body.startswith("ip ssh ") and not no and not ruijie and not cfg.ssh_server.known:
            cfg.ssh_server = Setting.at(n, True)
        elif body == "enable service ssh-server":
            cfg.ssh_server = Setting.at(n, not no)
        elif body == "enable service telnet-server":
            cfg.telnet_server = Setting.at(n, not no)
        elif body.startswith("enable service web-server"):
            kind = n.words[-1].lower() if len(n.words) > 3 else "all"
            if no:
                cfg.http_server = Setting.at(n, False)
                cfg.https_server = Setting.at(n, False)
            else:
                cfg.http_server = Setting.at(n, kind in ("http", "all"))
                cfg.https_server = Setting.at(n, kind in ("https", "all"))
        elif body == "ip http server":
            cfg.http_server = Setting.at(n, not no)
        elif body == "ip http secure-server":
            cfg.https_server = Setting.at(n, not no)
        elif body.startswith("ip http access-class ") and not no:
            cfg.http_acl = Setting.at(n, n.words[-1])
        elif body in ("service tcp-small-servers", "service udp-small-servers"):
            if not no or "small_servers" not in cfg.services or not cfg.services["small_servers"].value:
                cfg.services["small_servers"] = Setting.at(n, not no)
        elif body == "cdp run":
            cfg.services["cdp"] = Setting.at(n, not no)
        elif body == "ip source-route":
            cfg.services["source_route"] = Setting.at(n, not no)
        elif body in ("ip finger", "service finger"):
            cfg.services["finger"] = Setting.at(n, not no)
        elif body in ("ftp-server enable", "ip ftp server"):
            cfg.services["ftp_server"] = Setting.at(n, not no)
        elif body == "lldp run" or body == "lldp enable":
            cfg.services["lldp"] = Setting.at(n, not no)
        elif body == "logging on":
            cfg.logging = Setting.at(n, not no)
        elif re.match(r"^logging (host |server )?\S+", body) and not no:
            w = n.words[1:]
            if w and w[0].lower() in ("host", "server"):
                w = w[1:]
            addr = next((x for x in w if _IP.match(x)), None)
            if addr and (len(n.words) == 2 or n.words[1].lower() in ("host", "server")):
                cfg.log_hosts.append(Setting.at(n, addr))
        elif body.startswith("ntp server ") and not no:
            cfg.ntp_servers.append(Setting.at(n, n.words[-1] if _IP.match(n.words[-1]) else n.words[2]))
        elif body.startswith("clock timezone ") and not no:
            cfg.timezone = Setting.at(n, t.split(None, 2)[2][:60])
        elif body.startswith("snmp-server community ") and not no:
            cfg.snmp_enabled = True
            snmp_versions |= {"v1", "v2c"}
            w = n.words[2:]
            name = w[0] if w else ""
            if name in ("0", "7") and len(w) > 1:
                name, w = (w[1] if name == "0" else None), w[1:]
            lw = [x.lower() for x in w]
            acl = w[-1] if w and lw[-1] not in ("ro", "rw") and len(w) > 1 and lw[-2] in ("ro", "rw") else None
            cfg.communities.append(Community(n.line, common.mask(t), name, write="rw" in lw, acl=acl))
            snmp_nodes.append(n)
        elif (body.startswith("snmp-server group ") and " v3" in body) or body.startswith("snmp-server user "):
            cfg.snmp_enabled = True
            snmp_versions.add("v3")
            cfg.snmp_v3_users += body.startswith("snmp-server user ")
            snmp_nodes.append(n)
        elif body.startswith(("tacacs-server host ", "radius-server host ")) and not no:
            addr = next((x for x in n.words[2:] if _IP.match(x)), n.words[2] if len(n.words) > 2 else "")
            cfg.aaa_servers.append(Setting.at(n, ("tacacs+" if "tacacs" in body else "radius", addr)))
        elif re.match(r"^(tacacs|radius) server \S+", tl):
            for c in n.find(r"^address ipv[46] "):
                cfg.aaa_servers.append(Setting.at(c, ("tacacs+" if tl.startswith("tacacs") else "radius", c.words[-1])))
        elif re.match(r"^aaa authentication login \S+ .*group (tacacs\+|radius|\S+)", tl):
            cfg.remote_login_auth = Setting.at(n, True)
        elif body.startswith("ip dhcp snooping") and body.split()[3:4] in ([], ["vlan"]):
            if body == "ip dhcp snooping" or not cfg.dhcp_snooping.known:
                cfg.dhcp_snooping = Setting.at(n, not no)
        elif body.startswith("ip arp inspection vlan ") and not no:
            cfg.arp_inspection = Setting.at(n, True)
    for n in tree.root.walk():   # RGOS ARP check on access ports
        if n.text.lower() == "arp-check" and not cfg.arp_inspection.known:
            cfg.arp_inspection = Setting.at(n, True)
    if snmp_versions:
        first = snmp_nodes[0]
        cfg.snmp_versions = Setting(frozenset(snmp_versions), "explicit", first.line, common.mask(first.text))
    for ln in cfg.lines_:
        if not ln.idle_seconds.known:
            ln.idle_seconds = default(platform, rel, "idle_seconds")
        if not ln.inbound.known and ln.kind == "vty":
            ln.inbound = default(platform, rel, "vty_inbound")
    if not ruijie and not cfg.telnet_server.known and cfg.vty:
        # IOS has no global Telnet switch: a vty line that accepts Telnet is the Telnet server
        telnet = [ln for ln in cfg.vty if ln.inbound.known and "telnet" in ln.inbound.value]
        if telnet:
            s = telnet[0].inbound
            cfg.telnet_server = Setting(True, s.source, s.line, s.text if s.line else f"line {telnet[0].name}: {s.text}")
        elif all(ln.inbound.known for ln in cfg.vty):
            s = cfg.vty[0].inbound
            cfg.telnet_server = Setting(False, s.source, s.line, s.text)
    for name in ("lockout", "min_length", "complexity", "max_age_days", "telnet_server", "ssh_server", "ssh_v1",
                 "http_server", "https_server", "logging", "dhcp_snooping", "arp_inspection"):
        if not getattr(cfg, name).known:
            setattr(cfg, name, default(platform, rel, name))
    for name in ("ftp_server", "small_servers", "cdp", "source_route"):
        if name not in cfg.services:
            cfg.services[name] = default(platform, rel, name)
    return cfg
