"""MLPS pack, 安全审计 security audit: GB/T 22239-2019 8.1.4.3 (level 3) / 7.1.4.3 (level 2) — the
checks that need logic beyond one YAML expectation (auditd status and loaded rules, syslog daemon
configuration, forwarding, logrotate and auditd retention, log permissions, time synchronisation).

Loaded audit rules are read from ``auditctl -l`` (what the kernel enforces), never from
/etc/audit/rules.d alone. rsyslog, syslog-ng and logrotate files are gathered with ``grep -Hs ''``
so every line arrives as ``path:line`` and a missing file is simply absent.
"""
from __future__ import annotations

import re

from audits.model.probes import Probe
from checks import parsers
from checks.contract import Outcome, evaluator
from checks.probe_catalogue import named
from checks.facts import PS, age_hours, evidence_lines, files, gathered, os_family, probe_failure, probe_state
from checks.parsers.auditd import audit_rules, audit_status, records_all_exec, watch_coverage
from checks.parsers.common import to_int
from checks.parsers.journald import journald_settings, journald_storage, timespan_seconds
from checks.parsers.times import dates_in_text, stamp
from checks.parsers.logrotate import logrotate_blocks, path_match, retention_days
from checks.parsers.logagents import AGENTS, agent_of_process, agent_outputs
from checks.parsers.syslog import forwarding, rsyslog_rules, rule_picks, syslog_ng_paths

AUDITCTL_S = named("auditctl_s")            # kernel audit status: enabled 0/1/2, daemon pid
AUDITCTL_L = named("auditctl_l")            # the rules the kernel has loaded
PGREP_AUDITD = named("pgrep_auditd")
PGREP_LOGGERS = named("pgrep_loggers")  # comm is cut to 15 chars
JOURNALD_CONF = named("journald_conf")
JOURNAL_DIR = named("journal_dir")
JOURNAL_BOOTS = named("journal_boots")      # journalctl --list-boots: the first entry of the oldest boot
SYSLOG_CONF = named("syslog_conf")
# /etc/audit is 0750 root: read as root, and name the files (a glob would expand as the login user).
AU_REMOTE = named("au_remote")
LOGROTATE = named("logrotate")
AUDITD_CONF = named("auditd_conf")
LOG_AGENTS = named("log_agents")                  # filebeat, fluent-bit, vector, wazuh-agent, nxlog, journal-upload
JOURNAL_UPLOAD_ACTIVE = named("journal_upload_active")
TIMEDATECTL = named("timedatectl")
CHRONYC = named("chronyc")
NTPQ = named("ntpq")
REFUSE_STOP = named("refuse_stop")
LOG_STAT = {"debian": (Probe("stat", "/var/log/auth.log"), Probe("stat", "/var/log/syslog")),
            "rhel": (Probe("stat", "/var/log/secure"), Probe("stat", "/var/log/messages"))}
AUDIT_DIR = named("audit_dir")

LOOPBACK = re.compile(r"^(127\.|localhost$|::1$|0\.0\.0\.0$)")


# --------------------------------------------------------------------------------------------
# Small helpers
def _absent(res) -> bool:
    """The probed command or file does not exist (also when sudo says 'command not found')."""
    if res.error and res.error.startswith("sudo not installed"):
        return False
    return res.rc not in (0, None) and res.missing()


def _per_family(family: str, debian: str, rhel: str) -> str:
    return {"debian": debian, "rhel": rhel}.get(family, f"{debian} / {rhel}")


# --------------------------------------------------------------------------------------------
def _loaded_rules(facts):
    """(rules, None) or (None, Outcome to return). No auditctl = auditd not installed = fail."""
    res = facts.get(AUDITCTL_L)
    if _absent(res):
        return None, Outcome.failed("找不到 auditctl：未安装 auditd，系统没有加载任何审计规则",
                                    "auditctl not found: auditd is not installed, so no audit rules are loaded",
                                    (res.stderr or res.error or "auditctl: command not found")[:300])
    if res.error:
        return None, Outcome.error(f"无法采集 auditctl -l：{res.error}", f"could not gather auditctl -l: {res.error}",
                                   res.stderr[:300])
    if res.rc != 0:
        return None, Outcome.error(f"auditctl -l 失败（退出码 {res.rc}）", f"auditctl -l failed (exit {res.rc})",
                                   res.stderr[:300])
    rules = audit_rules(res.stdout)
    if not rules:
        return None, Outcome.failed("内核中未加载任何审计规则（auditctl -l 显示 No rules）",
                                    "the kernel has no audit rules loaded (auditctl -l: No rules)",
                                    res.stdout.strip()[:300] or "No rules")
    return rules, None


