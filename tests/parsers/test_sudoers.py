"""checks.parsers.sudoers: includes, continuations, aliases, Defaults and tags."""
from checks.parsers.sudoers import rule_lines, split_top_level, sudo_grants, sudoers_lines

from ._grep import fixture, grep_h


def test_debian_stock_sudoers_grants_with_a_password():
    text = grep_h({"/etc/sudoers": fixture("debian12-sudoers")})
    assert sudo_grants(text) == ([], [])
    assert [s for _p, s in rule_lines(text)] == ["root\tALL=(ALL:ALL) ALL", "%sudo\tALL=(ALL:ALL) ALL"]


def test_includedir_skips_names_with_a_dot_or_tilde_and_drops_include_lines():
    text = grep_h({"/etc/sudoers": "@includedir /etc/sudoers.d\n#include /etc/sudoers.local\n",
                   "/etc/sudoers.d/ops": "ops ALL=(ALL) NOPASSWD: ALL\n",
                   "/etc/sudoers.d/ops.bak": "bak ALL=(ALL) NOPASSWD: ALL\n",
                   "/etc/sudoers.d/ops~": "tilde ALL=(ALL) NOPASSWD: ALL\n"})
    assert sudoers_lines(text) == [("/etc/sudoers.d/ops", "ops ALL=(ALL) NOPASSWD: ALL")]


def test_a_cmnd_alias_of_all_and_continuations_and_uid_users():
    text = grep_h({"/etc/sudoers.d/admins": "Cmnd_Alias EVERYTHING = ALL\n"
                                            "User_Alias ADMINS = alice, \\\n   bob\n"
                                            "ADMINS ALL = (root) NOPASSWD: EVERYTHING\n"
                                            "#1001 ALL = (ALL) NOPASSWD: /usr/bin/systemctl restart nginx, PASSWD: ALL\n"})
    grants, _ = sudo_grants(text)
    assert grants == [("/etc/sudoers.d/admins", ["ADMINS"], "ADMINS ALL = (root) NOPASSWD: EVERYTHING")]
    assert ("/etc/sudoers.d/admins", "User_Alias ADMINS = alice,     bob") in sudoers_lines(text)


def test_tags_carry_over_and_a_second_host_segment_counts():
    grants, _ = sudo_grants(grep_h({"/etc/sudoers": "deploy web01 = (ALL) PASSWD: /bin/ls : db01 = NOPASSWD: /bin/df, ALL\n"}))
    assert [g[1] for g in grants] == [["deploy"]]


def test_defaults_without_authenticate_per_user_and_negated_forms():
    _, defaults = sudo_grants(grep_h({"/etc/sudoers": "Defaults:backup,nagios !authenticate\n"
                                                      "Defaults !authenticate\nDefaults! /bin/x !authenticate\n"}))
    assert [d[1] for d in defaults] == [["backup", "nagios"], ["ALL"]]


def test_split_top_level_keeps_runas_lists_whole():
    assert split_top_level("(alice, bob : staff) /bin/a, /bin/b") == ["(alice, bob : staff) /bin/a", "/bin/b"]
