"""A pre-7.2-style SSH server (SHA-1 key exchange only): paramiko 5 cannot negotiate, the runner falls
back to the system OpenSSH client, audits the host, keeps host keys strict and reports the weak algorithms."""
import json
import shutil
import socket

import paramiko
import pytest

import auditctl

pytestmark = [pytest.mark.lab,
              pytest.mark.skipif(not shutil.which("ssh"), reason="system OpenSSH client missing")]


@pytest.fixture
def legacy_host(campus_lab):
    host = campus_lab.by_kind("compliant")[-1]
    config = (host.etc / "ssh" / "sshd_config").read_text()
    campus_lab.write_etc_file(host.id, "ssh/sshd_config", config + "KexAlgorithms diffie-hellman-group14-sha1\n",
                              restart=True)
    return host


def audit(lab, tmp_path, host_id, known_hosts=None):
    inv = lab.write_inventory(tmp_path / "lab.yaml")
    js = tmp_path / "r.json"
    auditctl.main(["run", "-q", "-i", str(inv), "--limit", host_id, "--db", str(tmp_path / "r.db"), "--json", str(js),
                   "--out", str(tmp_path / "o"), "--known-hosts", str(known_hosts or lab.known_hosts)])
    (h,) = json.loads(js.read_text())["hosts"]
    return h, {r["check_id"]: r for r in h["results"]}


def test_paramiko_alone_cannot_reach_it(legacy_host):
    t = paramiko.Transport(socket.create_connection((legacy_host.address, 22), timeout=5))
    with pytest.raises(paramiko.SSHException, match="(?i)incompatible|no acceptable"):
        t.start_client(timeout=10)
    t.close()


def test_legacy_host_is_audited_through_openssh_and_reported(campus_lab, legacy_host, tmp_path):
    h, res = audit(campus_lab, tmp_path, legacy_host.id)
    assert h["status"] == "audited", h
    finding = res["fleet.ssh.legacy_algorithms"]
    assert finding["status"] == "fail" and finding["severity"] == "high"
    assert "no common SSH algorithms" in finding["evidence"]
    # the audit itself happened: facts of that host were read through the fallback
    assert res["mlps.auth.login_defs_max_days"]["status"] == "pass"
    assert res["mlps.access.sshd_root_login"]["status"] == "pass"
    assert res["mlps.auth.empty_passwords"]["status"] == "pass"  # sudo works through the fallback too


def test_legacy_fallback_keeps_host_keys_strict(campus_lab, legacy_host, tmp_path):
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    h, _ = audit(campus_lab, tmp_path, legacy_host.id, known_hosts=empty)
    assert h["status"] == "unreachable" and h["reason"] == "host_key_unknown", h
    assert empty.read_text() == ""
    campus_lab.change_host_key(legacy_host.id)
    h, res = audit(campus_lab, tmp_path, legacy_host.id)
    assert h["status"] == "unreachable" and h["reason"] == "host_key_changed", h
    assert res["fleet.ssh.host_key"]["status"] == "fail"
