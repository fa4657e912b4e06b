"""Common probe output formats: ``KEY VALUE`` files, ``sshd -T``, ``stat -c``, colon tables
(/etc/passwd, /etc/shadow), ``ss -H -tuln``, os-release, ``grep -H`` multi-file output, and the
``PARSERS`` name table the YAML checks' ``parse:`` field uses. Pure functions, no I/O.

The hot ones (``lines``, ``keyvalue``, ``grep_files``, ``colon_table``) keep their last answers: the
checks of one host parse the same probe output many times (the PAM files about 30 times). Each call
returns a fresh copy, so a caller may change what it gets."""
from __future__ import annotations

import re
from functools import lru_cache

_MEMO = 256  # outputs remembered per parser: a few per host for the hosts audited at once


@lru_cache(maxsize=_MEMO)
def _lines(text: str) -> tuple[str, ...]:
    return tuple(ln.rstrip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#"))


def lines(text: str) -> list[str]:
    """Non-empty lines that are not comments."""
    return list(_lines(text))


_KEYVALUE = re.compile(r"^\s*([A-Za-z0-9_.-]+)\s*(?:=|\s)\s*(.*?)\s*$")


@lru_cache(maxsize=_MEMO)
def _keyvalue(text: str, lower: bool) -> dict[str, str]:
    out: dict[str, str] = {}
    for ln in _lines(text):
        m = _KEYVALUE.match(ln)
        if not m:
            continue
        key = m.group(1).lower() if lower else m.group(1)
        out[key] = m.group(2).strip().strip('"').strip("'")
    return out


def keyvalue(text: str, lower: bool = False) -> dict[str, str]:
    """``KEY VALUE`` or ``KEY=VALUE`` lines (login.defs, sshd -T, os-release). The last one wins."""
    return dict(_keyvalue(text, lower))


def sshd_t(text: str) -> dict[str, str]:
    """``sshd -T`` output: lower-case keys; keys that repeat (e.g. listenaddress) are joined by commas."""
    return dict(_sshd_t(text))


@lru_cache(maxsize=_MEMO)
def _sshd_t(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for ln in _lines(text):
        key, _, value = ln.strip().partition(" ")
        key = key.lower()
        out[key] = f"{out[key]},{value.strip()}" if key in out else value.strip()
    return out


def stat(text: str) -> dict[str, str] | None:
    """Output of ``stat -c '%a/%U/%G/%s/%Y/%F'`` (``probes.STAT_FORMAT``; the older space-separated form too)."""
    text = text.strip()
    parts = text.split("/", 5) if re.match(r"[0-7]{1,4}/", text) else text.split(" ", 5)
    if len(parts) < 5 or not re.fullmatch(r"[0-7]{1,4}", parts[0]):
        return None
    return {"mode": parts[0].zfill(4), "owner": parts[1], "group": parts[2], "size": parts[3],
            "mtime": parts[4], "type": parts[5] if len(parts) > 5 else ""}


def colon_table(text: str, names: tuple[str, ...]) -> list[dict[str, str]]:
    """Colon-separated files such as /etc/passwd and /etc/shadow."""
    return [dict(r) for r in _colon_table(text, tuple(names))]


@lru_cache(maxsize=_MEMO)
def _colon_table(text: str, names: tuple[str, ...]) -> tuple[dict[str, str], ...]:
    rows = []
    for ln in _lines(text):
        parts = ln.split(":")
        rows.append({n: (parts[i] if i < len(parts) else "") for i, n in enumerate(names)})
    return tuple(rows)


PASSWD = ("name", "password", "uid", "gid", "gecos", "home", "shell")
SHADOW = ("name", "password", "lastchg", "min", "max", "warn", "inactive", "expire", "reserved")


def passwd(text: str) -> list[dict[str, str]]:
    return colon_table(text, PASSWD)


def shadow(text: str) -> list[dict[str, str]]:
    return colon_table(text, SHADOW)


_SS_USER = re.compile(r'\("((?:[^"\\]|\\.){1,64})",pid=\d+')


def listening(text: str) -> list[dict]:
    """``ss -H -tuln`` / ``ss -H -tulpn`` lines → [{'proto', 'address', 'port', 'procs'}]; ``procs``
    are the process names of ``users:(("sshd",pid=812,fd=3),…)`` (``-p``, as root), cleaned and
    at most 8 per socket, empty when ss did not show them."""
    out = []
    for ln in lines(text):
        parts = ln.split()
        if len(parts) < 5:
            continue
        proto, local = parts[0], parts[4]
        addr, _, port = local.rpartition(":")
        if port.isdigit():
            procs = []
            for name in _SS_USER.findall(ln)[:8]:
                clean = re.sub(r"[^\w.@+:-]", "", name)[:32]
                if clean and clean not in procs:
                    procs.append(clean)
            out.append({"proto": proto, "address": addr.strip("[]"), "port": port, "procs": procs})
    return out


def os_release(text: str) -> dict[str, str]:
    return keyvalue(text)


def os_family(text: str) -> str:
    """debian / rhel / linux from the OS metadata probe (os-release, then the package tool present)."""
    kv = os_release(text)
    ids = f"{kv.get('ID', '')} {kv.get('ID_LIKE', '')}".lower().split()
    if any(i in ("debian", "ubuntu", "uos", "deepin") for i in ids):
        return "debian"
    if any(i in ("rhel", "centos", "fedora", "openeuler", "kylin", "anolis", "rocky", "almalinux", "ol", "euleros")
           for i in ids):
        return "rhel"
    if "/dpkg-query" in text:
        return "debian"
    if "/rpm" in text:
        return "rhel"
    return "linux" if text.strip() else ""


def grep_files(text: str) -> dict[str, list[str]]:
    """``grep -H`` output → {path: [meaningful lines]} (comments and blank lines dropped)."""
    return {path: list(body) for path, body in _grep_files(text).items()}


@lru_cache(maxsize=_MEMO)
def _grep_files(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for ln in text.splitlines():
        path, sep, line = ln.partition(":")
        if not sep or not path.startswith("/"):
            continue
        body = line.strip()
        out.setdefault(path, [])
        if body and not body.startswith("#"):
            out[path].append(body)
    return out


def to_int(value, default=None):
    """``value`` as an int (surrounding blanks ignored), else ``default``."""
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return default


PARSERS = {"raw": lambda t: t, "lines": lines, "keyvalue": keyvalue, "sshd": sshd_t, "stat": stat,
           "passwd": passwd, "shadow": shadow, "listening": listening}
