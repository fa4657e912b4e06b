"""The legacy path: the system OpenSSH client, for hosts paramiko 5 cannot negotiate with.

paramiko 5 dropped SHA-1 key exchange and ``ssh-rsa`` signatures, so OpenSSH older than about 7.2
(CentOS 6, old switches) is unreachable with it. When the paramiko handshake finds no common
algorithm, the runner retries with this transport, which re-enables, for that one connection only,
every algorithm the system client still has but no longer offers by default (learned from
``ssh -Q`` against ``ssh -G`` on the auditing machine: SHA-1 key exchange, ``ssh-rsa``/``ssh-dss``
host and user keys, CBC ciphers, ``hmac-sha1``/``hmac-md5``...). Host keys stay strict, against the
same known_hosts file (jump host included: it is reached by the same client with the same options).
What the server offered (its banner and KEXINIT, ``offer.py``) is kept in ``meta['legacy_ssh']`` so
``fleet.ssh.legacy_algorithms`` names each weak algorithm; when even this path fails, the reason
quotes the client's own error line and the server's offer. Nothing is dropped silently.

Passwords (vault or ``password_env``) reach the client through ``SSH_ASKPASS``: a helper in a private
directory reads them from a named pipe there; never from a command line or an environment variable.
"""
from __future__ import annotations

import contextlib
import functools
import os
import shlex
import shutil
import subprocess
import tempfile
import threading
import time

from audits.trust import redact
from audits.collect.transports.base import OUTPUT_CAP, Transport, Unreachable, run_bounded, ssh_identity

# (ssh_config option, ``ssh -Q`` query) of the algorithm lists the legacy path widens
_QUERIES = (("KexAlgorithms", "kex"), ("HostKeyAlgorithms", "key"), ("PubkeyAcceptedAlgorithms", "key"),
            ("Ciphers", "cipher"), ("MACs", "mac"))
_REASONS = [
    ("REMOTE HOST IDENTIFICATION HAS CHANGED", "host_key_changed"),
    ("Host key verification failed", "host_key_unknown"),
    ("No matching host key", "host_key_unknown"),
    ("Could not resolve hostname", "dns"),
    ("Connection refused", "refused"),
    ("No route to host", "no_route"),
    ("Network is unreachable", "no_route"),
    ("timed out", "timeout"),
    ("Permission denied", "auth_failed"),
    ("Too many authentication failures", "auth_failed"),
    ("no matching", "protocol"),
    ("Unable to negotiate", "protocol"),
]


def classify(stderr: str) -> str:
    for needle, reason in _REASONS:
        if needle in stderr:
            return reason
    return "protocol"


def _ssh_lines(argv: list[str]) -> list[str]:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10, stdin=subprocess.DEVNULL).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return out.split()


@functools.lru_cache(maxsize=1)
def legacy_algorithms() -> dict[str, list[str]]:
    """Per ssh_config option, the algorithms this machine's ssh client supports (``ssh -Q``) but does
    not offer by default (``ssh -G``): exactly what an old server may need and a current client dropped."""
    cfg = _ssh_lines(["ssh", "-G", "-F", "/dev/null", "legacy.invalid"])
    defaults = {}
    for key, value in zip(cfg[::2], cfg[1::2]):
        defaults[key.lower()] = set(value.split(","))
    out = {}
    for option, query in _QUERIES:
        default = defaults.get(option.lower(), set())
        extra = [a for a in _ssh_lines(["ssh", "-Q", query]) if a not in default]
        if extra:
            out[option] = extra
    return out


def legacy_options() -> list[str]:
    opts = []
    for option, algos in legacy_algorithms().items():
        opts += ["-o", f"{option}=+{','.join(algos)}"]
    return opts


