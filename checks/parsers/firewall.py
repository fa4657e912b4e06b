"""Host firewall rulesets: ``nft list ruleset`` and ``iptables-save`` / ``ip6tables-save`` output,
read into one model (chains of rules) and evaluated for one question: would a NEW TCP connection
from an arbitrary outside address to a port be accepted?

Follows the kernel's evaluation: every input-hook filter chain must accept (nftables base chains of
several tables all see the packet; a drop in any is final), rules in order, ``jump`` returns to the
caller at the end of the target chain or at ``return``, ``goto`` does not, the chain policy decides
when no rule does; nft named sets and verdict maps are resolved within their table. Matches this
reader does not understand are taken the pessimistic way (an accept that might apply counts as open,
a drop that might not apply is ignored), so a doubtful ruleset fails rather than passes.
Pure functions, no I/O.
"""
from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

# Firewall readers: one model for nftables and iptables rulesets.
SERVICES = {"ssh": 22, "http": 80, "https": 443, "telnet": 23, "ftp": 21, "smtp": 25, "domain": 53, "ntp": 123}


ANY_NET = ("0.0.0.0/0", "::/0", "0/0")


@dataclass
class Rule:
    """One rule as this reader understands it, for a NEW TCP packet from an outside address."""
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
    """A chain: its hook and type (base chains), default policy, families and rules in order."""
    name: str
    hook: str = ""
    kind: str = ""
    policy: str = "accept"
    families: frozenset = frozenset({4, 6})
    label: str = ""
    rules: list = field(default_factory=list)


def port_ranges(value: str, sets: dict[str, list[str]] | None = None):
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


def is_any_net(value: str) -> bool:
    """Whether an address list names the whole address space (0.0.0.0/0, ::/0)."""
    return any(a in re.split(r"[,\s{}]+", value) for a in ANY_NET)


_NFT_NEUTRAL = [r"\bcounter(?:\s+packets\s+\d+\s+bytes\s+\d+)?", r'\bcomment\s+"[^"]*"',
                r'\blog(?:\s+prefix\s+"[^"]*"|\s+level\s+\S+|\s+group\s+\d+|\s+flags\s+\S+)*']


_VAL = r"(!=\s*)?(\{[^}]*\}|\"[^\"]*\"|\S+)"


def _vals(v: str) -> list[str]:
    return [x.strip('"') for x in re.split(r"[,\s{}]+", v) if x]


_MCAST = re.compile(r"^(22[4-9]|23\d)\.|^255\.255\.255\.255|^ff[0-9a-f]{2}:|^fe80:")


def nft_rule(text: str, sets: dict[str, list[str]], table_fams: frozenset) -> list[Rule]:
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
        if not (is_any_net(v) and not neg):
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
            r.ports = (r.ports or []) + [(bool(neg), port_ranges(v, sets))]
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
            rr.ports = rr.ports + [(False, port_ranges(k, sets))]
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
        for r in nft_rule(line, sets.get(tbl, {}), ch.families):
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
        ch.rules.append(ipt_rule(line, tok[2:], fams, user_chains=set(chains)))
    return chains


_IPT_NEUTRAL = {"--comment", "--set", "--name", "--mask", "--rsource", "--rdest"}


def ipt_rule(text: str, tok: list[str], fams: frozenset, user_chains: set[str] | frozenset = frozenset()) -> Rule:
    """One ``-A CHAIN`` line's tokens after the chain name → a Rule. A target that names a chain
    of the table (``:NAME`` lines; any case, ``DOCKER-USER`` too) is a jump into it; other
    upper-case targets are extensions (LOG, NFQUEUE...) that decide nothing here."""
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
            elif tgt in user_chains and tgt not in ("INPUT", "FORWARD", "OUTPUT"):
                r.verdict, r.target = ("goto" if t in ("-g", "--goto") else "jump"), tgt
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
            if not (is_any_net(nxt) and not neg):
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
            r.ports = (r.ports or []) + [(neg, port_ranges(nxt))]
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


