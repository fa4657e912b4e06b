"""Probes and facts as plain data: a ``Probe`` is (kind, argument, sudo): ``file:/etc/login.defs``,
``stat:/etc/shadow``, ``command:sshd -T``; probes are hashable and de-duplicated. ``ProbeResult`` is
one probe's answer, ``Facts`` everything gathered from one host (recordable to JSON). ``OS_PROBE`` is
the metadata probe every host gets; ``sudo_argv`` the one plain command a sudo probe runs as root.
How probes travel to a host and back is ``audits.collect.script``.
"""
from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field

KINDS = ("file", "stat", "command")


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

_UNSAFE_FOR_SUDO = re.compile(r"[|;&<>`$(){}\\\n]")


# No space in any argument of a sudo command: sudo matches arguments joined by spaces, so a space
# inside one would let the caller pass the same text as several arguments (issue #18). '/' cannot
# occur in a mode, a user or group name, a size or a time.
STAT_FORMAT = "%a/%U/%G/%s/%Y/%F"


def sudo_argv(probe: Probe) -> list[str]:
    """The argv that runs under ``sudo -n`` for a sudo probe: one plain command, so a sudoers
    fragment can list it exactly (``audits.trust.sudoers``). ValueError for a command with shell syntax."""
    if probe.kind == "file":
        return ["cat", "--", probe.arg]
    if probe.kind == "stat":
        return ["stat", "-L", "-c", STAT_FORMAT, "--", probe.arg]
    if _UNSAFE_FOR_SUDO.search(probe.arg):
        raise ValueError(f"probe {probe}: a sudo command must be one plain command, without shell syntax")
    return shlex.split(probe.arg)