def _watch_check(facts, targets, need: str, what_zh: str, what_en: str) -> Outcome:
    rules, out = _loaded_rules(facts)
    if out:
        return out
    need = str(need or "w").replace("-", "")
    missing, seen = [], []
    for t in targets:
        t = str(t).rstrip("/") or "/"
        ok, why, lines = watch_coverage(rules, t, need)
        seen.extend(lines)
        if not ok:
            inside = [r["line"] for r in rules if r["path"] and r["path"].startswith(t + "/")]
            missing.append(f"{t}: {why}" + (f" (only {len(inside)} entries inside it are watched)" if inside else ""))
            seen.extend(inside)
    evidence = evidence_lines(dict.fromkeys(seen))
    if missing:
        names = ", ".join(m.split(":", 1)[0] for m in missing)
        return Outcome.failed(f"审计规则未监视{what_zh}的修改（需权限 {need}）：{names}",
                              f"loaded audit rules do not watch {what_en} for changes (perms {need}): {names}",
                              evidence_lines(missing + (["related rules:"] + list(dict.fromkeys(seen)) if seen else [])))
    return Outcome.passed(f"已监视{what_zh}的修改", f"{what_en} are watched for changes", evidence)


# --------------------------------------------------------------------------------------------
@evaluator("mlps.audit.auditd_running")
def auditd_running(facts, host):
    res = facts.get(AUDITCTL_S)
    status = audit_status(res.stdout) if res.ok else {}
    if "enabled" in status:
        ev = f"enabled {status['enabled']}\npid {status.get('pid', '?')}"
        if status["enabled"] == 0:
            return Outcome.failed("内核审计已关闭（enabled 0）", "kernel auditing is disabled (enabled 0)", ev)
        if status.get("pid", 1) == 0:
            return Outcome.failed("没有审计守护进程在接收记录（pid 0）", "no audit daemon is receiving records (pid 0)", ev)
        return Outcome.passed("auditd 正在运行，内核审计已开启", "auditd runs and kernel auditing is enabled", ev)
    # auditctl missing, refused (no root, no CAP_AUDIT_CONTROL in a container) or unparsable: look for the process.
    why = "auditctl: not installed" if _absent(res) else (res.error or res.stderr.strip() or f"exit {res.rc}")[:200]
    proc = facts.get(PGREP_AUDITD)
    if proc.error or proc.rc not in (0, 1):
        return Outcome.error("无法确认 auditd 状态", "cannot tell whether auditd runs",
                             f"auditctl -s: {why}\npgrep: {proc.error or proc.stderr.strip() or proc.rc}")
    if proc.rc == 0 and proc.stdout.strip():
        return Outcome.passed("auditd 进程正在运行（未能读取内核审计状态）",
                              "the auditd process runs (kernel audit status not readable)",
                              f"auditd pid {proc.stdout.split()[0]}\nauditctl -s: {why}")
    return Outcome.failed("auditd 未运行" + ("（未安装）" if _absent(res) else ""),
                          "auditd is not running" + (" (not installed)" if _absent(res) else ""),
                          f"pgrep -x auditd: no process\nauditctl -s: {why}")


@evaluator("mlps.audit.rules_identity")
def rules_identity(facts, host, params):
    return _watch_check(facts, params["identity_files"], params["watch_perms"], "账户与授权文件",
                        "account and sudo files")


@evaluator("mlps.audit.rules_privileged")
def rules_privileged(facts, host, params):
    rules, out = _loaded_rules(facts)
    if out:
        return out
    always = [r for r in rules if r["action"] == "always" and r["list"] == "exit"]
    blanket = [r for r in always if records_all_exec(r)]
    covered, missing, seen = [], [], []
    for cmd in params["privileged_commands"]:
        cmd = str(cmd).strip()
        hits = [r for r in always if r["path"] and r["path"].rsplit("/", 1)[-1] == cmd and "x" in r["perm"]]
        if hits or blanket:
            covered.append(cmd)
            seen.extend(r["line"] for r in (hits or blanket))
        else:
            missing.append(cmd)
    if missing:
        exec_like = [r["line"] for r in always if r["syscalls"] & {"execve", "execveat"} or "x" in r["perm"]]
        return Outcome.failed(f"以下命令的执行未被审计规则记录：{', '.join(missing)}",
                              f"no loaded rule records execution of: {', '.join(missing)}",
                              evidence_lines([f"not recorded: {', '.join(missing)}"]
                                             + (["execution rules present:"] + exec_like if exec_like else
                                                ["no execution (-p x / execve) rule is loaded"])))
    return Outcome.passed(f"已记录 {', '.join(covered)} 的执行", f"execution of {', '.join(covered)} is recorded",
                          evidence_lines(dict.fromkeys(seen)))


