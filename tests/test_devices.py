"""Network devices from saved configurations (issue 23): the vendor-neutral model, effective values and their
evidence (explicit line, another command's output, the vendor-default table), hostile configurations, secrets kept
out of results, the platform seam, the inventory's config: field and a whole run writing the school report with its
device section. Per-check pass/fail cases per vendor are in tests/fixtures/checks/devices.*.yaml."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from audits.collect.transports.base import Unreachable
from audits.inventory.load import load_inventory
from audits.model.errors import InputError
from audits.model.probes import Facts, Probe, ProbeResult
from audits.run.platforms import PLATFORMS, platform_for
from checks import probe_catalogue
from checks.parsers.devices import COMMANDS, config_probe, parse, tree
from checks.registry import load_registry
from checks.testing import fixture_host

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "inventories" / "examples"
CONFIGS = EXAMPLES / "configs"
REGISTRY = load_registry()
DEVICE_CHECKS = [c for c in REGISTRY if c.pack == "devices"]
BAD = {"huawei-vrp": "huawei-old-sw2.cfg", "h3c-comware": "h3c-v5-sw3.cfg", "cisco-ios": "cisco-branch2.cfg",
       "ruijie-rgos": "ruijie-ap9.cfg"}


def judge(platform: str, text: str, check_id: str, extra: dict | None = None, level: int = 3, params=None):
    host = fixture_host({"os": platform, "level": level})
    facts = Facts(host.id, {config_probe(platform): ProbeResult(text, 0, "")}, meta={"os_family": platform})
    for cmd, out in (extra or {}).items():
        facts.results[Probe("command", cmd)] = ProbeResult(out, 0, "")
    return REGISTRY.by_id[check_id].run(facts, host, params)


def test_the_packs_probes_are_the_commands_of_the_seam():
    for name, index in (("device_config", 0), ("device_version", 1)):
        assert {f: p.arg for f, p in probe_catalogue.variants(name).items()} == {p: c[index] for p, c in COMMANDS.items()}
    assert probe_catalogue.variants("device_password_control")["h3c-comware"].arg in COMMANDS["h3c-comware"]


# ------------------------------------------------------------------------------------ effective values
HUAWEI_MIN = "!Software Version V200R019C10SPC500\n#\nsysname S\n#\naaa\n local-user a password irreversible-cipher $1c$x$\n#\nreturn\n"


def test_an_absent_line_is_the_vendor_default_and_the_evidence_says_so():
    out = judge("huawei-vrp", HUAWEI_MIN, "devices.auth.login_lockout")
    assert out.status.value == "pass" and "vendor default for VRP V200R0xx" in out.evidence
    # the same configuration without its release line: the default is not known → a person confirms, never a pass
    out = judge("huawei-vrp", HUAWEI_MIN.replace("!Software Version V200R019C10SPC500\n", ""), "devices.auth.login_lockout")
    assert out.status.value == "manual" and "not known" in out.evidence
    # an explicit line decides over the default, and is quoted with its line number
    text = HUAWEI_MIN.replace(" local-user a", " undo local-aaa-user wrong-password\n local-user a")
    out = judge("huawei-vrp", text, "devices.auth.login_lockout")
    assert out.status.value == "fail" and out.evidence == "line 6: undo local-aaa-user wrong-password"


def test_h3c_display_password_control_decides_when_the_configuration_is_silent():
    text = "#\n version 7.1.070, Release 6728\n#\n sysname F\n#\nreturn\n"
    assert judge("h3c-comware", text, "devices.auth.login_lockout").status.value == "fail"   # off by default
    shown = ("Global password control configurations:\n Password control:                Enabled\n"
             " Password length:                 Enabled (12 characters)\n"
             " Password composition:            Enabled (3 types, 1 characters per type)\n"
             " User authentication attempts:    3\n")
    out = judge("h3c-comware", text, "devices.auth.password_policy", {"display password-control": shown})
    assert out.status.value == "pass" and "display password-control: Password length: Enabled (12" in out.evidence
    out = judge("h3c-comware", text, "devices.auth.login_lockout", {"display password-control": shown})
    assert out.status.value == "pass" and "User authentication attempts: 3" in out.evidence


def test_comware_global_lines_after_a_separator_are_top_level_and_v5_user_interface_is_read():
    cfg = parse("h3c-comware", (CONFIGS / "h3c-v5-sw3.cfg").read_text())
    assert cfg.telnet_server.value is True and cfg.telnet_server.line == 6
    assert {ln.name: ln.idle_seconds.value for ln in cfg.lines_} == {"aux 0": 600, "vty 0 4": 0}
    assert [a.name for a in cfg.accounts] == ["admin", "manager"] and cfg.accounts[0].privilege == 3


def test_cisco_banner_text_is_never_read_as_commands():
    text = ("version 15.2\nhostname r\nbanner motd ^C\nusername admin password 0 cisco\nno service password-encryption\n"
            "^C\nusername ops secret 9 $9$abc\nline vty 0 4\n transport input ssh\n access-class 10 in\nend\n")
    cfg = parse("cisco-ios", text)
    assert [a.name for a in cfg.accounts] == ["ops"]
    assert judge("cisco-ios", text, "devices.auth.default_password").status.value == "pass"


def test_named_and_numbered_acls_are_found_where_they_are_applied():
    vrp = parse("huawei-vrp", "#\nacl name WEB 3001\n rule 5 permit tcp destination-port eq 443\n rule 10 deny ip\n#\n"
                "acl advanced name GUEST\n rule 0 permit ip\n#\ninterface GigabitEthernet0/0/1\n traffic-filter inbound "
                "acl name WEB\n#\ninterface GigabitEthernet0/0/2\n packet-filter name GUEST inbound\n#\nreturn\n")
    assert [a[0] for a in vrp.applied_acls] == ["WEB", "GUEST"]
    assert vrp.acls["WEB"].rules[-1].catch_all and vrp.acls["GUEST"].rules[0].any_any
    ios = parse("cisco-ios", "access-list 101 permit tcp any host 192.0.2.1 eq 443\naccess-list 101 permit ip any any\n"
                "interface Gi0/1\n ip access-group 101 in\nend\n")
    assert [(r.action, r.any_any) for r in ios.acls["101"].rules] == [("permit", False), ("permit", True)]


def test_ios_telnet_follows_the_vty_transport_and_its_default():
    base = "version 15.2\nhostname r\nline vty 0 4\n login local\n"
    out = judge("cisco-ios", base + "end\n", "devices.auth.plaintext_management")
    assert out.status.value == "fail" and "vendor default for Cisco IOS" in out.evidence
    assert judge("cisco-ios", base + " transport input ssh\nend\n", "devices.auth.plaintext_management").status.value == "pass"


# ------------------------------------------------------------------------------------ hostile input
@pytest.mark.parametrize("platform", sorted(COMMANDS))
def test_hostile_configurations_never_pass_never_raise(platform):
    junk = "\x00\x1b[2J\ufffe" * 50 + "\n" + ("x" * 100_000) + "\n" + "interface " + "A" * 5000 + "\n" * 3
    deep = "".join(" " * i + f"level{i}\n" for i in range(400))
    for text in (junk, deep, bytes(range(256)).decode("latin-1") * 100):
        for check in DEVICE_CHECKS:
            out = judge(platform, text, check.id)
            assert out.status.value != "error" or "内部错误" not in out.message.zh, (check.id, out.message)


def test_a_configuration_past_the_cap_is_never_judged_passing(monkeypatch):
    good = (CONFIGS / "cisco-edge1.cfg").read_text()
    assert judge("cisco-ios", good, "devices.auth.password_storage").status.value == "pass"
    monkeypatch.setattr(tree, "MAX_BYTES", 200)
    parse.cache_clear()
    try:   # the accounts come after the cut: what was read holds no weak password, yet it is not a pass
        out = judge("cisco-ios", good + "\n" * 2, "devices.auth.password_storage")
        assert out.status.value == "error" and "size cap" in out.message.en
    finally:
        parse.cache_clear()


def test_no_secret_from_a_configuration_reaches_a_result():
    secrets = ["Admin@huawei", "Kz9;4V8S", "c0n$ole", "0822455D0A16", "admin123", "$9$nhEm", "$h$6$Xq0p", "$1$kAq8",
               "%^%#JmL1", "AuthPh4se", "PrivPh4se"]
    for platform, name in [*BAD.items(), ("cisco-ios", "cisco-edge1.cfg"), ("h3c-comware", "h3c-fw1.cfg"),
                           ("ruijie-rgos", "ruijie-ac1.cfg"), ("huawei-vrp", "huawei-core-sw1.cfg")]:
        text = (CONFIGS / name).read_text()
        for check in DEVICE_CHECKS:
            out = judge(platform, text, check.id)
            shown = out.evidence + out.message.zh + out.message.en
            assert not [s for s in secrets if s in shown], (name, check.id, shown)
    # an SNMPv3 user line first: the versions' evidence is that line, pass phrases masked
    out = judge("cisco-ios", "version 15.2\nsnmp-server user nms G v3 auth sha AuthPh4se! priv aes 128 PrivPh4se!\n"
                "snmp-server group G v3 priv access 10\nradius-server host 10.0.0.9 key R4diusK3y\nend\n",
                "devices.comm.snmp_version")
    assert out.status.value == "pass" and "auth sha ****** priv aes 128 ******" in out.evidence
    from checks.parsers.devices.common import mask
    assert mask("radius-server host 10.0.0.9 key R4diusK3y") == "radius-server host 10.0.0.9 key ******"
    assert mask("snmp-server group G v3 priv access 10") == "snmp-server group G v3 priv access 10"
    assert mask("set password min-length 10") == "set password min-length 10"
    # the cleartext community and default passwords are recognised, yet only masked lines are shown
    out = judge("cisco-ios", (CONFIGS / "cisco-branch2.cfg").read_text(), "devices.access.snmp_community")
    assert out.status.value == "fail" and "snmp-server community ****** RW" in out.evidence and "private" not in out.evidence


# ------------------------------------------------------------------------------------ platforms and inventory
def test_linux_packs_never_run_on_devices_and_device_packs_never_on_linux():
    linux = PLATFORMS["linux"]
    assert not any(linux.applies(c) for c in DEVICE_CHECKS)
    for name in COMMANDS:
        p = PLATFORMS[name]
        assert all(p.applies(c) for c in DEVICE_CHECKS)
        assert not any(p.applies(c) for c in REGISTRY if c.pack in ("mlps", "patching", "backup", "dr"))


def test_config_is_relative_to_the_inventory_and_bad_uses_name_file_and_line(tmp_path):
    inv = load_inventory(str(EXAMPLES / "devices.yaml"))
    assert inv.hosts["fw1"].settings["config"] == str(CONFIGS / "h3c-fw1.cfg")
    assert platform_for(inv.hosts["fw1"]).name == "h3c-comware"
    bad = tmp_path / "bad.yaml"
    bad.write_text("bureau: {id: b, name: B}\ndistricts:\n  - id: d\n    name: D\n    schools:\n      - id: s\n"
                   "        name: S\n        hosts:\n          - {id: a, platform: cisco-ios, config: nope.cfg, level: 2}\n"
                   "          - {id: b, config: " + str(CONFIGS / "cisco-edge1.cfg") + ", level: 2}\n", encoding="utf-8")
    with pytest.raises(InputError) as e:
        load_inventory(str(bad))
    got = {(p.file, p.line, p.field): p.message for p in e.value.problems}
    assert "'nope.cfg' is not a file" in got[(str(bad), 9, "districts[0].schools[0].hosts[0].config")]
    assert "set platform to one of huawei-vrp" in got[(str(bad), 10, "districts[0].schools[0].hosts[1].config")]


def test_a_saved_configuration_is_read_bounded(tmp_path):
    big = tmp_path / "big.cfg"
    big.write_bytes(b"#\n" * (3 * 1024 * 1024))
    host = fixture_host({"os": "huawei-vrp"})
    host.settings.update(platform="huawei-vrp", config=str(big))
    p = PLATFORMS["huawei-vrp"]
    with pytest.raises(Unreachable) as e:
        p.exchange(p.connect(host, {}), host, [])
    assert e.value.reason == "error" and "larger than" in e.value.detail
    host.settings["config"] = "/dev/zero"
    with pytest.raises(Unreachable) as e:
        p.exchange(p.connect(host, {}), host, [])
    assert "not a regular file" in e.value.detail


def test_a_live_device_without_the_live_session_is_unsupported_not_a_crash(monkeypatch):
    monkeypatch.setitem(sys.modules, "audits.collect.transports.devicecli", None)
    host = fixture_host({"os": "cisco-ios"})
    host.settings.update(platform="cisco-ios", connection="ssh")
    p = PLATFORMS["cisco-ios"]
    with pytest.raises(Unreachable) as e:
        p.exchange(p.connect(host, {}), host, [])
    assert e.value.reason == "unsupported"


def test_auditctl_run_on_saved_configurations_of_four_vendors_writes_the_device_section(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, str(ROOT / "auditctl.py"), "run", "-q", "-i", str(EXAMPLES / "devices.yaml"),
                           "--db", str(tmp_path / "s.db"), "--out", str(out), "--json", str(tmp_path / "run.json")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode in (0, 1), proc.stderr
    doc = json.loads((tmp_path / "run.json").read_text(encoding="utf-8"))
    hosts = {h["id"]: h for h in doc["hosts"]}
    assert {h["os_family"] for h in hosts.values()} == set(COMMANDS)
    assert all(h["status"] == "audited" and "saved configuration" in h["detail"] for h in hosts.values())
    for good, bad in (("core-sw1", "old-sw2"), ("fw1", "sw3"), ("edge1", "branch2"), ("ac1", "ap9")):
        dev = lambda h: [r for r in hosts[h]["results"] if r["check_id"].startswith("devices.")]   # noqa: E731
        assert len(dev(good)) == len(DEVICE_CHECKS) and not [r for r in dev(good) if r["status"] != "pass"], good
        assert {r["status"] for r in dev(bad)} == {"fail"}, bad
        assert all(r["status"] == "not_applicable" for r in hosts[good]["results"] if r["check_id"].startswith("fleet."))
        assert not [r for r in hosts[good]["results"] if r["check_id"].startswith(("mlps.", "patching."))]
    school = doc["scores"]["schools"]["example-school"]
    assert school["high_risk"], "the non-compliant devices raise high-risk candidates"
    page = next(out.rglob("index.html")).read_text(encoding="utf-8")
    assert '<section id="devices">' in page and "Huawei VRP" in page and "Ruijie RGOS" in page
    assert "8.1.3.2 a" in page and "保存的配置文件 h3c-fw1.cfg" in page


def test_a_saved_configuration_is_never_dispatched_to_a_collector():
    from audits.run.dispatch import sites_of

    inv = load_inventory(str(EXAMPLES / "devices.yaml"))
    with pytest.raises(InputError) as e:
        sites_of(list(inv.hosts.values()))
    assert e.value.problems[0].field == "core-sw1.config" and "without --dispatch" in e.value.problems[0].message


def test_items_the_device_sheets_lack_are_not_applicable_to_a_device_only():
    from reports.scoring import NOT_APPLICABLE, host_items

    device = {"id": "sw", "level": 3, "os_family": "huawei-vrp", "results": []}
    server = dict(device, os_family="debian")
    for clause in ("8.1.4.5", "8.1.4.10 a", "8.1.4.11 b"):
        assert host_items(device)[clause].verdict == NOT_APPLICABLE
        assert host_items(server)[clause].verdict != NOT_APPLICABLE
    assert host_items(device)["8.1.4.1 a"].verdict != NOT_APPLICABLE


def test_sql_rollups_leave_the_same_device_items_out_as_python(tmp_path):
    from audits.store.database import Store
    from reports.rollup_sql import rollup_sql
    from tests.test_rollup_sql import python_rollup

    db = tmp_path / "s.db"
    proc = subprocess.run([sys.executable, str(ROOT / "auditctl.py"), "run", "-q", "-i", str(EXAMPLES / "devices.yaml"),
                           "--db", str(db), "--out", str(tmp_path / "out")], capture_output=True, text=True, timeout=300)
    assert proc.returncode in (0, 1), proc.stderr
    store = Store(f"sqlite:///{db}")
    run_id = store.runs()[0]["id"]
    got = rollup_sql(store, [run_id])
    assert got["schools"]["example-school"]["rate"] is not None
    assert got == python_rollup(store, [run_id])


def test_preflight_reads_a_saved_configuration_and_never_logs_in(tmp_path):
    from audits.run.preflight import check_device

    inv = load_inventory(str(EXAMPLES / "devices.yaml"))
    assert check_device(inv.hosts["edge1"]).ok
    host = inv.hosts["edge1"]
    host.settings["config"] = str(tmp_path / "gone.cfg")
    r = check_device(host)
    assert not r.ok and "saved configuration" in r.problems[0][0]
    live = fixture_host({"os": "cisco-ios"})
    live.settings.update(platform="cisco-ios", connect_timeout=1)
    live = __import__("dataclasses").replace(live, address="127.0.0.1")
    live.settings["port"] = 1   # nothing listens: reported, nothing sent
    r = check_device(live)
    assert r.reach == "no" and not r.ok


# ------------------------------------------------------------------------------------ fuzz
from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

WORDS = ["\n", " ", "  ", "\t", "#", "!", "quit", "return", "end", "banner motd ^C", "^C", "interface GigabitEthernet0/1",
         "user-interface vty 0 4", "line vty 0 4", "local-user a", "username a", "password", "secret", "cipher", "simple",
         "irreversible-cipher", "0", "7", "9", "privilege level", "snmp-agent community read", "snmp-server community",
         "RW", "acl number 3000", "ip access-list extended X", " rule 5 permit", " permit ip any any", "deny", "source",
         "destination", "undo ", "no ", "transport input", "protocol inbound", "idle-timeout", "exec-timeout",
         "login block-for", "password-control", "info-center loghost", "logging host", "clock timezone",
         "authentication-mode none", "ssh user a authentication-type", "traffic-filter inbound acl", "ip access-group",
         "\x00", "\u202e", "\r", "\ufffd", "%@%@", "$9$"]


@settings(deadline=5000, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(COMMANDS)),
       st.lists(st.one_of(st.sampled_from(WORDS), st.text(max_size=8)), max_size=120).map("".join))
def test_fuzzed_configurations_never_break_a_check(platform, text):
    for check in DEVICE_CHECKS:
        out = judge(platform, text, check.id)
        assert "内部错误" not in out.message.zh, (check.id, out.message.en)
        assert out.message.zh and out.message.en
