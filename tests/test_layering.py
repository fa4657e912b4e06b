"""The layers hold: no import cycle between modules (imports inside functions count too), the
engine (``audits``) never imports ``reports``, and loading the checks pulls in no transport, no
store, no nmap, paramiko or SQLAlchemy (a check is pure: it reads facts, it never reaches a host).
"""
from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("audits", "checks", "reports")
# What checks/ must never import: the transports, the store, the network scan and their libraries.
FORBIDDEN_FOR_CHECKS = ("audits.collect.transports", "audits.store", "audits.collect.netscan", "audits.collect.nmapxml",
                        "nmap", "paramiko", "sqlalchemy")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def source_files() -> dict[str, Path]:
    files = {module_name(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))}
    files["auditctl"] = ROOT / "auditctl.py"
    return files


def imports_of(name: str, path: Path) -> set[str]:
    """Every module ``name`` imports anywhere in the file (function bodies included), relative
    imports resolved; ``from X import y`` counts as X.y when that is a module, else X."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            found.update(f"{base}.{a.name}" for a in node.names)
            found.add(base)
    return found


def graph() -> dict[str, set[str]]:
    """Edges between our own modules (an import of a.b.c also runs a and a.b: their __init__)."""
    files = source_files()
    edges = {}
    for name, path in files.items():
        targets = set()
        for imported in imports_of(name, path):
            parts = imported.split(".")
            for i in range(1, len(parts) + 1):
                target = ".".join(parts[:i])
                if target in files and target != name and not name.startswith(target + "."):
                    targets.add(target)
        edges[name] = targets
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def all_imports() -> dict[str, set[str]]:
    return {name: imports_of(name, path) for name, path in source_files().items()}


def test_the_walk_sees_imports_inside_functions_and_relative_ones():
    src = ROOT / "tests" / "_layering_probe.py"
    src.write_text("from . import conftest\n\ndef f():\n    from .synthetic import x\n    import os.path\n")
    try:
        got = imports_of("tests._layering_probe", src)
    finally:
        src.unlink()
    assert {"tests.conftest", "tests.synthetic", "tests.synthetic.x", "os.path"} <= got
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycles_between_modules():
    assert cycles(graph()) == []


def test_the_engine_never_imports_reports():
    bad = {name: sorted(i for i in imported if i == "reports" or i.startswith("reports."))
           for name, imported in all_imports().items() if name == "audits" or name.startswith("audits.")}
    assert {k: v for k, v in bad.items() if v} == {}


def test_checks_import_only_the_model_layer_of_the_engine():
    """What checks/ takes from the engine is the model layer (probes, facts, errors, YAML, inventory
    types); never a transport, the store, the scanner, or their libraries."""
    def forbidden(i):
        engine = i.startswith("audits.") and not (i == "audits.model" or i.startswith("audits.model."))
        return engine or any(i == f or i.startswith(f + ".") for f in FORBIDDEN_FOR_CHECKS)

    bad = {name: sorted(filter(forbidden, imported))
           for name, imported in all_imports().items() if name == "checks" or name.startswith("checks.")}
    assert {k: v for k, v in bad.items() if v} == {}


def test_loading_the_registry_loads_no_transport_store_or_scanner():
    code = ("import json, sys\nfrom checks.registry import load_registry\nload_registry()\n"
            "print(json.dumps(sorted(sys.modules)))")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    loaded = json.loads(r.stdout)
    assert "checks.registry" in loaded
    assert [m for m in loaded if any(m == f or m.startswith(f + ".") for f in FORBIDDEN_FOR_CHECKS)] == []


def test_every_platform_an_inventory_may_name_exists():
    from audits.model.inventory import PLATFORMS as NAMES
    from audits.run.platforms import PLATFORMS

    assert set(PLATFORMS) == set(NAMES) and "linux" in PLATFORMS
