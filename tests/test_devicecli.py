"""The live, read-only device session (issue #23 part B) against the fake device SSH server
(``tests/fake_device.py``): per vendor prompt, echo, pager, paging-off accepted / ignored / refused,
the save and password questions answered "no", nothing off the allow-list ever reaching the device,
host keys and credentials as on Linux hosts, the SHA-1-only device through the system OpenSSH client,
hostile and endless output bounded. Plus the cleaning on recorded terminal bytes."""
import shutil
import tempfile
import time

import paramiko
import pytest

from audits.collect import device_commands
from audits.collect.device_commands import COMMANDS, CommandNotAllowed
from audits.collect.transports import devicecli
from audits.collect.transports.base import Unreachable
from audits.collect.transports.devicecli import clean, collect, decode
from audits.model.inventory import Host, Source
from tests.fake_device import SEAM, FakeDevice

PLATFORMS = list(COMMANDS)
PW_ENV = "FAKE_DEVICE_PW"


def _config(platform: str, n: int = 60) -> str:
    """A configuration long enough for several pages (not a fixture: the pack's fixtures are used by
    tests/test_devices_live_equivalence.py)."""
    if platform in ("huawei-vrp", "h3c-comware"):
        body = [f"interface GigabitEthernet0/0/{i}\n shutdown\n#" for i in range(n)]
        return "\n".join(["#", "sysname core-sw1", "#", *body, "return"]) + "\n"
    body = [f"interface GigabitEthernet0/{i}\n shutdown\n!" for i in range(n)]
    return "\n".join(["Building configuration...", "", "hostname edge1", "!", *body, "end"]) + "\n"


def _host(dev: FakeDevice, tmp_path, **extra) -> Host:
    s = {"platform": dev.platform, "port": dev.port, "user": "audit", "password_env": PW_ENV,
         "host_keys": [dev.pinned], "known_hosts": str(tmp_path / "kh"), "connect_timeout": 5, "command_timeout": 10,
         **extra}
    return Host("sw1", "127.0.0.1", "s1", "d1", [], 3, s, Source("inv.yaml", 1))


@pytest.fixture(autouse=True)
def _password(monkeypatch):
    monkeypatch.setenv(PW_ENV, "Dev1ce-Pw!")


def _collect(dev, tmp_path, commands=None, **extra):
    commands = list(COMMANDS[dev.platform].commands) if commands is None else commands
    return collect(_host(dev, tmp_path, **extra), {}, commands, time.monotonic() + 60)


def _assert_only_allowed(dev):
    assert not dev.violations, dev.violations
    assert all(line in dev.allowed for line in dev.received), dev.received
    assert all(k == b" " for k in dev.pager_keys) and not dev.wrote


# -- the allow-list gate ----------------------------------------------------------------------------
class _Recorder(devicecli._Channel):
    def __init__(self, platform):
        super().__init__(platform)
        self.written = b""

    def _write(self, data):
        self.written += data


@pytest.mark.parametrize("data", [b"reload\n", b"save\n", b"undo info-center enable\n", b"system-view\n",
                                  b"display current-configuration\ndisplay version\n", b"display version\r\n",
                                  b"display version", b"\n", b"Y\n", b"y\n", b"yes\n", b"display version ; save\n",
                                  b"show running-config\n", b"  \n", b"N"])
def test_the_gate_refuses_anything_off_the_allow_list_before_a_byte_is_written(data):
    ch = _Recorder("huawei-vrp")
    with pytest.raises(CommandNotAllowed):
        ch.send(data)
    assert ch.written == b"" and ch.sent == []


def test_the_gate_lets_through_exactly_the_seam_lines():
    for platform, (paging, commands) in SEAM.items():
        ch = _Recorder(platform)
        for line in (paging, *commands, "N", "n", "no"):
            ch.send((line + "\n").encode())
        ch.send(b" ")
        assert ch.written.count(b"\n") == len(commands) + 4


