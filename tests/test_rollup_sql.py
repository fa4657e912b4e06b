"""SQL roll-ups (reports/rollup_sql.py) against the Python method (reports/scoring.py) on the same
stored results, on SQLite and on the real PostgreSQL server."""
import random
import secrets

import pytest

from audits.store.database import HostRecord, Store
from reports.document import run_document
from reports.rollup_sql import rollup_sql
from reports.scoring import item_table, rollup, round_half_up

STATUSES = ("pass", "pass", "fail", "fail", "error", "not_applicable", "manual", "waived")
SEVERITIES = ("low", "medium", "high", "critical")


def _result(check_id, status, severity, refs, underlying=None):
    return {"check_id": check_id, "status": status, "severity": severity, "refs": refs,
            "title": {"zh": "t", "en": "t"}, "message": {"zh": "m", "en": "m"}, "remediation": {"zh": "r", "en": "r"},
            "evidence": "", "evaluated_at": "2026-01-01T00:00:00Z", "underlying": underlying}


def generate(rng: random.Random, n_schools=9):
    """Hosts of level 2, 3 (and an unscored 4) across schools, districts and cities, with every status:
    waived results failing or passing underneath, n/a-only items, errors, manual, unreachable hosts,
    results citing two clauses or another standard, trigger items at high severity, the controls file's key,
    trigger and informational checks of an item, attested answers (``underlying: manual``) and items nothing
    answers (awaiting evidence)."""
    items = item_table()
    table = items.weights
    hosts = []
    for s in range(n_schools):
        district = f"d{s % 4}"
        city = f"c{(s % 4) // 2}"
        for i in range(rng.randint(1, 5)):
            level = rng.choice((2, 3, 3, 4))
            status = "unreachable" if rng.random() < 0.15 else "audited"
            results, used = [], set()
            if status == "audited":
                clauses = list(table.get(level, table[3]))
                prefix = "8.1.4" if level != 2 else "7.1.4"
                for c, clause in enumerate(rng.sample(clauses, k=rng.randint(0, len(clauses)))):
                    for k in range(rng.randint(1, 3)):
                        st = rng.choice(STATUSES)
                        under = rng.choice(("fail", "pass")) if st == "waived" else None
                        refs = [f"GB/T 22239-2019 {clause}"]
                        if rng.random() < 0.2:
                            refs.append(f"GB/T 22239-2019 {rng.choice(clauses)}")
                        if rng.random() < 0.1:
                            refs.append("CIS Debian 12 5.2.10")
                        if rng.random() < 0.1:
                            refs.append(f"GB/T 22239-2019 {prefix}.5")   # a trigger written as the whole point
                        named = sorted(items.roles.get(clause, {})) + sorted(items.trigger_checks.get(clause, ()))
                        cid = rng.choice(named) if named and rng.random() < 0.5 else f"chk.{c}.{k}"
                        if cid in used:           # a check has one result per host
                            cid = f"chk.{c}.{k}"
                        used.add(cid)
                        if st in ("pass", "fail") and rng.random() < 0.15:
                            under = "manual"          # an attestation's answer
                        results.append(_result(cid, st, rng.choice(SEVERITIES), refs, under))
                if rng.random() < 0.2:  # an item only not-applicable results cite
                    results.append(_result("chk.na", "not_applicable", "low", [f"GB/T 22239-2019 {clauses[0]}"]))
            rec = HostRecord(f"s{s}-h{i}", "192.0.2.1", f"school-{s}", district, level, "debian", status,
                             None if status == "audited" else "timeout", "", "t", "t", 1.0, city=city)
            hosts.append((rec, results))
        if s % 3 == 0:   # the network view's record of the school's segments: findings, no items of its own
            rec = HostRecord(f"network@school-{s}", "192.0.2.0/24", f"school-{s}", district, 3, "", "audited", None,
                             "", "t", "t", 1.0, city=city)
            hosts.append((rec, [_result("network.school.undeclared_hosts", "fail", "medium",
                                        ["GB/T 22239-2019 8.1.10.2 a"])]))
    return hosts


def store_runs(store: Store, hosts, n_runs=2) -> list[str]:
    ids = []
    for k in range(n_runs):
        rid = f"rollup-{secrets.token_hex(4)}"
        store.create_run(rid, {}, "test")
        for rec, results in hosts[k::n_runs]:
            store.save_host(rid, rec, results)
        ids.append(rid)
    return ids


