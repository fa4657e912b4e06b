"""Declared backup and disaster-recovery policies of a system (``backup:`` and ``dr:`` in the
inventory), validated with ``FILE:LINE: field`` problems and applied to the system's hosts.

```yaml
systems:
  - id: portal
    level: 3
    rpo_hours: 24            # the system's recovery point objective (backup and DR use it)
    rto_hours: 8             # recovery time objective (DR drills are judged against it)
    backup:
      hosts: [db01]          # hosts that hold the evidence (default: every host of the system)
      offsite: true          # off-site copy required (default: true at MLPS level 2 and above)
      targets:
        - {path: /srv/backup/portal}                               # local copies (files are listed)
        - {remote: backup@dr.example:/pool/portal, offsite: true,  # a copy elsewhere, with the evidence
           marker: /var/backups/portal.offsite-ok}                 # the copy job leaves on this host
      marker: /var/backups/portal.last-success                     # the job's last-success marker
      listing: {format: restic, file: /var/log/portal-snapshots.json}   # restic | borg | rsync
      schedule: portal-backup              # text that the cron line or systemd timer contains
      restore_test: /var/backups/portal.restore-test               # record of the last restore test
    dr:
      standby: {host: db02, port: 5432}    # or {site: 市教育局灾备中心}
      plan_reviewed: 2026-03-01
      drill: {date: 2026-05-10, achieved_rto_hours: 6}
```

Paths must be absolute; a check quotes every declared string before it reaches a shell.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from audits.model.errors import Problem
from audits.model.waivers import parse_date
from audits.model.yamlsafe import YList, YMap

LISTING_FORMATS = ("restic", "borg", "rsync")
BACKUP_FIELDS = {"hosts", "rpo_hours", "offsite", "targets", "marker", "listing", "schedule", "restore_test"}
TARGET_FIELDS = {"path", "remote", "offsite", "marker", "listing"}
DR_FIELDS = {"standby", "plan_reviewed", "drill"}
STANDBY_FIELDS = {"host", "port", "site"}
DRILL_FIELDS = {"date", "achieved_rto_hours", "scenario"}
DEFAULT_RPO_HOURS = 24.0
# absolute, and no shell syntax, glob characters or whitespace: the path goes into a plain (sudo-able)
# command, and sudo matches a command's arguments joined by spaces, so a space inside a path would let
# the audit account split it into options of its own (`find /x -fprintf FILE TEXT`; issue #18)
_PATH = re.compile(r"^/[^\x00-\x20\x7f-\xa0\s|;&<>`$(){}\\'\"*?\[\]!#,:=]{0,1023}$")
# What a declaration may never name: the audit reads a declared path as root (cat, stat, find), so a
# careless or hostile inventory must not turn the sudoers fragment into a way to read these.
DENIED_PATHS = ("/etc/shadow", "/etc/shadow-", "/etc/gshadow", "/etc/gshadow-", "/etc/sudoers", "/etc/sudoers.d",
                "/etc/ssl/private", "/etc/pki/tls/private", "/etc/ssh/ssh_host_*_key", "/root", "/home/*/.ssh",
                "/home/*/.gnupg", "/var/lib/*/.ssh", "/proc", "/sys", "/dev", "/run/secrets")
DENIED_NAMES = ("id_rsa", "id_dsa", "id_ecdsa", "id_ecdsa_sk", "id_ed25519", "id_ed25519_sk", "*.pem", "*.key", "*_key",
                "*.p12", "*.pfx", "*.jks", "*.keystore")


def path_problem(path: str) -> str | None:
    """Why a declared path cannot be read by the audit as root, or None. Absolute, no whitespace, shell,
    glob or sudoers syntax characters, in its normal form (no '.', '..', '//' components) and not a
    secret (``DENIED_PATHS``, ``DENIED_NAMES``: shadow files, sudoers, private keys)."""
    import fnmatch
    import posixpath

    if not isinstance(path, str) or not _PATH.match(path):
        return "is not an absolute path without whitespace, shell, glob or sudoers syntax characters"
    parts = path.split("/")[1:]
    if path != "/" and (any(p in ("", ".", "..") for p in parts[:-1]) or parts[-1] in (".", "..")
                        or posixpath.normpath(path) != path.rstrip("/")):
        return "is not in its normal form (no '.', '..' or '//' in it)"
    if any(p.startswith("-") for p in parts):
        return "has a part starting with '-' (read as an option by some programs)"
    plain = path.rstrip("/") or "/"
    for denied in DENIED_PATHS:
        if fnmatch.fnmatchcase(plain, denied) or fnmatch.fnmatchcase(plain, denied + "/*"):
            return f"is refused: it is or lies under {denied}, which the audit must never read as root"
    name = plain.rsplit("/", 1)[-1]
    for denied in DENIED_NAMES:
        if fnmatch.fnmatchcase(name, denied):
            return f"is refused: a file named like {denied!r} holds a private key, which the audit must never read"
    return None
_REMOTE = re.compile(r"^[^\x00-\x1f\x7f\s]{1,512}$")


@dataclass(frozen=True)
class Listing:
    format: str
    file: str


@dataclass(frozen=True)
class Target:
    path: str | None = None
    remote: str | None = None
    offsite: bool = False
    marker: str | None = None
    listing: Listing | None = None

    @property
    def name(self) -> str:
        return self.path or self.remote or "?"


@dataclass(frozen=True)
class BackupPolicy:
    system: str
    level: int
    rpo_hours: float
    offsite: bool
    targets: tuple[Target, ...] = ()
    marker: str | None = None
    listing: Listing | None = None
    schedule: str | None = None
    restore_test: str | None = None
    hosts: tuple[str, ...] | None = None  # None: every host of the system


@dataclass(frozen=True)
class Standby:
    host: str | None = None
    address: str | None = None  # resolved from the inventory host
    port: int | None = None
    site: str | None = None


@dataclass(frozen=True)
class DrPolicy:
    system: str
    level: int
    rpo_hours: float | None
    rto_hours: float | None
    standby: Standby | None = None
    plan_reviewed: dt.date | None = None
    drill_date: dt.date | None = None
    drill_rto_hours: float | None = None
    source: str = ""


@dataclass
class _Ctx:
    file: str
    problems: list[Problem] = field(default_factory=list)

    def add(self, node, key, path, msg):
        line = node.line_of(key) if isinstance(node, (YMap, YList)) and key is not None else getattr(node, "line", 0)
        self.problems.append(Problem(self.file, line, path, msg))

    def fields(self, node, allowed, path) -> bool:
        if not isinstance(node, dict):
            self.add(node, None, path, "must be a mapping")
            return False
        for k in node:
            if k not in allowed:
                self.add(node, k, f"{path}.{k}", f"unknown field; known: {', '.join(sorted(allowed))}")
        return True

    def path(self, node, key, path):
        v = node.get(key)
        if v is None:
            return None
        problem = path_problem(v)
        if problem:
            self.add(node, key, f"{path}.{key}", f"{str(v)[:60]!r} {problem}")
            return None
        return v

    def flag(self, node, key, path, default):
        v = node.get(key, default)
        if not isinstance(v, bool):
            self.add(node, key, f"{path}.{key}", "expected true or false")
            return default
        return v

    def hours(self, node, key, path):
        v = node.get(key)
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0:
            self.add(node, key, f"{path}.{key}", f"{str(v)[:40]!r}: expected hours > 0")
            return None
        return float(v)

    def date(self, node, key, path):
        v = node.get(key)
        if v is None:
            return None
        day = parse_date(v)
        if day is None:
            self.add(node, key, f"{path}.{key}", f"{str(v)[:40]!r} is not a date (YYYY-MM-DD)")
        return day

    def listing(self, node, key, path):
        v = node.get(key)
        if v is None:
            return None
        p = f"{path}.{key}"
        if not self.fields(v, {"format", "file"}, p):
            return None
        fmt = v.get("format")
        if fmt not in LISTING_FORMATS:
            self.add(v, "format", f"{p}.format", f"{str(fmt)[:30]!r}: expected one of {', '.join(LISTING_FORMATS)}")
            return None
        f = self.path(v, "file", p)
        if f is None:
            if "file" not in v:
                self.add(v, None, f"{p}.file", "missing required field (the file the backup job writes)")
            return None
        return Listing(fmt, f)


def parse_backup(node, file: str, path: str, system: str, level: int, system_rpo: float | None,
                 problems: list[Problem]) -> BackupPolicy | None:
    c = _Ctx(file)
    try:
        if not c.fields(node, BACKUP_FIELDS, path):
            return None
        hosts = node.get("hosts")
        if hosts is not None and not (isinstance(hosts, list) and all(isinstance(h, str) for h in hosts)):
            c.add(node, "hosts", f"{path}.hosts", "expected a list of host ids")
            hosts = None
        targets = []
        raw = node.get("targets") or []
        if not isinstance(raw, list):
            c.add(node, "targets", f"{path}.targets", "expected a list of {path: ...} or {remote: ...}")
            raw = []
        for i, t in enumerate(raw):
            tp = f"{path}.targets[{i}]"
            if not c.fields(t, TARGET_FIELDS, tp):
                continue
            local, remote = c.path(t, "path", tp), t.get("remote")
            if remote is not None and (not isinstance(remote, str) or not _REMOTE.match(remote)):
                c.add(t, "remote", f"{tp}.remote", "expected a remote target such as user@host:/path or s3://bucket/dir")
                remote = None
            if ("path" in t) == ("remote" in t):
                c.add(t, None, tp, "give exactly one of path or remote")
                continue
            targets.append(Target(local, remote, c.flag(t, "offsite", tp, remote is not None),
                                  c.path(t, "marker", tp), c.listing(t, "listing", tp)))
        schedule = node.get("schedule")
        if schedule is not None and (not isinstance(schedule, str) or not schedule.strip() or len(schedule) > 200):
            c.add(node, "schedule", f"{path}.schedule", "expected the text the cron line or timer name contains")
            schedule = None
        rpo = c.hours(node, "rpo_hours", path) or system_rpo or DEFAULT_RPO_HOURS
        return BackupPolicy(system, level, rpo, c.flag(node, "offsite", path, level >= 2), tuple(targets),
                            c.path(node, "marker", path), c.listing(node, "listing", path), schedule,
                            c.path(node, "restore_test", path), tuple(hosts) if hosts is not None else None)
    finally:
        problems.extend(c.problems)


def parse_dr(node, file: str, path: str, system: str, level: int, rpo: float | None, rto: float | None,
             problems: list[Problem]) -> DrPolicy | None:
    c = _Ctx(file)
    try:
        if not c.fields(node, DR_FIELDS, path):
            return None
        standby = None
        sb = node.get("standby")
        if sb is not None and c.fields(sb, STANDBY_FIELDS, f"{path}.standby"):
            port = sb.get("port")
            if port is not None and (isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535):
                c.add(sb, "port", f"{path}.standby.port", "expected a port number 1-65535")
                port = None
            host, site = sb.get("host"), sb.get("site")
            if (host is None) == (site is None):
                c.add(sb, None, f"{path}.standby", "give exactly one of host (an inventory host id) or site")
            elif host is not None and port is None and "port" not in sb:
                c.add(sb, None, f"{path}.standby.port", "missing: the port of the service the standby must run")
            elif port is not None or site is not None:
                standby = Standby(str(host) if host is not None else None, None, port,
                                  str(site) if site is not None else None)
        drill_date = drill_rto = None
        d = node.get("drill")
        if d is not None and c.fields(d, DRILL_FIELDS, f"{path}.drill"):
            drill_date = c.date(d, "date", f"{path}.drill")
            drill_rto = c.hours(d, "achieved_rto_hours", f"{path}.drill")
            for k in ("date", "achieved_rto_hours"):
                if k not in d:
                    c.add(d, None, f"{path}.drill.{k}", "missing required field")
        return DrPolicy(system, level, rpo, rto, standby, c.date(node, "plan_reviewed", path), drill_date, drill_rto,
                        f"{file}:{getattr(node, 'line', 0)}")
    finally:
        problems.extend(c.problems)


__all__ = ["BackupPolicy", "DrPolicy", "Target", "Listing", "Standby", "parse_backup", "parse_dr", "LISTING_FORMATS"]
