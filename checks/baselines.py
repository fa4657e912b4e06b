"""Judgement data that checks of more than one pack share, so the host-side and the network view
judge alike: the weak SSH algorithm patterns (``mlps.confidentiality.ssh_*`` and
``network.ssh.weak_algorithms``), the ports each host role needs (``mlps.intrusion.undeclared_listeners``
and ``network.exposure.undeclared_ports``), the clauses both cite, and the matching rules over them.
"""
from __future__ import annotations

from fnmatch import fnmatchcase
from types import SimpleNamespace

SSH_REFS = ["GB/T 22239-2019 8.1.4.8 a", "GB/T 22239-2019 8.1.4.1 c", "GB/T 22239-2019 7.1.4.1 c"]
TRANSIT_INTEGRITY_REFS = ["GB/T 22239-2019 8.1.4.7 a", "GB/T 22239-2019 7.1.4.7 a"]

# Glob patterns (fnmatch, case-insensitive) per parameter name.
WEAK_SSH_ALGORITHMS = {
    "weak_kex": ["diffie-hellman-group1-sha1", "diffie-hellman-group14-sha1", "diffie-hellman-group-exchange-sha1",
                 "gss-*sha1*"],
    "weak_ciphers": ["*-cbc*", "3des*", "arcfour*", "blowfish*", "cast128*"],
    "weak_macs": ["hmac-md5*", "hmac-sha1-96*", "umac-64*", "hmac-ripemd160*"],
    "weak_hostkey_algorithms": ["ssh-dss*", "ssh-rsa", "ssh-rsa-cert-v01@openssh.com"],
}

# Port specs as the inventory writes them: a bare number is TCP and UDP, "123/udp" one protocol.
ROLE_PORTS = {
    "base_ports": [22],
    "role_ports": {"ssh": [22], "web": [80, 443], "proxy": [3128, 8080], "db": [1433, 1521, 3306, 5236, 5432, 54321],
                   "dns": [53], "mail": [25, 110, 143, 465, 587, 993, 995], "ntp": ["123/udp"],
                   "dhcp": ["67/udp"], "ldap": [389, 636], "syslog": [514, 6514], "file": [139, 445, 2049]},
    "client_udp_ports": [68, 546],
}


def param_defaults(params: dict) -> SimpleNamespace:
    """``params`` in the shape ``X.check.params`` that some ``@check`` decorators read (their text
    stays as written until the checks move to YAML)."""
    return SimpleNamespace(check=SimpleNamespace(params=params))


def weak_algorithms(algos: list[str], patterns) -> list[str]:
    """The algorithms matching one of the glob ``patterns`` (case-insensitive), in their order."""
    pats = [str(p).lower() for p in patterns]
    return [a for a in algos if any(fnmatchcase(a.lower(), p) for p in pats)]


def allowed_port_specs(host, params) -> list:
    """The port specs a host may expose: ``base_ports``, its own inventory ``ports:`` and its roles'
    ``role_ports`` (a role missing from the table allows nothing)."""
    specs = list(params["base_ports"]) + list((getattr(host, "settings", None) or {}).get("ports", []))
    mapping = params["role_ports"] or {}
    for role in getattr(host, "roles", []) or []:
        specs += mapping.get(role, []) or []
    return specs
