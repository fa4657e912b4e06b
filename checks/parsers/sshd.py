"""OpenSSH server settings as ``sshd -T`` (optionally ``-C user=,host=,addr=`` for a Match) prints
them, and the host patterns of ``AllowUsers user@host`` (ssh_config(5) PATTERNS: ``*``/``?`` globs
or CIDR). The plain one-value-per-key reading is ``checks.parsers.sshd_t``. Pure functions, no I/O.
"""
from __future__ import annotations

import ipaddress
import re
from fnmatch import fnmatchcase
from functools import lru_cache


def sshd_values(text: str) -> dict[str, list[str]]:
    """``sshd -T`` output → {lower-case key: every word of every line with that key} (a fresh copy of a
    remembered reading: a host's ``sshd -T`` is read by about ten checks)."""
    return {k: list(v) for k, v in _sshd_values(text).items()}


@lru_cache(maxsize=256)
def _sshd_values(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for ln in text.splitlines():
        k, _, v = ln.strip().partition(" ")
        if k:
            out.setdefault(k.lower(), []).extend(v.split())
    return out


def host_pattern_admits(pattern: str, addr: str = "203.0.113.7") -> bool:
    """Whether an AllowUsers host pattern admits the outside test address (or any address)."""
    if pattern in ("", "*", "*.*") or re.fullmatch(r"[*?.]+", pattern):
        return True
    if "/" in pattern:
        try:
            return ipaddress.ip_address(addr) in ipaddress.ip_network(pattern, strict=False)
        except ValueError:
            return False
    return fnmatchcase(addr, pattern)


# --------------------------------------------------------------------------------------------- idle timeout
def duration(text: str) -> int | None:
    """sshd_config(5) TIME FORMATS: '600', '10m', '1h30m' → seconds; None when unreadable."""
    text = str(text).strip().lower()
    if text.isdigit():
        return int(text)
    parts = re.findall(r"(\d+)([smhdw]?)", text)
    if not parts or "".join(a + b for a, b in parts) != text:
        return None
    mult = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    return sum(int(a) * mult[b] for a, b in parts)


def idle_timeout(kv: dict[str, list[str]], version: tuple | None) -> dict:
    """How sshd ends sessions, judged for the OpenSSH version found:

    - ``ChannelTimeout session=T`` (OpenSSH 9.2+): an interactive session with no traffic for T closes — a
      real idle timeout;
    - ``ClientAliveCountMax 0``: before 8.2 sshd dropped the connection at the first ClientAliveInterval
      without traffic (an idle timeout); since 8.2 (release notes: "make ClientAliveCountMax=0 have
      sensible semantics") it disables connection killing entirely; an unknown version is judged as 8.2+;
    - ``ClientAliveInterval`` × ``ClientAliveCountMax`` ≥ 1: drops a client that stops answering; a live
      client answers the probes, so an idle but connected session stays.

    Returns {kind: idle|unresponsive|none, seconds, how}."""
    def first(key, default):
        v = kv.get(key)
        return v[0] if v else default
    for spec in kv.get("channeltimeout", []):
        typ, eq, val = spec.partition("=")
        if eq and typ in ("session", "session:*", "*", "session:shell") and (secs := duration(val)):
            return {"kind": "idle", "seconds": secs, "how": f"channeltimeout {spec}"}
    interval = duration(first("clientaliveinterval", "0")) or 0
    count = duration(first("clientalivecountmax", "3"))
    count = 3 if count is None else count
    how = f"clientaliveinterval {interval}, clientalivecountmax {count}"
    if interval <= 0:
        return {"kind": "none", "seconds": None, "how": how + " (no client-alive probes)"}
    if count == 0:
        if version is not None and version < (8, 2):
            return {"kind": "idle", "seconds": interval, "how": how + f" (OpenSSH {'.'.join(map(str, version))} < 8.2: "
                                                                           "disconnects at the first probe)"}
        shown = ".".join(map(str, version)) if version else "version unknown, judged as"
        return {"kind": "none", "seconds": None, "how": how + f" (OpenSSH {shown} >= 8.2: countmax 0 disables termination)"}
    return {"kind": "unresponsive", "seconds": interval * count, "how": how + " (drops unresponsive clients only)"}


# --------------------------------------------------------------------------------------------- config files
SSHD_CONFIG = "/etc/ssh/sshd_config"


def _words(line: str) -> list[str]:
    out, cur, quote = [], "", False
    for ch in line:
        if ch == '"':
            quote = not quote
        elif ch.isspace() and not quote:
            if cur:
                out.append(cur)
            cur = ""
        else:
            cur += ch
    if cur:
        out.append(cur)
    return out


def config_statements(files: dict[str, list[str]], start: str = SSHD_CONFIG) -> list[tuple[str, str, list[str], int]]:
    """(file, keyword lower-case, arguments, match block id) in the order sshd reads them, following
    ``Include`` (globs, relative to /etc/ssh, files in sorted order). Block 0 is the global section; a
    ``Match`` starts a new block that lasts to the next Match or the end of its file."""
    out: list = []
    block = [0]
    budget = [20000]  # lines read through includes in all: a hostile host's Include fan-out stays bounded

    def read(path, depth, chain=()):
        if depth > 16 or path not in files or path in chain:
            return
        chain = chain + (path,)
        current = 0
        for raw in files[path]:
            budget[0] -= 1
            if budget[0] < 0:
                return
            s = raw.strip()
            if not s or s.startswith("#"):
                continue
            w = _words(re.sub(r"\s*=\s*", " ", s, count=1) if "=" in s.split()[0] else s)
            if not w:
                continue
            key, args = w[0].lower(), w[1:]
            if key == "include":
                for pat in args:
                    pat = pat if pat.startswith("/") else "/etc/ssh/" + pat
                    for target in sorted(p for p in files if fnmatchcase(p, pat)):
                        read(target, depth + 1, chain)
                continue
            if key == "match":
                block[0] += 1
                current = block[0]
                out.append((path, "match", args, current))
                continue
            out.append((path, key, args, current))

    read(start, 0)
    return out


def _match_criteria(args: list[str], user: str, host: str, addr: str, groups: tuple) -> bool:
    i, ok = 0, True
    if [a.lower() for a in args] == ["all"]:
        return True
    while i < len(args):
        crit = args[i].lower()
        val = args[i + 1] if i + 1 < len(args) else ""
        i += 2
        pats = val.split(",")
        if crit == "user":
            ok &= _patterns(pats, user)
        elif crit == "group":
            ok &= any(_patterns(pats, g) for g in groups) if groups else False
        elif crit == "host":
            ok &= _patterns(pats, host)
        elif crit == "address":
            ok &= _patterns(pats, addr, cidr=True)
        elif crit in ("localaddress", "localport", "rdomain"):
            ok &= _patterns(pats, "*")  # unknown: only a wildcard matches
        else:
            return False
    return ok


def _patterns(pats: list[str], value: str, cidr: bool = False) -> bool:
    """ssh_config(5) PATTERNS: a list matches when a positive pattern matches and no negated one does."""
    hit = False
    for p in pats:
        neg = p.startswith("!")
        p = p[1:] if neg else p
        m = host_pattern_admits(p, value) if cidr and "/" in p else fnmatchcase(value, p)
        if m and neg:
            return False
        hit |= m
    return hit


def effective_config(files: dict[str, list[str]], user: str = "", host: str = "", addr: str = "",
                     groups: tuple = ()) -> dict[str, list[str]]:
    """What ``sshd -T -C user=,host=,addr=`` would print for the keys set in the files (defaults not
    filled in): global lines first value wins; the lines of Match blocks that match the connection are
    then applied over them, the first matching value winning (servconf.c re-reads the file with only
    matching blocks active and copies what they set)."""
    stmts = config_statements(files)
    glob: dict[str, list[str]] = {}
    matched: dict[str, list[str]] = {}
    active = {0: True}
    for _path, key, args, blk in stmts:
        if key == "match":
            active[blk] = bool(user or host or addr) and _match_criteria(args, user, host, addr, groups)
            continue
        if blk == 0:
            glob.setdefault(key, args)
        elif active.get(blk):
            matched.setdefault(key, args)
    return {**glob, **matched}


def match_blocks(files: dict[str, list[str]]) -> list[tuple[str, list[str], dict[str, list[str]]]]:
    """(file, Match criteria, {keyword: arguments set in the block}) for every Match block read."""
    blocks: dict[int, tuple[str, list[str], dict]] = {}
    for path, key, args, blk in config_statements(files):
        if key == "match":
            blocks[blk] = (path, args, {})
        elif blk in blocks:
            blocks[blk][2].setdefault(key, args)
    return list(blocks.values())


def may_match_user(criteria: list[str], user: str, groups: tuple = ()) -> bool:
    """Whether a Match line can apply to ``user`` from some address or host (User/Group decide; Address,
    Host and the local criteria are taken as reachable)."""
    if [c.lower() for c in criteria] == ["all"]:
        return True
    for i in range(0, len(criteria) - 1, 2):
        crit, pats = criteria[i].lower(), criteria[i + 1].split(",")
        if crit == "user" and not _patterns(pats, user):
            return False
        if crit == "group" and not any(_patterns(pats, g) for g in (groups or (user,))):
            return False
    return True
