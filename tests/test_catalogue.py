"""The MLPS pack as a catalogue: size, the JSON listing, level-correct clauses, the generated document."""
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from checks.catalogue import markdown
from checks.registry import load_registry

ROOT = Path(__file__).resolve().parent.parent
# a clause with one requirement (8.1.4.5 恶意代码防范, 8.1.4.6 可信验证) has no item letter
L3 = re.compile(r"^GB/T 22239-2019 8\.1\.4\.(\d+)(?: [a-g]|(?<=\.[56]))$")
L2 = re.compile(r"^GB/T 22239-2019 7\.1\.4\.(\d+)(?: [a-g]|(?<=\.[56]))$")


def listing():
    r = subprocess.run([sys.executable, "auditctl.py", "checks", "list", "--pack", "mlps", "--json"], cwd=ROOT,
                       capture_output=True, text=True, check=True)
    return json.loads(r.stdout)


def test_mlps_pack_lists_at_least_60_checks_as_json_objects():
    items = listing()
    assert len(items) >= 60
    for c in items:
        assert c["id"].startswith("mlps.") and c["title"]["zh"] and c["title"]["en"]
        assert c["severity"] in ("info", "low", "medium", "high", "critical")
        assert c["references"] and set(c["levels"]) <= {2, 3} and c["levels"]
        assert c["rationale"]["zh"] and c["rationale"]["en"] and c["remediation"]["zh"] and c["remediation"]["en"]


def test_clauses_are_precise_and_level_consistent():
    for c in listing():
        refs = [r for r in c["references"] if r.startswith("GB/T 22239-2019")]
        assert all(L3.match(r) or L2.match(r) for r in refs), c["id"]
        l2 = [int(L2.match(r).group(1)) for r in refs if L2.match(r)]
        # level 2 has ten computing-environment control points and no 数据保密性
        assert all(1 <= n <= 10 for n in l2), c["id"]
        if 2 in c["levels"]:
            assert l2, f"{c['id']} applies at level 2 but cites no level-2 clause"
        if 3 in c["levels"]:
            assert any(L3.match(r) for r in refs), f"{c['id']} applies at level 3 but cites no level-3 clause"
        if any(L3.match(r) and L3.match(r).group(1) == "8" for r in refs) and not l2:
            assert c["levels"] == [3], f"{c['id']}: 数据保密性 exists only at level 3"


def test_every_threshold_is_a_parameter_shown_by_checks_show():
    r = subprocess.run([sys.executable, "auditctl.py", "checks", "show", "mlps.auth.sshd_idle_timeout", "--lang", "en"],
                       cwd=ROOT, capture_output=True, text=True, check=True)
    assert "clauses (level 3): GB/T 22239-2019 8.1.4.1 b" in r.stdout
    assert "clauses (level 2): GB/T 22239-2019 7.1.4.1 b" in r.stdout
    assert "thresholds: max_idle_seconds=600" in r.stdout and "remediation:" in r.stdout


def test_generated_pack_document_is_current():
    doc = ROOT / "docs" / "checks" / "mlps.md"
    want = markdown(load_registry().select(["mlps"]), "mlps")
    assert doc.read_text(encoding="utf-8") == want, \
        "docs/checks/mlps.md is stale: run `auditctl checks doc --pack mlps -o docs/checks/mlps.md`"


@pytest.mark.parametrize("pack", ["patching", "backup", "dr", "devices", "fleet", "network"])
def test_generated_documents_of_the_other_packs_are_current(pack):
    doc = ROOT / "docs" / "checks" / f"{pack}.md"
    assert doc.read_text(encoding="utf-8") == markdown(load_registry().select([pack]), pack), \
        f"docs/checks/{pack}.md is stale: run `auditctl checks doc --pack {pack} -o docs/checks/{pack}.md`"
