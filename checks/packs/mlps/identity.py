"""MLPS pack, 身份鉴别 identification and authentication: GB/T 22239-2019 8.1.4.1 (level 3) / 7.1.4.1
(level 2) — the checks that need logic beyond one YAML expectation.

PAM is read as the login services see it: ``@include``, ``include`` and ``substack`` lines are followed
among the gathered files (Debian: sshd/login → common-*; RHEL: sshd → password-auth, login →
system-auth). Password-quality settings follow libpwquality: built-in defaults, then
``pwquality.conf.d/*.conf`` in ASCII order, then ``pwquality.conf`` (the library reads the directory
first, so the main file wins), then the module's arguments in the PAM line (arguments win).
"""
from __future__ import annotations

import re

from checks import parsers
from checks.contract import Outcome, evaluator
from checks.probe_catalogue import named

from checks.facts import (LOGIN_DEFS, PAM, PASSWD, PROFILE, SECURITY_CONF, SHADOW, SSHD_T, evidence_lines,
                          files, gathered, os_family, per_host)
from checks.parsers.common import to_int
from checks.parsers.shell import ZSH_FILES, csh_autologout, read_order, tmout
from checks.parsers.sshd import idle_timeout
from checks.parsers.pam import (FAILLOCK_CONF, LOCKOUT, QUALITY, checks_lock, conf_settings, effective_min_length, enforced,
                                failures_recorded, flatten, is_enforcing, lockout_settings, pam_stack, pam_tree,
                                pwquality_conf, quality_settings, regular_user, required_classes, stack_paths,
                                strip_comment)

from ._listen import port_check
from ._sshd import sshd_views as _sshd_views
from ._versions import PAM_PKGS, PWQ_PKGS, SSH_PKGS, package_version as _version

# Probes only this family needs (read-only; sudo only where root is needed to see the data).
# find prints hosts.equiv/shosts.equiv under /etc (and /etc/ssh) and .rhosts/.shosts in /etc/skel, /root and
# /home/*; /etc is a start point (not /etc/hosts.equiv itself) so that a missing file is not an error.
RHOSTS = named("rhosts")
PWHISTORY = named("pwhistory")


# Password changes: Debian's passwd includes common-password; RHEL's passwd uses system-auth and
# sshd (expired passwords) password-auth, so both must carry the policy.
PASSWORD_STACKS = {"debian": ("/etc/pam.d/common-password",),
                   "rhel": ("/etc/pam.d/system-auth", "/etc/pam.d/password-auth")}
# Logins: the service file if present (it includes the common stack), else the common stack itself.
LOGIN_STACKS = {"debian": {"ssh": ("/etc/pam.d/sshd", "/etc/pam.d/common-auth"),
                           "console": ("/etc/pam.d/login", "/etc/pam.d/common-auth")},
                "rhel": {"ssh": ("/etc/pam.d/sshd", "/etc/pam.d/password-auth"),
                         "console": ("/etc/pam.d/login", "/etc/pam.d/system-auth")}}


# --------------------------------------------------------------------------------------------- helpers
def _pam_layout(facts) -> str | None:
    """debian/rhel from the host's os family; for an unknown family, from the PAM layout found."""
    fam = os_family(facts)
    if fam in PAM:
        return fam
    for name, marker in (("rhel", "/etc/pam.d/system-auth:"), ("debian", "/etc/pam.d/common-auth:")):
        res = facts.get(PAM[name])
        if not res.error and marker in res.stdout:
            return name
    return None


def _pam_semantics(facts) -> tuple[frozenset, bool, str]:
    """(modules this Linux-PAM lacks, whether pam_faillock reads faillock.conf, the version shown).
    Linux-PAM 1.5.0 removed pam_tally/pam_tally2 (RHEL 8 already dropped pam_tally2 from pam 1.3.1);
    faillock.conf arrived with pam_faillock upstream in 1.4.0 (RHEL 8.2 backported it to 1.3.1).
    Unknown version: both are assumed absent/read as on current systems."""
    text, v = _version(facts, PAM_PKGS)
    el8 = bool(text and re.search(r"\.el8", text))
    missing = frozenset({"pam_tally.so", "pam_tally2.so"}) if v is None or v >= (1, 5, 0) or el8 else frozenset()
    reads_conf = v is None or v >= (1, 4, 0) or el8
    return missing, reads_conf, f"Linux-PAM {text or 'version unknown'}"


def _pam(facts):
    """(family, {path: [lines]}) or (None, Outcome to return)."""
    fam = _pam_layout(facts)
    if fam is None:
        return None, Outcome.error("无法判断 PAM 配置布局（既无 common-auth 也无 system-auth）",
                                   "cannot tell the PAM layout (neither common-auth nor system-auth found)")
    text, bad = gathered(facts, PAM[fam])
    if bad:
        return None, bad
    return fam, {p: [strip_comment(ln) for ln in lines] for p, lines in files(text).items()}


