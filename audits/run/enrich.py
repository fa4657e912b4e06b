"""Auditor-side enrichment: data the auditor holds (an index of security fixes, a vulnerability
database …) joined with what a host reported, placed in ``facts.meta`` after collection and before the
checks run, so checks stay pure functions of facts.

A module that provides such data registers a factory with ``@enricher``; ``prepare(context)`` calls every
factory once per run (the run's inputs: plan, inventory, request options) and keeps those that return an
enrich function; ``apply`` runs them on each host's facts. An enricher must not talk to the host, and one
that fails records its error in ``facts.meta["enrich_errors"]`` instead of stopping the host's audit.
"""
from __future__ import annotations

import importlib
from typing import Callable

from audits.model.inventory import Host
from audits.model.probes import Facts

Enrich = Callable[[Facts, Host], None]
Factory = Callable[[dict], "Enrich | None"]

_FACTORIES: list[Factory] = []
# Modules that register factories; imported when a run prepares its enrichers.
PROVIDERS: tuple[str, ...] = ("audits.patchdata.provider", "audits.patchdata.vulnenrich")


def enricher(factory: Factory) -> Factory:
    """Register a factory: ``factory(context) -> enrich | None`` (None: nothing to add in this run)."""
    _FACTORIES.append(factory)
    return factory


def prepare(context: dict) -> list[Enrich]:
    """Every registered factory's enrich function for this run (factories are called once per run)."""
    for name in PROVIDERS:
        importlib.import_module(name)
    out = []
    for factory in _FACTORIES:
        fn = factory(context)
        if fn is not None:
            out.append(fn)
    return out


def apply(enrichers: list[Enrich], facts: Facts, host: Host) -> None:
    for fn in enrichers:
        try:
            fn(facts, host)
        except Exception as exc:  # one enricher's failure is recorded on the host; its checks say error
            facts.meta.setdefault("enrich_errors", []).append(f"{getattr(fn, '__name__', 'enricher')}: "
                                                              f"{type(exc).__name__}: {exc}"[:500])
