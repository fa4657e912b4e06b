"""Waivers and attestations: scoping, expiry, the real outcome kept underneath, precise input errors,
and a real local run where a waived failure and an attested manual item come out as intended."""
import datetime as dt
import json
import textwrap

import pytest

import auditctl
from audits.model.errors import InputError
from audits.model.waivers import Exceptions, apply_exceptions, parse_entries
from audits.inventory.load import load_inventory
from audits.run.plan import load_plan
from checks.testing import fixture_host

TODAY = dt.date(2026, 11, 24)


def row(check_id="mlps.auth.x", status="fail"):
    return {"check_id": check_id, "status": status, "message": {"zh": "m", "en": "m"}, "evidence": "ev"}


def waiver(**kw):
    return {"check": "mlps.auth.x", "reason": "legacy app needs it until migration", "approver": "王主任",
            "expires": "2026-12-31", **kw}


def attestation(**kw):
    return {"check": "mlps.auth.x", "by": "张老师", "document": "信息中心管理制度 v3 第2章", "date": "2026-03-01",
            "expires": "2027-03-01", **kw}


def exc(waivers=(), attestations=(), scope=None):
    scope = scope or {"host": "fixture"}
    return Exceptions(parse_entries(list(waivers), "waiver", "inv.yaml", scope),
                      parse_entries(list(attestations), "attestation", "inv.yaml", scope))


HOST = fixture_host({"id": "web-01", "systems": ["sis"], "school": "no1"})


def test_valid_waiver_shows_waived_and_keeps_the_real_outcome():
    out = apply_exceptions(row(), HOST, exc([waiver()], scope={"host": "web-01"}), TODAY)
    assert out["status"] == "waived" and out["underlying"] == "fail"
    (w,) = out["exceptions"]
    assert w["approver"] == "王主任" and w["expired"] is False and w["scope"] == "host:web-01"


def test_expired_waiver_counts_again_but_stays_visible():
    out = apply_exceptions(row(), HOST, exc([waiver(expires="2026-11-23")], scope={"host": "web-01"}), TODAY)
    assert out["status"] == "fail" and "underlying" not in out
    assert out["exceptions"][0]["expired"] is True


@pytest.mark.parametrize("scope, applies", [({"host": "web-01"}, True), ({"host": "web-02"}, False),
                                            ({"system": "sis"}, True), ({"system": "oa"}, False),
                                            ({"school": "no1"}, True), ({"school": "no2"}, False)])
def test_waiver_scope(scope, applies):
    out = apply_exceptions(row(), HOST, exc([waiver()], scope=scope), TODAY)
    assert (out["status"] == "waived") is applies


def test_waiver_glob_and_passing_results_untouched():
    e = exc([waiver(check="mlps.auth.*")], scope={"host": "web-01"})
    assert apply_exceptions(row("mlps.auth.y"), HOST, e, TODAY)["status"] == "waived"
    assert apply_exceptions(row("mlps.access.y"), HOST, e, TODAY)["status"] == "fail"
    assert apply_exceptions(row(status="pass"), HOST, e, TODAY) == {**row(status="pass")}


def test_attestation_answers_manual_items_only():
    e = exc(attestations=[attestation()], scope={"host": "web-01"})
    ok = apply_exceptions(row(status="manual"), HOST, e, TODAY)
    assert ok["status"] == "pass" and ok["underlying"] == "manual" and "张老师" in ok["message"]["zh"]
    # a check that measured the host is never overridden by a document
    assert apply_exceptions(row(status="fail"), HOST, e, TODAY)["status"] == "fail"


def test_expired_or_future_attestation_is_a_finding():
    old = exc(attestations=[attestation(date="2025-01-01", expires="2026-01-01")], scope={"host": "web-01"})
    out = apply_exceptions(row(status="manual"), HOST, old, TODAY)
    assert out["status"] == "fail" and out["evidence"] and "expired" in out["message"]["en"]
    future = exc(attestations=[attestation(date="2027-01-01", expires="2028-01-01")], scope={"host": "web-01"})
    assert apply_exceptions(row(status="manual"), HOST, future, TODAY)["status"] == "fail"


def test_newest_valid_entry_wins_over_an_expired_one():
    e = exc([waiver(expires="2026-01-01"), waiver(expires="2027-06-30")], scope={"host": "web-01"})
    out = apply_exceptions(row(), HOST, e, TODAY)
    assert out["status"] == "waived" and out["exceptions"][0]["expires"] == "2027-06-30"


def _inv(tmp_path, body):
    p = tmp_path / "inv.yaml"
    p.write_text(textwrap.dedent(body), encoding="utf-8")
    return p


