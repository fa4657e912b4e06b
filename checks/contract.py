"""The check contract: a Check declares its probes and evaluates facts purely into an Outcome.

Both check forms compile to ``Check``: YAML entries (``checks.yaml_checks``) and Python
functions decorated with ``@check`` (found in a pack's modules or through the ``auditctl.checks``
entry-point group). ``Check.run`` is the only way the engine calls a check: it decides
applicability, catches a check's own exceptions as ``error`` and bounds the evidence.
"""
from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field
from functools import cached_property
from enum import Enum
from typing import Any, Callable, Mapping

from audits.model.probes import OS_PROBE, Facts, Probe

from .controls import references

SEVERITIES = ("info", "low", "medium", "high", "critical")
EVIDENCE_CAP = 2000
_ID = re.compile(r"^[a-z0-9][a-z0-9_-]*(\.[a-z0-9][a-z0-9_-]*)+$")
_CTRL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\x1b]")
OS_GROUPS = {"linux": {"linux", "debian", "rhel"}, "debian": {"debian"}, "rhel": {"rhel"}, "windows": {"windows"},
             # network devices: a device's os family is its platform (audits.run.platforms sets it)
             "device": {"huawei-vrp", "h3c-comware", "ruijie-rgos", "cisco-ios"}}


class Status(str, Enum):
    PASS = "pass"
    FAIL = "fail"
    ERROR = "error"
    NOT_APPLICABLE = "not_applicable"
    MANUAL = "manual"
    WAIVED = "waived"

    def __str__(self):
        return self.value


@dataclass(frozen=True)
class Text:
    """A bilingual string: Chinese first, English second."""

    zh: str
    en: str

    @classmethod
    def of(cls, value) -> "Text":
        if isinstance(value, Text):
            return value
        if isinstance(value, Mapping):
            zh, en = value.get("zh"), value.get("en")
            return cls(str(zh if zh is not None else en or ""), str(en if en is not None else zh or ""))
        return cls(str(value or ""), str(value or ""))

    def get(self, lang: str) -> str:
        return self.en if lang == "en" else self.zh

    def to_json(self) -> dict:
        return {"zh": self.zh, "en": self.en}


@dataclass(frozen=True, order=True)
class Reference:
    """A precise citation, e.g. ``GB/T 22239-2019 8.1.4.1 a`` (level 3: clause 8.x; level 2: 7.x)."""

    standard: str
    clause: str

    @classmethod
    def parse(cls, text: str) -> "Reference":
        m = re.match(r"^\s*(GB/T\s+\d+(?:\.\d+)?-\d{4}|[A-Za-z][\w/.-]*(?:\s+[\w/.-]+)?-\d{4})\s+(\S.*?)\s*$", text)
        if not m:
            raise ValueError(f"reference {text!r} must look like 'GB/T 22239-2019 8.1.4.1 a'")
        return cls(re.sub(r"\s+", " ", m.group(1)), m.group(2))

    @cached_property   # read for every result of every host; a frozen dataclass keeps it in its __dict__
    def level(self) -> int | None:
        """The MLPS level a GB/T 22239-2019 clause belongs to (chapter 6 → 1, 7 → 2, 8 → 3, 9 → 4)."""
        if self.standard == "GB/T 22239-2019":
            chapter = self.clause.split(".", 1)[0]
            return {"6": 1, "7": 2, "8": 3, "9": 4}.get(chapter)
        return None

    @cached_property
    def text(self) -> str:
        return f"{self.standard} {self.clause}"

    def __str__(self):
        return self.text


def clean_evidence(text: str, cap: int = EVIDENCE_CAP) -> str:
    """Bound and sanitise evidence from a host: no control characters, at most ``cap`` characters."""
    text = _CTRL.sub("\ufffd", str(text or ""))
    return text if len(text) <= cap else text[: cap - 1] + "…"


@dataclass
class Outcome:
    status: Status
    message: Text = field(default_factory=lambda: Text("", ""))
    evidence: str = ""
    severity: str | None = None  # set by a check whose finding is graver in some cases (else the check's)

    @classmethod
    def passed(cls, zh="", en="", evidence=""):
        return cls(Status.PASS, Text(zh, en or zh), evidence)

    @classmethod
    def failed(cls, zh, en, evidence=""):
        return cls(Status.FAIL, Text(zh, en), evidence)

    @classmethod
    def error(cls, zh, en, evidence=""):
        return cls(Status.ERROR, Text(zh, en), evidence)

    @classmethod
    def not_applicable(cls, zh, en, evidence=""):
        return cls(Status.NOT_APPLICABLE, Text(zh, en), evidence)

    @classmethod
    def manual(cls, zh, en, evidence=""):
        return cls(Status.MANUAL, Text(zh, en), evidence)


