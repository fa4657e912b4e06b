#!/usr/bin/env python3
"""Benchmark (not a test): sign and import a school's bundle of N hosts, and print the file size and
the time of each step: building the run document, signing, and at the bureau parsing, verifying the
signature, validating the schema and writing the store (SQLite, and PostgreSQL when reachable).

The hosts are copies (new ids) of one real local audit of this machine, so every result carries real
titles, messages, remediation and evidence.

Usage:  .venv/bin/python bench/bundles.py --hosts 300
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import auditctl  # noqa: E402
from audits.trust import importer  # noqa: E402
from audits.trust.signing import load_public, public_pem, key_id  # noqa: E402
from audits.store.database import Store  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402
from audits.trust import bundle as fmt  # noqa: E402
from reports.bundle import make_bundle  # noqa: E402
from reports.document import run_document  # noqa: E402


def clock(label, fn, figures):
    t, c = time.perf_counter(), time.process_time()
    out = fn()
    figures.append((label, time.perf_counter() - t, time.process_time() - c))
    return out


def show(figures) -> None:
    for label, wall, cpu in figures:
        print(f"  {label:58} {wall:7.2f} s wall {cpu:7.2f} s CPU")


def school_run(tmp: Path, hosts: int) -> tuple[str, str]:
    inv = tmp / "inv.yaml"
    inv.write_text("school: {id: s1, district: d1, systems: [{id: x, level: 3}], hosts: "
                   "[{id: me, address: 127.0.0.1, connection: local, systems: [x]}]}\n")
    db = str(tmp / "school.db")
    auditctl.main(["run", "-q", "-i", str(inv), "--db", db, "--out", str(tmp / "out")])
    st = Store(db)
    real = st.runs(1)[0]
    (rec,) = st.hosts(real["id"])
    rows = [{k: v for k, v in r.items() if k != "id"} for r in st.results(real["id"])[rec.host_id]]
    big = "20991231T000000Z-bench0"
    st.create_run(big, real["scope"], "0.1.0")
    for i in range(hosts):
        st.save_host(big, replace(rec, host_id=f"h{i:04d}", address=f"10.0.{i // 250}.{i % 250}"), rows)
    st.finish_run(big, "completed")
    return db, big


def bureau_import(url: str, path: Path, pub, figures) -> None:
    store = Store(url)
    store.trust_key("s1", key_id(pub), public_pem(pub))
    data = path.read_bytes()
    b, sig = clock("parse (JSON, envelope)", lambda: fmt.parse(data, str(path)), figures)
    key = store.trusted_key(b["signer"]["key_id"])
    clock("verify signature", lambda: importer.verify(key["public_key"], sig, fmt.signed_bytes(b)), figures)
    h0 = b["body"]["hosts"][0]  # the bench's bureau knows s1 as the school says (identity from the bureau)
    ident = {f: (h0.get(f) or None) if f != "district" else h0["district"] for f in importer.IDENTITY_FIELDS}
    clock("validate body (schema, schools, identity, limits)",
          lambda: importer._check_body(b["body"], "s1", b["run_id"], lambda *a: sys.exit(f"refused: {a}"), ident),
          figures)
    run_row, hosts = importer._rows(b["body"], importer.stored_run_id(b["run_id"], "s1"))
    clock("write store (one transaction)",
          lambda: store.import_run(run_row, hosts, {"digest": fmt.digest(b), "school": "s1", "key_id": key_id(pub)}),
          figures)
    clock("whole `import_bundle` again (skipped as already imported)", lambda: importer.import_bundle(store, path, {"s1": ident}),
          figures)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hosts", type=int, default=300)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        db, run_id = school_run(tmp, args.hosts)
        key = Ed25519PrivateKey.generate()
        figures: list = []
        body = clock("run document (school side)", lambda: run_document(Store(db), run_id, school="s1"), figures)
        bundle = clock("sign", lambda: make_bundle(body, "s1", key), figures)
        path = tmp / "b.json"
        path.write_text(json.dumps(bundle, ensure_ascii=False), encoding="utf-8")
        results = sum(len(h["results"]) for h in body["hosts"])
        print(f"bundle: {args.hosts} hosts, {results} results, {path.stat().st_size / 2**20:.1f} MiB "
              f"(limit {fmt.MAX_BUNDLE_BYTES // 2**20} MiB)")
        show(figures)
        pub = load_public(public_pem(key.public_key()).encode(), "bench")
        stores = [("sqlite", f"sqlite:///{tmp / 'bureau.db'}")]
        try:
            from tests.conftest import fresh_pg_database

            pg = fresh_pg_database("auditctl_bench_")
            stores.append(("postgresql", pg.__enter__()))
        except BaseException as exc:  # a skip or no server: SQLite only
            pg = None
            print(f"(PostgreSQL not measured: {exc})")
        try:
            for name, url in stores:
                figures = []
                bureau_import(url, path, pub, figures)
                print(f"import into {name}:")
                show(figures)
        finally:
            if pg is not None:
                pg.__exit__(None, None, None)


if __name__ == "__main__":
    main()