@evaluator("mlps.audit.rules_config")
def rules_config(facts, host, params):
    return _watch_check(facts, params["config_paths"], params["watch_perms"], " SSH 与审计配置",
                        "the SSH and audit configuration")


# --------------------------------------------------------------------------------------------
@evaluator("mlps.audit.syslog_running")
def syslog_running(facts, host):
    res = facts.get(PGREP_LOGGERS)
    if res.error or res.rc not in (0, 1):
        return Outcome.error(f"无法列出日志进程：{res.error or res.rc}", f"cannot list logger processes: {res.error or res.rc}",
                             res.stderr[:200])
    procs = {}
    for ln in res.stdout.splitlines():
        parts = ln.split()
        if len(parts) >= 2:
            procs.setdefault(parts[1], parts[0])
    ev = "\n".join(f"{name} pid {pid}" for name, pid in procs.items())
    syslogd = [n for n in procs if n in ("rsyslogd", "syslog-ng")]
    if syslogd:
        return Outcome.passed(f"{', '.join(syslogd)} 正在运行", f"{', '.join(syslogd)} is running", ev)
    if "systemd-journal" not in procs:
        return Outcome.failed("没有运行任何系统日志服务（rsyslogd、syslog-ng、systemd-journald）",
                              "no system logger runs (rsyslogd, syslog-ng, systemd-journald)",
                              "pgrep: none of rsyslogd, syslog-ng, systemd-journal")
    text, out = gathered(facts, JOURNALD_CONF)
    if out:
        return out
    storage, where = journald_storage(text)
    jdir = facts.get(JOURNAL_DIR)
    st = parsers.stat(jdir.stdout) if jdir.ok else None
    has_dir = bool(st and st.get("type", "").startswith("directory"))
    ev = f"{ev}\n{where}\n/var/log/journal: {'present' if has_dir else 'absent'}"
    if storage == "persistent" or (storage == "auto" and has_dir):
        return Outcome.passed("仅 systemd-journald 在运行，日志持久保存在 /var/log/journal",
                              "only systemd-journald runs; the journal is kept on disk in /var/log/journal", ev)
    return Outcome.failed(f"仅 systemd-journald 在运行，且日志不持久保存（Storage={storage}），重启后丢失",
                          f"only systemd-journald runs and the journal is not persistent (Storage={storage}); "
                          "it is lost at reboot", ev)


# --------------------------------------------------------------------------------------------
def _syslog_text(facts):
    text, out = gathered(facts, SYSLOG_CONF)
    if out:
        return None, out
    return files(text), None


@evaluator("mlps.audit.auth_logging")
def auth_logging(facts, host):
    by_file, out = _syslog_text(facts)
    if out:
        return out
    fam = os_family(facts, host)
    want = _per_family(fam, "auth,authpriv.* /var/log/auth.log", "authpriv.* /var/log/secure")
    has_rsyslog = any(p == "/etc/rsyslog.conf" or p.startswith("/etc/rsyslog.d/") for p in by_file)
    ng = syslog_ng_paths(by_file)
    if not has_rsyslog and not ng:
        return Outcome.failed("没有 rsyslog 或 syslog-ng 配置，登录事件未写入日志文件",
                              "no rsyslog or syslog-ng configuration: login events are not written to a log file",
                              "none of /etc/rsyslog.conf, /etc/rsyslog.d/*.conf, /etc/syslog-ng/syslog-ng.conf found")
    rules = rsyslog_rules(by_file)
    used, gaps = [], []
    for fac in ("auth", "authpriv"):
        for name, lv in (("info", 6), ("notice", 5)):
            got = None
            for r in rules:
                if r["kind"] not in ("file", "stop") or not rule_picks(r, fac, lv):
                    continue
                if r["kind"] == "stop":
                    break
                got = r["where"]
                break
            if got is None:
                got = next((p["where"] for p in ng if p["files"] and ({fac, "*"} & p["facilities"])), None)
            if got:
                used.append(got)
            else:
                gaps.append(f"{fac}.{name}")
    if gaps:
        related = [r["where"] for r in rules if r["selector"] and re.search(r"auth|\*\.", r["selector"])]
        return Outcome.failed(f"没有规则把 {', '.join(gaps)} 写入日志文件（应有 {want}）",
                              f"no rule writes {', '.join(gaps)} to a log file (expected {want})",
                              evidence_lines(related or [r["where"] for r in rules] or ["no selector rules found"]))
    return Outcome.passed("auth/authpriv 消息写入日志文件", "auth and authpriv messages are written to a log file",
                          evidence_lines(dict.fromkeys(used)))


