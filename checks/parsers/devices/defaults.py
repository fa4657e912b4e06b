"""The versioned vendor-default table (``defaults.yaml`` beside this module) as ``Setting`` values: what a
device does when its configuration has no line for a setting, per platform and release, with the
confidence of the source. A default the table does not know is an ``unknown`` Setting (never a pass)."""
from __future__ import annotations

from fnmatch import fnmatchcase
from functools import lru_cache
from pathlib import Path

from audits.model import yamlsafe

from .model import DEFAULT, UNKNOWN, Setting

TABLE = Path(__file__).with_name("defaults.yaml")


@lru_cache(maxsize=1)
def table() -> dict:
    return yamlsafe.load_file(TABLE)


def entry(platform: str, release: str) -> dict:
    """The table entry for the platform's release (the first whose pattern matches, ``*`` last)."""
    for e in table().get(platform, []):
        if fnmatchcase((release or "").lower(), str(e["release"]).lower()):
            return e
    return {"label": platform, "values": {}}


def default(platform: str, release: str, name: str) -> Setting:
    e = entry(platform, release)
    v = e["values"].get(name)
    if v is None or v.get("value") is None:
        note = v.get("note") if v else "not in the vendor-default table"
        return Setting(None, UNKNOWN, None, f"not configured; vendor default for {e['label']} not known ({note})")
    value = v["value"]
    if isinstance(value, list):
        value = frozenset(value)
    return Setting(value, DEFAULT, None, f"vendor default for {e['label']} ({v.get('confidence', '')}): {v['note']}")
