"""`auditctl run` end to end on this machine: exit codes, fail-on, unreachable hosts, resume, plans."""
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path


import auditctl
from audits.store.database import Store

ROOT = Path(__file__).resolve().parent.parent


def inventory(tmp_path, extra_hosts=""):
    p = tmp_path / "inv.yaml"
    p.write_text(textwrap.dedent("""\
        bureau: {id: t, name: test}
        districts:
          - id: d1
            schools:
              - id: s1
                systems: [{id: sys1, level: 3}]
                hosts:
                  - {id: me, address: 127.0.0.1, connection: local, systems: [sys1]}
        """) + textwrap.indent(textwrap.dedent(extra_hosts), " " * 10), encoding="utf-8")
    return p


def run(*args):
    return auditctl.main(["run", "-q", *map(str, args)])


def test_local_run_writes_store_json_and_html(tmp_path):
    db, js, out = tmp_path / "r.db", tmp_path / "r.json", tmp_path / "out"
    rc = run("-i", inventory(tmp_path), "--db", db, "--json", js, "--out", out)
    doc = json.loads(js.read_text())
    assert rc == 0 and doc["run"]["status"] == "completed"
    (host,) = doc["hosts"]
    assert host["status"] == "audited" and host["os_family"] in ("debian", "rhel", "linux")
    ids = {r["check_id"] for r in host["results"]}
    assert "mlps.access.passwd_mode" in ids and "fleet.ssh.host_key" in ids
    passwd = next(r for r in host["results"] if r["check_id"] == "mlps.access.passwd_mode")
    # level-3 clauses: 8.1.4.2 a as well as f (issue #15 item 1)
    assert passwd["status"] == "pass" and passwd["references"] == ["GB/T 22239-2019 8.1.4.2 a", "GB/T 22239-2019 8.1.4.2 f"]
    html = out / doc["run"]["id"] / "s1" / "index.html"
    assert html.exists() and "mlps" in html.read_text()
    assert Store(f"sqlite:///{db}").run(doc["run"]["id"])["status"] == "completed"


def test_fail_on_threshold_sets_exit_1(tmp_path):
    # This machine's login.defs fails at least the low-severity PASS_MIN_DAYS check or passes it; make it certain
    plan = tmp_path / "plan.yaml"
    plan.write_text(textwrap.dedent(f"""\
        inventory: {inventory(tmp_path)}
        packs: [mlps]
        params:
          mlps.auth.login_defs_min_days: {{min_password_age: 100000}}
        """))
    assert run("--plan", plan, "--db", tmp_path / "a.db", "--out", tmp_path / "o", "--fail-on", "low") == 1
    assert run("--plan", plan, "--db", tmp_path / "a.db", "--out", tmp_path / "o", "--fail-on", "critical") in (0, 1)
    assert run("--plan", plan, "--db", tmp_path / "a.db", "--out", tmp_path / "o") == 0


def test_unreachable_host_is_reported_and_run_is_incomplete(tmp_path):
    inv = inventory(tmp_path, """\
        - {id: closed, address: 127.0.0.1, port: 1, connection: ssh, user: audit, connect_timeout: 3, systems: [sys1]}
        """)
    js = tmp_path / "r.json"
    rc = run("-i", inv, "--db", tmp_path / "r.db", "--json", js, "--out", tmp_path / "o")
    doc = json.loads(js.read_text())
    hosts = {h["id"]: h for h in doc["hosts"]}
    assert rc == 3 and doc["run"]["status"] == "incomplete"
    assert hosts["closed"]["status"] == "unreachable" and hosts["closed"]["reason"] == "refused"
    assert hosts["me"]["status"] == "audited"  # the other host was still audited


def test_bad_plan_parameter_is_exit_2_with_file_and_line(tmp_path, capsys):
    plan = tmp_path / "plan.yaml"
    plan.write_text(f"inventory: {inventory(tmp_path)}\nparams:\n  mlps:\n    max_pasword_age: 60\n")
    assert run("--plan", plan, "--db", tmp_path / "x.db") == 2
    err = capsys.readouterr().err
    assert f"{plan}:4: params.mlps.max_pasword_age: unknown parameter (did you mean 'max_password_age'?)" in err
    assert not (tmp_path / "x.db").exists() or Store(f"sqlite:///{tmp_path / 'x.db'}").runs() == []


