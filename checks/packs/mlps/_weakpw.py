"""The weak-password probe: built per host, read back as names and rules only.

The probe tests, ON THE HOST, each account's password hash with the host's own ``crypt`` (perl, or
python3 with libcrypt through ctypes when there is no perl), unprivileged and at low priority
(``nice -n 19``, ``ionice -c 3``, ``ulimit -t``): the only root command is ``cat -- /etc/shadow``
(the one the ``shadow`` probe runs, listed by ``auditctl sudoers``), piped into the fixed program.

Fixed text, data on stdin: the shell command and the programs (``data/weakpw.pl``,
``data/weakpw_fallback.py``) are constant; what varies per host (CPU budget, guess cap, the common
list, candidates derived from the inventory) is one base64 header line written to the program's
stdin, never interpolated into code. Only account names and the matched rule come back.
"""
from __future__ import annotations

import base64
import datetime as dt
import math
import re
from functools import lru_cache
from pathlib import Path

from audits.model import yamlsafe
from audits.model.once import once
from audits.model.probes import Probe, ProbeResult

DATA = Path(__file__).parent / "data"
MAX_COMMON = 2000
MAX_INVENTORY = 60
ENGINES = ("auto", "perl", "python3")
RULES = {  # probe token -> (zh, en) of the rule that matched
    "empty": ("空口令", "empty"),
    "username": ("与用户名相同或相近", "same as user name"),
    "common": ("常见口令表", "common list"),
    "inventory": ("由学校/系统标识派生", "inventory-derived"),
}
NAME = re.compile(r"^[A-Za-z0-9._@$-][A-Za-z0-9._@$ -]{0,63}$")
MAX_ACCOUNTS = 5000
USER_VARIANTS = 16  # the programs' user_variants: name, Name, reversed, +123, +@123, Name@123, ...
MARK = ": weak-password-probe v1"  # the probe's first words (a no-op): how recorded facts name it


def find(facts, host, params):
    """The probe's result in the facts: the one built for this host, else (recorded fixtures, whose
    candidate list may be older) the one command starting with MARK."""
    exact = probe(host, params)
    if exact in facts.results:
        return facts.results[exact]
    for p, r in facts.results.items():
        if p.kind == "command" and p.arg.startswith(MARK):
            return r
    return ProbeResult(error="the weak-password probe was not gathered")


@once
def common_passwords() -> tuple[str, ...]:
    path = DATA / "common_passwords.yaml"
    doc = yamlsafe.load(path.read_text(encoding="utf-8"), str(path), trusted=True)
    words = tuple(str(w) for w in doc["passwords"])
    if len(words) > MAX_COMMON or len(set(words)) != len(words):
        raise ValueError(f"{path}: at most {MAX_COMMON} distinct passwords")
    return words


@lru_cache(maxsize=1)
def programs() -> tuple[str, str]:
    """(base64 of the perl program, base64 of the python3 fallback): constant for a release."""
    return tuple(base64.b64encode((DATA / n).read_bytes()).decode() for n in ("weakpw.pl", "weakpw_fallback.py"))


def _ascii_word(text: str) -> str:
    return text if re.fullmatch(r"[\x21-\x7e]{1,40}", text or "") else ""


def inventory_candidates(host, year: int | None = None) -> list[str]:
    """Passwords a school tends to derive from its own names: the school, district, system and host ids
    (ASCII ones) plain, without separators and capitalised, each with common digit suffixes. Bounded."""
    year = year or dt.date.today().year
    def bases(values) -> list[str]:
        out: list[str] = []
        for r in values:
            w = _ascii_word(str(r or "").lower())
            for b in (w, re.sub(r"[-_.]", "", w)) if w else ():
                if len(b) >= 3 and b not in out:
                    out.append(b)
        return out

    school = bases([getattr(host, "school", ""), getattr(host, "school_name", "")])
    rest = bases([s.get("id", "") for s in getattr(host, "system_info", []) or []]
                 + list(getattr(host, "systems", []) or [])
                 + [getattr(host, "district", ""), getattr(host, "id", ""), getattr(host, "name", "")])
    suffixes = ["", "123", "@123", str(year), "@" + str(year), "1234", "123456", str(year - 1), "888", "!@#"]
    out: list[str] = []
    for group in (school, [b for b in rest if b not in school]):  # the school's own names first
        for suf in suffixes:
            for b in group:
                for w in (b + suf, b[:1].upper() + b[1:] + suf):
                    if w not in out:
                        out.append(w)
    return out[:MAX_INVENTORY]


def settings(params) -> tuple[float, int, str]:
    """(CPU budget in seconds, guesses per account, engine) from the check's parameters, clamped."""
    try:
        budget = min(max(float(params.get("cpu_budget_s", 2.0)), 0.1), 600.0)
    except (TypeError, ValueError):
        budget = 2.0
    try:
        cap = min(max(int(params.get("max_guesses", 40)), 1), MAX_COMMON + MAX_INVENTORY + USER_VARIANTS + 1)
    except (TypeError, ValueError):
        cap = 40
    engine = params.get("engine", "auto")
    return budget, cap, engine if engine in ENGINES else "auto"


