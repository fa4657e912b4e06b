"""An old SSH server (issue #20): a lab sshd restricted to what OpenSSH before 6.7 and old switches
speak: SHA-1 key exchange, an ssh-rsa host key, a CBC cipher and hmac-sha1. paramiko 5 cannot
negotiate; the runner falls back to the system OpenSSH client with the legacy algorithms this
machine's client still has, audits the host like any other, keeps host keys strict and names each
weak algorithm in the finding; directly and through a jump host, either side of it the old one."""
import json
import socket
import shutil
import subprocess

import paramiko
import pytest
import yaml

import auditctl
from audits.collect.transports.ssh import known_name

pytestmark = [pytest.mark.lab,
              pytest.mark.skipif(not shutil.which("ssh"), reason="system OpenSSH client missing")]
LEGACY = ("KexAlgorithms diffie-hellman-group14-sha1\nHostKeyAlgorithms ssh-rsa\nCiphers aes128-cbc\n"
          "MACs hmac-sha1\n")
# the sshd_config checks that read these very algorithms (sshd -T) rightly fail too; everything else
# must be judged as on a modern host of the same profile
ALGORITHM_CHECKS = {"fleet.ssh.legacy_algorithms", "mlps.confidentiality.ssh_ciphers", "mlps.confidentiality.ssh_macs",
                    "mlps.confidentiality.ssh_kex", "mlps.confidentiality.ssh_hostkey_algorithms"}


def _server_supports():
    q = lambda w: subprocess.run(["ssh", "-Q", w], capture_output=True, text=True).stdout.split()  # noqa: E731
    return ("diffie-hellman-group14-sha1" in q("kex") and "aes128-cbc" in q("cipher") and "hmac-sha1" in q("mac")
            and "ssh-rsa" in q("key"))


@pytest.fixture
def legacy_host(campus_lab):
    if not _server_supports():
        pytest.skip("this OpenSSH no longer has group14-sha1 / aes128-cbc / hmac-sha1 / ssh-rsa")
    host = campus_lab.by_kind("compliant")[-1]
    key = host.etc / "ssh" / "ssh_host_rsa_key"
    if not key.exists():
        subprocess.run(["ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-N", "", "-f", str(key)], check=True)
    config = (host.etc / "ssh" / "sshd_config").read_text()
    config = config.replace("HostKey /etc/ssh/ssh_host_ed25519_key", "HostKey /etc/ssh/ssh_host_rsa_key")
    # the lab's hardened baseline allows SHA-2 MACs only; sshd takes the first value, so drop it for LEGACY's
    config = "".join(ln for ln in config.splitlines(keepends=True) if not ln.startswith("MACs "))
    campus_lab.write_etc_file(host.id, "ssh/sshd_config", config + LEGACY, restart=True)
    host.rsa_key = "ssh-rsa " + key.with_suffix(".pub").read_text().split()[1]
    return host


def audit(lab, tmp_path, host_id, known_hosts, edit=None):
    inv = lab.write_inventory(tmp_path / "lab.yaml")
    doc = yaml.safe_load(inv.read_text())
    for h in (h for d in doc["districts"] for s in d["schools"] for h in s["hosts"]):
        h["known_hosts"] = str(known_hosts)
        if h["id"] == host_id and edit:
            edit(h)
    inv.write_text(yaml.safe_dump(doc, allow_unicode=True))
    js = tmp_path / "r.json"
    auditctl.main(["run", "-q", "-i", str(inv), "--limit", host_id, "--db", str(tmp_path / "r.db"), "--json", str(js),
                   "--out", str(tmp_path / "o")])
    (h,) = json.loads(js.read_text())["hosts"]
    return h, {r["check_id"]: r for r in h["results"]}


def known(tmp_path, lab, *lines):
    kh = tmp_path / "known_hosts"
    kh.write_text(lab.known_hosts.read_text() + "".join(f"{ln}\n" for ln in lines))
    return kh


def assert_weak_named(finding):
    assert finding["status"] == "fail" and finding["severity"] == "high", finding
    for algo in ("diffie-hellman-group14-sha1", "ssh-rsa", "aes128-cbc"):  # weak by checks/baselines.yaml
        assert algo in finding["message"]["en"], finding
    assert "hmac-sha1" in finding["evidence"]  # offered (not weak by the shared baseline): in the evidence
    assert "remove the weak algorithms" in finding["remediation"]["en"]


def test_paramiko_alone_cannot_reach_it(legacy_host):
    t = paramiko.Transport(socket.create_connection((legacy_host.address, 22), timeout=5))
    with pytest.raises(paramiko.SSHException, match="(?i)incompatible|no acceptable"):
        t.start_client(timeout=10)
    t.close()


