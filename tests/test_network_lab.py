"""`auditctl run` with a plan's network: section against the campus lab: one run audits a real sshd
host over SSH and from the network, and a declared host that is absent is unreachable over SSH and
"not answering" on the network. The SSH algorithm verdict from the network agrees with the one the
host's own sshd -T gives."""
import json

import pytest

import auditctl

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def lab_run(campus_lab, campus_lab_inventory, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("netlab")
    plan = tmp / "plan.yaml"
    plan.write_text("network: {max_rate: 300, host_timeout: 30}\n")
    js = tmp / "run.json"
    rc = auditctl.main(["run", "-q", "-i", str(campus_lab_inventory), "--plan", str(plan), "--limit",
                        "lab-compliant-01,lab-down-01", "--db", str(tmp / "r.db"), "--json", str(js),
                        "--out", str(tmp / "out"), "--known-hosts", str(campus_lab.known_hosts)])
    doc = json.loads(js.read_text())
    return rc, {h["id"]: h for h in doc["hosts"]}


def results(host):
    return {r["check_id"]: r for r in host["results"]}


def test_one_run_judges_the_host_over_ssh_and_from_the_network(lab_run):
    _, hosts = lab_run
    assert set(hosts) == {"lab-compliant-01", "lab-down-01"}  # --limit: no /24 scan, so no school record
    up = results(hosts["lab-compliant-01"])
    assert hosts["lab-compliant-01"]["status"] == "audited"
    assert up["network.exposure.host_answers"]["status"] == "pass"
    assert up["network.exposure.plaintext_services"]["status"] == "pass"
    assert up["network.exposure.undeclared_ports"]["status"] == "pass"  # only 22, in base_ports
    net, host_side = up["network.ssh.weak_algorithms"], up["mlps.confidentiality.ssh_macs"]
    assert net["status"] == host_side["status"]
    if host_side["status"] == "fail":  # Debian's default MACs include umac-64: both views must name it
        assert "umac-64" in net["evidence"] and "umac-64" in host_side["evidence"]


def test_an_absent_declared_host_is_unreachable_and_not_answering(lab_run):
    rc, hosts = lab_run
    down = hosts["lab-down-01"]
    assert down["status"] == "unreachable" and rc == 3
    r = results(down)["network.exposure.host_answers"]
    assert r["status"] == "fail" and "10.203.0.200" in r["evidence"]
    assert not any(c.startswith("mlps.") for c in results(down))  # no login: only facts that need none
