"""Vulnerability feed readers: each module turns one upstream format into ``Advisory`` rows, streaming,
and refuses hostile input with ``FeedError`` (file, line when known, field, message).

``debian_tracker`` (Debian Security Tracker JSON), ``osv`` (OSV records: JSON files, zip or tar dumps),
``csaf`` (Red Hat CSAF VEX), ``cvrf`` (openEuler CVRF), ``oval`` (Ubuntu and Debian OVAL). ``sniff`` picks
the reader of a file by its content. Rows are validated here (bounded strings, known statuses), so the
database holds only what a check may show.
"""
from __future__ import annotations

import bz2
import functools
import gzip
import io
import json
import lzma
import re
from dataclasses import dataclass, field
from pathlib import Path

# Statuses (Trivy's set, plus Debian's tracker notes): what a row says about the package in that release.
STATUSES = ("fixed", "not_affected", "affected", "will_not_fix", "fix_deferred", "end_of_life",
            "under_investigation", "undetermined")
SEVERITIES = ("critical", "high", "medium", "low", "negligible", "unknown")
MAX_DECOMPRESSED = 4 << 30   # a feed larger than this once decompressed is refused (the tracker JSON is ~80 MB)
MAX_DOCUMENT = 64 << 20      # one CSAF/CVRF/OSV document read whole
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:+~-]{0,99}$")
_PKG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+:~^-]{0,199}$")
_VER = re.compile(r"^[A-Za-z0-9.:+~^_-]{1,200}$")


class FeedError(Exception):
    """A feed that cannot be imported: where (file, line or 0) and what (field, message)."""

    def __init__(self, file: str, line: int, field: str, message: str):
        super().__init__(f"{file}:{line}: {field}: {message}")
        self.file, self.line, self.field, self.message = file, line, field, message


@dataclass
class Advisory:
    """One (release, package, vulnerability) fact of a feed."""
    source: str
    release: str                 # 'debian:12', 'ubuntu:22.04', 'rhel:9', 'openeuler:22.03-LTS-SP2', …
    pkg: str
    pkg_kind: str                # 'source' or 'binary'
    vuln_id: str                 # CVE-…, or the feed's own id when there is no CVE
    status: str
    fixed_version: str = ""      # '' when no fix; in the release's own version syntax
    severity: str = "unknown"
    advisory_ids: str = ""       # DSA/DLA/RHSA/USN/openEuler-SA ids, comma-separated
    note: str = ""
    released: int | None = None  # 1: the fix is in the release's archive; 0: fixed upstream, not yet released
    fix_date: str = ""           # ISO date of the fixing advisory, when the feed gives one
    arches: str = ""
    doc: str = ""                # the document the row came from (replaced together on re-import)
    extra: dict = field(default_factory=dict)


@dataclass
class FeedInfo:
    """What a reader learnt about the whole file: its source name(s), date, and whether it is a whole feed
    (replacing everything earlier imported from that source) or single documents (replacing those only)."""
    sources: set = field(default_factory=set)
    as_of: str = ""              # ISO timestamp of the newest document, '' when the format has none
    full: bool = False
    documents: int = 0


def check_row(a: Advisory, file: str, line: int, where: str) -> Advisory:
    """Refuse rows a hostile feed could use to inject odd text or blow sizes up."""
    if not _PKG.match(a.pkg or ""):
        raise FeedError(file, line, f"{where}: package", f"not a package name: {a.pkg[:80]!r}")
    if not _ID.match(a.vuln_id or ""):
        raise FeedError(file, line, f"{where}: id", f"not a vulnerability id: {a.vuln_id[:80]!r}")
    if a.fixed_version and not _VER.match(a.fixed_version):
        raise FeedError(file, line, f"{where}: fixed_version", f"not a version: {a.fixed_version[:80]!r}")
    if a.status not in STATUSES:
        raise FeedError(file, line, f"{where}: status", f"unknown status {a.status!r}")
    if a.severity not in SEVERITIES:
        a.severity = "unknown"
    a.advisory_ids = ",".join(i for i in a.advisory_ids.split(",") if _ID.match(i))[:500]
    a.note = clean_text(a.note, 300)
    return a


def shaped(reader):
    """Wrap a reader (``reader(data_or_stream, name, info)`` yielding rows) so that a document whose shape is not
    the documented one — a list where an object belongs, a number for a name — is a ``FeedError`` naming the
    file, never a crash: every field of a feed is hostile input."""
    @functools.wraps(reader)
    def wrapper(data, name, info):
        try:
            yield from reader(data, name, info)
        except FeedError:
            raise
        except (AttributeError, TypeError, KeyError, IndexError, ValueError) as exc:
            raise FeedError(name, 0, "structure", f"not the documented structure ({type(exc).__name__}: "
                            f"{clean_text(str(exc), 120)})") from None
    return wrapper


def clean_text(s, limit: int) -> str:
    """A feed's free text, single-line, without control characters, bounded."""
    if not isinstance(s, str):
        return ""
    return re.sub(r"[\x00-\x1f\x7f]+", " ", s).strip()[:limit]


class _Capped(io.RawIOBase):
    def __init__(self, raw, limit: int, name: str):
        self.raw, self.left, self.name = raw, limit, name

    def readable(self):
        return True

    def readinto(self, b):
        n = self.raw.readinto(b) if hasattr(self.raw, "readinto") else None
        if n is None:
            data = self.raw.read(len(b))
            n = len(data)
            b[:n] = data
        self.left -= n
        if self.left < 0:
            raise FeedError(self.name, 0, "size", f"larger than {MAX_DECOMPRESSED >> 20} MiB once decompressed")
        return n


def parse_json(data: bytes, name: str):
    """One feed document as JSON, or ``FeedError`` naming the file and line."""
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise FeedError(name, getattr(exc, "lineno", 0) or 0, "JSON", f"not valid JSON: {clean_text(str(exc), 200)}") \
            from None


def open_feed(path: Path):
    """A binary stream of the file, decompressed (gz, bz2, xz) by its magic bytes, capped in size."""
    f = open(path, "rb")
    head = f.read(6)
    f.seek(0)
    if head.startswith(b"\x1f\x8b"):
        inner = gzip.GzipFile(fileobj=f)
    elif head.startswith(b"BZh"):
        inner = bz2.BZ2File(f)
    elif head.startswith(b"\xfd7zXZ\x00"):
        inner = lzma.LZMAFile(f)
    else:
        inner = f
    return io.BufferedReader(_Capped(inner, MAX_DECOMPRESSED, str(path)), 1 << 16)


def read_document(stream, name: str, limit: int = MAX_DOCUMENT) -> bytes:
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise FeedError(name, 0, "size", f"one document larger than {limit >> 20} MiB")
    return data
