"""The Linux audit framework's ``auditctl -s`` status and ``auditctl -l`` rule listing (the rules the
kernel has loaded), with the kernel's semantics: directory watches are recursive, rules of the exit
list are matched in order and a ``never`` rule that comes first hides a path from later ones.
``auditd.conf`` is a plain ``key = value`` file (``checks.parsers.keyvalue``). Pure functions, no I/O.
"""
from __future__ import annotations

import re

from .common import to_int


def audit_status(text: str) -> dict[str, int]:
    """``auditctl -s``: 'enabled 1' lines (audit ≥ 2.4) or 'AUDIT_STATUS: enabled=1 … pid=812' (older)."""
    out = {}
    for key in ("enabled", "pid", "failure", "lost"):
        m = re.search(rf"(?:^|\s){key}[ =](-?\d+)", text, re.M)
        if m:
            out[key] = int(m.group(1))
    return out


_FIELD = re.compile(r"^([A-Za-z_0-9]+)(!=|>=|<=|&=|=|<|>|&)(.*)$")


def audit_rules(text: str) -> list[dict]:
    """``auditctl -l`` lines → rules: action, list, path (watch/path/dir, no trailing '/'), perm,
    syscalls, other fields [(name, op, value)], compare (a -C field comparison is present)."""
    rules = []
    for ln in text.splitlines():
        ln = ln.strip()
        if not ln.startswith("-"):
            continue
        toks = ln.split()
        r = {"line": ln, "action": "always", "list": "exit", "path": None, "perm": "", "syscalls": set(),
             "fields": [], "compare": False}
        i = 0
        while i < len(toks):
            t, arg = toks[i], toks[i + 1] if i + 1 < len(toks) else ""
            i += 2
            if t == "-w":
                r["path"] = arg
            elif t == "-p":
                r["perm"] = arg
            elif t == "-a":
                for part in arg.split(","):
                    r["action" if part in ("always", "never") else "list"] = part
            elif t == "-S":
                r["syscalls"].update(s for s in arg.split(",") if s)
            elif t == "-C":
                r["compare"] = True
            elif t == "-F":
                m = _FIELD.match(arg)
                if not m:
                    continue
                name, op, value = m.groups()
                if name in ("path", "dir") and op == "=":
                    r["path"] = value
                elif name == "perm":
                    r["perm"] = value
                elif name not in ("key", "filterkey"):
                    r["fields"].append((name, op, value))
            elif t != "-k":
                i -= 1  # an unknown single token
        if r["path"] and r["path"] != "/":
            r["path"] = r["path"].rstrip("/")
        rules.append(r)
    return rules


def watch_covers(target: str, watched: str) -> bool:
    """A watch on a directory covers everything below it (audit dir watches are recursive)."""
    return target == watched or watched == "/" or target.startswith(watched + "/")


def watch_coverage(rules: list[dict], target: str, need: str):
    """(covered, perms seen, rule lines) for write/attribute watching of ``target``. Rules are
    matched in order, like the kernel's exit filter: a ``never`` rule on the path (with no other
    condition) that comes first hides the file from later rules."""
    perms, lines = set(), []
    for r in rules:
        if r["list"] != "exit" or not r["path"] or not watch_covers(target, r["path"]):
            continue
        if r["action"] == "never":
            if not [f for f in r["fields"] if f[0] != "arch"]:
                return False, f"excluded by an earlier rule: {r['line']}", lines
            continue
        perms |= set(r["perm"])
        lines.append(r["line"])
    ok = set(need) <= perms
    have = "".join(p for p in "rwxa" if p in perms)
    return ok, "" if ok else (f"watched with -p {have} only, needs {need}" if have else "no watch rule"), lines


# The fields an "every command" execve rule may carry and still record every admin command.
def records_all_exec(r: dict) -> bool:
    """Whether an execve rule records every command run by a logged-in user or with root rights."""
    if r["action"] != "always" or r["list"] != "exit" or r["path"] or r["compare"]:
        return False
    if not r["syscalls"] & {"execve", "execveat", "all"}:
        return False
    for name, op, value in r["fields"]:
        if name == "arch":
            continue
        if name in ("auid", "loginuid"):
            if op == "!=" and value in ("-1", "4294967295", "unset"):
                continue
            if op in (">=", ">") and (to_int(value) if to_int(value) is not None else 10**9) <= 1000:
                continue
            return False
        if name == "euid" and op == "=" and value == "0":
            continue  # every command that runs with root rights, i.e. every admin command
        return False
    return True
