"""Live and saved give the same verdicts (issue #23): every example configuration of the four vendors
(inventories/examples/configs) is audited twice by ``auditctl run`` — once from the file (``config:``),
once live from a fake device (tests/fake_device.py) that serves the same text behind its vendor's
prompt, with the pager on (paging-off ignored on some devices), a save question at login on the
Huawei ones — and every device-pack check has the same status and message both ways. The fake fails
the test if anything off the allow-list reaches it. The Huawei device with old firmware speaks only
SHA-1 key exchange / ssh-rsa: it is reached through the system OpenSSH client and
``fleet.ssh.legacy_algorithms`` names its weak algorithms, as for a Linux host.

The fakes answer ``display version``/``show version`` with a text of their own (a configuration's
header decides the release first) and refuse ``display password-control`` (a role without it): the
facts then hold what a saved configuration holds, so the verdicts must be equal."""
import json
import shutil
from pathlib import Path

import pytest
import yaml

import auditctl
from tests.fake_device import FakeDevice

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "inventories" / "examples" / "devices.yaml"
LEGACY = "old-sw2"  # the V200R010 switch: the old-firmware device of the example inventory
PW_ENV = "EQUIV_DEVICE_PW"


def _hosts(doc):
    return [h for d in doc["districts"] for s in d["schools"] for h in s["hosts"]]


def _run(inv: Path, tmp_path: Path, name: str) -> dict:
    js = tmp_path / f"{name}.json"
    auditctl.main(["run", "-q", "-i", str(inv), "--db", str(tmp_path / f"{name}.db"), "--json", str(js),
                   "--out", str(tmp_path / f"{name}-out")])
    return {h["id"] if "id" in h else h["host_id"]: h for h in json.loads(js.read_text())["hosts"]}


def _pack(host: dict, pack: str = "devices") -> dict:
    return {r["check_id"]: r for r in host["results"] if r["check_id"].startswith(pack + ".")}


@pytest.mark.skipif(not shutil.which("ssh"), reason="system OpenSSH client missing (legacy device)")
def test_live_path_gives_the_saved_file_verdicts(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(PW_ENV, "Dev1ce-Pw!")
    doc = yaml.safe_load(EXAMPLES.read_text())
    base = EXAMPLES.parent
    saved_inv = tmp_path / "saved.yaml"
    saved = yaml.safe_load(EXAMPLES.read_text())
    for h in _hosts(saved):
        h["config"] = str(base / h["config"])
    saved_inv.write_text(yaml.safe_dump(saved, allow_unicode=True))
    saved_hosts = _run(saved_inv, tmp_path, "saved")

    fakes = {}
    try:
        for i, h in enumerate(_hosts(doc)):
            text = (base / h["config"]).read_text()
            fake = FakeDevice(h["platform"], text, page_lines=13, legacy=h["id"] == LEGACY,
                              ignore_paging_off=i % 2 == 1, save_prompt=h["platform"] == "huawei-vrp",
                              outputs={"display password-control": "Error: Unrecognized command found at '^' position."})
            fakes[h["id"]] = fake.__enter__()
            del h["config"]
            h.update(address="127.0.0.1", port=fake.port, user="audit", password_env=PW_ENV,
                     host_keys=[fake.pinned], known_hosts=str(tmp_path / "kh"), connect_timeout=5, command_timeout=30)
        live_inv = tmp_path / "live.yaml"
        live_inv.write_text(yaml.safe_dump(doc, allow_unicode=True))
        capsys.readouterr()
        live_hosts = _run(live_inv, tmp_path, "live")
        run_err = capsys.readouterr().err
    finally:
        for fake in fakes.values():
            fake.__exit__(None, None, None)

    assert set(live_hosts) == set(saved_hosts) == set(fakes)
    compared = 0
    for hid, fake in fakes.items():
        live, saved = live_hosts[hid], saved_hosts[hid]
        assert live["status"] == "audited", (hid, live.get("reason"), live.get("detail"))
        assert not fake.violations and not fake.wrote, (hid, fake.violations)
        assert fake.received[0] == fake.paging_off and fake.sessions == 1
        assert all(k == b" " for k in fake.pager_keys)
        lv, sv = _pack(live), _pack(saved)
        assert lv and set(lv) == set(sv), hid
        for cid in sv:
            assert (lv[cid]["status"], lv[cid]["message"]) == (sv[cid]["status"], sv[cid]["message"]), (hid, cid)
            compared += 1
        # the SSH connection is judged like a Linux host's; a saved file has none
        lf, sf = _pack(live, "fleet"), _pack(saved, "fleet")
        assert {sf[c]["status"] for c in ("fleet.ssh.legacy_algorithms", "fleet.ssh.host_key")} == {"not_applicable"}
        assert lf["fleet.ssh.host_key"]["status"] == "pass", (hid, lf["fleet.ssh.host_key"])
        fleet = lf["fleet.ssh.legacy_algorithms"]
        if hid == LEGACY:
            assert fleet["status"] == "fail" and "diffie-hellman-group14-sha1" in json.dumps(fleet, ensure_ascii=False)
            assert "legacy SSH path" in (live.get("detail") or "")
        else:
            assert fleet["status"] == "pass", (hid, fleet)
    assert f"reached through the legacy SSH path (weak algorithms reported): {LEGACY}" in run_err
    assert any(f.pager_keys for f in fakes.values())  # the pager fallback was exercised
    assert any(f.answers == ["N"] for f in fakes.values())  # so was the save question
    assert "answered no at login: " in live_hosts["core-sw1"]["detail"]  # and the host record says so
    assert "pager was answered with a space" in live_hosts[[h for h, f in fakes.items() if f.pager_keys][0]]["detail"]
    assert compared >= 8 * 15
