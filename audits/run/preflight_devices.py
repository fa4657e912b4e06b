"""``auditctl preflight`` for a network device: the same columns as a Linux host, checked the device's
way — never the Linux check script (a device must receive nothing but its allow-list).

- saved configuration (``config:``): ``preflight.check_device`` (the file is read, bounded);
- live: the SSH port answers; one read-only session (``devicecli.collect``) runs the configuration
  command only: host key (never recorded by preflight), login, and whether the account's level/role
  may read the configuration (the ``sudo`` column); the fix names ``auditctl device-role``.
"""
from __future__ import annotations

import dataclasses
import time

from audits.collect.transports.base import Unreachable
from audits.model.inventory import Host


def check_live_device(host: Host, platform, options: dict | None = None):
    from audits.run.preflight import HostReport, _reach

    s = host.settings
    r = HostReport(host.id, host.address or "-")
    r.programs = "n/a"
    if s.get("config"):  # the saved-file check of the device platform (preflight.check_device)
        from audits.run.preflight import check_device as check_saved

        return check_saved(host)
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
