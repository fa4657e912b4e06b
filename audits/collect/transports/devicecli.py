"""The live, read-only CLI session with a network device (Huawei VRP, H3C Comware, Ruijie RGOS, Cisco
IOS): one interactive SSH shell per device, the session-only paging-off command, then the platform's
display/show commands (``audits/collect/device_commands.py``), each output cleaned of its echo, prompt,
pager and terminal artefacts. ``collect`` is the whole public interface.

Safety, in order of importance:

- Nothing but the allow-list is ever written: every write goes through ``_Channel.send``, which
  passes the exact bytes to ``device_commands.check_write`` first (a fact command, the paging-off
  command, "no" or the pager's space). A disallowed command raises before any byte leaves.
- Prompts are answered "no" (``[Y/N]`` → ``N``, ``(y/n)`` → ``n``, ``[yes/no]`` → ``no``), never yes:
  the Huawei "save the configuration / security risks in the configuration file" questions at login
  included. A ``[confirm]`` (Enter = yes) or a demand for a new password aborts the session.
- The pager (``---- More ----``, ``--More--``) is answered with a space, a fallback for a device that
  ignored or refused the paging-off command (recorded in meta ``paging_fallback``).
- Host keys and credentials exactly as the Linux SSH transport (``ssh.py``: known_hosts / pinned /
  trust-on-first-use, key file, agent, vault or ``password_env`` password, never logged). A device that
  speaks only SHA-1 key exchange / ``ssh-rsa`` is reached through the system OpenSSH client with the
  legacy algorithms (``openssh.py``, ``ssh -tt``, password via SSH_ASKPASS) and ``meta['legacy_ssh']``
  carries its offer, so ``fleet.ssh.legacy_algorithms`` reports it like a Linux host.
- Bounded: a silence timeout per command (``command_timeout``), the whole-host deadline, a byte cap per
  command, per login banner and per session; a device's bytes are text to clean, never interpreted
  beyond a line-level cursor model (no escape sequence survives into the facts).
"""
from __future__ import annotations

import contextlib
import os
import re
import select
import signal
import socket
import subprocess
import tempfile
import threading
import time

from audits.collect import device_commands
from audits.collect.device_commands import ANSWER_NO, MORE, NEWLINE, CommandNotAllowed, DeviceCommands
from audits.collect.transports.base import Unreachable, printable

MAX_COMMAND_OUTPUT = 16 * 1024 * 1024  # a core switch's configuration is a few MB
MAX_SESSION_OUTPUT = 48 * 1024 * 1024
MAX_LOGIN_OUTPUT = 256 * 1024  # banners and notices before the first prompt
MAX_PAGES = 100_000
SETTLE = 0.15  # quiet time after a prompt before the output counts as finished
TERM_WIDTH, TERM_HEIGHT = 511, 1000

# The prompts of each CLI, as the last line of what the device sent.
_VRP_PROMPT = r"(?:<[^<>\s][^<>\r\n]{0,79}>|\[[~*]?[^\[\]\s][^\[\]\r\n]{0,79}\])"
_IOS_PROMPT = r"[A-Za-z0-9][\w.:/()@-]{0,79}[>#]"
PROMPTS = {"huawei-vrp": re.compile(_VRP_PROMPT), "h3c-comware": re.compile(_VRP_PROMPT),
           "ruijie-rgos": re.compile(_IOS_PROMPT), "cisco-ios": re.compile(_IOS_PROMPT)}
_MORE = re.compile(r"-{2,4} ?More ?-{2,4}|--\s*More\s*--|\(more\)|<--- More --->", re.I)
_YES_NO = [(re.compile(r"\[\s*Y\s*/\s*N\s*\]\s*[:?]?\s*\Z", re.I), ANSWER_NO["[Y/N]"]),
           (re.compile(r"\(\s*y\s*/\s*n\s*\)\s*[:?]?\s*\Z", re.I), ANSWER_NO["(y/n)"]),
           (re.compile(r"\[\s*yes\s*/\s*no\s*\]\s*[:?]?\s*\Z", re.I), ANSWER_NO["[yes/no]"])]
