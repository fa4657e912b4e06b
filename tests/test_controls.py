"""Frameworks as data: the GB/T 22239-2019 controls file, requirements named by checks, named probes,
Python evaluators registered by check id, and the catalogue unchanged by the move to data."""
import ast
import json
import textwrap
from pathlib import Path

import pytest

from audits.model.errors import InputError
from audits.model.probes import Facts, Probe, ProbeResult
from checks import controls, probe_catalogue
from checks.catalogue import describe
from checks.contract import Outcome, evaluator
from checks.registry import load_registry, registered
from checks.testing import fixture_host
from checks.yaml_checks import load_pack_dir, load_pack_file

ROOT = Path(__file__).resolve().parents[1]
BEFORE = ROOT / "tests" / "fixtures" / "catalogue" / "checks-list-6910996.json"


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------- the controls file
def test_requirements_expand_to_clauses_per_level():
    assert controls.references(["gbt22239:auth.a"]) == ["GB/T 22239-2019 8.1.4.1 a", "GB/T 22239-2019 7.1.4.1 a"]
    # 数据保密性 exists only at level 3; backup is numbered 8.1.4.9 at level 3 and 7.1.4.8 at level 2
    assert controls.references(["gbt22239:confidentiality.a"]) == ["GB/T 22239-2019 8.1.4.8 a"]
    assert controls.references(["gbt22239:backup.b"]) == ["GB/T 22239-2019 8.1.4.9 b", "GB/T 22239-2019 7.1.4.8 b"]
    # letters are not stable across levels: L2 应急预案管理 a is L3 b
    assert controls.references(["gbt22239:ops.emergency.b"]) == ["GB/T 22239-2019 8.1.10.13 b",
                                                                 "GB/T 22239-2019 7.1.10.13 a"]
    # '@2' cites a requirement at some levels only
    assert controls.references(["gbt22239:access.f", "gbt22239:access.a@2"]) == [
        "GB/T 22239-2019 8.1.4.2 f", "GB/T 22239-2019 7.1.4.2 a"]
    # file permissions cite 8.1.4.2 a at level 3 as well as 7.1.4.2 a (issue #15 item 1)
    shadow = load_registry().by_id["mlps.access.shadow_mode"]
    assert [str(r) for r in shadow.refs_for_level(3)] == ["GB/T 22239-2019 8.1.4.2 a", "GB/T 22239-2019 8.1.4.2 f"]
    assert [str(r) for r in shadow.refs_for_level(2)] == ["GB/T 22239-2019 7.1.4.2 a"]


@pytest.mark.parametrize("text, words", [
    ("gbt22239:auth.z", "has no requirement 'auth.z'; auth has auth.a, auth.b, auth.c, auth.d"),
    ("cis:1.1", "unknown framework 'cis'"),
    ("gbt22239:auth.d@2", "has no clause at level 2"),
    ("8.1.4.1 a", "must look like 'gbt22239:auth.a'"),
])
def test_bad_requirement_names_say_what_is_wrong(text, words):
    with pytest.raises(ValueError) as e:
        controls.parse_requirement(text)
    assert words in str(e.value)


def test_scoring_tables_come_from_the_controls_file():
    from reports.scoring import item_table, point_of

    fw = controls.framework("gbt22239")
    table = item_table()
    assert len(table.weights[3]) == 34 and len(table.weights[2]) == 23  # mlps-reference.md §2 item counts
    assert table.weights[3]["8.1.4.1 c"] == fw.requirements["auth.c"].weight[3] == 1.0
    # trigger levels are data: auth.c fires at 2 and 3 (附录G A-24), audit.a at 3 only (mlps-reference §5.5)
    assert "7.1.4.1 c" in table.high_risk and "7.1.4.3 a" not in table.high_risk and "8.1.4.3 a" in table.high_risk
    assert table.high_risk["7.1.4.1 a"]["en"] == "weak, empty or shared password"
    assert point_of("7.1.4.9 a") == "10" and fw.requirements["residual.a"].point.zh == "剩余信息保护"
    # management clauses are described but not scored
    assert "8.1.10.13 b" not in table.weights[3] and controls.references(["gbt22239:ops.backup.c"])
    assert all(fw.requirements[r].key == (max(fw.requirements[r].weight.values(), default=0) == 1.0)
               for r in fw.requirements)


