"""MLPS pack, 访问控制 access control: GB/T 22239-2019 8.1.4.2 (level 3) / 7.1.4.2 (level 2) — the
checks that need logic beyond one YAML expectation (accounts, sudoers, su, umask, MAC)."""
from __future__ import annotations

import re
from fnmatch import fnmatchcase

from checks import parsers
from checks.contract import Outcome, evaluator
from checks.probe_catalogue import named
from checks.facts import GROUP, LOGIN_DEFS, PAM, PASSWD, PROFILE, SHADOW, evidence_lines, files, gathered, os_family
from checks.parsers.common import to_int
from checks.parsers.logins import host_day, last_logins
from checks.parsers.pam import pam_entries
from checks.parsers.sshd import match_blocks, may_match_user
from checks.parsers.sudoers import root_grants, rule_lines

from ._sshd import SSHD_CONFIG_FILES, sshd_views
from ._versions import SSH_PKGS, package_version

# Every sudoers file sudo reads by default (sudo skips sudoers.d names with a '.' or ending in '~').
SUDOERS = named("sudoers")
# Last logins: the host's clock first (so ages are the host's), then the first tool the host has.
# lastlog (shadow-utils) lists every account; lastlog2 (util-linux, replaces it on newer systems)
# lists accounts with a record; `last` only covers what wtmp still holds ("wtmp begins …").
LASTLOG = named("lastlog")
WORLD_WRITABLE_ETC = named("world_writable_etc")
GETENFORCE = named("getenforce")
APPARMOR_ENABLED = named("apparmor_enabled")
APPARMOR_PROFILES = named("apparmor_profiles")

_NO_LOGIN_SHELL = re.compile(r"(nologin|/false|/true|/sync|/halt|/shutdown)$")


def _login_shell(shell: str) -> bool:
    """An empty shell field means /bin/sh, which is a login shell."""
    return not _NO_LOGIN_SHELL.search((shell or "").strip() or "/bin/sh")



def _password_state(row: dict, shadow: dict[str, dict] | None) -> str:
    """'empty', 'set', 'locked' (lock marker, '*' or no shadow entry) or 'unknown' (shadow unread).

    The shadow probe is redacted on the host: field 2 is EMPTY, lock markers (! *) and/or the hash
    scheme ($6$, $y$, DES)."""
    pw = row.get("password", "")
    if pw == "":
        return "empty"
    if pw not in ("x", "*", "!", "!!") and not pw.startswith(("!", "*")):
        return "set"  # a hash kept in /etc/passwd itself
    if pw.startswith(("!", "*")):
        return "locked"
    if shadow is None:
        return "unknown"
    s = shadow.get(row["name"])
    if s is None:
        return "locked"  # 'x' without a shadow entry: pam_unix cannot authenticate it
    f = s["password"]
    if f.startswith(("!", "*")) or f == "":
        return "locked"
    return "empty" if f == "EMPTY" else "set"


_STATE = {"empty": ("空口令", "empty password"), "set": ("已设置口令", "password set"),
          "locked": ("已锁定/无口令", "locked or no password"), "unknown": ("口令状态未知", "password state unknown")}


def _accounts(facts) -> tuple[list[dict] | None, dict[str, dict] | None, Outcome | None]:
    """Local accounts, shadow rows by name (None when /etc/shadow could not be read), or an Outcome."""
    text, bad = gathered(facts, PASSWD, missing=None)
    if bad:
        return None, None, bad
    rows = [r for r in parsers.passwd(text) if r["name"] and not r["name"].startswith(("+", "-"))]
    res = facts.get(SHADOW)
    shadow = {r["name"]: r for r in parsers.shadow(res.stdout)} if res.ok else None
    return rows, shadow, None


def _shadow_why(facts) -> str:
    res = facts.get(SHADOW)
    return res.error or (res.stderr.strip()[:120] or f"exit {res.rc}")


def _uid_min(facts) -> int:
    text, bad = gathered(facts, LOGIN_DEFS)
    return to_int(parsers.keyvalue(text or "").get("UID_MIN"), 1000) if not bad else 1000


