"""The MLPS pack against the campus lab's real sshd hosts: every planted misconfiguration is found by
its intended check, and the compliant hosts show no failure of those checks.

Every lab SSH host carries the hardened Debian 12 baseline in its own /etc (campus_lab.HARDENED_FILES:
PAM lockout, complexity and history, su limited, INACTIVE, TMOUT, umask, sshd MACs, LoginGraceTime and
SSH only from the management network); the misconfigured hosts plant their problems on top. The hosts
share this machine's processes, packages and kernel (no auditd, rsyslog, ClamAV, HIDS, firewall, MAC,
Secure Boot, LUKS), so those checks fail truthfully on every host alike. What tells the kinds apart
must be exactly the planted problems (campus_lab.PROFILES).
"""
import datetime as dt
import json

import pytest

import auditctl
from checks.registry import load_registry

pytestmark = pytest.mark.lab


def audit_lab(lab, tmp) -> dict:
    """The MLPS pack run over a lab's hosts (with the school's attestations) through `auditctl run`: the
    run document; the store, the JSON and the HTML are left in ``tmp``."""
    inv = tmp / "lab.yaml"
    lab.write_inventory(inv)
    _attest_management(inv)
    js = tmp / "run.json"
    auditctl.main(["run", "-q", "-i", str(inv), "--packs", "mlps", "--db", str(tmp / "r.db"), "--json", str(js),
                   "--out", str(tmp / "out"), "--known-hosts", str(lab.known_hosts)])
    return json.loads(js.read_text())


@pytest.fixture(scope="module")
def mlps_doc(campus_lab, tmp_path_factory):
    return audit_lab(campus_lab, tmp_path_factory.mktemp("mlps"))


# What the school answers with documents, as a real school would: only checks whose evidence no host file
# can hold (who is which administrator, the policy owner, the account register, personal-information and
# residual-data handling). They stay `manual` without it, and a measured failure is never overridden.
ATTESTED = {
    "mlps.access.admin_separation": "信息中心岗位职责 v3 第2章（系统/安全/审计管理员分设）",
    "mlps.access.access_policy": "访问控制策略 v2（安全管理员制定并审批）",
    "mlps.access.shared_accounts": "账户与责任人登记表 2026",
    "mlps.privacy.minimal_collection": "个人信息收集清单 2026",
    "mlps.privacy.no_unauthorised_access": "个人信息访问授权清单 2026",
    "mlps.residual.auth_data_cleared": "操作系统鉴别信息清除说明（厂商声明）",
    "mlps.residual.sensitive_data_cleared": "敏感数据清除与介质处置记录 2026",
}


def _attest_management(inv):
    import yaml

    doc = yaml.safe_load(inv.read_text())
    today = dt.date.today()
    school = doc["districts"][0]["schools"][0]
    school["attestations"] = [{"check": c, "by": "张老师", "document": d, "date": today.isoformat(),
                               "expires": (today + dt.timedelta(days=365)).isoformat()} for c, d in ATTESTED.items()]
    inv.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))


@pytest.fixture(scope="module")
def mlps_run(mlps_doc):
    return {h["id"]: {r["check_id"]: r for r in h["results"]} for h in mlps_doc["hosts"] if h["status"] == "audited"}


def failing(results: dict) -> set[str]:
    return {cid for cid, r in results.items() if r["status"] == "fail"}


def _planted():
    """(problem, check id) for every check that must find each planted problem."""
    from tests.lab.campus_lab import PROFILES

    return sorted((p, c) for p, ids in PROFILES["misconfigured"]["problems"].items()
                  for c in ((ids,) if isinstance(ids, str) else ids))