def _shown(entries) -> str:
    return evidence_lines(f"{e['file']}: {e['line']}" for e in entries)


def _security(facts):
    """{path: [lines]} of pwquality/faillock/useradd files, plus the raw text (comments kept)."""
    text, bad = gathered(facts, SECURITY_CONF)
    if bad:
        return None, None, bad
    return files(text), text, None


@per_host
def _quality(facts):
    """Per password stack file: (path, enforced quality entries with settings, all password entries, file present).
    A quality line counts only if the stack, executed as Linux-PAM does, cannot succeed without it succeeding."""
    fam, pam = _pam(facts)
    if fam is None:
        return None, pam
    sec, raw, bad = _security(facts)
    if bad:
        return None, bad
    _text, pwq_version = _version(facts, PWQ_PKGS)
    missing, _reads, _shown_v = _pam_semantics(facts)
    pwq, src = pwquality_conf(sec, raw, pwq_version)
    out = []
    for path in PASSWORD_STACKS[fam]:
        tree = pam_tree(pam, path, "password")
        entries = flatten(tree)
        cand = []
        for e in entries:
            if e["module"] not in QUALITY:
                continue
            s, s_src = quality_settings(e, pwq, src)
            if e["module"] in missing:
                e["why"] = "module not in this Linux-PAM"
            elif str(s.get("enforcing", "1")).strip() == "0":
                e["why"] = f"enforcing=0 ({s_src.get('enforcing')}) only warns"
            else:
                cand.append((e, s, s_src))
        q = []
        if cand:
            paths, cut = stack_paths(tree, missing)
            ids = {id(e) for e, _s, _src in cand}
            ok, why = enforced(paths, lambda x: id(x) in ids)
            if cut:  # too many ways through to follow them all: no pass on a partial reading
                ok, why = False, f"the stack has more than {len(paths)} ways through; not judged"
            if ok:
                q = [{**e, "settings": s, "source": s_src} for e, s, s_src in cand]
            else:
                for e, _s, _src in cand:
                    e["why"] = f"control {e['control']}: {why}"
        out.append((path, q, entries, path in pam))
    return out, None


def _missing_stack(rows) -> Outcome | None:
    gone = [path for path, _q, _e, present in rows if not present]
    if gone:
        return Outcome.failed(f"缺少 PAM 口令配置文件：{', '.join(gone)}", f"PAM password stack missing: {', '.join(gone)}",
                              "\n".join(f"{p}: (missing)" for p in gone))
    return None


# --------------------------------------------------------------------------------------------- a: accounts
@evaluator("mlps.auth.empty_passwords")
def empty_passwords(facts, host):
    res = facts.get(SHADOW)
    if res.error or res.rc != 0:
        why = res.error or f"exit {res.rc}"
        return Outcome.error(f"无法读取 /etc/shadow：{why}", f"cannot read /etc/shadow: {why}", res.stderr[:200])
    # The probe blanks hashes on the host: field 2 is EMPTY, a scheme prefix, or a lock marker.
    empty = [r["name"] for r in parsers.shadow(res.stdout) if r["password"] == "EMPTY"]
    if empty:
        return Outcome.failed(f"空口令账户：{', '.join(empty)}", f"accounts with empty passwords: {', '.join(empty)}",
                              "\n".join(f"{n}: empty password" for n in empty))
    return Outcome.passed("不存在空口令账户", "no account has an empty password")


@evaluator("mlps.auth.duplicate_ids")
def duplicate_ids(facts, host):
    text, bad = gathered(facts, PASSWD, missing=None)
    if bad:
        return bad
    by_name: dict[str, int] = {}
    by_uid: dict[str, list[str]] = {}
    for r in parsers.passwd(text):
        if r["name"].startswith(("+", "-")):  # NIS compat entries
            continue
        by_name[r["name"]] = by_name.get(r["name"], 0) + 1
        by_uid.setdefault(r["uid"], []).append(r["name"])
    names = [f"name {n}: {c} entries" for n, c in by_name.items() if c > 1]
    uids = [f"uid {u}: {', '.join(ns)}" for u, ns in by_uid.items() if len(ns) > 1]
    if names or uids:
        ev = evidence_lines(names + uids)
        return Outcome.failed(f"存在重复的用户名或 UID（{len(names) + len(uids)} 处）",
                              f"{len(names)} duplicate name(s) and {len(uids)} duplicate UID(s)", ev)
    return Outcome.passed("用户名和 UID 均唯一", "user names and UIDs are unique")


