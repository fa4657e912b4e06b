"""The network view without a scan: what may be scanned (by construction), inventory and plan input
errors as FILE:LINE, the --nmap-xml import of a stored real scan, hostile XML, and the clear errors
for a missing nmap or missing privileges."""
import ipaddress
import json
import shutil
from pathlib import Path

import pytest

import auditctl
from audits.collect import netscan, nmapxml
from audits.model.errors import InputError
from audits.inventory.load import load_inventory
from audits.collect.netscope import OutOfScope, Scope, school_scope, scopes
from audits.run.plan import load_plan

XML = Path(__file__).parent / "fixtures" / "network" / "loopback-scan.xml"
INV = """\
school:
  id: loop-school
  district: loop
  networks: [127.77.5.8/30]
  systems: [{id: portal, level: 3}]
  hosts:
    - {id: portal, address: 127.77.5.10, systems: [portal], roles: [web, ssh]}
    - {id: quiet, address: 127.77.5.11, systems: [portal], ports: [8080, 161/udp]}
"""


@pytest.fixture
def inv_file(tmp_path):
    p = tmp_path / "inv.yaml"
    p.write_text(INV)
    return p


def problems(exc):
    return [str(p) for p in exc.value.problems]


# -- scope --------------------------------------------------------------------------------------
def test_targets_are_the_declared_subnets_and_hosts_only(inv_file):
    inv = load_inventory(inv_file)
    (scope,) = scopes(inv, inv.select(None))
    assert scope.targets() == ["127.77.5.8/30"]  # both hosts lie inside the declared subnet
    assert scope.allows("127.77.5.9") and not scope.allows("127.77.5.12") and not scope.allows("10.0.0.1")
    (one,) = scopes(inv, inv.select("quiet"))
    assert one.targets() == ["127.77.5.11"] and one.networks == ()


def test_a_target_outside_the_declared_scope_cannot_be_built(inv_file):
    inv = load_inventory(inv_file)
    scope = school_scope(inv, "loop-school", inv.select(None))
    scope.networks += (ipaddress.ip_network("10.0.0.0/24"),)  # smuggled in after construction
    with pytest.raises(OutOfScope, match="10.0.0.0/24 is not declared for school loop-school"):
        scope.targets()
    scope = school_scope(inv, "loop-school", inv.select(None))
    scope.hosts["intruder"] = "10.9.9.9"
    with pytest.raises(OutOfScope, match="10.9.9.9 is not declared"):
        scope.targets()
    hand_made = Scope("loop-school", (ipaddress.ip_network("10.0.0.0/24"),))  # not built from the inventory
    with pytest.raises(OutOfScope):
        hand_made.targets()
    with pytest.raises(OutOfScope):
        school_scope(inv, "loop-school", [type(inv.hosts["portal"])(**{**inv.hosts["portal"].__dict__,
                                                                        "school": "elsewhere"})])


def test_nmap_arguments_are_bounded_and_never_carry_targets():
    opts = netscan.ScanOptions(scan_type="connect", max_rate=50, host_timeout=30)
    ports, args = netscan.nmap_arguments(opts, [22, 8080], [], None)
    assert ports == "T:22,8080"
    assert "-sT" in args and "--max-rate 50" in args and "--host-timeout 30s" in args and "-sU" not in args
    mine = args.replace("-PS21,22", "")
    for path in netscan.OWN_SCRIPTS:  # our NSE scripts, by absolute path inside the package
        assert path.endswith(".nse") and path in mine
        mine = mine.replace(path, "")
    assert "127." not in mine and "/" not in mine


def test_unresolvable_host_name_is_reported_not_scanned(tmp_path):
    p = tmp_path / "inv.yaml"
    p.write_text("school: {id: s, district: d, hosts: [{id: ghost, address: ghost.invalid, level: 2}]}\n")
    inv = load_inventory(p)
    scope = school_scope(inv, "s", inv.select(None))
    assert scope.targets() == [] and "ghost" in scope.unresolved
    view = netscan.NetworkView({"s": netscan.SchoolScan(scope)})
    assert view.host_meta(inv.hosts["ghost"])["scanned"] is False


