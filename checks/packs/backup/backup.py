"""Backup pack: 数据备份恢复 GB/T 22239-2019 8.1.4.9 a/b (level 3) / 7.1.4.8 a/b (level 2), with
备份与恢复管理 8.1.10.11 c / 7.1.10.11 c for the job and the restore test.

Every check judges the backup policies the inventory declares for the host's systems
(``audits.policies``): the probes are built from those declarations (paths quoted, read-only,
credential-free: marker files, ``find`` listings, a listing file the backup job writes, cron and
systemd timers). Ages are UTC against the run's start (``checks.ages``); a future or unreadable
time is an error. A host none of whose systems declares a backup fails ``backup.last_success``:
no declared backup is no backup, the 高风险 trigger 数据备份措施缺失.
"""
from __future__ import annotations

import shlex

from audits.model.probes import Probe
from checks import parsers
from checks.ages import age_hours, human, stamp
from checks.contract import Outcome, Status, check
from checks.listings import ListingError, find_entries, marker_time, newest_in_listing, utc_offset
from checks.packs.mlps._shared import evidence_lines

TZ = Probe("command", "date +%z")
CRON = Probe("command", "grep -RHsv -e '^[[:space:]]*#' /etc/crontab /etc/anacrontab /etc/cron.d "
                        "/etc/cron.hourly /etc/cron.daily /etc/cron.weekly /etc/cron.monthly /var/spool/cron", True)
TIMERS = Probe("command", "systemctl list-timers --all --no-legend --no-pager")
BACKUP_TOOLS = ["restic", "borg", "rsync", "rsnapshot", "duplicity", "duplicati", "bacula", "bareos", "urbackup",
                "pg_dump", "pg_basebackup", "mysqldump", "mariabackup", "xtrabackup", "tar ", "veeam", "backup"]
REFS_A = ["GB/T 22239-2019 8.1.4.9 a", "GB/T 22239-2019 7.1.4.8 a"]


# ---------------------------------------------------------------------------------------------
# Probes built from the declarations (every declared path was checked to hold no shell syntax).
def _listing_probe(path: str) -> Probe:
    return Probe("command", f"find {shlex.quote(path)} -maxdepth 2 -printf '%T@ %m %u %y ' -print0", True)


def _stat_probe(path: str) -> Probe:
    return Probe("stat", path, True)


def _file_probe(path: str) -> Probe:
    return Probe("file", path, True)


def _evidence_probes(marker, listing) -> list[Probe]:
    out = []
    if marker:
        out += [_stat_probe(marker), _file_probe(marker)]
    if listing:
        out.append(_file_probe(listing.file))
    return out


def _holders(host) -> tuple:
    return tuple(getattr(host, "backup", ()) or ())


def fresh_probes(host) -> list[Probe]:
    """the declared marker (stat + content), listing file and a find listing of each local target, under sudo"""
    out = [TZ]
    for p in _holders(host):
        out += _evidence_probes(p.marker, p.listing)
        out += [_listing_probe(t.path) for t in p.targets if t.path and not t.offsite]
    return out


def offsite_probes(host) -> list[Probe]:
    """each off-site target's declared marker or listing file, or a find listing of a mounted off-site path, under sudo"""
    out = [TZ]
    for p in _holders(host):
        for t in p.targets:
            if t.offsite:
                out += _evidence_probes(t.marker, t.listing)
                if t.path:
                    out.append(_listing_probe(t.path))
    return out


def mode_probes(host) -> list[Probe]:
    """find PATH -maxdepth 2 -printf '%T@ %m %u %y ' -print0 for each declared target path, under sudo"""
    return [_listing_probe(t.path) for p in _holders(host) for t in p.targets if t.path]


def restore_probes(host) -> list[Probe]:
    """stat and content of the declared restore-test record, under sudo"""
    out = [TZ]
    for p in _holders(host):
        if p.restore_test:
            out += [_stat_probe(p.restore_test), _file_probe(p.restore_test)]
    return out


# ---------------------------------------------------------------------------------------------
def _tz(facts):
    res = facts.get(TZ)
    return utc_offset(res.stdout) if res.rc == 0 else None


def _absent(res) -> bool:
    return res.error is None and res.missing()