@pytest.mark.parametrize("problem, check_id", _planted(), ids=[f"{p} -> {c}" for p, c in _planted()])
def test_each_planted_problem_is_found_by_its_check(campus_lab, mlps_run, problem, check_id):
    for h in campus_lab.by_kind("misconfigured"):
        r = mlps_run[h.id][check_id]
        assert r["status"] == "fail", (problem, r["message"], r["evidence"])
        assert r["evidence"]
    # on a compliant host the check finds nothing; an item a register answers (shared accounts) then
    # awaits its attestation (manual), never a failure
    attested = load_registry().by_id[check_id].attest is not None
    for h in campus_lab.by_kind("compliant"):
        r = mlps_run[h.id][check_id]
        assert r["status"] == "pass" or (attested and r["status"] == "manual"), (h.id, problem, r["message"],
                                                                                  r["evidence"])


def test_misconfigured_hosts_differ_from_compliant_ones_by_exactly_the_planted_problems(campus_lab, mlps_run):
    compliant = [failing(mlps_run[h.id]) for h in campus_lab.by_kind("compliant")]
    assert all(c == compliant[0] for c in compliant), "compliant hosts must fail alike (environment only)"
    planted = {c for _, c in _planted()}
    assert not compliant[0] & planted, f"false failures on compliant hosts: {sorted(compliant[0] & planted)}"
    for h in campus_lab.by_kind("misconfigured"):
        extra = failing(mlps_run[h.id]) - compliant[0]
        assert extra == planted, (h.id, sorted(extra ^ planted))


def test_no_check_errors_on_a_reachable_host(campus_lab, mlps_run):
    for h in campus_lab.by_kind("compliant") + campus_lab.by_kind("misconfigured"):
        errors = {c: r["message"]["en"] for c, r in mlps_run[h.id].items() if r["status"] == "error"}
        assert not errors, (h.id, errors)


# Measured on the lab (level 3): compliant 57.2 %, misconfigured 46.6 %.
COMPLIANT_RATE = 57.0
MIN_GAP = 10.0
# the compliant hosts' items below 符合, each for want of what the lab cannot give per host (see the test)
ENVIRONMENT_ITEMS = {"8.1.4.1 d", "8.1.4.2 g", "8.1.4.3 a", "8.1.4.3 b", "8.1.4.3 c", "8.1.4.3 d", "8.1.4.4 c",
                     "8.1.4.4 f", "8.1.4.5", "8.1.4.6", "8.1.4.7 b", "8.1.4.8 b", "8.1.4.9 a", "8.1.4.9 b", "8.1.4.9 c"}
# the items the planted problems lower: empty password / PASS_MAX_DAYS (a), ClientAliveInterval 0 (b), the
# guest account (8.1.4.2 b default account, c shared account), toor and PermitRootLogin yes (8.1.4.2 d)
TOUCHED = {"8.1.4.1 a", "8.1.4.1 b", "8.1.4.2 b", "8.1.4.2 c", "8.1.4.2 d"}


