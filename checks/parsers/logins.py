"""Last-login listings: ``lastlog`` (shadow-utils), ``lastlog2`` (util-linux) and ``last -F -w``
(wtmp, which only reaches back to "wtmp begins"), behind the probe's ``@now EPOCH ZONE`` and
``@TOOL`` header lines; times are the host's (``date +%z``). Pure functions, no I/O.
"""
from __future__ import annotations

import datetime as dt
import re

from .common import to_int

_MONTHS = {m: i for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), 1)}


_DATE_TZ = re.compile(r"\w{3} (\w{3}) +(\d{1,2}) (\d\d):(\d\d):(\d\d) ([+-]\d{4}) (\d{4})\s*$")


_DATE = re.compile(r"\w{3} (\w{3}) +(\d{1,2}) (\d\d):(\d\d):(\d\d) (\d{4})")


def _epoch(mon, day, hh, mm, ss, year, tz: str) -> int | None:
    if mon not in _MONTHS:
        return None
    sign = -1 if tz.startswith("-") else 1
    off = dt.timezone(sign * dt.timedelta(hours=int(tz[1:3]), minutes=int(tz[3:5])))
    try:
        return int(dt.datetime(int(year), _MONTHS[mon], int(day), int(hh), int(mm), int(ss), tzinfo=off).timestamp())
    except ValueError:
        return None


def last_logins(text: str):
    """The LASTLOG probe → (now, tz, tool, {user: epoch or None for never}, wtmp_begins)."""
    now, tz, tool, seen, begins = None, "+0000", None, {}, None
    for ln in text.splitlines():
        if ln.startswith("@now "):
            parts = ln.split()
            now = to_int(parts[1], 0) or None
            tz = parts[2] if len(parts) > 2 and re.fullmatch(r"[+-]\d{4}", parts[2]) else tz
            continue
        if ln.startswith("@") and tool is None:
            tool = ln[1:].strip()
            continue
        if not ln.strip() or tool is None or ln.startswith("Username"):
            continue
        if tool in ("lastlog", "lastlog2"):
            name = ln.split()[0]
            if "Never logged in" in ln:
                seen.setdefault(name, None)
                continue
            m = _DATE_TZ.search(ln)
            if m:
                seen[name] = _epoch(*m.groups()[:5], m.group(7), m.group(6))
        elif tool == "last":
            m = _DATE.search(ln)
            if not m:
                continue
            when = _epoch(*m.groups(), tz)
            if re.match(r"^(wtmp|wtmpdb|btmp) begins", ln):
                begins = when
                continue
            name = ln.split()[0]
            if name in ("reboot", "shutdown", "runlevel") or when is None:
                continue
            seen[name] = max(when, seen.get(name) or 0)
    return now, tz, tool, seen, begins


def host_day(epoch: int, tz: str = "+0000") -> str:
    """The host's calendar day of an epoch time (tz as printed by date +%z)."""
    sign = -1 if tz.startswith("-") else 1
    off = dt.timezone(sign * dt.timedelta(hours=int(tz[1:3]), minutes=int(tz[3:5])))
    return str(dt.datetime.fromtimestamp(epoch, off).date())
