"""The dated local vulnerability database (SQLite): what imported feeds say per (release, package, CVE),
and a manifest row per import (source, format, file, sha256, as-of date, record count).

``auditctl vulndb import FILE…`` calls ``VulnDB.import_file`` once per file: the reader is chosen by content
(``sniff``), rows stream in batches inside **one transaction per file** — a refused or broken file leaves
the database as it was. A whole-feed file (the tracker JSON, an OSV dump) replaces everything earlier
imported from its source for the releases it covers (one OVAL file per release); single documents (a CSAF or CVRF file, a directory of them) replace only the
documents they carry. Default location ``$XDG_DATA_HOME/auditctl/vulndb.sqlite``; ``AUDITCTL_VULNDB`` or
``--db`` override it.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import sqlite3
import tarfile
import threading
import zipfile
import operator
from dataclasses import dataclass
from pathlib import Path

from audits.patchdata.feeds import (Advisory, FeedError, FeedInfo, MAX_DOCUMENT, open_feed, read_document)

SCHEMA_VERSION = 1
BATCH = 5000
MAX_MEMBERS = 2_000_000
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS imports (
  id INTEGER PRIMARY KEY, source TEXT NOT NULL, format TEXT NOT NULL, file TEXT NOT NULL, sha256 TEXT NOT NULL,
  as_of TEXT NOT NULL, as_of_basis TEXT NOT NULL, imported_at TEXT NOT NULL, records INTEGER NOT NULL,
  documents INTEGER NOT NULL, full INTEGER NOT NULL, releases TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS advisory (
  source TEXT NOT NULL, release TEXT NOT NULL, pkg TEXT NOT NULL, pkg_kind TEXT NOT NULL, vuln_id TEXT NOT NULL,
  status TEXT NOT NULL, fixed_version TEXT NOT NULL, severity TEXT NOT NULL, advisory_ids TEXT NOT NULL,
  note TEXT NOT NULL, released INTEGER, fix_date TEXT NOT NULL, arches TEXT NOT NULL, doc TEXT NOT NULL,
  import_id INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS advisory_release_pkg ON advisory (release, pkg);
CREATE INDEX IF NOT EXISTS advisory_source_doc ON advisory (source, doc);
"""
COLUMNS = ("source", "release", "pkg", "pkg_kind", "vuln_id", "status", "fixed_version", "severity", "advisory_ids",
           "note", "released", "fix_date", "arches", "doc")
_values = operator.attrgetter(*COLUMNS)


def default_path() -> Path:
    env = os.environ.get("AUDITCTL_VULNDB")
    if env:
        return Path(env)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "auditctl" / "vulndb.sqlite"


@dataclass
class ImportRecord:
    """One manifest row."""
    id: int
    source: str
    format: str
    file: str
    sha256: str
    as_of: str
    as_of_basis: str
    imported_at: str
    records: int
    documents: int
    full: int
    releases: str


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _iso(ts: str) -> str:
    """A feed's date in one form ('2024-03-01T12:00:00Z'); '' when unreadable."""
    s = ts.strip().replace(" ", "T")
    try:
        d = dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        return ""
    if d.tzinfo is None:
        d = d.replace(tzinfo=dt.timezone.utc)
    return d.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _sniff_bytes(data: bytes, name: str) -> str:
    """The format of one document by its content: csaf, osv, cvrf, oval, or tracker (a JSON object of
    source packages)."""
    head = data[:4096].lstrip()
    if head.startswith(b"<"):
        low = head.lower()
        if b"cvrfdoc" in low:
            return "cvrf"
        if b"oval_definitions" in low:
            return "oval"
        raise FeedError(name, 1, "XML", "neither a CVRF nor an OVAL document")
    if head.startswith(b"{"):
        if b'"document"' in head and (b'"csaf_version"' in data[:65536] or b'"vulnerabilities"' in data):
            return "csaf"
        if b'"affected"' in data[:1 << 20] or b'"schema_version"' in head:
            return "osv"
        return "tracker"
    raise FeedError(name, 1, "format", "not JSON or XML")


