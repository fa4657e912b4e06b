"""Issue #18 fuzz target: the importer over bundles signed with a TRUSTED key (the signature is valid,
the body is hostile), on SQLite and on the real PostgreSQL server. Whatever the body, `import_bundle`
either stores the whole run or refuses with exactly one `FILE:0: field: refused: …` problem and leaves
the store row for row unchanged; nothing else escapes (no traceback would stop a batch). Hypothesis
runs with the `ci` profile registered in tests/conftest.py (bounded examples); longer:
`--hypothesis-profile=fuzz`."""
from __future__ import annotations

import copy
import json
import re

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from audits.model.errors import InputError
from audits.store.database import Store
from audits.trust.importer import bureau_identity, import_bundle
from tests.test_bundles import TABLES, BUREAU_INVENTORY, keys, school, trust  # noqa: F401

def counts_of(store) -> dict:
    from sqlalchemy import func, select

    with store.engine.connect() as c:
        return {t.name: c.execute(select(func.count()).select_from(t)).scalar() for t in TABLES}


OUTCOMES: dict = {}
LINE = re.compile(r"^\S.*:0: \S+: refused: .+$", re.S)

hostile_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["..", ".", "", "a\x00b", "\x1b[2J\x9b", "\u202e", "x" * 300, "1e400", "GB/T 22239-2019 " + "9" * 40,
                     "d2", "s2", "../../etc", "-rf", "\ufffd", "\n", "2026-01-01T00:00:00Z", "9999-99-99T99:99:99Z"]))
hostile = st.one_of(hostile_text, st.none(), st.booleans(), st.integers(min_value=-(2 ** 40), max_value=2 ** 40),
                    st.floats(allow_nan=False, allow_infinity=False), st.lists(hostile_text, max_size=3),
                    st.dictionaries(hostile_text, hostile_text, max_size=3))


def _paths(value, at=()):
    yield at
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, at + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, at + (i,))


def _set(body, path, value):
    node = body
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = value


@pytest.mark.parametrize("store_kind", ["sqlite", "postgresql"])
def test_signed_hostile_bodies_never_stop_a_batch_nor_store_part_of_a_run(school, keys, tmp_path, store_kind):
    from audits.inventory.load import load_inventory
    from audits.trust.signing import load_private
    from reports.bundle import make_bundle
    from reports.document import run_document

    if store_kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'fuzz.db'}"
        ctx = None
    else:
        from tests.conftest import fresh_pg_database

        ctx = fresh_pg_database("auditctl_fuzz18_")
        url = ctx.__enter__()
    try:
        trust(url, keys, "s1")
        store = Store(url)
        identity = bureau_identity(load_inventory(BUREAU_INVENTORY["path"]))
        honest = run_document(Store(school["db"]), school["runs"][0], school="s1")
        paths = [p for p in _paths(honest) if p]
        key = load_private(keys["s1"][0])
        n = [0]

        @settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow], deadline=None)
        @given(edits=st.lists(st.tuples(st.integers(min_value=0, max_value=len(paths) - 1), hostile), min_size=1,
                              max_size=3),
               run_id=st.one_of(st.just(None), hostile_text))
        def one(edits, run_id):
            body = copy.deepcopy(honest)
            for index, value in edits:
                try:
                    _set(body, paths[index], value)
                except (KeyError, IndexError, TypeError):
                    pass  # an earlier edit removed that place
            n[0] += 1
            rid = run_id if run_id is not None else f"fuzz-{n[0]}"
            if isinstance(body.get("run"), dict):
                body["run"]["id"] = rid if not isinstance(run_id, str) or run_id else body["run"].get("id")
            try:
                bundle = make_bundle(body, "s1", key)
            except (TypeError, ValueError, KeyError, AttributeError):
                return  # not signable JSON (our own signer refuses it): no bundle to import
            bundle["run_id"] = body["run"]["id"] if isinstance(body.get("run"), dict) and isinstance(
                body["run"].get("id"), str) else rid
            import base64

            from audits.trust.bundle import signed_bytes
            bundle["signature"] = base64.b64encode(key.sign(signed_bytes(bundle))).decode()
            path = tmp_path / f"b{n[0]}.json"
            path.write_text(json.dumps(bundle, ensure_ascii=False), encoding="utf-8")
            before = counts_of(store)
            try:
                r = import_bundle(store, path, identity)
            except InputError as exc:
                assert len(exc.problems) == 1 and LINE.match(str(exc.problems[0])), exc.problems
                assert counts_of(store) == before  # nothing partial
                OUTCOMES[exc.problems[0].field.split('[')[0]] = OUTCOMES.get(exc.problems[0].field.split('[')[0], 0) + 1
                return
            after = counts_of(store)
            OUTCOMES['imported'] = OUTCOMES.get('imported', 0) + 1
            if r.skipped:
                assert after == before
                return
            assert after["runs"] == before["runs"] + 1 and after["imported_bundles"] == before["imported_bundles"] + 1
            assert after["run_hosts"] - before["run_hosts"] == r.hosts
            assert after["results"] - before["results"] == r.results
            doc_text = json.dumps(run_document(store, r.run_id), ensure_ascii=False)
            assert "\x00" not in doc_text and "\x1b" not in doc_text and "\u202e" not in doc_text

        one()
        store.engine.dispose()
    finally:
        if ctx is not None:
            ctx.__exit__(None, None, None)
