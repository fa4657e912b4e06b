"""Loading an inventory: one file or a directory tree (hidden files skipped, sorted order), in the
native form (``audits.inventory.native``) or as an Ansible inventory, YAML or INI, with its
``group_vars/`` and ``host_vars/`` (``audits.inventory.ansible``) — two sources, one model
(``audits.model.inventory``).

A single file whose name does not end in .yaml/.yml/.json is read as an Ansible INI inventory (as
Ansible does); in a directory, ``*.ini`` files are INI. ``group_vars/`` and ``host_vars/`` are never
read as inventory files.
"""
from __future__ import annotations

from pathlib import Path

from audits.inventory import ansible, native
from audits.inventory.validate import Collector
from audits.model import yamlsafe
from audits.model.errors import InputError, Problem
from audits.model.inventory import Inventory

VARS_DIRS = ("group_vars", "host_vars")


def inventory_files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml", ".ini") and p.is_file()
                      and not any(part.startswith(".") or part in VARS_DIRS
                                  for part in p.relative_to(path).parts[:-1])
                      and not p.name.startswith("."))
    return [path]


def _is_ini(f: Path, single: bool) -> bool:
    return f.suffix.lower() == ".ini" or (single and ansible.looks_like_ini(f))


def _read_ini(f: Path) -> str:
    raw = f.read_bytes()
    if len(raw) > yamlsafe.MAX_BYTES:
        raise InputError([Problem(str(f), 1, "(file)", f"larger than {yamlsafe.MAX_BYTES} bytes")])
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError([Problem(str(f), raw[:exc.start].count(b"\n") + 1, "(file)", "not UTF-8 text")]) from None


def _read(path: Path, col: Collector) -> tuple[list[Path], list[tuple[str, object]], set[str]]:
    if not path.exists():
        raise InputError([Problem(str(path), 0, "(file)", "no such file or directory")])
    files = inventory_files(path)
    if not files:
        raise InputError([Problem(str(path), 0, "(file)", "no .yaml, .yml or .ini files found")])
    docs = []
    ini: set[str] = set()
    for f in files:
        try:
            if _is_ini(f, not path.is_dir()):
                docs.append((str(f), _read_ini(f)))
                ini.add(str(f))
            else:
                docs.append((str(f), yamlsafe.load_file(f)))
        except OSError as exc:
            col.add(f, 0, "(file)", f"cannot read: {exc.strerror}")
        except InputError as e:
            col.problems.extend(e.problems)
    return files, docs, ini


def ansible_view(path) -> ansible.View:
    """The Ansible view of an Ansible inventory (groups, hosts, resolved variables); InputError on problems."""
    path = Path(path)
    col = Collector()
    _, docs, _ = _read(path, col)
    view = ansible.read(docs, [path if path.is_dir() else path.parent], col)
    if col.problems:
        raise InputError(col.problems)
    return view


def load_inventory(path) -> Inventory:
    """Load and validate an inventory file or directory; raise InputError listing every problem."""
    path = Path(path)
    col = Collector()
    files, docs, ini = _read(path, col)
    natives = [(f, d) for f, d in docs if f not in ini and not ansible.looks_like_ansible(d)]
    ansibles = [(f, d) for f, d in docs if f in ini or ansible.looks_like_ansible(d)]
    if natives and ansibles:
        col.add(ansibles[0][0], 1, "(root)", "an inventory directory must not mix Ansible and native files")
    if ansibles and not natives:
        inv = ansible.build(ansibles, [path if path.is_dir() else path.parent], col)
    else:
        b = native.Builder(col)
        for f, d in natives:
            b.add_file(f, d)
        inv = b.finish()
    if col.problems:
        raise InputError(col.problems)
    inv.files = [str(f) for f in files]
    inv.warnings = col.warnings
    return inv
