"""TCP wrappers: ``/etc/hosts.allow`` and ``/etc/hosts.deny`` (hosts_access(5)) as read by ``grep -H``,
for the sshd daemon, and whether a distribution's sshd is built with libwrap at all.
Pure functions, no I/O.
"""
from __future__ import annotations

import re

from .common import grep_files


def sshd_access(text: str) -> tuple[list[str] | None, list[str]]:
    """(sshd allow lines with an address list, deny-all lines) from hosts.allow / hosts.deny."""
    allow, deny, allow_all = [], [], False
    for path, lines in grep_files(text).items():
        for ln in lines:
            parts = [p.strip() for p in ln.split(":")]
            if len(parts) < 2:
                continue
            daemons = [d for d in re.split(r"[,\s]+", parts[0]) if d]
            clients = [c for c in re.split(r"[,\s]+", parts[1]) if c]
            if not ({"sshd", "ALL"} & set(daemons)) or not clients:
                continue
            action = parts[2].lower() if len(parts) > 2 else ""
            denies = path.endswith("hosts.deny") or action == "deny"
            if denies and clients[0] == "ALL":
                deny.append(f"{path}: {ln}")
            elif not denies:
                if clients[0] == "ALL" and "EXCEPT" not in clients:
                    allow_all = True
                else:
                    allow.append(f"{path}: {ln}")
    return (None if allow_all else allow), deny


def libwrap_honoured(os_release: dict[str, str], family: str) -> bool:
    """sshd honours hosts.allow/deny only when built with libwrap: Debian <= 12 and Ubuntu <= 24.04
    builds are; RHEL 8+ dropped tcp_wrappers. Newer releases are not trusted."""
    kv = os_release
    ident, ver = kv.get("ID", "").lower(), kv.get("VERSION_ID", "")
    major = int(ver.split(".")[0]) if ver.split(".")[0].isdigit() else None
    if ident == "debian":
        return major is not None and major <= 12
    if ident == "ubuntu":
        try:
            return float(ver) <= 24.04
        except ValueError:
            return False
    if family == "rhel" or any(i in (kv.get("ID_LIKE", "") + " " + ident) for i in ("rhel", "centos", "fedora")):
        return major is not None and major < 8
    return family == "debian"
