"""Patching pack, pending updates: GB/T 22239-2019 8.1.4.4 e (level 3) / 7.1.4.4 e (level 2) —
known vulnerabilities found and patched in time.

``patching.security_updates`` (moved here from the MLPS pack; it still cites 8.1.4.4 e, so MLPS
scoring counts it) computes pending security updates on the auditor's side: on Debian/Ubuntu against
the auditor's own index of the security suite (``facts.meta["patch_index"]``, put there by
``audits.patchdata.provider`` before the checks run), else from the host's own package lists, never
refreshing them; every result names its basis and "as of" date. ``patching.package_lists_age`` fails
a host whose lists are too old (its apt upgrade would install nothing). Both are read-only.
"""
from __future__ import annotations

import fnmatch
import re
import threading
from collections import Counter
from functools import lru_cache

from checks import parsers
from checks.contract import Outcome, evaluator
from checks.probe_catalogue import named
from checks.facts import DPKG_VERSIONS, age_hours, evidence_lines, os_family, probe_failure, probe_state
from checks.parsers.times import human, parse_when, stamp

# Pending Debian-family security updates are computed on the auditor's side (apt-get -s costs about
# 1-2.5 s of CPU per host; these probes cost about 30 ms): the installed versions (DPKG_VERSIONS,
# shared with the MLPS pack's installed-package checks), and the versions that the host's own
# *security* package lists offer for the installed packages (joined on the host, so the output
# stays small whatever the size of the lists).
APT_SECURITY_VERSIONS = named("apt_security_versions")
APT_LISTS = named("apt_lists")
DNF_SEC = named("dnf_sec")
YUM_SEC = named("yum_sec")
RPM_VERSIONS = named("rpm_versions")
# Release files of apt and the repository metadata of dnf/yum: their mtimes say when the lists were
# last refreshed (apt-get update / dnf makecache). Both families in one cheap find.
LIST_STAMPS = named("list_stamps")
# The auditor's index of security fixes (audits/patchdata) needs the architecture of each installed
# package and the host's APT sources; the enricher puts what the index offers into facts.meta["patch_index"].
DPKG_PACKAGES = named("dpkg_packages")
APT_SOURCES = named("apt_sources")
RPM_PACKAGES = named("rpm_packages")
YUM_REPOS = named("yum_repos")

# ---------------------------------------------------------------------------------------------
def _nevra(s: str) -> tuple[str, str]:
    """'openssl-libs-1:3.0.7-27.el9.x86_64' → ('openssl-libs.x86_64', '1:3.0.7-27.el9')."""
    base, _, arch = s.rpartition(".")
    name_ver, _, release = base.rpartition("-")
    name, _, version = name_ver.rpartition("-")
    return f"{name}.{arch}", f"{version}-{release}"


@evaluator("patching.security_updates")
def security_updates(facts, host, params):
    fam = os_family(facts, host)
    limit = int(params["max_pending"])
    if fam != "rhel":
        st, res = probe_state(facts, DPKG_VERSIONS)
        if st == "ok" or fam == "debian":
            if st != "ok":
                return Outcome.error(f"无法列出已安装软件包版本：{probe_failure(res)}", f"cannot list installed package versions: "
                                     f"{probe_failure(res)}", res.stderr[:300])
            index = facts.meta.get("patch_index") or {}
            if index.get("basis") == "index":
                return _judge_on_index(facts, index, res.stdout, limit, params)
            return _judge_on_host_lists(facts, res.stdout, limit, params, index)
    index = facts.meta.get("patch_index") or {}
    if index.get("no_errata"):  # CentOS 7 / Stream: no security errata exist; never "nothing pending"
        return Outcome.error(str(index["no_errata"].get("zh", "")), str(index["no_errata"].get("en", "")),
                             "the repositories of this release publish no updateinfo.xml")
    if index.get("basis") == "index" and index.get("family") == "rpm":
        return _judge_rpm_on_index(facts, index, limit, params)
    st, res = probe_state(facts, DNF_SEC)
    tool = "dnf"
    if st == "missing":
        st, res = probe_state(facts, YUM_SEC)
        tool = "yum"
    if st != "ok":
        if st == "missing":
            return Outcome.error("主机上没有 apt、dnf 或 yum，无法判断安全更新", "no apt, dnf or yum on the host: cannot tell "
                                 "pending security updates")
        return Outcome.error(f"{tool} 无法列出安全更新（缓存缺失或无权限）：{probe_failure(res)}",
                             f"{tool} cannot list security updates (no cache, or no permission): {probe_failure(res)}",
                             res.stderr[:300])
    vst, vres = probe_state(facts, RPM_VERSIONS)
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
    why = _index_unavailable(facts, index)
    return _pending_outcome(facts, rows, limit, params, (
        f"依据主机自身的 {tool} 缓存（审计端索引不可用）", f"judged on the host's own {tool} cache (the auditor's index was "
        "unavailable)", f"basis: {tool} -C updateinfo on the host's cache; auditor's index: {why}"))