BASE = """\
    bureau: {id: t}
    districts:
      - id: d1
        schools:
          - id: s1
            waivers:
              - {check: mlps.auth.sshd_idle_timeout, reason: kiosk, approver: 李校长, expires: 2027-01-31}
            systems:
              - id: sis
                level: 3
                attestations:
                  - {check: mlps.auth.*, by: 张老师, document: 制度汇编, date: 2026-01-01, expires: 2027-01-01}
            hosts:
              - id: h1
                address: 127.0.0.1
                systems: [sis]
                waivers:
                  - {check: mlps.access.shadow_mode, reason: vendor image, approver: 王主任, expires: 2026-12-31}
    """


def test_inventory_entries_are_scoped_to_where_they_are_written(tmp_path):
    inv = load_inventory(_inv(tmp_path, BASE))
    scopes = sorted((e.kind, e.scope) for e in inv.exceptions.waivers + inv.exceptions.attestations)
    assert scopes == [("attestation", ("system", "sis")), ("waiver", ("host", "h1")), ("waiver", ("school", "s1"))]


def test_bad_entries_name_file_line_and_field(tmp_path):
    body = BASE.replace("approver: 王主任, expires: 2026-12-31", "expires: 2026-13-45") \
               .replace("document: 制度汇编, ", "docment: 制度汇编, ")
    p = _inv(tmp_path, body)
    with pytest.raises(InputError) as e:
        load_inventory(p)
    text = "\n".join(map(str, e.value.problems))
    assert f"{p}:18: schools[0].hosts[0].waivers[0].approver: a waiver needs 'approver'" in text \
        or f"{p}:18: districts[0].schools[0].hosts[0].waivers[0].approver: a waiver needs 'approver'" in text
    assert "'2026-13-45' is not a date (YYYY-MM-DD)" in text
    assert "docment: unknown field (did you mean 'document'?)" in text


def test_plan_waiver_needs_a_scope(tmp_path):
    p = tmp_path / "plan.yaml"
    p.write_text("waivers:\n  - {check: mlps.auth.x, reason: r, approver: a, expires: 2027-01-01}\n"
                 "  - {check: mlps.auth.x, reason: r, approver: a, expires: 2027-01-01, scope: 'room:1'}\n")
    with pytest.raises(InputError) as e:
        load_plan(p)
    text = "\n".join(map(str, e.value.problems))
    assert f"{p}:2: waivers[0].scope: needs a scope here" in text
    assert f"{p}:3: waivers[1].scope: 'room:1' must be host:ID, system:ID or school:ID" in text


def test_validate_refuses_a_waiver_for_an_unknown_check(tmp_path, capsys):
    p = _inv(tmp_path, BASE.replace("mlps.access.shadow_mode", "mlps.access.shadow_mod"))
    assert auditctl.main(["validate", str(p)]) == 2
    assert "waivers.check: no check matches 'mlps.access.shadow_mod' (did you mean 'mlps.access.shadow_mode'?)" \
        in capsys.readouterr().err


def test_local_run_reports_waived_and_attested_results(tmp_path):
    """This machine, level 3: a waived failing check and an attested manual check, end to end."""
    inv = _inv(tmp_path, """\
        bureau: {id: t}
        districts:
          - id: d1
            schools:
              - id: s1
                systems: [{id: sis, level: 3}]
                hosts:
                  - id: me
                    address: 127.0.0.1
                    connection: local
                    systems: [sis]
        """)
    plan = tmp_path / "plan.yaml"
    plan.write_text(textwrap.dedent(f"""\
        inventory: {inv}
        packs: [mlps]
        params: {{mlps: {{max_password_age: 0}}}}
        waivers:
          - {{check: mlps.auth.login_defs_max_days, scope: "host:me", reason: 测试豁免, approver: 王主任, expires: 2999-01-01}}
        attestations:
          - {{check: "mlps.*", scope: "school:s1", by: 张老师, document: 制度汇编 v1, date: 2020-01-01, expires: 2999-01-01}}
        """), encoding="utf-8")
    js = tmp_path / "r.json"
    auditctl.main(["run", "-q", "--plan", str(plan), "--db", str(tmp_path / "r.db"), "--json", str(js),
                   "--out", str(tmp_path / "out")])
    (host,) = json.loads(js.read_text())["hosts"]
    by_id = {r["check_id"]: r for r in host["results"]}
    waived = by_id["mlps.auth.login_defs_max_days"]
    assert waived["status"] == "waived" and waived["underlying"] == "fail"
    assert waived["exceptions"][0]["reason"] == "测试豁免"
    attested = [r for r in host["results"] if r["underlying"] == "manual"]
    assert attested and all(r["status"] == "pass" for r in attested)
    assert not any(r["status"] == "manual" for r in host["results"])
    html = next((tmp_path / "out").rglob("*.html")).read_text(encoding="utf-8")
    assert "测试豁免" in html and "张老师" in html
