"""Patching pack, known vulnerabilities: GB/T 22239-2019 8.1.4.4 e / 7.1.4.4 e — CVE ids, fixed versions and
severities of the host's installed packages, from ``facts.meta["vulns"]`` (matched on the auditor by
``audits.patchdata.vulnenrich`` against the imported feeds; this module only judges that document).
"""
from __future__ import annotations

import datetime as dt
from fnmatch import fnmatchcase

from checks.contract import Outcome, evaluator
from checks.facts import evidence_lines, run_start

STATE_TEXT = {"fixable": ("可修复", "fix available"), "not_released": ("修复尚未发布到本发行版", "fix not released to this host"),
              "eol": ("发行版已停止支持，修复不会发布", "release end of life: the fix never reaches it"),
              "unfixed": ("尚无修复", "no fix available"), "no_support": ("该软件包已无安全支持", "package without security support")}


def _exposed(f: dict, globs) -> bool:
    return any(fnmatchcase(n, g) for n in [f["pkg"], *f.get("binaries", [])] for g in globs)


def _age_days(facts, as_of: str) -> float | None:
    try:
        when = dt.datetime.fromisoformat(as_of.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        return None
    start = run_start(facts)
    if start is None:
        return None
    return (start - when).total_seconds() / 86400


def _line(f: dict, exposed: bool) -> str:
    zh, en = STATE_TEXT.get(f["state"], (f["state"], f["state"]))
    bins = [b for b in f.get("binaries", []) if b != f["pkg"]]
    fixed = f" → {f['fixed_version']}" if f.get("fixed_version") else ""
    extra = "".join(f" {x}" for x in (f.get("advisories", "").replace(",", " "), f.get("note", "")) if x)
    return (f"{f['vuln_id']} {f['pkg']}" + (f" ({', '.join(bins[:4])})" if bins else "") +
            f" {f['installed']}{fixed} [{f['severity']}] {en}{extra}" + (" [network-facing]" if exposed else ""))


@evaluator("patching.known_vulnerabilities")
def known_vulnerabilities(facts, host, params):
    v = facts.meta.get("vulns")
    errs = [e for e in facts.meta.get("enrich_errors", []) if e.startswith("enrich_vulns")]
    if errs:
        return Outcome.error("漏洞数据比对失败", "matching with the vulnerability data failed", errs[0][:500])
    if not isinstance(v, dict) or v.get("no_database"):
        return Outcome.not_applicable("CVE 数据不可用：本次审计没有漏洞数据库（auditctl vulndb import）；待安装的安全更新见 "
                                      "patching.security_updates",
                                      "CVE data was not available: no vulnerability database in this run (auditctl "
                                      "vulndb import); pending security updates are judged by patching.security_updates",
                                      str(v.get("reason", ""))[:300] if isinstance(v, dict) else "")
    if v.get("error"):
        return Outcome.error("无法比对漏洞数据（漏洞数据库不可读或无法列出已安装软件包）", "cannot match the vulnerability "
                             "data (the database cannot be read, or the installed packages cannot be listed)",
                             str(v["error"])[:300])
    label = v.get("label") or v.get("release") or "?"
    if not v.get("available"):
        reason = str(v.get("reason", ""))[:300]
        return Outcome.not_applicable(f"CVE 数据不可用：没有覆盖 {label} 的漏洞数据；待安装的安全更新见 patching.security_updates",
                                      f"CVE data was not available: no vulnerability feed covers {label}; pending security "
                                      f"updates are judged by patching.security_updates", reason)
    as_of = str(v.get("as_of", ""))
    src = f"{v.get('source')} {v.get('feed_release')}" + (" (borrowed: the host is a rebuild)" if v.get("borrowed") else "")
    age = _age_days(facts, as_of)
    limit = float(params["max_feed_age_days"])
    stale_zh = f"；数据已 {age:.0f} 天未更新（允许 {limit:g} 天）" if age is not None and age > limit else ""
    stale_en = f"; the data is {age:.0f} days old (allowed: {limit:g})" if age is not None and age > limit else ""
    dated_zh, dated_en = f"（{src}，截至 {as_of}{stale_zh}）", f" ({src}, as of {as_of}{stale_en})"
    findings = v.get("findings") or []
    globs = params["network_facing"]
    lines = [_line(f, _exposed(f, globs)) for f in findings]
    head = [f"source: {src}; as of {as_of}; {v.get('packages', 0)} packages; release {label}"]
    notes = v.get("notes") or {}
    if any(notes.values()):
        head.append("notes: " + ", ".join(f"{k} {n}" for k, n in sorted(notes.items()) if n))
    fixable = [f for f in findings if f["state"] == "fixable"]
    others = len(findings) - len(fixable)
    ev = evidence_lines(head + lines, 60)
    if fixable:
        urgent = [f for f in fixable if f["severity"] in ("high", "critical") and _exposed(f, globs)]
        cves = sorted({f["vuln_id"] for f in fixable})
        if urgent:
            pk = sorted({f["pkg"] for f in urgent})
            out = Outcome.failed(f"存在可被利用的高危漏洞：网络服务软件包 {', '.join(pk[:5])} 有 {len(urgent)} 个已有修复的高危/严重 CVE"
                                 f"（{', '.join(sorted({f['vuln_id'] for f in urgent})[:5])}）；共 {len(cves)} 个 CVE 可修复{dated_zh}",
                                 f"exploitable high-risk vulnerability: {len(urgent)} high/critical CVE(s) with a fix on "
                                 f"network-facing package(s) {', '.join(pk[:5])} "
                                 f"({', '.join(sorted({f['vuln_id'] for f in urgent})[:5])}); {len(cves)} CVE(s) fixable in "
                                 f"all{dated_en}", ev)
            out.severity = "high"
            return out
        return Outcome.failed(f"{len(cves)} 个已知漏洞已有修复但未安装（{', '.join(cves[:5])}）{dated_zh}",
                              f"{len(cves)} known vulnerabilit{'y' if len(cves) == 1 else 'ies'} with a fix not installed "
                              f"({', '.join(cves[:5])}){dated_en}", ev)
    if others:
        return Outcome.passed(f"没有可修复的已知漏洞；{others} 个 CVE 尚无可安装的修复（已列出）{dated_zh}",
                              f"no known vulnerability with an installable fix; {others} CVE(s) without a fix available "
                              f"to this host are listed{dated_en}", ev)
    return Outcome.passed(f"已安装的软件包没有已知漏洞{dated_zh}", f"no known vulnerabilities in the installed packages{dated_en}",
                          ev)
