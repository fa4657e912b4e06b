"""Named probes: the read-only commands and files the checks gather, defined once as data.

``checks/probes.yaml`` holds the probes several packs share (``/etc/passwd``, ``sshd -T``, the PAM
stacks …); ``checks/packs/<pack>/probes.yaml`` those of one pack. A name maps to a probe string
(``file:/etc/passwd``, ``sudo command:sshd -T``) or to one string per os family. A check's YAML entry
lists probes by name or as literal strings; its Python evaluator reads the same probe with
``named(name)``, so the command a check declares and the facts its code reads cannot drift apart.
"""
from __future__ import annotations

import re
from pathlib import Path

from audits.model import yamlsafe
from audits.model.errors import InputError, Problem
from audits.model.probes import Probe

from .contract import parse_probe
from audits.model.once import once

SHARED_FILE = Path(__file__).resolve().parent / "probes.yaml"
PACKS_DIR = Path(__file__).resolve().parent / "packs"
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def is_name(spec: str) -> bool:
    """A probe name (``pam_stacks``) as opposed to a probe string (``file:/etc/passwd``)."""
    return bool(_NAME.match(str(spec).strip()))


def read_file(path) -> dict[str, tuple[dict[str, Probe], int]]:
    """One probes file → {name: ({family or 'any': Probe}, line)}, or InputError with FILE:LINE: field."""
    file = str(path)
    doc = yamlsafe.load_file(path)
    problems: list[Problem] = []
    if not isinstance(doc, dict) or set(doc) != {"probes"} or not isinstance(doc["probes"], dict):
        raise InputError([Problem(file, getattr(doc, "line", 1), "probes", "a probes file is a mapping with one 'probes:' mapping")])
    out: dict[str, tuple[dict[str, Probe], int]] = {}
    for name, spec in doc["probes"].items():
        where, line = f"probes.{name}", doc["probes"].line_of(name)
        if not _NAME.match(str(name)):
            problems.append(Problem(file, line, where, "a probe name is lower case letters, digits and _"))
            continue
        variants = spec if isinstance(spec, dict) else {"any": spec}
        try:
            out[str(name)] = ({str(fam): parse_probe(str(text)) for fam, text in variants.items()}, line)
        except (ValueError, TypeError) as exc:
            problems.append(Problem(file, line, where, str(exc)))
    if problems:
        raise InputError(problems)
    return out


@once
def catalogue() -> dict[str, dict[str, Probe]]:
    """Every named probe: the shared file and every built-in pack's probes.yaml (a name means one probe
    everywhere; repeating the same definition is allowed)."""
    out: dict[str, dict[str, Probe]] = {}
    origin: dict[str, str] = {}
    problems: list[Problem] = []
    for f in [SHARED_FILE] + sorted(PACKS_DIR.glob("*/probes.yaml")):
        if not f.exists():
            continue
        try:
            named = read_file(f)
        except InputError as e:
            problems.extend(e.problems)
            continue
        for name, (variants, line) in named.items():
            if name in out and out[name] != variants:
                problems.append(Problem(str(f), line, f"probes.{name}", f"also defined differently at {origin[name]}"))
            out[name], origin[name] = variants, f"{f}:{line}"
    if problems:
        raise InputError(problems)
    return out


def variants(name: str) -> dict[str, Probe]:
    """{family or 'any': Probe} of a named probe; KeyError names the unknown probe."""
    try:
        return catalogue()[name]
    except KeyError:
        raise KeyError(f"unknown probe name {name!r} (define it in checks/probes.yaml or the pack's probes.yaml)") from None


def named(name: str, family: str | None = None) -> Probe:
    """A named probe; with per-family variants, the one of ``family``."""
    v = variants(name)
    if family is not None and family in v:
        return v[family]
    if "any" in v:
        return v["any"]
    if family is None and len(v) == 1:
        return next(iter(v.values()))
    raise KeyError(f"probe {name!r} has variants for {', '.join(v)}; name the family")


def named_by_family(name: str) -> dict[str, Probe]:
    """The variants of a per-family named probe, e.g. ``PAM = named_by_family('pam')``."""
    return dict(variants(name))


def resolve(spec, family: str = "any") -> list[Probe]:
    """A check's probe entry (a name or a probe string) → the probes it means for ``family``
    ('any' in a check's plain list: every variant of a per-family name)."""
    spec = str(spec).strip()
    if not is_name(spec):
        return [parse_probe(spec)]
    v = variants(spec)
    if family in v:
        return [v[family]]
    if "any" in v:
        return [v["any"]]
    if family == "any":
        return list(v.values())
    raise KeyError(f"probe {spec!r} has no variant for os family {family!r} (it has {', '.join(v)})")