def _dated_file(facts, path, tz, what_zh, what_en):
    """(time, how, error) of a marker or record file (gathered as stat + content): its first line's
    time, or its modification time when empty; (None, "missing", None) when it does not exist."""
    st, body = facts.get(_stat_probe(path)), facts.get(_file_probe(path))
    if st.error or body.error:
        why = st.error or body.error
        return None, "", Outcome.error(f"无法读取{what_zh} {path}：{why}", f"cannot read {what_en} {path}: {why}")
    if st.rc != 0 or body.rc != 0:
        return None, "missing", None
    when, how = marker_time(body.stdout, (parsers.stat(st.stdout) or {}).get("mtime", ""), tz)
    if when is None:
        return None, "", Outcome.error(f"{what_zh} {path} 的时间无法识别", f"the time in {what_en} {path} cannot be read",
                                       f"{path}: {how}")
    return when, how, None


def _newest_from(facts, marker, listing, paths) -> tuple[object, str, list[str], Outcome | None]:
    """(time, source, evidence lines, error) of the newest successful backup, trying the tool's own
    listing, then the marker, then the newest file under the local target paths."""
    tz, ev = _tz(facts), []
    if listing:
        res = facts.get(_file_probe(listing.file))
        if res.error:
            return None, "", ev, Outcome.error(f"无法读取备份清单 {listing.file}：{res.error}",
                                               f"cannot read the backup listing {listing.file}: {res.error}")
        if res.truncated:
            return None, "", ev, Outcome.error(f"备份清单 {listing.file} 超过 256 KiB，请只写出最近的备份（如 restic snapshots "
                                               "--latest 5 --json）", f"the listing {listing.file} is over 256 KiB: write only "
                                               "the latest backups (e.g. restic snapshots --latest 5 --json)")
        if not _absent(res) and res.rc == 0:
            try:
                when, n = newest_in_listing(listing.format, res.stdout, tz)
            except ListingError as exc:
                return None, "", ev, Outcome.error(f"{listing.format} 备份清单 {listing.file} 无法解析",
                                                   f"the {listing.format} listing {listing.file} cannot be read: {exc}",
                                                   f"{listing.file}: {str(exc)[:200]}")
            ev.append(f"{listing.format} listing {listing.file}: {n} backup(s)" + (f", newest {stamp(when)}" if when else ""))
            if when:
                return when, f"{listing.format} listing {listing.file}", ev, None
        else:
            ev.append(f"{listing.format} listing {listing.file}: missing")
    if marker:
        when, how, err = _dated_file(facts, marker, tz, "备份标记", "the backup marker")
        if err:
            return None, "", ev, err
        if when:
            ev.append(f"marker {marker}: {stamp(when)} ({how})")
            return when, f"marker {marker}", ev, None
        ev.append(f"marker {marker}: missing")
    for path in paths:
        res = facts.get(_listing_probe(path))
        if res.error:
            return None, "", ev, Outcome.error(f"无法列出备份目录 {path}：{res.error}", f"cannot list the backup directory "
                                               f"{path}: {res.error}")
        files = [e for e in find_entries(res.stdout) if e.kind == "f"]
        if any(e.mtime is None for e in files):
            return None, "", ev, Outcome.error(f"备份目录 {path} 中有文件的时间无法识别", f"a file time under {path} cannot be read")
        if not files:
            gone = res.rc != 0 and "No such file" in res.stderr
            ev.append(f"{path}: " + ("directory missing" if gone else "no backup files"))
            continue
        newest = max(files, key=lambda e: e.mtime)
        ev.append(f"{path}: {len(files)} file(s), newest {newest.path} at {stamp(newest.mtime)}"
                  + (" (listing truncated)" if res.truncated else ""))
        return newest.mtime, f"newest file {newest.path}", ev, None
    return None, "", ev, None


def _no_policy(host) -> Outcome | None:
    if _holders(host):
        return None
    unbacked = tuple(getattr(host, "no_backup", ()) or ())
    if unbacked:
        out = Outcome.failed(f"系统 {', '.join(unbacked)} 未声明备份策略（无备份即数据备份措施缺失）",
                             f"system(s) {', '.join(unbacked)} declare no backup policy (no backup of important data)",
                             "inventory: no backup: declared for " + ", ".join(unbacked))
        return out
    if not getattr(host, "systems", None):
        return Outcome.not_applicable("主机未服务任何已声明的系统，备份按系统声明", "the host serves no declared system; "
                                      "backups are declared per system")
    return Outcome.not_applicable("该主机所属系统的备份由其他主机保存", "its systems' backups are held by other hosts")


