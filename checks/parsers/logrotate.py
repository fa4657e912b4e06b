"""logrotate configuration: ``/etc/logrotate.conf`` with ``/etc/logrotate.d/*`` read where it is
included, as logrotate reads it: global directives (period, ``rotate``, ``maxage``, ``maxsize``,
``minsize``, ``dateext``) apply to the blocks that follow them, also across included files; a block's
own directives override them; ``size`` and the time periods exclude each other, the last one written
winning (logrotate(8)); ``maxsize`` rotates early when a file grows past it, ``minsize`` late;
several file patterns may share one block; script sections (``postrotate`` … ``endscript``) are
skipped. Pure functions, no I/O.
"""
from __future__ import annotations

from fnmatch import fnmatchcase

from .common import to_int

# logrotate
PERIODS = {"hourly": 1 / 24, "daily": 1, "weekly": 7, "monthly": 31, "yearly": 365}


_SCRIPTS = ("postrotate", "prerotate", "firstaction", "lastaction", "preremove")


def logrotate_blocks(by_file: dict[str, list[str]]) -> list[dict]:
    """Simulate logrotate's reading order: /etc/logrotate.conf, with /etc/logrotate.d/* read where it
    is included; global directives apply to the blocks that follow them (also across included files)."""
    glob = {"period": None, "rotate": 0, "maxage": None, "maxsize": None, "minsize": None, "dateext": False}  # logrotate's defaults
    blocks: list[dict] = []
    dropins = [p for p in by_file if p.startswith("/etc/logrotate.d/")]

    def run(path: str, lines: list[str]):
        pending: list[str] = []
        cur = None
        script = False
        for ln in lines:
            word = ln.split()[0] if ln.split() else ""
            if script:
                script = word != "endscript"
                continue
            if cur is None:
                if word == "include":
                    arg = ln.split(None, 1)[1].strip().strip('"') if len(ln.split()) > 1 else ""
                    if arg.rstrip("/") == "/etc/logrotate.d":
                        for p in dropins:
                            run(p, by_file[p])
                    elif arg in by_file:
                        run(arg, by_file[arg])
                    continue
                if "{" in ln:
                    head, _, rest = ln.partition("{")
                    pats = pending + head.split()
                    pending = []
                    cur = {**glob, "patterns": [p.strip('"\'') for p in pats], "where": path, "lines": []}
                    if "}" in rest:  # one-line block
                        for d in rest.split("}")[0].split(";"):
                            _apply_directive(cur, d.strip())
                        blocks.append(cur)
                        cur = None
                    continue
                if ln.startswith(("/", '"', "'", "~")):
                    pending.extend(ln.split())
                    continue
                _apply_directive(glob, ln)
                continue
            if ln.startswith("}"):
                blocks.append(cur)
                cur = None
                continue
            if word in _SCRIPTS:
                script = True
                continue
            cur["lines"].append(ln)
            _apply_directive(cur, ln)

    main = by_file.get("/etc/logrotate.conf")
    if main is not None:
        run("/etc/logrotate.conf", main)
    else:  # no main file gathered: judge the drop-ins with logrotate's own defaults
        for p in dropins:
            run(p, by_file[p])
    return blocks


def _apply_directive(target: dict, ln: str):
    parts = ln.split()
    if not parts:
        return
    word = parts[0]
    if word in PERIODS:
        target["period"] = word
    elif word == "size" or word.startswith("size="):
        target["period"] = "size"
    elif word == "rotate" and len(parts) > 1:
        target["rotate"] = to_int(parts[1], target["rotate"])
    elif word == "maxage" and len(parts) > 1:
        target["maxage"] = to_int(parts[1], target.get("maxage"))
    elif word in ("maxsize", "minsize") and len(parts) > 1:
        target[word] = parts[1][:20]
    elif word == "dateext":
        target["dateext"] = True
    elif word == "nodateext":
        target["dateext"] = False


def path_match(pattern: str, path: str) -> bool:
    """A logrotate glob matches a path (``*`` does not cross ``/``)."""
    return pattern.count("/") == path.count("/") and fnmatchcase(path, pattern)


def retention_days(block: dict) -> tuple[float | None, str]:
    """(days a rotated log is kept, how) for one block, as logrotate would keep it: ``rotate`` ×
    period (hourly 1/24, daily 1, weekly 7, monthly 31, yearly 365 days), capped by a shorter
    ``maxage``; ``rotate -1`` never removes. None (not provable) when rotation is by ``size`` only,
    has no period, or ``maxsize`` may rotate sooner than the period (busy logs then go faster).
    ``minsize`` only delays rotations (never shorter); ``dateext`` changes names, not how many are kept."""
    period, rotate, maxage = block["period"], block["rotate"], block["maxage"]
    extra = ", dateext" if block.get("dateext") else ""
    if period in (None, "size"):
        return None, ("rotated by size only: no retention time" if period else "no rotation period") + extra
    if rotate is not None and rotate < 0:
        days, how = float("inf"), f"{period}, rotate {rotate} (never removed)"
    else:
        days = (rotate or 0) * PERIODS[period]
        how = f"{period} × rotate {rotate or 0} = {days:g} days"
    if block.get("minsize"):
        how += f", minsize {block['minsize']} (rotates no sooner)"
    if maxage is not None and maxage < days:
        days = maxage
        how += f", but maxage {maxage} → {maxage} days"
    if block.get("maxsize"):
        return None, how + f", but maxsize {block['maxsize']} rotates sooner when the file grows: not provable" + extra
    return days, how + extra
