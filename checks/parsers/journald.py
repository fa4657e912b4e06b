"""systemd-journald configuration: ``/etc/systemd/journald.conf`` and its drop-ins
(``journald.conf.d/*.conf`` in /etc, /run and /usr/lib), as systemd reads them: the main file, then
drop-ins by file name, a name in /etc hiding the same name elsewhere, the last setting winning.
Pure functions, no I/O.
"""
from __future__ import annotations

import re

from .common import grep_files


# journald / syslog daemons
def journald_settings(text: str) -> dict[str, tuple[str, str]]:
    """Every ``[Journal]`` setting → (value, the line it came from): main file, then drop-ins ordered
    by file name (a name in /etc hides the same name in /run and /usr/lib), the last one winning."""
    by_file = grep_files(text)
    main = [p for p in by_file if p == "/etc/systemd/journald.conf"]
    drop = sorted((p for p in by_file if p not in main), key=lambda p: (p.rsplit("/", 1)[-1], not p.startswith("/etc/")))
    out: dict[str, tuple[str, str]] = {}
    seen_names = set()
    for p in main + drop:
        name = p.rsplit("/", 1)[-1]
        if p in drop and name in seen_names:
            continue  # /etc/… overrides the same name in /run and /usr/lib
        seen_names.add(name)
        section = "[Journal]"
        for ln in by_file[p]:
            if ln.startswith("["):
                section = ln.strip()
                continue
            k, eq, v = ln.partition("=")
            if eq and section == "[Journal]":
                out[k.strip()] = (v.strip(), f"{p}:{ln}"[:300])
    return out


def journald_storage(text: str) -> tuple[str, str]:
    """(Storage= value, the line it came from): main file, then drop-ins ordered by file name."""
    value, where = journald_settings(text).get("Storage", ("auto", "Storage=auto (default)"))
    return value.lower(), where


# systemd.time(7) time spans; a bare number is seconds
_SPAN = {"us": 1e-6, "usec": 1e-6, "ms": 1e-3, "msec": 1e-3, "s": 1, "sec": 1, "second": 1, "seconds": 1,
         "m": 60, "min": 60, "minute": 60, "minutes": 60, "h": 3600, "hr": 3600, "hour": 3600, "hours": 3600,
         "d": 86400, "day": 86400, "days": 86400, "w": 604800, "week": 604800, "weeks": 604800,
         "M": 2629800, "month": 2629800, "months": 2629800, "y": 31557600, "year": 31557600, "years": 31557600}


def timespan_seconds(value: str) -> float | None:
    """``6month``, ``1y 2w``, ``183d``, ``3600`` → seconds (systemd.time(7)); None if unreadable."""
    v = (value or "").strip()
    if not v or len(v) > 80:
        return None
    if re.fullmatch(r"\d+(\.\d+)?", v):
        return float(v)
    total, pos = 0.0, 0
    for m in re.finditer(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]+)", v):
        if m.start() != pos or m.group(2) not in _SPAN:
            return None
        total += float(m.group(1)) * _SPAN[m.group(2)]
        pos = m.end()
    return total if pos == len(v) and pos else None
