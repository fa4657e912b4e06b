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


from checks.parsers.sshd import duration, effective_config, idle_timeout, match_blocks, may_match_user  # noqa: E402

_CFG = {"/etc/ssh/sshd_config": ["Include /etc/ssh/sshd_config.d/*.conf", "PermitRootLogin no", "ClientAliveInterval 300",
                                 "Match Address 10.0.0.0/8", "  PermitRootLogin yes", "Match User *,!root",
                                 "  ClientAliveCountMax 0"],
        "/etc/ssh/sshd_config.d/50-cloud-init.conf": ["PasswordAuthentication yes", "PermitRootLogin prohibit-password"]}


def test_sshd_config_include_first_value_wins_and_match_overrides():
    root_lan = effective_config(_CFG, "root", "pc1", "10.1.2.3")
    assert root_lan["permitrootlogin"] == ["yes"]                       # the matching block overrides the global value
    root_out = effective_config(_CFG, "root", "x", "203.0.113.7")
    assert root_out["permitrootlogin"] == ["prohibit-password"]         # the included drop-in came first
    assert "clientalivecountmax" not in root_out
    assert effective_config(_CFG, "nobody", "x", "203.0.113.7")["clientalivecountmax"] == ["0"]


def test_sshd_match_blocks_that_can_apply_to_root():
    blocks = match_blocks(_CFG)
    assert [b[1] for b in blocks] == [["Address", "10.0.0.0/8"], ["User", "*,!root"]]
    assert may_match_user(blocks[0][1], "root") and not may_match_user(blocks[1][1], "root")


def test_sshd_countmax_zero_disables_termination_since_8_2_fails():
    kv = {"clientaliveinterval": ["300"], "clientalivecountmax": ["0"]}
    assert idle_timeout(kv, (9, 2))["kind"] == "none"
    assert idle_timeout(kv, None)["kind"] == "none"                      # unknown version: judged as current
    assert idle_timeout(kv, (7, 4)) == {"kind": "idle", "seconds": 300, "how": idle_timeout(kv, (7, 4))["how"]}


def test_sshd_clientalive_only_drops_unresponsive_clients_and_channeltimeout_is_idle():
    assert idle_timeout({"clientaliveinterval": ["300"], "clientalivecountmax": ["2"]}, (9, 2))["kind"] == "unresponsive"
    t = idle_timeout({"channeltimeout": ["session=10m"]}, (9, 6))
    assert (t["kind"], t["seconds"]) == ("idle", 600)
    assert duration("1h30m") == 5400 and duration("10x") is None


def test_sshd_include_fan_out_from_a_hostile_host_ends():
    files = {"/etc/ssh/sshd_config": ["Include /etc/ssh/sshd_config.d/*.conf"]}
    files.update({f"/etc/ssh/sshd_config.d/{i}.conf": ["Include /etc/ssh/sshd_config.d/*.conf", "PermitRootLogin yes"]
                  for i in range(10)})
    assert effective_config(files, "root", "x", "203.0.113.7")["permitrootlogin"] == ["yes"]
