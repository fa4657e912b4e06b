"""The weak-password probe on this machine, with real crypt (libxcrypt through perl and through python3's
ctypes), without the lab: every rule and engine, the CPU budget measured from outside the probe, hostile
inventory strings and hostile probe output, and the sudoers fragment. The lab test
(tests/test_weak_passwords_lab.py) runs the same probe through SSH on hosts with their own /etc/shadow.
"""
from __future__ import annotations

import base64
import ctypes
import os
import re
import resource
import secrets
import subprocess
import types
from pathlib import Path

import pytest

from checks.packs.mlps import _weakpw
from checks.registry import load_registry

_lib = ctypes.CDLL("libcrypt.so.1")
_lib.crypt.restype = ctypes.c_char_p
_lib.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
_lib.crypt_gensalt.restype = ctypes.c_char_p
_lib.crypt_gensalt.argtypes = [ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p, ctypes.c_int]
CANARY = "Zq" + secrets.token_urlsafe(12)


def crypt(pw: str, prefix: bytes) -> str:
    return _lib.crypt(pw.encode(), _lib.crypt_gensalt(prefix, 0, None, 0)).decode()


def host(**kw):
    base = dict(school="no1-middle", id="web01", district="haidian", name="", school_name="", system_info=[],
                systems=["portal"], settings={"sudo": False})
    base.update(kw)
    return types.SimpleNamespace(**base)


def run_probe(tmp: Path, shadow: str, params: dict, h=None) -> tuple[str, subprocess.CompletedProcess]:
    """The built probe run locally, reading a test shadow file instead of /etc/shadow (the one
    substitution; everything else is the command the host gets)."""
    p = _weakpw.probe(h or host(), params)
    (tmp / "shadow").write_text(shadow)
    cmd = p.arg.replace("cat -- /etc/shadow", f"cat -- {tmp / 'shadow'}")
    assert cmd != p.arg
    proc = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL, cwd=tmp)
    return proc.stdout, proc


def line(name, h):
    return f"{name}:{h}:20000:0:99999:7:::"


@pytest.mark.parametrize("engine", ["perl", "python3"])
@pytest.mark.parametrize("prefix", [b"$y$", b"$6$", b"$5$", b"$1$", b""], ids=["yescrypt", "sha512", "sha256", "md5", "des"])
def test_every_rule_on_every_scheme_with_both_engines(tmp_path, engine, prefix):
    accounts = {"t_empty": "", "t_common": "a123456", "t_user": "t_user@123", "t_inv": "No1middle123",
                "t_strong": CANARY}
    shadow = "\n".join(line(n, crypt(pw, prefix) if pw else "") for n, pw in accounts.items())
    shadow += "\nt_locked:!" + crypt("123456", prefix) + ":1::::::\nt_star:*:1::::::\n"
    out, proc = run_probe(tmp_path, shadow, {"engine": engine, "cpu_budget_s": 20})
    rep = _weakpw.read_report(out)
    assert rep["engine"] == engine and rep["done"], (out, proc.stderr)
    expect = [("t_empty", "empty"), ("t_common", "common"), ("t_user", "username"), ("t_inv", "inventory")]
    assert sorted(rep["weak"]) == sorted(expect), out
    assert rep["clean"] == [("t_strong", 40)] and rep["untested"] == []
    # only names, rules and numbers come back: no password, candidate, salt or hash
    for pw in ("a123456", "t_user@123", "No1middle123", CANARY, "no1-middle"):
        assert pw not in out + proc.stderr
    assert "$" not in out and proc.stderr == ""


def test_the_budget_holds_with_50_yescrypt_accounts_measured_from_outside(tmp_path):
    """Host CPU of the whole probe (bash, sudo-less cat, perl) from the kernel's accounting of our children."""
    shadow = "\n".join(line(f"u{i:02d}", crypt(CANARY + str(i), b"$y$")) for i in range(50)) + "\n"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out, _ = run_probe(tmp_path, shadow, {"cpu_budget_s": 2.0})
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    used = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    rep = _weakpw.read_report(out)
    assert rep["done"] and len(rep["untested"]) == 50 and not rep["clean"] and not rep["weak"]
    # the program stops before a hash its mean cost says would cross the budget; one hash slower than the mean (a
    # busy machine) may still cross it by that difference, never by a whole run of hashes
    assert rep["cpu"] <= 2.0 + 0.05, rep["cpu"]
    assert used <= 2.0 + 0.4, used  # the program's own budget plus interpreter start-up and the shell


