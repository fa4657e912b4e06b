"""Issue #17: collectors that cannot be turned against the hosts, the bureau or each other.

One test (or group) per item of the issue, each failing on the code before the fix, with real
`auditctl worker` processes on the machine's Redis (and RabbitMQ for the least-privilege test):
1. forged tasks and hostile declarations run nothing;   2. a task cannot choose paths, variables, connections;
3. forged, foreign and replayed replies are refused and recorded;   4. the dispatcher survives any reply;
5. memory per host is bounded whatever the output's shape;   6. host keys per jump chain, ssh ends options;
7. /dev/zero as key_file, known_hosts or vault;   8. reply and stored text reach the terminal escaped;
and least privilege on the broker (per-site RabbitMQ users and Redis ACL users).
"""
from __future__ import annotations

import inspect
import json
import os
import resource
import secrets
import shutil
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

import auditctl
from audits.collect.script import build_script, new_nonce, shell_command
from audits.inventory.load import load_inventory
from audits.model.declarations import BackupPolicy, DrPolicy, Listing, Standby, Target
from audits.model.inventory import DEFAULT_SETTINGS, Host, Source
from audits.run import wire
from audits.run.collector import make_app, seal_task, task_message
from audits.run.dispatch import dispatch_run, task_id
from audits.run.runner import start_run
from audits.store.database import Store
from tests.celery_workers import AMQP_URL, REDIS_URL, ROOT, Bureau, Worker, bureau, need_broker, purge, unique_queue


def write_inventory(tmp_path, queue, dr=True, name="inv.yaml"):
    lines = ["bureau: {id: prov}", "districts:", "  - id: d1", "    schools:", "      - id: s1",
             f"        site: {queue}", "        systems:", "          - id: portal", "            level: 3",
             "            rpo_hours: 24", "            rto_hours: 8"]
    if dr:
        lines += ["            dr:", "              standby: {host: db02, port: 5432}",
                  "              plan_reviewed: 2026-03-01"]
    lines += ["        hosts:", "          - {id: db01, address: 127.0.0.1, connection: local, systems: [portal]}",
              "          - {id: db02, address: 127.0.0.2, connection: none, systems: [portal]}"]
    p = tmp_path / name
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


