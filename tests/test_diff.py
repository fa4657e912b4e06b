"""`auditctl diff`: new, fixed, still-open and not-assessed findings between two runs."""
import json
import re

import pytest

import auditctl
from reports.diff import diff_runs


def doc(run_id, hosts):
    return {"run": {"id": run_id}, "hosts": [
        {"id": hid, "school": "s1", "status": "audited" if results is not None else "unreachable",
         "results": [{"check_id": c, "status": st, "severity": "high", "title": {"zh": c, "en": c},
                      "references": ["GB/T 22239-2019 8.1.4.1 a"], "evidence": ev} for c, st, ev in (results or [])]}
        for hid, results in hosts.items()]}


def test_classification_never_counts_an_unassessed_finding_as_fixed():
    old = doc("A", {"h1": [("c.fixed", "fail", "x"), ("c.open", "fail", "1"), ("c.err", "fail", "")],
                    "h2": [("c.gone", "fail", "")]})
    new = doc("B", {"h1": [("c.fixed", "pass", ""), ("c.open", "fail", "2"), ("c.err", "error", ""),
                           ("c.new", "fail", "")],
                    "h2": None})
    d = diff_runs(old, new)
    assert [r["check_id"] for r in d["fixed"]] == ["c.fixed"]
    assert [r["check_id"] for r in d["new"]] == ["c.new"]
    assert [(r["check_id"], r["evidence_changed"]) for r in d["still_open"]] == [("c.open", True)]
    assert sorted((r["check_id"], r["now"]) for r in d["not_assessed"]) == [("c.err", "error"), ("c.gone", "missing")]
    assert d["counts"] == {"new": 1, "fixed": 1, "still_open": 1, "not_assessed": 2}


@pytest.mark.lab
def test_diff_of_two_real_runs_after_fixing_one_host(campus_lab, tmp_path, capsys):
    inv = campus_lab.write_inventory(tmp_path / "lab.yaml")
    bad, other = campus_lab.by_kind("misconfigured")[:2]
    db = str(tmp_path / "r.db")
    common = ["run", "-q", "-i", str(inv), "--limit", f"{bad.id},{other.id}", "--db", db, "--out", str(tmp_path / "o"),
              "--known-hosts", str(campus_lab.known_hosts)]
    auditctl.main(common)
    defs = re.sub(r"^PASS_MAX_DAYS\s+\d+", "PASS_MAX_DAYS 90", (bad.etc / "login.defs").read_text(), flags=re.M)
    assert "PASS_MAX_DAYS 90" in defs
    campus_lab.write_etc_file(bad.id, "login.defs", defs)
    campus_lab.stop_host(other.id)
    auditctl.main(common)
    capsys.readouterr()
    assert auditctl.main(["diff", "--db", db, "--json", str(tmp_path / "d.json"), "--lang", "en"]) == 0
    text = capsys.readouterr().out
    d = json.loads((tmp_path / "d.json").read_text())
    assert [(r["host"], r["check_id"]) for r in d["fixed"]] == [(bad.id, "mlps.auth.login_defs_max_days")]
    assert {r["host"] for r in d["still_open"]} == {bad.id}
    assert {r["host"] for r in d["not_assessed"]} == {other.id}  # a stopped host's findings are not "fixed"
    assert d["new"] == [] and "fixed 1" in text
