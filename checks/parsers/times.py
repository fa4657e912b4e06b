"""Times written by hosts and inventories: ISO 8601 dates/times (naive = UTC), YAML dates and epoch
seconds, read as aware UTC datetimes; their display (``stamp``, ``human``) and the clock skew
tolerated between host and auditor. Ages against the run's start live in ``checks.facts``."""
from __future__ import annotations

import datetime as dt
import re

CLOCK_SKEW = dt.timedelta(minutes=10)  # host and auditor clocks may disagree this much
_EPOCH = re.compile(r"^@?(\d{9,11})(?:\.\d+)?$")


def parse_when(value) -> dt.datetime | None:
    """An aware UTC datetime from an ISO 8601 date/time (naive = UTC), a YAML date, or epoch seconds
    (``1764547200``, ``@1764547200``, ``1764547200.25``). None if it cannot be read."""
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.timezone.utc)
    text = str(value or "").strip()
    m = _EPOCH.match(text)
    try:
        if m:
            return dt.datetime.fromtimestamp(float(text.lstrip("@")), dt.timezone.utc)
        if not text or len(text) > 40:
            return None
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "T", 1))
    except (ValueError, OverflowError, OSError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)


def stamp(when: dt.datetime) -> str:
    return when.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def human(hours: float) -> str:
    """'5.0 h' or '12.3 d'."""
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} d"


# Dates people write in records (restore tests, drill notes, markers): ISO 2026-03-01, 2026/03/01, 2026.3.1,
# 2026年3月1日 (full-width digits too), each optionally followed by a time; date(1)'s default output in the
# C locale (Mon Dec  7 02:41:14 UTC 2026); and ISO times with a zone. Read from at most RECORD_CAP characters.
RECORD_CAP = 256 * 1024
_MAX_DATES = 5000
_MONTHS = {m: i for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}
_YMD = re.compile(r"(?<![0-9A-Za-z.])((?:19|20)\d\d)(?:(-|/|\.)(\d{1,2})\2(\d{1,2})|\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]?)"
                  r"(?![\d])(?:(?:[T ]|\s*日?\s*)(\d{1,2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?(Z|[+-]\d{2}:?\d{2})?(?![\d]))?")
_CDATE = re.compile(r"\b(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)\s+(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\s+(\d{1,2})\s+"
                    r"(\d{1,2}):(\d{2}):(\d{2})\s+(?:([A-Z]{2,5}|[+-]\d{4})\s+)?((?:19|20)\d\d)\b")


def _zone(text: str | None, tz: dt.tzinfo | None) -> dt.tzinfo:
    if not text:
        return tz or dt.timezone.utc
    if text in ("Z", "UTC", "GMT"):
        return dt.timezone.utc
    m = re.fullmatch(r"([+-])(\d{2}):?(\d{2})", text)
    if m:
        mins = int(m.group(2)) * 60 + int(m.group(3))
        return dt.timezone(dt.timedelta(minutes=mins if m.group(1) == "+" else -mins)) if mins <= 14 * 60 else (tz or dt.timezone.utc)
    return tz or dt.timezone.utc  # a zone abbreviation (CST is China, US or Cuba): the host's own offset


def dates_in_text(text: str, tz: dt.tzinfo | None = None) -> list[tuple[dt.datetime, str]]:
    """Every readable date or time written anywhere in ``text`` (first RECORD_CAP characters, at
    most 5000), as (aware datetime, the text matched). Dates without a zone are the host's local
    time ``tz`` (UTC if unknown); a date without a time is that day's start. Impossible dates
    (2026-02-30, month 13) are skipped."""
    import unicodedata
    body = unicodedata.normalize("NFKC", (text or "")[:RECORD_CAP])
    out: list[tuple[dt.datetime, str]] = []
    for m in _YMD.finditer(body):
        if len(out) >= _MAX_DATES:
            break
        y = int(m.group(1))
        mo, d = (m.group(3), m.group(4)) if m.group(2) else (m.group(5), m.group(6))
        hh, mm, ss = m.group(7), m.group(8), m.group(9)
        try:
            when = dt.datetime(y, int(mo), int(d), int(hh or 0), int(mm or 0), int(ss or 0), tzinfo=_zone(m.group(10), tz))
        except ValueError:
            continue
        out.append((when, m.group(0).strip()[:40]))
    for m in _CDATE.finditer(body):
        if len(out) >= _MAX_DATES:
            break
        try:
            when = dt.datetime(int(m.group(7)), _MONTHS[m.group(1).lower()], int(m.group(2)), int(m.group(3)),
                               int(m.group(4)), int(m.group(5)), tzinfo=_zone(m.group(6), tz))
        except ValueError:
            continue
        out.append((when, m.group(0)[:40]))
    for m in re.finditer(r"(?m)^\s*@?(\d{9,11})(?:\.\d+)?\s*$", body):  # a line that is only epoch seconds
        if len(out) >= _MAX_DATES:
            break
        when = parse_when(m.group(1))
        if when is not None:
            out.append((when, m.group(0).strip()[:40]))
    return out


def record_time(text: str, mtime, tz: dt.tzinfo | None = None,
                not_after: dt.datetime | None = None) -> tuple[dt.datetime | None, str]:
    """When a record written by people (a restore-test log, a drill note, a marker) was last
    updated: the newest date written anywhere in it, else its modification time ``mtime``.
    Dates after ``not_after`` (the run's start plus the clock skew: a planned next test, a typo)
    are passed over and named when an earlier one exists; when every written date is later, the
    newest is returned so that the caller reports a future time (an error, never a pass).
    → (time or None, how it was found)."""
    found = dates_in_text(text, tz)
    future = [(w, t) for w, t in found if not_after is not None and w > not_after]
    past = [(w, t) for w, t in found if not (not_after is not None and w > not_after)]
    note = f"; later dates ignored: {', '.join(repr(t) for _w, t in future[:3])}" if future else ""
    if past:
        when, written = max(past, key=lambda x: x[0])
        return when.astimezone(dt.timezone.utc), f"newest date written in the file ({written!r}){note}"
    if future:  # only later dates: a wrong clock or record, reported as such by the caller (never a pass)
        when, written = max(future, key=lambda x: x[0])
        return when.astimezone(dt.timezone.utc), f"only a date after the run's start is written ({written!r})"
    when = parse_when(mtime)
    if when is None:
        return None, f"no date written in the file and an unreadable modification time {str(mtime)[:40]!r}{note}"
    return when, f"no date written in the file: its modification time{note}"


__all__ = ["parse_when", "stamp", "human", "CLOCK_SKEW", "dates_in_text", "record_time", "RECORD_CAP"]