@evaluator("mlps.auth.rhosts")
def rhosts(facts, host):
    res = facts.get(RHOSTS)
    if res.error:
        return Outcome.error(f"无法采集 {RHOSTS}：{res.error}", f"could not gather {RHOSTS}: {res.error}")
    # find exits 1 when a start point is absent or unreadable; what it printed is still valid.
    if res.rc not in (0, 1) or (res.rc == 1 and not res.stdout and not res.stderr):
        return Outcome.error(f"find 失败（退出码 {res.rc}）", f"find failed (exit {res.rc})", res.stderr[:300])
    # Only the files that are read: rsh/rlogin and sshd host-based trust, root's and each home's own
    # files, and /etc/skel (copied into every new home). Deeper copies (backups) are not active.
    wanted = re.compile(r"^(/etc/(hosts|shosts)\.equiv|/etc/ssh/shosts\.equiv|/etc/skel/\.[rs]hosts|/root/\.[rs]hosts"
                        r"|/home/[^/]+/\.[rs]hosts)$")
    found = [ln.strip() for ln in res.stdout.splitlines() if wanted.match(ln.strip())]
    if found:
        return Outcome.failed(f"存在信任关系文件：{len(found)} 个", f"{len(found)} trust file(s) present",
                              evidence_lines(found))
    note = "" if res.rc == 0 else res.stderr.strip()[:200]
    return Outcome.passed("未发现 hosts.equiv、.rhosts 或 .shosts", "no hosts.equiv, .rhosts or .shosts found",
                          note.strip())


# --------------------------------------------------------------------------------------------- a: passwords
@evaluator("mlps.auth.pwquality_in_pam")
def pwquality_in_pam(facts, host):
    rows, bad = _quality(facts)
    if bad:
        return bad
    if (gone := _missing_stack(rows)):
        return gone
    lacking = [(path, entries) for path, q, entries, _ in rows if not q]
    if lacking:
        ev = "\n".join((_shown(es) or f"{p}: (no password lines)") + "".join(
            f"\n  ↳ {e['module']}: {e['why']}" for e in es if e.get("why")) for p, es in lacking)
        where = ", ".join(p for p, _ in lacking)
        return Outcome.failed(f"以下口令配置未启用复杂度检查模块：{where}",
                              f"no enforcing pam_pwquality/pam_cracklib in {where}", ev)
    return Outcome.passed("已启用口令复杂度检查模块", "a password-quality module is enforced",
                          _shown(e for _, q, _, _ in rows for e in q))


@evaluator("mlps.auth.password_min_length")
def password_min_length(facts, host, params):
    rows, bad = _quality(facts)
    if bad:
        return bad
    if (gone := _missing_stack(rows)):
        return gone
    want = int(params["min_password_length"])
    results = []
    for path, q, entries, _ in rows:
        unix = [e for e in entries if e["module"] == "pam_unix.so"]
        unix_min = max((to_int(e["args"].get("minlen"), 0) for e in unix), default=0)
        if q:
            eff, how = min((effective_min_length(e["settings"], e["module"]) for e in q), key=lambda t: t[0])
            how = f"{q[0]['module']} {how}"
            if unix_min > eff:
                eff, how = unix_min, f"{how}; pam_unix minlen={unix_min}"
        else:
            eff = unix_min or 6  # pam_unix alone: its minlen, default 6
            how = f"no pam_pwquality/pam_cracklib; pam_unix minlen={eff}"
        results.append((path, eff, how))
    ev = "\n".join(f"{p}: {how}" for p, _, how in results)
    short = [(p, n) for p, n, _ in results if n < want]
    if short:
        worst = min(n for _, n in short)
        return Outcome.failed(f"有效口令最小长度为 {worst} 位，低于 {want} 位", f"effective minimum length is {worst}, below {want}",
                              ev)
    low = min(n for _, n, _ in results)
    return Outcome.passed(f"有效口令最小长度为 {low} 位", f"effective minimum length is {low}", ev)


@evaluator("mlps.auth.password_classes")
def password_classes(facts, host, params):
    rows, bad = _quality(facts)
    if bad:
        return bad
    if (gone := _missing_stack(rows)):
        return gone
    want = int(params["min_password_classes"])
    results = []
    for path, q, _entries, _ in rows:
        if q:
            n, how = min((required_classes(e["settings"]) for e in q), key=lambda t: t[0])
            results.append((path, n, f"{q[0]['module']} {how}"))
        else:
            results.append((path, 0, "no pam_pwquality/pam_cracklib → 0"))
    ev = "\n".join(f"{p}: {how}" for p, _, how in results)
    low = min(n for _, n, _ in results)
    if low < want:
        return Outcome.failed(f"口令只要求 {low} 类字符，低于 {want} 类", f"passwords need only {low} character class(es), below {want}",
                              ev)
    return Outcome.passed(f"口令要求至少 {low} 类字符", f"passwords need at least {low} character classes", ev)


