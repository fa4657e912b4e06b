"""The school report and the bureau dashboard in a real headless Chromium (Debian's, driven by
Playwright): no console errors, no network requests, Chinese rendered with a CJK font, hostile text
inert, the dashboard's table pages and filters, a screenshot kept as a test artifact, and
print-to-PDF giving pages.

Screenshots and PDFs go to ``$AUDITCTL_TEST_ARTIFACTS`` (default ``test-artifacts/`` in the checkout).
"""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from reports.bureau import BureauView
from reports.dashboard import write_dashboards
from reports.html import write_reports
from tests.synthetic import bureau_runs
from tests.test_html_report import HOSTILE, doc

ARTIFACTS = Path(os.environ.get("AUDITCTL_TEST_ARTIFACTS") or Path(__file__).resolve().parent.parent / "test-artifacts")
CJK_FONT = re.compile(r"WenQuanYi|CJK|Noto Sans SC|Hei|Song|Ming|Kai|Fang", re.I)


def _chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    problem = None if exe else "chromium not installed (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        problem = "playwright not installed (pip install -e '.[test]')"
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail(f"browser tests required on CI: {problem}", pytrace=False)
        pytest.skip(problem)
    return exe


@pytest.fixture(scope="module")
def browser():
    exe = _chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


class Page:
    """A page that records console messages, page errors and every request it makes."""

    def __init__(self, browser, url: str):
        self.page = browser.new_page(viewport={"width": 1280, "height": 900})
        self.console, self.errors, self.requests = [], [], []
        self.page.on("console", lambda m: self.console.append((m.type, m.text)))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.url = url
        self.page.goto(url, wait_until="load")

    def assert_clean(self):
        assert not self.errors, self.errors
        assert [c for c in self.console if c[0] in ("error", "warning")] == []
        assert self.requests == [self.url], f"network requests besides the page itself: {self.requests}"

    def fonts_of(self, selector: str) -> list[str]:
        cdp = self.page.context.new_cdp_session(self.page)
        cdp.send("DOM.enable")
        cdp.send("CSS.enable")
        root = cdp.send("DOM.getDocument")["root"]["nodeId"]
        node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
        return [f["familyName"] for f in cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]]

    def keep(self, name: str) -> tuple[Path, bytes]:
        """Save a full-page screenshot and a printed PDF as artifacts; return the PDF's path and bytes."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shot = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 20_000
        pdf = self.page.pdf(format="A4", print_background=True)
        (ARTIFACTS / f"{name}.pdf").write_bytes(pdf)
        return ARTIFACTS / f"{name}.pdf", pdf


def pdf_pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page(?![a-z])", pdf))


def test_school_report_in_a_real_browser(browser, tmp_path):
    d = doc()
    d["hosts"][0]["school_name"] = "南湖第一中学"
    (path,) = write_reports(d, tmp_path / "out")
    page = Page(browser, path.as_uri())
    page.assert_clean()
    p = page.page
    assert p.locator("script").count() == 0 and p.locator("img").count() == 0  # nothing live came from a host
    assert HOSTILE in p.locator("#findings").inner_text()                      # shown as text, not evaluated
    assert "南湖第一中学" in p.locator("h1").inner_text()
    fonts = page.fonts_of("h1")
    assert any(CJK_FONT.search(f) for f in fonts), f"Chinese heading drawn without a CJK font: {fonts}"
    _, pdf = page.keep("school-report")
    assert pdf[:5] == b"%PDF-" and pdf_pages(pdf) >= 1


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory):
    """A generated bureau of 240 schools in 6 districts over 3 rounds; one school carries a hostile name."""
    view = BureauView()
    for run, hosts in bureau_runs(schools=240, districts=6, hosts=3, runs=3, seed=11):
        for h in hosts:
            if h["school"] == "school-00007":
                h["school_name"] = "七中" + HOSTILE
        view.add_run(run, hosts)
    out = tmp_path_factory.mktemp("dash")
    declared = {"school-99999": {"name": "未上报学校", "district": "district-000", "district_name": "第1区"}}
    pages = write_dashboards(lambda d: view.build(declared=declared, district=d, name="示范市教育局"), out,
                             view.districts())
    return view, pages


def test_dashboard_in_a_real_browser(browser, dashboard):
    view, pages = dashboard
    page = Page(browser, pages[0].as_uri())
    page.assert_clean()
    p = page.page
    rows = p.locator("#school-rows tr")
    assert rows.count() == 50                                  # first page of 240
    assert "1 / 5" in p.locator("#pageinfo").inner_text()
    ranks = [int(x) for x in rows.locator("td:first-child").all_inner_texts()]
    assert ranks == list(range(1, 51))
    p.fill("#q", "七中")                                         # filter by name: the hostile one, as text
    assert rows.count() == 1 and HOSTILE in rows.first.inner_text()
    assert p.locator("#school-table img, #school-table script").count() == 0
    p.fill("#q", "")
    p.select_option("#fd", "district-002")                     # filter by district
    assert rows.count() == 40 and set(rows.locator("td:nth-child(3)").all_inner_texts()) == {"第3区"}
    p.select_option("#fd", "")
    p.click("#next")
    assert int(rows.first.locator("td").first.inner_text()) == 51
    p.click("#school-table th[data-col='5']")                  # sort by rate, highest first
    rates = [float(x) for x in rows.locator("td:nth-child(4)").all_inner_texts()]
    assert rates == sorted(rates, reverse=True)
    assert p.locator("#attention").inner_text().count("未上报学校") == 1
    assert p.locator("#heatmap tr").count() == 7               # header + 6 districts
    fonts = page.fonts_of("h1")
    assert any(CJK_FONT.search(f) for f in fonts), fonts
    page.assert_clean()
    _, pdf = page.keep("bureau-dashboard")
    assert pdf_pages(pdf) >= 2


def test_district_page_links_up_and_shows_its_schools(browser, dashboard):
    view, pages = dashboard
    page = Page(browser, pages[1].as_uri())
    page.assert_clean()
    p = page.page
    assert p.locator("header a").get_attribute("href") == "../index.html"
    assert p.locator("#school-rows tr").count() == 40          # district-000's schools on one page
    assert p.locator("#heatmap tr").count() == 41              # its schools × control points
    assert "未上报学校" in p.locator("#attention").inner_text()


def test_device_report_in_a_real_browser(browser, tmp_path):
    """The saved configurations of four vendors: the report's device section renders clean, in a CJK font."""
    import json
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run([sys.executable, str(root / "auditctl.py"), "run", "-q", "-i",
                           str(root / "inventories" / "examples" / "devices.yaml"), "--db", str(tmp_path / "s.db"),
                           "--out", str(tmp_path / "html"), "--json", str(tmp_path / "run.json")], capture_output=True, text=True, timeout=300)
    assert proc.returncode in (0, 1), proc.stderr
    (path,) = write_reports(json.loads((tmp_path / "run.json").read_text(encoding="utf-8")), tmp_path / "out")
    page = Page(browser, path.as_uri())
    page.assert_clean()
    section = page.page.locator("#devices")
    assert section.locator("tr").count() == 9 and "Cisco IOS" in section.inner_text()
    assert any(CJK_FONT.search(f) for f in page.fonts_of("#devices h2"))
    _, pdf = page.keep("device-report")
    assert pdf_pages(pdf) >= 1