class _AskPass:
    """A password for the system ssh client without a command line or an environment variable: a
    helper script in a private (0700) directory reads it from a named pipe in that directory; this
    process writes it to the pipe when the helper opens it (at most ``times`` times)."""

    def __init__(self, password: str, times: int = 2):
        self.dir = tempfile.mkdtemp(prefix="auditctl-askpass-")
        self.fifo = os.path.join(self.dir, "pw")
        os.mkfifo(self.fifo, 0o600)
        self.helper = os.path.join(self.dir, "askpass")
        fd = os.open(self.helper, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o700)
        with os.fdopen(fd, "w") as fh:
            fh.write(f"#!/bin/sh\nexec cat -- {shlex.quote(self.fifo)}\n")
        self._password, self._times = password, times
        self._stop = threading.Event()
        self.served = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        while self.served < self._times and not self._stop.is_set():
            try:  # non-blocking: succeeds only while the helper has the pipe open for reading
                fd = os.open(self.fifo, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:
                time.sleep(0.05)
                continue
            try:
                os.set_blocking(fd, True)
                os.write(fd, (self._password + "\n").encode())
                self.served += 1
            except OSError:
                pass
            finally:
                os.close(fd)
            time.sleep(0.2)  # let this reader finish before offering the next prompt

    def env(self, base: dict) -> dict:
        return {**base, "SSH_ASKPASS": self.helper, "SSH_ASKPASS_REQUIRE": "force"}  # force: no DISPLAY needed

    def close(self):
        self._stop.set()
        self._thread.join(2)
        shutil.rmtree(self.dir, ignore_errors=True)


def open_with_fallback(transport: Transport, host, options: dict) -> Transport:
    """Open the transport; when it is paramiko and the server has no algorithm in common with it
    (``Unreachable(legacy=True)``), open the legacy path instead, carrying what the server offered.
    Any platform that reaches its hosts over SSH (hosts, network devices) connects through this."""
    try:
        transport.open()
        return transport
    except Unreachable as exc:
        if not (exc.reason == "protocol" and exc.legacy):
            raise
        transport.close()
        legacy = OpenSSHTransport(host, options, offer=exc.offer)
        legacy.open()
        return legacy


class OpenSSHTransport(Transport):
    name = "openssh"
    remote_command = "bash -s"  # what the probe script is fed to (a device platform names its own)

    def __init__(self, host, options=None, offer: dict | None = None):
        super().__init__(host, options)
        self.user, self.known_hosts, self.tofu = ssh_identity(host, self.options)
        self.offer = offer or {}
        self.meta: dict = {"legacy_ssh": {"offer": self.offer} if self.offer else True}

    def _password(self) -> str | None:
        s = self.host.settings
        if s.get("password") is not None:
            if not hasattr(s["password"], "reveal"):
                raise Unreachable("auth_failed", "password names a vault entry that is not unlocked here (a collector "
                                  "receives no secrets; give it key files)")
            return s["password"].reveal()
        if s.get("password_env"):
            return os.environ.get(s["password_env"])
        return None

    def _common(self, port, key_file) -> list[str]:
        """Options shared by the target's and the jump host's client: strict keys, legacy algorithms."""
        timeout = int(float(self.host.settings.get("connect_timeout", 10)))
        args = ["-F", "/dev/null", "-o", f"ConnectTimeout={timeout}",
                "-o", f"StrictHostKeyChecking={'accept-new' if self.tofu else 'yes'}",
                "-o", f"UserKnownHostsFile={self.known_hosts}", "-o", "GlobalKnownHostsFile=/dev/null",
                "-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=3",
                # INFO, not ERROR: the client logs "Unable to negotiate ... no matching X" at INFO
                "-o", "LogLevel=INFO", "-p", str(port), *legacy_options()]
        if key_file:
            args += ["-i", os.path.expanduser(key_file), "-o", "IdentitiesOnly=yes"]
        return args

    def _base(self, password: bool = False, tty: bool = False) -> list[str]:
        """The client's argv up to the destination; ``tty`` asks for a terminal on the server (``-tt``:
        a network device's interactive CLI) instead of none (a probe script fed to a command)."""
        s = self.host.settings
        args = ["ssh", "-tt" if tty else "-T", *self._common(s.get("port", 22), s.get("key_file"))]
        args += (["-o", "BatchMode=no", "-o", "NumberOfPasswordPrompts=1",
                  "-o", "PreferredAuthentications=publickey,keyboard-interactive,password"] if password
                 else ["-o", "BatchMode=yes"])
        if s.get("jump"):
            args += ["-o", f"ProxyCommand={self._proxy_command()}", "-o", f"HostKeyAlias={self._alias()}"]
        # '-l USER' and '--': no inventory value can be read as an option, and the destination is last.
        return args + ["-l", self.user, "--", self.host.address]

    def _proxy_command(self) -> str:
        """The jump host reached by the same client with the same strict, legacy-enabled options
        (ssh's own -J would drop them); every inventory value shell-quoted and '%' escaped."""
        from audits.collect.transports.ssh import SSHTransport

        juser, jaddr, jport = SSHTransport(self.host, self.options)._parse_jump(self.host.settings["jump"])
        port = int(self.host.settings.get("port", 22))
        argv = ["ssh", *self._common(jport, self.host.settings.get("key_file")), "-o", "BatchMode=yes",
                "-W", f"[{self.host.address}]:{port}", "-l", juser, "--", jaddr]
        return " ".join(shlex.quote(a) for a in argv).replace("%", "%%")

    def _alias(self) -> str:
        from audits.collect.transports.ssh import SSHTransport, known_name

        return known_name(self.host.address, int(self.host.settings.get("port", 22)),
                          SSHTransport(self.host, self.options).via())

    def open(self) -> None:
        if not shutil.which("ssh"):
            raise Unreachable("unsupported", self._why("the legacy SSH path needs the system OpenSSH client "
                                                       "(apt-get install openssh-client)"))
        if self.host.settings.get("key_passphrase") is not None:
            raise Unreachable("unsupported", self._why("the legacy SSH path cannot use a passphrase-protected key "
                                                       "file; load it into ssh-agent or use an unencrypted key"))

    def _why(self, text: str) -> str:
        from audits.collect.transports.offer import describe

        said = describe(self.offer) if self.offer else ""
        return f"{text}; server {said}" if said else text

    def is_root(self) -> bool:
        return self.user == "root"

    def run_script(self, script: str, timeout: float, max_bytes: int = OUTPUT_CAP) -> bytes:
        with self.pinned_known_hosts():
            return self._exchange(script, timeout, max_bytes)

    @contextlib.contextmanager
    def pinned_known_hosts(self):
        """While open: the inventory's pinned keys (if any) as a private known_hosts for the system client."""
        pinned = self.host.settings.get("host_keys")
        if not pinned:
            yield
            return
        from audits.collect.transports.ssh import known_name

        fd, path = tempfile.mkstemp(prefix="auditctl-kh-")
        with os.fdopen(fd, "w") as fh:
            name = (self._alias() if self.host.settings.get("jump")
                    else known_name(self.host.address, int(self.host.settings.get("port", 22))))
            fh.writelines(f"{name} {line.split()[0]} {line.split()[1]}\n" for line in pinned)
        saved, self.known_hosts = self.known_hosts, path
        try:
            yield
        finally:
            self.known_hosts = saved
            os.unlink(path)

    def client_env(self, password: str | None) -> tuple[dict, "_AskPass | None"]:
        """The client's environment: no inherited askpass or password variable; the password (if any)
        served through a private SSH_ASKPASS helper (close the returned helper afterwards)."""
        env = {k: v for k, v in os.environ.items() if k not in ("SSH_ASKPASS", "SSH_ASKPASS_REQUIRE")}
        if self.host.settings.get("password_env"):
            env.pop(self.host.settings["password_env"], None)  # the client needs no copy of it
        if password is None:
            return env, None
        redact.register(password)
        askpass = _AskPass(password)
        return askpass.env(env), askpass

    def failure(self, rc: int | None, stderr: str, got_output: bool, password: bool) -> Unreachable | None:
        """The Unreachable for a client that exited 255 without output (None otherwise)."""
        if rc != 255 or got_output:
            return None
        lines = [ln.strip() for ln in stderr.splitlines()
                 if ln.strip() and not ln.startswith(("Warning: Permanently added", "Pseudo-terminal"))]
        said = " / ".join(lines)[:600] or "exited with status 255 and no message"
        if not password and "Permission denied" in said and "password" in said:
            said += " (no key was accepted; give the host a key_file, an agent key or a vault password)"
        return Unreachable(classify(stderr), self._why(f"system ssh with legacy algorithms: {said}"), limit=1500)

    def _exchange(self, script: str, timeout: float, max_bytes: int) -> bytes:
        password = self._password()
        env, askpass = self.client_env(password)
        try:
            with tempfile.TemporaryFile() as err:  # read 8 KiB of it at most
                out, rc = run_bounded(self._base(password is not None) + [self.remote_command], script, timeout, max_bytes,
                                      stderr=err, meta=self.meta, env=env)
                err.seek(0)
                stderr = err.read(8192).decode("utf-8", "replace")
        finally:
            if askpass:
                askpass.close()
        failed = self.failure(rc, stderr, bool(out), password is not None)
        if failed:
            raise failed
        return out
