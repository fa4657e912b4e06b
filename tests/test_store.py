"""The results store on SQLite and on a real PostgreSQL server: round trip, append-only, schema version."""
import pytest
from sqlalchemy import text

from audits.store.database import SCHEMA_VERSION, HostRecord, Store, StoreError


def host(hid, status="audited", reason=None):
    return HostRecord(hid, "192.0.2.7", "s1", "d1", 3, "debian", status, reason, "", "2026-01-01T00:00:00Z",
                      "2026-01-01T00:00:01Z", 1.0)


RESULT = {"check_id": "starter.x", "status": "fail", "severity": "high", "refs": ["GB/T 22239-2019 8.1.4.1 a"],
          "title": {"zh": "标题", "en": "title"}, "message": {"zh": "消息<script>", "en": "msg"},
          "remediation": {"zh": "修", "en": "fix"}, "evidence": "PermitRootLogin yes\n中文", "evaluated_at": "2026-01-01T00:00:00Z"}


def test_round_trip(store_url):
    s = Store(store_url)
    s.create_run("r1", {"inventory": "inv.yaml", "packs": ["starter"]}, "0.1.0")
    s.save_host("r1", host("h1"), [RESULT, {**RESULT, "check_id": "starter.y", "status": "pass"}])
    s.save_host("r1", host("h2", "unreachable", "timeout"), [])
    s.finish_run("r1", "incomplete")
    again = Store(store_url)  # a new connection sees everything
    run = again.run("r1")
    assert run["status"] == "incomplete" and run["finished_at"] and run["scope"]["packs"] == ["starter"]
    hosts = {h.host_id: h for h in again.hosts("r1")}
    assert hosts["h2"].reason == "timeout" and hosts["h1"].level == 3
    res = again.results("r1")["h1"]
    assert [r["check_id"] for r in res] == ["starter.x", "starter.y"]
    assert res[0]["message"]["zh"] == "消息<script>" and res[0]["evidence"].endswith("中文")
    assert res[0]["refs"] == ["GB/T 22239-2019 8.1.4.1 a"]


def test_saving_a_host_twice_keeps_the_first_and_doubles_nothing(store_url):
    """A collector task delivered twice saves the same host twice: the second save is a no-op."""
    s = Store(store_url)
    s.create_run("r2", {}, "0.1.0")
    assert s.save_host("r2", host("h1"), [RESULT]) is True
    assert s.save_host("r2", host("h1", "unreachable", "timeout"), [RESULT, {**RESULT, "check_id": "starter.y"}]) is False
    assert [h.status for h in s.hosts("r2")] == ["audited"]
    assert len(s.results("r2")["h1"]) == 1
    with s.engine.connect() as c:
        assert c.execute(text("select count(*) from result_items where run_id='r2'")).scalar() == 1


def test_result_items_hold_each_cited_clause(store_url):
    s = Store(store_url)
    s.create_run("r3", {}, "0.1.0")
    two = {**RESULT, "refs": ["GB/T 22239-2019 8.1.4.1 a", "GB/T 22239-2019 8.1.4.2 b", "CIS 5.2.10"],
           "status": "waived", "underlying": "fail"}
    s.save_host("r3", host("h1"), [two])
    with s.engine.connect() as c:
        rows = c.execute(text("select clause, status, underlying from result_items where run_id='r3' order by clause")).all()
    assert [tuple(r) for r in rows] == [("8.1.4.1 a", "waived", "fail"), ("8.1.4.2 b", "waived", "fail")]


