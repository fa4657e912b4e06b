"""patching.known_vulnerabilities over real SSH (the campus lab): the rpm/dpkg source probes travel in the one
batched script, the auditor matches them with an imported feed, and the CVE ids reach the JSON and the HTML.
A feed names a CVE fixed just above the lab hosts' bash (their packages are this machine's)."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

import auditctl

pytestmark = pytest.mark.lab


def _release():
    kv = dict(ln.split("=", 1) for ln in Path("/etc/os-release").read_text().splitlines() if "=" in ln)
    return kv.get("VERSION_CODENAME", "").strip('"')


def test_a_lab_host_gets_cve_ids_from_the_imported_feed(campus_lab, campus_lab_inventory, tmp_path, monkeypatch):
    code = _release()
    if code not in ("bookworm", "trixie", "bullseye"):
        pytest.skip(f"the lab runs on {code!r}, not a Debian release the tracker names")
    src, ver = subprocess.run(["dpkg-query", "-W", "-f", "${source:Package}\t${source:Version}", "bash"],
                              capture_output=True, text=True, check=True).stdout.split("\t")
    feed = {src: {"CVE-2099-7777": {"releases": {code: {
        "status": "resolved", "fixed_version": ver + "+zz1", "urgency": "high",
        "repositories": {f"{code}-security": ver + "+zz1"}}}},
                  "CVE-2099-7778": {"releases": {code: {"status": "open", "urgency": "low"}}}}}
    (tmp_path / "tracker.json").write_text(json.dumps(feed))
    monkeypatch.setenv("AUDITCTL_VULNDB", str(tmp_path / "v.sqlite"))
    assert auditctl.main(["vulndb", "import", str(tmp_path / "tracker.json"), "--as-of", "2026-03-01"]) == 0
    js = tmp_path / "run.json"
    auditctl.main(["run", "-q", "-i", str(campus_lab_inventory), "--limit", "lab-compliant-01", "--packs", "patching",
                   "--db", str(tmp_path / "r.db"), "--json", str(js), "--out", str(tmp_path / "out"),
                   "--known-hosts", str(campus_lab.known_hosts)])
    doc = json.loads(js.read_text())
    (host,) = [h for h in doc["hosts"] if h["id"] == "lab-compliant-01"]
    assert host["status"] == "audited", host["detail"]
    r = {x["check_id"]: x for x in host["results"]}["patching.known_vulnerabilities"]
    assert r["status"] == "fail" and "CVE-2099-7777" in r["message"]["en"] and "as of 2026-03-01" in r["message"]["en"]
    assert "CVE-2099-7778" in r["evidence"] and "no fix available" in r["evidence"]
    html = "".join(p.read_text() for p in (tmp_path / "out").rglob("*.html"))
    assert "CVE-2099-7777" in html