@evaluator("mlps.auth.password_enforce_for_root")
def password_enforce_for_root(facts, host):
    rows, bad = _quality(facts)
    if bad:
        return bad
    if (gone := _missing_stack(rows)):
        return gone
    lines, missing = [], []
    for path, q, _entries, _ in rows:
        if not q:
            missing.append(f"{path}: no pam_pwquality/pam_cracklib")
            continue
        for e in q:
            on = "enforce_for_root" in e["settings"]
            lines.append(f"{path}: {e['module']} enforce_for_root={'yes (' + e['source']['enforce_for_root'] + ')' if on else 'no'}")
            if not on:
                missing.append(lines[-1])
    if missing:
        return Outcome.failed("root 修改口令时不强制执行复杂度检查", "password-quality rules are not enforced for root",
                              "\n".join(missing))
    return Outcome.passed("root 同样受口令复杂度约束", "password-quality rules are enforced for root", "\n".join(lines))


@evaluator("mlps.auth.password_history")
def password_history(facts, host, params):
    fam, pam = _pam(facts)
    if fam is None:
        return pam
    text, bad = gathered(facts, PWHISTORY)
    if bad:
        return bad
    conf_remember = to_int(conf_settings([strip_comment(x) for x in parsers.lines(text)]).get("remember"))
    want = int(params["password_history"])
    results = []
    for path in PASSWORD_STACKS[fam]:
        if path not in pam:
            results.append((path, 0, "(missing)"))
            continue
        best, how = 0, "no pam_pwhistory, pam_unix without remember="
        for e in pam_stack(pam, path, "password"):
            n = None
            if e["module"] == "pam_pwhistory.so" and is_enforcing(e):
                arg = to_int(e["args"].get("remember"))
                n = arg if arg is not None else conf_remember if conf_remember is not None else 10
                src = "argument" if arg is not None else "pwhistory.conf" if conf_remember is not None else "default"
            elif e["module"] == "pam_unix.so" and "remember" in e["args"]:
                n, src = to_int(e["args"]["remember"], 0), "argument"
            if n is not None and n >= best:
                best, how = n, f"{e['module']} remember={n} ({src})"
        results.append((path, best, how))
    ev = "\n".join(f"{p}: {how}" for p, _, how in results)
    low = min(n for _, n, _ in results)
    if low < want:
        return Outcome.failed(f"只记住 {low} 个历史口令，少于 {want} 个", f"only {low} old password(s) remembered, fewer than {want}", ev)
    return Outcome.passed(f"记住 {low} 个历史口令", f"{low} old passwords are remembered", ev)


@evaluator("mlps.auth.account_max_age")
def account_max_age(facts, host, params):
    text, bad = gathered(facts, SHADOW, missing=None)
    if bad:
        return bad
    limit = int(params["max_password_age"])
    bad_rows, ok = [], []
    for r in parsers.shadow(text):
        pw = r["password"]
        if not (pw.startswith("$") or pw == "DES"):  # locked (!, *), empty or no password
            continue
        age = to_int(r["max"])
        if age is None or age < 0 or age > limit:
            bad_rows.append(f"{r['name']}: max {r['max'] or '(none)'}")
        else:
            ok.append(f"{r['name']}: max {age}")
    if bad_rows:
        return Outcome.failed(f"{len(bad_rows)} 个账户的口令最长期限超过 {limit} 天或未设置",
                              f"{len(bad_rows)} account(s) have no maximum password age or one above {limit} days",
                              evidence_lines(bad_rows))
    if not ok:
        return Outcome.passed("没有可用口令登录的账户（均已锁定或无口令）", "no account has a usable password (all locked or unset)")
    return Outcome.passed(f"{len(ok)} 个有口令的账户均在 {limit} 天内到期",
                          f"all {len(ok)} account(s) with a password expire within {limit} days", evidence_lines(ok))


