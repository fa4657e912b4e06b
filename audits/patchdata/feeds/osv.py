"""OSV records (https://ossf.github.io/osv-schema/): one JSON file, a directory of them, or a dump — the
``<ECOSYSTEM>/all.zip`` of osv-vulnerabilities.storage.googleapis.com or Canonical's ``osv-all.tar.xz``.

Each ``affected[]`` entry of a distribution ecosystem becomes one row per release: the ``fixed`` event of
its ``ECOSYSTEM`` range is the fixed version; a range with no ``fixed`` is unfixed. Ecosystems → release
keys: ``Debian:12`` (source package), ``Ubuntu:22.04:LTS`` (source; ``Ubuntu:Pro:…`` fixes need Ubuntu Pro
and are marked not released to a host without it), ``Red Hat:…enterprise_linux:9…``, ``AlmaLinux:9``,
``Rocky Linux:9`` (binary packages), ``openEuler:22.03-LTS-SP2`` (source RPM). Ids are normalised to the
CVE an advisory names (``DEBIAN-CVE-…``/``UBUNTU-CVE-…`` duplicate ``CVE-…``; a USN or DSA becomes one row
per CVE it fixes, its own id kept as the advisory id).
"""
from __future__ import annotations

import re

from audits.patchdata.feeds import Advisory, FeedError, FeedInfo, check_row, parse_json, shaped

SEVERITY_WORDS = {"critical": "critical", "high": "high", "important": "high", "medium": "medium",
                  "moderate": "medium", "low": "low", "negligible": "negligible", "unimportant": "negligible"}
_CVE = re.compile(r"CVE-\d{4}-\d{4,}")


def release_of(ecosystem: str) -> tuple[str, str, str]:
    """OSV ecosystem → (release key, package kind, note) — ('', '', '') for ecosystems we do not judge."""
    parts = ecosystem.split(":")
    head = parts[0]
    if head == "Debian" and len(parts) >= 2 and parts[1].isdigit():
        return f"debian:{parts[1]}", "source", ""
    if head == "Ubuntu" and len(parts) >= 2:
        pro = parts[1] == "Pro"
        ver = parts[2] if pro and len(parts) > 2 else parts[1]
        if re.fullmatch(r"\d+\.\d+", ver):
            return f"ubuntu:{ver}", "source", "fix only in Ubuntu Pro (ESM)" if pro else ""
    if head == "AlmaLinux" and len(parts) == 2:
        return f"almalinux:{parts[1].split('.')[0]}", "binary", ""
    if head == "Rocky Linux" and len(parts) == 2:
        return f"rocky:{parts[1].split('.')[0]}", "binary", ""
    if head == "Red Hat":
        m = re.search(r"enterprise_linux:(\d+)", ecosystem)
        if m:
            return f"rhel:{m.group(1)}", "binary", ""
    if head == "openEuler" and len(parts) == 2:
        return f"openeuler:{parts[1]}", "source", ""
    return "", "", ""


def _severity(rec: dict, aff: dict) -> str:
    for holder in (aff.get("ecosystem_specific"), aff.get("database_specific"), rec.get("database_specific")):
        if isinstance(holder, dict):
            for key in ("severity", "urgency"):
                w = SEVERITY_WORDS.get(str(holder.get(key, "")).lower().replace("*", "").strip())
                if w:
                    return w
    for s in rec.get("severity") or []:
        if isinstance(s, dict):
            w = SEVERITY_WORDS.get(str(s.get("score", "")).lower())
            if w:
                return w
    return "unknown"


def _vuln_ids(rec: dict, rid: str) -> tuple[list[str], str]:
    """The CVE ids a record is about, and its own id when that is an advisory (USN, DSA, OESA …) rather than a
    CVE: ``DEBIAN-CVE-…``/``UBUNTU-CVE-…`` are the CVE itself (osv.dev#5616)."""
    bare = rid.split("-", 1)[1] if rid.startswith(("DEBIAN-", "UBUNTU-")) else rid
    if _CVE.fullmatch(bare):
        return [bare], ""
    named = {x for key in ("aliases", "related", "upstream") for x in (rec.get(key) or [])
             if isinstance(x, str) and _CVE.fullmatch(x)}
    return sorted(named)[:2000] or [rid], rid


def record_rows(rec, name: str, info: FeedInfo):
    """Rows of one OSV record (already parsed)."""
    if not isinstance(rec, dict) or not isinstance(rec.get("id"), str):
        raise FeedError(name, 0, "id", "an OSV record must be an object with a string id")
    rid = rec["id"][:100]
    ids, advisory = _vuln_ids(rec, rid)
    modified = str(rec.get("modified") or "")[:40]
    if modified > info.as_of:
        info.as_of = modified
    withdrawn = bool(rec.get("withdrawn"))
    for i, aff in enumerate(rec.get("affected") or []):
        if not isinstance(aff, dict) or not isinstance(aff.get("package"), dict):
            continue
        release, kind, note = release_of(str(aff["package"].get("ecosystem", ""))[:200])
        if not release or withdrawn:
            continue
        pkg = str(aff["package"].get("name", ""))
        fixed, introduced = "", False
        for rng in aff.get("ranges") or []:
            if isinstance(rng, dict) and rng.get("type") == "ECOSYSTEM":
                for ev in rng.get("events") or []:
                    if isinstance(ev, dict) and "fixed" in ev:
                        fixed = str(ev["fixed"])
                    elif isinstance(ev, dict) and "introduced" in ev:
                        introduced = True
        if not fixed and not introduced and not aff.get("versions"):
            continue
        source = f"osv:{release.split(':')[0]}"
        info.sources.add(source)
        for vid in ids:
            a = Advisory(source, release, pkg, kind, vid, "fixed" if fixed else "affected", fixed_version=fixed,
                         severity=_severity(rec, aff), advisory_ids=advisory, note=note, doc=rid,
                         released=(0 if note else 1) if fixed else None,
                         fix_date=modified[:10] if fixed else "")
            yield check_row(a, name, 0, f"{rid}/affected[{i}]")


@shaped
def document_rows(data: bytes, name: str, info: FeedInfo):
    rec = parse_json(data, name)
    info.documents += 1
    yield from record_rows(rec, name, info)
