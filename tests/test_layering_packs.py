"""Layering of the check code: a pack never imports another pack, and no check code imports the
transports, the store, the network scanner or their libraries (checks are pure functions of facts)."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHECKS = ROOT / "checks"
PACKS = CHECKS / "packs"
FORBIDDEN_IN_CHECKS = ("audits.transports", "audits.store", "audits.netscan", "paramiko", "nmap", "sqlalchemy")


def _imports(path: Path, root: Path = ROOT):
    """(line text, absolute module name) of every import in a file; relative ones resolved."""
    package = ".".join(path.relative_to(root).with_suffix("").parts[:-1])
    lines = path.read_text(encoding="utf-8").splitlines()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield lines[node.lineno - 1].strip(), alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
            for alias in node.names:
                yield lines[node.lineno - 1].strip(), f"{base}.{alias.name}" if not node.module else base


def _pack_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[2] if len(parts) > 2 and parts[:2] == ["checks", "packs"] else None


def _files(top: Path) -> list[Path]:
    return sorted(p for p in top.rglob("*.py") if "__pycache__" not in p.parts)


def test_the_walk_sees_every_pack():
    packs = {p.relative_to(PACKS).parts[0] for p in _files(PACKS) if len(p.relative_to(PACKS).parts) > 1}
    assert {"mlps", "network", "patching", "backup", "dr", "fleet"} <= packs


@pytest.mark.parametrize("path", _files(PACKS), ids=lambda p: str(p.relative_to(ROOT)))
def test_a_pack_imports_no_other_pack(path: Path):
    own = path.relative_to(PACKS).parts[0] if len(path.relative_to(PACKS).parts) > 1 else None
    wrong = [line for line, module in _imports(path) if _pack_of(module) not in (None, own)]
    assert not wrong, f"{path.relative_to(ROOT)} imports another pack: {wrong}"


@pytest.mark.parametrize("path", _files(CHECKS), ids=lambda p: str(p.relative_to(ROOT)))
def test_check_code_imports_no_transport_store_or_scanner(path: Path):
    rel = str(path.relative_to(ROOT))
    wrong = [line for line, module in _imports(path)
             if any(module == f or module.startswith(f + ".") for f in FORBIDDEN_IN_CHECKS)]
    assert not wrong, f"{rel} imports what check code must not: {wrong}"


def test_the_walk_would_catch_a_cross_pack_import(tmp_path):
    pack = tmp_path / "checks" / "packs" / "network"
    pack.mkdir(parents=True)
    bad = pack / "bad.py"
    bad.write_text("from ..mlps import intrusion\nfrom checks.packs.mlps._listen import port_check\n"
                   "from . import _facts\nimport paramiko\n")
    found = list(_imports(bad, tmp_path))
    assert [_pack_of(module) for _line, module in found] == ["mlps", "mlps", "network", None]
    assert found[3] == ("import paramiko", "paramiko")
