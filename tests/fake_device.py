"""A fake network device for the tests: a paramiko SSH server on 127.0.0.1 with a vendor's CLI.

``FakeDevice(platform, config=...)`` emulates, per platform, the prompt (``<HUAWEI>``, ``<H3C>``,
``Ruijie#``, ``Router>``/``Router#``), the echo of what is typed (a terminal in echo mode), the pager
(``  ---- More ----`` on VRP/Comware, `` --More-- `` on IOS/RGOS, erased with ANSI cursor moves or
backspaces as the real ones do) until the platform's paging-off command is given (``ignore_paging_off``:
it is accepted and ignored; ``refuse_paging_off``: it is an unknown command), Huawei's save question at
login (``save_prompt``), a password-change question (``password_change='ask'``) or demand
(``'force'``), and hostile output (``hostile``: NUL, escapes, markup in the configuration). Outputs:
the configuration for the configuration command, a version text, ``outputs`` for others.

It records every line received (``received``) and every line off the platform's allow-list
(``violations``, checked against its own copy of the seam's command lists, not the code under test;
leaving its ``with`` block then fails the test unless ``strict=False``),
every answer to a question (``answers``) and whether anything was written (``wrote``: a "Y" to a save
question). ``legacy=True`` speaks only SHA-1 key exchange, an ``ssh-rsa`` host key, aes128-cbc and
hmac-sha1, as old VRP/Comware firmware does (paramiko 5 dropped them client-side; a paramiko
server can still be given them, which is what this does).
"""
from __future__ import annotations

import logging
import socket
import threading
import time
from hashlib import sha1

import paramiko
from cryptography.hazmat.primitives import hashes
from paramiko.kex_group14 import KexGroup14SHA256

# The seam (docs: devices), written out independently of audits/collect/device_commands.py.
SEAM = {
    "huawei-vrp": ("screen-length 0 temporary", ["display current-configuration", "display version"]),
    "h3c-comware": ("screen-length disable",
                    ["display current-configuration", "display version", "display password-control"]),
    "ruijie-rgos": ("terminal length 0", ["show running-config", "show version"]),
    "cisco-ios": ("terminal length 0", ["show running-config", "show version"]),
}
HOSTNAMES = {"huawei-vrp": "HUAWEI", "h3c-comware": "H3C", "ruijie-rgos": "Ruijie", "cisco-ios": "Router"}
VERSIONS = {
    "huawei-vrp": "Huawei Versatile Routing Platform Software\nVRP (R) software, Version 5.170 (S5735 V200R022C00)\n",
    "h3c-comware": "H3C Comware Software, Version 7.1.070, Release 6635\n",
    "ruijie-rgos": "System description      : Ruijie Full Gigabit Security & Intelligence Access Switch\n"
                   "System software version : S2910_RGOS 11.4(1)B70P2\n",
    "cisco-ios": "Cisco IOS Software, C2960X Software (C2960X-UNIVERSALK9-M), Version 15.2(7)E6, RELEASE SOFTWARE\n",
}
logging.getLogger("paramiko").addHandler(logging.NullHandler())  # a client hanging up is not news

# What each vendor prints before its first prompt (shapes of the real ones, text our own): lines that
# end in '>', '#' or ']' but are not prompts, since a banner must not be taken for one.
BANNERS = {
    "huawei-vrp": "\r\nInfo: The max number of VTY users is 5, the number of current VTY users online is 1.\r\n"
                  "      The current login time is 2026-12-07 05:00:00+08:00.\r\n",
    "h3c-comware": "\r\n" + "*" * 78 + "\r\n* Copyright (c) example vendor. All rights reserved." + " " * 25 + "*\r\n"
                   + "*" * 78 + "\r\n\r\n",
    "ruijie-rgos": "\r\n[notice] campus network: authorised staff only [#]\r\n\r\n",
    "cisco-ios": "\r\n<authorised use only>\r\nLast login from 10.0.0.9 ####\r\n\r\n",
}
HOSTILE = "\x00\x1b[2J\x1b]0;owned\x07<script>alert(1)</script>{{ 7*7 }}\x07\x9b31m"


class KexGroup14SHA1(KexGroup14SHA256):
    name = "diffie-hellman-group14-sha1"
    hash_algo = sha1


class LegacyRSAKey(paramiko.RSAKey):
    """An RSA host key that can still sign with SHA-1 (``ssh-rsa``)."""

    HASHES = {**paramiko.RSAKey.HASHES, "ssh-rsa": hashes.SHA1}