@evaluator("mlps.audit.time_sync")
def time_sync(facts, host):
    ev, answered = [], 0
    t = facts.get(TIMEDATECTL)
    if t.ok and t.stdout.strip():
        answered += 1
        ev.append(f"timedatectl NTPSynchronized={t.stdout.strip()}")
        if t.stdout.strip().lower() == "yes":
            return Outcome.passed("时钟已同步（timedatectl）", "the clock is synchronised (timedatectl)", ev[-1])
    else:
        ev.append(f"timedatectl: {t.error or (t.stderr.strip() or f'exit {t.rc}')[:120]}")
    c = facts.get(CHRONYC)
    if c.ok:
        answered += 1
        kv = {k.strip(): v.strip() for k, _, v in (ln.partition(":") for ln in c.stdout.splitlines()) if _}
        ref, leap = kv.get("Reference ID", ""), kv.get("Leap status", "")
        ev.append(f"chronyc: Reference ID {ref}; Leap status {leap}")
        if leap in ("Normal", "Insert second", "Delete second") and not ref.startswith(("00000000", "7F7F0101")):
            return Outcome.passed("时钟已由 chronyd 同步", "the clock is synchronised by chronyd", "\n".join(ev))
    else:
        ev.append(f"chronyc: {c.error or (c.stderr.strip() or f'exit {c.rc}')[:120]}")
    n = facts.get(NTPQ)
    if n.ok:
        answered += 1
        peers = [ln for ln in n.stdout.splitlines() if ln[:1] in ("*", "o")]
        ev.append("ntpq: " + (peers[0] if peers else "no system peer (*)"))
        if peers:
            return Outcome.passed("时钟已由 ntpd 同步", "the clock is synchronised by ntpd", "\n".join(ev))
    else:
        ev.append(f"ntpq: {n.error or (n.stderr.strip() or f'exit {n.rc}')[:120]}")
    if not answered and all(p.error and not _absent(p) for p in (t, c, n)):
        return Outcome.error("无法采集时间同步状态", "could not gather the time synchronisation state", "\n".join(ev))
    return Outcome.failed("时钟未与任何时间源同步" if answered else "没有可用的时间同步服务（chrony、ntpd、timesyncd）",
                          "the clock is not synchronised to any time source" if answered
                          else "no time synchronisation service answers (chrony, ntpd, timesyncd)", "\n".join(ev))


def _au_remote(facts) -> tuple[list[str], list[str], str | None]:
    """(forwarding targets, evidence lines, problem) for audisp-remote."""
    res = facts.get(AU_REMOTE)
    if res.error or res.rc not in (0, 1, 2):
        return [], [], f"au-remote: {res.error or res.stderr.strip() or res.rc}"[:200]
    by_file = files(res.stdout)
    active, server, ev = False, "", []
    for p, lines in by_file.items():
        kv = {k.strip(): v.strip() for k, _, v in (ln.partition("=") for ln in lines)}
        if p.endswith("/au-remote.conf") and "active" in kv:
            active = active or kv["active"].lower() == "yes"
            ev.append(f"{p}: active = {kv['active']}")
        if p.endswith("/audisp-remote.conf") and "remote_server" in kv:
            server = server or kv["remote_server"]
            ev.append(f"{p}: remote_server = {kv['remote_server']}")
    if active and server and not LOOPBACK.match(server):
        return [f"audisp-remote → {server}"], ev, None
    return [], ev, None


def _agents(facts, others=()):
    """(configured remote outputs, running agents, evidence, problems) of the log shipping agents;
    ``others`` are process names of further agents (a vendor's log-audit agent) whose destination
    this check cannot read."""
    ev, problems = [], []
    outputs = []
    res = facts.get(LOG_AGENTS)
    if res.error and not _absent(res):
        problems.append(f"agent configuration: {res.error}"[:200])
    elif res.stdout:
        outputs = agent_outputs(res.stdout)
    procs: set[str] = set()
    ps = facts.get(PS)
    if ps.ok:
        for ln in ps.stdout.splitlines():
            a = agent_of_process(ln.strip()) or (ln.strip() if ln.strip() in others else None)
            if a:
                procs.add(a)
    else:
        problems.append(f"ps: {ps.error or ps.rc}"[:200])
    ju = facts.get(JOURNAL_UPLOAD_ACTIVE)
    if ju.stdout.strip() == "active":
        procs.add("systemd-journal-upload")
    for o in outputs:
        ev.append(f"{o['where']}  ({o['agent']} {o['type']} → {o['target'] or 'no host'}"
                  f"{'' if o['remote'] else ', stays on this host'})")
    ev.append("running agents: " + (", ".join(sorted(procs)) or "none of " + ", ".join(list(AGENTS) + sorted(others))))
    return outputs, procs, ev, problems


