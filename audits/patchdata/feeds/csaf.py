"""Red Hat CSAF VEX (https://security.access.redhat.com/data/csaf/v2/vex/<year>/cve-YYYY-NNNN.json): one
document per CVE, read whole (bounded), matched by *binary* RPM name as Red Hat publishes it.

The product tree gives each product id a platform (``cpe:/o:redhat:enterprise_linux:9`` → ``rhel:9``;
``rhel_els:7`` is RHEL 7 extended life) and a component (purl ``pkg:rpm/redhat/pam@1.5.1-21.el9_5?arch=x86_64
&epoch=…``; unfixed components carry no version). ``product_status``: ``fixed`` (with the ``vendor_fix``
remediation: RHSA id and date), ``known_affected`` (``none_available`` ``Affected``/``Deferred``,
``no_fix_planned`` ``Will not fix``/``Out of support scope``), ``known_not_affected``, ``under_investigation``.
Severity is the ``impact`` threat (Critical, Important, Moderate, Low) or the document's aggregate. Source
RPMs (``arch=src``) and module streams are left out.
"""
from __future__ import annotations

import re
from urllib.parse import parse_qs, unquote

from audits.patchdata.feeds import Advisory, FeedError, FeedInfo, check_row, parse_json, shaped

SOURCE = "redhat-csaf"
IMPACT = {"critical": "critical", "important": "high", "moderate": "medium", "low": "low"}
_PLATFORM = re.compile(r"cpe:/[ao]:redhat:(enterprise_linux|rhel_els):(\d+)(?::|$)")
_NEVRA = re.compile(r"^(?P<n>.+)-(?:(?P<e>\d+):)?(?P<v>[^-:]+)-(?P<r>[^-]+)\.(?P<a>[A-Za-z0-9_]+)$")


def _walk(branches, out: dict):
    for b in branches or []:
        if not isinstance(b, dict):
            continue
        p = b.get("product")
        if isinstance(p, dict) and isinstance(p.get("product_id"), str):
            out[p["product_id"]] = p.get("product_identification_helper") or {}
        _walk(b.get("branches"), out)


def _component(pid: str, helper: dict):
    """(name, evr or '', arch) of a component product, from its purl or, failing that, its NEVRA id."""
    purl = helper.get("purl") if isinstance(helper, dict) else None
    if isinstance(purl, str) and purl.startswith("pkg:rpm/"):
        path, _, query = purl[len("pkg:rpm/"):].partition("?")
        q = {k: v[0] for k, v in parse_qs(query).items()}
        name_ver = path.split("/", 1)[-1]
        name, _, ver = name_ver.partition("@")
        name, ver = unquote(name), unquote(ver)
        if q.get("rpmmod"):
            return None
        evr = f"{q['epoch']}:{ver}" if ver and q.get("epoch") else ver
        return name, evr, q.get("arch", "")
    m = _NEVRA.match(pid)
    if m:
        return m["n"], f"{m['e'] or 0}:{m['v']}-{m['r']}", m["a"]
    return pid, "", ""


@shaped
def document_rows(data: bytes, name: str, info: FeedInfo):
    doc = parse_json(data, name)
    if not isinstance(doc, dict) or not isinstance(doc.get("document"), dict):
        raise FeedError(name, 0, "document", "not a CSAF document")
    info.documents += 1
    info.sources.add(SOURCE)
    d = doc["document"]
    tracking = d.get("tracking") or {}
    when = str(tracking.get("current_release_date") or "")[:40]
    if when > info.as_of:
        info.as_of = when
    agg = IMPACT.get(str((d.get("aggregate_severity") or {}).get("text", "")).lower(), "unknown")
    tree = doc.get("product_tree") or {}
    helpers: dict = {}
    _walk(tree.get("branches"), helpers)
    platforms = {pid: f"rhel:{m.group(2)}" + ("+els" if m.group(1) == "rhel_els" else "")
                 for pid, h in helpers.items()
                 if isinstance(h, dict) and (m := _PLATFORM.match(str(h.get("cpe", ""))))}
    rel: dict = {}
    for r in tree.get("relationships") or []:
        if not isinstance(r, dict) or r.get("category") != "default_component_of":
            continue
        fp = (r.get("full_product_name") or {}).get("product_id")
        plat, comp = r.get("relates_to_product_reference"), r.get("product_reference")
        if isinstance(fp, str) and plat in platforms and isinstance(comp, str):
            c = _component(comp, helpers.get(comp, {}))
            if c and c[2] != "src":
                rel[fp] = (platforms[plat], c)
    for vi, v in enumerate(doc.get("vulnerabilities") or []):
        if not isinstance(v, dict):
            continue
        cve = str(v.get("cve") or "")
        if not cve:
            continue
        remed: dict = {}
        for rm in v.get("remediations") or []:
            if isinstance(rm, dict):
                for pid in rm.get("product_ids") or []:
                    remed.setdefault(pid, rm)
        impact: dict = {}
        for t in v.get("threats") or []:
            if isinstance(t, dict) and t.get("category") == "impact":
                sev = IMPACT.get(str(t.get("details", "")).lower(), "unknown")
                for pid in t.get("product_ids") or [None]:
                    impact[pid] = sev
        seen: dict = {}
        for key, pids in (v.get("product_status") or {}).items():
            for pid in pids or []:
                if pid not in rel:
                    continue
                release, (pkg, evr, arch) = rel[pid]
                rm = remed.get(pid, {})
                els = release.endswith("+els")
                release = release.removesuffix("+els")
                a = Advisory(SOURCE, release, pkg, "binary", cve, "undetermined",
                             severity=impact.get(pid, impact.get(None, agg)), doc=cve, arches=arch)
                if key == "fixed" and evr:
                    a.status, a.fixed_version, a.released = "fixed", evr, 1
                    url = str(rm.get("url", ""))
                    a.advisory_ids = url.rstrip("/").rsplit("/", 1)[-1] if "errata" in url else ""
                    a.fix_date = str(rm.get("date", ""))[:10]
                    a.note = "RHEL 7 ELS (extended life subscription)" if els else ""
                elif key == "known_affected":
                    det = str(rm.get("details", "")).lower()
                    a.status = {"will not fix": "will_not_fix", "out of support scope": "end_of_life",
                                "deferred": "fix_deferred"}.get(det, "affected")
                elif key == "known_not_affected":
                    a.status = "not_affected"
                elif key == "under_investigation":
                    a.status = "under_investigation"
                else:
                    continue
                k = (release, pkg, a.status, a.fixed_version)
                if k in seen:  # the same fix for several arches: one row, arches listed
                    prev = seen[k]
                    if arch and arch not in prev.arches.split(","):
                        prev.arches = f"{prev.arches},{arch}".strip(",")[:200]
                    continue
                seen[k] = check_row(a, name, 0, f"vulnerabilities[{vi}]/product_status/{key}")
        yield from seen.values()
