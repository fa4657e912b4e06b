#!/usr/bin/env python3
"""auditctl — the command line. Thin: parses arguments and calls the packages.

Exit codes: 0 run completed (findings or not); 1 ``--fail-on`` threshold met; 2 bad usage or
input; 3 run incomplete (a host unreachable, or the run interrupted); 4 another run of the same
plan is still in progress (nothing done).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # `python auditctl.py` from a checkout
    sys.path.insert(0, str(HERE))

from audits import __version__  # noqa: E402
from audits.model.errors import InputError, Problem  # noqa: E402

EXIT_OK, EXIT_FAIL_ON, EXIT_INPUT, EXIT_INCOMPLETE, EXIT_BUSY = 0, 1, 2, 3, 4
DEFAULT_INVENTORY = HERE / "inventories" / "localhost.yaml"
SEVERITIES = ("info", "low", "medium", "high", "critical")


def _print_problems(problems):
    for p in problems:
        print(p, file=sys.stderr)


# -- validate ---------------------------------------------------------------------------------
def cmd_validate(args) -> int:
    from audits.inventory.load import load_inventory

    import datetime as dt

    from audits.model.waivers import validate_exception_checks
    from checks.registry import load_registry

    inv = load_inventory(args.path)
    _unlock(inv, args)
    validate_exception_checks(inv.exceptions, load_registry().by_id)
    for w in inv.warnings:
        print(f"{w} (warning)", file=sys.stderr)
    today = dt.date.today()
    for e in inv.exceptions.waivers + inv.exceptions.attestations:
        if today > e.expires:
            print(f"{e.source}: {e.kind}s: {e.kind} for {e.check} ({e.scope[0]}:{e.scope[1]}) expired on {e.expires} "
                  "(warning)", file=sys.stderr)
    print(f"{args.path}: valid — {len(inv.districts)} districts, {len(inv.schools)} schools, "
          f"{sum(len(s.systems) for s in inv.schools.values())} systems, {len(inv.hosts)} hosts, "
          f"{len(inv.exceptions.waivers)} waivers, {len(inv.exceptions.attestations)} attestations")
    return EXIT_OK


# -- checks -----------------------------------------------------------------------------------
def cmd_checks_list(args) -> int:
    from checks.catalogue import describe
    from checks.registry import load_registry

    checks = load_registry().select([args.pack] if args.pack else None)
    if args.json:
        print(json.dumps([describe(c) for c in checks], ensure_ascii=False, indent=1))
        return EXIT_OK
    for c in checks:
        levels = "L" + "/".join(map(str, c.levels))
        print(f"{c.id:45} {c.severity:8} {levels:6} {'manual ' if c.attest else ''}{c.title.get(args.lang)}")
    print(f"{len(checks)} checks in {len({c.pack for c in checks})} pack(s)", file=sys.stderr)
    return EXIT_OK


def cmd_checks_show(args) -> int:
    from audits.model.errors import did_you_mean
    from checks.catalogue import describe, roles as catalogue_roles
    from checks.registry import load_registry

    reg = load_registry()
    c = reg.by_id.get(args.id)
    if c is None:
        print(f"auditctl: no check '{args.id}'" + did_you_mean(args.id, reg.by_id), file=sys.stderr)
        return EXIT_INPUT
    info = describe(c)
    if args.json:
        print(json.dumps(info, ensure_ascii=False, indent=2))
        return EXIT_OK
    lang = args.lang
    print(f"{c.id}  [{c.severity}]\n  {c.title.zh}\n  {c.title.en}")
    for lvl, refs in sorted(info["references_by_level"].items()):
        print(f"clauses (level {lvl}): " + "; ".join(refs) if lvl != "any" else "references: " + "; ".join(refs))
    print("item roles: " + "; ".join(catalogue_roles(c)))
    print(f"applies:    os={','.join(c.applies.os)} levels={','.join(map(str, c.levels))}"
          + (f" roles={','.join(c.applies.roles)}" if c.applies.roles else ""))
    for fam, ps in info["probes"].items():
        print(f"evidence ({fam}): " + "; ".join(ps))
    if c.params:
        print("thresholds: " + ", ".join(f"{k}={v}" for k, v in c.params.items())
              + f"  (override in a plan: params: {{{c.pack}: {{NAME: VALUE}}}})")
    if c.attest:
        print(f"attestation: {c.attest.get(lang)}")
    print(f"rationale:  {c.rationale.get(lang)}\nremediation: {c.remediation.get(lang)}\nsource:     {c.source}")
    return EXIT_OK


def cmd_checks_doc(args) -> int:
    from checks.catalogue import markdown
    from checks.registry import load_registry

    text = markdown(load_registry().select([args.pack]), args.pack)
    if args.output in (None, "-"):
        sys.stdout.write(text)
    else:
        _atomic_write(args.output, text)
        print(f"wrote {args.output}", file=sys.stderr)
    return EXIT_OK


# -- run / report -----------------------------------------------------------------------------
def _atomic_write(path, text: str):
    """Write a file whole or not at all (temporary file in the same directory, then rename)."""
    from audits.atomicfile import atomic_write

    atomic_write(path, text)


def _write_json(doc, path):
    if path == "-":
        json.dump(doc, sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
        return
    from reports.tabular import dumps_indented

    _atomic_write(path, dumps_indented(doc))


def _run_request(args, network_only: bool):
    """The command line as a run request (audits/run/api.py); outputs are written by reports/publish.py."""
    from audits.run.api import RunRequest
    from reports.publish import Publisher

    packs = [p.strip() for p in args.packs.split(",") if p.strip()] if getattr(args, "packs", None) else None
    return RunRequest(
        plan=args.plan, inventory=args.inventory, default_inventory=str(DEFAULT_INVENTORY), limit=args.limit,
        packs=packs, db=args.db, fail_on=args.fail_on, forks=args.forks, resume=getattr(args, "resume", None),
        network_only=network_only, nmap_xml=getattr(args, "nmap_xml", None), scan_type=getattr(args, "scan_type", None),
        max_rate=getattr(args, "max_rate", None), known_hosts=getattr(args, "known_hosts", None),
        trust_on_first_use=getattr(args, "trust_on_first_use", False), vault=getattr(args, "vault", None),
        vault_password_file=getattr(args, "vault_password_file", None), dispatch=getattr(args, "dispatch", "local"),
        broker=getattr(args, "broker", None), result_backend=getattr(args, "result_backend", None),
        dispatch_timeout=getattr(args, "dispatch_timeout", None), quiet=args.quiet,
        dispatch_key=getattr(args, "dispatch_key", None), collector_keys=getattr(args, "collector_keys", None),
        publisher=Publisher(out=args.out, json=args.json, formats=args.format, lang=args.lang))


def _exit_code(outcome) -> int:
    if outcome.stored_status != "completed":
        return EXIT_INCOMPLETE
    return EXIT_FAIL_ON if outcome.fail_on_met else EXIT_OK


def cmd_run(args, network_only: bool = False) -> int:
    from audits.run.api import run

    outcome = run(_run_request(args, network_only))
    if outcome.lock_error is not None:
        print(f"auditctl: {outcome.lock_error}", file=sys.stderr)
        return EXIT_BUSY if outcome.plan_busy else EXIT_INPUT
    r = outcome.results
    print(f"run {outcome.run_id} {outcome.status}: {outcome.audited} audited, {outcome.unreachable} unreachable; "
          f"{r.get('fail', 0)} failed, {r.get('pass', 0)} passed, {r.get('error', 0)} errors", file=sys.stderr)
    if outcome.legacy_ssh:
        print(f"reached through the legacy SSH path (weak algorithms reported): {', '.join(outcome.legacy_ssh)}",
              file=sys.stderr)
    if outcome.status == "interrupted":
        print(f"resume with: auditctl run --resume {outcome.run_id}" + (f" --db {outcome.db}" if outcome.db else ""),
              file=sys.stderr)
    return _exit_code(outcome)


def cmd_worker(args) -> int:
    """A collector near a site's hosts: audits the tasks of one queue (audits/collector.py)."""
    from audits.run.collector import run_worker

    run_worker(args.site_config, broker=args.broker, backend=args.result_backend, concurrency=args.concurrency,
               visibility_timeout=args.visibility_timeout, loglevel=args.loglevel)
    return EXIT_OK


