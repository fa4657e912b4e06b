"""The vault: authenticated encryption with a memory-hard KDF, in-memory use, FILE:LINE errors."""
import json
import os
import pickle
import stat
import sys
import time

import pytest

import auditctl
from audits.trust import redact, vault
from audits.model.errors import InputError
from audits.inventory.load import load_inventory

PW = "correct horse battery staple"
PLAIN = "legacy_root: 'Zq8#vault-secret-1'\nkey_pass: kp-3x9-secret\n"


def test_round_trip_and_header_records_kdf_parameters():
    text = vault.encrypt(PLAIN, PW)
    head = text.split("\n\n")[0].splitlines()
    assert head[0] == vault.MAGIC and head[1] == "kdf: scrypt n=32768 r=8 p=1" and head[3] == "cipher: aes-256-gcm"
    assert "Zq8#vault-secret-1" not in text
    assert vault.decrypt(text, PW) == PLAIN
    assert vault.encrypt(PLAIN, PW) != text  # fresh salt and nonce every time
    raised = vault.encrypt(PLAIN, PW, {"n": 2 ** 16, "r": 8, "p": 1})
    assert "n=65536" in raised and vault.decrypt(raised, PW) == PLAIN


@pytest.mark.parametrize("where", ["body", "salt", "kdf", "nonce"])
def test_any_changed_byte_or_wrong_passphrase_is_a_clear_error(where):
    text = vault.encrypt(PLAIN, PW)
    head, body = text.split("\n\n")
    if where == "body":
        i = len(head) + 10
        bad = text[:i] + ("A" if text[i] != "A" else "B") + text[i + 1:]
    elif where == "kdf":
        bad = text.replace("r=8", "r=9")
    else:
        line = next(l for l in head.splitlines() if l.startswith(where + ":"))
        value = line.split(": ")[1]
        bad = text.replace(line, f"{where}: " + ("B" if value[0] != "B" else "C") + value[1:])
    with pytest.raises(InputError, match="wrong passphrase or file tampered"):
        vault.decrypt(bad, PW, "v.vault")
    with pytest.raises(InputError, match="v.vault:1: \\(vault\\): wrong passphrase or file tampered"):
        vault.decrypt(text, "not the passphrase", "v.vault")


def test_hostile_kdf_parameters_are_refused_before_any_work():
    text = vault.encrypt(PLAIN, PW).replace("n=32768", "n=1073741824")
    t0 = time.monotonic()
    with pytest.raises(InputError, match="scrypt n=1073741824 outside"):
        vault.decrypt(text, PW)
    assert time.monotonic() - t0 < 1
    with pytest.raises(InputError, match="not an auditctl vault"):
        vault.decrypt("legacy_root: x\n", PW)


def test_secret_never_shows_itself_and_is_registered_for_redaction():
    s = vault.Secret("s3cr3t-value-77", "legacy_root")
    assert "s3cr3t" not in repr(s) and "s3cr3t" not in str(s) and "s3cr3t" not in f"{s}" and s.reveal() == "s3cr3t-value-77"
    with pytest.raises(TypeError):
        pickle.dumps(s)
    assert redact.scrub("pw=s3cr3t-value-77 b64=czNjcjN0LXZhbHVlLTc3") == "pw=*** b64=***"


INVENTORY = """\
vault: secrets.vault
school: {id: s1, district: d1, systems: [{id: web, level: 3}]}
hosts:
  - id: old01
    school: s1
    systems: [web]
    user: root
    password: {vault: legacy_root}
  - id: new01
    school: s1
    systems: [web]
    key_file: /nonexistent/key
    key_passphrase: {vault: key_pass}
"""


@pytest.fixture
def vaulted(tmp_path, monkeypatch):
    (tmp_path / "secrets.vault").write_text(vault.encrypt(PLAIN, PW))
    (tmp_path / "inv.yaml").write_text(INVENTORY)
    monkeypatch.setenv(vault.PASSWORD_ENV, PW)
    return tmp_path


def test_inventory_references_are_resolved_in_memory_and_hidden_in_repr(vaulted):
    inv = load_inventory(vaulted / "inv.yaml")
    assert [r.name for r in inv.vault_refs()] == ["legacy_root", "key_pass"]
    assert inv.vault_file == str(vaulted / "secrets.vault")
    vault.unlock_inventory(inv)
    old = inv.hosts["old01"]
    assert old.settings["password"].reveal() == "Zq8#vault-secret-1"
    assert inv.hosts["new01"].settings["key_passphrase"].reveal() == "kp-3x9-secret"
    for text in (repr(old), str(old), repr(inv), repr(inv.hosts)):
        assert "Zq8#vault-secret-1" not in text and "kp-3x9-secret" not in text


def test_unknown_vault_name_is_a_file_line_error(vaulted, capsys):
    (vaulted / "inv.yaml").write_text(INVENTORY.replace("{vault: legacy_root}", "{vault: legacy_rot}"))
    assert auditctl.main(["validate", str(vaulted / "inv.yaml")]) == 2
    err = capsys.readouterr().err
    assert f"{vaulted / 'inv.yaml'}:8: vault: no entry 'legacy_rot' in vault" in err and "did you mean 'legacy_root'" in err
    assert "Zq8#" not in err


