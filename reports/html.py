"""The first HTML school report: one self-contained page per school, rendered with Jinja2 from
``templates/`` with autoescaping on, from the run document (nothing is fetched from the network).
"""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from audits.atomicfile import atomic_write

from checks.controls import framework

from .document import SEVERITY_ORDER, summarise
from .scoring import item_breakdown, item_table, score_hosts, system_scores, top_fixes

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"

LABELS = {
    "zh": {"title": "网络安全合规审计报告", "run": "审计批次", "hosts": "主机", "audited": "已审计", "unreachable": "无法连接",
           "pass": "符合", "fail": "不符合", "error": "错误", "not_applicable": "不适用", "manual": "人工确认",
           "waived": "已豁免", "severity": "严重程度", "check": "检查项", "status": "结果", "refs": "标准条款",
           "evidence": "证据", "remediation": "整改建议", "reason": "原因", "level": "等保级别", "address": "地址",
           "findings": "问题项", "critical": "严重", "high": "高", "medium": "中", "low": "低", "info": "提示",
           "self_assessment": "本报告为自查结果，不是等级测评机构出具的测评结论。", "started": "开始时间",
           "school": "学校", "district": "区县", "none": "无", "unreachable_hosts": "无法连接的主机",
           "summary": "概况", "os": "操作系统", "message": "说明", "completed": "已完成", "incomplete": "未全部完成",
           "interrupted": "已中断", "running": "进行中", "waiver": "豁免", "attestation": "证明",
           "approver": "审批人", "expires": "有效期至", "expired": "已过期", "by": "证明人", "underlying": "实际结果",
           "exceptions": "豁免与证明", "answered": "以下结果由豁免或证明文件回答；实际检查结果保留在“实际结果”中。",
           "score": "等保合规得分", "rate": "符合率", "verdict": "自评结论", "compliant": "符合",
           "basically_compliant": "基本符合", "noncompliant": "不符合", "not_scored": "未评分",
           "high_risk": "高风险候选", "points": "控制点得分（10 分制）", "fixes": "优先整改（提升得分最多的项）",
           "gain": "得分提升", "removes_high_risk": "消除高风险", "method": "评分方法：docs/scoring.md（2025 版报告模板的符合率与结论规则，自评，不是测评结论）",
           "rule": "判定依据", "since": "较上次", "first_run": "首次审计",
           "families": "按等保控制点", "item": "测评项", "weight": "权重", "conform": "符合", "partial": "部分符合",
           "nonconform": "不符合", "not_assessed": "未测", "failing_checks": "不符合的检查项",
           "systems": "按系统", "system": "系统", "no_system": "未归属系统的主机", "hosts_of": "台主机",
           "awaiting": "待取证", "to_attest": "需提供的证明",
           "awaiting_note": "以下测评项没有检查结果或证明，按 0 分计入符合率，补充证明或修复检查后重新审计。",
           "attested": "由证明文件回答的权重占比",
           "devices": "网络设备", "device": "设备", "platform": "平台", "source": "取证方式",
           "boundary": "安全通信网络 / 安全区域边界（不计分）", "failed_checks": "不符合项",
           "devices_note": "网络设备按其配置判定（安全计算环境计入所属系统得分；安全通信网络与安全区域边界的结果仅列出，不计分）。"},
    "en": {"title": "Network security compliance audit", "run": "Run", "hosts": "Hosts", "audited": "audited",
           "unreachable": "unreachable", "pass": "pass", "fail": "fail", "error": "error",
           "not_applicable": "not applicable", "manual": "manual", "waived": "waived", "severity": "Severity",
           "check": "Check", "status": "Result", "refs": "Clauses", "evidence": "Evidence",
           "remediation": "Remediation", "reason": "Reason", "level": "MLPS level", "address": "Address",
           "findings": "Findings", "critical": "critical", "high": "high", "medium": "medium", "low": "low",
           "info": "info", "self_assessment": "This is a self-assessment, not a conclusion issued by a licensed MLPS "
           "assessment body.", "started": "Started", "school": "School", "district": "District", "none": "none",
           "unreachable_hosts": "Unreachable hosts", "summary": "Summary", "os": "OS", "message": "Details",
           "waiver": "Waiver", "attestation": "Attestation", "approver": "approved by", "expires": "expires",
           "expired": "EXPIRED", "by": "attested by", "underlying": "actual result", "exceptions": "Waivers and attestations",
           "answered": "These results are answered by a waiver or an attestation; the actual check result is kept.",
           "completed": "completed", "incomplete": "incomplete", "interrupted": "interrupted", "running": "running",
           "score": "MLPS compliance score", "rate": "Compliance rate", "verdict": "Self-assessed verdict",
           "compliant": "compliant", "basically_compliant": "basically compliant", "noncompliant": "non-compliant",
           "not_scored": "not scored", "high_risk": "High-risk candidates", "points": "Control points (out of 10)",
           "fixes": "Fix first (largest score gains)", "gain": "score gain", "removes_high_risk": "removes a high risk",
           "method": "Method: docs/scoring.md (2025 template's compliance rate and verdict rules; a self-assessment, "
                     "not an assessment conclusion)", "rule": "Rule", "since": "since", "first_run": "first audit",
           "families": "By MLPS control point", "item": "Item", "weight": "Weight", "conform": "conform",
           "partial": "partly conform", "nonconform": "nonconform", "not_assessed": "not assessed",
           "failing_checks": "Failing checks", "systems": "By system", "system": "System",
           "no_system": "Hosts of no declared system", "hosts_of": "hosts",
           "awaiting": "awaiting evidence", "to_attest": "What to attest",
           "awaiting_note": "These items have no check result and no attestation: they count as 0 in the compliance "
                            "rate until attested or measured.",
           "attested": "Weight answered by attestations",
           "devices": "Network devices", "device": "Device", "platform": "Platform", "source": "Evidence from",
           "boundary": "Communication network / area boundary (not scored)", "failed_checks": "Failed",
           "devices_note": "Network devices are judged from their configuration (安全计算环境 counts in their systems' "
                           "scores; 安全通信网络 and 安全区域边界 results are listed, not scored)."},
}


