"""The runner: for each host, gather every probe of every applicable check in one batch, evaluate
the checks purely, and save the host's results as soon as it is done. Bounded concurrency;
an unreachable host is recorded with its classified reason and the run goes on.
"""
from __future__ import annotations

import logging
import secrets
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable

from checks.contract import Check

from audits import __version__
from audits.collect.transports.base import Unreachable, printable
from audits.model.clock import now
from audits.model.evaluation import evaluate_host, gather_plan, meta_only
from audits.model.inventory import SEGMENT_ROLE, Host
from audits.model.probes import Facts
from audits.run import enrich
from audits.run.platforms import platform_for
from audits.store.database import HostRecord, Store
from audits.trust import redact

DEFAULT_FORKS = 32
log = logging.getLogger(__name__)  # --debug (audits.trust.redact scrubs secrets from every record)


def new_run_id() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


def gather(host: Host, probes: set, options: dict) -> Facts:
    """Open the host's transport, gather every probe in one exchange (as its platform does it).
    Raises Unreachable."""
    platform = platform_for(host)
    transport = platform.connect(host, options)
    try:
        facts = platform.exchange(transport, host, probes)
    finally:
        transport.close()
    facts.meta.update(transport.meta, connection=transport.meta.get("connection", host.connection))
    return facts


def host_record(host: Host, status: str, reason: str | None, detail: str, os_family: str = "",
                started_at: str | None = None, duration: float = 0.0) -> HostRecord:
    """A host's stored record, finished now: its identity (address, school, district, city, names,
    systems) is always the inventory's, whoever audited it (this process or a collector)."""
    return HostRecord(host.id, host.address, host.school, host.district, host.level, os_family, status, reason, detail,
                      started_at, now(), duration, host.name or None, host.school_name or None,
                      host.district_name or None, host.system_info, city=host.city)


def audit_host(host: Host, checks: list[Check], plan_params: dict, options: dict) -> tuple[HostRecord, list[dict]]:
    started, t0 = now(), time.monotonic()
    status, reason, detail, results, os_family = "audited", None, "", [], ""
    log.debug("host %s (%s, %s): start", host.id, host.address, host.connection)
    view = options.get("network")  # audits.collect.netscan.NetworkView, when this run has a network stage
    net_meta = view.meta_for(host) if view else {}
    platform = platform_for(host)
    checks = [c for c in checks if (SEGMENT_ROLE in c.applies.roles) == (SEGMENT_ROLE in host.roles)
              and platform.applies(c)]
    exc_opts = (options.get("exceptions"), options.get("today"), options.get("run_started"))
    try:
        if host.connection == "none" or options.get("network_only"):
            facts = Facts(host.id, meta={**net_meta, "os_family": "", "connection": "none"})
            results = evaluate_host(meta_only(checks), facts, host, plan_params, *exc_opts)
        else:
            facts = gather(host, gather_plan(checks, host, plan_params), options)
            facts.meta.update(net_meta)
            enrich.apply(options.get("enrichers") or [], facts, host)
            results = evaluate_host(checks, facts, host, plan_params, *exc_opts)
            os_family = facts.meta.get("os_family", "")
        denied = [p for p, r in facts.results.items() if r.error and r.error.startswith("sudo denied")]
        notes = []
        if facts.meta.get("config_file"):
            notes.append(f"judged from the saved configuration {facts.meta['config_file']}")
        if facts.meta.get("legacy_ssh"):
            notes.append("reached through the legacy SSH path (system OpenSSH with legacy algorithms)")
        if facts.meta.get("answered"):  # a live device's questions at login, answered "no" (devicecli)
            notes.append("answered no at login: " + "; ".join(facts.meta["answered"][:3]))
        if facts.meta.get("paging_fallback"):
            notes.append("the device ignored or refused the paging-off command; its pager was answered with a space")
        if denied:
            reason = "sudo_denied"
            notes.append(f"sudo -n refused {len(denied)} probe(s): {denied[0]}")
        if not facts.meta.get("complete", True):
            notes.append("host timeout reached before every probe finished" if facts.meta.get("host_timeout") else
                         "output budget exceeded; stopped reading before every probe finished"
                         if facts.meta.get("output_capped") else "the connection closed before every probe finished")
        detail = printable("; ".join(notes))
    except Unreachable as exc:
        status, reason, detail = "unreachable", exc.reason, exc.detail
        facts = Facts(host.id, meta={"unreachable": exc.reason, "detail": exc.detail, "connection": host.connection,
                                     **net_meta})
        results = evaluate_host(meta_only(checks), facts, host, plan_params, *exc_opts)
    except Exception as exc:  # a bug or an unforeseen failure is recorded against this host only
        status, reason, detail = "unreachable", "error", printable(redact.scrub(f"{type(exc).__name__}: {exc}"))
    rec = host_record(host, status, reason, detail, os_family, started, round(time.monotonic() - t0, 3))
    log.debug("host %s: %s reason=%s detail=%s (%d results, %.2fs)", host.id, status, reason, detail, len(results),
              rec.duration)
    return rec, results


