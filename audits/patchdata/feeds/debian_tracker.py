"""Debian Security Tracker JSON (https://security-tracker.debian.org/tracker/data/json, ~80 MB): streamed
one source package at a time with ijson, so memory stays bounded by the largest package (the kernel).

``{source: {CVE-…|TEMP-…: {description, scope, debianbug, releases: {codename: {status, repositories,
fixed_version, urgency, nodsa, nodsa_reason}}}}}`` → one row per (release, source, CVE), keyed on the
*source* package (binNMUs and binaries versioned apart from their source are matched through
``${source:Version}``). The tracker's tags as the JSON carries them: ``resolved`` + ``fixed_version "0"``
is not affected; ``open`` is unfixed — with ``nodsa_reason: ignored`` "will not fix", ``postponed``
"fix deferred", a bare ``nodsa`` still affected (minor issue, no DSA); ``undetermined`` is untriaged;
urgency ``end-of-life`` means the package lost security support in that release. ``repositories`` says
whether a fix is released: a ``fixed_version`` above every version the release's suites carry is fixed
but not yet released.
"""
from __future__ import annotations

from functools import lru_cache

import ijson

from audits.patchdata.feeds import Advisory, FeedError, FeedInfo, check_row, clean_text, shaped
from audits.patchdata.releases import debian_release

SOURCE = "debian-tracker"
URGENCY = {"unimportant": "negligible", "low": "low", "medium": "medium", "high": "high"}


@lru_cache(maxsize=65536)
def _version_ge(a: str, b: str) -> bool:
    if a == b:
        return True
    from debian.debian_support import version_compare
    try:
        return version_compare(a, b) >= 0
    except ValueError:
        return False


@shaped
def rows(stream, name: str, info: FeedInfo):
    """Advisory rows of a tracker JSON stream; ``info`` gets the source. The tracker has no date of its own:
    the importer takes the file's date (or --as-of)."""
    info.sources.add(SOURCE)
    info.full = True
    try:
        for src, cves in ijson.kvitems(stream, "", use_float=True):
            if not isinstance(cves, dict):
                raise FeedError(name, 0, src[:80], "a source package must map to an object of CVE entries")
            for vid, entry in cves.items():
                if not isinstance(entry, dict):
                    raise FeedError(name, 0, f"{src[:80]}/{vid[:40]}", "an entry must be an object")
                rels = entry.get("releases") or {}
                if not isinstance(rels, dict):
                    raise FeedError(name, 0, f"{src[:80]}/{vid[:40]}/releases", "must be an object")
                info.documents += 1
                for code, r in rels.items():
                    release = debian_release(str(code))
                    if not release or not isinstance(r, dict):
                        continue
                    yield check_row(_row(src, vid, release, r), name, 0, f"{src[:80]}/{vid[:40]}/releases/{code}")
    except ijson.JSONError as exc:
        raise FeedError(name, 0, "JSON", f"not valid JSON: {str(exc)[:200]}") from None


def _row(src: str, vid: str, release: str, r: dict) -> Advisory:
    status = str(r.get("status", ""))
    fixed = str(r.get("fixed_version") or "")
    urgency = str(r.get("urgency") or "").replace("*", "").strip()
    nodsa = str(r.get("nodsa_reason") or "")
    a = Advisory(SOURCE, release, src, "source", vid, "undetermined",
                 severity=URGENCY.get(urgency, "unknown"), doc=src)
    if urgency == "end-of-life":
        a.status, a.note = "end_of_life", "no security support for this package in this release"
    elif status == "resolved":
        if fixed == "0":
            a.status = "not_affected"
        else:
            a.status, a.fixed_version = "fixed", fixed
            repos = r.get("repositories") or {}
            versions = [v for v in repos.values() if isinstance(v, str)] if isinstance(repos, dict) else []
            a.released = 1 if any(_version_ge(v, fixed) for v in versions) else 0
    elif status == "open":
        a.status = {"ignored": "will_not_fix", "postponed": "fix_deferred"}.get(nodsa, "affected")
        if r.get("nodsa") is not None or nodsa:
            a.note = f"no DSA ({nodsa or 'minor issue'})" + (f": {clean_text(r.get('nodsa'), 200)}"
                                                               if r.get("nodsa") else "")
    elif status == "undetermined":
        a.status = "undetermined"
    else:
        a.status = "undetermined"
        a.note = f"tracker status {clean_text(status, 40)!r}"
    return a
