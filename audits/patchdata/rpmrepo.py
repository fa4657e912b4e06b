"""RHEL-family repository metadata, read on the auditor's side: ``repodata/repomd.xml`` names the
``updateinfo`` file and its SHA256; ``updateinfo.xml`` lists the errata, of which the security ones
give, per binary package and architecture, the version that fixes it (with the advisory id and
severity). Also the host's ``/etc/yum.repos.d/*.repo`` (baseurl with ``$releasever``/``$basearch``)
and rpm's version order (epoch as a number, then rpmvercmp of version and release; ``~``/``^``).

Pure parsing of bytes it is given; XML through defusedxml (no entities, no DTD tricks). Repositories
without updateinfo (CentOS 7, CentOS Stream) publish no security errata: that is said, never read as
"nothing pending"."""
from __future__ import annotations

import configparser
import hashlib
import re
from dataclasses import dataclass

from defusedxml import ElementTree

from audits.patchdata.debrepo import RepoError, decompress

REPO_NS = "{http://linux.duke.edu/metadata/repo}"
MAX_UPDATEINFO_BYTES = 400 * 1024 * 1024
# Releases whose repositories carry no security errata, and why (shown in the finding).
_STREAM = ("CentOS Stream 不发布 updateinfo（没有安全勘误），无法据此判断待安装的安全更新",
           "CentOS Stream publishes no updateinfo (no security errata): pending security updates cannot be judged")
NO_ERRATA = {("centos", "7"): ("CentOS 7 已于 2024-06-30 停止支持，其软件源从未发布 updateinfo，也不再有安全修复：无法判断待安装的安全更新，"
                               "主机本身即不符合（见 patching.eol_release）",
                               "CentOS 7 reached end of life on 2024-06-30; its repositories never published updateinfo "
                               "and no security fixes are published for it any more: pending security updates cannot be "
                               "judged, and the host itself is out of support (see patching.eol_release)"),
             ("centos", "8"): _STREAM, ("centos", "9"): _STREAM, ("centos", "10"): _STREAM}


def evr_newer(a: str, b: str) -> bool:
    from checks.parsers.packages import rpm_version_newer

    return rpm_version_newer(a, b)


@dataclass(frozen=True)
class Fix:
    """The fixed version of one binary package for one architecture, from one security erratum."""

    evr: str
    advisory: str
    severity: str
    issued: str


def updateinfo_location(repomd: bytes) -> tuple[str, str, int | None]:
    """(href, sha256, size) of the updateinfo file that ``repomd.xml`` names."""
    try:
        root = ElementTree.fromstring(repomd)
    except ElementTree.ParseError as exc:
        raise RepoError(f"repomd.xml is not XML: {exc}") from None
    for data in root.iter(f"{REPO_NS}data"):
        if data.get("type") != "updateinfo":
            continue
        loc = data.find(f"{REPO_NS}location")
        csum = data.find(f"{REPO_NS}checksum")
        size = data.find(f"{REPO_NS}size")
        if loc is None or csum is None or csum.get("type") != "sha256":
            raise RepoError("repomd.xml names updateinfo without a location or a sha256 checksum")
        href = loc.get("href", "")
        if not re.fullmatch(r"[A-Za-z0-9._/-]+", href) or ".." in href:
            raise RepoError(f"repomd.xml names an unusable updateinfo location {href[:100]!r}")
        return href, (csum.text or "").strip().lower(), int(size.text) if size is not None and size.text else None
    raise RepoError("the repository publishes no updateinfo (no security errata)")


def check_updateinfo(data: bytes, sha256: str, size: int | None) -> None:
    if hashlib.sha256(data).hexdigest() != sha256 or (size is not None and len(data) != size):
        raise RepoError("updateinfo: size or SHA256 differs from repomd.xml (a corrupt or substituted file)")


def parse_updateinfo(name: str, data: bytes) -> dict[tuple[str, str], Fix]:
    """(name, arch) → the highest fixed version among the *security* errata."""
    text = decompress(name, data, MAX_UPDATEINFO_BYTES)
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError as exc:
        raise RepoError(f"updateinfo is not XML: {exc}") from None
    out: dict[tuple[str, str], Fix] = {}
    for upd in root.iter("update"):
        if upd.get("type") != "security":
            continue
        adv = (upd.findtext("id") or "").strip()
        sev = (upd.findtext("severity") or "").strip()
        issued = upd.find("issued")
        when = issued.get("date", "") if issued is not None else ""
        for pkg in upd.iter("package"):
            name_, arch = pkg.get("name"), pkg.get("arch")
            if not name_ or not arch or arch == "src":
                continue
            evr = f"{pkg.get('epoch') or '0'}:{pkg.get('version', '')}-{pkg.get('release', '')}"
            key = (name_, arch)
            if key not in out or evr_newer(evr, out[key].evr):
                out[key] = Fix(evr, adv, sev, when)
    return out


@dataclass(frozen=True)
class YumRepo:
    id: str
    baseurl: str
    file: str


def parse_repos(text: str, releasever: str, basearch: str) -> list[YumRepo]:
    """Enabled repositories with a baseurl, from ``grep -Hs '' /etc/yum.repos.d/*.repo`` output;
    ``$releasever``/``$basearch`` substituted (a repo with only a mirrorlist/metalink is skipped)."""
    by_file: dict[str, list[str]] = {}
    for ln in text.splitlines():
        path, sep, line = ln.partition(":")
        if sep:
            by_file.setdefault(path, []).append(line)
    out = []
    for path, lines in by_file.items():
        cp = configparser.ConfigParser(interpolation=None, strict=False)
        try:
            cp.read_string("\n".join(lines))
        except configparser.Error:
            continue
        for section in cp.sections():
            if cp.get(section, "enabled", fallback="1").strip() in ("0", "false", "no"):
                continue
            for url in cp.get(section, "baseurl", fallback="").split():
                url = url.replace("$releasever", releasever).replace("$basearch", basearch).rstrip("/")
                if re.fullmatch(r"(https?|file)://[A-Za-z0-9._~:/%@+-]+", url):
                    out.append(YumRepo(section, url, path))
                    break
    return out
