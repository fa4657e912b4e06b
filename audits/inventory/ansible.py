"""Plain Ansible YAML inventories (``all:``/``children:``/``hosts:``/``vars:``) as campus inventories.

Group variables inherit down the group tree (a child group wins over its parent, host vars win
over groups), like Ansible. Connection variables map to our settings: ``ansible_host`` → address,
``ansible_port`` → port, ``ansible_user`` → user, ``ansible_ssh_private_key_file`` → key_file,
``ansible_connection`` (local/ssh/paramiko) → connection, ``ansible_become`` → sudo, and a
``ProxyJump``/``-J`` in ``ansible_ssh_common_args`` → jump. Campus variables: ``school``,
``district``, ``mlps_level``. Without a ``school`` variable, a host's school is the top-level group
(a direct child of ``all``) it belongs to. Other variables belong to playbooks and are ignored.
"""
from __future__ import annotations

import re

from audits.inventory.native import TOP_FIELDS
from audits.inventory.validate import Collector, short, valid_address
from audits.model.errors import Problem
from audits.model.inventory import (DEFAULT_SETTINGS, SETTINGS, District, Host, Inventory, School, Source,
                                    merge_settings)
from audits.model.yamlsafe import YMap

GROUP_KEYS = {"hosts", "children", "vars"}
_RANGE = re.compile(r"\[(\d+):(\d+)\]")


def looks_like_ansible(doc) -> bool:
    if not isinstance(doc, dict) or not doc:
        return False
    if "all" in doc:
        return True
    if any(k in TOP_FIELDS for k in doc):
        return False
    return all(isinstance(v, dict) and v and set(v) <= GROUP_KEYS for v in doc.values())


def expand(pattern: str) -> list[str]:
    m = _RANGE.search(pattern)
    if not m:
        return [pattern]
    a, b = m.group(1), m.group(2)
    width = len(a) if a.startswith("0") else 0
    out = []
    for n in range(int(a), int(b) + 1):
        out.extend(expand(pattern[: m.start()] + str(n).zfill(width) + pattern[m.end():]))
    return out


def _map_vars(raw: dict, file, node: YMap, path, col: Collector) -> dict:
    """Translate Ansible variables into our settings and campus keys."""
    out: dict = {}
    for k, v in raw.items():
        line = node.line_of(k) if isinstance(node, YMap) else 0
        if k == "ansible_host":
            out["address"] = v
        elif k == "ansible_port":
            out["port"] = v
        elif k == "ansible_user":
            out["user"] = v
        elif k == "ansible_ssh_private_key_file":
            out["key_file"] = v
        elif k == "ansible_connection":
            out["connection"] = {"local": "local", "ssh": "ssh", "paramiko": "ssh", "smart": "ssh"}.get(v, v)
        elif k == "ansible_become":
            out["sudo"] = bool(v)
        elif k == "ansible_ssh_common_args" and isinstance(v, str):
            m = re.search(r"(?:-J\s*|ProxyJump=)(\S+)", v)
            if m:
                out["jump"] = m.group(1).strip("'\"")
        elif k in ("school", "district"):
            out[k] = str(v)
        elif k in ("mlps_level", "level"):
            out["level"] = v
        elif k in SETTINGS:
            out[k] = v
        else:
            continue
        out.setdefault("_lines", {})[k] = line
    return out


