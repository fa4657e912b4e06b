"""checks.parsers.tcpwrappers: hosts.allow / hosts.deny for sshd, and libwrap builds."""
from checks.parsers.tcpwrappers import libwrap_honoured, sshd_access

from ._grep import grep_h


def test_allow_list_with_deny_all():
    allow, deny = sshd_access(grep_h({"/etc/hosts.allow": "sshd: 10.20.0.0/255.255.255.0, .school.example\n",
                                      "/etc/hosts.deny": "ALL: ALL\n"}))
    assert allow == ["/etc/hosts.allow: sshd: 10.20.0.0/255.255.255.0, .school.example"]
    assert deny == ["/etc/hosts.deny: ALL: ALL"]


def test_allow_all_and_deny_option_in_hosts_allow():
    allow, deny = sshd_access(grep_h({"/etc/hosts.allow": "sshd: ALL\nsshd: ALL: DENY\n"}))
    assert allow is None and deny == ["/etc/hosts.allow: sshd: ALL: DENY"]


def test_libwrap_builds_by_release():
    assert libwrap_honoured({"ID": "debian", "VERSION_ID": "12"}, "debian")
    assert not libwrap_honoured({"ID": "debian", "VERSION_ID": "13"}, "debian")
    assert libwrap_honoured({"ID": "ubuntu", "VERSION_ID": "22.04"}, "debian")
    assert libwrap_honoured({"ID": "centos", "VERSION_ID": "7", "ID_LIKE": "rhel fedora"}, "rhel")
    assert not libwrap_honoured({"ID": "rocky", "VERSION_ID": "9.3", "ID_LIKE": "rhel centos fedora"}, "rhel")
