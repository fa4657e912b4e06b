"""Distributed collectors: the Celery app, the one task (audit one host) and the worker entry point.

A collector runs near a school's hosts (``auditctl worker --site-config FILE``) and pulls audit tasks
from its site's queue. A task is signed by the bureau's dispatcher (``audits.run.wire``) and minimal:
the host's identity and address, the connection settings a collector needs (``TASK_SETTINGS``: never a
path, an environment variable name, a secret or a trust decision), its declarations and the run's
packs and params. The collector verifies it (dispatcher key, site, expiry, nonce store), re-validates
every host field with the inventory's own rules, takes key files, known_hosts and the connection types
it allows from its own site configuration (``audits.run.siteconfig``), audits the host with the same
runner code as a local run (``runner.audit_host``) and returns the host record and its results signed
with its own key, naming run, host, nonce and site. The dispatcher (``audits.run.dispatch``) verifies
and validates them, applies the bureau's waivers and attestations and saves them, so collectors need no
access to the bureau's store. Delivery is at least once (late acknowledgement, requeue when a worker is
lost, Redis visibility timeout); the nonce store runs a task once and the dispatcher's per-host save is
idempotent.
"""
from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict

from checks.registry import load_registry

from audits.model.errors import InputError, Problem
from audits.model.inventory import Host
from audits.collect.transports.base import printable
from audits.run.runner import audit_host

TASK_NAME = "auditctl.audit_host"
DEFAULT_BROKER = "redis://127.0.0.1:6379/0"
# Long enough for the slowest host (host_timeout, default 120 s, plus the connection): a task not
# acknowledged by then is given to another collector, and the duplicate is harmless.
DEFAULT_VISIBILITY_TIMEOUT = 600


def broker_url(url: str | None) -> str:
    return url or os.environ.get("AUDITCTL_BROKER") or DEFAULT_BROKER