_CONFIRM = re.compile(r"\[confirm\]\s*\Z", re.I)
_PASSWORD = re.compile(r"(?:password|passwd|密码)[^\n]{0,40}[:：]\s*\Z", re.I)

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]{0,256}(?:\x07|\x1b\\)|\x1b[()#][0-9A-Za-z]|\x1b[@-Z\\-_=>]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


class DeviceOutputs(dict):
    """command → cleaned output, plus ``meta`` (host_key, legacy_ssh, paging_fallback, answered…)."""

    def __init__(self, *args, meta: dict | None = None, **kw):
        super().__init__(*args, **kw)
        self.meta = meta if meta is not None else {}


# -- the channels: the allow-list gate sits in front of every write ------------------------------
class _Channel:
    """An interactive byte stream to a device. ``send`` is the only way to write, and it refuses
    anything ``device_commands.check_write`` does not allow, before a byte is written."""

    def __init__(self, platform: str):
        self.platform = platform
        self.sent: list[bytes] = []

    def send(self, data: bytes) -> None:
        device_commands.check_write(self.platform, data)
        self.sent.append(data)
        self._write(data)

    def _write(self, data: bytes) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def recv(self, timeout: float) -> bytes | None:
        """Up to 64 KiB; None when nothing came within ``timeout``; b'' at the end of the stream."""
        raise NotImplementedError  # pragma: no cover - interface

    def close(self) -> None:
        pass


class _ParamikoChannel(_Channel):
    def __init__(self, platform: str, chan):
        super().__init__(platform)
        self.chan = chan

    def _write(self, data: bytes) -> None:
        try:
            self.chan.sendall(data)
        except (OSError, EOFError) as exc:
            raise Unreachable("protocol", f"the device closed the session: {exc}") from None

    def recv(self, timeout: float) -> bytes | None:
        self.chan.settimeout(max(timeout, 0.01))
        try:
            return self.chan.recv(65536)
        except socket.timeout:
            return None
        except (OSError, EOFError):
            return b""

    def close(self) -> None:
        try:
            self.chan.close()
        except Exception:
            pass


class _ProcessChannel(_Channel):
    """The system OpenSSH client with ``-tt`` (the legacy path): the device's terminal on its pipes."""

    def __init__(self, platform: str, legacy, argv: list[str], env: dict):
        super().__init__(platform)
        self.legacy = legacy
        self.err = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.err,
                                     start_new_session=True, env=env)
        self.got_output = False
        self.password = False

    def _write(self, data: bytes) -> None:
        try:
            self.proc.stdin.write(data)
            self.proc.stdin.flush()
        except OSError as exc:
            raise Unreachable("protocol", f"the device closed the session: {exc}") from None

    def recv(self, timeout: float) -> bytes | None:
        fd = self.proc.stdout.fileno()
        if not select.select([fd], [], [], max(timeout, 0.01))[0]:
            return None
        chunk = os.read(fd, 65536)
        if chunk:
            self.got_output = True
            return chunk
        try:
            rc = self.proc.wait(5)
        except subprocess.TimeoutExpired:
            rc = None
        self.err.seek(0)
        stderr = self.err.read(8192).decode("utf-8", "replace")
        failed = self.legacy.failure(rc, stderr, self.got_output, self.password)
        if failed:
            raise failed
        return b""

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except OSError:
                pass
        self.proc.wait()
        self.err.close()