def cmd_keygen(args) -> int:
    """A new Ed25519 key for the wire (the dispatcher's task key or a collector's reply key)."""
    from audits.run import wire

    try:
        pub = wire.new_key(args.file)
    except FileExistsError:
        print(f"auditctl: {args.file}: exists; not overwritten", file=sys.stderr)
        return EXIT_INPUT
    except OSError as exc:
        print(f"auditctl: {args.file}: {exc.strerror}", file=sys.stderr)
        return EXIT_INPUT
    print(wire.public_text(pub))
    return EXIT_OK


def cmd_scan(args) -> int:
    """The network view only: scan (or import) and judge, no login to any host."""
    args.packs = None
    return cmd_run(args, network_only=True)


def _store(args):
    """The results store named by --db, else $AUDITCTL_DB, else the default."""
    from audits.store.database import Store

    return Store(args.db or os.environ.get("AUDITCTL_DB"))


def cmd_report(args) -> int:
    store = _store(args)
    run_id = args.run or (store.runs(1) or [{}])[0].get("id")
    if not run_id:
        print("auditctl: the results store has no runs yet", file=sys.stderr)
        return EXIT_INPUT
    from reports.publish import Outputs, machine_formats, publish

    publish(store, run_id, Outputs(machine_formats(json_path=args.json, specs=args.format), args.out, args.lang))
    return EXIT_OK


