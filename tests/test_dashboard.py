"""The bureau view and dashboard: rankings, district means, distribution, trend, missing and stale
schools, unreachable hosts — on hand-computed examples, then end to end from a real store."""
import json
from datetime import datetime, timezone

import auditctl
from audits.store.database import Store
from reports.bureau import BureauView, distribution, trend
from reports.dashboard import heat, render_dashboard
from reports.scoring import item_table
from tests.synthetic import bureau_runs, save_to_store

S = "GB/T 22239-2019 "


def host(hid, school, district, *statuses, status="audited", reason=None):
    """A level-3 host whose results each cite 8.1.4.1 c (weight 1.0) as one check of their own; every other item
    is not applicable (a result says so), so 8.1.4.1 c alone makes the rate (none is awaiting evidence)."""
    rest = [S + c for c in item_table().weights[3] if c != "8.1.4.1 c"]
    return {"id": hid, "school": school, "district": district, "school_name": f"学校{school}",
            "district_name": f"区{district}", "level": 3, "status": status, "reason": reason,
            "results": [{"check_id": f"mlps.c{i}", "status": st, "severity": "low", "references": [S + "8.1.4.1 c"],
                         "underlying": None} for i, st in enumerate(statuses)]
            + [{"check_id": "mlps.rest", "status": "not_applicable", "severity": "low", "references": rest,
                "underlying": None}]}


def run(rid, when):
    return {"id": rid, "started_at": when, "bureau": "city", "bureau_name": "市教育局"}


def test_latest_run_per_school_ranking_districts_and_change():
    v = BureauView()
    v.add_run(run("r1", "2026-10-01T08:00:00Z"), [host("a1", "A", "d1", "fail"), host("b1", "B", "d1", "pass"),
                                                  host("c1", "C", "d2", "pass", "fail")])
    v.add_run(run("r2", "2026-10-08T08:00:00Z"), [host("a1", "A", "d1", "pass")])  # only school A again
    view = v.build(now=datetime(2026, 10, 9, tzinfo=timezone.utc))
    by = {r["id"]: r for r in view["schools"]}
    assert by["A"]["rate"] == 100.0 and by["A"]["change"] == 100.0 and by["A"]["run_id"] == "r2"
    assert by["B"]["rate"] == 100.0 and by["B"]["change"] is None
    assert by["C"]["rate"] == 50.0                      # item partly conform on its one host
    assert [r["id"] for r in view["schools"]] == ["A", "B", "C"] and [r["rank"] for r in view["schools"]] == [1, 2, 3]
    d = {x["id"]: x for x in view["districts"]}
    assert d["d1"]["rate"] == 100.0 and d["d1"]["schools"] == 2 and d["d1"]["name"] == "区d1"
    assert d["d2"]["rate"] == 50.0 and d["d2"]["rank"] == 2
    assert view["overall"]["rate"] == 83.3
    assert view["overall"]["points"] == {"1": 8.33}
    assert view["trend"] == [{"date": "2026-10-01", "rate": 50.0, "schools": 3},
                             {"date": "2026-10-08", "rate": 83.3, "schools": 3}]


def test_missing_stale_and_unreachable_schools():
    v = BureauView()
    v.add_run(run("r1", "2026-01-01T00:00:00Z"), [host("a1", "A", "d1", "pass")])
    v.add_run(run("r2", "2026-10-01T00:00:00Z"), [host("b1", "B", "d1", "pass"),
                                                  host("b2", "B", "d1", status="unreachable", reason="timeout"),
                                                  host("b3", "B", "d1", status="unreachable", reason="timeout")])
    declared = {"A": {"district": "d1"}, "B": {"district": "d1"}, "Z": {"name": "新学校", "district": "d2"}}
    view = v.build(declared=declared, now=datetime(2026, 10, 2, tzinfo=timezone.utc), stale_days=90)
    assert [(m["id"], m["reason"]) for m in view["missing"]] == [("Z", "no_results"), ("A", "stale")]
    (u,) = view["unreachable"]
    assert u["id"] == "B" and u["unreachable"] == 2 and u["hosts"] == 3 and u["reasons"] == {"timeout": 2}
    assert view["overall"]["unreachable_schools"] == 1
    d2 = v.build(declared=declared, district="d2", now=datetime(2026, 10, 2, tzinfo=timezone.utc))
    assert d2["schools"] == [] and [m["id"] for m in d2["missing"]] == ["Z"]


