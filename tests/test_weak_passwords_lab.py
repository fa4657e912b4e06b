"""Weak passwords (issue #16) against the campus lab's real sshd hosts, each with its own /etc/shadow.

Three hosts get the same kinds of accounts, hashed with this machine's libcrypt in a different scheme
each (yescrypt, sha512crypt, md5crypt): an empty password, a common one (shared by two accounts), the
user name, one derived from the school id, and a strong random one (the canary, also copied to a
second account: an identical hash). A fourth host gets 50 yescrypt accounts with strong passwords:
the 2 s budget must hold and every account left untested must be an error, never a pass.

The whole run goes through the real SSH transport and every output: the canary, the weak passwords
and the planted hashes must not appear in any artefact (JSON, HTML, CSV, JUnit, store bytes, debug
log, bundle) nor in the bytes the transport received from the hosts.
"""
from __future__ import annotations

import ctypes
import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import auditctl
from audits.run import platforms

pytestmark = pytest.mark.lab
ROOT = Path(__file__).resolve().parents[1]
WEAK, SHARED = "mlps.auth.weak_passwords", "mlps.auth.shared_passwords"
SCHEMES = {"lab-compliant-01": b"$y$", "lab-compliant-02": b"$6$", "lab-compliant-03": b"$1$"}
BIG = "lab-misconf-01"
CANARY = "Cnry" + secrets.token_urlsafe(12)  # strong, random per session: in no list, derivable from nothing
PASSWORDS = {  # account -> (password, the rule the probe must report, or None: not weak)
    "wp_empty": ("", "empty"),
    "wp_common": ("Admin@123", "common list"),
    "wp_common2": ("Admin@123", "common list"),
    "wp_same": ("wp_same", "same as user name"),
    "wp_derived": ("labschool@123", "inventory-derived"),
    "wp_strong": (CANARY, None),
}

_lib = ctypes.CDLL("libcrypt.so.1")
_lib.crypt.restype = ctypes.c_char_p
_lib.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
_lib.crypt_gensalt.restype = ctypes.c_char_p
_lib.crypt_gensalt.argtypes = [ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p, ctypes.c_int]


def crypt(password: str, prefix: bytes) -> str:
    """A real hash from this machine's libcrypt (the lab hosts share it)."""
    return _lib.crypt(password.encode(), _lib.crypt_gensalt(prefix, 0, None, 0)).decode()


def _add_accounts(lab, host_id: str, entries: list[tuple[str, str]], lock_others: bool = False):
    """Append accounts (name, field 2) to the host's own passwd and shadow, in place; lock_others
    locks the accounts already there (the misconfigured host's guest has an empty password)."""
    etc = lab.host(host_id).etc
    passwd, shadow = (etc / "passwd").read_text(), (etc / "shadow").read_text()
    if lock_others:
        shadow = "".join(re.sub(r"^([^:]*):(?![!*])", r"\1:!", ln) for ln in shadow.splitlines(True))
    uid = 3000
    for name, field2 in entries:
        passwd += f"{name}:x:{uid}:{uid}::/nonexistent:/usr/sbin/nologin\n"
        shadow += f"{name}:{field2}:20000:0:99999:7:::\n"
        uid += 1
    lab.write_etc_file(host_id, "passwd", passwd)
    lab.write_etc_file(host_id, "shadow", shadow)


