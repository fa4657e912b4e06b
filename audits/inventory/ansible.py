"""Ansible inventories (YAML and INI) as campus inventories, read the way ``ansible-inventory`` reads them.

Two steps. First the Ansible view (``read``): groups, their children and hosts, host patterns expanded
(``web[01:20]``, ``db-[a:c]``, ``h[0:10:2]``, ``name:port``), plus ``group_vars/`` and ``host_vars/``
beside the inventory (``NAME``, ``NAME.yml``, ``NAME.yaml``, ``NAME.json`` or a directory ``NAME/``),
and each host's variables resolved with Ansible's precedence (``resolve``): group ``all`` in the
inventory < ``group_vars/all`` < other groups in the inventory < their ``group_vars/`` (groups sorted
by depth, ``ansible_group_priority``, name; the later wins) < the host in the inventory < ``host_vars/``.
Values keep Ansible's types: INI values (inline host values and ``[g:vars]``) are Python literals when
they read as one (``22``, ``True``, ``'22'``), else strings (``yes``); YAML values are YAML.

Then the campus view (``build``): connection variables map to settings, coerced as Ansible coerces
them when it connects (``ansible_port: "22"`` → 22, ``ansible_become: "yes"`` → true):
``ansible_host`` (or ``ansible_ssh_host``) → address, ``ansible_port`` → port, ``ansible_user`` →
user, ``ansible_ssh_private_key_file`` → key_file, ``ansible_connection`` (local/ssh/paramiko/smart)
→ connection, ``ansible_become`` → sudo, a ``ProxyJump``/``-J`` in ``ansible_ssh_common_args`` → jump;
our own setting names are honoured too. Campus variables: ``school``, ``district``, ``mlps_level``.
Without a ``school`` variable a host's school is the first top-level group (a child of ``all``) it
belongs to. Every host, school and district id follows the native id rule.
"""
from __future__ import annotations

import ast
import re
import shlex
import string
from dataclasses import dataclass, field
from pathlib import Path

from audits.inventory.native import TOP_FIELDS
from audits.inventory.validate import Collector, short, valid_address
from audits.model import yamlsafe
from audits.model.errors import InputError, Problem
from audits.model.inventory import (DEFAULT_SETTINGS, IDENTIFIER, SETTINGS, District, Host, Inventory, School,
                                    Source, merge_settings)
from audits.model.yamlsafe import YMap

GROUP_KEYS = {"hosts", "children", "vars"}
MAX_PATTERN_HOSTS = 4096     # one host pattern may name at most this many hosts
MAX_INVENTORY_HOSTS = 50_000  # and a whole inventory at most this many
ID_RULE = "must be letters, digits, '.', '_' or '-' (at most 64, starting with a letter or digit)"
TRUE = {"yes", "on", "1", "true", "y", "t"}
FALSE = {"no", "off", "0", "false", "n", "f"}


def looks_like_ansible(doc) -> bool:
    if not isinstance(doc, dict) or not doc:
        return False
    if "all" in doc:
        return True
    if any(k in TOP_FIELDS for k in doc):
        return False
    return all(isinstance(v, dict) and v and set(v) <= GROUP_KEYS for v in doc.values())


def looks_like_ini(path: Path) -> bool:
    """A file Ansible's INI plugin would read: not YAML/JSON by its name."""
    return path.suffix.lower() not in (".yaml", ".yml", ".json")


# -- host patterns ------------------------------------------------------------------------------
class PatternError(ValueError):
    pass


_BRACKET = re.compile(r"\[([^\[\]]*)\]")


def _range_values(spec: str) -> list[str]:
    parts = spec.split(":")
    if len(parts) not in (2, 3):
        raise PatternError(f"range [{spec}] must be [begin:end] or [begin:end:step]")
    beg, end = parts[0] or "0", parts[1]
    step_s = parts[2] if len(parts) == 3 else "1"
    if not end:
        raise PatternError(f"range [{spec}] has no end")
    if not step_s.isdigit() or int(step_s) < 1:
        raise PatternError(f"range [{spec}]: the step must be a positive integer")
    step = int(step_s)
    letters = string.ascii_letters
    if len(beg) == 1 and len(end) == 1 and beg in letters and end in letters:
        a, b = letters.index(beg), letters.index(end)
        if a > b:
            raise PatternError(f"range [{spec}]: begin is after end")
        return list(letters[a:b + 1:step])
    if not (beg.isdigit() and end.isdigit()):
        raise PatternError(f"range [{spec}]: begin and end must be numbers or single letters")
    width = len(beg) if beg.startswith("0") and len(beg) > 1 else 0
    if width and len(end) != width:
        raise PatternError(f"range [{spec}]: a zero-padded begin and its end must have the same width")
    a, b = int(beg), int(end)
    if a > b:
        raise PatternError(f"range [{spec}]: begin is after end")
    count = (b - a) // step + 1
    if count > MAX_PATTERN_HOSTS:
        raise PatternError(f"range [{spec}] names {count} hosts; at most {MAX_PATTERN_HOSTS} per pattern")
    return [str(n).zfill(width) for n in range(a, b + 1, step)]