def test_controls_file_errors_name_file_line_and_field(tmp_path):
    f = write(tmp_path / "bad.yaml", """\
        framework: local
        standard: Local Baseline-2026
        control_points:
          auth: {clause: {any: "1"}, zh: 鉴别, en: Authentication}
        requirements:
          auth.a: {clause: {any: "1.1"}, weight: {any: 2}}
          nope.a: {clause: {any: "9.1"}}
          auth.b: {clause: {7: "1.2"}, colour: red}
        """)
    with pytest.raises(InputError) as e:
        controls.load_framework_file(f)
    text = str(e.value)
    assert f"{f}:6: requirements.auth.a.weight: a weight is a number in (0, 1]" in text
    assert f"{f}:7: requirements.nope.a: no control point 'nope'" in text
    assert f"{f}:8: requirements.auth.b.clause.7: a level is 1–5 or 'any'" in text
    assert f"{f}:8: requirements.auth.b.colour: unknown field" in text


def test_evidence_roles_name_checks_that_exist_and_cite_the_requirement(tmp_path, monkeypatch):
    """A controls file's evidence: a check that does not exist, or does not cite the requirement, is a load error
    at the controls file's FILE:LINE; so is an unknown role or a check named twice."""
    fw = controls.framework("gbt22239")
    assert fw.role_of("auth.c", "mlps.auth.plaintext_remote_mgmt") == "key"
    assert fw.role_of("auth.c", "fleet.ssh.host_key") == "informational"
    assert fw.role_of("auth.c", "mlps.confidentiality.ssh_kex") == "supporting"
    assert fw.requirements["malware.a"].raises("mlps.malware.signatures_fresh")
    assert not fw.requirements["auth.a"].raises("mlps.auth.uid0_only_root")
    from checks.catalogue import roles   # the catalogue shows each check's role per item
    reg = load_registry()
    assert roles(reg.by_id["fleet.ssh.host_key"]) == ["gbt22239:auth.c informational"]
    assert roles(reg.by_id["mlps.malware.signatures_fresh"]) == ["gbt22239:malware.a trigger"]
    assert roles(reg.by_id["mlps.auth.uid0_only_root"]) == ["gbt22239:auth.a supporting", "gbt22239:access.d key"]
    src = (controls.FRAMEWORKS_DIR / "gbt22239-2019.yaml").read_text(encoding="utf-8")
    bad = src.replace("key: [mlps.auth.multi_factor, devices.auth.multi_factor]", "key: [mlps.auth.multi_factr, mlps.auth.lockout_enabled]")
    assert bad != src
    f = tmp_path / "gbt22239-2019.yaml"
    f.write_text(bad, encoding="utf-8")
    line = next(i for i, t in enumerate(bad.splitlines(), 1) if "mlps.auth.multi_factr" in t)
    monkeypatch.setattr(controls, "FRAMEWORKS_DIR", tmp_path)
    controls.frameworks.cache_clear()
    try:
        with pytest.raises(InputError) as e:
            load_registry(refresh=True)
        text = str(e.value)
        assert f"{f}:{line}: requirements.auth.d.evidence.key: no check 'mlps.auth.multi_factr'" in text
        assert "did you mean" in text and "mlps.auth.multi_factor" in text
        assert f"{f}:{line}: requirements.auth.d.evidence.key: mlps.auth.lockout_enabled does not cite gbt22239:auth.d" in text
        f.write_text(src.replace("key: [mlps.auth.multi_factor, devices.auth.multi_factor]", "kee: [mlps.auth.multi_factor]"), encoding="utf-8")
        controls.frameworks.cache_clear()
        with pytest.raises(InputError) as e:
            controls.frameworks()
        assert f"{f}:{line}: requirements.auth.d.evidence.kee: unknown field" in str(e.value)
    finally:
        monkeypatch.undo()
        controls.frameworks.cache_clear()
        load_registry(refresh=True)


