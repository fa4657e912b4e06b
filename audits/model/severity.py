"""Severities of a finding, most severe first, and the worst of several."""
from __future__ import annotations

from typing import Iterable

SEVERITY_ORDER = {"critical": 4, "high": 3, "medium": 2, "low": 1, "info": 0}


def worst(severities: Iterable[str]) -> str | None:
    sev = list(severities)
    return max(sev, key=SEVERITY_ORDER.get) if sev else None
