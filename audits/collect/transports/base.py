"""What every transport shares: the ``Transport`` interface, ``Unreachable`` and its reasons,
bounded reading of a local process (``run_bounded``), SSH identity settings. Every transport
raises ``Unreachable`` with a classified reason, never hangs past its timeouts, and never reads
more than the script's output budget (``max_bytes``): a host is hostile until proven otherwise.
"""
from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import threading
import time

from audits.trust import redact

OUTPUT_CAP = 64 * 1024 * 1024  # the most any transport reads from one host, whatever the budget
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def printable(text: str, limit: int = 300) -> str:
    """Host-derived text safe for a terminal or a log line: control and bidi characters escaped, bounded."""
    text = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(text).replace("\n", " "))
    return text if len(text) <= limit else text[: limit - 3] + "..."

def terminal_text(text: str) -> str:
    """Multi-line text for a terminal (diff, reports on stdout): line breaks kept, every other control
    and bidi character escaped, so stored host or collector text cannot move the cursor or retitle it."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}" if m.group() not in "\n\t" else m.group(),
                        str(text).replace("\r\n", "\n"))


REASONS = ("dns", "refused", "no_route", "timeout", "auth_failed", "host_key_unknown", "host_key_changed",
           "sudo_denied", "protocol", "unsupported", "error")


class Unreachable(Exception):
    def __init__(self, reason: str, detail: str = "", legacy: bool = False, offer: dict | None = None,
                 limit: int = 300):
        assert reason in REASONS, reason
        self.reason = reason
        self.legacy = legacy  # no common algorithm: a pre-7.2 OpenSSH the system client may still reach
        self.offer = offer or {}  # what the server offered (banner, KEXINIT lists), when it was read
        # often quotes what the host sent (banner, version, stderr); a legacy-path failure quotes more
        self.detail = printable(redact.scrub(detail), limit)
        super().__init__(f"{reason}: {self.detail}" if detail else reason)


class Transport:
    """One session with one host: open, run one script, close."""

    name = "base"

    def __init__(self, host, options: dict | None = None):
        self.host = host
        self.options = options or {}
        self.meta: dict = {}

    def open(self) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def is_root(self) -> bool:  # pragma: no cover - interface
        raise NotImplementedError

    def run_script(self, script: str, timeout: float, max_bytes: int = OUTPUT_CAP) -> bytes:  # pragma: no cover
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self):
        self.open()
        return self

    def __exit__(self, *exc):
        self.close()


def run_bounded(argv: list[str], script: str, timeout: float, max_bytes: int, stderr=subprocess.DEVNULL,
                meta: dict | None = None, env: dict | None = None) -> tuple[bytes, int | None]:
    """Run a local process (bash, or the system ssh client) fed the script; read at most max_bytes
    of its stdout and stop at the deadline (the whole process group is killed). Returns (output,
    exit status or None when it was stopped); meta gets host_timeout / output_capped."""
    meta = meta if meta is not None else {}
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr,
                            start_new_session=True, env=env)

    def feed():
        try:
            proc.stdin.write(script.encode())
            proc.stdin.close()
        except OSError:
            pass

    threading.Thread(target=feed, daemon=True).start()
    cap = min(max_bytes, OUTPUT_CAP)
    out = bytearray()
    deadline = time.monotonic() + timeout
    fd = proc.stdout.fileno()
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                meta["host_timeout"] = True
                break
            if not select.select([fd], [], [], min(left, 1.0))[0]:
                continue
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                break
            out += chunk
            if len(out) > cap:
                meta["output_capped"] = True
                del out[cap:]
                break
    finally:
        stopped = proc.poll() is None and (meta.get("host_timeout") or meta.get("output_capped"))
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        proc.stdout.close()
        rc = proc.wait()
    return bytes(out), (None if stopped else rc)


def ssh_identity(host, options: dict) -> tuple[str, str, bool]:
    """(login user, known_hosts path, trust-on-first-use) for an SSH-family transport."""
    s = host.settings
    user = s.get("user") or os.environ.get("USER") or "root"
    known_hosts = options.get("known_hosts") or s.get("known_hosts") or os.path.expanduser("~/.ssh/known_hosts")
    return user, known_hosts, bool(options.get("tofu")) or bool(s.get("trust_on_first_use"))
