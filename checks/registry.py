"""Finds every check once: built-in packs under ``checks/packs/<pack>/`` (YAML entries, with the Python
evaluators their modules register by check id) and third-party checks from the ``auditctl.checks``
entry-point group.

An entry point may name a module (its ``@check`` functions are collected), a decorated function,
a ``Check``, or a directory-providing callable returning a path of YAML check files.
Duplicate ids and broken plugins are errors that name their source — never skipped silently.
"""
from __future__ import annotations

import importlib
import types
from importlib import metadata
from pathlib import Path

from audits.model.errors import InputError, Problem, did_you_mean

from .contract import Check
from .controls import check_evidence
from .yaml_checks import load_pack_dir

PACKS_DIR = Path(__file__).parent / "packs"
ENTRY_POINT_GROUP = "auditctl.checks"


def _from_object(obj, origin: str) -> list[Check]:
    if isinstance(obj, Check):
        return [obj]
    if callable(obj) and isinstance(getattr(obj, "check", None), Check):
        return [obj.check]
    if isinstance(obj, types.ModuleType):
        return [v.check for v in vars(obj).values() if isinstance(getattr(v, "check", None), Check)]
    if callable(obj):
        res = obj()
        if isinstance(res, (str, Path)):
            return load_pack_dir(Path(res))
        return [c for c in res if isinstance(c, Check)]
    raise TypeError(f"{origin}: does not provide checks")


class Registry:
    def __init__(self, checks: list[Check]):
        self.by_id: dict[str, Check] = {}
        problems = []
        for c in checks:
            if c.id in self.by_id:
                problems.append(Problem(c.source or c.id, 0, c.id,
                                        f"duplicate check id (also defined at {self.by_id[c.id].source})"))
                continue
            self.by_id[c.id] = c
        if problems:
            raise InputError(problems)

    def __iter__(self):
        return iter(sorted(self.by_id.values(), key=lambda c: c.id))

    def __len__(self):
        return len(self.by_id)

    def packs(self) -> list[str]:
        return sorted({c.pack for c in self.by_id.values()})

    def select(self, packs=None) -> list[Check]:
        if not packs:
            return list(self)
        unknown = set(packs) - set(self.packs())
        if unknown:
            name = sorted(unknown)[0]
            raise InputError([Problem("--packs", 0, "packs", f"unknown pack '{name}'" + did_you_mean(name, self.packs())
                                      + f"; available: {', '.join(self.packs())}")])
        return [c for c in self if c.pack in packs]


def registered(modules) -> tuple[dict, dict, list[Problem]]:
    """The ``@evaluator`` and ``@declared_probes`` functions of a pack's modules, by check id."""
    evaluators: dict = {}
    declared: dict = {}
    problems: list[Problem] = []
    for module in modules:
        for fn in vars(module).values():
            cid = getattr(fn, "evaluates", None)
            if isinstance(cid, str) and getattr(fn, "__module__", None) == module.__name__:
                if cid in evaluators:
                    problems.append(Problem(f"{module.__name__}.{fn.__name__}", 0, "@evaluator",
                                            f"{cid} is also evaluated by {evaluators[cid].__module__}.{evaluators[cid].__name__}"))
                evaluators[cid] = fn
            for cid in getattr(fn, "declares_probes_for", ()) if getattr(fn, "__module__", None) == module.__name__ else ():
                declared[cid] = fn
    return evaluators, declared, problems


def builtin_checks() -> list[Check]:
    out: list[Check] = []
    problems: list[Problem] = []
    for pack in sorted(p for p in PACKS_DIR.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))):
        modules = [importlib.import_module(f"checks.packs.{pack.name}.{mod.stem}")
                   for mod in sorted(pack.glob("*.py")) if not mod.name.startswith("_")]
        evaluators, declared, bad = registered(modules)
        problems.extend(bad)
        try:
            out.extend(load_pack_dir(pack, evaluators, declared))
        except InputError as e:
            problems.extend(e.problems)
        for module in modules:  # checks written wholly in Python (@check), as third-party packs may
            out.extend(_from_object(module, module.__file__))
    if problems:
        raise InputError(problems)
    return out


def plugin_checks() -> list[Check]:
    out = []
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            out.extend(_from_object(ep.load(), f"entry point {ep.name} = {ep.value}"))
        except InputError:
            raise
        except Exception as exc:
            raise InputError([Problem(f"entry point {ep.name}", 0, ep.value,
                                      f"failed to load: {type(exc).__name__}: {exc}")]) from None
    return out


_cached: Registry | None = None


def load_registry(refresh: bool = False) -> Registry:
    global _cached
    if _cached is None or refresh:
        reg = Registry(builtin_checks() + plugin_checks())
        check_evidence(reg)   # the controls files' evidence roles name checks that exist and cite the item
        _cached = reg
    return _cached
