"""Patching pack, the running system: GB/T 22239-2019 8.1.4.4 e / 7.1.4.4 e.

``patching.reboot_required``: an installed kernel or libc update only protects after a reboot
(Debian's /var/run/reboot-required, the RHEL family's ``needs-restarting -r``, and on both the
running kernel against the newest kernel image in /boot). ``patching.eol_release``: the release
is past its vendor's end of security support, from the dated offline table ``data/eol.yaml`` beside
this file (its ``as_of`` date is shown in every result).
"""
from __future__ import annotations

import datetime as dt
from functools import lru_cache
from pathlib import Path

from audits.model import yamlsafe
from audits.model.probes import OS_PROBE, Probe
from checks import parsers
from checks.ages import run_start
from checks.contract import Outcome, check
from checks.packs.mlps._shared import evidence_lines

REBOOT_FLAG = Probe("command", "if [ -e /var/run/reboot-required ]; then echo REQUIRED; "
                    "head -c 4096 /var/run/reboot-required.pkgs 2>/dev/null; fi; true")
BOOT_KERNELS = Probe("command", "ls -1 /boot")
NEEDS_RESTARTING = Probe("command", "needs-restarting -r")
EOL_TABLE = Path(__file__).parent / "data" / "eol.yaml"


def _running_kernel(facts) -> str | None:
    """``uname -r``, which the OS probe prints as a ``KERNEL=`` line after os-release."""
    return parsers.os_release(facts.get(OS_PROBE).stdout or "").get("KERNEL") or None


@check(
    id="patching.reboot_required",
    title={"zh": "安装内核或 C 库更新后已重启", "en": "The host was rebooted after a kernel or C library update"},
    severity="medium",
    refs=["GB/T 22239-2019 8.1.4.4 e", "GB/T 22239-2019 7.1.4.4 e"],
    probes={"debian": [REBOOT_FLAG, BOOT_KERNELS], "rhel": [NEEDS_RESTARTING, BOOT_KERNELS]},
    rationale={"zh": "内核和 glibc 的安全更新装好后要重启才生效，否则主机仍运行有漏洞的旧版本。Debian/Ubuntu 读 /var/run/reboot-required"
                     "（及 .pkgs 中要求重启的软件包）；RHEL 系读 needs-restarting -r 的退出码（1 = 需要重启，需 dnf-utils/yum-utils）；"
                     "两者都比较正在运行的内核（uname -r）与 /boot 中最新的内核映像。",
               "en": "Kernel and glibc security updates take effect only after a reboot; until then the host runs the "
                     "vulnerable old code. Debian/Ubuntu: /var/run/reboot-required (and the packages in .pkgs); the RHEL "
                     "family: the exit code of needs-restarting -r (1 = reboot needed; from dnf-utils/yum-utils); on both, "
                     "the running kernel (uname -r) against the newest kernel image in /boot."},
    remediation={"zh": "在维护窗口内重启主机，使已安装的内核和 C 库更新生效。", "en": "Reboot the host in a maintenance window so the "
                 "installed kernel and C library updates take effect."},
)
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


@lru_cache(maxsize=1)
def eol_table() -> tuple[dt.date, tuple[dict, ...]]:
    doc = yamlsafe.load_file(EOL_TABLE)
    rows = tuple({"id": str(r["id"]), "version": str(r["version"]), "name": str(r["name"]),
                  "end": dt.date.fromisoformat(str(r["end"])), "note": str(r.get("note", ""))} for r in doc["releases"])
    return dt.date.fromisoformat(str(doc["as_of"])), rows


def _matches(row_version: str, version_id: str) -> bool:
    return version_id == row_version or version_id.startswith(row_version + ".")


@check(
    id="patching.eol_release",
    title={"zh": "操作系统版本仍在厂商安全支持期内", "en": "The OS release still receives the vendor's security updates"},
    severity="high",
    refs=["GB/T 22239-2019 8.1.4.4 e", "GB/T 22239-2019 7.1.4.4 e"],
    probes=[],
    params={"warn_days": 180},
    rationale={"zh": "停止支持（EOL）的系统不再有安全更新，新漏洞永远无法修补。本项按 /etc/os-release 的 ID 和 VERSION_ID 查项目内的离线日期表"
                     f"（checks/packs/patching/data/eol.yaml，编制日期 {eol_table()[0]}，结果中也给出），与本次审计开始时间比较。"
                     "付费延长支持（Ubuntu Pro/ESM、"
                     "RHEL ELS、Debian ELTS）不计入，有合同的用豁免记录到其截止日期。表中没有的发行版需人工核实。",
               "en": "An end-of-life release gets no more security updates; new vulnerabilities stay unpatched for good. "
                     "The /etc/os-release ID and VERSION_ID are looked up in the project's dated offline table "
                     f"(checks/packs/patching/data/eol.yaml, as of {eol_table()[0]}; the date is shown in every result) and "
                     "compared with the run's start. "
                     "Paid extensions (Ubuntu Pro/ESM, RHEL ELS, Debian ELTS) do not count; a school with a contract records "
                     "a waiver until its end. A release missing from the table needs a person to confirm it."},
    remediation={"zh": "升级到仍受支持的发行版本（如 Debian 12/13、Ubuntu 24.04、RHEL/Rocky/AlmaLinux 9），或迁移业务后下线该主机。",
                 "en": "Upgrade to a supported release (e.g. Debian 12/13, Ubuntu 24.04, RHEL/Rocky/AlmaLinux 9), or move the "
                       "service and retire the host."},
)
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
