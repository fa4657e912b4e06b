"""Engine pieces the patching, backup and DR packs rely on: ages against the run's start, probes
built from inventory declarations, per-outcome severity, listing parsers, and the validation of
``backup:``/``dr:`` declarations with FILE:LINE errors."""
import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from audits.inventory.load import load_inventory
from audits.model.probes import OS_PROBE, Facts, ProbeResult
from audits.collect.script import build_script
from audits.model.evaluation import evaluate_host, gather_plan, meta_only
from checks.facts import age_hours
from checks.parsers.times import parse_when
from checks.parsers.listings import ListingError, find_entries, newest_in_listing, utc_offset
from checks.registry import load_registry
from checks.testing import fixture_host

ROOT = Path(__file__).resolve().parent.parent
REG = load_registry()
START = "2026-12-01T00:00:00Z"

INVENTORY = """\
bureau: {id: b}
schools:
  - id: s1
    district: d1
    systems:
      - id: portal
        level: 3
        rpo_hours: 12
        rto_hours: 8
        backup:
          hosts: [db01]
          targets:
            - {path: /srv/backup/portal~dir}
            - {remote: "backup@dr.example:/pool", marker: /var/backups/portal.offsite}
          marker: /var/backups/portal.ok
          listing: {format: borg, file: /var/log/borg.json}
          restore_test: /var/backups/portal.restore
        dr:
          standby: {host: db02, port: 5432}
          plan_reviewed: 2026-03-01
          drill: {date: 2026-05-10, achieved_rto_hours: 6}
      - {id: wiki, level: 2}
    hosts:
      - {id: db01, address: 10.0.0.1, systems: [portal, wiki]}
      - {id: db02, address: 10.0.0.2, systems: [portal]}
      - {id: web01, address: 10.0.0.3, systems: [portal]}
"""


@pytest.fixture()
def inventory(tmp_path):
    p = tmp_path / "inv.yaml"
    p.write_text(INVENTORY)
    return load_inventory(p)


def test_declarations_reach_the_hosts_that_hold_them(inventory):
    db01, db02, web01 = (inventory.hosts[h] for h in ("db01", "db02", "web01"))
    (policy,) = db01.backup
    assert policy.rpo_hours == 12 and policy.offsite and policy.listing.format == "borg"
    assert [t.offsite for t in policy.targets] == [False, True]
    assert db01.no_backup == ("wiki",) and web01.backup == () and web01.no_backup == ()
    assert db01.dr[0].standby.address == "10.0.0.2" and db01.dr[0].drill_rto_hours == 6
    assert db02.dr == ()  # the standby itself is not judged as a primary


def test_every_probe_of_every_check_builds_into_the_script(inventory):
    """Probes built from declarations (paths with spaces, sudo) must be valid plain commands."""
    hosts = [inventory.hosts["db01"], fixture_host({"os": "debian"})]
    for host in hosts:
        probes = gather_plan(list(REG), host)
        script = build_script(probes, "0123456789abcdef", 30)
        assert script.count("\np ") == len(probes)
    assert any("'/srv/backup/portal~dir'" in p.arg for p in gather_plan(list(REG), hosts[0]))


def test_checks_with_declared_probes_do_not_run_for_unreachable_hosts():
    ids = {c.id for c in meta_only(list(REG))}
    assert not ids & {"backup.not_world_readable", "dr.standby_ready", "dr.objectives_declared", "dr.drill_recorded"}
    assert "fleet.ssh.host_key" in ids


def test_run_start_reaches_the_checks_and_ages_are_judged_against_it():
    host = fixture_host({"os": "debian", "level": 3, "systems": ["portal"],
                         "dr": {"plan_reviewed": "2026-03-01"}, "rpo_hours": 4, "rto_hours": 8})
    check = REG.by_id["dr.plan_reviewed"]
    for started, want in ((START, "pass"), ("2027-06-01T00:00:00Z", "fail"), ("2026-02-01T00:00:00Z", "error")):
        facts = Facts("x")
        facts.results[OS_PROBE] = ProbeResult("ID=debian\n", 0)
        (row,) = evaluate_host([check], facts, host, run_started=started)
        assert row["status"] == want, (started, row["message"])
        assert facts.meta["run_started"] == started
    (row,) = evaluate_host([check], Facts("y", meta={"os_family": "debian"}), host)
    assert row["status"] == "error"  # no run start: never a pass


