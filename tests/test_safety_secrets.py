"""No secret escapes: a real run whose hosts log in with vault-held secrets (an SSH password, a key
passphrase) and an environment password, with --debug logging to a file and every output format;
then every artefact (results store bytes, JSON, HTML, JUnit, CSV, debug log, console output,
exception text of a failing connection) is searched for the planted values and their base64."""
import base64
import os
import subprocess
import sys
import traceback
from pathlib import Path

import paramiko
import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audits.trust import vault
from audits.inventory.load import load_inventory
from audits.collect.transports.base import Unreachable
from audits.collect.transports.ssh import SSHTransport
from tests.hostile_ssh import HostileServer

ROOT = Path(__file__).resolve().parent.parent
PASSPHRASE = "vault-passphrase-Q7r!"
SECRETS = {"legacy_pw": "Legacy#Pw-4417x", "key_pass": "KeyPass-9zz-31", "snmp_ro": "c0mmunity-ro-88",
           "wrong_pw": "Wrong#Pw-0021q"}
ENV_PW = "EnvPw-5521-zq"


def forms(value: str) -> set[bytes]:
    raw = value.encode()
    b64 = base64.b64encode(raw)
    return {raw, b64, b64.rstrip(b"="), value.encode("utf-16-le"), raw.hex().encode()}


@pytest.fixture(scope="module")
def secret_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("secrets")
    key = Ed25519PrivateKey.generate()
    key_file = tmp / "id_ed25519"
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                           serialization.BestAvailableEncryption(SECRETS["key_pass"].encode())))
    key_file.chmod(0o600)
    public = paramiko.PKey.from_path(str(key_file), password=SECRETS["key_pass"].encode())
    servers = {"pw": HostileServer("honest", password=SECRETS["legacy_pw"]),
               "key": HostileServer("honest", password=None, public_key=public),
               "env": HostileServer("honest", password=ENV_PW),
               "bad": HostileServer("honest", password="the-real-one")}
    (tmp / "secrets.vault").write_text(vault.encrypt(yaml.safe_dump(SECRETS), PASSPHRASE))
    (tmp / "vault-pass").write_text(PASSPHRASE + "\n")
    common = {"address": "127.0.0.1", "user": "audit", "school": "s1", "systems": ["web"], "connect_timeout": 5,
              "host_timeout": 60}
    hosts = [{**common, "id": "legacy01", "port": servers["pw"].port, "host_keys": [servers["pw"].pinned],
              "password": {"vault": "legacy_pw"}},
             {**common, "id": "keyed01", "port": servers["key"].port, "host_keys": [servers["key"].pinned],
              "key_file": str(key_file), "key_passphrase": {"vault": "key_pass"}},
             {**common, "id": "env01", "port": servers["env"].port, "host_keys": [servers["env"].pinned],
              "password_env": "PLANTED_PW"},
             {**common, "id": "bad01", "port": servers["bad"].port, "host_keys": [servers["bad"].pinned],
              "password": {"vault": "wrong_pw"}}]
    inv = tmp / "inv.yaml"
    inv.write_text(yaml.safe_dump({"vault": "secrets.vault", "school": {"id": "s1", "district": "d1", "systems": [
        {"id": "web", "level": 3}]}, "hosts": hosts}))
    cmd = [sys.executable, str(ROOT / "auditctl.py"), "--debug", "--log-file", str(tmp / "debug.log"), "run",
           "-i", str(inv), "--vault-password-file", str(tmp / "vault-pass"), "--packs", "fleet",
           "--db", str(tmp / "results.db"), "--json", str(tmp / "run.json"), "--out", str(tmp / "html"),
           "--format", f"junit:{tmp / 'run.xml'}", "--format", f"csv:{tmp / 'run.csv'}"]
    env = {**os.environ, "PLANTED_PW": ENV_PW}
    env.pop(vault.PASSWORD_ENV, None)
    proc = subprocess.run(cmd, capture_output=True, cwd=tmp, env=env, timeout=180)
    # the signed bundle of that run (issue #8) is an artefact too
    import json as _json

    run_id = _json.loads((tmp / "run.json").read_text())["run"]["id"]
    env["XDG_CONFIG_HOME"] = str(tmp / "config")
    base = [sys.executable, str(ROOT / "auditctl.py")]
    subprocess.run(base + ["keys", "init", "--school", "s1"], capture_output=True, cwd=tmp, env=env, timeout=60, check=True)
    subprocess.run(base + ["bundle", "--run", run_id, "--db", str(tmp / "results.db"), "-o", str(tmp / "run.bundle.json")],
                   capture_output=True, cwd=tmp, env=env, timeout=60, check=True)
    # the exception of a failing connection, as a caller would see and log it
    inv_obj = load_inventory(inv)
    os.environ[vault.PASSWORD_ENV] = PASSPHRASE
    try:
        vault.unlock_inventory(inv_obj)
    finally:
        del os.environ[vault.PASSWORD_ENV]
    try:
        SSHTransport(inv_obj.hosts["bad01"]).open()
        exc_text = "opened?!"
    except Unreachable as exc:
        exc_text = f"{exc}\n{exc!r}\n{exc.detail}\n" + "".join(traceback.format_exception(exc))
    for s in servers.values():
        s.close()
    return {"tmp": tmp, "proc": proc, "exc_text": exc_text, "servers": servers}


def test_the_run_really_used_the_secrets(secret_run):
    import json

    doc = json.loads((secret_run["tmp"] / "run.json").read_text())
    hosts = {h["id"]: h for h in doc["hosts"]}
    for hid in ("legacy01", "keyed01", "env01"):
        assert hosts[hid]["status"] == "audited", (hid, hosts[hid]["detail"], secret_run["proc"].stderr[-2000:])
    assert (hosts["bad01"]["status"], hosts["bad01"]["reason"]) == ("unreachable", "auth_failed")
    assert ("password", False) in secret_run["servers"]["bad"].auth_attempts  # the wrong secret was really sent
    log = (secret_run["tmp"] / "debug.log").read_text()
    assert "Authentication (password) successful" in log and "Authentication (publickey) successful" in log
    assert "Secret(legacy_pw: ***)" in log  # the debug log names the secret, never its value
    assert "auth_failed" in secret_run["exc_text"]


def test_no_artefact_contains_a_planted_secret(secret_run):
    tmp = secret_run["tmp"]
    planted = {name: forms(v) for name, v in {**SECRETS, "env": ENV_PW, "passphrase": PASSPHRASE}.items()}
    artefacts = {str(p.relative_to(tmp)): p.read_bytes() for p in tmp.rglob("*")
                 if p.is_file() and p.name not in ("secrets.vault", "vault-pass", "id_ed25519", "inv.yaml")
                 and "config" not in p.relative_to(tmp).parts}
    artefacts["stdout"] = secret_run["proc"].stdout
    artefacts["stderr"] = secret_run["proc"].stderr
    artefacts["exception"] = secret_run["exc_text"].encode()
    for required in ("results.db", "run.json", "run.xml", "run.csv", "debug.log", "run.bundle.json"):
        assert any(k.endswith(required) for k in artefacts), required
    assert any(k.endswith("index.html") for k in artefacts)
    found = [(name, where) for where, data in artefacts.items() for name, fs in planted.items()
             if any(f in data for f in fs)]
    assert found == []