def test_scores_judge_the_stock_and_planted_hosts_as_an_assessor_would(campus_lab, mlps_doc):
    """Item verdicts and rates from the run, as an assessor would give them.

    The compliant hosts (hardened Debian 12 baseline, see campus_lab.HARDENED_FILES) conform on every item a
    host's own files decide: identification and password rules (8.1.4.1 a), lockout and idle timeout (b),
    encrypted remote management with SHA-2 MACs (c), file permissions and umask (8.1.4.2 a, f), accounts
    (c), su limited to admins (d), SSH only from the management network (8.1.4.4 c, with the firewall
    missing: partial). Attested (ATTESTED, documents a school holds; no host file can show them): the
    administrators' role separation, the access policy's owner, the account register, personal-information
    and residual-data handling. What keeps the compliant rate at 57.2 % (asserted ≥ 57) and not 100 %: the lab
    hosts share this machine's processes, packages and kernel, so they have no second factor (8.1.4.1 d),
    no MAC (8.1.4.2 g), no auditd/rsyslog/time sync (8.1.4.3 a–d), no firewall tool, HIDS, AV, AIDE,
    Secure Boot/IMA or LUKS (8.1.4.4 c/f, 8.1.4.5, 8.1.4.6, 8.1.4.7 b, 8.1.4.8 b), and backups belong to
    the dr pack, not run here (8.1.4.9 awaiting evidence) — each fails (or awaits) alike on both kinds.

    The misconfigured hosts are the same baseline plus the planted problems: the empty password is a failing
    key point of 8.1.4.1 a (不符合) and the high-risk candidate 弱口令、空口令或相同口令; the extra UID 0 fails
    the key point of 8.1.4.2 d and labels no trigger of its own; MaxAuthTries 10 is found but informational.
    Every item whose verdict differs is explained by a planted problem's check, and the gap (10.6 points,
    asserted ≥ 10) is exactly their cost."""
    from reports.scoring import host_items, score_hosts
    from tests.lab.campus_lab import PROFILES

    hosts = {h["id"]: h for h in mlps_doc["hosts"]}
    compliant = [hosts[h.id] for h in campus_lab.by_kind("compliant")]
    planted = [hosts[h.id] for h in campus_lab.by_kind("misconfigured")]
    assert compliant and planted and {h["level"] for h in compliant + planted} == {3}
    rates = {h["id"]: score_hosts([h])["rate"] for h in compliant + planted}
    good = {rates[h["id"]] for h in compliant}
    bad = {rates[h["id"]] for h in planted}
    assert len(good) == 1 and len(bad) == 1, rates       # alike within each kind
    (good_rate,), (bad_rate,) = good, bad
    print(f"\nlab rates (level 3): compliant {good_rate} %, misconfigured {bad_rate} %")
    assert good_rate >= COMPLIANT_RATE, rates
    assert good_rate - bad_rate >= MIN_GAP, rates
    c_items, m_items = host_items(compliant[0]), host_items(planted[0])
    # what remains below 100 % on the compliant hosts is exactly the environment's
    assert {k for k, i in c_items.items() if i.verdict not in ("conform", "not_applicable")} == ENVIRONMENT_ITEMS
    # every item that differs is lower on the planted host and names a planted problem's failing check
    planted_checks = {c for ids in PROFILES["misconfigured"]["problems"].values()
                      for c in ((ids,) if isinstance(ids, str) else ids)}
    touched = {k for k in c_items if c_items[k].verdict != m_items[k].verdict}
    assert touched == TOUCHED
    for k in touched:
        assert m_items[k].score < c_items[k].score, k
        assert {c for c, st in m_items[k].checks.items() if st == "fail"} & planted_checks, k
    weights = sum(i.weight for i in c_items.values() if i.score is not None)
    loss = sum(c_items[k].weight * (c_items[k].score - m_items[k].score) for k in touched)
    assert good_rate - bad_rate == pytest.approx(100 * loss / weights, abs=0.11), rates
    for h in planted:
        items = host_items(h)
        assert items["8.1.4.1 a"].verdict == "nonconform" and "mlps.auth.empty_passwords" in items["8.1.4.1 a"].key_failed
        assert items["8.1.4.2 d"].verdict == "nonconform" and "mlps.auth.uid0_only_root" in items["8.1.4.2 d"].key_failed
        assert items["8.1.4.1 b"].informational.get("mlps.auth.sshd_max_auth_tries") == "fail"
        risks = {(x["check_id"], x["rule"]["zh"]) for x in score_hosts([h])["high_risk"]}
        assert ("mlps.auth.empty_passwords", "弱口令、空口令或相同口令") in risks
        assert not any(cid == "mlps.auth.uid0_only_root" for cid, _ in risks)
    for h in compliant:
        items = host_items(h)
        assert items["8.1.4.1 a"].verdict == "conform" and items["8.1.4.1 b"].verdict == "conform"
        assert items["8.1.4.2 d"].verdict == "conform"
        assert not any(x["rule"]["zh"] == "弱口令、空口令或相同口令" for x in score_hosts([h])["high_risk"])