# ---------------------------------------------------------------------------------------------
@evaluator("mlps.access.system_accounts_nologin")
def system_accounts_nologin(facts, host, params):
    rows, shadow, bad = _accounts(facts)
    if bad:
        return bad
    uid_min = _uid_min(facts)
    exempt = set(params["system_exempt_accounts"])
    bad_rows, unknown = [], []
    for r in rows:
        uid = to_int(r["uid"], -1)
        if r["name"] in exempt or uid < 0 or not (uid < uid_min or uid >= 65534) or not _login_shell(r["shell"]):
            continue
        state = _password_state(r, shadow)
        line = f"{r['name']} uid={uid} shell={r['shell'] or '(empty: /bin/sh)'} {_STATE[state][1]}"
        if state in ("empty", "set"):
            bad_rows.append(line)
        elif state == "unknown":
            unknown.append(line)
    if bad_rows:
        return Outcome.failed(f"{len(bad_rows)} 个系统账户有登录 shell 且口令可用",
                              f"{len(bad_rows)} system account(s) have a login shell and a usable password",
                              evidence_lines(bad_rows))
    if unknown:
        why = _shadow_why(facts)
        return Outcome.error(f"无法读取 /etc/shadow（{why}），不能确定有登录 shell 的系统账户是否已锁定",
                             f"cannot read /etc/shadow ({why}) to tell whether system accounts with a login shell "
                             "are locked", evidence_lines(unknown))
    return Outcome.passed(f"UID < {uid_min} 的系统账户均不可登录", f"no system account below UID {uid_min} can log in",
                          f"UID_MIN {uid_min}")


@evaluator("mlps.access.vendor_accounts")
def vendor_accounts(facts, host, params):
    rows, shadow, bad = _accounts(facts)
    if bad:
        return bad
    pats = [str(p) for p in params["vendor_accounts"]]
    present, bad_rows, unknown = [], [], []
    for r in rows:
        if not any(fnmatchcase(r["name"], p) for p in pats):
            continue
        present.append(r["name"])
        state = _password_state(r, shadow)
        shell = _login_shell(r["shell"])
        line = f"{r['name']} uid={r['uid']} shell={r['shell'] or '(empty: /bin/sh)'} {_STATE[state][1]}"
        if shell or state in ("empty", "set"):
            bad_rows.append(line)
        elif state == "unknown":
            unknown.append(line)
    if bad_rows:
        return Outcome.failed(f"{len(bad_rows)} 个默认/厂商账户未删除也未锁定",
                              f"{len(bad_rows)} default/vendor account(s) are neither removed nor locked",
                              evidence_lines(bad_rows))
    if unknown:
        why = _shadow_why(facts)
        return Outcome.error(f"无法读取 /etc/shadow（{why}），不能确定默认账户是否已锁定",
                             f"cannot read /etc/shadow ({why}) to tell whether default accounts are locked",
                             evidence_lines(unknown))
    if present:
        return Outcome.passed("默认账户均无登录 shell 且已锁定", "default accounts present are locked without a login shell",
                              "present, locked: " + ", ".join(present))
    return Outcome.passed("不存在默认/厂商账户", "no default/vendor account exists")


# ---------------------------------------------------------------------------------------------



