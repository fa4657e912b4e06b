"""Pure parsers of backup evidence: the tools' own listings (restic, borg, rsync logs), marker
files, ``find -printf`` file listings, and the host's UTC offset. No I/O.

Times without a zone (borg 1.x listings, rsync logs, a marker written with ``date``) are the
host's local time; the host's ``date +%z`` offset turns them into UTC.
"""
from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass

from .times import parse_when, record_time

LISTING_CAP = 256 * 1024
_RSYNC_DONE = re.compile(r"^(\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}) \[\d+\] sent [\d,.]+ bytes\s+received [\d,.]+ bytes", re.M)
_OFFSET = re.compile(r"^([+-])(\d{2}):?(\d{2})$")


class ListingError(ValueError):
    """The evidence exists but cannot be read as what it claims to be."""


def utc_offset(text: str) -> dt.timezone | None:
    """``date +%z`` output (``+0800``) as a timezone; None if unreadable."""
    m = _OFFSET.match((text or "").strip())
    if not m:
        return None
    minutes = int(m.group(2)) * 60 + int(m.group(3))
    if minutes > 14 * 60:
        return None
    return dt.timezone(dt.timedelta(minutes=minutes if m.group(1) == "+" else -minutes))


def host_time(value, tz: dt.timezone | None) -> dt.datetime | None:
    """A time from the host: aware ones as they are, naive ones in the host's zone (UTC if unknown)."""
    if isinstance(value, str):
        text = value.strip()
        if re.match(r"^\d{4}/\d{2}/\d{2} ", text):
            text = text.replace("/", "-", 2)
        when = parse_when(text)
        if when is None:
            return None
        naive = not re.search(r"(Z|[+-]\d{2}:?\d{2})$", text) and not re.match(r"^@?\d{9,11}(\.\d+)?$", text)
        return when.replace(tzinfo=tz) if naive and tz else when
    return parse_when(value)


def newest_in_listing(fmt: str, text: str, tz: dt.timezone | None) -> tuple[dt.datetime | None, int]:
    """(time of the newest successful backup, number of backups) from a tool's listing.

    restic: ``restic snapshots --json`` (a list of snapshots with ``time``); borg: ``borg list --json``
    (``{"archives": [{"start"|"time": ...}]}``); rsync: a ``--log-file`` log, where a run that
    finished prints ``sent N bytes  received M bytes``. Raises ListingError when unreadable."""
    if fmt == "rsync":
        stamps = _RSYNC_DONE.findall(text)
        times = [host_time(s, tz) for s in stamps]
        if any(t is None for t in times):
            raise ListingError("an rsync log time cannot be read")
        return (max(times) if times else None), len(times)
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise ListingError(f"not JSON: {exc}") from None
    if fmt == "restic":
        items = doc if isinstance(doc, list) else None
        key = ("time",)
    elif fmt == "borg":
        items = doc.get("archives") if isinstance(doc, dict) else None
        key = ("end", "start", "time")
    else:
        raise ListingError(f"unknown listing format {fmt!r}")
    if not isinstance(items, list):
        raise ListingError(f"a {fmt} listing must be {'a list of snapshots' if fmt == 'restic' else 'an object with archives'}")
    times = []
    for it in items:
        raw = next((it.get(k) for k in key if isinstance(it, dict) and it.get(k)), None)
        when = host_time(str(raw), tz) if raw is not None else None
        if when is None:
            raise ListingError(f"a {fmt} entry has no readable time: {str(it)[:120]}")
        times.append(when)
    return (max(times) if times else None), len(times)


def marker_time(content: str, mtime: str, tz: dt.timezone | None,
                not_after: dt.datetime | None = None) -> tuple[dt.datetime | None, str]:
    """A marker or record file (a backup job's last-success marker, a restore-test log written by
    people): the newest date or time written anywhere in it (``checks.parsers.times.record_time``:
    ISO, 2026/03/01, 2026.3.1, 2026年3月1日, date(1) output, epoch seconds on a line of their own),
    else its modification time. (None, why) when neither can be read."""
    return record_time(content, mtime, tz, not_after)


@dataclass(frozen=True)
class Entry:
    mtime: dt.datetime | None
    mode: int
    owner: str
    kind: str  # f file, d directory, l link, ...
    path: str


def find_entries(text: str) -> list[Entry]:
    """``find PATH -printf '%T@/%m/%u/%y/' -print0`` output (NUL separated; NULs reach us as U+FFFD); the
    older space-separated form too."""
    out = []
    for rec in re.split("[\x00\ufffd]", text or ""):
        parts = rec.split("/", 4) if re.match(r"[0-9.]+/", rec) else rec.split(" ", 4)
        if len(parts) < 5 or not re.fullmatch(r"[0-7]{1,4}", parts[1]):
            continue
        out.append(Entry(parse_when(parts[0]), int(parts[1], 8), parts[2], parts[3], parts[4]))
    return out


__all__ = ["utc_offset", "host_time", "newest_in_listing", "marker_time", "find_entries", "Entry", "ListingError"]
