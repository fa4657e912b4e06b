"""Distributed collectors without the lab: the site setting, the task message, hostile replies, and
real `auditctl worker` processes on the machine's Redis (and RabbitMQ) auditing this machine."""
import json
import textwrap

import pytest

import auditctl
from audits.run import wire
from audits.run.collector import host_from_message, make_app, seal_task, task_message
from audits.run.dispatch import ReplyRefused, accept_reply, dispatch_run, task_id
from audits.model.errors import InputError
from audits.inventory.load import load_inventory
from audits.run.runner import start_run
from audits.store.database import Store
from tests.celery_workers import AMQP_URL, REDIS_URL, Worker, bureau, need_broker, purge, unique_queue


def inventory(tmp_path, site_line="site: {queue}", queue="q", host_extra=""):
    p = tmp_path / "inv.yaml"
    p.write_text(textwrap.dedent(f"""\
        bureau: {{id: prov, name: 示范省}}
        districts:
          - id: d1
            city: city-a
            schools:
              - id: s1
                {site_line.format(queue=queue)}
                systems: [{{id: sys1, level: 2}}]
                hosts:
                  - {{id: me, address: 127.0.0.1, connection: local, systems: [sys1]{host_extra}}}
                  - {{id: me2, address: 127.0.0.1, connection: local, systems: [sys1], password_env: AUDIT_PW}}
        """), encoding="utf-8")
    return p


# -- model and message (no broker) -------------------------------------------------------------------
def test_site_inherits_and_the_host_wins(tmp_path):
    inv = load_inventory(inventory(tmp_path, queue="north", host_extra=", site: south"))
    assert inv.hosts["me"].settings["site"] == "south" and inv.hosts["me2"].settings["site"] == "north"
    assert inv.hosts["me"].city == "city-a"


def test_a_bad_site_is_a_file_line_error(tmp_path):
    with pytest.raises(InputError) as e:
        load_inventory(inventory(tmp_path, site_line="site: 'no spaces allowed'"))
    assert [str(p) for p in e.value.problems] == [
        f"{tmp_path / 'inv.yaml'}:7: districts[0].schools[0].site: wrong type or value 'no spaces allowed': "
        "expected a queue name (letters, digits, '.', '_', '-')"]


def test_dispatch_refuses_hosts_without_a_site_before_writing(tmp_path, capsys):
    inv = inventory(tmp_path, site_line="")
    db = tmp_path / "r.db"
    rc = auditctl.main(["run", "-q", "-i", str(inv), "--db", str(db), "--dispatch", "celery"])
    err = capsys.readouterr().err
    assert rc == 2 and f"{inv}:" in err and "me.site: no collector site" in err
    assert not db.exists()


def test_the_task_message_carries_no_secret(tmp_path, monkeypatch):
    monkeypatch.setenv("AUDIT_PW", "s3cret-pw")
    host = load_inventory(inventory(tmp_path)).hosts["me2"]
    msg = task_message(host, ["mlps"], {"mlps": {"min_password_length": 10}},
                       {"known_hosts": "/k", "exceptions": "x", "run_started": "2026-12-02T00:00:00Z"})
    assert msg["run_started"] == "2026-12-02T00:00:00Z" and "options" not in msg
    text = json.dumps(msg)
    # no secret, and neither a variable name nor a path: those are the collector's own site configuration
    assert "s3cret-pw" not in text and "AUDIT_PW" not in text and "/k" not in text
    assert "exceptions" not in text                                  # waivers stay with the dispatcher
    back = host_from_message(msg["host"])
    assert (back.id, back.address, back.systems, back.level) == (host.id, host.address, host.systems, host.level)