@evaluator("mlps.access.unused_accounts")
def unused_accounts(facts, host, params):
    rows, shadow, bad = _accounts(facts)
    if bad:
        return bad
    text, bad = gathered(facts, LASTLOG, missing=None)
    if bad:
        return bad
    now, tz, tool, seen, begins = last_logins(text)
    if not now or tool in (None, "none"):
        return Outcome.error("主机上没有 lastlog、lastlog2 或 last，无法判断账户最后登录时间",
                             "the host has none of lastlog, lastlog2 or last: last logins cannot be told",
                             text[:300])
    if tool == "lastlog" and not seen:
        return Outcome.error("lastlog 没有列出任何账户（/var/log/lastlog 缺失或不可读？）",
                             "lastlog listed no account (is /var/log/lastlog missing or unreadable?)", text[:300])
    limit = int(params["max_unused_days"])
    cutoff = now - limit * 86400
    today = now // 86400
    uid_min = _uid_min(facts)
    exempt = set(params["unused_exempt_accounts"])
    stale, unknown, shadow_unknown = [], [], []
    for r in rows:
        uid = to_int(r["uid"], -1)
        if r["name"] in exempt or not (uid_min <= uid < 65534) or not _login_shell(r["shell"]):
            continue
        srow = shadow.get(r["name"]) if shadow is not None else None
        if r["password"].startswith("!") or (srow is not None and srow["password"].startswith("!")):
            continue  # locked; '*' (no password) is not skipped: SSH keys may still log in
        if srow is not None and 0 <= to_int(srow["expire"], -1) <= today:
            continue  # the account has expired: disabled
        last = seen.get(r["name"])
        if last is not None and last >= cutoff:
            continue
        since = to_int(srow["lastchg"], 0) if srow is not None else 0
        if last is None and since and since * 86400 >= cutoff:
            continue  # created or reset within the window and not used yet
        if last is None and tool == "last" and (begins is None or begins > cutoff):
            unknown.append(r["name"])
            continue
        if shadow is None:
            shadow_unknown.append(r["name"])
            continue
        if last is None:
            if tool == "last":
                when = f"no login in wtmp since {host_day(begins, tz)}"
            else:
                when = "never logged in" + (f" (password last set {host_day(since * 86400)})" if since else "")
        else:
            when = f"last login {host_day(last, tz)} ({(now - last) // 86400} days ago)"
        stale.append(f"{r['name']} uid={uid}: {when}")
    ev_tool = f"source: {tool}"
    if stale:
        return Outcome.failed(f"{len(stale)} 个可登录账户超过 {limit} 天未使用",
                              f"{len(stale)} loginable account(s) unused for more than {limit} days",
                              evidence_lines(stale) + "\n" + ev_tool)
    if unknown or shadow_unknown:
        names = ", ".join(unknown + shadow_unknown)
        zh = ("wtmp 记录不足 {0} 天".format(limit) if unknown else "无法读取 /etc/shadow")
        en = (f"wtmp does not reach back {limit} days" if unknown else "cannot read /etc/shadow")
        return Outcome.error(f"{zh}，无法判断这些账户是否长期未使用：{names}",
                             f"{en}: cannot tell whether these accounts went unused: {names}", ev_tool)
    return Outcome.passed(f"可登录账户均在 {limit} 天内使用过", f"every loginable account was used within {limit} days",
                          ev_tool)


# ---------------------------------------------------------------------------------------------



_ROOT_OK = ("no", "prohibit-password", "without-password", "forced-commands-only")


@evaluator("mlps.access.sshd_root_login")
def sshd_root_login(facts, host):
    views, note = sshd_views(facts)
    if views is None:
        return note
    _text, version = package_version(facts, SSH_PKGS)
    default = "yes" if version is not None and version < (7, 0) else "prohibit-password"  # OpenSSH 7.0 changed it
    ev, bad = [], []
    for label, kv in views:
        if "root" not in label and "sshd -T" not in label:
            continue  # the ordinary-user view says nothing about root
        v = (kv.get("permitrootlogin") or [default])[0].lower()
        ev.append(f"{label}: permitrootlogin {v}")
        if v not in _ROOT_OK:
            bad.append(f"{label}: permitrootlogin {v}")
    res = facts.get(SSHD_CONFIG_FILES)
    if not res.error and res.rc in (0, 1, 2) and res.stdout.strip():
        for path, criteria, keys in match_blocks(files(res.stdout)):
            v = (keys.get("permitrootlogin") or [""])[0].lower()
            if v and v not in _ROOT_OK and may_match_user(criteria, "root"):
                bad.append(f"{path}: Match {' '.join(criteria)} → PermitRootLogin {v}")
    if note:
        ev.append(note)
    if bad:
        return Outcome.failed("允许 root 通过 SSH 口令登录（" + "；".join(b.split(":")[0] for b in bad[:3]) + "）",
                              "root may log in over SSH with a password", evidence_lines(bad + ev))
    return Outcome.passed("SSH 不允许 root 口令登录", "SSH does not allow root to log in with a password", evidence_lines(ev))


@evaluator("mlps.access.sudo_nopasswd_all")
def sudo_nopasswd_all(facts, host, params):
    text, bad = gathered(facts, SUDOERS)
    if bad:
        return bad
    exempt = set(params["sudo_exempt_users"])  # the audit account is judged like any other
    grants, defaults, unread = root_grants(text)
    found, skipped = [], []
    for g in grants + defaults:
        entry = f"{g.file}: {g.line}  ← {g.reason}" + (f"; {g.note}" if g.note else "")
        (skipped if g.users and set(g.users) <= exempt else found).append(entry)
    note = ("\nnot counted (exempt): " + "; ".join(skipped)) if skipped else ""
    if found:
        return Outcome.failed(f"{len(found)} 条 sudo 规则免口令授予全部命令或等同于全部命令的权限（shell、su、可逃逸到 shell 的命令）",
                              f"{len(found)} sudo rule(s) grant every command, or a command equivalent to it (a shell, su, "
                              "a command with a shell escape), without a password",
                              evidence_lines(found) + note)
    if unread:
        return Outcome.error(f"sudoers 引用了未采集的文件：{', '.join(unread)}，无法判断其中的授权",
                             f"sudoers includes files that were not gathered: {', '.join(unread)}; their grants are unknown",
                             "\n".join(f"@include {u}" for u in unread))
    if not text.strip():
        return Outcome.passed("未发现 sudoers 配置（未安装 sudo）", "no sudoers configuration (sudo not installed)")
    return Outcome.passed("没有免口令授予全部命令或等同权限的 sudo 规则",
                          "no sudo rule grants every command, or an equivalent, without a password", note.strip())


