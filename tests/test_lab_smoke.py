"""The campus lab works: proved with the system OpenSSH client and plain sockets, not our code.

Needs root (the fixture skips without it, and fails instead when CI=true).
"""
from __future__ import annotations

import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytest_plugins = ["tests.lab.fixtures"]   # harmless once tests/conftest.py loads it too
pytestmark = pytest.mark.lab

ROOT = Path(__file__).resolve().parent.parent


def ssh(lab, host, command, known_hosts=None, timeout=30):
    """Run `command` as the audit user with the auditor key and strict host-key checking."""
    args = ["ssh", "-F", "/dev/null", "-i", str(lab.key_file), "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
            "-o", f"UserKnownHostsFile={known_hosts or lab.known_hosts}", "-o", "GlobalKnownHostsFile=/dev/null",
            "-o", "StrictHostKeyChecking=yes", "-o", "ConnectTimeout=5", "-p", str(host.port),
            f"{host.user}@{host.address}", command]
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout)


def on_all(lab, hosts, command):
    with ThreadPoolExecutor(max_workers=8) as pool:
        return dict(zip([h.id for h in hosts], pool.map(lambda h: ssh(lab, h, command), hosts)))


def sshd_t(text):
    return {k: v for k, _, v in (line.partition(" ") for line in text.splitlines()) if k}


def test_lab_has_the_declared_mix(campus_lab):
    kinds = [h.kind for h in campus_lab.hosts]
    assert kinds.count("compliant") >= 3 and kinds.count("misconfigured") >= 2
    assert kinds.count("down") == 1 and kinds.count("silent") == 1
    assert len({h.address for h in campus_lab.hosts}) == len(campus_lab.hosts)
    for h in campus_lab.by_kind("misconfigured"):
        assert "mlps.access.sshd_root_login" in h.expected_failures
    assert all(not h.expected_failures for h in campus_lab.by_kind("compliant"))
    kh = campus_lab.known_hosts.read_text().splitlines()
    assert sorted(kh) == sorted(f"{h.address} {campus_lab.host_key(h.id)}" for h in campus_lab.ssh_hosts)


def test_every_ssh_host_logs_in_and_reads_its_own_login_defs(campus_lab):
    hosts = campus_lab.ssh_hosts
    results = on_all(campus_lab, hosts, "id -un; cat /etc/login.defs")
    for h in hosts:
        r = results[h.id]
        assert r.returncode == 0, f"{h.id}: {r.stderr}"
        lines = r.stdout.splitlines()
        assert lines[0] == "audit"
        assert f"# campus-lab host: {h.id}" in lines, f"{h.id} sees another host's login.defs"
        values = dict(l.split(None, 1) for l in lines[1:] if l.strip() and not l.startswith("#"))
        assert int(values["PASS_MAX_DAYS"]) == h.pass_max_days == (90 if h.kind == "compliant" else 99999)
        assert values["PASS_MIN_DAYS"] == "1"


def test_sudo_sshd_T_shows_each_hosts_own_sshd_config(campus_lab):
    hosts = campus_lab.ssh_hosts
    results = on_all(campus_lab, hosts, "sudo -n sshd -T")
    for h in hosts:
        r = results[h.id]
        assert r.returncode == 0, f"{h.id}: {r.stderr}"
        kv = sshd_t(r.stdout)
        if h.kind == "misconfigured":
            assert kv["permitrootlogin"] == "yes"
            assert kv["maxauthtries"] == "10"
            assert kv["clientaliveinterval"] == "0"
        else:
            assert kv["permitrootlogin"] == "no"
            assert kv["maxauthtries"] == "4"
            assert (kv["clientaliveinterval"], kv["clientalivecountmax"]) == ("300", "2")
        assert kv["permitemptypasswords"] == "no"


