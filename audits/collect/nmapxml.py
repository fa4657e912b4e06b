"""nmap XML → network facts, the same for a scan we ran and for an imported file (``--nmap-xml``).

python-nmap parses hosts, ports, services and script text; one more ElementTree pass over the same
bytes picks what its dict leaves out (a service's ``tunnel="ssl"``, a certificate's PEM from the
structured script output). Every byte is hostile: the document is size-capped, parsed first by
defusedxml, which refuses entity declarations and external references in whatever encoding the
document declares (a byte search for ``<!ENTITY`` missed UTF-16), and hosts, ports and script
outputs are capped before anything keeps them.
"""
from __future__ import annotations

import ipaddress
import xml.etree.ElementTree as ET

import defusedxml
import defusedxml.ElementTree as SafeET

from audits.model.errors import InputError, Problem

XML_CAP = 64 * 1024 * 1024
SCRIPT_CAP = 16 * 1024
PEM_CAP = 16 * 1024
MAX_HOSTS = 65536
MAX_PORTS = 2000  # per host
_FIELD_CAP = 200


def _cap(text, n=_FIELD_CAP) -> str:
    text = str(text or "").replace("\x00", "")
    return text if len(text) <= n else text[:n]


def _started(epoch) -> str:
    """nmap's start time (seconds since 1970) as UTC ISO, or '' when absent or nonsense."""
    import datetime as dt

    try:
        return dt.datetime.fromtimestamp(int(epoch), dt.timezone.utc).isoformat().replace("+00:00", "Z")
    except (TypeError, ValueError, OverflowError, OSError):
        return ""


class NmapXMLError(ValueError):
    pass


def _extras(root) -> tuple[dict[tuple[str, str, int], dict], dict]:
    """What python-nmap does not keep: (address, proto, port) -> {tunnel, pem}, and the run's attributes."""
    out: dict[tuple[str, str, int], dict] = {}
    info = {"nmap_version": _cap(root.get("version"), 20), "args": _cap(root.get("args"), 500),
            "started": _started(root.get("start"))}
    finished = root.find("runstats/finished")
    if finished is not None and finished.get("exit") == "error":  # nmap quit (bad option, privileges, ...)
        info["error"] = _cap(finished.get("errormsg") or "nmap exited with an error", 300)
    for host in root.iter("host"):
        addrs = [a.get("addr", "") for a in host.findall("address") if a.get("addrtype") in ("ipv4", "ipv6")]
        if not addrs:
            continue
        for port in host.findall("ports/port"):
            try:
                key = (addrs[0], port.get("protocol", ""), int(port.get("portid", "0")))
            except ValueError:
                continue
            extra: dict = {}
            svc = port.find("service")
            if svc is not None and svc.get("tunnel"):
                extra["tunnel"] = _cap(svc.get("tunnel"), 20)
            for script in port.findall("script"):
                if script.get("id") == "ssl-cert":
                    for elem in script.iter("elem"):
                        if elem.get("key") == "pem" and elem.text:
                            extra["pem"] = elem.text[:PEM_CAP]
            if extra:
                out[key] = extra
    return out, info


def parse(data: bytes) -> tuple[dict[str, dict], dict]:
    """(address -> {state, reason, hostname, ports: [...]}, run info); raises NmapXMLError on a bad document."""
    if len(data) > XML_CAP:
        raise NmapXMLError(f"larger than {XML_CAP // (1024 * 1024)} MiB")
    try:  # defusedxml first: entities and external references are refused in any encoding, before
        # python-nmap (plain ElementTree) sees the bytes
        root = SafeET.fromstring(data, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except defusedxml.DefusedXmlException:
        raise NmapXMLError("declares XML entities or external references (nmap never does); refused") from None
    except (ET.ParseError, ValueError, TypeError) as exc:
        raise NmapXMLError(f"cannot be read as nmap XML: {str(exc)[:200]}") from None
    if root.tag != "nmaprun":
        raise NmapXMLError("not an nmap XML document (no <nmaprun> element; write it with nmap -oX FILE)")
    import nmap  # python-nmap (and the multiprocessing it imports) only when nmap XML is read

    try:
        extras, info = _extras(root)
        if info.get("error"):  # nmap quit before scanning: there are no hosts to read
            return {}, info
        result = nmap.PortScanner.__new__(nmap.PortScanner).analyse_nmap_xml_scan(nmap_xml_output=data)
    except (nmap.PortScannerError, ET.ParseError, ValueError, TypeError, AttributeError) as exc:
        raise NmapXMLError(f"cannot be read as nmap XML: {str(exc)[:200]}") from None
    hosts: dict[str, dict] = {}
    for addr, h in list(result.get("scan", {}).items())[:MAX_HOSTS]:
        try:
            addr = str(ipaddress.ip_address(addr))
        except ValueError:
            continue
        ports = []
        for proto in ("tcp", "udp"):
            for num, p in sorted((h.get(proto) or {}).items()):
                if len(ports) >= MAX_PORTS:
                    break
                extra = extras.get((addr, proto, int(num)), {})
                entry = {"port": int(num), "proto": proto, "state": _cap(p.get("state"), 20),
                         "service": _cap(p.get("name"), 40), "product": _cap(p.get("product")),
                         "version": _cap(p.get("version")), "tunnel": extra.get("tunnel", ""),
                         "scripts": {_cap(k, 60): _cap(v, SCRIPT_CAP) for k, v in (p.get("script") or {}).items()}}
                if "pem" in extra:
                    entry["pem"] = extra["pem"]
                ports.append(entry)
        names = [n.get("name", "") for n in h.get("hostnames", []) if n.get("name")]
        status = h.get("status", {})
        hosts[addr] = {"address": addr, "state": _cap(status.get("state"), 20), "reason": _cap(status.get("reason"), 40),
                       "hostname": _cap(names[0] if names else ""), "ports": ports}
    return hosts, info


def load_file(path) -> tuple[dict[str, dict], dict]:
    """An nmap XML file made elsewhere: (hosts, info). Bad input is an InputError naming the file."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(XML_CAP + 1)
    except OSError as exc:
        raise InputError([Problem(str(path), 0, "--nmap-xml", f"cannot read: {exc.strerror or exc}")]) from None
    try:
        hosts, info = parse(data)
    except NmapXMLError as exc:
        raise InputError([Problem(str(path), 0, "--nmap-xml", str(exc))]) from None
    if info.get("error"):
        raise InputError([Problem(str(path), 0, "--nmap-xml", f"the scan in this file failed: {info['error']}")])
    return hosts, {**info, "source": _cap(f"import {path}", 300)}
