"""Linux-PAM service files and the settings files of their password and lockout modules.

Follows Linux-PAM's reading of ``/etc/pam.d``: ``@include FILE`` (Debian) and the ``include`` /
``substack`` controls pull another file's lines of the same type in place; ``optional`` and
``sufficient`` lines cannot make a request fail. Password quality follows libpwquality
(``pam_pwquality``): built-in defaults, then ``pwquality.conf.d/*.conf`` in name order, then
``pwquality.conf`` (read last, so the main file wins), then the module's arguments in the PAM line
(arguments win); ``pam_cracklib`` reads only its arguments. Lockout follows ``pam_faillock``
(``faillock.conf``, then arguments) and ``pam_tally2``/``pam_tally`` (arguments only).
Pure functions, no I/O.

The stack is also *executed* as Linux-PAM's dispatcher does (``stack_paths``): every combination of
module results is followed through the control flags — ``required``/``requisite``/``sufficient``/
``optional`` and ``[value=action …]`` with ``ok``, ``done``, ``bad``, ``die``, ``ignore``, ``reset`` and
jumps ``N`` — with ``include`` counted line by line and a ``substack`` as one module for a jump in the
parent (its ``done``/``die`` end only the substack). ``enforced`` then asks whether a module runs, and
succeeds, on every path by which the whole stack succeeds: a module skipped by a jump, placed after a
``sufficient`` line that succeeds first, or whose failure is ignored, does not count.
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
PAM_ONLY = ("enforce_for_root", "retry", "local_users_only")
FAILLOCK_CONF = "/etc/security/faillock.conf"
PAM_DIR = "/etc/pam.d/"


_COMMENT = re.compile(r"\s+#.*$")
_ENTRY = re.compile(r"^-?(auth|account|password|session)\s+(\[[^\]]*\]|\S+)\s+(\S+)\s*(.*)$")
_ARG = re.compile(r"\[[^\]]*\]|\S+")


def strip_comment(line: str) -> str:
    """A line without its trailing ``# comment``."""
    return _COMMENT.sub("", line).strip() if "#" in line else line.strip()


def pam_entries(lines: list[str]) -> list[dict]:
    """PAM lines → [{type, control, module, args: {name: value or True}, line}] (``-`` prefix kept out)."""
    out = []
    for ln in lines:
        m = _ENTRY.match(ln)
        if not m:
            if ln.startswith(("@include", "auth", "account", "password", "session", "-")):
                out.append({"type": "include" if ln.startswith("@include") else "?", "control": "", "module": ln,
                            "args": {}, "line": ln})
            continue
        args: dict[str, str | bool] = {}
        for a in _ARG.findall(m.group(4)):
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


MAX_ENTRIES = 2000   # lines of one stack through includes: a hostile host's include fan-out stays bounded


def pam_tree(pam_files: dict, path: str | None, kind: str, _seen: tuple = (), _budget: list | None = None) -> list:
    """Entries of one type of a PAM file in execution order: ``@include``/``include`` inline their
    lines, a ``substack`` is a nested list. Each entry gets the ``file`` it came from; a file already on
    the include chain (a loop) or not gathered adds nothing; past MAX_ENTRIES lines nothing more is read."""
    budget = [MAX_ENTRIES] if _budget is None else _budget
    if not path or path in _seen or path not in pam_files or budget[0] <= 0:
        return []
    seen = _seen + (path,)
    out: list = []
    for e in pam_entries(pam_files[path]):
        budget[0] -= 1
        if budget[0] < 0:
            break
        if e["type"] == "include":
            parts = e["line"].split()
            if len(parts) > 1:
                out += pam_tree(pam_files, PAM_DIR + parts[1], kind, seen, budget)
        elif e["type"] == kind:
            if e["control"] == "include":
                out += pam_tree(pam_files, PAM_DIR + e["module"], kind, seen, budget)
            elif e["control"] == "substack":
                sub = pam_tree(pam_files, PAM_DIR + e["module"], kind, seen, budget)
                if sub:
                    out.append(sub)
            else:
                out.append({**e, "file": path, "optional_module": e["line"].startswith("-")})
    return out


def flatten(tree: list) -> list[dict]:
    out = []
    for node in tree:
        out += flatten(node) if isinstance(node, list) else [node]
    return out


def pam_stack(pam_files: dict, path: str | None, kind: str, _seen: set | None = None) -> list[dict]:
    """Entries of one type (auth/password/...) of a PAM file, includes and substacks followed
    (each entry gets the ``file`` it came from); a file already read or not gathered adds nothing."""
    return flatten(pam_tree(pam_files, path, kind))


