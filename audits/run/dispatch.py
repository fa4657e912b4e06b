"""The dispatcher of ``auditctl run --dispatch celery``: one task per host to its site's queue, then
collect the replies into the bureau's store.

The dispatcher is the only writer of the store. A collector's reply is hostile input: it must be
the host the task named, with known statuses and reasons and bounded text, or the host is recorded
as unreachable (reason ``error``) with why. The bureau's waivers and attestations are applied here.
Within a bounded wait every host is accounted for: a host whose task no collector finished is saved
as unreachable with reason ``no_collector``, so no host is ever lost silently.
"""
from __future__ import annotations

import datetime as dt
import time

from checks.contract import Status, clean_evidence

from audits.run.collector import TASK_NAME, make_app, task_message
from audits.model.errors import InputError, Problem
from audits.model.waivers import apply_exceptions
from audits.model.inventory import Host
from audits.run.runner import Progress, RunSummary, host_record
from audits.store.database import HostRecord, Store
from audits.model.clock import now
from audits.collect.transports.base import REASONS

SEVERITIES = ("info", "low", "medium", "high", "critical")
MAX_RESULTS = 5000      # results per host in one reply
TEXT_CAP = 4000         # characters of a title/message/remediation text
DEFAULT_TIMEOUT = 3600  # seconds to wait for every host of a run
PUBLISH_RETRY = {"max_retries": 5, "interval_start": 0.5, "interval_step": 1.0, "interval_max": 5.0}


class BrokerError(Exception):
    """The broker refused or could not be reached while tasks were being sent (after retries)."""


def sites_of(hosts: list[Host]) -> dict[str, str]:
    """host id -> site queue; every host must have one (an InputError names the hosts without)."""
    missing = [h for h in hosts if not h.settings.get("site")]
    if missing:
        raise InputError([Problem(h.source.file, h.source.line, f"{h.id}.site",
                                  "no collector site: set 'site: QUEUE' on its school, district or host "
                                  "(needed by --dispatch celery)") for h in missing])
    return {h.id: h.settings["site"] for h in hosts}


def task_id(run_id: str, host_id: str) -> str:
    """Deterministic, so every delivery of one host's task reports under one result key."""
    return f"{run_id}:{host_id}"


def dispatch_run(store: Store, run_id: str, hosts: list[Host], packs: list[str], plan_params: dict,
                 options: dict, broker: str | None = None, backend: str | None = None,
                 timeout: float = DEFAULT_TIMEOUT, quiet: bool = False) -> RunSummary:
    """Send each host not yet saved in this run to its site's queue; save replies as they come."""
    sites = sites_of(hosts)
    options = {**options, "run_started": options.get("run_started") or store.run(run_id)["started_at"]}
    done = {h.host_id for h in store.hosts(run_id)}
    todo = {task_id(run_id, h.id): h for h in hosts if h.id not in done}
    app = make_app(broker, backend)
    try:
        with app.connection_for_write() as conn:   # fail in seconds, not after the backend's long reconnect loop
            conn.ensure_connection(**PUBLISH_RETRY)
        app.backend.client.ping()
        for tid, h in todo.items():  # a collector that comes back after the wait drops the stale task (expires)
            app.send_task(TASK_NAME, args=[task_message(h, packs, plan_params, options)], task_id=tid,
                          queue=sites[h.id], expires=timeout, retry=True, retry_policy=dict(PUBLISH_RETRY))
    except Exception as exc:  # kombu raises its own OperationalError, or OSError, once retries are spent
        store.finish_run(run_id, "interrupted")
        raise BrokerError(f"cannot send tasks to the broker: {type(exc).__name__}: {str(exc)[:200]}") from None
    progress = Progress(len(todo), quiet)
    pending = dict(todo)
    try:
        _collect(app, store, run_id, pending, progress, time.monotonic() + timeout, options)
        for host in pending.values():
            rec = lost_host(host, sites[host.id], timeout)
            store.save_host(run_id, rec, [])
            progress.host_done(rec, [])
        if pending:
            app.control.revoke(list(pending))
    except KeyboardInterrupt:  # the tasks stay queued; `run --resume` sends again what is not saved
        store.finish_run(run_id, "interrupted")
        return RunSummary(run_id, "interrupted", *_counts(store, run_id), interrupted=True)
    finally:
        progress.close()
    audited, unreachable = _counts(store, run_id)
    status = "incomplete" if unreachable else "completed"
    store.finish_run(run_id, status)
    return RunSummary(run_id, status, audited, unreachable)


