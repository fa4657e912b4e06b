"""Host CPU of the weak-password probe (issue #16), per account and hash scheme, and the budget at 50 accounts.

    .venv/bin/python bench/weakpw.py [--accounts 5] [--engine perl|python3|both]

For each scheme (yescrypt, sha512crypt, sha256crypt, md5crypt, DES) it hashes N strong random
passwords with this machine's libcrypt (so none matches: every account costs the full max_guesses),
runs the real probe command (the one a host gets, reading this shadow file instead of /etc/shadow)
with a budget large enough to finish, and prints the host CPU measured from outside (the kernel's
accounting of our children: bash, cat, perl/python3) per account and per guess. Then 50 yescrypt
accounts under the default 2 s budget: the CPU used, how many guesses were made, and that every
account is reported untested (an error, never a pass).
"""
from __future__ import annotations

import argparse
import ctypes
import os
import resource
import secrets
import subprocess
import sys
import tempfile
import types
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from checks.packs.mlps import _weakpw  # noqa: E402

SCHEMES = [("yescrypt", b"$y$"), ("sha512crypt", b"$6$"), ("sha256crypt", b"$5$"), ("md5crypt", b"$1$"), ("DES", b"")]
_lib = ctypes.CDLL("libcrypt.so.1")
_lib.crypt.restype = ctypes.c_char_p
_lib.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
_lib.crypt_gensalt.restype = ctypes.c_char_p
_lib.crypt_gensalt.argtypes = [ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p, ctypes.c_int]
HOST = types.SimpleNamespace(school="no1-middle", id="web01", district="haidian", name="", school_name="",
                             system_info=[], systems=["portal"], settings={"sudo": False})


def crypt(pw: str, prefix: bytes) -> str:
    return _lib.crypt(pw.encode(), _lib.crypt_gensalt(prefix, 0, None, 0)).decode()


def run(shadow: str, params: dict) -> tuple[float, dict]:
    p = _weakpw.probe(HOST, params)
    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / "shadow"
        f.write_text(shadow)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        out = subprocess.run(["bash", "-o", "pipefail", "-c", p.arg.replace("cat -- /etc/shadow", f"cat -- {f}")],
                             capture_output=True, text=True, stdin=subprocess.DEVNULL).stdout
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    used = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return used, _weakpw.read_report(out)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--accounts", type=int, default=5)
    ap.add_argument("--engine", choices=("perl", "python3", "both"), default="both")
    a = ap.parse_args()
    engines = ("perl", "python3") if a.engine == "both" else (a.engine,)
    print(f"machine: {os.cpu_count()} cores; {a.accounts} accounts per scheme, max_guesses 40 (default)")
    print(f"{'engine':8} {'scheme':12} {'host CPU/account':>17} {'per guess':>10} {'accounts in 2 s':>16}")
    for engine in engines:
        _, empty = run("", {"engine": engine})
        base, _ = run("", {"engine": engine})  # start-up of bash + the interpreter, no account
        for name, prefix in SCHEMES:
            shadow = "".join(f"b{i}:{crypt(secrets.token_urlsafe(16), prefix)}:20000:0:99999:7:::\n"
                             for i in range(a.accounts))
            used, rep = run(shadow, {"engine": engine, "cpu_budget_s": 600})
            assert rep["done"] and len(rep["clean"]) == a.accounts, rep
            per_acct = (used - base) / a.accounts
            per_guess = per_acct / 40
            fit = int((2.0 - base) / per_acct) if per_acct > 0 else 0
            print(f"{engine:8} {name:12} {per_acct * 1000:14.1f} ms {per_guess * 1000:7.2f} ms {fit:16d}")
        print(f"{engine:8} {'(start-up)':12} {base * 1000:14.1f} ms")
    shadow = "".join(f"b{i}:{crypt(secrets.token_urlsafe(16), b'$y$')}:20000:0:99999:7:::\n" for i in range(50))
    for engine in engines:
        used, rep = run(shadow, {"engine": engine})
        print(f"50 yescrypt accounts, default budget 2 s, {engine}: host CPU {used:.2f} s (program's own count "
              f"{rep['cpu']:.2f} s), {rep['guesses']} guesses, {len(rep['untested'])} untested -> error, "
              f"{len(rep['clean'])} clean")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
