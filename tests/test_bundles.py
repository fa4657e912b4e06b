"""Signed bundles end to end: real Ed25519 keys, a real local run in a school's SQLite store, and the
bureau's store on SQLite and on the real PostgreSQL server. A valid bundle is imported once and reads
back exactly like the school's own run; every refusal leaves the bureau's store row for row unchanged."""
import base64
import json
import stat
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select

import auditctl
from audits.store import database as store_mod
from audits.trust.signing import load_private
from audits.store.database import Store
from reports.bundle import make_bundle
from reports.diff import diff_runs
from reports.document import run_document

ROOT = Path(__file__).resolve().parent.parent
TABLES = (store_mod.runs_t, store_mod.hosts_t, store_mod.results_t, store_mod.imported_bundles_t)


@pytest.fixture(scope="module")
def school(tmp_path_factory):
    """A school's machine: a real local audit of two hosts of two schools, and a second run of the same
    scope built through the store API with one finding fixed and one new."""
    tmp = tmp_path_factory.mktemp("school")
    inv = tmp / "inv.yaml"
    inv.write_text(textwrap.dedent("""\
        bureau: {id: t, name: test}
        districts:
          - id: d1
            schools:
              - id: s1
                systems: [{id: sys1, level: 3}]
                hosts: [{id: me, address: 127.0.0.1, connection: local, systems: [sys1]}]
              - id: s2
                systems: [{id: sys2, level: 2}]
                hosts: [{id: other, address: 127.0.0.1, connection: local, systems: [sys2]}]
        """), encoding="utf-8")
    db = tmp / "school.db"
    assert auditctl.main(["run", "-q", "-i", str(inv), "--db", str(db), "--out", str(tmp / "out")]) == 0
    st = Store(str(db))
    first = st.runs(1)[0]
    results = st.results(first["id"])
    second = "20991231T000000Z-abcdef"
    st.create_run(second, first["scope"], "0.1.0")
    for h in st.hosts(first["id"]):
        rows = [{k: v for k, v in r.items() if k != "id"} for r in results[h.host_id]]
        for r in rows:
            if r["check_id"] == "mlps.access.passwd_mode":
                r["status"], r["evidence"] = "fail", "mode 0666"
        st.save_host(second, h, rows)
    st.finish_run(second, "completed")
    BUREAU_INVENTORY["path"] = str(inv)
    return {"tmp": tmp, "db": str(db), "runs": [first["id"], second]}


@pytest.fixture
def keys(tmp_path, monkeypatch):
    """This test's own config directory, with keys for s1, s2 and s3 (s3's is never registered)."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.delenv("AUDITCTL_KEY_PASSPHRASE", raising=False)
    for s in ("s1", "s2", "s3"):
        assert auditctl.main(["keys", "init", "--school", s]) == 0
    d = tmp_path / "cfg" / "auditctl" / "keys"
    return {s: (d / f"{s}.key", d / f"{s}.pub") for s in ("s1", "s2", "s3")}


@pytest.fixture(params=["sqlite", "postgresql"])
def bureau(request, tmp_path):
    """The bureau's store: a fresh SQLite file, or a fresh database on the real PostgreSQL server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'bureau.db'}"
        return
    from tests.conftest import fresh_pg_database

    with fresh_pg_database("auditctl_bundles_") as url:
        yield url


def counts(url):
    st = Store(url)
    with st.engine.connect() as c:
        out = {t.name: c.execute(select(func.count()).select_from(t)).scalar() for t in TABLES}
    st.engine.dispose()
    return out


def write_bundle(school, tmp_path, run=0, who="s1", name=None):
    out = tmp_path / (name or f"b{run}-{who}.json")
    assert auditctl.main(["bundle", "--run", school["runs"][run], "--db", school["db"], "--school", who,
                          "-o", str(out)]) == 0
    return out


def trust(bureau, keys, school_id, key_of=None):
    assert auditctl.main(["keys", "trust", school_id, str(keys[key_of or school_id][1]), "--db", bureau]) == 0


BUREAU_INVENTORY = {}  # the school fixture's inventory is also the bureau's (issue #18: identity from the bureau)


def import_(bureau, *paths):
    return auditctl.main(["import", *map(str, paths), "--db", bureau, "-i", BUREAU_INVENTORY["path"]])


