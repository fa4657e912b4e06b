"""The one way to run an audit: ``run(RunRequest) -> RunOutcome``, for the command line, the scheduler,
collectors and tests. It merges the plan with the request, takes the plan's lock, resumes, validates
every input (and runs the network stage) before anything is written, audits locally or through the
collectors' queues, stores, and publishes through the callable the caller injected (the engine never
imports ``reports``). What the exit policy needs comes back in the outcome; the caller maps it.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from checks.registry import load_registry

from audits.collect.netscan import ScanOptions, prepare
from audits.inventory.load import load_inventory
from audits.model.errors import InputError, Problem
from audits.model.evaluation import validate_params
from audits.model.severity import SEVERITY_ORDER, worst
from audits.model.waivers import validate_exception_checks
from audits.run.collector import make_app
from audits.run.dispatch import DEFAULT_TIMEOUT, BrokerError, Keys, dispatch_run, sites_of
from audits.run.lock import LockError, PlanBusy, plan_lock
from audits.run.plan import Plan, load_plan
from audits.run import enrich
from audits.run.runner import DEFAULT_FORKS, RunSummary, run_hosts, start_run
from audits.store.database import Store
from audits.trust.vault import unlock_inventory


def say_on_stderr(text: str) -> None:
    print(text, file=sys.stderr)


@dataclass
class RunRequest:
    """A run as asked for; ``None`` means "the plan's value, else the default"."""

    plan: str | None = None
    inventory: str | None = None
    default_inventory: str | None = None   # when neither the request nor the plan names one
    limit: str | None = None
    packs: list[str] | None = None
    db: str | None = None
    fail_on: str | None = None
    forks: int | None = None
    resume: str | None = None              # finish this interrupted run
    network_only: bool = False             # `auditctl scan`: the network view only
    nmap_xml: str | None = None
    scan_type: str | None = None
    max_rate: int | None = None
    known_hosts: str | None = None
    trust_on_first_use: bool = False
    vault: str | None = None
    vault_password_file: str | None = None
    dispatch: str = "local"                # or "celery": each host to its site's collector queue
    broker: str | None = None
    result_backend: str | None = None
    dispatch_timeout: float | None = None
    dispatch_key: str | None = None        # the dispatcher's Ed25519 key: tasks are signed with it
    collector_keys: str | None = None      # SITE: public key of each site's collector (replies verify under it)
    quiet: bool = False
    # Given the loaded plan, returns what writes the outputs: publish(store, run_id). Called before
    # anything is written, so bad output settings are input errors like any other.
    publisher: Callable[[Plan], Callable[[Store, str], None]] | None = None
    say: Callable[[str], None] = field(default=say_on_stderr)


@dataclass
class RunOutcome:
    """What happened, as the exit policy needs it."""

    run_id: str | None = None
    status: str = ""                  # the run's summary status: completed, incomplete or interrupted
    stored_status: str = ""           # the status the store holds at the end
    audited: int = 0
    unreachable: int = 0
    results: dict = field(default_factory=dict)  # result status -> count
    worst_failed: str | None = None   # the worst severity of a failed result
    fail_on: str | None = None
    db: str | None = None             # the store, as named (for the resume hint)
    plan_busy: bool = False           # another run of the plan holds its lock: nothing done
    lock_error: str | None = None
    legacy_ssh: list = field(default_factory=list)  # hosts reached only through the legacy SSH path

    @property
    def fail_on_met(self) -> bool:
        return bool(self.fail_on and self.worst_failed
                    and SEVERITY_ORDER[self.worst_failed] >= SEVERITY_ORDER[self.fail_on])


def run(request: RunRequest) -> RunOutcome:
    """A run of a plan holds the plan's lock, so scheduled runs of one plan never overlap."""
    if not request.plan:
        return _run(request)
    try:
        with plan_lock(request.plan):
            return _run(request)
    except LockError as exc:
        return RunOutcome(plan_busy=isinstance(exc, PlanBusy), lock_error=str(exc))


@dataclass
class _Settings:
    inventory: str
    limit: str | None
    packs: list[str] | None
    params: dict
    db: str | None
    fail_on: str | None
    forks: int | None


def _settings(request: RunRequest, plan: Plan) -> _Settings:
    """Merge the plan (if any) with the request; the request wins."""
    return _Settings(inventory=request.inventory or plan.inventory or str(request.default_inventory),
                     limit=request.limit or plan.limit, packs=request.packs or plan.packs, params=plan.params,
                     db=request.db or plan.db or os.environ.get("AUDITCTL_DB"),
                     fail_on=request.fail_on or plan.fail_on, forks=request.forks or plan.forks)


def _network_stage(request, plan, packs, registry, checks, inv, hosts):
    """(checks, hosts, NetworkView or None): the network pack and its scan only when asked for —
    ``auditctl scan``, a plan with ``network:``, ``--nmap-xml``, or ``--packs`` naming network."""
    named = "network" in (packs or [])  # --packs network, or a resumed run that had the network view
    if not (request.network_only or plan.network is not None or request.nmap_xml or named):
        return [c for c in checks if c.pack != "network"], hosts, None
    if not any(c.pack == "network" for c in checks):  # asked for by the plan or --nmap-xml
        checks = checks + registry.select(["network"])
    settings = dict(plan.network or {})
    for opt in ("scan_type", "max_rate", "nmap_xml"):
        if getattr(request, opt):
            settings[opt] = getattr(request, opt)
    view = prepare(inv, hosts, ScanOptions(**settings))
    return checks, hosts + view.segment_hosts(inv), view


