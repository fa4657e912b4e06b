"""Issue #21 (import at the speed of parsing): the fast paths of ``auditctl import`` decide exactly as
the slow ones they replace.

- the compiled schema check (msgspec, ``audits/trust/bodytypes.py``) against jsonschema with the
  published ``docs/results.schema.json``, on a real run document and on mutated copies of it;
- canonical JSON from msgspec against ``json.dumps`` (the definition schools sign with);
- ``plain_text`` never calls a text plain when a string in it holds what the importer refuses or cleans;
- a long string in a result is refused naming its field whichever path the bundle takes;
- a failure in the middle of the bulk write (COPY on the real PostgreSQL server, executemany on
  SQLite) leaves no row, and the same bundle imports afterwards.
"""
from __future__ import annotations

import copy
import json

import jsonschema
import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

import auditctl
from audits.store import bulk
from audits.trust import bodytypes, bundle as fmt, importer
from tests.test_bundles import (BUREAU_INVENTORY, ROOT, TABLES, bureau, counts, keys, school,  # noqa: F401
                                trust, write_bundle)
from tests.test_bureau_fuzz import _paths, _set, hostile


@pytest.fixture(scope="module")
def published():
    schema = json.loads((ROOT / "docs" / "results.schema.json").read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)


def _honest(school) -> dict:
    """The school's real run document, with one waiver and one attestation so every type is present."""
    from audits.store.database import Store
    from reports.document import run_document

    body = run_document(Store(school["db"]), school["runs"][0], school="s1")
    body["hosts"][0]["results"] = body["hosts"][0]["results"][:2]  # small: thousands of copies are checked
    for score in (body.get("scores") or {}).get("schools", {}).values():
        score["awaiting"], score["high_risk"] = score.get("awaiting", [])[:1], score["high_risk"][:1]
        score["points"] = dict(list(score["points"].items())[:1])
        score["items"] = dict(list(score["items"].items())[:1])
    r0, r1 = body["hosts"][0]["results"][:2]
    r0["exceptions"] = [{"kind": "waiver", "check": r0["check_id"], "scope": "host:me", "expires": "2099-01-01",
                         "expired": False, "source": "waivers.yaml", "reason": "r", "approver": "a"}]
    r0["underlying"], r0["status"] = r0["status"], "waived"
    r1["exceptions"] = [{"kind": "attestation", "check": r1["check_id"], "scope": "school:s1", "expires": "2099-01-01",
                         "expired": False, "source": "a.yaml", "document": "d.pdf", "by": "x", "date": None,
                         "sha256": "00"}]
    return body


# Values that sit on the edges where JSON Schema and typed decoding could part: integral floats for
# integers, booleans for numbers, nulls for optional members, patterns with a trailing newline, bounds.
EDGES = [1.0, 2.0, 0.0, -1, 0, 5, 4, 1, True, False, None, "", "x", "1.0", "1.0\n", "1.2.3",
         "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z\n", "２０２６-01-01T00:00:00Z", "a.b", "A.b", "a..b",
         "host:x", "x:host", [], {}, [""], {"zh": "", "en": ""}, {"zh": ""}, "x" * 2000, "x" * 2001, 100.5, 100,
         -0.0, 1e300, 2 ** 40, "pass", "waived", "info", "critical", "audited", "timeout", "auditctl", "completed",
         "running", "waiver", "attestation", "compliant"]


def _agree(published, body) -> None:
    expected = published.is_valid(body)
    if bodytypes.fast_valid(body):
        assert expected, "the compiled check accepted what jsonschema refuses"
    assert (importer.schema_error(body) is None) == expected


@pytest.mark.parametrize("unknown", [False, True])
def test_compiled_schema_check_agrees_with_jsonschema_at_every_place_and_edge(school, published, unknown):
    honest = _honest(school)
    assert published.is_valid(honest) and bodytypes.fast_valid(honest)
    places = [p for p in _paths(honest) if p and not any(isinstance(k, int) and k > 1 for k in p)]
    assert len(places) < 200
    accepted = 0
    for path in places:
        for value in (["__new__"] if unknown else EDGES):
            body = copy.deepcopy(honest)
            if unknown:  # a member the schema does not name, next to this place
                node = body
                for k in path[:-1]:
                    node = node[k]
                if not isinstance(node, dict):
                    continue
                node["zz_unknown"] = 1
            else:
                _set(body, path, value)
            _agree(published, body)
            accepted += bodytypes.fast_valid(body)
        if isinstance(path[-1], str):  # and without it
            body = copy.deepcopy(honest)
            node = body
            for k in path[:-1]:
                node = node[k]
            del node[path[-1]]
            _agree(published, body)
    assert accepted > 50  # the fast path is taken for what is valid, not only refused wholesale


