"""The one batched script that gathers every probe of a host in one exchange, and its parser.

``build_script`` turns a set of probes into one bash script; each probe runs read-only under
``timeout``, its stdout and stderr are size-capped and base64-encoded between markers that carry a
per-run random nonce, so one probe's output (however hostile) can never be mistaken for another's
or for a marker. ``parse_output`` turns the script's output back into ``Facts``.

Host-side footprint: the script creates one private ``mktemp -d`` directory for stderr
captures and removes it on exit; nothing else is written.
"""
from __future__ import annotations

import base64
import binascii
import re
import secrets
import shlex
from typing import Iterable

from audits.model.probes import Facts, Probe, ProbeResult, sudo_argv

STDOUT_CAP = 256 * 1024
STDERR_CAP = 2048

_PRELUDE = r"""exec 2>/dev/null
export LC_ALL=C LANG=C PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
umask 077
D=$(mktemp -d 2>/dev/null) && trap 'rm -rf -- "$D"' EXIT || D=
p() {
  local E=/dev/null rc
  [ -n "$D" ] && E="$D/e" && : >"$E"
  printf '\n@@%s B %s\n' "$N" "$1"
  timeout -k 2 "$2" bash -o pipefail -c "$3" 2>"$E" </dev/null | head -c OCAP | base64
  rc=${PIPESTATUS[0]}
  printf '\n@@%s E %s\n' "$N" "$1"
  [ -s "$E" ] && head -c ECAP "$E" | base64
  printf '\n@@%s R %s %s\n' "$N" "$1" "$rc"
}
"""

# Files whose secret fields are blanked ON THE HOST, so secrets never cross the wire:
# field 2 of shadow/gshadow becomes EMPTY, or lock markers (!, *) plus the hash scheme ($6$, $y$, DES).
REDACT = {
    "/etc/shadow": (
        "awk -F: -v OFS=: '{p=$2; l=\"\"; while (p ~ /^[!*]/) {l=l substr(p,1,1); p=substr(p,2)}"
        " if ($2==\"\") s=\"EMPTY\"; else if (p ~ /^[$]/) {r=substr(p,2); i=index(r,\"$\");"
        " s=(i>0) ? \"$\" substr(r,1,i) : \"$\"} else if (p!=\"\") s=\"DES\"; else s=\"\";"
        " $2=l s; print}'"),
}
REDACT["/etc/gshadow"] = REDACT["/etc/shadow"]

def shell_command(probe: Probe, as_root: bool = False) -> str:
    """The read-only command line for a probe; only the first command runs under ``sudo -n``
    (not at all when the session already is root)."""
    sudo = "sudo -n -- " if probe.sudo and not as_root else ""
    if probe.kind == "command":
        argv = sudo_argv(probe) if probe.sudo else None  # refuses shell syntax, also when already root
        if not sudo:
            return probe.arg
        prog = shlex.quote(argv[0])
        # Under a least-privilege sudoers, sudo answers "a password is required" for a program that
        # is not installed (no rule matches it); test for it first so "absent" stays "absent" (127).
        return (f"command -v -- {prog} >/dev/null || {{ echo {prog}: command not found >&2; exit 127; }}; "
                + sudo + probe.arg)
    cmd = sudo + " ".join(shlex.quote(a) for a in sudo_argv(probe))
    if probe.kind == "file" and probe.arg in REDACT:
        cmd += " | " + REDACT[probe.arg]
    return cmd


def build_script(probes: Iterable[Probe], nonce: str, timeout: float, as_root: bool = False) -> str:
    """One bash script that runs every probe (sorted, de-duplicated) with its own timeout."""
    lines = ["#!/bin/bash", f"N={nonce}",
             _PRELUDE.replace("OCAP", str(STDOUT_CAP + 1)).replace("ECAP", str(STDERR_CAP))]
    t = max(1, int(timeout))
    for i, probe in enumerate(sorted(set(probes))):
        lines.append(f"p {i} {t} {shlex.quote(shell_command(probe, as_root))}")
    lines.append("printf '\\n@@%s DONE\\n' \"$N\"")
    return "\n".join(lines) + "\n"


