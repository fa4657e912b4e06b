"""Shell start-up files as a login shell reads them, for the idle timeout (TMOUT, tcsh ``autologout``).

Order (bash(1) INVOCATION): a login bash reads /etc/profile; the distributions' /etc/profile sources
/etc/profile.d/*.sh in a ``for`` loop (Debian also /etc/bash.bashrc from the top when the shell is
interactive bash; RHEL 8+ sources /etc/bashrc at the end, and RHEL 7's skeleton ~/.bashrc does the same),
so files are followed where a ``.``/``source`` line or the profile.d loop reads them, in that place.
A later assignment replaces an earlier one; ``readonly``/``declare -r``/``typeset -r`` freeze the value
(bash refuses later assignments and ``unset``); ``unset TMOUT`` removes it. An assignment inside an
``if`` on the user (``id -u``, ``$UID``, ``$USER`` …) does not reach every account; tests that hold in
a login shell (``$PS1``, ``$BASH``, ``-d /etc/profile.d``, ``-r $i``) are taken as true.
zsh reads /etc/zsh/zshenv, zprofile, zshrc (Debian) or /etc/zshenv, /etc/zprofile, /etc/zshrc (RHEL)
and honours TMOUT; tcsh reads /etc/csh.cshrc, /etc/csh.login and uses ``set autologout=MINUTES``;
dash and fish have no idle timeout. Pure functions, no I/O.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

PROFILE_D = "/etc/profile.d/"
_USER_TEST = re.compile(r"id\s+-u|\$\{?E?UID\b|\$\{?USER\b|\$\{?LOGNAME\b|whoami|\bgroups\b|\$\{?HOME\b|SSH_")
_BENIGN_TEST = re.compile(r"PS1|\$\{?BASH|BASH_VERSION|ZSH_VERSION|-[dfrex]\s+\"?\$?\{?[/\w.]*|shopt\s+-q\s+login_shell|\$-|"
                          r"\btrue\b|\"\$i\"|\$i\b")
ZSH_FILES = {"debian": ("/etc/zsh/zshenv", "/etc/zsh/zprofile", "/etc/zsh/zshrc"),
             "rhel": ("/etc/zshenv", "/etc/zprofile", "/etc/zshrc")}
CSH_FILES = ("/etc/csh.cshrc", "/etc/csh.login")


@dataclass
class Timeout:
    value: str | None = None
    readonly: bool = False
    condition: str = ""            # the user test an assignment depends on, if any
    lines: list = field(default_factory=list)    # (file, line) that touched it, in read order
    refused: list = field(default_factory=list)  # changes bash refuses after readonly


def _statements(line: str):
    """(command word list) for each statement of a shell line, leading keywords dropped."""
    for stmt in re.split(r";|&&|\|\|", line):
        words = stmt.strip().split()
        while words and words[0] in ("then", "do", "else", "{", "!", "}"):
            words = words[1:]
        if words:
            yield words


def _strip(line: str) -> str:
    return re.sub(r"(^|\s)#.*$", "", line).strip()


def read_order(files: dict[str, list[str]], start: str = "/etc/profile", family: str = "") -> list[tuple[str, str, str]]:
    """(file, line, condition) in the order a login shell reads them, starting at ``start``;
    ``condition`` is '' or the user test enclosing the line. Files nothing sources are not read, except
    RHEL's /etc/bashrc (read last: RHEL 8+ /etc/profile or the skeleton ~/.bashrc sources it)."""
    out: list[tuple[str, str, str]] = []
    seen: set[str] = set()

    def read(path: str, cond: list[str], depth: int):
        if depth > 8 or path in seen or path not in files:
            return
        seen.add(path)
        stack = list(cond)
        for raw in files[path]:
            s = _strip(raw)
            if not s:
                continue
            m = re.match(r"^(if|elif)\s+(.*?)(?:(?:;\s*|\s+)then\b\s*(.*))?$", s)
            if m and m.group(1) == "if":
                test = m.group(2)
                stack.append(test if _USER_TEST.search(test) else "")
                rest = (m.group(3) or "").strip()
                if rest:
                    closed = re.search(r"(?:^|;|\s)fi\s*;?\s*$", rest)
                    body = re.sub(r"(?:^|;|\s)fi\s*;?\s*$", "", rest).strip()
                    if body:
                        _body(path, body, stack, depth)
                    if closed:
                        stack.pop()
                continue
            if m and m.group(1) == "elif":
                if len(stack) > len(cond):
                    stack[-1] = stack[-1] or (m.group(2) if _USER_TEST.search(m.group(2)) else "")
                continue
            if re.match(r"^else\b", s):
                continue  # the other branch of a user test still depends on the user
            if re.match(r"^fi\b", s):
                if len(stack) > len(cond):
                    stack.pop()
                continue
            _body(path, s, stack, depth)

    def _body(path: str, s: str, stack: list[str], depth: int):
        cond = next((c for c in stack if c), "")
        if re.match(r"^for\s+\w+\s+in\s+.*?/etc/profile\.d/\*\.sh", s):
            for member in sorted(p for p in files if p.startswith(PROFILE_D) and p.endswith(".sh")):
                read(member, stack, depth + 1)
            return
        m = re.match(r"^(?:\.|source)\s+[\"']?([^\"'\s;]+)", s)
        if m and m.group(1).startswith("/"):
            read(m.group(1), stack, depth + 1)
            return
        out.append((path, s, cond))

    read(start, [], 0)
    if family == "rhel" and "/etc/bashrc" not in seen:
        read("/etc/bashrc", [], 0)
    return out


def tmout(lines: list[tuple[str, str, str]], name: str = "TMOUT") -> Timeout:
    """The value a login shell ends up with after reading ``lines`` (from ``read_order``)."""
    t = Timeout()
    for path, line, cond in lines:
        if name not in line:
            continue
        touched = False
        for words in _statements(line):
            cmd = words[0]
            if cmd in ("readonly", "export", "declare", "typeset", "local", "unset"):
                flags = "".join(w for w in words[1:] if w.startswith("-"))
                ro = cmd == "readonly" or (cmd in ("declare", "typeset") and "r" in flags)
                targets = [w for w in words[1:] if not w.startswith("-")]
            else:
                ro, targets = False, [w for w in words if re.match(r"^\w+=", w)]
            for w in targets:
                var, eq, val = w.partition("=")
                if var != name:
                    continue
                touched = True
                if cmd == "unset":
                    if t.readonly:
                        t.refused.append((path, line))
                    else:
                        t.value, t.condition = None, cond
                    continue
                if eq:
                    if t.readonly:
                        t.refused.append((path, line))
                        continue
                    t.value, t.condition = val.strip("'\""), cond
                if ro and not t.readonly:
                    t.readonly = True
                    t.condition = t.condition or cond
        if touched:
            t.lines.append((path, line))
    return t


def csh_autologout(files: dict[str, list[str]]) -> tuple[int | None, list[tuple[str, str]]]:
    """tcsh ``set autologout = N`` (minutes) in /etc/csh.cshrc and /etc/csh.login, as seconds."""
    value, shown = None, []
    for path in CSH_FILES:
        for raw in files.get(path, []):
            m = re.match(r"^\s*set\s+(?:-r\s+)?autologout\s*=\s*\(?\s*(\d+)", raw)
            if m:
                value, shown = int(m.group(1)) * 60, shown + [(path, raw.strip())]
    return value, shown
