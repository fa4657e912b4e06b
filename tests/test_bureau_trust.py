"""Issue #18, trust at the bureau: one regression test (or a few) per finding, each failing on the
code before the fix. Real parts throughout: real Ed25519 keys and bundles, SQLite and the real
PostgreSQL server, the real CLI. The sudoers lab proof (real sudo) is tests/test_bureau_sudoers_lab.py."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import auditctl

ROOT = Path(__file__).resolve().parent.parent


# -- 9. schedule remove removes only files whose marker names this plan ---------------------------
def test_schedule_remove_by_plan_file_leaves_another_plans_schedule_of_the_same_name(tmp_path, capsys):
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "passwd").write_text("audit:x:990:990::/var/lib/audit:/usr/sbin/nologin\n")
    plans = []
    for d in ("a", "b"):
        p = tmp_path / d / "nightly.yaml"
        p.parent.mkdir()
        p.write_text("name: nightly\ninventory: inv.yaml\nschedule: \"daily 02:00\"\n", encoding="utf-8")
        plans.append(p)
    # plan a is scheduled; plan b has the same name (so the same unit name) and no schedule
    assert auditctl.main(["schedule", "install", str(plans[0]), "--cron", "--user", "audit", "--root", str(root)]) == 0
    cron = root / "etc" / "cron.d" / "auditctl-nightly"
    assert str(plans[0].resolve()) in cron.read_text()
    capsys.readouterr()
    assert auditctl.main(["schedule", "remove", str(plans[1]), "--root", str(root)]) == 2
    assert cron.exists(), "plan b's remove deleted plan a's schedule"
    assert "no schedule 'auditctl-nightly' of plan" in capsys.readouterr().err
    assert auditctl.main(["schedule", "remove", str(plans[0]), "--root", str(root)]) == 0
    assert not cron.exists()


# -- 7. nmap XML through defusedxml: entities refused whatever the encoding ------------------------
def _utf16_nmap_with_entity() -> bytes:
    # the ASCII bytes "<nmaprun" also appear raw (inside a comment, as two UTF-16 characters each) so a
    # byte search for the root element is satisfied; the entity declaration is invisible to a byte search
    smuggled = b"<nmaprun".decode("utf-16-le")
    text = ('<?xml version="1.0" encoding="UTF-16"?>\n'
            '<!DOCTYPE nmaprun [<!ENTITY big "' + "A" * 1000 + '">]>\n'
            f'<!--{smuggled}-->\n'
            '<nmaprun scanner="nmap" args="nmap" start="1700000000" version="7.93" xmloutputversion="1.05">'
            '<host><status state="up" reason="echo-reply"/><address addr="10.0.0.1" addrtype="ipv4"/>'
            '<hostnames><hostname name="' + "&big;" * 50 + '" type="PTR"/></hostnames>'
            '<ports><port protocol="tcp" portid="22"><state state="open" reason="syn-ack"/>'
            '<service name="ssh"/></port></ports></host>'
            '<runstats><finished time="1700000001" exit="success"/></runstats></nmaprun>\n')
    return b"\xff\xfe" + text.encode("utf-16-le")


def test_nmap_xml_entity_in_utf16_is_refused(tmp_path, capsys):
    from audits.collect import nmapxml
    from audits.model.errors import InputError

    data = _utf16_nmap_with_entity()
    assert b"<!ENTITY" not in data and b"<nmaprun" in data[:4096]
    with pytest.raises(nmapxml.NmapXMLError, match="declares XML entities"):
        nmapxml.parse(data)
    f = tmp_path / "scan.xml"
    f.write_bytes(data)
    with pytest.raises(InputError) as exc:
        nmapxml.load_file(f)
    assert str(exc.value.problems[0]).startswith(f"{f}:0: --nmap-xml: declares XML entities")


# -- bundles: a real school run of two schools (tests/test_bundles.py's fixtures), real keys --------
from tests.test_bundles import (BUREAU_INVENTORY, bureau, counts, keys, school, trust,  # noqa: E402,F401
                                write_bundle)


def _import(bureau_url, *paths, inventory=None):
    return auditctl.main(["import", *map(str, paths), "--db", bureau_url, "-i",
                          str(inventory or BUREAU_INVENTORY["path"])])


def _signed(keys, who, body, tmp_path, name, run_id=None):
    from audits.trust.signing import load_private
    from reports.bundle import make_bundle

    b = make_bundle(body, who, load_private(keys[who][0]))
    if run_id is not None:  # a forged envelope run id, re-signed
        import base64

        from audits.trust.bundle import signed_bytes
        b["run_id"] = run_id
        b["signature"] = base64.b64encode(load_private(keys[who][0]).sign(signed_bytes(b))).decode()
    out = tmp_path / name
    out.write_text(json.dumps(b, ensure_ascii=False), encoding="utf-8")
    return out


def _body(school, run=0, who="s1"):
    from audits.store.database import Store
    from reports.document import run_document

    return run_document(Store(school["db"]), school["runs"][run], school=who)


def _refusal_lines(err: str, path) -> list[str]:
    return [line for line in err.splitlines() if line.startswith(f"{path}:0: ")]


# -- 2. identity comes from the bureau --------------------------------------------------------------
def test_a_bundle_cannot_move_or_rename_its_school(school, keys, bureau, tmp_path, capsys):
    trust(bureau, keys, "s1")
    forged = {}
    for field, value in (("district", "d2"), ("district_name", "Elsewhere"), ("school_name", "<b>Best</b>"),
                         ("city", "capital")):
        body = _body(school)
        for h in body["hosts"]:
            h[field] = value
        forged[field] = _signed(keys, "s1", body, tmp_path, f"forged-{field}.json")
    honest = write_bundle(school, tmp_path, 1)
    empty = counts(bureau)
    capsys.readouterr()
    assert _import(bureau, *forged.values(), honest) == 2
    err = capsys.readouterr().err
    for field, path in forged.items():
        (line,) = _refusal_lines(err, path)
        assert line.startswith(f"{path}:0: body.hosts[0].{field}: refused: the bundle says"), line
    assert counts(bureau) == {**empty, "runs": 1, "run_hosts": 1, "imported_bundles": 1,
                              "results": counts(bureau)["results"]}
    # the bureau's inventory, not the bundle, is the source: a bureau that files s1 elsewhere refuses
    # the school's honest bundle, naming the field
    moved = tmp_path / "bureau.yaml"
    moved.write_text("bureau: {id: t, name: test}\ndistricts:\n  - id: d9\n    schools:\n      - id: s1\n"
                     "        hosts: [{id: me, address: 127.0.0.1, connection: local}]\n", encoding="utf-8")
    capsys.readouterr()
    assert _import(bureau, write_bundle(school, tmp_path, 0), inventory=moved) == 2
    assert "body.hosts[0].district: refused: the bundle says 'd1', the bureau's inventory says 'd9'" in \
        capsys.readouterr().err
    # and without the bureau's inventory nothing is imported
    assert auditctl.main(["import", str(write_bundle(school, tmp_path, 0)), "--db", bureau]) == 2
    assert "signer.school: refused: the bureau's inventory is needed" in capsys.readouterr().err


# -- 3. latest by the run's start time ------------------------------------------------------------
def test_an_old_run_imported_late_goes_to_history_not_latest(school, keys, bureau, tmp_path):
    from audits.store.database import Store
    from reports.rollup_sql import rollup_sql

    trust(bureau, keys, "s1")
    newer, older = write_bundle(school, tmp_path, 1), write_bundle(school, tmp_path, 0)
    assert _import(bureau, newer) == 0 and _import(bureau, older) == 0  # the older one arrives last
    at = [f"{r}@s1" for r in school["runs"]]
    st = Store(bureau)
    assert st.latest_runs() == {"s1": at[1]}
    assert [r["id"] for r in st.runs(order="started")] == [at[1], at[0]]
    assert auditctl.main(["dashboard", "--db", bureau, "--json", str(tmp_path / "v.json"), "-o", str(tmp_path / "d")]) == 0
    view = json.loads((tmp_path / "v.json").read_text(encoding="utf-8"))
    (row,) = view["schools"]
    assert row["run_id"] == at[1] and view["runs"] == 2  # latest = newest audit; the old run is history
    assert rollup_sql(st)["schools"]["s1"]["rate"] == rollup_sql(st, [at[1]])["schools"]["s1"]["rate"]
    # ties on the start time are broken by run id, whatever the order of storing
    from audits.store.database import HostRecord

    for rid in ("tie-b", "tie-a"):
        st.create_run(rid, {}, "0.1.0", started_at="2100-01-01T00:00:00Z")
        st.save_host(rid, HostRecord("h", "10.0.0.1", "s9", "d1", 2, "linux", "audited", None, "",
                                     "2100-01-01T00:00:00Z", "2100-01-01T00:00:01Z", 1.0), [])
        st.finish_run(rid, "completed")
    assert st.latest_runs()["s9"] == "tie-b"
    st.engine.dispose()


# -- 4. one bundle per school; a run id is unique only with its school ------------------------------
def test_multi_school_run_gives_one_bundle_per_school_each_imported(school, keys, bureau, tmp_path, monkeypatch,
                                                                   capsys):
    from audits.store.database import Store

    trust(bureau, keys, "s1")
    trust(bureau, keys, "s2")
    monkeypatch.chdir(tmp_path)
    rid = school["runs"][0]
    # s2 first imports a bundle of its own under the run id s1's next bundle will carry
    other = school["runs"][1]
    body = _body(school, who="s2")
    body["run"]["id"] = other
    squat = _signed(keys, "s2", body, tmp_path, "squat.json", run_id=other)
    assert _import(bureau, squat) == 0
    assert auditctl.main(["bundle", "--run", rid, "--db", school["db"]]) == 0
    files = sorted(tmp_path.glob("*.bundle.json"))
    assert [f.name for f in files] == [f"{rid}-s1.bundle.json", f"{rid}-s2.bundle.json"]
    assert _import(bureau, files[1]) == 0 and _import(bureau, files[0]) == 0
    assert _import(bureau, write_bundle(school, tmp_path, 1, who="s1")) == 0  # not blocked by s2's
    assert {r["id"] for r in Store(bureau).runs()} == {f"{rid}@s1", f"{rid}@s2", f"{other}@s2", f"{other}@s1"}


# -- 5. a batch never stops: one line per refusal, the next file tried, nothing partial -------------
def _hostile_files(school, keys, tmp_path) -> dict[str, tuple]:
    def raw(name, text):
        p = tmp_path / name
        p.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
        return p

    out = {
        "1e400": (raw("inf.json", '{"bundle_version": 1, "run_id": "r", "body": {"x": 1e400}, "signer": {}, '
                                  '"signature": ""}'), "(bundle): refused: not valid JSON: number 1e400"),
        "surrogate": (raw("sur.json", '{"bundle_version": 1, "run_id": "\\ud800", "body": {}, "signer": {}, '
                                      '"signature": ""}'), "run_id: refused: holds a lone surrogate"),
        "huge int": (raw("int.json", '{"bundle_version": 1, "run_id": "r", "body": {"n": 99999999999999999999}}'),
                     "refused: not valid JSON: integer"),
    }

    def signed(name, edit, expect):
        body = _body(school)
        edit(body)
        out[name] = (_signed(keys, "s1", body, tmp_path, f"{name.replace(' ', '_')}.json"), expect)

    def nul(b):
        b["hosts"][0]["results"][0]["evidence"] = "a\x00b"

    def clause(b):
        b["hosts"][0]["results"][0]["references"] = ["GB/T 22239-2019 8.1.4.1 a" + "x" * 40]

    def long_id(b):
        b["hosts"][0]["results"][0]["check_id"] = "mlps." + "a" * 200

    def long_address(b):
        b["hosts"][0]["address"] = "1" * 300

    signed("NUL in evidence", nul, "body.hosts[0].results[0].evidence: refused: holds a NUL character")
    signed("over-long clause", clause, "body.hosts[0].results[0].references[0]: refused: clause longer than 32")
    signed("over-long check id", long_id, "body.hosts[0].results[0].check_id: refused: longer than 128")
    signed("over-long address", long_address, "body.hosts[0].address: refused: longer than 255")
    return out


def test_a_batch_of_hostile_bundles_never_stops_and_stores_nothing_partial(school, keys, bureau, tmp_path, capsys):
    trust(bureau, keys, "s1")
    bad = _hostile_files(school, keys, tmp_path)
    good = write_bundle(school, tmp_path, 1)
    empty = counts(bureau)
    capsys.readouterr()
    assert _import(bureau, *[p for p, _ in bad.values()], good) == 2
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    for name, (path, expected) in bad.items():
        lines = _refusal_lines(captured.err, path)
        assert len(lines) == 1 and expected in lines[0], (name, lines)
    assert f"{good}: imported run {school['runs'][1]}@s1" in captured.out
    c = counts(bureau)
    assert c["runs"] == empty["runs"] + 1 and c["imported_bundles"] == 1 and c["run_hosts"] == 1


# -- 6. sizes before reading -----------------------------------------------------------------------
def _limited(code: str, limit_mb: int = 700):
    """Run python code in a child limited to ``limit_mb`` of address space."""
    import subprocess
    import sys

    prelude = f"import resource; resource.setrlimit(resource.RLIMIT_AS, ({limit_mb << 20}, {limit_mb << 20}))\n"
    return subprocess.run([sys.executable, "-c", prelude + code], capture_output=True, text=True, cwd=ROOT,
                          timeout=300)


def test_validate_dev_zero_is_a_clear_error():
    p = _limited("import auditctl, sys; sys.exit(auditctl.main(['validate', '/dev/zero']))")
    assert p.returncode == 2, p.stderr[-500:]
    assert p.stderr.startswith("/dev/zero:0: (file): larger than") and "Traceback" not in p.stderr


def test_bundle_of_many_empty_objects_refused_before_parsing(tmp_path):
    from audits.trust.bundle import MAX_BUNDLE_BYTES

    f = tmp_path / "objects.json"
    with open(f, "wb") as fh:
        fh.write(b"[" + b"{}," * ((MAX_BUNDLE_BYTES - 8) // 3) + b"{}]")
    big = tmp_path / "big.json"
    with open(big, "wb") as fh:
        fh.truncate(MAX_BUNDLE_BYTES + 1)  # sparse: refused by its size, never read
    db = tmp_path / "b.db"
    p = _limited(f"import auditctl, sys; sys.exit(auditctl.main(['import', {str(f)!r}, {str(big)!r}, '--db', "
                 f"{str(db)!r}]))")
    assert p.returncode == 2 and "Traceback" not in p.stderr and "MemoryError" not in p.stderr, p.stderr[-500:]
    assert f"{f}:0: (bundle): refused: more than" in p.stderr
    assert f"{big}:0: (bundle): refused: larger than {MAX_BUNDLE_BYTES} bytes" in p.stderr


# -- 8. ids that become paths, control characters, incomplete waivers --------------------------------
def test_run_id_dotdot_refused_and_report_never_leaves_out(school, keys, bureau, tmp_path, capsys):
    from reports.html import safe_name

    trust(bureau, keys, "s1")
    body = _body(school)
    body["run"]["id"] = ".."
    path = _signed(keys, "s1", body, tmp_path, "dotdot.json", run_id="..")
    capsys.readouterr()
    assert _import(bureau, path) == 2
    (line,) = _refusal_lines(capsys.readouterr().err, path)
    assert line.startswith(f"{path}:0: run_id: refused: '..' is not a valid run id")
    assert counts(bureau)["runs"] == 0
    assert safe_name("..") == "_." and safe_name(".") == "_" and safe_name(".hidden") == "_hidden"


def test_imported_control_characters_are_cleaned_again(school, keys, bureau, tmp_path, capsys):
    from audits.store.database import Store
    from reports.document import run_document
    from reports.tabular import render

    trust(bureau, keys, "s1")
    body = _body(school)
    r = body["hosts"][0]["results"][0]
    r["evidence"] = "ok\x1b]0;pwned\x07\x1b[2J\x9b31m"
    r["message"]["en"] = "line\u202eevil"
    path = _signed(keys, "s1", body, tmp_path, "escapes.json")
    assert _import(bureau, path) == 0
    doc = run_document(Store(bureau), f"{school['runs'][0]}@s1")
    got = next(x for x in doc["hosts"][0]["results"] if x["check_id"] == r["check_id"])
    assert got["evidence"] == "ok\ufffd]0;pwned\ufffd\ufffd[2J\ufffd31m" and got["message"]["en"] == "line\ufffdevil"
    for fmt in ("csv", "junit"):
        text = render(doc, fmt, "en")
        assert "\x1b" not in text and "\x9b" not in text and "\u202e" not in text


def test_imported_waiver_without_reason_refused_and_report_still_works(school, keys, bureau, tmp_path, capsys):
    trust(bureau, keys, "s1")
    body = _body(school)
    r = body["hosts"][0]["results"][0]
    r["exceptions"] = [{"kind": "waiver", "check": r["check_id"], "scope": "host:me", "expires": "2099-01-01",
                        "expired": False, "source": "x.yaml:1"}]  # schema-valid, but no reason/approver
    path = _signed(keys, "s1", body, tmp_path, "waiver.json")
    capsys.readouterr()
    assert _import(bureau, path, write_bundle(school, tmp_path, 1)) == 2
    (line,) = _refusal_lines(capsys.readouterr().err, path)
    assert "body.hosts[0].results[0].exceptions[0].reason: refused: a waiver must carry its reason" in line
    assert auditctl.main(["report", "--db", bureau, "--out", str(tmp_path / "html")]) == 0


# -- 10. clear errors, not tracebacks -----------------------------------------------------------------
def _cli(argv, env_extra: dict, cwd):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environb.items() if k not in (b"AUDITCTL_KEY_PASSPHRASE", b"AUDITCTL_VAULT_PASSWORD")}
    env.update(env_extra)
    return subprocess.run([sys.executable, str(ROOT / "auditctl.py"), *argv], env=env, cwd=cwd,
                          capture_output=True, timeout=120)


def test_non_utf8_passphrases_and_bad_output_paths_are_clear_errors(tmp_path):
    cfg = str(tmp_path / "cfg").encode()
    p = _cli(["keys", "init", "--school", "s7"], {b"XDG_CONFIG_HOME": cfg, b"AUDITCTL_KEY_PASSPHRASE": b"\xff\xfe pw"},
             tmp_path)
    assert p.returncode == 0 and b"Traceback" not in p.stderr, p.stderr[-400:]
    assert b"ENCRYPTED" in (tmp_path / "cfg" / "auditctl" / "keys" / "s7.key").read_bytes()
    (tmp_path / "v.yaml").write_text("a: 1\n")
    p = _cli(["vault", "encrypt", "v.yaml"], {b"AUDITCTL_VAULT_PASSWORD": b"\xff\xfe"}, tmp_path)
    assert p.returncode == 2 and b"Traceback" not in p.stderr
    assert b"AUDITCTL_VAULT_PASSWORD is not UTF-8 text" in p.stderr and b"\xff" not in p.stderr
    ro = tmp_path / "ro"
    ro.mkdir(mode=0o500)
    p = _cli(["keys", "init", "--school", "s8"], {b"XDG_CONFIG_HOME": b"/proc/1/nonexistent"}, tmp_path)
    assert p.returncode == 2 and b"Traceback" not in p.stderr and b"auditctl: cannot write or read" in p.stderr
    db = str(tmp_path / "r.db")
    assert _cli(["run", "-q", "--db", db, "--out", str(tmp_path / "o")], {}, tmp_path).returncode == 0
    for argv in (["--json", str(tmp_path / ("n" * 300 + ".json"))], ["--out", "/proc/self/auditctl-out"]):
        p = _cli(["report", "--db", db, *argv], {}, tmp_path)
        assert p.returncode == 2 and b"Traceback" not in p.stderr, p.stderr[-400:]
        assert p.stderr.startswith(b"auditctl: cannot write or read ")


# -- 1. sudoers widening: declared paths validated at load and in the generator ---------------------
HOSTILE_PATHS = ["/var/backups/web -fprintf /tmp/pwn X", "/var/backups/web\t-quit", "/etc/shadow", "/etc/gshadow",
                 "/etc/ssh/ssh_host_ed25519_key", "/root/.ssh/id_ed25519", "/home/teacher/.ssh/id_rsa",
                 "/srv/tls/server.pem", "/srv/backup/../../etc/shadow", "/etc//shadow", "/srv/backup/*",
                 "/srv/backup/-fprint", "/srv/backup/a,b", "/srv/backup/id_ecdsa", "/srv/backup/x\u3000y"]


def _backup_inventory(tmp_path, target_path: str, marker: str = "/var/backups/web.ok") -> Path:
    inv = tmp_path / "inv.yaml"
    inv.write_text("bureau: {id: t, name: test}\ndistricts:\n  - id: d1\n    schools:\n      - id: s1\n"
                   "        systems:\n          - id: web\n            level: 3\n            backup:\n"
                   f"              targets: [{{path: {json.dumps(target_path)}}}]\n"
                   f"              marker: {json.dumps(marker)}\n"
                   "        hosts: [{id: h1, address: 10.0.0.1, systems: [web]}]\n", encoding="utf-8")
    return inv


@pytest.mark.parametrize("bad", HOSTILE_PATHS)
def test_declared_paths_that_could_widen_sudo_are_refused_at_load(tmp_path, bad, capsys):
    inv = _backup_inventory(tmp_path, bad)
    assert auditctl.main(["validate", str(inv)]) == 2
    err = capsys.readouterr().err
    assert f"{inv}:10: districts[0].schools[0].systems[0].backup.targets[0].path: " in err, err
    inv = _backup_inventory(tmp_path, "/var/backups/web", marker=bad)
    assert auditctl.main(["sudoers", "--packs", "backup", "-i", str(inv)]) == 2
    assert ".backup.marker: " in capsys.readouterr().err


@pytest.mark.parametrize("bad", HOSTILE_PATHS)
def test_the_generator_refuses_hostile_declared_paths_itself(bad):
    """Hosts built in code (not through the loader) reach the generator directly: it checks again."""
    from audits.model.declarations import BackupPolicy, Target
    from audits.model.inventory import Host, Source
    from audits.trust.sudoers import fragment
    from checks.registry import load_registry

    policy = BackupPolicy(system="web", level=3, rpo_hours=24.0, offsite=False, targets=(Target(path=bad),), marker=bad)
    host = Host("h1", "10.0.0.1", "s1", "d1", ["web"], 3, {"os": "linux", "roles": [], "facts": {},
                "connection": "ssh"}, Source("x", 1), backup=(policy,))
    text, skipped = fragment(load_registry().select(["backup"]), "audit", hosts=[host])
    listed = text.split("Cmnd_Alias", 1)[-1]
    for word in bad.split():
        if word.startswith("/"):
            assert word not in listed and word.replace(",", "\\,") not in listed, (bad, text)
    assert any(bad[:40] in why or repr(bad)[:40] in why for why in skipped), skipped
