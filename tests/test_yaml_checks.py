"""The YAML check form: grammar, parameters, and load errors with file and line."""
import textwrap

import pytest

from audits.model.errors import InputError
from audits.model.probes import Facts, Probe, ProbeResult
from checks.testing import fixture_host
from checks.yaml_checks import load_pack_file


def write(tmp_path, text, name="pack.yaml"):
    p = tmp_path / name
    p.write_text(textwrap.dedent(text), encoding="utf-8")
    return p


def facts_with(probe, stdout, rc=0, stderr="", os_family="debian"):
    f = Facts("h", {probe: ProbeResult(stdout, rc, stderr)})
    f.meta["os_family"] = os_family
    return f


GOOD = """\
checks:
  - id: local.umask
    title: {zh: 默认 umask 为 027, en: Default umask is 027}
    severity: low
    refs: ["GB/T 22239-2019 8.1.4.2 d"]
    probe: {debian: "file:/etc/login.defs", rhel: "file:/etc/login.defs.rh"}
    parse: keyvalue
    params: {umask: "027"}
    expect:
      - {key: UMASK, eq: {param: umask}}
      - {key: PASS_WARN_AGE, ge: 7, default: 0}
"""


def test_yaml_check_passes_and_fails_on_recorded_facts(tmp_path):
    check = load_pack_file(write(tmp_path, GOOD))[0]
    host = fixture_host({"level": 3, "os": "debian"})
    probe = Probe("file", "/etc/login.defs")
    assert check.run(facts_with(probe, "UMASK 027\nPASS_WARN_AGE 7\n"), host).status.value == "pass"
    out = check.run(facts_with(probe, "UMASK 022\nPASS_WARN_AGE 7\n"), host)
    assert out.status.value == "fail"
    assert "UMASK 022" in out.evidence and "022" in out.message.en
    # missing key falls back to its default (0 < 7) and fails
    assert check.run(facts_with(probe, "UMASK 027\n"), host).status.value == "fail"


def test_plan_parameters_override_defaults(tmp_path):
    check = load_pack_file(write(tmp_path, GOOD))[0]
    host = fixture_host({"level": 3, "os": "debian"})
    f = facts_with(Probe("file", "/etc/login.defs"), "UMASK 022\nPASS_WARN_AGE 9\n")
    assert check.run(f, host).status.value == "fail"
    assert check.run(f, host, {"umask": "022"}).status.value == "pass"


def test_os_family_picks_the_probe(tmp_path):
    check = load_pack_file(write(tmp_path, GOOD))[0]
    assert check.probes_for("rhel") == {Probe("file", "/etc/login.defs.rh")}
    assert len(check.probes_for("auto")) == 2  # os unknown: gather both, decide after the OS probe
    host = fixture_host({"level": 3, "os": "rhel"})
    f = facts_with(Probe("file", "/etc/login.defs.rh"), "UMASK 027\nPASS_WARN_AGE 7\n", os_family="rhel")
    assert check.run(f, host).status.value == "pass"


def test_probe_errors_are_errors_not_passes(tmp_path):
    check = load_pack_file(write(tmp_path, GOOD))[0]
    host = fixture_host({"level": 3, "os": "debian"})
    f = Facts("h", {Probe("file", "/etc/login.defs"): ProbeResult(error="probe timed out")})
    f.meta["os_family"] = "debian"
    assert check.run(f, host).status.value == "error"
    denied = facts_with(Probe("file", "/etc/login.defs"), "", rc=1, stderr="cat: /etc/login.defs: Permission denied")
    assert check.run(denied, host).status.value == "error"
    absent = facts_with(Probe("file", "/etc/login.defs"), "", rc=1, stderr="cat: x: No such file or directory")
    assert check.run(absent, host).status.value == "not_applicable"


