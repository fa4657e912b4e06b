"""``auditctl patches``: the auditor's index of security fixes by hand — ``status`` (what is held,
as of when, how verified), ``import DIR|FILE`` (air-gapped sites: a Debian/Ubuntu mirror tree, a
copy of /var/lib/apt/lists, RPM ``repodata/`` trees with ``--release``, or a tar archive of any) and ``fetch`` (refresh one suite now)."""
from __future__ import annotations

import datetime as dt
import json
import sys

EXIT_OK, EXIT_INPUT = 0, 2


def add_parser(sub) -> None:
    pp = sub.add_parser("patches", help="the auditor's index of security fixes (status, import, fetch)")
    psub = pp.add_subparsers(dest="patches_cmd", required=True)
    p = psub.add_parser("status", help="held security suites: Release date, as of, age, signature")
    p.add_argument("--json", action="store_true", help="machine-readable")
    p.add_argument("--max-age-days", type=float, default=7.0, help="older than this is reported stale (default 7)")
    p.set_defaults(func=cmd_status)
    p = psub.add_parser("import", help="import security suites from a directory or tar archive (air-gapped sites)")
    p.add_argument("path", metavar="DIR|FILE")
    p.add_argument("--keyring", help="verify the Release with this keyring instead of the distribution's")
    p.add_argument("--allow-unsigned", action="store_true", help="accept a Release without any signature (recorded)")
    p.add_argument("--replace-newer", action="store_true", help="replace a held suite even when its Release is newer")
    p.add_argument("--release", metavar="ID:VERSION",
                   help="for RPM repositories (repodata/repomd.xml): the hosts' os-release ID and VERSION_ID, e.g. rocky:9")
    p.set_defaults(func=cmd_import)
    p = psub.add_parser("fetch", help="refresh one security suite from a mirror now")
    p.add_argument("suite", help="DIST:SUITE, e.g. debian:bookworm-security or ubuntu:jammy-security")
    p.add_argument("--mirror", help="base URL (default: the distribution's security archive)")
    p.add_argument("--component", action="append", help="component (repeatable; default main)")
    p.add_argument("--arch", action="append", help="architecture (repeatable; default amd64)")
    p.add_argument("--keyring", help="verify the Release with this keyring instead of the distribution's")
    p.set_defaults(func=cmd_fetch)


def cmd_status(args) -> int:
    from audits.patchdata.index import Store, _parse_iso

    store = Store()
    rows = store.list()
    now = dt.datetime.now(dt.timezone.utc)
    for r in rows:
        if "as_of" in r:
            age = (now - _parse_iso(r["as_of"])).total_seconds() / 86400
            r["age_days"], r["stale"] = round(age, 2), age > args.max_age_days
    if args.json:
        print(json.dumps({"cache": str(store.root), "suites": rows}, ensure_ascii=False, indent=1))
        return EXIT_OK
    print(f"index: {store.root}")
    if not rows:
        print("nothing held: runs fetch what they need, or use auditctl patches import DIR|FILE")
    for r in rows:
        if "error" in r:
            print(f"{r['dist']} {r['suite']}: UNUSABLE: {r['error']}")
            continue
        print(f"{r['dist']} {r['suite']}: as of {r['as_of']} ({r['age_days']:.1f} days{', STALE' if r['stale'] else ''}), "
              f"Release dated {r['release_date']}, {r['via']} from {r['source']}, {r['packages']} packages "
              f"in {', '.join(r['files'])}; {r['signature']}")
    return EXIT_OK


def cmd_import(args) -> int:
    from audits.patchdata.index import IndexError_, Store

    try:
        lines = Store().import_path(args.path, keyring=args.keyring, allow_unsigned=args.allow_unsigned,
                                    replace_newer=args.replace_newer, release=args.release)
    except (IndexError_, OSError, ValueError) as exc:
        print(f"auditctl: {exc}", file=sys.stderr)
        return EXIT_INPUT
    for ln in lines:
        print(ln)
    return EXIT_OK if any(": imported " in ln for ln in lines) else EXIT_INPUT


def cmd_fetch(args) -> int:
    from audits.patchdata import debrepo, fetch
    from audits.patchdata.debrepo import RepoError
    from audits.patchdata.index import Store

    dist, sep, suite = args.suite.partition(":")
    if not sep or dist not in debrepo.DEFAULT_MIRRORS:
        print(f"auditctl: {args.suite!r}: expected DIST:SUITE with DIST one of {', '.join(debrepo.DEFAULT_MIRRORS)}",
              file=sys.stderr)
        return EXIT_INPUT
    mirror = args.mirror or debrepo.DEFAULT_MIRRORS[dist]
    try:
        idx, did = Store().refresh(mirror, suite, args.component or ["main"], args.arch or ["amd64"],
                                   keyring=args.keyring)
    except (fetch.FetchError, RepoError, OSError, ValueError) as exc:
        print(f"auditctl: {dist} {suite} from {mirror}: {exc}", file=sys.stderr)
        return EXIT_INPUT
    d = idx.describe()
    print(f"{dist} {suite}: {did} from {mirror}; Release dated {d['release_date']}, as of {d['as_of']}, "
          f"{d['packages']} packages; {d['signature']}")
    return EXIT_OK
