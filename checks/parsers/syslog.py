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


FACILITIES = ("kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv", "ftp",
              "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7")
FACILITY_CODES = {f: i for i, f in enumerate(FACILITIES[:12])} | {f"local{i}": 16 + i for i in range(8)}
DEFAULT_RULESET = "RSYSLOG_DefaultRuleset"
# inputs that carry this host's own messages (the system log socket, the journal, the kernel)
LOCAL_INPUTS = ("imuxsock", "imjournal", "imklog", "imkmsg")

_ATOM_FAC = re.compile(r"""^\$syslogfacility-text\s*(==|!=|isequal|contains|startswith)\s*(\[[^\]]*\]|["'][^"']*["'])$""", re.I)
_ATOM_SEV = re.compile(r"""^\$syslogseverity\s*(<=|<|==|>=|>|!=)\s*["']?(\d)["']?$""", re.I)
_ATOM_FACNUM = re.compile(r"""^\$syslogfacility\s*(==|!=)\s*["']?(\d{1,2})["']?$""", re.I)
_ATOM_PRI = re.compile(r"""^prifilt\(\s*["']([^"']+)["']\s*\)$""", re.I)


def _split_top(expr: str, word: str) -> list[str]:
    """Split a RainerScript expression on a boolean operator outside parentheses and quotes."""
    out, depth, quote, cur, i = [], 0, "", "", 0
    pat = re.compile(rf"\s{word}\s", re.I)
    while i < len(expr):
        ch = expr[i]
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif depth == 0:
            m = pat.match(expr, i)
            if m:
                out.append(cur)
                cur, i = "", m.end()
                continue
        cur += ch
        i += 1
    return out + [cur]


def condition(expr: str):
    """A RainerScript ``if`` test → predicate(facility, level) → True / False / None (not known
    from the facility and severity alone: a test of the program name, the message, a host...)."""
    expr = expr.strip()
    ors = _split_top(expr, "or")
    if len(ors) > 1:
        parts = [condition(x) for x in ors]

        def any_(fac, lv):
            vals = [p(fac, lv) for p in parts]
            return True if True in vals else (None if None in vals else False)
        return any_
    ands = _split_top(expr, "and")
    if len(ands) > 1:
        parts = [condition(x) for x in ands]

        def all_(fac, lv):
            vals = [p(fac, lv) for p in parts]
            return False if False in vals else (None if None in vals else True)
        return all_
    if expr.startswith("(") and expr.endswith(")"):  # no top-level and/or left: one parenthesised group
        inner = expr[1:-1]
        if inner.count("(") == inner.count(")"):
            return condition(inner)
    m = re.match(r"^not\s+(.*)$", expr, re.I)
    if m:
        inner = condition(m.group(1))
        return lambda fac, lv: None if inner(fac, lv) is None else not inner(fac, lv)
    m = _ATOM_FAC.match(expr)
    if m:
        op, raw = m.group(1).lower(), m.group(2)
        vals = [v.lower() for v in re.findall(r"""["']([^"']*)["']""", raw)]
        if op in ("==", "isequal"):
            return lambda fac, lv: fac in vals
        if op == "!=":
            return lambda fac, lv: fac not in vals
        if op == "contains":
            return lambda fac, lv: any(v in fac for v in vals)
        return lambda fac, lv: any(fac.startswith(v) for v in vals)
    m = _ATOM_FACNUM.match(expr)
    if m:
        op, n = m.group(1), int(m.group(2))
        return lambda fac, lv: (FACILITY_CODES.get(fac) == n) == (op == "==")
    m = _ATOM_SEV.match(expr)
    if m:
        op, n = m.group(1), int(m.group(2))
        ops = {"<=": lambda a: a <= n, "<": lambda a: a < n, "==": lambda a: a == n, ">=": lambda a: a >= n,
               ">": lambda a: a > n, "!=": lambda a: a != n}
        return lambda fac, lv: ops[op](lv)
    m = _ATOM_PRI.match(expr)
    if m:
        sel = m.group(1)
        return lambda fac, lv: selects(sel, fac, lv)
    return lambda fac, lv: None