@evaluator("mlps.auth.password_hash")
def password_hash(facts, host, params):
    defs_text, bad = gathered(facts, LOGIN_DEFS, missing=None)
    if bad:
        return bad
    shadow_text, bad = gathered(facts, SHADOW, missing=None)
    if bad:
        return bad
    allowed = [str(m).upper() for m in params["password_hash_methods"]]
    problems, ev = [], []
    method = parsers.keyvalue(defs_text).get("ENCRYPT_METHOD")
    ev.append(f"/etc/login.defs: ENCRYPT_METHOD {method or '(not set: DES)'}")
    if not method or method.upper() not in allowed:
        problems.append(("login.defs ENCRYPT_METHOD 不在允许列表中", f"login.defs ENCRYPT_METHOD is {method or 'not set'}"))
    fam = _pam_layout(facts)
    if fam is not None:
        text, bad = gathered(facts, PAM[fam])
        if bad:
            return bad
        pam = {p: [strip_comment(x) for x in ls] for p, ls in files(text).items()}
        for path in PASSWORD_STACKS[fam]:
            for e in pam_stack(pam, path, "password"):
                if e["module"] != "pam_unix.so":
                    continue
                if {"md5", "bigcrypt"} & set(e["args"]):
                    ev.append(f"{e['file']}: {e['line']}")
                    problems.append(("pam_unix 使用 md5/bigcrypt", "pam_unix uses md5/bigcrypt"))
                else:
                    algo = [a for a in e["args"] if a in ("sha512", "sha256", "yescrypt", "gost_yescrypt", "blowfish")]
                    ev.append(f"{e['file']}: pam_unix {' '.join(algo) or '(no method: login.defs ENCRYPT_METHOD)'}")
    weak, schemes = [], {}
    for r in parsers.shadow(shadow_text):
        pw = r["password"]
        if pw.lstrip("!").startswith("$"):
            key = pw.lstrip("!")
            schemes[key] = schemes.get(key, 0) + 1
        if "*" in pw.split("$", 1)[0]:  # '*'-locked: no usable hash behind it
            continue
        scheme = pw.lstrip("!")
        if scheme.startswith("$1$") or scheme == "DES":
            weak.append(f"{r['name']}: {'MD5 ($1$)' if scheme.startswith('$1$') else 'DES'}" + (" (locked)" if pw.startswith("!") else ""))
    if schemes:
        ev.append("/etc/shadow schemes: " + ", ".join(f"{k} ×{n}" for k, n in sorted(schemes.items())))
    if weak:
        problems.append((f"{len(weak)} 个账户使用 MD5/DES 散列", f"{len(weak)} account(s) have MD5/DES hashes"))
        ev += weak
    if problems:
        zh = "；".join(dict.fromkeys(p[0] for p in problems))
        en = "; ".join(dict.fromkeys(p[1] for p in problems))
        return Outcome.failed(zh, en, evidence_lines(ev))
    return Outcome.passed("口令散列算法符合要求", "password hashes use a strong scheme", evidence_lines(ev))


# --------------------------------------------------------------------------------------------- b: login failures
@per_host
def _lockout(facts):
    """{group: (stack file, lockout entries with settings, verdict)} for ssh and console logins, or an Outcome.
    The auth stack is executed as Linux-PAM does: the lock must be checked (faillock preauth/authsucc,
    tally2) on every path that lets a login through, and with pam_faillock every failed password of an
    ordinary account must reach an authfail line; ``root`` says whether root's failures are recorded too."""
    fam, pam = _pam(facts)
    if fam is None:
        return None, pam
    sec, _raw, bad = _security(facts)
    if bad:
        return None, bad
    missing, reads_conf, shown_v = _pam_semantics(facts)
    fl_conf = {k.lower(): v for k, v in conf_settings([strip_comment(x) for x in sec.get(FAILLOCK_CONF, [])]).items()} \
        if reads_conf else {}
    groups = {}
    for group, candidates in LOGIN_STACKS[fam].items():
        path = next((p for p in candidates if p in pam), None)
        tree = pam_tree(pam, path, "auth")
        entries = [e for e in flatten(tree) if e["module"] in LOCKOUT]
        for e in entries:
            e["settings"] = lockout_settings(e, fl_conf)
        verdict = {"active": False, "root": False, "why": "", "version": shown_v}
        gone = sorted({e["module"] for e in entries if e["module"] in missing})
        live = [e for e in entries if e["module"] not in missing]
        if not live:
            verdict["why"] = (f"{', '.join(gone)} not in {shown_v}" if gone else "no pam_faillock/pam_tally2 in the auth stack")
        else:
            paths, cut = stack_paths(tree, missing)
            ok, why = enforced(paths, checks_lock)
            if cut:  # too many ways through to follow them all: no pass on a partial reading
                ok, why = False, f"the stack has more than {len(paths)} ways through; not judged"
            if not any(checks_lock(e) for e in live):
                ok, why = False, "no line checks the lock (faillock preauth/authsucc)"
            faillock = any(e["module"] == "pam_faillock.so" for e in live)
            is_fail = lambda e: e["module"] == "pam_faillock.so" and "authfail" in e["args"]  # noqa: E731
            rec, why2 = failures_recorded(paths, checks_lock, is_fail, only=regular_user) if faillock else (True, "")
            rec_all, why3 = failures_recorded(paths, checks_lock, is_fail) if faillock else (True, "")
            verdict["active"] = ok and rec
            verdict["root"] = verdict["active"] and rec_all
            verdict["why"] = why or why2 or (f"root and system accounts: {why3}" if not rec_all else "")
        groups[group] = (path, entries, verdict)
    return groups, None


