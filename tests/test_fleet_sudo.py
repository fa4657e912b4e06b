"""Fleet runner and sudo on real lab hosts: probes needing root use `sudo -n`; a refusal is classified."""
import json

import pytest

import auditctl

pytestmark = pytest.mark.lab


def audit(lab, tmp_path, host_id, name="r"):
    inv = lab.write_inventory(tmp_path / "lab.yaml")
    js = tmp_path / f"{name}.json"
    auditctl.main(["run", "-q", "-i", str(inv), "--limit", host_id, "--db", str(tmp_path / "r.db"), "--json", str(js),
                   "--out", str(tmp_path / "o"), "--known-hosts", str(lab.known_hosts)])
    (h,) = json.loads(js.read_text())["hosts"]
    return h, {r["check_id"]: r for r in h["results"]}


def test_sudo_refused_is_reported_and_root_checks_become_errors(campus_lab, tmp_path):
    host = campus_lab.by_kind("misconfigured")[0]
    campus_lab.set_sudo(host.id, False)
    h, res = audit(campus_lab, tmp_path, host.id)
    assert h["status"] == "audited" and h["reason"] == "sudo_denied"
    assert "sudo -n refused" in h["detail"]
    # checks needing root are errors that say why, never a silent pass
    for cid in ("mlps.auth.empty_passwords", "mlps.access.sshd_root_login"):
        assert res[cid]["status"] == "error", res[cid]
        assert "sudo denied" in res[cid]["message"]["en"]
    # checks that need no root still ran and found the planted problems
    assert res["mlps.auth.uid0_only_root"]["status"] == "fail"
    assert res["mlps.auth.login_defs_max_days"]["status"] == "fail"


def test_sudo_granted_reads_root_only_facts(campus_lab, tmp_path):
    host = campus_lab.by_kind("misconfigured")[0]
    h, res = audit(campus_lab, tmp_path, host.id)
    assert h["reason"] is None, h.get("detail")
    assert res["mlps.auth.empty_passwords"]["status"] == "fail"
    assert "$" not in res["mlps.auth.empty_passwords"]["evidence"]  # no hash material in evidence
