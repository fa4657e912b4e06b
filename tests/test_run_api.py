"""The run API (audits/run/api.py) without the command line, and the platform seam's inventory side."""
from __future__ import annotations

from pathlib import Path

import pytest

from audits.inventory.load import load_inventory
from audits.model.errors import InputError
from audits.run.api import RunRequest, run
from audits.run.platforms import platform_for
from audits.store.database import Store

ROOT = Path(__file__).resolve().parent.parent
LOCALHOST = str(ROOT / "inventories" / "localhost.yaml")


def test_run_returns_the_outcome_and_publishes_through_the_injected_callable(tmp_path):
    published, said = [], []
    request = RunRequest(inventory=LOCALHOST, db=str(tmp_path / "r.db"), packs=["mlps"], fail_on="info", quiet=True,
                         publisher=lambda plan: lambda store, run_id: published.append(run_id), say=said.append)
    outcome = run(request)
    assert outcome.status == outcome.stored_status == "completed"
    assert (outcome.audited, outcome.unreachable, published) == (1, 0, [outcome.run_id])
    assert said == [f"run {outcome.run_id}: 1 host(s), {sum(1 for _ in _mlps_checks())} checks"]
    stored = Store(str(tmp_path / "r.db")).results(outcome.run_id)["localhost"]
    assert sum(outcome.results.values()) == len(stored)
    assert outcome.fail_on_met == (outcome.results.get("fail", 0) > 0)


def _mlps_checks():
    from checks.registry import load_registry

    return load_registry().select(["mlps"])


def test_a_busy_plan_is_an_outcome_not_an_exception(tmp_path):
    from audits.run.lock import plan_lock

    plan = tmp_path / "p.yaml"
    plan.write_text(f"inventory: {LOCALHOST}\n")
    with plan_lock(str(plan)):
        outcome = run(RunRequest(plan=str(plan), db=str(tmp_path / "r.db"), quiet=True))
    assert outcome.plan_busy and outcome.run_id is None and "in progress" in outcome.lock_error


def test_platform_is_inherited_defaults_to_linux_and_unknown_names_are_file_line_errors(tmp_path):
    inv = tmp_path / "inv.yaml"
    inv.write_text("school:\n  id: s1\n  district: d1\n  vars: {platform: linux}\n  hosts:\n"
                   "    - {id: a, address: 10.0.0.1, level: 2}\n    - {id: b, address: 10.0.0.2, level: 2, platform: linx}\n")
    with pytest.raises(InputError) as e:
        load_inventory(inv)
    assert [str(p) for p in e.value.problems] == [
        f"{inv}:7: school.hosts[1].platform: unknown platform 'linx' (did you mean 'linux'?); "
        "known: linux, huawei-vrp, h3c-comware, ruijie-rgos, cisco-ios"]
    inv.write_text("school:\n  id: s1\n  district: d1\n  hosts:\n    - {id: a, address: 10.0.0.1, level: 2}\n")
    host = load_inventory(inv).hosts["a"]
    assert host.platform == "linux" and platform_for(host).name == "linux"


def test_the_hosts_platform_chooses_the_packs_that_apply(monkeypatch):
    """The runner asks the host's platform which checks apply (a device platform will carry only its packs)."""
    from audits.run import platforms
    from audits.run.runner import audit_host
    from checks.registry import load_registry

    class FleetOnly(platforms.Linux):
        packs = ("fleet",)

    host = load_inventory(LOCALHOST).hosts["localhost"]
    checks = load_registry().select(["mlps", "fleet"])
    _record, rows = audit_host(host, checks, {}, {})
    assert {r["check_id"].split(".")[0] for r in rows} == {"mlps", "fleet"}
    monkeypatch.setitem(platforms.PLATFORMS, "linux", FleetOnly())
    _record, rows = audit_host(host, checks, {}, {})
    assert rows and {r["check_id"].split(".")[0] for r in rows} == {"fleet"}