def split_port(pattern: str) -> tuple[str, int | None]:
    """``name:2222`` or ``web[1:3]:2222`` → (name, port); a colon inside brackets is a range."""
    depth, colons = 0, []
    for i, c in enumerate(pattern):
        depth += c == "["
        depth -= c == "]"
        if c == ":" and depth == 0:
            colons.append(i)
    if len(colons) == 1 and pattern[colons[0] + 1:].isdigit():
        return pattern[:colons[0]], int(pattern[colons[0] + 1:])
    return pattern, None


def expand(pattern: str) -> list[str]:
    """Every host a pattern names, bounded: PatternError past MAX_PATTERN_HOSTS (nothing is expanded first)."""
    pieces, pos, values = [], 0, []
    for m in _BRACKET.finditer(pattern):
        if ":" not in m.group(1):
            continue  # not a range (Ansible leaves it as it is)
        pieces.append(pattern[pos:m.start()])
        values.append(_range_values(m.group(1)))
        pos = m.end()
    pieces.append(pattern[pos:])
    if not values:
        return [pattern]
    total = 1
    for v in values:
        total *= len(v)
        if total > MAX_PATTERN_HOSTS:
            raise PatternError(f"pattern '{pattern[:80]}' names more than {MAX_PATTERN_HOSTS} hosts; at most {MAX_PATTERN_HOSTS} per pattern")
    out = [pieces[0]]
    for v, tail in zip(values, pieces[1:]):
        out = [o + x + tail for o in out for x in v]
    return out


# -- the Ansible view -----------------------------------------------------------------------------
@dataclass
class Group:
    name: str
    file: str
    line: int
    vars: dict = field(default_factory=dict)      # name -> value
    where: dict = field(default_factory=dict)     # name -> (file, line)
    children: list = field(default_factory=list)
    hosts: list = field(default_factory=list)
    priority: int = 1


@dataclass
class HostDef:
    name: str
    file: str
    line: int
    vars: dict = field(default_factory=dict)
    where: dict = field(default_factory=dict)


