"""The auditor's index of security fixes for Debian/Ubuntu: each security suite's verified
``Release`` and ``Packages`` files, held in ``$XDG_CACHE_HOME/auditctl/patches/<dist>/<suite>/``
(default ``~/.cache``), refreshed from a mirror when older than a run allows, or imported from a
directory or tar archive for air-gapped sites.

A held suite has ``meta.json`` (where it came from, the Release ``Date``, when it was last confirmed
current, how the signature was checked), its ``Release``/``InRelease`` as received and the
``Packages`` files as the Release lists them. Loading re-verifies the signature and the SHA256 sums,
so a damaged cache is an error, never an empty index. "As of": a fetched suite is current as of the
moment it was last fetched or confirmed (its Release unchanged); an imported one as of its Release
``Date`` (nothing later is known). Writes are whole or not at all (a new directory renamed into
place under a lock); a Release older than the one held never replaces it.
"""
from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import re
import shutil
import tarfile
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from audits.patchdata import debrepo, fetch, trees
from audits.patchdata.debrepo import Offer, Release, RepoError

MAX_RELEASE_BYTES = 4 * 1024 * 1024
MAX_DOWNLOAD_BYTES = 64 * 1024 * 1024
MAX_IMPORT_BYTES = 2 * 1024 * 1024 * 1024


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "auditctl" / "patches"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def _iso(t: dt.datetime | None) -> str | None:
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ") if t else None


def _parse_iso(s: str | None) -> dt.datetime | None:
    if not s:
        return None
    return dt.datetime.fromisoformat(s.replace("Z", "+00:00"))


def suite_key(suite: str) -> str:
    """A suite name as a directory name: 'bookworm-security' stays, 'buster/updates' → 'buster_updates'."""
    if not re.fullmatch(r"[A-Za-z0-9._/-]{1,80}", suite) or ".." in suite:
        raise ValueError(f"not a suite name: {suite[:80]!r}")
    return suite.replace("/", "_")


@dataclass
class SuiteIndex:
    """One security suite as held: what it offers and since when it is known."""

    dist: str
    suite: str
    release: Release
    offers: dict[tuple[str, str], Offer]
    meta: dict = field(default_factory=dict)

    @property
    def as_of(self) -> dt.datetime:
        return _parse_iso(self.meta.get("checked_at")) or self.release.date

    def lookup(self, name: str, arch: str) -> Offer | None:
        return self.offers.get((name, arch)) or self.offers.get((name, "all"))

    def describe(self) -> dict:
        """What a finding cites about this index."""
        return {"dist": self.dist, "suite": self.suite, "via": self.meta.get("via", ""),
                "source": self.meta.get("source", ""), "release_date": _iso(self.release.date),
                "checked_at": self.meta.get("checked_at"), "as_of": _iso(self.as_of),
                "valid_until": _iso(self.release.valid_until), "signature": self.release.signature,
                "files": sorted(self.meta.get("files", [])), "packages": len(self.offers)}


@dataclass
class RpmIndex:
    """One RPM repository's security errata as held (RHEL family), keyed by release and repository id."""

    release: str          # e.g. 'rocky-9'
    repo: str             # e.g. 'baseos'
    fixes: dict
    meta: dict = field(default_factory=dict)

    @property
    def as_of(self) -> dt.datetime:
        return _parse_iso(self.meta.get("checked_at")) or _parse_iso(self.meta.get("repo_date")) or \
            dt.datetime.fromtimestamp(0, dt.timezone.utc)

    def describe(self) -> dict:
        return {"dist": self.release, "suite": self.repo, "via": self.meta.get("via", ""),
                "source": self.meta.get("source", ""), "release_date": self.meta.get("repo_date"),
                "checked_at": self.meta.get("checked_at"), "as_of": _iso(self.as_of), "valid_until": None,
                "signature": "not verified: RPM repository metadata is unsigned; updateinfo checked against "
                             "repomd.xml's SHA256", "files": sorted(self.meta.get("files", [])),
                "packages": len(self.fixes)}


class IndexError_(Exception):
    """The index cannot give an answer (nothing held, fetch failed, import refused)."""


@contextmanager
def _locked(root: Path):
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