class _Server(paramiko.ServerInterface):
    def __init__(self, owner: "FakeDevice"):
        self.owner = owner
        self.shell = threading.Event()

    def get_allowed_auths(self, username):
        return "password"

    def check_auth_password(self, username, password):
        ok = username == self.owner.user and password == self.owner.password
        self.owner.auth_attempts.append(ok)
        return paramiko.AUTH_SUCCESSFUL if ok else paramiko.AUTH_FAILED

    def check_channel_request(self, kind, chanid):
        return paramiko.OPEN_SUCCEEDED if kind == "session" else paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def check_channel_pty_request(self, *args):
        return True

    def check_channel_shell_request(self, channel):
        self.shell.set()
        return True

    def check_channel_exec_request(self, channel, command):
        self.owner.violations.append(f"exec {command!r}")  # a device session never execs
        return False


class FakeDevice:
    def __init__(self, platform: str, config: str = "", *, user: str = "audit", password: str = "Dev1ce-Pw!",
                 page_lines: int = 20, ignore_paging_off: bool = False, refuse_paging_off: bool = False,
                 save_prompt: bool = False, password_change: str | None = None, legacy: bool = False,
                 echo: bool = True, hostile: bool = False, outputs: dict | None = None, stall: bool = False,
                 flood: bool = False, hostname: str | None = None, level1: bool = False,
                 question_in_output: bool = False, drip: float = 0.0, strict: bool = True):
        self.platform, self.config = platform, config
        self.user, self.password = user, password
        self.page_lines, self.ignore_paging_off, self.refuse_paging_off = page_lines, ignore_paging_off, refuse_paging_off
        self.save_prompt, self.password_change, self.legacy, self.echo = save_prompt, password_change, legacy, echo
        self.hostile, self.stall, self.flood = hostile, stall, flood
        self.question_in_output = question_in_output  # a [Y/N] question halfway through the configuration
        self.drip = drip  # seconds between two lines of output (a slow device)
        self.strict = strict  # leaving the `with` block fails the test if anything off the allow-list arrived
        self.outputs = outputs or {}
        self.hostname = hostname or HOSTNAMES[platform]
        self.level1 = level1  # Cisco/Ruijie: logged in at level 1 ('Router>'), show running-config refused
        self.paging_off, commands = SEAM[platform]
        self.allowed = {self.paging_off, *commands}
        self.received: list[str] = []
        self.violations: list[str] = []
        self.answers: list[str] = []
        self.pager_keys: list[bytes] = []
        self.auth_attempts: list[bool] = []
        self.wrote = False
        self.sessions = 0
        self.key = LegacyRSAKey(key=paramiko.RSAKey.generate(2048).key) if legacy else paramiko.ECDSAKey.generate()
        self.stop = threading.Event()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self._threads: list[threading.Thread] = []

    @property
    def pinned(self) -> str:
        return f"{self.key.get_name()} {self.key.get_base64()}"

    @property
    def vrp(self) -> bool:
        return self.platform in ("huawei-vrp", "h3c-comware")

    @property
    def prompt(self) -> str:
        if self.vrp:
            return f"<{self.hostname}>"
        return f"{self.hostname}{'>' if self.level1 else '#'}"

    # -- server plumbing ----------------------------------------------------------------------
    def __enter__(self):
        t = threading.Thread(target=self._accept, daemon=True)
        t.start()
        self._threads.append(t)
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self._threads:
            t.join(5)
        self.sock.close()
        if self.strict and (self.violations or self.wrote) and exc[0] is None:
            raise AssertionError(f"the fake {self.platform} device received what a read-only audit must never send: "
                                 f"{self.violations}{' and a yes to a save question' if self.wrote else ''}")

    def _accept(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            t.start()
            self._threads.append(t)

    def _transport(self, conn) -> paramiko.Transport:
        t = paramiko.Transport(conn)
        if self.legacy:
            t._preferred_kex = ("diffie-hellman-group14-sha1",)
            t._kex_info = {**t._kex_info, "diffie-hellman-group14-sha1": KexGroup14SHA1}
            t._preferred_keys = ("ssh-rsa",)
            t._preferred_ciphers = ("aes128-cbc",)
            t._preferred_macs = ("hmac-sha1",)
        t.add_server_key(self.key)
        return t

    def _serve(self, conn):
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as an interactive sshd does
        t = self._transport(conn)
        server = _Server(self)
        try:
            t.start_server(server=server)
            chan = t.accept(10)
            if chan is None or not server.shell.wait(10):
                return
            self.sessions += 1
            chan.settimeout(0.2)
            self._cli(chan)
        except Exception:  # a client that hangs up is not the fake's problem
            pass
        finally:
            time.sleep(0.1)
            t.close()

    # -- the CLI --------------------------------------------------------------------------------
    def _send(self, chan, text: str | bytes):
        chan.sendall(text.encode() if isinstance(text, str) else text)

    def _key(self, chan, timeout: float = 20) -> bytes | None:
        end = time.monotonic() + timeout
        while time.monotonic() < end and not self.stop.is_set():
            try:
                b = chan.recv(1)
            except socket.timeout:
                continue
            return b or None
        return None

    def _line(self, chan, timeout: float = 30) -> str | None:
        """One typed line, echoed as a terminal in echo mode does; None when the client left."""
        buf = b""
        while True:
            b = self._key(chan, timeout)
            if b is None:
                return None
            if b in (b"\r", b"\n"):
                if self.echo:
                    self._send(chan, "\r\n")
                return buf.decode("utf-8", "replace")
            buf += b
            if self.echo:
                self._send(chan, b)

    def _question(self, chan, text: str) -> str | None:
        self._send(chan, text)
        answer = self._line(chan)
        if answer is not None:
            self.answers.append(answer)
        return answer

    def _cli(self, chan):
        self._send(chan, BANNERS[self.platform])
        if self.stall:
            self.stop.wait(60)
            return
        if self.save_prompt:  # the Huawei question Netmiko answers Y to (a write)
            a = self._question(chan, "Warning: The current configuration has security risks; the configuration file "
                                     "will be saved.\r\nThe current configuration will be written to the device. "
                                     "Continue? [Y/N]:")
            if a is None:
                return
            if a.strip().upper().startswith("Y"):
                self.wrote = True
        if self.password_change == "ask":
            a = self._question(chan, "Warning: The password will expire soon. The password needs to be changed. "
                                     "Change now? [Y/N]:")
            if a is None:
                return
            if a.strip().upper().startswith("Y"):
                self.wrote = True
        elif self.password_change == "force":
            self._question(chan, "First login or password reset. For security reason, you need to change your "
                                 "password.\r\nPlease enter your new password:")
            self.stop.wait(30)
            return
        paging = True
        while not self.stop.is_set():
            self._send(chan, "\r\n" + self.prompt)
            line = self._line(chan)
            if line is None:
                return
            cmd = line.strip()
            self.received.append(line)
            if line != line.strip() and line.strip():
                self.violations.append(f"padded line {line!r}")
            if not cmd:
                continue
            if cmd not in self.allowed:
                self.violations.append(cmd)
            if cmd == self.paging_off:
                if self.refuse_paging_off:
                    self._send(chan, self._error(cmd))
                elif not self.ignore_paging_off:
                    paging = False
                    if self.vrp:
                        self._send(chan, "Info: The configuration takes effect on the current user terminal "
                                         "interface only.\r\n")
                continue
            if not self._page(chan, self._output(cmd), paging):
                return

    def _error(self, cmd: str) -> str:
        if self.vrp:
            return "                     ^\r\nError: Unrecognized command found at '^' position.\r\n"
        return "                   ^\r\n% Invalid input detected at '^' marker.\r\n"

    def _output(self, cmd: str) -> str:
        _, (config_cmd, version_cmd, *_) = SEAM[self.platform]
        if self.flood and cmd == config_cmd:
            return "x" * 1000 + "\n"
        if cmd in self.outputs:
            text = self.outputs[cmd]
        elif cmd == config_cmd:
            if self.level1:
                return "                   ^\r\n% Invalid input detected at '^' marker.\r\n"
            text = self.config + (f"\n description {HOSTILE}\n" if self.hostile else "")
        elif cmd == version_cmd:
            text = VERSIONS[self.platform]
        else:
            return self._error(cmd)
        return text

    def _page(self, chan, text: str, paging: bool) -> bool:
        if self.flood:
            end = time.monotonic() + 30
            while time.monotonic() < end and not self.stop.is_set():
                self._send(chan, "y" * 65536)
            return False
        lines = text.replace("\r\n", "\n").split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        for i, ln in enumerate(lines):
            if self.question_in_output and i == len(lines) // 2:
                if self._question(chan, "Warning: the output is long. Continue? [Y/N]:") is None:
                    return False
            if paging and i and i % self.page_lines == 0:
                more = "  ---- More ----" if self.vrp else " --More-- "
                self._send(chan, more)
                key = self._key(chan)
                if key is None:
                    return False
                self.pager_keys.append(key)
                if key != b" ":
                    self.violations.append(f"pager key {key!r}")
                # erase the marker as the real ones do: cursor back (VRP) or backspaces (IOS)
                if self.vrp:
                    self._send(chan, f"\x1b[{len(more)}D" + " " * len(more) + f"\x1b[{len(more)}D")
                else:
                    self._send(chan, "\b" * len(more) + " " * len(more) + "\b" * len(more))
            self._send(chan, ln + "\r\n")
            if self.drip:
                time.sleep(self.drip)
        return True
