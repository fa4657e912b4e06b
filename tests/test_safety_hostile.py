"""Hostile hosts: a paramiko test server misbehaves on purpose (tests/hostile_ssh.py). Each case ends
within its timeout with a bounded, escaped result for that host, memory stays bounded, the other
hosts of the same run are audited normally, and nothing from a host becomes markup or a template."""
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.hostile_ssh import MODES, HostileServer

ROOT = Path(__file__).resolve().parent.parent
HOST_TIMEOUT = 10


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hostile")
    servers = {m: HostileServer(m) for m in MODES}
    hosts = [{"id": "this-machine", "connection": "local", "systems": ["web"]}]
    for m, s in servers.items():
        hosts.append({"id": f"h-{m.replace('_', '-')}", "address": "127.0.0.1", "port": s.port, "user": "audit",
                      "host_keys": [s.pinned], "password_env": "HOSTILE_PW", "systems": ["web"],
                      "connect_timeout": 3, "command_timeout": 5, "host_timeout": HOST_TIMEOUT})
    inv = tmp / "inv.yaml"
    inv.write_text(yaml.safe_dump({"school": {"id": "s1", "district": "d1", "systems": [{"id": "web", "level": 3}]},
                                   "hosts": [{**h, "school": "s1"} for h in hosts]}))
    out = tmp / "out"
    rss = tmp / "maxrss"
    wrapper = ("import runpy, sys; sys.argv = sys.argv[1:]\n"
               "try:\n    runpy.run_path(sys.argv[0], run_name='__main__')\n"
               f"finally:\n    open({str(rss)!r}, 'w').write(next(ln.split()[1] for ln in open('/proc/self/status')\n"
               "                                      if ln.startswith('VmHWM:')))\n")   # not ru_maxrss: kept over exec
    cmd = [sys.executable, "-c", wrapper, str(ROOT / "auditctl.py"), "run", "-q", "-i", str(inv), "--packs", "mlps,fleet",
           "--db", str(tmp / "r.db"), "--json", str(tmp / "run.json"), "--out", str(out),
           "--format", f"junit:{tmp / 'run.xml'}", "--format", f"csv:{tmp / 'run.csv'}"]
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp,
                            env={**os.environ, "HOSTILE_PW": "pw-hostile"})
    stdout, stderr = proc.communicate(timeout=120)
    elapsed = time.monotonic() - t0
    for s in servers.values():
        s.close()
    html = next(out.rglob("index.html")).read_text()
    doc = json.loads((tmp / "run.json").read_text())
    return {"rc": proc.returncode, "stderr": stderr.decode("utf-8", "replace"), "elapsed": elapsed, "html": html,
            "doc": doc, "hosts": {h["id"]: h for h in doc["hosts"]}, "tmp": tmp, "maxrss_kb": int(rss.read_text())}


def test_the_run_ends_in_time_and_the_well_behaved_hosts_are_audited(hostile_run):
    assert hostile_run["rc"] == 3, hostile_run["stderr"][-2000:]  # incomplete: some hosts unreachable
    assert hostile_run["elapsed"] < HOST_TIMEOUT + 40, hostile_run["elapsed"]
    for hid in ("this-machine", "h-honest", "h-auth-banner"):
        h = hostile_run["hosts"][hid]
        assert h["status"] == "audited", (hid, h["reason"], h["detail"])
        assert sum(r["status"] in ("pass", "fail") for r in h["results"]) > 30, hid


@pytest.mark.parametrize("hid,status,reason,words", [
    ("h-flood", "unreachable", "protocol", "stopped reading"),
    ("h-endless", "unreachable", "timeout", "host timeout"),
    ("h-drip", "unreachable", "timeout", "host timeout"),
    ("h-stall-exec", "unreachable", "timeout", "did not start the probe script"),
    ("h-raw-banner", "unreachable", "timeout", "no SSH banner"),
    ("h-disconnect", "audited", "sudo_denied", "connection closed before every probe finished"),
])
def test_each_misbehaviour_is_a_bounded_classified_result_for_that_host(hostile_run, hid, status, reason, words):
    h = hostile_run["hosts"][hid]
    assert (h["status"], h["reason"]) == (status, reason), h["detail"]
    assert words in h["detail"] and len(h["detail"]) <= 300
    assert h["duration_seconds"] < HOST_TIMEOUT + 2 * 3 + 5  # its own deadline (+ connect), whatever the host does
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", h["detail"])


def test_disconnect_mid_batch_keeps_what_arrived_and_errors_the_rest(hostile_run):
    res = hostile_run["hosts"]["h-disconnect"]["results"]
    assert any(r["status"] == "error" and "no output" in r["message"]["en"] for r in res)


def test_hostile_text_is_escaped_never_markup_or_template(hostile_run):
    h = hostile_run["hosts"]["h-hostile-text"]
    assert h["status"] == "audited"
    html = hostile_run["html"]
    text = json.dumps(hostile_run["doc"], ensure_ascii=False)
    assert "<script>alert" in text  # the hostile bytes did reach the results (as data) ...
    assert "<script>alert" not in html and "onerror=alert(1)>" not in html  # ... but never HTML as markup
    assert "&lt;script&gt;alert" in html
    assert "{{ 7*7 }}" in html and "JINJA" not in html.replace("{% if 1 %}JINJA{% endif %}", "")  # literal text
    assert "\x1b" not in html and "\x00" not in html
    assert "\x1b" not in hostile_run["stderr"]  # nothing from a host drives the terminal
    xml = (hostile_run["tmp"] / "run.xml").read_text()
    import xml.etree.ElementTree as ET

    ET.fromstring(xml)  # well-formed despite NUL and escape bytes
    assert "<script>" not in xml


def test_memory_stays_bounded(hostile_run):
    maxrss_mb = hostile_run["maxrss_kb"] / 1024
    assert maxrss_mb < 400, maxrss_mb  # 100 MB floods and 1 MB banners, yet the process stays small


def test_local_processes_are_read_within_budget_and_deadline():
    from audits.collect.transports.base import run_bounded

    meta = {}
    t0 = time.monotonic()
    out, rc = run_bounded(["bash", "-c", "yes"], "", 20, 1 << 20, meta=meta)
    assert len(out) == 1 << 20 and meta == {"output_capped": True} and rc is None
    meta = {}
    out, rc = run_bounded(["bash", "-c", "echo started; exec sleep 300"], "", 1.5, 1 << 20, meta=meta)
    assert out == b"started\n" and meta == {"host_timeout": True} and rc is None
    assert time.monotonic() - t0 < 10
    out, rc = run_bounded(["bash", "-s"], "echo hi; exit 3\n", 10, 1 << 20)
    assert (out, rc) == (b"hi\n", 3)


def test_connection_details_are_escaped_and_bounded():
    from audits.collect.transports.base import Unreachable, printable

    exc = Unreachable("protocol", "banner: \x1b[2J\x1b]0;x\x07" + "A" * 1000 + "\u202e")
    assert "\x1b" not in str(exc) and "\\x1b[2J" in exc.detail and len(exc.detail) == 300
    assert printable("line1\nline2\u202egnp.exe") == "line1 line2\\x202egnp.exe"
