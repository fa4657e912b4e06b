"""The JSON run document of a real local audit validates against docs/results.schema.json."""
import copy
import json
from pathlib import Path

import jsonschema
import pytest

import auditctl

SCHEMA = json.loads((Path(__file__).resolve().parent.parent / "docs" / "results.schema.json").read_text())


@pytest.fixture(scope="module")
def real_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("schema")
    inv = tmp / "inv.yaml"
    inv.write_text("school: {id: s1, district: d1, systems: [{id: x, level: 2}], hosts: "
                   "[{id: me, address: 127.0.0.1, connection: local, systems: [x]}, "
                   "{id: gone, address: 127.0.0.1, port: 1, connection: ssh, user: a, systems: [x]}]}\n")
    assert auditctl.main(["run", "-q", "-i", str(inv), "--db", str(tmp / "r.db"), "--json", str(tmp / "r.json"),
                          "--out", str(tmp / "out")]) == 3
    return tmp, json.loads((tmp / "r.json").read_text())


def test_real_run_validates(real_run):
    _, doc = real_run
    jsonschema.validate(doc, SCHEMA)
    assert doc["schema_version"] == "1.1"
    assert {"id", "started_at", "finished_at", "status"} <= set(doc["run"])
    me, gone = sorted(doc["hosts"], key=lambda h: h["id"] != "me")
    assert {"id", "address", "school", "status", "reason", "results"} <= set(me)
    assert {"check_id", "status", "severity", "references", "evidence", "message"} <= set(me["results"][0])
    assert gone["status"] == "unreachable" and gone["reason"] == "refused"
    assert doc["summary"]["unreachable"] == 1 and doc["summary"]["audited"] == 1


@pytest.mark.parametrize("path,value", [
    (("hosts", 0, "results", 0, "status"), "ok"),
    (("hosts", 0, "status"), "down"),
    (("hosts", 0, "results", 0, "severity"), "urgent"),
    (("run", "status"), "done"),
])
def test_drift_is_caught(real_run, path, value):
    _, doc = real_run
    bad = copy.deepcopy(doc)
    node = bad
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, SCHEMA)


def test_report_re_renders_the_stored_run(real_run):
    tmp, doc = real_run
    out = tmp / "again.json"
    assert auditctl.main(["report", "--run", doc["run"]["id"], "--db", str(tmp / "r.db"), "--json", str(out),
                          "--out", str(tmp / "out2")]) == 0
    again = json.loads(out.read_text())
    assert again["hosts"] == doc["hosts"] and again["run"] == doc["run"]
    assert list((tmp / "out2" / doc["run"]["id"]).glob("*/index.html"))
