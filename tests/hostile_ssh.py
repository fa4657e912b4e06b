"""A test SSH server (paramiko's server side) on 127.0.0.1 that misbehaves on purpose.

One ``HostileServer(mode)`` per misbehaviour, each on its own port with its own pinned host key:

- ``honest``: runs the received probe script with this machine's bash (a well-behaved host);
- ``flood``: 100 MB of output; ``endless``: output that never ends; ``drip``: one byte per second;
- ``hostile_text``: correctly framed answers (it reads the nonce from the script, as a compromised
  host can) whose every field carries NUL bytes, invalid UTF-8, terminal escapes, ``<script>`` and
  Jinja syntax;
- ``disconnect``: answers half the probes, then drops the connection;
- ``stall_exec``: accepts the session but never answers the exec request;
- ``auth_banner``: a 1 MB SSH authentication banner; ``raw_banner``: 1 MB of text before any SSH
  version line (a raw socket, not paramiko).

Authentication: the password given, and/or the public key given.
"""
from __future__ import annotations

import re
import socket
import subprocess
import threading
import time

import paramiko

from audits.collect.script import STDERR_CAP, frame, frame_done

HOSTILE = (b"\x00\xff\xfe\xc3(\x1b[2J\x1b]0;owned\x07\x1b[31m<script>alert('x')</script>"
           b"{{ 7*7 }}{% if 1 %}JINJA{% endif %}{# c #}\"'&<img src=x onerror=alert(1)>")
MODES = ("honest", "flood", "endless", "drip", "hostile_text", "disconnect", "stall_exec", "auth_banner",
         "raw_banner")


class _Server(paramiko.ServerInterface):
    def __init__(self, owner: "HostileServer"):
        self.owner = owner
        self.exec_event = threading.Event()

    def get_allowed_auths(self, username):
        return ",".join(m for m, ok in (("password", self.owner.password), ("publickey", self.owner.public_key)) if ok)

    def check_auth_password(self, username, password):
        ok = self.owner.password is not None and password == self.owner.password
        self.owner.auth_attempts.append(("password", ok))
        return paramiko.AUTH_SUCCESSFUL if ok else paramiko.AUTH_FAILED

    def check_auth_publickey(self, username, key):
        ok = self.owner.public_key is not None and key.asbytes() == self.owner.public_key.asbytes()
        return paramiko.AUTH_SUCCESSFUL if ok else paramiko.AUTH_FAILED

    def check_channel_request(self, kind, chanid):
        return paramiko.OPEN_SUCCEEDED if kind == "session" else paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def check_channel_exec_request(self, channel, command):
        if self.owner.mode == "stall_exec":
            self.owner.stop.wait(60)  # never answers: the client must give up on its own
            return False
        self.exec_event.set()
        return True

    def get_banner(self):
        if self.owner.mode == "auth_banner":
            return ("x" * 1024 + "\n") * 1024, "en-US"
        return None, None


