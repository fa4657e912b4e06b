"""Package manager listings: ``dpkg-query -W`` status lines, the security-list probe's ``@list``
sections, Debian version ordering (dpkg's rules, through python-debian) and rpm's EPOCH:VERSION-RELEASE
ordering (rpmvercmp, through rpm-vercmp). Pure functions, no I/O."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from checks.parsers.rpmver import evr_compare, split_evr  # noqa: F401  (split_evr re-exported)


def dpkg_versions(text: str) -> dict[str, str]:
    """``dpkg-query -W -f='${Package} ${Version} ${db:Status-Abbrev}'``: installed package → version
    (only packages whose status is installed, ``ii``/``hi``)."""
    out: dict[str, str] = {}
    for ln in text.splitlines():
        parts = ln.split()
        if len(parts) >= 3 and len(parts[2]) >= 2 and parts[2][1] == "i":
            out[parts[0].split(":")[0]] = parts[1]
    return out


def upstream_version(version: str | None) -> tuple[int, ...] | None:
    """The upstream part of a dpkg or rpm version as numbers: '1:9.2p1-2+deb12u3' → (9, 2),
    '1.5.2-6' → (1, 5, 2), '1.3.1-16.el8' → (1, 3, 1); None when it cannot be read."""
    if not version:
        return None
    v = version.split(":", 1)[-1].split("-", 1)[0]
    out = []
    for part in v.split("."):
        digits = ""
        for ch in part:
            if not ch.isdigit():
                break
            digits += ch
        if not digits:
            break
        out.append(int(digits))
        if len(digits) < len(part):
            break
    return tuple(out) or None


@dataclass
class ListVersions:
    """Versions that package lists offer: the lists seen and the highest version per package."""

    lists: list[str] = field(default_factory=list)
    best: dict[str, str] = field(default_factory=dict)


def list_versions(text: str) -> ListVersions:
    """``@list NAME`` headers followed by ``package version`` lines (the security-list probe)."""
    out = ListVersions()
    for ln in text.splitlines():
        if ln.startswith("@list "):
            out.lists.append(ln[6:].strip())
            continue
        parts = ln.split()
        if len(parts) == 2 and out.lists:
            name, version = parts
            if name not in out.best or debian_version_newer(version, out.best[name]):
                out.best[name] = version
    return out


@lru_cache(maxsize=65536)  # a fleet repeats the same (offered, installed) pairs host after host
def debian_version_newer(a: str, b: str) -> bool:
    """True when Debian version ``a`` sorts after ``b`` (dpkg's rules: epoch, upstream, revision, ``~``)."""
    from debian.debian_support import version_compare

    try:
        return version_compare(a, b) > 0
    except ValueError:  # a malformed version from a hostile host is never "newer"
        return False


def rpm_evr_compare(a: str, b: str) -> int:
    """rpm's order of two EPOCH:VERSION-RELEASE strings (-1, 0, 1): epoch as a number, then rpmvercmp of the
    version, then of the release (``~`` sorts before anything, ``^`` after the base); ``checks.parsers.rpmver``."""
    return evr_compare(a, b)


@lru_cache(maxsize=65536)
def rpm_version_newer(a: str, b: str) -> bool:
    """True when rpm EVR ``a`` sorts after ``b``; a malformed version is never newer."""
    try:
        return rpm_evr_compare(a, b) > 0
    except (ValueError, TypeError):
        return False
