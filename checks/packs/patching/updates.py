"""Patching pack, pending updates: GB/T 22239-2019 8.1.4.4 e (level 3) / 7.1.4.4 e (level 2) —
known vulnerabilities found and patched in time.

``patching.security_updates`` (moved here from the MLPS pack; it still cites 8.1.4.4 e, so MLPS
scoring counts it) computes pending security updates on the auditor's side from the host's own
package caches, never refreshing them; ``patching.package_lists_age`` fails a host whose caches are
too old to know. Both are read-only.
"""
from __future__ import annotations

import re
from fnmatch import fnmatchcase

from audits.model.probes import Probe
from checks import parsers
from checks.ages import age_hours, human, stamp, parse_when
from checks.contract import Outcome, check
from checks.packs.mlps._shared import evidence_lines
from checks.packs.mlps.intrusion import DPKG_VERSIONS, _family, _state, _why

# Pending Debian-family security updates are computed on the auditor's side (apt-get -s costs about
# 1-2.5 s of CPU per host; these probes cost about 30 ms): the installed versions (DPKG_VERSIONS,
# shared with the MLPS pack's installed-package checks), and the versions that the host's own
# *security* package lists offer for the installed packages (joined on the host, so the output
# stays small whatever the size of the lists).
APT_SECURITY_VERSIONS = Probe("command", (
    "dpkg-query -W -f='${Package}\\n' | awk 'FNR==NR{i[$1];next} /^@list /{print;next} "
    "/^Package: /{p=$2} /^Version: /&&(p in i){print p, $2}' - <(for f in /var/lib/apt/lists/*security*_Packages*; "
    "do case $f in *diff_Index*|*.IndexDiff) continue;; esac; [ -e \"$f\" ] || continue; echo \"@list ${f##*/}\"; "
    "/usr/lib/apt/apt-helper cat-file \"$f\"; done)"))
APT_LISTS = Probe("command", "ls -1 /var/lib/apt/lists")
DNF_SEC = Probe("command", "dnf -q -C updateinfo list --security", True)
YUM_SEC = Probe("command", "yum -q -C updateinfo list security", True)
RPM_VERSIONS = Probe("command", "rpm -qa --qf '%{NAME}.%{ARCH} %{VERSION}-%{RELEASE}\\n'")
# Release files of apt and the repository metadata of dnf/yum: their mtimes say when the lists were
# last refreshed (apt-get update / dnf makecache). Both families in one cheap find.
LIST_STAMPS = Probe("command", "find /var/lib/apt/lists /var/lib/apt/periodic /var/cache/dnf /var/cache/yum -maxdepth 4 "
                    "\\( -name '*Release' -o -name 'update-success-stamp' -o -name 'repomd.xml' \\) -printf '%T@ %p\\n' "
                    "| head -n 400")
# Packages that listen on the network or terminate its protocols: their pending updates raise the severity.
NETWORK_FACING = ["openssh-server", "openssh", "openssh-client", "openssl", "openssl-libs", "libssl*", "nginx*", "apache2*",
                  "httpd*", "php*", "mysql-server*", "mariadb-server*", "postgresql*", "redis*", "bind9*", "bind",
                  "samba*", "vsftpd", "proftpd*", "exim4*", "postfix*", "dovecot*", "squid*", "tomcat*", "haproxy",
                  "libcurl*", "curl", "gnutls*", "libgnutls*", "nss", "libnss3", "sudo"]

# ---------------------------------------------------------------------------------------------
def _nevra(s: str) -> tuple[str, str]:
    """'openssl-libs-1:3.0.7-27.el9.x86_64' → ('openssl-libs.x86_64', '1:3.0.7-27.el9')."""
    base, _, arch = s.rpartition(".")
    name_ver, _, release = base.rpartition("-")
    name, _, version = name_ver.rpartition("-")
    return f"{name}.{arch}", f"{version}-{release}"