def test_a_password_in_clear_or_a_missing_vault_is_refused(vaulted, capsys, monkeypatch):
    (vaulted / "inv.yaml").write_text(INVENTORY.replace("{vault: legacy_root}", "hunter2-in-clear"))
    assert auditctl.main(["validate", str(vaulted / "inv.yaml")]) == 2
    err = capsys.readouterr().err
    assert "inv.yaml:8: hosts[0].password: wrong type or value" in err and "vault reference" in err
    (vaulted / "inv.yaml").write_text(INVENTORY.replace("vault: secrets.vault\n", ""))
    assert auditctl.main(["validate", str(vaulted / "inv.yaml")]) == 2
    assert "no vault file is named" in capsys.readouterr().err
    (vaulted / "inv.yaml").write_text(INVENTORY)
    monkeypatch.setenv(vault.PASSWORD_ENV, "wrong")
    assert auditctl.main(["validate", str(vaulted / "inv.yaml")]) == 2
    assert "wrong passphrase or file tampered" in capsys.readouterr().err
    monkeypatch.delenv(vault.PASSWORD_ENV)
    monkeypatch.setattr(sys.stdin, "isatty", lambda: False)
    assert auditctl.main(["validate", str(vaulted / "inv.yaml")]) == 2
    assert "no vault passphrase" in capsys.readouterr().err
    pwfile = vaulted / "pw"
    pwfile.write_text(PW + "\n")
    assert auditctl.main(["validate", "--vault-password-file", str(pwfile), str(vaulted / "inv.yaml")]) == 0


def test_cli_encrypt_view_decrypt(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(vault.PASSWORD_ENV, PW)
    f = tmp_path / "v.yaml"
    f.write_text(PLAIN)
    assert auditctl.main(["vault", "encrypt", str(f)]) == 0
    assert vault.is_vault(f.read_text()) and stat.S_IMODE(f.stat().st_mode) == 0o600
    assert auditctl.main(["vault", "encrypt", str(f)]) == 2  # twice is an error, not double encryption
    capsys.readouterr()
    assert auditctl.main(["vault", "view", str(f)]) == 0
    assert capsys.readouterr().out == PLAIN
    assert auditctl.main(["vault", "decrypt", str(f)]) == 0
    assert f.read_text() == PLAIN
    f.write_text("bad name!: x\npin: 0123\n")
    assert auditctl.main(["vault", "encrypt", str(f)]) == 2
    assert f.read_text() == "bad name!: x\npin: 0123\n"  # nothing half-written
    err = capsys.readouterr().err
    assert "v.yaml:1: bad name!: a vault name must be" in err
    assert "v.yaml:2: pin: a vault value must be a string: quote it" in err  # 0123 would silently become 83


EDITOR = """#!/bin/sh
f="$1"; d=$(dirname "$f")
stat -c '%a' "$f" "$d" > {log}
echo "$f" >> {log}
{action}
"""


@pytest.mark.parametrize("action,code,changed", [("echo 'snmp_ro: c0mmunity-9' >> \"$f\"", 0, True),
                                                  ("exit 3", 2, False), ("echo ': : :' >> \"$f\"", 2, False)])
def test_edit_uses_a_private_temporary_file_removed_afterwards(tmp_path, monkeypatch, action, code, changed):
    monkeypatch.setenv(vault.PASSWORD_ENV, PW)
    f = tmp_path / "v.vault"
    f.write_text(vault.encrypt(PLAIN, PW, {"n": 2 ** 14, "r": 8, "p": 1}))
    before = f.read_text()
    ed = tmp_path / "ed.sh"
    log = tmp_path / "ed.log"
    ed.write_text(EDITOR.format(log=log, action=action))
    ed.chmod(0o755)
    monkeypatch.setenv("EDITOR", str(ed))
    monkeypatch.delenv("VISUAL", raising=False)
    assert auditctl.main(["vault", "edit", str(f)]) == code
    file_mode, dir_mode, path = log.read_text().split()
    assert (file_mode, dir_mode) == ("600", "700")
    assert not os.path.exists(path) and not os.path.exists(os.path.dirname(path))
    if changed:
        text = f.read_text()
        assert "n=16384" in text  # re-sealed with the file's own KDF parameters
        assert vault.decrypt(text, PW).endswith("snmp_ro: c0mmunity-9\n")
    else:
        assert f.read_text() == before


def test_a_collector_task_message_carries_no_secret_and_the_worker_refuses_cleanly(vaulted):
    from audits.run.collector import host_from_message, host_message
    from audits.collect.transports.base import Unreachable
    from audits.collect.transports.ssh import SSHTransport

    inv = load_inventory(vaulted / "inv.yaml")
    vault.unlock_inventory(inv)
    msg = json.dumps(host_message(inv.hosts["old01"]))
    # neither the secret nor even the vault entry's name: a collector's credentials are its own (site config)
    assert "Zq8#vault-secret-1" not in msg and "legacy_root" not in msg
    host = host_from_message(json.loads(msg))
    assert "password" not in host.settings and "key_passphrase" not in host.settings
    import dataclasses

    from audits.model.inventory import VaultRef

    unresolved = dataclasses.replace(host, settings={**host.settings, "password": VaultRef("legacy_root", "f", 1)})
    with pytest.raises(Unreachable, match="not unlocked here"):   # a reference that did arrive is still refused
        SSHTransport(unresolved)._auth(None, "root", "")
