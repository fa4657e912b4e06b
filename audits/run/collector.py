"""Distributed collectors: the Celery app, the one task (audit one host) and the worker entry point.

A collector runs near a school's hosts (``auditctl worker --queue SITE``) and pulls audit tasks from
its site's queue. The task message carries the host's inventory entry and the run's packs, params and
SSH options, never a secret: key files, agents and ``password_env`` variables are the worker's own.
The task audits the host with the same runner code as a local run (``runner.audit_host``) and
returns the host record and its results; the dispatcher (``audits.run.dispatch``) validates them, applies
the bureau's waivers and attestations and saves them, so collectors need no access to the bureau's
store. Delivery is at least once (late acknowledgement, requeue when a worker is lost, Redis
visibility timeout); the dispatcher's per-host save is idempotent, so a duplicate does not double.
"""
from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict

from checks.registry import load_registry

from audits.model.errors import InputError, Problem
from audits.model.inventory import Host
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
def host_message(host: Host) -> dict:
    """A host's inventory entry as JSON (settings hold paths and variable names, never secrets)."""
    return json.loads(json.dumps(asdict(host), default=str))


def host_from_message(d: dict) -> Host:
    """The Host back from its JSON: nested dataclasses (source, backup/DR policies), tuples and dates
    rebuilt from the field types, so a collector judges exactly the host the bureau declared."""
    return _decode(Host, d)


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
        hints = typing.get_type_hints(tp)
        return tp(**{f.name: _decode(hints[f.name], value[f.name]) for f in dataclasses.fields(tp) if f.name in value})
    if origin is tuple:
        return tuple(_decode(args[0], v) for v in value)
    if origin is list and args:
        return [_decode(args[0], v) for v in value]
    if tp is dt.date:
        return dt.date.fromisoformat(value)
    return value


def task_message(host: Host, packs: list[str], params: dict, options: dict) -> dict:
    """Everything a collector needs to audit one host. ``options`` are the run's SSH options
    (known_hosts, trust on first use) and its UTC start (ages are judged against it); waivers and
    attestations stay with the dispatcher."""
    return {"host": host_message(host), "packs": list(packs), "params": json.loads(json.dumps(params, default=str)),
            "options": {k: options.get(k) for k in ("known_hosts", "tofu", "run_started") if options.get(k) is not None}}


def _audit_host_task(self, message: dict) -> dict:
    """Audit one host (the same code as a local run) and return its record and raw results."""
    host = host_from_message(message["host"])
    logging.getLogger("auditctl.collector").info("auditing host %s (%s) for task %s", host.id, host.address,
                                                    self.request.id)
    checks = load_registry().select(message["packs"] or None)
    rec, results = audit_host(host, checks, message.get("params") or {}, dict(message.get("options") or {}))
    return {"host": asdict(rec), "results": results}


# -- the worker -----------------------------------------------------------------------------------
def run_worker(queue: str, broker: str | None = None, backend: str | None = None, concurrency: int = 8,
               visibility_timeout: float | None = None, loglevel: str = "INFO") -> None:
    """Start a collector on one site queue (blocks). Threads: audits wait on the network, not the CPU."""
    import socket

    logging.basicConfig(level=loglevel, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = make_app(broker, backend, visibility_timeout)
    app.worker_main(["worker", "--queues", queue, "--pool", "threads", "--concurrency", str(concurrency),
                     "--hostname", f"auditctl-{queue}-{os.getpid()}@{socket.gethostname()}",
                     "--loglevel", loglevel, "--without-gossip", "--without-mingle"])
