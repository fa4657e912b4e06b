#!/usr/bin/env python3
"""Benchmark (not a test): peak memory of auditing ONE hostile host whose answer fills the whole output
budget, for several shapes of output, each in a fresh process (peak RSS from getrusage).

The host is a stand-in transport that answers the real batched script (every probe of every pack,
the run's nonce, well-framed markers) with the budget's worth of bytes; the rest is the real runner:
``parse_output`` and the evaluation of every check.

Shapes (the sections are raw bytes with declared lengths, ``script.frame``):
  flat       each probe's stdout: 256 KiB without a newline (well-formed)
  lines      each probe's stdout: 256 KiB of one-byte lines ("a\\n" ...)
  rawlines   each probe's stdout: 256 KiB of empty lines (every byte a newline: the most lines)
  markers    the budget filled with forged section headers for probe 0 (one every ~30 bytes)

Usage: .venv/bin/python bench/host_memory.py [--shapes flat,lines,rawlines,markers]
"""
from __future__ import annotations

import argparse
import json
import re
import resource
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _hwm_kib() -> int:
    """This process's peak resident memory (VmHWM, KiB). Not getrusage's ru_maxrss: Linux carries that over
    execve from the forking parent, so a child of a large process (a pytest run) reports the parent's size."""
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def one(shape: str) -> dict:
    from checks.registry import load_registry

    from audits.collect.script import STDOUT_CAP, frame, frame_done, output_budget
    from audits.collect.transports.base import Transport
    from audits.model.inventory import DEFAULT_SETTINGS, Host, Source
    from audits.run import platforms
    from audits.run.runner import audit_host

    class HostileHost(Transport):
        name = "bench"

        def open(self):
            pass

        def is_root(self):
            return True

        def run_script(self, script, timeout, max_bytes=0):
            nonce = re.search(r"^N=(\w+)$", script, re.M).group(1)
            n = len(re.findall(r"^p \d+ ", script, re.M))
            out, budget = bytearray(), min(max_bytes, output_budget(n))
            if shape == "markers":
                m = frame(nonce, 0, b"").split(b"\n@@", 2)[1].join((b"\n@@", b""))  # headers, never a whole section
                while len(out) < budget:
                    out += m
            for i in range(n):
                if len(out) >= budget:
                    break
                stdout = {"flat": b"a" * STDOUT_CAP, "rawlines": b"\n" * STDOUT_CAP}.get(shape, b"a\n" * (STDOUT_CAP // 2))
                out += frame(nonce, i, stdout)
            out += frame_done(nonce)
            self.meta["bytes"] = min(len(out), max_bytes)
            return bytes(out[:max_bytes])


    plat = platforms.platform_for(Host("h", "192.0.2.1", "s", "d", [], 3, {**DEFAULT_SETTINGS}, Source("b", 0)))
    plat.connect = lambda host, options: HostileHost(host, options)  # the hostile host instead of SSH
    platforms.platform_for = lambda host: plat
    import audits.run.runner as runner
    runner.platform_for = platforms.platform_for
    host = Host("h", "192.0.2.1", "s", "d", [], 3, {**DEFAULT_SETTINGS}, Source("bench", 0))
    checks = load_registry().select(None)
    before = _hwm_kib()
    rec, results = audit_host(host, checks, {}, {})
    peak = _hwm_kib()
    return {"shape": shape, "status": rec.status, "detail": rec.detail[:80], "results": len(results),
            "baseline_mb": round(before / 1024), "peak_rss_mb": round(peak / 1024)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shapes", default="flat,lines,rawlines,markers")
    ap.add_argument("--one")
    a = ap.parse_args()
    if a.one:
        print(json.dumps(one(a.one)))
        return
    for shape in a.shapes.split(","):
        r = subprocess.run([sys.executable, __file__, "--one", shape], capture_output=True, text=True, cwd=ROOT)
        print(r.stdout.strip() or r.stderr[-500:])


if __name__ == "__main__":
    main()
