#!/usr/bin/env python3
"""Benchmark (not a test): one live device session against the fake device server (tests/fake_device.py)
serving a configuration of N interface blocks, with paging off and with the pager fallback (paging-off
ignored, a space per page), plus the cleaning of the raw bytes alone. Prints sizes and seconds.

Usage:  .venv/bin/python bench/device_session.py --interfaces 5000 --platform huawei-vrp
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from audits.collect.device_commands import COMMANDS  # noqa: E402
from audits.collect.transports.devicecli import clean, collect  # noqa: E402
from audits.model.inventory import Host, Source  # noqa: E402
from tests.fake_device import FakeDevice  # noqa: E402


def config(n: int) -> str:
    body = [f"interface GigabitEthernet0/0/{i}\n description 教学楼 {i}\n port link-type access\n shutdown\n#"
            for i in range(n)]
    return "\n".join(["#", "sysname bench", "#", *body, "return"]) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--interfaces", type=int, default=5000)
    ap.add_argument("--platform", default="huawei-vrp", choices=list(COMMANDS))
    a = ap.parse_args()
    text = config(a.interfaces)
    os.environ["BENCH_DEVICE_PW"] = "Dev1ce-Pw!"
    print(f"configuration: {len(text.encode()) / 1e6:.2f} MB, {text.count(chr(10))} lines")
    raw = text.replace("\n", "\r\n")
    pages = raw.split("\r\n")
    paged = "".join(ln + "\r\n" + ("  ---- More ----\x1b[16D                \x1b[16D" if i % 24 == 23 else "")
                    for i, ln in enumerate(pages))
    t0 = time.perf_counter()
    out = clean(paged, None, None)
    print(f"clean() of the paged bytes: {time.perf_counter() - t0:.2f} s, equal: {out.strip() == text.strip()}")
    for mode in ({}, {"ignore_paging_off": True, "page_lines": 24}):
        with FakeDevice(a.platform, text, **mode) as dev:
            host = Host("bench", "127.0.0.1", "s", "d", [], 3,
                        {"platform": a.platform, "port": dev.port, "user": "audit", "password_env": "BENCH_DEVICE_PW",
                         "host_keys": [dev.pinned], "command_timeout": 600}, Source("bench", 0))
            t0 = time.perf_counter()
            res = collect(host, {}, list(COMMANDS[a.platform].commands), time.monotonic() + 900)
            took = time.perf_counter() - t0
        cfg = res[COMMANDS[a.platform].config_command]
        print(f"live session {'pager fallback' if mode else 'paging off'}: {took:.2f} s, "
              f"{len(dev.pager_keys)} pages answered, configuration equal: {cfg == text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