def test_a_host_with_backup_and_dr_policies_crosses_the_wire_unchanged(tmp_path):
    """The backup/DR packs judge declared policies: the collector must see the same ones."""
    p = tmp_path / "inv.yaml"
    p.write_text(textwrap.dedent("""\
        bureau: {id: prov}
        districts:
          - id: d1
            schools:
              - id: s1
                site: q
                systems:
                  - id: portal
                    level: 3
                    rpo_hours: 24
                    rto_hours: 8
                    backup:
                      targets:
                        - {path: /srv/backup/portal}
                        - {remote: "backup@dr.example:/pool/portal", offsite: true, marker: /var/backups/off-ok}
                      marker: /var/backups/portal.last-success
                      listing: {format: restic, file: /var/log/snapshots.json}
                    dr:
                      standby: {host: db02, port: 5432}
                      plan_reviewed: 2026-03-01
                      drill: {date: 2026-05-10, achieved_rto_hours: 6}
                hosts:
                  - {id: db01, address: 127.0.0.1, connection: local, systems: [portal]}
                  - {id: db02, address: 127.0.0.2, connection: local, systems: [portal]}
        """), encoding="utf-8")
    host = load_inventory(p).hosts["db01"]
    assert host.backup and host.dr and host.dr[0].drill_date is not None
    sent = json.loads(json.dumps(task_message(host, ["backup", "dr"], {}, {})))
    back = host_from_message(sent["host"])
    assert (back.backup, back.dr, back.no_backup, back.no_dr) == (host.backup, host.dr, host.no_backup, host.no_dr)


SITE_KEY = wire.Ed25519PrivateKey.generate()
OTHER_KEY = wire.Ed25519PrivateKey.generate()


class _Keys:
    signing = None
    collectors = {"q": SITE_KEY.public_key(), "other": OTHER_KEY.public_key()}


def _row(**result):
    return {"check_id": "mlps.auth.password_hash", "status": "fail", "severity": "high",
            "refs": ["GB/T 22239-2019 7.1.4.1 a"], "title": {"zh": "t", "en": "t"}, "message": {"zh": "m", "en": "m"},
            "remediation": {"zh": "r", "en": "r"}, "evidence": "x" * 10_000 + "\x1b[31m",
            "evaluated_at": "2026-01-01T00:00:00Z", **result}


def _reply(host_id="me", rows=None, key=SITE_KEY, run="R1", nonce="q.n1", site="q", **result):
    body = {"run": run, "host": host_id, "nonce": nonce, "site": site,
            "record": {"host_id": host_id, "status": "audited", "reason": None, "os_family": "debian", "detail": "",
                       "started_at": "2026-01-01T00:00:00Z", "duration": 1.0},
            "results": rows if rows is not None else [_row(**result)]}
    return json.dumps({"status": "SUCCESS", "result": wire.seal("reply", body, key)}).encode()


def _accept(host, raw):
    return accept_reply(host, raw, "R1", "q.n1", "q", _Keys)


@pytest.mark.parametrize("raw, why", [
    (_reply(rows=[_row(status="owned")]), "unknown result status"),
    (_reply(rows=[_row(title="<b>not a mapping</b>")]), "title is not a {zh, en} mapping"),
    (_reply(rows=[_row(check_id="made.up")]), "unknown check id 'made.up'"),
    (_reply(rows=[_row(), _row()]), "duplicate result for mlps.auth.password_hash"),
    (_reply(rows=[_row(evaluated_at="yesterday")]), "evaluated_at is not an ISO date and time"),
    (_reply("someone-else"), "signed reply names host 'someone-else'"),
])
def test_a_hostile_or_bad_reply_makes_the_host_unreachable_or_is_refused(tmp_path, raw, why):
    host = load_inventory(inventory(tmp_path)).hosts["me"]
    try:
        rec, results = _accept(host, raw)
    except ReplyRefused as exc:
        assert why in str(exc)
        return
    assert rec.status == "unreachable" and rec.reason == "error" and why in rec.detail and results == []


