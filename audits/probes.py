"""Probes, facts, and the one batched script that gathers every probe of a host in one exchange.

A ``Probe`` is (kind, argument, sudo): ``file:/etc/login.defs``, ``stat:/etc/shadow``,
``command:sshd -T``. Probes are hashable and de-duplicated. ``build_script`` turns a set of
probes into one bash script; each probe runs read-only under ``timeout``, its stdout and stderr
are size-capped and base64-encoded between markers that carry a per-run random nonce, so one
probe's output (however hostile) can never be mistaken for another's or for a marker.
``parse_output`` turns the script's output back into ``Facts``.

Host-side footprint: the script creates one private ``mktemp -d`` directory for stderr
captures and removes it on exit; nothing else is written.
"""
from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
import shlex
from dataclasses import dataclass, field
from typing import Iterable

KINDS = ("file", "stat", "command")
STDOUT_CAP = 256 * 1024
STDERR_CAP = 2048


@dataclass(frozen=True, order=True)
class Probe:
    kind: str
    arg: str
    sudo: bool = False

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown probe kind {self.kind!r} (expected one of {', '.join(KINDS)})")
        if not self.arg or "\x00" in self.arg or "\n" in self.arg:
            raise ValueError(f"bad probe argument {self.arg!r}")

    @classmethod
    def parse(cls, text: str, sudo: bool = False) -> "Probe":
        kind, sep, arg = text.partition(":")
        if not sep:
            raise ValueError(f"probe {text!r} must look like KIND:ARGUMENT (e.g. file:/etc/login.defs)")
        return cls(kind.strip(), arg.strip(), sudo)

    def __str__(self) -> str:
        return f"{self.kind}:{self.arg}" + (" (sudo)" if self.sudo else "")

    @property
    def key(self) -> str:
        return ("sudo " if self.sudo else "") + f"{self.kind}:{self.arg}"


@dataclass
class ProbeResult:
    stdout: str = ""
    rc: int | None = None
    stderr: str = ""
    truncated: bool = False
    error: str | None = None  # set when the probe could not run at all (timeout, sudo denied, lost output)

    @property
    def ok(self) -> bool:
        return self.error is None and self.rc == 0

    def missing(self) -> bool:
        """True when the target simply does not exist (file absent, command not installed)."""
        if self.rc == 127:
            return True
        text = self.stderr.lower()
        return self.rc not in (0, None) and ("no such file" in text or "not found" in text)


@dataclass
class Facts:
    """Everything gathered from one host: probe -> result, plus metadata. Recordable to JSON."""

    host_id: str
    results: dict[Probe, ProbeResult] = field(default_factory=dict)
    meta: dict = field(default_factory=dict)

    def get(self, probe: Probe) -> ProbeResult:
        r = self.results.get(probe)
        if r is None:
            return ProbeResult(error=f"probe {probe} was not gathered")
        return r

    def to_json(self) -> dict:
        return {"host_id": self.host_id, "meta": self.meta,
                "probes": [{"kind": p.kind, "arg": p.arg, "sudo": p.sudo, "stdout": r.stdout, "rc": r.rc,
                            "stderr": r.stderr, "truncated": r.truncated, "error": r.error}
                           for p, r in sorted(self.results.items())]}

    @classmethod
    def from_json(cls, data: dict) -> "Facts":
        f = cls(data.get("host_id", "recorded"), meta=data.get("meta", {}))
        for d in data.get("probes", []):
            f.results[Probe(d["kind"], d["arg"], d.get("sudo", False))] = ProbeResult(
                d.get("stdout", ""), d.get("rc"), d.get("stderr", ""), d.get("truncated", False), d.get("error"))
        return f

    @classmethod
    def load(cls, path) -> "Facts":
        with open(path, encoding="utf-8") as fh:
            return cls.from_json(json.load(fh))


# The metadata probe every host gets, so checks and reports know the OS without a second trip.
OS_PROBE = Probe("command", "cat /etc/os-release 2>/dev/null; echo; echo KERNEL=$(uname -r); "
                 "command -v dpkg-query rpm 2>/dev/null")

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
_UNSAFE_FOR_SUDO = re.compile(r"[|;&<>`$(){}\\\n]")


STAT_FORMAT = "%a %U %G %s %Y %F"


def sudo_argv(probe: Probe) -> list[str]:
    """The argv that runs under ``sudo -n`` for a sudo probe: one plain command, so a sudoers
    fragment can list it exactly (``audits.sudoers``). ValueError for a command with shell syntax."""
    if probe.kind == "file":
        return ["cat", "--", probe.arg]
    if probe.kind == "stat":
        return ["stat", "-L", "-c", STAT_FORMAT, "--", probe.arg]
    if _UNSAFE_FOR_SUDO.search(probe.arg):
        raise ValueError(f"probe {probe}: a sudo command must be one plain command, without shell syntax")
    return shlex.split(probe.arg)


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


def _b64(lines: list[str]) -> bytes:
    try:
        return base64.b64decode("".join(lines), validate=False)
    except (binascii.Error, ValueError):
        return b""


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _text(b: bytes) -> str:
    """Host output as text: invalid UTF-8, NUL and terminal control characters (ESC, C1) become U+FFFD,
    so no report, CSV cell or terminal line can carry an escape sequence from a host."""
    return _CONTROL.sub("\ufffd", b.decode("utf-8", "replace"))


def parse_output(raw: bytes, probes: Iterable[Probe], nonce: str, host_id: str) -> Facts:
    """Split the script's output back into probe results. Missing sections become errors."""
    ordered = sorted(set(probes))
    facts = Facts(host_id)
    marker = re.compile(rb"^@@" + re.escape(nonce.encode()) + rb" (B|E|R|DONE)(?: (\d+))?(?: (\S+))?$")
    sections: dict[int, dict] = {}
    cur: list | None = None
    done = False
    for line in raw.split(b"\n"):
        m = marker.match(line)
        if m:
            tag, idx = m.group(1), m.group(2)
            if tag == b"DONE":
                done = True
                cur = None
                continue
            i = int(idx)
            sec = sections.setdefault(i, {"B": [], "E": [], "rc": None})
            if tag == b"R":
                sec["rc"] = m.group(3)
                cur = None
            else:
                cur = sec[tag.decode()]
            continue
        if cur is not None and line:
            cur.append(line.decode("ascii", "ignore"))
    facts.meta["complete"] = done
    for i, probe in enumerate(ordered):
        sec = sections.get(i)
        if sec is None or sec["rc"] is None:
            facts.results[probe] = ProbeResult(error="no output (host or run stopped before this probe finished)")
            continue
        out = _b64(sec["B"])
        truncated = len(out) > STDOUT_CAP
        err = _text(_b64(sec["E"]))
        rc_text = sec["rc"].decode() if isinstance(sec["rc"], bytes) else sec["rc"]
        rc = int(rc_text) if rc_text.isdigit() else None
        res = ProbeResult(_text(out[:STDOUT_CAP]), rc, err, truncated)
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
