"""MLPS pack, 数据完整性 integrity of data in storage (GB/T 22239-2019 8.1.4.7 b, level 3 only) and
可信验证 trusted verification (8.1.4.6 / 7.1.4.6).

Integrity in transit (8.1.4.7 a / 7.1.4.7 a) is judged by mlps.confidentiality.ssh_macs and
mlps.confidentiality.tls_protocols, which cite those clauses.
"""
from __future__ import annotations

import re

from audits.model.probes import Probe
from checks import parsers
from checks.contract import Outcome, check

from ._shared import evidence_lines

# --------------------------------------------------------------------------------------------------
# File-integrity tool: installed, database initialised, run on a schedule.

FIM_TOOLS = Probe("command", "command -v aide tripwire samhain")
# The databases' directories are root-only (0700 on RHEL); missing directories are reported on stderr.
FIM_DB = Probe("command", "ls -1 /var/lib/aide /var/lib/tripwire /var/lib/samhain", True)
# Root's and other users' crontabs live under /var/spool/cron (crontabs/ on Debian), readable by root only.
FIM_CRON = Probe("command", "grep -Rlsiw -e aide -e tripwire -e samhain /etc/crontab /etc/anacrontab /etc/cron.d "
                            "/etc/cron.hourly /etc/cron.daily /etc/cron.weekly /etc/cron.monthly /var/spool/cron", True)
# Enabled systemd timers (Debian's aide-common enables dailyaidecheck.timer; RHEL admins add aidecheck.timer).
TIMERS = Probe("command", "ls -1 /etc/systemd/system/timers.target.wants")

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


@check(
    id="mlps.integrity.file_integrity_tool",
    title={"zh": "部署文件完整性校验工具（AIDE 等）并定期检查", "en": "A file-integrity tool (AIDE or similar) is initialised and runs on a schedule"},
    severity="medium",
    refs=["GB/T 22239-2019 8.1.4.7 b"],
    applies={"levels": (3, 4)},
    probes=[FIM_TOOLS, FIM_DB, FIM_CRON, TIMERS],
    rationale={"zh": "三级要求采用校验技术或密码技术保证重要数据（含系统配置数据）在存储过程中的完整性，能发现篡改。测评机构在"
                     "主机上通常查看 AIDE、Tripwire 或 Samhain：已安装、已生成基准库、并有定时任务覆盖 /etc、/etc/pam.d、"
                     "/etc/sudoers 等。只安装而未初始化（RHEL 上 aide --init 只生成 aide.db.new.gz）或从不运行，都不能发现篡改。"
                     "Debian 的 aide-common 自带 dailyaidecheck 定时器但不自动初始化；RHEL 的 aide 包不带定时任务。",
               "en": "Level 3 requires checksums or cryptography to keep important data (including system configuration) "
                     "intact in storage, so tampering is noticed. On a host assessors look for AIDE, Tripwire or Samhain: "
                     "installed, a baseline database generated, and a scheduled run covering /etc, /etc/pam.d, "
                     "/etc/sudoers and the like. A tool that was never initialised (on RHEL aide --init only writes "
                     "aide.db.new.gz) or never runs notices nothing. Debian's aide-common ships the dailyaidecheck timer "
                     "but does not initialise; RHEL's aide package ships no schedule."},
    remediation={"zh": "Debian/Ubuntu：apt install aide，执行 aideinit（生成 /var/lib/aide/aide.db），确认 dailyaidecheck.timer 已启用"
                       "（systemctl enable --now dailyaidecheck.timer）。RHEL 系：dnf install aide，aide --init，"
                       "mv /var/lib/aide/aide.db.new.gz /var/lib/aide/aide.db.gz，再添加 /etc/cron.d/aide："
                       "“0 5 * * * root /usr/sbin/aide --check”（或 aidecheck.service + aidecheck.timer）。",
                 "en": "Debian/Ubuntu: apt install aide, run aideinit (creates /var/lib/aide/aide.db), make sure "
                       "dailyaidecheck.timer is enabled (systemctl enable --now dailyaidecheck.timer). RHEL family: dnf "
                       "install aide, aide --init, mv /var/lib/aide/aide.db.new.gz /var/lib/aide/aide.db.gz, then add "
                       '/etc/cron.d/aide: "0 5 * * * root /usr/sbin/aide --check" (or an aidecheck.service + aidecheck.timer).'},
)
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

