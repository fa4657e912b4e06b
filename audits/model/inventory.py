"""The inventory as data: bureau → districts → schools → systems → hosts, the host settings (what
may be set, its defaults, which are secrets) and how inherited layers merge.

Host settings set at bureau (``defaults``), district, school or host level inherit downward; the
nearest level wins, and ``facts`` merge key by key. Loading and validating files is
``audits.inventory``; this module holds only the types they produce.
"""
from __future__ import annotations

import re
from fnmatch import fnmatchcase
from dataclasses import dataclass, field
from typing import Any

from audits.model.declarations import BackupPolicy, DrPolicy
from audits.model.errors import Problem
from audits.model.waivers import Exceptions

CONNECTIONS = ("ssh", "local", "none")
OS_FAMILIES = ("auto", "linux", "debian", "rhel", "windows")
# Platforms a host may declare (`platform:`); each one is an `audits.run.platforms.Platform`.
# Network devices (checks/parsers/devices): audited live over a read-only CLI session or from a saved
# configuration (`config:`).
DEVICE_PLATFORMS = ("huawei-vrp", "h3c-comware", "ruijie-rgos", "cisco-ios")
PLATFORMS = ("linux",) + DEVICE_PLATFORMS
SEGMENT_ROLE = "network-segment"  # the role of the synthetic per-school host; only school checks apply to it
IDENTIFIER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z")
# A login name: never starting with '-' (it would be read as an ssh option), no spaces or shell syntax.
USER_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.@$-]{0,63}\Z")
# A jump host: [user@]host[:port] or [user@][v6-address][:port] (a host id is a host name here).
JUMP = re.compile(r"^(?:[A-Za-z0-9_][A-Za-z0-9_.$-]{0,63}@)?(?:\[[0-9A-Fa-f:.]{2,45}\]|[A-Za-z0-9_][A-Za-z0-9_.-]{0,252})"
                  r"(?::[0-9]{1,5})?\Z")


def is_str_list(v):
    return isinstance(v, list) and all(isinstance(x, str) for x in v)


def _port(v):
    return isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 65535


def port_spec(v) -> bool:
    """A port a host is expected to expose: 443 (TCP and UDP) or '161/udp'."""
    if _port(v):
        return True
    m = re.fullmatch(r"(\d{1,5})/(tcp|udp)", v) if isinstance(v, str) else None
    return bool(m) and 1 <= int(m.group(1)) <= 65535


def parse_port(value) -> tuple[int | None, str]:
    """A declared port as (number, protocol): 443 -> (443, '') for any protocol, '161/udp' -> (161, 'udp').
    A number that cannot be read gives None (``port_spec`` is what validates inventories)."""
    num, _, proto = str(value).strip().lower().partition("/")
    return (int(num) if num.isdigit() else None), proto