def output_budget(n_probes: int) -> int:
    """The most a well-behaved host can send for a script of n probes (each probe's capped stdout
    and stderr, base64 with line breaks, plus its markers); transports stop reading beyond it."""
    per_probe = (STDOUT_CAP + 1) * 4 // 3 * 77 // 76 + STDERR_CAP * 4 // 3 * 77 // 76 + 256
    return (n_probes + 1) * per_probe + 4096


def new_nonce() -> str:
    return secrets.token_hex(8)


def _b64(data: bytes) -> bytes:
    """A section's base64 (line breaks and any other non-alphabet byte are skipped)."""
    try:
        return base64.b64decode(data, validate=False)
    except (binascii.Error, ValueError):
        return b""


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _text(b: bytes) -> str:
    """Host output as text: invalid UTF-8, NUL and terminal control characters (ESC, C1) become U+FFFD,
    so no report, CSV cell or terminal line can carry an escape sequence from a host."""
    return _CONTROL.sub("\ufffd", b.decode("utf-8", "replace"))


def parse_output(raw: bytes, probes: Iterable[Probe], nonce: str, host_id: str) -> Facts:
    """Split the script's output back into probe results. Missing sections become errors.

    Memory stays a small multiple of ``raw`` whatever its shape: the output is never split into one
    object per line (30 MB of one-byte lines used to become 15 million objects, 1.4 GB); markers are
    found with one scan, each probe keeps one (start, end) span per stream, and a marker naming a probe
    that does not exist is ignored."""
    ordered = sorted(set(probes))
    n = len(ordered)
    facts = Facts(host_id)
    marker = re.compile(rb"^@@" + re.escape(nonce.encode()) + rb" (B|E|R|DONE)(?: (\d{1,9}))?(?: (\S{1,16}))?$",
                        re.MULTILINE)
    spans: dict[int, dict] = {}
    cur: tuple[int, str] | None = None   # (probe index, 'B'|'E') whose section is open
    start = 0
    done = False

    def close(at: int):
        if cur is not None:
            spans[cur[0]][cur[1]] = (start, at)

    for m in marker.finditer(raw):
        close(m.start())
        cur = None
        tag, idx = m.group(1), m.group(2)
        if tag == b"DONE":
            done = True
            continue
        if idx is None or int(idx) >= n:
            continue
        i = int(idx)
        sec = spans.setdefault(i, {"B": None, "E": None, "rc": None})
        if tag == b"R":
            sec["rc"] = m.group(3).decode("ascii", "replace") if m.group(3) else None
        else:
            cur, start = (i, tag.decode()), m.end()
    close(len(raw))
    facts.meta["complete"] = done
    for i, probe in enumerate(ordered):
        sec = spans.get(i)
        if sec is None or sec["rc"] is None:
            facts.results[probe] = ProbeResult(error="no output (host or run stopped before this probe finished)")
            continue
        out = _b64(raw[slice(*sec["B"])]) if sec["B"] else b""
        truncated = len(out) > STDOUT_CAP
        err = _text(_b64(raw[slice(*sec["E"])])[: STDERR_CAP + 1]) if sec["E"] else ""
        rc_text = sec["rc"]
        rc = int(rc_text) if rc_text.isdigit() else None
        res = ProbeResult(_text(out[:STDOUT_CAP]), rc, err, truncated)
        del out
        if rc in (124, 137) and not truncated:
            res.error = "probe timed out"
        elif probe.sudo and rc == 1 and re.match(r"sudo: [^\n]*: command not found", err.strip()):
            res.rc = 127  # the program is not installed: the same as without sudo, the check decides
        elif probe.sudo and rc in (1, 127) and "sudo" in err:
            first = err.strip().splitlines()[0][:200]
            res.error = ("sudo not installed: " if rc == 127 else "sudo denied: ") + first
        elif rc is None:
            res.error = "exit status lost"
        facts.results[probe] = res
    return facts