@dataclass
class RunSummary:
    run_id: str
    status: str
    audited: int
    unreachable: int
    interrupted: bool = False


class Progress:
    """A rich progress bar on a terminal, plain lines otherwise (always on stderr)."""

    def __init__(self, total: int, quiet: bool = False):
        self.total, self.done, self.quiet = total, 0, quiet
        self.lock = threading.Lock()
        self.bar = None
        self.rows: list[tuple[str, str, int, int, float]] = []  # host, status, checks, failed, seconds
        if not quiet and sys.stderr.isatty():
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress as RichProgress, TimeElapsedColumn,
                                       TimeRemainingColumn)

            self.bar = RichProgress("[bold]audit", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                                    "ETA", TimeRemainingColumn(), "{task.description}", transient=True)
            self.bar.start()
            self.task = self.bar.add_task("", total=total)

    def host_done(self, rec: HostRecord, results: list[dict]):
        with self.lock:
            self.done += 1
            fails = sum(1 for r in results if r["status"] == "fail")
            line = (f"{rec.host_id}: {len(results)} checks, {fails} failed" if rec.status == "audited"
                    else f"{rec.host_id}: UNREACHABLE ({rec.reason}) {rec.detail}")
            self.rows.append((rec.host_id, rec.status if rec.status == "audited" else f"unreachable ({rec.reason})",
                              len(results), fails, rec.duration))
            if self.bar:
                self.bar.update(self.task, advance=1, description=line[:60])
            elif not self.quiet:
                print(f"[{self.done}/{self.total}] {line} ({rec.duration:.1f}s)", file=sys.stderr, flush=True)

    def close(self):
        if self.bar:
            self.bar.stop()
            if len(self.rows) > 1:  # the closing summary, on a terminal (cron and pipes keep the plain lines)
                from rich.console import Console
                from rich.table import Table

                t = Table("host", "status", "checks", "failed", "seconds", title="audit summary")
                for host, status, n, fails, secs in sorted(self.rows, key=lambda r: (r[1] == "audited", -r[3], r[0])):
                    t.add_row(host, status, str(n), str(fails), f"{secs:.1f}")
                Console(stderr=True).print(t)


def run_hosts(store: Store, run_id: str, hosts: list[Host], checks: list[Check], plan_params: dict,
              forks: int = DEFAULT_FORKS, options: dict | None = None, quiet: bool = False,
              on_host: Callable | None = None) -> RunSummary:
    """Audit hosts concurrently, saving each as it finishes. Hosts already saved for this run are skipped."""
    options = dict(options or {})
    # ages are judged against the run's start (a resumed run keeps its original start)
    options.setdefault("run_started", store.run(run_id)["started_at"])
    done = {h.host_id for h in store.hosts(run_id)}
    todo = [h for h in hosts if h.id not in done]
    progress = Progress(len(todo), quiet)
    interrupted = False
    pool = ThreadPoolExecutor(max_workers=max(1, min(forks, len(todo) or 1)), thread_name_prefix="audit")
    try:
        futures = {pool.submit(audit_host, h, checks, plan_params, options): h for h in todo}
        for fut in as_completed(futures):
            rec, results = fut.result()
            store.save_host(run_id, rec, results)
            progress.host_done(rec, results)
            if on_host:
                on_host(rec, results)
    except KeyboardInterrupt:
        interrupted = True
        pool.shutdown(wait=False, cancel_futures=True)
    finally:
        pool.shutdown(wait=not interrupted, cancel_futures=True)
        progress.close()
    recs = store.hosts(run_id)
    saved = {r.host_id for r in recs}
    missing = [h for h in hosts if h.id not in saved]
    unreachable = sum(1 for r in recs if r.status != "audited")
    status = "interrupted" if interrupted or missing else ("incomplete" if unreachable else "completed")
    store.finish_run(run_id, status)
    return RunSummary(run_id, status, len(recs) - unreachable, unreachable, interrupted)


def start_run(store: Store, scope: dict) -> str:
    run_id = new_run_id()
    store.create_run(run_id, scope, __version__)
    return run_id


__all__ = ["run_hosts", "start_run", "audit_host"]