def make_environment() -> Environment:
    """A Jinja2 environment over ``templates/`` that autoescapes everything."""
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(default=True),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["severity_rank"] = lambda s: SEVERITY_ORDER.get(s, -1)
    return env


@lru_cache(maxsize=1)
def environment() -> Environment:
    """The shared environment: templates are compiled once per process."""
    return make_environment()


def safe_name(text: str) -> str:
    """One path component from any id: never empty, '.', '..' or a hidden name (issue #18)."""
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", text)[:64] or "_"
    return "_" + name[1:] if name.startswith(".") else name


def password_risks_first(risks: list[dict], hosts: list[dict]) -> list[dict]:
    """High-risk candidates for the report: those of the weak/empty/shared-password item (GB/T 22239-2019
    8.1.4.1 a / 7.1.4.1 a, requirement auth.a in the controls file: the commonest 重大风险隐患) first, the rest
    in their order; each with the failing result's remediation."""
    auth_a = set(framework().clauses("auth.a"))
    remedy = {(h["id"], r["check_id"]): r.get("remediation") for h in hosts for r in h["results"]}
    return sorted((dict(x, remediation=remedy.get((x["host"], x["check_id"]))) for x in risks),
                  key=lambda x: x["clause"] not in auth_a)


_BOUNDARY = ("GB/T 22239-2019 8.1.2.", "GB/T 22239-2019 8.1.3.", "GB/T 22239-2019 7.1.2.", "GB/T 22239-2019 7.1.3.")


def device_rows(hosts: list[dict]) -> list[dict]:
    """The report's device section: each audited network device (its os family is a device platform) with its
    vendor, where its evidence came from, its failed checks, and its 安全通信网络/安全区域边界 results (not scored)."""
    from checks.parsers.devices import NAMES

    rows = []
    for h in hosts:
        if h["status"] != "audited" or h.get("os_family") not in NAMES:
            continue
        failed = [r for r in h["results"] if r["status"] == "fail"]
        boundary = [dict(r, references=[ref for ref in r.get("references") or () if ref.startswith(_BOUNDARY)])
                    for r in h["results"] if r["status"] in ("pass", "fail", "manual", "error")]
        boundary = [r for r in boundary if r["references"]]
        detail = h.get("detail") or ""
        saved = re.search(r"judged from the saved configuration (\S+)", detail)
        source = ({"zh": f"保存的配置文件 {saved.group(1)}", "en": f"saved configuration {saved.group(1)}"} if saved else
                  {"zh": "只读 SSH 会话" + (f"（{detail}）" if detail else ""),
                   "en": "read-only SSH session" + (f" ({detail})" if detail else "")})
        rows.append({"id": h["id"], "name": h.get("name") or "", "platform": NAMES[h["os_family"]],
                     "source": source, "failed": len(failed),
                     "high": sum(1 for r in failed if r["severity"] in ("high", "critical")),
                     "boundary": sorted(boundary, key=lambda r: r["check_id"])})
    return rows


def school_context(doc: dict, school: str, lang: str, previous: dict | None = None) -> dict:
    hosts = [h for h in doc["hosts"] if h["school"] == school]
    findings = sorted(((h, r) for h in hosts for r in h["results"] if r["status"] in ("fail", "error")),
                      key=lambda hr: (-SEVERITY_ORDER.get(hr[1]["severity"], 0), hr[1]["check_id"], hr[0]["id"]))
    score = (doc.get("scores") or {}).get("schools", {}).get(school) or score_hosts(hosts)
    before = ((previous or {}).get("scores") or {}).get("schools", {}).get(school) or {}
    change = (round(score["rate"] - before["rate"], 1)
              if score["rate"] is not None and before.get("rate") is not None else None)
    titles = {r["check_id"]: r["title"] for h in hosts for r in h["results"]}
    fixes = [dict(f, title=titles[f["check_id"]]) for f in top_fixes(hosts)]
    names = [h.get("school_name") for h in hosts if h.get("school_name")]
    return {"doc": doc, "school": school, "school_name": names[0] if names else school, "hosts": hosts,
            "breakdown": item_breakdown(hosts), "systems": score.get("systems") or system_scores(hosts), "summary": summarise(hosts), "findings": findings,
            "score": score, "high_risk": password_risks_first(score["high_risk"], hosts), "change": change, "previous_run": (previous or {}).get("run", {}).get("id"),
            "fixes": fixes, "points": item_table().points, "titles": titles,
            "lang": lang, "L": LABELS[lang], "severities": list(SEVERITY_ORDER), "devices": device_rows(hosts)}


def render_school(doc: dict, school: str, lang: str = "zh", previous: dict | None = None) -> str:
    return environment().get_template("school_report.html.j2").render(**school_context(doc, school, lang, previous))


def write_reports(doc: dict, out_dir, lang: str = "zh", previous: dict | None = None) -> list[Path]:
    """``OUT/<run-id>/<school>/index.html`` for every school in the run; written atomically. ``previous``
    is the document of the last earlier run of the same scope (the score's change is shown)."""
    base = Path(out_dir) / safe_name(doc["run"]["id"])
    written = []
    for school in sorted({h["school"] for h in doc["hosts"]}):
        target = base / safe_name(school) / "index.html"
        atomic_write(target, render_school(doc, school, lang, previous))
        written.append(target)
    return written