def is_positive(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0


def _vault_ref(v):
    return isinstance(v, dict) and set(v) == {"vault"} and isinstance(v["vault"], str) and v["vault"] != ""


# Settings whose value is a secret: only a reference into the vault ({vault: NAME}), never the value.
SECRET_SETTINGS = ("password", "key_passphrase")


# Every host setting: name -> (predicate, description). These may be set at any level.
SETTINGS: dict[str, tuple] = {
    "platform": (lambda v: v in PLATFORMS, f"one of {', '.join(PLATFORMS)}"),
    "connection": (lambda v: v in CONNECTIONS, f"one of {', '.join(CONNECTIONS)}"),
    "os": (lambda v: v in OS_FAMILIES, f"one of {', '.join(OS_FAMILIES)}"),
    "user": (lambda v: isinstance(v, str) and bool(USER_NAME.match(v)),
             "a user name (letters, digits, '_', '.', '-', '@'; not starting with '-')"),
    "port": (_port, "a port number 1-65535"),
    "key_file": (lambda v: isinstance(v, str), "a path"),
    "password_env": (lambda v: isinstance(v, str) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", v), "an environment variable name"),
    "password": (_vault_ref, "a vault reference {vault: NAME} (a password is never written in the inventory)"),
    "key_passphrase": (_vault_ref, "a vault reference {vault: NAME} for the key file's passphrase"),
    "jump": (lambda v: isinstance(v, str) and bool(JUMP.match(v)), "a jump host as [user@]host[:port] or a host id"),
    # the name of a key in the collector's site configuration (--dispatch celery; a collector never takes a path)
    "key": (lambda v: isinstance(v, str) and bool(IDENTIFIER.match(v)), "a key name of the collector's site configuration"),
    "sudo": (lambda v: isinstance(v, bool), "true or false"),
    "known_hosts": (lambda v: isinstance(v, str), "a path"),
    "host_keys": (is_str_list, "a list of pinned public keys ('ssh-ed25519 AAAA...')"),
    "trust_on_first_use": (lambda v: isinstance(v, bool), "true or false"),
    "connect_timeout": (is_positive, "a number of seconds"),
    "command_timeout": (is_positive, "a number of seconds"),
    "host_timeout": (is_positive, "a number of seconds"),
    # a network device's saved configuration; relative to the inventory file that writes it (made absolute on load)
    "config": (lambda v: isinstance(v, str) and 0 < len(v) <= 4096 and "\x00" not in v,
               "the path of a saved device configuration, relative to the inventory file"),
    "roles": (is_str_list, "a list of role names"),
    "ports": (lambda v: isinstance(v, list) and all(port_spec(p) for p in v),
              "a list of ports the host is expected to expose (443 or '161/udp')"),
    "facts": (lambda v: isinstance(v, dict), "a mapping of declared facts"),
    # the collector queue that audits the host (the collector's site configuration `site:`, `run --dispatch celery`)
    "site": (lambda v: isinstance(v, str) and bool(IDENTIFIER.match(v)), "a queue name (letters, digits, '.', '_', '-')"),
}
DEFAULT_SETTINGS = {"platform": "linux", "connection": "ssh", "os": "auto", "port": 22, "sudo": False, "roles": [], "facts": {},
                    "trust_on_first_use": False, "connect_timeout": 10, "command_timeout": 30, "host_timeout": 120}

@dataclass(frozen=True)
class VaultRef:
    """``password: {vault: NAME}`` in an inventory, before the vault is opened (``audits.trust.vault``)."""

    name: str
    file: str
    line: int

    def __repr__(self) -> str:
        return f"VaultRef({self.name})"


@dataclass(frozen=True)
class Source:
    file: str
    line: int

    def __str__(self):
        return f"{self.file}:{self.line}"


@dataclass
class System:
    id: str
    name: str
    level: int
    school: str
    rpo_hours: float | None = None
    rto_hours: float | None = None
    backup: BackupPolicy | None = None
    dr: DrPolicy | None = None


@dataclass
class Host:
    id: str
    address: str
    school: str
    district: str
    systems: list[str]
    level: int | None
    settings: dict[str, Any]
    source: Source
    name: str = ""
    school_name: str = ""
    district_name: str = ""
    system_info: list[dict] = field(default_factory=list)  # [{id, name, level}] of the systems it serves
    backup: tuple[BackupPolicy, ...] = ()  # the backup policies of its systems that it holds evidence for
    dr: tuple[DrPolicy, ...] = ()          # the DR declarations of its systems
    no_backup: tuple[str, ...] = ()        # its systems that declare no backup policy at all
    no_dr: tuple[str, ...] = ()            # its level-3+ systems that declare no dr: at all
    city: str = ""   # the district's city (a province's bureau rolls districts up by city)

    @property
    def os(self) -> str:
        return self.settings["os"]

    @property
    def roles(self) -> list[str]:
        return list(self.settings["roles"])

    @property
    def facts(self) -> dict[str, Any]:
        return self.settings["facts"]

    @property
    def connection(self) -> str:
        return self.settings["connection"]

    @property
    def platform(self) -> str:
        return self.settings.get("platform", "linux")


@dataclass
class School:
    id: str
    name: str
    district: str
    systems: dict[str, System]
    hosts: list[str]
    source: Source
    networks: list[str] = field(default_factory=list)  # subnets the network view may scan (CIDR)


@dataclass
class District:
    id: str
    name: str
    schools: list[str]
    declared: bool
    source: Source | None = None
    city: str = ""


@dataclass
class Inventory:
    bureau_id: str
    bureau_name: str
    districts: dict[str, District]
    schools: dict[str, School]
    hosts: dict[str, Host]
    files: list[str] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    exceptions: Exceptions = field(default_factory=Exceptions)
    vault_file: str | None = None  # the vault named by a top-level 'vault:' (relative to that file)

    def vault_refs(self) -> list:
        """Every ``{vault: NAME}`` reference in host settings."""
        return sorted({v for h in self.hosts.values() for v in h.settings.values() if isinstance(v, VaultRef)},
                      key=lambda r: (r.file, r.line, r.name))

    def select(self, pattern: str | None) -> list[Host]:
        """Hosts matching --limit: comma-separated host ids, school ids, district ids or shell globs."""
        if not pattern:
            return list(self.hosts.values())

        pats = [p.strip() for p in pattern.split(",") if p.strip()]
        out = []
        for h in self.hosts.values():
            keys = (h.id, h.address, h.school, h.district, *h.settings["roles"])
            if any(fnmatchcase(k, p) for p in pats for k in keys):
                out.append(h)
        return out


def merge_settings(*layers: dict) -> dict:
    """Later layers win; ``facts`` merge key by key."""
    out: dict = {}
    for layer in layers:
        for k, v in layer.items():
            if k == "facts":
                out["facts"] = {**out.get("facts", {}), **dict(v)}
            else:
                out[k] = list(v) if isinstance(v, list) else v
    return out
