"""The SSH fleet runner against the campus lab: real sshd hosts in network namespaces."""
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import auditctl
from audits.store.database import Store

pytestmark = pytest.mark.lab
ROOT = Path(__file__).resolve().parent.parent


def by_kind(lab, kind):
    return [h for h in lab.hosts if h.kind == kind]


def results_of(doc):
    return {h["id"]: {r["check_id"]: r for r in h["results"]} for h in doc["hosts"]}


@pytest.fixture(scope="module")
def fleet_run(campus_lab, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fleet")
    inv = tmp / "lab.yaml"
    campus_lab.write_inventory(inv)
    js = tmp / "run.json"
    t0 = time.monotonic()
    rc = auditctl.main(["run", "-q", "-i", str(inv), "--db", str(tmp / "r.db"), "--json", str(js),
                        "--out", str(tmp / "out"), "--known-hosts", str(campus_lab.known_hosts)])
    return rc, json.loads(js.read_text()), time.monotonic() - t0, inv


def test_every_reachable_host_is_audited_with_its_own_results(campus_lab, fleet_run):
    rc, doc, _, _ = fleet_run
    hosts = {h["id"]: h for h in doc["hosts"]}
    res = results_of(doc)
    assert set(hosts) == {h.id for h in campus_lab.hosts}
    for h in by_kind(campus_lab, "compliant"):
        assert hosts[h.id]["status"] == "audited", hosts[h.id]
        r = res[h.id]
        assert r["mlps.access.sshd_root_login"]["status"] == "pass"
        assert r["mlps.auth.sshd_max_auth_tries"]["status"] == "pass"
        assert r["mlps.auth.sshd_idle_timeout"]["status"] == "pass"
        assert r["mlps.auth.login_defs_max_days"]["status"] == "pass"
        assert r["mlps.auth.uid0_only_root"]["status"] == "pass"
        assert r["mlps.auth.empty_passwords"]["status"] == "pass"
        assert r["fleet.ssh.host_key"]["status"] == "pass"
    for h in by_kind(campus_lab, "misconfigured"):
        assert hosts[h.id]["status"] == "audited", hosts[h.id]
        r = res[h.id]
        assert r["mlps.access.sshd_root_login"]["status"] == "fail"
        assert "permitrootlogin yes" in r["mlps.access.sshd_root_login"]["evidence"]
        assert r["mlps.auth.sshd_max_auth_tries"]["status"] == "fail"
        assert r["mlps.auth.sshd_idle_timeout"]["status"] == "fail"
        assert r["mlps.auth.login_defs_max_days"]["status"] == "fail"
        assert "toor" in r["mlps.auth.uid0_only_root"]["evidence"]
        assert r["mlps.auth.empty_passwords"]["status"] == "fail"
    # level 3 system: the level-3 clause is cited
    some = by_kind(campus_lab, "misconfigured")[0].id
    assert res[some]["mlps.access.sshd_root_login"]["references"] == ["GB/T 22239-2019 8.1.4.2 b"]
    assert rc == 3 and doc["run"]["status"] == "incomplete"


def test_down_and_silent_hosts_are_reported_with_reasons_in_time(campus_lab, fleet_run):
    _, doc, elapsed, _ = fleet_run
    hosts = {h["id"]: h for h in doc["hosts"]}
    for h in by_kind(campus_lab, "down"):
        assert hosts[h.id]["status"] == "unreachable"
        assert hosts[h.id]["reason"] in ("timeout", "no_route"), hosts[h.id]
        assert hosts[h.id]["duration_seconds"] < 15
    for h in by_kind(campus_lab, "silent"):
        assert hosts[h.id]["status"] == "unreachable" and hosts[h.id]["reason"] == "timeout", hosts[h.id]
        assert "banner" in hosts[h.id]["detail"]
        assert hosts[h.id]["duration_seconds"] < 15
    assert elapsed < 60  # nothing hangs


def test_changed_host_key_is_refused_and_reported_as_a_finding(campus_lab, fleet_run, tmp_path):
    _, _, _, inv = fleet_run
    victim = by_kind(campus_lab, "compliant")[0]
    campus_lab.change_host_key(victim.id)
    js = tmp_path / "r.json"
    auditctl.main(["run", "-q", "-i", str(inv), "--limit", victim.id, "--db", str(tmp_path / "r.db"),
                   "--json", str(js), "--out", str(tmp_path / "o"), "--known-hosts", str(campus_lab.known_hosts)])
    doc = json.loads(js.read_text())
    (h,) = doc["hosts"]
    assert h["status"] == "unreachable" and h["reason"] == "host_key_changed"
    finding = {r["check_id"]: r for r in h["results"]}["fleet.ssh.host_key"]
    assert finding["status"] == "fail" and finding["severity"] == "high"
    assert "SHA256:" in finding["evidence"]
    # the known_hosts file was not modified to accept the new key
    assert campus_lab.host_key(victim.id).split()[1] not in campus_lab.known_hosts.read_text()


def test_unknown_key_refused_unless_trust_on_first_use(campus_lab, fleet_run, tmp_path):
    _, _, _, inv = fleet_run
    target = by_kind(campus_lab, "misconfigured")[0]
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    common = ["run", "-q", "-i", str(inv), "--limit", target.id, "--db", str(tmp_path / "r.db"),
              "--out", str(tmp_path / "o"), "--known-hosts", str(empty)]
    auditctl.main(common + ["--json", str(tmp_path / "a.json")])
    (h,) = json.loads((tmp_path / "a.json").read_text())["hosts"]
    assert h["reason"] == "host_key_unknown" and "--trust-on-first-use" in h["detail"]
    auditctl.main(common + ["--json", str(tmp_path / "b.json"), "--trust-on-first-use"])
    (h,) = json.loads((tmp_path / "b.json").read_text())["hosts"]
    assert h["status"] == "audited"
    assert target.address in empty.read_text()  # recorded for next time


def test_interrupted_run_is_resumed(campus_lab, fleet_run, tmp_path):
    _, _, _, inv = fleet_run
    db = tmp_path / "r.db"
    cmd = [sys.executable, str(ROOT / "auditctl.py"), "run", "-q", "-i", str(inv), "--db", str(db), "--forks", "1",
           "--out", str(tmp_path / "o"), "--known-hosts", str(campus_lab.known_hosts)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    store = None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if db.exists():
            store = store or Store(f"sqlite:///{db}")
            runs = store.runs(1)
            if runs and len(store.hosts(runs[0]["id"])) >= 2:
                break
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    run_id = store.runs(1)[0]["id"]
    assert proc.returncode == 3, err
    assert store.run(run_id)["status"] == "interrupted"
    saved = {h.host_id for h in store.hosts(run_id)}
    assert 2 <= len(saved) < len(campus_lab.hosts)
    assert f"auditctl run --resume {run_id}" in err
    js = tmp_path / "r.json"
    rc = auditctl.main(["run", "-q", "--resume", run_id, "--db", str(db), "--json", str(js), "--out", str(tmp_path / "o"),
                        "--known-hosts", str(campus_lab.known_hosts)])
    doc = json.loads(js.read_text())
    assert {h["id"] for h in doc["hosts"]} == {h.id for h in campus_lab.hosts}
    assert rc == 3 and doc["run"]["status"] == "incomplete"  # complete, but the down hosts stay unreachable
