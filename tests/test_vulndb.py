"""The local vulnerability database: each feed format imported from small hand-written fixtures
(tests/fixtures/vulndb/), matching rules per distribution (source vs binary names, epochs, binNMUs, the
running kernel, not affected / unfixed / no-DSA / end of life / Ubuntu Pro / CentOS 7), hostile input
refused with nothing half-imported, the enricher feeding patching.known_vulnerabilities, and
``auditctl vulndb import`` + ``auditctl run`` on this machine producing CVE ids in the JSON and HTML."""
from __future__ import annotations

import bz2
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from audits.model.probes import OS_PROBE, Facts, ProbeResult
from audits.patchdata import feeds, vulnmatch
from audits.patchdata.feeds import FeedError
from audits.patchdata.hostpkgs import dpkg_sources, rpm_sources
from audits.patchdata.releases import host_release
from audits.patchdata.vulndb import VulnDB
from checks.probe_catalogue import named
from checks.testing import fixture_host

ROOT = Path(__file__).resolve().parent.parent
FIX = ROOT / "tests" / "fixtures" / "vulndb"


@pytest.fixture
def db(tmp_path):
    d = VulnDB(tmp_path / "v.sqlite")
    d.import_file(FIX / "tracker.json", as_of="2026-03-01T06:00:00Z")
    for f in ("osv-debian-CVE-2099-0001.json", "osv-ubuntu-USN-9999-1.json", "osv-openeuler.json", "csaf",
              "openeuler-cvrf.xml"):
        d.import_file(FIX / f)
    yield d
    d.close()


def _count(d: VulnDB) -> int:
    return d.conn.execute("SELECT count(*) FROM advisory").fetchone()[0]


def _by_id(result: dict) -> dict:
    return {(f["pkg"], f["vuln_id"]): f for f in result["findings"]}


# -- the manifest -----------------------------------------------------------------------------------
def test_every_import_has_a_manifest_with_source_date_checksum_and_count(db):
    recs = {r.file.rsplit("/", 1)[-1]: r for r in db.imports()}
    t = recs["tracker.json"]
    assert t.source == "debian-tracker" and t.format == "tracker" and t.full == 1
    assert t.sha256 == hashlib.sha256((FIX / "tracker.json").read_bytes()).hexdigest()
    assert t.as_of == "2026-03-01T06:00:00Z" and t.as_of_basis == "given (--as-of)"
    assert t.records == _count_source(db, "debian-tracker")
    c = recs["csaf"]
    assert c.source == "redhat-csaf" and c.documents == 3 and c.as_of == "2099-02-21T10:00:00Z"
    assert c.as_of_basis == "document"
    assert recs["openeuler-cvrf.xml"].releases == "openeuler:22.03-LTS-SP2,openeuler:24.03-LTS"


def _count_source(d, source):
    return d.conn.execute("SELECT count(*) FROM advisory WHERE source=?", (source,)).fetchone()[0]


def test_tracker_tags_map_to_statuses(db):
    rows = {(r[0], r[1], r[2]): r[3:] for r in db.conn.execute(
        "SELECT release, pkg, vuln_id, status, fixed_version, released, note FROM advisory WHERE source='debian-tracker'")}
    assert rows[("debian:12", "openssl", "CVE-2099-0001")] == ("fixed", "3.0.13-1~deb12u1", 1, "")
    assert rows[("debian:12", "openssl", "CVE-2099-0002")][0] == "not_affected"          # fixed_version "0"
    assert rows[("debian:12", "openssl", "CVE-2099-0003")][:3] == ("fixed", "3.0.14-1~deb12u1", 0)  # not in the suites yet
    assert rows[("debian:12", "tiff", "CVE-2099-0030")][0] == "fix_deferred"             # no-dsa postponed
    assert rows[("debian:12", "tiff", "CVE-2099-0031")][0] == "will_not_fix"             # no-dsa ignored
    assert rows[("debian:12", "chromium", "CVE-2099-0040")][0] == "end_of_life"
    assert rows[("debian:12", "glibc", "TEMP-0000000-AAAAAA")][0] == "undetermined"
    assert not [k for k in rows if k[0] not in ("debian:11", "debian:12")]                # sid is not a release


