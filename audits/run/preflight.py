"""``auditctl preflight``: is each host ready to be audited? Checked without auditing, per host:

- reach: the SSH port answers (a host behind a jump host is reached through it);
- key: the host key is known (known_hosts or pinned ``host_keys``), never recorded by preflight;
- login: the audit user logs in;
- sudo: ``sudo -n`` allows each read-only command the chosen packs run as root (``sudo -n -l CMD``),
  and the missing ones are named; a sudo that allows everything is flagged as more than needed;
- programs: the programs the packs run are installed (for the host's OS family, read from the host).

A network device (``platform: huawei-vrp`` …) is checked its own way (``check_live_device``): a saved
configuration is read; a live device gets one read-only session running only its configuration command
(its level/role in the ``sudo`` column) — never the check script below.

Each problem comes with the command that fixes it. The result is a table and an exit code (0 all
ready, 1 something to fix).
"""
from __future__ import annotations

import dataclasses
import shlex
import socket
import time
from dataclasses import dataclass, field

from audits.collect.transports.base import Transport, Unreachable
from audits.model.evaluation import gather_plan
from audits.model.inventory import Host
from audits.model.probes import sudo_argv

MARK = "AUDITCTL-PREFLIGHT"
REQUIRED = ("bash", "sudo")  # the batched probe script runs in bash; root commands go through sudo -n
_PLAIN = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.+-/")


@dataclass
class HostReport:
    host: str
    address: str
    reach: str = "-"
    key: str = "-"
    login: str = "-"
    sudo: str = "-"
    programs: str = "-"
    problems: list[tuple[str, str]] = field(default_factory=list)  # (what is wrong, the command that fixes it)
    notes: list[str] = field(default_factory=list)  # worth knowing, nothing to fix

    @property
    def ok(self) -> bool:
        return not self.problems

    def row(self) -> list[str]:
        return [self.host, self.address, self.reach, self.key, self.login, self.sudo, self.programs]


COLUMNS = ["host", "address", "reach", "key", "login", "sudo", "programs"]


def needs(checks, host: Host) -> tuple[list[list[str]], list[str]]:
    """(argv of each command run under sudo, programs run) for the host's OS family."""
    sudo_cmds, programs = [], set()
    for probe in sorted(gather_plan(checks, host)):
        if probe.kind != "command" and not probe.sudo:
            continue
        if probe.sudo:
            try:
                argv = sudo_argv(probe)
            except ValueError:
                continue
            if argv not in sudo_cmds:
                sudo_cmds.append(argv)
            programs.add(argv[0])
            continue
        try:
            first = shlex.split(probe.arg)[0]
        except (ValueError, IndexError):
            continue
        if set(first) <= _PLAIN and "=" not in first and not first.startswith("-"):
            programs.add(first)
    shell_words = {"test", "echo", "printf", "true", "false", "cd", "command", "[", "for", "if", "set", "export"}
    return sudo_cmds, sorted(programs - shell_words)


def script(sudo_cmds: list[list[str]], programs: list[str], use_sudo: bool) -> str:
    q = shlex.quote
    lines = ["export LC_ALL=C PATH=\"$PATH:/usr/local/sbin:/usr/sbin:/sbin\"", f"echo {MARK}-OS", "cat /etc/os-release 2>/dev/null", f"echo {MARK}-ID $(id -u)"]
    for p in programs:
        lines.append(f"command -v {q(p)} >/dev/null 2>&1 || echo {MARK}-MISSING {q(p)}")
    if use_sudo:
        lines.append(f"if [ \"$(id -u)\" != 0 ]; then")
        lines.append(f"  sudo -n -l 2>/dev/null | grep -Eq '\\(ALL( : ALL)?\\) (NOPASSWD: )?ALL$' && echo {MARK}-SUDO-ALL")
        for i, argv in enumerate(sudo_cmds):
            lines.append(f"  sudo -n -l -- {' '.join(q(a) for a in argv)} >/dev/null 2>&1 || echo {MARK}-DENIED {i}")
        lines.append("fi")
    lines.append(f"echo {MARK}-END")
    return "\n".join(lines) + "\n"


def _reach(host: Host, timeout: float) -> str | None:
    """None when the SSH port answers, else why not."""
    try:
        with socket.create_connection((host.address, int(host.settings.get("port", 22))), timeout=timeout):
            return None
    except OSError as exc:
        return exc.strerror or str(exc) or type(exc).__name__


