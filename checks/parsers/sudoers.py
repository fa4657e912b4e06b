"""sudoers(5): ``/etc/sudoers`` and ``/etc/sudoers.d`` as read by ``grep -rH ^``, with sudo's
semantics: ``@includedir``/``#includedir`` skips file names containing ``.`` or ending in ``~``,
``\\`` continues a line, ``#`` starts a comment unless it is a ``#uid``; ``Cmnd_Alias`` and the
other aliases, ``Defaults`` (also ``Defaults:user``) and user specifications with several host
segments (``: host2 = ...``), Runas lists, options and tags (the last ``NOPASSWD``/``PASSWD`` tag
carries over to the commands after it). Pure functions, no I/O.
"""
from __future__ import annotations

import re

_TAG = re.compile(r"^\s*(NOPASSWD|PASSWD|NOEXEC|EXEC|SETENV|NOSETENV|LOG_INPUT|NOLOG_INPUT|LOG_OUTPUT|NOLOG_OUTPUT|"
                  r"MAIL|NOMAIL|FOLLOW|NOFOLLOW|INTERCEPT|NOINTERCEPT)\s*:")


_OPTION = re.compile(r"^\s*(ROLE|TYPE|CWD|CHROOT|TIMEOUT|NOTBEFORE|NOTAFTER|APPARMOR_PROFILE|PRIVS|LIMITPRIVS)\s*=\s*\S+")


_ALIAS = re.compile(r"^(User_Alias|Runas_Alias|Host_Alias|Cmnd_Alias|Cmd_Alias)\s+(.*)$")


_HOST_SEGMENT = re.compile(r"\s:\s*(?=[^\s=:()]+\s*=)")


def split_top_level(text: str) -> list[str]:
    """Split on commas outside parentheses (a Runas list '(alice, bob : staff)' stays whole)."""
    out, depth, cur = [], 0, ""
    for ch in text:
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    out.append(cur)
    return [s.strip() for s in out if s.strip()]


def sudoers_lines(text: str) -> list[tuple[str, str]]:
    """(file, logical line) for the files sudo reads (``grep -rH ^ /etc/sudoers /etc/sudoers.d``):
    continuations joined, comments and include directives dropped."""
    out, pending = [], {}
    for raw in text.splitlines():
        path, sep, line = raw.partition(":")
        if not sep or not path.startswith("/"):
            continue
        base = path.rsplit("/", 1)[-1]
        if path.startswith("/etc/sudoers.d/") and ("." in base or base.endswith("~")):
            continue  # sudo's @includedir skips these names
        line = pending.pop(path, "") + line
        if line.endswith("\\"):
            pending[path] = line[:-1] + " "
            continue
        s = line.strip()
        if s.startswith(("#include", "@include")):
            continue
        s = re.sub(r"#(?!\d).*$", "", s).strip()  # '#1000' is a uid, not a comment
        if s:
            out.append((path, s))
    return out


def sudo_grants(text: str) -> tuple[list[tuple[str, list[str], str]], list[tuple[str, list[str], str]]]:
    """Rules granting every command without a password: ([(file, users, line)] from user specs,
    [(file, users or ['ALL'], line)] from 'Defaults … !authenticate')."""
    lines = sudoers_lines(text)
    all_aliases = set()
    for _, s in lines:
        m = _ALIAS.match(s)
        if m and m.group(1) in ("Cmnd_Alias", "Cmd_Alias"):
            for part in re.split(r"\s:\s*", m.group(2)):
                name, eq, members = part.partition("=")
                if eq and "ALL" in [x.strip() for x in split_top_level(members)]:
                    all_aliases.add(name.strip())
    grants, defaults = [], []
    for path, s in lines:
        if s.startswith("Defaults"):
            m = re.match(r"^Defaults([:@>!])?(\S*)\s+(.*)$", s)
            if m and re.search(r"(^|,)\s*!\s*authenticate\b", m.group(3)) and m.group(1) != "!":
                users = split_top_level(m.group(2)) if m.group(1) == ":" else ["ALL"]
                defaults.append((path, users, s))
            continue
        if _ALIAS.match(s) or "=" not in s:
            continue
        lhs, _, rhs = s.partition("=")
        who = re.sub(r"\s*,\s*", ",", lhs.strip()).split()
        if len(who) < 2:
            continue
        users = who[0].split(",")
        for i, seg in enumerate(_HOST_SEGMENT.split(rhs)):
            if i:
                seg = re.sub(r"^[^\s=:()]+\s*=\s*", "", seg)  # ': otherhost = …'
            nopasswd = False
            for item in split_top_level(seg):
                item = re.sub(r"^\([^)]*\)\s*", "", item)
                while True:
                    m = _OPTION.match(item) or _TAG.match(item)
                    if not m:
                        break
                    if m.re is _TAG:
                        if m.group(1) in ("NOPASSWD", "PASSWD"):
                            nopasswd = m.group(1) == "NOPASSWD"
                    item = item[m.end():]
                cmd = item.strip()
                if nopasswd and (cmd == "ALL" or cmd in all_aliases):
                    grants.append((path, users, s))
                    break
    return grants, defaults


def rule_lines(text: str) -> list[tuple[str, str]]:
    """(file, line) of the user specifications (not Defaults, not alias definitions)."""
    return [(p, s) for p, s in sudoers_lines(text) if not s.startswith("Defaults") and not _ALIAS.match(s) and "=" in s]
