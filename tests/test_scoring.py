"""MLPS scoring on hand-computed examples (docs/scoring.md): item verdicts, weights, the 符合率,
the high-risk cap, multi-host means, levels kept apart, fixes ranked, roll-ups."""
import pytest

from reports.scoring import high_risks, host_items, item_table, rollup, score_hosts, top_fixes, verdict

S = "GB/T 22239-2019 "


def r(cid, status, *clauses, severity="medium", underlying=None, message=None):
    return {"check_id": cid, "status": status, "severity": severity, "references": [S + c for c in clauses],
            "underlying": underlying, "message": message or {"zh": f"{cid} 的结果", "en": f"result of {cid}"}}


def host(hid, level, *results, school="s1", district="d1", status="audited"):
    return {"id": hid, "level": level, "school": school, "district": district, "status": status,
            "results": list(results)}


def rest_na(level, *answered):
    """A not-applicable result citing every other item of the level, so a hand-computed example's rate is made of
    the items it answers (an item nothing answers would be 待取证 and score 0)."""
    others = [c for c in item_table().weights[level] if c not in answered]
    return r("rest", "not_applicable", *others)


def test_item_verdicts_and_weighted_rate():
    answered = ("8.1.4.1 a", "8.1.4.1 c", "8.1.4.4 b", "8.1.4.8 a", "8.1.4.2 a", "8.1.4.3 a", "8.1.4.5")
    h = host("h", 3, rest_na(3, *answered),
             r("a", "pass", "8.1.4.1 a"), r("b", "fail", "8.1.4.1 a"),      # 部分符合, w 0.7
             r("c", "pass", "8.1.4.1 c"),                                     # 符合, w 1.0
             r("d", "fail", "8.1.4.4 b", severity="low"),                     # 不符合, w 1.0
             r("e", "not_applicable", "8.1.4.8 a"),                           # 不适用
             r("f", "manual", "8.1.4.2 a", message={"zh": "提供授权记录", "en": "show the grants"}),  # 待取证, w 0.7
             r("g", "waived", "8.1.4.3 a", underlying="fail"),                # waived: 未测 (left out)
             r("h", "error", "8.1.4.5"))                                      # only an error: 待取证, w 0.7
    items = host_items(h)
    assert [items[c].verdict for c in answered] == \
        ["partial", "conform", "nonconform", "not_applicable", "awaiting", "not_assessed", "awaiting"]
    assert items["8.1.4.2 a"].ask == {"zh": "提供授权记录", "en": "show the grants"}
    assert "h" in items["8.1.4.5"].ask["en"]
    assert len(items) == 34                                   # every level-3 item is listed
    sc = score_hosts([h])
    # (0.7*0.5 + 1.0*1 + 1.0*0 + 0.7*0 + 0.7*0) / (0.7 + 1.0 + 1.0 + 0.7 + 0.7) = 1.35 / 4.1
    assert sc["rate"] == round(100 * 1.35 / 4.1, 1) == 32.9 and sc["verdict"] == "noncompliant"
    assert sc["points"] == {"1": round(10 * 1.35 / 1.7, 2), "2": 0.0, "4": 0.0, "5": 0.0}
    assert sc["high_risk"] == []  # the only failures are below high severity
    assert [(a["clause"], a["hosts"]) for a in sc["awaiting"]] == [("8.1.4.2 a", ["h"]), ("8.1.4.5", ["h"])]


def test_an_item_nothing_answers_counts_against_the_rate_and_says_what_to_attest():
    h = host("h", 3, r("c", "pass", "8.1.4.1 c"))
    items = host_items(h)
    assert items["8.1.4.9 a"].verdict == "awaiting" and items["8.1.4.9 a"].score == 0.0
    assert items["8.1.4.9 a"].ask["en"] == "no check covers it; attest GB/T 22239-2019 8.1.4.9 a (Data backup and recovery)"
    # input validation is an application's item: not applicable on an operating system (测评指导书)
    assert items["8.1.4.4 d"].verdict == "not_applicable"
    total = sum(w for c, w in item_table().weights[3].items() if c != "8.1.4.4 d")
    assert score_hosts([h])["rate"] == round(100 * 1.0 / total, 1)
    # unreachable hosts stay out of every score
    assert score_hosts([h, host("down", 3, status="unreachable")])["rate"] == score_hosts([h])["rate"]


