"""Linux-PAM service files and the settings files of their password and lockout modules.

Follows Linux-PAM's reading of ``/etc/pam.d``: ``@include FILE`` (Debian) and the ``include`` /
``substack`` controls pull another file's lines of the same type in place; ``optional`` and
``sufficient`` lines cannot make a request fail. Password quality follows libpwquality
(``pam_pwquality``): built-in defaults, then ``pwquality.conf.d/*.conf`` in name order, then
``pwquality.conf`` (read last, so the main file wins), then the module's arguments in the PAM line
(arguments win); ``pam_cracklib`` reads only its arguments. Lockout follows ``pam_faillock``
(``faillock.conf``, then arguments) and ``pam_tally2``/``pam_tally`` (arguments only).
Pure functions, no I/O.
"""
from __future__ import annotations

import re

from .common import to_int

QUALITY = ("pam_pwquality.so", "pam_cracklib.so")
LOCKOUT = ("pam_faillock.so", "pam_tally2.so", "pam_tally.so")
CREDITS = ("dcredit", "ucredit", "lcredit", "ocredit")
# Built-in defaults: libpwquality >= 1.3 (Debian/Ubuntu, RHEL 8+); libpwquality 1.2.x (CentOS 7) and
# pam_cracklib used minlen 9 with a credit of 1 per class.
PWQ_DEFAULTS = {"minlen": 8, "dcredit": 0, "ucredit": 0, "lcredit": 0, "ocredit": 0, "minclass": 0}
OLD_DEFAULTS = {"minlen": 9, "dcredit": 1, "ucredit": 1, "lcredit": 1, "ocredit": 1, "minclass": 0}
PWQ_MAIN = "/etc/security/pwquality.conf"
FAILLOCK_CONF = "/etc/security/faillock.conf"
PAM_DIR = "/etc/pam.d/"


def strip_comment(line: str) -> str:
    """A line without its trailing ``# comment``."""
    return re.sub(r"\s+#.*$", "", line).strip()


def pam_entries(lines: list[str]) -> list[dict]:
    """PAM lines → [{type, control, module, args: {name: value or True}, line}] (``-`` prefix kept out)."""
    out = []
    for ln in lines:
        m = re.match(r"^-?(auth|account|password|session)\s+(\[[^\]]*\]|\S+)\s+(\S+)\s*(.*)$", ln)
        if not m:
            if ln.startswith(("@include", "auth", "account", "password", "session", "-")):
                out.append({"type": "include" if ln.startswith("@include") else "?", "control": "", "module": ln,
                            "args": {}, "line": ln})
            continue
        args: dict[str, str | bool] = {}
        for a in re.findall(r"\[[^\]]*\]|\S+", m.group(4)):
            k, eq, v = a.partition("=")
            args[k] = v if eq else True
        module = m.group(3).rsplit("/", 1)[-1]
        out.append({"type": m.group(1), "control": m.group(2), "module": module, "args": args, "line": ln})
    return out


def conf_settings(lines: list[str]) -> dict[str, str]:
    """``key = value`` / ``key value`` / bare ``flag`` lines (pwquality.conf, faillock.conf, pwhistory.conf)."""
    out: dict[str, str] = {}
    for ln in lines:
        k, eq, v = ln.partition("=")
        if eq:
            out[k.strip()] = v.strip()
        else:
            parts = ln.split(None, 1)
            out[parts[0]] = parts[1].strip() if len(parts) > 1 else "true"
    return out


def pam_stack(pam_files: dict, path: str | None, kind: str, _seen: set | None = None) -> list[dict]:
    """Entries of one type (auth/password/...) of a PAM file, includes and substacks followed
    (each entry gets the ``file`` it came from); a file already read or not gathered adds nothing."""
    seen = set() if _seen is None else _seen
    if not path or path in seen or path not in pam_files:
        return []
    seen.add(path)
    out = []
    for e in pam_entries(pam_files[path]):
        if e["type"] == "include":
            parts = e["line"].split()
            if len(parts) > 1:
                out += pam_stack(pam_files, PAM_DIR + parts[1], kind, seen)
        elif e["type"] == kind:
            if e["control"] in ("include", "substack"):
                out += pam_stack(pam_files, PAM_DIR + e["module"], kind, seen)
            else:
                out.append({**e, "file": path})
    return out


