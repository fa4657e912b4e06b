"""Matching a host's installed packages with the vulnerability database (patching.md §5.5–5.7).

Debian/Ubuntu: keyed on (release, *source* package), the installed ``${source:Version}`` compared in dpkg's
order (python-debian). Red Hat family: by *binary* name (Red Hat CSAF) or *source RPM* name (openEuler),
compared epoch (integer), version, release (``rpmver``); clone release suffixes folded. A kernel source
with several installed versions is judged at the running kernel's version only.

Each finding's ``state``: ``fixable`` (a fix is released for this release and the host is below it),
``not_released`` (fixed upstream, not yet in the release's archive, or only in Ubuntu Pro), ``eol`` (the
fix is dated after the host's release ended: CentOS 7 never gets it), ``unfixed`` (open or postponed: no
fix exists), ``no_support`` (the package lost security support in this release). Debian's ``ignored``
(will not fix), ``undetermined`` and ``under_investigation`` are counted as notes, never findings.
"""
from __future__ import annotations

from functools import lru_cache

from audits.patchdata.hostpkgs import Pkg
from audits.patchdata.releases import EOL_AFTER, RHEL_CLONES
from checks.parsers.rpmver import evr_compare, normalise_clone_release, split_evr

# Which source answers for a distribution, best first (the Debian team names its tracker the source of truth).
PREFERENCE = {"debian": ("debian-tracker", "osv:debian", "debian-oval"), "ubuntu": ("ubuntu-oval", "osv:ubuntu"),
              "rhel": ("redhat-csaf", "osv:rhel"), "openeuler": ("openeuler-cvrf", "osv:openeuler"),
              "almalinux": ("osv:almalinux",), "rocky": ("osv:rocky",)}
KERNEL_SOURCES = ("linux", "linux-signed-amd64", "linux-signed-arm64", "kernel")
MAX_FINDINGS = 3000


@lru_cache(maxsize=65536)
def deb_below(installed: str, fixed: str) -> bool:
    from debian.debian_support import version_compare
    try:
        return version_compare(installed, fixed) < 0
    except ValueError:
        return False


@lru_cache(maxsize=65536)
def rpm_below(installed: str, fixed: str) -> bool:
    try:
        e, v, r = split_evr(installed)
        fe, fv, fr = split_evr(fixed)
    except ValueError:
        return False
    if ":" not in fixed:  # a feed without epochs (openEuler CVRF): the host's epoch stands
        fe = e
    return evr_compare((e, v, normalise_clone_release(r)), (fe, fv, normalise_clone_release(fr))) < 0


def choose_source(db, distro: str, release: str) -> tuple[str, str, bool]:
    """(source, release key, borrowed) of the best feed holding records for the host's release, or ('', '', False)."""
    held = {(s["source"], s["release"]) for s in db.sources()}
    for src in PREFERENCE.get(distro, ()):
        if (src, release) in held:
            return src, release, False
    if distro in RHEL_CLONES and ":" in release:  # a rebuild judged with Red Hat's data: labelled as borrowed
        major = release.split(":", 1)[1]
        for src in PREFERENCE["rhel"]:
            if (src, f"rhel:{major}") in held:
                return src, f"rhel:{major}", True
    return "", "", False


def _kernel_filter(pkgs: list[Pkg], running: str) -> list[Pkg]:
    """For a kernel source with several installed versions, the running kernel's version only."""
    by_src: dict = {}
    for p in pkgs:
        by_src.setdefault(p.source, set()).add(p.source_version)
    keep = []
    for p in pkgs:
        if p.source in KERNEL_SOURCES and len(by_src[p.source]) > 1 and running:
            mine = {q.source_version for q in pkgs if q.source == p.source and
                    (q.name.endswith(running) or q.version.split(":", 1)[-1] + "." + q.arch == running)}
            if mine and p.source_version not in mine:
                continue
        keep.append(p)
    return keep


def match(db, distro: str, release: str, family: str, pkgs: list[Pkg], running_kernel: str = "") -> dict:
    """The ``facts.meta["vulns"]`` document of one host."""
    source, rel, borrowed = choose_source(db, distro, release)
    base = {"release": release, "distro": distro, "packages": len(pkgs)}
    if not source:
        return {**base, "available": False,
                "reason": f"no imported vulnerability feed covers {release or 'this release'}"}
    info = next(s for s in db.sources() if s["source"] == source and s["release"] == rel)
    pkgs = _kernel_filter(pkgs, running_kernel)
    deb = family == "debian"
    by_key: dict = {}
    for p in pkgs:
        if deb:
            by_key.setdefault(p.source, []).append(p)
        else:
            by_key.setdefault(("binary", p.name), []).append(p)
            by_key.setdefault(("source", p.source), []).append(p)
    names = {k if deb else k[1] for k in by_key}
    rows = db.lookup(source, rel, names)
    eol_date = EOL_AFTER.get((distro, release.split(":", 1)[1] if ":" in release else ""))
    findings: dict = {}
    notes = {"not_affected": 0, "will_not_fix": 0, "undetermined": 0, "under_investigation": 0}
    for row in rows:
        group = by_key.get(row["pkg"] if deb else (row["pkg_kind"], row["pkg"]), [])
        if not group:
            continue
        st = row["status"]
        if st in notes:
            notes[st] += 1
            continue
        # one finding per (package, CVE); the lowest installed version of the group decides
        versions = sorted({p.source_version for p in group})
        for have in versions:
            state = None
            if st == "fixed":
                below = deb_below(have, row["fixed_version"]) if deb else rpm_below(have, row["fixed_version"])
                if not below:
                    continue
                state = "fixable" if row["released"] != 0 else "not_released"
                if eol_date and (row["fix_date"] > eol_date or "ELS" in row["note"]):
                    state = "eol"
            elif st in ("affected", "fix_deferred"):
                state = "unfixed"
            elif st == "end_of_life":
                state = "no_support"
            if state is None:
                continue
            key = (row["pkg"], row["vuln_id"])
            prev = findings.get(key)
            if prev and _rank(prev["state"]) <= _rank(state):
                continue
            findings[key] = {"vuln_id": row["vuln_id"], "pkg": row["pkg"], "kind": row["pkg_kind"],
                             "binaries": sorted({p.name for p in group if p.source_version == have})[:20],
                             "installed": have, "fixed_version": row["fixed_version"], "severity": row["severity"],
                             "state": state, "status": st, "advisories": row["advisory_ids"], "note": row["note"],
                             "fix_date": row["fix_date"]}
            break
    out = sorted(findings.values(), key=lambda f: (_rank(f["state"]), _sev_rank(f["severity"]), f["pkg"], f["vuln_id"]))
    counts: dict = {}
    for f in out:
        counts[f["state"]] = counts.get(f["state"], 0) + 1
    return {**base, "available": True, "source": source, "feed_release": rel, "borrowed": borrowed,
            "as_of": info["as_of"], "findings": out[:MAX_FINDINGS], "truncated": len(out) > MAX_FINDINGS,
            "counts": counts, "notes": notes, "eol_after": eol_date or ""}


def _rank(state: str) -> int:
    return ("fixable", "not_released", "eol", "no_support", "unfixed").index(state)


def _sev_rank(sev: str) -> int:
    order = ("critical", "high", "medium", "low", "negligible", "unknown")
    return order.index(sev) if sev in order else len(order)