def test_attested_share_is_the_weight_answered_by_attestations_only():
    h = host("h", 3, rest_na(3, "8.1.4.1 c", "8.1.4.1 d", "8.1.4.5"),
             r("c", "pass", "8.1.4.1 c"),                                        # measured, w 1.0
             r("mlps.auth.multi_factor", "pass", "8.1.4.1 d", underlying="manual"),  # attested, w 1.0
             r("av", "pass", "8.1.4.5", underlying="manual"), r("av2", "pass", "8.1.4.5"))  # mixed: measured
    sc = score_hosts([h])
    assert sc["rate"] == 100.0 and sc["attested"] == round(100 * 1.0 / 2.7, 1) == 37.0


# ------------------------------------------------------------------- roles from the controls file
def test_a_failing_key_point_makes_the_item_nonconform_and_connection_facts_never_count():
    """Telnet listening: 8.1.4.1 c is 不符合 although the SSH host-key check passed (a connection fact)."""
    h = host("h", 3, r("mlps.auth.plaintext_remote_mgmt", "fail", "8.1.4.1 c", "8.1.4.8 a", severity="high"),
             r("fleet.ssh.host_key", "pass", "8.1.4.1 c"), r("mlps.confidentiality.ssh_kex", "pass", "8.1.4.1 c"))
    item = host_items(h)["8.1.4.1 c"]
    assert item.verdict == "nonconform" and item.key_failed == ["mlps.auth.plaintext_remote_mgmt"]
    assert item.informational == {"fleet.ssh.host_key": "pass"} and "fleet.ssh.host_key" not in item.checks
    # the host-key check alone is no evidence: the item awaits evidence
    only = host_items(host("h", 3, r("fleet.ssh.host_key", "pass", "8.1.4.1 c")))["8.1.4.1 c"]
    assert only.verdict == "awaiting"


@pytest.mark.parametrize("results, expect", [
    ([("mlps.auth.lockout_enabled", "pass"), ("mlps.auth.lockout_deny", "fail")], "partial"),      # supporting fail
    ([("mlps.auth.lockout_enabled", "fail"), ("mlps.auth.lockout_deny", "pass")], "nonconform"),   # key fail
    ([("mlps.auth.lockout_deny", "fail"), ("mlps.auth.shell_timeout", "fail")], "nonconform"),     # all failing
    ([("mlps.auth.lockout_enabled", "pass"), ("mlps.auth.sshd_max_auth_tries", "fail")], "conform"),  # informational
    ([("mlps.auth.lockout_enabled", "pass"), ("mlps.auth.shell_timeout", "not_applicable")], "conform"),
    ([("mlps.auth.lockout_enabled", "manual"), ("mlps.auth.lockout_deny", "pass")], "partial"),  # key unanswered
    ([("mlps.auth.lockout_enabled", "pass"), ("mlps.auth.shell_timeout", "manual")], "conform"),  # supporting open
])
def test_item_verdict_rules(results, expect):
    h = host("h", 3, *[r(cid, st, "8.1.4.1 b") for cid, st in results])
    assert host_items(h)["8.1.4.1 b"].verdict == expect


