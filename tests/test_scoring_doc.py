"""docs/scoring.md states the item-verdict rules per requirement as the controls file has them: the table in
the document is the one reports/verdict_rules.py generates from checks/frameworks/gbt22239-2019.yaml."""
from pathlib import Path

from checks.controls import framework
from reports.verdict_rules import BEGIN, END, verdict_rules_table

DOC = Path(__file__).resolve().parents[1] / "docs" / "scoring.md"


def test_the_documented_rules_are_the_controls_files():
    text = DOC.read_text(encoding="utf-8")
    documented = text[text.index(BEGIN):text.index(END) + len(END)]
    assert documented == verdict_rules_table(), \
        "docs/scoring.md is stale: paste reports.verdict_rules.verdict_rules_table() between the markers"


def test_the_table_names_every_scored_requirement_with_its_key_points():
    table = verdict_rules_table()
    fw = framework("gbt22239")
    for r in fw.requirements.values():
        if r.weight:
            row = next(line for line in table.splitlines() if line.startswith(f"| `{r.id}` |"))
            assert all(f"`{c}`" in row for c in r.key_checks + r.informational + r.trigger_checks), r.id
        else:
            assert f"| `{r.id}` |" not in table
    assert "`fleet.ssh.host_key`" in table and "远程管理鉴别信息明文传输 (3, 2)" in table
