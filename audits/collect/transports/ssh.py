"""The SSH transport (paramiko): one connection per host, one exec of the batched script.

Host keys are strict by default: a key must match a pinned key from the inventory or an entry
in a known_hosts file (``--known-hosts``, the host's ``known_hosts`` setting, or ~/.ssh/known_hosts).
An unknown key is refused unless trust-on-first-use was chosen explicitly (then it is recorded);
a changed key is never accepted. Authentication: key file (its passphrase from the vault), ssh-agent,
or a password from the vault (``password: {vault: NAME}``) or from an environment variable named in
the inventory; secret values are registered for log redaction and never put in a message. A jump
host (bastion) is reached first and the target is tunnelled through it. Every failure is an ``Unreachable`` with a classified reason.
"""
from __future__ import annotations

import base64
import errno
import hashlib
import logging
import os
import socket
import threading
import time

import paramiko

from audits.trust import redact
from audits.collect.transports.base import OUTPUT_CAP, Transport, Unreachable, ssh_identity

log = logging.getLogger(__name__)
logging.getLogger("paramiko").addHandler(logging.NullHandler())  # failures are reported as Unreachable
logging.getLogger("paramiko").propagate = False
_tofu_lock = threading.Lock()


def fingerprint(key: paramiko.PKey) -> str:
    return "SHA256:" + base64.b64encode(hashlib.sha256(key.asbytes()).digest()).decode().rstrip("=")


MAX_KNOWN_HOSTS = 32 * 1024 * 1024  # a known_hosts file of ~100 000 keys; /dev/zero or larger is refused
MAX_KEY_FILE = 64 * 1024


def known_name(address: str, port: int, via: str | None = None) -> str:
    """The known_hosts name of a host key: per (jump chain, address, port). Two schools' ``web.lan``
    behind different bastions are different hosts: a host reached through a jump host is recorded as
    ``[web.lan]:22/via/bastion.example:22`` (also the system client's HostKeyAlias)."""
    if via:
        return f"[{address}]:{port}/via/{via}"
    return address if port == 22 else f"[{address}]:{port}"


def read_limited(path: str, limit: int, what: str) -> bytes:
    """A file named by an inventory or a configuration (key, known_hosts), never more than ``limit``
    bytes and only a regular file (a device such as /dev/zero is refused): Unreachable('error') otherwise."""
    from audits.boundedfile import read_bounded

    try:
        return read_bounded(path, limit, what)
    except FileNotFoundError:
        raise
    except (OSError, ValueError) as exc:
        raise Unreachable("error", str(exc)) from None


def parse_pinned(lines: list[str]) -> dict[str, bytes]:
    out = {}
    for line in lines:
        parts = line.split()
        if len(parts) >= 2:
            out[parts[0]] = base64.b64decode(parts[1])
    return out


def _connect_socket(address: str, port: int, timeout: float) -> socket.socket:
    try:
        infos = socket.getaddrinfo(address, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise Unreachable("dns", f"cannot resolve {address}: {exc.strerror}") from None
    last: Exception | None = None
    for family, stype, proto, _, addr in infos:
        s = socket.socket(family, stype, proto)
        s.settimeout(timeout)
        try:
            s.connect(addr)
            return s
        except (socket.timeout, TimeoutError):
            s.close()
            raise Unreachable("timeout", f"no answer from {address}:{port} within {timeout:g}s") from None
        except ConnectionRefusedError:
            s.close()
            raise Unreachable("refused", f"{address}:{port} refused the connection") from None
        except OSError as exc:
            s.close()
            last = exc
            if exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN):
                raise Unreachable("no_route", f"no route to {address}: {exc.strerror}") from None
    raise Unreachable("error", f"cannot connect to {address}:{port}: {last}")


