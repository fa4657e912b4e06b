"""Every check against its recorded facts: tests/fixtures/checks/<check_id>.yaml (cases) or
<check_id>/<name>.json, and the rule that every check has a pass and a fail case for each os
family it has its own probes for (a network device's family is its platform: huawei-vrp, …)."""
from pathlib import Path

import pytest

from checks.parsers.devices import PLATFORMS as DEVICE_PLATFORMS
from checks.registry import load_registry
from checks.testing import load_cases, run_case

FIXTURES = Path(__file__).parent / "fixtures" / "checks"
CASES = load_cases(FIXTURES)
REGISTRY = load_registry()


@pytest.mark.parametrize("case", CASES, ids=[f"{c.check_id}/{c.name}" for c in CASES])
def test_check_against_recorded_facts(case):
    check = REGISTRY.by_id[case.check_id]
    outcome = run_case(check, case)
    assert outcome.status.value == case.expect, (case.source, outcome.message, outcome.evidence)
    assert outcome.message.zh and outcome.message.en
    if case.expect == "fail":
        assert outcome.evidence, f"{case.source}: a failure must show its evidence"
    if case.kind in ("pass", "fail") and case.exceptions is None:
        assert case.expect == case.kind, f"{case.source}: its name says {case.kind}"


def _families(check) -> set[str]:
    own = {f for f in check.probes if f != "any"}
    return own or {"any"}


def test_every_check_has_a_pass_and_a_fail_case_per_os_family():
    have: dict[str, dict[str, set]] = {}
    for c in CASES:
        os_ = c.host.os if c.host.os in ("debian", "rhel", "windows", *DEVICE_PLATFORMS) else "any"
        have.setdefault(c.check_id, {}).setdefault(os_, set()).add(c.expect)
    missing = []
    for check in REGISTRY:
        got = have.get(check.id, {})
        for fam in _families(check):
            seen = got.get(fam, set()) if fam != "any" else set().union(*got.values()) if got else set()
            if not {"pass", "fail"} <= seen:
                missing.append(f"{check.id} [{fam}]: has {sorted(seen) or 'nothing'}")
    assert not missing, "checks without pass+fail cases:\n" + "\n".join(missing)


def test_fixtures_name_real_checks():
    assert {c.check_id for c in CASES} <= set(REGISTRY.by_id)
