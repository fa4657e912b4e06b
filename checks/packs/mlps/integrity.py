"""MLPS pack, 数据完整性 integrity of data in storage (GB/T 22239-2019 8.1.4.7 b, level 3 only) and
可信验证 trusted verification (8.1.4.6 / 7.1.4.6).

Integrity in transit (8.1.4.7 a / 7.1.4.7 a) is judged by mlps.confidentiality.ssh_macs and
mlps.confidentiality.tls_protocols, which cite those clauses.
"""
from __future__ import annotations

import re

from checks import parsers
from checks.contract import Outcome, evaluator
from checks.probe_catalogue import named

from checks.facts import evidence_lines

# --------------------------------------------------------------------------------------------------
# File-integrity tool: installed, database initialised, run on a schedule.

FIM_TOOLS = named("fim_tools")
# The databases' directories are root-only (0700 on RHEL); missing directories are reported on stderr.
FIM_DB = named("fim_db")
# Root's and other users' crontabs live under /var/spool/cron (crontabs/ on Debian), readable by root only.
FIM_CRON = named("fim_cron")
# Enabled systemd timers (Debian's aide-common enables dailyaidecheck.timer; RHEL admins add aidecheck.timer).
TIMERS = named("mlps_timers")

# Database files that mean "initialised": AIDE reads aide.db (Debian) or aide.db.gz (RHEL); --init only
# writes aide.db.new[.gz], which must be moved into place before a check can run.
_DB = {"aide": ("/var/lib/aide", re.compile(r"^aide\.db(\.gz)?$")),
       "tripwire": ("/var/lib/tripwire", re.compile(r"\.twd$")),
       "samhain": ("/var/lib/samhain", re.compile(r"^samhain_file$"))}


def _ls_sections(text: str) -> dict[str, list[str]]:
    """``ls -1 DIR DIR…`` output → {dir: [entries]}. With several operands ls heads every directory it
    could list with 'DIR:', even when the other operands are missing."""
    out: dict[str, list[str]] = {}
    cur = None
    for ln in text.splitlines():
        if ln.endswith(":") and ln.startswith("/"):
            cur = ln[:-1]
            out.setdefault(cur, [])
        elif ln.strip() and cur:
            out[cur].append(ln.strip())
    return out


@evaluator("mlps.integrity.file_integrity_tool")
def file_integrity_tool(facts, host):
    res = facts.get(FIM_TOOLS)
    if res.error:
        return Outcome.error(f"无法采集 {FIM_TOOLS}：{res.error}", f"could not gather {FIM_TOOLS}: {res.error}")
    tools = {ln.strip().rsplit("/", 1)[-1]: ln.strip() for ln in res.stdout.splitlines() if ln.strip()}
    tools = {name: path for name, path in tools.items() if name in _DB}
    if not tools:
        return Outcome.failed("未安装文件完整性校验工具（AIDE、Tripwire、Samhain）",
                              "no file-integrity tool (AIDE, Tripwire, Samhain) is installed",
                              "command -v aide tripwire samhain: none found")
    db = facts.get(FIM_DB)
    if db.error:
        return Outcome.error(f"无法采集 {FIM_DB}：{db.error}", f"could not gather {FIM_DB}: {db.error}")
    listing = _ls_sections(db.stdout)
    sched = facts.get(FIM_CRON)
    if sched.error:
        return Outcome.error(f"无法采集 {FIM_CRON}：{sched.error}", f"could not gather {FIM_CRON}: {sched.error}")
    jobs = [ln.strip() for ln in sched.stdout.splitlines() if ln.strip()]
    timers = facts.get(TIMERS)
    if not timers.error and timers.rc == 0:
        jobs += [f"/etc/systemd/system/timers.target.wants/{t.strip()}" for t in timers.stdout.splitlines()
                 if re.search(r"aide|tripwire|samhain", t, re.I)]
    evidence = [f"installed: {', '.join(sorted(tools.values()))}"]
    problems_zh, problems_en, ready = [], [], []
    for name in sorted(tools):
        directory, rx = _DB[name]
        entries = listing.get(directory, [])
        evidence.append(f"{directory}: {' '.join(entries) if entries else '(missing or empty)'}")
        if any(rx.search(e) for e in entries):
            ready.append(name)
        elif any(e.startswith("aide.db.new") for e in entries):
            problems_zh.append(f"{name} 只有新生成的 aide.db.new*，未移为正式基准库")
            problems_en.append(f"{name} has only aide.db.new*, not moved into place as the baseline")
        else:
            problems_zh.append(f"{name} 未初始化基准库")
            problems_en.append(f"{name} has no baseline database")
    evidence.append("scheduled: " + (", ".join(jobs) if jobs else "(no cron job or enabled timer mentions it)"))
    if not jobs:
        problems_zh.append("没有定时运行的检查任务（cron 或 systemd 定时器）")
        problems_en.append("no scheduled check (cron job or systemd timer)")
    if ready and jobs:
        return Outcome.passed(f"{', '.join(ready)} 已初始化并定期运行", f"{', '.join(ready)} is initialised and scheduled",
                              evidence_lines(evidence, 10))
    return Outcome.failed("文件完整性校验未完整部署：" + "；".join(problems_zh),
                          "file-integrity checking is incomplete: " + "; ".join(problems_en),
                          evidence_lines(evidence, 10))


