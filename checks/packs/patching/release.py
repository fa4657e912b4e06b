"""Patching pack, the running system: GB/T 22239-2019 8.1.4.4 e / 7.1.4.4 e.

``patching.reboot_required``: an installed kernel or libc update only protects after a reboot
(Debian's /var/run/reboot-required, the RHEL family's ``needs-restarting -r``, and on both the
running kernel against the newest kernel image in /boot). ``patching.eol_release``: the release
is past its vendor's end of security support, from the dated offline table ``data/eol.yaml`` beside
this file (its ``as_of`` date is shown in every result).
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

from audits.model import yamlsafe
from audits.model.probes import OS_PROBE
from checks import parsers
from checks.contract import Outcome, evaluator
from checks.probe_catalogue import named
from checks.facts import evidence_lines, run_start
from audits.model.once import once

REBOOT_FLAG = named("reboot_flag")
BOOT_KERNELS = named("boot_kernels")
NEEDS_RESTARTING = named("needs_restarting")
EOL_TABLE = Path(__file__).parent / "data" / "eol.yaml"


def _running_kernel(facts) -> str | None:
    """``uname -r``, which the OS probe prints as a ``KERNEL=`` line after os-release."""
    return parsers.os_release(facts.get(OS_PROBE).stdout or "").get("KERNEL") or None


@evaluator("patching.reboot_required")
def reboot_required(facts, host):
    reasons, ev = [], []
    flag = facts.get(REBOOT_FLAG)
    if flag.rc == 0 and flag.stdout.startswith("REQUIRED"):
        pkgs = [p for p in flag.stdout.splitlines()[1:] if p.strip()]
        reasons.append("/var/run/reboot-required")
        ev.append("/var/run/reboot-required exists" + (f"; packages: {', '.join(sorted(set(pkgs))[:10])}" if pkgs else ""))
    nr = facts.get(NEEDS_RESTARTING)
    if nr.error is None and nr.rc == 1 and "reboot" in (nr.stdout + nr.stderr).lower():
        reasons.append("needs-restarting -r")
        ev.append("needs-restarting -r: " + (nr.stdout.strip().splitlines() or ["exit 1"])[0][:200])
    running = _running_kernel(facts)
    boot = facts.get(BOOT_KERNELS)
    kernels = [ln[len("vmlinuz-"):] for ln in boot.stdout.split() if ln.startswith("vmlinuz-")] if boot.rc == 0 else []
    kernels = [k for k in kernels if "rescue" not in k]
    if running and kernels:
        newest = kernels[0]
        for k in kernels[1:]:
            if parsers.debian_version_newer(k, newest):
                newest = k
        ev.append(f"running kernel {running}; newest in /boot {newest}")
        if newest != running and parsers.debian_version_newer(newest, running):
            reasons.append(f"kernel {newest} installed, {running} running")
    elif running:
        ev.append(f"running kernel {running}; no kernel image in /boot (container or separate boot)")
    if not running and not kernels and flag.error and nr.error:
        return Outcome.error("无法判断是否需要重启", "cannot tell whether a reboot is pending", flag.error or "")
    if reasons:
        return Outcome.failed(f"需要重启以使更新生效：{'；'.join(reasons)}", f"a reboot is pending: {'; '.join(reasons)}",
                              evidence_lines(ev))
    return Outcome.passed("没有待重启生效的内核或 C 库更新", "no kernel or C library update awaits a reboot", evidence_lines(ev))


@once
def eol_table() -> tuple[dt.date, tuple[dict, ...]]:
    doc = yamlsafe.load_file(EOL_TABLE)
    rows = tuple({"id": str(r["id"]), "version": str(r["version"]), "name": str(r["name"]),
                  "end": dt.date.fromisoformat(str(r["end"])), "note": str(r.get("note", ""))} for r in doc["releases"])
    return dt.date.fromisoformat(str(doc["as_of"])), rows


def _matches(row_version: str, version_id: str) -> bool:
    return version_id == row_version or version_id.startswith(row_version + ".")


@evaluator("patching.eol_release")
def eol_release(facts, host, params):
    res = facts.get(OS_PROBE)
    if res.error:
        return Outcome.error(f"无法读取 /etc/os-release：{res.error}", f"cannot read /etc/os-release: {res.error}")
    rel = parsers.os_release(res.stdout or "")
    os_id, version = rel.get("ID", "").lower(), rel.get("VERSION_ID", "")
    as_of, rows = eol_table()
    start = run_start(facts)
    if start is None:
        return Outcome.error("不知道本次审计的开始时间", "the run's start time is unknown", "run_started missing")
    ev = [f"os-release: ID={os_id or '?'} VERSION_ID={version or '?'} ({rel.get('PRETTY_NAME', '')[:80]})",
          f"EOL table as of {as_of} (checks/packs/patching/data/eol.yaml)"]
    if not os_id:
        return Outcome.error("/etc/os-release 中没有 ID", "/etc/os-release has no ID", evidence_lines(ev))
    row = next((r for r in rows if r["id"] == os_id and _matches(r["version"], version)), None)
    if row is None:
        return Outcome.manual(f"EOL 日期表（{as_of}）中没有 {os_id} {version}，需人工核实厂商支持期",
                              f"{os_id} {version} is not in the EOL table (as of {as_of}): confirm the vendor's support dates",
                              evidence_lines(ev))
    today = start.date()
    ev.append(f"{row['name']}: security support ends {row['end']}" + (f" ({row['note']})" if row["note"] else ""))
    if row["end"] < today:
        return Outcome.failed(f"{row['name']} 已于 {row['end']} 停止安全支持（EOL 表 {as_of}）", f"{row['name']} reached end of life on {row['end']} (EOL table as of {as_of})",
                              evidence_lines(ev))
    left = (row["end"] - today).days
    if left <= int(params["warn_days"]):
        return Outcome.passed(f"{row['name']} 将于 {row['end']} 停止支持（剩 {left} 天，EOL 表 {as_of}），请安排升级",
                              f"{row['name']} reaches end of life on {row['end']} ({left} days left; EOL table as of {as_of}): plan the upgrade",
                              evidence_lines(ev))
    return Outcome.passed(f"{row['name']} 受支持至 {row['end']}（EOL 表 {as_of}）", f"{row['name']} is supported until {row['end']} (EOL table as of {as_of})",
                          evidence_lines(ev))
