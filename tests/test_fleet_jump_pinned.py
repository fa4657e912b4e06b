"""Fleet runner on the lab: reaching a host through a jump host, and host keys pinned in the inventory."""
import json

import pytest
import yaml

import auditctl

pytestmark = pytest.mark.lab


def run_one(lab, tmp_path, host_id, edit):
    inv = lab.write_inventory(tmp_path / "lab.yaml")
    doc = yaml.safe_load(inv.read_text())
    for school in (s for d in doc.get("districts", []) for s in d.get("schools", [])):
        for h in school["hosts"]:
            if h["id"] == host_id:
                edit(h)
    inv.write_text(yaml.safe_dump(doc, allow_unicode=True))
    js = tmp_path / "r.json"
    auditctl.main(["run", "-q", "-i", str(inv), "--limit", host_id, "--db", str(tmp_path / "r.db"), "--json", str(js),
                   "--out", str(tmp_path / "o")])
    (h,) = json.loads(js.read_text())["hosts"]
    return h


def test_host_reached_through_a_jump_host(campus_lab, tmp_path):
    """Host keys are remembered per (jump chain, address, port): the target's key known under its bare
    address is not the key of the target *behind this bastion*; recorded under that name it is."""
    from audits.collect.transports.ssh import known_name

    bastion, target = campus_lab.by_kind("compliant")[0], campus_lab.by_kind("misconfigured")[0]
    kh = tmp_path / "known_hosts"
    kh.write_text(campus_lab.known_hosts.read_text())
    jump = lambda e: e.update(jump=f"audit@{bastion.address}", known_hosts=str(kh))  # noqa: E731
    (tmp_path / "bare").mkdir()
    h = run_one(campus_lab, tmp_path / "bare", target.id, jump)
    assert h["status"] == "unreachable" and h["reason"] == "host_key_unknown", h
    with kh.open("a") as fh:
        fh.write(f"{known_name(target.address, target.port, f'{bastion.address}:22')} {campus_lab.host_key(target.id)}\n")
    h = run_one(campus_lab, tmp_path, target.id, jump)
    assert h["status"] == "audited", h
    res = {r["check_id"]: r for r in h["results"]}
    assert res["mlps.access.sshd_root_login"]["status"] == "fail"  # the target's facts, not the bastion's


def test_jump_host_that_cannot_reach_the_target_is_classified(campus_lab, tmp_path):
    bastion, down = campus_lab.by_kind("compliant")[0], campus_lab.by_kind("down")[0]
    h = run_one(campus_lab, tmp_path, down.id, lambda e: e.update(jump=f"audit@{bastion.address}"))
    assert h["status"] == "unreachable" and h["reason"] in ("no_route", "timeout", "refused"), h
    assert "jump host" in h["detail"]


def test_pinned_host_key_accepts_the_right_key_and_refuses_another(campus_lab, tmp_path):
    a, b = campus_lab.by_kind("compliant")[:2]
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")

    def pin(key):
        return lambda e: e.update(host_keys=[key], known_hosts=str(empty))

    ok = run_one(campus_lab, tmp_path, a.id, pin(campus_lab.host_key(a.id)))
    assert ok["status"] == "audited", ok
    wrong = run_one(campus_lab, tmp_path, a.id, pin(campus_lab.host_key(b.id)))
    assert wrong["status"] == "unreachable" and wrong["reason"] == "host_key_changed", wrong
    assert empty.read_text() == ""  # pinning never writes known_hosts


def test_password_from_environment_authenticates_and_is_never_stored(campus_lab, tmp_path, monkeypatch):
    import subprocess

    host = campus_lab.by_kind("compliant")[1]
    secret = "Campus-Lab-Pw-7319"
    hashed = subprocess.run(["openssl", "passwd", "-6", secret], capture_output=True, text=True, check=True).stdout.strip()
    shadow = (host.etc / "shadow").read_text().splitlines()
    shadow = [":".join([f[0], hashed, *f[2:]]) if f[0] == "audit" else ln
              for ln, f in ((ln, ln.split(":")) for ln in shadow)]
    campus_lab.write_etc_file(host.id, "shadow", "\n".join(shadow) + "\n")
    config = (host.etc / "ssh" / "sshd_config").read_text().replace("PasswordAuthentication no",
                                                                     "PasswordAuthentication yes")
    campus_lab.write_etc_file(host.id, "ssh/sshd_config", config, restart=True)
    monkeypatch.setenv("LAB_AUDIT_PW", secret)
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)

    def use_password(e):
        e.pop("key_file", None)
        e["password_env"] = "LAB_AUDIT_PW"

    h = run_one(campus_lab, tmp_path, host.id, use_password)
    assert h["status"] == "audited", h
    for artefact in [tmp_path / "r.json", tmp_path / "r.db", *(tmp_path / "o").rglob("*.html")]:
        assert secret.encode() not in artefact.read_bytes(), artefact
    monkeypatch.setenv("LAB_AUDIT_PW", "wrong")
    bad = run_one(campus_lab, tmp_path, host.id, use_password)
    assert bad["status"] == "unreachable" and bad["reason"] == "auth_failed", bad
    assert "wrong" not in bad["detail"]


def test_ssh_agent_key_authenticates(campus_lab, tmp_path, monkeypatch):
    import os
    import subprocess

    agent = subprocess.run(["ssh-agent", "-s"], capture_output=True, text=True, check=True).stdout
    env = dict(line.split(";")[0].split("=", 1) for line in agent.splitlines() if "=" in line.split(";")[0])
    try:
        subprocess.run(["ssh-add", str(campus_lab.key_file)], env={**os.environ, **env}, capture_output=True, check=True)
        monkeypatch.setenv("SSH_AUTH_SOCK", env["SSH_AUTH_SOCK"])
        host = campus_lab.by_kind("compliant")[0]
        h = run_one(campus_lab, tmp_path, host.id, lambda e: e.pop("key_file", None))
        assert h["status"] == "audited", h
        monkeypatch.delenv("SSH_AUTH_SOCK")
        none = run_one(campus_lab, tmp_path, host.id, lambda e: e.pop("key_file", None))
        assert none["reason"] == "auth_failed" and "no key file, agent key or password" in none["detail"]
    finally:
        subprocess.run(["kill", env["SSH_AGENT_PID"]], capture_output=True)
