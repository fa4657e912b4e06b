"""checks.parsers.firewall: nft and iptables-save rulesets, judged for a NEW TCP packet from outside."""
import pytest

from checks.parsers.firewall import default_deny, input_chains, ipt_chains, nft_chains, port_ranges, port_reachability

from ._grep import fixture

NFT = fixture("nft-ruleset-inet-filter")
IPT = fixture("iptables-save-jumps")


def test_nft_reads_base_chains_policies_and_sets():
    chains = nft_chains(NFT)
    assert set(chains) == {"inet filter/input", "inet filter/app_in", "inet filter/forward", "inet filter/output"}
    inp = chains["inet filter/input"]
    assert (inp.hook, inp.kind, inp.policy, inp.families) == ("input", "filter", "drop", frozenset({4, 6}))
    assert [k for k, _c in input_chains(chains, 6)] == ["inet filter/input"]
    assert default_deny([chains], 4) == ["inet filter/input: policy drop"]


def test_nft_ssh_from_a_management_set_only_is_restricted():
    verdict, ev = port_reachability([nft_chains(NFT)], 4, {22})
    assert verdict == "restricted"
    assert any("@mgmt4" in line for line in ev)             # the source-limited accept is shown
    assert ev[-1].endswith("log prefix \"nft-drop: \" drop")  # the final drop decides


def test_nft_named_port_set_accepts_web_and_a_verdict_map_jump_returns():
    chains = nft_chains(NFT)
    assert port_reachability([chains], 4, {443})[0] == "open"
    assert port_reachability([chains], 4, {8080})[0] == "restricted"   # app_in accepts only 10.30/16, then returns
    verdict, ev = port_reachability([chains], 6, {9100})
    assert verdict == "restricted" and "[9100 : drop]" in ev[-1]


def test_iptables_reads_only_the_filter_table_with_user_chains():
    chains = ipt_chains(IPT, 4)
    assert set(chains) == {"INPUT", "FORWARD", "OUTPUT", "f2b-sshd", "web-in"}
    assert chains["INPUT"].policy == "accept" and chains["FORWARD"].policy == "drop"
    assert chains["INPUT"].label == "iptables filter/INPUT"
    assert all("REDIRECT" not in r.text for c in chains.values() for r in c.rules)


def test_iptables_jump_into_a_guard_chain_that_drops():
    verdict, ev = port_reachability([ipt_chains(IPT, 4)], 4, {22})
    assert verdict == "restricted"
    assert ev == ["iptables filter/f2b-sshd: -A f2b-sshd -s 10.20.0.0/24 -j ACCEPT",
                  "iptables filter/f2b-sshd: -A f2b-sshd -j DROP"]


def test_iptables_return_goes_back_and_the_last_reject_is_the_default():
    chains = ipt_chains(IPT, 4)
    verdict, ev = port_reachability([chains], 4, {80})
    assert verdict == "restricted" and ev[-1].endswith("-j REJECT --reject-with icmp-port-unreachable")
    assert default_deny([chains], 4) == ["iptables filter/INPUT: last rule '-A INPUT -j REJECT --reject-with "
                                         "icmp-port-unreachable'"]


def test_iptables_without_the_final_reject_is_open_by_policy_accept():
    chains = ipt_chains(IPT.replace("-A INPUT -j REJECT --reject-with icmp-port-unreachable\n", ""), 4)
    assert port_reachability([chains], 4, {80}) == ("open", ["iptables filter/INPUT: policy accept"])
    assert default_deny([chains], 4) == []


def test_a_drop_policy_decides_and_an_unknown_match_never_restricts():
    chains = ipt_chains("*filter\n:INPUT DROP [0:0]\n-A INPUT -p tcp --dport 22 -m geoip --src-cc CN -j DROP\n"
                        "COMMIT\n", 4)
    assert port_reachability([chains], 4, {22}) == ("restricted", ["iptables filter/INPUT: policy drop"])
    chains = ipt_chains("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p tcp --dport 22 -m geoip --src-cc CN -j DROP\n"
                        "COMMIT\n", 4)
    assert port_reachability([chains], 4, {22})[0] == "open"


def test_no_input_chain_at_all_and_the_other_family():
    assert port_reachability([], 4, {22}) == ("none", [])
    assert port_reachability([ipt_chains(IPT, 4)], 6, {22}) == ("none", [])


def test_port_ranges_read_numbers_names_ranges_and_sets():
    assert port_ranges("{ 22, 80 }") == [(22, 22), (80, 80)]
    assert port_ranges("1000:2000") == [(1000, 2000)]
    assert port_ranges("ssh") == [(22, 22)]
    assert port_ranges("@web", {"web": ["80", "443"]}) == [(80, 80), (443, 443)]
    assert port_ranges("@unknown", {}) is None and port_ranges("gopher") is None


@pytest.mark.xfail(strict=True, reason="known limitation left as it is (issue 14 moves code, no behaviour change): "
                   "ipt_rule takes an all-upper-case -j target (DOCKER-USER, SSH_GUARD) for an extension target "
                   "and does not follow it, so an ACCEPT inside such a user chain is not seen")
def test_an_upper_case_user_chain_is_followed():
    chains = ipt_chains("*filter\n:INPUT ACCEPT [0:0]\n:SSH_GUARD - [0:0]\n-A INPUT -p tcp --dport 22 -j SSH_GUARD\n"
                        "-A INPUT -j DROP\n-A SSH_GUARD -j ACCEPT\nCOMMIT\n", 4)
    assert port_reachability([chains], 4, {22})[0] == "open"