class SSHTransport(Transport):
    name = "ssh"

    def __init__(self, host, options=None):
        super().__init__(host, options)
        self.user, self.known_hosts, self.tofu = ssh_identity(host, self.options)
        self.port = int(host.settings.get("port", 22))
        self.connect_timeout = float(host.settings.get("connect_timeout", 10))
        self._transports: list[paramiko.Transport] = []
        self.meta: dict = {}

    # -- connection --------------------------------------------------------------------------
    def open(self) -> None:
        sock = None
        jump = self.host.settings.get("jump")
        if jump:
            juser, jaddr, jport = self._parse_jump(jump)
            jt = self._handshake(_connect_socket(jaddr, jport, self.connect_timeout), jaddr, jport, "jump host ")
            self._auth(jt, juser, "jump host ")
            try:
                sock = jt.open_channel("direct-tcpip", (self.host.address, self.port), ("127.0.0.1", 0),
                                       timeout=self.connect_timeout)
            except paramiko.ChannelException as exc:
                reason = "refused" if exc.code == 2 else "no_route" if exc.code in (1, 3) else "error"
                raise Unreachable(reason, f"jump host {jaddr} cannot reach {self.host.address}:{self.port}: {exc.text}") from None
            except (paramiko.SSHException, OSError) as exc:
                raise Unreachable("timeout", f"jump host {jaddr}: {exc}") from None
        else:
            sock = _connect_socket(self.host.address, self.port, self.connect_timeout)
        t = self._handshake(sock, self.host.address, self.port, "", via=self.via())
        self._auth(t, self.user, "")
        self.transport = t

    def via(self) -> str | None:
        """The jump chain of this host as part of its host-key name (None without a jump host)."""
        jump = self.host.settings.get("jump")
        if not jump:
            return None
        _, jaddr, jport = self._parse_jump(jump)
        return f"{jaddr}:{jport}"

    def _parse_jump(self, spec: str):
        user, _, rest = spec.rpartition("@")
        addr, _, port = rest.partition(":")
        if rest.startswith("["):
            addr, _, port = rest[1:].partition("]")
            port = port.lstrip(":")
        return user or self.user, addr, int(port or 22)

    def _expected_keys(self, address: str, port: int, via: str | None = None, target: bool = False) -> dict[str, bytes]:
        pinned = self.host.settings.get("host_keys")
        if pinned and target:
            return parse_pinned(pinned)
        try:
            data = read_limited(self.known_hosts, MAX_KNOWN_HOSTS, "known_hosts")
        except FileNotFoundError:
            return {}
        hk = paramiko.HostKeys()
        for line in data.decode("utf-8", "replace").splitlines():
            try:
                e = paramiko.hostkeys.HostKeyEntry.from_line(line)
            except (paramiko.SSHException, ValueError, TypeError):
                continue
            if e is not None:
                for name in e.hostnames:
                    hk.add(name, e.key.get_name(), e.key)
        entry = hk.lookup(known_name(address, port, via)) or {}
        return {ktype: key.asbytes() for ktype, key in entry.items()}

    def _handshake(self, sock, address: str, port: int, what: str, via: str | None = None) -> paramiko.Transport:
        t = paramiko.Transport(sock)
        self._transports.append(t)
        t.banner_timeout = self.connect_timeout
        t.handshake_timeout = self.connect_timeout
        t.auth_timeout = self.connect_timeout
        expected = self._expected_keys(address, port, via, target=not what)
        if expected:
            usable = [k for k in t.get_security_options().key_types if k in expected or
                      (k.startswith("rsa-sha2") and "ssh-rsa" in expected)]
            if usable:
                t.get_security_options().key_types = usable
        try:
            # start_client waits a little longer than the banner timeout so that the banner error,
            # not a race between the two timers, decides the reason.
            t.start_client(timeout=self.connect_timeout * 2 + 1)
        except paramiko.SSHException as exc:
            text = str(exc)
            if not getattr(t, "remote_version", "") or "banner" in text.lower() or "timeout" in text.lower():
                raise Unreachable("timeout", f"{what}{address}:{port} accepted TCP but sent no SSH banner within "
                                  f"{self.connect_timeout:g}s") from None
            low = text.lower()
            if "incompatible" in low or "no acceptable" in low:
                if "host key" in low and expected and "ssh-rsa" not in expected:
                    raise Unreachable("host_key_changed", f"{what}{address} no longer offers a host key of the known "
                                      f"type(s) {', '.join(sorted(expected))}") from None
                offer = self._offer(address, port, what)
                raise Unreachable("protocol", f"{what}{address}: no common SSH algorithms with paramiko ({text}); "
                                  "the server offers only legacy algorithms (SHA-1 key exchange, ssh-rsa signatures)",
                                  legacy=True, offer=offer) from None
            raise Unreachable("protocol", f"{what}{address}: SSH handshake failed: {text}") from None
        except (EOFError, OSError) as exc:
            raise Unreachable("protocol", f"{what}{address}: connection closed during the SSH handshake ({exc})") from None
        key = t.get_remote_server_key()
        ktype = key.get_name()
        ktype_known = "ssh-rsa" if ktype.startswith("rsa-sha2") else ktype
        want = expected.get(ktype) or expected.get(ktype_known)
        if want is not None:
            if want != key.asbytes():
                raise Unreachable("host_key_changed", f"{what}{address} presented {ktype} {fingerprint(key)}, which "
                                  f"differs from the known key: possible man-in-the-middle; refusing")
        elif expected:
            raise Unreachable("host_key_changed", f"{what}{address} presented a {ktype} key but the known key is "
                              f"{', '.join(sorted(expected))}; refusing")
        elif self.tofu:
            self._record(address, port, key, via)
            self.meta["host_key_recorded"] = f"{ktype} {fingerprint(key)}"
        else:
            raise Unreachable("host_key_unknown", f"{what}{address} host key {ktype} {fingerprint(key)} is not in "
                              f"{self.known_hosts}; add it, pin it in the inventory, or use --trust-on-first-use")
        self.meta.setdefault("host_key", f"{ktype} {fingerprint(key)}")
        return t

    def _offer(self, address: str, port: int, what: str) -> dict:
        """What the server offers (banner, KEXINIT lists), read over a fresh connection (through the jump
        host for a jumped target); {} when it cannot be read."""
        from audits.collect.transports.offer import OfferError, fetch_offer

        channel = None
        try:
            if not what and self.host.settings.get("jump") and self._transports[:-1]:
                channel = self._transports[0].open_channel("direct-tcpip", (address, port), ("127.0.0.1", 0),
                                                           timeout=self.connect_timeout)
            return {**fetch_offer(address, port, self.connect_timeout, channel), "host": f"{what}{address}:{port}"}
        except (OfferError, paramiko.SSHException, OSError, EOFError) as exc:
            log.debug("%s%s: offer not read: %s", what, address, exc)
            return {}

    def _record(self, address, port, key, via=None) -> None:
        with _tofu_lock:
            os.makedirs(os.path.dirname(os.path.abspath(self.known_hosts)), exist_ok=True)
            with open(self.known_hosts, "a", encoding="ascii") as fh:
                fh.write(f"{known_name(address, port, via)} {key.get_name()} {key.get_base64()}\n")

    def _auth(self, t: paramiko.Transport, user: str, what: str) -> None:
        s = self.host.settings
        for k in ("password", "key_passphrase"):
            if s.get(k) is not None and not hasattr(s[k], "reveal"):
                raise Unreachable("auth_failed", f"{k} names a vault entry that is not unlocked here (a collector "
                                  "receives no secrets; give it key files or password_env)")
        log.debug("%s%s@%s: authenticating (key file %s, passphrase %s, password %s)", what, user, t.getpeername()[0],
                  s.get("key_file"), s.get("key_passphrase"), s.get("password") or s.get("password_env"))
        tried = []
        keys: list[paramiko.PKey] = []
        if s.get("key_file"):
            path = os.path.expanduser(s["key_file"])
            phrase = s.get("key_passphrase")
            try:
                read_limited(path, MAX_KEY_FILE, "key file")  # a device or a huge file is refused before paramiko reads it
                keys.append(paramiko.PKey.from_path(path, password=phrase.reveal().encode() if phrase else None))
            except FileNotFoundError:
                raise Unreachable("auth_failed", f"key file {path} does not exist") from None
            except (paramiko.SSHException, ValueError) as exc:
                raise Unreachable("auth_failed", f"cannot load key file {path}: {type(exc).__name__}") from None
        if os.environ.get("SSH_AUTH_SOCK") and not self.options.get("no_agent"):
            try:
                keys.extend(paramiko.Agent().get_keys())
            except paramiko.SSHException:
                pass
        for k in keys:
            try:
                t.auth_publickey(user, k)
                if t.is_authenticated():
                    return
            except paramiko.AuthenticationException:
                tried.append(f"key {k.get_name()}")
            except paramiko.SSHException as exc:
                raise Unreachable("timeout" if "timeout" in str(exc).lower() else "auth_failed",
                                  f"{what}authentication: {exc}") from None
        env = s.get("password_env")
        if s.get("password") is not None or env:
            pw = s["password"].reveal() if s.get("password") is not None else os.environ.get(env)
            if pw is None:
                tried.append(f"password (${env} is not set)")
            else:
                redact.register(pw)
                try:
                    t.auth_password(user, pw)
                    if t.is_authenticated():
                        return
                except paramiko.AuthenticationException:
                    tried.append("password")
                except paramiko.SSHException as exc:
                    raise Unreachable("auth_failed", f"{what}authentication: {exc}") from None
        raise Unreachable("auth_failed", f"{what}{user}@{t.getpeername()[0]}: "
                          + (f"rejected {', '.join(tried)}" if tried else "no key file, agent key or password to try"))

    # -- the exchange ------------------------------------------------------------------------
    def is_root(self) -> bool:
        return self.user == "root"

    def run_script(self, script: str, timeout: float, max_bytes: int = OUTPUT_CAP) -> bytes:
        deadline = time.monotonic() + timeout
        # paramiko waits without a timeout for the answer to the exec request; a host that never
        # answers must not hold this thread: at the deadline the connection is closed under it.
        watchdog = threading.Timer(timeout + 1, self.close)
        watchdog.daemon = True
        watchdog.start()
        try:
            return self._exchange(script, deadline, min(max_bytes, OUTPUT_CAP))
        finally:
            watchdog.cancel()

    def _exchange(self, script: str, deadline: float, cap: int) -> bytes:
        try:
            chan = self.transport.open_session(timeout=self.connect_timeout)
            chan.settimeout(1.0)
            chan.exec_command("bash -s")
            chan.sendall(script.encode())
            chan.shutdown_write()
        except (paramiko.SSHException, OSError, EOFError) as exc:
            if time.monotonic() >= deadline:
                raise Unreachable("timeout", "the host did not start the probe script before the host timeout") from None
            raise Unreachable("protocol", f"cannot start the probe script: {exc}") from None
        out = bytearray()
        while time.monotonic() < deadline:
            if chan.recv_stderr_ready():
                chan.recv_stderr(65536)  # drained and dropped: the script frames its own stderr
            try:
                data = chan.recv(65536)
            except socket.timeout:
                continue
            except (OSError, EOFError):
                break
            if not data:
                break
            out += data
            if len(out) > cap:
                self.meta["output_capped"] = True
                del out[cap:]
                break
        else:
            self.meta["host_timeout"] = True
        chan.close()
        return bytes(out)

    def close(self) -> None:
        for t in reversed(self._transports):
            try:
                t.close()
            except Exception:
                pass
