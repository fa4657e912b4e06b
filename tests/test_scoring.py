"""MLPS scoring on hand-computed examples (docs/scoring.md): item verdicts, weights, the 符合率,
the high-risk cap, multi-host means, levels kept apart, fixes ranked, roll-ups."""
import pytest

from reports.scoring import host_items, rollup, score_hosts, top_fixes, verdict

S = "GB/T 22239-2019 "


def r(cid, status, *clauses, severity="medium", underlying=None):
    return {"check_id": cid, "status": status, "severity": severity, "references": [S + c for c in clauses],
            "underlying": underlying}


def host(hid, level, *results, school="s1", district="d1", status="audited"):
    return {"id": hid, "level": level, "school": school, "district": district, "status": status,
            "results": list(results)}


def test_item_verdicts_and_weighted_rate():
    h = host("h", 3,
             r("a", "pass", "8.1.4.1 a"), r("b", "fail", "8.1.4.1 a"),      # 部分符合, w 0.7
             r("c", "pass", "8.1.4.1 c"),                                     # 符合, w 1.0
             r("d", "fail", "8.1.4.4 b", severity="low"),                     # 不符合, w 1.0
             r("e", "not_applicable", "8.1.4.8 a"),                           # 不适用
             r("f", "manual", "8.1.4.2 a"),                                   # unanswered: 未测
             r("g", "waived", "8.1.4.3 a", underlying="fail"))                # waived: 未测
    items = host_items(h)
    assert [items[c].verdict for c in ("8.1.4.1 a", "8.1.4.1 c", "8.1.4.4 b", "8.1.4.8 a", "8.1.4.2 a", "8.1.4.3 a")] \
        == ["partial", "conform", "nonconform", "not_applicable", "not_assessed", "not_assessed"]
    assert items["8.1.4.9 a"].verdict == "not_assessed"      # no check covers it
    assert len(items) == 34                                   # every level-3 item is listed
    sc = score_hosts([h])
    # (0.7*0.5 + 1.0*1 + 1.0*0) / (0.7 + 1.0 + 1.0) = 1.35 / 2.7
    assert sc["rate"] == 50.0 and sc["verdict"] == "noncompliant"
    assert sc["points"] == {"1": round(10 * 1.35 / 1.7, 2), "4": 0.0}
    assert sc["high_risk"] == []  # the only failures are below high severity


PASSING_L3 = ["8.1.4.1 b", "8.1.4.1 c", "8.1.4.1 d", "8.1.4.2 a", "8.1.4.2 b", "8.1.4.2 c", "8.1.4.3 a", "8.1.4.4 b"]


@pytest.mark.parametrize("severity, expect", [("medium", "compliant"), ("high", "basically_compliant")])
def test_high_risk_caps_the_verdict_whatever_the_rate(severity, expect):
    passes = [r(f"p{i}", "pass", c) for i, c in enumerate(PASSING_L3)]   # weights sum to 6.5
    h = host("h", 3, *passes, r("mlps.auth.empty_passwords", "fail", "8.1.4.1 a", severity=severity))
    sc = score_hosts([h])
    assert sc["rate"] == round(100 * 6.5 / 7.2, 1) == 90.3
    assert sc["verdict"] == expect
    assert bool(sc["high_risk"]) == (severity == "high")


def test_a_waiver_does_not_lift_the_high_risk_cap_but_leaves_the_rate():
    passes = [r(f"p{i}", "pass", c) for i, c in enumerate(PASSING_L3)]
    h = host("h", 3, *passes, r("x", "waived", "8.1.4.1 a", severity="high", underlying="fail"))
    sc = score_hosts([h])
    assert sc["rate"] == 100.0 and sc["verdict"] == "basically_compliant"
    assert sc["high_risk"][0]["waived"] is True


def test_item_means_over_hosts_and_unreachable_hosts_left_out():
    h1 = host("h1", 3, r("c", "pass", "8.1.4.1 c"), r("av", "pass", "8.1.4.5"))
    h2 = host("h2", 3, r("c", "fail", "8.1.4.1 c"))
    down = host("h3", 3, r("c", "fail", "8.1.4.1 c"), status="unreachable")
    sc = score_hosts([h1, h2, down])
    # 8.1.4.1 c: mean(1, 0) = 0.5 (w 1.0); 8.1.4.5: 1 (w 0.7) -> 1.2 / 1.7
    assert sc["rate"] == round(100 * 1.2 / 1.7, 1) == 70.6
    assert sc["verdict"] == "basically_compliant"