# -- keys ---------------------------------------------------------------------------------------
def test_key_files_are_private_and_never_overwritten(keys, capsys):
    key, pub = keys["s1"]
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and stat.S_IMODE(key.parent.stat().st_mode) == 0o700
    assert pub.read_text().startswith("-----BEGIN PUBLIC KEY-----")
    before = key.read_bytes()
    capsys.readouterr()
    assert auditctl.main(["keys", "init", "--school", "s1"]) == 2
    assert "already exists" in capsys.readouterr().err and key.read_bytes() == before
    assert auditctl.main(["keys", "init", "--school", "../etc"]) == 2  # a school id is a file name: checked


def test_passphrase_encrypted_key(tmp_path, monkeypatch, school, capsys):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.delenv("AUDITCTL_KEY_PASSPHRASE", raising=False)
    secret = "correct horse 马 battery"
    pf = tmp_path / "pass"
    pf.write_text(secret + "\n", encoding="utf-8")
    assert auditctl.main(["keys", "init", "--school", "s1", "--passphrase-file", str(pf)]) == 0
    key = tmp_path / "cfg" / "auditctl" / "keys" / "s1.key"
    assert b"ENCRYPTED PRIVATE KEY" in key.read_bytes()
    args = ["bundle", "--run", school["runs"][0], "--db", school["db"], "-o", str(tmp_path / "b.json"),
            "--school", "s1"]
    assert auditctl.main(args) == 2  # no passphrase, no terminal: a clear refusal
    assert "encrypted" in capsys.readouterr().err and not (tmp_path / "b.json").exists()
    monkeypatch.setenv("AUDITCTL_KEY_PASSPHRASE", "wrong")
    assert auditctl.main(args) == 2 and "wrong passphrase" in capsys.readouterr().err
    monkeypatch.setenv("AUDITCTL_KEY_PASSPHRASE", secret)
    assert auditctl.main(args) == 0
    monkeypatch.delenv("AUDITCTL_KEY_PASSPHRASE")
    assert auditctl.main(args + ["--passphrase-file", str(pf)]) == 0
    crlf = tmp_path / "pass-crlf"  # the same passphrase in a file saved on Windows
    crlf.write_bytes((secret + "\r\n").encode("utf-8"))
    assert auditctl.main(args + ["--passphrase-file", str(crlf)]) == 0
    out = capsys.readouterr()
    assert secret not in out.out + out.err and secret not in (tmp_path / "b.json").read_text(encoding="utf-8")
    key.chmod(0o644)
    assert auditctl.main(args + ["--passphrase-file", str(pf)]) == 2  # a key others can read is refused
    assert "chmod 600" in capsys.readouterr().err