# ---------------------------------------------------------------------------------------------
@check(
    id="backup.last_success",
    title={"zh": "最近一次成功备份不早于系统的恢复点目标（RPO）", "en": "The newest successful backup is younger than the system's RPO"},
    severity="high",
    refs=REFS_A,
    probes=[TZ],
    host_probes=fresh_probes,
    rationale={"zh": "重要数据应有本地备份，且备份结果与策略一致。证据依次取：备份工具自己写出的清单文件（restic snapshots --json、borg "
                     "list --json、rsync --log-file 日志）、备份任务留下的成功标记文件（首行为时间，或为空则取修改时间），最后是本地备份目录中"
                     "最新文件的修改时间。都不读取备份仓库，不需要仓库口令。时间按 UTC 与本次审计开始时间比较；无时区的时间按主机时区（date +%z）"
                     "换算；晚于审计开始或无法识别的时间为错误。系统未声明备份策略视为无备份（高风险项“数据备份措施缺失”）。",
               "en": "Important data needs a local backup whose results match the policy. Evidence, in order: the listing "
                     "file the backup tool writes (restic snapshots --json, borg list --json, an rsync --log-file log), the "
                     "job's last-success marker (its first line is the time, or it is empty and its modification time "
                     "counts), then the newest file in the local backup directories. No repository is opened and no "
                     "repository password is needed. Times are compared in UTC with the run's start; times without a zone "
                     "are the host's local time (date +%z); a time after the run started or an unreadable one is an error. "
                     "A system that declares no backup policy has no backup (the high-risk item 数据备份措施缺失)."},
    remediation={"zh": "为系统配置定时备份并在清单中声明 backup:（目标、标记或清单文件、RPO）；修复失败的备份任务，使最近一次成功备份不早于 RPO。",
                 "en": "Schedule backups for the system and declare backup: in the inventory (targets, marker or listing, "
                       "RPO); fix failing jobs so the newest successful backup is within the RPO."},
)
def last_success(facts, host):
    none = _no_policy(host)
    if none:
        return none
    fails, ok, stale_only = [], [], True
    for p in _holders(host):
        paths = [t.path for t in p.targets if t.path and not t.offsite]
        if not (p.marker or p.listing or paths):
            fails.append((f"系统 {p.system} 未声明可核查的备份证据（标记、清单或本地目录）",
                          f"system {p.system} declares no backup evidence (marker, listing or local directory)", []))
            stale_only = False
            continue
        when, source, ev, err = _newest_from(facts, p.marker, p.listing, paths)
        if err:
            return err
        if when is None:
            fails.append((f"系统 {p.system} 没有找到任何成功备份", f"system {p.system}: no successful backup found", ev))
            stale_only = False
            continue
        hours, err = age_hours(facts, when, source)
        if err:
            return err
        line = f"{p.system}: newest backup {stamp(when)} from {source}, {human(hours)} old, RPO {p.rpo_hours:g} h"
        if hours > p.rpo_hours:
            fails.append((f"系统 {p.system} 最近一次成功备份已 {human(hours)}，超过 RPO {p.rpo_hours:g} 小时",
                          f"system {p.system}: the newest successful backup is {human(hours)} old, over the RPO of "
                          f"{p.rpo_hours:g} h", ev + [line]))
        else:
            ok.append(line)
    if fails:
        out = Outcome.failed("；".join(f[0] for f in fails), "; ".join(f[1] for f in fails),
                             evidence_lines([ln for f in fails for ln in f[2]] + ok))
        if stale_only:
            out.severity = "medium"  # a backup exists but is late: not the high-risk "no backup at all"
        return out
    return Outcome.passed("最近一次成功备份在 RPO 之内", "the newest successful backup is within the RPO", evidence_lines(ok))


def _cron_lines(facts) -> tuple[list[str] | None, Outcome | None]:
    res = facts.get(CRON)
    if res.error:
        return None, Outcome.error(f"无法读取计划任务：{res.error}", f"cannot read the cron tables: {res.error}")
    if res.rc not in (0, 1, 2):
        return None, Outcome.error(f"无法读取计划任务：exit {res.rc}", f"cannot read the cron tables: exit {res.rc}",
                                   res.stderr[:200])
    return res.stdout.splitlines(), None


def _job_evidence(line: str, word: str) -> str:
    """Where a job was found, without its command line (cron commands often carry passwords:
    ``mysqldump -pSECRET``, ``RESTIC_PASSWORD=…``): the file and schedule, or the timer's units."""
    if line.startswith("timer: "):
        units = [t for t in line.split() if t.endswith((".timer", ".service"))]
        return f"systemd timer {' '.join(units[:2]) or '?'} (matches {word.strip()!r})"
    path, _, entry = line.partition(":")
    fields = entry.split()
    when = " ".join(fields[:1] if fields[:1] and fields[0].startswith("@") else fields[:5])
    return f"{path}: schedule {when or '?'} … (matches {word.strip()!r}; command not shown)"