def test_a_second_framework_is_a_second_file(tmp_path, monkeypatch):
    for f in controls.FRAMEWORKS_DIR.glob("*.yaml"):
        (tmp_path / f.name).write_bytes(f.read_bytes())
    write(tmp_path / "school-baseline.yaml", """\
        framework: nanhu
        standard: NH-SEC-2026
        control_points:
          acct: {clause: {any: "3"}, zh: 账户, en: Accounts}
        requirements:
          acct.a: {clause: {any: "3.1"}}
        """)
    monkeypatch.setattr(controls, "FRAMEWORKS_DIR", tmp_path)
    controls.frameworks.cache_clear()
    try:
        assert controls.references(["nanhu:acct.a", "gbt22239:auth.b"]) == [
            "NH-SEC-2026 3.1", "GB/T 22239-2019 8.1.4.1 b", "GB/T 22239-2019 7.1.4.1 b"]
        pack = tmp_path / "pack"
        pack.mkdir()
        write(pack / "local.yaml", """\
            checks:
              - id: local.motd
                title: {zh: 登录提示, en: Login banner}
                severity: low
                requires: [nanhu:acct.a]
                probe: file:/etc/motd
            """)
        (check,) = load_pack_dir(pack)
        assert [str(r) for r in check.refs] == ["NH-SEC-2026 3.1"] and check.levels == (1, 2, 3, 4)
    finally:
        controls.frameworks.cache_clear()


# ------------------------------------------------------------------------------------- checks as data
def test_every_builtin_check_names_requirements_and_no_clause_numbers():
    for c in load_registry():
        assert c.requires, c.id
        assert [str(r) for r in c.refs] == controls.references(c.requires), c.id
    for f in (ROOT / "checks" / "packs").rglob("*.yaml"):
        assert "refs:" not in f.read_text(), f"{f}: name requirements (requires:), not clauses"


