"""A starting inventory for a school (``auditctl init``): from an nmap scan or nmap XML of the school's
subnets, from an Ansible inventory, or an annotated template. The result is the native form, valid as
written, with every decision only the security officer can make marked ``TODO``: the systems the hosts
serve and each system's MLPS level (定级), backup and DR declarations, the ports a scan found open.

Live hosts with SSH (22/tcp open) become hosts; live hosts without SSH are listed as comments so that
nothing the scan saw is lost silently. Nothing is written unless the text validates.
"""
from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import re
import tempfile
from pathlib import Path

from audits.model.errors import InputError, Problem
from audits.model.inventory import IDENTIFIER

TODO = "TODO"
HEADER = """\
# Starting inventory for {school}, written by `auditctl init` on {date} from {source}.
# Lines marked TODO are decisions only you can make; the file validates as it is, so you can
# `auditctl preflight -i {file}` and `auditctl run -i {file}` at once, but the MLPS levels below are
# placeholders until you set them:
#   - which systems the hosts serve, and each system's MLPS level (定级, 1-4);
#   - backup: and dr: for each system (the backup and dr packs judge them; see docs/architecture.md);
#   - the ports each host should expose (ports: lists what a scan found open: keep what is intended).
"""

BACKUP_HINT = """\
            # TODO backup: how this system is backed up, e.g.
            # backup:
            #   hosts: [HOST-ID]
            #   targets: [{path: /srv/backup/NAME}]
            # TODO dr: (level 3) standby, plan review and drill dates; see docs/architecture.md
"""


def q(v) -> str:
    """A YAML scalar: JSON strings are YAML, and never read as another type."""
    return json.dumps(v, ensure_ascii=False)


def _id_from(name: str, address: str, taken: set) -> str:
    first = (name or "").split(".")[0]
    cand = first if first and IDENTIFIER.match(first) else "h-" + re.sub(r"[^0-9A-Za-z]", "-", address)
    cand = cand[:64].strip("-") or "host"
    out, n = cand, 2
    while out in taken:
        out = f"{cand[:60]}-{n}"
        n += 1
    taken.add(out)
    return out


def _check_ids(school: str, district: str):
    for what, v in (("--school", school), ("--district", district)):
        if not IDENTIFIER.match(v):
            raise InputError([Problem("(command line)", 0, what, f"{v!r} must be letters, digits, '.', '_' or '-' "
                                                                 "(at most 64)")])


def render(school: str, district: str, hosts: list[dict], networks: list[str], source: str, file: str,
           notes: list[str] = (), defaults: dict | None = None) -> str:
    """The inventory text. ``hosts``: {id, address, ports?, settings?, comment?}."""
    _check_ids(school, district)
    out = [HEADER.format(school=school, date=dt.date.today().isoformat(), source=source, file=file)]
    d = defaults or {"connection": "ssh", "user": "audit", "key_file": "~/.ssh/audit_ed25519", "sudo": True}
    out.append(f"bureau: {{id: {q(district)}, name: {q(district)}}}   # TODO: your bureau's id and name\n")
    out.append("defaults: {" + ", ".join(f"{k}: {q(v)}" for k, v in d.items()) + "}"
               "   # TODO: the audit account (auditctl sudoers prints its sudoers fragment)\n")
    out.append("districts:\n")
    out.append(f"  - id: {q(district)}\n    name: {q(district)}   # TODO: the district's name\n    schools:\n")
    out.append(f"      - id: {q(school)}\n        name: {q(school)}   # TODO: the school's name\n")
    if networks:
        out.append("        networks: [" + ", ".join(q(n) for n in networks) + "]   # TODO: confirm the subnets "
                   "`auditctl scan` may scan\n")
    out.append("        systems:\n")
    out.append("          - id: main\n            name: \"TODO: the system these hosts serve (e.g. 校园门户)\"\n"
               "            level: 2   # TODO: the MLPS level of this system (定级, 1-4); 2 is a placeholder\n")
    out.append(BACKUP_HINT)
    if hosts:
        out.append("        hosts:\n")
        for h in hosts:
            if h.get("comment"):
                out.append(f"          # {h['comment']}\n")
            fields = [f"id: {q(h['id'])}", f"address: {q(h['address'])}", "systems: [main]"]
            for k, v in (h.get("settings") or {}).items():
                fields.append(f"{k}: {json.dumps(v, ensure_ascii=False)}")
            line = "          - {" + ", ".join(fields) + "}"
            if h.get("ports"):
                line += f"\n            # TODO: confirm: found open by the scan: {', '.join(map(str, h['ports']))}"
            out.append(line + "\n")
    else:
        out.append("        hosts: []   # TODO: add hosts: - {id: web01, address: 10.0.0.10, systems: [main]}\n")
    for n in notes:
        out.append(f"# {n}\n")
    return "".join(out)


def from_nmap(scan_hosts: dict[str, dict], school: str, district: str, networks: list[str], source: str,
              file: str) -> str:
    hosts, notes, taken = [], [], set()
    for addr in sorted(scan_hosts, key=lambda a: ipaddress.ip_address(a)):
        h = scan_hosts[addr]
        if h.get("state") != "up":
            continue
        open_ports = [p for p in h.get("ports", []) if p.get("state") == "open"]
        specs = [p["port"] if p["proto"] == "tcp" else f"{p['port']}/udp" for p in open_ports]
        if not any(p["port"] == 22 and p["proto"] == "tcp" for p in open_ports):
            notes.append(f"TODO: live without SSH (not audited; add it if it is yours): {addr}"
                         + (f" ({h['hostname']})" if h.get("hostname") else "")
                         + (f", open: {', '.join(map(str, specs))}" if specs else ""))
            continue
        hid = _id_from(h.get("hostname", ""), addr, taken)
        hosts.append({"id": hid, "address": addr, "ports": specs,
                      "settings": {"ports": specs} if specs else {}})
    if not networks:
        nets = sorted({str(ipaddress.ip_network(f"{a}/24", strict=False)) for a in scan_hosts
                       if ipaddress.ip_address(a).version == 4})
        networks = nets
    return render(school, district, hosts, networks, source, file, notes)


