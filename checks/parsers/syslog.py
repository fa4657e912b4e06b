"""System logger configuration: rsyslog (``/etc/rsyslog.conf`` with ``/etc/rsyslog.d/*.conf`` read
where ``$IncludeConfig`` / ``include(file=...)`` names them) and syslog-ng (``/etc/syslog-ng``).

rsyslog: legacy selector lines with sysklogd semantics (``facility.level`` picks that level and
above, ``.=level`` exactly, ``.!level`` excludes, ``.none`` excludes the facility, ``;`` combines
selectors left to right), ``&`` continuation actions, ``stop``/``~``, RainerScript ``action(...)``
statements (over several lines) and ``if $syslogfacility-text == ... then`` filters and blocks.
syslog-ng: ``log { source; filter; destination; }`` paths with their facility filters.
Pure functions, no I/O.
"""
from __future__ import annotations

import re

# rsyslog / syslog-ng configuration
LEVELS = {"emerg": 0, "panic": 0, "alert": 1, "crit": 2, "err": 3, "error": 3, "warning": 4, "warn": 4,
           "notice": 5, "info": 6, "debug": 7}


_SELECTOR = re.compile(r"^([A-Za-z0-9_*,]+\.[!=]*[A-Za-z*]+(?:;[A-Za-z0-9_*,]+\.[!=]*[A-Za-z*]+)*)\s+(\S.*)$")


_INCLUDE = re.compile(r"""^(?:\$IncludeConfig\s+(\S+)|include\s*\(.*?file\s*=\s*["']([^"']+)["'])""")


def selects(selector: str, facility: str, level: int) -> bool:
    """Whether a syslog selector (``auth,authpriv.*``, ``*.info;mail.none``) picks facility at level."""
    picked = False
    for part in selector.split(";"):
        facs, _, pri = part.rpartition(".")
        if not facs:
            continue
        if facility not in facs.split(",") and "*" not in facs.split(","):
            continue
        pri = pri.lower()
        if pri == "none":
            picked = False
        elif pri == "*":
            picked = True
        else:
            neg, eq = pri.startswith("!"), "=" in pri
            lv = LEVELS.get(pri.lstrip("!="))
            if lv is None:
                continue
            hit = (level == lv) if eq else (level <= lv)
            if neg and hit:
                picked = False
            elif not neg and hit:
                picked = True
    return picked


def action_kind(action: str) -> tuple[str, str]:
    """('file'|'forward'|'stop'|'other', target) for an rsyslog action."""
    a = action.strip()
    m = re.search(r"""type\s*=\s*["'](\w+)["']""", a)
    if a.startswith("action(") and m:
        kind = m.group(1).lower()
        if kind == "omfile":
            f = re.search(r"""\bfile\s*=\s*["']([^"']+)""", a)
            return "file", f.group(1) if f else "(dynafile)"
        if kind in ("omfwd", "omrelp"):
            t = re.search(r"""\btarget\s*=\s*["']([^"']+)""", a)
            return "forward", t.group(1) if t else ""
        return "other", kind
    if a in ("stop", "~"):
        return "stop", ""
    if a.startswith(("/", "-/", "?")):
        return "file", a.lstrip("-").split(";")[0]
    if a.startswith("@"):
        t = re.sub(r"^@@?(\([^)]*\))?", "", a).split(";")[0]
        t = t[1:t.index("]")] if t.startswith("[") and "]" in t else t.rsplit(":", 1)[0] if t.count(":") == 1 else t
        return "forward", t
    if a.startswith((":omrelp:", ":omfwd:")):
        return "forward", a.split(":")[2] if a.count(":") >= 2 else ""
    return "other", a


def statements(lines: list[str]) -> list[str]:
    """Join lines into statements: an rsyslog action(...) may span lines, and '\\' continues a line."""
    out, buf, depth = [], "", 0
    for ln in lines:
        buf = f"{buf} {ln}".strip() if buf else ln
        depth += ln.count("(") - ln.count(")")
        if buf.endswith("\\"):
            buf = buf[:-1]
            continue
        if depth > 0:
            continue
        out.append(buf)
        buf, depth = "", 0
    if buf:
        out.append(buf)
    return out