def test_compiled_schema_check_agrees_with_jsonschema_on_random_edits(school, published):
    honest = _honest(school)
    places = [p for p in _paths(honest) if p]

    @settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow], deadline=None)
    @given(edits=st.lists(st.tuples(st.integers(min_value=0, max_value=len(places) - 1), hostile), min_size=1,
                          max_size=3))
    def one(edits):
        body = copy.deepcopy(honest)
        for index, value in edits:
            try:
                _set(body, places[index], value)
            except (KeyError, IndexError, TypeError):
                pass
        _agree(published, body)

    one()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2 ** 31) + 1, max_value=2 ** 31 - 1)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(st.characters(blacklist_categories=("Cs",))),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(st.characters(blacklist_categories=("Cs",)),
                                                                        max_size=8), inner, max_size=4),
    max_leaves=20)


def _floats(v):
    if isinstance(v, float):
        yield v
    elif isinstance(v, list):
        for x in v:
            yield from _floats(x)
    elif isinstance(v, dict):
        for x in v.values():
            yield from _floats(x)


@settings(max_examples=300, deadline=None)
@given(value=json_values)
def test_canonical_json_from_msgspec_is_json_dumps_for_plain_floats(value):
    assume(all(fmt.plain_float(f) for f in _floats(value)))
    assert fmt.canonical(value, fast=True) == fmt.canonical(value)


@pytest.mark.parametrize("f", [1e16, 1e-5, 1.5e-7, 1e300, 5e-324])
def test_floats_python_writes_with_an_exponent_are_not_plain(f):
    assert not fmt.plain_float(f) and "e" in json.dumps(f)


@settings(max_examples=500, deadline=None)
@given(s=st.text(), ascii_escapes=st.booleans())
def test_plain_text_is_never_said_of_a_text_whose_strings_need_looking_at(s, ascii_escapes):
    try:
        data = json.dumps({s: [s]}, ensure_ascii=ascii_escapes).encode("utf-8")
    except UnicodeEncodeError:
        return  # a lone surrogate cannot be written as UTF-8 text at all
    if fmt.plain_text(data):
        assert fmt.bad_value(json.loads(data)) is None
        assert not importer._CONTROL.search(s)


@pytest.mark.parametrize("control", [False, True], ids=["plain text", "text with a control character"])
def test_a_long_string_in_a_result_is_refused_naming_it_on_either_path(school, keys, bureau, tmp_path, capsys,
                                                                       monkeypatch, control):
    from tests.test_bureau_trust import _import, _signed

    monkeypatch.setattr(fmt, "MAX_STRING", 3000)
    trust(bureau, keys, "s1")
    body = _honest(school)
    body["hosts"][0]["results"][1]["message"]["en"] = "m" * 3001
    if control:
        body["hosts"][0]["results"][0]["evidence"] = "bell\x07"
    path = _signed(keys, "s1", body, tmp_path, "long.json")
    assert fmt.plain_text(path.read_bytes()) is not control
    before = counts(bureau)
    capsys.readouterr()
    assert _import(bureau, path) == 2
    err = capsys.readouterr().err
    assert f"{path}:0: body.hosts[0].results[1].message.en: refused: longer than 3000 characters" in err, err
    assert counts(bureau) == before


