"""The run-document schema (docs/results.schema.json) as msgspec types: a compiled check of a bundle
body that accepts only what the published schema accepts, in C, at about the cost of one more walk.

This module owns that translation and nothing else. ``fast_valid(body)`` is a yes-or-not-sure
answer: True means the body matches the schema (a test checks this against ``jsonschema`` on valid
and mutated bodies, tests/test_import_speed.py); False means "ask jsonschema", which stays the
authority and words the refusal. msgspec is stricter than JSON Schema in a few places (an
``integer`` written as ``1.0``, integers beyond 64 bits); those bodies take the slow path and are
judged exactly as before. Keep each type in step with the schema file: the differential test
fails when they part.
"""
from __future__ import annotations

from typing import Annotated, Any, Literal, Union

import msgspec

Timestamp = Annotated[str, msgspec.Meta(pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")]
Severity = Literal["info", "low", "medium", "high", "critical"]
Status = Literal["pass", "fail", "error", "not_applicable", "manual", "waived"]
Level = Annotated[int, msgspec.Meta(ge=1, le=4)]
Rate = Annotated[float, msgspec.Meta(ge=0, le=100)]
Reason = Literal["dns", "refused", "no_route", "timeout", "auth_failed", "host_key_unknown", "host_key_changed",
                 "sudo_denied", "protocol", "unsupported", "error", "no_collector"]


class _Closed(msgspec.Struct, forbid_unknown_fields=True):
    """An object with ``additionalProperties: false``."""


class _Open(msgspec.Struct):
    """An object that admits members the schema does not name (ignored here, kept in the body)."""


class Text(_Closed):
    zh: str
    en: str


class Exception_(_Open):
    kind: Literal["waiver", "attestation"]
    check: str
    scope: Annotated[str, msgspec.Meta(pattern=r"^(host|system|school):")]
    expires: str  # "format": "date" is an annotation only (jsonschema checks no format by default)
    expired: bool
    source: str
    reason: str = ""
    approver: str = ""
    document: str = ""
    by: str = ""
    date: Union[str, None] = None
    sha256: str = ""


class Result(_Closed):
    check_id: Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9_-]*(\.[a-z0-9][a-z0-9_-]*)+$")]
    title: Text
    status: Status
    severity: Severity
    references: Annotated[list[str], msgspec.Meta(min_length=1)]
    evidence: Annotated[str, msgspec.Meta(max_length=2000)]
    message: Text
    remediation: Text
    underlying: Union[Status, None] = None
    exceptions: list[Exception_] = []


class System(_Closed):
    id: str
    name: str
    level: Level


class Host(_Closed):
    id: str
    address: str
    school: str
    district: str
    level: Union[Level, None]
    os_family: Union[str, None]
    status: Literal["audited", "unreachable"]
    reason: Union[Reason, None]
    detail: Union[str, None]
    started_at: Timestamp
    finished_at: Timestamp
    duration_seconds: Annotated[float, msgspec.Meta(ge=0)]
    results: list[Result]
    name: Union[str, None] = None
    school_name: Union[str, None] = None
    district_name: Union[str, None] = None
    city: Union[Annotated[str, msgspec.Meta(max_length=64)], None] = None
    systems: list[System] = []


class Run(_Closed):
    id: str
    started_at: Timestamp
    finished_at: Union[Timestamp, None]
    status: Literal["running", "completed", "incomplete", "interrupted"]
    inventory: Union[str, None] = None
    plan: Union[str, None] = None
    limit: Union[str, None] = None
    packs: list[str] = []
    bureau: Union[str, None] = None
    bureau_name: Union[str, None] = None


class Tool(_Open):
    name: Literal["auditctl"]
    version: str
    rendered_by: str = ""


class Summary(_Open):
    hosts: int
    audited: int
    unreachable: int
    results: dict[str, int]
    failed_by_severity: dict[str, int]


class HighRisk(_Open):
    host: Any
    check_id: Any
    clause: Any
    rule: Any


class Awaiting(_Open):
    clause: str
    weight: float
    hosts: list[str]
    attest: Text
    checks: list[str] = []


class Score(_Open):
    rate: Union[Rate, None]
    verdict: Union[Literal["compliant", "basically_compliant", "noncompliant"], None]
    high_risk: list[HighRisk]
    items: dict[str, int]
    points: dict[str, float]
    attested: Union[Rate, None] = None
    awaiting: list[Awaiting] = []
    district: str = ""


class DistrictScore(_Open):
    rate: Union[float, None]
    schools: int
    high_risk_schools: int


class Overall(_Open):
    rate: Union[float, None]
    schools: int


class Scores(_Open):
    method: str
    schools: dict[str, Score]
    districts: dict[str, DistrictScore]
    overall: Overall


class Body(_Closed):
    schema_version: Annotated[str, msgspec.Meta(pattern=r"^1\.\d+$")]
    tool: Tool
    run: Run
    summary: Summary
    hosts: list[Host]
    scores: Union[Scores, msgspec.UnsetType] = msgspec.UNSET  # optional, but never null


def fast_valid(body) -> bool:
    """True when ``body`` (parsed JSON) certainly matches the run-document schema; False when it may
    not (the caller then asks jsonschema)."""
    try:
        msgspec.convert(body, Body)
    except (msgspec.ValidationError, TypeError, ValueError):
        return False
    return True
