#!/usr/bin/env python3
"""Benchmark (not a test): the bureau dashboard of a synthetic bureau (issue #7).

Generates results of the real mlps check catalogue for N schools (tests/synthetic.py: seeded, one run
per school per round, like imported bundles), scores every school's hosts, builds the bureau view and
renders the bureau page plus one page per district. Prints the time of each phase and the peak memory.
With ``--store`` the results are first written to an SQLite store and the dashboard is built from it
(``auditctl dashboard``'s own path).

Usage:
    .venv/bin/python bench/dashboard.py --schools 5000 --districts 50 --hosts 4 --runs 3
    .venv/bin/python bench/dashboard.py --schools 500 --store /tmp/bureau.db
"""
from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from reports.bureau import BureauView, from_store  # noqa: E402
from reports.dashboard import write_dashboards  # noqa: E402
from tests.synthetic import bureau_runs, catalogue, save_to_store  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--schools", type=int, default=5000)
    ap.add_argument("--districts", type=int, default=50)
    ap.add_argument("--hosts", type=int, default=4, help="hosts per school (one level 3, the rest level 2)")
    ap.add_argument("--runs", type=int, default=3, help="rounds: runs per school (the trend)")
    ap.add_argument("--store", help="write the results to this SQLite file first and build from the store")
    ap.add_argument("--out", help="dashboard directory (default: a temporary one)")
    args = ap.parse_args()
    checks = catalogue()
    t0 = time.perf_counter()
    results = 0
    if args.store:
        from audits.store.database import Store

        Path(args.store).unlink(missing_ok=True)
        store = Store(args.store)
        for run, hosts in bureau_runs(args.schools, args.districts, args.hosts, args.runs, checks=checks):
            save_to_store(store, run, hosts)
            results += sum(len(h["results"]) for h in hosts)
        t_store = time.perf_counter()
        print(f"stored {results:,} results in {t_store - t0:.1f} s", flush=True)
        view = from_store(store)
        t_fed = time.perf_counter()
        print(f"read and scored from the store: {t_fed - t_store:.1f} s", flush=True)
    else:
        view, scoring = BureauView(), 0.0
        for run, hosts in bureau_runs(args.schools, args.districts, args.hosts, args.runs, checks=checks):
            t = time.perf_counter()
            view.add_run(run, hosts)
            scoring += time.perf_counter() - t
            results += sum(len(h["results"]) for h in hosts)
        t_fed = time.perf_counter()
        print(f"generated {results:,} results ({args.schools * args.hosts * args.runs:,} host audits) in "
              f"{t_fed - t0 - scoring:.1f} s; scored them into the bureau view in {scoring:.1f} s", flush=True)
    out = Path(args.out or tempfile.mkdtemp(prefix="dashboard-bench-"))
    pages = write_dashboards(lambda d: view.build(district=d, name="示范省教育厅"), out, view.districts())
    t_done = time.perf_counter()
    size = (out / "index.html").stat().st_size
    print(f"built the view and rendered {len(pages)} pages in {t_done - t_fed:.2f} s "
          f"(bureau page {size / 1e6:.2f} MB, {len(view.schools):,} schools)")
    print(f"peak memory (max RSS of the process): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    print(f"pages: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