@pytest.mark.parametrize("raw, why", [
    (b"not json at all", "reply is not JSON"),
    (b"[1, 2, 3]", "reply is not a result object"),
    (json.dumps({"status": "SUCCESS", "result": {"host": {}, "results": []}}).encode(), "unsigned reply"),
    (json.dumps({"status": "FAILURE", "result": "ValueError('boom')"}).encode(), "unsigned reply: task state FAILURE"),
    (_reply(key=OTHER_KEY), "signature does not verify"),               # another site's collector
    (_reply(run="R0"), "signed reply names run 'R0'"),                  # a replay from an earlier run
    (_reply(nonce="q.old"), "signed reply names nonce 'q.old'"),        # a reply to another task
])
def test_a_reply_that_is_not_this_tasks_genuine_answer_is_refused(tmp_path, raw, why):
    host = load_inventory(inventory(tmp_path)).hosts["me"]
    with pytest.raises(ReplyRefused, match=None) as e:
        _accept(host, raw)
    assert why in str(e.value)


def test_a_good_reply_is_bounded_and_keeps_the_inventory_identity(tmp_path):
    host = load_inventory(inventory(tmp_path)).hosts["me"]
    body = json.loads(_reply())
    rec, (row,) = _accept(host, _reply())
    assert rec.status == "audited" and rec.address == "127.0.0.1" and rec.school == "s1" and rec.city == "city-a"
    assert len(row["evidence"]) <= 2000 and "\x1b" not in row["evidence"]
    assert body["result"]["kind"] == "reply"


# -- real workers on Redis ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def redis_worker(tmp_path_factory):
    need_broker(REDIS_URL)
    queue = unique_queue("local")
    w = Worker(queue, tmp_path_factory.mktemp("worker") / "worker.log", concurrency=2).wait_ready()
    yield w
    w.stop()


def test_a_celery_run_stores_what_a_local_run_stores(tmp_path, redis_worker):
    inv = inventory(tmp_path, queue=redis_worker.queue)
    db = tmp_path / "r.db"
    rc = auditctl.main(["run", "-q", "-i", str(inv), "--db", str(db), "--out", "", "--dispatch", "celery",
                        "--broker", REDIS_URL, "--dispatch-timeout", "60", *bureau().args()])
    assert rc == 0
    local_db = tmp_path / "local.db"
    assert auditctl.main(["run", "-q", "-i", str(inv), "--db", str(local_db), "--out", ""]) == 0
    s, local = Store(str(db)), Store(str(local_db))
    (run,), (lrun,) = s.runs(), local.runs()
    hosts = s.hosts(run["id"])
    assert [(h.host_id, h.status, h.city) for h in hosts] == [("me", "audited", "city-a"), ("me2", "audited", "city-a")]
    got = {h: sorted((r["check_id"], r["status"]) for r in rs) for h, rs in s.results(run["id"]).items()}
    want = {h: sorted((r["check_id"], r["status"]) for r in rs) for h, rs in local.results(lrun["id"]).items()}
    assert got == want and len(got["me"]) > 50


def test_a_duplicate_delivery_is_audited_once_and_stored_once(tmp_path, redis_worker):
    """At-least-once delivery: the same signed task three times. The collector's nonce store runs it once
    (the others are 'already being audited' or 'replayed'), and the dispatcher stores one answer."""
    import time

    inv = load_inventory(inventory(tmp_path, queue=redis_worker.queue))
    store = Store(str(tmp_path / "r.db"))
    run_id = start_run(store, {"inventory": "dup"})
    host = inv.hosts["me"]
    before, refused_before = redis_worker.audited("me"), len(redis_worker.refused())
    app = make_app(REDIS_URL)
    tid = task_id(redis_worker.queue)
    envelope = seal_task(task_message(host, ["mlps"], {}, {}), run_id, tid, redis_worker.queue, time.time() + 60,
                         bureau().keys().signing)
    for _ in range(3):
        app.send_task("auditctl.audit_host", args=[envelope], task_id=tid, queue=redis_worker.queue)
    deadline = time.monotonic() + 60
    while len(redis_worker.refused()) < refused_before + 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert redis_worker.audited("me") == before + 1        # audited once ...
    assert len(redis_worker.refused()) == refused_before + 2  # ... the two duplicates refused
    summary = dispatch_run(store, run_id, [inv.hosts["me2"]], ["mlps"], {}, {}, broker=REDIS_URL, timeout=60,
                           quiet=True, keys=bureau().keys())
    assert summary.status == "completed" and summary.audited == 1
    app.backend.client.delete(app.backend.get_key_for_task(tid))


