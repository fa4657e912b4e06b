"""Issue #18, trust at the bureau: one regression test (or a few) per finding, each failing on the
code before the fix. Real parts throughout: real Ed25519 keys and bundles, SQLite and the real
PostgreSQL server, the real CLI. The sudoers lab proof (real sudo) is tests/test_bureau_sudoers_lab.py."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import auditctl

ROOT = Path(__file__).resolve().parent.parent


# -- 9. schedule remove removes only files whose marker names this plan ---------------------------
def test_schedule_remove_by_plan_file_leaves_another_plans_schedule_of_the_same_name(tmp_path, capsys):
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "passwd").write_text("audit:x:990:990::/var/lib/audit:/usr/sbin/nologin\n")
    plans = []
    for d in ("a", "b"):
        p = tmp_path / d / "nightly.yaml"
        p.parent.mkdir()
        p.write_text("name: nightly\ninventory: inv.yaml\nschedule: \"daily 02:00\"\n", encoding="utf-8")
        plans.append(p)
    # plan a is scheduled; plan b has the same name (so the same unit name) and no schedule
    assert auditctl.main(["schedule", "install", str(plans[0]), "--cron", "--user", "audit", "--root", str(root)]) == 0
    cron = root / "etc" / "cron.d" / "auditctl-nightly"
    assert str(plans[0].resolve()) in cron.read_text()
    capsys.readouterr()
    assert auditctl.main(["schedule", "remove", str(plans[1]), "--root", str(root)]) == 2
    assert cron.exists(), "plan b's remove deleted plan a's schedule"
    assert "no schedule 'auditctl-nightly' of plan" in capsys.readouterr().err
    assert auditctl.main(["schedule", "remove", str(plans[0]), "--root", str(root)]) == 0
    assert not cron.exists()


# -- 7. nmap XML through defusedxml: entities refused whatever the encoding ------------------------
def _utf16_nmap_with_entity() -> bytes:
    # the ASCII bytes "<nmaprun" also appear raw (inside a comment, as two UTF-16 characters each) so a
    # byte search for the root element is satisfied; the entity declaration is invisible to a byte search
    smuggled = b"<nmaprun".decode("utf-16-le")
    text = ('<?xml version="1.0" encoding="UTF-16"?>\n'
            '<!DOCTYPE nmaprun [<!ENTITY big "' + "A" * 1000 + '">]>\n'
            f'<!--{smuggled}-->\n'
            '<nmaprun scanner="nmap" args="nmap" start="1700000000" version="7.93" xmloutputversion="1.05">'
            '<host><status state="up" reason="echo-reply"/><address addr="10.0.0.1" addrtype="ipv4"/>'
            '<hostnames><hostname name="' + "&big;" * 50 + '" type="PTR"/></hostnames>'
            '<ports><port protocol="tcp" portid="22"><state state="open" reason="syn-ack"/>'
            '<service name="ssh"/></port></ports></host>'
            '<runstats><finished time="1700000001" exit="success"/></runstats></nmaprun>\n')
    return b"\xff\xfe" + text.encode("utf-16-le")


def test_nmap_xml_entity_in_utf16_is_refused(tmp_path, capsys):
    from audits.collect import nmapxml
    from audits.model.errors import InputError

    data = _utf16_nmap_with_entity()
    assert b"<!ENTITY" not in data and b"<nmaprun" in data[:4096]
    with pytest.raises(nmapxml.NmapXMLError, match="declares XML entities"):
        nmapxml.parse(data)
    f = tmp_path / "scan.xml"
    f.write_bytes(data)
    with pytest.raises(InputError) as exc:
        nmapxml.load_file(f)
    assert str(exc.value.problems[0]).startswith(f"{f}:0: --nmap-xml: declares XML entities")