def check_device(host: Host) -> HostReport:
    """A network device: its saved configuration readable (``config:``), or its SSH port answering; the live
    session itself (login, paging, allowed commands) is checked by the run, never by sending anything here."""
    r = HostReport(host.id, host.address, key="n/a", sudo="n/a", programs="n/a")
    if host.settings.get("config"):
        from audits.collect.transports.savedconfig import SavedConfigTransport

        r.reach = r.login = "file"
        try:
            SavedConfigTransport(host, {}).read()
        except Unreachable as exc:
            r.problems.append((f"saved configuration: {exc.detail}",
                               "export it again (display current-configuration / show running-config) as a regular "
                               "file of at most 4 MiB"))
        return r
    port = int(host.settings.get("port", 22))
    why = _reach(host, float(host.settings.get("connect_timeout", 10)))
    if why:
        r.reach = "no"
        r.problems.append((f"{host.address}:{port} does not answer ({why})", f"nc -vz {host.address} {port}"))
        return r
    r.reach, r.login = "ok", "at run"
    r.notes.append("the device's login and read-only commands are checked by the run's read-only CLI session")
    return r


def check_live_device(host: Host, platform, options: dict | None = None) -> HostReport:
    """A device for ``auditctl preflight``: a saved configuration by ``check_device``; a live device by one
    read-only session (``devicecli.collect``) running only its configuration command — host key (never
    recorded), login, whether the account's level/role may read the configuration (the ``sudo`` column;
    the fix names ``auditctl device-role``). Never the Linux check script."""
    s = host.settings
    r = HostReport(host.id, host.address or "-")
    r.programs = "n/a"
    if s.get("config"):  # the saved-file check of the device platform (preflight.check_device)
        return check_device(host)
    if host.connection == "none":
        r.reach = r.key = r.login = r.sudo = "n/a"
        return r
    port, user = int(s.get("port", 22)), s.get("user") or "audit"
    if s.get("jump"):
        r.reach = "via jump"
    else:
        why = _reach(host, float(s.get("connect_timeout", 10)))
        if why:
            r.reach = "no"
            r.problems.append((f"{host.address}:{port} does not answer ({why})",
                               f"check the address and port, the device's SSH server (stelnet / ssh server enable) "
                               f"and firewalls: nc -vz {host.address} {port}"))
            return r
        r.reach = "ok"
    from audits.collect.device_commands import for_platform
    from audits.collect.transports.devicecli import collect

    probe_host = dataclasses.replace(host, settings={**s, "trust_on_first_use": False})
    command = for_platform(platform.name).config_command
    try:
        out = collect(probe_host, dict(options or {}), [command],
                      time.monotonic() + float(s.get("host_timeout", 120)))
    except Unreachable as exc:
        known = s.get("known_hosts") or (options or {}).get("known_hosts") or "~/.ssh/known_hosts"
        if exc.reason == "host_key_unknown":
            r.key = "unknown"
            r.problems.append((f"host key not known: {exc.detail}",
                               f"ssh-keyscan -p {port} {host.address} >> {known}   (first compare the fingerprint with "
                               "the device's own, on its console), or pin it: host_keys: ['ssh-rsa AAAA...']"))
        elif exc.reason == "host_key_changed":
            r.key = "CHANGED"
            r.problems.append((f"host key differs from the known one: {exc.detail}",
                               f"check the key on the device's console; only if it was regenerated: "
                               f"ssh-keygen -R '[{host.address}]:{port}' -f {known}"))
        elif exc.reason == "auth_failed":
            r.key, r.login = "ok", "no"
            r.problems.append((f"login as {user} failed: {exc.detail}",
                               f"create the audit account: auditctl device-role --platform {platform.name} --user {user}"))
        elif exc.reason == "sudo_denied":
            r.key, r.login, r.sudo = "ok", "ok", "level too low"
            r.problems.append((exc.detail, f"auditctl device-role --platform {platform.name} --user {user}"))
        else:
            r.login = "no"
            r.problems.append((f"cannot open a read-only session ({exc.reason}): {exc.detail}",
                               f"ssh -p {port} {user}@{host.address}   (to see the device's prompt and messages)"))
        return r
    r.key, r.login, r.sudo = "ok", "ok", "ok"
    meta = out.meta
    if meta.get("legacy_ssh"):
        r.notes.append("reachable only with legacy SSH algorithms (SHA-1 key exchange / ssh-rsa): the system OpenSSH "
                       "client is used and fleet.ssh.legacy_algorithms reports it")
    if meta.get("paging_fallback"):
        r.notes.append("the paging-off command did not stop the pager; pages are answered with a space")
    for answered in meta.get("answered", []):
        r.notes.append(f"answered no at login: {answered}")
    return r