# -- matching: Debian -------------------------------------------------------------------------------
DEB_HOST = "\n".join("\t".join(f) for f in [
    ("libssl3:amd64", "ii ", "3.0.11-1~deb12u2", "openssl", "3.0.11-1~deb12u2"),
    ("openssl", "ii ", "3.0.11-1~deb12u2", "openssl", "3.0.11-1~deb12u2"),
    ("openssh-server", "ii ", "1:9.2p1-2+deb12u3", "openssh", "1:9.2p1-2+deb12u3"),
    ("bash", "ii ", "5.2.15-2+b8", "bash", "5.2.15-2"),                  # a binNMU: judged by its source version
    ("libtiff6:amd64", "ii ", "4.5.0-6+deb12u1", "tiff", "4.5.0-6+deb12u1"),
    ("libc6:amd64", "ii ", "2.36-9+deb12u4", "glibc", "2.36-9+deb12u4"),
    ("chromium", "ii ", "120.0.6099.224-1~deb12u1", "chromium", "120.0.6099.224-1~deb12u1"),
    ("linux-image-6.1.0-25-amd64", "ii ", "6.1.106-3", "linux", "6.1.106-3"),
    ("linux-image-6.1.0-28-amd64", "ii ", "6.1.119-1", "linux", "6.1.119-1"),
    ("oldtool", "rc ", "1.0-1", "oldtool", "1.0-1"),
]) + "\n"


def test_debian_host_matched_by_source_package_and_version(db):
    r = vulnmatch.match(db, "debian", "debian:12", "debian", dpkg_sources(DEB_HOST), "6.1.0-28-amd64")
    assert r["available"] and r["source"] == "debian-tracker" and r["as_of"] == "2026-03-01T06:00:00Z"
    f = _by_id(r)
    assert f[("openssl", "CVE-2099-0001")]["state"] == "fixable"
    assert f[("openssl", "CVE-2099-0001")]["binaries"] == ["libssl3", "openssl"]
    assert f[("openssl", "CVE-2099-0003")]["state"] == "not_released"
    assert ("openssl", "CVE-2099-0002") not in f and r["notes"]["not_affected"] == 1
    assert f[("openssh", "CVE-2099-0010")]["state"] == "fixable"           # epoch 1: 1:…deb12u3 < 1:…deb12u5
    assert f[("openssh", "CVE-2099-0011")]["state"] == "unfixed"
    assert f[("bash", "CVE-2099-0020")]["installed"] == "5.2.15-2"         # source version, not 5.2.15-2+b8
    assert f[("tiff", "CVE-2099-0030")]["state"] == "unfixed"
    assert ("tiff", "CVE-2099-0031") not in f and r["notes"]["will_not_fix"] == 1   # ignored: a note
    assert ("glibc", "TEMP-0000000-AAAAAA") not in f and r["notes"]["undetermined"] == 1
    assert f[("chromium", "CVE-2099-0040")]["state"] == "no_support"
    assert ("linux", "CVE-2099-0050") not in f                             # the running kernel 6.1.119-1 is fixed


def test_only_the_running_kernel_is_judged(db):
    r = vulnmatch.match(db, "debian", "debian:12", "debian", dpkg_sources(DEB_HOST), "6.1.0-25-amd64")
    assert _by_id(r)[("linux", "CVE-2099-0050")]["installed"] == "6.1.106-3"


def test_a_binary_versioned_apart_from_its_source_is_judged_by_the_source(tmp_path):
    # gcc 4:12.2.0-3 comes from gcc-defaults 1.203: by the binary's version it would look far above the fix
    feed = {"gcc-defaults": {"CVE-2099-0060": {"releases": {"bookworm": {
        "status": "resolved", "fixed_version": "1.204", "urgency": "low", "repositories": {"bookworm-security": "1.204"}}}}}}
    (tmp_path / "t.json").write_text(json.dumps(feed))
    d = VulnDB(tmp_path / "v.sqlite")
    d.import_file(tmp_path / "t.json", as_of="2026-03-01")
    host = "gcc\tii \t4:12.2.0-3\tgcc-defaults\t1.203\n"
    r = vulnmatch.match(d, "debian", "debian:12", "debian", dpkg_sources(host))
    assert [(f["vuln_id"], f["installed"], f["state"]) for f in r["findings"]] == [("CVE-2099-0060", "1.203", "fixable")]


def test_a_release_no_feed_covers_is_said_so(db):
    r = vulnmatch.match(db, "ubuntu", "ubuntu:24.04", "debian", dpkg_sources(DEB_HOST))
    assert r["available"] is False and "ubuntu:24.04" in r["reason"]


def test_the_tracker_is_preferred_to_osv_for_debian(db):
    assert vulnmatch.choose_source(db, "debian", "debian:12") == ("debian-tracker", "debian:12", False)


def test_ubuntu_from_osv_and_pro_only_fixes(db):
    host = "curl\tii \t7.81.0-1ubuntu1.15\tcurl\t7.81.0-1ubuntu1.15\nlibcurl4:amd64\tii \t7.81.0-1ubuntu1.15\tcurl\t7.81.0-1ubuntu1.15\n"
    r = vulnmatch.match(db, "ubuntu", "ubuntu:22.04", "debian", dpkg_sources(host))
    f = _by_id(r)
    assert f[("curl", "CVE-2099-0101")]["state"] == "fixable" and f[("curl", "CVE-2099-0101")]["advisories"] == "USN-9999-1"
    assert f[("curl", "CVE-2099-0102")]["binaries"] == ["curl", "libcurl4"]
    old = "curl\tii \t7.58.0-2ubuntu3.24\tcurl\t7.58.0-2ubuntu3.24\n"
    r = vulnmatch.match(db, "ubuntu", "ubuntu:18.04", "debian", dpkg_sources(old))
    assert {f["state"] for f in r["findings"]} == {"not_released"}
    assert "Ubuntu Pro" in r["findings"][0]["note"]


