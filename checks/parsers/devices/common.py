"""Helpers every vendor normaliser shares: masking secrets in evidence lines, reading the release from a
configuration header or a version command's output, idle times, ACL rules' reach."""
from __future__ import annotations

import re

_STORAGE = {"cipher", "irreversible-cipher", "simple", "hash", "plain", "encrypted"}
_TRIGGER = {"password", "secret", "community", "key", "key-string", "authentication-key", "auth", "priv"}
# type digits, access words and SNMPv3 algorithms that come between a keyword and its secret
_QUALIFIERS = {"read", "write", "ro", "rw", "0", "5", "6", "7", "8", "9", "md5", "sha", "sha224", "sha256", "sha384",
               "sha512", "des", "3des", "aes", "128", "192", "256"} | _STORAGE
_STOP = {"policy", "history", "expire", "min-length", "complexity-check", "alert", "aging", "encryption",
         "min-size", "strong", "life-cycle", "no-repeat-times", "control", "reverse", "access", "notify", "context",
         "match", "generate"}


def mask(text: str) -> str:
    """The line with every secret value (password, secret, cipher text, community) replaced by ******."""
    out: list[str] = []
    pending = False
    for w in text.split():
        lw = w.lower()
        if pending:
            if lw in _STOP:
                pending = False
                out.append(w)
                continue
            if lw in _QUALIFIERS:
                out.append(w)
                if lw in _STORAGE:
                    continue
                continue
            out.append("******")
            pending = False
            continue
        out.append(w)
        if lw in _TRIGGER or lw in _STORAGE:
            pending = True
    return " ".join(out)


_RELEASES = (
    re.compile(r"\b(V\d{3}R\d{3}\w*)"),                         # Huawei VRP V200R019C10SPC500
    re.compile(r"\bRGOS\s+(\d+\.\d+\S*)", re.I),               # Ruijie RGOS 11.4(1)B12
    re.compile(r"^\s*version\s+(\d+\.\d+\.\d+)\s*,", re.M),     # H3C Comware ' version 7.1.070, Release 6728'
    re.compile(r"Comware Software, Version\s+(\d+\.\d+\.\d+)"), # H3C display version
    re.compile(r"\bVersion\s+(\d+\.\d+\([^)]*\)\S*?),"),       # Cisco show version: Version 15.2(4)E10,
    re.compile(r"^version\s+(\d+\.\d+)\s*$", re.M),             # Cisco running-config header
)


def release_of(*texts: str) -> str:
    """The release a configuration header or version output names ('' when none)."""
    for text in texts:
        head = (text or "")[:20000]
        for rx in _RELEASES:
            m = rx.search(head)
            if m:
                return m.group(1)[:40]
    return ""


def idle_seconds(words: list[str]) -> int | None:
    """``idle-timeout M [S]`` / ``exec-timeout M [S]`` → seconds (0 = never)."""
    try:
        minutes = int(words[0])
        seconds = int(words[1]) if len(words) > 1 and words[1].isdigit() else 0
    except (ValueError, IndexError):
        return None
    return minutes * 60 + seconds


def is_any(token_pairs: list[str]) -> bool:
    return not token_pairs or token_pairs[0].lower() == "any"