# --------------------------------------------------------------------------------------------- execution
_KEYWORDS = {
    "required": {"success": "ok", "new_authtok_reqd": "ok", "ignore": "ignore", "default": "bad"},
    "requisite": {"success": "ok", "new_authtok_reqd": "ok", "ignore": "ignore", "default": "die"},
    "sufficient": {"success": "done", "new_authtok_reqd": "done", "default": "ignore"},
    "optional": {"success": "ok", "new_authtok_reqd": "ok", "default": "ignore"},
}
# Modules whose result does not depend on the user's input in the stacks judged here.
ALWAYS_SUCCESS = {"pam_permit.so", "pam_env.so", "pam_faildelay.so", "pam_keyinit.so", "pam_limits.so", "pam_systemd.so",
                  "pam_loginuid.so", "pam_motd.so", "pam_mail.so", "pam_lastlog.so", "pam_lastlog2.so", "pam_umask.so",
                  "pam_selinux.so", "pam_namespace.so", "pam_cap.so", "pam_gnome_keyring.so", "pam_kwallet5.so",
                  "pam_xauth.so", "pam_group.so", "pam_mkhomedir.so", "pam_oddjob_mkhomedir.so", "pam_echo.so",
                  "pam_tty_audit.so", "pam_sepermit.so", "pam_nologin.so", "pam_securetty.so", "pam_shells.so",
                  "pam_fprintd.so"}
ALWAYS_IGNORE = {"pam_warn.so", "pam_systemd_home.so", "pam_debug.so"}
DIRECTORY = {"pam_sss.so", "pam_ldap.so", "pam_krb5.so", "pam_winbind.so"}   # may also answer user_unknown
CREDENTIAL = {"pam_unix.so", "pam_unix2.so", "pam_pwdb.so"} | DIRECTORY
MAX_PATHS = 20000


def control_actions(control: str) -> dict[str, str]:
    """{return value: action} of a control keyword or ``[value=action …]`` (unlisted values: default)."""
    if control in _KEYWORDS:
        return dict(_KEYWORDS[control])
    out = {"default": "bad"}
    for tok in control.strip("[]").split():
        k, eq, v = tok.partition("=")
        if eq:
            out[k.strip().lower()] = v.strip().lower()
    return out


def module_results(entry: dict, missing: frozenset = frozenset()) -> tuple[str, ...]:
    """The return values a module line can give in this model."""
    m = entry["module"]
    if m in missing:
        return ("absent",) if entry.get("optional_module") else ("module_unknown",)
    if m == "pam_deny.so":
        return ("auth_err",)
    if m in ALWAYS_SUCCESS:
        return ("success",)
    if m in ALWAYS_IGNORE:
        return ("ignore",)
    if m == "pam_faillock.so":
        a = entry["args"]
        if "authfail" in a:
            return ("auth_err",)
        if "preauth" in a or "authsucc" in a:
            return ("success", "auth_err")   # both fail while the account is locked
        return ("success",)
    if m in ("pam_tally2.so", "pam_tally.so"):
        return ("success", "auth_err")
    if m in DIRECTORY:
        return ("success", "auth_err", "user_unknown")
    return ("success", "auth_err")


USER_CONDITION = {"pam_succeed_if.so", "pam_usertype.so", "pam_localuser.so"}   # answers depend on who logs in
_FLAGS = {"quiet", "quiet_success", "quiet_fail", "use_uid", "debug", "audit", "silent"}


def checks_lock(e: dict) -> bool:
    """A line that refuses a locked account: pam_faillock preauth/authsucc, pam_tally2/pam_tally in auth."""
    if e["module"] == "pam_faillock.so":
        return bool({"preauth", "authsucc"} & set(e["args"]))
    return e["module"] in ("pam_tally2.so", "pam_tally.so")


def _key(e: dict) -> tuple:
    """One question asked of the user: the module and its arguments, reporting flags left out (every line
    that checks the lock gives the same answer: the account is locked or it is not)."""
    if checks_lock(e):
        return ("lock",)
    return (e["module"], tuple(sorted((k, str(v)) for k, v in e["args"].items() if k not in _FLAGS)))