class VulnDB:
    def __init__(self, path: Path | str | None = None, create: bool = True):
        self.path = Path(path) if path else default_path()
        if not create and not self.path.exists():
            raise FileNotFoundError(str(self.path))
        if create:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if create:
            self.conn = sqlite3.connect(str(self.path), isolation_level=None)
            self.conn.execute("PRAGMA journal_mode=WAL")
        else:  # a run only reads; hosts are matched from several threads, one query at a time
            self.conn = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None,
                                        check_same_thread=False)
        self._lock = threading.Lock()
        if create:
            self.conn.executescript(SCHEMA)
            self.conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        ver = self.conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        if not ver or ver[0] != str(SCHEMA_VERSION):
            raise FeedError(str(self.path), 0, "schema_version", f"database schema {ver[0] if ver else '?'} is not "
                            f"{SCHEMA_VERSION}: import the feeds into a new database")

    def close(self):
        self.conn.close()

    # -- import ---------------------------------------------------------------------------------
    def import_file(self, path: Path | str, *, as_of: str | None = None, fmt: str | None = None) -> ImportRecord:
        """Import one file (or a directory of documents) in one transaction; FeedError leaves nothing."""
        path = Path(path)
        name = str(path)
        if not path.exists():
            raise FeedError(name, 0, "file", "no such file or directory")
        info = FeedInfo()
        formats: set = set()
        c = self.conn
        c.execute("BEGIN IMMEDIATE")
        try:
            c.execute("INSERT INTO imports (source, format, file, sha256, as_of, as_of_basis, imported_at, records, "
                      "documents, full, releases) VALUES ('', '', ?, '', '', '', ?, 0, 0, 0, '')", (name, _now()))
            import_id = c.execute("SELECT last_insert_rowid()").fetchone()[0]
            count, releases, docs_replaced = 0, set(), set()
            batch: list = []
            for row in self._rows(path, info, formats, fmt):
                if not info.full and (row.source, row.doc) not in docs_replaced:
                    c.execute("DELETE FROM advisory WHERE source=? AND doc=? AND import_id<>?",
                              (row.source, row.doc, import_id))
                    docs_replaced.add((row.source, row.doc))
                batch.append(_values(row) + (import_id,))
                releases.add(row.release)
                count += 1
                if len(batch) >= BATCH:
                    self._insert(batch)
                    batch = []
            self._insert(batch)
            if info.documents == 0 or not info.sources:
                raise FeedError(name, 0, "records", "no vulnerability records of a known distribution in this file")
            if info.full:  # a whole feed replaces what was earlier imported from its sources for its releases
                for src in info.sources:
                    for rel in releases:
                        c.execute("DELETE FROM advisory WHERE source=? AND release=? AND import_id<>?",
                                  (src, rel, import_id))
            basis = "document"
            stamp = _iso(as_of) if as_of else _iso(info.as_of)
            if as_of and not stamp:
                raise FeedError(name, 0, "--as-of", f"not a date: {as_of!r}")
            if as_of:
                basis = "given (--as-of)"
            elif not stamp:
                stamp = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
                basis = "file modification time"
            digest = sha256_of(path) if path.is_file() else _dir_digest(path)
            c.execute("UPDATE imports SET source=?, format=?, sha256=?, as_of=?, as_of_basis=?, records=?, documents=?, "
                      "full=?, releases=? WHERE id=?",
                      (",".join(sorted(info.sources)), ",".join(sorted(formats)), digest, stamp, basis, count,
                       info.documents, int(info.full), ",".join(sorted(releases)), import_id))
            c.execute("COMMIT")
            self._sources = None
        except BaseException:
            c.execute("ROLLBACK")
            raise
        return self.imports(import_id)[0]

    def _insert(self, batch):
        if batch:
            self.conn.executemany(f"INSERT INTO advisory ({', '.join(COLUMNS)}, import_id) VALUES "
                                  f"({', '.join('?' * (len(COLUMNS) + 1))})", batch)

    def _rows(self, path: Path, info: FeedInfo, formats: set, fmt: str | None):
        from audits.patchdata.feeds import csaf, cvrf, debian_tracker, osv, oval
        readers = {"csaf": csaf.document_rows, "cvrf": cvrf.document_rows, "osv": osv.document_rows}
        name = str(path)

        def docs():  # (member name, bytes) of a container
            if path.is_dir():
                n = 0
                for p in sorted(path.rglob("*")):
                    if p.is_file() and p.suffix.lower() in (".json", ".xml"):
                        n += 1
                        if n > MAX_MEMBERS:
                            raise FeedError(name, 0, "files", f"more than {MAX_MEMBERS} documents")
                        with open_feed(p) as f:
                            yield str(p), read_document(f, str(p))
            elif zipfile.is_zipfile(path):
                with zipfile.ZipFile(path) as z:
                    for n, zi in enumerate(z.infolist()):
                        if n > MAX_MEMBERS:
                            raise FeedError(name, 0, "members", f"more than {MAX_MEMBERS} documents")
                        if zi.is_dir() or not zi.filename.lower().endswith(".json"):
                            continue
                        if zi.file_size > MAX_DOCUMENT:
                            raise FeedError(f"{name}!{zi.filename[:200]}", 0, "size", "document too large")
                        with z.open(zi) as f:
                            yield f"{name}!{zi.filename[:200]}", read_document(f, zi.filename)
            else:
                with open_feed(path) as raw, tarfile.open(fileobj=raw, mode="r|") as t:
                    for n, ti in enumerate(t):
                        if n > MAX_MEMBERS:
                            raise FeedError(name, 0, "members", f"more than {MAX_MEMBERS} documents")
                        if not ti.isfile() or not ti.name.lower().endswith((".json", ".xml")):
                            continue
                        if ti.size > MAX_DOCUMENT:
                            raise FeedError(f"{name}!{ti.name[:200]}", 0, "size", "document too large")
                        yield f"{name}!{ti.name[:200]}", t.extractfile(ti).read()

        container = path.is_dir() or zipfile.is_zipfile(path) or _is_tar(path)
        if not container:
            with open_feed(path) as f:
                kind = fmt or _sniff_bytes(f.peek(1 << 16), name)
                formats.add(kind)
                if kind == "tracker":
                    yield from debian_tracker.rows(f, name, info)
                elif kind == "oval":
                    yield from oval.rows(f, name, info)
                else:
                    yield from readers[kind](read_document(f, name), name, info)
            return
        info.full = zipfile.is_zipfile(path) or _is_tar(path)  # a dump is a whole feed; a directory a set of docs
        for member, data in docs():
            kind = fmt or _sniff_bytes(data, member)
            if kind not in readers:
                raise FeedError(member, 0, "format", f"a {kind} document cannot be one of many (import it alone)")
            formats.add(kind)
            yield from readers[kind](data, member, info)
        if info.full and "osv" not in formats:
            info.full = False  # a tar of CSAF/CVRF documents is a set of documents, not a whole feed

    # -- queries --------------------------------------------------------------------------------
    def imports(self, import_id: int | None = None) -> list[ImportRecord]:
        q = "SELECT * FROM imports WHERE source<>''" + (" AND id=?" if import_id else "") + " ORDER BY id"
        return [ImportRecord(*r) for r in self.conn.execute(q, (import_id,) if import_id else ())]

    def sources(self) -> list[dict]:
        """Per source and release: records held and the as-of date of the newest import that holds them
        (computed once per open database: a run reads, never writes)."""
        with self._lock:
            if getattr(self, "_sources", None) is None:
                self._sources = self._sources_query()
            return self._sources

    def _sources_query(self) -> list[dict]:
        rows = self.conn.execute(
            "SELECT a.source, a.release, count(*), max(i.as_of), min(i.as_of) FROM advisory a "
            "JOIN imports i ON i.id = a.import_id GROUP BY a.source, a.release ORDER BY a.release, a.source")
        return [{"source": s, "release": r, "records": n, "as_of": newest, "oldest_as_of": oldest}
                for s, r, n, newest, oldest in rows]

    def lookup(self, source: str, release: str, pkgs) -> list[dict]:
        """Rows of one source for one release and the given package names (indexed)."""
        out, names = [], sorted(set(pkgs))
        with self._lock:
            return self._lookup(source, release, names, out)

    def _lookup(self, source, release, names, out):
        for i in range(0, len(names), 500):
            chunk = names[i:i + 500]
            q = (f"SELECT a.*, i.as_of FROM advisory a JOIN imports i ON i.id = a.import_id WHERE a.release=? AND "
                 f"a.source=? AND a.pkg IN ({', '.join('?' * len(chunk))})")
            cur = self.conn.execute(q, (release, source, *chunk))
            cols = [d[0] for d in cur.description]
            out.extend(dict(zip(cols, r)) for r in cur)
        return out


def _is_tar(path: Path) -> bool:
    if not path.is_file():
        return False
    try:
        with open_feed(path) as f:
            block = f.peek(512)[:512]
    except FeedError:
        return False
    return len(block) >= 262 and block[257:262] == b"ustar"


def _dir_digest(path: Path) -> str:
    """sha256 over the sorted (relative name, sha256) of a directory's documents."""
    h = hashlib.sha256()
    for p in sorted(path.rglob("*")):
        if p.is_file() and p.suffix.lower() in (".json", ".xml"):
            h.update(f"{p.relative_to(path)}\0{sha256_of(p)}\n".encode())
    return h.hexdigest()