def _judge_rpm_on_index(facts, index: dict, limit: int, params) -> Outcome:
    """RHEL family: installed name.arch whose EPOCH:VERSION-RELEASE sorts below a security erratum's."""
    offered = index.get("offered") or {}
    st, res = probe_state(facts, RPM_PACKAGES)
    if st != "ok":
        return Outcome.error(f"无法列出已安装软件包版本：{probe_failure(res)}", f"cannot list installed package versions: "
                             f"{probe_failure(res)}", res.stderr[:300])
    newest: dict[tuple[str, str], str] = {}  # install-only packages (kernel) appear once per installed version
    for ln in res.stdout.splitlines():
        parts = ln.split()
        if len(parts) == 3 and ((parts[0], parts[1]) not in newest
                                or parsers.rpm_version_newer(parts[2], newest[(parts[0], parts[1])])):
            newest[(parts[0], parts[1])] = parts[2]
    pending = []
    for (name, arch), have in sorted(newest.items()):
        offer = offered.get(f"{name}:{arch}")
        if isinstance(offer, (list, tuple)) and offer and parsers.rpm_version_newer(str(offer[0]), have):
            adv = " ".join(str(x) for x in offer[1:3] if x)
            pending.append((f"{name}.{arch}", have, str(offer[0]) + (f" ({adv})" if adv else "")))
    zh, en, ev = _index_basis(index)
    return _pending_outcome(facts, pending, limit, params, (zh, en, ev))


def _index_unavailable(facts, index: dict) -> str:
    """Why the auditor's index did not judge this host: its own error, the enricher's failure, or none consulted."""
    crashed = [e for e in facts.meta.get("enrich_errors", []) if e.startswith("enrich_patch_index")]
    return str(index.get("error") or (crashed and crashed[0]) or "no index was consulted")[:300]


def _index_basis(index: dict) -> tuple[str, str, str]:
    """(zh, en, evidence line) naming the auditor's index and its date."""
    suite = index.get("suite") or {}
    name = f"{suite.get('dist', '?')} {suite.get('suite', '?')}"
    as_of = str(index.get("as_of") or "?")
    zh, en = f"依据审计端安全更新索引 {name}，截至 {as_of}", f"judged against the auditor's index {name} as of {as_of}"
    if index.get("stale"):
        zh += f"；索引已 {float(index.get('age_days', 0)):.0f} 天未更新（上限 {float(index.get('max_age_days', 7)):g} 天），结果可能偏少，需审计方刷新"
        en += (f"; the index is {float(index.get('age_days', 0)):.0f} days old (limit {float(index.get('max_age_days', 7)):g}): "
               "results may under-report until the auditor refreshes it")
    ev = (f"basis: auditor's index {name} from {suite.get('source', '?')} ({suite.get('via', '?')}), Release dated "
          f"{suite.get('release_date', '?')}, as of {as_of}; {suite.get('signature', 'signature not recorded')}; "
          f"{index.get('fetch', '')}")
    return zh, en, ev


def _judge_on_index(facts, index: dict, dpkg_text: str, limit: int, params) -> Outcome:
    """Pending updates: installed (package, arch) whose version sorts below what the index offers."""
    offered = index.get("offered") or {}
    st, res = probe_state(facts, DPKG_PACKAGES)
    installed: list[tuple[str, str, str]] = []
    if st == "ok":
        for ln in res.stdout.splitlines():
            parts = ln.split()
            if len(parts) >= 4 and len(parts[3]) >= 2 and parts[3][1] == "i":
                installed.append((parts[0].split(":")[0], parts[1], parts[2]))
    else:  # architectures unknown: any offer under the package name
        by_name = {k.rsplit(":", 1)[0]: k.rsplit(":", 1)[1] for k in offered}
        installed = [(n, by_name.get(n, "?"), v) for n, v in parsers.dpkg_versions(dpkg_text).items()]
    pending = []
    archs_of = Counter(n for n, _, _ in installed)
    for name, arch, have in sorted(installed):
        offer = offered.get(f"{name}:{arch}")
        if not isinstance(offer, (list, tuple)) or not offer:
            continue
        fixed, source = str(offer[0]), str(offer[1]) if len(offer) > 1 else name
        if parsers.debian_version_newer(fixed, have):
            label = name if arch in ("all", "?") or archs_of[name] == 1 else f"{name}:{arch}"
            pending.append((label, have, fixed + (f" (source {source})" if source and source != name else "")))
    zh, en, ev = _index_basis(index)
    return _pending_outcome(facts, pending, limit, params, (zh, en, ev))