# ---------------------------------------------------------------------------------------------
@evaluator("mlps.access.su_restricted")
def su_restricted(facts, host):
    fam = os_family(facts)
    probes = [PAM[fam]] if fam in PAM else list(PAM.values())
    texts = []
    for p in probes:
        text, bad = gathered(facts, p)
        if bad and len(probes) == 1:
            return bad
        texts.append(text or "")
    su = [ln for t in texts for ln in files(t).get("/etc/pam.d/su", [])]
    present = any("/etc/pam.d/su:" in t for t in texts)
    if not present:
        return Outcome.not_applicable("没有 /etc/pam.d/su", "there is no /etc/pam.d/su")
    ok, weak = [], []
    for e in pam_entries(su):
        if e["type"] != "auth" or e["module"] != "pam_wheel.so":
            continue
        ctl = e["control"]
        strict = ctl in ("required", "requisite") or (ctl.startswith("[") and "default=die" in ctl)
        if strict and "deny" not in e["args"] and "trust" not in e["args"]:
            ok.append(e["line"])
        else:
            weak.append(e["line"])
    if ok:
        return Outcome.passed("su 已由 pam_wheel 限制", "su is restricted by pam_wheel", evidence_lines(ok))
    ev = evidence_lines(weak) if weak else "/etc/pam.d/su: no active pam_wheel line\n" + evidence_lines(
        [ln for ln in su if ln.startswith("auth")], 10)
    return Outcome.failed("/etc/pam.d/su 未启用 pam_wheel 限制", "/etc/pam.d/su does not restrict su with pam_wheel", ev)


# ---------------------------------------------------------------------------------------------
def _octal(v) -> int | None:
    s = str(v).strip()
    return int(s, 8) if re.fullmatch(r"0?[0-7]{1,4}", s) else None


@evaluator("mlps.access.umask")
def umask(facts, host, params):
    want = _octal(params["umask"])
    if want is None:
        return Outcome.error(f"参数 umask 无效：{params['umask']!r}", f"parameter umask is not octal: {params['umask']!r}")
    text, bad = gathered(facts, LOGIN_DEFS)
    if bad:
        return bad
    prof, bad = gathered(facts, PROFILE)
    if bad:
        return bad
    found = []
    value = parsers.keyvalue(text).get("UMASK")
    found.append(("/etc/login.defs", f"UMASK {value}" if value else "UMASK (not set: 022)", value or "022"))
    for path, lines in files(prof).items():
        for ln in lines:
            m = re.match(r"^(?:.*[;&|]\s*|.*\bthen\s+|.*\belse\s+)?umask\s+(\S+)", ln)
            if m and _octal(m.group(1)) is not None:
                found.append((path, ln, m.group(1)))
    loose = [f"{p}: {ln}" for p, ln, v in found if (_octal(v) & want) != want]
    ev_all = evidence_lines([f"{p}: {ln}" for p, ln, _ in found])
    if loose:
        return Outcome.failed(f"umask 宽于 {want:03o}", f"umask more permissive than {want:03o}", evidence_lines(loose))
    return Outcome.passed(f"umask 不宽于 {want:03o}", f"umask at least as strict as {want:03o}", ev_all)


# ---------------------------------------------------------------------------------------------
@evaluator("mlps.access.world_writable_etc")
def world_writable_etc(facts, host, params):
    res = facts.get(WORLD_WRITABLE_ETC)
    if res.error:
        return Outcome.error(f"无法采集 {WORLD_WRITABLE_ETC}：{res.error}", f"could not gather {WORLD_WRITABLE_ETC}: {res.error}")
    if res.rc not in (0, 1) or (res.rc == 1 and not res.stderr.strip() and not res.stdout.strip()):
        return Outcome.error(f"find 失败（退出码 {res.rc}）", f"find failed (exit {res.rc})", res.stderr[:300])
    allowed = [str(p) for p in params["world_writable_allowed"]]
    hits = [ln.strip() for ln in res.stdout.splitlines()
            if ln.strip().startswith("/") and not any(fnmatchcase(ln.strip(), p) for p in allowed)]
    partial = " (some directories were not readable)" if res.rc == 1 else ""
    if hits:
        return Outcome.failed(f"/etc 下有 {len(hits)} 个任何用户可写的文件", f"{len(hits)} world-writable file(s) under /etc",
                              evidence_lines(sorted(hits)))
    return Outcome.passed("/etc 下没有任何用户可写的文件", "no world-writable file under /etc" + partial)


