"""The native inventory form: ``bureau``, ``defaults``, ``districts`` (with nested ``schools``),
``schools``, ``school``, ``hosts``, read file by file into one validated model, collecting every
problem as ``FILE:LINE: field: message``.
"""
from __future__ import annotations

import ipaddress
from dataclasses import replace
from pathlib import Path

from audits.model.declarations import parse_backup, parse_dr
from audits.model.errors import Problem, did_you_mean
from audits.model.inventory import (DEFAULT_SETTINGS, DEVICE_PLATFORMS, IDENTIFIER, PLATFORMS, SECRET_SETTINGS, SETTINGS, District, Host,
                                    Inventory, School, Source, System, VaultRef, is_positive, is_str_list,
                                    merge_settings)
from audits.model.waivers import Exceptions, parse_entries
from audits.model.yamlsafe import YList, YMap

from audits.inventory.validate import Collector, short, valid_address

BUREAU_FIELDS = {"id", "name", "level"}
DISTRICT_FIELDS = {"id", "name", "city", "site", "vars", "schools"}
EXCEPTION_FIELDS = {"waivers", "attestations"}
SCHOOL_FIELDS = {"id", "name", "district", "site", "vars", "systems", "hosts", "networks"} | EXCEPTION_FIELDS
MIN_PREFIX = {4: 16, 6: 112}  # the largest network a school may declare for scanning: /16 (IPv4), /112 (IPv6)
SYSTEM_FIELDS = {"id", "name", "level", "rpo_hours", "rto_hours", "description", "backup", "dr"} | EXCEPTION_FIELDS
HOST_FIELDS = {"id", "address", "name", "school", "systems", "vars", "level"} | set(SETTINGS) | EXCEPTION_FIELDS
TOP_FIELDS = {"bureau", "defaults", "districts", "schools", "school", "hosts", "vault"} | EXCEPTION_FIELDS



class Builder:
    """Accumulates districts, schools and hosts from one or more native-form files."""

    def __init__(self, col: Collector):
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
        if not isinstance(v, (str, int)) or isinstance(v, bool) or not IDENTIFIER.match(str(v)):
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
            if k == "platform" and isinstance(v, str) and v not in PLATFORMS:
                self.col.add(file, node.line_of(k), kp, f"unknown platform '{v}'" + did_you_mean(v, PLATFORMS)
                             + f"; known: {', '.join(PLATFORMS)}")
                continue
            if not pred(v):
                self.col.add(file, node.line_of(k), kp, f"wrong type or value {short(v)}: expected {desc}")
                continue
            if k in SECRET_SETTINGS:
                v = VaultRef(v["vault"], str(file), node.line_of(k))
            if k == "config":
                try:
                    path = (Path(file).parent / Path(v).expanduser()).resolve()
                    found = path.is_file()
                except (OSError, RuntimeError, ValueError):   # a name too long, a symlink loop …
                    path, found = Path(v), False
                if not found:
                    self.col.add(file, node.line_of(k), kp, f"saved configuration {short(v)} is not a file"
                                 f" ({short(str(path))} does not exist or is not a regular file)")
                    continue
                v = str(path)
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
            self.col.add(file, node.line_of(key), f"{path}.{key}", f"wrong type {short(v)}: expected an integer 1-4")
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
        if city is not None and not (isinstance(city, str) and IDENTIFIER.match(city)):
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
                self.col.add(file, where, fld, f"{short(item)} is not a subnet: {exc}{hint}")
                continue
            if net is None:
                self.col.add(file, where, fld, f"wrong type {short(item)}: expected a subnet such as '10.203.0.0/24'")
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
        if not is_positive(v):
            self.col.add(file, node.line_of(key), f"{path}.{key}", f"wrong type or value {short(v)}: expected hours > 0")
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
                         f"{path}.address", f"{short(addr)} is not an IP address or host name")
        own = {k: node[k] for k in SETTINGS if k in node}
        own_map = YMap(own)
        own_map.lines = {k: node.line_of(k) for k in own}
        own_map.line = node.line
        own_settings = self.settings(file, own_map, path)
        own_settings_vars = self.settings(file, node.get("vars"), f"{path}.vars")
        settings = merge_settings(DEFAULT_SETTINGS, self.defaults, self.district_vars.get(school.district, {}),
                                  self.school_vars.get(school_id, {}), own_settings_vars, own_settings)
        if settings.get("config") and settings.get("platform") not in DEVICE_PLATFORMS:
            self.col.add(file, node.line_of("config") if "config" in node else node.line, f"{path}.config",
                         f"a saved configuration is for a network device: set platform to one of {', '.join(DEVICE_PLATFORMS)}")
        systems = node.get("systems", [])
        if not is_str_list(systems):
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
