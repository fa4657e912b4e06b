"""The one batched script that gathers every probe of a host in one exchange, and its parser.

``build_script`` turns a set of probes into one bash script; ``parse_output`` turns the script's
output back into ``Facts``; ``frame`` writes one probe's section the way the script does (for
stand-in hosts in tests and benchmarks).

Host side, per probe, only one process is spawned besides the probe's own commands: a subshell
(a ``fork`` of the script's bash, no new shell; when the probe's command line is one plain command the
subshell becomes that program with ``exec``) that runs the probe read-only with ``ulimit -f`` bounding
every file it writes,
its stdout and stderr going to files in the run's private ``mktemp -d`` directory. The script reads
them back with bash builtins (``read -d ''``, so NUL bytes survive), at most 256 KiB + 1 of stdout and
2 KiB of stderr, and writes the whole section with one ``printf``: no ``timeout``, ``bash -c``,
``head`` or ``base64`` per probe. Per-probe timeouts come from ONE watchdog subshell for the whole run: each probe
runs in its own process group (``set -m``) and the script tells the watchdog (through a FIFO in the
private directory) which group runs until when; the watchdog sends TERM to the group at the deadline
and KILL two seconds later. If the private directory cannot be made, each probe falls back to the
old pipeline (``timeout``, ``bash -c``) read through a pipe with the same caps.

The script's whole output goes through one ``dd obs=16384`` (``cat`` if dd refuses): bash writes
every line separately (its stdout is line-buffered), and 16 KiB blocks make ~10 SSH packets of a
host's ~150 KB instead of ~150, each of which the auditor decrypts and parses in Python; at a cut-off
at most the last 16 KiB of finished sections is lost.

Framing: each section is ``@@NONCE B index out_len err_len`` then exactly ``out_len + err_len`` raw
bytes, then ``@@NONCE R index rc``; the run ends with ``@@NONCE DONE``. The parser skips a section's
bytes by their declared length and never looks inside them for markers, so no probe output, however
hostile (even one that knows the nonce), can be mistaken for another section or a marker. The
per-run random nonce still ties every marker to this run. The script writes nothing on the host
except its private directory, removed on exit (by the watchdog if the script itself is killed).
"""
from __future__ import annotations

import re
import secrets
import shlex
from typing import Iterable

from audits.model.probes import Facts, Probe, ProbeResult, sudo_argv

STDOUT_CAP = 256 * 1024
STDERR_CAP = 2048
_FSIZE_KIB = (STDOUT_CAP + 1) // 1024 + 2   # ulimit -f for a probe: files it writes stop just past the cap