@pytest.mark.parametrize("severity, verdict_, risk", [("medium", "partial", False), ("high", "nonconform", True)])
def test_a_trigger_check_is_a_key_point_only_at_the_triggers_severity(severity, verdict_, risk):
    """AV signatures over a week old: supporting (部分符合); over a month the check fails at high severity — the
    附录G A-23 trigger: the item is 不符合 and a high-risk candidate labelled 恶意代码防范措施缺失."""
    h = host("h", 3, r("mlps.malware.av_installed", "pass", "8.1.4.5"),
             r("mlps.malware.signatures_fresh", "fail", "8.1.4.5", severity=severity))
    assert host_items(h)["8.1.4.5"].verdict == verdict_
    risks = high_risks(h)
    assert bool(risks) == risk
    if risk:
        assert risks[0]["rule"]["zh"] == "恶意代码防范措施缺失" and risks[0]["clause"] == "8.1.4.5"


def test_the_high_risk_label_is_the_trigger_actually_hit():
    """SHA-1 key exchange is not plaintext remote management; a second UID 0 is not a weak password."""
    h = host("h", 3, r("mlps.confidentiality.ssh_kex", "fail", "8.1.4.8 a", "8.1.4.1 c", severity="high"),
             r("mlps.auth.uid0_only_root", "fail", "8.1.4.1 a", "8.1.4.2 d", severity="high"),
             r("fleet.ssh.legacy_algorithms", "fail", "8.1.4.1 c", "8.1.4.8 a", severity="high"))
    assert high_risks(h) == []
    telnet = host("t", 2, r("mlps.auth.plaintext_remote_mgmt", "fail", "7.1.4.1 c", severity="high"),
                  r("mlps.auth.empty_passwords", "fail", "7.1.4.1 a", severity="critical"))
    labels = {x["check_id"]: (x["clause"], x["rule"]["en"]) for x in high_risks(telnet)}
    assert labels == {"mlps.auth.plaintext_remote_mgmt": ("7.1.4.1 c", "plaintext remote management"),
                      "mlps.auth.empty_passwords": ("7.1.4.1 a", "weak, empty or shared password")}


PASSING_L3 = ["8.1.4.1 b", "8.1.4.1 c", "8.1.4.1 d", "8.1.4.2 a", "8.1.4.2 b", "8.1.4.2 c", "8.1.4.3 a", "8.1.4.4 b"]


@pytest.mark.parametrize("severity, expect", [("medium", "compliant"), ("high", "basically_compliant")])
def test_high_risk_caps_the_verdict_whatever_the_rate(severity, expect):
    passes = [r(f"p{i}", "pass", c) for i, c in enumerate(PASSING_L3)]   # weights sum to 6.5
    h = host("h", 3, rest_na(3, *PASSING_L3, "8.1.4.1 a"), *passes,
             r("mlps.auth.empty_passwords", "fail", "8.1.4.1 a", severity=severity))
    sc = score_hosts([h])
    assert sc["rate"] == round(100 * 6.5 / 7.2, 1) == 90.3
    assert sc["verdict"] == expect
    assert bool(sc["high_risk"]) == (severity == "high")


def test_a_waiver_does_not_lift_the_high_risk_cap_but_leaves_the_rate():
    passes = [r(f"p{i}", "pass", c) for i, c in enumerate(PASSING_L3)]
    h = host("h", 3, rest_na(3, *PASSING_L3, "8.1.4.1 a"), *passes,
             r("mlps.auth.empty_passwords", "waived", "8.1.4.1 a", severity="high", underlying="fail"))
    sc = score_hosts([h])
    assert sc["rate"] == 100.0 and sc["verdict"] == "basically_compliant"
    assert sc["high_risk"][0]["waived"] is True


def test_item_means_over_hosts_and_unreachable_hosts_left_out():
    h1 = host("h1", 3, rest_na(3, "8.1.4.1 c", "8.1.4.5"), r("c", "pass", "8.1.4.1 c"), r("av", "pass", "8.1.4.5"))
    h2 = host("h2", 3, rest_na(3, "8.1.4.1 c", "8.1.4.5"), r("c", "fail", "8.1.4.1 c"),
              r("av", "not_applicable", "8.1.4.5"))
    down = host("h3", 3, r("c", "fail", "8.1.4.1 c"), status="unreachable")
    sc = score_hosts([h1, h2, down])
    # 8.1.4.1 c: mean(1, 0) = 0.5 (w 1.0); 8.1.4.5: 1 (w 0.7, n/a on h2) -> 1.2 / 1.7
    assert sc["rate"] == round(100 * 1.2 / 1.7, 1) == 70.6
    assert sc["verdict"] == "basically_compliant"