class Store:
    """The held suites under one cache root."""

    def __init__(self, root: Path | None = None):
        self.root = Path(root) if root else cache_root()

    def _dir(self, dist: str, suite: str) -> Path:
        return self.root / re.sub(r"[^a-z0-9._-]", "_", dist.lower()) / suite_key(suite)

    # -- reading --------------------------------------------------------------------------
    def held(self, dist: str, suite: str) -> SuiteIndex | None:
        """The held suite, re-verified; None when nothing is held. A damaged one raises RepoError."""
        d = self._dir(dist, suite)
        if not (d / "meta.json").exists():
            return None
        return self._load(d)

    def _load(self, d: Path) -> SuiteIndex:
        meta = json.loads((d / "meta.json").read_text(encoding="utf-8"))
        rel = _verify_files(d, meta)
        offers: dict[tuple[str, str], Offer] = {}
        for name in meta.get("files", []):
            data = _read(d / name, MAX_DOWNLOAD_BYTES)
            debrepo.check_file(rel, name, data)
            _merge(offers, debrepo.parse_packages(debrepo.decompress(name, data)))
        return SuiteIndex(meta["dist"], meta["suite"], rel, offers, meta)

    def list(self) -> list[dict]:
        """Every held suite's description (or its error), for ``auditctl patches status``."""
        out = []
        for meta_file in sorted(self.root.glob("*/*/meta.json")) + sorted(self.root.glob("rpm/*/*/meta.json")):
            try:
                d = meta_file.parent
                out.append(self.held_rpm(d.parent.name, d.name).describe() if d.parent.parent.name == "rpm"
                           else self._load(d).describe())
            except (OSError, ValueError, KeyError, RepoError) as exc:
                out.append({"dist": meta_file.parent.parent.name, "suite": meta_file.parent.name,
                            "error": f"{type(exc).__name__}: {exc}"[:300]})
        return out

    # -- writing --------------------------------------------------------------------------
    def _put(self, target: Path, files: dict[str, bytes], meta: dict) -> Path:
        """Write a suite's files and meta.json whole into ``target``, replacing what is held."""
        with _locked(self.root):
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
            try:
                for name, data in files.items():
                    p = tmp / name
                    p.parent.mkdir(parents=True, exist_ok=True)
                    p.write_bytes(data)
                (tmp / "meta.json").write_text(json.dumps(meta, indent=1, sort_keys=True), encoding="utf-8")
                old = None
                if target.exists():
                    old = target.parent / f".{target.name}.old"
                    shutil.rmtree(old, ignore_errors=True)
                    os.replace(target, old)
                os.replace(tmp, target)
                if old:
                    shutil.rmtree(old, ignore_errors=True)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
        return target

    def _touch(self, held: SuiteIndex, when: dt.datetime) -> None:
        """Record that the held Release was confirmed current at ``when``."""
        d = self._dir(held.dist, held.suite)
        with _locked(self.root):
            held.meta["checked_at"] = _iso(when)
            tmp = d / ".meta.json.tmp"
            tmp.write_text(json.dumps(held.meta, indent=1, sort_keys=True), encoding="utf-8")
            os.replace(tmp, d / "meta.json")

    # -- fetching -------------------------------------------------------------------------
    def refresh(self, mirror: str, suite: str, components: list[str], archs: list[str], *,
                keyring: str | None = None) -> tuple[SuiteIndex, str]:
        """Bring the suite up to date from ``mirror`` (``…/debian-security``); returns the index and
        what was done ('fetched', 'unchanged', 'kept: the mirror's Release is older')."""
        base = f"{mirror.rstrip('/')}/dists/{suite}"
        inrel = rel = sig = None
        try:
            inrel = fetch.get(f"{base}/InRelease", MAX_RELEASE_BYTES)
        except fetch.FetchError as first:
            try:
                rel = fetch.get(f"{base}/Release", MAX_RELEASE_BYTES)
            except fetch.FetchError:
                raise first from None
            try:
                sig = fetch.get(f"{base}/Release.gpg", MAX_RELEASE_BYTES)
            except fetch.NotFound:
                sig = None
        release = debrepo.verify_release(inrel, rel, sig, keyring=keyring)
        dist = release.dist
        now = _now()
        if release.valid_until is not None and release.valid_until < now:
            # a mirror serving an expired Release is stale or replaying an old signed one: try another
            raise RepoError(f"the mirror's Release expired on {_iso(release.valid_until)} (Valid-Until): a stale "
                            "mirror or a replayed Release")
        held = None
        try:
            held = self.held(dist, suite)
        except (OSError, ValueError, KeyError, RepoError):
            held = None  # a damaged cache is replaced by a good fetch
        wanted = _wanted_files(release, components, archs)
        if held is not None:  # keep what is held for other components/architectures (other hosts of the fleet)
            wanted = sorted(set(wanted) | {n for n in held.meta.get("files", []) if n in release.sha256})
            if release.date < held.release.date:
                return held, f"kept: the mirror's Release ({_iso(release.date)}) is older than the one held"
            if release.date == held.release.date and set(wanted) <= set(held.meta.get("files", [])):
                self._touch(held, now)
                return held, "unchanged"
        files = {}
        for name in wanted:
            data = fetch.get(f"{base}/{name}", MAX_DOWNLOAD_BYTES)
            debrepo.check_file(release, name, data)
            files[name] = data
        meta = {"dist": dist, "suite": suite, "via": "fetched", "source": mirror, "checked_at": _iso(now),
                "release_date": _iso(release.date), "files": sorted(files), "keyring": keyring,
                "allow_unsigned": False}
        files["InRelease" if inrel is not None else "Release"] = inrel if inrel is not None else rel
        if sig is not None:
            files["Release.gpg"] = sig
        self._put(self._dir(dist, suite), files, meta)
        return self.held(dist, suite), "fetched"

    # -- RPM repositories (RHEL family) -----------------------------------------------------
    def _rpm_dir(self, release: str, repo: str) -> Path:
        if not re.fullmatch(r"[a-z0-9._-]{1,40}", release) or not re.fullmatch(r"[A-Za-z0-9._-]{1,80}", repo):
            raise ValueError(f"not a release/repository name: {release[:40]!r}/{repo[:80]!r}")
        return self.root / "rpm" / release / repo.lower()

    def held_rpm(self, release: str, repo: str) -> RpmIndex | None:
        from audits.patchdata import rpmrepo

        d = self._rpm_dir(release, repo)
        if not (d / "meta.json").exists():
            return None
        meta = json.loads((d / "meta.json").read_text(encoding="utf-8"))
        repomd = _read(d / "repomd.xml", MAX_RELEASE_BYTES)
        href, sha, size = rpmrepo.updateinfo_location(repomd)
        name = href.rsplit("/", 1)[-1]
        data = _read(d / name, rpmrepo.MAX_UPDATEINFO_BYTES)
        rpmrepo.check_updateinfo(data, sha, size)
        return RpmIndex(release, repo.lower(), rpmrepo.parse_updateinfo(name, data), meta)

    def _put_rpm(self, release: str, repo: str, repomd: bytes, href: str, data: bytes, meta: dict) -> None:
        name = href.rsplit("/", 1)[-1]
        meta = {**meta, "files": ["repomd.xml", name]}
        self._put(self._rpm_dir(release, repo), {"repomd.xml": repomd, name: data}, meta)

    def refresh_rpm(self, baseurl: str, release: str, repo: str) -> tuple[RpmIndex, str]:
        from audits.patchdata import rpmrepo

        repomd = fetch.get(f"{baseurl.rstrip('/')}/repodata/repomd.xml", MAX_RELEASE_BYTES)
        href, sha, size = rpmrepo.updateinfo_location(repomd)
        now = _now()
        try:
            held = self.held_rpm(release, repo)
        except (OSError, ValueError, KeyError, RepoError):
            held = None
        if held is not None and held.meta.get("updateinfo_sha256") == sha:
            d = self._rpm_dir(release, repo)
            with _locked(self.root):
                held.meta["checked_at"] = _iso(now)
                (d / "meta.json").write_text(json.dumps(held.meta, indent=1, sort_keys=True), encoding="utf-8")
            return held, "unchanged"
        data = fetch.get(f"{baseurl.rstrip('/')}/{href}", rpmrepo.MAX_UPDATEINFO_BYTES)
        rpmrepo.check_updateinfo(data, sha, size)
        self._put_rpm(release, repo, repomd, href, data, {
            "release": release, "repo": repo.lower(), "via": "fetched", "source": baseurl, "checked_at": _iso(now),
            "repo_date": _repomd_date(repomd), "updateinfo_sha256": sha})
        return self.held_rpm(release, repo), "fetched"

    def _import_rpm_trees(self, root: Path, label: str, release: str) -> list[str]:
        from audits.patchdata import rpmrepo

        lines = []
        for repomd_file in sorted(root.rglob("repodata/repomd.xml")):
            repo_dir = repomd_file.parent.parent
            repo = repo_dir.name if repo_dir != root else "repo"
            where = str(repo_dir.relative_to(root)) or "."
            try:
                repomd = _read(repomd_file, MAX_RELEASE_BYTES)
                href, sha, size = rpmrepo.updateinfo_location(repomd)
                f = repo_dir / href
                if not f.is_file():
                    raise RepoError(f"{href} is missing")
                data = _read(f, rpmrepo.MAX_UPDATEINFO_BYTES)
                rpmrepo.check_updateinfo(data, sha, size)
                fixes = rpmrepo.parse_updateinfo(href, data)
                self._put_rpm(release, repo, repomd, href, data, {
                    "release": release, "repo": repo.lower(), "via": "imported", "source": f"{label}:{where}",
                    "checked_at": None, "repo_date": _repomd_date(repomd), "updateinfo_sha256": sha,
                    "imported_at": _iso(_now())})
                lines.append(f"{where}: imported {release} {repo.lower()}, repomd dated {_repomd_date(repomd)}, "
                             f"{len(fixes)} security fixes")
            except (RepoError, ValueError, OSError) as exc:
                lines.append(f"{where}: not imported: {exc}")
        return lines

    # -- importing ------------------------------------------------------------------------
    def import_path(self, path, *, keyring: str | None = None, allow_unsigned: bool = False,
                    replace_newer: bool = False, release: str | None = None) -> list[str]:
        """Import every suite found in ``path``: a mirror tree (``dists/<suite>/InRelease`` and its
        ``<component>/binary-<arch>/Packages*``), a copy of ``/var/lib/apt/lists``, or a tar archive
        (optionally compressed) of either. Returns one line per suite (imported, or why not)."""
        path = Path(path)
        if path.is_file():
            if not tarfile.is_tarfile(path):
                raise IndexError_(f"{path}: not a directory or a tar archive")
            with tempfile.TemporaryDirectory(prefix="auditctl-import-") as tmp:
                trees.extract(path, Path(tmp), MAX_IMPORT_BYTES)
                return self._import_tree(Path(tmp), str(path), keyring, allow_unsigned, replace_newer, release)
        if not path.is_dir():
            raise IndexError_(f"{path}: no such directory or file")
        return self._import_tree(path, str(path), keyring, allow_unsigned, replace_newer, release)

    def _import_tree(self, root: Path, label: str, keyring, allow_unsigned, replace_newer, release=None) -> list[str]:
        found = list(trees.mirror_suites(root)) + list(trees.apt_list_suites(root))
        rpm_trees = list(root.rglob("repodata/repomd.xml"))
        if not found and not rpm_trees:
            raise IndexError_(f"{label}: no dists/<suite>/InRelease or Release, no apt lists (*_InRelease) and no "
                              "repodata/repomd.xml found")
        lines = []
        if rpm_trees:
            if not release or not re.fullmatch(r"[a-z0-9._-]+:[0-9]+(\.[0-9]+)*", release):
                raise IndexError_(f"{label}: RPM repositories need --release ID:MAJOR (e.g. rocky:9, openeuler:22.03), "
                                  "the host's /etc/os-release ID and VERSION_ID")
            lines += self._import_rpm_trees(root, label, rpm_release_key(*release.split(":", 1)))
        for where, rel_files, packages in found:
            try:
                release = debrepo.verify_release(rel_files.get("InRelease"), rel_files.get("Release"),
                                                 rel_files.get("Release.gpg"), keyring=keyring,
                                                 allow_unsigned=allow_unsigned)
                suite = suite_name(release, where)
                files = {}
                for name, data in packages.items():
                    debrepo.check_file(release, name, data)
                    files[name] = data
                if not files:
                    raise RepoError("no Packages file of the Release is present")
                held = None
                try:
                    held = self.held(release.dist, suite)
                except (OSError, ValueError, KeyError, RepoError):
                    pass
                if held is not None and held.release.date > release.date and not replace_newer:
                    lines.append(f"{where}: {release.dist} {suite} dated {_iso(release.date)} not imported: "
                                 f"the held one is newer ({_iso(held.release.date)})")
                    continue
                meta = {"dist": release.dist, "suite": suite, "via": "imported", "source": f"{label}:{where}",
                        "checked_at": None, "release_date": _iso(release.date), "files": sorted(files),
                        "imported_at": _iso(_now()), "keyring": keyring, "allow_unsigned": allow_unsigned}
                for k, v in rel_files.items():
                    files[k] = v
                self._put(self._dir(release.dist, suite), files, meta)
                lines.append(f"{where}: imported {release.dist} {suite}, Release dated {_iso(release.date)}, "
                             f"{len(meta['files'])} Packages file(s), {release.signature}")
            except (RepoError, ValueError, OSError) as exc:
                lines.append(f"{where}: not imported: {exc}")
        return lines


