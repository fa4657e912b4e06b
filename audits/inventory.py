"""The inventory model: bureau → districts → schools → systems → hosts, with inherited host settings.

Loads one YAML file or a directory tree of them (one file per school is normal at a bureau),
in the native form or as a plain Ansible YAML inventory (see ``ansible_inventory``), and
validates everything, collecting every problem as ``FILE:LINE: field: message``.
Host settings set at bureau (``defaults``), district, school or host level inherit downward;
the nearest level wins, and ``facts`` merge key by key.
"""
from __future__ import annotations

import difflib
import ipaddress
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from . import yamlsafe
from .errors import InputError, Problem
from .exceptions import Exceptions, parse_entries
from .policies import BackupPolicy, DrPolicy, parse_backup, parse_dr
from .yamlsafe import YList, YMap

CONNECTIONS = ("ssh", "local", "none")
OS_FAMILIES = ("auto", "linux", "debian", "rhel", "windows")
_HOSTNAME = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?)*\.?$")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def _str_list(v):
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


def _positive(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0


def _vault_ref(v):
    return isinstance(v, dict) and set(v) == {"vault"} and isinstance(v["vault"], str) and v["vault"] != ""


# Settings whose value is a secret: only a reference into the vault ({vault: NAME}), never the value.
SECRET_SETTINGS = ("password", "key_passphrase")


# Every host setting: name -> (predicate, description). These may be set at any level.
SETTINGS: dict[str, tuple] = {
    "connection": (lambda v: v in CONNECTIONS, f"one of {', '.join(CONNECTIONS)}"),
    "os": (lambda v: v in OS_FAMILIES, f"one of {', '.join(OS_FAMILIES)}"),
    "user": (lambda v: isinstance(v, str) and v != "", "a user name"),
    "port": (_port, "a port number 1-65535"),
    "key_file": (lambda v: isinstance(v, str), "a path"),
    "password_env": (lambda v: isinstance(v, str) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", v), "an environment variable name"),
    "password": (_vault_ref, "a vault reference {vault: NAME} (a password is never written in the inventory)"),
    "key_passphrase": (_vault_ref, "a vault reference {vault: NAME} for the key file's passphrase"),
    "jump": (lambda v: isinstance(v, str), "a jump host as [user@]host[:port] or a host id"),
    "sudo": (lambda v: isinstance(v, bool), "true or false"),
    "known_hosts": (lambda v: isinstance(v, str), "a path"),
    "host_keys": (_str_list, "a list of pinned public keys ('ssh-ed25519 AAAA...')"),
    "trust_on_first_use": (lambda v: isinstance(v, bool), "true or false"),
    "connect_timeout": (_positive, "a number of seconds"),
    "command_timeout": (_positive, "a number of seconds"),
    "host_timeout": (_positive, "a number of seconds"),
    "roles": (_str_list, "a list of role names"),
    "ports": (lambda v: isinstance(v, list) and all(port_spec(p) for p in v),
              "a list of ports the host is expected to expose (443 or '161/udp')"),
    "facts": (lambda v: isinstance(v, dict), "a mapping of declared facts"),
    # the collector queue that audits the host (`auditctl worker --queue SITE`, `run --dispatch celery`)
    "site": (lambda v: isinstance(v, str) and bool(_ID.match(v)), "a queue name (letters, digits, '.', '_', '-')"),
}
DEFAULT_SETTINGS = {"connection": "ssh", "os": "auto", "port": 22, "sudo": False, "roles": [], "facts": {},
                    "trust_on_first_use": False, "connect_timeout": 10, "command_timeout": 30, "host_timeout": 120}

BUREAU_FIELDS = {"id", "name", "level"}
DISTRICT_FIELDS = {"id", "name", "city", "site", "vars", "schools"}
EXCEPTION_FIELDS = {"waivers", "attestations"}
SCHOOL_FIELDS = {"id", "name", "district", "site", "vars", "systems", "hosts", "networks"} | EXCEPTION_FIELDS
MIN_PREFIX = {4: 16, 6: 112}  # the largest network a school may declare for scanning: /16 (IPv4), /112 (IPv6)
SYSTEM_FIELDS = {"id", "name", "level", "rpo_hours", "rto_hours", "description", "backup", "dr"} | EXCEPTION_FIELDS
HOST_FIELDS = {"id", "address", "name", "school", "systems", "vars", "level"} | set(SETTINGS) | EXCEPTION_FIELDS
TOP_FIELDS = {"bureau", "defaults", "districts", "schools", "school", "hosts", "vault"} | EXCEPTION_FIELDS


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
        """Every ``{vault: NAME}`` reference in host settings (audits.vault.VaultRef)."""
        from .vault import VaultRef

        return sorted({v for h in self.hosts.values() for v in h.settings.values() if isinstance(v, VaultRef)},
                      key=lambda r: (r.file, r.line, r.name))

    def select(self, pattern: str | None) -> list[Host]:
        """Hosts matching --limit: comma-separated host ids, school ids, district ids or shell globs."""
        if not pattern:
            return list(self.hosts.values())
        from fnmatch import fnmatchcase

        pats = [p.strip() for p in pattern.split(",") if p.strip()]
        out = []
        for h in self.hosts.values():
            keys = (h.id, h.address, h.school, h.district, *h.settings["roles"])
            if any(fnmatchcase(k, p) for p in pats for k in keys):
                out.append(h)
        return out


# ---------------------------------------------------------------------------------------------
class _Collector:
    def __init__(self):
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []

    def add(self, file, line, fld, msg):
        self.problems.append(Problem(str(file), int(line), fld, msg))


def did_you_mean(word: str, choices) -> str:
    m = difflib.get_close_matches(str(word), sorted(choices), n=1, cutoff=0.6)
    return f" (did you mean '{m[0]}'?)" if m else ""


def valid_address(addr) -> bool:
    if not isinstance(addr, str) or not addr:
        return False
    try:
        ipaddress.ip_address(addr)
        return True
    except ValueError:
        pass
    if re.fullmatch(r"[0-9.]+", addr):  # looks numeric but is not an IP (e.g. 10.0.0.300)
        return False
    return bool(_HOSTNAME.match(addr))


class _Builder:
    """Accumulates districts, schools and hosts from one or more native-form files."""

    def __init__(self, col: _Collector):
        self.col = col
        self.bureau: dict = {}
        self.defaults: dict = {}
        self.defaults_src: dict[str, Source] = {}
        self.districts: dict[str, District] = {}
        self.district_vars: dict[str, dict] = {}
        self.schools: dict[str, School] = {}
        self.school_vars: dict[str, dict] = {}
        self.district_ref_line: dict[str, int] = {}
        self.raw_hosts: list[tuple[str, YMap, str, str | None]] = []  # (file, node, path, school)
        self.vault_file: str | None = None
        self.policy_refs: list[tuple] = []  # (file, line, field, school, host id, system or None) to resolve
        self.exceptions = Exceptions()

    def add_exceptions(self, file, node: YMap, path: str, scope: dict | None):
        """A node's ``waivers:``/``attestations:``, scoped to the node unless an entry says otherwise."""
        for kind in ("waiver", "attestation"):
            if f"{kind}s" in node:
                got = parse_entries(node[f"{kind}s"], kind, file, scope, path, self.col.problems)
                self.exceptions = self.exceptions.extend(
                    Exceptions(got, []) if kind == "waiver" else Exceptions([], got))

    # -- generic field checks ----------------------------------------------------------------
    def check_fields(self, file, node: YMap, allowed: set, path: str):
        for k in node:
            if k not in allowed:
                self.col.add(file, node.line_of(k), f"{path}.{k}" if path else str(k),
                             "unknown field" + did_you_mean(k, allowed))

    def need_id(self, file, node: YMap, path: str) -> str | None:
        v = node.get("id")
        if v is None:
            self.col.add(file, node.line, f"{path}.id", "missing required field")
            return None
        if not isinstance(v, (str, int)) or isinstance(v, bool) or not _ID.match(str(v)):
            self.col.add(file, node.line_of("id"), f"{path}.id",
                         "must be letters, digits, '.', '_' or '-' (at most 64)")
            return None
        return str(v)

    def settings(self, file, node, path: str) -> dict:
        """Validate a vars mapping (or a host's own settings) and return the good ones."""
        out: dict = {}
        if node is None:
            return out
        if not isinstance(node, YMap):
            self.col.add(file, getattr(node, "line", 0), path, "must be a mapping")
            return out
        for k, v in node.items():
            kp = f"{path}.{k}"
            if k not in SETTINGS:
                self.col.add(file, node.line_of(k), kp, "unknown setting" + did_you_mean(k, SETTINGS))
                continue
            pred, desc = SETTINGS[k]
            if not pred(v):
                self.col.add(file, node.line_of(k), kp, f"wrong type or value {_short(v)}: expected {desc}")
                continue
            if k in SECRET_SETTINGS:
                from .vault import VaultRef

                v = VaultRef(v["vault"], str(file), node.line_of(k))
            out[k] = v
        return out

    def node_settings(self, file, node: YMap, path: str) -> dict:
        """A district's or school's ``vars``, plus ``site`` written on the node itself (a shorthand)."""
        out = self.settings(file, node.get("vars"), f"{path}.vars")
        if "site" in node:
            own = YMap({"site": node["site"]})
            own.lines, own.line = {"site": node.line_of("site")}, node.line
            out.update(self.settings(file, own, path))
        return out

    def level(self, file, node: YMap, key: str, path: str, required: bool):
        v = node.get(key)
        if v is None:
            if required:
                self.col.add(file, node.line, f"{path}.{key}", "missing required field (MLPS level 1-4)")
            return None
        if not isinstance(v, int) or isinstance(v, bool):
            self.col.add(file, node.line_of(key), f"{path}.{key}", f"wrong type {_short(v)}: expected an integer 1-4")
            return None
        if not 1 <= v <= 4:
            self.col.add(file, node.line_of(key), f"{path}.{key}", f"MLPS level {v} out of range 1-4")
            return None
        return v

    # -- structure ---------------------------------------------------------------------------
    def add_file(self, file: str, doc):
        if doc is None:
            return
        if not isinstance(doc, YMap):
            self.col.add(file, getattr(doc, "line", 1), "(root)", "must be a mapping")
            return
        self.check_fields(file, doc, TOP_FIELDS, "")
        if "bureau" in doc:
            b = doc["bureau"]
            if isinstance(b, YMap):
                self.check_fields(file, b, BUREAU_FIELDS, "bureau")
                self.bureau.update({k: str(v) for k, v in b.items() if k in BUREAU_FIELDS})
            else:
                self.col.add(file, doc.line_of("bureau"), "bureau", "must be a mapping (id, name)")
        if "defaults" in doc:
            for k, v in self.settings(file, doc["defaults"], "defaults").items():
                if k in self.defaults_src:
                    self.col.add(file, doc["defaults"].line_of(k), f"defaults.{k}",
                                 f"already set in {self.defaults_src[k]}")
                    continue
                self.defaults[k] = v
                self.defaults_src[k] = Source(file, doc["defaults"].line_of(k))
        self.add_exceptions(file, doc, "", None)
        if "vault" in doc:
            v = doc["vault"]
            if not isinstance(v, str) or not v:
                self.col.add(file, doc.line_of("vault"), "vault", "wrong type: expected the path of a vault file")
            elif self.vault_file:
                self.col.add(file, doc.line_of("vault"), "vault", f"a vault is already named ({self.vault_file})")
            else:
                self.vault_file = str((Path(file).parent / v).resolve())
        for i, d in enumerate(self._list(file, doc, "districts")):
            self.add_district(file, d, f"districts[{i}]")
        for i, s in enumerate(self._list(file, doc, "schools")):
            self.add_school(file, s, f"schools[{i}]", None)
        if "school" in doc:
            s = doc["school"]
            if isinstance(s, YMap):
                self.add_school(file, s, "school", None)
            else:
                self.col.add(file, doc.line_of("school"), "school", "must be a mapping")
        for i, h in enumerate(self._list(file, doc, "hosts")):
            if isinstance(h, YMap):
                self.raw_hosts.append((file, h, f"hosts[{i}]", None))
            else:
                self.col.add(file, doc["hosts"].line_of(i), f"hosts[{i}]", "must be a mapping")

    def _list(self, file, node: YMap, key: str, path: str = ""):
        if key not in node or node[key] is None:
            return []
        v = node[key]
        p = f"{path}.{key}" if path else key
        if not isinstance(v, YList):
            self.col.add(file, node.line_of(key), p, "wrong type: expected a list")
            return []
        good = []
        for i, item in enumerate(v):
            if isinstance(item, YMap):
                good.append(item)
            else:
                self.col.add(file, v.line_of(i), f"{p}[{i}]", "must be a mapping")
        return good

    def add_district(self, file, node: YMap, path: str):
        self.check_fields(file, node, DISTRICT_FIELDS, path)
        did = self.need_id(file, node, path)
        if did is None:
            return
        if did in self.districts and self.districts[did].declared:
            self.col.add(file, node.line_of("id"), f"{path}.id",
                         f"duplicate district id '{did}' (first defined at {self.districts[did].source})")
            return
        city = node.get("city")
        if city is not None and not (isinstance(city, str) and _ID.match(city)):
            self.col.add(file, node.line_of("city"), f"{path}.city", "must be letters, digits, '.', '_' or '-' (at most 64)")
            city = None
        self.districts[did] = District(did, str(node.get("name", did)), [], True, Source(file, node.line), city or "")
        self.district_vars[did] = self.node_settings(file, node, path)
        for i, s in enumerate(self._list(file, node, "schools", path)):
            self.add_school(file, s, f"{path}.schools[{i}]", did)

    def add_school(self, file, node: YMap, path: str, district: str | None):
        self.check_fields(file, node, SCHOOL_FIELDS, path)
        sid = self.need_id(file, node, path)
        if sid is None:
            return
        if sid in self.schools:
            self.col.add(file, node.line_of("id"), f"{path}.id",
                         f"duplicate school id '{sid}' (first defined at {self.schools[sid].source})")
            return
        d = node.get("district")
        if district is not None and d is not None and str(d) != district:
            self.col.add(file, node.line_of("district"), f"{path}.district",
                         f"school is nested under district '{district}' but says '{d}'")
        dist = district or (str(d) if d is not None else None)
        if dist is None:
            self.col.add(file, node.line, f"{path}.district", "school belongs to no district: nest it under a "
                         "district or set 'district: ID'")
            dist = "(none)"
        school = School(sid, str(node.get("name", sid)), dist, {}, [], Source(file, node.line))
        self.schools[sid] = school
        self.school_vars[sid] = self.node_settings(file, node, path)
        self.district_ref_line[sid] = node.line_of("district")
        self.add_exceptions(file, node, path, {"school": sid})
        school.networks = self.networks(file, node, path)
        for i, sy in enumerate(self._list(file, node, "systems", path)):
            sp = f"{path}.systems[{i}]"
            self.check_fields(file, sy, SYSTEM_FIELDS, sp)
            syid = self.need_id(file, sy, sp)
            lvl = self.level(file, sy, "level", sp, required=True)
            if syid is None:
                continue
            if syid in school.systems:
                self.col.add(file, sy.line_of("id"), f"{sp}.id", f"duplicate system id '{syid}' in school '{sid}'")
                continue
            rpo = self._hours(file, sy, "rpo_hours", sp)
            rto = self._hours(file, sy, "rto_hours", sp)
            backup = dr = None
            if sy.get("backup") is not None:
                backup = parse_backup(sy["backup"], file, f"{sp}.backup", syid, lvl or 0, rpo, self.col.problems)
                for j, hid in enumerate((backup.hosts or ()) if backup else ()):
                    self.policy_refs.append((file, sy["backup"]["hosts"].line_of(j), f"{sp}.backup.hosts[{j}]", sid,
                                             hid, syid))
            if sy.get("dr") is not None:
                dr = parse_dr(sy["dr"], file, f"{sp}.dr", syid, lvl or 0, rpo, rto, self.col.problems)
                if dr and dr.standby and dr.standby.host:
                    self.policy_refs.append((file, sy["dr"]["standby"].line_of("host"), f"{sp}.dr.standby.host", sid,
                                             dr.standby.host, None))
            school.systems[syid] = System(syid, str(sy.get("name", syid)), lvl or 0, sid, rpo, rto, backup, dr)
            self.add_exceptions(file, sy, sp, {"system": syid})
        for i, h in enumerate(self._list(file, node, "hosts", path)):
            self.raw_hosts.append((file, h, f"{path}.hosts[{i}]", sid))

    def networks(self, file, node: YMap, path: str) -> list[str]:
        """A school's ``networks:``: CIDR subnets (no host bits set, at most /16 or /112) the scan may cover."""
        v = node.get("networks")
        if v is None:
            return []
        if not isinstance(v, YList):
            self.col.add(file, node.line_of("networks"), f"{path}.networks", "wrong type: expected a list of subnets "
                         "(e.g. [10.203.0.0/24])")
            return []
        out = []
        for i, item in enumerate(v):
            where, fld = v.line_of(i), f"{path}.networks[{i}]"
            try:
                net = ipaddress.ip_network(str(item), strict=True) if isinstance(item, str) else None
            except ValueError as exc:
                hint = ""
                try:
                    hint = f" (did you mean '{ipaddress.ip_network(str(item), strict=False)}'?)"
                except ValueError:
                    pass
                self.col.add(file, where, fld, f"{_short(item)} is not a subnet: {exc}{hint}")
                continue
            if net is None:
                self.col.add(file, where, fld, f"wrong type {_short(item)}: expected a subnet such as '10.203.0.0/24'")
                continue
            if net.prefixlen < MIN_PREFIX[net.version]:
                self.col.add(file, where, fld, f"{net} is too large to scan: at most /{MIN_PREFIX[net.version]} per "
                             "entry (list several subnets)")
                continue
            out.append(str(net))
        return out

    def _hours(self, file, node, key, path):
        v = node.get(key)
        if v is None:
            return None
        if not _positive(v):
            self.col.add(file, node.line_of(key), f"{path}.{key}", f"wrong type or value {_short(v)}: expected hours > 0")
            return None
        return float(v)

    # -- hosts ---------------------------------------------------------------------------------
    def finish(self) -> Inventory:
        # districts referenced by schools but never declared
        declared_any = any(d.declared for d in self.districts.values())
        for s in self.schools.values():
            if s.district == "(none)":
                continue
            if s.district not in self.districts:
                if declared_any:
                    self.col.add(s.source.file, self.district_ref_line.get(s.id, s.source.line), "district",
                                 f"unknown district '{s.district}'" + did_you_mean(s.district, self.districts))
                self.districts[s.district] = District(s.district, s.district, [], False)
            self.districts[s.district].schools.append(s.id)
        hosts: dict[str, Host] = {}
        for file, node, path, school_id in self.raw_hosts:
            h = self.build_host(file, node, path, school_id, hosts)
            if h:
                hosts[h.id] = h
                self.schools[h.school].hosts.append(h.id)
        self.resolve_policies(hosts)
        return Inventory(self.bureau.get("id", "bureau"), self.bureau.get("name", self.bureau.get("id", "")),
                         self.districts, self.schools, hosts, exceptions=self.exceptions, vault_file=self.vault_file)

    def resolve_policies(self, hosts: dict[str, Host]):
        """Backup ``hosts:`` must serve the system; a DR standby host must exist (its address is filled in)."""
        for file, line, fld, sid, hid, system in self.policy_refs:
            h = hosts.get(hid)
            if system is not None:
                if h is None or system not in h.systems:
                    self.col.add(file, line, fld, f"host '{hid}' does not serve system '{system}'"
                                 + did_you_mean(hid, [x.id for x in hosts.values() if system in x.systems]))
            elif h is None:
                self.col.add(file, line, fld, f"unknown standby host '{hid}'" + did_you_mean(hid, hosts))
        for h in hosts.values():
            drs = []
            for d in h.dr:
                sb = d.standby
                if sb and sb.host == h.id:
                    continue  # the standby is the redundancy; the DR checks judge the primaries
                if sb and sb.host and sb.host in hosts:
                    d = replace(d, standby=replace(sb, address=hosts[sb.host].address))
                drs.append(d)
            h.dr = tuple(drs)

    def build_host(self, file, node: YMap, path, school_id, seen: dict) -> Host | None:
        self.check_fields(file, node, HOST_FIELDS, path)
        hid = self.need_id(file, node, path)
        if hid is None:
            return None
        if hid in seen:
            self.col.add(file, node.line_of("id"), f"{path}.id",
                         f"duplicate host id '{hid}' (first defined at {seen[hid].source})")
            return None
        if school_id is None:
            s = node.get("school")
            if s is None:
                self.col.add(file, node.line, f"{path}.school", f"host '{hid}' is in no school: list it under a "
                             "school's hosts or set 'school: ID'")
                return None
            if str(s) not in self.schools:
                self.col.add(file, node.line_of("school"), f"{path}.school",
                             f"host '{hid}' is in no school: unknown school '{s}'" + did_you_mean(s, self.schools))
                return None
            school_id = str(s)
        elif "school" in node and str(node["school"]) != school_id:
            self.col.add(file, node.line_of("school"), f"{path}.school",
                         f"host is listed under school '{school_id}' but says '{node['school']}'")
        school = self.schools[school_id]
        self.add_exceptions(file, node, path, {"host": hid})
        addr = node.get("address", hid)
        if not valid_address(addr):
            self.col.add(file, node.line_of("address") if "address" in node else node.line_of("id"),
                         f"{path}.address", f"{_short(addr)} is not an IP address or host name")
        own = {k: node[k] for k in SETTINGS if k in node}
        own_map = YMap(own)
        own_map.lines = {k: node.line_of(k) for k in own}
        own_map.line = node.line
        own_settings = self.settings(file, own_map, path)
        own_settings_vars = self.settings(file, node.get("vars"), f"{path}.vars")
        settings = merge_settings(DEFAULT_SETTINGS, self.defaults, self.district_vars.get(school.district, {}),
                                  self.school_vars.get(school_id, {}), own_settings_vars, own_settings)
        systems = node.get("systems", [])
        if not _str_list(systems):
            self.col.add(file, node.line_of("systems"), f"{path}.systems", "wrong type: expected a list of system ids")
            systems = []
        levels = []
        for i, sy in enumerate(systems):
            if sy not in school.systems:
                self.col.add(file, node["systems"].line_of(i), f"{path}.systems[{i}]",
                             f"unknown system '{sy}' in school '{school_id}'" + did_you_mean(sy, school.systems))
            else:
                levels.append(school.systems[sy].level)
        own_level = self.level(file, node, "level", path, required=False)
        level = max(levels) if levels else own_level
        if levels and own_level is not None and own_level != max(levels):
            self.col.add(file, node.line_of("level"), f"{path}.level",
                         f"level {own_level} contradicts the highest level of its systems ({max(levels)})")
        if level is None:
            self.col.warnings.append(Problem(file, node.line, f"{path}.level",
                                             f"host '{hid}' serves no system and declares no level; judged as level 2"))
            level = 2
        district = self.districts.get(school.district)
        mine = [school.systems[sy] for sy in systems if sy in school.systems]
        info = [{"id": sy.id, "name": sy.name, "level": sy.level} for sy in mine]
        return Host(hid, str(addr), school_id, school.district, list(systems), level, settings,
                    Source(file, node.line), str(node.get("name", "")), school.name,
                    district.name if district else school.district, info,
                    backup=tuple(sy.backup for sy in mine if sy.backup and (sy.backup.hosts is None or hid in sy.backup.hosts)),
                    dr=tuple(sy.dr for sy in mine if sy.dr), no_backup=tuple(sy.id for sy in mine if sy.backup is None),
                    no_dr=tuple(sy.id for sy in mine if sy.dr is None and sy.level >= 3),
                    city=(district.city if district else "") or self.bureau.get("id", "bureau"))


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


def _short(v) -> str:
    r = repr(v)
    return r if len(r) <= 60 else r[:57] + "..."


def inventory_files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file()
                      and not any(part.startswith(".") for part in p.relative_to(path).parts))
    return [path]


def load_inventory(path) -> Inventory:
    """Load and validate an inventory file or directory; raise InputError listing every problem."""
    from . import ansible_inventory

    path = Path(path)
    if not path.exists():
        raise InputError([Problem(str(path), 0, "(file)", "no such file or directory")])
    files = inventory_files(path)
    if not files:
        raise InputError([Problem(str(path), 0, "(file)", "no .yaml or .yml files found")])
    col = _Collector()
    docs = []
    for f in files:
        try:
            docs.append((str(f), yamlsafe.load_file(f)))
        except InputError as e:
            col.problems.extend(e.problems)
    native = [(f, d) for f, d in docs if not ansible_inventory.looks_like_ansible(d)]
    ansible = [(f, d) for f, d in docs if ansible_inventory.looks_like_ansible(d)]
    if native and ansible:
        col.add(ansible[0][0], 1, "(root)", "an inventory directory must not mix Ansible and native files")
    if ansible and not native:
        inv = ansible_inventory.build(ansible, col)
    else:
        b = _Builder(col)
        for f, d in native:
            b.add_file(f, d)
        inv = b.finish()
    if col.problems:
        raise InputError(col.problems)
    inv.files = [str(f) for f in files]
    inv.warnings = col.warnings
    return inv
