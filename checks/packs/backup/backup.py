"""Backup pack: 数据备份恢复 GB/T 22239-2019 8.1.4.9 a/b (level 3) / 7.1.4.8 a/b (level 2), with
备份与恢复管理 8.1.10.11 c / 7.1.10.11 c for the job and the restore test.

Every check judges the backup policies the inventory declares for the host's systems
(``audits.model.declarations``): the probes are built from those declarations (paths quoted, read-only,
credential-free: marker files, ``find`` listings, a listing file the backup job writes, cron and
systemd timers). Ages are UTC against the run's start (``checks.facts.age_hours``); a future or unreadable
time is an error. A host none of whose systems declares a backup fails ``backup.last_success``:
no declared backup is no backup, the 高风险 trigger 数据备份措施缺失.
"""
from __future__ import annotations

import re
import shlex

from audits.model.probes import Probe
from checks import parsers
from checks.contract import Outcome, Status, declared_probes, evaluator
from checks.probe_catalogue import named
from checks.facts import PS, age_hours, evidence_lines, gathered, run_start
from checks.parsers.listings import ListingError, find_entries, marker_time, newest_in_listing, utc_offset
from checks.parsers.times import CLOCK_SKEW, human, stamp

TZ = named("tz")
CRON = named("cron")
TIMERS = named("timers")


# ---------------------------------------------------------------------------------------------
# Probes built from the declarations (every declared path was checked to hold no shell syntax).
def _listing_probe(path: str) -> Probe:
    return Probe("command", f"find {shlex.quote(path)} -maxdepth 2 -printf '%T@/%m/%u/%y/' -print0", True)


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


@declared_probes("backup.last_success")
def fresh_probes(host) -> list[Probe]:
    """the declared marker (stat + content), listing file and a find listing of each local target, under sudo"""
    out = [TZ]
    for p in _holders(host):
        out += _evidence_probes(p.marker, p.listing)
        out += [_listing_probe(t.path) for t in p.targets if t.path and not t.offsite]
    return out


@declared_probes("backup.offsite_copy")
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


@declared_probes("backup.not_world_readable")
def mode_probes(host) -> list[Probe]:
    """find PATH -maxdepth 2 -printf '%T@/%m/%u/%y/' -print0 for each declared target path, under sudo"""
    return [_listing_probe(t.path) for p in _holders(host) for t in p.targets if t.path]


@declared_probes("backup.restore_tested")
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
    start = run_start(facts)
    when, how = marker_time(body.stdout, (parsers.stat(st.stdout) or {}).get("mtime", ""), tz,
                            start + CLOCK_SKEW if start else None)
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
@evaluator("backup.last_success")
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


@evaluator("backup.job_scheduled")
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


@evaluator("backup.offsite_copy")
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


# Real-time replication (level 3, 8.1.4.9 b "实时"): what a host shows of continuous copying.
WALSENDER = named("walsender")
DRBD_STATUS = named("drbd_status")
_DRBD_THREAD = re.compile(r"^drbd_[rsaw]_\S+$")


@evaluator("backup.realtime_replication")
def realtime_replication(facts, host, params):
    holders = _holders(host)
    if not holders:
        none = _no_policy(host)
        if none.status is Status.FAIL:
            none.severity = "medium"
        return none
    if not any(p.offsite for p in holders):
        return Outcome.not_applicable("所属系统声明不需要异地备份（由 backup.offsite_copy 判定）",
                                      "its systems declare no off-site copy (judged by backup.offsite_copy)")
    if params["scheduled_copy_counts_at_level3"]:
        return Outcome.not_applicable("本计划接受三级系统的定时异地备份（参数 scheduled_copy_counts_at_level3）",
                                      "this plan accepts scheduled off-site copies at level 3 "
                                      "(parameter scheduled_copy_counts_at_level3)")
    found, seen = [], []
    ps, perr = gathered(facts, PS, missing=None)
    if perr is None:
        comms = {ln.strip() for ln in ps.splitlines() if ln.strip()}
        found += [f"process {n}" for n in params["replication_processes"] if str(n)[:15] in comms]
        found += [f"DRBD kernel thread {c}" for c in sorted(comms) if _DRBD_THREAD.match(c)][:3]
    else:
        seen.append(f"ps: {perr.message.en}")
    wal = facts.get(WALSENDER)
    if wal.ok:
        found += [f"PostgreSQL {ln.strip()[:120]}" for ln in wal.stdout.splitlines() if "streaming" in ln][:5]
    drbd = facts.get(DRBD_STATUS)
    if drbd.ok:
        text = drbd.stdout
        if re.search(r"replication:Established|cs:Connected", text) and re.search(r"peer-disk:UpToDate|ds:UpToDate/UpToDate", text):
            found.append("drbdadm status: " + " ".join(text.split())[:160])
        else:
            seen.append("drbdadm status: " + (" ".join(text.split())[:160] or "(empty)"))
    if found:
        return Outcome.passed("发现实时复制：" + "；".join(found[:3]), "real-time replication found: " + "; ".join(found[:3]),
                              evidence_lines(found + seen))
    decl = getattr(host, "facts", None)
    declared = decl.get("realtime_replication") if isinstance(decl, dict) else None
    ev = evidence_lines(seen + ["no process among: " + ", ".join(params["replication_processes"]),
                                "no DRBD connection, no PostgreSQL walsender streaming"])
    if declared:
        return Outcome.manual(f"主机上未见实时复制；清单声明由 {str(declared)[:100]} 实时复制到备份场地，需人工证明",
                              f"no real-time replication seen on the host; the inventory declares {str(declared)[:100]}, "
                              "which needs an attestation", ev)
    return Outcome.failed("三级系统要求实时异地备份，主机上只见定时副本或没有副本（无数据库流复制、DRBD、lsyncd 等实时复制）",
                          "level 3 requires a real-time off-site copy; the host shows scheduled copies at most (no database "
                          "streaming replication, DRBD, lsyncd or other continuous replication)", ev)


@evaluator("backup.not_world_readable")
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


@evaluator("backup.restore_tested")
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
