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
import json
import logging
import os
import re
import secrets
import time
from dataclasses import dataclass

from checks.contract import Status, clean_evidence

from audits.run.collector import TASK_NAME, make_app, task_message
from audits.model.errors import InputError, Problem
from audits.model.waivers import apply_exceptions
from audits.model.inventory import Host
from audits.run.runner import Progress, RunSummary, host_record
from audits.store.database import HostRecord, Store
from audits.model.clock import now
from audits.collect.transports.base import REASONS, printable

log = logging.getLogger(__name__)

SEVERITIES = ("info", "low", "medium", "high", "critical")
MAX_RESULTS = 5000      # results per host in one reply
TEXT_CAP = 4000         # characters of a title/message/remediation text
DEFAULT_TIMEOUT = 3600  # seconds to wait for every host of a run
MAX_REPLY_META = 16 * 1024 * 1024 + 64 * 1024  # the signed reply plus Celery's result envelope
POLL_INTERVAL = 0.3
PUBLISH_RETRY = {"max_retries": 5, "interval_start": 0.5, "interval_step": 1.0, "interval_max": 5.0}


class BrokerError(Exception):
    """The broker refused or could not be reached while tasks were being sent (after retries)."""


def sites_of(hosts: list[Host]) -> dict[str, str]:
    """host id -> site queue; every host must have one (an InputError names the hosts without). A device judged
    from a saved configuration (``config:``) is never dispatched: a collector takes no path, so it would try the
    device live instead."""
    saved = [h for h in hosts if h.settings.get("config")]
    if saved:
        raise InputError([Problem(h.source.file, h.source.line, f"{h.id}.config",
                                  "a saved configuration is judged where the inventory is: run it without --dispatch "
                                  "(--limit the others)") for h in saved])
    missing = [h for h in hosts if not h.settings.get("site")]
    if missing:
        raise InputError([Problem(h.source.file, h.source.line, f"{h.id}.site",
                                  "no collector site: set 'site: QUEUE' on its school, district or host "
                                  "(needed by --dispatch celery)") for h in missing])
    return {h.id: h.settings["site"] for h in hosts}


def task_id(site: str) -> str:
    """A random task id, prefixed by its site: nobody can predict another host's result key, and a site's
    broker account can be allowed to write only ``celery-task-meta-SITE.*`` (docs/security.md)."""
    return f"{site}.{secrets.token_hex(16)}"


@dataclass
class Keys:
    """The dispatcher's trust: its own task-signing key and the registered key of each site's collector."""

    signing: object
    collectors: dict

    @classmethod
    def load(cls, dispatch_key: str | None, collector_keys: str | None) -> "Keys":
        from audits.run import wire

        dispatch_key = dispatch_key or os.environ.get("AUDITCTL_DISPATCH_KEY")
        collector_keys = collector_keys or os.environ.get("AUDITCTL_COLLECTOR_KEYS")
        problems = []
        if not dispatch_key:
            problems.append(Problem("command line", 0, "--dispatch-key", "tasks are signed: give the dispatcher's "
                                    "Ed25519 key file (auditctl keygen FILE) or $AUDITCTL_DISPATCH_KEY"))
        if not collector_keys:
            problems.append(Problem("command line", 0, "--collector-keys", "replies are verified: give the file of "
                                    "registered collector keys (SITE: public key) or $AUDITCTL_COLLECTOR_KEYS"))
        if problems:
            raise InputError(problems)
        try:
            signing = wire.load_private(dispatch_key)
        except wire.WireError as exc:
            raise InputError([Problem(dispatch_key, 0, "--dispatch-key", str(exc))]) from None
        return cls(signing, wire.load_collector_keys(collector_keys))