def cmd_diff(args) -> int:
    from reports.diff import diff_runs, format_text, previous_run
    from reports.document import run_document

    store = _store(args)
    if args.runs and len(args.runs) != 2:
        raise InputError([Problem("diff", 0, "runs", "give two run ids (older first), or none for the last two runs")])
    if args.runs:
        old_id, new_id = args.runs
    else:
        runs = store.runs(200)
        if not runs:
            raise InputError([Problem("diff", 0, "runs", "the results store has no runs yet")])
        latest = runs[0]
        before = previous_run(runs, latest["id"])
        if not before:
            raise InputError([Problem("diff", 0, "runs", f"no earlier run with the same scope as {latest['id']}")])
        old_id, new_id = before["id"], latest["id"]
    d = diff_runs(run_document(store, old_id), run_document(store, new_id))
    if args.json:
        _write_json(d, args.json)
    if args.json != "-":
        from audits.collect.transports.base import terminal_text

        print(terminal_text(format_text(d, args.lang)))  # stored texts came from hosts and collectors
    return EXIT_OK


def cmd_dashboard(args) -> int:
    from audits.inventory.load import load_inventory
    from reports.bureau import declared_schools, from_store
    from reports.dashboard import write_dashboards

    store = _store(args)
    declared, name = None, args.name
    if args.inventory:
        inv = load_inventory(args.inventory)
        declared, name = declared_schools(inv), name or inv.bureau_name
    view = from_store(store)
    if not view.schools and not declared:
        print("auditctl: the results store has no finished runs yet", file=sys.stderr)
        return EXIT_INPUT
    name = name or next((s.summary["city_name"] for s in view.schools.values() if s.summary["city_name"]), "")

    def view_of(district):
        return view.build(declared=declared, stale_days=args.stale_days, name=name, district=district)

    districts = view.districts() | {d["district"]: d["district_name"] for d in (declared or {}).values()}
    if args.json:
        _write_json(view_of(None), args.json)
    pages = write_dashboards(view_of, args.out, districts, args.lang)
    print(f"dashboard: {pages[0]} (+{len(pages) - 1} district pages), {len(view.schools)} schools", file=sys.stderr)
    return EXIT_OK


def cmd_store_rebuild(args) -> int:
    """Recompute the store's aggregates from the raw results (after a change of the scoring rules)."""
    import time

    store = _store(args)
    t0 = time.monotonic()
    counts = store.rebuild_aggregates(args.run or None,
                                      progress=(lambda line: print(f"  {line}", file=sys.stderr)) if args.verbose else None)
    print(f"rebuilt the aggregates of {counts['runs']} runs: {counts['hosts']} hosts, {counts['schools']} schools, "
          f"{counts['items']} host items in {time.monotonic() - t0:.1f} s", file=sys.stderr)
    return EXIT_OK


def cmd_runs(args) -> int:
    for r in _store(args).runs(args.last):
        print(f"{r['id']}  {r['status']:11} {r['started_at']}  {r['scope'].get('inventory')}")
    return EXIT_OK


# -- vault / sudoers (safety of the tool itself: docs/security.md) -------------------------------
def _unlock(inv, args):
    """Resolve the inventory's {vault: NAME} references (asks for the passphrase only if there are any)."""
    from audits.trust.vault import unlock_inventory

    unlock_inventory(inv, getattr(args, "vault", None), getattr(args, "vault_password_file", None))


def cmd_vault(args) -> int:
    from audits.trust import vault

    pw = vault.passphrase(args.vault_password_file, confirm=args.action == "encrypt")
    if args.action == "encrypt":
        vault.encrypt_file(args.file, pw, args.output)
    elif args.action == "decrypt":
        vault.decrypt_file(args.file, pw, args.output)
    elif args.action == "view":
        sys.stdout.write(vault.view(args.file, pw))
        return EXIT_OK
    else:
        changed = vault.edit_file(args.file, pw)
        print(f"{args.file}: {'saved' if changed else 'unchanged'}", file=sys.stderr)
        return EXIT_OK
    print(f"{args.action}ed {args.output or args.file}", file=sys.stderr)
    return EXIT_OK


