"""openEuler CVRF 1.2 advisories (repo.openeuler.org/security/data/cvrf/<yyyy>/cvrf-openEuler-SA-<yyyy>-<nnnn>.xml):
one XML document per advisory, parsed with defusedxml (no DTD, no entities), bounded in size, matched by
*source* RPM name as openEuler publishes its fixes.

``ProductTree``: the release products (``FullProductName@ProductID`` 'openEuler-22.03-LTS-SP2') and, under
the ``src`` branch, the fixed source RPM file names with the release in their ``@CPE``
(``cpe:/a:openEuler:openEuler:22.03-LTS-SP2``). Each ``Vulnerability`` has its ``CVE``, the releases it is
``Fixed`` in (``ProductStatuses/Status[@Type=Fixed]``) and its ``Threat[@Type=Impact]`` (Critical, High,
Medium, Low). The fixed version is the source RPM's version-release; CVRF carries no epoch (the host's
epoch is used when comparing).
"""
from __future__ import annotations

from defusedxml import ElementTree as ET
from defusedxml.common import DefusedXmlException

from audits.patchdata.feeds import Advisory, FeedError, FeedInfo, check_row, clean_text, shaped

SOURCE = "openeuler-cvrf"
IMPACT = {"critical": "critical", "high": "high", "important": "high", "medium": "medium", "moderate": "medium",
          "low": "low"}


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _find(el, *path):
    """Children by local names, whatever the CVRF namespaces."""
    cur = [el]
    for name in path:
        cur = [c for e in cur for c in e if _local(c.tag) == name]
    return cur


def _text(el, *path) -> str:
    found = _find(el, *path)
    return (found[0].text or "").strip() if found else ""


def parse_rpm_filename(fn: str):
    """'openssl-1.1.1m-20.oe2203sp2.src.rpm' → ('openssl', '1.1.1m-20.oe2203sp2', 'src')."""
    base = fn.removesuffix(".rpm")
    base, _, arch = base.rpartition(".")
    nv, _, release = base.rpartition("-")
    name, _, version = nv.rpartition("-")
    if not (name and version and release and arch):
        return None
    return name, f"{version}-{release}", arch


@shaped
def document_rows(data: bytes, name: str, info: FeedInfo):
    try:
        root = ET.fromstring(data, forbid_dtd=True)
    except ET.ParseError as exc:
        raise FeedError(name, exc.position[0] if getattr(exc, "position", None) else 0, "XML",
                        f"not well-formed: {clean_text(str(exc), 200)}") from None
    except DefusedXmlException as exc:
        raise FeedError(name, 0, "XML", f"refused: {type(exc).__name__}") from None
    if _local(root.tag) != "cvrfdoc":
        raise FeedError(name, 0, "cvrfdoc", f"not a CVRF document (root element {_local(root.tag)[:40]!r})")
    info.documents += 1
    info.sources.add(SOURCE)
    adv = _text(root, "DocumentTracking", "Identification", "ID")
    when = _text(root, "DocumentTracking", "CurrentReleaseDate")[:40]
    if when > info.as_of:
        info.as_of = when
    fixed_src: dict[str, list[tuple[str, str]]] = {}   # release → [(source rpm name, version-release)]
    releases: dict[str, str] = {}                        # release product id → release
    for branch in _find(root, "ProductTree", "Branch"):
        for fpn in _find(branch, "FullProductName"):
            cpe = fpn.get("CPE", "")
            rel = cpe.rsplit(":", 1)[-1] if cpe.startswith("cpe:/a:openEuler:openEuler:") else ""
            if not rel:
                continue
            if branch.get("Type") == "Product Name":
                releases[fpn.get("ProductID", "")] = rel
            elif branch.get("Type") == "Package Arch" and branch.get("Name") == "src":
                parsed = parse_rpm_filename((fpn.text or "").strip())
                if parsed:
                    fixed_src.setdefault(rel, []).append(parsed[:2])
    for vi, v in enumerate(_find(root, "Vulnerability")):
        cve = _text(v, "CVE")
        sev = IMPACT.get(_text(v, "Threats", "Threat", "Description").lower(), "unknown")
        for t in _find(v, "Threats", "Threat"):
            if t.get("Type") == "Impact":
                sev = IMPACT.get(_text(t, "Description").lower(), sev)
        date = _text(v, "Remediations", "Remediation", "DATE")[:10] or when[:10]
        for st in _find(v, "ProductStatuses", "Status"):
            if st.get("Type") != "Fixed":
                continue
            for pid in _find(st, "ProductID"):
                rel = releases.get((pid.text or "").strip())
                for pkg, vr in fixed_src.get(rel or "", []):
                    a = Advisory(SOURCE, f"openeuler:{rel}", pkg, "source", cve, "fixed", fixed_version=vr,
                                 severity=sev, advisory_ids=adv, released=1, fix_date=date, doc=adv)
                    yield check_row(a, name, 0, f"Vulnerability[{vi + 1}]")