def is_enforcing(entry) -> bool:
    """optional/sufficient modules cannot make a request fail."""
    return entry["control"] not in ("optional", "sufficient")


def pwquality_conf(conf_files: dict, raw: str) -> tuple[dict, dict]:
    """libpwquality settings from the config files ({path: lines} and the raw ``grep -H`` text with
    comments kept): (settings, {setting: file it came from or 'default'})."""
    defaults = dict(PWQ_DEFAULTS)
    # libpwquality < 1.3 (CentOS 7) ships its pwquality.conf documenting "# dcredit = 1" etc.
    for ln in raw.splitlines():
        path, _, body = ln.partition(":")
        if path == PWQ_MAIN and re.match(r"^\s*#\s*[dulo]credit\s*=\s*1\s*$", body):
            defaults = dict(OLD_DEFAULTS)
            break
    settings, source = dict(defaults), {k: "default" for k in defaults}
    order = sorted(p for p in conf_files if p.startswith(PWQ_MAIN + ".d/")) + [PWQ_MAIN]
    for path in order:
        for k, v in conf_settings([strip_comment(x) for x in conf_files.get(path, [])]).items():
            settings[k.lower()], source[k.lower()] = v, path
    return settings, source


def quality_settings(entry, pwq_settings: dict, pwq_source: dict) -> tuple[dict, dict]:
    """The settings one quality module line enforces: its arguments over the config files
    (pam_cracklib: over its own built-in defaults only)."""
    if entry["module"] == "pam_cracklib.so":  # reads only its own arguments
        s, src = dict(OLD_DEFAULTS), {k: "default" for k in OLD_DEFAULTS}
    else:
        s, src = dict(pwq_settings), dict(pwq_source)
    for k, v in entry["args"].items():
        s[k.lower()], src[k.lower()] = v, "PAM"
    return s, src


def effective_min_length(s: dict, module: str) -> tuple[int, str]:
    """The shortest password the settings accept (minlen less the positive credits), and how."""
    floor = 5 if module == "pam_cracklib.so" else 6  # both modules raise a smaller minlen to this
    minlen = max(to_int(s.get("minlen"), 8), floor)
    credit = sum(max(to_int(s.get(c), 0), 0) for c in CREDITS)
    eff = max(minlen - credit, 1)
    how = f"minlen={minlen}" + (f" - positive credits {credit}" if credit else "") + f" → {eff}"
    return eff, how


def required_classes(s: dict) -> tuple[int, str]:
    """How many character classes the settings require (minclass or negative credits), and how."""
    minclass = min(max(to_int(s.get("minclass"), 0), 0), 4)
    required = [c for c in CREDITS if to_int(s.get(c), 0) < 0]
    n = max(minclass, len(required))
    return n, f"minclass={minclass}, negative credits: {','.join(required) or 'none'} → {n}"


def lockout_settings(entry, faillock_conf: dict) -> dict:
    """deny / unlock_time / … of one lockout module line, with ``source`` (default or faillock.conf);
    ``faillock_conf`` has lower-case keys. Arguments win."""
    if entry["module"] == "pam_faillock.so":
        s = {"deny": "3", "unlock_time": "600", "source": "default"}
        s.update({k: v for k, v in faillock_conf.items()})
        if faillock_conf:
            s["source"] = FAILLOCK_CONF
    else:  # pam_tally2/pam_tally: arguments only; no deny means no lockout
        s = {"deny": "0", "unlock_time": "0", "source": "default"}
    for k, v in entry["args"].items():
        s[k.lower()] = v
    return s


def lockout_active(entries) -> bool:
    """Whether an auth stack's lockout lines lock: faillock needs an enforcing preauth and an authfail."""
    fl = [e for e in entries if e["module"] == "pam_faillock.so"]
    if fl:
        return (any("preauth" in e["args"] and is_enforcing(e) for e in fl) and any("authfail" in e["args"] for e in fl))
    return any(is_enforcing(e) for e in entries)