# -- inventory and plan input ---------------------------------------------------------------------
@pytest.mark.parametrize("networks,message", [
    ("[10.203.0.5/24]", "networks[0]: '10.203.0.5/24' is not a subnet: 10.203.0.5/24 has host bits set "
                        "(did you mean '10.203.0.0/24'?)"),
    ("[10.0.0.0/8]", "networks[0]: 10.0.0.0/8 is too large to scan: at most /16 per entry"),
    ("[999.1.1.0/24]", "networks[0]: '999.1.1.0/24' is not a subnet"),
    ("[24]", "networks[0]: wrong type 24: expected a subnet"),
    ("10.203.0.0/24", "networks: wrong type: expected a list of subnets"),
])
def test_bad_networks_are_file_line_errors(tmp_path, networks, message):
    p = tmp_path / "inv.yaml"
    p.write_text(f"school:\n  id: s\n  district: d\n  networks: {networks}\n")
    with pytest.raises(InputError) as e:
        load_inventory(p)
    (msg,) = problems(e)
    assert msg.startswith(f"{p}:4: school.") and message in msg


def test_bad_host_ports_are_file_line_errors(tmp_path):
    p = tmp_path / "inv.yaml"
    p.write_text("school:\n  id: s\n  district: d\n  hosts:\n    - id: a\n      level: 2\n      ports: [22, 70000, 53/icmp]\n")
    with pytest.raises(InputError) as e:
        load_inventory(p)
    assert problems(e) == [f"{p}:7: school.hosts[0].ports: wrong type or value [22, 70000, '53/icmp']: expected a "
                           "list of ports the host is expected to expose (443 or '161/udp')"]


def test_plan_network_settings_are_validated(tmp_path):
    p = tmp_path / "plan.yaml"
    p.write_text("network:\n  scan_type: stealth\n  max_rate: 0\n  snmp: maybe\n  prots: [1]\n")
    with pytest.raises(InputError) as e:
        load_plan(p)
    assert problems(e) == [f"{p}:2: network.scan_type: must be one of auto, syn, connect",
                           f"{p}:3: network.max_rate: expected an integer 1-100000",
                           f"{p}:4: network.snmp: expected true or false",
                           f"{p}:5: network.prots: unknown field (did you mean 'ports'?)"]
    p.write_text("network: {max_rate: 100, ports: [8081, 161/udp]}\n")
    assert load_plan(p).network == {"max_rate": 100, "ports": (8081, "161/udp")}


# -- import --------------------------------------------------------------------------------------
def scan_xml(inv_file, tmp_path, xml=XML, *extra):
    js = tmp_path / "r.json"
    rc = auditctl.main(["scan", "-q", "-i", str(inv_file), "--nmap-xml", str(xml), "--db", str(tmp_path / "r.db"),
                        "--json", str(js), "--out", str(tmp_path / "html"), *extra])
    return rc, (json.loads(js.read_text()) if js.exists() else None)