def test_plan_parameter_changes_the_verdict(tmp_path):
    inv = inventory(tmp_path)
    plan = tmp_path / "plan.yaml"
    js = tmp_path / "p.json"
    plan.write_text(f"inventory: {inv}\npacks: [mlps]\nparams:\n  mlps: {{max_password_age: 1000000}}\n")
    run("--plan", plan, "--db", tmp_path / "p.db", "--json", js, "--out", tmp_path / "o")
    res = {r["check_id"]: r for r in json.loads(js.read_text())["hosts"][0]["results"]}
    assert res["mlps.auth.login_defs_max_days"]["status"] == "pass"  # 99999 <= 1000000


def test_unknown_pack_is_exit_2(tmp_path, capsys):
    assert run("-i", inventory(tmp_path), "--packs", "mlp", "--db", tmp_path / "x.db") == 2
    assert "unknown pack 'mlp' (did you mean 'mlps'?)" in capsys.readouterr().err


def test_resume_finishes_only_the_missing_hosts(tmp_path):
    from audits.inventory.load import load_inventory
    from audits.run.runner import start_run
    from checks.registry import load_registry

    inv_path = inventory(tmp_path, """\
        - {id: me2, address: 127.0.0.1, connection: local, systems: [sys1]}
        """)
    url = f"sqlite:///{tmp_path / 'r.db'}"
    store = Store(url)
    inv = load_inventory(inv_path)
    run_id = start_run(store, {"inventory": str(inv_path), "limit": None, "packs": ["mlps"], "params": {}})
    # a run that was interrupted after one host: save that host as the runner would
    from audits.run.runner import audit_host

    checks = load_registry().select(["mlps"])
    rec, results = audit_host(inv.hosts["me"], checks, {}, {})
    store.save_host(run_id, rec, results)
    store.finish_run(run_id, "interrupted")
    first_finished = store.hosts(run_id)[0].finished_at
    js = tmp_path / "r.json"
    assert run("--resume", run_id, "--db", url, "--json", js, "--out", tmp_path / "o") == 0
    doc = json.loads(js.read_text())
    assert doc["run"]["status"] == "completed"
    assert sorted(h["id"] for h in doc["hosts"]) == ["me", "me2"]
    assert next(h for h in doc["hosts"] if h["id"] == "me")["finished_at"] == first_finished  # not re-audited


def test_python_auditctl_py_from_a_checkout_and_checks_commands(tmp_path):
    env = {**os.environ, "PYTHONPATH": ""}
    r = subprocess.run([sys.executable, "auditctl.py", "checks", "list", "--pack", "mlps", "--lang", "en"],
                       cwd=ROOT, capture_output=True, text=True, env=env)
    assert r.returncode == 0 and "mlps.access.sshd_root_login" in r.stdout and "fleet." not in r.stdout
    r = subprocess.run([sys.executable, "auditctl.py", "checks", "show", "mlps.access.sshd_root_login", "--json"],
                       cwd=ROOT, capture_output=True, text=True, env=env)
    info = json.loads(r.stdout)
    assert info["references"] == ["GB/T 22239-2019 8.1.4.2 b", "GB/T 22239-2019 7.1.4.2 b"]
    r = subprocess.run([sys.executable, "auditctl.py", "checks", "show", "mlps.access.sshd_rot_login"],
                       cwd=ROOT, capture_output=True, text=True, env=env)
    assert r.returncode == 2 and "did you mean 'mlps.access.sshd_root_login'" in r.stderr


def test_default_run_audits_this_machine(tmp_path):
    """`auditctl run` with nothing else: the built-in localhost inventory, HTML under ./reports."""
    r = subprocess.run([sys.executable, str(ROOT / "auditctl.py"), "run", "--db", str(tmp_path / "d.db")],
                       cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert r.returncode in (0, 1), r.stderr
    pages = list((tmp_path / "reports").glob("*/localhost/index.html"))
    assert len(pages) == 1 and "Traceback" not in r.stderr


def test_plain_progress_lines_when_not_a_terminal(tmp_path):
    r = subprocess.run([sys.executable, str(ROOT / "auditctl.py"), "run", "-i", str(inventory(tmp_path)),
                        "--db", str(tmp_path / "p.db"), "--out", str(tmp_path / "o")],
                       capture_output=True, text=True, timeout=120)
    assert "[1/1] me: " in r.stderr and "\x1b[" not in r.stderr  # no terminal control codes in logs
    assert "HTML:" in r.stderr and r.stdout == ""
