#!/usr/bin/env python3
"""Benchmark (not a test): judge a large saved device configuration — the example configuration of each
vendor padded with N interfaces and N ACL rules — and print its size, the time to parse it into the device model
and the time of all device checks (parsed once, then read from the cache), and the same for a configuration
at the 4 MiB cap.

Usage:  .venv/bin/python bench/devices.py --interfaces 5000
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from audits.model.probes import Facts, ProbeResult  # noqa: E402
from checks.parsers.devices import config_probe, parse, tree  # noqa: E402
from checks.registry import load_registry  # noqa: E402
from checks.testing import fixture_host  # noqa: E402

CONFIGS = ROOT / "inventories" / "examples" / "configs"
VENDORS = {"huawei-vrp": ("huawei-core-sw1.cfg", "#\ninterface GigabitEthernet1/0/{i}\n description port-{i}\n port link-type access\n port default vlan 20\n",
                          "#\nacl number 3999\n", " rule {i} permit tcp source 10.{a}.{b}.0 0.0.0.255 destination-port eq 443\n"),
           "h3c-comware": ("h3c-fw1.cfg", "#\ninterface GigabitEthernet1/0/{i}\n port link-mode bridge\n port access vlan 20\n",
                           "#\nacl advanced 3999\n", " rule {i} permit tcp source 10.{a}.{b}.0 0.0.0.255 destination-port eq 443\n"),
           "cisco-ios": ("cisco-edge1.cfg", "!\ninterface GigabitEthernet1/0/{i}\n description port-{i}\n switchport mode access\n",
                         "!\nip access-list extended BIG\n", " {i} permit tcp 10.{a}.{b}.0 0.0.0.255 any eq 443\n"),
           "ruijie-rgos": ("ruijie-ac1.cfg", "!\ninterface GigabitEthernet 1/{i}\n description port-{i}\n switchport access vlan 30\n",
                           "!\nip access-list extended BIG\n", " {i} permit tcp 10.{a}.{b}.0 0.0.0.255 any eq 443\n")}


def padded(platform: str, n: int) -> str:
    base, itf, acl_head, rule = VENDORS[platform]
    text = (CONFIGS / base).read_text(encoding="utf-8")
    cut = text.rfind("return") if platform in ("huawei-vrp", "h3c-comware") else text.rfind("end")
    body = "".join(itf.format(i=i) for i in range(n)) + acl_head + "".join(
        rule.format(i=i + 1, a=i // 250 % 250, b=i % 250) for i in range(n))
    return text[:cut] + body + text[cut:]


def judge(platform: str, text: str, checks) -> tuple[float, float, list]:
    host = fixture_host({"os": platform, "level": 3})
    facts = Facts(host.id, {config_probe(platform): ProbeResult(text, 0, "")}, meta={"os_family": platform})
    parse.cache_clear()
    t0 = time.perf_counter()
    parse(platform, text, ())   # the key device_model uses, so the checks read it from the cache
    t1 = time.perf_counter()
    statuses = [c.run(facts, host).status.value for c in checks]
    return t1 - t0, time.perf_counter() - t1, statuses


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--interfaces", type=int, default=5000)
    args = ap.parse_args()
    checks = [c for c in load_registry() if c.pack == "devices"]
    print(f"{len(checks)} device checks; {args.interfaces} interfaces and ACL rules added to each example")
    print(f"{'platform':<13} {'bytes':>10} {'lines':>8} {'parse s':>8} {'checks s':>9}  outcomes")
    for platform in VENDORS:
        text = padded(platform, args.interfaces)
        p, c, st = judge(platform, text, checks)
        print(f"{platform:<13} {len(text.encode()):>10} {text.count(chr(10)):>8} {p:>8.3f} {c:>9.3f}  "
              f"{st.count('pass')} pass, {st.count('fail')} fail, {len(st) - st.count('pass') - st.count('fail')} other")
    # at the cap: the biggest configuration the parser reads, and one past it (cut, never a pass)
    text = padded("cisco-ios", args.interfaces)
    while len(text) < tree.MAX_BYTES + 1024:
        text += text
    p, c, st = judge("cisco-ios", text, checks)
    print(f"{'past the cap':<13} {len(text.encode()):>10} {text.count(chr(10)):>8} {p:>8.3f} {c:>9.3f}  "
          f"{st.count('pass')} pass, {st.count('error')} error, {len(st) - st.count('pass') - st.count('error')} other")


if __name__ == "__main__":
    main()
