#!/usr/bin/env python3
"""Benchmark (not a test): the bureau dashboard of a synthetic bureau (issue #7).

Generates results of the real mlps check catalogue for N schools (tests/synthetic.py: seeded, one run
per school per round, like imported bundles), scores every school's hosts, builds the bureau view and
renders the bureau page plus one page per district. Prints the time of each phase and the peak memory.
With ``--store`` (an SQLite file or a PostgreSQL URL) or ``--pg`` (a fresh PostgreSQL database of its own,
dropped afterwards) the results are first stored host by host (``Store.save_host``: the ingest path, which
writes the aggregates) and the view is read from the store's aggregates (``reports.bureau.from_store``,
``auditctl dashboard``'s own path); ``--raw`` (default up to 500 schools) also builds it from scratch from the
results (``from_store_raw``) and checks both views are equal. Ends with one JSON line of the figures.

Usage:
    .venv/bin/python bench/dashboard.py --schools 5000 --districts 50 --hosts 4 --runs 3
    .venv/bin/python bench/dashboard.py --schools 500 --store /tmp/bureau.db
    .venv/bin/python bench/dashboard.py --schools 500 --districts 10 --pg
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import secrets
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from reports.bureau import BureauView, from_store, from_store_raw  # noqa: E402
from reports.dashboard import write_dashboards  # noqa: E402
from tests.synthetic import bureau_runs, catalogue, save_to_store  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--schools", type=int, default=5000)
    ap.add_argument("--districts", type=int, default=50)
    ap.add_argument("--hosts", type=int, default=4, help="hosts per school (one level 3, the rest level 2)")
    ap.add_argument("--runs", type=int, default=3, help="rounds: runs per school (the trend)")
    ap.add_argument("--store", help="store the results in this SQLite file or PostgreSQL URL first and build from it")
    ap.add_argument("--pg", action="store_true", help="store them in a fresh PostgreSQL database (dropped afterwards)")
    ap.add_argument("--admin-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test",
                    help="with --pg: the database to create the bench database from")
    ap.add_argument("--raw", action=argparse.BooleanOptionalAction, default=None,
                    help="also build the view from the raw results and compare (default: up to 500 schools)")
    ap.add_argument("--out", help="dashboard directory (default: a temporary one)")
    args = ap.parse_args()
    checks = catalogue()
    figures = {"bench": "dashboard", "schools": args.schools, "hosts_per_school": args.hosts, "runs": args.runs}
    load = [os.getloadavg()]
    t0 = time.perf_counter()
    results = 0
    admin = name = None
    if args.pg:
        from sqlalchemy import create_engine, text

        name = "auditctl_bench_" + secrets.token_hex(4)
        admin = create_engine(args.admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text(f"CREATE DATABASE {name}"))
        args.store = args.admin_url.rsplit("/", 1)[0] + "/" + name
    try:
        if args.store:
            view = _from_store(args, checks, figures)
            results = figures["results"]
        else:
            view, scoring = BureauView(), 0.0
            for run, hosts in bureau_runs(args.schools, args.districts, args.hosts, args.runs, checks=checks):
                t = time.perf_counter()
                view.add_run(run, hosts)
                scoring += time.perf_counter() - t
                results += sum(len(h["results"]) for h in hosts)
            t_fed = time.perf_counter()
            figures.update(results=results, scoring_s=round(scoring, 2))
            print(f"generated {results:,} results ({args.schools * args.hosts * args.runs:,} host audits) in "
                  f"{t_fed - t0 - scoring:.1f} s; scored them into the bureau view in {scoring:.1f} s", flush=True)
    finally:
        if admin is not None:
            from sqlalchemy import text

            with admin.connect() as c:
                c.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    t_fed = time.perf_counter()
    out = Path(args.out or tempfile.mkdtemp(prefix="dashboard-bench-"))
    pages = write_dashboards(lambda d: view.build(district=d, name="示范省教育厅"), out, view.districts())
    t_done = time.perf_counter()
    size = (out / "index.html").stat().st_size
    print(f"built the view and rendered {len(pages)} pages in {t_done - t_fed:.2f} s "
          f"(bureau page {size / 1e6:.2f} MB, {len(view.schools):,} schools)")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (max RSS of the process): {rss:.0f} MiB")
    print(f"pages: {out}")
    load.append(os.getloadavg())
    figures.update(render_s=round(t_done - t_fed, 2), page_mb=round(size / 1e6, 2), max_rss_mib=round(rss),
                   units="s, MiB", floors={"view_from_aggregates_s": 5, "max_rss_mib": 1024},
                   loadavg_1m=[round(x[0], 2) for x in load])
    print(json.dumps(figures, ensure_ascii=False))
    return 0


def _from_store(args, checks, figures) -> BureauView:
    """Store every generated run host by host (the ingest path), then read the view from the aggregates, and
    (``--raw``) from the raw results."""
    from audits.store.database import Store

    if "://" not in args.store:
        Path(args.store).unlink(missing_ok=True)
    store = Store(args.store)
    t0 = time.perf_counter()
    results = hosts = 0
    for run, hs in bureau_runs(args.schools, args.districts, args.hosts, args.runs, checks=checks):
        save_to_store(store, run, hs)
        results += sum(len(h["results"]) for h in hs)
        hosts += len(hs)
    ingest = time.perf_counter() - t0
    figures.update(store=store.engine.dialect.name, results=results, ingest_s=round(ingest, 1),
                   ingest_ms_per_host=round(1000 * ingest / hosts, 2))
    print(f"stored {results:,} results ({hosts:,} host saves, with their aggregates) in {ingest:.1f} s "
          f"({1000 * ingest / hosts:.2f} ms per host)", flush=True)
    times = []
    for _ in range(2):
        t = time.perf_counter()
        view = from_store(store)
        built = view.build(name="示范省教育厅")
        times.append(time.perf_counter() - t)
    figures["view_from_aggregates_s"] = round(min(times), 3)
    print(f"bureau view read from the aggregates and built: {min(times):.3f} s (best of 2)", flush=True)
    if args.raw if args.raw is not None else args.schools <= 500:
        t = time.perf_counter()
        raw = from_store_raw(store).build(name="示范省教育厅", now=None)
        figures["view_from_results_s"] = round(time.perf_counter() - t, 2)
        same = {**raw, "generated_at": None} == {**built, "generated_at": None}
        figures["views_equal"] = same
        print(f"bureau view scored from the raw results: {figures['view_from_results_s']:.2f} s; equal: {same}")
        if not same:
            raise SystemExit("the view from the aggregates differs from the view from the results")
    return view


if __name__ == "__main__":
    sys.exit(main())