def test_lines_mode_owner_and_exists_conditions(tmp_path):
    checks = load_pack_file(write(tmp_path, """\
        checks:
          - id: local.no_nis
            title: 无 NIS 条目
            severity: medium
            refs: ["GB/T 22239-2019 7.1.4.1 a"]
            probe: file:/etc/passwd
            expect: [{lines: none, regex: '^\\+'}]
          - id: local.cron_mode
            title: {zh: cron 权限, en: cron mode}
            severity: low
            refs: ["GB/T 22239-2019 8.1.4.2 f"]
            probe: stat:/etc/crontab
            parse: stat
            expect: [{mode_max: "0600", owner: root}]
          - id: local.no_rhosts
            title: {zh: 无 hosts.equiv, en: no hosts.equiv}
            severity: high
            refs: ["GB/T 22239-2019 8.1.4.1 a"]
            probe: file:/etc/hosts.equiv
            expect: [{exists: false}]
        """))
    host = fixture_host({"level": 3, "os": "debian"})
    nis, cron, rhosts = checks
    assert nis.run(facts_with(Probe("file", "/etc/passwd"), "root:x:0:0::/:/bin/sh\n"), host).status.value == "pass"
    bad = nis.run(facts_with(Probe("file", "/etc/passwd"), "root:x:0:0::/:/bin/sh\n+::::::\n"), host)
    assert bad.status.value == "fail" and "+::::::" in bad.evidence
    st = Probe("stat", "/etc/crontab")
    assert cron.run(facts_with(st, "600 root root 1 1 regular file"), host).status.value == "pass"
    assert cron.run(facts_with(st, "644 root root 1 1 regular file"), host).status.value == "fail"
    assert cron.run(facts_with(st, "600 bin root 1 1 regular file"), host).status.value == "fail"
    eq = Probe("file", "/etc/hosts.equiv")
    assert rhosts.run(facts_with(eq, "", 1, "No such file or directory"), host).status.value == "pass"
    assert rhosts.run(facts_with(eq, "+ +\n"), host).status.value == "fail"


def test_level_and_role_applicability(tmp_path):
    check = load_pack_file(write(tmp_path, GOOD.replace("    parse: keyvalue", "    parse: keyvalue\n    applies: {levels: [3], roles: [web]}")))[0]
    f = facts_with(Probe("file", "/etc/login.defs"), "UMASK 022\n")
    assert check.run(f, fixture_host({"level": 2, "roles": ["web"]})).status.value == "not_applicable"
    assert check.run(f, fixture_host({"level": 3, "roles": ["db"]})).status.value == "not_applicable"
    assert check.run(f, fixture_host({"level": 3, "roles": ["web"]})).status.value == "fail"


def test_level_picks_the_clause_twin():
    from checks.registry import load_registry

    c = load_registry().by_id["mlps.access.sshd_root_login"]
    assert [str(r) for r in c.refs_for_level(3)] == ["GB/T 22239-2019 8.1.4.2 b"]
    assert [str(r) for r in c.refs_for_level(2)] == ["GB/T 22239-2019 7.1.4.2 b"]


def test_load_errors_name_file_line_and_field(tmp_path):
    p = write(tmp_path, """\
        checks:
          - id: local.x
            title: x
            severty: high
            refs: ["GB/T 22239-2019 8.1.4.1 a"]
            probe: file:/etc/x
            parse: keyvalues
            expect:
              - {key: A, eq: 1, le: 2}
              - {key: B, eq: {param: nope}}
              - {lines: some, regex: x}
              - {key: C, regex: '(unclosed'}
          - id: local.y
            title: y
            severity: urgent
            refs: ["22239 8.1"]
            probe: bogus:/x
        """)
    with pytest.raises(InputError) as e:
        load_pack_file(p)
    text = str(e.value)
    f = str(p)
    assert f"{f}:4: checks[0].severty: unknown field (did you mean 'severity'?)" in text
    assert f"{f}:2: checks[0].severity: missing required field" in text
    assert f"{f}:7: checks[0].parse: unknown parser (did you mean 'keyvalue'?)" in text
    assert f"{f}:9: checks[0].expect[0]: a key condition needs exactly one of" in text
    assert f"{f}:10: checks[0].expect[1].eq: unknown parameter 'nope'" in text
    assert f"{f}:11: checks[0].expect[2]: a lines condition is" in text
    assert f"{f}:12: checks[0].expect[3].regex: bad regular expression" in text
    assert f"{f}:15: checks[1].severity: 'urgent' is not one of" in text
    assert f"{f}:16: checks[1].refs: reference '22239 8.1' must look like" in text


def test_bad_probe_kind_is_reported_with_line(tmp_path):
    p = write(tmp_path, GOOD.replace('probe: {debian: "file:/etc/login.defs", rhel: "file:/etc/login.defs.rh"}',
                                     "probe: bogus:/x"))
    with pytest.raises(InputError) as e:
        load_pack_file(p)
    assert f"{p}:2: checks[0]: unknown probe kind 'bogus'" in str(e.value)