@evaluator("mlps.audit.log_forwarding")
def log_forwarding(facts, host, params):
    by_file, out = _syslog_text(facts)
    if out:
        return out
    need = [str(f) for f in params["forward_facilities"]]
    found, ev = [], []
    fw = forwarding(rsyslog_rules(by_file), 6, LOOPBACK)
    empty = {"forwarded": None, "conditional": [], "stopped": None, "maybe_stopped": []}
    fw = {**{f: dict(empty) for f in need}, **fw}  # a facility name rsyslog does not know is never forwarded
    got = {f: fw[f]["forwarded"] for f in need if fw.get(f, {}).get("forwarded")}
    if len(got) == len(need):
        found.extend(dict.fromkeys(got.values()))
        rest = [f for f in fw if not fw[f]["forwarded"]]
        if rest:
            ev.append(f"rsyslog forwards {', '.join(need)}; not forwarded: {', '.join(rest)}")
        for f in need:
            for where in fw[f]["maybe_stopped"][:2]:
                ev.append(f"{f}: some messages may be discarded before the forward by {where}")
    else:
        for f in need:
            if f in got:
                ev.append(f"{f}: forwarded by {got[f]}")
            elif fw[f]["stopped"]:
                ev.append(f"{f}: discarded before any forward by {fw[f]['stopped']}")
            elif fw[f]["conditional"]:
                ev.append(f"{f}: only under a condition this check cannot prove: {fw[f]['conditional'][0]}")
        if got:
            ev.append(f"rsyslog forwards only {', '.join(got)}; also needed: {', '.join(x for x in need if x not in got)}")
    for p in syslog_ng_paths(by_file):
        for target in p["forwards"]:
            if LOOPBACK.match(target):
                ev.append(f"{p['where']}  (loopback)")
            elif "*" in p["facilities"] or set(need) <= p["facilities"]:
                found.append(p["where"])
            else:
                ev.append(f"{p['where']}  (only {', '.join(sorted(p['facilities']))})")
    remote, remote_ev, problem = _au_remote(facts)
    found.extend(remote)
    outputs, procs, agent_ev, agent_problems = _agents(facts, {str(x)[:15] for x in params["other_agent_processes"]})
    shipping = [o for o in outputs if o["remote"] and not LOOPBACK.match(o["target"]) and o["agent"] in procs]
    found.extend(f"{o['agent']} → {o['target']} ({o['where']})" for o in shipping)
    if found:
        return Outcome.passed("日志已转发到日志服务器（收集端保存期需另行证明不少于 6 个月）",
                              "logs are forwarded to a log host (the collector's retention of ≥ 6 months must be shown "
                              "separately)", evidence_lines(list(dict.fromkeys(found)) + ev + remote_ev))
    ev = ev + ["no rsyslog/syslog-ng forwarding of " + ", ".join(need),
               "au-remote: not active or no remote_server" if not problem else problem] + remote_ev + agent_ev
    idle = sorted({o["agent"] for o in outputs if o["remote"] and o["agent"] not in procs})
    unknown = sorted(a for a in procs if not any(o["agent"] == a and o["remote"] for o in outputs))
    if unknown:
        return Outcome.manual(f"采集代理 {', '.join(unknown)} 正在运行，但未读到其发送目标；需人工证明日志已集中收集并保存不少于 6 个月",
                              f"the collection agent {', '.join(unknown)} runs but its destination could not be read; needs "
                              "an attestation that logs are collected centrally and kept for at least 6 months",
                              evidence_lines(ev))
    strict = getattr(host, "level", None) in [int(x) for x in params["fail_at_levels"]]
    if strict and (agent_problems or problem):
        return Outcome.error("无法确认日志采集代理的状态：" + "；".join(agent_problems + ([problem] if problem else [])),
                             "cannot tell whether a log collection agent runs: " + "; ".join(agent_problems + ([problem] if problem else [])),
                             evidence_lines(ev))
    if strict:
        extra_zh = f"（{', '.join(idle)} 已配置但未运行）" if idle else ""
        extra_en = f" ({', '.join(idle)} configured but not running)" if idle else ""
        return Outcome.failed(f"未把日志转发到日志服务器，也没有运行任何已知的日志采集代理{extra_zh}，审计记录未集中收集",
                              f"logs are not forwarded to a log host and no known log collection agent runs{extra_en}: "
                              "audit records are not collected centrally", evidence_lines(ev))
    return Outcome.manual("未发现日志转发或采集代理；需人工证明日志已由其他方式集中收集或备份并保存不少于 6 个月",
                          "no log forwarding or collection agent found; needs an attestation that logs are collected "
                          "or backed up by other means and kept for at least 6 months", evidence_lines(ev))


