"""Every check can fail on evidence a host holds (issue 15): each check has a fixture case in which its
own logic returns ``fail`` — not only an expired attestation turning ``manual`` into ``fail`` — unless its
YAML entry declares it ``manual_only`` with the reason no host can hold the evidence."""
from pathlib import Path

from audits.model.probes import OS_PROBE
from checks.registry import load_registry
from checks.testing import fail_coverage, load_cases

FIXTURES = Path(__file__).parent / "fixtures" / "checks"
REGISTRY = load_registry()
COVERAGE = fail_coverage(load_cases(FIXTURES), REGISTRY)

# Checks another part of issue 15 is making able to fail (remove the entry when that work is merged).
PENDING = {"mlps.audit.log_forwarding": "central log collection: the config-logs work of issue 15"}


def test_every_check_has_a_failing_fixture_of_its_own_logic():
    missing = [f"{cid}: own outcomes {sorted(row['own']) or 'none'}"
               + (" (fails only through an expired attestation)" if row["attestation_fail"] else "")
               for cid, row in sorted(COVERAGE.items())
               if not row["manual_only"] and not row["own_fail"] and cid not in PENDING]
    assert not missing, "checks whose own logic is never shown to fail:\n" + "\n".join(missing)


def test_manual_only_checks_gather_nothing_and_never_judge():
    for check in REGISTRY:
        if check.manual_only is None:
            continue
        assert check.manual_only.zh and check.manual_only.en, check.id
        assert check.attest is not None, f"{check.id}: a manual-only item must say what to attest"
        assert all(p == OS_PROBE for ps in check.probes.values() for p in ps), f"{check.id}: manual-only but gathers probes"
        own = COVERAGE[check.id]["own"]
        assert own <= {"manual", "not_applicable"}, f"{check.id}: manual-only but its logic gave {sorted(own)}"


def test_the_manual_only_set_is_the_reference_list():
    """mlps-reference.md §9: items no probe can prove. MFA on a bastion, shared accounts, role separation and
    trusted verification are judged on host evidence first and are not manual-only."""
    manual_only = {cid for cid, row in COVERAGE.items() if row["manual_only"]}
    assert manual_only == {"mlps.residual.auth_data_cleared", "mlps.residual.sensitive_data_cleared",
                           "mlps.privacy.minimal_collection", "mlps.privacy.no_unauthorised_access",
                           "dr.emergency_plan", "dr.incident_reporting"}


def test_pending_entries_still_pending():
    for cid in PENDING:
        assert cid in COVERAGE, f"{cid} no longer exists: drop it from PENDING"