@check(
    id="backup.job_scheduled",
    title={"zh": "备份任务已定时执行（cron 或 systemd 定时器）", "en": "A backup job is scheduled (cron or a systemd timer)"},
    severity="medium",
    refs=REFS_A + ["GB/T 22239-2019 8.1.10.11 c", "GB/T 22239-2019 7.1.10.11 c"],
    probes=[CRON, TIMERS],
    params={"backup_tools": BACKUP_TOOLS},
    rationale={"zh": "测评要求备份机制存在且周期合理（如 crond 中的备份任务）。结果只显示文件名和执行周期，不显示命令行（其中常含口令）。本项在 /etc/crontab、/etc/cron.d、cron.hourly/daily/weekly/"
                     "monthly、anacrontab 和 /var/spool/cron（需 sudo）以及 systemctl list-timers 中查找声明的 schedule 文本（不区分大小写）；"
                     "未声明时查找常见备份工具名（backup_tools）。",
               "en": "Assessors look for a backup mechanism with a sensible period (e.g. a backup job in crond). Results show "
                     "the file and the schedule, never the command line (it often carries passwords). The declared "
                     "schedule text (case-insensitive) is looked for in /etc/crontab, /etc/cron.d, cron.hourly/daily/weekly/"
                     "monthly, anacrontab and /var/spool/cron (sudo) and in systemctl list-timers; without one, the names of "
                     "common backup tools (backup_tools)."},
    remediation={"zh": "用 cron 或 systemd 定时器定期运行备份任务，并在清单的 backup.schedule 中写明任务名称。",
                 "en": "Run the backup job from cron or a systemd timer, and name it in backup.schedule in the inventory."},
)
def job_scheduled(facts, host, params):
    none = _no_policy(host)
    if none:
        return none
    lines, err = _cron_lines(facts)
    if err:
        return err
    timers = facts.get(TIMERS)
    lines = list(lines) + ([f"timer: {ln.strip()}" for ln in timers.stdout.splitlines() if ln.strip()]
                           if timers.rc == 0 else [])
    missing, found = [], []
    for p in _holders(host):
        wanted = [p.schedule] if p.schedule else list(params["backup_tools"])
        hits = [(ln, w) for ln in lines for w in wanted if w.lower() in ln.lower()]
        if hits:
            found.append(f"{p.system}: " + _job_evidence(*hits[0]))
        else:
            missing.append((p.system, wanted))
    if missing:
        return Outcome.failed("未找到定时备份任务：" + "；".join(f"系统 {s}（查找 {', '.join(w[:4])}）" for s, w in missing),
                              "no scheduled backup job: " + "; ".join(f"system {s} (looked for {', '.join(w[:4])})"
                                                                      for s, w in missing),
                              evidence_lines([f"{len(lines)} cron/timer line(s) searched"] + found))
    return Outcome.passed("备份任务已定时执行", "a backup job is scheduled", evidence_lines(found))