def test_a_disallowed_command_raises_before_connecting(tmp_path):
    with FakeDevice("huawei-vrp", _config("huawei-vrp")) as dev:
        with pytest.raises(CommandNotAllowed):
            _collect(dev, tmp_path, ["display current-configuration", "reset saved-configuration"])
        with pytest.raises(CommandNotAllowed):  # another platform's command is not this one's
            _collect(dev, tmp_path, ["show running-config"])
    assert dev.auth_attempts == [] and dev.sessions == 0 and dev.received == []


def test_the_fake_device_notices_a_command_off_the_allow_list(tmp_path):
    """The fake's own check is real: a client that bypasses the gate is caught (so the tests above
    would fail if collect ever sent such a line)."""
    with FakeDevice("cisco-ios", _config("cisco-ios"), strict=False) as dev:
        c = paramiko.SSHClient()
        c.set_missing_host_key_policy(paramiko.AutoAddPolicy())
        c.connect("127.0.0.1", dev.port, "audit", "Dev1ce-Pw!", allow_agent=False, look_for_keys=False)
        chan = c.invoke_shell()
        chan.sendall(b"copy running-config startup-config\n")
        time.sleep(0.5)
        c.close()
        time.sleep(0.2)
    assert dev.violations == ["copy running-config startup-config"]
    with pytest.raises(AssertionError, match="copy running-config"):  # and a strict fake fails the test by itself
        dev.strict = True
        dev.__exit__(None, None, None)


# -- per vendor ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("platform", PLATFORMS)
def test_each_vendor_paging_off_then_the_read_only_commands(platform, tmp_path):
    config = _config(platform)
    with FakeDevice(platform, config) as dev:
        out = _collect(dev, tmp_path)
    assert dev.received == [SEAM[platform][0], *SEAM[platform][1]]  # paging off first, then the facts in order
    _assert_only_allowed(dev)
    assert dev.pager_keys == []  # paging-off worked: no pager to answer
    cfg_cmd = COMMANDS[platform].config_command
    assert out[cfg_cmd] == config  # echo, prompt and \r gone; nothing else touched
    assert out.meta["prompt"] == dev.prompt and not out.meta.get("paging_fallback")
    assert "Version" in out[COMMANDS[platform].commands[1]] or "version" in out[COMMANDS[platform].commands[1]]
    assert dev.sessions == 1


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize("how", ["ignore_paging_off", "refuse_paging_off"])
def test_the_pager_is_answered_with_a_space_when_paging_off_did_not_work(platform, how, tmp_path):
    config = _config(platform)
    with FakeDevice(platform, config, page_lines=7, **{how: True}) as dev:
        out = _collect(dev, tmp_path)
    _assert_only_allowed(dev)
    assert len(dev.pager_keys) >= len(config.splitlines()) // 7 - 1
    assert out[COMMANDS[platform].config_command] == config  # no '---- More ----', no erase sequences left
    assert out.meta["paging_fallback"] is True
    assert ("paging_off_refused" in out.meta) == (how == "refuse_paging_off")


@pytest.mark.parametrize("echo", [True, False])
def test_no_echo_assumption(echo, tmp_path):
    config = _config("ruijie-rgos", 5)
    with FakeDevice("ruijie-rgos", config, echo=echo) as dev:
        out = _collect(dev, tmp_path)
    assert out["show running-config"] == config


def test_huawei_save_question_at_login_is_answered_no(tmp_path):
    """Netmiko's Huawei login answers Y here, which saves the configuration; this session says N."""
    with FakeDevice("huawei-vrp", _config("huawei-vrp", 3), save_prompt=True) as dev:
        out = _collect(dev, tmp_path)
    assert dev.answers == ["N"] and not dev.wrote
    assert out.meta["answered"] and out.meta["answered"][0].endswith("-> N")
    _assert_only_allowed(dev)


def test_password_change_question_is_answered_no(tmp_path):
    with FakeDevice("cisco-ios", _config("cisco-ios", 3), password_change="ask") as dev:
        out = _collect(dev, tmp_path)
    assert dev.answers == ["N"] and not dev.wrote and "show running-config" in out