# -- matching: RPM ----------------------------------------------------------------------------------
def _rpm(*rows):
    return "".join("\t".join(r) + "\n" for r in rows)


def test_rhel_by_binary_name_with_epochs(db):
    host = _rpm(("pam", "0", "1.5.1", "19.el9", "x86_64", "pam-1.5.1-19.el9.src.rpm", "Red Hat, Inc."),
                ("openssl-libs", "1", "3.0.7", "27.el9", "x86_64", "openssl-3.0.7-27.el9.src.rpm", "Red Hat, Inc."),
                ("gpg-pubkey", "(none)", "fd431d51", "4ae0493b", "(none)", "(none)", "(none)"))
    r = vulnmatch.match(db, "rhel", "rhel:9", "rhel", rpm_sources(host))
    f = _by_id(r)
    assert f[("pam", "CVE-2099-0201")]["state"] == "fixable" and f[("pam", "CVE-2099-0201")]["advisories"] == "RHSA-2099:0201"
    assert f[("openssl-libs", "CVE-2099-0202")]["fixed_version"] == "1:3.0.7-28.el9_4"
    assert f[("openssl-libs", "CVE-2099-0202")]["severity"] == "high"       # Important
    fixed = _rpm(("openssl-libs", "1", "3.0.7", "28.el9_4", "x86_64", "openssl-3.0.7-28.el9_4.src.rpm", "Red Hat, Inc."))
    assert vulnmatch.match(db, "rhel", "rhel:9", "rhel", rpm_sources(fixed))["findings"] == []


def test_a_rebuild_borrows_red_hat_data_and_its_release_tag_is_folded(db):
    host = _rpm(("openssl-libs", "1", "3.0.7", "27.el9_4.rocky.0.1", "x86_64", "openssl-3.0.7-27.el9_4.rocky.0.1.src.rpm", "Rocky"),
                ("pam", "0", "1.5.1", "21.el9_5.rocky.0.2", "x86_64", "pam-1.5.1-21.el9_5.rocky.0.2.src.rpm", "Rocky"))
    r = vulnmatch.match(db, "rocky", "rocky:9", "rhel", rpm_sources(host))
    assert r["borrowed"] is True and r["feed_release"] == "rhel:9"
    assert sorted(_by_id(r)) == [("openssl-libs", "CVE-2099-0202")]        # pam 21.el9_5.rocky.0.2 ≥ 21.el9_5


def test_centos7_fixes_after_its_end_of_life_never_reach_it(db):
    host = _rpm(("bash", "0", "4.2.46", "34.el7", "x86_64", "bash-4.2.46-34.el7.src.rpm", "CentOS"),
                ("openssl-libs", "1", "1.0.2k", "25.el7_9", "x86_64", "openssl-1.0.2k-25.el7_9.src.rpm", "CentOS"),
                ("pam", "0", "1.1.8", "23.el7", "x86_64", "pam-1.1.8-23.el7.src.rpm", "CentOS"))
    r = vulnmatch.match(db, "centos", "centos:7", "rhel", rpm_sources(host))
    f = _by_id(r)
    assert f[("bash", "CVE-2099-0203")]["state"] == "fixable"               # fixed in 2023, before the end
    assert f[("openssl-libs", "CVE-2099-0202")]["state"] == "eol"           # an ELS fix of 2025
    assert f[("pam", "CVE-2099-0201")]["state"] == "no_support"             # out of support scope


def test_openeuler_by_source_rpm_cvrf_preferred(db):
    osrel = {"ID": "openEuler", "VERSION": "22.03 (LTS-SP2)", "VERSION_ID": "22.03"}
    distro, release, _ = host_release(osrel)
    assert (distro, release) == ("openeuler", "openeuler:22.03-LTS-SP2")
    host = _rpm(("openssl-libs", "1", "1.1.1m", "25.oe2203sp2", "x86_64", "openssl-1.1.1m-25.oe2203sp2.src.rpm", "openEuler"),
                ("openssh", "0", "8.8p1", "21.oe2203sp2", "x86_64", "openssh-8.8p1-21.oe2203sp2.src.rpm", "openEuler"))
    r = vulnmatch.match(db, distro, release, "rhel", rpm_sources(host))
    assert r["source"] == "openeuler-cvrf"
    f = _by_id(r)
    # CVRF has no epochs: the host's epoch 1 stands, and 25 < 28
    assert f[("openssl", "CVE-2099-0401")]["state"] == "fixable" and f[("openssl", "CVE-2099-0401")]["binaries"] == ["openssl-libs"]