# -- cleaning ---------------------------------------------------------------------------------------
def _decode_line(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("gb18030", "replace")


def decode(raw: bytes) -> str:
    """Each line UTF-8 when it is valid, else GB18030 (Chinese-language firmware), never an error:
    one stray byte does not turn a whole UTF-8 configuration into mojibake."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return "\n".join(_decode_line(ln) for ln in raw.split(b"\n"))


def _render_line(line: str) -> str:
    """One line as a terminal would show it: backspace and cursor-left move back, later text
    overwrites (how pagers erase ``---- More ----``), a lone CR returns to the line start, ESC[K
    erases to the end; every other escape sequence is dropped."""
    if "\x1b" not in line and "\b" not in line and "\r" not in line.rstrip("\r"):
        return line.rstrip("\r")
    cells: list[str] = []
    col = 0
    moved = False
    pos = 0
    n = len(line)
    while pos < n:
        ch = line[pos]
        if ch == "\x1b":
            m = _ANSI.match(line, pos)
            if not m:
                pos += 1
                continue
            seq = m.group()
            if seq.startswith("\x1b[") and seq[-1] in "DCK":
                num = seq[2:-1]
                count = int(num) if num.isdigit() else (0 if seq[-1] == "K" else 1)
                if seq[-1] == "D":
                    col = max(0, col - count)
                elif seq[-1] == "C":
                    col += count
                elif count == 0:
                    del cells[col:]
                elif count == 1:
                    cells[:col] = [" "] * min(col, len(cells))
                else:
                    cells = [" "] * len(cells)
                moved = True
            pos = m.end()
            continue
        if ch == "\b":
            col = max(0, col - 1)
            moved = True
        elif ch == "\r":
            if pos != n - 1:
                col = 0
                moved = True
        else:
            while len(cells) < col:
                cells.append(" ")
            if col < len(cells):
                cells[col] = ch
            else:
                cells.append(ch)
            col += 1
        pos += 1
    out = "".join(cells)
    return out.rstrip() if moved else out


def clean(text: str, command: str | None, prompt: str | None) -> str:
    """A command's output as text: terminal artefacts rendered away, pager markers, the echoed
    command and the closing prompt removed, remaining control characters escaped."""
    lines = [_render_line(ln) for ln in text.replace("\r\n", "\n").split("\n")]
    lines = [ln for ln in lines if not _MORE.fullmatch(ln.strip())]
    # the echo: the first non-empty line is the command (perhaps after the prompt); no echo is fine too
    i = 0
    while i < len(lines) and not lines[i].strip():
        i += 1
    if command and i < len(lines) and lines[i].rstrip().endswith(command):
        del lines[: i + 1]
    while lines and not lines[-1].strip():
        lines.pop()
    if prompt and lines and lines[-1].strip() == prompt:
        lines.pop()
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    out = "\n".join(_CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}" if m.group() != "\t" else "\t", ln)
                    for ln in lines)
    return out + "\n" if out else ""


def _tail(buf: bytearray, start: int) -> str:
    """The last line of what arrived since ``start``, rendered (for prompt and question matching)."""
    chunk = bytes(buf[max(start, len(buf) - 1024):])
    text = decode(chunk).replace("\r\n", "\n")
    return _render_line(text.rsplit("\n", 1)[-1])


# -- the session --------------------------------------------------------------------------------------
class DeviceSession:
    """Login (answering "no"), paging off, then one command at a time, each read up to the prompt."""

    def __init__(self, channel: _Channel, spec: DeviceCommands, end: float, command_timeout: float, meta: dict):
        self.ch, self.spec, self.end, self.command_timeout, self.meta = channel, spec, end, command_timeout, meta
        self.prompt_re = PROMPTS[spec.platform]
        self.prompt: str | None = None
        self.total = 0

    def _read(self, what: str, cap: int, timeout: float, match, answer: bool = False) -> bytearray:
        """Read until ``match(last line)`` holds and the device has been quiet for SETTLE; answer the
        pager on the way, and yes/no questions with "no" when ``answer`` (at login). A question during a
        command would cut its output short: the session is abandoned instead, nothing answered."""
        buf = bytearray()
        scan = 0  # questions are looked for only in what came after the last answer
        last = time.monotonic()  # the command timeout counts silence: a device still sending is alive
        pages = 0
        while True:
            now = time.monotonic()
            limit = min(self.end, last + timeout)
            if now >= limit:
                why = "the host timeout" if now >= self.end else f"{timeout:g}s of silence (command_timeout)"
                raise Unreachable("timeout", f"{what}: no prompt before {why} ({len(buf)} bytes received); "
                                  f"last line: {printable(_tail(buf, 0), 120)!r}")
            chunk = self.ch.recv(min(limit - now, SETTLE))
            if chunk is None:  # quiet: the device waits for input (a prompt or a question) or is slow
                if buf:
                    tail = _tail(buf, scan)
                    if self._question(what, tail, match, answer):
                        scan = len(buf)
                    elif match(tail):
                        return buf
                continue
            if chunk == b"":
                after = self.meta.get("answered")
                raise Unreachable("protocol", f"{what}: the device closed the session ({len(buf)} bytes received"
                                  + (f"; after the answer {after[-1]!r}" if after else "") + "); last line: "
                                  + repr(printable(_tail(buf, 0), 120)))
            buf += chunk
            last = time.monotonic()
            self.total += len(chunk)
            if len(buf) > cap or self.total > MAX_SESSION_OUTPUT:
                raise Unreachable("protocol", f"{what}: the device sent more than {min(cap, MAX_SESSION_OUTPUT)} "
                                  "bytes; stopped reading")
            if _MORE.search(_tail(buf, scan)[-40:]):  # the pager: a space at once (paging-off failed or ignored)
                pages += 1
                if pages > MAX_PAGES:
                    raise Unreachable("protocol", f"{what}: more than {MAX_PAGES} pages; stopped")
                self.meta["paging_fallback"] = True
                self.ch.send(MORE.encode())
                scan = len(buf)

    def _question(self, what: str, tail: str, match, may_answer: bool) -> bool:
        """Answer a yes/no question with "no" (True), abort on a [confirm] or a password demand."""
        for question, answer in _YES_NO:
            if question.search(tail):
                if not may_answer:
                    raise Unreachable("protocol", f"{what}: the device asked {printable(tail.strip(), 160)!r} in the "
                                      "middle of the output; nothing was answered, session closed")
                self.ch.send((answer + NEWLINE).encode())
                self.meta.setdefault("answered", []).append(f"{printable(tail.strip(), 160)} -> {answer}")
                return True
        if _CONFIRM.search(tail):
            raise Unreachable("protocol", f"{what}: the device asks to confirm an action "
                              f"({printable(tail.strip(), 160)!r}); nothing was answered, session closed")
        if _PASSWORD.search(tail) and not match(tail):
            raise Unreachable("auth_failed", f"{what}: the device asks for a password "
                              f"({printable(tail.strip(), 160)!r}), e.g. a password change at first login; "
                              "log in once by hand and set it, then audit again")
        return False

    def login(self) -> None:
        buf = self._read("login", MAX_LOGIN_OUTPUT, self.command_timeout,
                         lambda t: bool(self.prompt_re.fullmatch(t.strip())), answer=True)
        self.prompt = _tail(buf, 0).strip()
        self.meta["prompt"] = printable(self.prompt, 80)

    def _at_prompt(self, tail: str) -> bool:
        return tail.strip() == self.prompt

    def command(self, command: str) -> str:
        self.ch.send((command + NEWLINE).encode())
        buf = self._read(f"'{command}'", MAX_COMMAND_OUTPUT, self.command_timeout, self._at_prompt)
        return clean(decode(bytes(buf)), command, self.prompt)

    def refused(self, output: str) -> str | None:
        """The device's error line when the output is a refusal, else None."""
        head = [ln.strip() for ln in output.splitlines()[:4] if ln.strip()]
        said = [ln for ln in head if ln.startswith(tuple(m.strip() for m in self.spec.error_markers))]
        return said[0] if said else ("^" if "^" in head else None)


# -- opening -------------------------------------------------------------------------------------------
def _absolute(deadline: float) -> float:
    """The seam passes a ``time.monotonic()`` deadline; a value already in the past is read as a
    number of seconds from now (the Linux exchange's ``host_timeout`` style)."""
    now = time.monotonic()
    return float(deadline) if deadline > now else now + float(deadline)


def _open_paramiko(host, options: dict, platform: str, meta: dict, end: float):
    from audits.collect.transports.ssh import SSHTransport

    t = SSHTransport(host, options)
    try:
        t.open()
    except Unreachable:
        meta.update(t.meta)
        t.close()
        raise
    meta.update(t.meta)
    sock = getattr(t.transport, "sock", None)
    if isinstance(sock, socket.socket):  # an interactive session: no Nagle delay on the pager's one-byte answers
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
    watchdog = threading.Timer(max(end - time.monotonic(), 0) + 1, t.close)  # paramiko's shell request has no timeout
    watchdog.daemon = True
    watchdog.start()
    try:
        chan = t.transport.open_session(timeout=t.connect_timeout)
        chan.get_pty(term="vt100", width=TERM_WIDTH, height=TERM_HEIGHT)
        chan.invoke_shell()
    except Exception as exc:  # paramiko.SSHException, EOFError, OSError
        watchdog.cancel()
        t.close()
        if time.monotonic() >= end:
            raise Unreachable("timeout", "the device did not open a shell before the host timeout") from None
        raise Unreachable("protocol", f"the device refused an interactive shell: {exc}") from None
    return _ParamikoChannel(platform, chan), lambda: (watchdog.cancel(), t.close())


def _open_legacy(host, options: dict, platform: str, meta: dict, offer: dict):
    from audits.collect.transports.openssh import OpenSSHTransport

    legacy = OpenSSHTransport(host, options, offer=offer)
    legacy.open()  # Unreachable('unsupported') without a system client
    meta.update(legacy.meta)
    password = legacy._password()
    stack = contextlib.ExitStack()  # closed in reverse: the client, the askpass helper, the private known_hosts
    try:
        stack.enter_context(legacy.pinned_known_hosts())
        env, askpass = legacy.client_env(password)
        if askpass:
            stack.callback(askpass.close)
        ch = _ProcessChannel(platform, legacy, legacy._base(password is not None, tty=True), env)
        stack.callback(ch.close)
    except OSError as exc:
        stack.close()
        raise Unreachable("unsupported", f"cannot start the system ssh client: {exc}") from None
    except BaseException:
        stack.close()
        raise
    ch.password = password is not None
    return ch, stack.close


def collect(host, options: dict, commands: list[str], deadline: float, meta: dict | None = None) -> DeviceOutputs:
    """Run the read-only ``commands`` on a live device in one interactive session; return command →
    cleaned output (a ``DeviceOutputs``: also ``.meta``, which ``meta`` — when given — receives too).
    Raises ``CommandNotAllowed`` before connecting for a command off the platform's allow-list, and
    ``Unreachable`` for everything the device or the network does."""
    platform = host.platform
    try:
        spec = device_commands.for_platform(platform)
    except CommandNotAllowed as exc:
        raise Unreachable("unsupported", str(exc)) from None
    for c in commands:
        device_commands.check_command(platform, c)
    end = _absolute(deadline)
    meta = meta if meta is not None else {}
    command_timeout = float(host.settings.get("command_timeout", 30))
    try:
        channel, close = _open_paramiko(host, options, platform, meta, end)
    except Unreachable as exc:
        if not (exc.reason == "protocol" and exc.legacy):
            raise
        channel, close = _open_legacy(host, options, platform, meta, exc.offer)
    out = DeviceOutputs(meta=meta)
    try:
        session = DeviceSession(channel, spec, end, command_timeout, meta)
        session.login()
        paging = session.command(spec.paging_off)
        if session.refused(paging):
            meta["paging_off_refused"] = printable(session.refused(paging), 160)
        for c in commands:
            text = session.command(c)
            why = session.refused(text)
            if why:
                meta.setdefault("command_errors", {})[c] = printable(why, 160)
                if c == spec.config_command:
                    raise Unreachable("sudo_denied", f"the device refused '{c}' ({printable(why, 120)}): the audit "
                                      f"user's level or role is too low; see auditctl device-role --platform {platform}")
                continue
            out[c] = text
    finally:
        close()
    return out