def python_rollup(store: Store, run_ids) -> dict:
    """The reference: reports.scoring.rollup over the run documents' hosts (with their city)."""
    hosts = []
    for rid in run_ids:
        city = {h.host_id: h.city for h in store.hosts(rid)}
        hosts += [{**h, "city": city[h["id"]]} for h in run_document(store, rid)["hosts"]]
    out = rollup(hosts)
    for sc in out["schools"].values():
        sc["high_risk"] = len(sc["high_risk"])
        del sc["systems"]      # per-system scores are the school report's detail, not a bureau roll-up
        del sc["awaiting"]     # so is the list of what to attest
    return out


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_sql_rollup_equals_the_python_method_on_sqlite(tmp_path, seed):
    store = Store(f"sqlite:///{tmp_path / 'r.db'}")
    ids = store_runs(store, generate(random.Random(seed)))
    expected = python_rollup(store, ids)
    got = rollup_sql(store, ids)
    assert got == expected
    # the generated data exercises what it claims to
    rated = [s for s in got["schools"].values() if s["rate"] is not None]
    assert rated and any(s["high_risk"] for s in rated) and len(got["cities"]) == 2


def test_sqlite_and_postgresql_give_identical_rollups(tmp_path, pg_url):
    hosts = generate(random.Random(42), n_schools=14)
    lite, pg = Store(f"sqlite:///{tmp_path / 'r.db'}"), Store(pg_url)
    lite_ids, pg_ids = store_runs(lite, hosts), store_runs(pg, hosts)
    from_lite, from_pg = rollup_sql(lite, lite_ids), rollup_sql(pg, pg_ids)
    assert from_lite == from_pg == python_rollup(pg, pg_ids)
    counts = {k for s in from_pg["schools"].values() for k in s["items"]}
    assert {"conform", "partial", "nonconform", "not_applicable", "not_assessed", "awaiting"} <= counts
    assert any(s["attested"] for s in from_pg["schools"].values() if s["rate"] is not None)
    assert len(from_pg["districts"]) == 4 and from_pg["overall"]["schools"] == 14


def test_only_the_given_runs_are_rolled_up(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'r.db'}")
    a = store_runs(store, generate(random.Random(7), n_schools=3), n_runs=1)
    b = store_runs(store, generate(random.Random(8), n_schools=5), n_runs=1)
    assert rollup_sql(store, a)["overall"]["schools"] == 3
    assert rollup_sql(store, b) == python_rollup(store, b)
    assert rollup_sql(store, ["no-such-run"])["schools"] == {}


def test_ties_round_half_up_in_both():
    """四舍五入: 62.25 → 62.3 (Python's round() would give 62.2), and float noise from another summing
    order does not change the result."""
    assert round_half_up(62.25, 1) == 62.3 and round_half_up(62.25 - 1e-13, 1) == 62.3
    assert round_half_up(62.24, 1) == 62.2 and round_half_up(8.125, 2) == 8.13


def test_a_tied_district_mean_rounds_alike_in_sql_and_python(tmp_path):
    """Two schools at 50.0 and 100.0 … and one at 75.0 with a twin: means with exact .x5 ties."""
    store = Store(f"sqlite:///{tmp_path / 'r.db'}")
    rid = "tie"
    store.create_run(rid, {}, "test")
    clause_a, clause_b = "8.1.4.1 c", "8.1.4.1 d"   # both weight 1.0
    plan = {"s1": ["pass", "fail"], "s2": ["pass", "pass"], "s3": ["fail", "fail"], "s4": ["pass", "partial"]}
    for school, (a, b) in plan.items():
        results = [_result("x.a", a, "low", [f"GB/T 22239-2019 {clause_a}"])]
        if b == "partial":
            results += [_result("x.b1", "pass", "low", [f"GB/T 22239-2019 {clause_b}"]),
                        _result("x.b2", "fail", "low", [f"GB/T 22239-2019 {clause_b}"])]
        else:
            results.append(_result("x.b", b, "low", [f"GB/T 22239-2019 {clause_b}"]))
        # every other item not applicable, so the two items alone make the rate (none is awaiting evidence)
        results.append(_result("x.na", "not_applicable", "low", [f"GB/T 22239-2019 {c}" for c in item_table().weights[3]
                                                                 if c not in (clause_a, clause_b)]))
        store.save_host(rid, HostRecord(f"{school}-h", "a", school, "d", 3, "debian", "audited", None, "", "t", "t",
                                        1.0, city="c"), results)
    got = rollup_sql(store, [rid])
    assert {s: v["rate"] for s, v in got["schools"].items()} == {"s1": 50.0, "s2": 100.0, "s3": 0.0, "s4": 75.0}
    assert got["districts"]["d"]["rate"] == 56.3            # 225 / 4 = 56.25 → 56.3
    assert got == python_rollup(store, [rid])