# --------------------------------------------------------------------------------------------
def _journal_retention(facts, need: float):
    """When systemd-journald is the only logger (no rsyslogd/syslog-ng runs): how long its journal
    keeps records, or None when another logger runs (or the logger list is not known)."""
    procs = facts.get(PGREP_LOGGERS)
    if not procs.ok:
        return None
    names = {ln.split()[1] for ln in procs.stdout.splitlines() if len(ln.split()) >= 2}
    if names & {"rsyslogd", "syslog-ng"} or "systemd-journal" not in names:
        return None
    text, out = gathered(facts, JOURNALD_CONF)
    if out:
        return out
    conf = journald_settings(text)
    storage, where = conf.get("Storage", ("auto", "Storage=auto (default)"))
    storage = storage.lower()
    jdir = facts.get(JOURNAL_DIR)
    st = parsers.stat(jdir.stdout) if jdir.ok else None
    has_dir = bool(st and st.get("type", "").startswith("directory"))
    ev = [where, f"/var/log/journal: {'present' if has_dir else 'absent'}"]
    ev += [conf[k][1] for k in ("MaxRetentionSec", "SystemMaxUse", "SystemKeepFree", "MaxFileSec") if k in conf]
    if storage in ("volatile", "none") or (storage == "auto" and not has_dir):
        return Outcome.failed(f"日志只由 systemd-journald 保存在内存中（Storage={storage}），重启即丢失，无法保留 {need:g} 天",
                              f"only systemd-journald keeps the logs, in memory (Storage={storage}): lost at reboot, "
                              f"not kept for {need:g} days", evidence_lines(ev))
    if "MaxRetentionSec" in conf:
        secs = timespan_seconds(conf["MaxRetentionSec"][0])
        if secs and secs < need * 86400:
            return Outcome.failed(f"journald 的 MaxRetentionSec 只保留约 {secs / 86400:.0f} 天，少于 {need:g} 天",
                                  f"journald's MaxRetentionSec keeps about {secs / 86400:.0f} days, less than {need:g}",
                                  evidence_lines(ev))
    bst, bres = probe_state(facts, JOURNAL_BOOTS)
    if bst == "error":
        return Outcome.error(f"无法读取日志的最早记录（journalctl --list-boots）：{probe_failure(bres)}",
                             f"cannot read the journal's oldest entry (journalctl --list-boots): {probe_failure(bres)}",
                             evidence_lines(ev))
    dates = [w for w, _t in dates_in_text(bres.stdout)] if bst == "ok" else []
    if not dates:
        return Outcome.failed(f"仅 systemd-journald 保存日志，无法证明保留 {need:g} 天（读不到最早记录的时间）",
                              f"only systemd-journald keeps the logs and {need:g} days of retention cannot be shown "
                              "(the oldest entry's time is not readable)", evidence_lines(ev + ["journalctl --list-boots: no entries"]))
    oldest = min(dates)
    hours, err = age_hours(facts, oldest.isoformat(), "the journal's oldest entry")
    if err:
        return err
    days = hours / 24
    ev.append(f"oldest journal entry {stamp(oldest)} ({days:.0f} days before the run)")
    limits = "，".join(f"{k}={conf[k][0]}" for k in ("SystemMaxUse", "MaxRetentionSec") if k in conf) or "默认上限（文件系统的 10%，最多 4G）"
    if days < need:
        return Outcome.failed(f"journald 日志最早只到 {days:.0f} 天前，少于 {need:g} 天（{limits}）",
                              f"the journal goes back only {days:.0f} days, less than {need:g}", evidence_lines(ev))
    return Outcome.passed(f"journald 日志保留了 {days:.0f} 天（不少于 {need:g} 天）",
                          f"the journal goes back {days:.0f} days (at least {need:g})", evidence_lines(ev))