# -- versions ---------------------------------------------------------------------------------------
DEB_PAIRS = [("1.0-1", "1.0-2"), ("1:1.0-1", "2.0-1"), ("1.0~rc1-1", "1.0-1"), ("3.0.11-1~deb12u2", "3.0.13-1~deb12u1"),
             ("2.36-9+deb12u9", "2.36-9+deb12u10"), ("5.2.15-2+b8", "5.2.15-2+deb12u1"), ("5.2.15-2", "5.2.15-2+b1"),
             ("1.0", "1.0-0"), ("1.0+dfsg-1", "1.0-1"), ("7.81.0-1ubuntu1.15", "7.81.0-1ubuntu1.20"),
             ("1:9.2p1-2+deb12u3", "1:9.2p1-2+deb12u5"), ("6.1.106-3", "6.1.119-1"), ("0.9~~a", "0.9~a"), ("a", "a")]


@pytest.mark.skipif(not Path("/usr/bin/dpkg").exists(), reason="dpkg not installed")
@pytest.mark.parametrize("a,b", DEB_PAIRS)
def test_debian_order_agrees_with_dpkg(a, b):
    lt = subprocess.run(["dpkg", "--compare-versions", a, "lt", b]).returncode == 0
    assert vulnmatch.deb_below(a, b) == lt
    gt = subprocess.run(["dpkg", "--compare-versions", b, "lt", a]).returncode == 0
    assert vulnmatch.deb_below(b, a) == gt


# rpm's own rules (rpmvercmp, as rpm.org documents them and rpm's test table checks)
RPM_TABLE = [("1.0", "1.0", 0), ("1.0", "2.0", -1), ("2.0.1", "2.0", 1), ("5.5p1", "5.5p2", -1), ("5.5p10", "5.5p1", 1),
             ("10xyz", "10.1xyz", -1), ("xyz10", "xyz10.1", -1), ("1.0a", "1.0", 1), ("a", "1", -1), ("6.0.rc1", "6.0", 1),
             ("fc4", "fc.4", 0), ("1.0010", "1.9", 1), ("2_0", "2.0", 0), ("1.0~rc1", "1.0", -1), ("1.0~rc1", "1.0~rc2", -1),
             ("1.0~rc1~git123", "1.0~rc1", -1), ("1.0^", "1.0", 1), ("1.0^git1", "1.0^git2", -1), ("1.0^git1", "1.01", -1),
             ("1.0^20160101", "1.0.1", -1), ("1.0~rc1^git1", "1.0~rc1", 1), ("el9_4", "el9_5", -1), ("28.el9_4.0.1", "28.el9_4", 1),
             ("1.0^20160101^git1", "1.0^20160101", 1), ("1.0^git1~pre", "1.0^git1", -1), ("1.0a", "1.0^git1", 1)]


@pytest.mark.parametrize("a,b,want", RPM_TABLE)
def test_rpmvercmp_golden_table(a, b, want):
    from checks.parsers.rpmver import rpmvercmp
    assert rpmvercmp(a, b) == want and rpmvercmp(b, a) == -want


def test_rpmvercmp_agrees_with_the_rpm_vercmp_package_where_that_knows_the_rules():
    """A second oracle: the rpm-vercmp package (PyPI, 2018) — for strings without '^', which it predates
    (rpm 4.15 added the caret in 2019; it orders '1.0^' equal to '1.0' and '1.0^20160101' after '1.0.1')."""
    vercmp = pytest.importorskip("rpm_vercmp").vercmp
    import itertools

    from checks.parsers.rpmver import rpmvercmp
    words = sorted({w for a, b, _ in RPM_TABLE for w in (a, b) if "^" not in w} | {"", "1..0", "1-0", "aB", "A", "1b.fc17"})
    bad = [(a, b) for a, b in itertools.product(words, words) if rpmvercmp(a, b) != vercmp(a, b)]
    assert bad == [] and len(words) > 30


def test_evr_epoch_is_an_integer_then_version_then_release():
    from checks.parsers.rpmver import evr_compare
    assert evr_compare("1:1.0-1", "2.0-1") == 1
    assert evr_compare("10:1.0-1", "9:1.0-1") == 1
    assert evr_compare("0:3.0.7-27.el9", "0:3.0.7-27.el9_4") == -1
    assert evr_compare("1.0-1", "1.0") == 0      # no release on one side: not compared


# -- hostile input ----------------------------------------------------------------------------------
def _refused(d, path, **kw):
    before = _count(d), len(d.imports())
    with pytest.raises(FeedError) as e:
        d.import_file(path, **kw)
    assert (_count(d), len(d.imports())) == before      # nothing half-imported
    return e.value


