"""checks.baselines holds the data two packs judge alike; the host-side checks' own defaults (still
written in their decorators) must be the same lists, or the two views would judge differently."""
from checks import baselines
from checks.packs.mlps import confidentiality, intrusion
from checks.packs.network import crypto, exposure


def test_weak_ssh_lists_are_the_host_side_defaults_and_the_network_defaults():
    host = {}
    for fn in (confidentiality.ssh_kex, confidentiality.ssh_ciphers, confidentiality.ssh_macs,
               confidentiality.ssh_hostkey_algorithms):
        host.update(fn.check.params)
    assert host == baselines.WEAK_SSH_ALGORITHMS
    assert crypto.ssh_weak_algorithms.check.params == baselines.WEAK_SSH_ALGORITHMS


def test_role_ports_are_the_host_side_defaults_and_the_network_defaults():
    assert intrusion.undeclared_listeners.check.params == baselines.ROLE_PORTS
    net = exposure.undeclared_ports.check.params
    assert net == {"base_ports": [22], "role_ports": baselines.ROLE_PORTS["role_ports"]}


def test_allowed_port_specs_add_inventory_ports_and_known_roles_only():
    class Host:
        settings = {"ports": ["8443/tcp"]}
        roles = ["web", "unknown-role"]

    assert baselines.allowed_port_specs(Host(), baselines.ROLE_PORTS) == [22, "8443/tcp", 80, 443]


def test_weak_algorithms_match_globs_case_insensitively_in_order():
    algos = ["AES128-CBC", "aes256-gcm@openssh.com", "3des-cbc", "chacha20-poly1305@openssh.com"]
    assert baselines.weak_algorithms(algos, ["*-cbc*"]) == ["AES128-CBC", "3des-cbc"]
    assert baselines.weak_algorithms(algos, []) == []
