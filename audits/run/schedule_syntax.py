"""A plan's ``schedule:`` syntax, one meaning for systemd and cron: ``hourly``, ``daily [HH:MM]``,
``weekly [DAY[,DAY…]] [HH:MM]``, ``monthly [DAY_OF_MONTH] [HH:MM]``, or a five-field cron expression
``MIN HOUR DOM MONTH DOW`` with numbers, ``*``, ``*/N``, ``A-B`` and comma lists (not both DOM and DOW:
cron ORs them where systemd ANDs them). Every form becomes five sets of allowed values, rendered as
cron fields and as a systemd ``OnCalendar=``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12), ("day of week", 0, 7))


@dataclass(frozen=True)
class Schedule:
    text: str
    sets: tuple  # per field: None (any) or a sorted tuple of ints

    def cron(self) -> str:
        return " ".join("*" if s is None else ",".join(map(str, s)) for s in self.sets)

    def on_calendar(self) -> str:
        minute, hour, dom, month, dow = self.sets

        def part(s, width=2):
            return "*" if s is None else ",".join(f"{v:0{width}d}" for v in s)

        days = "" if dow is None else ",".join(DAYS[d].title() for d in dow) + " "
        return f"{days}*-{part(month)}-{part(dom)} {part(hour)}:{part(minute)}:00"


def _field(text: str, index: int) -> tuple | None:
    name, lo, hi = FIELDS[index]
    if text == "*":
        return None
    values = set()
    for item in text.split(","):
        m = re.fullmatch(r"(\*|\d+|[a-z]{3})(?:-(\d+|[a-z]{3}))?(?:/(\d+))?", item.lower())
        if not m:
            raise ValueError(f"{name}: cannot read {item!r} (use N, A-B, */N or a comma list)")
        a, b, step = m.groups()

        def num(v):
            if v.isdigit():
                return int(v)
            if index == 4 and v in DAYS:
                return DAYS.index(v)
            raise ValueError(f"{name}: {v!r} is not a number" + (" or a day name" if index == 4 else ""))

        start, end = (lo, hi) if a == "*" else (num(a), num(b) if b else num(a))
        if b and a == "*":
            raise ValueError(f"{name}: cannot read {item!r}")
        if step and not (a == "*" or b):
            end = hi  # N/S means from N every S, as in cron
        if not (lo <= start <= hi and lo <= end <= hi) or start > end:
            raise ValueError(f"{name}: {item!r} is outside {lo}-{hi}")
        if step is not None and int(step) < 1:
            raise ValueError(f"{name}: step must be at least 1")
        values.update(range(start, end + 1, int(step or 1)))
    if index == 4 and 7 in values:  # cron's 7 is Sunday too
        values = (values - {7}) | {0}
    if values == set(range(lo, hi + 1)) or (index == 4 and values == set(range(7))):
        return None
    return tuple(sorted(values))


def _hhmm(text: str) -> tuple[str, str]:
    m = re.fullmatch(r"(\d{1,2}):(\d{2})", text)
    if not m or int(m[1]) > 23 or int(m[2]) > 59:
        raise ValueError(f"time {text!r} must be HH:MM (00:00-23:59)")
    return str(int(m[2])), str(int(m[1]))


def parse_schedule(text: str) -> Schedule:
    """A schedule string as five value sets; ValueError with a message saying what is wrong."""
    words = str(text).split()
    if not words:
        raise ValueError("empty schedule")
    head, rest = words[0].lower(), words[1:]
    if head in ("hourly", "daily", "weekly", "monthly"):
        minute, hour, dom, dow = "0", "0", "*", "*"
        if head == "hourly":
            hour = "*"
            if rest:
                raise ValueError("hourly takes nothing after it (use a cron expression for minutes past the hour)")
        else:
            if rest and ":" in rest[-1]:
                minute, hour = _hhmm(rest.pop())
            if head == "weekly":
                dow = rest.pop(0) if rest else "mon"
            elif head == "monthly":
                dom = rest.pop(0) if rest else "1"
            if rest:
                raise ValueError(f"unexpected {' '.join(rest)!r} after {head}")
        fields = [minute, hour, dom, "*", dow]
    elif len(words) == 5:
        fields = words
    else:
        raise ValueError("use hourly, daily [HH:MM], weekly [DAY] [HH:MM], monthly [DAY] [HH:MM] "
                         "or five cron fields MIN HOUR DOM MONTH DOW")
    sets = tuple(_field(f, i) for i, f in enumerate(fields))
    if sets[2] is not None and sets[4] is not None:
        raise ValueError("give a day of month or a day of week, not both (cron and systemd read the pair differently)")
    return Schedule(" ".join(words), sets)
