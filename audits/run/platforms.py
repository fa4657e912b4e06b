"""Platforms: what differs between kinds of host. A ``Platform`` chooses a host's transport, how its
probes are gathered in one exchange (script builder and parser) and which packs apply to it. The
runner asks the host's platform (inventory ``platform:``, default ``linux``) and hard-codes none of
this: ``linux`` (every pack but the device ones) and the network-device platforms ``huawei-vrp``,
``h3c-comware``, ``ruijie-rgos``, ``cisco-ios`` (devices, fleet and network packs).
"""
from __future__ import annotations

import time
from typing import Iterable

from checks.contract import Check

from audits.collect.script import build_script, new_nonce, output_budget, parse_output
from audits.collect.transports.base import Transport, Unreachable
from audits.model import inventory
from audits.model.inventory import Host
from audits.model.probes import Facts, Probe


class Platform:
    """The interface. ``packs`` None means every pack applies."""

    name = ""
    packs: tuple[str, ...] | None = None

    def applies(self, check: Check) -> bool:
        return self.packs is None or check.pack in self.packs

    def connect(self, host: Host, options: dict) -> Transport:
        """An opened transport to the host; raises Unreachable."""
        raise NotImplementedError

    def exchange(self, transport: Transport, host: Host, probes: Iterable[Probe]) -> Facts:
        """Gather every probe over the opened transport in one exchange; raises Unreachable."""
        raise NotImplementedError


# Packs that judge only network devices; the device platforms' packs (fleet: the SSH connection of a live
# device; network: the scan of its address — both judge a device like any other host).
DEVICE_PACKS = ("devices",)


class _LiveDevice(Transport):
    """A live device: the read-only interactive CLI session of ``audits.collect.transports.devicecli``
    (branch devices-live), opened by ``exchange``; this object only carries its metadata."""

    name = "devicecli"

    def open(self) -> None:
        self.meta["connection"] = "ssh"

    def is_root(self) -> bool:
        return False


class Device(Platform):
    """A network device (Huawei VRP, H3C Comware, Ruijie RGOS, Cisco IOS): its facts are the outputs of the
    platform's read-only commands (``checks.parsers.devices.COMMANDS``) — from a saved configuration file
    (``config:``) or from one live read-only CLI session; the device pack judges them, with fleet (the SSH
    connection) and network (the scan). Linux packs never run on a device."""

    packs = ("devices", "fleet", "network")

    def __init__(self, name: str):
        self.name = name

    def commands(self) -> list[str]:
        from checks.parsers.devices import COMMANDS

        return list(COMMANDS[self.name])

    def connect(self, host: Host, options: dict) -> Transport:
        if host.settings.get("config"):
            from audits.collect.transports.savedconfig import SavedConfigTransport

            t: Transport = SavedConfigTransport(host, options)
        else:
            if host.connection != "ssh":
                raise Unreachable("unsupported", f"a {self.name} device is audited over SSH or from a saved "
                                  f"configuration (config:), not connection '{host.connection}'")
            t = _LiveDevice(host, options)
        t.open()
        return t

    def exchange(self, transport: Transport, host: Host, probes: Iterable[Probe]) -> Facts:
        from audits.model.probes import ProbeResult
        from checks.parsers.devices import config_command

        facts = Facts(host.id, meta={"os_family": self.name})
        if transport.name == "config":
            outputs = {config_command(self.name): transport.read()}
        else:
            try:
                from audits.collect.transports.devicecli import collect
            except ImportError:
                raise Unreachable("unsupported", "the live device session is not available in this build; "
                                  "audit the device from a saved configuration (config:)") from None
            meta: dict = {}
            deadline = time.monotonic() + float(host.settings.get("host_timeout", 120))
            outputs = collect(host, transport.options, self.commands(), deadline, meta=meta)
            transport.meta.update(getattr(outputs, "meta", None) or meta)
        for command, text in outputs.items():
            facts.results[Probe("command", command)] = ProbeResult(str(text), 0, "")
        if not facts.get(Probe("command", config_command(self.name))).stdout.strip():
            raise Unreachable("protocol", f"'{config_command(self.name)}' returned nothing")
        return facts


class Linux(Platform):
    """POSIX hosts with bash: local or SSH (paramiko, the system OpenSSH client for legacy servers),
    one batched bash script (``audits.collect.script``); every pack but the device ones."""

    name = "linux"

    def applies(self, check: Check) -> bool:
        return check.pack not in DEVICE_PACKS and super().applies(check)

    def transport(self, host: Host, options: dict) -> Transport:
        kind = host.connection
        if kind == "local":
            from audits.collect.transports.local import LocalTransport

            return LocalTransport(host, options)
        if kind == "ssh":
            try:  # paramiko is imported only when a host is reached over SSH
                from audits.collect.transports.ssh import SSHTransport
            except ImportError:
                raise Unreachable("unsupported", "the SSH transport is not available in this build") from None
            return SSHTransport(host, options)
        raise Unreachable("unsupported", f"connection '{kind}' runs no host probes")

    def connect(self, host: Host, options: dict) -> Transport:
        # paramiko 5 cannot speak SHA-1 kex / ssh-rsa: the system OpenSSH client takes over, and
        # fleet.ssh.legacy_algorithms reports the weak algorithms as a finding.
        from audits.collect.transports.openssh import open_with_fallback

        return open_with_fallback(self.transport(host, options), host, options)

    def exchange(self, transport: Transport, host: Host, probes: Iterable[Probe]) -> Facts:
        probes = set(probes)
        deadline = float(host.settings.get("host_timeout", 120))
        nonce = new_nonce()
        as_root = transport.is_root() or not host.settings.get("sudo")
        script = build_script(probes, nonce, float(host.settings.get("command_timeout", 30)), as_root)
        raw = transport.run_script(script, deadline, max_bytes=output_budget(len(probes)))
        facts = parse_output(raw, probes, nonce, host.id)
        if not any(r.rc is not None for r in facts.results.values()):
            if transport.meta.get("output_capped"):
                raise Unreachable("protocol", f"the host sent more than {len(raw)} bytes without valid probe output; "
                                  "stopped reading")
            if transport.meta.get("host_timeout"):
                raise Unreachable("timeout", "the host returned no probe output before the host timeout")
            raise Unreachable("protocol", f"the host returned no valid probe output ({len(raw)} bytes)")
        return facts


PLATFORMS: dict[str, Platform] = {p.name: p for p in (Linux(),) + tuple(Device(n) for n in inventory.DEVICE_PLATFORMS)}
assert set(PLATFORMS) == set(inventory.PLATFORMS), "every platform an inventory may name has a Platform"


def platform_for(host: Host) -> Platform:
    return PLATFORMS[host.platform]
