"""auditctl preflight without the lab: the local host, a closed port, the script's verdicts parsed."""
from __future__ import annotations

import socket
from pathlib import Path

import auditctl
from audits.run import preflight

ROOT = Path(__file__).resolve().parents[1]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_local_host_is_checked_without_ssh(capsys):
    rc = auditctl.main(["preflight", "-i", str(ROOT / "inventories" / "localhost.yaml"), "--packs", "mlps"])
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == preflight.COLUMNS
    row = out.splitlines()[1].split()
    assert row[:5] == ["localhost", "127.0.0.1", "local", "local", "ok"]
    assert rc in (0, 1) and ("1 of 1 host(s) ready" in out) == (rc == 0)


def test_unreachable_host_names_the_fix_and_fails(tmp_path, capsys):
    port = _closed_port()
    inv = tmp_path / "inv.yaml"
    inv.write_text(f"""\
schools:
  - id: s1
    district: d1
    systems: [{{id: sys, level: 2}}]
    hosts:
      - {{id: web01, address: 127.0.0.1, port: {port}, systems: [sys], connect_timeout: 2}}
      - {{id: seg, address: 127.0.0.2, connection: none, systems: [sys]}}
""", encoding="utf-8")
    rc = auditctl.main(["preflight", "-i", str(inv)])
    out = capsys.readouterr().out
    assert rc == 1
    assert f"web01: 127.0.0.1:{port} does not answer" in out and f"fix: check the address and port" in out
    assert f"nc -vz 127.0.0.1 {port}" in out and "1 of 2 host(s) ready; 1 to fix" in out
    assert auditctl.main(["preflight", "-i", str(inv), "--limit", "nothing*"]) == 2


class FakeTransport:
    """Answers the preflight script as a host would: some programs absent, some sudo commands denied."""

    def __init__(self, absent=(), deny=(), uid="1000", sudo_all=False, os_id="debian"):
        self.absent, self.deny, self.uid, self.sudo_all, self.os_id = set(absent), set(deny), uid, sudo_all, os_id
        self.known_hosts = "/k"

    def open(self):
        pass

    def close(self):
        pass

    def run_script(self, script, timeout, max_bytes=0):
        m = preflight.MARK
        out = [f"{m}-OS", f"ID={self.os_id}", f"{m}-ID {self.uid}"]
        for line in script.splitlines():
            if line.startswith("command -v "):
                prog = line.split()[2].strip("'")
                if prog in self.absent:
                    out.append(f"{m}-MISSING {prog}")
            if "sudo -n -l -- " in line:
                cmd = line.split("sudo -n -l -- ", 1)[1].split(" >/dev/null")[0]
                idx = line.rsplit(" ", 1)[1]
                if cmd.split()[0].strip("'") in self.deny:
                    out.append(f"{m}-DENIED {idx}")
        if self.sudo_all:
            out.append(f"{m}-SUDO-ALL")
        out.append(f"{m}-END")
        return ("\n".join(out) + "\n").encode()


def _host(tmp_path, sudo=True):
    from audits.inventory.load import load_inventory

    inv = tmp_path / "i.yaml"
    inv.write_text("schools:\n  - id: s1\n    district: d\n    systems: [{id: x, level: 3}]\n    hosts:\n"
                   f"      - {{id: h1, address: 127.0.0.1, connection: local, systems: [x], sudo: {str(sudo).lower()}}}\n")
    return load_inventory(inv).hosts["h1"]


def _checks():
    from checks.registry import load_registry

    return load_registry().select(["mlps"])


def test_denied_sudo_commands_are_named_unless_the_program_is_absent(tmp_path):
    host, checks = _host(tmp_path), _checks()
    sudo_cmds, _ = preflight.needs(checks, host)
    first = sudo_cmds[0][0]
    r = preflight.check_host(host, checks, "mlps", lambda h, o: FakeTransport(deny={first}))
    assert not r.ok and r.sudo.endswith("denied") and first in r.problems[0][0]
    assert "auditctl sudoers --packs mlps --user" in r.problems[0][1]
    r = preflight.check_host(host, checks, "mlps", lambda h, o: FakeTransport(deny={first}, absent={first}))
    assert r.ok and r.sudo == "ok" and first in r.notes[0]


def test_sudo_all_missing_bash_and_sudo_off_are_problems(tmp_path):
    host, checks = _host(tmp_path), _checks()
    r = preflight.check_host(host, checks, "mlps", lambda h, o: FakeTransport(sudo_all=True))
    assert r.sudo == "ALL (more than needed)" and "more than the audit needs" in r.problems[0][0]
    r = preflight.check_host(host, checks, "mlps", lambda h, o: FakeTransport(absent={"bash"}))
    assert r.programs == "missing bash" and r.problems[-1][1] == "apt-get install bash"
    r = preflight.check_host(host, checks, "mlps", lambda h, o: FakeTransport(absent={"sudo"}, os_id="rocky"))
    assert r.programs == "missing sudo" and r.problems[-1][1] == "dnf install sudo"
    r = preflight.check_host(host, checks, "mlps", lambda h, o: FakeTransport(absent={"sudo"}, uid="0"))
    assert r.ok and r.sudo == "root"
    off = _host(tmp_path, sudo=False)
    r = preflight.check_host(off, checks, "mlps", lambda h, o: FakeTransport())
    assert r.sudo == "off" and "set sudo: true" in r.problems[0][1]