def _scope(preds):
    def pred(fac, lv):
        vals = [p(fac, lv) for p in preds]
        return False if False in vals else (None if None in vals else True)
    return pred


def _param(text: str, name: str) -> str | None:
    m = re.search(rf"""\b{name}\s*=\s*["']([^"']*)["']""", text, re.I)
    return m.group(1) if m else None


def rsyslog_rules(by_file: dict[str, list[str]]) -> list[dict]:
    """rsyslog rules (``{path: lines}`` of rsyslog.conf and rsyslog.d) in the order rsyslog reads them:
    {selector|None, facilities|None, cond|None, ruleset, local, kind, target, where, text}.

    ``cond`` is the predicate of the enclosing ``if`` tests (``condition``); ``ruleset`` the ruleset
    the statement belongs to (``ruleset(name=…) { … }`` or legacy ``$RuleSet``); ``local`` whether
    this host's own messages reach that ruleset: the default ruleset, one a local input
    (imuxsock, imjournal, imklog) is bound to, or one ``call``-ed from such a ruleset. A ruleset
    bound only to a network input (imtcp, imudp, imrelp) handles other hosts' messages."""
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
    rules: list[dict] = []
    last_selector = None
    # Statements are built per file so a multi-line action never swallows the next file's lines.
    groups: list[tuple[str, list[str]]] = []
    for path, ln in ordered:
        if groups and groups[-1][0] == path:
            groups[-1][1].append(ln)
        else:
            groups.append((path, [ln]))
    stack: list[tuple[str, object]] = []          # ('if', pred) | ('ruleset', name) | ('other', None)
    legacy_ruleset = DEFAULT_RULESET
    local_inputs: list[tuple[str, str]] = []       # (ruleset fed, input module) of each local input statement
    calls: list[tuple[str, str, list]] = []        # (calling ruleset, called ruleset, enclosing if-tests)

    def cur_ruleset() -> str:
        return next((v for k, v in reversed(stack) if k == "ruleset"), legacy_ruleset)

    def cur_preds() -> list:
        return [v for k, v in stack if k == "if"]

    def add(selector, kind, target, where, extra_pred=None):
        preds = cur_preds() + ([extra_pred] if extra_pred else [])
        facs = None
        for k, v in stack:
            if k == "if" and getattr(v, "facs", None):
                facs = v.facs
        if extra_pred is not None and getattr(extra_pred, "facs", None):
            facs = extra_pred.facs
        rules.append({"selector": selector, "facilities": facs, "cond": _scope(preds) if preds else None,
                      "ruleset": cur_ruleset(), "local": None, "kind": kind, "target": target, "where": where})

    for path, lines in groups:
        for st in statements(lines):
            where = f"{path}: {st}"
            low = st.lower()
            m = re.match(r"^\$ruleset\s+(\S+)", st, re.I)
            if m:
                legacy_ruleset = m.group(1)
                continue
            if low.startswith(("input(", "module(")):
                rs = _param(st, "ruleset")
                kind = (_param(st, "type") or _param(st, "load") or "").lower()
                if kind in LOCAL_INPUTS:
                    local_inputs.append((rs or DEFAULT_RULESET, kind))
                continue
            m = re.match(r"^\$modload\s+(\w+)", st, re.I)
            if m and m.group(1).lower() in LOCAL_INPUTS:
                local_inputs.append((DEFAULT_RULESET, m.group(1).lower()))
                continue
            m = re.match(r"^call\s+(\S+)", st)
            if m:
                calls.append((cur_ruleset(), m.group(1), cur_preds()))
                continue
            m = _SELECTOR.match(st)
            if m:
                last_selector = m.group(1)
                kind, target = action_kind(m.group(2))
                add(m.group(1), kind, target, where)
                continue
            if st.startswith("&") and last_selector:
                kind, target = action_kind(st[1:])
                add(last_selector, kind, target, where)
                continue
            last_selector = None
            m = re.match(r"^ruleset\s*\((.*?)\)\s*\{\s*(.*)$", st, re.S)
            if m:
                stack.append(("ruleset", _param(m.group(1), "name") or "?"))
                rest = m.group(2).strip()
                if rest.endswith("}"):
                    body = rest[:-1].strip()
                    if "action(" in body or body in ("stop", "~"):
                        kind, target = action_kind(body[body.index("action("):] if "action(" in body else body)
                        add(None, kind, target, where)
                    stack.pop()
                continue
            cond = re.match(r"^(?:\}\s*else\s+)?if\s+(.*?)\s+then\s*(.*)$", st, re.S)
            if cond:
                if st.startswith("}") and stack:
                    stack.pop()
                pred = condition(cond.group(1))
                pred.facs = set(re.findall(r"""\$syslogfacility-text\s*(?:==|isequal)\s*["'](\w+)["']""",
                                           cond.group(1))) or None
                body = cond.group(2).strip()
                if body in ("{", ""):  # a block: its actions follow on the next lines
                    stack.append(("if", pred))
                    continue
                mc = re.match(r"^call\s+(\S+)$", body)
                if mc:
                    calls.append((cur_ruleset(), mc.group(1), cur_preds() + [pred]))
                    continue
                inner = body.lstrip("{").rstrip("}").strip()
                kind, target = action_kind(inner[inner.index("action("):] if "action(" in inner and not
                                           inner.startswith("action(") else inner)
                add(None, kind, target, where, pred)
                continue
            if re.match(r"^\}\s*else\s*\{", st):
                if stack and stack[-1][0] == "if":
                    p = stack.pop()[1]
                    neg = (lambda q: (lambda fac, lv: None if q(fac, lv) is None else not q(fac, lv)))(p)
                    stack.append(("if", neg))
                else:
                    stack.append(("other", None))
                continue
            if st.startswith("}"):
                for _ in range(max(1, st.count("}") - st.count("{"))):
                    if stack:
                        stack.pop()
                continue
            if "action(" in st or st in ("stop", "~"):
                kind, target = action_kind(st[st.index("action("):] if "action(" in st else st)
                add(None, kind, target, where)
                continue
            if st.endswith("{"):
                stack.append(("other", None))
    # How this host's messages enter each ruleset: always (default, bound to a local input) or
    # through ``call`` statements under their callers' if-tests (OR of the calls).
    # The default ruleset gets this host's messages unless every local input seen is bound elsewhere
    # (module(load="imjournal" ruleset=…), SysSock.Ruleset=…); with no input statement gathered, it does.
    # A ruleset fed only by the kernel inputs (imklog, imkmsg) sees the kern facility alone.
    entry: dict[str, list] = {}
    kern_only = condition("$syslogfacility-text == 'kern'")
    fed: dict[str, set[str]] = {}
    for rs, kind in local_inputs:
        fed.setdefault(rs, set()).add(kind)
    if not local_inputs:
        fed[DEFAULT_RULESET] = {"imuxsock"}
    for rs, kinds in fed.items():
        entry[rs] = [[]] if kinds - {"imklog", "imkmsg"} else [[kern_only]]
    for _ in range(8):
        for src, dst, preds in calls:
            for way in list(entry.get(src, [])):
                cand = way + preds
                if dst in entry and ([] in entry[dst] or len(entry[dst]) > 16 or
                                     any(len(c) == len(cand) and all(a is b for a, b in zip(c, cand)) for c in entry[dst])):
                    continue
                entry.setdefault(dst, []).append(cand)
    for r in rules:
        ways = entry.get(r["ruleset"])
        r["local"] = ways is not None
        if ways and [] not in ways:
            own = r["cond"]
            routes = [_scope(w) for w in ways]

            def via(fac, lv, routes=routes, own=own):
                vals = [q(fac, lv) for q in routes]
                v = True if True in vals else (None if None in vals else False)
                o = own(fac, lv) if own is not None else True
                return False if (v is False or o is False) else (None if (v is None or o is None) else True)
            r["cond"] = via
    return rules