def header(host, params) -> str:
    """The program's input line: budget, cap, then every candidate in the order tried (after the empty
    password): ``u K`` is variant K of the account's own name (computed on the host), ``c TAG WORD`` a word."""
    budget, cap, _ = settings(params)
    common, inv = list(common_passwords()), inventory_candidates(host)
    user = lambda ks: [f"u\t{k}" for k in ks]  # noqa: E731
    word = lambda tag, ws: [f"c\t{tag}\t{w}" for w in ws]  # noqa: E731
    order = (user(range(6)) + word("common", common[:20]) + word("inventory", inv[:12]) + user(range(6, USER_VARIANTS))
             + word("common", common[20:60]) + word("inventory", inv[12:]) + word("common", common[60:]))
    lines = [f"budget\t{budget:.3f}", f"cap\t{cap}"] + order
    return base64.b64encode("\n".join(lines).encode()).decode()


def probe(host, params) -> Probe:
    """The host's weak-password probe: one fixed shell command around two data words (the header and
    the programs, all base64: [A-Za-z0-9+/=] only, so nothing in them is shell syntax)."""
    budget, _, engine = settings(params)
    pl, py = programs()
    sudo = bool(getattr(host, "settings", {}).get("sudo"))
    # root reads /etc/shadow; the audit user may, only through the sudoers fragment's `cat -- /etc/shadow`
    read = ('if [ "$(id -u)" = 0 ]; then cat -- /etc/shadow; else sudo -n -- cat -- /etc/shadow; fi'
            if sudo else "cat -- /etc/shadow")
    limit = int(math.ceil(budget)) + 5  # the kernel's hard stop, far beyond the program's own budget
    cmd = (f"{MARK}; H={header(host, params)}; E={engine}; L={limit}; I=; "
           "command -v ionice >/dev/null 2>&1 && ionice -c 3 true >/dev/null 2>&1 && I='ionice -c 3'; "
           f"w() {{ printf '%s\\n' \"$H\"; {{ {read}; }} || echo @@noshadow; }}; "
           f"if [ \"$E\" != python3 ] && command -v perl >/dev/null 2>&1; then "
           f"w | (ulimit -t \"$L\"; exec nice -n 19 $I perl -e \"$(printf %s {pl} | base64 -d)\"); "
           f"elif [ \"$E\" != perl ] && command -v python3 >/dev/null 2>&1; then "
           f"w | (ulimit -t \"$L\"; exec nice -n 19 $I python3 -c \"$(printf %s {py} | base64 -d)\"); "
           "else echo noengine; fi")
    return Probe("command", cmd)


def _name(text: str) -> str:
    return text if NAME.match(text) else "(unprintable name: " + text.encode("unicode_escape").decode()[:40] + ")"


def read_report(stdout: str) -> dict:
    """The probe's lines as data. Unknown lines are ignored; every field is bounded and checked."""
    rep = {"engine": None, "done": False, "weak": [], "clean": [], "untested": [], "shared": {}, "cpu": None,
           "budget": None, "guesses": None, "cost": {}, "problems": []}
    n = 0
    for line in stdout.splitlines()[: 4 * MAX_ACCOUNTS + 100]:
        parts = line.split(" ")
        head = parts[0]
        if head == "engine" and len(parts) == 2 and parts[1] in ("perl", "python3"):
            rep["engine"] = parts[1]
        elif head == "done" and len(parts) == 1:
            rep["done"] = True
        elif head in ("noshadow", "nopasswd", "noengine", "nocrypt", "fatal") and len(parts) == 1:
            rep["problems"].append(head)
        elif head == "account" and len(parts) >= 4 and n < MAX_ACCOUNTS:
            n += 1
            kind, what, name = parts[1], parts[2], _name(" ".join(parts[3:]))
            if kind == "weak" and what in RULES:
                rep["weak"].append((name, what))
            elif kind == "clean" and what.isdigit():
                rep["clean"].append((name, int(what)))
            elif kind == "untested" and what == "scheme":
                rep["untested"].append((name, "scheme"))
            elif kind == "untested" and what == "budget" and len(parts) >= 5 and re.fullmatch(r"\d{1,6}/\d{1,6}", parts[3]):
                rep["untested"].append((_name(" ".join(parts[4:])), parts[3]))
        elif head == "shared" and len(parts) >= 4 and parts[1].isdigit() and parts[2] in ("hash", "guess"):
            if len(rep["shared"]) < MAX_ACCOUNTS:
                rep["shared"].setdefault(int(parts[1]), (parts[2], []))[1].append(_name(" ".join(parts[3:])))
        elif head == "cost" and len(parts) == 4 and re.fullmatch(r"[A-Za-z0-9]{1,8}", parts[1]) and parts[2].isdigit():
            try:
                rep["cost"][parts[1]] = (int(parts[2]), float(parts[3]))
            except ValueError:
                pass
        elif head == "cpu" and len(parts) == 6 and parts[2] == "budget" and parts[4] == "guesses":
            try:
                rep["cpu"], rep["budget"], rep["guesses"] = float(parts[1]), float(parts[3]), int(parts[5])
            except ValueError:
                pass
    return rep
