"""The network stage: one bounded nmap scan per school (or one imported nmap XML), shared by the
checks of every host of that school.

``prepare`` scans each school's ``Scope`` (``audits/netscope.py``) once, before the host audits,
with a bounded packet rate (``--max-rate``), per-host time (``--host-timeout``) and overall time
(the nmap process is killed at the deadline), or reads ``--nmap-xml FILE`` instead (then no scan
runs; addresses in the file outside the declared scope are ignored). The result is a fact source:
``NetworkView.host_meta(host)`` goes into ``Facts.meta["network"]`` and network checks are pure
functions of it. School-level facts (live addresses, declared addresses) go to one synthetic host
per school, ``network@<school>`` (``segment_hosts``), whose results are stored like any host's.
"""
from __future__ import annotations

import ipaddress
import os
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from audits.collect import nmapxml
from audits.model.errors import InputError, Problem
from audits.model.inventory import DEFAULT_SETTINGS, SEGMENT_ROLE, Host, Inventory, Source, merge_settings, parse_port
from audits.collect.netscope import Scope, scopes

INSTALL_HINT = "install nmap (apt-get install nmap / dnf install nmap)"
SCAN_TYPES = ("auto", "syn", "connect")
# Ports every scan covers (the findings' ports); hosts' declared `ports:` are added.
BASE_TCP = (21, 22, 23, 25, 80, 110, 135, 139, 143, 389, 443, 445, 512, 513, 514, 873, 1433, 1521, 2049, 3306,
            3389, 5432, 5900, 5901, 5902, 5903, 5904, 5905, 5906, 5907, 5908, 5909, 5910, 6379, 8000, 8080, 8443,
            9200, 11211, 27017)
SCRIPTS = ("ssh2-enum-algos", "ssl-enum-ciphers", "ssl-cert", "http-headers", "redis-info",
           "ftp-anon", "mongodb-info", "memcached-info")  # services without credentials (issue #16): one read-only ask each
# Our own scripts (by path): HEAD / on the Elasticsearch ports without credentials (issue #16)
OWN_SCRIPTS = (str(Path(__file__).parent / "nse" / "campus-es-auth.nse"),)
SNMP_COMMUNITIES = ("public", "private")  # the tiny default-community list tried by snmp-brute


@dataclass
class ScanOptions:
    scan_type: str = "auto"      # auto: SYN as root, connect otherwise
    max_rate: int = 300          # packets per second
    host_timeout: int = 60       # seconds per host (nmap --host-timeout; a host that exceeds it loses its results)
    script_timeout: int = 20     # seconds per NSE script per port (a silent service cannot hold a script longer)
    timeout: int = 900           # seconds per school; the nmap process is killed then
    ports: tuple = ()            # extra ports, as 8081 or '161/udp'
    snmp: bool | None = None     # UDP 161 with snmp-brute; default: when the scan runs as root
    nmap_xml: str | None = None  # import this file instead of scanning

    def resolved_type(self) -> str:
        if self.scan_type != "auto":
            return self.scan_type
        return "syn" if _privileged() else "connect"


def _privileged() -> bool:
    return os.geteuid() == 0


@dataclass
class SchoolScan:
    scope: Scope
    hosts: dict[str, dict] = field(default_factory=dict)  # address -> nmapxml host facts
    info: dict = field(default_factory=dict)
    error: str | None = None
    udp: bool = False


def _port_lists(scope_hosts: list[Host], opts: ScanOptions) -> tuple[list[int], list[int]]:
    tcp, udp = set(BASE_TCP), set()
    for spec in [p for h in scope_hosts for p in h.settings.get("ports", [])] + list(opts.ports):
        num, proto = parse_port(spec)
        if num is not None:  # a port declared without a protocol is scanned on TCP
            (udp if proto == "udp" else tcp).add(num)
    return sorted(tcp), sorted(udp)


