"""Debian/Ubuntu archive metadata, read on the auditor's side: a suite's signed ``InRelease`` (or
``Release`` + ``Release.gpg``) verified with ``gpgv`` and the distribution's keyring, its SHA256
list checked against the ``Packages`` files, the ``Packages`` paragraphs reduced to
(package, architecture) → (version, source), and a host's APT sources (one-line ``sources.list``
and deb822 ``*.sources``) reduced to its security suites.

Everything here reads bytes it is given (or runs ``gpgv`` on them); fetching and caching live in
``fetch.py`` and ``index.py``. Bytes from a mirror or a host are hostile: sizes are bounded by the
callers, parsing never evaluates anything, and a Release that does not verify is refused.
"""
from __future__ import annotations

import bz2
import datetime as dt
import gzip
import hashlib
import io
import lzma
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime

from debian import deb822

# The distribution's archive keyrings (Debian's debian-archive-keyring, Ubuntu's ubuntu-keyring).
KEYRINGS = {"debian": "/usr/share/keyrings/debian-archive-keyring.gpg",
            "ubuntu": "/usr/share/keyrings/ubuntu-archive-keyring.gpg"}
# What one decompressed Packages file may grow to (bookworm-security main amd64: 2.6 MB; Ubuntu
# jammy-security universe amd64 is about 20 MB).
MAX_PACKAGES_BYTES = 200 * 1024 * 1024
COMPRESSIONS = (".xz", ".gz", ".bz2", "")


class RepoError(Exception):
    """Archive metadata that cannot be used: bad signature, wrong checksum, unreadable file."""


@dataclass
class Release:
    """A suite's Release as verified: its fields, SHA256 list and how it was verified."""

    origin: str
    suite: str
    codename: str
    date: dt.datetime
    valid_until: dt.datetime | None
    components: list[str]
    architectures: list[str]
    sha256: dict[str, tuple[str, int]]       # path under dists/SUITE/ → (hex digest, size)
    signature: str                            # e.g. "verified: gpgv, debian-archive-keyring.gpg"
    text: str = field(repr=False, default="")

    @property
    def dist(self) -> str:
        """'debian' or 'ubuntu' (lower-cased Origin), else the Origin as a plain name."""
        return re.sub(r"[^a-z0-9._-]", "_", self.origin.lower()) or "unknown"