def _deciding(groups) -> list[dict]:
    """Lockout lines whose settings decide (faillock preauth/authfail, tally lines) in working stacks."""
    out = []
    for _path, entries, verdict in groups.values():
        if not verdict["active"]:
            continue
        for e in entries:
            if e["module"] != "pam_faillock.so" or {"preauth", "authfail"} & set(e["args"]):
                if e not in out:
                    out.append(e)
    return out


def _mode(e) -> str:
    return " ".join([e["module"]] + [a for a in e["args"] if a in ("preauth", "authfail", "authsucc")])


def _no_lockout(groups) -> Outcome | None:
    """The failure to return when a login group has no working lockout, else None."""
    gaps = {g: (path, v) for g, (path, _e, v) in groups.items() if not v["active"]}
    if not gaps:
        return None
    ev = "\n".join(f"{g} ({path or 'no PAM file'}): {v['why']}" for g, (path, v) in gaps.items())
    return Outcome.failed("未配置有效的登录失败锁定（见 mlps.auth.lockout_enabled）",
                          "no working login-failure lockout (see mlps.auth.lockout_enabled)", ev)


def _group_evidence(groups) -> str:
    return "\n".join(f"{g} ({path or 'no PAM file'}): " + (", ".join(_mode(e) for e in entries) or "no lockout module")
                     + (f" — {v['why']}" if v["why"] else "") for g, (path, entries, v) in groups.items())


@evaluator("mlps.auth.lockout_enabled")
def lockout_enabled(facts, host):
    groups, bad = _lockout(facts)
    if bad:
        return bad
    gaps = [g for g, (_p, _e, v) in groups.items() if not v["active"]]
    ev = _group_evidence(groups)
    if gaps:
        zh = {"ssh": "SSH 登录", "console": "本地登录"}
        return Outcome.failed(f"{'、'.join(zh[g] for g in gaps)}未启用有效的登录失败锁定",
                              f"no working lockout for {' and '.join(gaps)} logins", ev)
    return Outcome.passed("SSH 与本地登录均启用了失败锁定", "lockout covers SSH and console logins", ev)


@evaluator("mlps.auth.lockout_deny")
def lockout_deny(facts, host, params):
    groups, bad = _lockout(facts)
    if bad:
        return bad
    if (gap := _no_lockout(groups)):
        return gap
    lines = _deciding(groups)
    limit = int(params["lockout_max_attempts"])
    ev, worse = [], []
    for e in lines:
        n = to_int(e["settings"].get("deny"), 0)
        src = "PAM" if "deny" in e["args"] else e["settings"]["source"]
        ev.append(f"{e['file']}: {_mode(e)} deny={n} ({src})")
        if n <= 0 or n > limit:
            worse.append(n)
    if worse:
        if any(n <= 0 for n in worse):
            return Outcome.failed(f"deny 为 0 或未设置，登录失败不会锁定（应不超过 {limit} 次）",
                                  f"deny is 0 or unset, so failures never lock the account (limit {limit})", "\n".join(ev))
        return Outcome.failed(f"连续失败 {max(worse)} 次才锁定，超过 {limit} 次",
                              f"locks only after {max(worse)} failures, more than {limit}", "\n".join(ev))
    return Outcome.passed(f"连续失败不超过 {limit} 次即锁定", f"locks after at most {limit} failures", "\n".join(ev))


@evaluator("mlps.auth.lockout_unlock_time")
def lockout_unlock_time(facts, host, params):
    groups, bad = _lockout(facts)
    if bad:
        return bad
    if (gap := _no_lockout(groups)):
        return gap
    lines = _deciding(groups)
    limit = int(params["lockout_min_seconds"])
    ev, short = [], []
    for e in lines:
        raw = str(e["settings"].get("unlock_time", "0")).strip().lower()
        n = 0 if raw == "never" else to_int(raw, -1)
        src = "PAM" if "unlock_time" in e["args"] else e["settings"]["source"]
        ev.append(f"{e['file']}: {_mode(e)} unlock_time={raw} ({src})")
        if n != 0 and n < limit:
            short.append(n)
    if short:
        return Outcome.failed(f"锁定仅 {min(short)} 秒，少于 {limit} 秒", f"accounts stay locked only {min(short)} s, less than {limit} s",
                              "\n".join(ev))
    return Outcome.passed(f"锁定时间不少于 {limit} 秒或须管理员解锁", f"locked for at least {limit} s or until an administrator unlocks",
                          "\n".join(ev))


