"""checks.parsers.sudoers: read order and includes, continuations, aliases, Defaults, tags, and
which grants amount to a root shell without a password (ALL, '!' exclusions, shell escapes)."""
import re

import pytest
from hypothesis import given, settings, strategies as st

from checks.parsers import sudoers
from checks.parsers.sudoers import (escapes, root_equivalent, root_grants, rule_lines, rules, split_top_level,
                                    sudo_grants, sudoers_lines)

from ._grep import fixture, grep_h

STOCK = {"/etc/sudoers": fixture("debian12-sudoers")}


def _reasons(files: dict) -> list[str]:
    return [g.reason for g in root_grants(grep_h(files))[0]]


def _one(rule: str) -> list[str]:
    return _reasons({**STOCK, "/etc/sudoers.d/ops": rule + "\n"})


def test_sudoers_debian_stock_grants_with_a_password():
    text = grep_h(STOCK)
    assert sudo_grants(text) == ([], [])
    assert [s for _p, s in rule_lines(text)] == ["root\tALL=(ALL:ALL) ALL", "%sudo\tALL=(ALL:ALL) ALL"]


def test_sudoers_includedir_skips_names_with_a_dot_or_tilde():
    text = grep_h({"/etc/sudoers": "@includedir /etc/sudoers.d\n#include /etc/sudoers.d/extra\n",
                   "/etc/sudoers.d/ops": "ops ALL=(ALL) NOPASSWD: ALL\n",
                   "/etc/sudoers.d/ops.bak": "bak ALL=(ALL) NOPASSWD: ALL\n",
                   "/etc/sudoers.d/ops~": "tilde ALL=(ALL) NOPASSWD: ALL\n"})
    assert sudoers_lines(text) == [("/etc/sudoers.d/ops", "ops ALL=(ALL) NOPASSWD: ALL")]


def test_sudoers_dropin_without_an_includedir_is_not_read():
    """RHEL's '## #includedir' style: a commented directive reads nothing, so the drop-in grants nothing."""
    text = grep_h({"/etc/sudoers": "root ALL=(ALL) ALL\n## #includedir /etc/sudoers.d\n",
                   "/etc/sudoers.d/ops": "ops ALL=(ALL) NOPASSWD: ALL\n"})
    assert root_grants(text)[0] == []
    text = grep_h({"/etc/sudoers": "root ALL=(ALL) ALL\n#includedir /etc/sudoers.d\n",
                   "/etc/sudoers.d/ops": "ops ALL=(ALL) NOPASSWD: ALL\n"})
    assert [g.users for g in root_grants(text)[0]] == [["ops"]]


def test_sudoers_include_of_a_file_outside_the_gathered_dirs_is_reported_unread():
    text = grep_h({"/etc/sudoers": "@include /etc/sudoers.local\n@include sudoers.d/x\n@include /etc/sudoers.%h\n"})
    assert root_grants(text)[2] == ["/etc/sudoers.local", "/etc/sudoers.%h"]


def test_sudoers_include_is_read_in_place_relative_to_the_including_file():
    text = grep_h({"/etc/sudoers": "root ALL=(ALL) ALL\n@include sudoers.d/ops\n",
                   "/etc/sudoers.d/ops": "Cmnd_Alias SH = /bin/bash\nops ALL=(root) NOPASSWD: SH\n"})
    assert _reasons({"/etc/sudoers": "root ALL=(ALL) ALL\n@include sudoers.d/ops\n",
                     "/etc/sudoers.d/ops": "Cmnd_Alias SH = /bin/bash\nops ALL=(root) NOPASSWD: SH\n"}) \
        == ["shell bash with arguments of the user's choosing (via Cmnd_Alias SH)"]
    assert sudoers_lines(text)[0] == ("/etc/sudoers", "root ALL=(ALL) ALL")


def test_sudoers_aliases_continuations_and_uid_users():
    text = grep_h({"/etc/sudoers": "@includedir /etc/sudoers.d\n",
                   "/etc/sudoers.d/admins": "Cmnd_Alias EVERYTHING = ALL\n"
                                            "User_Alias ADMINS = alice, \\\n   bob : OPS = carol\n"
                                            "ADMINS ALL = (root) NOPASSWD: EVERYTHING\n"
                                            "#1001 ALL = (ALL) NOPASSWD: /usr/bin/systemctl restart nginx, PASSWD: ALL\n"})
    grants, _ = sudo_grants(text)
    assert grants == [("/etc/sudoers.d/admins", ["alice", "bob"], "ADMINS ALL = (root) NOPASSWD: EVERYTHING")]
    assert rules(text)[1]["User"]["OPS"] == ["carol"]