def cmd_sudoers(args) -> int:
    from audits.trust.sudoers import fragment
    from checks.registry import load_registry

    packs = [p.strip() for p in args.packs.split(",") if p.strip()] if args.packs else None
    hosts = ()
    if args.inventory:  # declared paths (backup markers, targets) become exact commands too
        from audits.inventory.load import load_inventory

        hosts = load_inventory(args.inventory).select(args.limit)
    text, skipped = fragment(load_registry().select(packs), args.user, hosts=hosts)
    for why in skipped:
        print(f"auditctl: not listed: {why}", file=sys.stderr)
    sys.stdout.write(text)
    return EXIT_OK


def cmd_device_role(args) -> int:
    from audits.trust.device_roles import PLATFORMS, recipe

    platforms = [args.platform] if args.platform else list(PLATFORMS)
    try:
        sys.stdout.write("\n".join(recipe(p, args.user, args.role) for p in platforms))
    except ValueError as exc:
        print(f"auditctl: {exc}", file=sys.stderr)
        return EXIT_INPUT
    return EXIT_OK


def _vault_options(p):
    p.add_argument("--vault", metavar="FILE", help="vault file for {vault: NAME} references (default: the inventory's 'vault:')")
    p.add_argument("--vault-password-file", metavar="FILE",
                   help="read the vault passphrase from FILE (else $AUDITCTL_VAULT_PASSWORD, else a prompt)")


# -- keys / bundle / import (signed bundles, docs/bundles.md) ---------------------------------
def _key_problem(exc) -> int:
    print(f"auditctl: {exc}", file=sys.stderr)
    return EXIT_INPUT


def cmd_keys_init(args) -> int:
    from audits.trust.signing import SigningKeyError, init_key, read_passphrase

    try:
        passphrase = read_passphrase(args.passphrase_file, confirm=True, required=args.encrypt)
        key_file, pub_file, kid = init_key(args.school, passphrase)
    except SigningKeyError as exc:
        return _key_problem(exc)
    print(f"signing key: {key_file} (mode 0600{', passphrase-encrypted' if passphrase else ''})\n"
          f"public key:  {pub_file}\nkey id:      {kid}\n"
          f"give the public key to your bureau: auditctl keys trust {args.school} {pub_file.name}")
    return EXIT_OK


def cmd_keys_trust(args) -> int:
    from audits.trust.signing import SigningKeyError, SCHOOL_ID, key_id, load_public, public_pem

    if not SCHOOL_ID.match(args.school):
        return _key_problem(f"school id '{args.school}' is not valid")
    try:
        with open(args.pubkey, "rb") as fh:
            public = load_public(fh.read(16 * 1024), args.pubkey)
    except OSError as exc:
        return _key_problem(f"cannot read {args.pubkey}: {exc.strerror}")
    except SigningKeyError as exc:
        return _key_problem(exc)
    kid = key_id(public)
    outcome = _store(args).trust_key(args.school, kid, public_pem(public))
    print(f"{outcome}: key {kid} for school {args.school}")
    return EXIT_OK


def cmd_keys_revoke(args) -> int:
    ids = _store(args).revoke_keys(args.target)
    if not ids:
        return _key_problem(f"no active key of school or with id '{args.target}'")
    for kid in ids:
        print(f"revoked: {kid}")
    return EXIT_OK


def cmd_keys_list(args) -> int:
    keys = [{k: v for k, v in row.items() if k != "public_key"} for row in _store(args).trusted_keys()]
    if args.json:
        print(json.dumps(keys, ensure_ascii=False, indent=1))
        return EXIT_OK
    for k in keys:
        state = f"revoked {k['revoked_at']}" if k["revoked_at"] else "active"
        print(f"{k['school']:24} {k['key_id']}  added {k['added_at']}  {state}")
    return EXIT_OK


