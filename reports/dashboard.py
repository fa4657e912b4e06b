"""The bureau dashboard: one self-contained HTML page per bureau level (the bureau, then one per
district) from the bureau view (reports/bureau.py).

No network fetches: inline CSS, server-drawn SVG charts, one inline script (ours, allowed by its hash
in the page's Content-Security-Policy, so no other script can run). The school table holds every
school as JSON data and pages, filters and sorts it in the browser, so 5,000 schools stay usable; its
first page is also rendered on the server for printing and for browsers without JavaScript. Every
string from a school's data is escaped by Jinja2 or written with ``textContent``.
"""
from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

from markupsafe import Markup

from audits.atomicfile import atomic_write

from functools import lru_cache

from .html import make_environment, safe_name

PAGE_SIZE = 50
SCRIPT = (Path(__file__).resolve().parent.parent / "templates" / "bureau_dashboard.js").read_text(encoding="utf-8")

LABELS = {
    "zh": {"title": "等级保护合规看板", "generated": "生成时间", "schools": "学校", "districts": "区县",
           "cities": "地市", "rate": "平均符合率", "school_rate": "符合率", "verdict": "自评结论",
           "compliant": "符合", "basically_compliant": "基本符合", "noncompliant": "不符合", "not_scored": "未评分",
           "high_risk": "高风险", "high_risk_schools": "有高风险的学校", "unreachable_schools": "有主机无法连接的学校",
           "missing_schools": "缺少结果的学校", "ranking_districts": "区县排名", "ranking_schools": "学校排名",
           "heatmap": "控制点得分热力图（10 分制）", "distribution": "符合率分布", "trend": "符合率趋势",
           "rank": "名次", "school": "学校", "district": "区县", "hosts": "主机", "audited": "已审计",
           "unreachable": "无法连接", "last_run": "最近审计", "change": "较上次", "search": "搜索学校或编号",
           "all_districts": "全部区县", "all_verdicts": "全部结论", "only_high_risk": "只看高风险",
           "prev": "上一页", "next": "下一页", "page": "页", "of": "共", "shown": "所", "missing": "缺少结果",
           "no_results": "没有任何结果", "stale": "结果过期", "reasons": "原因", "reason": "情况",
           "none": "无", "back": "返回上级看板", "method": "评分方法：docs/scoring.md（自评，不是测评结论）",
           "runs": "审计批次", "day": "日期", "self_assessment": "本看板为各校自查结果的汇总，不是等级测评机构出具的测评结论。",
           "stale_note": "超过 {days} 天没有新结果视为过期。", "rows": "条"},
    "en": {"title": "MLPS compliance dashboard", "generated": "Generated", "schools": "Schools",
           "districts": "Districts", "cities": "Cities", "rate": "Mean compliance rate", "school_rate": "Rate",
           "verdict": "Verdict", "compliant": "compliant", "basically_compliant": "basically compliant",
           "noncompliant": "non-compliant", "not_scored": "not scored", "high_risk": "High risk",
           "high_risk_schools": "Schools with a high risk", "unreachable_schools": "Schools with unreachable hosts",
           "missing_schools": "Schools missing results", "ranking_districts": "District ranking",
           "ranking_schools": "School ranking", "heatmap": "Control point heat map (out of 10)",
           "distribution": "Distribution of rates", "trend": "Trend of the mean rate", "rank": "Rank",
           "school": "School", "district": "District", "hosts": "Hosts", "audited": "audited",
           "unreachable": "Unreachable", "last_run": "Last audit", "change": "Change", "search": "Search school",
           "all_districts": "All districts", "all_verdicts": "All verdicts", "only_high_risk": "High risk only",
           "prev": "Previous", "next": "Next", "page": "page", "of": "of", "shown": "", "missing": "Missing",
           "no_results": "no results at all", "stale": "stale results", "reasons": "Reasons", "reason": "Status",
           "none": "none", "back": "Up to the bureau dashboard", "method": "Method: docs/scoring.md "
           "(a self-assessment, not an assessment conclusion)", "runs": "Runs", "day": "Date",
           "self_assessment": "A summary of the schools' self-assessments, not a conclusion issued by a licensed "
           "MLPS assessment body.", "stale_note": "Results older than {days} days are stale.", "rows": "rows"},
}


