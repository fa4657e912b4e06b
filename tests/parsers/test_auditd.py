"""checks.parsers.auditd: auditctl -s / -l and the kernel's watch semantics."""
from checks.parsers.auditd import audit_rules, audit_status, records_all_exec, watch_coverage, watch_covers

LOADED = """-w /etc/passwd -p wa -k identity
-a never,exit -F path=/etc/shadow -F perm=wa
-w /etc/shadow -p wa -k identity
-a always,exit -F arch=b64 -S execve -F auid>=1000 -F auid!=-1 -k exec
-a always,exit -F dir=/etc/sudoers.d/ -F perm=wa -F key=scope
"""


def test_status_new_and_old_formats():
    assert audit_status("enabled 2\nfailure 1\npid 812\nlost 0\n") == {"enabled": 2, "failure": 1, "pid": 812, "lost": 0}
    assert audit_status("AUDIT_STATUS: enabled=1 flag=1 pid=655 rate_limit=0")["pid"] == 655


def test_rules_read_watches_fields_and_syscalls():
    rules = audit_rules(LOADED)
    assert (rules[0]["path"], rules[0]["perm"]) == ("/etc/passwd", "wa")
    assert rules[1]["action"] == "never" and rules[1]["path"] == "/etc/shadow"
    assert rules[3]["syscalls"] == {"execve"} and ("auid", ">=", "1000") in rules[3]["fields"]
    assert rules[4]["path"] == "/etc/sudoers.d" and ("key", "=", "scope") not in rules[4]["fields"]


def test_an_earlier_never_rule_hides_a_later_watch_and_directories_cover_children():
    rules = audit_rules(LOADED)
    assert watch_coverage(rules, "/etc/passwd", "wa")[0]
    covered, why, _ = watch_coverage(rules, "/etc/shadow", "wa")
    assert not covered and why.startswith("excluded by an earlier rule")
    assert watch_coverage(rules, "/etc/sudoers.d/ops", "wa")[0]
    assert watch_coverage(rules, "/etc/group", "w")[1] == "no watch rule"
    assert watch_covers("/etc/x/y", "/etc/x") and not watch_covers("/etc/xy", "/etc/x")


def test_execve_rules_that_record_every_admin_command():
    assert records_all_exec(audit_rules(LOADED)[3])
    assert records_all_exec(audit_rules("-a always,exit -S execve -F euid=0\n")[0])
    assert not records_all_exec(audit_rules("-a always,exit -S execve -F auid>=5000\n")[0])
    assert not records_all_exec(audit_rules("-a always,exit -S execve -F exe=/usr/bin/sudo\n")[0])


def test_audit_status_enabled_flag_off_on_immutable_and_hostile_text():
    assert audit_status("enabled 0\nfailure 1\npid 0\n")["enabled"] == 0
    assert audit_status("enabled 1\npid 812\n")["enabled"] == 1
    assert audit_status("enabled 2\npid 812\n")["enabled"] == 2          # -e 2: rules locked until reboot
    assert audit_status("You must be root to run this program.\n") == {}
    assert audit_status("\x1b[2Jdisabled 1\nnotenabled 3\n" + "x" * 100000) == {}