def _collect(app, store: Store, run_id: str, pending: dict, progress: Progress, deadline: float, options: dict):
    """Save each reply as it arrives, until every host is in or the deadline passes (``pending`` keeps the rest)."""
    from celery.exceptions import TimeoutError as CeleryTimeout

    exceptions, today = options.get("exceptions"), options.get("today") or dt.date.today()
    try:
        for tid, meta in app.backend.get_many(set(pending), timeout=max(0.1, deadline - time.monotonic()),
                                              interval=0.5):
            host = pending.pop(tid, None)
            if host is None:
                continue
            rec, results = accept_reply(host, meta)
            if exceptions:
                results = [apply_exceptions(r, host, exceptions, today) for r in results]
            store.save_host(run_id, rec, results)
            progress.host_done(rec, results)
            app.backend.forget(tid)
    except CeleryTimeout:
        pass


def _counts(store: Store, run_id: str) -> tuple[int, int]:
    recs = store.hosts(run_id)
    unreachable = sum(1 for r in recs if r.status != "audited")
    return len(recs) - unreachable, unreachable


def lost_host(host: Host, site: str, timeout: float) -> HostRecord:
    return host_record(host, "unreachable", "no_collector",
                       f"no collector on queue '{site}' finished this host's audit within {timeout:g} s")


def accept_reply(host: Host, meta: dict) -> tuple[HostRecord, list[dict]]:
    """A collector's reply as a host record and results, or an unreachable record saying why not."""
    if meta.get("status") != "SUCCESS":
        return _failed(host, f"collector task {meta.get('status')}: {str(meta.get('result'))[:200]}"), []
    try:
        return _validated(host, meta["result"])
    except (KeyError, TypeError, ValueError) as exc:
        return _failed(host, f"collector reply refused: {exc}"[:300]), []


def _failed(host: Host, detail: str) -> HostRecord:
    return host_record(host, "unreachable", "error", detail)


def _text(v, field: str, cap: int = TEXT_CAP) -> str:
    if v is None:
        return ""
    if not isinstance(v, str):
        raise ValueError(f"{field} is not text")
    return v[:cap]


def _bilingual(v, field: str) -> dict:
    if not isinstance(v, dict):
        raise ValueError(f"{field} is not a {{zh, en}} mapping")
    return {"zh": _text(v.get("zh"), field), "en": _text(v.get("en"), field)}


def _validated(host: Host, reply) -> tuple[HostRecord, list[dict]]:
    h, rows = reply["host"], reply["results"]
    if h["host_id"] != host.id:
        raise ValueError(f"reply is for host {str(h['host_id'])[:64]!r}, not {host.id!r}")
    if h["status"] not in ("audited", "unreachable") or (h["reason"] is not None and h["reason"] not in REASONS):
        raise ValueError("unknown host status or reason")
    if not isinstance(rows, list) or len(rows) > MAX_RESULTS:
        raise ValueError("results are not a bounded list")
    rec = host_record(host, h["status"], h["reason"], _text(h.get("detail"), "detail", 300),
                      _text(h.get("os_family"), "os", 20), _text(h.get("started_at"), "started_at", 40) or None,
                      float(h.get("duration") or 0.0))
    statuses = {str(s) for s in Status}
    results = []
    for r in rows:
        if r["status"] not in statuses or r["severity"] not in SEVERITIES:
            raise ValueError("unknown result status or severity")
        refs = r["refs"]
        if not isinstance(refs, list) or len(refs) > 50:
            raise ValueError("refs are not a bounded list")
        underlying = r.get("underlying")
        if underlying is not None and underlying not in statuses:
            raise ValueError("unknown underlying status")
        results.append({"check_id": _text(r["check_id"], "check_id", 128), "status": r["status"],
                        "severity": r["severity"], "refs": [_text(x, "refs", 80) for x in refs],
                        "title": _bilingual(r["title"], "title"), "message": _bilingual(r["message"], "message"),
                        "remediation": _bilingual(r["remediation"], "remediation"),
                        "evidence": clean_evidence(_text(r.get("evidence"), "evidence")),
                        "evaluated_at": _text(r.get("evaluated_at"), "evaluated_at", 40) or now(),
                        "underlying": underlying})
    return rec, results