def test_broken_json_midway_leaves_the_previous_import_whole(db, tmp_path):
    bad = tmp_path / "tracker.json"
    text = (FIX / "tracker.json").read_text()
    bad.write_text(text[: len(text) // 2])               # truncated while streaming: earlier packages were read
    err = _refused(db, bad)
    assert "not valid JSON" in err.message and err.file == str(bad)
    assert _count_source(db, "debian-tracker") == 12


def test_odd_names_and_versions_are_refused(db, tmp_path):
    f = tmp_path / "t.json"
    f.write_text(json.dumps({"openssl\n<script>": {"CVE-2099-1": {"releases": {"bookworm": {"status": "open"}}}}}))
    assert _refused(db, f).field.endswith("package")
    f.write_text(json.dumps({"openssl": {"CVE-2099-1": {"releases": {"bookworm": {
        "status": "resolved", "fixed_version": "1.0; rm -rf /", "repositories": {}}}}}}))
    assert _refused(db, f).field.endswith("fixed_version")


def test_xml_entities_are_refused(db, tmp_path):
    f = tmp_path / "bomb.xml"
    f.write_text('<?xml version="1.0"?><!DOCTYPE cvrfdoc [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
                 '<cvrfdoc><DocumentTitle>&b;</DocumentTitle></cvrfdoc>')
    assert _refused(db, f).field == "XML"


def test_decompressed_size_is_capped(db, tmp_path, monkeypatch):
    monkeypatch.setattr(feeds, "MAX_DECOMPRESSED", 1000)
    f = tmp_path / "t.json.bz2"
    f.write_bytes(bz2.compress(b'{"openssl": {' + b" " * 100_000 + b"}}"))
    assert _refused(db, f).field == "size"


def test_an_osv_zip_dump_replaces_its_source_and_an_oversized_member_is_refused(db, tmp_path, monkeypatch):
    z = tmp_path / "all.zip"
    with zipfile.ZipFile(z, "w") as w:
        w.writestr("DEBIAN-CVE-2099-0001.json", (FIX / "osv-debian-CVE-2099-0001.json").read_text())
        w.writestr("notes.txt", "ignored")
    rec = db.import_file(z)
    assert rec.full == 1 and rec.records == 2 and rec.source == "osv:debian"
    import audits.patchdata.vulndb as vdb
    monkeypatch.setattr(vdb, "MAX_DOCUMENT", 10)
    assert _refused(db, z).field == "size"


def test_a_whole_feed_replaces_the_previous_one_and_documents_replace_documents(db, tmp_path):
    small = tmp_path / "tracker.json"
    small.write_text(json.dumps({"bash": json.loads((FIX / "tracker.json").read_text())["bash"]}))
    db.import_file(small, as_of="2026-03-05")
    held = db.conn.execute("SELECT release, pkg FROM advisory WHERE source='debian-tracker' ORDER BY release").fetchall()
    assert held == [("debian:11", "openssl"), ("debian:12", "bash")]   # debian:12 replaced; debian:11 not in the new file
    doc = json.loads((FIX / "csaf" / "cve-2099-0203.json").read_text())
    doc["vulnerabilities"][0]["product_status"] = {"known_affected": doc["vulnerabilities"][0]["product_status"]["fixed"]}
    (tmp_path / "cve-2099-0203.json").write_text(json.dumps(doc))
    db.import_file(tmp_path / "cve-2099-0203.json")
    rows = db.conn.execute("SELECT vuln_id, status FROM advisory WHERE source='redhat-csaf' AND pkg='bash'").fetchall()
    assert rows == [("CVE-2099-0203", "affected")]
    assert _count_source(db, "redhat-csaf") == 7                       # the other two documents stay


def test_a_file_without_records_of_a_known_distribution_is_refused(db, tmp_path):
    f = tmp_path / "osv.json"
    f.write_text(json.dumps({"id": "GHSA-xxxx", "modified": "2026-01-01T00:00:00Z", "affected": [
        {"package": {"ecosystem": "PyPI", "name": "x"}, "ranges": [{"type": "ECOSYSTEM", "events": [{"fixed": "1"}]}]}]}))
    assert _refused(db, f).field == "records"


# -- the enricher and the check -----------------------------------------------------------------------
def _host(os_name="debian"):
    return fixture_host({"os": os_name, "level": 3})


def _facts(osrel: str, probe, out: str) -> Facts:
    f = Facts("h1", meta={"os_family": "debian", "run_started": "2026-03-02T00:00:00Z"})
    f.results[OS_PROBE] = ProbeResult(stdout=osrel + "\nKERNEL=6.1.0-28-amd64\n/usr/bin/dpkg-query\n", rc=0)
    f.results[probe] = ProbeResult(stdout=out, rc=0)
    return f


def test_the_enricher_feeds_the_check_and_a_network_facing_high_cve_is_the_trigger(db, monkeypatch):
    from audits.run import enrich
    from checks.registry import load_registry

    monkeypatch.setenv("AUDITCTL_VULNDB", str(db.path))
    fns = enrich.prepare({"say": lambda *_: None})
    facts = _facts('ID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm', named("dpkg_sources"), DEB_HOST)
    enrich.apply(fns, facts, _host())
    v = facts.meta["vulns"]
    assert v["available"] and v["label"] == "Debian 12" and v["as_of"] == "2026-03-01T06:00:00Z"
    check = load_registry().by_id["patching.known_vulnerabilities"]
    params = dict(check.params)
    out = check.run(facts, _host(), params)
    assert str(out.status) == "fail" and out.severity == "high"
    assert "CVE-2099-0001" in out.message.en and "as of 2026-03-01T06:00:00Z" in out.message.en
    assert "CVE-2099-0011" in out.evidence and "no fix available" in out.evidence   # unfixed ones listed
    params["network_facing"] = []
    out = check.run(facts, _host(), params)
    assert str(out.status) == "fail" and out.severity != "high"
    params["max_feed_age_days"] = 0.1
    assert "days old" in check.run(facts, _host(), params).message.en


def test_without_a_database_the_check_says_cve_data_was_not_available(tmp_path, monkeypatch):
    from audits.run import enrich
    from checks.registry import load_registry

    monkeypatch.setenv("AUDITCTL_VULNDB", str(tmp_path / "absent.sqlite"))
    facts = _facts('ID=debian\nVERSION_ID="12"', named("dpkg_sources"), DEB_HOST)
    enrich.apply(enrich.prepare({}), facts, _host())
    check = load_registry().by_id["patching.known_vulnerabilities"]
    out = check.run(facts, _host(), dict(check.params))
    assert str(out.status) == "not_applicable" and "CVE data was not available" in out.message.en


# -- end to end on this machine ---------------------------------------------------------------------
def _local_release():
    try:
        kv = dict(ln.split("=", 1) for ln in Path("/etc/os-release").read_text().splitlines() if "=" in ln)
    except OSError:
        return None
    code = kv.get("VERSION_CODENAME", "").strip('"')
    return code if kv.get("ID", "").strip('"') in ("debian", "ubuntu") and code else None


@pytest.mark.skipif(_local_release() is None or not Path("/usr/bin/dpkg-query").exists(),
                    reason="needs a Debian or Ubuntu machine")
def test_vulndb_import_then_run_on_this_machine_lists_cve_ids(tmp_path):
    code = _local_release()
    out = subprocess.run(["dpkg-query", "-W", "-f", "${source:Package}\t${source:Version}\n", "bash"],
                         capture_output=True, text=True, check=True).stdout.split("\n")[0].split("\t")
    src, ver = out
    if code not in ("bookworm", "trixie", "bullseye", "jammy", "noble"):
        pytest.skip(f"release {code} not in the fixture's codenames")
    feed = {src: {"CVE-2099-9999": {"releases": {code: {
        "status": "resolved", "fixed_version": ver + "+zz1", "urgency": "high",
        "repositories": {f"{code}-security": ver + "+zz1"}}}}}}
    (tmp_path / "tracker.json").write_text(json.dumps(feed))
    env = {**os.environ, "AUDITCTL_VULNDB": str(tmp_path / "v.sqlite"), "XDG_STATE_HOME": str(tmp_path / "state")}
    cli = [sys.executable, str(ROOT / "auditctl.py")]
    r = subprocess.run(cli + ["vulndb", "import", str(tmp_path / "tracker.json"), "--as-of", "2026-03-01"],
                       capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert r.returncode == 0, r.stderr
    inv = tmp_path / "inv.yaml"
    inv.write_text("schools:\n  - id: s1\n    district: d1\n    systems: [{id: x, level: 3}]\n    hosts:\n"
                   "      - {id: here, address: 127.0.0.1, connection: local, systems: [x]}\n")
    r = subprocess.run(cli + ["run", "-i", str(inv), "--packs", "patching", "--db", str(tmp_path / "r.db"),
                              "--json", str(tmp_path / "run.json"), "--out", str(tmp_path / "html"), "-q"],
                       capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    assert r.returncode in (0, 1), r.stderr
    doc = (tmp_path / "run.json").read_text()
    run = json.loads(doc)
    results = [res for h in run["hosts"] for res in h["results"] if res.get("check_id", res.get("id")) == "patching.known_vulnerabilities"]
    assert results and results[0]["status"] == "fail", results
    assert "CVE-2099-9999" in doc and "as of 2026-03-01" in doc
    html = "".join(p.read_text() for p in (tmp_path / "html").rglob("*.html"))
    assert "CVE-2099-9999" in html


# -- OVAL -------------------------------------------------------------------------------------------
def test_ubuntu_and_debian_oval_streamed_by_source_package(tmp_path):
    d = VulnDB(tmp_path / "v.sqlite")
    packed = tmp_path / "com.ubuntu.jammy.cve.oval.xml.bz2"
    packed.write_bytes(bz2.compress((FIX / "com.ubuntu.jammy.cve.oval.xml").read_bytes()))
    rec = d.import_file(packed)
    assert rec.source == "ubuntu-oval" and rec.as_of == "2026-02-28T07:00:00Z" and rec.releases == "ubuntu:22.04"
    rows = d.conn.execute("SELECT pkg, vuln_id, status, fixed_version, severity FROM advisory ORDER BY vuln_id, pkg").fetchall()
    assert rows == [("curl", "CVE-2099-0101", "fixed", "7.81.0-1ubuntu1.20", "medium"),
                    ("openssh", "CVE-2099-0103", "affected", "", "high"),
                    ("tiff", "CVE-2099-0104", "fix_deferred", "", "low"),       # the comment's triage, not the test's
                    ("vim", "CVE-2099-0104", "will_not_fix", "", "low"),
                    ("zlib", "CVE-2099-0104", "undetermined", "", "low")]
    host = ("libcurl4:amd64\tii \t7.81.0-1ubuntu1.15\tcurl\t7.81.0-1ubuntu1.15\n"
            "openssh-server\tii \t1:8.9p1-3ubuntu0.10\topenssh\t1:8.9p1-3ubuntu0.10\n")
    r = vulnmatch.match(d, "ubuntu", "ubuntu:22.04", "debian", dpkg_sources(host))
    assert r["source"] == "ubuntu-oval"
    assert {(f["vuln_id"], f["state"]) for f in r["findings"]} == {("CVE-2099-0101", "fixable"), ("CVE-2099-0103", "unfixed")}
    # a second release's file replaces only its own release
    noble = (FIX / "com.ubuntu.jammy.cve.oval.xml").read_text().replace("jammy", "noble")
    (tmp_path / "com.ubuntu.noble.cve.oval.xml").write_text(noble)
    d.import_file(tmp_path / "com.ubuntu.noble.cve.oval.xml")
    assert {r[0] for r in d.conn.execute("SELECT DISTINCT release FROM advisory")} == {"ubuntu:22.04", "ubuntu:24.04"}
    rec = d.import_file(FIX / "oval-definitions-bookworm.xml")
    assert rec.source == "debian-oval" and rec.records == 1
    assert d.conn.execute("SELECT release, pkg, fixed_version FROM advisory WHERE source='debian-oval'").fetchall() == \
        [("debian:12", "openssl", "3.0.13-1~deb12u1")]


def test_malformed_oval_names_the_line(tmp_path):
    d = VulnDB(tmp_path / "v.sqlite")
    f = tmp_path / "com.ubuntu.jammy.cve.oval.xml"
    f.write_text((FIX / "com.ubuntu.jammy.cve.oval.xml").read_text().replace("</tests>", "</testz>"))
    with pytest.raises(FeedError) as e:
        d.import_file(f)
    assert e.value.field == "XML" and e.value.line > 40 and _count(d) == 0


def test_an_unreadable_database_is_an_error_on_every_host_never_a_pass(tmp_path, monkeypatch):
    from audits.run import enrich
    from checks.registry import load_registry

    bad = tmp_path / "v.sqlite"
    bad.write_bytes(b"not a database" * 100)
    monkeypatch.setenv("AUDITCTL_VULNDB", str(bad))
    said = []
    facts = _facts('ID=debian\nVERSION_ID="12"', named("dpkg_sources"), DEB_HOST)
    enrich.apply(enrich.prepare({"say": said.append}), facts, _host())
    check = load_registry().by_id["patching.known_vulnerabilities"]
    out = check.run(facts, _host(), dict(check.params))
    assert str(out.status) == "error" and "cannot be read" in out.evidence and said


def test_a_tar_xz_dump_as_canonical_ships_osv(tmp_path):
    import io
    import tarfile

    d = VulnDB(tmp_path / "v.sqlite")
    dump = tmp_path / "osv-all.tar.xz"
    with tarfile.open(dump, "w:xz") as t:
        data = (FIX / "osv-ubuntu-USN-9999-1.json").read_bytes()
        info = tarfile.TarInfo("osv/usn/USN-9999-1.json")
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    rec = d.import_file(dump)
    assert rec.format == "osv" and rec.full == 1 and rec.records == 4 and rec.as_of == "2026-02-25T12:30:00Z"


def test_the_command_line_imports_reports_status_and_refuses_with_file_line_field(tmp_path):
    env = {**os.environ, "AUDITCTL_VULNDB": str(tmp_path / "v.sqlite")}
    cli = [sys.executable, str(ROOT / "auditctl.py"), "vulndb"]
    bad = tmp_path / "bad.xml"
    bad.write_text("<cvrfdoc>\n<DocumentTitle>\n</cvrfdoc>\n")
    r = subprocess.run(cli + ["import", str(FIX / "openeuler-cvrf.xml"), str(bad)], capture_output=True, text=True,
                       env=env, timeout=120)
    assert r.returncode == 2
    assert f"{bad}:3: XML:" in r.stderr and "nothing imported from this file" in r.stderr
    assert "openeuler-cvrf.xml: 2 records" in r.stdout                    # the good file before it stays
    r = subprocess.run(cli + ["status", "--json"], capture_output=True, text=True, env=env, timeout=120)
    st = json.loads(r.stdout)
    assert [(s["source"], s["release"], s["records"]) for s in st["sources"]] == [
        ("openeuler-cvrf", "openeuler:22.03-LTS-SP2", 1), ("openeuler-cvrf", "openeuler:24.03-LTS", 1)]
    assert st["imports"][0]["sha256"] == hashlib.sha256((FIX / "openeuler-cvrf.xml").read_bytes()).hexdigest()
    assert r.returncode == (1 if any(s["stale"] for s in st["sources"]) else 0)


def test_a_signed_kernel_image_is_judged_as_the_linux_source(db):
    # Debian's kernel images come from linux-signed-amd64 (version 6.1.106+3); the tracker tracks 'linux'
    host = ("linux-image-6.1.0-25-amd64\tii \t6.1.106-3\tlinux-signed-amd64\t6.1.106+3\n"
            "linux-image-6.1.0-28-amd64\tii \t6.1.119-1\tlinux-signed-amd64\t6.1.119+1\n")
    assert {(p.source, p.source_version) for p in dpkg_sources(host)} == {("linux", "6.1.106-3"), ("linux", "6.1.119-1")}
    r = vulnmatch.match(db, "debian", "debian:12", "debian", dpkg_sources(host), "6.1.0-25-amd64")
    assert [(f["vuln_id"], f["installed"]) for f in r["findings"]] == [("CVE-2099-0050", "6.1.106-3")]
    assert vulnmatch.match(db, "debian", "debian:12", "debian", dpkg_sources(host), "6.1.0-28-amd64")["findings"] == []


def test_a_host_without_a_release_number_is_told_no_feed_covers_it(db):
    osrel = {"ID": "centos", "NAME": "CentOS Stream"}      # no VERSION_ID
    distro, release, _ = host_release(osrel)
    r = vulnmatch.match(db, distro, release, "rhel", [])
    assert r["available"] is False


# -- fuzz: hostile text never raises anything but FeedError ------------------------------------------
from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

_json = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                     lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=12), c, max_size=4),
                     max_leaves=30)
_keys = st.sampled_from(["document", "product_tree", "vulnerabilities", "id", "affected", "package", "ranges", "events",
                         "product_status", "remediations", "threats", "relationships", "branches", "releases", "status",
                         "fixed_version", "repositories", "ecosystem", "name", "fixed", "cve", "product", "purl"])
_shaped = st.recursive(st.none() | st.text(max_size=20) | st.integers(),
                       lambda c: st.lists(c, max_size=3) | st.dictionaries(_keys, c, max_size=5), max_leaves=40)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=st.one_of(_json, _shaped))