# ---------------------------------------------------------------------------------------------
def _declared(host, name: str) -> str:
    """A fact the inventory declares for the host (``facts: {NAME: ...}``), bounded, or ''."""
    decl = getattr(host, "facts", None)
    value = decl.get(name) if isinstance(decl, dict) else None
    return str(value)[:100] if value else ""


def _mac_state(facts, params):
    """(what enforces: 'selinux' | 'apparmor' | None, evidence lines, problem (zh, en) or None, unreadable)."""
    seen, problem, unreadable = [], None, False
    se = facts.get(GETENFORCE)
    if se.ok:
        mode = se.stdout.strip()
        seen.append(f"getenforce: {mode[:40]}")
        if mode.lower() == "enforcing":
            return "selinux", seen, None, False
        if mode.lower() == "permissive":
            problem = ("SELinux 处于 Permissive 模式，只记录不拦截", "SELinux is permissive: it logs and blocks nothing")
        elif mode.lower() == "disabled":
            problem = ("SELinux 已禁用", "SELinux is disabled")
    elif se.error:
        seen.append(f"getenforce: {se.error}")
        unreadable = True
    else:
        seen.append("getenforce: not available")
    aa = facts.get(APPARMOR_ENABLED)
    if aa.ok and aa.stdout.strip().upper().startswith("Y"):
        prof = facts.get(APPARMOR_PROFILES)
        if prof.ok:
            modes = [ln.rstrip().rsplit("(", 1)[-1].rstrip(")") for ln in prof.stdout.splitlines() if ln.strip()]
            enforced = [ln for ln in prof.stdout.splitlines() if ln.rstrip().endswith("(enforce)")]
            seen.append(f"apparmor: enabled, {len(modes)} profile(s) loaded, {len(enforced)} in enforce mode")
            if len(enforced) >= int(params["min_enforced_profiles"]):
                return "apparmor", seen + enforced[:10], None, False
            problem = problem or (f"AppArmor 已启用，但 enforce 模式的配置文件只有 {len(enforced)} 个（少于 {params['min_enforced_profiles']}），"
                                  "其余为 complain（只记录）", f"AppArmor is enabled but only {len(enforced)} profile(s) enforce "
                                  f"(fewer than {params['min_enforced_profiles']}); the rest only complain (log)")
        else:
            seen.append(f"apparmor: enabled; profiles unreadable ({prof.error or prof.stderr.strip()[:100] or prof.rc})")
            unreadable = True
    elif aa.ok:
        seen.append(f"apparmor: enabled={aa.stdout.strip()[:10]}")
    else:
        seen.append("apparmor: not in the kernel" if aa.missing() else f"apparmor: {aa.error or aa.rc}")
        unreadable = unreadable and not aa.missing()
    return None, seen, problem, unreadable


@evaluator("mlps.access.mandatory_access_control")
def mandatory_access_control(facts, host, params):
    what, seen, problem, unreadable = _mac_state(facts, params)
    if what == "selinux":
        return Outcome.passed("SELinux 处于 Enforcing 模式（安全标记是否覆盖重要主客体见 mlps.access.security_labels）",
                              "SELinux is enforcing (whether labels cover important subjects and objects: "
                              "mlps.access.security_labels)", "\n".join(seen))
    if what == "apparmor":
        return Outcome.passed("AppArmor 已启用且有配置文件处于 enforce 模式（安全标记见 mlps.access.security_labels）",
                              "AppArmor is enabled with profiles enforcing (security labels: mlps.access.security_labels)",
                              "\n".join(seen))
    product = _declared(host, "mac_product")
    if product:
        return Outcome.manual(f"主机上未见 SELinux/AppArmor 强制访问控制生效；清单声明使用安全加固产品 {product}，需人工证明其强制访问控制策略",
                              "no enforcing SELinux/AppArmor on the host; the inventory declares the hardening product "
                              f"{product}, whose mandatory access-control policy needs an attestation", "\n".join(seen))
    if unreadable and problem is None:
        return Outcome.error("无法读取强制访问控制状态（SELinux/AppArmor）", "cannot read the mandatory access-control state "
                             "(SELinux/AppArmor)", "\n".join(seen))
    zh, en = problem or ("未启用任何强制访问控制（无 SELinux、AppArmor）", "no mandatory access control at all (no SELinux, "
                         "no AppArmor)")
    return Outcome.failed(f"强制访问控制未生效：{zh}", f"mandatory access control not in force: {en}", "\n".join(seen))