def test_import_judges_a_stored_real_scan_without_running_nmap(inv_file, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no nmap anywhere: an import must not need it
    rc, doc = scan_xml(inv_file, tmp_path)
    assert rc == 0
    res = {h["id"]: {r["check_id"]: r for r in h["results"]} for h in doc["hosts"]}
    portal = res["portal"]
    assert portal["network.exposure.plaintext_services"]["status"] == "fail"
    assert portal["network.service.redis_no_auth"]["status"] == "fail"
    assert "hmac-md5" in portal["network.ssh.weak_algorithms"]["evidence"]
    # judged at the scan's own time (2026-12-02), not today: the certificate expired a year before it
    assert "expired 365 days ago" in portal["network.tls.certificate_expiry"]["evidence"]
    assert portal["network.tls.certificate_trust"]["status"] == "fail"
    assert portal["network.service.snmp_default_community"]["status"] == "not_applicable"  # no UDP in that scan
    seg = res["network@loop-school"]["network.school.undeclared_hosts"]
    assert seg["status"] == "fail" and "127.77.5.8" in seg["evidence"] and "127.77.5.9" in seg["evidence"]


def test_import_ignores_addresses_outside_the_declared_scope(tmp_path):
    p = tmp_path / "inv.yaml"
    p.write_text("school: {id: s, district: d, hosts: [{id: quiet, address: 127.77.5.11, level: 2}]}\n")
    rc, doc = scan_xml(p, tmp_path)
    assert rc == 0
    (host,) = doc["hosts"]  # no subnet declared: no school record
    evidence = " ".join(r["evidence"] for r in host["results"])
    assert "127.77.5.10" not in evidence and "6379" not in evidence and "23/tcp" not in evidence
    assert {r["check_id"]: r["status"] for r in host["results"]}["network.exposure.plaintext_services"] == "pass"


def test_run_includes_the_network_view_only_when_asked(inv_file, tmp_path):
    js = tmp_path / "r.json"
    inv = tmp_path / "local.yaml"
    inv.write_text("school: {id: s, district: d, hosts: [{id: me, address: 127.0.0.1, connection: local, level: 2}]}\n")
    assert auditctl.main(["run", "-q", "-i", str(inv), "--db", str(tmp_path / "r.db"), "--json", str(js),
                          "--out", str(tmp_path / "html"), "--packs", "fleet"]) == 0
    assert "network" not in json.loads(js.read_text())["run"]["packs"]
    assert auditctl.main(["run", "-q", "-i", str(inv), "--db", str(tmp_path / "r.db"), "--json", str(js),
                          "--out", str(tmp_path / "html"), "--packs", "fleet", "--nmap-xml", str(XML)]) == 0
    doc = json.loads(js.read_text())
    assert doc["run"]["packs"] == ["fleet", "network"]
    me = {r["check_id"]: r for r in doc["hosts"][0]["results"]}
    assert me["network.exposure.host_answers"]["status"] == "fail"  # 127.0.0.1 is not in that scan


# -- hostile or broken XML ----------------------------------------------------------------------
@pytest.mark.parametrize("body,message", [
    (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><nmaprun>&a;</nmaprun>', "declares XML entities"),
    (b"<html>not a scan</html>", "not an nmap XML document"),
    (b"<nmaprun><host><address addr='1.2.3.4' addrtype='ipv4'/>", "cannot be read as nmap XML"),
])
def test_bad_xml_is_a_clear_error_and_nothing_is_written(inv_file, tmp_path, body, message, capsys):
    bad = tmp_path / "bad.xml"
    bad.write_bytes(body)
    rc, doc = scan_xml(inv_file, tmp_path, bad)
    assert rc == 2 and doc is None and not (tmp_path / "r.db").exists()
    err = capsys.readouterr().err
    assert f"{bad}:0: --nmap-xml: " in err and message in err and "Traceback" not in err


def test_hostile_script_output_is_capped():
    text = XML.read_bytes().replace(b'output="&#xa;  Version: 7.0.15',
                                    b'output="' + b"A" * (nmapxml.SCRIPT_CAP * 3) + b"&#xa;  Version: 7.0.15")
    hosts, _ = nmapxml.parse(text)
    redis = next(p for p in hosts["127.77.5.10"]["ports"] if p["port"] == 6379)
    assert len(redis["scripts"]["redis-info"]) == nmapxml.SCRIPT_CAP


# -- nmap missing, privileges ---------------------------------------------------------------------
def test_missing_nmap_says_what_to_install(inv_file, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))
    rc = auditctl.main(["scan", "-q", "-i", str(inv_file), "--db", str(tmp_path / "r.db"), "--out", str(tmp_path / "html")])
    assert rc == 2 and not (tmp_path / "r.db").exists()
    assert "install nmap (apt-get install nmap / dnf install nmap)" in capsys.readouterr().err


def test_syn_scan_without_privileges_names_the_option(inv_file, tmp_path, monkeypatch, capsys):
    if not shutil.which("nmap"):
        pytest.skip("nmap missing")
    monkeypatch.setattr(netscan, "_privileged", lambda: False)
    rc = auditctl.main(["scan", "-q", "-i", str(inv_file), "--scan-type", "syn", "--db", str(tmp_path / "r.db"),
                        "--out", str(tmp_path / "html")])
    assert rc == 2 and "use --scan-type connect" in capsys.readouterr().err
    assert netscan.ScanOptions().resolved_type() == "connect"  # auto falls back to a connect scan


def test_nmap_privilege_errors_are_recognised():
    assert netscan._privilege_error("You requested a scan type which requires root privileges.\nQUITTING!")
    assert not netscan._privilege_error("Failed to resolve \"x\".")


def test_generated_network_pack_document_is_current():
    from checks.catalogue import markdown
    from checks.registry import load_registry

    doc = Path(__file__).resolve().parent.parent / "docs" / "checks" / "network.md"
    assert doc.read_text(encoding="utf-8") == markdown(load_registry().select(["network"]), "network"), \
        "docs/checks/network.md is stale: run `auditctl checks doc --pack network -o docs/checks/network.md`"


def test_an_nmap_failure_is_recorded_and_every_network_check_of_the_school_is_an_error(inv_file):
    if not shutil.which("nmap"):
        pytest.skip("nmap missing")
    from checks.registry import load_registry
    from checks.testing import fixture_host

    inv = load_inventory(inv_file)
    hosts = inv.select("quiet")
    (scope,) = scopes(inv, hosts)
    res = netscan.scan_school(scope, hosts, netscan.ScanOptions(scan_type="connect", ports=(70000,)))  # nmap refuses
    assert res.error.startswith("nmap failed:") and "65535" in res.error
    view = netscan.NetworkView({"loop-school": res})
    facts = __import__("audits.model.probes", fromlist=["Facts"]).Facts("quiet", meta=view.meta_for(inv.hosts["quiet"]))
    host = fixture_host({"id": "quiet", "address": "127.77.5.11"})
    outcomes = {c.id: c.run(facts, host).status.value for c in load_registry().select(["network"])
                if "network-segment" not in c.applies.roles and not c.applies.roles}
    assert set(outcomes.values()) == {"error"}, outcomes


def test_an_imported_scan_that_failed_is_refused(inv_file, tmp_path, capsys):
    failed = tmp_path / "failed.xml"
    failed.write_text('<?xml version="1.0"?><nmaprun scanner="nmap" version="7.93"><runstats><finished exit="error" '
                      'errormsg="You requested a scan type which requires root privileges."/></runstats></nmaprun>')
    rc, doc = scan_xml(inv_file, tmp_path, failed)
    assert rc == 2 and doc is None
    assert "the scan in this file failed: You requested a scan type which requires root" in capsys.readouterr().err


def test_ipv6_hosts_are_an_error_not_a_silent_pass(tmp_path):
    p = tmp_path / "inv.yaml"
    p.write_text("school: {id: s, district: d, hosts: [{id: v6, address: '2001:db8::5', level: 2}]}\n")
    inv = load_inventory(p)
    hosts = inv.select(None)
    res = netscan.scan_school(scopes(inv, hosts)[0], hosts, netscan.ScanOptions())  # returns before any nmap
    assert res.error.startswith("nothing to scan") and "IPv6" in res.error
    view = netscan.NetworkView({"s": netscan.SchoolScan(res.scope)})
    assert view.host_meta(inv.hosts["v6"]) == {"scanned": False, "error": "2001:db8::5: IPv6 addresses are not scanned yet"}