def test_a_forced_password_change_aborts_the_session(tmp_path):
    with FakeDevice("h3c-comware", _config("h3c-comware", 3), password_change="force") as dev:
        with pytest.raises(Unreachable) as e:
            _collect(dev, tmp_path)
    assert e.value.reason == "auth_failed" and "password" in e.value.detail
    assert dev.answers == [] and dev.received == []  # nothing typed at a password prompt


def test_a_question_in_the_middle_of_an_output_abandons_the_session(tmp_path):
    """Answering it (even "no") would leave a truncated configuration to judge: nothing is typed."""
    with FakeDevice("huawei-vrp", _config("huawei-vrp", 10), question_in_output=True) as dev:
        with pytest.raises(Unreachable) as e:
            _collect(dev, tmp_path)
    assert e.value.reason == "protocol" and "Continue? [Y/N]" in e.value.detail
    assert dev.answers == [] and dev.received == ["screen-length 0 temporary", "display current-configuration"]


def test_too_low_a_level_is_reported_with_the_role_command(tmp_path):
    with FakeDevice("cisco-ios", _config("cisco-ios", 3), level1=True) as dev:
        with pytest.raises(Unreachable) as e:
            _collect(dev, tmp_path)
    assert e.value.reason == "sudo_denied" and "Invalid input" in e.value.detail
    assert "device-role --platform cisco-ios" in e.value.detail


def test_hostile_output_is_harmless_text(tmp_path):
    with FakeDevice("huawei-vrp", _config("huawei-vrp", 3), hostile=True) as dev:
        out = _collect(dev, tmp_path)
    text = out["display current-configuration"]
    assert "\x1b" not in text and "\x00" not in text and "\x07" not in text and "\x9b" not in text
    assert "\\x00" in text and "<script>" in text  # kept as inert evidence; the reports escape HTML


# -- bounds -------------------------------------------------------------------------------------------
def test_a_device_that_never_prompts_times_out(tmp_path):
    with FakeDevice("huawei-vrp", stall=True) as dev:
        t0 = time.monotonic()
        with pytest.raises(Unreachable) as e:
            _collect(dev, tmp_path, command_timeout=2)
        took = time.monotonic() - t0
    assert e.value.reason == "timeout" and "login" in e.value.detail and took < 20


def test_the_command_timeout_counts_silence_not_a_slow_steady_output(tmp_path):
    config = _config("cisco-ios", 2)  # 9 lines, 0.4 s apart: 3.6 s in all, never 1 s of silence
    with FakeDevice("cisco-ios", config, drip=0.4) as dev:
        out = _collect(dev, tmp_path, ["show running-config"], command_timeout=1)
    assert out["show running-config"] == config


def test_endless_output_is_capped(tmp_path, monkeypatch):
    monkeypatch.setattr(devicecli, "MAX_COMMAND_OUTPUT", 512 * 1024)
    with FakeDevice("cisco-ios", flood=True) as dev:
        with pytest.raises(Unreachable) as e:
            _collect(dev, tmp_path)
    assert e.value.reason == "protocol" and "stopped reading" in e.value.detail


def test_the_host_deadline_bounds_the_whole_session(tmp_path):
    with FakeDevice("huawei-vrp", stall=True) as dev:
        t0 = time.monotonic()
        with pytest.raises(Unreachable) as e:
            collect(_host(dev, tmp_path, command_timeout=30), {}, ["display version"], time.monotonic() + 2)
    assert e.value.reason == "timeout" and "host timeout" in e.value.detail and time.monotonic() - t0 < 20


# -- host keys and credentials: the Linux transport's rules -----------------------------------------
def test_unknown_host_key_is_refused(tmp_path):
    with FakeDevice("huawei-vrp", "x") as dev:
        host = _host(dev, tmp_path)
        del host.settings["host_keys"]
        with pytest.raises(Unreachable) as e:
            collect(host, {}, ["display version"], time.monotonic() + 30)
    assert e.value.reason == "host_key_unknown" and dev.sessions == 0