def _run(request: RunRequest) -> RunOutcome:
    say = request.say
    plan = load_plan(request.plan) if request.plan else Plan()
    cfg = _settings(request, plan)
    publish = request.publisher(plan) if request.publisher else None
    if request.network_only:
        cfg.packs = ["network"]
    resume = None
    if request.resume:
        resume = Store(cfg.db).run(request.resume)
        if resume["status"] == "completed":
            say(f"auditctl: run {request.resume} is already complete")
        scope = resume["scope"]
        cfg.inventory, cfg.limit = scope["inventory"], scope.get("limit")
        cfg.packs, cfg.params = scope.get("packs", []), scope.get("params", {})
    # Validate every input (and run the network scan) before anything is written.
    inv = load_inventory(cfg.inventory)
    unlock_inventory(inv, request.vault, request.vault_password_file)
    for w in inv.warnings:
        say(f"{w} (warning)")
    hosts = inv.select(cfg.limit)
    if not hosts:
        raise InputError([Problem("--limit", 0, "limit", f"no host matches {cfg.limit!r}")])
    registry = load_registry()
    checks = registry.select(cfg.packs)
    validate_params(cfg.params, checks, plan.source or "plan")
    exceptions = inv.exceptions.extend(plan.exceptions)
    validate_exception_checks(exceptions, registry.by_id)
    if request.dispatch == "celery":  # checked before anything is written: a queue per host, a usable broker setting
        sites = sites_of(hosts)
        make_app(request.broker, request.result_backend)
        keys = Keys.load(request.dispatch_key, request.collector_keys)
        unregistered = sorted(set(sites.values()) - set(keys.collectors))
        if unregistered:
            raise InputError([Problem(request.collector_keys or "$AUDITCTL_COLLECTOR_KEYS", 0, site,
                                      "no collector key registered for this site (its replies could not be verified)")
                              for site in unregistered])
    checks, hosts, view = _network_stage(request, plan, cfg.packs, registry, checks, inv, hosts)
    store = Store(cfg.db)
    if resume:
        run_id = request.resume
        store.reopen_run(run_id)
    else:
        run_id = start_run(store, {"inventory": str(Path(cfg.inventory).resolve()), "plan": plan.source,
                                   "limit": cfg.limit, "packs": sorted({c.pack for c in checks}),
                                   "params": cfg.params, "bureau": inv.bureau_id,
                                   "bureau_name": inv.bureau_name})
    say(f"run {run_id}: {len(hosts)} host(s), {len(checks)} checks")
    options = {"known_hosts": request.known_hosts, "tofu": request.trust_on_first_use,
               "exceptions": exceptions, "network": view, "network_only": request.network_only}
    options["enrichers"] = enrich.prepare({"request": request, "plan": plan, "params": cfg.params, "hosts": hosts,
                                           "inventory": inv, "say": say})
    if request.dispatch == "celery":  # the network view is not sent to collectors
        summary = _dispatch_celery(request, store, run_id, hosts, checks, cfg, options, keys)
    else:
        summary = run_hosts(store, run_id, hosts, checks, cfg.params, forks=cfg.forks or DEFAULT_FORKS,
                            options=options, quiet=request.quiet)
    if publish:
        publish(store, run_id)
    return _outcome(store, run_id, summary, cfg)


def _dispatch_celery(request, store, run_id, hosts, checks, cfg, options, keys) -> RunSummary:
    """Send each host's audit to its site's collector queue and collect the results (audits/run/dispatch.py)."""
    request.say(f"dispatching to collector queues: {', '.join(sorted({h.settings['site'] for h in hosts}))}")
    try:
        return dispatch_run(store, run_id, hosts, sorted({c.pack for c in checks}), cfg.params, options,
                            broker=request.broker, backend=request.result_backend,
                            timeout=request.dispatch_timeout or DEFAULT_TIMEOUT, quiet=request.quiet, keys=keys)
    except BrokerError as exc:  # the run is marked interrupted; --resume sends what is not saved
        request.say(f"auditctl: {exc}")
        return RunSummary(run_id, "interrupted", 0, 0, interrupted=True)


def _outcome(store: Store, run_id: str, summary: RunSummary, cfg: _Settings) -> RunOutcome:
    """The run as stored: hosts audited or not, results by status, the worst failed severity."""
    records = store.hosts(run_id)
    rows = store.statuses(run_id)  # (host_id, check_id, status, severity): no result's texts decoded
    counts: dict[str, int] = {}
    for _host, _check, status, _severity in rows:
        counts[status] = counts.get(status, 0) + 1
    audited = sum(1 for h in records if h.status == "audited")
    legacy = sorted({host for host, check, status, _severity in rows
                     if check == "fleet.ssh.legacy_algorithms" and status == "fail"})
    return RunOutcome(run_id, summary.status, store.run(run_id)["status"], audited, len(records) - audited, counts,
                      worst(severity for _host, _check, status, severity in rows if status == "fail"), cfg.fail_on,
                      cfg.db, legacy_ssh=legacy)