# --------------------------------------------------------------------------------------------------
# Trusted verification: Secure Boot or IMA appraisal as host-side evidence; otherwise attested.

SB_STATE = named("sb_state")
CMDLINE = named("cmdline")
IMA_POLICY = named("ima_policy")
TPM = named("tpm")


def _secure_boot(facts) -> tuple[bool, str]:
    res = facts.get(SB_STATE)
    if res.error:
        return False, f"mokutil --sb-state: {res.error}"
    if res.missing():
        return False, "mokutil --sb-state: mokutil not installed"
    text = (res.stdout + "\n" + res.stderr).strip()
    first = text.splitlines()[0] if text else f"(exit {res.rc})"
    enabled = res.rc == 0 and re.search(r"^SecureBoot enabled", res.stdout, re.M) is not None
    # shim can be told to skip its checks ("mokutil --disable-validation"): then nothing is verified.
    if enabled and re.search(r"validation is disabled", text, re.I):
        return False, "mokutil --sb-state: " + " / ".join(text.splitlines()[:2])
    return enabled, "mokutil --sb-state: " + first


def _ima_appraise(facts) -> tuple[bool, list[str]]:
    notes = []
    cmd = facts.get(CMDLINE)
    cmdline = cmd.stdout.strip() if cmd.ok else ""
    mode = re.search(r"(?:^|\s)ima_appraise=(\S+)", cmdline)
    if mode:
        notes.append(f"/proc/cmdline: ima_appraise={mode.group(1)}")
    if mode and mode.group(1) in ("off", "log", "fix"):
        return False, notes  # appraisal disabled or only logging
    builtin = re.search(r"(?:^|\s)ima_policy=\S*(appraise_tcb|secure_boot)", cmdline)
    if builtin:
        notes.append(f"/proc/cmdline: {builtin.group(0).strip()}")
    pol = facts.get(IMA_POLICY)
    rules = []
    if pol.ok:
        rules = [ln for ln in parsers.lines(pol.stdout) if ln.split()[0] == "appraise"]
        notes.append(f"IMA policy: {len(rules)} appraise rule(s)" + (f", e.g. {rules[0]}" if rules else ""))
    elif not pol.missing():
        # root may not read it (kernel without CONFIG_IMA_READ_POLICY) or sudo was refused: no evidence either way
        notes.append(f"IMA policy: not readable ({pol.error or pol.stderr.strip()[:80] or f'exit {pol.rc}'})")
    return bool(builtin or rules), notes


SB_EFIVAR = named("sb_efivar")