def walk(chains: dict[str, Chain], name: str, fam: int, ports: set[int], certain: bool, limited: list,
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
            res, ev = walk(chains, r.target, fam, ports, sure, limited, depth + 1)
            if res:
                return res, ev
            if r.verdict == "goto":
                if sure:
                    return None, ""
                certain = False
    return None, ""


def input_chains(chains: dict[str, Chain], fam: int) -> list[tuple[str, Chain]]:
    """The filter chains on the input hook that see address family ``fam``."""
    return [(k, c) for k, c in chains.items() if c.hook == "input" and c.kind == "filter" and fam in c.families]


def port_reachability(rulesets: list[dict[str, Chain]], fam: int, ports: set[int]):
    """('restricted' | 'open' | 'none', evidence lines): does any input chain drop NEW packets to
    ``ports`` from an arbitrary source? 'none' when no input chain exists at all."""
    evidence, limited, seen = [], [], False
    for chains in rulesets:
        for key, ch in input_chains(chains, fam):
            seen = True
            res, ev = walk(chains, key, fam, ports, True, limited)
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
        for _key, ch in input_chains(chains, fam):
            last = ch.rules[-1] if ch.rules else None
            if ch.policy == "drop":
                out.append(f"{ch.label}: policy drop")
            elif last is not None and last.verdict == "deny" and last.bare and fam in last.families:
                out.append(f"{ch.label}: last rule '{last.text}'")
    return out


# firewalld: ``firewall-cmd --list-all-zones`` (the runtime configuration firewalld has applied)
def firewalld_zones(text: str) -> list[dict]:
    """``firewall-cmd --list-all-zones`` → [{name, default, active, target, interfaces, sources,
    services, ports, rich}]. A zone's heading is ``NAME`` or ``NAME (default, active)``; its
    settings are indented ``key: values`` lines; ``rich rules:`` continue on indented lines."""
    zones: list[dict] = []
    cur = None
    key = None
    for raw in (text or "").splitlines()[:20000]:
        if not raw.strip():
            continue
        if not raw[0].isspace():
            m = re.match(r"^([A-Za-z0-9_.-]{1,64})(?:\s+\(([^)]*)\))?\s*$", raw.strip())
            if not m:
                cur = None
                continue
            flags = {f.strip() for f in (m.group(2) or "").split(",")}
            cur = {"name": m.group(1), "default": "default" in flags, "active": "active" in flags, "target": "default",
                   "interfaces": [], "sources": [], "services": [], "ports": [], "rich": []}
            zones.append(cur)
            key = None
            continue
        if cur is None:
            continue
        line = raw.strip()
        k, sep, v = line.partition(":")
        if sep and re.fullmatch(r"[a-z][a-z0-9 -]*", k.strip()):
            key = k.strip()
            vals = v.split()
            if key == "target":
                cur["target"] = (vals[0] if vals else "default")
            elif key in ("interfaces", "sources", "services", "ports"):
                cur[key] = vals
            elif key == "rich rules":
                cur["rich"] = [v.strip()] if v.strip() else []
            continue
        if key == "rich rules":
            cur["rich"].append(line)
    return zones


def firewalld_exposure(zones: list[dict]) -> tuple[list[str], list[str]]:
    """(zones that accept everything, notes) for the zones firewalld applies to this host's
    traffic: each zone bound to an interface, and the default zone for interfaces bound to none.
    A zone whose target is ACCEPT (the stock ``trusted`` zone) accepts every connection, so a host
    whose interfaces sit in it is not filtered. A zone bound only to source addresses decides for
    those sources alone (noted, not counted)."""
    open_, notes = [], []
    default = next((z for z in zones if z["default"]), None)
    bound = [z for z in zones if z["interfaces"]]
    applied = bound + ([default] if default is not None and default not in bound else [])
    for z in applied:
        who = f"interfaces {' '.join(z['interfaces'])}" if z["interfaces"] else "every interface not bound to a zone"
        if z["target"].upper() == "ACCEPT":
            open_.append(f"firewalld zone {z['name']} (target ACCEPT) applies to {who}: every connection is accepted")
        else:
            notes.append(f"firewalld zone {z['name']} (target {z['target']}) applies to {who}; services: "
                         f"{' '.join(z['services']) or '-'}; ports: {' '.join(z['ports']) or '-'}")
    for z in zones:
        if z["sources"] and z["target"].upper() == "ACCEPT":
            notes.append(f"firewalld zone {z['name']} (target ACCEPT) for sources {' '.join(z['sources'])} only")
    return open_, notes