def test_ages_refuse_future_and_unreadable_times():
    facts = Facts("x", meta={"run_started": START})
    assert age_hours(facts, "2026-11-30T23:00:00Z", "m") == (1.0, None)
    assert age_hours(facts, "2026-12-01T00:09:00Z", "m")[0] == 0.0  # within the clock skew
    for bad in ("2026-12-01T01:00:00Z", "next tuesday", "", "2026-13-01"):
        hours, err = age_hours(facts, bad, "m")
        assert hours is None and err.status.value == "error", bad


@given(st.text(max_size=60))
def test_parse_when_never_raises_on_host_text(text):
    when = parse_when(text)
    assert when is None or when.tzinfo is not None


def test_listing_parsers():
    tz = utc_offset("+0800")
    when, n = newest_in_listing("borg", '{"archives": [{"start": "2026-12-01T06:00:00.000000"}]}', tz)
    assert n == 1 and when == dt.datetime(2026, 11, 30, 22, tzinfo=dt.timezone.utc)
    when, n = newest_in_listing("restic", '[{"time": "2026-11-30T20:00:01.987654321+08:00"}]', None)
    assert when.astimezone(dt.timezone.utc).hour == 12
    assert newest_in_listing("rsync", "2026/12/01 02:00:05 [1] rsync error: x (code 23)\n", tz) == (None, 0)
    with pytest.raises(ListingError):
        newest_in_listing("restic", '{"not": "a list"}', tz)
    with pytest.raises(ListingError):
        newest_in_listing("borg", '{"archives": [{"name": "no time"}]}', tz)
    assert utc_offset("+9900") is None and utc_offset("garbage") is None
    entries = find_entries("1796076000.5 600 root f /srv/a b.tar\x001796076000 644 www-data f /srv/c\x00junk")
    assert [(e.path, e.mode) for e in entries] == [("/srv/a b.tar", 0o600), ("/srv/c", 0o644)]


def _updates_facts(pending: dict[str, tuple[str, str]]):
    from checks.packs.patching.updates import APT_LISTS, APT_SECURITY_VERSIONS, DPKG_VERSIONS

    f = Facts("x", meta={"os_family": "debian"})
    f.results[DPKG_VERSIONS] = ProbeResult("".join(f"{p} {have} ii\n" for p, (have, _) in pending.items()), 0)
    f.results[APT_LISTS] = ProbeResult("x_bookworm-security_main_binary-amd64_Packages\n", 0)
    f.results[APT_SECURITY_VERSIONS] = ProbeResult(
        "@list x_bookworm-security_main_binary-amd64_Packages\n" + "".join(f"{p} {new}\n" for p, (_, new) in pending.items()), 0)
    return f


def test_security_update_severity_depends_on_exposure_and_count():
    check = REG.by_id["patching.security_updates"]
    host = fixture_host({"os": "debian"})
    few = check.run(_updates_facts({"less": ("590-2", "590-2.1")}), host, check.params)
    assert few.status.value == "fail" and few.severity == "medium"
    exposed = check.run(_updates_facts({"libssl3": ("3.0.14-1", "3.0.15-1")}), host, check.params)
    assert exposed.severity == "high" and "[network-facing]" in exposed.evidence
    many = {f"pkg{i}": ("1.0-1", "1.0-2") for i in range(10)}
    assert check.run(_updates_facts(many), host, check.params).severity == "high"
    assert check.refs_for_level(3)[0].clause == "8.1.4.4 e" and check.refs_for_level(2)[0].clause == "7.1.4.4 e"


def test_eol_table_is_dated_and_ordered():
    from checks.packs.patching.release import eol_table

    as_of, rows = eol_table()
    assert as_of.year >= 2026 and rows
    keys = [(r["id"], r["version"]) for r in rows]
    assert len(keys) == len(set(keys))
    assert {("centos", "7"), ("debian", "10"), ("ubuntu", "18.04"), ("windows", "6.1")} <= set(keys)


BAD = """\
bureau: {id: b}
schools:
  - id: s1
    district: d1
    systems:
      - id: portal
        level: 3
        backup:
          hosts: [db09]
          targets:
            - {path: "/srv/$(reboot)"}
            - {remote: "a", path: /x}
          listing: {format: tar, file: /x}
          restore_tets: /x
        dr:
          standby: {host: nohost, port: 22}
          plan_reviewed: 2026-13-01
          drill: {date: 2026-05-10}
    hosts:
      - {id: db01, address: 10.0.0.1, systems: [portal]}
"""