_PRELUDE = r"""exec 2>/dev/null
export LC_ALL=C LANG=C PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
exec > >(dd obs=16384 status=none || exec cat)
umask 077
set -m
M=$$ W= D=$(mktemp -d 2>/dev/null) || D=
trap '[ -n "$W" ] && kill -- "$W"; [ -n "$D" ] && rm -rf -- "$D"' EXIT
u() { U=${EPOCHREALTIME/./}; [ -n "$U" ] || U=$(( (SECONDS + $1) * 1000000 )); }
w() {
  local pg=0 lim=0 a b
  while kill -0 "$M"; do
    if read -r -t 0.5 a b <&9; then pg=$a lim=$b; continue; fi
    [ "$pg" = 0 ] && continue
    u 0
    if (( U >= lim )); then
      printf 1 >"$D/t"; kill -TERM -- "-$pg"
      (( U >= lim + 2000000 )) && kill -KILL -- "-$pg"
    fi
  done
  [ "$pg" = 0 ] || kill -KILL -- "-$pg"
  rm -rf -- "$D"
}
if [ -n "$D" ] && mkfifo -m 600 "$D/w" && exec 9<>"$D/w"; then
  w >/dev/null </dev/null &
  W=$!
fi
r() {
  C=() L=0
  local x m=1
  while (( m )); do
    IFS= read -r -d '' x || m=0
    if (( L + ${#x} >= $1 )); then C+=("${x:0:$1-L}"); L=$1; return; fi
    C+=("$x"); L=$((L + ${#x} + m))
  done
}
s() {
  local k
  for ((k = 1; k < ${#C[@]}; k++)); do F+='%s\0'; done
  F+='%s'
}
p() {
  local rc pg O OL
  if [ -n "$W" ]; then
    : >"$D/t"
    ( ulimit -f FSIZE; set -o pipefail; eval "$3" ) >"$D/o" 2>"$D/e" </dev/null 9>&- &
    pg=$!
    u 1; printf '%s %s\n' "$pg" "$(( U + $2 * 1000000 ))" >&9
    wait "$pg"; rc=$?
    printf '0 0\n' >&9
    [ -s "$D/t" ] && rc=124
    r OCAP <"$D/o"; O=("${C[@]}") OL=$L
    r ECAP <"$D/e"
    : >"$D/o"; : >"$D/e"
  else
    local f=/dev/null
    [ -n "$D" ] && f="$D/e"
    r OCAP < <(timeout -k 2 "$2" bash -o pipefail -c "$3" 2>"$f" </dev/null)
    wait "$!"; rc=$?
    O=("${C[@]}") OL=$L C=("") L=0
    [ -n "$D" ] && { r ECAP <"$f"; : >"$f"; }
  fi
  local E=("${C[@]}") F='\n@@%s B %s %s %s\n'
  C=("${O[@]}"); s
  C=("${E[@]}"); s
  F+='\n@@%s R %s %s\n'
  printf "$F" "$N" "$1" "$OL" "$L" "${O[@]}" "${E[@]}" "$N" "$1" "$rc"
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


# A command line that is one simple command of a program (no operators, redirections, expansions,
# assignments) may replace the probe's subshell with ``exec``: one fork per probe fewer.
_NOT_SIMPLE = re.compile(r"[;&|<>(){}$`\\\n]")  # globs and quoted words are fine
_BUILTINS = frozenset("""alias bg bind break builtin caller cd command compgen complete compopt continue declare dirs
    disown echo enable eval exec exit export false fc fg getopts hash help history if jobs kill let local logout
    mapfile popd printf pushd pwd read readarray readonly return set shift shopt source suspend test times trap
    true type typeset ulimit umask unalias unset wait for while until case select function time coproc [ [[""".split())


def _exec_last(cmd: str) -> str:
    """``exec`` before the program that ends a probe's command line, where that changes nothing but the
    fork: a plain command (``cat -- /etc/hostname``) or the sudo form ``command -v -- P ...; sudo -n -- ...``."""
    head, sep, last = cmd.rpartition("; sudo -n -- ")
    if sep and not _NOT_SIMPLE.search(last):
        return f"{head}; exec sudo -n -- {last}"
    if _NOT_SIMPLE.search(cmd):
        return cmd
    words = cmd.split()
    if not words or words[0] in _BUILTINS or "=" in words[0] or "'" in words[0] or '"' in words[0]:
        return cmd
    return "exec " + cmd


def build_script(probes: Iterable[Probe], nonce: str, timeout: float, as_root: bool = False) -> str:
    """One bash script that runs every probe (sorted, de-duplicated) with its own timeout."""
    prelude = (_PRELUDE.replace("OCAP", str(STDOUT_CAP + 1)).replace("ECAP", str(STDERR_CAP))
               .replace("FSIZE", str(_FSIZE_KIB)))
    lines = ["#!/bin/bash", f"N={nonce}", prelude]
    t = max(1, int(timeout))
    for i, probe in enumerate(sorted(set(probes))):
        lines.append(f"p {i} {t} {shlex.quote(_exec_last(shell_command(probe, as_root)))}")
    lines.append("printf '\\n@@%s DONE\\n' \"$N\"")
    return "\n".join(lines) + "\n"


_HEADER = 96  # the most bytes one section's two marker lines take (nonce, index, lengths, status)


def output_budget(n_probes: int) -> int:
    """The most a well-behaved host can send for a script of n probes (each probe's capped stdout
    and stderr, raw, plus its markers); transports stop reading beyond it."""
    return (n_probes + 1) * (STDOUT_CAP + 1 + STDERR_CAP + _HEADER) + 4096


def new_nonce() -> str:
    return secrets.token_hex(8)


def frame(nonce: str, index: int, stdout: bytes, stderr: bytes = b"", rc: int | str = 0) -> bytes:
    """One probe's section exactly as the script writes it (for stand-in hosts in tests and benchmarks)."""
    return (f"\n@@{nonce} B {index} {len(stdout)} {len(stderr)}\n".encode() + stdout + stderr
            + f"\n@@{nonce} R {index} {rc}\n".encode())


def frame_done(nonce: str) -> bytes:
    return f"\n@@{nonce} DONE\n".encode()


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _text(b: bytes) -> str:
    """Host output as text: invalid UTF-8, NUL and terminal control characters (ESC, C1) become U+FFFD,
    so no report, CSV cell or terminal line can carry an escape sequence from a host."""
    return _CONTROL.sub("\ufffd", b.decode("utf-8", "replace"))


def _sections(raw: bytes, nonce: str, n: int):
    """(index, stdout bytes, stderr bytes, rc text) for each complete section, and whether DONE came.

    A section's bytes are skipped by their declared length, never searched for markers; anything
    between sections (a login banner before the first) is skipped up to the next marker. A section
    cut short (the host or the run stopped) ends the scan. Memory: slices of ``raw`` only."""
    n_ = re.escape(nonce.encode())
    begin = re.compile(rb"@@" + n_ + rb" (?:B (\d{1,9}) (\d{1,9}) (\d{1,9})|(DONE))\n")
    end = re.compile(rb"\n@@" + n_ + rb" R (\d{1,9}) (\S{1,16})\n")
    pos, size = 0, len(raw)
    while True:
        m = begin.search(raw, pos)
        if m is None:
            return False
        if m.group(4):
            return True
        i, olen, elen = int(m.group(1)), int(m.group(2)), int(m.group(3))
        body = m.end()
        stop = body + olen + elen
        if stop > size or olen > STDOUT_CAP + 1 or elen > STDERR_CAP:
            return False
        e = end.match(raw, stop)
        if e is None or int(e.group(1)) != i:
            return False
        if i < n:
            yield i, raw[body:body + olen], raw[body + olen:stop], e.group(2).decode("ascii", "replace")
        pos = e.end() - 1  # the next section's marker starts on a new line


def parse_output(raw: bytes, probes: Iterable[Probe], nonce: str, host_id: str) -> Facts:
    """Split the script's output back into probe results. Missing sections become errors.

    Memory stays a small multiple of ``raw`` whatever its shape: the output is never split into
    lines; each section is found by the declared lengths of the one before it, and a section naming
    a probe that does not exist is ignored."""
    ordered = sorted(set(probes))
    n = len(ordered)
    facts = Facts(host_id)
    found: dict[int, tuple[bytes, bytes, str]] = {}
    scan = _sections(raw, nonce, n)
    done = False
    while True:
        try:
            i, out, err, rc_text = next(scan)
        except StopIteration as stop:
            done = bool(stop.value)
            break
        found[i] = (out, err, rc_text)
    facts.meta["complete"] = done
    for i, probe in enumerate(ordered):
        sec = found.get(i)
        if sec is None:
            facts.results[probe] = ProbeResult(error="no output (host or run stopped before this probe finished)")
            continue
        out, err_b, rc_text = sec
        truncated = len(out) > STDOUT_CAP
        err = _text(err_b)
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