def test_changed_host_key_is_refused(tmp_path):
    other = paramiko.ECDSAKey.generate()
    with FakeDevice("huawei-vrp", "x") as dev:
        with pytest.raises(Unreachable) as e:
            _collect(dev, tmp_path, host_keys=[f"{other.get_name()} {other.get_base64()}"])
    assert e.value.reason == "host_key_changed" and dev.sessions == 0


def test_trust_on_first_use_records_the_key(tmp_path):
    with FakeDevice("h3c-comware", _config("h3c-comware", 2)) as dev:
        host = _host(dev, tmp_path, trust_on_first_use=True)
        del host.settings["host_keys"]
        out = collect(host, {}, ["display version"], time.monotonic() + 30)
    assert dev.key.get_base64() in (tmp_path / "kh").read_text() and out.meta["host_key_recorded"]


def test_wrong_password_is_auth_failed_and_never_quoted(tmp_path, monkeypatch):
    monkeypatch.setenv(PW_ENV, "Wrong-Secret-123")
    with FakeDevice("ruijie-rgos", "x") as dev:
        with pytest.raises(Unreachable) as e:
            _collect(dev, tmp_path)
    assert e.value.reason == "auth_failed" and "Wrong-Secret-123" not in str(e.value)


# -- SHA-1-only firmware: the system OpenSSH client ---------------------------------------------------
@pytest.mark.skipif(not shutil.which("ssh"), reason="system OpenSSH client missing")
@pytest.mark.parametrize("platform", ["huawei-vrp", "h3c-comware"])
def test_sha1_only_device_is_reached_through_the_legacy_path_and_reported(platform, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))  # the askpass helper and pinned keys live here
    (tmp_path / "tmp").mkdir()
    config = _config(platform, 20)
    with FakeDevice(platform, config, legacy=True, save_prompt=True, ignore_paging_off=True, page_lines=9) as dev:
        t = paramiko.Transport(("127.0.0.1", dev.port))
        with pytest.raises(paramiko.SSHException):  # paramiko 5 alone cannot negotiate with it
            t.start_client(timeout=5)
        t.close()
        out = _collect(dev, tmp_path)
    offer = out.meta["legacy_ssh"]["offer"]
    assert offer["kex"] == ["diffie-hellman-group14-sha1"] and offer["host_key"] == ["ssh-rsa"]
    assert out[COMMANDS[platform].config_command] == config
    assert dev.answers == ["N"] and dev.auth_attempts == [True]
    _assert_only_allowed(dev)
    assert list((tmp_path / "tmp").iterdir()) == []  # askpass helper and private known_hosts removed


@pytest.mark.skipif(not shutil.which("ssh"), reason="system OpenSSH client missing")
def test_legacy_path_keeps_host_keys_strict(tmp_path):
    with FakeDevice("huawei-vrp", "x", legacy=True) as dev:
        host = _host(dev, tmp_path)
        del host.settings["host_keys"]
        with pytest.raises(Unreachable) as e:
            collect(host, {}, ["display version"], time.monotonic() + 30)
    assert e.value.reason == "host_key_unknown" and dev.auth_attempts == []


# -- cleaning, on recorded terminal bytes -----------------------------------------------------------
def test_clean_removes_vrp_pager_with_cursor_moves():
    raw = ("display current-configuration\r\n#\r\n sysname A\r\n  ---- More ----\x1b[16D                \x1b[16D"
           " interface Vlanif1\r\n ip address 10.0.0.1 255.255.255.0\r\n\r\n<A>")
    assert clean(raw, "display current-configuration", "<A>") == \
        "#\n sysname A\n interface Vlanif1\n ip address 10.0.0.1 255.255.255.0\n"


def test_clean_removes_ios_pager_with_backspaces_and_keeps_indentation():
    raw = ("show running-config\r\nhostname B\r\n --More-- \b\b\b\b\b\b\b\b\b\b          \b\b\b\b\b\b\b\b\b\b"
           " ip ssh version 2\r\nend\r\nB#")
    assert clean(raw, "show running-config", "B#") == "hostname B\n ip ssh version 2\nend\n"


