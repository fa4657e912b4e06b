"""Store.results decodes each distinct JSON text of a run once (titles, references and messages recur on every
host) and still gives every row values equal to json.loads of its own text, in containers of its own."""
import json

from sqlalchemy import text

from audits.store.database import HostRecord, Store


def host(hid):
    return HostRecord(hid, "192.0.2.7", "s1", "d1", 3, "debian", "audited", None, "", "2026-01-01T00:00:00Z",
                      "2026-01-01T00:00:01Z", 1.0)


def result(check_id, **kw):
    return {"check_id": check_id, "status": "fail", "severity": "high", "refs": ["GB/T 22239-2019 8.1.4.1 a", "CIS 1"],
            "title": {"zh": "标题", "en": "title"}, "message": {"zh": "消息", "en": "msg"},
            "remediation": {"zh": "修", "en": "fix"}, "evidence": "e", "evaluated_at": "2026-01-01T00:00:00Z", **kw}


def test_rows_equal_their_own_text_and_share_no_container(tmp_path):
    s = Store(f"sqlite:///{tmp_path / 'r.db'}")
    s.create_run("r1", {}, "0.1.0")
    odd = {"zh": "x", "n": 1, "nested": {"a": [1, 2]}}  # not a {lang: text}: decoded per row, as before
    for hid in ("h1", "h2", "h3"):
        s.save_host("r1", host(hid), [result("c.a"), result("c.b", message=odd, refs=[]),
                                      result("c.c", title={"zh": "另", "en": "other"}, refs=["A"])])
    got = s.results("r1")
    with s.engine.connect() as c:
        raw = c.execute(text("select host_id, check_id, refs, title, message, remediation from results "
                             "where run_id='r1' order by host_id, check_id")).all()
    rows = [r for h in sorted(got) for r in got[h]]
    assert len(rows) == len(raw) == 9
    for r, (hid, cid, refs, title, message, remediation) in zip(rows, raw):
        assert (r["host_id"], r["check_id"]) == (hid, cid)
        for key, textv in (("refs", refs), ("title", title), ("message", message), ("remediation", remediation)):
            assert r[key] == json.loads(textv) and list(r[key]) == list(json.loads(textv))
    containers = [id(r[k]) for r in rows for k in ("refs", "title", "message", "remediation")]
    assert len(set(containers)) == len(containers)  # nothing shared between rows or fields
    got["h1"][0]["title"]["zh"] = "changed"
    got["h1"][0]["refs"].append("X")
    assert got["h2"][0]["title"]["zh"] == "标题" and got["h2"][0]["refs"] == ["GB/T 22239-2019 8.1.4.1 a", "CIS 1"]
    assert s.results("r1")["h1"][0]["title"]["zh"] == "标题"