def build(docs: list[tuple[str, dict]], col: Collector) -> Inventory:
    # host id -> list of (depth, group vars chain) ; collect group tree first
    groups: dict[str, dict] = {}  # name -> {"vars": {...}, "children": [..], "hosts": {name: (vars, file, line)}, "file":..}

    def walk(file, name, node, path):
        g = groups.setdefault(name, {"vars": {}, "children": [], "hosts": {}, "file": file, "line": getattr(node, "line", 1)})
        if node is None:
            return
        if not isinstance(node, YMap):
            col.add(file, getattr(node, "line", 1), path, "an Ansible group must be a mapping")
            return
        for k in node:
            if k not in GROUP_KEYS:
                col.add(file, node.line_of(k), f"{path}.{k}", "unknown group key (expected hosts, children, vars)")
        gv = node.get("vars") or {}
        if not isinstance(gv, dict):
            col.add(file, node.line_of("vars"), f"{path}.vars", "must be a mapping")
        else:
            g["vars"].update(_map_vars(gv, file, gv, f"{path}.vars", col))
        hosts = node.get("hosts") or {}
        if not isinstance(hosts, dict):
            col.add(file, node.line_of("hosts"), f"{path}.hosts", "must be a mapping of host names")
            hosts = {}
        for hname, hv in hosts.items():
            if hv is not None and not isinstance(hv, dict):
                col.add(file, hosts.line_of(hname), f"{path}.hosts.{hname}", "host variables must be a mapping")
                hv = None
            hvars = _map_vars(hv or {}, file, hv, f"{path}.hosts.{hname}", col)
            for h in expand(str(hname)):
                prev = g["hosts"].get(h)
                merged = {**(prev[0] if prev else {}), **hvars}
                g["hosts"][h] = (merged, file, hosts.line_of(hname))
        children = node.get("children") or {}
        if not isinstance(children, dict):
            col.add(file, node.line_of("children"), f"{path}.children", "must be a mapping of groups")
            children = {}
        for cname, cnode in children.items():
            if cname not in g["children"]:
                g["children"].append(cname)
            walk(file, cname, cnode, f"{path}.children.{cname}")

    for file, doc in docs:
        for top, node in doc.items():
            walk(file, top, node, top)
    if "all" not in groups:
        groups["all"] = {"vars": {}, "children": [], "hosts": {}, "file": docs[0][0], "line": 1}
        groups["all"]["children"] = [g for g in list(groups) if g != "all"]

    # Every host's chain of groups from 'all' downward, with depth (deeper groups win).
    membership: dict[str, list[tuple[int, str]]] = {}
    host_src: dict[str, tuple[str, int]] = {}
    host_own: dict[str, dict] = {}
    top_group: dict[str, str] = {}

    def visit(name, depth, top, stack, path):
        if name in stack:
            g = groups[name]
            col.add(g["file"], g["line"], name, "group is its own ancestor (cycle in children)")
            return
        g = groups.get(name)
        if g is None:
            return
        path = path + ((depth, name),)
        for h, (hv, f, line) in g["hosts"].items():
            membership.setdefault(h, []).extend(path)  # the group and every ancestor
            host_src.setdefault(h, (f, line))
            host_own[h] = {**host_own.get(h, {}), **hv}
            if top and h not in top_group:
                top_group[h] = top
        for c in g["children"]:
            visit(c, depth + 1, top or c, stack | {name}, path)

    visit("all", 0, None, frozenset(), ())

    schools: dict[str, School] = {}
    districts: dict[str, District] = {}
    hosts: dict[str, Host] = {}
    for hname in membership:
        file, line = host_src[hname]
        chain = sorted(set(membership[hname]))  # shallow first
        layers = [DEFAULT_SETTINGS] + [groups[g]["vars"] for _, g in chain] + [host_own[hname]]
        merged: dict = {}
        for layer in layers:
            merged.update({k: v for k, v in layer.items() if k != "facts"})
            if "facts" in layer and isinstance(layer["facts"], dict):
                merged["facts"] = {**merged.get("facts", {}), **layer["facts"]}
        lines = merged.pop("_lines", {})
        settings = {}
        for k, v in merged.items():
            if k in SETTINGS:
                pred, desc = SETTINGS[k]
                if not pred(v):
                    col.add(file, line, f"{hname}.{k}", f"wrong type or value {short(v)}: expected {desc}")
                    continue
                settings[k] = v
        settings = merge_settings(DEFAULT_SETTINGS, settings)
        address = str(merged.get("address", hname))
        if not valid_address(address):
            col.add(file, lines.get("ansible_host", line), f"{hname}.ansible_host",
                    f"{short(address)} is not an IP address or host name")
        school = merged.get("school") or top_group.get(hname) or "ungrouped"
        district = merged.get("district") or "default"
        level = merged.get("level")
        if level is not None and (not isinstance(level, int) or isinstance(level, bool) or not 1 <= level <= 4):
            col.add(file, line, f"{hname}.mlps_level", f"MLPS level {short(level)} out of range 1-4")
            level = None
        if level is None:
            col.warnings.append(Problem(file, line, f"{hname}.mlps_level",
                                        f"host '{hname}' declares no mlps_level; judged as level 2"))
            level = 2
        if school not in schools:
            schools[school] = School(school, school, district, {}, [], Source(file, line))
            districts.setdefault(district, District(district, district, [], False)).schools.append(school)
        schools[school].hosts.append(hname)
        hosts[hname] = Host(hname, address, school, schools[school].district, [], level, settings,
                            Source(file, line))
    return Inventory("bureau", "", districts, schools, hosts)
