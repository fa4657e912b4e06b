"""The one timestamp format of the tool: UTC, whole seconds, ``Z`` (stored times, result rows)."""
from __future__ import annotations

from datetime import datetime, timezone


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
