"""Loading an inventory: one file or a directory tree (hidden files skipped, sorted order), in the
native form (``audits.inventory.native``) or as a plain Ansible YAML inventory
(``audits.inventory.ansible``) — two sources, one model (``audits.model.inventory``).
"""
from __future__ import annotations

from pathlib import Path

from audits.inventory import ansible, native
from audits.inventory.validate import Collector
from audits.model import yamlsafe
from audits.model.errors import InputError, Problem
from audits.model.inventory import Inventory

def inventory_files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file()
                      and not any(part.startswith(".") for part in p.relative_to(path).parts))
    return [path]


def load_inventory(path) -> Inventory:
    """Load and validate an inventory file or directory; raise InputError listing every problem."""
    path = Path(path)
    if not path.exists():
        raise InputError([Problem(str(path), 0, "(file)", "no such file or directory")])
    files = inventory_files(path)
    if not files:
        raise InputError([Problem(str(path), 0, "(file)", "no .yaml or .yml files found")])
    col = Collector()
    docs = []
    for f in files:
        try:
            docs.append((str(f), yamlsafe.load_file(f)))
        except InputError as e:
            col.problems.extend(e.problems)
    natives = [(f, d) for f, d in docs if not ansible.looks_like_ansible(d)]
    ansibles = [(f, d) for f, d in docs if ansible.looks_like_ansible(d)]
    if natives and ansibles:
        col.add(ansibles[0][0], 1, "(root)", "an inventory directory must not mix Ansible and native files")
    if ansibles and not natives:
        inv = ansible.build(ansibles, col)
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