def test_levels_are_scored_against_their_own_items():
    l3 = host("a", 3, rest_na(3, "8.1.4.1 c"), r("c", "pass", "8.1.4.1 c", "7.1.4.1 c"))
    l2 = host("b", 2, rest_na(2, "7.1.4.1 c"), r("c", "fail", "7.1.4.1 c"), r("k", "fail", "8.1.4.8 a"))
    assert "8.1.4.8 a" not in host_items(l2) and len(host_items(l2)) == 23  # a level-3 clause never counts at L2
    sc = score_hosts([l3, l2])
    assert sc["rate"] == 50.0          # (1.0*1 + 1.0*0) / 2.0: the two levels' 1 c items side by side
    assert host_items(host("x", 1))  == {}   # level 1/4: no table, nothing scored


def test_verdict_bands():
    assert verdict(None, False) is None
    assert [verdict(v, False) for v in (59.9, 60.0, 90.0, 90.1)] == \
        ["noncompliant", "basically_compliant", "basically_compliant", "compliant"]


def test_top_fixes_put_the_high_risk_first_then_the_biggest_gain():
    h = host("h", 3, r("small", "fail", "8.1.4.2 d"), r("big", "fail", "8.1.4.4 b"),
             r("mlps.auth.empty_passwords", "fail", "8.1.4.1 a", severity="high"), r("ok", "pass", "8.1.4.1 c"))
    fixes = top_fixes([h])
    assert [f["check_id"] for f in fixes] == ["mlps.auth.empty_passwords", "big", "small"]
    assert fixes[0]["removes_high_risk"] and fixes[1]["gain"] > fixes[2]["gain"] > 0


def test_rollup_school_district_overall():
    hosts = [host("a", 3, rest_na(3, "8.1.4.1 c"), r("c", "pass", "8.1.4.1 c"), school="s1", district="d1"),
             host("b", 3, rest_na(3, "8.1.4.1 c"), r("c", "fail", "8.1.4.1 c"), school="s2", district="d1"),
             host("c", 3, rest_na(3, "8.1.4.1 c"), r("c", "pass", "8.1.4.1 c"), school="s3", district="d2")]
    out = rollup(hosts)
    assert {s: v["rate"] for s, v in out["schools"].items()} == {"s1": 100.0, "s2": 0.0, "s3": 100.0}
    assert out["districts"]["d1"]["rate"] == 50.0 and out["districts"]["d2"]["rate"] == 100.0
    assert out["overall"] == {"rate": round(200 / 3, 1), "schools": 3}


def test_level_2_backup_items_count_under_data_backup_not_confidentiality():
    """Level 2 has no 数据保密性: its 7.1.4.8 is 数据备份恢复, so it is control point 9 like 8.1.4.9."""
    from reports.scoring import item_table, point_of

    assert point_of("7.1.4.8 a") == "9" and point_of("7.1.4.10 b") == "11" and point_of("8.1.4.8 a") == "8"
    assert point_of("7.1.4.7 a") == "7" and point_of("8.1.4.10 a") == "10"
    sc = score_hosts([host("b", 2, rest_na(2, "7.1.4.8 a", "7.1.4.2 a"), r("backup", "fail", "7.1.4.8 a"),
                           r("mac", "pass", "7.1.4.2 a"))])
    assert sc["points"] == {"2": 10.0, "9": 0.0}
    assert item_table().points["9"]["zh"] == "数据备份恢复"