@check(
    id="backup.offsite_copy",
    title={"zh": "有新近的异地备份副本", "en": "A recent off-site copy of the backups exists"},
    severity="high",
    refs=["GB/T 22239-2019 8.1.4.9 b", "GB/T 22239-2019 7.1.4.8 b"],
    probes=[TZ],
    host_probes=offsite_probes,
    params={"offsite_max_age_hours": 168},
    rationale={"zh": "二级要求定时批量、三级要求实时地把重要数据备份到备份场地。本项要求声明为异地（offsite: true）的备份目标留有证据："
                     "该目标的标记文件或清单文件，或挂载在本机的异地目录中的文件，且不早于 offsite_max_age_hours（默认 168 小时）；三级系统"
                     "还不得早于系统的 RPO。实时复制（数据库流复制、存储复制）无法由标记证明时，以证明文件回答。清单声明不需要异地备份"
                     "（offsite: false）的二、三级系统判为不符合，确属接受的风险请登记豁免。",
               "en": "Level 2 requires scheduled batch copies, level 3 real-time copies, of important data to a backup site. "
                     "An off-site target (offsite: true) must leave evidence on the host: its marker or listing file, or "
                     "files in an off-site directory mounted here, no older than offsite_max_age_hours (default 168 h) and, "
                     "at level 3, no older than the system's RPO. Real-time replication that no marker proves (database "
                     "streaming, storage replication) is answered by an attestation. A level-2/3 system declared offsite: "
                     "false fails; record a waiver for an accepted risk."},
    remediation={"zh": "配置到另一场地的备份复制（rsync/restic/borg 到校外或教育局灾备中心），在清单的 targets 中声明 offsite: true "
                       "及其标记文件。",
                 "en": "Copy the backups to another site (rsync/restic/borg to the district's DR centre or another campus) and "
                       "declare it in targets with offsite: true and its marker."},
)
def offsite_copy(facts, host, params):
    none = _no_policy(host)
    if none:
        if none.status is Status.FAIL and (getattr(host, "level", 3) or 3) < 3:
            none.severity = "medium"  # a missing off-site copy is a high-risk item at level 3 only
        return none
    fails, ok = [], []
    for p in _holders(host):
        if not p.offsite:
            if p.level >= 2:
                fails.append((f"系统 {p.system} 声明不需要异地备份，但等保 {p.level} 级要求异地备份",
                              f"system {p.system} is declared offsite: false, but MLPS level {p.level} requires an off-site "
                              "copy", ["inventory: backup.offsite: false"], p.level))
            continue
        limit = float(params["offsite_max_age_hours"])
        if p.level >= 3:
            limit = min(limit, p.rpo_hours)
        targets = [t for t in p.targets if t.offsite]
        if not targets:
            fails.append((f"系统 {p.system} 未声明异地备份目标", f"system {p.system} declares no off-site target",
                          ["inventory: no target with offsite: true"], p.level))
            continue
        best, evs = None, []
        for t in targets:
            if not (t.marker or t.listing or t.path):
                evs.append(f"{t.name}: no evidence declared (marker or listing)")
                continue
            when, source, ev, err = _newest_from(facts, t.marker, t.listing, [t.path] if t.path else [])
            if err:
                return err
            evs += ev
            if when is not None:
                hours, err = age_hours(facts, when, source)
                if err:
                    return err
                if best is None or hours < best[0]:
                    best = (hours, t.name, source)
        if best is None:
            fails.append((f"系统 {p.system} 没有异地备份的证据", f"system {p.system}: no evidence of an off-site copy", evs,
                          p.level))
        elif best[0] > limit:
            fails.append((f"系统 {p.system} 的异地备份已 {human(best[0])}，超过 {limit:g} 小时",
                          f"system {p.system}: the off-site copy is {human(best[0])} old, over {limit:g} h",
                          evs, p.level))
        else:
            ok.append(f"{p.system}: off-site copy at {best[1]} {human(best[0])} old ({best[2]}), limit {limit:g} h")
    if fails:
        out = Outcome.failed("；".join(f[0] for f in fails), "; ".join(f[1] for f in fails),
                             evidence_lines([ln for f in fails for ln in f[2]] + ok))
        if all(f[3] < 3 for f in fails):
            out.severity = "medium"  # a missing off-site copy is a high-risk item at level 3 only
        return out
    if not ok:
        return Outcome.not_applicable("未要求异地备份", "no off-site copy is required")
    return Outcome.passed("有新近的异地备份副本", "a recent off-site copy exists", evidence_lines(ok))


@check(
    id="backup.not_world_readable",
    title={"zh": "备份文件不允许其他用户读取", "en": "Backup files are not readable by other users"},
    severity="medium",
    refs=REFS_A + ["GB/T 22239-2019 8.1.4.8 b"],
    probes=[],
    host_probes=mode_probes,
    rationale={"zh": "备份中含有业务数据、口令散列和密钥，任何本机用户可读即等于数据泄露。本项列出声明的备份目录（两层以内，需 sudo）"
                     "中的文件，其他用户可读（o+r）的文件判为不符合。",
               "en": "Backups hold business data, password hashes and keys; readable by any local user they are a data leak. "
                     "The files of the declared backup directories (two levels deep, under sudo) are listed; any file "
                     "readable by others (o+r) fails."},
    remediation={"zh": "chmod -R o-rwx 备份目录，并在备份任务中设置 umask 077。", "en": "chmod -R o-rwx the backup directories and "
                 "set umask 077 in the backup job."},
)
def not_world_readable(facts, host):
    none = _no_policy(host)
    if none:
        return none if none.status is not Status.FAIL else Outcome.not_applicable(
            "没有声明备份目录", "no backup directory is declared", none.evidence)
    paths = [t.path for p in _holders(host) for t in p.targets if t.path]
    if not paths:
        return Outcome.not_applicable("没有声明本地备份目录", "no local backup directory is declared")
    bad, seen = [], 0
    for path in paths:
        res = facts.get(_listing_probe(path))
        if res.error:
            return Outcome.error(f"无法列出备份目录 {path}：{res.error}", f"cannot list the backup directory {path}: {res.error}")
        entries = find_entries(res.stdout)
        files = [e for e in entries if e.kind == "f"]
        seen += len(files)
        bad += [f"{e.path} mode {e.mode:04o} owner {e.owner}" for e in files if e.mode & 0o004]
    if bad:
        return Outcome.failed(f"{len(bad)} 个备份文件允许其他用户读取", f"{len(bad)} backup file(s) readable by other users",
                              evidence_lines(bad))
    if not seen:
        return Outcome.passed("备份目录中没有文件", "the backup directories hold no files", ", ".join(paths))
    return Outcome.passed(f"{seen} 个备份文件均不允许其他用户读取", f"none of {seen} backup file(s) is readable by others",
                          ", ".join(paths))