def _date(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        d = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    return d if d.tzinfo else d.replace(tzinfo=dt.timezone.utc)


def _gpgv(signed: bytes, keyring: str, detached: bytes | None = None) -> bytes:
    """The signed content as gpgv verified it (clearsigned: the text between the markers)."""
    gpgv = shutil.which("gpgv")
    if gpgv is None:
        raise FileNotFoundError("gpgv")
    with tempfile.TemporaryDirectory(prefix="auditctl-gpgv-") as tmp:
        data = os.path.join(tmp, "Release")
        with open(data, "wb") as fh:
            fh.write(signed)
        if detached is not None:
            sig = os.path.join(tmp, "Release.gpg")
            with open(sig, "wb") as fh:
                fh.write(detached)
            cmd = [gpgv, "--keyring", keyring, sig, data]
        else:
            cmd = [gpgv, "--keyring", keyring, "--output", "-", data]
        res = subprocess.run(cmd, capture_output=True, timeout=60, env={"LC_ALL": "C", "PATH": os.environ.get("PATH", "")})
    if res.returncode != 0:
        why = res.stderr.decode("utf-8", "replace").strip().splitlines()
        raise RepoError("the Release signature does not verify with " + os.path.basename(keyring) + ": "
                        + (why[-1] if why else f"gpgv exit {res.returncode}")[:300])
    return signed if detached is not None else res.stdout


def _guess_dist(text: bytes) -> str:
    m = re.search(rb"^Origin:\s*(\S+)", text, re.M)
    return m.group(1).decode("ascii", "replace").lower() if m else ""


def verify_release(inrelease: bytes | None = None, release: bytes | None = None, release_gpg: bytes | None = None,
                   *, keyring: str | None = None, allow_unsigned: bool = False) -> Release:
    """Verify and parse a suite's Release. ``inrelease`` (clearsigned) is preferred; ``release`` with
    ``release_gpg`` (detached) is the older form. The keyring is the distribution's when none is given;
    when that keyring is not installed the Release is used unverified and says so. A signature that
    does not verify is refused; so is an unsigned Release when a keyring exists, unless
    ``allow_unsigned`` (recorded in ``signature``)."""
    raw = inrelease if inrelease is not None else release
    if raw is None:
        raise RepoError("no InRelease or Release file")
    dist = _guess_dist(raw)
    ring = keyring or KEYRINGS.get(dist)
    signed = inrelease is not None or release_gpg is not None
    if signed and ring and os.path.exists(ring) and shutil.which("gpgv"):
        content = _gpgv(raw, ring, release_gpg if inrelease is None else None)
        signature = f"verified: gpgv, {os.path.basename(ring)}"
    elif signed:
        content = _strip_clearsign(raw) if inrelease is not None else raw
        why = "gpgv is not installed" if not shutil.which("gpgv") else \
            f"no keyring for origin {dist or '?'}" if not ring else f"keyring {ring} is not installed"
        signature = f"not verified: {why}"
    elif allow_unsigned:
        content, signature = raw, "not verified: unsigned Release accepted on request"
    else:
        raise RepoError("the Release is not signed (no InRelease or Release.gpg); refused"
                        + (f" while {os.path.basename(ring)} is installed" if ring and os.path.exists(ring) else ""))
    return parse_release(content.decode("utf-8", "replace"), signature)


def _strip_clearsign(raw: bytes) -> bytes:
    text = raw.decode("utf-8", "replace")
    if "-----BEGIN PGP SIGNED MESSAGE-----" not in text:
        return raw
    body = text.split("\n\n", 1)[1] if "\n\n" in text else text
    body = body.split("-----BEGIN PGP SIGNATURE-----", 1)[0]
    return "\n".join(ln[2:] if ln.startswith("- ") else ln for ln in body.splitlines()).encode()


def parse_release(text: str, signature: str) -> Release:
    rel = deb822.Release(text)
    date = _date(rel.get("Date"))
    if date is None:
        raise RepoError("the Release has no readable Date field")
    sha = {}
    for entry in rel.get("SHA256", []) or []:
        try:
            sha[entry["name"]] = (entry["sha256"].lower(), int(entry["size"]))
        except (KeyError, ValueError):
            continue
    if not sha:
        raise RepoError("the Release has no SHA256 list")
    comps = [c.rsplit("/", 1)[-1] for c in rel.get("Components", "").split()]
    return Release(rel.get("Origin", ""), rel.get("Suite", ""), rel.get("Codename", ""), date,
                   _date(rel.get("Valid-Until")), comps, rel.get("Architectures", "").split(), sha, signature, text)


def packages_paths(component: str, arch: str) -> list[str]:
    """Release-relative names of a component's Packages file, preferred compression first."""
    return [f"{component}/binary-{arch}/Packages{ext}" for ext in COMPRESSIONS]


def check_file(release: Release, name: str, data: bytes) -> None:
    """``data`` is the file ``name`` the Release lists, with the size and SHA256 it lists."""
    want = release.sha256.get(name)
    if want is None:
        raise RepoError(f"{name} is not listed in the Release")
    digest, size = want
    if len(data) != size or hashlib.sha256(data).hexdigest() != digest:
        raise RepoError(f"{name}: size or SHA256 differs from the Release (a corrupt or substituted file)")


def decompress(name: str, data: bytes, limit: int = MAX_PACKAGES_BYTES) -> bytes:
    """Decompress by suffix, never past ``limit`` bytes."""
    if name.endswith(".xz"):
        stream = lzma.LZMAFile(io.BytesIO(data))
    elif name.endswith(".gz"):
        stream = gzip.GzipFile(fileobj=io.BytesIO(data))
    elif name.endswith(".bz2"):
        stream = bz2.BZ2File(io.BytesIO(data))
    else:
        if len(data) > limit:
            raise RepoError(f"{name} is larger than {limit} bytes")
        return data
    try:
        out = stream.read(limit + 1)
    except (OSError, EOFError, lzma.LZMAError) as exc:
        raise RepoError(f"{name}: cannot decompress: {exc}") from None
    if len(out) > limit:
        raise RepoError(f"{name} decompresses to more than {limit} bytes")
    return out


@dataclass(frozen=True)
class Offer:
    """A version a suite offers for one binary package and architecture."""

    version: str
    source: str          # source package name
    source_version: str  # source version ('' when the same as the binary's)


_PACKAGES_FIELDS = ("Package", "Version", "Architecture", "Source")
_FIELD_RE = deb822.Deb822._new_field_re  # python-debian's own "Key: value" rule
# control characters (\r, \v, \f among them) and the other line breaks of str.splitlines (U+0085, U+2028/9)
_CONTROL = re.compile(rb"[\x00-\x08\x0b-\x1f\x7f]")
_BREAKS = (b"\xc2\x85", b"\xe2\x80\xa8", b"\xe2\x80\xa9")


def _plain_paragraphs(data: bytes) -> list[dict[str, str]] | None:
    """The wanted fields of every paragraph of a plain Packages text exactly as
    ``deb822.Packages.iter_paragraphs(…, use_apt_pkg=False, fields=_PACKAGES_FIELDS)`` reads them, in a
    fraction of its time (it builds a case-insensitive dict per paragraph: ~0.3 s per run for a
    security suite). None (the caller then asks python-debian) for anything but the plain form a
    mirror writes: text that is not UTF-8, control characters or other line breaks than LF, lines of
    blanks only, comment or PGP armour lines ('#', '-'),
    a wanted field continued on the next line, or a paragraph with none of the wanted fields (where
    python-debian stops reading)."""
    if data[:1] in (b"#", b"-") or b"\n#" in data or b"\n-" in data or _CONTROL.search(data) \
            or any(b in data for b in _BREAKS):
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    paras: list[dict[str, str]] = []
    para: dict[str, str] = {}
    started = False  # a paragraph has lines (blank lines before the first one are skipped)
    wanted = False   # the last field line was a wanted field
    match, fields = _FIELD_RE.match, _PACKAGES_FIELDS
    for line in text.split("\n"):
        if not line:
            if started:
                if not para:
                    return None
                paras.append(para)
                para, started, wanted = {}, False, False
            continue
        started = True
        if line[0].isspace():  # a continuation line (or, for python-debian, a field named with a non-ASCII space)
            if wanted or not line.strip(" \t"):  # (blanks only: python-debian's reading depends on where they stand)
                return None
            continue
        if line.startswith(fields):
            m = match(line)
            if m:
                wanted = m.group("key") in fields
                if wanted:
                    para[m.group("key")] = m.group("data")
        elif wanted and match(line):  # another field ends the wanted one (a line that is none does not)
            wanted = False
    if started:
        if not para:
            return None
        paras.append(para)
    return paras


def parse_packages(data: bytes) -> dict[tuple[str, str], Offer]:
    """(Package, Architecture) → the highest version the Packages text offers (with its source)."""
    from debian.debian_support import version_compare

    out: dict[tuple[str, str], Offer] = {}
    paras = _plain_paragraphs(data)
    if paras is None:
        paras = deb822.Packages.iter_paragraphs(io.BytesIO(data), use_apt_pkg=False, fields=list(_PACKAGES_FIELDS))
    for para in paras:
        name, version, arch = para.get("Package"), para.get("Version"), para.get("Architecture")
        if not name or not version or not arch:
            continue
        src = (para.get("Source") or name).strip()
        m = re.fullmatch(r"(\S+)\s*\((\S+)\)", src)
        src_name, src_version = (m.group(1), m.group(2)) if m else (src.split()[0], "")
        key = (name.strip(), arch.strip())
        try:
            if key in out and version_compare(version.strip(), out[key].version) <= 0:
                continue
        except ValueError:
            continue
        out[key] = Offer(version.strip(), src_name, src_version)
    return out


# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SourceEntry:
    """One ``deb`` line (or deb822 stanza × suite) of a host's APT sources."""

    uri: str
    suite: str
    components: tuple[str, ...]
    file: str


def parse_sources(text: str) -> list[SourceEntry]:
    """APT sources from the probe's ``path:line`` output (``grep -Hs ''`` over sources.list,
    sources.list.d/*.list and *.sources). Only ``deb`` entries with an http(s)/ftp/file URI; options
    in brackets are skipped; disabled deb822 stanzas (``Enabled: no``) are dropped."""
    by_file: dict[str, list[str]] = {}
    for ln in text.splitlines():
        path, sep, line = ln.partition(":")
        if sep:
            by_file.setdefault(path, []).append(line)
    out: list[SourceEntry] = []
    for path, lines in by_file.items():
        if path.endswith(".sources"):
            out += _deb822_sources(path, lines)
            continue
        for line in lines:
            line = line.split("#", 1)[0].strip()
            line = re.sub(r"\[[^\]]*\]", " ", line)
            parts = line.split()
            if len(parts) >= 3 and parts[0] == "deb" and _uri_ok(parts[1]):
                out.append(SourceEntry(parts[1].rstrip("/"), parts[2], tuple(parts[3:]), path))
    return out


def _uri_ok(uri: str) -> bool:
    """A plain mirror URL (no shell or quoting characters: a host's file is hostile, even if never run)."""
    return bool(re.fullmatch(r"(https?|ftp|file)://[A-Za-z0-9._~:/%@+\[\]-]+", uri)) and len(uri) < 500


def _deb822_sources(path: str, lines: list[str]) -> list[SourceEntry]:
    out = []
    text = "\n".join(ln for ln in lines if not ln.lstrip().startswith("#"))
    for para in deb822.Deb822.iter_paragraphs(text.splitlines()):
        if "deb" not in para.get("Types", "").split() or para.get("Enabled", "yes").strip().lower() == "no":
            continue
        comps = tuple(para.get("Components", "").split())
        for uri in para.get("URIs", "").split():
            if not _uri_ok(uri):
                continue
            for suite in para.get("Suites", "").split():
                out.append(SourceEntry(uri.rstrip("/"), suite, comps, path))
    return out


def security_suite(entry: SourceEntry) -> bool:
    """A security suite: ``*-security`` (Debian ≥ 11, Ubuntu) or ``*/updates`` (Debian ≤ 10)."""
    return entry.suite.endswith("-security") or entry.suite.endswith("/updates")


def os_release(text: str) -> dict[str, str]:
    """/etc/os-release as a dict (quotes removed)."""
    out = {}
    for ln in text.splitlines():
        k, sep, v = ln.partition("=")
        if sep and re.fullmatch(r"[A-Z_]+", k.strip()):
            out[k.strip()] = v.strip().strip("\"'")
    return out


def default_security_suite(osr: dict[str, str]) -> tuple[str, str] | None:
    """(dist, suite) of the security suite for a Debian/Ubuntu release from its os-release."""
    dist = osr.get("ID", "").lower()
    code = osr.get("VERSION_CODENAME") or osr.get("UBUNTU_CODENAME") or ""
    if dist not in ("debian", "ubuntu") or not re.fullmatch(r"[a-z]+", code):
        return None
    if dist == "debian" and osr.get("VERSION_ID", "").isdigit() and int(osr["VERSION_ID"]) <= 10:
        return dist, f"{code}/updates"
    return dist, f"{code}-security"


DEFAULT_MIRRORS = {"debian": "http://deb.debian.org/debian-security", "ubuntu": "http://security.ubuntu.com/ubuntu"}
