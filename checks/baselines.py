"""Judgement data that checks of more than one pack share, so the host-side and the network view
judge alike: the weak SSH algorithm patterns (``mlps.confidentiality.ssh_*`` and
``network.ssh.weak_algorithms``) and the ports each host role needs (``mlps.intrusion.undeclared_listeners``
and ``network.exposure.undeclared_ports``), as data in ``checks/baselines.yaml`` (checks take them with
``shared_params:``), and the matching rules over them.
"""
from __future__ import annotations

from fnmatch import fnmatchcase
from pathlib import Path

from audits.model import yamlsafe
from audits.model.once import once

BASELINES_FILE = Path(__file__).resolve().parent / "baselines.yaml"


@once
def shared_params() -> dict:
    """Every shared parameter's default, from checks/baselines.yaml."""
    return dict(yamlsafe.load_file(BASELINES_FILE)["params"])


WEAK_SSH_ALGORITHMS = {k: shared_params()[k] for k in ("weak_kex", "weak_ciphers", "weak_macs", "weak_hostkey_algorithms")}
ROLE_PORTS = {k: shared_params()[k] for k in ("base_ports", "role_ports", "client_udp_ports")}


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