def test_trust_revoke_list(keys, bureau, capsys):
    trust(bureau, keys, "s1")
    trust(bureau, keys, "s1")  # registering the same key again changes nothing
    assert auditctl.main(["keys", "trust", "s2", str(keys["s1"][1]), "--db", bureau]) == 2  # one key, one school
    assert "already registered for school 's1'" in capsys.readouterr().err
    capsys.readouterr()
    assert auditctl.main(["keys", "list", "--json", "--db", bureau]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["school"] == "s1" and row["revoked_at"] is None and "public_key" not in row
    assert auditctl.main(["keys", "revoke", row["key_id"][:12], "--db", bureau]) == 0
    assert auditctl.main(["keys", "revoke", "s1", "--db", bureau]) == 2  # nothing active left
    assert auditctl.main(["keys", "trust", "s1", str(keys["s1"][1]), "--db", bureau]) == 2  # revoked stays revoked
    assert "revoked" in capsys.readouterr().err
    bad = keys["s1"][1].parent / "bad.pub"
    bad.write_text("-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n")
    assert auditctl.main(["keys", "trust", "s3", str(bad), "--db", bureau]) == 2


# -- bundle -------------------------------------------------------------------------------------
def test_bundle_holds_one_school_and_documents_its_envelope(school, keys, tmp_path, capsys):
    assert auditctl.main(["bundle", "--run", school["runs"][0], "--db", school["db"],
                          "-o", str(tmp_path / "x.json")]) == 2  # two schools in the run: name one
    assert "--school" in capsys.readouterr().err
    b = json.loads(write_bundle(school, tmp_path).read_text(encoding="utf-8"))
    assert set(b) == {"bundle_version", "signer", "run_id", "body", "signature"} and b["bundle_version"] == 1
    assert b["signer"]["school"] == "s1" and b["run_id"] == school["runs"][0]
    assert [h["id"] for h in b["body"]["hosts"]] == ["me"] and b["body"]["summary"]["hosts"] == 1
    assert list(b["body"]["scores"]["schools"]) == ["s1"]
    # another implementation can verify it from the documented canonical form alone
    from cryptography.hazmat.primitives.serialization import load_pem_public_key
    signed = json.dumps({k: b[k] for k in ("bundle_version", "signer", "run_id", "body")}, sort_keys=True,
                        separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    load_pem_public_key(keys["s1"][1].read_bytes()).verify(base64.b64decode(b["signature"]), signed)


# -- import -------------------------------------------------------------------------------------
def test_valid_bundle_imported_once_reads_back_like_the_schools_run(school, keys, bureau, tmp_path, capsys):
    trust(bureau, keys, "s1")
    b0, b1 = write_bundle(school, tmp_path, 0), write_bundle(school, tmp_path, 1)
    empty = counts(bureau)
    assert import_(bureau, b0) == 0
    body = json.loads(b0.read_text(encoding="utf-8"))["body"]
    n_results = sum(len(h["results"]) for h in body["hosts"])
    assert counts(bureau) == {"runs": 1, "run_hosts": 1, "results": n_results, "imported_bundles": 1}
    assert n_results > 20 and empty == {"runs": 0, "run_hosts": 0, "results": 0, "imported_bundles": 0}
    # the same bundle again, even re-formatted: skipped, store unchanged (exit 0: an inbox can be re-imported)
    pretty = tmp_path / "pretty.json"
    pretty.write_text(json.dumps(json.loads(b0.read_text(encoding="utf-8")), indent=2, ensure_ascii=False))
    capsys.readouterr()
    assert import_(bureau, b0, pretty) == 0
    assert capsys.readouterr().out.count("already imported") == 2
    assert counts(bureau)["results"] == n_results
    assert import_(bureau, b1) == 0
    # the SQL roll-ups' per-clause rows come with the imported results, as with a local save
    items = store_mod.items_t
    def n_items(url, run_id):
        st = Store(url)
        with st.engine.connect() as c:
            n = c.execute(select(func.count()).select_from(items).where(items.c.run_id == run_id,
                                                                        items.c.host_id == "me")).scalar()
        st.engine.dispose()
        return n
    at = [f"{r}@s1" for r in school["runs"]]  # the bureau stores a school's run as RUN_ID@SCHOOL (issue #18)
    assert n_items(bureau, at[0]) == n_items(school["db"], school["runs"][0]) > 0
    # reports, scores and diff on the bureau are those of the school
    bureau_store, school_store = Store(bureau), Store(school["db"])
    for rid in school["runs"]:
        mine, theirs = run_document(bureau_store, f"{rid}@s1"), run_document(school_store, rid, school="s1")
        assert mine["hosts"] == theirs["hosts"] and mine["run"] == {**theirs["run"], "id": f"{rid}@s1"}
        assert {h["city"] for h in mine["hosts"]} == {h["city"] for h in theirs["hosts"]} != {None}  # city kept
        assert mine["scores"] == theirs["scores"] and mine["summary"] == theirs["summary"]
    d = diff_runs(run_document(bureau_store, at[0]), run_document(bureau_store, at[1]))
    assert [r["check_id"] for r in d["new"]] == ["mlps.access.passwd_mode"]
    assert auditctl.main(["report", "--run", at[1], "--db", bureau, "--out", str(tmp_path / "html")]) == 0
    assert (tmp_path / "html" / at[1].replace("@", "_") / "s1" / "index.html").exists()
    assert auditctl.main(["diff", *at, "--db", bureau]) == 0
    # and the bureau dashboard ranks the school from the imported run, with the school's own score
    assert auditctl.main(["dashboard", "--db", bureau, "--json", str(tmp_path / "view.json"),
                          "-o", str(tmp_path / "dash")]) == 0
    (row,) = json.loads((tmp_path / "view.json").read_text(encoding="utf-8"))["schools"]
    latest = run_document(school_store, school["runs"][1], school="s1")["scores"]["schools"]["s1"]
    assert row["id"] == "s1" and row["run_id"] == at[1] and row["rate"] == latest["rate"]
    # revoking the key later does not undo the import; re-importing stays a no-op
    before = counts(bureau)
    assert auditctl.main(["keys", "revoke", "s1", "--db", bureau]) == 0
    capsys.readouterr()
    assert import_(bureau, b0) == 0 and "already imported" in capsys.readouterr().out
    assert counts(bureau) == before
    bureau_store.engine.dispose()


def _tamper_one_byte(path, tmp_path):
    """Edit one byte inside a result's evidence (a non-empty one), leaving valid JSON."""
    data = bytearray(path.read_bytes())
    at = data.index(b'"evidence": "0') + len(b'"evidence": "')
    data[at] = ord("X") if data[at] != ord("X") else ord("Y")
    out = tmp_path / "tampered.json"
    out.write_bytes(bytes(data))
    return out


def _resigned(school, keys, tmp_path, claim="s1", key="s1", all_schools=False, edit=None, name="forged.json"):
    """A bundle signed with a real key over a body the honest command would not produce."""
    body = run_document(Store(school["db"]), school["runs"][0], school=None if all_schools else "s1")
    if edit:
        edit(body)
    b = make_bundle(body, claim, load_private(keys[key][0]))
    out = tmp_path / name
    out.write_text(json.dumps(b, ensure_ascii=False), encoding="utf-8")
    return out


def _set_first_status(body):
    body["hosts"][0]["results"][0]["status"] = "ok"


def _change_rendered_by(body):
    body["tool"]["rendered_by"] = "9.9"


REFUSALS = {
    "tampered": (lambda s, k, t, b: _tamper_one_byte(write_bundle(s, t), t), "signature does not match"),
    "unknown key": (lambda s, k, t, b: _resigned(s, k, t, claim="s1", key="s3"), "not registered"),
    "revoked key": (lambda s, k, t, b: (auditctl.main(["keys", "revoke", "s2", "--db", b]),
                                        _resigned(s, k, t, claim="s2", key="s2"))[1], "revoked on"),
    "key of another school": (lambda s, k, t, b: _resigned(s, k, t, claim="s1", key="s2"),
                              "registered for school 's2'"),
    "host of another school": (lambda s, k, t, b: _resigned(s, k, t, all_schools=True),
                               "belongs to school 's2'"),
    "schema": (lambda s, k, t, b: _resigned(s, k, t, edit=_set_first_status), "run-document schema"),
    "not json": (lambda s, k, t, b: (t / "junk.json").write_bytes(b"{\"bundle_version\": 1,") and t / "junk.json",
                 "not valid JSON"),
    "duplicate key": (lambda s, k, t, b: (t / "dup.json").write_bytes(b'{"run_id": "a", "run_id": "b"}')
                      and t / "dup.json", "duplicate key"),
    "replay, different bundle": (lambda s, k, t, b: _resigned(s, k, t, edit=_change_rendered_by),
                                 "already imported on"),
    "run id already stored": (lambda s, k, t, b: (Store(b).create_run(s["runs"][1] + "@s1", {}, "0.1.0"),
                                                  write_bundle(s, t, 1))[1], "already exists in this store"),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_refusals_store_nothing(case, school, keys, bureau, tmp_path, capsys):
    trust(bureau, keys, "s1")
    trust(bureau, keys, "s2")
    assert import_(bureau, write_bundle(school, tmp_path, 0, name="honest.json")) == 0
    make, expected = REFUSALS[case]
    path = make(school, keys, tmp_path, bureau)
    before = counts(bureau)
    capsys.readouterr()
    assert import_(bureau, path) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{path}:") and "refused" in err and expected in err, err
    assert counts(bureau) == before


@pytest.mark.parametrize("path,value", [(("hosts", 0, "results", 0, "status"), "ok"), (("hosts", 0, "status"), "down"),
                                        (("hosts", 0, "results", 0, "underlying"), "maybe"), (("run", "extra"), 1),
                                        (("hosts", 0, "results", 0, "evidence"), "x" * 2001), (("hosts", 0, "level"), 9)])
def test_import_schema_check_agrees_with_the_published_schema(school, path, value):
    """The importer validates with local references inlined (for speed): same verdicts as the file."""
    import copy

    import jsonschema

    from audits.trust.importer import _validator

    doc = run_document(Store(school["db"]), school["runs"][0])
    schema = json.loads((ROOT / "docs" / "results.schema.json").read_text(encoding="utf-8"))
    assert _validator().is_valid(doc) and jsonschema.Draft202012Validator(schema).is_valid(doc)
    bad = copy.deepcopy(doc)
    node = bad
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    assert not _validator().is_valid(bad) and not jsonschema.Draft202012Validator(schema).is_valid(bad)


def test_oversized_bundle_refused_unread(school, keys, bureau, tmp_path, capsys, monkeypatch):
    from audits.trust import bundle

    trust(bureau, keys, "s1")
    path = write_bundle(school, tmp_path)
    monkeypatch.setattr(bundle, "MAX_BUNDLE_BYTES", 1000)
    assert import_(bureau, path) == 2 and "larger than 1000 bytes" in capsys.readouterr().err
    assert counts(bureau)["runs"] == 0


def test_one_refused_bundle_does_not_stop_the_others(school, keys, bureau, tmp_path):
    trust(bureau, keys, "s1")
    good = write_bundle(school, tmp_path, 1)
    bad = _tamper_one_byte(write_bundle(school, tmp_path, 0), tmp_path)
    assert import_(bureau, bad, good) == 2
    assert [r["id"] for r in Store(bureau).runs()] == [school["runs"][1] + "@s1"]


def _import_in_process(url, path, inventory):
    import auditctl as cli

    return cli.main(["import", str(path), "--db", url, "-i", inventory])


def test_the_same_bundle_imported_by_two_processes_at_once_is_stored_once(school, keys, bureau, tmp_path):
    import multiprocessing

    trust(bureau, keys, "s1")
    path = write_bundle(school, tmp_path)
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        codes = pool.starmap(_import_in_process, [(bureau, path, BUREAU_INVENTORY["path"])] * 2)
    assert codes == [0, 0]
    c = counts(bureau)
    assert c["runs"] == 1 and c["imported_bundles"] == 1 and c["run_hosts"] == 1


@pytest.mark.parametrize("unseen_reads", [0, 1, 2, 3])   # 3: all three checks pass, the write meets the other
def test_a_concurrent_import_of_the_same_bundle_committing_between_the_checks_is_a_skip(
        school, keys, bureau, tmp_path, monkeypatch, unseen_reads):
    """The other import commits while this one checks: its first ``unseen_reads`` reads of the store (by digest,
    of the run, by run id) still see the store before that commit (after 3 the write itself meets the committed run:
    a read after that conflict sees it). Whichever read the commit falls after, this import is a skip, never a
    refusal (flaky on PostgreSQL before: the run was read after its bundle record, and 2 was refused)."""
    from audits.inventory.load import load_inventory
    from audits.trust import importer

    trust(bureau, keys, "s1")
    path = write_bundle(school, tmp_path)
    identity = importer.bureau_identity(load_inventory(BUREAU_INVENTORY["path"]))
    assert not importer.import_bundle(Store(bureau), path, identity).skipped   # the other import, committed
    reads = {"n": 0}
    real_run, real_bundle = Store.has_run, Store.imported_bundle

    def before_commit(real, empty):
        def read(self, *a, **k):
            reads["n"] += 1
            return empty if reads["n"] <= unseen_reads else real(self, *a, **k)
        return read

    monkeypatch.setattr(Store, "has_run", before_commit(real_run, False))
    monkeypatch.setattr(Store, "imported_bundle", before_commit(real_bundle, None))
    got = importer.import_bundle(Store(bureau), path, identity)
    assert got.skipped
    c = counts(bureau)
    assert c["runs"] == 1 and c["imported_bundles"] == 1 and c["run_hosts"] == 1


# -- migrations ---------------------------------------------------------------------------------
def test_v1_store_gains_the_bundle_tables_and_a_late_lower_migration_still_runs(tmp_path, monkeypatch):
    """A v1 store opened by code that has migration 3 but not yet 2 (the order branches may land in)
    gets 3; code that then has 2 as well still runs 2 on it."""
    from sqlalchemy import inspect

    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    v1_hosts = [c.name for c in store_mod.hosts_t.c if c.name not in ("name", "school_name", "district_name", "systems", "city")]
    with engine.begin() as c:  # a store as auditctl v1 left it
        store_mod.meta_t.create(c)
        store_mod.runs_t.create(c)
        store_mod.results_t.create(c)
        c.exec_driver_sql("CREATE TABLE run_hosts (" + ", ".join(v1_hosts) + ", PRIMARY KEY (run_id, host_id))")
        c.execute(store_mod.meta_t.insert().values(key="schema_version", value="1"))
    without_2 = {k: v for k, v in store_mod.MIGRATIONS.items() if k != 2}
    monkeypatch.setattr(store_mod, "MIGRATIONS", without_2)
    Store(url)
    assert {"trusted_keys", "imported_bundles"} <= set(inspect(engine).get_table_names())
    assert "school_name" not in {c["name"] for c in inspect(engine).get_columns("run_hosts")}
    monkeypatch.undo()
    Store(url)
    assert "school_name" in {c["name"] for c in inspect(create_engine(url)).get_columns("run_hosts")}