def suite_name(release: Release, where: str = "") -> str:
    """The name hosts use for a suite: Debian ≥ 11 'bookworm-security' (its Codename; its Suite is an
    alias such as 'oldstable-security'), Ubuntu 'jammy-security' (its Suite), Debian ≤ 10
    'buster/updates'."""
    if release.codename.endswith("-security"):
        return release.codename
    if release.suite.endswith("-security") and not re.match(r"(old)*stable|testing|unstable", release.suite):
        return release.suite
    if release.dist == "debian" and ("updates" in where or "Security" in release.text[:2000]):
        return f"{release.codename}/updates"
    return release.codename or release.suite


def rpm_release_key(os_id: str, version_id: str) -> str:
    """'rocky', '9.4' → 'rocky-9'; openEuler keeps its full version ('openeuler-22.03')."""
    os_id = os_id.lower()
    ver = version_id if os_id == "openeuler" else version_id.split(".")[0]
    return f"{os_id}-{ver}"


def _repomd_date(repomd: bytes) -> str | None:
    """repomd.xml's <revision> (epoch seconds) as ISO, else the newest <timestamp>."""
    nums = re.findall(rb"<(?:\w+:)?revision>(\d{9,11})</", repomd) or re.findall(rb"<(?:\w+:)?timestamp>(\d{9,11})</", repomd)
    if not nums:
        return None
    return _iso(dt.datetime.fromtimestamp(max(int(n) for n in nums), dt.timezone.utc))


