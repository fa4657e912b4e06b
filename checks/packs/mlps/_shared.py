"""Probes and small readers shared by the MLPS pack's Python checks (not a check module itself).

Every probe here is read-only. Probes are de-duplicated per host, so checks that name the same
probe object (or an equal one) cost one command on the host. Multi-file probes use
``grep -Hs '' FILES`` so each line arrives as ``path:line`` and a missing file is simply absent.
"""
from __future__ import annotations

import re

from audits.model.probes import Facts, Probe
from checks import parsers
from checks.contract import Outcome

PASSWD = Probe("file", "/etc/passwd")
GROUP = Probe("file", "/etc/group")
SHADOW = Probe("file", "/etc/shadow", True)          # hashes are blanked on the host (audits.probes.REDACT)
LOGIN_DEFS = Probe("file", "/etc/login.defs")
SSHD_T = Probe("command", "sshd -T", True)
SS = Probe("command", "ss -H -tuln")
# PAM stacks: Debian/Ubuntu (and Kylin/UOS desktop) use common-*, the RHEL family system-auth/password-auth.
PAM = {
    "debian": Probe("command", "grep -Hs '' /etc/pam.d/common-auth /etc/pam.d/common-account "
                               "/etc/pam.d/common-password /etc/pam.d/sshd /etc/pam.d/login /etc/pam.d/su"),
    "rhel": Probe("command", "grep -Hs '' /etc/pam.d/system-auth /etc/pam.d/password-auth "
                             "/etc/pam.d/sshd /etc/pam.d/login /etc/pam.d/su"),
}
# libpwquality and faillock configuration (later pwquality.conf.d files override the main file).
SECURITY_CONF = Probe("command", "grep -Hs '' /etc/security/pwquality.conf /etc/security/pwquality.conf.d/*.conf "
                                 "/etc/security/faillock.conf /etc/default/useradd")
PROFILE = Probe("command", "grep -Hs '' /etc/profile /etc/profile.d/*.sh /etc/bashrc /etc/bash.bashrc")


def gathered(facts: Facts, probe: Probe, *, missing: str | None = "") -> tuple[str | None, Outcome | None]:
    """The probe's stdout, or an Outcome to return when it could not be judged.

    ``missing`` is what a file/command that does not exist reads as ("" = empty text); ``None``
    turns a missing target into an error.
    """
    res = facts.get(probe)
    if res.error:
        return None, Outcome.error(f"无法采集 {probe}：{res.error}", f"could not gather {probe}: {res.error}")
    if res.rc == 0:
        return res.stdout, None
    if probe.kind == "command" and probe.arg.startswith("grep ") and res.rc in (1, 2):
        return res.stdout, None  # grep: 1 = nothing matched, 2 = some file missing (-s keeps it quiet)
    if res.missing() and missing is not None:
        return missing, None
    return None, Outcome.error(f"采集 {probe} 失败（退出码 {res.rc}）", f"gathering {probe} failed (exit {res.rc})",
                               res.stderr[:300])


def files(text: str) -> dict[str, list[str]]:
    """``grep -H`` output → {path: [meaningful lines]} (comments and blank lines dropped)."""
    out: dict[str, list[str]] = {}
    for ln in text.splitlines():
        path, sep, line = ln.partition(":")
        if not sep or not path.startswith("/"):
            continue
        body = line.strip()
        out.setdefault(path, [])
        if body and not body.startswith("#"):
            out[path].append(body)
    return out


def pam_entries(lines: list[str]) -> list[dict]:
    """PAM lines → [{type, control, module, args: {name: value or True}, line}] (``-`` prefix kept out)."""
    out = []
    for ln in lines:
        m = re.match(r"^-?(auth|account|password|session)\s+(\[[^\]]*\]|\S+)\s+(\S+)\s*(.*)$", ln)
        if not m:
            if ln.startswith(("@include", "auth", "account", "password", "session", "-")):
                out.append({"type": "include" if ln.startswith("@include") else "?", "control": "", "module": ln,
                            "args": {}, "line": ln})
            continue
        args: dict[str, str | bool] = {}
        for a in re.findall(r"\[[^\]]*\]|\S+", m.group(4)):
            k, eq, v = a.partition("=")
            args[k] = v if eq else True
        module = m.group(3).rsplit("/", 1)[-1]
        out.append({"type": m.group(1), "control": m.group(2), "module": module, "args": args, "line": ln})
    return out


def conf(lines: list[str]) -> dict[str, str]:
    """``key = value`` / ``key value`` / bare ``flag`` lines (pwquality.conf, faillock.conf)."""
    out: dict[str, str] = {}
    for ln in lines:
        k, eq, v = ln.partition("=")
        if eq:
            out[k.strip()] = v.strip()
        else:
            parts = ln.split(None, 1)
            out[parts[0]] = parts[1].strip() if len(parts) > 1 else "true"
    return out


def loginable(passwd_rows: list[dict]) -> list[dict]:
    """Accounts with a login shell (not nologin/false/sync/halt/shutdown)."""
    return [r for r in passwd_rows
            if r["shell"] and not re.search(r"(nologin|false|/sync|/halt|/shutdown)$", r["shell"])]


def evidence_lines(lines, cap: int = 20) -> str:
    lines = list(lines)
    more = f"\n… {len(lines) - cap} more" if len(lines) > cap else ""
    return "\n".join(lines[:cap]) + more


__all__ = ["PASSWD", "GROUP", "SHADOW", "LOGIN_DEFS", "SSHD_T", "SS", "PAM", "SECURITY_CONF", "PROFILE", "gathered",
           "files", "pam_entries", "conf", "loginable", "evidence_lines", "parsers"]