def test_the_kernel_stops_a_runaway_program(tmp_path):
    """ulimit -t is budget + 5 s: a program that ignored its budget would be killed, never run on."""
    p = _weakpw.probe(host(), {"cpu_budget_s": 1})
    assert 'L=6;' in p.arg and 'ulimit -t "$L"' in p.arg and "nice -n 19" in p.arg
    proc = subprocess.run(["bash", "-c", 'L=1; (ulimit -t "$L"; exec perl -e "1 while 1")'], timeout=30)
    assert proc.returncode != 0


def test_identical_hashes_and_same_matched_password_are_shared(tmp_path):
    strong = crypt(CANARY, b"$6$")
    shadow = "\n".join([line("a", strong), line("b", strong), line("c", crypt("P@ssw0rd", b"$6$")),
                        line("d", crypt("P@ssw0rd", b"$y$")), line("e", crypt("qwe123", b"$1$"))]) + "\n"
    rep = _weakpw.read_report(run_probe(tmp_path, shadow, {"cpu_budget_s": 20})[0])
    groups = sorted((kind, sorted(names)) for kind, names in rep["shared"].values())
    assert groups == [("guess", ["c", "d"]), ("hash", ["a", "b"])]


def test_passwd_field_2_is_tested_too(tmp_path, monkeypatch):
    """/etc/passwd is read by the program itself: run it with a private /etc through unshare when possible."""
    p = _weakpw.probe(host(), {})
    assert "/etc/passwd" in base64.b64decode(_weakpw.programs()[0]).decode()
    assert "/etc/passwd" in base64.b64decode(_weakpw.programs()[1]).decode()
    if os.geteuid() != 0 or subprocess.run(["unshare", "-m", "true"]).returncode != 0:
        pytest.skip("needs root for a private mount namespace")
    etc = tmp_path / "passwd"
    etc.write_text("root:x:0:0::/root:/bin/bash\nold:" + crypt("old", b"$1$") + ":5:5::/:/bin/sh\nnopw::6:6::/:/bin/sh\n")
    (tmp_path / "shadow").write_text("root:!:1::::::\n")
    cmd = p.arg.replace("cat -- /etc/shadow", f"cat -- {tmp_path / 'shadow'}")
    proc = subprocess.run(["unshare", "-m", "bash", "-c", f"mount --bind {etc} /etc/passwd && bash -o pipefail -c \"$0\"",
                           cmd], capture_output=True, text=True, timeout=60)
    rep = _weakpw.read_report(proc.stdout)
    assert sorted(rep["weak"]) == [("nopw", "empty"), ("old", "username")], proc.stdout + proc.stderr


def test_unsupported_scheme_is_untested_never_clean(tmp_path):
    shadow = line("x", "$9$notascheme$abcdefghijklmnop") + "\n"
    rep = _weakpw.read_report(run_probe(tmp_path, shadow, {})[0])
    assert rep["untested"] == [("x", "scheme")] and not rep["clean"]