class View:
    """Groups and hosts as Ansible builds them from one or more inventory sources."""

    def __init__(self, col: Collector):
        self.col = col
        self.groups: dict[str, Group] = {}
        self.hosts: dict[str, HostDef] = {}
        self.extra_vars: dict[tuple[str, str], tuple[dict, dict]] = {}  # ("group"|"host", name) -> (vars, where)

    def group(self, name: str, file: str, line: int) -> Group | None:
        name = str(name)
        if name not in self.groups:
            if not IDENTIFIER.match(name):
                self.col.add(file, line, name, f"group name {short(name)} {ID_RULE}")
                return None
            self.groups[name] = Group(name, file, line)
        return self.groups[name]

    def set_group_var(self, g: Group, k: str, v, file: str, line: int):
        if k == "ansible_group_priority":  # a property of the group, not a variable (as in Ansible)
            if isinstance(v, bool) or not isinstance(_int(v), int):
                self.col.add(file, line, f"{g.name}.{k}", f"wrong type or value {short(v)}: expected an integer")
            else:
                g.priority = _int(v)
            return
        g.vars[k], g.where[k] = v, (file, line)

    def add_child(self, parent: Group, child: Group):
        if child.name not in parent.children:
            parent.children.append(child.name)

    def add_hosts(self, group: Group, pattern, file: str, line: int, hvars: dict, hwhere: dict, fld: str):
        pattern = str(pattern)
        base, port = split_port(pattern)
        try:
            names = expand(base)
        except PatternError as exc:
            self.col.add(file, line, fld, str(exc))
            return
        if len(self.hosts) + len(names) > MAX_INVENTORY_HOSTS:
            self.col.add(file, line, fld, f"the inventory names more than {MAX_INVENTORY_HOSTS} hosts")
            return
        for name in names:
            if not IDENTIFIER.match(name):
                self.col.add(file, line, fld if name == base else f"{fld} ({name})", f"host name {short(name)} {ID_RULE}")
                continue
            h = self.hosts.get(name)
            if h is None:
                h = self.hosts[name] = HostDef(name, file, line)
            if port is not None:
                h.vars["ansible_port"], h.where["ansible_port"] = port, (file, line)
            h.vars.update(hvars)
            h.where.update(hwhere)
            if name not in group.hosts:
                group.hosts.append(name)

    # YAML ----------------------------------------------------------------------------------------
    def read_yaml(self, file: str, doc):
        if not isinstance(doc, YMap):
            self.col.add(file, getattr(doc, "line", 1), "(root)", "an Ansible inventory must be a mapping of groups")
            return
        for name, node in doc.items():
            self._yaml_group(file, name, node, doc.line_of(name), str(name), ())

    def _yaml_group(self, file, name, node, line, path, stack):
        g = self.group(name, file, line)
        if g is None:
            return
        if name in stack:
            self.col.add(file, line, path, "group is its own ancestor (cycle in children)")
            return
        if node is None:
            return
        if not isinstance(node, YMap):
            self.col.add(file, line, path, "an Ansible group must be a mapping (hosts, children, vars)")
            return
        for k in node:
            if k not in GROUP_KEYS:
                self.col.add(file, node.line_of(k), f"{path}.{k}", "unknown group key (expected hosts, children, vars)")
        for key in node:  # in the document's order, as Ansible reads them (a later host definition wins)
            if key == "vars":
                self._yaml_vars(file, g, node, path)
            elif key == "hosts":
                self._yaml_hosts(file, g, node, path)
            elif key == "children":
                self._yaml_children(file, g, node, path, stack)

    def _yaml_vars(self, file, g: Group, node: YMap, path: str):
        gv = node.get("vars")
        if gv is None:
            return
        if not isinstance(gv, YMap):
            self.col.add(file, node.line_of("vars"), f"{path}.vars", "must be a mapping")
            return
        for k, v in gv.items():
            self.set_group_var(g, str(k), v, file, gv.line_of(k))

    def _yaml_hosts(self, file, g: Group, node: YMap, path: str):
        hosts = node.get("hosts")
        if hosts is not None and not isinstance(hosts, YMap):
            self.col.add(file, node.line_of("hosts"), f"{path}.hosts", "must be a mapping of host names")
            return
        for pat, hv in (hosts or {}).items():
            hline = hosts.line_of(pat)
            if hv is not None and not isinstance(hv, YMap):
                self.col.add(file, hline, f"{path}.hosts.{pat}", "host variables must be a mapping")
                hv = None
            hvars = {str(k): v for k, v in (hv or {}).items()}
            hwhere = {str(k): (file, hv.line_of(k)) for k in (hv or {})}
            self.add_hosts(g, pat, file, hline, hvars, hwhere, f"{path}.hosts.{pat}")

    def _yaml_children(self, file, g: Group, node: YMap, path: str, stack: tuple):
        children = node.get("children")
        if children is not None and not isinstance(children, YMap):
            self.col.add(file, node.line_of("children"), f"{path}.children", "must be a mapping of groups")
            return
        for cname, cnode in (children or {}).items():
            c = self.group(cname, file, children.line_of(cname))
            if c is None:
                continue
            self.add_child(g, c)
            self._yaml_group(file, cname, cnode, children.line_of(cname), f"{path}.children.{cname}",
                             stack + (g.name,))

    # INI -----------------------------------------------------------------------------------------
    def read_ini(self, file: str, text: str):
        section, kind = self.group("ungrouped", file, 1), "hosts"
        vars_only: dict[str, int] = {}
        for no, raw in enumerate(text.splitlines(), 1):
            line = raw.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("["):
                m = re.fullmatch(r"\[([^\[\]:]+)(?::([^\[\]]*))?\]\s*(?:[#;].*)?", line)
                if not m:
                    self.col.add(file, no, "(section)", f"not a section header: {short(line)}")
                    section, kind = None, "skip"
                    continue
                name, kind = m.group(1).strip(), (m.group(2) or "hosts").strip()
                if kind not in ("hosts", "vars", "children"):
                    self.col.add(file, no, f"[{name}:{kind}]", "unknown section type (expected :vars or :children)")
                    section, kind = None, "skip"
                    continue
                if kind == "vars" and name not in self.groups:
                    vars_only.setdefault(name, no)
                section = self.group(name, file, no)
                if section is None:
                    kind = "skip"
                continue
            if kind == "skip":
                continue
            if kind == "hosts":
                try:
                    tokens = shlex.split(line, comments=True)
                except ValueError as exc:
                    self.col.add(file, no, f"[{section.name}]", f"cannot split the line: {exc}")
                    continue
                if not tokens:
                    continue
                hvars, hwhere = {}, {}
                for t in tokens[1:]:
                    if "=" not in t:
                        self.col.add(file, no, f"[{section.name}].{tokens[0]}",
                                     f"expected key=value host variable, got {short(t)}")
                        continue
                    k, v = t.split("=", 1)
                    hvars[k], hwhere[k] = _ini_literal(v), (file, no)
                self.add_hosts(section, tokens[0], file, no, hvars, hwhere, f"[{section.name}].{tokens[0]}")
            elif kind == "vars":
                if "=" not in line:
                    self.col.add(file, no, f"[{section.name}:vars]", f"expected key=value, got {short(line)}")
                    continue
                k, v = (p.strip() for p in line.split("=", 1))
                self.set_group_var(section, k, _ini_literal(v), file, no)
            else:
                m = re.fullmatch(r"([^\s:\[\]]+)\s*(?:[#;].*)?", line)
                if not m:
                    self.col.add(file, no, f"[{section.name}:children]", f"not a group name: {short(line)}")
                    continue
                child = self.group(m.group(1), file, no)
                if child is not None:
                    self.add_child(section, child)
        for name, no in vars_only.items():
            g = self.groups.get(name)
            if g is not None and not g.hosts and not g.children and not any(name in o.children for o in self.groups.values()):
                self.col.add(file, no, f"[{name}:vars]", f"variables for group '{name}', which has no section of hosts "
                             "and is no group's child")

    # group_vars/ and host_vars/ ------------------------------------------------------------------------
    def read_vars_dirs(self, base: Path):
        for kind, names in (("group", list(self.groups)), ("host", list(self.hosts))):
            root = base / f"{kind}_vars"
            if not root.is_dir():
                continue
            for name in names:
                files = []
                for ext in ("", ".yml", ".yaml", ".json"):
                    p = root / f"{name}{ext}"
                    if p.is_file():
                        files.append(p)
                    elif p.is_dir() and ext == "":
                        files.extend(sorted(q for q in p.rglob("*") if q.is_file() and not q.name.startswith(".")))
                merged, where = {}, {}
                for p in files:
                    try:
                        doc = yamlsafe.load_file(p)
                    except InputError as e:
                        self.col.problems.extend(e.problems)
                        continue
                    if doc is None:
                        continue
                    if not isinstance(doc, YMap):
                        self.col.add(p, getattr(doc, "line", 1), "(root)", "a vars file must be a mapping")
                        continue
                    for k, v in doc.items():
                        merged[str(k)], where[str(k)] = v, (str(p), doc.line_of(k))
                if files:
                    self.extra_vars[(kind, name)] = (merged, where)

    # the tree ------------------------------------------------------------------------------------
    def finish(self):
        """Ansible's reconciliation: 'all' holds every parentless group; hosts in no group are 'ungrouped'."""
        self._refuse_cycles()
        top = self.groups.setdefault("all", Group("all", "", 1))
        ungrouped = self.groups.setdefault("ungrouped", Group("ungrouped", "", 1))
        parented = {c for g in self.groups.values() for c in g.children}
        for name in list(self.groups):
            if name != "all" and name not in parented:
                self.add_child(top, self.groups[name])
        grouped = {h for n, g in self.groups.items() if n not in ("all", "ungrouped") for h in g.hosts}
        for h in top.hosts:
            if h not in grouped and h not in ungrouped.hosts:
                ungrouped.hosts.append(h)
        top.hosts = []
        ungrouped.hosts = [h for h in ungrouped.hosts if h not in grouped]

    def _refuse_cycles(self):
        """A group that is its own ancestor (through [g:children] or children:) is an error, as in Ansible;
        the link that closes the loop is dropped so that nothing below loops."""
        state: dict[str, int] = {}  # 1 on the current path, 2 done
        for root in list(self.groups):  # iterative depth-first search: a long chain of groups never recurses
            if root in state:
                continue
            state[root] = 1
            stack = [(root, iter(list(self.groups[root].children)))]
            while stack:
                name, it = stack[-1]
                c = next(it, None)
                if c is None:
                    state[name] = 2
                    stack.pop()
                elif state.get(c) == 1:
                    g = self.groups[name]
                    self.col.add(g.file, g.line, name, f"group '{c}' is its own ancestor (cycle in children)")
                    g.children.remove(c)
                elif c not in state and c in self.groups:
                    state[c] = 1
                    stack.append((c, iter(list(self.groups[c].children))))

    def depths(self) -> dict[str, int]:
        depth = {"all": 0}
        order = ["all"]
        for name in order:  # longest path from 'all'; cycles were refused while reading
            for c in self.groups[name].children:
                if depth.get(c, -1) < depth[name] + 1:
                    depth[c] = depth[name] + 1
                    if len(order) < 100_000:
                        order.append(c)
        return depth

    def host_groups(self) -> dict[str, list[str]]:
        parents: dict[str, set] = {}
        for g in self.groups.values():
            for c in g.children:
                parents.setdefault(c, set()).add(g.name)
        out = {}
        for h in self.hosts:
            seen, todo = set(), [g.name for g in self.groups.values() if h in g.hosts]
            while todo:
                n = todo.pop()
                if n not in seen:
                    seen.add(n)
                    todo.extend(parents.get(n, ()))
            seen.add("all")
            out[h] = seen
        return out

    def resolve(self) -> dict[str, tuple[dict, dict]]:
        """Each host's variables as ``ansible-inventory --list`` shows them, and where each value came from."""
        depth = self.depths()
        memberships = self.host_groups()

        out = {}
        for h, names in memberships.items():
            groups = sorted((self.groups[n] for n in names if n != "all"),
                            key=lambda g: (depth.get(g.name, 0), g.priority, g.name))
            layers = [(self.groups["all"].vars, self.groups["all"].where), self.extra_vars.get(("group", "all"))]
            layers += [(g.vars, g.where) for g in groups]
            layers += [self.extra_vars.get(("group", g.name)) for g in groups]
            hd = self.hosts[h]
            layers += [(hd.vars, hd.where), self.extra_vars.get(("host", h))]
            merged, where = {}, {}
            for layer in layers:
                if layer:
                    merged.update(layer[0])
                    where.update(layer[1])
            out[h] = (merged, where)
        return out