class HostileServer:
    def __init__(self, mode: str, password: str | None = "pw-hostile", public_key: paramiko.PKey | None = None):
        assert mode in MODES, mode
        self.mode, self.password, self.public_key = mode, password, public_key
        self.key = paramiko.ECDSAKey.generate()
        self.auth_attempts: list = []
        self.stop = threading.Event()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self._threads: list[threading.Thread] = []
        self._transports: list = []
        t = threading.Thread(target=self._accept, daemon=True, name=f"hostile-{mode}")
        t.start()

    @property
    def pinned(self) -> str:
        return f"{self.key.get_name()} {self.key.get_base64()}"

    def close(self):
        self.stop.set()
        self.sock.close()
        for t in self._transports:
            try:
                t.close()
            except Exception:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- serving ----------------------------------------------------------------------------------
    def _accept(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            t.start()

    def _serve(self, conn: socket.socket):
        try:
            if self.mode == "raw_banner":
                line = b"220 " + b"B" * 1023 + b"\r\n"
                for _ in range(1024):
                    conn.sendall(line)
                self.stop.wait(30)
                return
            t = paramiko.Transport(conn)
            self._transports.append(t)
            t.add_server_key(self.key)
            server = _Server(self)
            t.start_server(server=server)
            chan = t.accept(20)
            if chan is None or not server.exec_event.wait(20):
                return
            script = bytearray()
            while len(script) < 16 << 20:  # until the client's EOF (recv returns b"")
                data = chan.recv(65536)
                if not data:
                    break
                script += data
            getattr(self, "_" + self.mode)(chan, script.decode("utf-8", "replace"))
        except Exception:
            pass  # the client hung up on us, as it should
        finally:
            if self.mode != "raw_banner":
                time.sleep(0.2)
            conn.close()

    def _send(self, chan, data: bytes) -> bool:
        try:
            chan.sendall(data)
            return True
        except (OSError, EOFError, paramiko.SSHException):
            return False

    def _honest(self, chan, script):
        out = subprocess.run(["bash", "-s"], input=script.encode(), capture_output=True, timeout=60).stdout
        self._send(chan, out)
        chan.send_exit_status(0)
        chan.close()

    def _flood(self, chan, script):
        block = b"A" * 65536
        for _ in range(100 * 16):  # 100 MiB
            if self.stop.is_set() or not self._send(chan, block):
                return

    def _endless(self, chan, script):
        while not self.stop.is_set() and self._send(chan, b"y\n" * 512):
            time.sleep(0.01)

    def _drip(self, chan, script):
        while not self.stop.is_set() and self._send(chan, b"@"):
            time.sleep(1)

    @staticmethod
    def framed(script: str, upto: float = 1.0) -> bytes:
        """Well-framed answers to the script's probes (a compromised host can read the nonce)."""
        nonce = re.search(r"^N=(\S+)$", script, re.M).group(1)
        idx = [int(m) for m in re.findall(r"^p (\d+) ", script, re.M)]
        out = []
        for i in idx[: max(1, int(len(idx) * upto))]:
            stdout = (b"ID=debian\nPRETTY_NAME=" + HOSTILE + b"\nPermitRootLogin " + HOSTILE + b"\nroot:"
                      + HOSTILE + b":0:0::/root:/bin/bash\n" + HOSTILE + b"\n")
            out.append(frame(nonce, i, stdout, (b"sudo: " + HOSTILE)[:STDERR_CAP], 1 if i % 2 else 0))
        if upto >= 1:
            out.append(frame_done(nonce))
        return b"".join(out)

    def _hostile_text(self, chan, script):
        self._send(chan, self.framed(script))
        chan.send_exit_status(0)
        chan.close()

    def _disconnect(self, chan, script):
        self._send(chan, self.framed(script, 0.5))
        chan.get_transport().close()  # no exit status, no DONE: the connection just drops

    _stall_exec = _auth_banner = _honest


class OfferOnlyServer:
    """An SSH server that only says who it is and what it offers (banner + KEXINIT), then waits: it
    stands in for firmware speaking algorithms no installed client or server has any more (a client
    that finds nothing in common hangs up with "Unable to negotiate ... no matching X")."""

    def __init__(self, kex=("diffie-hellman-group1-sha1",), host_key=("ssh-rsa",),
                 cipher=("blowfish-cbc", "arcfour256"), mac=("hmac-md5",), banner="SSH-2.0-OpenSSH_4.3"):
        import os
        import struct

        def namelist(items):
            data = ",".join(items).encode()
            return struct.pack(">I", len(data)) + data

        payload = (b"\x14" + os.urandom(16) + namelist(kex) + namelist(host_key) + namelist(cipher) * 2
                   + namelist(mac) * 2 + namelist(["none"]) * 2 + namelist([]) * 2 + b"\x00" + b"\x00" * 4)
        pad = 8 - (len(payload) + 5) % 8
        pad += 8 if pad < 4 else 0
        self.packet = struct.pack(">IB", len(payload) + pad + 1, pad) + payload + b"\x00" * pad
        self.banner = banner
        self.stop = threading.Event()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True, name="offer-only").start()

    def _accept(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        try:
            conn.sendall(self.banner.encode() + b"\r\n" + self.packet)
            conn.settimeout(15)
            while conn.recv(4096):  # until the client gives up
                pass
        except OSError:
            pass
        finally:
            conn.close()

    def close(self):
        self.stop.set()
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