def _secure_boot_efivar(facts) -> tuple[bool | None, str]:
    """Without mokutil: the firmware's SecureBoot variable (4 attribute bytes, then 1 = on); no variable
    means legacy BIOS boot or firmware without Secure Boot. None: not readable."""
    res = facts.get(SB_EFIVAR)
    if res.error:
        return None, f"SecureBoot efivar: {res.error}"
    if res.missing() or (res.rc not in (0, None) and "no such file" in res.stderr.lower()):
        return False, "SecureBoot efivar: absent (legacy BIOS boot or no Secure Boot in the firmware)"
    nums = res.stdout.split()
    if res.rc == 0 and nums and nums[-1].isdigit():
        return nums[-1] == "1", f"SecureBoot efivar: {' '.join(nums[:8])}"
    return None, f"SecureBoot efivar: unreadable (exit {res.rc})"


def _tpm_note(facts) -> str:
    tpm = facts.get(TPM)
    return ("TPM: " + ", ".join(ln.strip() for ln in tpm.stdout.splitlines() if ln.strip())
            + " present (measures the boot, verifies nothing by itself)"
            if tpm.ok and tpm.stdout.strip() else "TPM: none visible in /sys/class/tpm")


def _trusted_product(host) -> str:
    decl = getattr(host, "facts", None)
    value = decl.get("trusted_product") if isinstance(decl, dict) else None
    return str(value)[:100] if value else ""


@evaluator("mlps.trusted.boot_verification")
def boot_verification(facts, host):
    sb, sb_note = _secure_boot(facts)
    notes = [sb_note]
    sbres = facts.get(SB_STATE)
    if not sb and sbres.missing() and not sbres.error:
        efi, efi_note = _secure_boot_efivar(facts)
        notes.append(efi_note)
        if efi is None:
            return Outcome.error("未安装 mokutil，且无法读取固件的 SecureBoot 变量", "mokutil is not installed and the "
                                 "firmware's SecureBoot variable cannot be read", evidence_lines(notes, 8))
        sb = efi
    evidence = evidence_lines(notes + [_tpm_note(facts)], 8)
    if sb:
        return Outcome.passed("UEFI 安全启动已启用：引导程序和内核经可信根验证（运行时验证见 mlps.trusted.runtime_verification）",
                              "UEFI Secure Boot is on: boot loader and kernel are verified against a root of trust "
                              "(run-time verification: mlps.trusted.runtime_verification)", evidence)
    product = _trusted_product(host)
    if product:
        return Outcome.manual(f"主机未启用 UEFI 安全启动；清单声明部署了可信计算产品 {product}，需人工证明其启动验证与报警",
                              "UEFI Secure Boot is off; the inventory declares the trusted-computing product "
                              f"{product}, whose boot verification and alarms need an attestation", evidence)
    return Outcome.failed("引导程序和内核未经可信根验证（未启用 UEFI 安全启动，或 shim 已关闭验证）",
                          "boot loader and kernel are not verified against a root of trust (UEFI Secure Boot off, or "
                          "shim validation disabled)", evidence)


@evaluator("mlps.trusted.runtime_verification")
def runtime_verification(facts, host):
    ima, ima_notes = _ima_appraise(facts)
    evidence = evidence_lines(ima_notes + [_tpm_note(facts)], 8)
    if ima:
        return Outcome.passed("IMA 评估已强制执行：程序在执行或加载前验证签名/散列",
                              "IMA appraisal is enforced: programs are verified (signature/hash) before they run or load",
                              evidence)
    product = _trusted_product(host)
    if product:
        return Outcome.manual(f"主机未启用 IMA 评估；清单声明部署了可信计算产品 {product}，需人工证明其对系统程序和应用的动态验证与报警",
                              "IMA appraisal is off; the inventory declares the trusted-computing product "
                              f"{product}, whose dynamic verification of programs and alarms need an attestation", evidence)
    pol = facts.get(IMA_POLICY)
    if pol.error and not any(n.startswith("/proc/cmdline: ima_appraise=") for n in ima_notes):
        return Outcome.error("无法读取 IMA 策略", "cannot read the IMA policy", evidence)
    return Outcome.failed("系统程序和应用在执行时不经可信验证（未强制执行 IMA 评估）",
                          "system programs and applications are not verified when they run (IMA appraisal not enforced)",
                          evidence)
