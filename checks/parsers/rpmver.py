"""RPM version order (what ``rpmvercmp`` and ``rpmdev-vercmp`` do), for matching installed RPMs against
vulnerability feeds and indexes of fixes on the auditor (the one rpm comparator: ``checks.parsers.packages``
and ``audits.patchdata`` both use it).

``rpmvercmp(a, b)`` compares one version or release string: alternating runs of digits and letters,
separators ignored, ``~`` sorts before anything (pre-releases), ``^`` after the base but before any
further segment (snapshots); a numeric run beats an alphabetic one. ``evr_compare`` compares
(epoch, version, release) triples: epoch as an integer, then version, then release. Written from
rpm's documented rules (rpm.org "RPM version comparison" and its test table); checked against a
golden table in ``tests/test_vulndb_versions.py``.
"""
from __future__ import annotations

import re

_SEG = re.compile(r"(\d+|[a-zA-Z]+|~|\^)")


def _segments(s: str) -> list[str]:
    out = []
    for tok in _SEG.findall(s):
        out.append(tok)
    return out


def rpmvercmp(a: str, b: str) -> int:
    """-1, 0 or 1 as RPM orders version (or release) strings ``a`` and ``b``."""
    if a == b:
        return 0
    sa, sb = _segments(a), _segments(b)
    i = 0
    while True:
        x = sa[i] if i < len(sa) else None
        y = sb[i] if i < len(sb) else None
        # tilde: sorts before everything, even the end of the string
        if x == "~" or y == "~":
            if x != "~":
                return 1
            if y != "~":
                return -1
            i += 1
            continue
        # caret: after the end of the string, before any other segment
        if x == "^" or y == "^":
            if x is None:
                return -1
            if y is None:
                return 1
            if x != "^":
                return 1
            if y != "^":
                return -1
            i += 1
            continue
        if x is None or y is None:
            if x is None and y is None:
                return 0
            return -1 if x is None else 1
        xd, yd = x.isdigit(), y.isdigit()
        if xd != yd:  # numeric segments are newer than alphabetic ones
            return 1 if xd else -1
        if xd:
            xi, yi = int(x), int(y)
            if xi != yi:
                return 1 if xi > yi else -1
        elif x != y:
            return 1 if x > y else -1
        i += 1


def split_evr(evr: str) -> tuple[int, str, str]:
    """'1:3.0.7-27.el9' → (1, '3.0.7', '27.el9'); no epoch is 0; no release is ''."""
    epoch, sep, rest = evr.partition(":")
    if not sep:
        epoch, rest = "0", evr
    version, _, release = rest.partition("-") if rest.count("-") <= 1 else rest.rpartition("-")
    try:
        e = int(epoch or 0)
    except ValueError:
        raise ValueError(f"bad epoch in {evr!r}") from None
    return e, version, release


def evr_compare(a: str | tuple, b: str | tuple) -> int:
    """Compare two EVRs (strings 'E:V-R' or (epoch, version, release) tuples): epoch as an integer, then
    rpmvercmp of the version, then of the release (an empty release on one side is not compared, as rpm
    does when a dependency names no release)."""
    ea, va, ra = split_evr(a) if isinstance(a, str) else a
    eb, vb, rb = split_evr(b) if isinstance(b, str) else b
    if int(ea) != int(eb):
        return 1 if int(ea) > int(eb) else -1
    c = rpmvercmp(va, vb)
    if c or not ra or not rb:
        return c
    return rpmvercmp(ra, rb)


_CLONE = re.compile(r"\.(?:centos|rocky|alma|almalinux)(?=\.|$)")


def normalise_clone_release(release: str) -> str:
    """Rebuilds of RHEL (CentOS, Rocky, Alma) tag their release ('27.el9_4.alma.1', '28.el9_4.rocky.0.1'); for
    comparison with a Red Hat fixed version the tag is dropped ('27.el9_4.1'). The minor-release part ``_4``
    is kept: '28.el9_4' is older than '28.el9_5'."""
    return _CLONE.sub("", release)