@pytest.fixture(scope="module")
def weak_run(campus_lab, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("weakpw")
    planted_hashes = []
    for host_id, prefix in SCHEMES.items():
        entries = [(n, crypt(pw, prefix) if pw else "") for n, (pw, _) in PASSWORDS.items()]
        strong = dict(entries)["wp_strong"]
        entries.append(("wp_twin", strong))  # an identical hash: the same salt and password
        planted_hashes += [h for _, h in entries if h]
        _add_accounts(campus_lab, host_id, entries)
    big = [(f"wp_bulk{i:02d}", crypt(CANARY + str(i), b"$y$")) for i in range(50)]
    planted_hashes += [h for _, h in big]
    _add_accounts(campus_lab, BIG, big, lock_others=True)

    inv = campus_lab.write_inventory(tmp / "lab.yaml")
    plan = tmp / "plan.yaml"
    # the yescrypt host needs up to 6 x 40 x 16 ms; the 50-account host keeps the default 2 s budget
    plan.write_text(yaml.safe_dump({"name": "weakpw", "inventory": str(inv), "packs": ["mlps"],
                                    "params": {"mlps": {"cpu_budget_s": 8}}}))
    received: list[bytes] = []
    real_parse = platforms.parse_output

    def capture(raw, *a, **kw):  # the bytes the transport received, exactly as the parser gets them
        received.append(bytes(raw))
        facts = real_parse(raw, *a, **kw)
        received.append("".join(r.stdout + r.stderr for r in facts.results.values()).encode())  # base64 undone
        return facts

    platforms.parse_output = capture
    try:
        args = ["--debug", "--log-file", str(tmp / "debug.log"), "run", "-q", "--plan", str(plan),
                "--limit", ",".join(SCHEMES), "--db", str(tmp / "r.db"), "--json", str(tmp / "run.json"),
                "--out", str(tmp / "html"), "--format", f"csv:{tmp / 'run.csv'}", "--format", f"junit:{tmp / 'run.xml'}",
                "--known-hosts", str(campus_lab.known_hosts)]
        rc = auditctl.main(args)
        rc_big = auditctl.main(["run", "-q", "-i", str(inv), "--limit", BIG, "--packs", "mlps", "--db", str(tmp / "big.db"),
                                "--json", str(tmp / "big.json"), "--out", str(tmp / "html-big"),
                                "--known-hosts", str(campus_lab.known_hosts)])
    finally:
        platforms.parse_output = real_parse
    run_id = json.loads((tmp / "run.json").read_text())["run"]["id"]
    env = {"XDG_CONFIG_HOME": str(tmp / "config"), "PATH": "/usr/bin:/bin"}
    base = [sys.executable, str(ROOT / "auditctl.py")]
    subprocess.run(base + ["keys", "init", "--school", "lab-school"], capture_output=True, cwd=tmp, env=env,
                   timeout=60, check=True)
    subprocess.run(base + ["bundle", "--run", run_id, "--db", str(tmp / "r.db"), "-o", str(tmp / "run.bundle.json")],
                   capture_output=True, cwd=tmp, env=env, timeout=60, check=True)
    doc = json.loads((tmp / "run.json").read_text())
    big_doc = json.loads((tmp / "big.json").read_text())
    results = {h["id"]: {r["check_id"]: r for r in h["results"]} for h in doc["hosts"] + big_doc["hosts"]}
    return {"tmp": tmp, "rc": (rc, rc_big), "results": results, "received": received, "hashes": planted_hashes,
            "hosts": {h["id"]: h for h in doc["hosts"] + big_doc["hosts"]}}


def _evidence(r) -> dict[str, str]:
    return {line.split(": ", 1)[0]: line.split(": ", 1)[1] for line in r["evidence"].splitlines() if ": " in line}


@pytest.mark.parametrize("host_id", sorted(SCHEMES))
def test_each_account_is_judged_right_on_every_scheme(weak_run, host_id):
    h = weak_run["hosts"][host_id]
    assert h["status"] == "audited", h
    r = weak_run["results"][host_id][WEAK]
    assert r["status"] == "fail" and r["severity"] == "high", r
    assert r["references"] == ["GB/T 22239-2019 8.1.4.1 a"]
    ev = _evidence(r)
    for name, (_, rule) in PASSWORDS.items():
        if rule:
            assert ev.get(name) == rule, (host_id, name, r["evidence"])
    # the strong password was tried against the whole list (not skipped) and is not weak
    assert re.fullmatch(r"40 candidates tested, none matched", ev.get("wp_strong", "")), r["evidence"]
    assert ev.get("wp_twin", "").endswith("none matched")
    assert "not fully tested" not in r["evidence"]
    m = re.search(r"host CPU ([\d.]+) s of ([\d.]+) s budget", r["evidence"])
    assert m and float(m.group(1)) <= float(m.group(2)) + 0.05


@pytest.mark.parametrize("host_id", sorted(SCHEMES))
def test_shared_passwords_are_reported_by_account_names(weak_run, host_id):
    r = weak_run["results"][host_id][SHARED]
    assert r["status"] == "fail", r
    lines = r["evidence"].splitlines()
    assert "wp_common, wp_common2: the same common/derived password matched" in lines, lines
    assert "wp_strong, wp_twin: identical hash (same salt and hash)" in lines, lines
    assert not any("wp_same" in ln or "wp_derived" in ln for ln in lines)


def test_the_budget_holds_with_50_password_accounts(weak_run):
    r = weak_run["results"][BIG][WEAK]
    assert r["status"] == "error", r  # untested accounts are never a pass
    assert "not fully tested" in r["message"]["en"]
    line = next(ln for ln in r["evidence"].splitlines() if ln.startswith("not fully tested, CPU budget reached"))
    assert line.split(": ", 1)[1].split(", ") == [f"wp_bulk{i:02d}" for i in range(50)], line
    m = re.search(r"host CPU ([\d.]+) s of ([\d.]+) s budget, (\d+) guesses", r["evidence"])
    assert m, r["evidence"]
    cpu, budget, guesses = float(m.group(1)), float(m.group(2)), int(m.group(3))
    assert budget == 2.0 and cpu <= budget + 0.05, r["evidence"]
    assert 50 <= guesses < 50 * 40  # every account got its first guesses (round robin), none all 40
    assert weak_run["results"][BIG][SHARED]["status"] == "pass"


def test_hosts_without_planted_accounts_are_untouched_by_it(weak_run, campus_lab):
    # the misconfigured hosts keep their guest account with an empty password: found, by name and rule only
    for h in campus_lab.by_kind("misconfigured"):
        if h.id == BIG:
            continue
        assert h.id not in weak_run["results"]  # not in this run's --limit


def _artefacts(tmp: Path) -> dict[str, bytes]:
    skip = {"lab.yaml", "plan.yaml"}
    out = {str(p.relative_to(tmp)): p.read_bytes() for p in tmp.rglob("*")
           if p.is_file() and p.name not in skip and "config" not in p.relative_to(tmp).parts}
    for required in ("r.db", "run.json", "run.csv", "run.xml", "debug.log", "run.bundle.json", "big.json", "big.db"):
        assert required in out, required
    assert any(k.endswith("index.html") or k.endswith(".html") for k in out)
    return out


def test_no_artefact_and_no_received_byte_carries_a_password_or_hash(weak_run):
    arts = _artefacts(weak_run["tmp"])
    arts.update({f"received[{i}]": b for i, b in enumerate(weak_run["received"])})
    assert len(weak_run["received"]) >= 4
    secret = {"canary": CANARY, "derived": "labschool@123"}
    secret.update({f"hash{i}": h for i, h in enumerate(weak_run["hashes"])})
    # the salt of each hash is secret too ($id$[params$]salt$)
    secret.update({f"salt{i}": h.rsplit("$", 1)[0] for i, h in enumerate(weak_run["hashes"])})
    found = [(name, where) for where, data in arts.items() for name, s in secret.items() if s.encode() in data]
    assert found == []
    # the run did report on those accounts: the test would be vacuous otherwise
    assert b"wp_derived" in arts["run.json"] and b"inventory-derived" in arts["run.json"]


def test_the_school_report_lists_password_risks_first_with_their_remediation(weak_run):
    html = next((weak_run["tmp"] / "html").rglob("index.html")).read_text()
    table = re.search(r'<table id="high-risk">(.*?)</table>', html, re.S)
    assert table, "no high-risk table"
    rows = re.findall(r"<tr><td>(.*?)</tr>", table.group(1), re.S)
    clauses = [re.search(r"GB/T 22239-2019 ([\d.]+(?: [a-z])?)<", r).group(1) for r in rows]
    assert "8.1.4.1 a" in clauses and any(c != "8.1.4.1 a" for c in clauses), clauses  # else the order is untested
    first_other = next(i for i, c in enumerate(clauses) if c != "8.1.4.1 a")
    assert all(c != "8.1.4.1 a" for c in clauses[first_other:]), clauses
    weak = [r for r in rows if "mlps.auth.weak_passwords" in r]
    assert len(weak) == len(SCHEMES)
    assert all("passwd 用户名" in r and "pam_pwquality" in r for r in weak)  # the remediation, in Chinese (default)


@pytest.fixture()
def mariadb(tmp_path):
    """A private MariaDB server of this machine (its own datadir and socket), root with an empty password."""
    import shutil
    import time

    if not (shutil.which("mariadbd") and shutil.which("mariadb-install-db")):
        if os.environ.get("CI") == "true":
            pytest.fail("mariadb-server required on CI (.ci/run installs it)", pytrace=False)
        pytest.skip("mariadb-server not installed")
    data, run = tmp_path / "data", tmp_path / "run"
    data.mkdir()
    run.mkdir(mode=0o755)
    subprocess.run(["mariadb-install-db", "--no-defaults", f"--datadir={data}", "--user=root", "--skip-test-db",
                    "--auth-root-authentication-method=normal"], check=True, capture_output=True, timeout=120)
    proc = subprocess.Popen(["mariadbd", "--no-defaults", f"--datadir={data}", f"--socket={run / 'mysqld.sock'}",
                             "--skip-networking", "--user=root", f"--pid-file={run / 'pid'}",
                             f"--log-error={tmp_path / 'err.log'}"])
    for _ in range(100):
        if (run / "mysqld.sock").exists():
            break
        time.sleep(0.1)
    assert (run / "mysqld.sock").exists(), (tmp_path / "err.log").read_text()[-2000:]
    yield run
    proc.terminate()
    proc.wait(timeout=30)


def _mysql_result(campus_lab, tmp, host_id):
    inv = campus_lab.write_inventory(tmp / "lab.yaml")
    assert auditctl.main(["run", "-q", "-i", str(inv), "--limit", host_id, "--packs", "mlps", "--db", str(tmp / "m.db"),
                          "--json", str(tmp / "m.json"), "--out", str(tmp / "m-html"),
                          "--known-hosts", str(campus_lab.known_hosts)]) in (0, 1)
    doc = json.loads((tmp / "m.json").read_text())
    return {r["check_id"]: r for r in doc["hosts"][0]["results"]}["mlps.auth.mysql_root_empty_password"]


def test_mysql_root_with_an_empty_password_through_the_local_socket(campus_lab, mariadb, tmp_path):
    host_id = "lab-compliant-01"
    os.makedirs("/run/mysqld", exist_ok=True)
    campus_lab.bind_path(host_id, mariadb, "/run/mysqld")  # this host alone has the database
    r = _mysql_result(campus_lab, tmp_path, host_id)
    assert r["status"] == "fail" and r["severity"] == "high", r
    assert "/mysqld.sock: root with an empty password ran SELECT 1" in r["evidence"]
    assert r["references"] == ["GB/T 22239-2019 8.1.4.1 a"]
    # a password set: the same single attempt is refused
    subprocess.run(["mariadb", "--no-defaults", "-S", str(mariadb / "mysqld.sock"), "-u", "root", "-e",
                    f"ALTER USER root@localhost IDENTIFIED BY '{CANARY}'"], check=True, timeout=30)
    r = _mysql_result(campus_lab, tmp_path, host_id)
    assert r["status"] == "pass" and "Access denied" in r["evidence"], r
    assert CANARY not in json.dumps(r) and CANARY.encode() not in (tmp_path / "m.db").read_bytes()


def test_the_python3_fallback_judges_the_same_through_ssh(campus_lab, tmp_path):
    """engine: python3 (what a host without perl runs: libcrypt through ctypes) on the md5crypt host."""
    host_id = "lab-compliant-03"
    entries = [(n, crypt(pw, b"$1$") if pw else "") for n, (pw, _) in PASSWORDS.items()]
    _add_accounts(campus_lab, host_id, entries)
    inv = campus_lab.write_inventory(tmp_path / "lab.yaml")
    plan = tmp_path / "plan.yaml"
    plan.write_text(yaml.safe_dump({"name": "weakpw-py", "inventory": str(inv), "packs": ["mlps"],
                                    "params": {"mlps": {"engine": "python3"}}}))
    auditctl.main(["run", "-q", "--plan", str(plan), "--limit", host_id, "--db", str(tmp_path / "r.db"),
                   "--json", str(tmp_path / "r.json"), "--out", str(tmp_path / "html"),
                   "--known-hosts", str(campus_lab.known_hosts)])
    doc = json.loads((tmp_path / "r.json").read_text())
    r = {x["check_id"]: x for x in doc["hosts"][0]["results"]}[WEAK]
    assert r["status"] == "fail" and "(python3)" in r["evidence"], r
    ev = _evidence(r)
    for name, (_, rule) in PASSWORDS.items():
        assert ev.get(name) == (rule or "40 candidates tested, none matched"), (name, r["evidence"])
