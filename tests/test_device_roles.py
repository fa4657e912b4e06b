"""auditctl device-role: the least-privilege configuration per vendor grants exactly the commands a
live device session sends (the allow-list), never a wildcard or full privilege, never a real secret."""
import re

import pytest

import auditctl
from audits.collect.device_commands import COMMANDS, PLATFORMS
from audits.trust.device_roles import recipe


@pytest.mark.parametrize("platform", PLATFORMS)
def test_each_recipe_names_every_command_the_session_sends(platform):
    text = recipe(platform, "aud1")
    c = COMMANDS[platform]
    body = [ln for ln in text.splitlines() if not ln.startswith(("#", "!"))]
    grants = "\n".join(body)
    for cmd in (c.config_command,):
        assert cmd in grants, cmd  # the one command a default low level cannot run
    assert "aud1" in grants
    assert f"the audit sends only: {c.paging_off}; {'; '.join(c.commands)}" in text
    # least privilege: no wildcard grant, no level 15, no write
    assert not re.search(r"permit command \*|privilege 15|level 15|network-admin|\bsave\b|write memory", grants)
    assert "❓" in text  # says what is unverified on real firmware
    assert "<PASSWORD>" in text or "<PASSWORD-HASH>" in text


def test_h3c_role_permits_exactly_the_allow_list():
    text = recipe("h3c-comware")
    rules = re.findall(r"^ rule \d+ permit command (.+)$", text, re.M)
    c = COMMANDS["h3c-comware"]
    assert rules == [c.paging_off, *c.commands]


def test_cisco_view_includes_exactly_the_allow_list():
    text = recipe("cisco-ios")
    assert re.findall(r"^ commands exec include (.+)$", text, re.M) == ["terminal length", *COMMANDS["cisco-ios"].commands]


def test_cli(capsys):
    assert auditctl.main(["device-role", "--platform", "huawei-vrp", "--user", "mlps"]) == 0
    out = capsys.readouterr().out
    assert "local-user mlps privilege level 1" in out and "command-privilege level 1 view shell display current-configuration" in out
    assert auditctl.main(["device-role"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in ("Huawei VRP", "H3C Comware", "Cisco IOS", "Ruijie RGOS"))


@pytest.mark.parametrize("user", ["a b", "-oProxyCommand=x", "x;save", "", "a" * 40])
def test_names_that_cannot_be_pasted_safely_are_refused(user, capsys):
    assert auditctl.main(["device-role", f"--user={user}"]) == 2
    assert "auditctl:" in capsys.readouterr().err