@pytest.mark.parametrize("fail_on", ["results", "result_items"])
def test_a_failure_in_the_middle_of_the_bulk_write_leaves_no_row(school, keys, bureau, tmp_path, monkeypatch,
                                                                 fail_on):
    """The write goes in one transaction: a failure after the run, the hosts and (for result_items) every
    results row were sent leaves the store as it was; the same bundle imports afterwards."""
    from audits.store.database import Store, items_t

    trust(bureau, keys, "s1")
    path = write_bundle(school, tmp_path)

    def n_items():
        from sqlalchemy import func, select

        st_ = Store(bureau)
        with st_.engine.connect() as c:
            n = c.execute(select(func.count()).select_from(items_t)).scalar()
        st_.engine.dispose()
        return n

    before, items_before = counts(bureau), n_items()
    real = {"_copy": bulk._copy, "_executemany": bulk._executemany}

    def failing(name):
        def write(conn, table, columns, rows):
            if table == fail_on:
                if table == "result_items":
                    real[name](conn, table, columns, rows[: len(rows) // 2])  # half of them sent, then
                raise OSError("disk full (simulated)")
            return real[name](conn, table, columns, rows)
        return write

    monkeypatch.setattr(bulk, "_copy", failing("_copy"))
    monkeypatch.setattr(bulk, "_executemany", failing("_executemany"))
    from audits.inventory.load import load_inventory

    identity = importer.bureau_identity(load_inventory(BUREAU_INVENTORY["path"]))
    with pytest.raises(OSError, match="simulated"):
        importer.import_bundle(Store(bureau), path, identity)
    assert counts(bureau) == before and n_items() == items_before
    monkeypatch.setattr(bulk, "_copy", real["_copy"])
    monkeypatch.setattr(bulk, "_executemany", real["_executemany"])
    r = importer.import_bundle(Store(bureau), path, identity)
    assert not r.skipped and counts(bureau)["results"] == before["results"] + r.results
    assert n_items() > items_before


def test_bulk_rows_are_what_the_store_wrote_before(school):
    """rows_of encodes each JSON column as json.dumps(value, ensure_ascii=False) and gives one item row per
    (check, clause) of a host, whatever repeats (the encoding is shared between equal values only)."""
    from audits.store.database import HostRecord, result_item_rows

    rec = HostRecord("h", "10.0.0.1", "s1", "d1", 3, "debian", "audited", None, "", "t0", "t1", 1.0)
    results = [
        {"check_id": "a.b", "status": "fail", "severity": "high", "refs": ["GB/T 22239-2019 8.1.4.1 a", "x"],
         "title": {"zh": "标题", "en": "t"}, "message": {"en": "m", "zh": "信息"}, "remediation": {"zh": 1, "en": True},
         "evidence": "e", "evaluated_at": "t1", "exceptions": [{"kind": "waiver"}]},
        {"check_id": "a.c", "status": "pass", "severity": "low", "refs": ["GB/T 22239-2019 8.1.4.1 a"] * 2,
         "title": {"zh": "标题", "en": "t"}, "message": {"zh": "信息", "en": "m"}, "remediation": {"zh": "1", "en": "True"},
         "evidence": "", "evaluated_at": "t1", "underlying": "fail"},
    ]
    hosts, rows, items = bulk.rows_of("r", [(rec, results)])
    assert hosts[0]["run_id"] == "r" and hosts[0]["systems"] is None
    for r, row in zip(results, rows):
        got = dict(zip(bulk.RESULT_COLUMNS, row))
        for k in ("refs", "title", "message", "remediation"):
            assert got[k] == json.dumps(r[k], ensure_ascii=False)
        assert got["exceptions"] == (json.dumps(r["exceptions"], ensure_ascii=False) if r.get("exceptions") else None)
        assert got["underlying"] == r.get("underlying")
    want = sorted(tuple(d[c] for c in bulk.ITEM_COLUMNS) for d in result_item_rows("r", "h", results))
    assert sorted(items) == want and len(items) == 2


def test_bulk_texts_are_remembered_across_hosts_and_the_memo_is_bounded(monkeypatch):
    """A live run saves one host per call: each call's texts equal json.dumps of its own values (even where an earlier
    host's equal-looking value had another key order or a non-string member), and the memo kept between calls is
    bounded by its limit (plus one host's texts)."""
    from audits.store.database import HostRecord

    enc = bulk._Encoder(limit=50)
    monkeypatch.setattr(bulk, "_ENCODER", enc)
    for i in range(40):
        rec = HostRecord(f"h{i}", "10.0.0.1", "s1", "d1", 3, "debian", "audited", None, "", "t0", "t1", 1.0)
        results = [{"check_id": f"c{j}", "status": "fail", "severity": "low", "refs": ["GB/T 22239-2019 8.1.4.1 a"],
                    "title": {"zh": "标题", "en": "t"} if i % 2 else {"en": "t", "zh": "标题"},
                    "message": {"zh": f"主机 {i} 信息 {j}", "en": f"m{i}"},
                    "remediation": {"zh": "1", "en": "True"} if i % 3 else {"zh": 1, "en": True},
                    "evidence": "", "evaluated_at": "t1"} for j in range(4)]
        _, rows, _ = bulk.rows_of("r", [(rec, results)])
        for r, row in zip(results, rows):
            got = dict(zip(bulk.RESULT_COLUMNS, row))
            for k in ("refs", "title", "message", "remediation"):
                assert got[k] == json.dumps(r[k], ensure_ascii=False), (i, k)
        assert len(enc.dicts) <= 50 + 4 * 3
    assert enc.dicts, "the memo is kept between calls"
