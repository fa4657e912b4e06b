"""Least privilege: the sudoers fragment that lets the audit user run exactly the read-only commands
the chosen packs run as root, and nothing else (``auditctl sudoers --packs mlps --user audit``).

Every ``sudo`` probe runs one plain command under ``sudo -n`` (``probes.sudo_argv``). Each becomes a
``Cmnd_Alias`` entry with an absolute path and its exact arguments: no wildcard, so no entry can
match a shell, an editor or a different file. The path is looked up in the standard directories of
this machine and listed in both its merged-/usr and its classic form (``/usr/sbin/sshd`` and
``/sbin/sshd``), since hosts differ. Glob and sudoers syntax characters in arguments are escaped;
arguments sudoers cannot express exactly (empty, quotes, backslashes) are refused and reported,
never widened.
"""
from __future__ import annotations

import os
import re
from typing import Iterable

from audits.model.declarations import path_problem
from audits.model.evaluation import gather_plan
from audits.model.probes import Probe, sudo_argv

STANDARD_DIRS = ("/usr/sbin", "/usr/bin", "/sbin", "/bin")  # not /usr/local: auditctl itself may live there
_CLASSIC = {"/usr/sbin": "/sbin", "/usr/bin": "/bin", "/sbin": "/usr/sbin", "/bin": "/usr/bin"}
# Escaped with a backslash: sudoers syntax characters (the backslash is dropped by the parser) and
# glob characters (kept, so sudo's fnmatch matches them literally).
_ESCAPE = re.compile(r"([,:=#*?\[\]!])")
# sudo matches the caller's arguments JOINED BY SPACES against the rule: an argument holding a space
# (escaped or not) can be passed as several arguments, each an option of the program's own
# (`find '/x -fprintf F T'` → `find /x -fprintf F T`; issue #18). Such commands, and those with quotes,
# backslashes or empty arguments, are refused and reported, never widened.
_INEXPRESSIBLE = re.compile(r"[\\\"'\s]|^$")
USER = re.compile(r"^[a-z_][a-z0-9_.-]{0,31}$")


def command_paths(program: str, root: str = "/") -> list[str]:
    """Absolute paths the program may have on a host: where this machine has it, in both the
    /usr-merged and the classic directory; every standard sbin/bin pair when it is not found here."""
    if program.startswith("/"):
        return [program]
    for d in STANDARD_DIRS:
        if os.access(os.path.join(root, d.lstrip("/"), program), os.X_OK):
            pair = [d] + ([_CLASSIC[d]] if d in _CLASSIC else [])
            return sorted(f"{x}/{program}" for x in pair)
    return sorted(f"{d}/{program}" for d in ("/usr/sbin", "/sbin", "/usr/bin", "/bin"))


def sudo_probes(checks: Iterable, hosts: Iterable = ()) -> list[Probe]:
    """Every probe of these checks (every os family) that runs under sudo, plus, for each host given,
    the probes planned from its declarations (e.g. the backup paths an inventory declares)."""
    checks = list(checks)
    probes = {p for c in checks for ps in c.probes.values() for p in ps}
    if hosts:
        for h in hosts:
            probes |= gather_plan(checks, h)
    return sorted(p for p in probes if p.sudo)


def sudoers_args(argv: list[str]) -> str:
    """The argument part of a sudoers command: matched by sudo against the user's arguments joined
    with single spaces; ValueError when that cannot be exact."""
    for a in argv:
        if _INEXPRESSIBLE.search(a):
            raise ValueError(f"argument {a!r} cannot be matched exactly by sudoers")
    joined = " ".join(argv)
    if joined.startswith("^") and joined.endswith("$"):  # sudo >= 1.9.10 would read it as a regex
        raise ValueError(f"arguments {joined!r} would be read by sudo as a regular expression")
    return " ".join(_ESCAPE.sub(r"\\\1", a) for a in argv)


def declared_args(args: list[str]) -> None:
    """ValueError unless every argument of a command built from an inventory's declarations is safe to
    list: each path passes ``declarations.path_problem`` (absolute, normal, no whitespace, option-like,
    glob or sudoers characters, not a secret such as /etc/shadow or a private key)."""
    for a in args:
        if a.startswith("/"):
            problem = path_problem(a)
            if problem:
                raise ValueError(f"declared path {a[:80]!r} {problem}")
        elif _GLOB.search(a) and not a.startswith("%"):
            raise ValueError(f"declared argument {a[:80]!r} holds glob characters")


_GLOB = re.compile(r"[*?\[\]]")


def fragment(checks: Iterable, user: str = "audit", root: str = "/", hosts: Iterable = ()) -> tuple[str, list[str]]:
    """(sudoers text, reasons for probes left out). The text passes ``visudo -cf``. With hosts (an
    inventory), the commands their declarations add (backup markers, targets) are listed too."""
    if not USER.match(user):
        raise ValueError(f"{user!r} is not a valid user name")
    entries: list[str] = []
    skipped: list[str] = []
    checks = list(checks)
    packs_own = set(sudo_probes(checks))
    for probe in sudo_probes(checks, hosts):
        try:
            argv = sudo_argv(probe)
            if probe not in packs_own:  # from an inventory's declarations: every path checked again here
                declared_args(argv[1:])
            args = sudoers_args(argv[1:])
        except ValueError as exc:
            skipped.append(f"{probe}: {exc}")
            continue
        for path in command_paths(argv[0], root):
            entries.append(f"{path} {args}" if args else f'{path} ""')
    entries = sorted(set(entries))
    alias = "AUDITCTL_" + re.sub(r"[^A-Z0-9]", "_", user.upper())
    lines = ["# auditctl sudoers fragment: the read-only commands the audit runs as root, exactly.",
             f"# Install: visudo -cf FILE && install -m 0440 FILE /etc/sudoers.d/auditctl-{user}",
             f"Defaults:{user} !requiretty"]
    for why in skipped:
        lines.append(f"# not listed (reported as 'sudo denied' when run): {why}")
    if entries:
        lines.append(f"Cmnd_Alias {alias} = \\\n    " + ", \\\n    ".join(entries))
        lines.append(f"{user} ALL=(root) NOPASSWD: {alias}")
    return "\n".join(lines) + "\n", skipped
