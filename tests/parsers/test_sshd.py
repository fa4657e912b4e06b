"""checks.parsers.sshd: sshd -T values and AllowUsers host patterns."""
from checks.parsers.sshd import host_pattern_admits, sshd_values


def test_values_gather_repeated_keys_lower_case():
    kv = sshd_values("Port 22\nport 2222\nAllowUsers alice@10.20.0.0/24 bob\nListenAddress 0.0.0.0:22\n")
    assert kv["port"] == ["22", "2222"] and kv["allowusers"] == ["alice@10.20.0.0/24", "bob"]


def test_host_patterns_globs_and_cidr():
    assert host_pattern_admits("*") and host_pattern_admits("")
    assert not host_pattern_admits("10.20.0.0/24") and host_pattern_admits("203.0.113.0/24")
    assert host_pattern_admits("203.0.113.*") and not host_pattern_admits("10.*")
    assert not host_pattern_admits("not/a-network")