@evaluator("mlps.audit.log_retention")
def log_retention(facts, host, params):
    text, out = gathered(facts, LOGROTATE)
    if out:
        return out
    blocks = logrotate_blocks(files(text))
    need = float(params["log_retention_days"])
    short, good = [], []
    for f in params["rotated_log_files"]:
        b = next((b for b in blocks if any(path_match(p, f) for p in b["patterns"])), None)
        if b is None:
            continue
        days, how = retention_days(b)
        line = f"{f}: {how} ({b['where']})"
        (good if days is not None and days >= need else short).append(line)
    if not short and not good:
        journal = _journal_retention(facts, need)
        if journal is not None:
            return journal
        return Outcome.not_applicable("logrotate 不管理这些日志文件（未写入或不轮转），见 mlps.audit.auth_logging",
                                      "logrotate manages none of these log files (not written, or never rotated); "
                                      "see mlps.audit.auth_logging",
                                      ", ".join(map(str, params["rotated_log_files"])))
    if short:
        return Outcome.failed(f"日志本地保留少于 {need:g} 天（或无法证明）",
                              f"logs are not shown to be kept locally for {need:g} days", evidence_lines(short + good))
    return Outcome.passed(f"日志本地保留不少于 {need:g} 天", f"logs are kept locally for at least {need:g} days",
                          evidence_lines(good))


# --------------------------------------------------------------------------------------------
# auditd.conf
def _auditd_conf(facts):
    """(key → value lower-cased, None) or (None, Outcome). No auditd.conf = auditd absent = not applicable
    here (mlps.audit.auditd_running reports that)."""
    res = facts.get(AUDITD_CONF)
    if _absent(res):
        return None, Outcome.not_applicable("没有 /etc/audit/auditd.conf（未安装 auditd，见 mlps.audit.auditd_running）",
                                            "no /etc/audit/auditd.conf (auditd not installed; see mlps.audit.auditd_running)")
    if res.error or res.rc != 0:
        why = res.error or f"exit {res.rc}"
        return None, Outcome.error(f"无法读取 auditd.conf：{why}", f"cannot read auditd.conf: {why}", res.stderr[:200])
    return {k.lower(): v for k, v in parsers.keyvalue(res.stdout).items()}, None


@evaluator("mlps.audit.auditd_log_retention")
def auditd_log_retention(facts, host, params):
    conf, out = _auditd_conf(facts)
    if out:
        return out
    action = conf.get("max_log_file_action", "ignore").lower()
    size, num = to_int(conf.get("max_log_file"), 8), to_int(conf.get("num_logs"), 0)
    ev = "\n".join(f"{k} = {conf[k]}" for k in ("write_logs", "log_format", "max_log_file_action", "max_log_file",
                                                  "num_logs") if k in conf) or "(no settings: auditd defaults)"
    if conf.get("write_logs", "yes").lower() == "no" or conf.get("log_format", "raw").lower() == "nolog":
        return Outcome.failed("auditd 不在本地写审计日志", "auditd writes no local audit log", ev)
    if action == "keep_logs":
        return Outcome.passed("auditd 保留全部旧日志（keep_logs）", "auditd keeps every old log (keep_logs)", ev)
    if action != "rotate":
        why = {"ignore": ("不限制文件大小，直到磁盘写满", "places no limit until the disk is full"),
               "syslog": ("只发 syslog 告警，不限制文件大小", "only warns in syslog and places no limit"),
               "suspend": ("文件写满后停止记录", "stops recording once the file is full"),
               "single": ("文件写满后进入单用户模式", "drops to single-user mode when the file is full"),
               "halt": ("文件写满后关机", "halts the host when the file is full")}.get(action, ("取值未知", "is unknown"))
        return Outcome.failed(f"max_log_file_action = {action}：{why[0]}", f"max_log_file_action = {action} {why[1]}", ev)
    if num is None or num < 2:
        return Outcome.failed(f"rotate 但 num_logs = {num}，auditd 不会轮转，单个文件无限增长",
                              f"rotate with num_logs = {num}: auditd does not rotate and one file grows without limit", ev)
    per_day = float(params["audit_mb_per_day"]) or 1.0
    days = (size or 0) * num / per_day
    need = float(params["log_retention_days"])
    ev += f"\ncapacity {num} × {size} MB = {num * (size or 0)} MB ≈ {days:.0f} days at {per_day:g} MB/day"
    if days < need:
        return Outcome.failed(f"轮转容量约可保留 {days:.0f} 天，少于 {need:g} 天，更早的记录被覆盖",
                              f"the rotation holds about {days:.0f} days, less than {need:g}; older records are overwritten",
                              ev)
    return Outcome.passed(f"轮转容量约可保留 {days:.0f} 天", f"the rotation holds about {days:.0f} days", ev)


