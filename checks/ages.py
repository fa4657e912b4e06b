"""Ages of dated evidence, in UTC, against the run's start time (``facts.meta['run_started']``).

Checks stay pure: the runner puts the run's start into the facts, fixture cases pin it with
``meta: {run_started: ...}``. A timestamp that cannot be read, or that lies in the future beyond
``CLOCK_SKEW``, is an ``error`` outcome, never a pass: a host whose clock or marker is wrong proves
nothing about its backups or patches.
"""
from __future__ import annotations

import datetime as dt
import re

from checks.contract import Outcome

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


def run_start(facts) -> dt.datetime | None:
    return parse_when(facts.meta.get("run_started"))


def stamp(when: dt.datetime) -> str:
    return when.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def age_hours(facts, when, what: str) -> tuple[float | None, Outcome | None]:
    """(age in hours at the run's start, None) or (None, an error Outcome) for an unreadable,
    future or missing time. ``what`` names the evidence in the message."""
    start = run_start(facts)
    if start is None:
        return None, Outcome.error("不知道本次审计的开始时间，无法计算时长", "the run's start time is unknown: cannot compute ages",
                                   f"run_started: {facts.meta.get('run_started')!r}")
    at = parse_when(when)
    if at is None:
        return None, Outcome.error(f"{what} 的时间无法识别", f"the time of {what} cannot be read", f"{what}: {str(when)[:120]!r}")
    if at - start > CLOCK_SKEW:
        return None, Outcome.error(f"{what} 的时间 {stamp(at)} 晚于本次审计开始时间 {stamp(start)}（时钟或记录有误）",
                                   f"{what} is dated {stamp(at)}, after the run started at {stamp(start)} (wrong clock or record)",
                                   f"{what}: {stamp(at)}; run started {stamp(start)}")
    return max(0.0, (start - at).total_seconds() / 3600), None


def human(hours: float) -> str:
    """'5.0 h' or '12.3 d'."""
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} d"


__all__ = ["parse_when", "run_start", "age_hours", "stamp", "human", "CLOCK_SKEW"]