@check(
    id="backup.restore_tested",
    title={"zh": "近期做过备份恢复测试并有记录", "en": "A restore test was done recently and recorded"},
    severity="medium",
    refs=REFS_A + ["GB/T 22239-2019 8.1.10.11 c", "GB/T 22239-2019 7.1.10.11 c"],
    probes=[TZ],
    host_probes=restore_probes,
    params={"restore_test_days": 365},
    attest={"zh": "提供最近一次备份恢复测试记录（日期、恢复的数据、结果、执行人）。",
            "en": "Provide the record of the last restore test (date, data restored, result, who did it)."},
    rationale={"zh": "备份只有能恢复才有用，测评要求有近期的恢复测试记录。声明了 restore_test 记录文件时，读取其首行时间（或为空时取修改时间），"
                     "不早于 restore_test_days（默认 365 天，很多学校定为 180 天）；未声明记录文件时由证明回答（人工核查）。",
               "en": "A backup is only as good as its restore; assessors want recent restore-test records. With a declared "
                     "restore_test record file, its first line's time (or, empty, its modification time) must be within "
                     "restore_test_days (default 365; many schools choose 180); without one an attestation answers the item."},
    remediation={"zh": "定期从备份恢复到测试环境并核对数据，把日期写入记录文件（如 date -Is > /var/backups/portal.restore-test）。",
                 "en": "Restore from backup into a test environment regularly, verify the data and write the date to the record "
                       "(e.g. date -Is > /var/backups/portal.restore-test)."},
)
def restore_tested(facts, host, params):
    none = _no_policy(host)
    if none:
        return none if none.status is not Status.FAIL else Outcome.manual(
            "系统未声明备份策略，恢复测试需人工核查", "no backup policy is declared: the restore test needs an attestation",
            none.evidence)
    limit = float(params["restore_test_days"])
    fails, ok, undeclared = [], [], []
    tz = _tz(facts)
    for p in _holders(host):
        if not p.restore_test:
            undeclared.append(p.system)
            continue
        when, how, err = _dated_file(facts, p.restore_test, tz, "恢复测试记录", "the restore-test record")
        if err:
            return err
        if when is None:
            fails.append((f"系统 {p.system} 没有恢复测试记录 {p.restore_test}", f"system {p.system}: no restore-test record "
                          f"{p.restore_test}", [f"{p.restore_test}: missing"]))
            continue
        hours, err = age_hours(facts, when, p.restore_test)
        if err:
            return err
        line = f"{p.system}: last restore test {stamp(when)} ({how} of {p.restore_test}), {human(hours)} ago"
        if hours > limit * 24:
            fails.append((f"系统 {p.system} 最近一次恢复测试已 {human(hours)}，超过 {limit:g} 天",
                          f"system {p.system}: the last restore test was {human(hours)} ago, over {limit:g} days", [line]))
        else:
            ok.append(line)
    if fails:
        return Outcome.failed("；".join(f[0] for f in fails), "; ".join(f[1] for f in fails),
                              evidence_lines([ln for f in fails for ln in f[2]] + ok))
    if undeclared:
        return Outcome.manual(f"系统 {', '.join(undeclared)} 未声明恢复测试记录文件，需人工核查",
                              f"system(s) {', '.join(undeclared)} declare no restore-test record: attest the last test",
                              evidence_lines(ok))
    return Outcome.passed("近期做过恢复测试", "a restore test was done recently", evidence_lines(ok))