def test_systems_and_item_breakdown():
    """A host serving two systems counts in both; the breakdown says per item how many hosts found each
    verdict and which check failed where."""
    from reports.scoring import item_breakdown, system_scores

    na = rest_na(3, "8.1.4.1 a", "8.1.4.3 a")
    a = host("a", 3, na, r("c1", "pass", "8.1.4.1 a"), r("c2", "fail", "8.1.4.1 a"), r("c3", "pass", "8.1.4.3 a"))
    b = host("b", 3, na, r("c1", "pass", "8.1.4.1 a"), r("c2", "pass", "8.1.4.1 a"), r("c3", "fail", "8.1.4.3 a"))
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


def test_headers_and_declarations_are_not_evidence_of_the_clauses_they_sit_beside():
    """Issue #15 items 2 and 4: HTTP security headers never lower 8.1.4.7 a / 8.1.4.8 a (informational); DR
    objectives declared in the inventory no longer cite 8.1.4.9 c, so a standby *site* (a manual check) leaves
    hot redundancy awaiting evidence instead of conforming on YAML alone."""
    h = host("h", 3, r("network.web.security_headers", "fail", "8.1.4.8 a", "8.1.4.7 a", severity="low"),
             r("network.tls.weak_protocols", "pass", "8.1.4.8 a", "8.1.4.7 a"),
             r("dr.standby_ready", "manual", "8.1.4.9 c", message={"zh": "说明备用场地", "en": "describe the site"}),
             r("dr.objectives_declared", "pass", "8.1.10.11 c"))
    items = host_items(h)
    assert items["8.1.4.8 a"].verdict == items["8.1.4.7 a"].verdict == "conform"
    assert items["8.1.4.9 c"].verdict == "awaiting" and items["8.1.4.9 c"].ask["en"] == "describe the site"


def test_the_network_views_school_record_has_no_items_to_await():
    """network@<school> (the segments' findings) is not a 测评对象: it adds no 待取证 items to the school's rate."""
    real = host("web", 3, rest_na(3, "8.1.4.1 c"), r("c", "pass", "8.1.4.1 c"))
    seg = host("network@s1", 3, r("network.school.undeclared_hosts", "fail", "8.1.10.2 a"))
    assert host_items(seg) == {}
    assert score_hosts([real, seg])["rate"] == score_hosts([real])["rate"] == 100.0


def test_a_report_judges_each_host_once_and_gets_the_same_scores(monkeypatch):
    """Inside ``judged_once`` (what publishing a run uses) a host dict is judged once however many scores ask for
    it; the scores, top fixes and every item equal those judged afresh; a copy of a host is judged on its own, each
    call gets its own dict, and nothing is remembered after the block."""
    from audits.model import verdicts

    hosts = [host("a", 3, rest_na(3, "8.1.4.1 c", "8.1.4.4 b"), r("c", "pass", "8.1.4.1 c"),
                  r("big", "fail", "8.1.4.4 b")),
             host("b", 3, rest_na(3, "8.1.4.1 c"), r("c", "fail", "8.1.4.1 c", severity="high"))]
    fresh = (rollup(hosts), top_fixes(hosts), [host_items(h) for h in hosts])
    calls = []
    real = verdicts._host_items
    monkeypatch.setattr(verdicts, "_host_items", lambda h: calls.append(h["id"]) or real(h))
    with verdicts.judged_once():
        memo = (rollup(hosts), top_fixes(hosts), [host_items(h) for h in hosts])
        assert sorted(calls) == ["a", "b"], calls           # the school, its system, the fixes, the items: once each
        mine = host_items(hosts[0])
        mine.clear()                                         # a caller's dict is its own
        assert host_items(hosts[0]) == fresh[2][0]
        changed = dict(hosts[1], results=[dict(x, status="pass") for x in hosts[1]["results"]])
        assert host_items(changed)["8.1.4.1 c"].verdict == "conform" != host_items(hosts[1])["8.1.4.1 c"].verdict
    assert memo == fresh
    calls.clear()
    host_items(hosts[0])
    assert calls == ["a"] and verdicts._JUDGED.get() is None
