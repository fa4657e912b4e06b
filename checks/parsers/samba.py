"""Samba configuration: ``smb.conf`` or ``testparm -s`` output, with smb.conf(5) semantics
(case- and blank-insensitive parameter names, ``\\`` continuation, ``#``/``;`` comments, share
sections inheriting ``guest ok`` from ``[global]``). Pure functions, no I/O.
"""
from __future__ import annotations

import re

_TRUE = {"yes", "true", "1", "on"}


def smb_sections(text: str) -> list[tuple[str, dict[str, str], list[str]]]:
    """smb.conf / testparm -s → [(section, {normalised key: value}, raw lines)]."""
    out: list[tuple[str, dict[str, str], list[str]]] = []
    cur: tuple[str, dict[str, str], list[str]] | None = None
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if pending:
            line = pending + line
            pending = ""
        if not line or line[0] in "#;":
            continue
        if line.endswith("\\"):
            pending = line[:-1]
            continue
        m = re.match(r"^\[([^\]]+)\]$", line)
        if m:
            cur = (m.group(1).strip(), {}, [])
            out.append(cur)
            continue
        key, eq, value = line.partition("=")
        if not eq or cur is None:
            continue
        k = re.sub(r"\s+", " ", key.strip().lower())
        cur[1][k] = value.strip()
        cur[2].append(f"[{cur[0]}] {k} = {value.strip()}")
    return out


def guest_shares(sections) -> list[str]:
    """Shares that admit guests (``guest ok``/``public``/``guest only``, or inherited from [global])."""
    glob = next((s for s in sections if s[0].lower() == "global"), None)

    def guest(kv: dict[str, str], default: bool) -> tuple[bool, str]:
        for k in ("guest ok", "public", "guest only", "only guest"):
            if k in kv:
                if kv[k].lower() in _TRUE:
                    return True, f"{k} = {kv[k]}"
        if "guest ok" in kv or "public" in kv:
            return False, ""
        return default, "guest ok = yes (from [global])" if default else ""

    g_default, _ = guest(glob[1], False) if glob else (False, "")
    bad = []
    for name, kv, _lines in sections:
        if name.lower() == "global":
            continue
        is_guest, why = guest(kv, g_default)
        if is_guest:
            bad.append(f"[{name}] {why}" + (f" (path = {kv['path']})" if "path" in kv else ""))
    return bad
