"""What an SSH server offers: its version banner and the algorithm lists of its first KEXINIT.

Both are sent in clear before any key exchange, so they can be read from any server, however old,
without negotiating anything: the auditing side sends its own version line, reads the server's
banner and its KEXINIT packet, and hangs up. Used for the legacy SSH path (``openssh.py``): the
``fleet.ssh.legacy_algorithms`` finding names the weak ones among them, and when even the
system client cannot reach it, the reason says what the server offered. Every read is bounded:
the server is hostile until proven otherwise.
"""
from __future__ import annotations

import socket
import struct
import time

MAX_PREAMBLE = 64 * 1024  # RFC 4253 4.2: lines before the version line; more is refused
MAX_PACKET = 35000
CATEGORIES = ("kex", "host_key", "cipher", "mac")
_LABELS = {"kex": "key exchange", "host_key": "host key", "cipher": "cipher", "mac": "MAC"}


_MARKERS = ("ext-info-", "kex-strict-")  # protocol-extension markers in the kex list, not algorithms


class OfferError(Exception):
    pass


def _recv_exact(sock, n: int, deadline: float) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            raise OfferError("timed out reading the server's key-exchange offer")
        sock.settimeout(min(left, 5.0))
        try:
            chunk = sock.recv(n - len(buf))
        except socket.timeout:
            continue
        if not chunk:
            raise OfferError("the server closed the connection before its key-exchange offer")
        buf += chunk
    return bytes(buf)


def read_offer(sock, timeout: float = 10.0) -> dict:
    """Banner and algorithm name-lists (client-to-server direction) of the server behind ``sock``
    (a socket or a paramiko channel). Raises OfferError."""
    deadline = time.monotonic() + timeout
    sock.sendall(b"SSH-2.0-campus_audit_offer\r\n")
    seen = 0
    banner = ""
    while not banner:
        line = bytearray()
        while not line.endswith(b"\n"):
            line += _recv_exact(sock, 1, deadline)
            seen += 1
            if seen > MAX_PREAMBLE:
                raise OfferError("no SSH version line in the first 64 KiB")
        if line.startswith(b"SSH-"):
            banner = line.decode("utf-8", "replace").strip()[:255]
    length, padding = struct.unpack(">IB", _recv_exact(sock, 5, deadline))
    if not 16 <= length <= MAX_PACKET or padding >= length:
        raise OfferError(f"invalid first packet (length {length})")
    payload = _recv_exact(sock, length - 1, deadline)[: length - 1 - padding]
    if not payload or payload[0] != 20:
        raise OfferError("the server's first packet is not a KEXINIT")
    pos, lists = 17, []
    for _ in range(10):
        if pos + 4 > len(payload):
            raise OfferError("truncated KEXINIT")
        (n,) = struct.unpack(">I", payload[pos:pos + 4])
        lists.append(payload[pos + 4:pos + 4 + n].decode("ascii", "replace"))
        pos += 4 + n
    names = [[a for a in item.split(",") if a and not a.startswith(_MARKERS)] for item in lists]
    return {"banner": banner, "kex": names[0], "host_key": names[1], "cipher": names[2], "mac": names[4]}


def fetch_offer(address: str, port: int, timeout: float = 10.0, channel=None) -> dict:
    """The server's offer over a new TCP connection (or the given jump-host channel). Raises OfferError."""
    try:
        sock = channel or socket.create_connection((address, port), timeout=timeout)
    except OSError as exc:
        raise OfferError(f"cannot connect to read the server's offer: {exc}") from None
    try:
        return read_offer(sock, timeout)
    except (OSError, EOFError) as exc:
        raise OfferError(f"reading the server's offer: {exc}") from None
    finally:
        try:
            sock.close()
        except Exception:
            pass


def describe(offer: dict) -> str:
    """'SSH-2.0-… offers key exchange a, b; host key c; cipher d; MAC e' ('' for no offer). Which of
    them are weak is the checks' judgement (``checks/baselines.yaml``), not the transport's."""
    lists = {c: offer.get(c, []) for c in CATEGORIES}
    parts = [f"{_LABELS[c]} {', '.join(lists[c])}" for c in CATEGORIES if lists.get(c)]
    return f"{offer.get('banner', 'the server')} offers " + "; ".join(parts) if parts else ""