@check(
    id="patching.security_updates",
    title={"zh": "无待安装的安全更新", "en": "No security updates are pending"},
    severity="high",
    refs=["GB/T 22239-2019 8.1.4.4 e", "GB/T 22239-2019 7.1.4.4 e"],
    probes={"debian": [DPKG_VERSIONS, APT_SECURITY_VERSIONS, APT_LISTS], "rhel": [DNF_SEC, YUM_SEC, RPM_VERSIONS]},
    params={"max_pending": 0, "many_pending": 10, "network_facing": NETWORK_FACING},
    rationale={"zh": "应能发现已知漏洞并在充分测试评估后及时修补。只用本机已有的软件源缓存，不刷新：Debian/Ubuntu 读取已安装版本"
                     "（dpkg-query）和本机安全源列表（文件名含 security 的 *_Packages，如 bookworm-security、jammy-security）"
                     "为已安装软件包提供的版本，在审计端按 dpkg 版本规则比较，安全源版本更高即为待安装的安全更新（包含 apt "
                     "upgrade 会 “kept back” 的内核元包等；被 hold 的软件包同样计入）。这样主机端只需约 30 ms，而 apt-get -s "
                     "模拟升级需 1–2.5 s CPU。RHEL 系用 dnf -C updateinfo list --security（EL7 用 yum），需 sudo 才能读系统缓存。"
                     "没有软件源缓存或没有安全源时无法判断，报错误。等保未规定补丁时限，max_pending 默认 0；CentOS 7/Stream 等"
                     "不发布 updateinfo 的源会显示为 0，需另行确认。缓存陈旧时结果偏少，应保证 apt-get update / dnf makecache 定期执行。",
               "en": "Known vulnerabilities must be found and patched promptly after testing. Only the host's existing "
                     "package caches are used, never refreshed: on Debian/Ubuntu the installed versions (dpkg-query) and the "
                     "versions that the host's own security lists (*_Packages files whose name contains 'security', e.g. "
                     "bookworm-security, jammy-security) offer for installed packages are compared on the auditor's side "
                     "by dpkg's version rules; a higher security version is a pending security update (this includes kernel "
                     "metapackages that apt upgrade keeps back, and held packages). The host spends about 30 ms instead of "
                     "the 1-2.5 s of CPU of an apt-get -s simulation. The RHEL family uses dnf -C updateinfo list --security "
                     "(yum on EL7), under sudo to read the system cache. With no package lists or no security source the host "
                     "cannot tell, which is an error. MLPS sets no patch deadline; max_pending defaults to 0. Repositories "
                     "without updateinfo (CentOS 7, CentOS Stream) always show 0 and need confirming otherwise. A stale cache "
                     "under-reports: apt-get update / dnf makecache must run regularly."},
    remediation={"zh": "测试后安装安全更新：Debian/Ubuntu 执行 apt-get update && apt-get upgrade（或 unattended-upgrades）；"
                       "RHEL 系执行 dnf upgrade --security（或 dnf-automatic，upgrade_type = security）。",
                 "en": "After testing, install the security updates: apt-get update && apt-get upgrade (or "
                       "unattended-upgrades) on Debian/Ubuntu; dnf upgrade --security (or dnf-automatic with upgrade_type = "
                       "security) on the RHEL family."},
)
def security_updates(facts, host, params):
    fam = _family(facts, host)
    limit = int(params["max_pending"])
    if fam != "rhel":
        st, res = _state(facts, DPKG_VERSIONS)
        if st == "ok" or fam == "debian":
            if st != "ok":
                return Outcome.error(f"无法列出已安装软件包版本：{_why(res)}", f"cannot list installed package versions: "
                                     f"{_why(res)}", res.stderr[:300])
            lst, lres = _state(facts, APT_LISTS)
            names = lres.stdout.split() if lst == "ok" else []
            if lst == "ok" and not any("_Packages" in n for n in names):
                return Outcome.error("apt 没有软件包列表（从未执行 apt-get update），无法判断待安装的安全更新",
                                     "apt has no package lists (apt-get update never ran): cannot tell pending security updates",
                                     "/var/lib/apt/lists: " + (" ".join(names) or "(empty)"))
            sst, sres = _state(facts, APT_SECURITY_VERSIONS)
            if sst != "ok":
                return Outcome.error(f"无法读取安全源列表：{_why(sres)}", f"cannot read the security package lists: "
                                     f"{_why(sres)}", sres.stderr[:300])
            offered = parsers.list_versions(sres.stdout)
            if not offered.lists:
                return Outcome.error("未配置安全更新源（无 *-security 列表），无法判断待安装的安全更新",
                                     "no security repository is configured (no *-security lists): cannot tell pending "
                                     "security updates", evidence_lines(n for n in names if "_Packages" in n))
            installed = parsers.dpkg_versions(res.stdout)
            pending = [(name, have, offered.best[name]) for name, have in sorted(installed.items())
                       if name in offered.best and parsers.debian_version_newer(offered.best[name], have)]
            return _pending_outcome(pending, limit, params)
    st, res = _state(facts, DNF_SEC)
    tool = "dnf"
    if st == "missing":
        st, res = _state(facts, YUM_SEC)
        tool = "yum"
    if st != "ok":
        if st == "missing":
            return Outcome.error("主机上没有 apt、dnf 或 yum，无法判断安全更新", "no apt, dnf or yum on the host: cannot tell "
                                 "pending security updates")
        return Outcome.error(f"{tool} 无法列出安全更新（缓存缺失或无权限）：{_why(res)}",
                             f"{tool} cannot list security updates (no cache, or no permission): {_why(res)}",
                             res.stderr[:300])
    vst, vres = _state(facts, RPM_VERSIONS)
    installed: dict[str, str] = {}
    if vst == "ok":
        for ln in vres.stdout.splitlines():
            parts = ln.split()
            if len(parts) == 2:
                installed[parts[0]] = parts[1]
    pending = {}
    for ln in res.stdout.splitlines():
        m = re.match(r"^(\S+)\s+(\S+/Sec\.|security)\s+(\S+)", ln.strip())
        if not m:
            continue
        name, cand = _nevra(m.group(3))
        pending.setdefault(name, (cand, f"{m.group(1)} {m.group(2)}"))  # the first advisory of a package is shown
    rows = [(n, installed.get(n, "?"), f"{c} ({a})") for n, (c, a) in sorted(pending.items())]
    return _pending_outcome(rows, limit, params)