def _wanted_files(release: Release, components: list[str], archs: list[str]) -> list[str]:
    """The Packages file (preferred compression) of each component × architecture the Release lists."""
    out = []
    for comp in components or ["main"]:
        for arch in archs:
            for name in debrepo.packages_paths(comp, arch):
                if name in release.sha256:
                    out.append(name)
                    break
    if not out:
        raise RepoError(f"the Release lists no Packages file for components {', '.join(components)} and "
                        f"architectures {', '.join(archs)}")
    return out


def _merge(into: dict, more: dict) -> None:
    from debian.debian_support import version_compare

    for key, offer in more.items():
        if key not in into or version_compare(offer.version, into[key].version) > 0:
            into[key] = offer


def _read(path: Path, limit: int) -> bytes:
    from audits.boundedfile import read_bounded

    return read_bounded(path, limit, "index file")


def _verify_files(d: Path, meta: dict) -> Release:
    get = {n: _read(d / n, MAX_RELEASE_BYTES) if (d / n).exists() else None
           for n in ("InRelease", "Release", "Release.gpg")}
    return debrepo.verify_release(get["InRelease"], get["Release"], get["Release.gpg"], keyring=meta.get("keyring"),
                                  allow_unsigned=bool(meta.get("allow_unsigned")))


__all__ = ["Store", "SuiteIndex", "IndexError_", "cache_root", "suite_name"]