def test_sudoers_tags_carry_over_and_a_second_host_segment_counts():
    grants, _ = sudo_grants(grep_h({"/etc/sudoers": "deploy web01 = (ALL) PASSWD: /bin/ls : db01 = NOPASSWD: /bin/df, ALL\n"}))
    assert [g[1] for g in grants] == [["deploy"]]


def test_sudoers_defaults_without_authenticate_per_user_and_per_command():
    text = grep_h({"/etc/sudoers": "Defaults:backup,nagios !authenticate\nDefaults !authenticate\n"
                                   "Defaults!/usr/bin/tar !authenticate\nbob ALL=(root) /usr/bin/tar\n"})
    found, dflt, _ = root_grants(text)
    assert [d.users for d in dflt] == [["backup", "nagios"], ["ALL"], ["ALL"]]
    assert found[0].users == ["bob"] and "authenticate turned off" in found[0].reason


def test_sudoers_later_defaults_authenticate_turns_it_back_on():
    text = grep_h({"/etc/sudoers": "Defaults !authenticate\nDefaults authenticate\nbob ALL=(root) /usr/bin/tar\n"})
    assert root_grants(text)[0] == []


def test_split_top_level_keeps_runas_lists_and_escaped_commas_whole():
    assert split_top_level("(alice, bob : staff) /bin/a, /bin/b") == ["(alice, bob : staff) /bin/a", "/bin/b"]
    assert split_top_level(r"/usr/sbin/sshd -T -C user\=root\,host\=x, /bin/b") == [r"/usr/sbin/sshd -T -C user\=root\,host\=x",
                                                                                     "/bin/b"]


# ---------------------------------------------------------------------------------------------- root equivalence
def test_sudoers_negation_does_not_restrict_all_fails():
    found = root_grants(grep_h({**STOCK, "/etc/sudoers.d/ops": "ops ALL=(ALL) NOPASSWD: ALL, !/bin/su, !/bin/bash\n"}))[0]
    assert found[0].reason == "ALL" and "do not restrict" in found[0].note


@pytest.mark.parametrize("rule", [
    "backup ALL=(root) NOPASSWD: /usr/bin/tar",                              # tar --checkpoint-action=exec=sh
    "backup ALL=(root) NOPASSWD: /usr/bin/rsync",                            # rsync -e 'sh -c …'
    "backup ALL=(root) NOPASSWD: /usr/bin/tar -czf /srv/backup/*.tgz /srv",  # a wildcard: any words
    "web ALL=(root) NOPASSWD: /usr/bin/vi /etc/nginx/nginx.conf",            # :!sh / :w /etc/sudoers
    "web ALL=(root) NOPASSWD: /usr/bin/less /var/log/syslog",                # !sh
    "dev ALL=(root) NOPASSWD: /usr/bin/python3",
    "dev ALL=(root) NOPASSWD: /usr/bin/find",
    "dev ALL=(root) NOPASSWD: /usr/bin/find /srv -exec chmod 644 {} ;",
    "dev ALL=(root) NOPASSWD: /usr/bin/awk",
    "dev ALL=(root) NOPASSWD: /usr/bin/man",
    "dev ALL=(root) NOPASSWD: /usr/bin/git",
    "dev ALL=(root) NOPASSWD: /usr/bin/zip",
    "dev ALL=(root) NOPASSWD: /bin/su",
    "dev ALL=(root) NOPASSWD: /bin/su -",
    "dev ALL=(root) NOPASSWD: /usr/bin/sudo -i",
    "dev ALL=(root) NOPASSWD: /bin/bash \"\"",
    "dev ALL=(root) NOPASSWD: /usr/bin/passwd \"\"",
    "dev ALL=(root) NOPASSWD: /usr/bin/cp",
    "dev ALL=(root) NOPASSWD: /usr/bin/",
    "dev ALL=(root) NOPASSWD: /usr/bin/*",
    "dev ALL=(root) NOPASSWD: sha256:0123abcd /usr/bin/env",
    "dev ALL=NOPASSWD: /usr/bin/apt-get",
])
def test_sudoers_nopasswd_command_with_a_shell_escape_fails(rule):
    assert len(_one(rule)) == 1, rule