def nmap_arguments(opts: ScanOptions, tcp: list[int], udp: list[int], communities: str | None) -> tuple[str, str]:
    """(ports, arguments) for python-nmap; targets are passed separately, from the Scope only."""
    discovery = "-PS21,22,23,80,443,445,3389"  # host discovery also by TCP: many servers drop ping
    # -T4 and version intensity 0 (the NULL probe plus the probes meant for that port): a /24 with a silent
    # host takes ~45 s instead of ~75 s (docs/benchmarks.md); --max-rate still bounds the packet rate.
    args = (["-sS", "-PE", discovery, "-PA80"] if opts.resolved_type() == "syn" else ["-sT", discovery]) + [
        "-T4", "-sV", "--version-intensity", "0", "-n", "--max-retries", "2", "--max-rate", str(int(opts.max_rate)),
        "--host-timeout", f"{int(opts.host_timeout)}s", "--script-timeout", f"{int(opts.script_timeout)}s"]
    scripts = list(SCRIPTS) + list(OWN_SCRIPTS)
    if udp:
        args.append("-sU")
        if communities:
            scripts.append("snmp-brute")
            args += ["--script-args", f"snmp-brute.communitiesdb={communities}"]
    args += ["--script", ",".join(scripts)]
    ports = "T:" + ",".join(map(str, tcp)) + ("," + "U:" + ",".join(map(str, udp)) if udp else "")
    return ports, " ".join(args)


def preflight(opts: ScanOptions) -> None:
    """nmap present and allowed to do what was asked; otherwise an InputError that says what to do."""
    if opts.nmap_xml:
        return
    if not shutil.which("nmap"):
        raise InputError([Problem("nmap", 0, "network", f"nmap is not installed: {INSTALL_HINT}")])
    if opts.scan_type == "syn" and not _privileged():
        raise InputError([Problem("nmap", 0, "--scan-type", "a SYN scan needs root or CAP_NET_RAW: run auditctl as "
                                  "root, or use --scan-type connect (no UDP/SNMP probe then)")])
    if opts.snmp and not _privileged():
        raise InputError([Problem("nmap", 0, "network.snmp", "the SNMP probe is a UDP scan and needs root: run as "
                                  "root, or set snmp: false")])


def _privilege_error(text: str) -> bool:
    t = text.lower()
    return "requires root privileges" in t or "operation not permitted" in t or "dnet: failed to open device" in t


def scan_school(scope: Scope, hosts: list[Host], opts: ScanOptions) -> SchoolScan:
    """Run nmap once over the school's scope. Failures are recorded on the result, never raised."""
    import nmap

    out = SchoolScan(scope)
    targets = [t for t in scope.targets() if ipaddress.ip_network(t).version == 4]  # one nmap run, one family
    if not targets:
        out.error = "nothing to scan (no declared IPv4 address resolved; IPv6 is not scanned yet)"
        return out
    udp_wanted = opts.snmp if opts.snmp is not None else (opts.resolved_type() == "syn" and _privileged())
    tcp, udp = _port_lists(hosts, opts)
    if udp_wanted:
        udp = sorted(set(udp) | {161})
    elif opts.resolved_type() != "syn":
        udp = []  # a connect scan cannot probe UDP
    out.udp = bool(udp)
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="auditctl-nmap-") as tmp:
        communities = None
        if 161 in udp:
            communities = os.path.join(tmp, "communities.lst")
            with open(communities, "w", encoding="ascii") as fh:
                fh.write("\n".join(SNMP_COMMUNITIES) + "\n")
        ports, arguments = nmap_arguments(opts, tcp, udp, communities)
        try:
            scanner = nmap.PortScanner()
            scanner.scan(hosts=" ".join(targets), ports=ports, arguments=arguments, timeout=int(opts.timeout))
            data = scanner.get_nmap_last_output()
            data = data if isinstance(data, bytes) else str(data).encode()
            out.hosts, info = nmapxml.parse(data)
            if info.get("error"):
                raise nmap.PortScannerError(info["error"])
        except nmap.PortScannerTimeout:
            out.error = f"the scan was stopped at the overall timeout ({int(opts.timeout)} s)"
            return out
        except (nmap.PortScannerError, nmapxml.NmapXMLError) as exc:
            text = str(exc)
            out.error = ("nmap needs root or CAP_NET_RAW for this scan: run as root or use --scan-type connect"
                         if _privilege_error(text) else f"nmap failed: {text.strip()[:300]}")
            return out
    out.info = {**info, "source": "scan", "seconds": round(time.monotonic() - t0, 2), "targets": targets}
    return out