def test_levels_are_scored_against_their_own_items():
    l3 = host("a", 3, r("c", "pass", "8.1.4.1 c", "7.1.4.1 c"))
    l2 = host("b", 2, r("c", "fail", "7.1.4.1 c"), r("k", "fail", "8.1.4.8 a"))  # a level-3 clause never counts at L2
    assert "8.1.4.8 a" not in host_items(l2) and len(host_items(l2)) == 23
    sc = score_hosts([l3, l2])
    assert sc["rate"] == 50.0          # (1.0*1 + 1.0*0) / 2.0: the two levels' 1 c items side by side
    assert host_items(host("x", 1))  == {}   # level 1/4: no table, nothing scored


def test_verdict_bands():
    assert verdict(None, False) is None
    assert [verdict(v, False) for v in (59.9, 60.0, 90.0, 90.1)] == \
        ["noncompliant", "basically_compliant", "basically_compliant", "compliant"]


def test_top_fixes_put_the_high_risk_first_then_the_biggest_gain():
    h = host("h", 3, r("small", "fail", "8.1.4.2 d"), r("big", "fail", "8.1.4.4 b"),
             r("risk", "fail", "8.1.4.1 a", severity="high"), r("ok", "pass", "8.1.4.1 c"))
    fixes = top_fixes([h])
    assert [f["check_id"] for f in fixes] == ["risk", "big", "small"]
    assert fixes[0]["removes_high_risk"] and fixes[1]["gain"] > fixes[2]["gain"] > 0


def test_rollup_school_district_overall():
    hosts = [host("a", 3, r("c", "pass", "8.1.4.1 c"), school="s1", district="d1"),
             host("b", 3, r("c", "fail", "8.1.4.1 c"), school="s2", district="d1"),
             host("c", 3, r("c", "pass", "8.1.4.1 c"), school="s3", district="d2")]
    out = rollup(hosts)
    assert {s: v["rate"] for s, v in out["schools"].items()} == {"s1": 100.0, "s2": 0.0, "s3": 100.0}
    assert out["districts"]["d1"]["rate"] == 50.0 and out["districts"]["d2"]["rate"] == 100.0
    assert out["overall"] == {"rate": round(200 / 3, 1), "schools": 3}


def test_level_2_backup_items_count_under_data_backup_not_confidentiality():
    """Level 2 has no 数据保密性: its 7.1.4.8 is 数据备份恢复, so it is control point 9 like 8.1.4.9."""
    from reports.scoring import item_table, point_of

    assert point_of("7.1.4.8 a") == "9" and point_of("7.1.4.10 b") == "11" and point_of("8.1.4.8 a") == "8"
    assert point_of("7.1.4.7 a") == "7" and point_of("8.1.4.10 a") == "10"
    sc = score_hosts([host("b", 2, r("backup", "fail", "7.1.4.8 a"), r("mac", "pass", "7.1.4.2 a"))])
    assert sc["points"] == {"2": 10.0, "9": 0.0}
    assert item_table().points["9"]["zh"] == "数据备份恢复"


def test_systems_and_item_breakdown():
    """A host serving two systems counts in both; the breakdown says per item how many hosts found each
    verdict and which check failed where."""
    from reports.scoring import item_breakdown, system_scores

    a = host("a", 3, r("c1", "pass", "8.1.4.1 a"), r("c2", "fail", "8.1.4.1 a"), r("c3", "pass", "8.1.4.3 a"))
    b = host("b", 3, r("c1", "pass", "8.1.4.1 a"), r("c2", "pass", "8.1.4.1 a"), r("c3", "fail", "8.1.4.3 a"))
    a["systems"] = [{"id": "oa", "name": "办公", "level": 3}, {"id": "web", "name": "门户", "level": 3}]
    b["systems"] = [{"id": "web", "name": "门户", "level": 3}]
    systems = system_scores([a, b])
    assert systems["oa"]["hosts"] == ["a"] and systems["oa"]["rate"] == 75.0      # (0.7*.5 + 0.7*1) / 1.4
    assert systems["web"]["hosts"] == ["a", "b"] and systems["web"]["rate"] == 62.5  # 1 a: mean(.5, 1); 3 a: mean(1, 0)
    bd = item_breakdown([a, b])
    assert list(bd) == ["1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11"]
    (ia,) = [i for i in bd["1"] if i["clause"] == "8.1.4.1 a"]
    assert ia["verdicts"] == {"partial": 1, "conform": 1} and ia["failing"] == {"c2": ["a"]}
    (ja,) = [i for i in bd["3"] if i["clause"] == "8.1.4.3 a"]
    assert ja["verdicts"] == {"conform": 1, "nonconform": 1} and ja["failing"] == {"c3": ["b"]}
    assert [i["clause"] for i in bd["1"]] == ["8.1.4.1 a", "8.1.4.1 b", "8.1.4.1 c", "8.1.4.1 d"]
    assert system_scores([host("x", 2)])[""]["hosts"] == ["x"]  # a host of no system still shows