def cmd_bundle(args) -> int:
    """One signed bundle per school of the run (each signed with that school's key), or one for --school."""
    from audits.trust.signing import SigningKeyError, key_paths, load_private
    from reports.bundle import make_bundle
    from reports.document import run_document

    store = _store(args)
    run = store.run(args.run)
    schools = sorted({h.school for h in store.hosts(args.run)})
    if args.school is not None and args.school not in schools:
        raise InputError([Problem("command line", 0, "--school", f"run {args.run} has hosts of school(s) "
                                  f"{', '.join(schools) or '(none)'}; name one of them with --school")])
    if not schools:
        raise InputError([Problem("command line", 0, "--run", f"run {args.run} has no hosts")])
    chosen = [args.school] if args.school else schools
    if len(chosen) > 1 and (args.output or args.key):
        raise InputError([Problem("command line", 0, "-o" if args.output else "--key",
                                  f"run {args.run} covers {len(chosen)} schools ({', '.join(chosen)}): one bundle "
                                  "per school is written as RUN-SCHOOL.bundle.json with each school's own key; "
                                  "name one with --school to choose its file or key")])
    if run["status"] == "running":
        raise InputError([Problem("command line", 0, "--run", f"run {args.run} is still running")])
    keys = {}
    for school in chosen:  # every key first: nothing is written unless every school can be signed
        try:
            keys[school] = load_private(Path(args.key) if args.key else key_paths(school)[0], args.passphrase_file)
        except SigningKeyError as exc:
            return _key_problem(exc)
    from reports.html import safe_name

    for school in chosen:
        bundle = make_bundle(run_document(store, args.run, school=school), school, keys[school])
        out = args.output or f"{safe_name(args.run)}-{safe_name(school)}.bundle.json"
        text = json.dumps(bundle, ensure_ascii=False) + "\n"
        if out == "-":
            sys.stdout.write(text)
        else:
            _atomic_write(out, text)
        print(f"bundle: {out} (school {school}, {len(bundle['body']['hosts'])} host(s), "
              f"key {bundle['signer']['key_id'][:16]})", file=sys.stderr)
    return EXIT_OK


def cmd_import(args) -> int:
    from audits.inventory.load import load_inventory
    from audits.trust.importer import bureau_identity, import_bundle

    identity = bureau_identity(load_inventory(args.inventory)) if args.inventory else None
    store, rc = _store(args), EXIT_OK
    for path in args.bundles:
        try:
            r = import_bundle(store, path, identity)
        except InputError as exc:
            _print_problems(exc.problems)
            rc = EXIT_INPUT
            continue
        if r.skipped:
            print(f"{path}: already imported on {r.imported_at} (run {r.run_id}); skipped, store unchanged")
        else:
            print(f"{path}: imported run {r.run_id} of school {r.school}: {r.hosts} host(s), {r.results} result(s)")
    return rc


# -- schedule ---------------------------------------------------------------------------------
def _systemctl(root, *argv) -> None:
    """Run systemctl on the real system; with --root (an image or a test), say what to run instead."""
    import shutil
    import subprocess

    line = "systemctl " + " ".join(argv)
    if root or not shutil.which("systemctl"):
        print(f"then run: {line}", file=sys.stderr)
        return
    if subprocess.run(["systemctl", *argv]).returncode != 0:
        print(f"auditctl: '{line}' failed; run it by hand", file=sys.stderr)


def cmd_schedule_install(args) -> int:
    from audits.run.plan import load_plan
    from audits.run.schedule import files_for

    files = files_for(load_plan(args.plan), args.user, args.cron, args.root)
    for path, text in files.items():
        _atomic_write(path, text)
        path.chmod(0o644)
        print(f"wrote {path}")
    if not args.cron:
        timer = next(p.name for p in files if p.suffix == ".timer")
        _systemctl(args.root, "daemon-reload")
        _systemctl(args.root, "enable", "--now", timer)
    return EXIT_OK


def cmd_schedule_list(args) -> int:
    from audits.run.schedule import installed

    rows = installed(args.root)
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=1))
        return EXIT_OK
    for r in rows:
        print(f"{r['name']:32} {r['kind']:8} {r.get('user', '?'):10} {r.get('schedule', '?'):20} {r['plan']}")
    return EXIT_OK


def cmd_schedule_remove(args) -> int:
    from audits.run.schedule import remove, schedule_files, schedule_target

    name, plan = schedule_target(args.target)
    if any(p.suffix == ".timer" for p in schedule_files(name, args.root, plan)):
        _systemctl(args.root, "disable", "--now", f"{name}.timer")
    gone = remove(name, args.root, plan)
    if not gone:
        what = f"no schedule '{name}'" + (f" of plan {plan}" if plan else "")
        raise InputError([Problem("command line", 0, "schedule", f"{what} (see: auditctl schedule list)")])
    for path in gone:
        print(f"removed {path}")
    if any(p.suffix == ".timer" for p in gone):
        _systemctl(args.root, "daemon-reload")
    return EXIT_OK


# -- parser -----------------------------------------------------------------------------------
def _scan_options(p):
    p.add_argument("--scan-type", choices=("auto", "syn", "connect"),
                   help="nmap TCP scan: syn needs root/CAP_NET_RAW; connect works for any user (default auto)")
    p.add_argument("--max-rate", type=int, metavar="PPS", help="nmap packets per second (default 300)")


def _broker_options(p):
    p.add_argument("--broker", help="Celery broker URL (default $AUDITCTL_BROKER or redis://127.0.0.1:6379/0)")
    p.add_argument("--result-backend", help="Redis URL for collector replies (default: the broker if Redis)")