def check_host(host: Host, checks, packs: str, transport_for, options: dict | None = None) -> HostReport:
    """One host's readiness. ``transport_for(host, options)`` gives an unopened transport."""
    s = host.settings
    r = HostReport(host.id, host.address)
    port, user = int(s.get("port", 22)), s.get("user") or "audit"
    if host.connection == "none":
        r.reach = r.key = r.login = r.sudo = r.programs = "n/a"
        return r
    # preflight never records a host key: trust on first use is for the run itself
    probe_host = dataclasses.replace(host, settings={**s, "trust_on_first_use": False})
    if host.connection == "ssh":
        if s.get("jump"):
            r.reach = "via jump"
        else:
            why = _reach(host, float(s.get("connect_timeout", 10)))
            if why:
                r.reach = "no"
                r.problems.append((f"{host.address}:{port} does not answer ({why})",
                                   f"check the address and port in the inventory, then the host and firewalls: "
                                   f"nc -vz {host.address} {port}"))
                return r
            r.reach = "ok"
    else:
        r.reach = r.key = "local"
    transport: Transport = transport_for(probe_host, dict(options or {}))
    try:
        try:
            transport.open()
        except Unreachable as exc:
            known = getattr(transport, "known_hosts", "~/.ssh/known_hosts")
            if exc.reason == "host_key_unknown":
                r.key = "unknown"
                r.problems.append((f"host key not known: {exc.detail}",
                                   f"ssh-keyscan -p {port} {host.address} >> {known}   (first compare the fingerprint "
                                   f"with `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on the host), or pin it in "
                                   f"the inventory: host_keys: ['ssh-ed25519 AAAA...']"))
            elif exc.reason == "host_key_changed":
                r.key = "CHANGED"
                r.problems.append((f"host key differs from the known one: {exc.detail}",
                                   f"check the key on the host's console; only if it was reinstalled: "
                                   f"ssh-keygen -R '[{host.address}]:{port}' -f {known}"))
            elif exc.reason == "auth_failed":
                r.key, r.login = "ok", "no"
                key = s.get("key_file") or "~/.ssh/id_ed25519"
                r.problems.append((f"login as {user} failed: {exc.detail}",
                                   f"ssh-copy-id -i {key}.pub -p {port} {user}@{host.address}"))
            else:
                r.login = "no"
                r.problems.append((f"cannot connect ({exc.reason}): {exc.detail}",
                                   f"ssh -p {port} {user}@{host.address} true   (to see the error)"))
            return r
        if host.connection == "ssh":
            r.key = "ok"
        r.login = "ok"
        return _on_host(r, host, transport, checks, packs)
    finally:
        transport.close()


def _on_host(r: HostReport, host: Host, transport: Transport, checks, packs: str) -> HostReport:
    from checks.parsers.common import os_family

    use_sudo = bool(host.settings.get("sudo"))
    # the commands of every family the host might be; the host's own os-release decides which count
    family_hosts = {f: dataclasses.replace(host, settings={**host.settings, "os": f}) for f in ("debian", "rhel")}
    if host.os not in ("auto", "linux"):
        family_hosts = {host.os: host}
    needed = {f: needs(checks, h) for f, h in family_hosts.items()}
    all_sudo = [a for f in needed for a in needed[f][0]]
    all_sudo = [a for i, a in enumerate(all_sudo) if a not in all_sudo[:i]]
    all_programs = sorted({p for f in needed for p in needed[f][1]} | set(REQUIRED))
    try:
        raw = transport.run_script(script(all_sudo, all_programs, use_sudo),
                                   float(host.settings.get("host_timeout", 120)))
    except Unreachable as exc:
        r.sudo = r.programs = "?"
        r.problems.append((f"the check script did not run ({exc.reason}): {exc.detail}",
                           f"ssh {host.settings.get('user') or 'audit'}@{host.address} 'echo ok'"))
        return r
    text = raw.decode("utf-8", "replace")
    if f"{MARK}-END" not in text:
        r.sudo = r.programs = "?"
        r.problems.append(("the check script's output was cut short", "run `auditctl preflight` again with a "
                           "longer host_timeout"))
        return r
    os_text = text.split(f"{MARK}-OS", 1)[1].split(f"{MARK}-ID", 1)[0]
    fam = host.os if host.os not in ("auto", "linux") else (os_family(os_text) or "debian")
    if fam not in needed:
        fam = next(iter(needed))
    sudo_cmds, programs = needed[fam]
    marks = [line.split(" ", 1) for line in text.splitlines() if line.startswith(MARK)]
    uid = next((m[1].strip() for m in marks if m[0] == f"{MARK}-ID" and len(m) > 1), "")
    missing = sorted({m[1].strip() for m in marks if m[0] == f"{MARK}-MISSING" and len(m) > 1} & set(programs))
    denied_idx = {int(m[1]) for m in marks if m[0] == f"{MARK}-DENIED" and len(m) > 1 and m[1].strip().isdigit()}
    # sudo -l cannot allow a program that is not installed: that is the programs column's business
    absent = {m[1].strip() for m in marks if m[0] == f"{MARK}-MISSING" and len(m) > 1}
    denied = [all_sudo[i] for i in sorted(denied_idx) if i < len(all_sudo) and all_sudo[i] in sudo_cmds
              and all_sudo[i][0] not in absent]
    user = host.settings.get("user") or "audit"
    pm = "apt-get install" if fam == "debian" else "dnf install"
    required = sorted({m[1].strip() for m in marks if m[0] == f"{MARK}-MISSING" and len(m) > 1} & set(REQUIRED)
                      - ({"sudo"} if uid == "0" or not use_sudo else set()))
    if required:
        r.programs = "missing " + ", ".join(required)
        r.problems.append((f"the audit itself needs {', '.join(required)} on the host", f"{pm} {' '.join(required)}"))
    elif missing:
        # absent tools are evidence the checks judge (no firewall tool, no time sync daemon), not a fault
        r.programs = f"ok ({len(missing)} absent)"
        r.notes.append(f"not installed (the checks that use them judge their absence): {', '.join(missing)}")
    else:
        r.programs = "ok"
    if uid == "0":
        r.sudo = "root"
    elif not use_sudo:
        r.sudo = "off"
        if sudo_cmds:
            r.problems.append((f"sudo: false, and the packs run {len(sudo_cmds)} commands as root (they would "
                               "report error)", "set sudo: true for the host and install the sudoers fragment: "
                               f"auditctl sudoers --packs {packs} --user {user}"))
    elif denied:
        r.sudo = f"{len(denied)} of {len(sudo_cmds)} denied"
        shown = "; ".join(" ".join(a) for a in denied[:5]) + (" ..." if len(denied) > 5 else "")
        r.problems.append((f"sudo -n denies {len(denied)} command(s) the packs need: {shown}",
                           f"auditctl sudoers --packs {packs} --user {user} > auditctl-{user}  then on "
                           f"{host.address}: visudo -cf auditctl-{user} && install -m 0440 auditctl-{user} "
                           f"/etc/sudoers.d/auditctl-{user}"))
    elif any(m[0] == f"{MARK}-SUDO-ALL" for m in marks):
        r.sudo = "ALL (more than needed)"
        r.problems.append((f"{user} may run any command as root: more than the audit needs",
                           f"replace that rule with exactly the packs' commands: auditctl sudoers --packs {packs} "
                           f"--user {user}"))
    else:
        r.sudo = "ok"
    return r


