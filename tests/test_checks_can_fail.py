"""Every check can fail on evidence a host holds (issue 15): each check has a fixture case in which its
own logic returns ``fail`` — not only an expired attestation turning ``manual`` into ``fail`` — unless its
YAML entry declares it ``manual_only`` with the reason no host can hold the evidence."""
from pathlib import Path

import pytest

from audits.model.probes import OS_PROBE
from checks.registry import load_registry
from checks.testing import fail_coverage, load_cases

FIXTURES = Path(__file__).parent / "fixtures" / "checks"
REGISTRY = load_registry()
COVERAGE = fail_coverage(load_cases(FIXTURES), REGISTRY)

# Checks another part of issue 15 is making able to fail (remove the entry when that work is merged).
def test_every_check_has_a_failing_fixture_of_its_own_logic():
    missing = [f"{cid}: own outcomes {sorted(row['own']) or 'none'}"
               + (" (fails only through an expired attestation)" if row["attestation_fail"] else "")
               for cid, row in sorted(COVERAGE.items())
               if not row["manual_only"] and not row["own_fail"]]
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


# ------------------------------------------------------------------ the item verdicts the pairs give
# Where the reference scores host evidence "partly met at most" (items 9, 10, 12, 13 of issue 15), the
# requirement has a key check and a supporting one; run both on one recorded host and score the item.
CASES = {(c.check_id, c.name): c for c in load_cases(FIXTURES)}


def _item(case_key, check_ids, clause):
    from audits.model.evaluation import check_params, result_row
    from reports.scoring import host_items

    case = CASES[case_key]
    rows = []
    for cid in check_ids:
        check = REGISTRY.by_id[cid]
        row = result_row(check, check.run(case.facts, case.host, check_params(check, {check.pack: case.params})),
                         case.host.level)
        rows.append({**row, "references": row["refs"]})
    host = {"id": "h", "level": case.host.level, "school": "s", "district": "d", "status": "audited", "results": rows}
    return host_items(host)[clause].verdict, [r["status"] for r in rows]


MFA = ("mlps.auth.multi_factor", "mlps.auth.mfa_token_factor")
MAC = ("mlps.access.mandatory_access_control", "mlps.access.security_labels")
TRUST = ("mlps.trusted.boot_verification", "mlps.trusted.runtime_verification")
OFFSITE = ("backup.offsite_copy", "backup.realtime_replication")


@pytest.mark.parametrize("case_key, checks, clause, want", [
    (("mlps.auth.multi_factor", "fail-debian12-stock-openssh-9.2"), MFA, "8.1.4.1 d", "nonconform"),
    (("mlps.auth.multi_factor", "pass-debian12-stock-key-and-password"), MFA, "8.1.4.1 d", "partial"),
    (("mlps.auth.multi_factor", "pass-debian12-stock-with-totp-as-documented"), MFA, "8.1.4.1 d", "conform"),
    (("mlps.access.security_labels", "fail-rhel-targeted-default-unconfined-logins"), MAC, "8.1.4.2 g", "partial"),
    (("mlps.access.security_labels", "fail-rhel-permissive"), MAC, "8.1.4.2 g", "nonconform"),
    (("mlps.access.security_labels", "fail-debian-apparmor-enforcing-has-no-labels"), MAC, "8.1.4.2 g", "partial"),
    (("mlps.access.security_labels", "pass-rhel-targeted-confined-logins"), MAC, "8.1.4.2 g", "conform"),
    (("mlps.trusted.runtime_verification", "fail-debian-secure-boot-alone-verifies-no-program"), TRUST, "8.1.4.6",
     "partial"),
    (("mlps.trusted.boot_verification", "fail-debian-secure-boot-off-tpm-present"), TRUST, "8.1.4.6", "nonconform"),
    (("backup.offsite_copy", "pass-mounted-offsite-directory"), OFFSITE, "8.1.4.9 b", "partial"),
], ids=lambda v: v[1] if isinstance(v, tuple) and len(v) == 2 and isinstance(v[1], str) else None)
def test_partly_met_at_most_where_the_reference_says_so(case_key, checks, clause, want):
    verdict, statuses = _item(case_key, checks, clause)
    assert verdict == want, (case_key, dict(zip(checks, statuses)))


def test_manual_only_is_refused_on_a_check_that_gathers_or_asks_nothing(tmp_path):
    import textwrap

    from audits.model.errors import InputError
    from checks.yaml_checks import load_pack_file

    p = tmp_path / "pack.yaml"
    p.write_text(textwrap.dedent("""\
        checks:
          - id: local.ok
            title: ok
            severity: low
            refs: ["GB/T 22239-2019 8.1.4.10 a"]
            manual: {zh: 证明, en: attest}
            manual_only: {zh: 主机上没有, en: no host holds it}
          - id: local.gathers
            title: g
            severity: low
            refs: ["GB/T 22239-2019 8.1.4.10 a"]
            probe: file:/etc/x
            manual: {zh: 证明, en: attest}
            manual_only: {zh: 主机上没有, en: no host holds it}
          - id: local.asks_nothing
            title: n
            severity: low
            refs: ["GB/T 22239-2019 8.1.4.10 a"]
            manual_only: only one language
        """), encoding="utf-8")
    with pytest.raises(InputError) as e:
        load_pack_file(p)
    text = str(e.value)
    assert f"{p}:14: checks[1].manual_only: a manual-only item gathers nothing" in text
    assert f"{p}:19: checks[2].manual_only: must be {{zh: ..., en: ...}}" in text
    assert f"{p}:19: checks[2].manual_only: needs 'manual'" in text
    assert "checks[0]" not in text
