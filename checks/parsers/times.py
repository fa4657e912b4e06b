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


__all__ = ["parse_when", "stamp", "human", "CLOCK_SKEW"]
