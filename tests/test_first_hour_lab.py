"""The first hour against the campus lab: `auditctl preflight` names the host whose sudoers fragment is
gone and the host whose key is unknown (with the commands that fix them), and is clean on the rest;
`auditctl init` on an nmap XML of the lab writes an inventory that validates and audits."""
from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

import auditctl
from audits.inventory.load import load_inventory

pytestmark = pytest.mark.lab


def _inventory_with_known_hosts(lab, tmp_path, drop: str) -> tuple:
    """The lab inventory, with a known_hosts that lacks ``drop``'s key."""
    kh = tmp_path / "known_hosts"
    addr = lab.host(drop).address
    kh.write_text("".join(line + "\n" for line in lab.known_hosts.read_text().splitlines()
                          if line.split(" ", 1)[0] != addr))
    inv = lab.write_inventory(tmp_path / "inv.yaml", kinds=("compliant", "misconfigured"))
    inv.write_text(inv.read_text().replace(str(lab.known_hosts), str(kh)))
    return inv, kh


def test_preflight_names_missing_sudoers_and_unknown_key(campus_lab, tmp_path, capsys):
    lab = campus_lab
    inv, kh = _inventory_with_known_hosts(lab, tmp_path, "lab-compliant-03")
    lab.set_sudo("lab-compliant-02", False)
    rc = auditctl.main(["preflight", "-i", str(inv), "--packs", "mlps"])
    out = capsys.readouterr().out
    assert rc == 1, out
    rows = {}
    for line in out.splitlines():
        if line.startswith("lab-"):
            cells = re.split(r"\s{2,}", line)
            rows[cells[0]] = dict(zip(["address", "reach", "key", "login", "sudo", "programs"], cells[1:]))
    ready = rows["lab-compliant-01"]
    assert (ready["reach"], ready["key"], ready["login"], ready["sudo"]) == ("ok", "ok", "ok", "ok")
    assert rows["lab-compliant-02"]["login"] == "ok" and rows["lab-compliant-02"]["sudo"].endswith("denied")
    assert rows["lab-compliant-03"]["reach"] == "ok" and rows["lab-compliant-03"]["key"] == "unknown"
    assert "lab-compliant-02: sudo -n denies" in out and "auditctl sudoers --packs mlps --user audit" in out
    assert "lab-compliant-03: host key not known" in out
    assert f"ssh-keyscan -p 22 {lab.host('lab-compliant-03').address} >> {kh}" in out
    problems = out.split("\n\n", 1)[1]
    assert "lab-compliant-01: sudo" not in problems and "lab-compliant-01: host key" not in problems
    assert "3 of 5 host(s) ready; 2 to fix" in out
    # preflight recorded no key: the known_hosts still lacks it
    assert lab.host("lab-compliant-03").address not in kh.read_text()


def test_preflight_is_clean_on_a_ready_lab(campus_lab, tmp_path, capsys):
    inv = campus_lab.write_inventory(tmp_path / "inv.yaml", kinds=("compliant",))
    assert auditctl.main(["preflight", "-i", str(inv), "--packs", "mlps"]) == 0
    assert "3 of 3 host(s) ready" in capsys.readouterr().out


def test_init_from_an_nmap_xml_of_the_lab_validates_and_audits(campus_lab, tmp_path):
    lab = campus_lab
    assert shutil.which("nmap"), "nmap is installed by .ci/run"
    xml = tmp_path / "lab.xml"
    subnet = lab.host("lab-compliant-01").address.rsplit(".", 1)[0] + ".0/24"
    targets = [h.address for h in lab.hosts]
    subprocess.run(["nmap", "-oX", str(xml), "-n", "-sT", "-Pn", "-p", "22,80", "--max-retries", "1",
                    "--host-timeout", "20s", *targets], check=True, capture_output=True, timeout=300)
    out = tmp_path / "school.yaml"
    assert auditctl.main(["init", "--nmap-xml", str(xml), "--school", "lab-school", "--district", "lab",
                          "-o", str(out)]) == 0
    inv = load_inventory(out)
    ssh_addrs = sorted(h.address for h in lab.ssh_hosts)
    silent = [h.address for h in lab.hosts if h.kind == "silent"]
    # the silent host has 22/tcp open (it never speaks SSH): a host to confirm, like any with SSH open
    assert sorted(h.address for h in inv.hosts.values()) == sorted(ssh_addrs + silent)
    assert inv.schools["lab-school"].networks == [subnet]
    # the officer finishes it: the audit key and known_hosts of this lab
    text = out.read_text(encoding="utf-8").replace('"~/.ssh/audit_ed25519"', json.dumps(str(lab.key_file)))
    text = text.replace('sudo: true}', f'sudo: true, known_hosts: {json.dumps(str(lab.known_hosts))}}}', 1)
    out.write_text(text, encoding="utf-8")
    js = tmp_path / "run.json"
    rc = auditctl.main(["run", "-q", "-i", str(out), "--packs", "mlps", "--db", str(tmp_path / "r.db"),
                        "--json", str(js), "--out", str(tmp_path / "reports")])
    doc = json.loads(js.read_text())
    audited = sorted(h["address"] for h in doc["hosts"] if h.get("results"))
    unreachable = sorted(h["address"] for h in doc["hosts"] if not h.get("results"))
    assert audited == ssh_addrs and unreachable == silent and rc == 3