def import_school(scope: Scope, hosts: dict[str, dict], info: dict) -> SchoolScan:
    """The part of an imported scan that lies in the school's scope; the rest is never judged."""
    inside = {a: h for a, h in hosts.items() if scope.allows(a)}
    out = SchoolScan(scope, inside, {**info, "ignored_outside_scope": len(hosts) - len(inside)})
    out.udp = any(p["proto"] == "udp" for h in inside.values() for p in h["ports"])
    return out


@dataclass
class NetworkView:
    schools: dict[str, SchoolScan] = field(default_factory=dict)
    segments: dict[str, dict] = field(default_factory=dict)  # synthetic host id -> its school-level facts

    def meta_for(self, host: Host) -> dict:
        """What goes into the host's ``Facts.meta``: ``network`` (a declared host) or ``network_school``."""
        if host.id in self.segments:
            return {"network_school": self.segments[host.id]}
        return {"network": self.host_meta(host)}

    def host_meta(self, host: Host) -> dict:
        sc = self.schools.get(host.school)
        if sc is None:
            return {"scanned": False, "error": "the school was not scanned"}
        if host.id in sc.scope.unresolved:
            return {"scanned": False, "error": sc.scope.unresolved[host.id]}
        if sc.error:
            return {"scanned": False, "error": sc.error}
        addr = sc.scope.hosts.get(host.id)
        if addr and ipaddress.ip_address(addr).version == 6:
            return {"scanned": False, "error": f"{addr}: IPv6 addresses are not scanned yet"}
        seen = sc.hosts.get(addr)
        base = {"scanned": True, "address": addr, "udp": sc.udp, "source": sc.info.get("source", ""),
                "scanned_at": sc.info.get("started", "")}
        if seen is None or seen.get("state") != "up":
            return {**base, "state": "down", "reason": (seen or {}).get("reason", "no answer"), "ports": []}
        return {**base, "state": "up", "reason": seen.get("reason", ""), "ports": seen["ports"]}

    def segment_hosts(self, inv: Inventory) -> list[Host]:
        """One synthetic host per school whose subnets were scanned (its facts kept in ``segments``)."""
        out = []
        for sid, sc in sorted(self.schools.items()):
            if not sc.scope.networks:
                continue
            school = inv.schools[sid]
            levels = [s.level for s in school.systems.values() if s.level]
            nets = [str(n) for n in sc.scope.networks]
            settings = merge_settings(DEFAULT_SETTINGS, {"connection": "none", "roles": [SEGMENT_ROLE]})
            district = inv.districts.get(school.district)
            host = Host(f"network@{sid}", ",".join(nets)[:255], sid, school.district, [], max(levels or [2]),
                        settings, Source(school.source.file, school.source.line), f"{school.name} 网段",
                        school_name=school.name, district_name=district.name if district else "")
            live = [{"address": a, "ports": [f"{p['port']}/{p['proto']}" for p in h["ports"] if p["state"] == "open"]}
                    for a, h in sorted(sc.hosts.items()) if h.get("state") == "up"]
            meta = {"scanned": sc.error is None, "error": sc.error, "networks": nets,
                    "declared": dict(sorted(sc.scope.hosts.items())), "live": live,
                    "source": sc.info.get("source", "")}
            self.segments[host.id] = meta
            out.append(host)
        return out


def prepare(inv: Inventory, hosts: list[Host], opts: ScanOptions, parallel: int = 4) -> NetworkView:
    """Scan (or import) every school of the selected hosts once. Bad options raise InputError first."""
    preflight(opts)
    view = NetworkView()
    all_scopes = scopes(inv, [h for h in hosts if not h.id.startswith("network@")])
    by_school = {s.school: [h for h in hosts if h.school == s.school] for s in all_scopes}
    if opts.nmap_xml:
        imported, info = nmapxml.load_file(opts.nmap_xml)
        for s in all_scopes:
            view.schools[s.school] = import_school(s, imported, info)
        return view
    with ThreadPoolExecutor(max_workers=max(1, min(parallel, len(all_scopes)))) as pool:
        for res in pool.map(lambda s: scan_school(s, by_school[s.school], opts), all_scopes):
            view.schools[res.scope.school] = res
    return view