def test_a_version_1_store_is_migrated_forward_with_its_results_indexed(tmp_path):
    """A store written before migration 6 gains run_hosts.city and result_items for its old runs."""
    from sqlalchemy import create_engine

    url = f"sqlite:///{tmp_path / 'old.db'}"
    eng = create_engine(url)
    with eng.begin() as c:   # the version-1 schema, as an older auditctl wrote it
        c.execute(text("create table auditctl_meta (key varchar(64) primary key, value text)"))
        c.execute(text("insert into auditctl_meta values ('schema_version', '1')"))
        c.execute(text("create table runs (id varchar(64) primary key, seq integer not null unique, started_at varchar(40) "
                       "not null, finished_at varchar(40), status varchar(20) not null, scope text not null, "
                       "tool_version varchar(40) not null)"))
        c.execute(text("create table run_hosts (run_id varchar(64) references runs(id), host_id varchar(64), address "
                       "varchar(255) not null, school varchar(64) not null, district varchar(64) not null, level integer, "
                       "os_family varchar(20), status varchar(20) not null, reason varchar(40), detail text, started_at "
                       "varchar(40), finished_at varchar(40), duration float, primary key (run_id, host_id))"))
        c.execute(text("create table results (id integer primary key autoincrement, run_id varchar(64) not null, host_id "
                       "varchar(64) not null, check_id varchar(128) not null, status varchar(20) not null, severity "
                       "varchar(10) not null, refs text not null, title text not null, message text not null, remediation "
                       "text not null, evidence text not null, evaluated_at varchar(40) not null, underlying varchar(20), "
                       "exceptions text)"))
        c.execute(text("insert into runs values ('old', 1, 't', 't', 'completed', '{}', '0.1.0')"))
        c.execute(text("insert into run_hosts values ('old', 'h1', 'a', 's1', 'd1', 3, 'debian', 'audited', null, '', "
                       "'t', 't', 1.0)"))
        c.execute(text("""insert into results (run_id, host_id, check_id, status, severity, refs, title, message,
                          remediation, evidence, evaluated_at) values ('old', 'h1', 'c1', 'fail', 'high',
                          '["GB/T 22239-2019 8.1.4.1 a"]', '{}', '{}', '{}', '', 't')"""))
    s = Store(url)
    assert s.hosts("old")[0].city is None
    with s.engine.connect() as c:
        assert c.execute(text("select value from auditctl_meta")).scalar() == str(SCHEMA_VERSION)
        assert [tuple(r) for r in c.execute(text("select host_id, clause, status from result_items"))] == \
            [("h1", "8.1.4.1 a", "fail")]


def test_schema_version_recorded_and_newer_db_refused(tmp_path):
    url = f"sqlite:///{tmp_path / 'v.db'}"
    s = Store(url)
    with s.engine.begin() as c:
        assert c.execute(text("select value from auditctl_meta where key='schema_version'")).scalar() == str(SCHEMA_VERSION)
        c.execute(text("update auditctl_meta set value='99' where key='schema_version'"))
    with pytest.raises(StoreError, match="schema v99, newer than this auditctl"):
        Store(url)


def test_unknown_run_is_a_clear_error(store_url):
    with pytest.raises(StoreError, match="no run 'nope'"):
        Store(store_url).run("nope")


def test_bad_url_is_a_clear_error_without_password():
    with pytest.raises(StoreError) as e:
        Store("postgresql://user:s3cret@127.0.0.1:1/nodb")
    assert "s3cret" not in str(e.value) and "cannot open results store" in str(e.value)


def test_runs_are_ordered_by_creation_even_within_one_second(store_url, monkeypatch):
    """Two runs started in the same second (or under a clock that went backwards) keep their order."""
    import audits.store.database as store_mod
    monkeypatch.setattr(store_mod, "now", lambda: "2026-01-01T00:00:00Z")
    s = Store(store_url)
    ids = ["zz-first", "aa-second", "mm-third"]  # ids sort differently from creation order
    for rid in ids:
        s.create_run(rid, {}, "0.1.0")
    assert [r["id"] for r in s.runs(3)] == list(reversed(ids))
    with pytest.raises(Exception):
        s.create_run("aa-second", {}, "0.1.0")  # an existing id is never silently re-created


def _open_store(url):
    from audits.store.database import Store

    Store(url).runs(1)
    return True


def test_processes_opening_a_fresh_store_at_once_all_succeed(tmp_path):
    """A scheduled run and a reader (or two runs) may create the same new SQLite store together."""
    import multiprocessing

    for i in range(5):  # the race is timing-dependent: try several fresh files
        url = f"sqlite:///{tmp_path / f'fresh{i}.db'}"
        with multiprocessing.get_context("spawn").Pool(4) as pool:
            assert pool.map(_open_store, [url] * 4) == [True] * 4


