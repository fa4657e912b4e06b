"""auditctl init: a starting inventory from nmap XML, an Ansible inventory or a template — valid as
written, the officer's decisions marked TODO, never half-written."""
from __future__ import annotations

from pathlib import Path

import auditctl
from audits.inventory.load import load_inventory

ROOT = Path(__file__).resolve().parents[1]
SCAN = ROOT / "tests" / "fixtures" / "network" / "loopback-scan.xml"


def test_from_nmap_xml_hosts_with_ssh_ports_to_confirm_and_todos(tmp_path, capsys):
    out = tmp_path / "school.yaml"
    assert auditctl.main(["init", "--nmap-xml", str(SCAN), "--school", "nanhu-no9", "--district", "nanhu",
                          "-o", str(out)]) == 0
    inv = load_inventory(out)
    assert sorted(inv.hosts) == ["h-127-77-5-10"]  # the only live host with 22/tcp open
    h = inv.hosts["h-127-77-5-10"]
    assert h.address == "127.77.5.10" and h.school == "nanhu-no9" and h.district == "nanhu"
    assert h.settings["ports"] == [22, 23, 80, 443, 6379]
    text = out.read_text(encoding="utf-8")
    assert "level: 2   # TODO: the MLPS level" in text and "# TODO backup:" in text
    for addr in ("127.77.5.8", "127.77.5.9", "127.77.5.11"):  # live without SSH: listed, not lost
        assert f"live without SSH (not audited; add it if it is yours): {addr}" in text
    assert inv.schools["nanhu-no9"].networks == ["127.77.5.0/24"]
    assert "TODO line(s)" in capsys.readouterr().err


def test_the_started_inventory_audits_from_the_same_scan(tmp_path):
    inv = tmp_path / "school.yaml"
    assert auditctl.main(["init", "--nmap-xml", str(SCAN), "--school", "s1", "-o", str(inv)]) == 0
    rc = auditctl.main(["scan", "-q", "-i", str(inv), "--nmap-xml", str(SCAN), "--db", str(tmp_path / "r.db"),
                        "--out", str(tmp_path / "out")])
    assert rc == 0
    assert list((tmp_path / "out").glob("*/s1/index.html"))


def test_from_an_ansible_ini_inventory(tmp_path):
    src = tmp_path / "hosts"
    src.write_text("[web]\nweb1 ansible_host=10.0.0.1 ansible_port='2222' ansible_user=ops ansible_become=yes\n"
                   "[db]\ndb1 ansible_host=10.0.0.2\n", encoding="utf-8")
    out = tmp_path / "school.yaml"
    assert auditctl.main(["init", "--from-ansible", str(src), "--school", "s1", "-o", str(out)]) == 0
    inv = load_inventory(out)
    assert sorted(inv.hosts) == ["db1", "web1"]
    w = inv.hosts["web1"]
    assert (w.address, w.settings["port"], w.settings["user"], w.settings["sudo"]) == ("10.0.0.1", 2222, "ops", True)
    assert inv.hosts["db1"].settings["port"] == 22 and "from Ansible group 'web'" in out.read_text(encoding="utf-8")


def test_template_validates_and_names_every_decision(tmp_path):
    out = tmp_path / "t.yaml"
    assert auditctl.main(["init", "--template", "--school", "s1", "-o", str(out)]) == 0
    inv = load_inventory(out)
    assert not inv.hosts and inv.schools["s1"].systems["main"].level == 2
    text = out.read_text(encoding="utf-8")
    assert "TODO: add hosts" in text and "定级" in text


def test_existing_file_and_bad_ids_are_refused_and_nothing_is_written(tmp_path, capsys):
    out = tmp_path / "t.yaml"
    out.write_text("keep me", encoding="utf-8")
    assert auditctl.main(["init", "--template", "--school", "s1", "-o", str(out)]) == 2
    assert out.read_text(encoding="utf-8") == "keep me" and "exists already" in capsys.readouterr().err
    new = tmp_path / "n.yaml"
    assert auditctl.main(["init", "--template", "--school", "bad id!", "-o", str(new)]) == 2
    assert not new.exists() and "--school" in capsys.readouterr().err
    bad_xml = tmp_path / "x.xml"
    bad_xml.write_text("<html/>", encoding="utf-8")
    assert auditctl.main(["init", "--nmap-xml", str(bad_xml), "--school", "s1", "-o", str(new)]) == 2
    assert not new.exists() and not list(tmp_path.glob(".init-*"))