def _network_facing(name: str, globs) -> bool:
    base = name.rsplit(".", 1)[0] if re.search(r"\.(x86_64|aarch64|i686|noarch|ppc64le|s390x)$", name) else name
    return any(fnmatchcase(base, g) for g in globs)


def _pending_outcome(rows: list[tuple[str, str, str]], limit: int, params) -> Outcome:
    """rows: (package, installed, candidate). Severity: high when a network-facing package is among
    them or there are ``many_pending`` or more; medium otherwise."""
    n = len(rows)
    exposed = [r[0] for r in rows if _network_facing(r[0], params["network_facing"])]
    lines = [f"{p}: {have} → {cand}" + (" [network-facing]" if p in exposed else "") for p, have, cand in rows]
    lines.sort(key=lambda ln: not ln.endswith("[network-facing]"))
    if n > limit:
        sev = "high" if exposed or n >= int(params["many_pending"]) else "medium"
        zh_exp = f"，其中 {len(exposed)} 个是网络服务软件包（{', '.join(exposed[:5])}）" if exposed else ""
        en_exp = f", {len(exposed)} of them network-facing ({', '.join(exposed[:5])})" if exposed else ""
        out = Outcome.failed(f"有 {n} 个待安装的安全更新{zh_exp}（允许 {limit} 个）",
                             f"{n} security update(s) pending{en_exp} (allowed: {limit})", evidence_lines(lines, 30))
        out.severity = sev
        return out
    if n:
        return Outcome.passed(f"待安装的安全更新 {n} 个，未超过 {limit} 个", f"{n} security update(s) pending, within {limit}",
                              evidence_lines(lines, 30))
    return Outcome.passed("没有待安装的安全更新", "no security updates pending")


@check(
    id="patching.package_lists_age",
    title={"zh": "软件包列表定期刷新（不超过 7 天）", "en": "The package lists are refreshed regularly (at most 7 days old)"},
    severity="medium",
    refs=["GB/T 22239-2019 8.1.4.4 e", "GB/T 22239-2019 7.1.4.4 e"],
    probes=[LIST_STAMPS],
    params={"max_list_age_days": 7},
    rationale={"zh": "从不刷新软件源的主机无法知道自己缺少补丁：待安装安全更新的判断依赖本机的软件包列表。本项读取 apt 的 *Release 文件、"
                     "update-success-stamp 以及 dnf/yum 的 repomd.xml 的修改时间（UTC），取最新者，与本次审计开始时间比较。"
                     "时间晚于审计开始（时钟错误）或无法识别时为错误，不判为通过。",
               "en": "A host that never refreshes its package lists cannot know it is unpatched: the pending-update check "
                     "relies on them. The newest modification time (UTC) of apt's *Release files and update-success-stamp "
                     "and dnf/yum's repomd.xml is compared with the run's start. A time after the run started (a wrong "
                     "clock) or an unreadable one is an error, never a pass."},
    remediation={"zh": "定期执行 apt-get update 或 dnf makecache（如启用 apt-daily.timer、unattended-upgrades 或 dnf-makecache.timer）；"
                       "无法访问互联网的主机应配置校内镜像源。",
                 "en": "Refresh the lists regularly with apt-get update or dnf makecache (apt-daily.timer, unattended-upgrades "
                       "or dnf-makecache.timer); hosts without Internet access should use a campus mirror."},
)
def package_lists_age(facts, host, params):
    res = facts.get(LIST_STAMPS)
    if res.error:
        return Outcome.error(f"无法采集软件包列表时间：{res.error}", f"could not gather the package list times: {res.error}")
    stamps = []
    for ln in res.stdout.splitlines():
        when, _, path = ln.partition(" ")
        if path:
            stamps.append((when, path))
    if not stamps:
        return Outcome.failed("没有软件包列表（从未执行 apt-get update / dnf makecache）",
                              "there are no package lists (apt-get update / dnf makecache never ran)",
                              "no *Release, update-success-stamp or repomd.xml under /var/lib/apt, /var/cache/dnf, /var/cache/yum")
    parsed = [(parse_when(w), w, p) for w, p in stamps]
    bad = [(w, p) for t, w, p in parsed if t is None]
    if bad:
        return Outcome.error("软件包列表的时间无法识别", "a package list time cannot be read",
                             evidence_lines(f"{p}: {w[:40]!r}" for w, p in bad))
    newest, raw, path = max(parsed, key=lambda x: x[0])
    hours, err = age_hours(facts, newest, path)
    if err:
        return err
    limit = float(params["max_list_age_days"])
    ev = f"newest: {path} modified {stamp(newest)} ({human(hours)} before the run started)"
    if hours > limit * 24:
        return Outcome.failed(f"软件包列表已 {human(hours)} 未刷新（允许 {limit:g} 天）",
                              f"the package lists were last refreshed {human(hours)} ago (allowed: {limit:g} days)", ev)
    return Outcome.passed(f"软件包列表 {human(hours)} 前刷新过", f"the package lists were refreshed {human(hours)} ago", ev)