def test_planted_accounts_only_on_misconfigured_hosts(campus_lab):
    hosts = campus_lab.ssh_hosts
    results = on_all(campus_lab, hosts, "cat /etc/passwd; echo ---; sudo -n cat -- /etc/shadow; echo ---; "
                                        "stat -c '%U:%G %a' /etc/shadow /etc/passwd")
    for h in hosts:
        r = results[h.id]
        assert r.returncode == 0, f"{h.id}: {r.stderr}"
        passwd, shadow, modes = r.stdout.split("---\n")
        uid0 = [l.split(":")[0] for l in passwd.splitlines() if l.split(":")[2] == "0"]
        empty = [l.split(":")[0] for l in shadow.splitlines() if l.split(":")[1] == ""]
        if h.kind == "misconfigured":
            assert uid0 == ["root", "toor"] and empty == ["guest"]
        else:
            assert uid0 == ["root"] and empty == []
        assert modes.split() == ["root:shadow", "640", "root:root", "644"]


def test_strict_host_key_checking_is_real(campus_lab, tmp_path):
    h = campus_lab.ssh_hosts[0]
    other = campus_lab.ssh_hosts[1]
    wrong = tmp_path / "known_hosts"
    wrong.write_text(f"{h.address} {campus_lab.host_key(other.id)}\n")
    r = ssh(campus_lab, h, "true", known_hosts=wrong)
    assert r.returncode == 255 and "HOST IDENTIFICATION HAS CHANGED" in r.stderr
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    r = ssh(campus_lab, h, "true", known_hosts=empty)
    assert r.returncode == 255 and "Host key verification failed" in r.stderr


def test_change_host_key_then_refresh_known_hosts(campus_lab):
    h = campus_lab.by_kind("compliant")[-1]
    old = campus_lab.host_key(h.id)
    new = campus_lab.change_host_key(h.id)
    try:
        assert new != old and new.startswith("ssh-ed25519 ")
        r = ssh(campus_lab, h, "true")
        assert r.returncode == 255 and "HOST IDENTIFICATION HAS CHANGED" in r.stderr
    finally:
        campus_lab.write_known_hosts()
    assert ssh(campus_lab, h, "true").returncode == 0


def test_stop_and_start_host(campus_lab):
    h = campus_lab.by_kind("compliant")[0]
    campus_lab.stop_host(h.id)
    try:
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((h.address, 22), timeout=3).close()
    finally:
        campus_lab.start_host(h.id)
    assert ssh(campus_lab, h, "true").returncode == 0


def test_sudo_can_be_revoked(campus_lab):
    h = campus_lab.by_kind("compliant")[0]
    campus_lab.set_sudo(h.id, False)
    try:
        r = ssh(campus_lab, h, "sudo -n sshd -T")
        assert r.returncode == 1 and "password is required" in r.stderr
    finally:
        campus_lab.set_sudo(h.id, True)
    assert ssh(campus_lab, h, "sudo -n sshd -T").returncode == 0
    # the audit user's sudo is the generated least-privilege fragment: anything else is refused
    r = ssh(campus_lab, h, "sudo -n true")
    assert r.returncode == 1 and "password is required" in r.stderr


def test_down_host_fails_fast(campus_lab):
    (down,) = campus_lab.by_kind("down")
    t0 = time.monotonic()
    with pytest.raises(OSError):
        socket.create_connection((down.address, 22), timeout=8).close()
    assert time.monotonic() - t0 < 5


def test_silent_host_accepts_but_never_speaks(campus_lab):
    (silent,) = campus_lab.by_kind("silent")
    with socket.create_connection((silent.address, 22), timeout=3) as s:
        s.settimeout(2)
        with pytest.raises(socket.timeout):
            s.recv(64)


def test_hosts_cannot_route_beyond_the_lab(campus_lab):
    """No host namespace has a default route: lab hosts can only talk to the lab subnet."""
    for h in campus_lab.hosts:
        if h.netns:
            out = subprocess.run(["ip", "-n", h.netns, "-4", "route", "show"], capture_output=True, text=True,
                                 check=True).stdout
            assert "default" not in out and f"{campus_lab.subnet} dev eth0" in out
    routes = subprocess.run(["ip", "-4", "route", "show"], capture_output=True, text=True, check=True).stdout
    assert f"blackhole {campus_lab.subnet} metric 4000" in routes


def test_written_inventory_is_valid(campus_lab, campus_lab_inventory):
    r = subprocess.run([sys.executable, str(ROOT / "auditctl.py"), "validate", str(campus_lab_inventory)],
                       capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"{len(campus_lab.hosts)} hosts" in r.stdout
