"""CSV and JUnit outputs: spreadsheet-safe cells, well-formed XML whatever the host sent, counts that
match the run, and the command line writing them from a real local run."""
import csv
import io
import json
import xml.etree.ElementTree as ET

from reports.tabular import to_csv, to_junit
from tests.test_html_report import HOSTILE, doc
from tests.test_run_cli import inventory, run


def test_csv_cells_from_hosts_cannot_become_formulas():
    d = doc(evidence="=HYPERLINK(\"http://x\")\x00")
    rows = list(csv.DictReader(io.StringIO(to_csv(d))))
    assert len(rows) == 2  # one result row, one row for the unreachable host
    fail, down = rows
    assert fail["evidence"].startswith("'=HYPERLINK") and fail["title"] == "禁止 root 远程登录"
    assert fail["references"] == "GB/T 22239-2019 8.1.4.2 b" and fail["status"] == "fail"
    assert down["host_status"] == "unreachable" and down["host_reason"] == "timeout" and down["check_id"] == ""
    assert list(csv.DictReader(io.StringIO(to_csv(d, "en"))))[0]["title"] == "No remote root login"


def test_junit_is_well_formed_and_counts_match():
    d = doc(evidence=HOSTILE + "\x00\x1b[2J")
    d["hosts"][0]["results"].append(dict(d["hosts"][0]["results"][0], check_id="mlps.x.na", status="not_applicable"))
    root = ET.fromstring(to_junit(d).split("\n", 1)[1])  # parses: no control character survived
    assert (root.get("tests"), root.get("failures"), root.get("errors"), root.get("skipped")) == ("3", "1", "1", "1")
    web, down = root.findall("testsuite")
    failure = web.find("testcase[@name='mlps.access.sshd_root_login']/failure")
    assert failure.get("type") == "high" and "<script>alert(1)</script>" in failure.text  # text, escaped on disk
    assert "GB/T 22239-2019 8.1.4.2 b" in failure.get("message")
    assert down.find("testcase[@name='connection']/error").get("message") == "timeout"


def test_run_writes_csv_and_junit_that_agree_with_the_json(tmp_path):
    js, xml, table = tmp_path / "r.json", tmp_path / "r.xml", tmp_path / "r.csv"
    rc = run("-i", inventory(tmp_path), "--db", tmp_path / "r.db", "--out", tmp_path / "o", "--json", js,
             "--format", f"junit:{xml}", "--format", f"csv:{table}")
    assert rc == 0
    results = json.loads(js.read_text())["hosts"][0]["results"]
    root = ET.parse(xml).getroot()
    assert int(root.get("tests")) == len(results)
    assert int(root.get("failures")) == sum(r["status"] == "fail" for r in results)
    assert len(list(csv.DictReader(table.open(encoding="utf-8")))) == len(results)


def test_unknown_format_is_exit_2_and_writes_nothing(tmp_path, capsys):
    assert run("-i", inventory(tmp_path), "--db", tmp_path / "r.db", "--out", tmp_path / "o",
               "--format", "pdf:x.pdf") == 2
    assert "--format: unknown format 'pdf'" in capsys.readouterr().err
    assert not (tmp_path / "r.db").exists() and not (tmp_path / "o").exists()


def test_report_shows_the_change_since_the_previous_run_of_the_same_scope(tmp_path):
    """Two real local runs of one inventory; in the second, a plan's attestation answers the manual items."""
    import textwrap

    inv = inventory(tmp_path)
    attested = tmp_path / "attested.yaml"
    attested.write_text(textwrap.dedent(f"""\
        inventory: {inv}
        attestations:
          - {{check: "mlps.*", scope: "school:s1", by: 张老师, document: 制度汇编 v1, date: 2020-01-01, expires: 2999-01-01}}
        """), encoding="utf-8")
    common = ("--db", tmp_path / "r.db", "--out", tmp_path / "o")
    run("-i", inv, *common, "--json", tmp_path / "1.json")
    run("--plan", attested, *common, "--json", tmp_path / "2.json")
    first, second = (json.loads((tmp_path / f"{n}.json").read_text()) for n in (1, 2))
    r1, r2 = (d["scores"]["schools"]["s1"]["rate"] for d in (first, second))
    assert r2 > r1
    html1 = (tmp_path / "o" / first["run"]["id"] / "s1" / "index.html").read_text()
    html2 = (tmp_path / "o" / second["run"]["id"] / "s1" / "index.html").read_text()
    assert "首次审计" in html1
    assert f"较上次 {first['run']['id']}: <b class=\"st-pass\">{r2 - r1:+.1f}</b>" in html2