def test_legacy_host_is_audited_like_a_modern_one_and_its_weak_algorithms_reported(campus_lab, legacy_host, tmp_path,
                                                                                    capsys):
    kh = known(tmp_path, campus_lab, f"{legacy_host.address} {legacy_host.rsa_key}")
    h, res = audit(campus_lab, tmp_path, legacy_host.id, kh)
    assert h["status"] == "audited", h
    assert f"reached through the legacy SSH path (weak algorithms reported): {legacy_host.id}" in capsys.readouterr().err
    assert "legacy SSH path" in h["detail"]  # the run's summary and the report say how it was reached
    assert_weak_named(res["fleet.ssh.legacy_algorithms"])
    modern = campus_lab.by_kind("compliant")[0]
    (tmp_path / "m").mkdir()
    hm, rm = audit(campus_lab, tmp_path / "m", modern.id, kh)
    assert hm["status"] == "audited" and "legacy" not in (hm["detail"] or "")
    assert rm["fleet.ssh.legacy_algorithms"]["status"] == "pass"
    same = {c: (r["status"]) for c, r in res.items() if c not in ALGORITHM_CHECKS}
    assert same == {c: r["status"] for c, r in rm.items() if c not in ALGORITHM_CHECKS}
    assert res["mlps.confidentiality.ssh_ciphers"]["status"] == "fail"  # read through the fallback: sshd -T
    assert res["mlps.auth.empty_passwords"]["status"] == "pass"  # sudo works through the fallback too
    html = "".join(p.read_text() for p in (tmp_path / "o").rglob("*.html"))
    assert "legacy SSH path" in html


def test_legacy_fallback_keeps_host_keys_strict_and_says_why(campus_lab, legacy_host, tmp_path):
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    h, _ = audit(campus_lab, tmp_path, legacy_host.id, empty)
    assert h["status"] == "unreachable" and h["reason"] == "host_key_unknown", h
    assert "Host key verification failed" in h["detail"] and "host key ssh-rsa" in h["detail"], h
    assert empty.read_text() == ""
    other = paramiko.RSAKey.generate(2048)
    kh = known(tmp_path, campus_lab, f"{legacy_host.address} ssh-rsa {other.get_base64()}")
    h, res = audit(campus_lab, tmp_path, legacy_host.id, kh)
    assert h["status"] == "unreachable" and h["reason"] == "host_key_changed", h
    assert "REMOTE HOST IDENTIFICATION HAS CHANGED" in h["detail"] and "SSH-2.0-OpenSSH" in h["detail"], h
    assert res["fleet.ssh.host_key"]["status"] == "fail"


def test_legacy_host_behind_a_jump_host(campus_lab, legacy_host, tmp_path):
    bastion = campus_lab.by_kind("compliant")[0]
    kh = known(tmp_path, campus_lab,
               f"{known_name(legacy_host.address, 22, f'{bastion.address}:22')} {legacy_host.rsa_key}")
    h, res = audit(campus_lab, tmp_path, legacy_host.id, kh, lambda e: e.update(jump=f"audit@{bastion.address}"))
    assert h["status"] == "audited", h
    assert_weak_named(res["fleet.ssh.legacy_algorithms"])  # its offer was read through the bastion
    # the jumped host's key is known only per jump chain: under its bare address the fallback refuses it
    kh = known(tmp_path, campus_lab, f"{legacy_host.address} {legacy_host.rsa_key}")
    h, _ = audit(campus_lab, tmp_path, legacy_host.id, kh, lambda e: e.update(jump=f"audit@{bastion.address}"))
    assert h["status"] == "unreachable" and h["reason"] == "host_key_unknown", h


def test_old_jump_host_in_front_of_a_modern_host(campus_lab, legacy_host, tmp_path):
    target = campus_lab.by_kind("misconfigured")[0]
    kh = known(tmp_path, campus_lab, f"{legacy_host.address} {legacy_host.rsa_key}",
               f"{known_name(target.address, 22, f'{legacy_host.address}:22')} {campus_lab.host_key(target.id)}")
    h, res = audit(campus_lab, tmp_path, target.id, kh, lambda e: e.update(jump=f"audit@{legacy_host.address}"))
    assert h["status"] == "audited", h
    finding = res["fleet.ssh.legacy_algorithms"]
    assert finding["status"] == "fail" and "jump host" in finding["message"]["en"], finding
    assert res["mlps.access.sshd_root_login"]["status"] == "fail"  # the target's facts, not the bastion's
    # the old jump host's key is checked as strictly: unknown, it is refused
    kh = known(tmp_path, campus_lab,
               f"{known_name(target.address, 22, f'{legacy_host.address}:22')} {campus_lab.host_key(target.id)}")
    kh.write_text("".join(ln + "\n" for ln in kh.read_text().splitlines() if not ln.startswith(f"{legacy_host.address} ")))
    h, _ = audit(campus_lab, tmp_path, target.id, kh, lambda e: e.update(jump=f"audit@{legacy_host.address}"))
    assert h["status"] == "unreachable" and h["reason"] == "host_key_unknown", h