def rsyslog_rules(by_file: dict[str, list[str]]) -> list[dict]:
    """rsyslog rules (``{path: lines}`` of rsyslog.conf and rsyslog.d) in the order rsyslog reads them: {selector|None, facilities|None, kind, target, where, text}."""
    conf = by_file.get("/etc/rsyslog.conf", [])
    dropins = [p for p in by_file if p.startswith("/etc/rsyslog.d/")]
    ordered: list[tuple[str, str]] = []
    included = False
    for ln in conf:
        m = _INCLUDE.match(ln)
        if m and "rsyslog.d" in (m.group(1) or m.group(2) or ""):
            included = True
            for p in dropins:
                ordered.extend((p, x) for x in by_file[p])
            continue
        ordered.append(("/etc/rsyslog.conf", ln))
    if not conf and not included:  # no main file gathered: judge the drop-ins anyway
        for p in dropins:
            ordered.extend((p, x) for x in by_file[p])
    rules, last_selector, block_facs = [], None, None
    # Statements are built per file so a multi-line action never swallows the next file's lines.
    groups: list[tuple[str, list[str]]] = []
    for path, ln in ordered:
        if groups and groups[-1][0] == path:
            groups[-1][1].append(ln)
        else:
            groups.append((path, [ln]))
    for path, lines in groups:
        for st in statements(lines):
            where = f"{path}: {st}"
            m = _SELECTOR.match(st)
            if m:
                last_selector = m.group(1)
                kind, target = action_kind(m.group(2))
                rules.append({"selector": m.group(1), "facilities": None, "kind": kind, "target": target,
                              "where": where})
                continue
            if st.startswith("&") and last_selector:
                kind, target = action_kind(st[1:])
                rules.append({"selector": last_selector, "facilities": None, "kind": kind, "target": target,
                              "where": where})
                continue
            last_selector = None
            cond = re.match(r"^if\s+(.*?)\s+then\s*(.*)$", st)
            if cond:
                facs = set(re.findall(r"""\$syslogfacility-text\s*(?:==|isequal)\s*["'](\w+)["']""", cond.group(1)))
                body = cond.group(2).strip()
                if body in ("{", ""):  # a block: its actions follow on the next lines
                    block_facs = facs or None
                    continue
                kind, target = action_kind(body.lstrip("{").rstrip("}").strip())
                rules.append({"selector": None, "facilities": facs or None, "kind": kind, "target": target,
                              "where": where})
                continue
            if st.startswith("}"):
                block_facs = None
                continue
            if "action(" in st:  # inside a block: scope from its if-test, else unknown (a ruleset, a filter)
                kind, target = action_kind(st[st.index("action("):])
                rules.append({"selector": None, "facilities": block_facs, "kind": kind, "target": target,
                              "where": where})
    return rules


def rule_picks(rule: dict, facility: str, level: int) -> bool | None:
    """True/False when the rule's scope is known, None when it is not (block without a facility test)."""
    if rule["selector"]:
        return selects(rule["selector"], facility, level)
    if rule["facilities"]:
        return facility in rule["facilities"]
    return None


def syslog_ng_paths(by_file: dict[str, list[str]]) -> list[dict]:
    """syslog-ng log paths → [{facilities ('*' = no filter), files, forwards, where}]."""
    text = "\n".join(ln for p, lines in by_file.items() if p.startswith("/etc/syslog-ng/") for ln in lines)
    if not text:
        return []
    filters = {}
    for name, body in re.findall(r"filter\s+(\w+)\s*\{(.*?)\};", text, re.S):
        positive = re.sub(r"not\s+facility\([^)]*\)", "", body)
        filters[name] = {f for grp in re.findall(r"facility\(([^)]*)\)", positive) for f in re.split(r"[\s,]+", grp) if f}
    dests = {}
    for name, body in re.findall(r"destination\s+(\w+)\s*\{(.*?)\};", text, re.S):
        f = re.search(r"""\bfile\(\s*["']([^"']+)""", body)
        n = re.search(r"""\b(?:network|tcp6?|udp6?|syslog)\(\s*["']?([^"'\s)]+)""", body)
        dests[name] = {"file": f.group(1) if f else None, "net": n.group(1) if n else None}
    out = []
    for body in re.findall(r"\blog\s*\{(.*?)\};", text, re.S):
        fl = re.findall(r"filter\((\w+)\)", body)
        facs = set().union(*(filters.get(x, set()) for x in fl)) if fl else {"*"}
        ds = [dests[d] for d in re.findall(r"destination\((\w+)\)", body) if d in dests]
        out.append({"facilities": facs, "files": [d["file"] for d in ds if d["file"]],
                    "forwards": [d["net"] for d in ds if d["net"]],
                    "where": "/etc/syslog-ng: log {" + " ".join(body.split())[:150] + "}"})
    return out
