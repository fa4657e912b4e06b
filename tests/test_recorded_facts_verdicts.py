"""Recorded facts of a level-3 host with password-only SSH (Debian 12's stock sshd and PAM: each login path is
one factor), no log forwarding and no collection agent, and no attestation, judged by the real checks and then
by the item-verdict rules: 8.1.4.1 d (two-factor) and 8.1.4.3 c (records backed up off the host: central
collection) must not be left out of the rate.

Both checks fail on this evidence (a single-factor login path; nothing forwarded and no collection agent
running), both are the items' key points, so both items are 不符合 and no second factor is a high-risk
candidate."""
from pathlib import Path

import pytest

from audits.model.evaluation import check_params, result_row
from checks.registry import load_registry
from checks.testing import load_cases
from reports.scoring import high_risks, host_items, score_hosts

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "checks"
CASES = {("mlps.auth.multi_factor", "fail-debian-12-default-password-or-key-alone"), ("mlps.audit.log_forwarding", "fail-debian-no-forwarding-no-agent-level3")}


def recorded_host() -> dict:
    """The level-3 host's document entry: the real checks' results on the recorded facts, no attestation."""
    reg = load_registry()
    rows = []
    for case in load_cases(FIXTURES):
        if (case.check_id, case.name) in CASES:
            check = reg.by_id[case.check_id]
            assert case.host.level == 3
            out = check.run(case.facts, case.host, check_params(check, {check.pack: case.params}))
            row = result_row(check, out, 3)
            rows.append({**row, "references": row.pop("refs"), "underlying": None})
    assert {r["check_id"] for r in rows} == {c for c, _ in CASES}
    return {"id": "l3-password-only", "level": 3, "school": "s", "district": "d", "status": "audited", "results": rows}


def test_unanswered_second_factor_and_central_collection_count_against_the_rate():
    h = recorded_host()
    items = host_items(h)
    for clause in ("8.1.4.1 d", "8.1.4.3 c"):
        assert items[clause].verdict in ("awaiting", "nonconform"), (clause, items[clause].checks)
        assert items[clause].score == 0.0
    listed = {a["clause"]: a for a in score_hosts([h])["awaiting"]}
    if "8.1.4.1 d" in listed:            # still manual: the report says what to attest
        assert listed["8.1.4.1 d"]["checks"] == ["mlps.auth.multi_factor"] and listed["8.1.4.1 d"]["attest"]["zh"]


def test_password_only_level_3_host_without_central_logging_is_nonconform_with_a_high_risk():
    h = recorded_host()
    items = host_items(h)
    assert items["8.1.4.1 d"].verdict == "nonconform" and items["8.1.4.3 c"].verdict == "nonconform"
    assert any(x["rule"]["zh"] == "未采用多种身份鉴别技术" for x in high_risks(h))


def test_when_those_checks_fail_the_items_are_nonconform():
    """The verdict rules for the results those checks give after their change (fail; multi_factor at its high
    severity): both are key points, so each item is 不符合 whatever else passes, and no second factor is the
    high-risk candidate 未采用多种身份鉴别技术."""
    S = "GB/T 22239-2019 "
    res = [{"check_id": "mlps.auth.multi_factor", "status": "fail", "severity": "high", "references": [S + "8.1.4.1 d"]},
           {"check_id": "mlps.audit.log_forwarding", "status": "fail", "severity": "medium",
            "references": [S + "8.1.4.3 c"]},
           {"check_id": "mlps.audit.log_permissions", "status": "pass", "severity": "medium",
            "references": [S + "8.1.4.3 c"]}]
    h = {"id": "h", "level": 3, "school": "s", "district": "d", "status": "audited", "results": res}
    items = host_items(h)
    assert items["8.1.4.1 d"].verdict == items["8.1.4.3 c"].verdict == "nonconform"
    assert [x["rule"]["zh"] for x in high_risks(h)] == ["未采用多种身份鉴别技术"]


def _row(check_id: str, case_name: str) -> dict:
    reg = load_registry()
    (case,) = [c for c in load_cases(FIXTURES) if (c.check_id, c.name) == (check_id, case_name)]
    check = reg.by_id[check_id]
    row = result_row(check, check.run(case.facts, case.host, check_params(check, {check.pack: case.params})), 3)
    return {**row, "references": row.pop("refs"), "underlying": None}


@pytest.mark.parametrize("case, severity, candidate", [("fail-debian-nine-days", "medium", False),
                                                       ("fail-debian-over-a-month", "high", True)])
def test_stale_signatures_message_and_severity_agree(case, severity, candidate):
    """Issue #15 item 7: over a month (附录G A-23) the message names the 重大风险隐患 trigger and the result is high
    severity, so it is a high-risk candidate; a week or two stale is medium and names no trigger."""
    row = _row("mlps.malware.signatures_fresh", case)
    assert row["status"] == "fail" and row["severity"] == severity
    assert ("重大风险隐患" in row["message"]["zh"]) == candidate
    h = {"id": "h", "level": 3, "school": "s", "district": "d", "status": "audited", "results": [row]}
    assert [x["rule"]["zh"] for x in high_risks(h)] == (["恶意代码防范措施缺失"] if candidate else [])
    assert host_items(h)["8.1.4.5"].verdict == "nonconform"   # the only scored result fails either way