def test_hosts_no_collector_finished_are_recorded_not_lost(tmp_path, capsys):
    need_broker(REDIS_URL)
    queue = unique_queue("nobody")   # no worker listens on this queue
    inv = inventory(tmp_path, queue=queue)
    db = tmp_path / "r.db"
    try:
        bureau().site(queue)
        rc = auditctl.main(["run", "-q", "-i", str(inv), "--db", str(db), "--out", "", "--dispatch", "celery",
                            "--broker", REDIS_URL, "--dispatch-timeout", "1.5", *bureau().args()])
    finally:
        purge(queue)
    assert rc == 3
    s = Store(str(db))
    (run,) = s.runs()
    assert run["status"] == "incomplete"
    assert [(h.host_id, h.reason) for h in s.hosts(run["id"])] == [("me", "no_collector"), ("me2", "no_collector")]
    assert "within 1.5 s" in s.hosts(run["id"])[0].detail


def test_rabbitmq_broker_smoke(tmp_path):
    need_broker(AMQP_URL)
    need_broker(REDIS_URL)
    queue = unique_queue("amqp")
    w = Worker(queue, tmp_path / "worker.log", broker=AMQP_URL, backend=REDIS_URL).wait_ready()
    try:
        inv = inventory(tmp_path, queue=queue)
        db = tmp_path / "r.db"
        rc = auditctl.main(["run", "-q", "-i", str(inv), "--db", str(db), "--out", "", "--dispatch", "celery",
                            "--broker", AMQP_URL, "--result-backend", REDIS_URL, "--dispatch-timeout", "60",
                            *bureau().args()])
        assert rc == 0
        s = Store(str(db))
        assert [h.status for h in s.hosts(s.runs()[0]["id"])] == ["audited", "audited"]
        assert w.audited("me") == 1
    finally:
        w.stop()


def test_a_broker_without_a_redis_result_backend_is_a_usage_error(tmp_path, capsys):
    inv = inventory(tmp_path)
    rc = auditctl.main(["run", "-q", "-i", str(inv), "--db", str(tmp_path / "r.db"), "--dispatch", "celery",
                        "--broker", "amqp://guest:guest@127.0.0.1:5672//", "--result-backend", "rpc://",
                        *bureau().args()])
    assert rc == 2 and "--result-backend: collector replies need a Redis result backend" in capsys.readouterr().err
    assert not (tmp_path / "r.db").exists()   # nothing written


def test_an_unreachable_broker_interrupts_the_run_for_resume(tmp_path, capsys, monkeypatch):
    import audits.run.dispatch

    monkeypatch.setattr(audits.run.dispatch, "PUBLISH_RETRY", {"max_retries": 1, "interval_start": 0.1})
    bureau().site("q")
    db = tmp_path / "r.db"
    rc = auditctl.main(["run", "-q", "-i", str(inventory(tmp_path)), "--db", str(db), "--out", "", "--dispatch",
                        "celery", "--broker", "redis://127.0.0.1:1/0", *bureau().args()])   # nothing listens on port 1
    err = capsys.readouterr().err
    assert rc == 3 and "cannot send tasks to the broker" in err and "resume with: auditctl run --resume" in err
    assert Store(str(db)).runs()[0]["status"] == "interrupted"
