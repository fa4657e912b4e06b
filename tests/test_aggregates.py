"""Issue #21 A: aggregates written at ingest (audits/store/aggregates.py) give the same roll-ups, bureau view and
system scores as the from-scratch paths (reports.scoring in Python, reports.rollup_sql in SQL) — after saving
hosts, after finishing runs, after a rebuild and for an imported bundle; on SQLite and the real PostgreSQL."""
from __future__ import annotations

import json
import random
import threading
from datetime import datetime, timezone

import pytest
from sqlalchemy import delete, func, select, update

import auditctl
from audits.store import aggregates
from audits.store.aggregates import hosts_agg_t, runs_agg_t, schools_agg_t
from audits.store.database import HostRecord, Store, meta_t
from reports.bureau import from_store, from_store_raw
from reports.document import run_document
from reports.rollup_agg import rollup_agg
from reports.rollup_sql import rollup_sql
from reports.scoring import system_scores
from tests.conftest import fresh_pg_database
from tests.synthetic import bureau_runs, catalogue, save_to_store
from tests.test_rollup_sql import _result, generate, python_rollup, store_runs

NOW = datetime(2026, 12, 1, tzinfo=timezone.utc)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    """A store of this test alone (whole-store reads: rebuild, latest runs, the bureau view)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'results.db'}"
    else:
        with fresh_pg_database("auditctl_agg_") as url:
            yield url


def finished(store: Store, ids):
    for rid in ids:
        store.finish_run(rid, "completed")
    return ids


def agg_rows(store: Store) -> dict:
    """Every aggregate row, comparable across stores (floats rounded against summing order)."""
    def norm(name, k, v):
        if name == "agg_hosts" and k == "items":   # "clause=verdict=weight=attested;…" in no order
            return sorted((c, vd, float(w), a) for c, vd, w, a in (e.split("=") for e in v.split(";") if e))
        return round(v, 9) if isinstance(v, float) else v

    out = {}
    with store.engine.connect() as c:
        for t in aggregates.TABLES:
            pk = list(t.primary_key.columns)
            out[t.name] = [{k: norm(t.name, k, v) for k, v in r.items()}
                           for r in c.execute(select(t).order_by(*pk)).mappings()]
    return out


@pytest.mark.parametrize("seed", [1, 2])
def test_rollup_after_ingest_equals_python_and_sql_from_scratch(store_url, seed):
    store = Store(store_url)
    ids = finished(store, store_runs(store, generate(random.Random(seed), n_schools=12), n_runs=2))
    expected = python_rollup(store, ids)
    assert rollup_agg(store, ids) == rollup_sql(store, ids) == expected      # schools split over two runs: merged
    for rid in ids:                                                          # one run: the stored rows as they are
        assert rollup_agg(store, [rid]) == rollup_sql(store, [rid]) == python_rollup(store, [rid])
    assert rollup_agg(store) == rollup_sql(store)                            # each school's latest run
    assert rollup_agg(store, ["no-such-run"]) == rollup_sql(store, ["no-such-run"])
    rated = [s for s in expected["schools"].values() if s["rate"] is not None]
    assert rated and any(s["high_risk"] for s in rated) and any(s["attested"] for s in rated)
    assert {"conform", "partial", "nonconform", "awaiting"} <= {k for s in rated for k in s["items"]}


def test_rebuild_recomputes_every_aggregate_from_the_raw_results(store_url):
    store = Store(store_url)
    ids = finished(store, store_runs(store, generate(random.Random(5), n_schools=10), n_runs=3))
    at_ingest = agg_rows(store)
    assert all(at_ingest[t.name] for t in aggregates.TABLES)
    with store.engine.begin() as c:   # a scoring change, simulated: stored verdicts and rates are now stale
        c.execute(update(schools_agg_t).values(rate=1.0, verdict="compliant", high_risk=0))
        c.execute(update(hosts_agg_t).where(hosts_agg_t.c.run_id == ids[0]).values(items="", risks=0))
    assert rollup_agg(store, ids[1:2]) != rollup_sql(store, ids[1:2])
    counts = store.rebuild_aggregates()
    assert counts["runs"] == 3 and counts["hosts"] == sum(len(store.hosts(r)) for r in ids)
    assert agg_rows(store) == at_ingest
    assert rollup_agg(store, ids) == rollup_sql(store, ids) == python_rollup(store, ids)
    store.rebuild_aggregates(ids[:1])   # one run only: the same again
    assert agg_rows(store) == at_ingest


def test_rebuild_judges_network_devices_and_segment_records_as_ingest_did(store_url):
    """The rebuild's judging (on PostgreSQL host by host, ``verdict_sql.host_items(lateral=True)``) gives the rows
    ingest wrote, also for network devices (items not applicable to a device) and the network view's records."""
    import dataclasses

    hosts = generate(random.Random(8), n_schools=8)
    devices = ("huawei-vrp", "cisco-ios", "h3c-comware", "ruijie-rgos")
    hosts = [(dataclasses.replace(rec, os_family=devices[i % 4]) if i % 3 == 1 else rec, results)
             for i, (rec, results) in enumerate(hosts)]
    store = Store(store_url)
    ids = finished(store, store_runs(store, hosts, n_runs=2))
    at_ingest = agg_rows(store)
    device_ids = {rec.host_id for rec, _ in hosts if rec.os_family in devices and rec.status == "audited"}
    assert any(r["host_id"] in device_ids and any(v == "not_applicable" for _, v, _, _ in r["items"])
               for r in at_ingest["agg_hosts"])
    with store.engine.begin() as c:
        c.execute(delete(hosts_agg_t))
    store.rebuild_aggregates(ids)
    assert agg_rows(store) == at_ingest
    assert rollup_agg(store, ids) == rollup_sql(store, ids) == python_rollup(store, ids)