@dataclass(frozen=True)
class Applicability:
    os: tuple[str, ...] = ("linux",)
    levels: tuple[int, ...] = (1, 2, 3, 4)
    roles: tuple[str, ...] = ()  # empty: every role

    def reason_not(self, os_family: str, level: int | None, roles) -> str | None:
        if os_family not in ("auto", "") and not any(os_family in OS_GROUPS.get(o, {o}) for o in self.os):
            return f"os {os_family} not in {'/'.join(self.os)}"
        if level is not None and level not in self.levels:
            return f"MLPS level {level} not in {'/'.join(map(str, self.levels))}"
        if self.roles and not set(self.roles) & set(roles):
            return f"host has none of the roles {', '.join(self.roles)}"
        return None


Evaluator = Callable[..., Outcome]


@dataclass
class Check:
    id: str
    title: Text
    severity: str
    refs: tuple[Reference, ...]
    probes: Mapping[str, tuple[Probe, ...]]  # os family ('any', 'debian', 'rhel', ...) -> probes
    evaluate: Evaluator
    applies: Applicability = field(default_factory=Applicability)
    rationale: Text = field(default_factory=lambda: Text("", ""))
    remediation: Text = field(default_factory=lambda: Text("", ""))
    params: Mapping[str, Any] = field(default_factory=dict)
    source: str = ""
    attest: Text | None = None  # for manual items: what a person must attest (answered by an attestation)
    manual_only: Text | None = None  # why no host can hold the evidence (an always-manual item); else it can fail
    # probes that depend on the host's declarations (a backup path, a standby address): host -> probes
    host_probes: Callable[[Any], Any] | None = None
    # judged only with the host reached, even without a probe of its own (e.g. from its declarations);
    # checks with no probe at all otherwise also judge unreachable hosts (connection, network view)
    needs_host: bool = False
    requires: tuple[str, ...] = ()  # the requirements it tests ('gbt22239:auth.a'); ``refs`` are their clauses

    def __post_init__(self):
        if not _ID.match(self.id):
            raise ValueError(f"check id {self.id!r} must be '<pack>.<name>' in lower case")
        if self.severity not in SEVERITIES:
            raise ValueError(f"check {self.id}: severity {self.severity!r} not in {', '.join(SEVERITIES)}")
        if not self.refs:
            raise ValueError(f"check {self.id}: at least one reference (e.g. 'GB/T 22239-2019 8.1.4.1 a') is required")
        self._wants_params = "params" in inspect.signature(self.evaluate).parameters

    @property
    def levels(self) -> tuple[int, ...]:
        """The MLPS levels this check judges: its clauses' levels within ``applies.levels``."""
        cited = {r.level for r in self.refs if r.level is not None}
        return tuple(sorted(cited & set(self.applies.levels))) if cited else tuple(self.applies.levels)

    @property
    def pack(self) -> str:
        return self.id.split(".", 1)[0]

    def probes_for(self, os_family: str) -> set[Probe]:
        """Probes to gather for a host; with the os unknown, every family's (they are cheap)."""
        if os_family in self.probes:
            return set(self.probes[os_family]) | set(self.probes.get("any", ()))
        out: set[Probe] = set()
        for ps in self.probes.values():
            out |= set(ps)
        return out

    def probes_for_host(self, host, params: Mapping[str, Any] | None = None) -> set[Probe]:
        """The static probes for the host's os plus those its declarations ask for; a ``host_probes``
        function taking ``params`` gets the check's parameters (defaults, then the plan's)."""
        extra = ()
        if self.host_probes:
            if "params" in inspect.signature(self.host_probes).parameters:
                extra = self.host_probes(host, params={**self.params, **(params or {})})
            else:
                extra = self.host_probes(host)
        return self.probes_for(getattr(host, "os", "auto")) | {parse_probe(p) for p in extra}

    def refs_for_level(self, level: int | None) -> tuple[Reference, ...]:
        """The clauses that apply at the host's level (level-neutral references always apply)."""
        if level is None:
            return self.refs
        picked = tuple(r for r in self.refs if r.level in (None, level))
        return picked or self.refs

    def run(self, facts: Facts, host, params: Mapping[str, Any] | None = None) -> Outcome:
        os_family = facts.meta.get("os_family") or getattr(host, "os", "auto")
        level = getattr(host, "level", None)
        why = self.applies.reason_not(os_family, level, getattr(host, "roles", ()))
        cited = {r.level for r in self.refs if r.level is not None}
        if not why and level in (2, 3) and cited and level < min(cited):
            # a requirement that exists only at a higher level (e.g. 8.1.4.8 数据保密性 at level 3)
            why = f"its clauses are for MLPS level {'/'.join(map(str, sorted(cited)))} only, the host is level {level}"
        if why:
            return Outcome.not_applicable(f"不适用：{why}", f"not applicable: {why}")
        merged = {**self.params, **(params or {})}
        try:
            out = self.evaluate(facts, host, params=merged) if self._wants_params else self.evaluate(facts, host)
        except Exception as exc:  # a check's bug must not stop the run; it is reported on that result
            return Outcome.error(f"检查项内部错误：{type(exc).__name__}", f"check raised {type(exc).__name__}: {exc}"[:300])
        if not isinstance(out, Outcome):
            return Outcome.error("检查项返回值无效", f"check returned {type(out).__name__}, not an Outcome")
        out.evidence = clean_evidence(out.evidence)
        if out.severity not in SEVERITIES:
            out.severity = None
        return out


