"""checks.baselines holds the data two packs judge alike (checks/baselines.yaml); the host-side checks and
the network view must take the same lists, or the two views would judge differently."""
from checks import baselines
from checks.registry import load_registry


def params(check_id):
    return load_registry().by_id[check_id].params


def test_weak_ssh_lists_are_the_host_side_defaults_and_the_network_defaults():
    host = {}
    for cid in ("mlps.confidentiality.ssh_kex", "mlps.confidentiality.ssh_ciphers", "mlps.confidentiality.ssh_macs",
                "mlps.confidentiality.ssh_hostkey_algorithms"):
        host.update(params(cid))
    assert host == baselines.WEAK_SSH_ALGORITHMS
    assert params("network.ssh.weak_algorithms") == baselines.WEAK_SSH_ALGORITHMS


def test_role_ports_are_the_host_side_defaults_and_the_network_defaults():
    assert params("mlps.intrusion.undeclared_listeners") == baselines.ROLE_PORTS
    net = params("network.exposure.undeclared_ports")
    assert net == {"base_ports": [22], "role_ports": baselines.ROLE_PORTS["role_ports"]}


def test_a_check_gets_its_own_copy_of_a_shared_default():
    load_registry().by_id["network.exposure.undeclared_ports"].params["base_ports"].append(2222)
    try:
        assert params("mlps.intrusion.undeclared_listeners")["base_ports"] == [22]
    finally:
        params("network.exposure.undeclared_ports")["base_ports"].remove(2222)


def test_allowed_port_specs_add_inventory_ports_and_known_roles_only():
    class Host:
        settings = {"ports": ["8443/tcp"]}
        roles = ["web", "unknown-role"]

    assert baselines.allowed_port_specs(Host(), baselines.ROLE_PORTS) == [22, "8443/tcp", 80, 443]


def test_weak_algorithms_match_globs_case_insensitively_in_order():
    algos = ["AES128-CBC", "aes256-gcm@openssh.com", "3des-cbc", "chacha20-poly1305@openssh.com"]
    assert baselines.weak_algorithms(algos, ["*-cbc*"]) == ["AES128-CBC", "3des-cbc"]
    assert baselines.weak_algorithms(algos, []) == []