def _judge_on_host_lists(facts, dpkg_text: str, limit: int, params, index: dict) -> Outcome:
    """The fallback: the versions the host's own security lists offer (as of their newest Release file)."""
    why = _index_unavailable(facts, index)
    lst, lres = probe_state(facts, APT_LISTS)
    names = lres.stdout.split() if lst == "ok" else []
    if lst == "ok" and not any("_Packages" in n for n in names):
        return Outcome.error("审计端索引不可用，且 apt 没有软件包列表（从未执行 apt-get update），无法判断待安装的安全更新",
                             "the auditor's index is unavailable and apt has no package lists (apt-get update never "
                             "ran): cannot tell pending security updates",
                             f"auditor's index: {why}\n/var/lib/apt/lists: " + (" ".join(names) or "(empty)"))
    sst, sres = probe_state(facts, APT_SECURITY_VERSIONS)
    if sst != "ok":
        return Outcome.error(f"审计端索引不可用，且无法读取安全源列表：{probe_failure(sres)}",
                             f"the auditor's index is unavailable and the security package lists cannot be read: "
                             f"{probe_failure(sres)}", f"auditor's index: {why}\n" + sres.stderr[:300])
    offered = parsers.list_versions(sres.stdout)
    if not offered.lists:
        return Outcome.error("审计端索引不可用，且未配置安全更新源（无 *-security 列表），无法判断待安装的安全更新",
                             "the auditor's index is unavailable and no security repository is configured (no "
                             "*-security lists): cannot tell pending security updates",
                             f"auditor's index: {why}\n" + evidence_lines(n for n in names if "_Packages" in n))
    installed = parsers.dpkg_versions(dpkg_text)
    pending = [(name, have, offered.best[name]) for name, have in sorted(installed.items())
               if name in offered.best and parsers.debian_version_newer(offered.best[name], have)]
    as_of = _security_lists_date(facts)
    zh = f"依据主机自身的软件包列表（截至 {as_of}；审计端索引不可用）"
    en = f"judged on the host's own package lists (as of {as_of}; the auditor's index was unavailable)"
    ev = f"basis: host's own lists {', '.join(offered.lists[:4])} as of {as_of}; auditor's index: {why}"
    return _pending_outcome(facts, pending, limit, params, (zh, en, ev))


def _security_lists_date(facts) -> str:
    """When the host last refreshed its security lists: the newest mtime of a *security*Release file."""
    res = facts.get(LIST_STAMPS)
    newest = None
    for ln in res.stdout.splitlines() if not res.error else []:
        when, _, path = ln.partition(" ")
        t = parse_when(when) if "security" in path and path.endswith("Release") else None
        if t is not None and (newest is None or t > newest):
            newest = t
    return stamp(newest) if newest else "an unknown date"


_ARCH = re.compile(r"\.(x86_64|aarch64|i686|noarch|ppc64le|s390x)$")


_GLOBS_LOCK = threading.Lock()


def _globs(globs: tuple[str, ...]) -> re.Pattern:
    """The package globs as one pattern (fnmatchcase's rules: case-sensitive, whole name), compiled once
    (under a lock: the hosts' threads ask together, and compiling takes ~15 ms)."""
    with _GLOBS_LOCK:
        return _compiled_globs(globs)


@lru_cache(maxsize=16)
def _compiled_globs(globs: tuple[str, ...]) -> re.Pattern:
    return re.compile("|".join(f"(?:{fnmatch.translate(g)})" for g in globs) or "(?!)")


def _network_facing(name: str, globs) -> bool:
    base = name.rsplit(".", 1)[0] if _ARCH.search(name) else name
    return _globs(tuple(globs)).match(base) is not None


def _pending_outcome(facts, rows: list[tuple[str, str, str]], limit: int, params, basis=None) -> Outcome:
    """rows: (package, installed, candidate). Severity: high when a network-facing package is among
    them or there are ``many_pending`` or more; medium otherwise. ``basis`` (zh, en, evidence line):
    what the rows were judged against and as of when, added to the message and the evidence. Pending
    fixes without a vulnerability feed (``facts.meta["vulns"]``, patching.known_vulnerabilities) say
    that their CVE ids were not available."""
    out = _pending_core(rows, limit, params)
    if rows and not (facts.meta.get("vulns") or {}).get("available"):
        out.message = type(out.message)(f"{out.message.zh}；CVE 数据不可用（未导入漏洞库，见 auditctl vulndb import）",
                                        f"{out.message.en}; CVE data was not available (no vulnerability feed imported: "
                                        "auditctl vulndb import)")
    if basis:
        zh, en, ev = basis
        out.message = type(out.message)(f"{out.message.zh}（{zh}）", f"{out.message.en} ({en})")
        out.evidence = ev + ("\n" + out.evidence if out.evidence else "")
    return out


def _pending_core(rows: list[tuple[str, str, str]], limit: int, params) -> Outcome:
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


@evaluator("patching.package_lists_age")
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
    if (facts.meta.get("patch_index") or {}).get("basis") == "index":
        ev += ("\npending security updates were judged against the auditor's index, not these lists; stale lists "
               "still keep apt upgrade on this host from installing them")
    if hours > limit * 24:
        return Outcome.failed(f"软件包列表已 {human(hours)} 未刷新（允许 {limit:g} 天）",
                              f"the package lists were last refreshed {human(hours)} ago (allowed: {limit:g} days)", ev)
    return Outcome.passed(f"软件包列表 {human(hours)} 前刷新过", f"the package lists were refreshed {human(hours)} ago", ev)