@evaluator("mlps.auth.lockout_root")
def lockout_root(facts, host):
    groups, bad = _lockout(facts)
    if bad:
        return bad
    if (gap := _no_lockout(groups)):
        return gap
    lines = _deciding(groups)
    ev, off = [], []
    for e in lines:
        on = "even_deny_root" in e["settings"]
        src = "PAM" if "even_deny_root" in e["args"] else e["settings"]["source"] if on else "-"
        ev.append(f"{e['file']}: {_mode(e)} even_deny_root={'yes (' + src + ')' if on else 'no'}")
        if not on:
            off.append(e)
    if off:
        return Outcome.failed("root 不受登录失败锁定（未设置 even_deny_root）", "root is exempt from lockout (no even_deny_root)",
                              "\n".join(ev))
    skipped = [f"{g}: {v['why']}" for g, (_p, _e, v) in groups.items() if not v["root"]]
    if skipped:
        return Outcome.failed("root 与系统账户的登录失败不被记录（PAM 栈在 authfail 之前结束），不会被锁定",
                              "failed logins of root and system accounts are never recorded (the stack ends before "
                              "authfail), so they are never locked", "\n".join(ev + skipped))
    return Outcome.passed("root 同样会被锁定", "root is locked out too", "\n".join(ev))


@evaluator("mlps.auth.sshd_idle_timeout")
def sshd_idle_timeout(facts, host, params):
    views, note = _sshd_views(facts)
    if views is None:
        return note
    text, version = _version(facts, SSH_PKGS)
    limit = int(params["max_idle_seconds"])
    ev, worst = [f"OpenSSH {text or 'version unknown'}"], None
    for label, kv in views:
        t = idle_timeout(kv, version)
        ev.append(f"{label}: {t['how']}" + (f" → {t['seconds']} s" if t["seconds"] else ""))
        rank = (t["kind"] == "none", (t["seconds"] or 0) > limit, t["seconds"] or 0)
        if worst is None or rank > worst[0]:
            worst = (rank, label, t)
    if note:
        ev.append(note)
    _rank, label, t = worst
    evidence = evidence_lines(ev)
    if t["kind"] == "none":
        return Outcome.failed(f"SSH 连接（{label}）不会因空闲或无响应而断开", f"SSH connections ({label}) are never ended for idleness "
                              "or unresponsiveness", evidence)
    if t["seconds"] > limit:
        return Outcome.failed(f"空闲 {t['seconds']} 秒后才断开，超过 {limit} 秒", f"idle sessions end after {t['seconds']} s, "
                              f"more than {limit} s", evidence)
    if t["kind"] == "idle":
        return Outcome.passed(f"SSH 空闲会话 {t['seconds']} 秒后断开", f"idle SSH sessions end after {t['seconds']} s", evidence)
    return Outcome.passed(f"无响应的 SSH 连接 {t['seconds']} 秒后断开（在线但空闲的会话靠 TMOUT）",
                          f"unresponsive SSH connections end after {t['seconds']} s (live idle sessions need TMOUT)", evidence)


SHELLS_CONF = named("shells_conf")
_NO_LOGIN = re.compile(r"(nologin|/false|/true|/sync|/halt|/shutdown)$")


def _login_shells(facts, fam: str) -> dict[str, list[str]]:
    """{shell kind: accounts} for accounts with a login shell: bash (also ksh, and sh on RHEL), zsh, csh,
    and 'none' for shells without an idle timeout (dash — Debian's /bin/sh —, fish, others)."""
    res = facts.get(PASSWD)
    if res.error or res.rc != 0:
        return {}
    out: dict[str, list[str]] = {}
    for r in parsers.passwd(res.stdout):
        sh = r["shell"].strip()
        if not sh or _NO_LOGIN.search(sh):
            continue
        base = sh.rsplit("/", 1)[-1]
        kind = ("bash" if base in ("bash", "rbash", "ksh", "ksh93", "mksh") or (base == "sh" and fam == "rhel") else
                "zsh" if base == "zsh" else "csh" if base in ("tcsh", "csh") else "none")
        out.setdefault(kind, []).append(f"{r['name']} ({sh})")
    return out


def _judge_tmout(t, limit: int, what: str, what_en: str = "") -> tuple[str, str] | None:
    """(zh, en) of what is wrong with a shell's TMOUT, or None."""
    what_en = what_en or what
    if t.value is None:
        return f"{what} 未设置 TMOUT", f"{what_en}: TMOUT is not set"
    secs = to_int(t.value)
    if secs is None or secs <= 0 or secs > limit:
        return f"{what} TMOUT={t.value}，应为 1–{limit} 秒", f"{what_en}: TMOUT={t.value}; it must be 1-{limit} seconds"
    if t.condition:
        return (f"{what} TMOUT 只在条件 {t.condition} 下设置，root 或部分账户不受约束",
                f"{what_en}: TMOUT is set only under the user test {t.condition}, so root or other accounts escape it")
    if not t.readonly:
        return f"{what} TMOUT={secs} 未设为 readonly，用户可以取消", f"{what_en}: TMOUT={secs} is not readonly; users can unset it"
    return None