def make_app(broker: str | None = None, backend: str | None = None, visibility_timeout: float | None = None):
    """The Celery app of workers and dispatcher alike. Results go to a Redis result backend (the broker
    itself when it is Redis); JSON only, so nothing from the wire is ever unpickled."""
    try:
        from celery import Celery
    except ImportError:
        raise InputError([Problem("command line", 0, "--dispatch/worker",
                                  "Celery is not installed: pip install 'campus-audit[celery]'")]) from None
    broker = broker_url(broker)
    backend = backend or os.environ.get("AUDITCTL_RESULT_BACKEND") or (broker if broker.startswith("redis") else None)
    if not backend or not backend.startswith("redis"):
        raise InputError([Problem("command line", 0, "--result-backend", "collector replies need a Redis result "
                                  "backend (--result-backend redis://HOST:6379/N)")])
    vt = float(visibility_timeout or os.environ.get("AUDITCTL_VISIBILITY_TIMEOUT") or DEFAULT_VISIBILITY_TIMEOUT)
    app = Celery("auditctl", broker=broker, backend=backend, set_as_current=False)
    app.conf.update(
        task_serializer="json", result_serializer="json", accept_content=["json"], result_accept_content=["json"],
        task_acks_late=True,                # acknowledged only when the host is done ...
        task_reject_on_worker_lost=True,    # ... and requeued if the worker process dies meanwhile
        worker_prefetch_multiplier=1,       # a collector holds no more tasks than it runs
        task_default_queue="auditctl",
        result_expires=24 * 3600,           # replies are read within the dispatch wait
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,  # a collector keeps trying an unreachable broker
        worker_hijack_root_logger=False,
        worker_cancel_long_running_tasks_on_connection_loss=False,
    )
    if broker.startswith("redis"):
        app.conf.broker_transport_options = {
            "visibility_timeout": vt,
            "unacked_restore_interval": max(1, min(10, int(vt // 4))),  # look for abandoned tasks often ...
            "unacked_restore_throttle": 1,                               # ... without skipping sweeps
            "socket_timeout": 30, "socket_connect_timeout": 10, "retry_on_timeout": True,
        }
        app.conf.result_backend_transport_options = {"socket_timeout": 30, "retry_on_timeout": True}
    app.task(name=TASK_NAME, bind=True, acks_late=True, reject_on_worker_lost=True,
             autoretry_for=(ConnectionError, TimeoutError), retry_backoff=2, retry_backoff_max=60,
             max_retries=3)(_audit_host_task)
    return app


# -- the message ---------------------------------------------------------------------------------
# The only host settings a task may carry: what a collector needs to reach and judge the host. Never a
# path, an environment variable name, a secret or a trust decision (key_file, known_hosts, password_env,
# password, key_passphrase, trust_on_first_use): those are the collector's own (its site configuration).
TASK_SETTINGS = ("platform", "connection", "os", "user", "port", "key", "jump", "sudo", "host_keys", "connect_timeout",
                 "command_timeout", "host_timeout", "roles", "ports", "facts", "site")
HOST_FIELDS = ("id", "address", "school", "district", "systems", "level", "system_info", "backup", "dr", "no_backup",
               "no_dr")
MAX_TIMEOUT = 3600
MAX_FACTS = 64 * 1024
MAX_PARAMS = 256 * 1024


class TaskRefused(Exception):
    """A task this collector will not run; the reason names the field."""


def host_message(host: Host) -> dict:
    """The minimal form of a host for a collector: identity, the allowed settings, the declarations."""
    d = json.loads(json.dumps(asdict(host), default=str))
    out = {k: d[k] for k in HOST_FIELDS}
    out["settings"] = {k: d["settings"][k] for k in TASK_SETTINGS if d["settings"].get(k) is not None}
    return out


def host_from_message(d: dict) -> Host:
    """The Host back from its message, every field validated with the inventory's own rules
    (TaskRefused names the first bad field)."""
    from audits.inventory.validate import valid_address
    from audits.model.inventory import IDENTIFIER, SETTINGS, Source

    if not isinstance(d, dict):
        raise TaskRefused("host: not a mapping")
    extra = set(d) - set(HOST_FIELDS) - {"settings"}
    if extra:
        raise TaskRefused(f"host.{sorted(extra)[0]}: not a field a collector accepts")

    def ident(v, fld, optional=False):
        if optional and v in (None, ""):
            return
        if not isinstance(v, str) or not IDENTIFIER.match(v):
            raise TaskRefused(f"host.{fld}: not an identifier")

    for f in ("id", "school", "district"):
        ident(d.get(f), f)
    if not valid_address(d.get("address")):
        raise TaskRefused("host.address: not an IP address or host name")
    for f in ("systems", "no_backup", "no_dr"):
        v = d.get(f) or []
        if not isinstance(v, list) or len(v) > 200:
            raise TaskRefused(f"host.{f}: not a list of ids")
        for x in v:
            ident(x, f)
    lvl = d.get("level")
    if lvl is not None and (not isinstance(lvl, int) or isinstance(lvl, bool) or not 1 <= lvl <= 5):
        raise TaskRefused("host.level: not an MLPS level 1-5")
    info = d.get("system_info") or []
    if not isinstance(info, list) or len(info) > 200 or not all(
            isinstance(x, dict) and set(x) <= {"id", "name", "level"} for x in info):
        raise TaskRefused("host.system_info: not a list of {id, name, level}")
    for x in info:
        ident(x.get("id"), "system_info.id")
        if not isinstance(x.get("name", ""), str) or len(x.get("name", "")) > 200:
            raise TaskRefused("host.system_info.name: not a bounded text")
    settings = d.get("settings")
    if not isinstance(settings, dict):
        raise TaskRefused("host.settings: not a mapping")
    for k, v in settings.items():
        if k not in TASK_SETTINGS:
            raise TaskRefused(f"host.settings.{str(k)[:40]}: not a setting a collector accepts from a task")
        if k == "key":
            ident(v, "settings.key")
            continue
        pred, desc = SETTINGS[k]
        if not pred(v):
            raise TaskRefused(f"host.settings.{k}: expected {desc}")
        if k.endswith("timeout") and v > MAX_TIMEOUT:
            raise TaskRefused(f"host.settings.{k}: more than {MAX_TIMEOUT} s")
    if len(json.dumps(settings.get("facts", {}))) > MAX_FACTS:
        raise TaskRefused(f"host.settings.facts: larger than {MAX_FACTS} bytes")
    from audits.model.inventory import DEFAULT_SETTINGS

    body = {**{k: d.get(k) for k in HOST_FIELDS}, "settings": {**DEFAULT_SETTINGS, **settings},
            "source": {"file": "task", "line": 0}}
    try:
        host = _decode(Host, body)
    except (KeyError, TypeError, ValueError, AttributeError, StopIteration) as exc:
        raise TaskRefused(f"host: cannot be read ({type(exc).__name__})") from None
    host.source = Source("task", 0)
    _check_policies(host)
    return host


def _check_policies(host: Host) -> None:
    """Backup and DR declarations with the inventory's rules: absolute paths without shell or glob
    characters, remotes without spaces or controls, a standby that is an address and a port."""
    import math

    from audits.inventory.validate import valid_address
    from audits.model.declarations import _PATH, _REMOTE, LISTING_FORMATS, BackupPolicy, DrPolicy

    def path(v, fld):
        if v is not None and (not isinstance(v, str) or not _PATH.match(v)):
            raise TaskRefused(f"host.{fld}: not an absolute path without shell or glob characters")

    def hours(v, fld):
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0):
            raise TaskRefused(f"host.{fld}: expected hours > 0")

    def listing(v, fld):
        if v is not None:
            if v.format not in LISTING_FORMATS:
                raise TaskRefused(f"host.{fld}.format: unknown")
            path(v.file, f"{fld}.file")

    for i, b in enumerate(host.backup):
        f = f"backup[{i}]"
        if not isinstance(b, BackupPolicy) or not isinstance(b.offsite, bool):
            raise TaskRefused(f"host.{f}: not a backup policy")
        hours(b.rpo_hours, f"{f}.rpo_hours")
        for k in ("marker", "restore_test"):
            path(getattr(b, k), f"{f}.{k}")
        listing(b.listing, f"{f}.listing")
        if b.schedule is not None and (not isinstance(b.schedule, str) or len(b.schedule) > 200
                                       or any(ord(c) < 32 or ord(c) == 127 for c in b.schedule)):
            raise TaskRefused(f"host.{f}.schedule: not a bounded single-line text")
        for j, t in enumerate(b.targets):
            tf = f"{f}.targets[{j}]"
            path(t.path, f"{tf}.path")
            path(t.marker, f"{tf}.marker")
            listing(t.listing, f"{tf}.listing")
            if t.remote is not None and (not isinstance(t.remote, str) or not _REMOTE.match(t.remote)):
                raise TaskRefused(f"host.{tf}.remote: not a remote target")
    for i, dp in enumerate(host.dr):
        f = f"dr[{i}]"
        if not isinstance(dp, DrPolicy):
            raise TaskRefused(f"host.{f}: not a DR declaration")
        for k in ("rpo_hours", "rto_hours", "drill_rto_hours"):
            hours(getattr(dp, k), f"{f}.{k}")
        sb = dp.standby
        if sb is not None:
            if sb.address is not None and not valid_address(sb.address):
                raise TaskRefused(f"host.{f}.standby.address: not an IP address or host name")
            if sb.port is not None and (isinstance(sb.port, bool) or not isinstance(sb.port, int)
                                        or not 1 <= sb.port <= 65535):
                raise TaskRefused(f"host.{f}.standby.port: not a port 1-65535")


def _decode(tp, value):
    """A JSON value as the type ``tp`` (dataclass, tuple[X, ...], list, X | None, date, plain)."""
    import dataclasses
    import datetime as dt
    import types
    import typing

    if value is None:
        return None
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        return _decode(next(a for a in args if a is not type(None)), value)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise TypeError(f"{tp.__name__} is not a mapping")
        hints = typing.get_type_hints(tp)
        names = {f.name for f in dataclasses.fields(tp)}
        if set(value) - names:
            raise TypeError(f"unknown field in {tp.__name__}")
        return tp(**{f.name: _decode(hints[f.name], value[f.name]) for f in dataclasses.fields(tp) if f.name in value})
    if origin is tuple:
        if not isinstance(value, list):
            raise TypeError("not a list")
        return tuple(_decode(args[0], v) for v in value)
    if origin is list and args:
        if not isinstance(value, list):
            raise TypeError("not a list")
        return [_decode(args[0], v) for v in value]
    if tp is dt.date:
        return dt.date.fromisoformat(value)
    return value


def task_message(host: Host, packs: list[str], params: dict, options: dict) -> dict:
    """The body of one host's task (before it is signed, ``seal_task``). ``options`` give the run's UTC
    start (ages are judged against it); SSH trust (known_hosts, trust on first use), keys and waivers
    never travel: the first two are the collector's site configuration, waivers stay with the dispatcher."""
    body = {"host": host_message(host), "packs": list(packs), "params": json.loads(json.dumps(params, default=str))}
    if options.get("run_started"):
        body["run_started"] = str(options["run_started"])
    return body


def seal_task(body: dict, run_id: str, nonce: str, site: str, expires: float, key) -> dict:
    """The signed task: the body bound to its run, nonce, site and expiry (epoch seconds)."""
    from audits.run import wire

    return wire.seal("task", {**body, "run": run_id, "nonce": nonce, "site": site, "expires": float(expires)}, key)


def open_task(envelope, cfg, nonces=None) -> dict:
    """A task's verified body, or TaskRefused: unsigned or altered (signature), for another site, expired,
    replayed (the nonce store), or naming a pack this collector does not have."""
    import time

    from audits.run import wire

    try:
        body = wire.unseal("task", envelope, cfg.dispatcher_keys, wire.MAX_TASK_BYTES)
    except wire.WireError as exc:
        raise TaskRefused(str(exc)) from None
    for k, t in (("run", str), ("nonce", str), ("site", str), ("expires", float), ("packs", list)):
        if not isinstance(body.get(k), t):
            raise TaskRefused(f"task.{k}: missing or of the wrong type")
    if body["site"] != cfg.site:
        raise TaskRefused(f"task.site: for site {body['site'][:64]!r}, this collector serves {cfg.site!r}")
    if body["expires"] < time.time():
        raise TaskRefused("task.expires: the task has expired")
    if not all(isinstance(p, str) for p in body["packs"]):
        raise TaskRefused("task.packs: not a list of pack names")
    if len(json.dumps(body.get("params") or {})) > MAX_PARAMS or not isinstance(body.get("params") or {}, dict):
        raise TaskRefused("task.params: not a bounded mapping")
    if body.get("run_started") is not None:
        import datetime as dt
        try:
            dt.datetime.fromisoformat(str(body["run_started"]).replace("Z", "+00:00"))
        except ValueError:
            raise TaskRefused("task.run_started: not an ISO date and time") from None
    if nonces is not None:
        why = nonces.claim(body["nonce"], body["expires"])
        if why == "replayed":
            raise TaskRefused(f"task.nonce: replayed (task {body['nonce'][:40]} was already audited here)")
        if why:
            raise TaskRefused(f"task.nonce: task {body['nonce'][:40]} is already being audited here")
    return body


def _collector_host(host: Host, cfg) -> Host:
    """The host as this collector reaches it: connection type allowed by the site configuration, the
    key file named by the site configuration, the site's known_hosts and trust-on-first-use."""
    conn = host.settings.get("connection", "ssh")
    if conn != "none" and conn not in cfg.connections:
        raise TaskRefused(f"host.settings.connection: '{conn}' is not allowed by this collector's site configuration")
    settings = {k: v for k, v in host.settings.items() if k != "key"}
    name = host.settings.get("key") or cfg.default_key
    if host.settings.get("key") and name not in cfg.keys:
        raise TaskRefused(f"host.settings.key: '{name}' is not a key of this collector's site configuration")
    if name:
        settings["key_file"] = cfg.keys[name]
    settings["known_hosts"] = cfg.known_hosts
    settings["trust_on_first_use"] = cfg.trust_on_first_use
    host.settings = settings
    return host


def _audit_host_task(self, envelope) -> dict:
    """Verify the task, audit the host (the same code as a local run) and return the signed reply."""
    from celery.exceptions import Ignore

    from audits.run import wire

    cfg, nonces = self.app.auditctl_site, self.app.auditctl_nonces
    log = logging.getLogger("auditctl.collector")
    try:
        body = open_task(envelope, cfg, nonces)
    except TaskRefused as exc:
        # No result is written: a refused task must not overwrite the reply of the genuine one.
        log.warning("task %s refused: %s", str(self.request.id)[:80], printable(str(exc)))
        raise Ignore() from None
    try:
        host = _collector_host(host_from_message(body.get("host")), cfg)
        checks = load_registry().select(body["packs"] or None)
    except (TaskRefused, KeyError, ValueError) as exc:
        nonces.finish(body["nonce"])
        log.warning("task %s refused: %s", str(self.request.id)[:80], printable(str(exc)))
        raise Ignore() from None
    log.info("auditing host %s (%s) for task %s", host.id, host.address, self.request.id)
    options = {"run_started": body.get("run_started")} if body.get("run_started") else {}
    # Auditor-side data (the patch index) is the collector's own: held in its cache, fetched from its site's mirror.
    from audits.run import enrich

    options["enrichers"] = enrich.prepare({"params": body.get("params") or {}, "hosts": [host], "say": log.warning})
    try:
        rec, results = audit_host(host, checks, body.get("params") or {}, options)
    except BaseException:
        nonces.release(body["nonce"])
        raise
    nonces.finish(body["nonce"])
    reply = {"run": body["run"], "host": host.id, "nonce": body["nonce"], "site": cfg.site,
             "record": asdict(rec), "results": results}
    return wire.seal("reply", json.loads(json.dumps(reply, default=str)), cfg.signing_key)


# -- the worker -----------------------------------------------------------------------------------
def run_worker(site_config: str, broker: str | None = None, backend: str | None = None, concurrency: int = 8,
               visibility_timeout: float | None = None, loglevel: str = "INFO") -> None:
    """Start a collector on its site's queue (blocks). Threads: audits wait on the network, not the CPU."""
    import socket

    from audits.run import siteconfig, wire

    cfg = siteconfig.load(site_config)
    queue = cfg.site
    logging.basicConfig(level=loglevel, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = make_app(broker, backend, visibility_timeout)
    app.auditctl_site = cfg
    app.auditctl_nonces = wire.NonceStore(os.path.join(cfg.state_dir, "nonces.sqlite"),
                                          stale_after=float(visibility_timeout or DEFAULT_VISIBILITY_TIMEOUT))
    app.conf.worker_enable_remote_control = False  # no pidbox: a site account reads its own queue only
    app.worker_main(["worker", "--queues", queue, "--pool", "threads", "--concurrency", str(concurrency),
                     "--hostname", f"auditctl-{queue}-{os.getpid()}@{socket.gethostname()}",
                     "--loglevel", loglevel, "--without-gossip", "--without-mingle"])
