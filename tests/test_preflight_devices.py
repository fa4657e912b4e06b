"""auditctl preflight on network devices: a read-only session running only the configuration command
(never the Linux check script), the device's problems with their fixes (device-role for too low a
level), saved configurations checked as files."""
from pathlib import Path

import yaml

import auditctl
from tests.fake_device import FakeDevice

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "inventories" / "examples" / "configs"


def test_preflight_devices(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PF_DEVICE_PW", "Dev1ce-Pw!")
    with FakeDevice("huawei-vrp", (CONFIGS / "huawei-core-sw1.cfg").read_text(), save_prompt=True) as ok, \
            FakeDevice("cisco-ios", "hostname x\n", level1=True) as low, \
            FakeDevice("h3c-comware", "sysname y\n") as unknown:
        def live(hid, dev, pin=True):
            h = {"id": hid, "platform": dev.platform, "address": "127.0.0.1", "port": dev.port, "user": "audit",
                 "password_env": "PF_DEVICE_PW", "known_hosts": str(tmp_path / "kh"), "connect_timeout": 5}
            if pin:
                h["host_keys"] = [dev.pinned]
            return h
        hosts = [live("sw-ok", ok), live("rt-low", low), live("fw-new", unknown, pin=False),
                 {"id": "saved", "platform": "ruijie-rgos", "config": str(CONFIGS / "ruijie-ac1.cfg")}]
        inv = tmp_path / "inv.yaml"
        inv.write_text(yaml.safe_dump({"school": {"id": "s1", "district": "d1", "systems": [{"id": "net", "level": 3}]},
                                       "hosts": [{**h, "school": "s1", "systems": ["net"]} for h in hosts]}))
        rc = auditctl.main(["preflight", "-i", str(inv)])
    cap = capsys.readouterr()
    out = cap.out
    assert rc == 1, cap.err
    rows = {ln.split()[0]: ln.split() for ln in out.splitlines()[1:5]}
    assert rows["sw-ok"][2:] == ["ok", "ok", "ok", "ok", "n/a"], out
    assert "level too low" in out and "fix: auditctl device-role --platform cisco-ios --user audit" in out
    assert rows["fw-new"][3] == "unknown" and "ssh-keyscan" in out
    assert rows["saved"][2] == "file" and "sw-ok: answered no at login" in out
    for dev in (ok, low, unknown):
        assert not dev.violations and not dev.wrote  # only the allow-list reached them
    assert ok.received == ["screen-length 0 temporary", "display current-configuration"]
    assert not (tmp_path / "kh").exists()  # preflight never records a host key