def rule_picks(rule: dict, facility: str, level: int) -> bool | None:
    """Whether a rule acts on this host's messages of ``facility`` at ``level``: True/False when
    known, None when it depends on more than facility and severity (a program-name test...)."""
    if rule.get("local") is False:
        return False
    got: bool | None = True
    if rule["selector"]:
        got = selects(rule["selector"], facility, level)
    if rule.get("cond") is not None:
        c = rule["cond"](facility, level)
        got = False if (got is False or c is False) else (None if (got is None or c is None) else True)
    elif not rule["selector"] and rule["facilities"]:
        got = facility in rule["facilities"]
    return got


def forwarding(rules: list[dict], level: int = 6, loopback=None) -> dict[str, dict]:
    """Per facility: is this host's message at ``level`` forwarded? Rules are walked in rsyslog's
    order: a ``stop``/``~`` that surely takes the message ends it (a forward after it never sees
    it); a forward that surely takes it counts; one whose scope is not known (a program-name test)
    is reported as conditional, not as forwarding.
    A stop whose scope is not known (a program-name test) before the forward is kept in
    ``maybe_stopped``: some of the facility's messages may never reach the forward.
    → {facility: {"forwarded": where|None, "conditional": [where], "stopped": where|None, "maybe_stopped": [where]}}"""
    out = {}
    for fac in FACILITIES:
        got = {"forwarded": None, "conditional": [], "stopped": None, "maybe_stopped": []}
        for r in rules:
            if r["kind"] not in ("forward", "stop"):
                continue
            pick = rule_picks(r, fac, level)
            if pick is False:
                continue
            if r["kind"] == "stop":
                if pick:
                    got["stopped"] = r["where"]
                    break
                got["maybe_stopped"].append(r["where"])
                continue
            if not r["target"] or (loopback is not None and loopback.match(r["target"])):
                continue
            if pick:
                got["forwarded"] = r["where"]
                break
            got["conditional"].append(r["where"])
        out[fac] = got
    return out