def stack_paths(tree: list, missing: frozenset = frozenset(), limit: int = MAX_PATHS):
    """Every way through a stack: [(result 'success'|'fail', [(entry, return value), …])], and
    whether the enumeration was cut at ``limit``. The same module line with the same arguments gives
    the same answer twice in one path (pam_usertype isregular, asked again, does not change its mind)."""
    results: list = []
    cut = False

    def run(nodes, i, st, trace, assume, depth):
        # yields (state, trace, assume, terminated) when the node list is finished
        nonlocal cut
        if len(results) >= limit:
            cut = True
            return
        if i >= len(nodes):
            yield st, trace, assume, False
            return
        node = nodes[i]
        if isinstance(node, list):
            start = st
            for st2, tr2, as2, _term in run(node, 0, {**st, "snapshot": start}, trace, assume, depth + 1):
                st2 = {k: v for k, v in st2.items() if k != "snapshot"}
                yield from run(nodes, i + 1, st2, tr2, as2, depth)
            return
        actions = control_actions(node["control"])
        k = _key(node)
        codes = (assume[k],) if k in assume else module_results(node, missing)
        for code in codes:
            tr = trace + [(node, code)]
            asm = {**assume, k: code} if code not in ("absent", "module_unknown") else assume
            if code == "absent":
                yield from run(nodes, i + 1, st, tr, asm, depth)
                continue
            act = actions.get(code, actions.get("default", "bad"))
            s = dict(st)
            if act == "reset":
                snap = st.get("snapshot") or {"imp": "undef", "status": "fail"}
                s["imp"], s["status"] = snap["imp"], snap["status"]
            elif act in ("ok", "done"):
                if s["imp"] == "undef" or (s["imp"] == "pos" and s["status"] == "success"):
                    if code != "ignore":
                        s["imp"], s["status"] = "pos", ("success" if code == "success" else "fail")
                if s["imp"] != "neg" and act == "done":
                    yield s, tr, asm, True
                    continue
            elif act in ("bad", "die"):
                if s["imp"] != "neg":
                    s["imp"], s["status"] = "neg", "fail"
                if act == "die":
                    yield s, tr, asm, True
                    continue
            elif act.isdigit():
                yield from run(nodes, i + 1 + int(act), s, tr, asm, depth)
                continue
            yield from run(nodes, i + 1, s, tr, asm, depth)

    def top(nodes, st, trace, assume):
        for s, tr, _as, term in run(nodes, 0, st, trace, assume, 0):
            yield s, tr
            if len(results) >= limit:
                return

    # A done/die inside a substack ends only the substack: ``run`` yields terminated=True to its caller,
    # which continues after the substack; at the top level it ends the stack.
    for s, tr in top(tree, {"imp": "undef", "status": "fail"}, [], {}):
        results.append(("success" if s["imp"] == "pos" and s["status"] == "success" else "fail", tr))
        if len(results) >= limit:
            cut = True
            break
    return results, cut


def enforced(paths, is_target) -> tuple[bool, str]:
    """Whether every path by which the stack succeeds ran a target line that succeeded (so the
    target's failure fails the stack), and why not, shown as the path that gets through."""
    ok = [tr for res, tr in paths if res == "success"]
    if not ok:
        return True, "the stack never succeeds"
    for tr in ok:
        ran = [(e, c) for e, c in tr if is_target(e) and c not in ("absent", "module_unknown")]
        if not ran or any(c != "success" for _e, c in ran):
            steps = " → ".join(f"{e['module']} {c}" for e, c in tr)
            why = "skipped on a successful path" if not ran else f"its failure ({ran[0][1]}) is not fatal"
            return False, f"{why}: {steps}"
    return True, ""


def regular_user(trace) -> bool:
    """Whether a path is that of an ordinary local account (every user condition on it held)."""
    return all(c == "success" for e, c in trace if e["module"] in USER_CONDITION)


def failures_recorded(paths, is_pre, is_record, only=None) -> tuple[bool, str]:
    """Whether every path on which the password check failed (after the lockout's preauth passed) runs a
    line that records the failure (pam_faillock authfail); ``only`` limits the paths judged (e.g. to
    ordinary accounts: ``regular_user``)."""
    for res, tr in paths:
        if only is not None and not only(tr):
            continue
        creds = [c for e, c in tr if e["module"] in CREDENTIAL]
        if res != "fail" or not creds or "success" in creds or "auth_err" not in creds:
            continue
        if not any(is_pre(e) and c == "success" for e, c in tr):
            continue
        if not any(is_record(e) for e, c in tr):
            return False, "a failed password is not recorded: " + " → ".join(f"{e['module']} {c}" for e, c in tr)
    return True, ""


def is_enforcing(entry) -> bool:
    """optional/sufficient modules cannot make a request fail."""
    return entry["control"] not in ("optional", "sufficient")


def pwquality_conf(conf_files: dict, raw: str, version: tuple | None = None) -> tuple[dict, dict]:
    """libpwquality settings from the config files ({path: lines} and the raw ``grep -H`` text with
    comments kept): (settings, {setting: file it came from or 'default'}).

    By version (libpwquality NEWS): before 1.3.0 the defaults were minlen 9 and a credit of 1 per class
    and there was no pwquality.conf.d; from 1.4.1 the files may also set enforce_for_root, retry and
    local_users_only (before, only the PAM arguments could). Without a known version the shipped
    pwquality.conf tells the old defaults apart (it documents "# dcredit = 1")."""
    defaults = dict(PWQ_DEFAULTS)
    if version is not None:
        old = version < (1, 3, 0)
    else:
        old = any(path == PWQ_MAIN and re.match(r"^\s*#\s*[dulo]credit\s*=\s*1\s*$", body)
                  for path, _, body in (ln.partition(":") for ln in raw.splitlines()))
    if old:
        defaults = dict(OLD_DEFAULTS)
    settings, source = dict(defaults), {k: "default" for k in defaults}
    dropins = sorted(p for p in conf_files if p.startswith(PWQ_MAIN + ".d/")) if not old else []
    for path in dropins + [PWQ_MAIN]:
        for k, v in conf_settings([strip_comment(x) for x in conf_files.get(path, [])]).items():
            k = k.lower()
            if k in PAM_ONLY and version is not None and version < (1, 4, 1):
                continue  # not read from the files before libpwquality 1.4.1
            settings[k], source[k] = v, path
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