@evaluator("mlps.audit.log_permissions")
def log_permissions(facts, host, params):
    fam = os_family(facts, host)
    logs = LOG_STAT[fam] if fam else LOG_STAT["debian"] + LOG_STAT["rhel"]
    checks = [(p, str(params["max_log_mode"])) for p in logs] + [(AUDIT_DIR, str(params["max_audit_dir_mode"]))]
    bad, good = [], []
    for probe, limit in checks:
        res = facts.get(probe)
        if fam == "" and res.error and "not gathered" in res.error:
            continue
        if _absent(res):
            continue
        if res.error or res.rc != 0:
            return Outcome.error(f"无法读取 {probe.arg} 的权限：{res.error or res.rc}",
                                 f"cannot stat {probe.arg}: {res.error or res.rc}", res.stderr[:200])
        st = parsers.stat(res.stdout)
        if not st:
            return Outcome.error(f"无法解析 {probe.arg} 的权限", f"cannot parse the mode of {probe.arg}", res.stdout[:200])
        line = f"{probe.arg} {st['mode']} {st['owner']}:{st['group']} (max {limit})"
        extra = int(st["mode"], 8) & ~int(limit, 8) & 0o7777
        (bad if extra else good).append(line)
    if not bad and not good:
        return Outcome.not_applicable("这些日志文件都不存在（见 mlps.audit.auth_logging）",
                                      "none of these log files exists (see mlps.audit.auth_logging)")
    if bad:
        return Outcome.failed("日志权限过宽", "log permissions are too open", evidence_lines(bad + good))
    return Outcome.passed("日志权限符合要求", "log permissions are restricted", evidence_lines(good))


@evaluator("mlps.audit.process_protection")
def process_protection(facts, host, params):
    s = facts.get(AUDITCTL_S)
    status = audit_status(s.stdout) if s.ok else {}
    u = facts.get(REFUSE_STOP)
    refuse = None
    if u.ok:
        m = re.search(r"^RefuseManualStop=(\w+)", u.stdout, re.M)
        refuse = m.group(1).lower() if m else None
    ev = [f"enabled {status['enabled']}" if "enabled" in status else
          f"auditctl -s: {'not installed' if _absent(s) else (s.error or s.stderr.strip() or s.rc)}",
          f"RefuseManualStop={refuse}" if refuse else
          f"systemctl show auditd: {'not available' if _absent(u) else (u.error or u.stderr.strip() or u.rc)}"]
    ev = "\n".join(str(x)[:200] for x in ev)
    if status.get("enabled") == 2 and status.get("pid", 1) == 0:
        return Outcome.failed("审计配置已锁定（enabled 2），但没有审计守护进程在运行（pid 0），记录无人接收",
                              "the audit configuration is locked (enabled 2) but no audit daemon runs (pid 0): nothing "
                              "receives the records", ev + f"\npid {status['pid']}")
    if status.get("enabled") == 2:
        return Outcome.passed("审计配置已锁定（enabled 2）", "the audit configuration is locked (enabled 2)", ev)
    if refuse == "yes" and params["accept_refuse_manual_stop"]:
        return Outcome.passed("auditd 拒绝手动停止（RefuseManualStop=yes）；建议再用 -e 2 锁定规则",
                              "auditd refuses a manual stop (RefuseManualStop=yes); locking the rules with -e 2 is "
                              "recommended", ev)
    if "enabled" not in status and not _absent(s):
        return Outcome.error("无法读取内核审计状态（auditctl -s）", "cannot read the kernel audit status (auditctl -s)", ev)
    if _absent(s):
        return Outcome.failed("未安装 auditd，审计进程无从保护", "auditd is not installed, so there is no protected audit process",
                              ev)
    if refuse == "yes":
        return Outcome.failed("审计配置未锁定（不是 enabled 2）；本计划不接受仅有 RefuseManualStop=yes",
                              "the audit configuration is not locked (not enabled 2); this plan does not accept "
                              "RefuseManualStop=yes alone", ev)
    return Outcome.failed("审计配置未锁定（不是 enabled 2），auditd 也未拒绝手动停止",
                          "the audit configuration is not locked (not enabled 2) and auditd does not refuse a manual stop",
                          ev)