def test_bureau_view_from_aggregates_equals_the_view_scored_from_results(store_url):
    store = Store(store_url)
    for run, hosts in bureau_runs(schools=12, districts=3, hosts=3, runs=3, checks=catalogue()):
        save_to_store(store, run, hosts)
    view, raw = from_store(store), from_store_raw(store)
    for district in (None, "district-001"):
        got = view.build(now=NOW, stale_days=30, district=district, name="x")
        assert got == raw.build(now=NOW, stale_days=30, district=district, name="x")
    before = agg_rows(store)
    store.rebuild_aggregates()            # hosts that declare systems: summed per system in the database
    assert agg_rows(store) == before
    got = view.build(now=NOW)
    assert got["runs"] == 36 and len(got["schools"]) == 12 and got["trend"] and got["unreachable"]
    assert any(r["change"] for r in got["schools"]) and any(r["high_risk"] for r in got["schools"])


def test_system_scores_are_kept_per_school(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'r.db'}")
    store.create_run("sys", {}, "test")
    two = [{"id": "web", "name": "网站", "level": 3}, {"id": "mail", "name": "邮件", "level": 2}]
    hosts = {"a": (3, two[:1], "pass"), "b": (3, two, "fail"), "c": (2, [], "pass")}
    docs = []
    for hid, (level, systems, st) in hosts.items():
        clause = "8.1.4.1 a" if level == 3 else "7.1.4.1 a"
        results = [_result("mlps.auth.x", st, "high", [f"GB/T 22239-2019 {clause}"])]
        store.save_host("sys", HostRecord(hid, "a", "s", "d", level, "debian", "audited", None, "", "t", "t", 1.0,
                                          systems=systems), results)
    store.finish_run("sys", "completed")
    docs = run_document(store, "sys")["hosts"]
    with store.engine.connect() as c:
        stored = json.loads(c.execute(select(schools_agg_t.c.systems)).scalar())
    assert stored == system_scores(docs)
    assert set(stored) == {"", "web", "mail"} and stored["web"]["hosts"] == ["a", "b"]
    before = agg_rows(store)
    store.rebuild_aggregates(["sys"])
    assert agg_rows(store) == before