def _ini_literal(v: str):
    """An INI inline host value: a Python literal if it reads as one, else the string."""
    try:
        return ast.literal_eval(v)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return v


def read(sources: list[tuple[str, object]], base_dirs: list[Path], col: Collector) -> View:
    """The Ansible view of inventory sources: (file, parsed YAML document) or (file, INI text)."""
    view = View(col)
    for file, doc in sources:
        if isinstance(doc, str):
            view.read_ini(file, doc)
        else:
            view.read_yaml(file, doc)
    view.finish()
    for base in base_dirs:
        view.read_vars_dirs(base)
    return view


# -- the campus view ----------------------------------------------------------------------------
def _bool(v):
    if isinstance(v, bool):
        return v
    if isinstance(v, int) and v in (0, 1):
        return bool(v)
    if isinstance(v, str) and v.strip().lower() in TRUE | FALSE:
        return v.strip().lower() in TRUE
    return v


def _int(v):
    if isinstance(v, str) and re.fullmatch(r"\s*\d{1,6}\s*", v):
        return int(v)
    return v


CONNECTIONS = {"local": "local", "ssh": "ssh", "paramiko": "ssh", "paramiko_ssh": "ssh", "smart": "ssh"}
# Ansible name -> (our setting, coercion); the first name of a pair wins over its old alias.
ANSIBLE_VARS = {
    "ansible_ssh_host": ("address", str), "ansible_host": ("address", str),
    "ansible_ssh_port": ("port", _int), "ansible_port": ("port", _int),
    "ansible_ssh_user": ("user", None), "ansible_user": ("user", None),
    "ansible_ssh_private_key_file": ("key_file", None), "ansible_private_key_file": ("key_file", None),
    "ansible_connection": ("connection", lambda v: CONNECTIONS.get(v, v)),
    "ansible_become": ("sudo", _bool),
}
COERCE = {"sudo": _bool, "trust_on_first_use": _bool, "port": _int, "connect_timeout": _int,
          "command_timeout": _int, "host_timeout": _int}