# -- auditctl preflight -------------------------------------------------------------------------
def table(reports: list[HostReport]) -> str:
    rows = [COLUMNS] + [r.row() for r in reports]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows) + "\n"


def add_parser(sub) -> None:
    p = sub.add_parser("preflight", help="check each host is ready to audit (reach, host key, login, sudo, programs)")
    p.add_argument("-i", "--inventory", required=True, help="inventory file or directory")
    p.add_argument("--limit", help="only these hosts (ids, schools, districts, roles or globs)")
    p.add_argument("--packs", help="comma-separated packs whose commands count (default: all)")
    p.add_argument("--vault", metavar="FILE", help="vault file for {vault: NAME} references")
    p.add_argument("--vault-password-file", metavar="FILE", help="read the vault passphrase from FILE")
    p.set_defaults(func=cmd_preflight)


def cmd_preflight(args) -> int:
    import sys

    from audits.inventory.load import load_inventory
    from audits.model.inventory import DEVICE_PLATFORMS
    from audits.run.platforms import platform_for
    from audits.trust.vault import unlock_inventory
    from checks.registry import load_registry

    inv = load_inventory(args.inventory)
    unlock_inventory(inv, args.vault, args.vault_password_file)
    packs = [p.strip() for p in args.packs.split(",") if p.strip()] if args.packs else None
    checks = load_registry().select(packs)
    pack_names = ",".join(packs) if packs else ",".join(sorted({c.pack for c in checks}))
    hosts = inv.select(args.limit)
    if not hosts:
        print(f"auditctl: --limit {args.limit!r} selects no host", file=sys.stderr)
        return 2
    reports = []
    for h in hosts:
        plat = platform_for(h)
        if h.platform in DEVICE_PLATFORMS:  # a device gets its own read-only session, never the check script
            reports.append(check_live_device(h, plat))
            continue
        reports.append(check_host(h, [c for c in checks if plat.applies(c)], pack_names, plat.transport))
    sys.stdout.write(table(reports))
    bad = [r for r in reports if not r.ok]
    for r in reports:
        for note in r.notes:
            print(f"\n{r.host}: {note}")
    for r in bad:
        for what, fix in r.problems:
            print(f"\n{r.host}: {what}\n  fix: {fix}")
    print(f"\n{len(reports) - len(bad)} of {len(reports)} host(s) ready" + (f"; {len(bad)} to fix" if bad else ""))
    return 1 if bad else 0