def _output_options(p):
    p.add_argument("--db", help="results store: SQLAlchemy URL or SQLite path")
    p.add_argument("--out", help="directory for HTML reports (default: ./reports)")
    p.add_argument("--json", help="write the run as JSON to FILE ('-' for stdout)")
    p.add_argument("--format", action="append", metavar="FMT[:FILE]",
                   help="machine output json|csv|junit to FILE (default stdout); repeatable")
    p.add_argument("--fail-on", choices=SEVERITIES, help="exit 1 if a failure this severe or worse is found")
    p.add_argument("--forks", type=int, help="hosts audited at once (default 32)")
    p.add_argument("--lang", choices=("zh", "en"))
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="auditctl", description="Campus network-security and MLPS 2.0 audits.")
    ap.add_argument("--version", action="version", version=f"auditctl {__version__}")
    ap.add_argument("--debug", action="store_true", help="debug log (secrets redacted) to stderr or --log-file")
    ap.add_argument("--log-file", metavar="FILE", help="with --debug: write the debug log to FILE")
    sub = ap.add_subparsers(dest="command", required=True)

    p = sub.add_parser("validate", help="validate an inventory file or directory")
    p.add_argument("path")
    _vault_options(p)
    p.set_defaults(func=cmd_validate)

    pc = sub.add_parser("checks", help="list or show checks")
    csub = pc.add_subparsers(dest="checks_command", required=True)
    p = csub.add_parser("list", help="list checks")
    p.add_argument("--pack")
    p.add_argument("--lang", choices=("zh", "en"), default="zh")
    p.add_argument("--json", action="store_true", help="a JSON list of check objects")
    p.set_defaults(func=cmd_checks_list)
    p = csub.add_parser("show", help="show one check")
    p.add_argument("id")
    p.add_argument("--json", action="store_true")
    p.add_argument("--lang", choices=("zh", "en"), default="zh")
    p.set_defaults(func=cmd_checks_show)
    p = csub.add_parser("doc", help="write a pack's check catalogue as Markdown (docs/checks/PACK.md)")
    p.add_argument("--pack", required=True)
    p.add_argument("-o", "--output", help="file (default: stdout)")
    p.set_defaults(func=cmd_checks_doc)

    p = sub.add_parser("run", help="audit the hosts of an inventory")
    p.add_argument("-i", "--inventory", help="inventory file or directory (default: this machine)")
    p.add_argument("--plan", help="audit plan YAML")
    p.add_argument("--limit", help="host, school, district or role ids or globs, comma-separated")
    p.add_argument("--packs", help="comma-separated packs (default: all; network only with a plan's network:)")
    _output_options(p)
    p.add_argument("--resume", metavar="RUN_ID", help="finish an interrupted run")
    p.add_argument("--known-hosts", help="known_hosts file for SSH host keys")
    p.add_argument("--trust-on-first-use", action="store_true", help="accept and record unknown SSH host keys")
    _vault_options(p)
    p.add_argument("--nmap-xml", metavar="FILE", help="include the network view from this nmap XML (no scan runs)")
    _scan_options(p)
    p.add_argument("--dispatch", choices=("local", "celery"), default="local",
                   help="celery: send each host to its site's collector queue (auditctl worker)")
    _broker_options(p)
    p.add_argument("--dispatch-timeout", type=float, help="seconds to wait for every host (default 3600)")
    p.add_argument("--dispatch-key", metavar="FILE",
                   help="the dispatcher's Ed25519 key that signs tasks (default $AUDITCTL_DISPATCH_KEY)")
    p.add_argument("--collector-keys", metavar="FILE",
                   help="registered collector keys, SITE: public key (default $AUDITCTL_COLLECTOR_KEYS)")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("worker", help="run a collector on one site queue (Celery worker)")
    p.add_argument("--site-config", required=True, metavar="FILE",
                   help="this collector's site configuration: site (queue), keys, known_hosts (docs/security.md)")
    _broker_options(p)
    p.add_argument("--concurrency", type=int, default=8, help="hosts audited at once (default 8)")
    p.add_argument("--visibility-timeout", type=float,
                   help="seconds before an unacknowledged task goes to another collector (Redis; default 600)")
    p.add_argument("--loglevel", default="INFO")
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("keygen", help="create an Ed25519 key for collectors/dispatcher; prints its public key")
    p.add_argument("file", help="the private key file to create (0600, never overwritten)")
    p.set_defaults(func=cmd_keygen)

    p = sub.add_parser("scan", help="the network view only: nmap the declared subnets and hosts, judge the network pack")
    p.add_argument("-i", "--inventory", help="inventory file or directory (default: this machine)")
    p.add_argument("--plan", help="audit plan YAML (its network: settings, outputs, params)")
    p.add_argument("--limit", help="host, school, district or role ids or globs, comma-separated")
    p.add_argument("--nmap-xml", metavar="FILE", help="judge this nmap XML (nmap -oX) instead of scanning")
    _scan_options(p)
    _output_options(p)
    p.set_defaults(func=cmd_scan)

    p = sub.add_parser("report", help="re-render a stored run without touching hosts")
    p.add_argument("--run", help="run id (default: the latest)")
    p.add_argument("--db")
    p.add_argument("--out", default="reports")
    p.add_argument("--json")
    p.add_argument("--format", action="append", metavar="FMT[:FILE]",
                   help="machine output json|csv|junit to FILE (default stdout); repeatable")
    p.add_argument("--lang", choices=("zh", "en"), default="zh")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("diff", help="new, fixed and still-open findings between two runs")
    p.add_argument("runs", nargs="*", metavar="RUN", help="older and newer run id (default: the last two of one scope)")
    p.add_argument("--db")
    p.add_argument("--json", help="write the difference as JSON to FILE ('-' for stdout)")
    p.add_argument("--lang", choices=("zh", "en"), default="zh")
    p.set_defaults(func=cmd_diff)

    p = sub.add_parser("dashboard", help="the bureau dashboard: ranking, heat map, trend, missing schools")
    p.add_argument("--db", help="results store (the bureau's)")
    p.add_argument("-i", "--inventory", help="the bureau's inventory: its schools without results are listed")
    p.add_argument("-o", "--out", default="dashboard", help="directory (default: ./dashboard)")
    p.add_argument("--json", help="write the bureau view as JSON to FILE ('-' for stdout)")
    p.add_argument("--name", help="title of the dashboard (default: the bureau's name)")
    p.add_argument("--stale-days", type=int, default=90, help="results older than this are stale (default 90)")
    p.add_argument("--lang", choices=("zh", "en"), default="zh")
    p.set_defaults(func=cmd_dashboard)

    p = sub.add_parser("runs", help="list stored runs")
    p.add_argument("--db")
    p.add_argument("--last", type=int, default=20)
    p.set_defaults(func=cmd_runs)

    ps = sub.add_parser("store", help="maintain the results store")
    ssub = ps.add_subparsers(dest="store_command", required=True)
    p = ssub.add_parser("rebuild", help="recompute the aggregates (scores per host, school, run) from the raw results")
    p.add_argument("--db")
    p.add_argument("--run", action="append", help="only this run (repeatable; default: every run)")
    p.add_argument("-v", "--verbose", action="store_true", help="one line per run rebuilt")
    p.set_defaults(func=cmd_store_rebuild)

    p = sub.add_parser("vault", help="encrypt, decrypt, edit or view the secrets vault")
    p.add_argument("action", choices=("encrypt", "decrypt", "edit", "view"))
    p.add_argument("file")
    p.add_argument("-o", "--output", help="encrypt/decrypt: write to this file instead of in place")
    p.add_argument("--vault-password-file", metavar="FILE",
                   help="read the passphrase from FILE (else $AUDITCTL_VAULT_PASSWORD, else a prompt)")
    p.set_defaults(func=cmd_vault)

    p = sub.add_parser("sudoers", help="print the sudoers fragment of exactly the read-only commands the packs run as root")
    p.add_argument("--packs", help="comma-separated packs (default: all)")
    p.add_argument("--user", default="audit", help="the audit user on the hosts (default: audit)")
    p.add_argument("-i", "--inventory", help="also list the commands this inventory's declarations add (backup paths...)")
    p.add_argument("--limit", help="with -i: only these hosts (ids, schools, roles or globs)")
    p.set_defaults(func=cmd_sudoers)
    from audits.collect.device_commands import PLATFORMS as DEVICE_PLATFORMS

    p = sub.add_parser("device-role", help="print the least-privilege account/role configuration for auditing network "
                       "devices live (the devices' counterpart of sudoers)")
    p.add_argument("--platform", choices=DEVICE_PLATFORMS, help="one device platform (default: all)")
    p.add_argument("--user", default="audit", help="the audit account on the devices (default: audit)")
    p.add_argument("--role", default="auditctl-ro", help="the role / view name where the vendor has one "
                   "(default: auditctl-ro)")
    p.set_defaults(func=cmd_device_role)
    from audits.inventory import starter

    starter.add_parser(sub)  # auditctl init
    from audits.run import preflight

    preflight.add_parser(sub)  # auditctl preflight
    from audits.patchdata import vulncli

    vulncli.add_parser(sub)  # auditctl vulndb import|status
    from audits.patchdata import cli as patches_cli

    patches_cli.add_parser(sub)  # auditctl patches
    pk = sub.add_parser("keys", help="school signing keys and the bureau's trusted keys")
    ksub = pk.add_subparsers(dest="keys_command", required=True)
    p = ksub.add_parser("init", help="create this school's Ed25519 signing key ($XDG_CONFIG_HOME/auditctl/keys)")
    p.add_argument("--school", required=True, help="the school id (as in the inventory)")
    p.add_argument("--passphrase-file", help="encrypt the key with the passphrase in FILE (first line)")
    p.add_argument("--encrypt", action="store_true",
                   help="encrypt the key; the passphrase from AUDITCTL_KEY_PASSPHRASE or a prompt")
    p.set_defaults(func=cmd_keys_init)
    p = ksub.add_parser("trust", help="register a school's public key in the store (bureau)")
    p.add_argument("school")
    p.add_argument("pubkey", help="the school's .pub file")
    p.add_argument("--db")
    p.set_defaults(func=cmd_keys_trust)
    p = ksub.add_parser("revoke", help="revoke a school's keys, or one key by id (bureau)")
    p.add_argument("target", metavar="SCHOOL|KEY_ID")
    p.add_argument("--db")
    p.set_defaults(func=cmd_keys_revoke)
    p = ksub.add_parser("list", help="list trusted keys (bureau)")
    p.add_argument("--db")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_keys_list)

    p = sub.add_parser("bundle", help="write a stored run as a signed bundle for the bureau")
    p.add_argument("--run", required=True, help="run id")
    p.add_argument("--db")
    p.add_argument("--school", help="the school whose hosts go in the bundle (default: one bundle per school of the run)")
    p.add_argument("--key", help="signing key file (default: $XDG_CONFIG_HOME/auditctl/keys/SCHOOL.key)")
    p.add_argument("--passphrase-file", help="passphrase of an encrypted key (else AUDITCTL_KEY_PASSPHRASE or a prompt)")
    p.add_argument("-o", "--output", help="bundle file (default: RUN-SCHOOL.bundle.json; '-' for stdout)")
    p.set_defaults(func=cmd_bundle)

    p = sub.add_parser("import", help="verify signed bundles and store their runs (bureau)")
    p.add_argument("bundles", nargs="+", metavar="BUNDLE")
    p.add_argument("--db")
    p.add_argument("-i", "--inventory", help="the bureau's inventory: the schools' districts, cities and names "
                   "(required; a bundle that says otherwise is refused)")
    p.set_defaults(func=cmd_import)

    ps = sub.add_parser("schedule", help="run a plan on its schedule (systemd timer or cron)")
    ssub = ps.add_subparsers(dest="schedule_command", required=True)
    p = ssub.add_parser("install", help="write a systemd timer + service (or a cron.d file) for the plan")
    p.add_argument("plan")
    p.add_argument("--cron", action="store_true", help="a file in /etc/cron.d instead of systemd units")
    p.add_argument("--user", default="auditctl", help="unprivileged user the audit runs as (default: auditctl)")
    p.add_argument("--root", help="write under DIR instead of / (an image, a test); systemctl is not called")
    p.set_defaults(func=cmd_schedule_install)
    p = ssub.add_parser("list", help="installed schedules")
    p.add_argument("--root")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_schedule_list)
    p = ssub.add_parser("remove", help="remove a plan's schedule")
    p.add_argument("target", metavar="PLAN|NAME")
    p.add_argument("--root")
    p.set_defaults(func=cmd_schedule_remove)
    return ap


def main(argv=None) -> int:
    from audits.store.database import StoreError

    args = build_parser().parse_args(argv)
    if args.debug:
        from audits.trust.redact import setup_debug_log

        setup_debug_log(args.log_file)
    try:
        return args.func(args)
    except InputError as e:
        _print_problems(e.problems)
        return EXIT_INPUT
    except StoreError as e:
        print(f"auditctl: {e}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        print("auditctl: interrupted", file=sys.stderr)
        return EXIT_INCOMPLETE
    except OSError as e:  # an output path that cannot be written (name too long, /proc, no permission)
        print(f"auditctl: cannot write or read {_printable(e.filename)}: {e.strerror or type(e).__name__}",
              file=sys.stderr)
        return EXIT_INPUT


def _printable(value, limit: int = 300) -> str:
    """A path for an error line: control characters escaped, undecodable bytes shown, bounded."""
    import re

    text = "(file)" if value is None else os.fsdecode(value) if isinstance(value, bytes) else str(value)
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    text = re.sub(r"[\x00-\x1f\x7f-\x9f]", lambda m: f"\\x{ord(m.group()):02x}", text)
    return text if len(text) <= limit else text[:limit] + "…"


if __name__ == "__main__":
    sys.exit(main())