def test_json_readers_refuse_any_shape_with_feed_errors_only(doc):
    from audits.patchdata.feeds import FeedInfo, csaf, osv
    data = json.dumps(doc).encode()
    for reader in (csaf.document_rows, osv.document_rows):
        try:
            list(reader(data, "f.json", FeedInfo()))
        except FeedError:
            pass


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=400))
def test_host_package_lists_never_raise(text):
    for p in dpkg_sources(text) + rpm_sources(text.replace(" ", "\t")):
        assert "\n" not in p.name and len(p.name) <= 200


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, prefix + (i,))


def _replace(node, path, value):
    if not path:
        return value
    node = json.loads(json.dumps(node))
    cur = node
    for p in path[:-1]:
        cur = cur[p]
    cur[path[-1]] = value
    return node


MUTABLE = {"csaf": json.loads((FIX / "csaf" / "cve-2099-0201.json").read_text()),
           "osv": json.loads((FIX / "osv-ubuntu-USN-9999-1.json").read_text())}


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_real_shaped_documents_with_any_part_replaced_fail_only_as_feed_errors(data):
    from audits.patchdata.feeds import FeedInfo, csaf, osv
    kind = data.draw(st.sampled_from(sorted(MUTABLE)))
    doc = MUTABLE[kind]
    paths = list(_paths(doc))
    path = data.draw(st.sampled_from(paths))
    mutated = _replace(doc, path, data.draw(_json))
    reader = {"csaf": csaf.document_rows, "osv": osv.document_rows}[kind]
    try:
        list(reader(json.dumps(mutated).encode(), "f.json", FeedInfo()))
    except FeedError:
        pass