def evaluator(check_id: str):
    """Registers ``def evaluate(facts, host[, params])`` as the evaluation of the check ``check_id``,
    whose metadata (titles, requirements, probes, params, texts) is an entry in its pack's YAML."""

    def wrap(fn):
        fn.evaluates = check_id
        return fn

    return wrap


def declared_probes(*check_ids: str):
    """Registers ``def probes(host[, params]) -> [probe strings]`` for the checks ``check_ids``: probes built
    from the host's inventory declarations (a backup path, a standby address), quoted by the function; with
    ``params`` it also gets the check's parameters (e.g. a CPU budget the probe must keep)."""

    def wrap(fn):
        fn.declares_probes_for = tuple(check_ids)
        return fn

    return wrap


def check(*, id: str, title, severity: str, probes, refs=(), requires=(), applies=None, rationale="",
          remediation="", params=None, attest=None, host_probes=None, needs_host=False):
    """Decorator that turns ``def evaluate(facts, host[, params])`` into a Check with its metadata in Python,
    for a third-party pack written in Python alone (built-in packs keep metadata in YAML and use
    ``@evaluator``). ``requires`` names requirements of a controls file; ``refs`` cites clauses directly.

    ``probes`` is a list of probe strings (``'file:/etc/passwd'``, ``'sudo file:/etc/shadow'``) or a
    mapping of os family to such lists; ``host_probes(host)`` adds probes built from the host's
    declarations (paths and addresses from the inventory, quoted by the check); ``needs_host`` keeps a
    check without probes from judging an unreachable host.
    """

    def wrap(fn):
        cited = list(refs) + [r for r in references(requires) if r not in refs]
        fn.check = Check(id=id, title=Text.of(title), severity=severity,
                         refs=tuple(Reference.parse(r) for r in cited), probes=normalise_probes(probes),
                         evaluate=fn, applies=applicability(applies), rationale=Text.of(rationale),
                         remediation=Text.of(remediation), params=dict(params or {}),
                         source=f"{fn.__module__}.{fn.__name__}", attest=Text.of(attest) if attest else None,
                         host_probes=host_probes, needs_host=needs_host, requires=tuple(requires))
        return fn

    return wrap


def parse_probe(text: str | Probe) -> Probe:
    if isinstance(text, Probe):
        return text
    text = text.strip()
    if text.startswith("sudo "):
        return Probe.parse(text[5:], sudo=True)
    return Probe.parse(text)


def normalise_probes(spec) -> dict[str, tuple[Probe, ...]]:
    if isinstance(spec, Mapping):
        return {str(k): tuple(parse_probe(p) for p in (v if isinstance(v, (list, tuple)) else [v]))
                for k, v in spec.items()}
    if isinstance(spec, (str, Probe)):
        spec = [spec]
    return {"any": tuple(parse_probe(p) for p in spec)}


def applicability(spec) -> Applicability:
    if spec is None:
        return Applicability()
    if isinstance(spec, Applicability):
        return spec
    os_ = spec.get("os", ("linux",))
    return Applicability(os=tuple([os_] if isinstance(os_, str) else os_),
                         levels=tuple(spec.get("levels", (1, 2, 3, 4))), roles=tuple(spec.get("roles", ())))


def probe_for(check_probes: Mapping[str, tuple[Probe, ...]], facts: Facts) -> Probe:
    """The first probe of the host's os family (or the generic one)."""
    fam = facts.meta.get("os_family", "")
    ps = check_probes.get(fam) or check_probes.get("any") or next(iter(check_probes.values()))
    return ps[0]


__all__ = ["Check", "Outcome", "Status", "Text", "Reference", "check", "evaluator", "declared_probes", "SEVERITIES",
           "OS_PROBE", "clean_evidence", "probe_for"]