SB_STATE = Probe("command", "mokutil --sb-state")
CMDLINE = Probe("file", "/proc/cmdline")
IMA_POLICY = Probe("file", "/sys/kernel/security/ima/policy", True)
TPM = Probe("command", "ls -1 /sys/class/tpm")


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


@check(
    id="mlps.trusted.boot_verification",
    title={"zh": "基于可信根对引导程序和系统程序进行可信验证", "en": "Boot loader and system programs are verified against a root of trust"},
    severity="low",
    refs=["GB/T 22239-2019 8.1.4.6", "GB/T 22239-2019 7.1.4.6"],
    probes=[SB_STATE, CMDLINE, IMA_POLICY, TPM],
    rationale={"zh": "本控制点（“可”基于可信根验证系统引导程序、系统程序、重要配置参数和应用程序，三级还要求在应用关键执行环节"
                     "动态验证，发现异常后报警并把结果送至安全管理中心）在普通服务器上几乎总被测评为不符合或部分符合，"
                     "通常只有部署了可信计算产品（TPM/TCM + 可信软件）才能符合。主机上可见的证据只有 UEFI 安全启动（验证引导"
                     "程序和内核签名）和 IMA 评估（执行前验证文件签名/散列）：存在时本项判为符合，但测评机构仍可能因缺少报警和"
                     "送审环节判为部分符合。仅有 TPM 芯片或度量启动日志不算验证，只作参考。其余情况需要证明。",
               "en": "This control point (trusted verification 'may' check boot loader, system programs, important "
                     "configuration and applications against a root of trust; level 3 adds dynamic verification at key "
                     "points of applications, with alarms and results sent to the security management centre) is scored "
                     "non-conforming or partial on almost every ordinary server; usually only a trusted-computing product "
                     "(TPM/TCM plus trusted software) conforms. The only host-side evidence is UEFI Secure Boot (verifies "
                     "boot loader and kernel signatures) and IMA appraisal (verifies file signatures/hashes before use): "
                     "with either this check passes, though assessors may still score it partial for lacking alarms and "
                     "reporting. A TPM chip or a measured-boot log alone verifies nothing and is shown for reference "
                     "only. Otherwise an attestation is needed."},
    remediation={"zh": "在固件中启用 UEFI 安全启动（Debian/RHEL 均提供签名的 shim 与内核），用 mokutil --sb-state 确认；需要完整"
                       "符合时部署可信计算产品（可信服务器/TCM 与可信管理平台），并把验证失败的报警接入安全管理中心。",
                 "en": "Enable UEFI Secure Boot in the firmware (Debian and RHEL ship a signed shim and kernel) and confirm "
                       "with mokutil --sb-state; for full conformance deploy a trusted-computing product (trusted server / "
                       "TCM with a management platform) and route its verification alarms to the security management centre."},
    attest={"zh": "提供可信计算产品（如可信服务器/TCM 可信模块与可信管理平台）的部署说明和验证报警记录，或其检测报告。",
            "en": "Provide the deployment description and verification-alarm records of the trusted-computing product "
                  "(e.g. trusted server / TCM module with its management platform), or its test report."},
)
def boot_verification(facts, host):
    sb, sb_note = _secure_boot(facts)
    ima, ima_notes = _ima_appraise(facts)
    tpm = facts.get(TPM)
    tpm_note = ("TPM: " + ", ".join(ln.strip() for ln in tpm.stdout.splitlines() if ln.strip())
                + " present (measures the boot, verifies nothing by itself)"
                if tpm.ok and tpm.stdout.strip() else "TPM: none visible in /sys/class/tpm")
    evidence = evidence_lines([sb_note] + ima_notes + [tpm_note], 8)
    if sb or ima:
        what_zh = "、".join(x for x, on in (("UEFI 安全启动", sb), ("IMA 评估", ima)) if on)
        what_en = " and ".join(x for x, on in (("UEFI Secure Boot", sb), ("IMA appraisal", ima)) if on)
        return Outcome.passed(f"已启用 {what_zh}", f"{what_en} enabled", evidence)
    return Outcome.manual("主机未启用安全启动或 IMA 评估；需证明已部署可信验证产品",
                          "neither Secure Boot nor IMA appraisal is enabled; a trusted-verification product must be "
                          "attested", evidence)