def to_campus(variables: dict, where: dict) -> tuple[dict, dict]:
    """Ansible variables → (our keys, the Ansible name each came from)."""
    out, origin = {}, {}
    for k, v in variables.items():
        if k in ANSIBLE_VARS:
            ours, conv = ANSIBLE_VARS[k]
            # the modern name wins over its ansible_ssh_ alias whatever the order
            if ours in origin and k.startswith("ansible_ssh_") and not origin[ours].startswith("ansible_ssh_"):
                continue
            out[ours], origin[ours] = (conv(v) if conv else v), k
        elif k == "ansible_ssh_common_args" and isinstance(v, str):
            m = re.search(r"(?:-J\s*|ProxyJump=)(\S+)", v)
            if m:
                out["jump"], origin["jump"] = m.group(1).strip("'\""), k
        elif k in ("school", "district"):
            out[k], origin[k] = v, k
        elif k in ("mlps_level", "level"):
            out["level"], origin["level"] = _int(v), k
        elif k in SETTINGS:
            out[k], origin[k] = (COERCE[k](v) if k in COERCE else v), k
    return out, origin


def build(sources: list[tuple[str, object]], base_dirs: list[Path], col: Collector) -> Inventory:
    view = read(sources, base_dirs, col)
    resolved = view.resolve()
    top_groups = view.groups["all"].children
    first_top: dict[str, str] = {}
    for name in top_groups:
        if name == "ungrouped":
            continue
        stack, seen = [name], set()
        while stack:
            g = stack.pop()
            if g in seen:
                continue
            seen.add(g)
            for h in view.groups[g].hosts:
                first_top.setdefault(h, name)
            stack.extend(view.groups[g].children)

    schools: dict[str, School] = {}
    districts: dict[str, District] = {}
    hosts: dict[str, Host] = {}
    for hname, hd in view.hosts.items():
        variables, where = resolved[hname]
        merged, origin = to_campus(variables, where)
        file, line = hd.file, hd.line

        def at(key):
            return where.get(origin.get(key, ""), (file, line))

        settings = {}
        for k, v in merged.items():
            if k in SETTINGS:
                pred, desc = SETTINGS[k]
                if not pred(v):
                    f, ln = at(k)
                    col.add(f, ln, f"{hname}.{origin[k]}", f"wrong type or value {short(v)}: expected {desc}")
                    continue
                settings[k] = v
        settings = merge_settings(DEFAULT_SETTINGS, settings)
        address = merged.get("address", hname)
        if not valid_address(address):
            f, ln = at("address")
            col.add(f, ln, f"{hname}.{origin.get('address', 'ansible_host')}",
                    f"{short(address)} is not an IP address or host name")
        ids = {}
        for key, default in (("school", first_top.get(hname, "ungrouped")), ("district", "default")):
            v = merged.get(key, default)
            if isinstance(v, bool) or not isinstance(v, (str, int)) or not IDENTIFIER.match(str(v)):
                f, ln = at(key)
                col.add(f, ln, f"{hname}.{key}", f"{key} id {short(v)} {ID_RULE}")
                v = "(invalid)"
            ids[key] = str(v)
        school, district = ids["school"], ids["district"]
        level = merged.get("level")
        if level is not None and (not isinstance(level, int) or isinstance(level, bool) or not 1 <= level <= 4):
            f, ln = at("level")
            col.add(f, ln, f"{hname}.{origin['level']}", f"MLPS level {short(level)} out of range 1-4")
            level = None
        if level is None:
            col.warnings.append(Problem(file, line, f"{hname}.mlps_level",
                                        f"host '{hname}' declares no mlps_level; judged as level 2"))
            level = 2
        if school not in schools:
            schools[school] = School(school, school, district, {}, [], Source(file, line))
            districts.setdefault(district, District(district, district, [], False)).schools.append(school)
        elif schools[school].district != district:
            col.add(file, line, f"{hname}.district", f"school '{school}' is in district '{schools[school].district}' "
                    f"but this host says '{district}'")
        schools[school].hosts.append(hname)
        hosts[hname] = Host(hname, str(address), school, schools[school].district, [], level, settings,
                            Source(file, line))
    return Inventory("bureau", "", districts, schools, hosts)