def syslog_ng_paths(by_file: dict[str, list[str]]) -> list[dict]:
    """syslog-ng log paths that carry this host's messages (a ``system()``/``internal()``/journal
    source; a path fed only by network sources relays other hosts) → [{facilities ('*' = no
    filter; a filter without facility() gives none: not provable), files, forwards, where}]."""
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
    sources = {}
    for name, body in re.findall(r"source\s+(\w+)\s*\{(.*?)\};", text, re.S):
        sources[name] = bool(re.search(r"\b(system|internal|unix-dgram|unix-stream|systemd-journal)\s*\(|/proc/kmsg|/dev/log",
                                       body))
    out = []
    for body in re.findall(r"\blog\s*\{(.*?)\};", text, re.S):
        srcs = re.findall(r"source\((\w+)\)", body)
        if srcs and not any(sources.get(x, True) for x in srcs):
            continue  # only network sources: other hosts' logs relayed, not this host's
        fl = re.findall(r"filter\((\w+)\)", body)
        facs = set().union(*(filters.get(x, set()) for x in fl)) if fl else {"*"}
        ds = [dests[d] for d in re.findall(r"destination\((\w+)\)", body) if d in dests]
        out.append({"facilities": facs, "files": [d["file"] for d in ds if d["file"]],
                    "forwards": [d["net"] for d in ds if d["net"]],
                    "where": "/etc/syslog-ng: log {" + " ".join(body.split())[:150] + "}"})
    return out
