"""What the network view may scan: per school, its declared subnets and its declared hosts' addresses.

A ``Scope`` is built only from the inventory (``school_scope``); its targets are ``ipaddress``
objects, so a scan target outside what the school declared cannot be written (``Scope.targets``
re-checks every target against the declared set before nmap sees it). Host names are resolved
once here; a name that does not resolve is reported, never scanned.
"""
from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass, field

from audits.model.inventory import Host, Inventory


class OutOfScope(ValueError):
    """A target that the school did not declare."""


@dataclass
class Scope:
    school: str
    networks: tuple  # ipaddress networks
    hosts: dict[str, str] = field(default_factory=dict)  # declared host id -> IP address scanned
    unresolved: dict[str, str] = field(default_factory=dict)  # host id -> why its name gave no address
    # what the inventory declares for the school, captured when the scope is built: the last guard
    declared_networks: frozenset = frozenset()
    declared_hosts: frozenset = frozenset()

    def allows(self, address: str) -> bool:
        ip = ipaddress.ip_address(address)
        return any(ip in n for n in self.networks) or address in self.hosts.values()

    def targets(self) -> list[str]:
        """nmap target strings: the declared subnets, then declared host addresses outside them."""
        out = [str(n) for n in self.networks]
        for addr in sorted(set(self.hosts.values()), key=ipaddress.ip_address):
            if not any(ipaddress.ip_address(addr) in n for n in self.networks):
                out.append(str(ipaddress.ip_address(addr)))
        hosts = {a for h, a in self.hosts.items() if h in self.declared_hosts}
        for t in out:  # the last guard before a command line is built
            if t not in self.declared_networks and t not in hosts:
                raise OutOfScope(f"{t} is not declared for school {self.school}")
        return out


def resolve(address: str) -> tuple[str | None, str]:
    """(IP, '') for an IP or a resolvable name, else (None, reason)."""
    try:
        return str(ipaddress.ip_address(address)), ""
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(address, None, proto=socket.IPPROTO_TCP)
    except OSError as exc:
        return None, f"name {address} does not resolve: {exc}"
    v4 = [i[4][0] for i in infos if i[0] == socket.AF_INET]
    return (v4 or [infos[0][4][0]])[0], ""


def school_scope(inv: Inventory, school_id: str, hosts: list[Host]) -> Scope:
    """The scope of one school: the addresses of the given (selected) hosts, and its ``networks:`` when
    every host of the school is selected (a ``--limit`` to some hosts scans only those hosts)."""
    school = inv.schools[school_id]
    whole = {h.id for h in hosts} >= set(school.hosts)
    scope = Scope(school_id, tuple(ipaddress.ip_network(n) for n in school.networks) if whole else (),
                  declared_networks=frozenset(school.networks), declared_hosts=frozenset(school.hosts))
    for h in hosts:
        if h.school != school_id:
            raise OutOfScope(f"host {h.id} belongs to school {h.school}, not {school_id}")
        ip, why = resolve(h.address)
        if ip is None:
            scope.unresolved[h.id] = why
        else:
            scope.hosts[h.id] = ip
    return scope


def scopes(inv: Inventory, hosts: list[Host]) -> list[Scope]:
    """One scope per school of the selected hosts."""
    by_school: dict[str, list[Host]] = {}
    for h in hosts:
        by_school.setdefault(h.school, []).append(h)
    return [school_scope(inv, s, hs) for s, hs in sorted(by_school.items())]