def from_ansible(path, school: str, district: str, file: str) -> str:
    """An Ansible inventory's hosts (every school of it folded into one): address, port, user, sudo."""
    from audits.inventory.load import load_inventory

    inv = load_inventory(path)
    hosts, taken = [], set()
    for h in inv.hosts.values():
        s = {k: h.settings[k] for k in ("port", "user", "key_file", "connection", "sudo", "jump")
             if k in h.settings and not (k == "port" and h.settings[k] == 22)
             and not (k == "sudo" and h.settings[k] is False) and not (k == "connection" and h.settings[k] == "ssh")}
        taken.add(h.id)
        hosts.append({"id": h.id, "address": h.address, "settings": s,
                      "comment": f"from Ansible group '{h.school}'" if h.school != school else ""})
    return render(school, district, hosts, [], f"the Ansible inventory {path}", file,
                  defaults={"connection": "ssh", "user": "audit", "sudo": True})


def template(school: str, district: str, file: str) -> str:
    return render(school, district, [], [], "the annotated template", file)


def write_checked(text: str, out: Path, force: bool = False) -> None:
    """Write ``text`` to ``out`` only if it validates as an inventory (never half-written)."""
    from audits.inventory.load import load_inventory

    if out.exists() and not force:
        raise InputError([Problem(str(out), 0, "(file)", "exists already (use --force to replace it)")])
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".init-", suffix=".yaml", dir=out.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        load_inventory(tmp)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# -- auditctl init ------------------------------------------------------------------------------------
SCAN_PORTS = "22,23,80,443,445,3306,3389,5432,6379,8080,8443"


def scan(networks: list[str]) -> tuple[dict[str, dict], str]:
    """A quick nmap TCP connect scan of the school's subnets (each at most /16): hosts up, SSH and a few
    common ports."""
    import shutil
    import subprocess

    from audits.collect import nmapxml

    problems = []
    for i, n in enumerate(networks):
        try:
            net = ipaddress.ip_network(n, strict=False)
            if net.prefixlen < (16 if net.version == 4 else 112):
                problems.append(Problem("(command line)", 0, f"--scan[{i}]", f"{n} is too large: at most /16 per subnet"))
        except ValueError as exc:
            problems.append(Problem("(command line)", 0, f"--scan[{i}]", f"{n!r} is not a subnet: {exc}"))
    if problems:
        raise InputError(problems)
    if not shutil.which("nmap"):
        raise InputError([Problem("(command line)", 0, "--scan", "nmap is not installed (apt-get install nmap, "
                                  "dnf install nmap), or scan elsewhere and pass --nmap-xml FILE")])
    r = subprocess.run(["nmap", "-oX", "-", "-n", "-sT", "-PS22,80,443", "-p", SCAN_PORTS,
                        "--max-retries", "2", "--host-timeout", "60s", *networks], capture_output=True, timeout=3600)
    try:
        hosts, info = nmapxml.parse(r.stdout)
    except nmapxml.NmapXMLError as exc:
        raise InputError([Problem("(command line)", 0, "--scan", f"nmap failed: {exc}; "
                                  f"{r.stderr.decode(errors='replace')[:300]}")]) from None
    return hosts, f"an nmap scan of {', '.join(networks)}"


def add_parser(sub) -> None:
    p = sub.add_parser("init", help="write a school's starting inventory (from nmap, an Ansible inventory or a template)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--scan", nargs="+", metavar="SUBNET", help="nmap these subnets now (hosts with SSH become hosts)")
    src.add_argument("--nmap-xml", metavar="FILE", help="an nmap -oX file of the school's subnets")
    src.add_argument("--from-ansible", metavar="INVENTORY", help="an Ansible inventory (YAML or INI)")
    src.add_argument("--template", action="store_true", help="an annotated template to fill in")
    p.add_argument("--school", required=True, help="the school's id (letters, digits, '.', '_', '-')")
    p.add_argument("--district", default="district", help="the district's id (default: district)")
    p.add_argument("-o", "--output", required=True, help="the inventory file to write")
    p.add_argument("--force", action="store_true", help="replace the output file if it exists")
    p.set_defaults(func=cmd_init)


def cmd_init(args) -> int:
    import sys

    from audits.collect import nmapxml

    out = Path(args.output)
    _check_ids(args.school, args.district)
    if args.nmap_xml:
        hosts, _ = nmapxml.load_file(args.nmap_xml)
        text = from_nmap(hosts, args.school, args.district, [], f"the nmap XML {args.nmap_xml}", str(out))
    elif args.scan:
        hosts, source = scan(args.scan)
        text = from_nmap(hosts, args.school, args.district, list(args.scan), source, str(out))
    elif args.from_ansible:
        text = from_ansible(args.from_ansible, args.school, args.district, str(out))
    else:
        text = template(args.school, args.district, str(out))
    write_checked(text, out, args.force)
    todo = sum(1 for line in text.splitlines() if TODO in line)
    print(f"wrote {out}: {text.count('- {id:')} host(s), {todo} TODO line(s) for you to decide "
          f"(then: auditctl validate {out}; auditctl preflight -i {out})", file=sys.stderr)
    return 0
