"""checks.parsers.firewall: nft and iptables-save rulesets, judged for a NEW TCP packet from outside."""
from checks.parsers.firewall import (default_deny, firewalld_exposure, firewalld_zones, input_chains, ipt_chains, nft_chains,
                                     port_ranges, port_reachability)

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


def test_an_upper_case_user_chain_is_followed():
    chains = ipt_chains("*filter\n:INPUT ACCEPT [0:0]\n:SSH_GUARD - [0:0]\n-A INPUT -p tcp --dport 22 -j SSH_GUARD\n"
                        "-A INPUT -j DROP\n-A SSH_GUARD -j ACCEPT\nCOMMIT\n", 4)
    assert port_reachability([chains], 4, {22})[0] == "open"
    # and a drop inside one restricts
    chains = ipt_chains("*filter\n:INPUT ACCEPT [0:0]\n:SSH_GUARD - [0:0]\n-A INPUT -p tcp --dport 22 -j SSH_GUARD\n"
                        "-A SSH_GUARD -s 10.0.0.0/8 -j ACCEPT\n-A SSH_GUARD -j DROP\nCOMMIT\n", 4)
    assert port_reachability([chains], 4, {22})[0] == "restricted"


def test_docker_user_chain_accept_is_followed_and_extension_targets_are_not_chains():
    # the chain layout Docker writes (DOCKER-USER, DOCKER) with a user's blanket ACCEPT in DOCKER-USER,
    # reached from INPUT here the way people wire it.
    text = ("*filter\n:INPUT DROP [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n:DOCKER - [0:0]\n"
            ":DOCKER-USER - [0:0]\n-A INPUT -j DOCKER-USER\n-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n"
            "-A DOCKER-USER -j ACCEPT\nCOMMIT\n")
    verdict, ev = port_reachability([ipt_chains(text, 4)], 4, {3306})
    assert verdict == "open" and ev == ["iptables filter/DOCKER-USER: -A DOCKER-USER -j ACCEPT"]
    chains = ipt_chains(text.replace("-A DOCKER-USER -j ACCEPT\n", "-A DOCKER-USER -j RETURN\n"), 4)
    assert port_reachability([chains], 4, {3306})[0] == "restricted"
    # NFQUEUE / LOG are targets, not chains: they never jump
    r = ipt_chains("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -j NFQUEUE --queue-num 1\nCOMMIT\n", 4)["INPUT"].rules[0]
    assert r.verdict is None


def test_iptables_legacy_beside_nft_both_apply():
    # nft (iptables-nft or nft itself) accepts; the legacy table drops: the packet must pass both hooks.
    nft_open = nft_chains("table inet filter {\n\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n"
                          "\t}\n}\n")
    legacy_drop = ipt_chains("*filter\n:INPUT DROP [0:0]\n-A INPUT -s 10.0.0.0/8 -p tcp --dport 22 -j ACCEPT\nCOMMIT\n", 4)
    assert port_reachability([nft_open], 4, {22})[0] == "open"
    assert port_reachability([nft_open, legacy_drop], 4, {22})[0] == "restricted"
    assert port_reachability([legacy_drop, nft_open], 4, {22})[0] == "restricted"
    legacy_open = ipt_chains("*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n", 4)
    assert port_reachability([nft_open, legacy_open], 4, {22})[0] == "open"


def test_nft_input_policy_accept_with_no_drop_rule_is_open_and_a_non_input_hook_does_not_filter():
    text = ("table inet filter {\n\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n"
            "\t\tct state established,related accept\n\t\ttcp dport 22 accept\n\t}\n"
            "\tchain fwd {\n\t\ttype filter hook forward priority filter; policy drop;\n\t}\n}\n")
    chains = nft_chains(text)
    assert port_reachability([chains], 4, {3306}) == ("open", ["inet filter/input: policy accept"])
    assert default_deny([chains], 4) == []
    assert default_deny([nft_chains(text.replace("filter; policy accept;", "filter; policy drop;", 1))], 4)


FIREWALLD_TRUSTED = """public
  target: default
  icmp-block-inversion: no
  interfaces: 
  sources: 
  services: dhcpv6-client ssh
  ports: 
  protocols: 
  forward: yes
  masquerade: no
  forward-ports: 
  source-ports: 
  icmp-blocks: 
  rich rules: 

trusted (default, active)
  target: ACCEPT
  icmp-block-inversion: no
  interfaces: eth0
  sources: 
  services: 
  ports: 
  protocols: 
  forward: yes
  masquerade: no
  forward-ports: 
  source-ports: 
  icmp-blocks: 
  rich rules: 
"""


def test_firewalld_trusted_zone_is_not_filtering():
    zones = firewalld_zones(FIREWALLD_TRUSTED)
    assert [(z["name"], z["target"], z["default"], z["interfaces"]) for z in zones] == [
        ("public", "default", False, []), ("trusted", "ACCEPT", True, ["eth0"])]
    open_, _notes = firewalld_exposure(zones)
    assert open_ and "trusted" in open_[0]
    # trusted as default zone with no interface bound applies to every interface
    text = FIREWALLD_TRUSTED.replace("interfaces: eth0", "interfaces: ")
    assert firewalld_exposure(firewalld_zones(text))[0]


def test_firewalld_public_zone_on_the_interface_is_filtering_and_trusted_for_sources_only_is_noted():
    text = (FIREWALLD_TRUSTED.replace("public\n", "public (default, active)\n").replace("trusted (default, active)", "trusted (active)")
            .replace("interfaces: eth0", "interfaces: ").replace("  sources: \n  services: \n", "  sources: 10.9.0.0/16\n  services: \n"))
    open_, notes = firewalld_exposure(firewalld_zones(text))
    assert not open_ and any("public" in n for n in notes) and any("10.9.0.0/16" in n for n in notes)
    # an interface bound to public while trusted is the default: public decides for it
    text = FIREWALLD_TRUSTED.replace("interfaces: \n  sources: \n  services: dhcpv6-client", "interfaces: eth0\n  sources: \n"
                                     "  services: dhcpv6-client").replace("interfaces: eth0\n  sources: \n  services: \n",
                                                                          "interfaces: \n  sources: \n  services: \n")
    zones = firewalld_zones(text)
    assert [z["interfaces"] for z in zones] == [["eth0"], []]
    assert firewalld_exposure(zones)[0]   # the default trusted zone still takes every other interface
    text2 = text.replace("trusted (default, active)", "trusted")
    assert not firewalld_exposure(firewalld_zones(text2))[0]


def test_firewalld_hostile_output_is_bounded():
    zones = firewalld_zones("\x1b[2J(bad\n  target: ACCEPT\n" + "z\n  interfaces: " + "e " * 10000 + "\n")
    assert [z["name"] for z in zones] == ["z"] and zones[0]["target"] == "default"