def test_no_inventory_string_reaches_the_shell_or_the_program_text():
    evil = "x';touch /tmp/pwned-$(id -u);echo '"
    h = host(school=evil, id="a`id`", systems=["$(reboot)"], system_info=[{"id": "s;rm -rf /"}])
    p = _weakpw.probe(h, {"engine": "perl; reboot", "cpu_budget_s": "1; reboot", "max_guesses": "x"})
    for bad in (evil, "`id`", "$(reboot)", "rm -rf", "reboot"):
        assert bad not in p.arg
    # the command is fixed text around base64 words: strip them and every host gives the same text
    skeleton = re.sub(r"[A-Za-z0-9+/]{40,}={0,2}", "B64", p.arg)
    assert skeleton == re.sub(r"[A-Za-z0-9+/]{40,}={0,2}", "B64", _weakpw.probe(host(), {}).arg)
    assert "E=auto;" in p.arg and "L=7;" in p.arg  # bad parameters fall back to the defaults
    # the candidates travel as data on the program's stdin, in the header line
    hdr = base64.b64decode(re.search(r"H=([A-Za-z0-9+/=]+);", p.arg).group(1)).decode()
    assert "touch" not in hdr  # a name with spaces is no password candidate
    # one without spaces is a candidate: it reaches the program as data, never the shell
    p2 = _weakpw.probe(host(school="a';reboot;#"), {})
    assert "reboot" not in p2.arg
    hdr2 = base64.b64decode(re.search(r"H=([A-Za-z0-9+/=]+);", p2.arg).group(1)).decode()
    assert "c\tinventory\ta';reboot;#\n" in hdr2
    assert "c\tcommon\tAdmin@123" in hdr and "u\t0" in hdr


def test_inventory_candidates_are_bounded_and_school_first():
    c = _weakpw.inventory_candidates(host(school="no1-middle", system_info=[{"id": "portal"}]), year=2026)
    assert c[:6] == ["no1-middle", "No1-middle", "no1middle", "No1middle", "no1-middle123", "No1-middle123"]
    assert "portal@123" in c and "No1middle@2026" in c
    assert len(c) <= _weakpw.MAX_INVENTORY
    assert _weakpw.inventory_candidates(host(school="学校", id="主机", district="", systems=[])) == []


def test_common_list_is_bounded_and_has_the_campus_passwords_first():
    words = _weakpw.common_passwords()
    assert 300 <= len(words) <= 2000 and len(set(words)) == len(words)
    assert {"123456", "a123456", "Admin@123", "P@ssw0rd", "qwe123"} <= set(words[:20])
    text = (_weakpw.DATA / "common_passwords.yaml").read_text()
    assert "Provenance" in text


def test_hostile_probe_output_is_bounded_and_names_are_escaped():
    out = "engine perl\n" + "account weak common \x1b[31mevil\n" + "account weak nosuchrule x\n" \
          + "account weak common " + "A" * 500 + "\n" + "shared 1 guess a\n" * 10 + "account clean 40 ok\ndone\n"
    out += "account clean 40 n\n" * 30000
    rep = _weakpw.read_report(out)
    names = [n for n, _ in rep["weak"]]
    assert names[0].startswith("(unprintable name") and "\x1b" not in names[0]
    assert len(names) == 2 and len(names[1]) < 120
    assert len(rep["clean"]) + len(rep["weak"]) <= _weakpw.MAX_ACCOUNTS


def test_the_only_root_command_is_the_one_the_sudoers_fragment_lists(capsys):
    h = host(settings={"sudo": True})
    p = _weakpw.probe(h, {})
    sudo_uses = re.findall(r"sudo [^;|&}]*", p.arg)
    assert sudo_uses == ["sudo -n -- cat -- /etc/shadow"]
    import auditctl

    assert auditctl.main(["sudoers", "--packs", "mlps"]) in (0, None)
    text = capsys.readouterr().out
    assert re.search(r"/usr/bin/cat -- /etc/shadow", text)
    assert "perl" not in text and "python" not in text and "nice" not in text
    # the check declares the shadow probe, so `auditctl sudoers` for its pack always lists that command
    reg = load_registry()
    assert any(pr.sudo and pr.arg == "/etc/shadow" for pr in reg.by_id["mlps.auth.weak_passwords"].probes_for("any"))


def test_the_probe_writes_nothing(tmp_path):
    """Run with a read-only working directory and HOME: the programs open files only to read them."""
    ro = tmp_path / "ro"
    ro.mkdir()
    shadow = line("t", crypt("123456", b"$6$")) + "\n"
    (tmp_path / "shadow").write_text(shadow)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    out, _ = run_probe(tmp_path, shadow, {})
    assert _weakpw.read_report(out)["weak"] == [("t", "common")]
    assert sorted(p.name for p in tmp_path.rglob("*")) == before
    for prog in _weakpw.programs():
        text = base64.b64decode(prog).decode()
        assert not re.search(r"open\([^)]*['\"](>|w|a)", text)
