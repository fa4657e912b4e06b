"""Transports: how the one batched probe script reaches a host and its output comes back.

``local`` runs it on this machine; ``ssh`` (paramiko) on a remote host. Every transport
raises ``Unreachable`` with a classified reason, never hangs past its timeouts.
"""
from __future__ import annotations

REASONS = ("dns", "refused", "no_route", "timeout", "auth_failed", "host_key_unknown", "host_key_changed",
           "sudo_denied", "protocol", "unsupported", "error")


class Unreachable(Exception):
    def __init__(self, reason: str, detail: str = "", legacy: bool = False):
        assert reason in REASONS, reason
        self.reason = reason
        self.legacy = legacy  # no common algorithm: a pre-7.2 OpenSSH the system client may still reach
        self.detail = detail[:300]
        super().__init__(f"{reason}: {detail}" if detail else reason)


class Transport:
    """One session with one host: open, run one script, close."""

    name = "base"

    def __init__(self, host, options: dict | None = None):
        self.host = host
        self.options = options or {}

    def open(self) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def is_root(self) -> bool:  # pragma: no cover - interface
        raise NotImplementedError

    def run_script(self, script: str, timeout: float) -> bytes:  # pragma: no cover - interface
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self):
        self.open()
        return self

    def __exit__(self, *exc):
        self.close()


def ssh_identity(host, options: dict) -> tuple[str, str, bool]:
    """(login user, known_hosts path, trust-on-first-use) for an SSH-family transport."""
    import os

    s = host.settings
    user = s.get("user") or os.environ.get("USER") or "root"
    known_hosts = options.get("known_hosts") or s.get("known_hosts") or os.path.expanduser("~/.ssh/known_hosts")
    return user, known_hosts, bool(options.get("tofu")) or bool(s.get("trust_on_first_use"))


def transport_for(host, options: dict | None = None) -> Transport:
    kind = host.connection
    if kind == "local":
        from .local import LocalTransport

        return LocalTransport(host, options)
    if kind == "ssh":
        try:
            from .ssh import SSHTransport
        except ImportError:
            raise Unreachable("unsupported", "the SSH transport is not available in this build") from None
        return SSHTransport(host, options)
    raise Unreachable("unsupported", f"connection '{kind}' runs no host probes")