SESTATUS = named("sestatus")
SEMANAGE_LOGIN = named("semanage_login")


@evaluator("mlps.access.security_labels")
def security_labels(facts, host, params):
    what, seen, problem, unreadable = _mac_state(facts, params)
    product = _declared(host, "mac_product")
    if what != "selinux":
        if what is None and product:
            return Outcome.manual(f"清单声明使用安全加固产品 {product}，需人工证明其对重要主客体设置了安全标记",
                                  f"the inventory declares the hardening product {product}: an attestation must show it "
                                  "labels important subjects and objects", "\n".join(seen))
        if what == "apparmor":
            return Outcome.failed("AppArmor 按程序路径限制进程，不对主体和客体设置安全标记，本项最多部分符合",
                                  "AppArmor confines programs by path and puts no security labels on subjects and objects: "
                                  "the item is partly met at most", "\n".join(seen))
        if unreadable and problem is None:
            return Outcome.error("无法读取强制访问控制状态（SELinux/AppArmor）", "cannot read the mandatory access-control state",
                                 "\n".join(seen))
        return Outcome.failed("没有生效的基于安全标记的强制访问控制", "no label-based mandatory access control in force",
                              "\n".join(seen))
    st = facts.get(SESTATUS)
    policy = ""
    if st.ok:
        for ln in st.stdout.splitlines():
            k, _, v = ln.partition(":")
            if k.strip().lower() == "loaded policy name":
                policy = v.strip()[:40]
        seen.append(f"sestatus: loaded policy {policy or '?'}")
    else:
        seen.append(f"sestatus: {st.error or st.stderr.strip()[:80] or st.rc}")
    if policy and policy in [str(p) for p in params["label_policies"]]:
        return Outcome.passed(f"SELinux 以 {policy} 策略强制执行，所有主体和客体带安全级别标记",
                              f"SELinux enforces the {policy} policy: every subject and object carries a sensitivity label",
                              "\n".join(seen))
    sl = facts.get(SEMANAGE_LOGIN)
    unconfined = []
    if sl.ok:
        rows = [ln.split() for ln in sl.stdout.splitlines() if ln.strip()]
        rows = [r for r in rows if len(r) >= 2 and r[0] not in ("Login", "Name")]
        unconfined = [f"{r[0]} -> {r[1]}" for r in rows if r[1] == "unconfined_u"]
        seen.append("semanage login -l: " + "; ".join(f"{r[0]} -> {r[1]}" for r in rows[:10]))
        if rows and not unconfined and params["confined_users_count"]:
            return Outcome.passed(f"SELinux（{policy or '?'}）强制执行，且所有登录账户映射到受限 SELinux 用户，主体与客体均带标记",
                                  f"SELinux ({policy or '?'}) enforces and every login maps to a confined SELinux user: "
                                  "subjects and objects are labelled", "\n".join(seen))
    elif sl.missing() and not sl.error:
        # mapping logins to confined users needs semanage: without it they are the policy's defaults (unconfined_u)
        seen.append("semanage: not installed (login mappings are the policy defaults, __default__ -> unconfined_u)")
    else:
        seen.append(f"semanage login -l: {sl.error or sl.stderr.strip()[:80] or sl.rc}")
        return Outcome.error("无法读取 SELinux 登录映射（semanage login -l）", "cannot read the SELinux login mappings "
                             "(semanage login -l)", "\n".join(seen))
    return Outcome.failed(f"SELinux 使用 {policy or '默认'} 策略，登录用户{('（' + '、'.join(unconfined[:5]) + '）') if unconfined else ''}"
                          "不受限制，只限定了部分服务进程，未对重要主体设置安全标记，本项最多部分符合",
                          f"SELinux uses the {policy or 'default'} policy with unconfined logins"
                          f"{(' (' + ', '.join(unconfined[:5]) + ')') if unconfined else ''}: it confines some services "
                          "only and labels no important subject, so the item is partly met at most", "\n".join(seen))