def dispatch_run(store: Store, run_id: str, hosts: list[Host], packs: list[str], plan_params: dict,
                 options: dict, broker: str | None = None, backend: str | None = None,
                 timeout: float = DEFAULT_TIMEOUT, quiet: bool = False, keys: Keys | None = None) -> RunSummary:
    """Send each host not yet saved in this run to its site's queue as a signed task; save the replies
    that verify under the key of the host's own site as they come."""
    from audits.run.collector import seal_task

    if keys is None:
        keys = Keys.load(None, None)
    sites = sites_of(hosts)
    unregistered = sorted({s for s in sites.values() if s not in keys.collectors})
    if unregistered:
        raise InputError([Problem("--collector-keys", 0, site, "no collector key registered for this site; its "
                                  "replies could not be verified") for site in unregistered])
    options = {**options, "run_started": options.get("run_started") or store.run(run_id)["started_at"]}
    done = {h.host_id for h in store.hosts(run_id)}
    todo = {task_id(sites[h.id]): h for h in hosts if h.id not in done}
    app = make_app(broker, backend)
    expires = time.time() + timeout
    try:
        with app.connection_for_write() as conn:   # fail in seconds, not after the backend's long reconnect loop
            conn.ensure_connection(**PUBLISH_RETRY)
        app.backend.client.ping()
        for tid, h in todo.items():  # a collector that comes back after the wait drops the stale task (expires)
            envelope = seal_task(task_message(h, packs, plan_params, options), run_id, tid, sites[h.id], expires,
                                 keys.signing)
            app.send_task(TASK_NAME, args=[envelope], task_id=tid,
                          queue=sites[h.id], expires=timeout, retry=True, retry_policy=dict(PUBLISH_RETRY))
    except Exception as exc:  # kombu raises its own OperationalError, or OSError, once retries are spent
        store.finish_run(run_id, "interrupted")
        raise BrokerError(f"cannot send tasks to the broker: {type(exc).__name__}: {str(exc)[:200]}") from None
    progress = Progress(len(todo), quiet)
    pending = dict(todo)
    refused: dict[str, list[str]] = {}
    try:
        _collect(app, store, run_id, pending, progress, time.monotonic() + timeout, options, sites, keys, refused,
                 packs)
        for tid, host in pending.items():
            rec = lost_host(host, sites[host.id], timeout)
            if refused.get(tid):
                rec.detail = printable(f"{rec.detail}; refused replies: {'; '.join(refused[tid])}")
            store.save_host(run_id, rec, [])
            progress.host_done(rec, [])
        if pending:
            app.control.revoke(list(pending))
    except KeyboardInterrupt:  # the tasks stay queued; `run --resume` sends again what is not saved
        store.finish_run(run_id, "interrupted")
        return RunSummary(run_id, "interrupted", *_counts(store, run_id), interrupted=True)
    finally:
        progress.close()
    for tid, whys in refused.items():
        for why in whys:
            log.warning("refused reply for task %s: %s", tid, why)
    audited, unreachable = _counts(store, run_id)
    status = "incomplete" if unreachable else "completed"
    store.finish_run(run_id, status)
    return RunSummary(run_id, status, audited, unreachable)


def _collect(app, store: Store, run_id: str, pending: dict, progress: Progress, deadline: float, options: dict,
             sites: dict, keys: Keys, refused: dict, packs: list[str]):
    """Save each verified reply as it arrives, until every host is in or the deadline passes (``pending``
    keeps the rest). Replies are read as raw bytes: the size is checked before anything is decoded; a
    reply that does not verify is recorded against its host in ``refused``, deleted, and the genuine
    reply is still awaited."""
    exceptions, today = options.get("exceptions"), options.get("today") or dt.date.today()
    client = app.backend.client
    expected = _expected_checks(packs)
    while pending and time.monotonic() < deadline:
        tids = list(pending)
        keys_of = [app.backend.get_key_for_task(t) for t in tids]
        pipe = client.pipeline()
        for k in keys_of:
            pipe.strlen(k)
        sizes = pipe.execute()
        arrived = False
        for tid, key, size in zip(tids, keys_of, sizes):
            if not size:
                continue
            arrived = True
            host = pending[tid]
            if size > MAX_REPLY_META:   # never fetched, never decoded
                client.delete(key)
                refused.setdefault(tid, []).append(f"reply of {size} bytes is larger than {MAX_REPLY_META}")
                log.warning("refused a reply for host %s: %d bytes", host.id, size)
                continue
            raw = client.get(key)
            client.delete(key)
            if raw is None:
                continue
            try:
                rec, results = accept_reply(host, raw, run_id, tid, sites[host.id], keys, expected)
            except ReplyRefused as exc:
                refused.setdefault(tid, []).append(str(exc)[:300])
                log.warning("refused a reply for host %s: %s", host.id, printable(str(exc)))
                continue
            del pending[tid]
            if refused.get(tid):
                note = f"{len(refused[tid])} reply(ies) refused before this one: {refused[tid][0]}"
                rec.detail = printable(f"{rec.detail}; {note}" if rec.detail else note)
            if exceptions:
                results = [apply_exceptions(r, host, exceptions, today) for r in results]
            store.save_host(run_id, rec, results)
            progress.host_done(rec, results)
        if not arrived:
            time.sleep(min(POLL_INTERVAL, max(0.0, deadline - time.monotonic())))


def _counts(store: Store, run_id: str) -> tuple[int, int]:
    recs = store.hosts(run_id)
    unreachable = sum(1 for r in recs if r.status != "audited")
    return len(recs) - unreachable, unreachable


def lost_host(host: Host, site: str, timeout: float) -> HostRecord:
    return host_record(host, "unreachable", "no_collector",
                       f"no collector on queue '{site}' finished this host's audit within {timeout:g} s")


class ReplyRefused(Exception):
    """A reply that is not this task's genuine answer (unsigned, forged, replayed, another site's, too big)."""


def _expected_checks(packs: list[str]) -> dict:
    """check id -> check, of the packs this run sent (a reply may name no other check)."""
    from checks.registry import load_registry

    return {c.id: c for c in load_registry().select(list(packs) or None)}