def test_bad_declarations_are_file_line_field_errors_and_exit_2(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text(BAD)
    r = subprocess.run([sys.executable, "auditctl.py", "validate", str(p)], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 2
    want = [":9: schools[0].systems[0].backup.hosts[0]: host 'db09' does not serve system 'portal'",
            ":11: schools[0].systems[0].backup.targets[0].path: ",
            ":12: schools[0].systems[0].backup.targets[1]: give exactly one of path or remote",
            ":13: schools[0].systems[0].backup.listing.format: 'tar'",
            ":14: schools[0].systems[0].backup.restore_tets: unknown field",
            ":16: schools[0].systems[0].dr.standby.host: unknown standby host 'nohost'",
            ":17: schools[0].systems[0].dr.plan_reviewed: '2026-13-01' is not a date",
            ":18: schools[0].systems[0].dr.drill.achieved_rto_hours: missing required field"]
    for w in want:
        assert f"{p}{w}" in r.stderr + r.stdout, w


def test_no_backup_of_a_level3_system_caps_the_verdict_but_a_late_one_does_not():
    from audits.model.evaluation import result_row
    from reports.scoring import high_risks

    check = REG.by_id["backup.last_success"]
    facts = Facts("x", meta={"os_family": "debian", "run_started": START})
    missing = check.run(facts, fixture_host({"os": "debian", "level": 3, "systems": ["portal"], "no_backup": ["portal"]}))
    late_host = fixture_host({"os": "debian", "level": 3, "systems": ["portal"], "backup": {"marker": "/var/backups/ok"}})
    facts.results.update({p: ProbeResult(out, 0) for p, out in zip(
        sorted(check.probes_for_host(late_host) - check.probes_for("debian")),
        ["", "600 root root 0 1795824000 regular empty file\n"])})  # file:, stat: — three days old
    late = check.run(facts, late_host)
    assert (missing.status.value, missing.severity, late.status.value, late.severity) == ("fail", None, "fail", "medium")
    for out, risky in ((missing, True), (late, False)):
        row = result_row(check, out, 3)
        row["references"] = row.pop("refs")
        assert bool(high_risks({"id": "h", "results": [row]})) is risky, row


def test_a_missing_offsite_copy_is_high_only_at_level_3():
    check = REG.by_id["backup.offsite_copy"]
    facts = Facts("x", meta={"os_family": "debian", "run_started": START})
    for level, want in ((2, "medium"), (3, "high")):
        host = fixture_host({"os": "debian", "level": level, "systems": ["portal"],
                             "backup": {"targets": [{"path": "/srv/backup"}]}})
        out = check.run(facts, host, check.params)
        assert out.status.value == "fail" and (out.severity or check.severity) == want, (level, out.message)


def test_a_cron_job_is_shown_without_its_command_line():
    from checks.packs.backup.backup import CRON, TIMERS

    check = REG.by_id["backup.job_scheduled"]
    facts = Facts("x", meta={"os_family": "debian"})
    facts.results[CRON] = ProbeResult("/etc/cron.d/db:15 1 * * * root mysqldump -uroot -pS3cretPw grades | "
                                      "gzip > /srv/backup/grades-backup.sql.gz\n", 0)
    facts.results[TIMERS] = ProbeResult("", 1)
    out = check.run(facts, fixture_host({"os": "debian", "systems": ["g"], "backup": {"schedule": "grades-backup",
                                                                                       "marker": "/m"}}), check.params)
    assert out.status.value == "pass" and "S3cretPw" not in out.evidence and "mysqldump" not in out.evidence
    assert "/etc/cron.d/db: schedule 15 1 * * *" in out.evidence


def test_per_host_answers_are_computed_once_per_host_and_again_when_its_facts_change():
    """checks.facts.per_host (the PAM stacks executed once for the four lockout and four quality checks): one
    computation per host's facts; another host, a replaced result or another os family computes again."""
    from audits.model.probes import Facts, Probe, ProbeResult
    from checks.facts import per_host

    calls = []

    @per_host
    def shout(facts):
        calls.append(facts.host_id)
        return {"text": facts.get(Probe("command", "x")).stdout.upper(), "os": facts.meta.get("os_family")}

    a = Facts("a", {Probe("command", "x"): ProbeResult("one", 0)}, {"os_family": "debian"})
    b = Facts("b", {Probe("command", "x"): ProbeResult("two", 0)}, {"os_family": "debian"})
    assert shout(a) == {"text": "ONE", "os": "debian"} and shout(a) is shout(a) and shout(b)["text"] == "TWO"
    assert calls == ["a", "b"]
    a.results[Probe("command", "x")] = ProbeResult("three", 0)
    assert shout(a)["text"] == "THREE"
    a.meta["os_family"] = "rhel"
    assert shout(a)["os"] == "rhel"
    a.results[Probe("command", "y")] = ProbeResult("", 0)
    shout(a)
    assert calls == ["a", "b", "a", "a", "a"]
    assert Facts.from_json(a.to_json()).to_json() == a.to_json()   # the memo is not part of the facts