def _wait(cond, timeout=45.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


# -- 1 and 2: forged tasks ------------------------------------------------------------------------------
def test_forged_altered_replayed_or_overreaching_tasks_are_refused_and_run_nothing(tmp_path):
    """A broker account that writes to a site's queue: nothing it sends runs, none of it writes a result."""
    need_broker(REDIS_URL)
    queue = unique_queue("forge")
    w = Worker(queue, tmp_path / "w.log", site_config=bureau().site(queue, connections=("ssh",))).wait_ready()
    app = make_app(REDIS_URL)
    marker = tmp_path / "pwned"
    try:
        inv = load_inventory(write_inventory(tmp_path, queue))
        host = inv.hosts["db01"]
        signing = bureau().keys().signing
        good = task_message(host, ["dr"], {}, {})

        def body(**host_changes):
            b = json.loads(json.dumps(good))
            for k, v in host_changes.items():
                if k == "settings":
                    b["host"]["settings"].update(v)
                else:
                    b["host"][k] = v
            return b

        def signed(b, site=queue, expires=None, key=signing, tid=None):
            tid = tid or task_id(site)
            return tid, seal_task(b, "R1", tid, site, expires or time.time() + 60, key)

        hostile_dr = body()
        hostile_dr["host"]["dr"][0]["standby"]["address"] = f"127.0.0.1$(touch {marker})"
        tid_alt, altered = signed(body(settings={"connection": "none"}))
        altered["body"] = altered["body"].replace('"127.0.0.1"', '"10.9.9.9"')
        cases = {   # tid -> (envelope, the reason the worker must give)
            "unsigned": ((tid := task_id(queue)), {"host": good["host"], "packs": ["dr"]}, "unsigned task"),
            "wrong key": (*signed(body(settings={"connection": "none"}), key=wire.Ed25519PrivateKey.generate()),
                          "signature does not verify"),
            "altered": (tid_alt, altered, "signature does not verify"),
            "other site": (*signed(body(settings={"connection": "none"}), site="someone-else"), "task.site"),
            "expired": (*signed(body(settings={"connection": "none"}), expires=time.time() - 1), "expired"),
            "key_file": (*signed(body(settings={"key_file": "/etc/shadow"})), "host.settings.key_file"),
            "password_env": (*signed(body(settings={"password_env": "AWS_SECRET_ACCESS_KEY"})),
                             "host.settings.password_env"),
            "known_hosts": (*signed(body(settings={"known_hosts": str(tmp_path / "x/y/authorized_keys")})),
                            "host.settings.known_hosts"),
            "local": (*signed(body()), "connection: 'local' is not allowed"),
            "dr address": (*signed(hostile_dr), "host.dr[0].standby.address"),
            "bad user": (*signed(body(settings={"user": "-oProxyCommand=touch " + str(marker)})),
                         "host.settings.user"),
        }
        for name, (tid, envelope, _) in cases.items():
            app.send_task("auditctl.audit_host", args=[envelope], task_id=tid, queue=queue)
        _wait(lambda: len(w.refused()) >= len(cases), what="every forged task refused")
        log = "\n".join(w.refused())
        for name, (tid, _, why) in cases.items():
            line = next((x for x in w.refused() if tid[:60] in x), "")
            assert why in line, (name, line, log)
        client = app.backend.client
        assert not any(client.exists(app.backend.get_key_for_task(t)) for t, _, _ in cases.values())  # no result
        assert w.audited("db01") == 0 and not marker.exists() and not (tmp_path / "x").exists()

        # replay: a genuine task runs once; the same envelope again is refused as replayed
        tid, envelope = signed(body(settings={"connection": "none"}))
        app.send_task("auditctl.audit_host", args=[envelope], task_id=tid, queue=queue)
        _wait(lambda: client.exists(app.backend.get_key_for_task(tid)), what="the genuine reply")
        client.delete(app.backend.get_key_for_task(tid))
        app.send_task("auditctl.audit_host", args=[envelope], task_id=tid, queue=queue)
        _wait(lambda: any("replayed" in x for x in w.refused()), what="the replay refused")
        time.sleep(0.5)
        assert not client.exists(app.backend.get_key_for_task(tid)) and w.audited("db01") == 1
    finally:
        w.stop()
        purge(queue)


def _hostile_host(value: str) -> Host:
    """A host whose every declared string carries ``value`` (built directly: no inventory validation,
    so the probes' own quoting is what is tested)."""
    p = "/srv/b" + value
    listing = Listing("restic", p + "-l")
    backup = BackupPolicy("portal", 3, 24.0, True,
                          (Target(path=p, offsite=False, marker=p + "-m", listing=listing),
                           Target(path=p + "-o", offsite=True, marker=p + "-om", listing=listing),
                           Target(remote="u@h:" + p, offsite=True, marker=p + "-rm")),
                          marker=p + "-marker", listing=listing, schedule="job" + value, restore_test=p + "-rt")
    dr = DrPolicy("portal", 3, 24.0, 8.0, Standby("db02", "127.0.0.1" + value, 1))
    return Host("h", "127.0.0.1", "s", "d", ["portal"], 3, {**DEFAULT_SETTINGS}, Source("t", 0),
                backup=(backup,), dr=(dr,))


def _declared(check, host):
    """The probes a check builds from the host's declarations (with its default parameters when it takes them)."""
    if "params" in inspect.signature(check.host_probes).parameters:
        return check.host_probes(host, params=dict(check.params))
    return check.host_probes(host)


def test_every_probe_built_from_declarations_keeps_hostile_values_inert(tmp_path):
    """Walk every check with probes from declarations (@declared_probes: backup and DR packs, and any
    other), give every declared string shell syntax, and RUN the resulting probe script: nothing of it
    may execute. (Before: the DR standby address was script text inside `bash -c`.)"""
    from checks.registry import load_registry

    sandbox = tmp_path / "sandbox"
    sandbox.mkdir()
    marker = sandbox / "m"
    checks = [c for c in load_registry().select(None) if c.host_probes]
    assert {c.id for c in checks} >= {"dr.standby_ready", "backup.last_success", "backup.offsite_copy",
                                      "backup.not_world_readable", "backup.restore_tested"}
    values = [f"$(touch {marker})", f"`touch {marker}`", f";touch {marker};", f"';touch {marker};'",
              f"\";touch {marker};\"", f"|touch {marker}", f"&touch {marker}&", f"$(touch${{IFS}}{marker})",
              f" -exec touch {marker} ;", f"'$(touch {marker})'"]
    seen = 0
    for v in values:
        host = _hostile_host(v)
        probes = {p for c in checks for p in _declared(c, host)}
        assert any(v in p.arg for p in probes), v
        runnable = set()
        for p in probes:   # a sudo probe with shell syntax is refused outright (sudo_argv): inert by refusal
            try:
                shell_command(p, as_root=True)
                runnable.add(p)
            except ValueError:
                assert p.sudo
        assert any("/dev/tcp" in p.arg for p in runnable) and any(p.kind == "file" for p in runnable)
        seen += len(runnable)
        script = build_script(runnable, new_nonce(), timeout=3, as_root=True)
        r = subprocess.run(["bash", "-s"], input=script.encode(), cwd=sandbox, capture_output=True, timeout=120,
                           env={"PATH": os.environ["PATH"], "HOME": str(sandbox)})
        assert b"DONE" in r.stdout
        assert not marker.exists(), (v, sorted(p.arg for p in probes))
        assert sorted(os.listdir(sandbox)) == []
    assert seen > 20


# -- 3: forged, foreign and replayed replies ----------------------------------------------------------
def _queued_task_id(client, queue: str) -> str | None:
    for raw in client.lrange(queue, 0, -1):
        return json.loads(raw)["headers"]["id"]
    return None


def test_forged_foreign_and_replayed_replies_are_refused_recorded_and_the_genuine_one_stored(tmp_path):
    """A broker account writes 'pass' replies for another site's host before its collector answers: an
    unsigned one (the 82 forged passes of the issue), one signed by another site's registered collector,
    and a replay of a genuine signed reply from an earlier run. Each is refused and recorded on the host;
    the genuine reply of the host's own collector is what is stored."""
    need_broker(REDIS_URL)
    queue, other = unique_queue("victim"), unique_queue("attacker")
    b = bureau()
    site_cfg = b.site(queue)
    b.site(other)
    own_key = wire.load_private(Path(site_cfg).parent / "collector.key")      # to build a genuine old reply
    other_key = wire.load_private(b.dir / other / "collector.key")
    inv = load_inventory(write_inventory(tmp_path, queue, dr=False))
    hosts = [inv.hosts["db01"]]
    store = Store(str(tmp_path / "r.db"))
    run_id = start_run(store, {"inventory": "forged-replies"})
    app = make_app(REDIS_URL)
    client = app.backend.client
    result: dict = {}
    t = threading.Thread(target=lambda: result.update(summary=dispatch_run(
        store, run_id, hosts, ["mlps"], {}, {}, broker=REDIS_URL, timeout=90, quiet=True, keys=b.keys())))
    t.start()
    w = None
    try:
        _wait(lambda: _queued_task_id(client, queue), what="the task in the queue")
        tid = _queued_task_id(client, queue)
        key = app.backend.get_key_for_task(tid)
        row = {"check_id": "mlps.auth.password_hash", "status": "pass", "severity": "high", "refs": [],
               "title": {"zh": "t", "en": "t"}, "message": {"zh": "ok", "en": "ok"},
               "remediation": {"zh": "", "en": ""}, "evidence": "", "evaluated_at": "2026-01-01T00:00:00Z"}
        record = {"host_id": "db01", "status": "audited", "reason": None, "os_family": "debian", "detail": "",
                  "started_at": "2026-01-01T00:00:00Z", "duration": 1.0}
        forged = [
            {"status": "SUCCESS", "result": {"host": record, "results": [row]}},            # unsigned (old format)
            {"status": "SUCCESS", "result": wire.seal("reply", {"run": run_id, "host": "db01", "nonce": tid,
                                                                "site": queue, "record": record, "results": [row]},
                                                      other_key)},                       # another site's collector
            {"status": "SUCCESS", "result": wire.seal("reply", {"run": "20260101T000000Z-old", "host": "db01",
                                                                "nonce": f"{queue}.old", "site": queue,
                                                                "record": record, "results": [row]},
                                                      own_key)},                          # replay of an old reply
        ]
        for meta in forged:
            client.set(key, json.dumps(meta))
            _wait(lambda: not client.exists(key), what="the dispatcher to read the forged reply")
        w = Worker(queue, tmp_path / "w.log", site_config=site_cfg).wait_ready()
        t.join(120)
    finally:
        if w:
            w.stop()
        t.join(5)
        purge(queue)
    summary = result["summary"]
    assert summary.status == "completed"
    (rec,) = store.hosts(run_id)
    assert rec.status == "audited" and "3 reply(ies) refused" in rec.detail, rec.detail
    assert "unsigned reply" in rec.detail
    rows = store.results(run_id)["db01"]
    assert len(rows) > 50 and not all(r["status"] == "pass" for r in rows)      # the genuine audit, not the forgery
    assert w.audited("db01") == 1


# -- 4: the dispatcher never dies of a reply ---------------------------------------------------------------
def test_the_dispatcher_survives_any_reply_and_stores_the_other_hosts(tmp_path):
    """Not JSON, a list, and a 20 MB reply for one host (whose collector never answers); the other host's
    collector answers. The run completes: the good host is stored, the bad one is recorded with why."""
    need_broker(REDIS_URL)
    good_q, bad_q = unique_queue("good"), unique_queue("bad")
    b = bureau()
    good_cfg = b.site(good_q)
    b.site(bad_q)
    inv_path = write_inventory(tmp_path, good_q, dr=False)
    text = inv_path.read_text().replace(
        "- {id: db02, address: 127.0.0.2, connection: none, systems: [portal]}",
        f"- {{id: db02, address: 127.0.0.2, connection: none, systems: [portal], site: {bad_q}}}")
    inv_path.write_text(text)
    inv = load_inventory(inv_path)
    assert inv.hosts["db02"].settings["site"] == bad_q
    store = Store(str(tmp_path / "r.db"))
    run_id = start_run(store, {"inventory": "bad-replies"})
    app = make_app(REDIS_URL)
    client = app.backend.client
    w = Worker(good_q, tmp_path / "w.log", site_config=good_cfg).wait_ready()
    result: dict = {}
    t = threading.Thread(target=lambda: result.update(summary=dispatch_run(
        store, run_id, list(inv.hosts.values()), ["mlps"], {}, {}, broker=REDIS_URL, timeout=25, quiet=True,
        keys=b.keys())))
    t.start()
    try:
        _wait(lambda: _queued_task_id(client, bad_q), what="the bad host's task")
        key = app.backend.get_key_for_task(_queued_task_id(client, bad_q))
        for raw in (b"\xff\xfe not json", b"[1, 2, 3]", b'{"status": "SUCCESS", "result": "' + b"A" * (20 << 20) + b'"}'):
            client.set(key, raw)
            _wait(lambda: not client.exists(key), what="the dispatcher to read the bad reply")
        t.join(60)
    finally:
        w.stop()
        t.join(5)
        purge(bad_q)
    assert not t.is_alive() and result["summary"].status == "incomplete"
    recs = {r.host_id: r for r in store.hosts(run_id)}
    assert recs["db01"].status == "audited" and len(store.results(run_id)["db01"]) > 50
    bad = recs["db02"]
    assert bad.status == "unreachable" and bad.reason == "no_collector"
    for why in ("reply is not JSON", "reply is not a result object", "larger than"):
        assert why in bad.detail, bad.detail
    assert store.run(run_id)["status"] == "incomplete"


# -- 5: memory per host --------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", ["rawlines", "lines"])
def test_memory_of_one_hostile_host_is_bounded_whatever_the_shape_of_its_output(shape):
    """The whole output budget as 10 million two-character lines took the auditor to ~1.4 GB (one object
    per line); now the peak stays near the newline-free case (bench/host_memory.py prints all shapes)."""
    r = subprocess.run([sys.executable, str(ROOT / "bench" / "host_memory.py"), "--one", shape], cwd=ROOT,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    got = json.loads(r.stdout)
    assert got["results"] > 50 and got["peak_rss_mb"] < 300, json.dumps(got)   # whole, not truncated


# -- 6: host keys per jump chain; ssh options end before the destination ------------------------------------
def test_host_keys_are_remembered_per_jump_chain(tmp_path):
    import paramiko

    from audits.collect.transports.ssh import SSHTransport, known_name

    k1, k2 = paramiko.ECDSAKey.generate(), paramiko.ECDSAKey.generate()
    kh = tmp_path / "known_hosts"

    def host(jump):
        s = {**DEFAULT_SETTINGS, "known_hosts": str(kh), "jump": jump, "trust_on_first_use": True}
        return Host("web", "web.lan", "s", "d", [], 2, s, Source("t", 0))

    a, b = SSHTransport(host("audit@bastion-a.example")), SSHTransport(host("audit@bastion-b.example:2222"))
    a._record("web.lan", 22, k1, a.via())
    b._record("web.lan", 22, k2, b.via())
    assert known_name("web.lan", 22, a.via()) != known_name("web.lan", 22, b.via())
    assert a._expected_keys("web.lan", 22, a.via(), target=True) == {k1.get_name(): k1.asbytes()}
    assert b._expected_keys("web.lan", 22, b.via(), target=True) == {k2.get_name(): k2.asbytes()}
    direct = SSHTransport(host(None))
    assert direct._expected_keys("web.lan", 22, direct.via(), target=True) == {}   # neither is the direct web.lan


@pytest.mark.skipif(not shutil.which("ssh"), reason="needs the OpenSSH client")
def test_the_openssh_fallback_ends_options_before_the_destination(tmp_path):
    from audits.collect.transports.base import Unreachable
    from audits.collect.transports.openssh import OpenSSHTransport

    marker = tmp_path / "pwned"
    s = {**DEFAULT_SETTINGS, "port": 1, "connect_timeout": 2, "user": f"-oProxyCommand=touch {marker}",
         "known_hosts": str(tmp_path / "kh")}
    t = OpenSSHTransport(Host("h", "127.0.0.1", "s", "d", [], 2, s, Source("t", 0)))
    argv = t._base()
    assert argv[-4:] == ["-l", s["user"], "--", "127.0.0.1"]     # options end before the destination
    assert not any(a.startswith("-oProxyCommand") for a in argv[:-4])
    with pytest.raises(Unreachable):
        t.run_script("echo hi\n", 10)
    assert not list(tmp_path.glob("pwned*"))
    # and the inventory refuses such a user with its FILE:LINE
    p = tmp_path / "inv.yaml"
    p.write_text("bureau: {id: b}\ndistricts:\n  - id: d\n    schools:\n      - id: s\n        hosts:\n"
                 "          - {id: h, address: 10.0.0.1, user: '-oProxyCommand=x'}\n")
    from audits.model.errors import InputError

    with pytest.raises(InputError) as e:
        load_inventory(p)
    assert ".user" in str(e.value.problems[0]) and ":7:" in str(e.value.problems[0])


# -- 7: /dev/zero as key_file, known_hosts, vault ---------------------------------------------------------
def test_dev_zero_as_key_file_known_hosts_or_vault_is_refused_quickly(tmp_path):
    """Each in a child process limited to 1 GiB of address space and 60 s: before, each read /dev/zero to
    the end (≈3 GB)."""
    code = textwrap.dedent(f"""
        import resource, sys, json
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
        sys.path.insert(0, {str(ROOT)!r})
        from tests.hostile_ssh import HostileServer
        from audits.model.inventory import DEFAULT_SETTINGS, Host, Source
        from audits.run.runner import audit_host
        from audits.trust import vault
        from audits.model.errors import InputError
        out = {{}}
        with HostileServer("honest") as srv:
            for what, extra in (("known_hosts", {{"known_hosts": "/dev/zero"}}),
                                ("key_file", {{"key_file": "/dev/zero", "host_keys": [srv.pinned]}})):
                s = {{**DEFAULT_SETTINGS, "port": srv.port, "user": "audit", "connect_timeout": 5, **extra}}
                rec, _ = audit_host(Host("h", "127.0.0.1", "s", "d", [], 2, s, Source("t", 0)), [], {{}}, {{}})
                out[what] = [rec.status, rec.reason, rec.detail]
        try:
            vault.read_text("/dev/zero")
        except InputError as e:
            out["vault"] = str(e.problems[0])
        print(json.dumps(out))
    """)
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                       env={**os.environ, "SSH_AUTH_SOCK": ""})
    assert r.returncode == 0, r.stderr[-2000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["known_hosts"][:2] == ["unreachable", "error"] and "not a regular file" in out["known_hosts"][2]
    assert out["key_file"][0] == "unreachable" and "not a regular file" in out["key_file"][2]
    assert "not a regular file" in out["vault"]


# -- 8: reply and stored text reach the terminal escaped ---------------------------------------------------
def test_reply_and_stored_text_reach_the_terminal_escaped(tmp_path, capsys):
    from audits.run.runner import Progress
    from audits.store.database import HostRecord

    esc = "\x1b]0;owned\x07\x1b[2J\u202e"
    # the progress line of a host whose reply detail carries escapes (after the dispatcher's cleaning too)
    from audits.run.dispatch import _validated

    inv = load_inventory(write_inventory(tmp_path, "q", dr=False))
    rec, _ = _validated(inv.hosts["db01"], {"record": {"host_id": "db01", "status": "unreachable", "reason": "timeout",
                                                       "detail": "slow" + esc, "duration": 1}, "results": []})
    Progress(1).host_done(rec, [])
    err = capsys.readouterr().err
    assert "\x1b" not in err and "\u202e" not in err and "slow" in err
    # `auditctl diff` over a store whose texts carry escapes (any older store, any local run)
    db = tmp_path / "d.db"
    store = Store(str(db))
    row = {"check_id": "mlps.auth.password_hash", "status": "fail", "severity": "high", "refs": [],
           "title": {"zh": "t" + esc, "en": "t" + esc}, "message": {"zh": "m" + esc, "en": "m" + esc},
           "remediation": {"zh": "", "en": ""}, "evidence": esc, "evaluated_at": "2026-01-01T00:00:00Z"}
    for status in ("pass", "fail"):
        rid = start_run(store, {"inventory": "x"})
        h = HostRecord("db01" + esc, "127.0.0.1", "s1", "d1", 3, "debian", "audited", None, "", None,
                       "2026-01-01T00:00:00Z", 1.0)
        store.save_host(rid, h, [{**row, "status": status}])
        store.finish_run(rid, "completed")
        time.sleep(1.1)
    assert auditctl.main(["diff", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert "mlps.auth.password_hash" in out and "\x1b" not in out and "\x07" not in out and "\u202e" not in out


# -- least privilege on the broker ----------------------------------------------------------------------------
def _rabbitmqctl(*args):
    return subprocess.run(["rabbitmqctl", "-q", *args], capture_output=True, text=True, timeout=60)


@pytest.fixture
def site_accounts():
    """A RabbitMQ vhost with a dispatcher user and two site users, and Redis ACL users for the two sites'
    replies (all removed afterwards)."""
    need_broker(AMQP_URL)
    need_broker(REDIS_URL)
    if not shutil.which("rabbitmqctl") or _rabbitmqctl("status").returncode != 0:
        if os.environ.get("CI") == "true":
            pytest.fail("rabbitmqctl is required on CI (run as root)")
        pytest.skip("rabbitmqctl not usable here")
    import redis

    tag = secrets.token_hex(4)
    vhost = f"auditctl-test-{tag}"
    sites = {n: f"site{n}-{tag}" for n in ("a", "b")}
    pw = {u: secrets.token_hex(12) for u in ("dispatcher", *sites.values())}
    assert _rabbitmqctl("add_vhost", vhost).returncode == 0
    r = redis.Redis.from_url(REDIS_URL)
    try:
        _rabbitmqctl("add_user", f"dispatcher-{tag}", pw["dispatcher"])
        # the dispatcher (the bureau) declares, binds and writes every site queue
        _rabbitmqctl("set_permissions", "-p", vhost, f"dispatcher-{tag}", ".*", ".*", ".*")
        for site in sites.values():
            _rabbitmqctl("add_user", site, pw[site])
            # a site: declare, bind and read its own queue and its exchange of the same name (so it can at
            # most put messages into its own queue); no other queue, not the default exchange
            _rabbitmqctl("set_permissions", "-p", vhost, site, f"^{site}$", f"^{site}$", f"^{site}$")
            # its replies: SET/SETEX/PUBLISH (and GET, Celery reads a task's state before storing it) on its
            # own result keys only, in a MULTI/EXEC transaction (Celery's Redis backend stores a result with one;
            # the key patterns still bind every command queued in it)
            r.execute_command("ACL", "SETUSER", site, "reset", "on", f">{pw[site]}", f"~celery-task-meta-{site}.*",
                              f"&celery-task-meta-{site}.*", "+ping", "+select", "+get", "+set", "+setex", "+publish",
                              "+multi", "+exec", "+discard", "+client|setname", "+hello", "+info")
        yield {"vhost": vhost, "tag": tag, "sites": sites, "pw": pw}
    finally:
        for site in sites.values():
            r.execute_command("ACL", "DELUSER", site)
            _rabbitmqctl("delete_user", site)
        _rabbitmqctl("delete_user", f"dispatcher-{tag}")
        _rabbitmqctl("delete_vhost", vhost)


def test_per_site_broker_accounts_read_only_their_queue_and_write_only_their_replies(tmp_path, site_accounts):
    """A real collector runs with site A's accounts only (RabbitMQ user that reads only its queue, Redis ACL
    user that can write only its own reply keys) and a celery run completes; site A's accounts can
    neither read site B's queue, publish a task, nor write or read site B's replies."""
    import amqp
    import redis

    acc = site_accounts
    a, bsite = acc["sites"]["a"], acc["sites"]["b"]
    db_n = REDIS_URL.rsplit("/", 1)[1]

    def amqp_url(user):
        return f"amqp://{user}:{acc['pw'][user.split('-')[0] if user.startswith('dispatcher') else user]}@127.0.0.1:5672/{acc['vhost']}"

    dispatcher_url = f"amqp://dispatcher-{acc['tag']}:{acc['pw']['dispatcher']}@127.0.0.1:5672/{acc['vhost']}"
    site_amqp = {s: f"amqp://{s}:{acc['pw'][s]}@127.0.0.1:5672/{acc['vhost']}" for s in (a, bsite)}
    site_redis = {s: f"redis://{s}:{acc['pw'][s]}@127.0.0.1:6379/{db_n}" for s in (a, bsite)}
    b = Bureau(tmp_path / "bureau")
    cfg_a = b.site(a)
    b.site(bsite)
    inv = write_inventory(tmp_path, a, dr=False)
    w = Worker(a, tmp_path / "w.log", broker=site_amqp[a], backend=site_redis[a], site_config=cfg_a).wait_ready()
    try:
        db = tmp_path / "r.db"
        rc = auditctl.main(["run", "-q", "-i", str(inv), "--db", str(db), "--out", str(tmp_path / "out"),
                            "--dispatch", "celery", "--broker", dispatcher_url, "--result-backend", REDIS_URL, "--dispatch-timeout", "60",
                            *b.args()])
        assert rc == 0, w.text()[-3000:]
        s = Store(str(db))
        assert [h.status for h in s.hosts(s.runs()[0]["id"])] == ["audited", "audited"]
    finally:
        w.stop()
    # every reply was stored as the collector meant it: without MULTI/EXEC the SETEX ran outside the refused
    # transaction, the task then "failed" and its FAILURE state could overwrite the signed reply (a flaky run)
    assert "NoPermissionError" not in w.text() and "NOPERM" not in w.text(), w.text()[-3000:]
    # site A's RabbitMQ account: its own queue yes, site B's queue no, publishing no
    conn = amqp.Connection("127.0.0.1:5672", userid=a, password=acc["pw"][a], virtual_host=acc["vhost"])
    conn.connect()
    try:
        ch = conn.channel()
        ch.queue_declare(a, passive=True)
        with pytest.raises(amqp.exceptions.AccessRefused):
            ch.basic_get(bsite)
    finally:
        try:
            conn.close()
        except Exception:
            pass
    conn = amqp.Connection("127.0.0.1:5672", userid=a, password=acc["pw"][a], virtual_host=acc["vhost"])
    conn.connect()
    try:
        ch = conn.channel()
        with pytest.raises(amqp.exceptions.AccessRefused):
            ch.basic_publish(amqp.Message("{}"), exchange="", routing_key=a)
            ch.queue_declare(a, passive=True)   # the refusal arrives asynchronously; this waits for it
    finally:
        try:
            conn.close()
        except Exception:
            pass
    # site A's Redis account: its own reply keys writable, site B's neither writable nor readable, no queue
    ra = redis.Redis.from_url(site_redis[a])
    ra.set(f"celery-task-meta-{a}.probe", "x", ex=5)
    for op in (lambda: ra.set(f"celery-task-meta-{bsite}.forged", "x"), lambda: ra.get(f"celery-task-meta-{bsite}.x"),
               lambda: ra.lrange(bsite, 0, -1), lambda: ra.set("celery-task-meta-anything", "x")):
        with pytest.raises(redis.exceptions.NoPermissionError):
            op()
    with pytest.raises((redis.exceptions.NoPermissionError, redis.exceptions.ExecAbortError)):
        with ra.pipeline() as pipe:   # a transaction gives no key beyond the account's own
            pipe.setex(f"celery-task-meta-{a}.ok", 5, "x")
            pipe.set(f"celery-task-meta-{bsite}.forged", "x")
            pipe.execute()
    assert redis.Redis.from_url(REDIS_URL).get(f"celery-task-meta-{bsite}.forged") is None
    redis.Redis.from_url(REDIS_URL).delete(f"celery-task-meta-{a}.probe")
