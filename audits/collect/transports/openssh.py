"""The legacy path: the system OpenSSH client, for hosts paramiko 5 cannot negotiate with.

paramiko 5 dropped SHA-1 key exchange and ``ssh-rsa`` signatures, so OpenSSH older than about 7.2
(CentOS 6, old switches) is unreachable with it. When the paramiko handshake finds no common
algorithm, the runner retries with this transport, which re-enables exactly those legacy
algorithms for that one connection, keeps strict host-key checking against the same known_hosts
file, and records the fact in ``meta['legacy_ssh']`` so the ``fleet.ssh.legacy_algorithms`` check
reports the weak algorithms as a finding. Nothing is dropped silently.
"""
from __future__ import annotations

import os
import shutil
import tempfile

from audits.collect.transports.base import OUTPUT_CAP, Transport, Unreachable, run_bounded, ssh_identity
LEGACY_OPTIONS = [
    "-o", "KexAlgorithms=+diffie-hellman-group14-sha1,diffie-hellman-group1-sha1,diffie-hellman-group-exchange-sha1",
    "-o", "HostKeyAlgorithms=+ssh-rsa",
    "-o", "PubkeyAcceptedAlgorithms=+ssh-rsa",
]
_REASONS = [
    ("REMOTE HOST IDENTIFICATION HAS CHANGED", "host_key_changed"),
    ("Host key verification failed", "host_key_unknown"),
    ("Could not resolve hostname", "dns"),
    ("Connection refused", "refused"),
    ("No route to host", "no_route"),
    ("Network is unreachable", "no_route"),
    ("timed out", "timeout"),
    ("Permission denied", "auth_failed"),
    ("no matching", "protocol"),
    ("Unable to negotiate", "protocol"),
]


def classify(stderr: str) -> str:
    for needle, reason in _REASONS:
        if needle in stderr:
            return reason
    return "protocol"


class OpenSSHTransport(Transport):
    name = "openssh"

    def __init__(self, host, options=None):
        super().__init__(host, options)
        self.user, self.known_hosts, self.tofu = ssh_identity(host, self.options)
        self.meta: dict = {"legacy_ssh": True}

    def _base(self) -> list[str]:
        s = self.host.settings
        tofu = self.tofu
        timeout = int(float(s.get("connect_timeout", 10)))
        args = ["ssh", "-T", "-F", "/dev/null", "-o", "BatchMode=yes", "-o", f"ConnectTimeout={timeout}",
                "-o", f"StrictHostKeyChecking={'accept-new' if tofu else 'yes'}",
                "-o", f"UserKnownHostsFile={self.known_hosts}", "-o", "GlobalKnownHostsFile=/dev/null",
                "-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=3", "-o", "LogLevel=ERROR",
                "-p", str(s.get("port", 22)), *LEGACY_OPTIONS]
        if s.get("key_file"):
            args += ["-i", os.path.expanduser(s["key_file"]), "-o", "IdentitiesOnly=yes"]
        if s.get("jump"):
            args += ["-J", s["jump"], "-o", f"HostKeyAlias={self._alias()}"]
        # '-l USER' and '--': no inventory value can be read as an option, and the destination is last.
        return args + ["-l", self.user, "--", self.host.address]

    def _alias(self) -> str:
        from audits.collect.transports.ssh import SSHTransport, known_name

        return known_name(self.host.address, int(self.host.settings.get("port", 22)),
                          SSHTransport(self.host, self.options).via())

    def open(self) -> None:
        if not shutil.which("ssh"):
            raise Unreachable("unsupported", "legacy SSH host needs the system OpenSSH client (apt-get install openssh-client)")
        if self.host.settings.get("password_env") or self.host.settings.get("password") is not None \
                or self.host.settings.get("key_passphrase") is not None:
            raise Unreachable("unsupported", "the OpenSSH fallback authenticates with keys only")

    def is_root(self) -> bool:
        return self.user == "root"

    def run_script(self, script: str, timeout: float, max_bytes: int = OUTPUT_CAP) -> bytes:
        pinned = self.host.settings.get("host_keys")
        if pinned:  # the same pinned keys, written to a private known_hosts for the system client
            from audits.collect.transports.ssh import known_name

            fd, path = tempfile.mkstemp(prefix="auditctl-kh-")
            with os.fdopen(fd, "w") as fh:
                name = (self._alias() if self.host.settings.get("jump")
                        else known_name(self.host.address, int(self.host.settings.get("port", 22))))
                fh.writelines(f"{name} {line.split()[0]} {line.split()[1]}\n" for line in pinned)
            self.known_hosts = path
            try:
                return self._exchange(script, timeout, max_bytes)
            finally:
                os.unlink(path)
        return self._exchange(script, timeout, max_bytes)

    def _exchange(self, script: str, timeout: float, max_bytes: int) -> bytes:
        with tempfile.TemporaryFile() as err:  # bounded by ssh itself (LogLevel=ERROR); read 8 KiB of it
            out, rc = run_bounded(self._base() + ["bash -s"], script, timeout, max_bytes, stderr=err, meta=self.meta)
            err.seek(0)
            stderr = err.read(8192).decode("utf-8", "replace")
        if rc == 255 and not out:
            raise Unreachable(classify(stderr), "system ssh: " + " ".join(stderr.split())[:250])
        return out
