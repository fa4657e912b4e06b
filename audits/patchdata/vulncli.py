"""``auditctl vulndb import FILE…`` and ``auditctl vulndb status``: the command line of the local
vulnerability database (``vulndb``). Refusals are ``InputError`` problems naming FILE:LINE: field; each
file is its own transaction, so the files before a refused one stay imported."""
from __future__ import annotations

import datetime as dt
import json
import sys

from audits.model.errors import InputError, Problem


def add_parser(sub) -> None:
    p = sub.add_parser("vulndb", help="the local vulnerability database (CVE feeds for patching.known_vulnerabilities)")
    vs = p.add_subparsers(dest="vulndb_command", required=True)
    q = vs.add_parser("import", help="import feeds: Debian tracker JSON, OSV (JSON, zip, tar), Red Hat CSAF VEX, "
                      "openEuler CVRF (files or directories; .gz/.bz2/.xz read as they are)")
    q.add_argument("files", nargs="+", metavar="FILE")
    q.add_argument("--db", help="the database file (default $AUDITCTL_VULNDB or $XDG_DATA_HOME/auditctl/vulndb.sqlite)")
    q.add_argument("--as-of", help="the date the feed was downloaded (ISO), for formats that carry none (tracker JSON); "
                   "default: the file's modification time")
    q.add_argument("--format", choices=["tracker", "osv", "csaf", "cvrf"], help="skip detection")
    q.set_defaults(func=cmd_import)
    q = vs.add_parser("status", help="the imports (manifest) and the releases covered, with their age")
    q.add_argument("--db", help="the database file")
    q.add_argument("--json", action="store_true", help="machine-readable output")
    q.add_argument("--max-age-days", type=float, default=7, help="flag feeds older than this (default 7)")
    q.set_defaults(func=cmd_status)


def cmd_import(args) -> int:
    from audits.patchdata.feeds import FeedError
    from audits.patchdata.vulndb import VulnDB

    db = VulnDB(args.db)
    problems = []
    for f in args.files:
        try:
            rec = db.import_file(f, as_of=args.as_of, fmt=args.format)
        except FeedError as e:
            problems.append(Problem(e.file, e.line, e.field, e.message + " (nothing imported from this file)"))
            continue
        print(f"{rec.file}: {rec.records} records from {rec.documents} documents, source {rec.source}, "
              f"as of {rec.as_of} ({rec.as_of_basis}), sha256 {rec.sha256[:16]}…, releases {rec.releases or '-'}")
    db.close()
    if problems:
        raise InputError(problems)
    return 0


def _age_days(as_of: str) -> float | None:
    try:
        when = dt.datetime.fromisoformat(as_of.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (dt.datetime.now(dt.timezone.utc) - when).total_seconds() / 86400


def cmd_status(args) -> int:
    from audits.patchdata.vulndb import VulnDB, default_path

    path = args.db or default_path()
    try:
        db = VulnDB(path, create=False)
    except FileNotFoundError:
        print(f"no vulnerability database at {path}: import feeds with auditctl vulndb import", file=sys.stderr)
        return 1
    sources = db.sources()
    for s in sources:
        age = _age_days(s["as_of"] or "")
        s["age_days"] = round(age, 1) if age is not None else None
        s["stale"] = age is None or age > args.max_age_days
    imports = [vars(r) for r in db.imports()]
    db.close()
    if args.json:
        print(json.dumps({"db": str(path), "sources": sources, "imports": imports}, indent=2))
    else:
        print(f"database {path}")
        for s in sources:
            print(f"  {s['release']:<28} {s['source']:<16} {s['records']:>9} records  as of {s['as_of']}"
                  + (f"  STALE ({s['age_days']} days, limit {args.max_age_days:g})" if s["stale"] else ""))
        print("imports:")
        for r in imports:
            print(f"  #{r['id']} {r['imported_at']} {r['source']} {r['file']} sha256 {r['sha256'][:16]}… "
                  f"as of {r['as_of']} ({r['as_of_basis']}), {r['records']} records")
    return 1 if any(s["stale"] for s in sources) else 0