# ---------------------------------------------------------------------------------------------
# What the host shows of who holds admin rights (admin-group members, sudo rules), as evidence for the
# reviewer of the items an attestation answers.
_ADMIN_GROUPS = ("root", "sudo", "wheel", "adm")


def _privilege_summary(facts) -> str:
    out = []
    res = facts.get(GROUP)
    if res.ok:
        for r in parsers.colon_table(res.stdout, ("name", "password", "gid", "members")):
            if r["name"] in _ADMIN_GROUPS:
                out.append(f"group {r['name']}: {r['members'] or '(no members listed)'}")
    else:
        out.append(f"/etc/group: not read ({res.error or res.stderr.strip()[:80] or res.rc})")
    res = facts.get(SUDOERS)
    if res.error or res.rc not in (0, 1, 2):
        out.append(f"sudoers: not read ({res.error or res.stderr.strip()[:80] or res.rc})")
    else:
        rules = [f"{p}: {s}" for p, s in rule_lines(res.stdout)]
        out.append(f"sudo rules: {len(rules)}")
        out.extend(rules[:15])
    return "\n".join(out)


AUTH_KEYS = named("authorized_key_owners")
ROOT_KEYS = named("root_authorized_keys")
POLICY_FILES = named("policy_files")
_KEY_OWNER = re.compile(r"^([A-Za-z0-9._-]+)@")


def _root_key_comments(text: str) -> str:
    """root's authorized_keys as 'path: comment' lines (the form of AUTH_KEYS), keys dropped."""
    out = []
    for ln in text.splitlines()[:500]:
        f = ln.split()
        if not f or f[0].startswith("#"):
            continue
        at = next((i for i, x in enumerate(f) if re.match(r"^(ssh-|ecdsa-|sk-)", x)), None)
        out.append("/root/.ssh/authorized_keys: " + (" ".join(f[at + 2:]) if at is not None and len(f) > at + 2 else "-"))
    return "\n".join(out)


def _key_owners(text: str) -> dict[str, set[str]]:
    """{authorized_keys file: the people named by its keys' comments (user part of user@host)}; keys without a
    comment name nobody (they cannot show sharing either way)."""
    out: dict[str, set[str]] = {}
    for ln in text.splitlines()[:2000]:
        path, sep, comment = ln.partition(": ")
        if not sep or not path.startswith("/"):
            continue
        m = _KEY_OWNER.match(comment.strip())
        out.setdefault(path[:200], set())
        if m:
            out[path[:200]].add(m.group(1).lower()[:40])
    return out


@evaluator("mlps.access.shared_accounts")
def shared_accounts(facts, host, params):
    rows, shadow, bad = _accounts(facts)
    if bad:
        return bad
    loginable = [r for r in rows if _login_shell(r.get("shell", ""))]
    if not loginable:
        return Outcome.passed("没有任何可登录账户", "no account can log in", "")
    problems_zh, problems_en, ev = [], [], []
    listing = []
    root_keys = facts.get(ROOT_KEYS)
    if root_keys.ok:
        listing.append(_root_key_comments(root_keys.stdout))
    elif not root_keys.missing():
        ev.append(f"/root/.ssh/authorized_keys: not read ({root_keys.error or root_keys.stderr.strip()[:80] or root_keys.rc})")
    keys = facts.get(AUTH_KEYS)
    if keys.ok:
        listing.append(keys.stdout)
    else:
        ev.append(f"/home/*/.ssh/authorized_keys: not read ({keys.error or keys.stderr.strip()[:80] or keys.rc})")
    for path, people in sorted(_key_owners("\n".join(listing)).items()):
        if len(people) >= int(params["max_key_owners"]) + 1:
            problems_zh.append(f"{path} 中有 {len(people)} 个不同人员的密钥")
            problems_en.append(f"{path} holds keys of {len(people)} different people")
            ev.append(f"{path}: keys of {', '.join(sorted(people)[:8])}")
    generic = {str(n).lower() for n in params["shared_names"]}
    for r in loginable:
        if r["name"].lower() in generic and _password_state(r, shadow) in ("set", "empty"):
            problems_zh.append(f"可登录的通用账户 {r['name']}")
            problems_en.append(f"loginable generic account {r['name']}")
            ev.append(f"{r['name']}: uid {r.get('uid', '?')}, shell {r.get('shell', '')[:40]}, "
                      f"{_STATE[_password_state(r, shadow)][1]}")
    if problems_zh:
        return Outcome.failed("存在多人共用账户的迹象：" + "；".join(problems_zh[:5]),
                              "signs of accounts shared by several people: " + "; ".join(problems_en[:5]), evidence_lines(ev))
    names = [r["name"] for r in loginable]
    return Outcome.manual(f"未见共用迹象；需以账户—责任人登记表证明这 {len(names)} 个可登录账户各属一人",
                          f"no sign of sharing; an account-to-person register must show each of these {len(names)} "
                          "loginable accounts belongs to one person", evidence_lines([", ".join(names[:40])] + ev))


