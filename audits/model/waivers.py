"""Waivers and attestations: the two ways a person answers for a check result.

- A **waiver** accepts a known failure for a while: check id (or glob), scope (host, system or
  school), reason, approver, expiry. Until the expiry date a failing (or manual) result shows as
  ``waived``; its real outcome is kept underneath (``underlying``) so nothing is hidden, and after
  the expiry the result counts again (the expired waiver is still shown beside it).
- An **attestation** answers a ``manual`` check that no probe can prove (management rules,
  two-factor on a bastion, trusted computing): who attested, which document, the date, the expiry
  and optionally the document's SHA-256. A valid attestation turns ``manual`` into ``pass``; an
  expired one into ``fail``. Measured results always win: an attestation never overrides a
  check that could judge the host itself.

Entries come from the inventory (a school's, a system's or a host's ``waivers:``/
``attestations:``, scoped to where they are written) and from the audit plan (scope required).
Pure functions; the engine applies them after each check has run.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from audits.model.errors import InputError, Problem, did_you_mean

SCOPES = ("host", "system", "school")
REQUIRED = {"waiver": ("check", "reason", "approver", "expires"),
            "attestation": ("check", "by", "document", "date", "expires")}
OPTIONAL = {"waiver": ("scope", "date", "ticket"), "attestation": ("scope", "sha256", "note")}
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Entry:
    kind: str                    # waiver | attestation
    check: str                   # check id or shell glob (mlps.audit.*)
    scope: tuple[str, str]       # ("host", "web-01") | ("system", "sis") | ("school", "no1")
    expires: dt.date
    who: str                     # approver (waiver) or attester
    text: str                    # reason (waiver) or document (attestation)
    date: dt.date | None = None
    sha256: str = ""
    source: str = ""

    def covers(self, check_id: str, host) -> bool:
        if not fnmatchcase(check_id, self.check):
            return False
        kind, ident = self.scope
        if kind == "host":
            return host.id == ident
        if kind == "system":
            return ident in host.systems
        return host.school == ident

    def valid_on(self, today: dt.date) -> bool:
        return (self.date is None or self.date <= today) and today <= self.expires

    def to_json(self, today: dt.date) -> dict:
        d = {"kind": self.kind, "check": self.check, "scope": f"{self.scope[0]}:{self.scope[1]}",
             "expires": self.expires.isoformat(), "expired": today > self.expires, "source": self.source}
        if self.kind == "waiver":
            d.update(reason=self.text, approver=self.who)
        else:
            d.update(document=self.text, by=self.who, date=self.date.isoformat() if self.date else None)
            if self.sha256:
                d["sha256"] = self.sha256
        return d


@dataclass
class Exceptions:
    waivers: list[Entry] = field(default_factory=list)
    attestations: list[Entry] = field(default_factory=list)

    def extend(self, other: "Exceptions") -> "Exceptions":
        return Exceptions(self.waivers + other.waivers, self.attestations + other.attestations)

    def __bool__(self):
        return bool(self.waivers or self.attestations)


def parse_date(v) -> dt.date | None:
    if isinstance(v, dt.datetime):
        return v.date()
    if isinstance(v, dt.date):
        return v
    try:
        return dt.date.fromisoformat(str(v).strip())
    except ValueError:
        return None


def _line(node, key=None) -> int:
    if key is not None and hasattr(node, "line_of"):
        return node.line_of(key)
    return getattr(node, "line", 0) or 0


def parse_entries(items, kind: str, file: str, default_scope: dict | None = None, path: str = "",
                  problems: list[Problem] | None = None, known_checks=None) -> list[Entry]:
    """Validate a ``waivers:`` or ``attestations:`` list. Problems name FILE:LINE and field; with
    ``problems=None`` a bad entry raises ValueError instead."""
    own: list[Problem] = [] if problems is None else problems
    field_name = f"{path}.{kind}s" if path else f"{kind}s"
    out: list[Entry] = []
    if not isinstance(items, list):
        own.append(Problem(file, _line(items), field_name, "wrong type: expected a list"))
        items = []
    for i, e in enumerate(items):
        p = f"{field_name}[{i}]"
        line = items.line_of(i) if hasattr(items, "line_of") else 0
        if not isinstance(e, dict):
            own.append(Problem(file, line, p, "must be a mapping"))
            continue
        bad = False
        for k in e:
            if k not in REQUIRED[kind] + OPTIONAL[kind]:
                own.append(Problem(file, _line(e, k), f"{p}.{k}", "unknown field"
                                   + did_you_mean(str(k), REQUIRED[kind] + OPTIONAL[kind])))
                bad = True
        for k in REQUIRED[kind]:
            if k not in e or e[k] in (None, ""):
                own.append(Problem(file, _line(e), f"{p}.{k}", f"a {kind} needs '{k}'"))
                bad = True
        scope = None
        if "scope" in e:
            m = re.fullmatch(r"\s*(host|system|school)\s*:\s*(\S+)\s*", str(e["scope"]))
            if not m:
                own.append(Problem(file, _line(e, "scope"), f"{p}.scope",
                                   f"{str(e['scope'])[:40]!r} must be host:ID, system:ID or school:ID"))
                bad = True
            else:
                scope = (m.group(1), m.group(2))
        elif default_scope:
            scope = next(iter(default_scope.items()))
        else:
            own.append(Problem(file, _line(e), f"{p}.scope", "needs a scope here: host:ID, system:ID or school:ID"))
            bad = True
        dates = {}
        for k in ("date", "expires"):
            if k in e and e[k] not in (None, ""):
                dates[k] = parse_date(e[k])
                if dates[k] is None:
                    own.append(Problem(file, _line(e, k), f"{p}.{k}", f"{str(e[k])[:40]!r} is not a date (YYYY-MM-DD)"))
                    bad = True
        if dates.get("date") and dates.get("expires") and dates["expires"] < dates["date"]:
            own.append(Problem(file, _line(e, "expires"), f"{p}.expires", "expires before its own date"))
            bad = True
        sha = str(e.get("sha256", "")).lower()
        if sha and not _SHA256.match(sha):
            own.append(Problem(file, _line(e, "sha256"), f"{p}.sha256", "must be 64 hexadecimal digits"))
            bad = True
        check = str(e.get("check", ""))
        if known_checks is not None and check and not any(fnmatchcase(c, check) for c in known_checks):
            own.append(Problem(file, _line(e, "check"), f"{p}.check", f"no check matches '{check}'"
                               + did_you_mean(check, known_checks)))
            bad = True
        if bad:
            continue
        who = str(e["approver"] if kind == "waiver" else e["by"])
        text = str(e["reason"] if kind == "waiver" else e["document"])
        out.append(Entry(kind, check, scope, dates["expires"], who, text, dates.get("date"), sha,
                         f"{file}:{_line(e)}"))
    if problems is None and own:
        raise ValueError("; ".join(str(x) for x in own))
    return out


def validate_exception_checks(exceptions: Exceptions, check_ids) -> None:
    """Every waiver/attestation must name a check that exists (a typo would silently waive nothing)."""
    problems = []
    for e in exceptions.waivers + exceptions.attestations:
        if not any(fnmatchcase(c, e.check) for c in check_ids):
            file, _, line = e.source.rpartition(":")
            problems.append(Problem(file, int(line or 0), f"{e.kind}s.check",
                                    f"no check matches '{e.check}'" + did_you_mean(e.check, check_ids)))
    if problems:
        raise InputError(problems)


def _best(entries: list[Entry], check_id: str, host, today: dt.date) -> Entry | None:
    """The entry that decides: a valid one if any (latest expiry), else the most recently expired."""
    hits = [e for e in entries if e.covers(check_id, host)]
    if not hits:
        return None
    valid = [e for e in hits if e.valid_on(today)]
    return max(valid or hits, key=lambda e: e.expires)


def apply_exceptions(row: dict, host, exceptions: Exceptions | None, today: dt.date) -> dict:
    """A result row after attestations and waivers (a new dict; ``underlying`` keeps the real outcome)."""
    if not exceptions:
        return row
    row = dict(row)
    status = row["status"]
    notes = []
    if status == "manual":
        att = _best(exceptions.attestations, row["check_id"], host, today)
        if att is not None:
            notes.append(att.to_json(today))
            row["underlying"] = "manual"
            if att.valid_on(today):
                status = "pass"
                row["message"] = {"zh": f"已由 {att.who} 证明（{att.text}，有效期至 {att.expires}）",
                                  "en": f"attested by {att.who} ({att.text}, valid until {att.expires})"}
            else:
                status = "fail"
                why = (f"attestation expired on {att.expires}" if today > att.expires
                       else f"attestation dated {att.date} is in the future")
                row["message"] = {"zh": f"证明已失效：{att.who}（{att.text}）有效期至 {att.expires}",
                                  "en": f"{why}: {att.who} ({att.text})"}
                row["evidence"] = f"attestation by {att.who}: {att.text}, dated {att.date}, expires {att.expires}"
    if status in ("fail", "manual"):
        w = _best(exceptions.waivers, row["check_id"], host, today)
        if w is not None:
            notes.append(w.to_json(today))
            if w.valid_on(today):
                row["underlying"] = status
                status = "waived"
    row["status"] = status
    if notes:
        row["exceptions"] = notes
    return row