def test_a_version_1_store_is_migrated_and_keeps_its_rows(store_url):
    """A store written by auditctl 0.1 (schema v1: run_hosts without names and systems) opens, gains the
    v2 columns, keeps its old rows readable, and takes new rows with names and systems."""
    import sqlalchemy as sa

    import secrets

    old_id, new_id = "old-" + secrets.token_hex(3), "new-" + secrets.token_hex(3)
    eng = sa.create_engine(Store(store_url).url)
    with eng.begin() as c:  # rebuild the v1 shape of run_hosts (the PostgreSQL database is shared by the session)
        keep = c.execute(text("select * from run_hosts")).mappings().all()
        c.execute(text("drop table run_hosts"))
        c.execute(text("create table run_hosts (run_id varchar(64) not null, host_id varchar(64) not null, "
                       "address varchar(255) not null, school varchar(64) not null, district varchar(64) not null, "
                       "level integer, os_family varchar(20), status varchar(20) not null, reason varchar(40), "
                       "detail text, started_at varchar(40), finished_at varchar(40), duration float, "
                       "primary key (run_id, host_id))"))
        cols = ("run_id", "host_id", "address", "school", "district", "level", "os_family", "status", "reason",
                "detail", "started_at", "finished_at", "duration")
        for row in keep:
            c.execute(text(f"insert into run_hosts ({', '.join(cols)}) values ({', '.join(':' + k for k in cols)})"),
                      {k: row[k] for k in cols})
        c.execute(text("insert into runs (id, seq, started_at, status, scope, tool_version) values "
                       "(:id, (select coalesce(max(seq), 0) + 1 from runs), '2026-01-01T00:00:00Z', 'completed', "
                       "'{}', '0.1.0')"), {"id": old_id})
        c.execute(text("insert into run_hosts (run_id, host_id, address, school, district, status) "
                       "values (:id, 'h0', '192.0.2.1', 's1', 'd1', 'audited')"), {"id": old_id})
        c.execute(text("update auditctl_meta set value='1' where key='schema_version'"))
    s = Store(store_url)
    with s.engine.connect() as c:
        assert c.execute(text("select value from auditctl_meta where key='schema_version'")).scalar() == str(SCHEMA_VERSION)
    (old,) = s.hosts(old_id)
    assert old.host_id == "h0" and old.school_name is None and old.systems is None
    s.create_run(new_id, {}, "0.2.0")
    rec = host("h1")
    rec.school_name, rec.systems = "第一中学", [{"id": "oa", "name": "办公系统", "level": 3}]
    s.save_host(new_id, rec, [RESULT])
    (back,) = Store(store_url).hosts(new_id)
    assert back.school_name == "第一中学" and back.systems == [{"id": "oa", "name": "办公系统", "level": 3}]


def test_a_migration_merged_later_with_a_lower_number_is_still_applied(tmp_path, monkeypatch):
    """Parallel branches take migration numbers 2, 3, 6…: a store already at v6 that lacks 3 gets 3."""
    import audits.store.database as store_mod
    from sqlalchemy import Column, MetaData, String, Table

    url = f"sqlite:///{tmp_path / 'm.db'}"
    Store(url)
    n = min(set(range(1, max(store_mod.MIGRATIONS))) - set(store_mod.MIGRATIONS))  # a number still free below
    late = Table("late_feature", MetaData(), Column("id", String(8), primary_key=True))
    monkeypatch.setitem(store_mod.MIGRATIONS, n, [late])
    s = Store(url)
    with s.engine.connect() as c:
        assert c.execute(text("select count(*) from late_feature")).scalar() == 0
        assert c.execute(text("select value from auditctl_meta where key='migrations'")).scalar() == \
            ",".join(map(str, sorted(store_mod.MIGRATIONS)))
    monkeypatch.delitem(store_mod.MIGRATIONS, n)
    with pytest.raises(StoreError, match=rf"migrations this auditctl does not know \(\[{n}\]\)"):
        Store(url)