def accept_reply(host: Host, raw, run_id: str, tid: str, site: str, keys: Keys,
                 expected: dict | None = None) -> tuple[HostRecord, list[dict]]:
    """A collector's reply (the raw bytes of the result backend) as a host record and results.

    ReplyRefused when it is not this task's answer from the host's own site: too big (checked before
    decoding), not JSON, not a signed reply, signed by another key, or naming another run, host or
    nonce. A genuine reply with bad content (unknown check, status, date, duplicate row) is accepted as
    an unreachable host saying why: the collector answered, its answer is unusable."""
    from audits.run import wire

    if not isinstance(raw, (bytes, str)):
        raise ReplyRefused("reply is not bytes")
    if len(raw) > MAX_REPLY_META:
        raise ReplyRefused(f"reply of {len(raw)}+ bytes is larger than {MAX_REPLY_META}")
    try:
        meta = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ReplyRefused("reply is not JSON") from None
    if not isinstance(meta, dict):
        raise ReplyRefused("reply is not a result object")
    if meta.get("status") != "SUCCESS":
        raise ReplyRefused(f"unsigned reply: task state {printable(str(meta.get('status')), 40)}")
    try:
        body = wire.unseal("reply", meta.get("result"), [keys.collectors[site]], wire.MAX_REPLY_BYTES)
    except wire.WireError as exc:
        raise ReplyRefused(f"{exc} (only the collector key registered for site {site!r} is accepted)") from None
    for k, want in (("run", run_id), ("host", host.id), ("nonce", tid), ("site", site)):
        if body.get(k) != want:
            raise ReplyRefused(f"signed reply names {k} {printable(str(body.get(k)), 80)!r}, not {want!r} (a replay "
                               "or a reply to another task)")
    if expected is None:
        expected = _expected_checks([])
    try:
        return _validated(host, body, expected)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        return _failed(host, f"collector reply refused: {type(exc).__name__}: {exc}"[:300]), []


def _failed(host: Host, detail: str) -> HostRecord:
    return host_record(host, "unreachable", "error", detail)


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _text(v, field: str, cap: int = TEXT_CAP) -> str:
    """Reply text, bounded, with control and bidi characters replaced (no escape sequence can reach a
    terminal, a CSV cell or a report from a reply)."""
    if v is None:
        return ""
    if not isinstance(v, str):
        raise ValueError(f"{field} is not text")
    return _CONTROL.sub("\ufffd", v[:cap])


def _stamp(v, field: str, required: bool = False) -> str | None:
    """An ISO 8601 date and time as the run document has it, or ValueError."""
    if v is None and not required:
        return None
    if not isinstance(v, str) or len(v) > 40:
        raise ValueError(f"{field} is not a date and time")
    try:
        dt.datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{field} is not an ISO date and time") from None
    return v


def _bilingual(v, field: str) -> dict:
    if not isinstance(v, dict):
        raise ValueError(f"{field} is not a {{zh, en}} mapping")
    return {"zh": _text(v.get("zh"), field), "en": _text(v.get("en"), field)}


def _validated(host: Host, reply, expected: dict | None = None) -> tuple[HostRecord, list[dict]]:
    h, rows = reply["record"], reply["results"]
    if not isinstance(h, dict):
        raise ValueError("record is not a mapping")
    if h["host_id"] != host.id:
        raise ValueError(f"reply is for host {printable(str(h['host_id']), 64)!r}, not {host.id!r}")
    if h["status"] not in ("audited", "unreachable") or (h["reason"] is not None and h["reason"] not in REASONS):
        raise ValueError("unknown host status or reason")
    if not isinstance(rows, list) or len(rows) > MAX_RESULTS:
        raise ValueError("results are not a bounded list")
    duration = h.get("duration") or 0.0
    if isinstance(duration, bool) or not isinstance(duration, (int, float)) or not 0 <= duration <= 7 * 86400:
        raise ValueError("duration is not a number of seconds")
    os_family = _text(h.get("os_family"), "os_family", 20)
    if os_family and not re.fullmatch(r"[a-z0-9_.-]+", os_family):
        raise ValueError("os_family is not a plain name")
    rec = host_record(host, h["status"], h["reason"], printable(_text(h.get("detail"), "detail", 300)),
                      os_family, _stamp(h.get("started_at"), "started_at"), float(duration))
    statuses = {str(s) for s in Status}
    results, seen = [], set()
    for r in rows:
        if not isinstance(r, dict):
            raise ValueError("a result is not a mapping")
        cid = r["check_id"]
        if not isinstance(cid, str) or (expected is not None and cid not in expected):
            raise ValueError(f"unknown check id {printable(str(cid), 64)!r}")
        if cid in seen:
            raise ValueError(f"duplicate result for {cid}")
        seen.add(cid)
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
                        "evaluated_at": _stamp(r.get("evaluated_at"), "evaluated_at") or now(),
                        "underlying": underlying})
    return rec, results