def test_finishing_a_run_writes_its_totals(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'r.db'}")
    ids = store_runs(store, generate(random.Random(3), n_schools=6), n_runs=1)
    with store.engine.connect() as c:
        assert c.execute(select(func.count()).select_from(runs_agg_t)).scalar() == 0   # not finished yet
    finished(store, ids)
    with store.engine.connect() as c:
        row = c.execute(select(runs_agg_t)).mappings().one()
    roll = rollup_sql(store, ids)
    rates = [s["rate"] for s in roll["schools"].values() if s["rate"] is not None]
    assert row["schools"] == roll["overall"]["schools"] and row["rated"] == len(rates)
    assert row["rate_sum"] == pytest.approx(sum(rates))
    assert row["high_risk_schools"] == sum(1 for s in roll["schools"].values() if s["high_risk"])


def test_hosts_of_one_school_saved_at_once_are_all_counted():
    """Collectors save hosts of the same school concurrently: every host is in the school's row."""
    with fresh_pg_database("auditctl_agg_") as url:
        _save_concurrently(Store(url))


def _save_concurrently(store: Store):
    hosts = [h for h in generate(random.Random(11), n_schools=1) if not h[0].host_id.startswith("network@")]
    while len(hosts) < 8:
        rec, res = hosts[len(hosts) % len(hosts)]
        hosts.append((HostRecord(**{**rec.__dict__, "host_id": f"x{len(hosts)}-{rec.host_id}"}), res))
    store.create_run("conc", {}, "test")
    barrier = threading.Barrier(len(hosts))

    def save(rec, res):
        barrier.wait()
        store.save_host("conc", rec, res)

    threads = [threading.Thread(target=save, args=h) for h in hosts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    store.finish_run("conc", "completed")
    with store.engine.connect() as c:
        assert c.execute(select(schools_agg_t.c.hosts)).scalar() == len(hosts)
    assert rollup_agg(store, ["conc"]) == rollup_sql(store, ["conc"])


def test_a_store_from_before_the_aggregates_gets_them_on_open(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    store = Store(url)
    ids = finished(store, store_runs(store, generate(random.Random(9), n_schools=5), n_runs=2))
    want = agg_rows(store)
    with store.engine.begin() as c:   # as a v18 store: no aggregate tables, migration 19 not recorded
        for t in aggregates.TABLES:
            c.exec_driver_sql(f"DROP TABLE {t.name}")
        c.execute(update(meta_t).where(meta_t.c.key == "schema_version").values(value="18"))
        c.execute(update(meta_t).where(meta_t.c.key == "migrations").values(value="1,2,3,6,18"))
    assert agg_rows(Store(url)) == want
    assert rollup_agg(Store(url), ids) == rollup_sql(Store(url), ids)


def test_auditctl_store_rebuild(tmp_path, capsys):
    db = tmp_path / "r.db"
    store = Store(str(db))
    ids = finished(store, store_runs(store, generate(random.Random(4), n_schools=4), n_runs=2))
    want = agg_rows(store)
    with store.engine.begin() as c:
        c.execute(delete(hosts_agg_t))
    assert auditctl.main(["store", "rebuild", "--db", str(db), "--run", ids[0], "--run", ids[1]]) == 0
    err = capsys.readouterr().err
    assert "rebuilt the aggregates of 2 runs" in err
    assert agg_rows(store) == want
    assert auditctl.main(["store", "rebuild", "--db", str(db), "--run", "no-such-run"]) == 2
    assert "no run 'no-such-run'" in capsys.readouterr().err


# -- an imported bundle: aggregates written in the import's transaction ------------------------------------------
from tests.test_bundles import bureau, import_, keys, school, trust, write_bundle  # noqa: E402,F401  (fixtures)


def test_an_imported_bundle_rolls_up_from_its_aggregates(school, keys, bureau, tmp_path, capsys):
    trust(bureau, keys, "s1")
    assert import_(bureau, write_bundle(school, tmp_path, 0), write_bundle(school, tmp_path, 1)) == 0
    store = Store(bureau)
    ids = [r["id"] for r in store.runs()]
    assert len(ids) == 2
    for rid in ids:
        assert rollup_agg(store, [rid]) == rollup_sql(store, [rid]) == python_rollup(store, [rid])
    assert rollup_agg(store) == rollup_sql(store)
    assert from_store(store).build(now=NOW) == from_store_raw(store).build(now=NOW)
    before = agg_rows(store)
    store.rebuild_aggregates()
    assert agg_rows(store) == before