def test_distribution_trend_and_heat_colours():
    assert distribution([{"rate": r} for r in (0, 9.9, 10, 59.9, 60, 99.9, 100, None)]) == [2, 1, 0, 0, 0, 1, 1, 0, 0, 2]
    t = trend([("2026-10-01T01:00:00Z", "A", 50.0), ("2026-10-01T02:00:00Z", "B", 70.0),
               ("2026-10-02T00:00:00Z", "A", 90.0), ("2026-10-03T00:00:00Z", "B", None)])
    assert t == [{"date": "2026-10-01", "rate": 60.0, "schools": 2}, {"date": "2026-10-02", "rate": 80.0, "schools": 2},
                 {"date": "2026-10-03", "rate": 90.0, "schools": 1}]  # B not scored any more: left out
    assert heat(0).startswith("hsl(0,") and heat(10).startswith("hsl(120,") and heat(None) == "#f0f4f8"


def test_dashboard_html_escapes_school_data_and_allows_only_its_own_script():
    v = BureauView()
    v.add_run(run("r1", "2026-10-01T00:00:00Z"), [host("a1", "A", "d1", "pass")])
    v.schools["A"].summary["name"] = "</script><script>alert(1)</script>"
    html = render_dashboard(v.build(name="<b>局</b>"))
    assert "<script>alert(1)" not in html and "&lt;b&gt;局&lt;/b&gt;" in html
    assert html.count("<script") == 2  # the JSON data block and our own script
    data = html[html.index('id="dashboard-data">') + 20:html.index("</script>")]
    assert "\\u003c/script\\u003e" in data and json.loads(data)["rows"][0][2] == "</script><script>alert(1)</script>"
    assert "script-src &#39;sha256-" in html and "unsafe-inline'; img-src" in html.replace("&#39;", "'")


def test_auditctl_dashboard_from_a_store(tmp_path, capsys):
    db = f"sqlite:///{tmp_path / 'bureau.db'}"
    store = Store(db)
    for r, hs in bureau_runs(schools=30, districts=3, hosts=2, runs=2, seed=3):
        save_to_store(store, r, hs)
    out = tmp_path / "dash"
    rc = auditctl.main(["dashboard", "--db", db, "-o", str(out), "--json", str(tmp_path / "view.json")])
    assert rc == 0
    view = json.loads((tmp_path / "view.json").read_text())
    assert view["overall"]["schools"] == 30 and view["runs"] == 60 and len(view["districts"]) == 3
    assert view["name"] == "示范市教育局" and len(view["trend"]) == 2
    assert sorted(p.name for p in (out / "districts").iterdir()) == ["district-000.html", "district-001.html",
                                                                      "district-002.html"]
    assert "第1学校" in (out / "index.html").read_text(encoding="utf-8")
    assert auditctl.main(["dashboard", "--db", f"sqlite:///{tmp_path / 'empty.db'}", "-o", str(out)]) == 2


def test_dashboard_lists_declared_schools_of_an_inventory_without_results(tmp_path):
    db = f"sqlite:///{tmp_path / 'b.db'}"
    rc = auditctl.main(["dashboard", "--db", db, "-i", "inventories/demo-city", "-o", str(tmp_path / "d"),
                        "--json", str(tmp_path / "v.json")])
    assert rc == 0
    view = json.loads((tmp_path / "v.json").read_text())
    assert view["schools"] == [] and len(view["missing"]) == 4 and {m["reason"] for m in view["missing"]} == {"no_results"}
    assert view["name"].startswith("示范市教育局")
