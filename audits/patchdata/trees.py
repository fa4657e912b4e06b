"""Finding security suites in what an air-gapped site hands over: a mirror tree
(``dists/<suite>/InRelease`` with ``<component>/binary-<arch>/Packages*``), a copy of
``/var/lib/apt/lists`` (``<prefix>_InRelease``, ``<prefix>_<component>_binary-<arch>_Packages*``), and
the safe unpacking of a tar archive of either (regular files and directories only, bounded). Reads
files; verifying and holding them is ``index.py``'s job."""
from __future__ import annotations

import re
import tarfile
from pathlib import Path

from audits.boundedfile import read_bounded

RELEASE_LIMIT = 4 * 1024 * 1024
PACKAGES_LIMIT = 64 * 1024 * 1024


def read(path: Path, limit: int) -> bytes:
    return read_bounded(path, limit, "index file")


def extract(archive: Path, dest: Path, limit: int) -> None:
    """Unpack a tar archive safely: regular files and directories only, inside ``dest``, bounded in total."""
    total = 0
    with tarfile.open(archive) as tf:
        for m in tf.getmembers():
            if not (m.isfile() or m.isdir()):
                continue
            total += m.size
            if total > limit:
                raise ValueError(f"{archive}: unpacks to more than {limit} bytes")
            tf.extract(m, dest, filter="data")


def mirror_suites(root: Path):
    """(where, release files, {Release-relative Packages name: bytes}) per ``dists/<suite>`` in a mirror tree."""
    for rel_file in sorted(list(root.rglob("InRelease")) + list(root.rglob("Release"))):
        d = rel_file.parent
        if rel_file.name == "Release" and (d / "InRelease").exists():
            continue
        if "dists" not in d.parts or (d / "InRelease").is_symlink():
            continue
        rel_files = {n: read(d / n, RELEASE_LIMIT) for n in ("InRelease", "Release", "Release.gpg")
                     if (d / n).is_file()}
        packages = {}
        for p in sorted(d.glob("*/binary-*/Packages*")):
            if p.is_file() and p.name in ("Packages", "Packages.xz", "Packages.gz", "Packages.bz2"):
                packages[str(p.relative_to(d))] = read(p, PACKAGES_LIMIT)
        yield str(d.relative_to(root)), rel_files, packages


def apt_list_suites(root: Path):
    """The same from a copy of /var/lib/apt/lists: ``<prefix>_InRelease`` and ``<prefix>_<comp>_binary-<arch>_Packages``."""
    for rel_file in sorted(list(root.glob("*_InRelease")) + list(root.glob("*_Release"))):
        prefix = rel_file.name.rsplit("_", 1)[0]
        if rel_file.name.endswith("_Release") and (root / f"{prefix}_InRelease").exists():
            continue
        rel_files = {}
        for n in ("InRelease", "Release", "Release.gpg"):
            if (root / f"{prefix}_{n}").is_file():
                rel_files[n] = read(root / f"{prefix}_{n}", RELEASE_LIMIT)
        packages = {}
        for p in sorted(root.glob(f"{prefix}_*_binary-*_Packages*")):
            m = re.fullmatch(re.escape(prefix) + r"_(.+)_binary-([a-z0-9-]+)_(Packages(?:\.xz|\.gz|\.bz2)?)", p.name)
            if m and "_" not in m.group(1):
                packages[f"{m.group(1)}/binary-{m.group(2)}/{m.group(3)}"] = read(p, PACKAGES_LIMIT)
        yield prefix, rel_files, packages