def test_clean_keeps_trailing_spaces_of_plain_lines_and_handles_no_echo():
    assert clean("\r\nbanner x  \r\nB#", "show running-config", "B#") == "banner x  \n"


def test_one_stray_byte_does_not_garble_a_utf8_configuration():
    raw = "description 教学楼\n".encode() + b"description \xff\n" + "description 实验楼".encode("gbk")
    assert decode(raw).splitlines() == ["description 教学楼", "description \ufffd", "description 实验楼"]


def test_gbk_output_is_decoded():
    assert decode("description 教学楼".encode("gbk")) == "description 教学楼"
    assert decode("description 教学楼".encode()) == "description 教学楼"


def test_command_lists_are_the_seam():
    for platform, (paging, commands) in SEAM.items():
        c = device_commands.for_platform(platform)
        assert (c.paging_off, list(c.commands)) == (paging, commands)


def test_the_allow_list_and_the_device_facts_name_the_same_commands():
    """The parsers' command table (checks.parsers.devices) and the allow-list are the same seam."""
    from audits.model.inventory import DEVICE_PLATFORMS
    from checks.parsers.devices import COMMANDS as FACT_COMMANDS

    assert {p: c.commands for p, c in COMMANDS.items()} == dict(FACT_COMMANDS)
    assert set(DEVICE_PLATFORMS) == set(COMMANDS)


@pytest.mark.parametrize("legacy", [False, True])
def test_vault_password_logs_in_on_both_paths_and_is_never_quoted(legacy, tmp_path, monkeypatch, caplog):
    """password: {vault: NAME} as for a Linux host: paramiko, or SSH_ASKPASS on the legacy path."""
    import logging

    from audits.trust.vault import Secret

    if legacy and not shutil.which("ssh"):
        pytest.skip("system OpenSSH client missing")
    monkeypatch.delenv(PW_ENV)
    caplog.set_level(logging.DEBUG)
    with FakeDevice("huawei-vrp", _config("huawei-vrp", 2), legacy=legacy, password="Vault-Only-Pw-771") as dev:
        host = _host(dev, tmp_path)
        del host.settings["password_env"]
        host.settings["password"] = Secret("Vault-Only-Pw-771", "sw")
        out = collect(host, {}, ["display current-configuration"], time.monotonic() + 60)
    assert dev.auth_attempts == [True] and "display current-configuration" in out
    assert bool(out.meta.get("legacy_ssh")) == legacy
    assert "Vault-Only-Pw-771" not in caplog.text and "Vault-Only-Pw-771" not in repr(out.meta)


@pytest.mark.parametrize("platform,line,is_prompt", [
    ("huawei-vrp", "<HUAWEI>", True), ("huawei-vrp", "[~HUAWEI]", True), ("huawei-vrp", "[*CE6850-GE1/0/1]", True),
    ("huawei-vrp", "<核心交换机>", True), ("h3c-comware", "<H3C>", True), ("h3c-comware", "[H3C-line-vty0-63]", True),
    ("huawei-vrp", "Save the configuration? [Y/N]:", False), ("huawei-vrp", "Change now? [Y/N]", False),
    ("huawei-vrp", "  ---- More ----", False), ("huawei-vrp", "Router#", False),
    ("cisco-ios", "Router>", True), ("cisco-ios", "Router#", True), ("cisco-ios", "edge1.campus#", True),
    ("ruijie-rgos", "Ruijie#", True), ("ruijie-rgos", "AC1(config)#", True), ("cisco-ios", "<HUAWEI>", False),
    ("cisco-ios", " --More-- ", False), ("cisco-ios", "Password:", False), ("cisco-ios", "#####", False),
])
def test_vendor_prompts(platform, line, is_prompt):
    assert bool(devicecli.PROMPTS[platform].fullmatch(line.strip())) == is_prompt