@pytest.mark.parametrize("rule", [
    "ops ALL=(root) NOPASSWD: /usr/bin/systemctl restart nginx",
    "backup ALL=(root) NOPASSWD: /usr/bin/tar -czf /srv/backup/www.tgz /srv/www",   # fixed arguments only
    "backup ALL=(root) NOPASSWD: /usr/bin/rsync -a /srv/www/ /backup/www/",
    "dev ALL=(root) NOPASSWD: /bin/su postgres",                                     # not root
    "dev ALL=(postgres) NOPASSWD: ALL",                                              # runs as postgres only
    "dev ALL=(root) NOPASSWD: /usr/bin/tar \"\"",
    "web ALL=(root) NOPASSWD: NOEXEC: /usr/bin/less /var/log/syslog",                # NOEXEC stops !sh
    "web ALL=(root) NOPASSWD: sudoedit /etc/nginx/nginx.conf",
    "web ALL=(root) /usr/bin/vi",                                                   # a password is asked
    "dev ALL=(root) NOPASSWD: /usr/bin/vi, PASSWD: /usr/bin/less",                   # wrong way round: still vi
])
def test_sudoers_specific_commands_pass_or_need_a_password(rule):
    got = _one(rule)
    if "vi, PASSWD" in rule:
        assert got == ["editor vi (escape whatever the arguments)"]
    else:
        assert got == [], rule


def test_sudoers_noexec_does_not_save_an_editor_that_writes_files_fails():
    assert _one("web ALL=(root) NOPASSWD: NOEXEC: /usr/bin/vim /etc/hosts") == ["editor vim (escape whatever the arguments)"]


def test_sudoers_defaults_noexec_for_a_user_stops_pager_escapes():
    assert _reasons({**STOCK, "/etc/sudoers.d/ops": "Defaults:web noexec\nweb ALL=(root) NOPASSWD: /usr/bin/less /var/log/x\n"}) == []


def test_sudoers_runas_alias_of_root_counts():
    assert _one("Runas_Alias ADM = root, operator\nops ALL=(ADM) NOPASSWD: /usr/bin/tar") \
        == ["escape tar with arguments of the user's choosing"]


def test_sudoers_audit_fragment_is_judged_like_any_other_and_passes():
    """The audit account's own grant (exact read-only commands, escaped arguments) is not root-equivalent."""
    from audits.trust.sudoers import fragment
    from checks.registry import load_registry
    text, _ = fragment(load_registry().select(["mlps"]), user="audit")
    files = {**STOCK, "/etc/sudoers.d/campus-lab-audit": text}
    assert _reasons(files) == []
    lines = [c for r in rules(grep_h(files))[0] for c in r.commands if r.users == ["audit"]]
    assert any(c.path.endswith("/find") and c.args and "-maxdepth" in c.args for c in lines)


def test_sudoers_escape_list_entries_each_name_a_source_and_compile():
    data = escapes()
    assert {"tar", "rsync", "find", "awk", "vi", "less", "bash", "su", "sudo", "python3", "git", "zip", "man"} <= set(data)
    for name, e in data.items():
        assert e["source"].strip() and e["kind"] in ("shell", "su", "escape", "pager", "editor", "write"), name
        if "escape_args" in e:
            re.compile(e["escape_args"])
    assert root_equivalent(rules(grep_h({"/etc/sudoers": "a ALL=/usr/bin/tar -cf x --checkpoint=1 --checkpoint-action=exec=sh y\n"}))[0][0].commands[0])


def test_sudoers_include_loops_and_hostile_fan_out_end():
    files = {"/etc/sudoers": "@includedir /etc/sudoers.d\n"}
    files.update({f"/etc/sudoers.d/f{i}": "@includedir /etc/sudoers.d\nu ALL=(ALL) ALL\n" for i in range(12)})
    lines, unread = root_grants(grep_h(files))[0], root_grants(grep_h(files))[2]
    assert lines == [] and any("more than" in u for u in unread)
    loop = grep_h({"/etc/sudoers": "@include /etc/sudoers\nbob ALL=(ALL) NOPASSWD: ALL\n"})
    assert [g.users for g in root_grants(loop)[0]] == [["bob"]]


def _split_by_character(text: str, sep: str = ",") -> list[str]:
    """split_top_level as it was first written, character by character: the reference for the token version."""
    out, depth, cur, esc = [], 0, "", False
    for ch in text:
        if esc:
            cur, esc = cur + ch, False
            continue
        if ch == "\\":
            cur, esc = cur + ch, True
            continue
        depth += ch == "("
        depth -= ch == ")"
        if ch == sep and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    out.append(cur)
    return [s.strip() for s in out if s.strip()]


@settings(max_examples=2000, deadline=None)
@given(st.text(alphabet=",:()\\ a/-=\n\t", max_size=40), st.sampled_from([",", ":"]))
def test_split_top_level_by_tokens_is_the_character_walk(text, sep):
    assert sudoers.split_top_level(text, sep) == _split_by_character(text, sep)


def test_split_top_level_keeps_escapes_and_parentheses():
    assert sudoers.split_top_level(r"/bin/a x\,y, (root : wheel) /bin/b, /bin/c \(, d") == [
        r"/bin/a x\,y", "(root : wheel) /bin/b", r"/bin/c \(", "d"]
    assert sudoers.split_top_level("a:b(c:d)", ":") == ["a", "b(c:d)"]
