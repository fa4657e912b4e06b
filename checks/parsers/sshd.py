"""OpenSSH server settings as ``sshd -T`` (optionally ``-C user=,host=,addr=`` for a Match) prints
them, and the host patterns of ``AllowUsers user@host`` (ssh_config(5) PATTERNS: ``*``/``?`` globs
or CIDR). The plain one-value-per-key reading is ``checks.parsers.sshd_t``. Pure functions, no I/O.
"""
from __future__ import annotations

import ipaddress
import re
from fnmatch import fnmatchcase


def sshd_values(text: str) -> dict[str, list[str]]:
    """``sshd -T`` output → {lower-case key: every word of every line with that key}."""
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