@evaluator("mlps.auth.shell_timeout")
def shell_timeout(facts, host, params):
    text, bad = gathered(facts, PROFILE)
    if bad:
        return bad
    limit = int(params["max_idle_seconds"])
    fam = os_family(facts, host)
    pf = files(text)
    if "/etc/profile" in pf:
        order = read_order(pf, family=fam)
    else:  # /etc/profile not readable: every file in the order gathered
        order = [(p, ln, "") for p, lines in pf.items() for ln in lines]
    t = tmout(order)
    ev = [f"{p}: {ln}" for p, ln in t.lines] + [f"(refused: readonly) {p}: {ln}" for p, ln in t.refused]
    problems = []
    shells = _login_shells(facts, fam)
    if not shells or "bash" in shells:
        if (p := _judge_tmout(t, limit, "bash/ksh")):
            problems.append(p)
    conf_text = facts.get(SHELLS_CONF)
    other = files(conf_text.stdout) if not conf_text.error else {}
    if "zsh" in shells:
        zlines = [(p, ln, "") for p in ZSH_FILES.get(fam, ZSH_FILES["debian"]) for ln in other.get(p, [])]
        zt = tmout(zlines)
        ev += [f"{p}: {ln}" for p, ln in zt.lines]
        who = ", ".join(shells["zsh"][:3])
        if (p := _judge_tmout(zt, limit, f"zsh（{who}）", f"zsh ({who})")):
            problems.append(p)
    if "csh" in shells:
        secs, shown = csh_autologout(other)
        ev += [f"{p}: {ln}" for p, ln in shown]
        if secs is None or secs <= 0 or secs > limit:
            problems.append((f"tcsh/csh（{', '.join(shells['csh'][:3])}）未设置 autologout 或超过 {limit} 秒",
                             f"tcsh/csh ({', '.join(shells['csh'][:3])}): autologout unset or above {limit} s"))
    if "none" in shells:
        who = ", ".join(shells["none"][:5])
        problems.append((f"以下账户的登录 shell 不支持空闲超时（dash、fish 等）：{who}",
                         f"these accounts' login shells have no idle timeout (dash, fish, …): {who}"))
    evidence = evidence_lines(ev) or "no TMOUT in the start-up files a login shell reads"
    if not problems:
        return Outcome.passed(f"TMOUT={t.value}（只读，登录 shell 均受约束）", f"TMOUT={t.value} (readonly, every login shell)", evidence)
    # Alternative: sshd itself ends idle SSH sessions (ChannelTimeout, or ClientAliveCountMax 0 before OpenSSH 8.2).
    views, _note = _sshd_views(facts)
    if views:
        _txt, version = _version(facts, SSH_PKGS)
        ts = [idle_timeout(kv, version) for _label, kv in views]
        if all(x["kind"] == "idle" and x["seconds"] <= limit for x in ts):
            secs = max(x["seconds"] for x in ts)
            return Outcome.passed(f"sshd 在空闲 {secs} 秒后断开 SSH 会话（替代 TMOUT；本地控制台不在此列）",
                                  f"sshd ends idle SSH sessions after {secs} s (instead of TMOUT; console logins not covered)",
                                  evidence + "\n" + "\n".join(x["how"] for x in ts) + "\n" + "\n".join(e for _z, e in problems))
    zh = "；".join(z for z, _e in problems)
    en = "; ".join(e for _z, e in problems)
    return Outcome.failed(zh, en, evidence)


# --------------------------------------------------------------------------------------------- c: remote management
@evaluator("mlps.auth.plaintext_remote_mgmt")
def plaintext_management(facts, host):
    return port_check(facts, {21: "ftp", 23: "telnet", 512: "rexec", 513: "rlogin", 514: "rsh"}, "tcp",
                      "监听明文管理服务", "plaintext management services listening",
                      "未发现明文远程管理服务", "no plaintext management service listening")


@evaluator("mlps.auth.vnc_plaintext")
def vnc_plaintext(facts, host):
    return port_check(facts, {p: "vnc" for p in range(5900, 6000)}, "tcp",
                      "VNC 对外监听", "VNC listening beyond loopback",
                      "未发现对外监听的 VNC", "no VNC listening beyond loopback")


# d: two factors (level 3) lives in mfa.py.