def heat(value) -> str:
    """Background colour of a 0-10 control-point score: red (0) → amber → green (10)."""
    if value is None:
        return "#f0f4f8"
    return f"hsl({round(12 * max(0.0, min(10.0, value)))},62%,{82 - round(value)}%)"


def trend_svg(points: list[dict], width: int = 520, height: int = 160) -> dict:
    """Coordinates of the trend line (rate 0-100 on y, one step per day with results on x)."""
    pts = [p for p in points if p["rate"] is not None]
    if not pts:
        return {"path": "", "dots": [], "width": width, "height": height}
    pad, n = 28, len(pts)
    xs = [pad + (width - 2 * pad) * (i / (n - 1) if n > 1 else 0.5) for i in range(n)]
    ys = [height - pad - (height - 2 * pad) * p["rate"] / 100 for p in pts]
    path = " ".join(f"{'M' if i == 0 else 'L'}{x:.1f},{y:.1f}" for i, (x, y) in enumerate(zip(xs, ys)))
    step = max(1, n // 6)
    dots = [{"x": round(x, 1), "y": round(y, 1), "date": p["date"], "rate": p["rate"],
             "label": i % step == 0 or i == n - 1} for i, (x, y, p) in enumerate(zip(xs, ys, pts))]
    return {"path": path, "dots": dots, "width": width, "height": height}


@lru_cache(maxsize=1)
def _environment():
    env = make_environment()
    env.filters["heat"] = heat
    return env


def school_rows(view: dict) -> list[list]:
    """The school table as compact rows for the page's JSON (column order fixed in the script)."""
    return [[r["rank"], r["id"], r["name"], r["district"], r["district_name"], r["rate"], r["verdict"] or "not_scored",
             r["high_risk"], r["audited"], r["unreachable"], r["hosts"], (r["run_at"] or "")[:10], r.get("change")]
            for r in view["schools"]]


def render_dashboard(view: dict, lang: str = "zh", *, links: dict[str, str] | None = None,
                     up: str | None = None) -> str:
    """One page. ``links``: district id → relative page of that district; ``up``: link to the level above."""
    env = _environment()
    script_hash = base64.b64encode(hashlib.sha256(SCRIPT.encode("utf-8")).digest()).decode()
    data = {"rows": school_rows(view), "page_size": PAGE_SIZE, "lang": lang,
            "labels": {k: LABELS[lang][k] for k in ("compliant", "basically_compliant", "noncompliant",
                                                    "not_scored", "page", "of", "rows")},
            "links": links or {}}
    is_district = view.get("district") is not None
    heat_rows = ([{"id": r["id"], "name": r["name"], "points": r["points"], "rate": r["rate"]}
                  for r in view["schools"][:200]] if is_district else view["districts"])
    return env.get_template("bureau_dashboard.html.j2").render(
        v=view, L=LABELS[lang], lang=lang, is_district=is_district, heat_rows=heat_rows,
        trend=trend_svg(view["trend"]), first_page=view["schools"][:PAGE_SIZE], links=links or {}, up=up,
        data_json=Markup(json.dumps(data, ensure_ascii=False, separators=(",", ":"))
                         .replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")),
        script=Markup(SCRIPT), csp_script=f"'sha256-{script_hash}'", max_bin=max(view["distribution"] or [0]) or 1)


def write_dashboards(view_of, out_dir, districts: dict[str, str], lang: str = "zh") -> list[Path]:
    """``OUT/index.html`` for the bureau and ``OUT/districts/<id>.html`` for each district; written
    atomically. ``view_of(district_or_None)`` builds the view of one level."""
    out = Path(out_dir)
    links = {d: f"districts/{safe_name(d)}.html" for d in districts}
    pages = [out / "index.html"]
    atomic_write(pages[0], render_dashboard(view_of(None), lang, links=links))
    for d in sorted(districts):
        page = out / links[d]
        atomic_write(page, render_dashboard(view_of(d), lang, up="../index.html"))
        pages.append(page)
    return pages