def test_no_pack_python_holds_check_metadata():
    """Titles, rationale and remediation live in the packs' YAML; Python holds evaluation only."""
    texts = {"title", "rationale", "remediation", "attest", "refs", "requires", "severity"}
    for f in (ROOT / "checks" / "packs").rglob("*.py"):
        tree = ast.parse(f.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                assert getattr(node.func, "id", None) != "check", f"{f}:{node.lineno}: @check in a built-in pack"
                bad = [k.arg for k in node.keywords if k.arg in texts]
                assert not bad, f"{f}:{node.lineno}: {bad} belong in the pack's YAML"
            if isinstance(node, ast.Dict):
                keys = {k.value for k in node.keys if isinstance(k, ast.Constant)}
                assert not keys & {"rationale", "remediation"}, f"{f}:{node.lineno}: texts belong in the YAML"


def test_catalogue_is_what_it_was_before_the_move():
    """`auditctl checks list --json` as captured on main 6910996 before the metadata moved to YAML: every
    check of then still exists. Issue 15 changes checks' verdict logic, probes and texts on purpose (checks
    that can fail on host evidence, clause fixes), so only the set of checks is still compared; each
    change is covered by its check's fixtures."""
    before = {c["id"] for c in json.loads(BEFORE.read_text(encoding="utf-8"))}
    after = {c.id for c in load_registry()}
    assert before <= after, sorted(before - after)


# ------------------------------------------------------------------------------------- evaluators and probes
PACK = """\
    checks:
      - id: local.banner
        title: {zh: 登录提示存在, en: Login banner present}
        severity: low
        requires: [gbt22239:auth.a]
        probes: [shadow, "file:/etc/issue.net"]
        params: {word: 授权}
      - id: local.pam
        title: {zh: PAM, en: PAM}
        severity: low
        requires: [gbt22239:auth.a@3]
        probes: {debian: [pam], rhel: [pam]}
    """


def test_python_evaluator_pairs_with_its_yaml_entry_by_id(tmp_path):
    @evaluator("local.banner")
    def banner(facts, host, params):
        text = facts.get(Probe("file", "/etc/issue.net")).stdout
        return Outcome.passed("有", "present") if params["word"] in text else Outcome.failed("无", "missing")

    @evaluator("local.pam")
    def pam(facts, host):
        return Outcome.passed("有", "present")

    write(tmp_path / "local.yaml", PACK)
    checks = {c.id: c for c in load_pack_dir(tmp_path, {"local.banner": banner, "local.pam": pam})}
    banner_check, pam_check = checks["local.banner"], checks["local.pam"]
    assert banner_check.probes["any"] == (probe_catalogue.named("shadow"), Probe("file", "/etc/issue.net"))
    assert pam_check.probes["debian"] == (probe_catalogue.named("pam", "debian"),)
    assert pam_check.levels == (3,) and [str(r) for r in pam_check.refs] == ["GB/T 22239-2019 8.1.4.1 a"]
    host = fixture_host({"level": 2, "os": "debian"})
    facts = Facts("h", {Probe("file", "/etc/issue.net"): ProbeResult("仅限授权用户\n", 0, "")})
    assert banner_check.run(facts, host).status.value == "pass"
    assert banner_check.run(facts, host, {"word": "warning"}).status.value == "fail"
    assert pam_check.run(facts, host).status.value == "not_applicable"  # cited at level 3 only


def test_entry_and_evaluator_mismatches_are_errors(tmp_path):
    write(tmp_path / "local.yaml", PACK)

    @evaluator("local.banner")
    def banner(facts, host):
        return Outcome.passed()

    @evaluator("local.gone")
    def gone(facts, host):
        return Outcome.passed()

    with pytest.raises(InputError) as e:
        load_pack_dir(tmp_path, {"local.banner": banner, "local.gone": gone})
    text = str(e.value)
    assert "checks[1].probes: 'probes' is for checks evaluated by Python; no @evaluator('local.pam')" in text
    write(tmp_path / "local.yaml", PACK.replace("checks:\n", "checks:\n", 1).split("  - id: local.pam")[0])
    with pytest.raises(InputError) as e:
        load_pack_dir(tmp_path, {"local.banner": banner, "local.gone": gone})
    assert "@evaluator: no YAML entry for check 'local.gone'" in str(e.value)


def test_unknown_probe_names_and_requirements_name_file_and_line(tmp_path):
    f = write(tmp_path / "local.yaml", """\
        checks:
          - id: local.x
            title: {zh: x, en: x}
            severity: low
            requires: [gbt22239:auth.q]
            probes: [no_such_probe]
        """)
    with pytest.raises(InputError) as e:
        load_pack_file(f, {"local.x": lambda facts, host: Outcome.passed()})
    text = str(e.value)
    assert f"{f}:5: checks[0].requires: GB/T 22239-2019 has no requirement 'auth.q'" in text
    assert f"{f}:6: checks[0].probes: unknown probe name 'no_such_probe'" in text


def test_registered_finds_only_a_modules_own_functions():
    import types

    mod = types.ModuleType("checks.packs.demo.x")

    @evaluator("demo.a")
    def a(facts, host):
        return Outcome.passed()

    a.__module__ = mod.__name__
    mod.a = a
    other = types.ModuleType("checks.packs.demo.y")
    other.a = a  # imported, not defined there
    evaluators, declared, problems = registered([mod, other])
    assert evaluators == {"demo.a": a} and declared == {} and problems == []


def test_named_probes_are_defined_once():
    cat = probe_catalogue.catalogue()
    assert cat["shadow"] == {"any": Probe("file", "/etc/shadow", True)}
    assert set(cat["pam"]) == {"debian", "rhel"}
    with pytest.raises(KeyError, match="unknown probe name 'nope'"):
        probe_catalogue.named("nope")
    with pytest.raises(KeyError, match="has variants for debian, rhel"):
        probe_catalogue.named("pam")


def test_probes_files_errors_name_file_line_and_field(tmp_path, monkeypatch):
    shared = write(tmp_path / "probes.yaml", """\
        probes:
          passwd: file:/etc/passwd
          motd: file:/etc/motd
        """)
    pack = tmp_path / "packs" / "local"
    pack.mkdir(parents=True)
    local = write(pack / "probes.yaml", """\
        probes:
          passwd: file:/etc/passwd
          motd: file:/etc/issue
          Bad-Name: file:/x
          odd: bogus:/x
        """)
    monkeypatch.setattr(probe_catalogue, "SHARED_FILE", shared)
    monkeypatch.setattr(probe_catalogue, "PACKS_DIR", tmp_path / "packs")
    probe_catalogue.catalogue.cache_clear()
    try:
        with pytest.raises(InputError) as e:
            probe_catalogue.catalogue()
        text = str(e.value)
        assert f"{local}:4: probes.Bad-Name: a probe name is lower case letters, digits and _" in text
        assert f"{local}:5: probes.odd: unknown probe kind 'bogus'" in text
        write(pack / "probes.yaml", "probes:\n  passwd: file:/etc/passwd\n  motd: file:/etc/issue\n")
        probe_catalogue.catalogue.cache_clear()
        with pytest.raises(InputError) as e:
            probe_catalogue.catalogue()
        assert str(e.value) == f"{local}:3: probes.motd: also defined differently at {shared}:3"  # same passwd: fine
    finally:
        probe_catalogue.catalogue.cache_clear()