def _full_grant(line: str) -> bool:
    """Whether a user specification grants every command (its command list contains ALL)."""
    _, sep, rest = line.partition("=")
    if not sep:
        return False
    body = re.sub(r"\([^)]*\)", " ", rest)
    body = re.sub(r"\b[A-Z_]+:", " ", body)  # tags: NOPASSWD:, SETENV:, ...
    return any(c.strip() == "ALL" for c in body.split(","))


def _principals(line: str, groups: dict[str, list[str]]) -> list[str]:
    who = line.split(None, 1)[0] if line.split() else ""
    out = []
    for w in who.split(","):
        w = w.strip()
        if w.startswith("%"):
            out += [f"{m} (%{w[1:]})" for m in groups.get(w[1:], [])] or [w]
        elif w:
            out.append(w)
    return out


@evaluator("mlps.access.admin_separation")
def admin_separation(facts, host):
    text, bad = gathered(facts, SUDOERS)
    if bad:
        return bad
    gres = facts.get(GROUP)
    groups = ({r["name"]: [m for m in r["members"].split(",") if m] for r in
               parsers.colon_table(gres.stdout, ("name", "password", "gid", "members"))} if gres.ok else {})
    full, limited = [], []
    for path, line in rule_lines(text):
        (full if _full_grant(line) else limited).append((path, line))
    full_who = sorted({p for _, ln in full for p in _principals(ln, groups) if p != "root"})
    summary = _privilege_summary(facts)
    if not limited:
        who_zh = "、".join(full_who[:10]) or "仅 root"
        who_en = ", ".join(full_who[:10]) or "root only"
        return Outcome.failed(f"管理权限只有“全部权限”一种（{who_zh}），没有按系统、安全、审计职责分开授权的账户",
                              f"administration is all-or-nothing ({who_en}): no account is granted a separate system, "
                              "security or audit duty", summary)
    return Outcome.manual("主机上有按命令限定的 sudo 授权；需人工证明系统、安全、审计管理员已分离（下列为管理组成员与 sudo 规则）",
                          "the host has command-limited sudo grants; an attestation must show system, security and audit "
                          "administrators are separate (admin-group members and sudo rules below)", summary)


def _policy_files(text: str) -> list[tuple[str, str, str, str]]:
    out = []
    for ln in text.splitlines()[:3000]:
        parts = ln.rsplit(None, 3)
        if len(parts) == 4 and re.fullmatch(r"[0-7]{3,4}", parts[1]):
            out.append((parts[0][:200], parts[1], parts[2][:40], parts[3][:40]))
    return out


@evaluator("mlps.access.access_policy")
def access_policy(facts, host):
    res = facts.get(POLICY_FILES)
    if res.error:
        return Outcome.error(f"无法读取访问控制策略文件的属性：{res.error}", f"cannot read the access-control policy files' "
                             f"modes: {res.error}")
    entries = _policy_files(res.stdout)
    if not entries:
        return Outcome.error("未读到任何访问控制策略文件的属性", "no mode of any access-control policy file was read",
                             res.stdout[:200] or res.stderr[:200])
    loose = [f"{n} {m} {u}:{g}" for n, m, u, g in entries if u != "root" or int(m, 8) & 0o022]
    if loose:
        return Outcome.failed(f"{len(loose)} 个访问控制策略文件或目录可被 root 以外的主体修改，策略不再只由授权主体配置",
                              f"{len(loose)} access-control policy file(s) or directories can be changed by someone other "
                              "than root, so the policy is no longer set by an authorised subject only",
                              evidence_lines(loose, 15))
    return Outcome.manual(f"{len(entries)} 个访问控制策略文件仅 root 可改；需人工证明策略由授权的安全管理员制定和审批（下列为当前管理组与 sudo 规则）",
                          f"{len(entries)} access-control policy files are writable by root only; an attestation must "
                          "show an authorised security administrator defined and approved the policy (admin groups and "
                          "sudo rules now in force below)", _privilege_summary(facts))
