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

from audits.model.probes import Probe
from checks import parsers
from checks.contract import Outcome, check

from ._listen import port_check
from ._shared import (LOGIN_DEFS, PAM, PASSWD, PROFILE, SECURITY_CONF, SHADOW, SS, SSHD_T, conf, evidence_lines,
                      files, gathered, pam_entries)

L3_A, L2_A = "GB/T 22239-2019 8.1.4.1 a", "GB/T 22239-2019 7.1.4.1 a"
L3_B, L2_B = "GB/T 22239-2019 8.1.4.1 b", "GB/T 22239-2019 7.1.4.1 b"
L3_C, L2_C = "GB/T 22239-2019 8.1.4.1 c", "GB/T 22239-2019 7.1.4.1 c"

# Probes only this family needs (read-only; sudo only where root is needed to see the data).
# find prints hosts.equiv/shosts.equiv under /etc (and /etc/ssh) and .rhosts/.shosts in /etc/skel, /root and
# /home/*; /etc is a start point (not /etc/hosts.equiv itself) so that a missing file is not an error.
RHOSTS = Probe("command", "find /etc /root /home -maxdepth 2 -name hosts.equiv -o -name shosts.equiv "
                          "-o -name .rhosts -o -name .shosts", True)
PWHISTORY = Probe("file", "/etc/security/pwhistory.conf")

PAM_PROBES = {"debian": [PAM["debian"], SECURITY_CONF], "rhel": [PAM["rhel"], SECURITY_CONF]}
# Password changes: Debian's passwd includes common-password; RHEL's passwd uses system-auth and
# sshd (expired passwords) password-auth, so both must carry the policy.
PASSWORD_STACKS = {"debian": ("/etc/pam.d/common-password",),
                   "rhel": ("/etc/pam.d/system-auth", "/etc/pam.d/password-auth")}
# Logins: the service file if present (it includes the common stack), else the common stack itself.
LOGIN_STACKS = {"debian": {"ssh": ("/etc/pam.d/sshd", "/etc/pam.d/common-auth"),
                           "console": ("/etc/pam.d/login", "/etc/pam.d/common-auth")},
                "rhel": {"ssh": ("/etc/pam.d/sshd", "/etc/pam.d/password-auth"),
                         "console": ("/etc/pam.d/login", "/etc/pam.d/system-auth")}}
QUALITY = ("pam_pwquality.so", "pam_cracklib.so")
LOCKOUT = ("pam_faillock.so", "pam_tally2.so", "pam_tally.so")
CREDITS = ("dcredit", "ucredit", "lcredit", "ocredit")
# Built-in defaults: libpwquality >= 1.3 (Debian/Ubuntu, RHEL 8+); libpwquality 1.2.x (CentOS 7) and
# pam_cracklib used minlen 9 with a credit of 1 per class.
PWQ_DEFAULTS = {"minlen": 8, "dcredit": 0, "ucredit": 0, "lcredit": 0, "ocredit": 0, "minclass": 0}
OLD_DEFAULTS = {"minlen": 9, "dcredit": 1, "ucredit": 1, "lcredit": 1, "ocredit": 1, "minclass": 0}
PWQ_MAIN = "/etc/security/pwquality.conf"
FAILLOCK_CONF = "/etc/security/faillock.conf"


# --------------------------------------------------------------------------------------------- helpers
def _int(value, default=None):
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return default


def _nocomment(line: str) -> str:
    return re.sub(r"\s+#.*$", "", line).strip()


def _family(facts) -> str | None:
    """debian/rhel from the host's os family; for an unknown family, from the PAM layout found."""
    fam = facts.meta.get("os_family", "")
    if fam in PAM:
        return fam
    for name, marker in (("rhel", "/etc/pam.d/system-auth:"), ("debian", "/etc/pam.d/common-auth:")):
        res = facts.get(PAM[name])
        if not res.error and marker in res.stdout:
            return name
    return None


def _pam(facts):
    """(family, {path: [lines]}) or (None, Outcome to return)."""
    fam = _family(facts)
    if fam is None:
        return None, Outcome.error("无法判断 PAM 配置布局（既无 common-auth 也无 system-auth）",
                                   "cannot tell the PAM layout (neither common-auth nor system-auth found)")
    text, bad = gathered(facts, PAM[fam])
    if bad:
        return None, bad
    return fam, {p: [_nocomment(ln) for ln in lines] for p, lines in files(text).items()}


def _stack(pam_files: dict, path: str | None, kind: str, _seen: set | None = None) -> list[dict]:
    """Entries of one type (auth/password/...) of a PAM file, includes and substacks followed."""
    seen = set() if _seen is None else _seen
    if not path or path in seen or path not in pam_files:
        return []
    seen.add(path)
    out = []
    for e in pam_entries(pam_files[path]):
        if e["type"] == "include":
            parts = e["line"].split()
            if len(parts) > 1:
                out += _stack(pam_files, "/etc/pam.d/" + parts[1], kind, seen)
        elif e["type"] == kind:
            if e["control"] in ("include", "substack"):
                out += _stack(pam_files, "/etc/pam.d/" + e["module"], kind, seen)
            else:
                out.append({**e, "file": path})
    return out


def _enforcing(entry) -> bool:
    """optional/sufficient modules cannot make a request fail."""
    return entry["control"] not in ("optional", "sufficient")


def _shown(entries) -> str:
    return evidence_lines(f"{e['file']}: {e['line']}" for e in entries)


def _security(facts):
    """{path: [lines]} of pwquality/faillock/useradd files, plus the raw text (comments kept)."""
    text, bad = gathered(facts, SECURITY_CONF)
    if bad:
        return None, None, bad
    return files(text), text, None


def _pwq_conf(sec_files: dict, raw: str) -> tuple[dict, dict]:
    """libpwquality settings from the config files: (settings, {setting: file it came from})."""
    defaults = dict(PWQ_DEFAULTS)
    # libpwquality < 1.3 (CentOS 7) ships its pwquality.conf documenting "# dcredit = 1" etc.
    for ln in raw.splitlines():
        path, _, body = ln.partition(":")
        if path == PWQ_MAIN and re.match(r"^\s*#\s*[dulo]credit\s*=\s*1\s*$", body):
            defaults = dict(OLD_DEFAULTS)
            break
    settings, source = dict(defaults), {k: "default" for k in defaults}
    order = sorted(p for p in sec_files if p.startswith(PWQ_MAIN + ".d/")) + [PWQ_MAIN]
    for path in order:
        for k, v in conf([_nocomment(x) for x in sec_files.get(path, [])]).items():
            settings[k.lower()], source[k.lower()] = v, path
    return settings, source


def _quality_settings(entry, pwq_settings: dict, pwq_source: dict) -> tuple[dict, dict]:
    if entry["module"] == "pam_cracklib.so":  # reads only its own arguments
        s, src = dict(OLD_DEFAULTS), {k: "default" for k in OLD_DEFAULTS}
    else:
        s, src = dict(pwq_settings), dict(pwq_source)
    for k, v in entry["args"].items():
        s[k.lower()], src[k.lower()] = v, "PAM"
    return s, src


def _min_length(s: dict, module: str) -> tuple[int, str]:
    floor = 5 if module == "pam_cracklib.so" else 6  # both modules raise a smaller minlen to this
    minlen = max(_int(s.get("minlen"), 8), floor)
    credit = sum(max(_int(s.get(c), 0), 0) for c in CREDITS)
    eff = max(minlen - credit, 1)
    how = f"minlen={minlen}" + (f" - positive credits {credit}" if credit else "") + f" → {eff}"
    return eff, how


def _classes(s: dict) -> tuple[int, str]:
    minclass = min(max(_int(s.get("minclass"), 0), 0), 4)
    required = [c for c in CREDITS if _int(s.get(c), 0) < 0]
    n = max(minclass, len(required))
    return n, f"minclass={minclass}, negative credits: {','.join(required) or 'none'} → {n}"


def _quality(facts):
    """Per password stack file: (path, enforcing quality entries with settings, all password entries, file present)."""
    fam, pam = _pam(facts)
    if fam is None:
        return None, pam
    sec, raw, bad = _security(facts)
    if bad:
        return None, bad
    pwq, src = _pwq_conf(sec, raw)
    out = []
    for path in PASSWORD_STACKS[fam]:
        entries = _stack(pam, path, "password")
        q = []
        for e in entries:
            if e["module"] not in QUALITY:
                continue
            s, s_src = _quality_settings(e, pwq, src)
            if not _enforcing(e):
                e["why"] = f"control {e['control']} only warns"
            elif str(s.get("enforcing", "1")).strip() == "0":
                e["why"] = f"enforcing=0 ({s_src.get('enforcing')}) only warns"
            else:
                q.append({**e, "settings": s, "source": s_src})
        out.append((path, q, entries, path in pam))
    return out, None


def _missing_stack(rows) -> Outcome | None:
    gone = [path for path, _q, _e, present in rows if not present]
    if gone:
        return Outcome.failed(f"缺少 PAM 口令配置文件：{', '.join(gone)}", f"PAM password stack missing: {', '.join(gone)}",
                              "\n".join(f"{p}: (missing)" for p in gone))
    return None


# --------------------------------------------------------------------------------------------- a: accounts
@check(
    id="mlps.auth.empty_passwords",
    title={"zh": "不存在空口令账户", "en": "No account has an empty password"},
    severity="critical",
    refs=[L3_A, L2_A],
    probes=["sudo file:/etc/shadow"],
    rationale={"zh": "空口令账户无需鉴别即可登录，属于高风险项（弱口令/空口令）。/etc/shadow 中 “!”、“*” 表示锁定，不是空口令。",
               "en": "An account with an empty password logs in without authentication, a high-risk finding. "
                     "'!' and '*' in /etc/shadow mean locked, not empty."},
    remediation={"zh": "为这些账户设置口令（passwd 用户名）或锁定（passwd -l 用户名）。",
                 "en": "Set a password (passwd USER) or lock the account (passwd -l USER)."},
)
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


@check(
    id="mlps.auth.duplicate_ids",
    title={"zh": "用户名和 UID 均不重复", "en": "No duplicate user names or UIDs"},
    severity="medium",
    refs=[L3_A, L2_A],
    probes=[PASSWD],
    rationale={"zh": "身份标识应具有唯一性。两个账户共用一个 UID 时系统视其为同一人，审计记录无法区分操作者；"
                     "重复的用户名则使口令与权限的归属不确定。",
               "en": "Identities must be unique. Two accounts sharing a UID are the same user to the kernel, so the "
                     "audit trail cannot tell who acted; a repeated name makes it unclear which entry's password applies."},
    remediation={"zh": "用 awk -F: '{print $3}' /etc/passwd | sort | uniq -d 找出重复 UID，"
                       "为其中一个账户分配新 UID（usermod -u 新UID 用户名）或删除多余条目（userdel / vipw）。",
                 "en": "Find duplicates with awk -F: '{print $3}' /etc/passwd | sort | uniq -d, then give one account a "
                       "new UID (usermod -u NEWUID USER) or remove the extra entry (userdel / vipw)."},
)
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


@check(
    id="mlps.auth.rhosts",
    title={"zh": "不存在 hosts.equiv 与 .rhosts/.shosts 信任文件", "en": "No hosts.equiv or .rhosts/.shosts trust files"},
    severity="medium",
    refs=[L3_A, L2_A],
    probes=[RHOSTS],
    rationale={"zh": "hosts.equiv 和 .rhosts/.shosts 让来自受信主机的用户不经口令鉴别即可登录（rsh/rlogin，"
                     "以及启用基于主机鉴别的 SSH），绕过了每次登录都须鉴别的要求。测评指导书要求核查这些文件。",
               "en": "hosts.equiv and .rhosts/.shosts let users from trusted hosts log in without a password (rsh/rlogin, "
                     "and SSH host-based authentication), bypassing authentication of every login. Assessors check for them."},
    remediation={"zh": "删除这些文件：rm -f /etc/hosts.equiv /etc/shosts.equiv /etc/ssh/shosts.equiv /etc/skel/.rhosts "
                       "/root/.rhosts /root/.shosts /home/*/.rhosts /home/*/.shosts；并确认 sshd 中 HostbasedAuthentication no、IgnoreRhosts yes。",
                 "en": "Delete them: rm -f /etc/hosts.equiv /etc/shosts.equiv /etc/ssh/shosts.equiv /etc/skel/.rhosts "
                       "/root/.rhosts /root/.shosts /home/*/.rhosts /home/*/.shosts; keep HostbasedAuthentication no and IgnoreRhosts yes in sshd."},
)
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
@check(
    id="mlps.auth.pwquality_in_pam",
    title={"zh": "修改口令时启用口令复杂度检查模块", "en": "A password-quality module checks new passwords"},
    severity="medium",
    refs=[L3_A, L2_A],
    probes=PAM_PROBES,
    rationale={"zh": "口令应具有复杂度要求；Linux 上由 PAM 的 pam_pwquality（旧系统 pam_cracklib）在修改口令时检查。"
                     "Debian/Ubuntu 默认未安装 libpam-pwquality，仅有 pam_unix 的 obscure 检查，不足以满足要求。"
                     "RHEL 系须同时出现在 system-auth 和 password-auth 中；以 optional/sufficient 方式或 enforcing=0 "
                     "加载时只提示不拦截，不算启用。",
               "en": "Passwords must meet complexity rules; on Linux pam_pwquality (pam_cracklib on old systems) checks "
                     "them when they change. Debian/Ubuntu do not install libpam-pwquality by default; pam_unix's "
                     "'obscure' alone is not enough. On RHEL it must be in both system-auth and password-auth; loaded as "
                     "optional/sufficient or with enforcing=0 it only warns and does not count."},
    remediation={"zh": "Debian/Ubuntu：apt install libpam-pwquality（在 /etc/pam.d/common-password 加入 "
                       "“password requisite pam_pwquality.so retry=3”）。RHEL 8+：authselect 默认配置已包含 pam_pwquality，"
                       "确认 authselect current 并在 /etc/security/pwquality.conf 中设置策略；RHEL 7：authconfig --update。",
                 "en": "Debian/Ubuntu: apt install libpam-pwquality (adds \"password requisite pam_pwquality.so retry=3\" "
                       "to /etc/pam.d/common-password). RHEL 8+: the authselect profiles include pam_pwquality; check "
                       "authselect current and set the policy in /etc/security/pwquality.conf; RHEL 7: authconfig --update."},
)
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


@check(
    id="mlps.auth.password_min_length",
    title={"zh": "口令最小长度不少于 8 位", "en": "Passwords are at least 8 characters long"},
    severity="medium",
    refs=[L3_A, L2_A],
    probes=PAM_PROBES,
    params={"min_password_length": 8},
    rationale={"zh": "各测评机构均要求口令长度至少 8 位（2025 版报告模板把少于 6 位视为弱口令）。有效最小长度按 libpwquality "
                     "计算：pwquality.conf.d/*.conf、pwquality.conf、PAM 模块参数依次覆盖；正的 credit 会降低实际要求的长度"
                     "（minlen=8 且四类 credit 各为 1 时，4 位即可通过）。CentOS 7 的 libpwquality 1.2 和 pam_cracklib "
                     "默认 minlen=9、各 credit=1。login.defs 中的 PASS_MIN_LEN 在 PAM 系统上不起作用。",
               "en": "Assessors everywhere require at least 8 characters (the 2025 report template treats fewer than 6 as "
                     "a weak password). The effective minimum follows libpwquality: pwquality.conf.d/*.conf, "
                     "pwquality.conf and the PAM module arguments override in turn; positive credits lower the real "
                     "minimum (minlen=8 with a credit of 1 for each class accepts 4 characters). CentOS 7's libpwquality "
                     "1.2 and pam_cracklib default to minlen=9 with credits of 1. PASS_MIN_LEN in login.defs is ignored "
                     "on PAM systems."},
    remediation={"zh": "在 /etc/security/pwquality.conf 中设置 “minlen = 8”（或更大）并将 dcredit/ucredit/lcredit/ocredit "
                       "设为 0 或负数；若 PAM 行中带有 minlen= 或 credit 参数，同时修改该行。",
                 "en": "Set \"minlen = 8\" (or more) in /etc/security/pwquality.conf and dcredit/ucredit/lcredit/ocredit to "
                       "0 or negative values; if the PAM line carries minlen= or credit arguments, change them there too."},
)
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
        unix_min = max((_int(e["args"].get("minlen"), 0) for e in unix), default=0)
        if q:
            eff, how = min((_min_length(e["settings"], e["module"]) for e in q), key=lambda t: t[0])
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


@check(
    id="mlps.auth.password_classes",
    title={"zh": "口令须包含至少 3 类字符", "en": "Passwords must mix at least 3 character classes"},
    severity="medium",
    refs=[L3_A, L2_A],
    probes=PAM_PROBES,
    params={"min_password_classes": 3},
    rationale={"zh": "口令复杂度要求由大写、小写、数字、特殊字符四类中的若干类组合构成。要求的类数由 minclass 或负的 "
                     "credit（某类至少 N 个）决定，取两者较大者。各来源阈值不同：测评指导书 CentOS 7 条目为 2 类，"
                     "通行做法为 3 类，指导书 RHEL/Debian 条目要求 4 类都有（u/l/d/ocredit=-1）；默认 3，可按计划调整。",
               "en": "Complexity means mixing upper case, lower case, digits and symbols. The number of classes required "
                     "is the larger of minclass and the count of negative credits (at least N of a class). Sources differ: "
                     "the testing guide's CentOS 7 row asks for 2, common practice is 3, the guide's RHEL/Debian rows ask "
                     "for all 4 (u/l/d/ocredit=-1); the default is 3 and a plan may change it."},
    remediation={"zh": "在 /etc/security/pwquality.conf 中设置 “minclass = 3”（或 dcredit = -1、ucredit = -1、lcredit = -1、"
                       "ocredit = -1 要求每类至少一个）。RHEL 上勿在 system-auth 中手工改动，用 authselect 管理 PAM。",
                 "en": "Set \"minclass = 3\" in /etc/security/pwquality.conf (or dcredit = -1, ucredit = -1, lcredit = -1, "
                       "ocredit = -1 to require one of each). On RHEL keep PAM under authselect rather than editing system-auth."},
)
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
            n, how = min((_classes(e["settings"]) for e in q), key=lambda t: t[0])
            results.append((path, n, f"{q[0]['module']} {how}"))
        else:
            results.append((path, 0, "no pam_pwquality/pam_cracklib → 0"))
    ev = "\n".join(f"{p}: {how}" for p, _, how in results)
    low = min(n for _, n, _ in results)
    if low < want:
        return Outcome.failed(f"口令只要求 {low} 类字符，低于 {want} 类", f"passwords need only {low} character class(es), below {want}",
                              ev)
    return Outcome.passed(f"口令要求至少 {low} 类字符", f"passwords need at least {low} character classes", ev)


@check(
    id="mlps.auth.password_enforce_for_root",
    title={"zh": "root 修改口令时同样执行复杂度检查", "en": "Password-quality rules also apply to root"},
    severity="low",
    refs=[L3_A, L2_A],
    probes=PAM_PROBES,
    rationale={"zh": "默认情况下 root 设置口令时 pam_pwquality 只给出警告，管理员仍可为自己或他人设置弱口令。"
                     "测评指导书 CentOS 7 条目要求 enforce_for_root。pwquality.conf 中的 enforce_for_root 需 libpwquality 1.4.1 及以上，"
                     "更早的版本须写在 PAM 行参数中。",
               "en": "By default pam_pwquality only warns when root sets a password, so administrators can still set weak "
                     "ones. The testing guide's CentOS 7 row requires enforce_for_root. enforce_for_root in pwquality.conf "
                     "needs libpwquality 1.4.1+; older versions need it as an argument on the PAM line."},
    remediation={"zh": "在 /etc/security/pwquality.conf 中加入一行 “enforce_for_root”；旧版本（CentOS 7）在 PAM 行末尾加 "
                       "enforce_for_root（authconfig 管理的 system-auth-ac/password-auth-ac）。",
                 "en": "Add a line \"enforce_for_root\" to /etc/security/pwquality.conf; on older versions (CentOS 7) append "
                       "enforce_for_root to the PAM line (system-auth-ac/password-auth-ac under authconfig)."},
)
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


@check(
    id="mlps.auth.password_history",
    title={"zh": "不得重复使用最近 5 次用过的口令", "en": "The last 5 passwords cannot be reused"},
    severity="low",
    refs=[L3_A, L2_A],
    probes={"debian": [PAM["debian"], PWHISTORY], "rhel": [PAM["rhel"], PWHISTORY]},
    params={"password_history": 5},
    rationale={"zh": "定期更换口令的前提是不能换回旧口令；测评指导书（Windows 条目）等要求记住至少 5 个历史口令。"
                     "pam_pwhistory 未写 remember 时默认记住 10 个；pam_unix 须显式写 remember=N。",
               "en": "Periodic change means nothing if the old password can come back; the testing guide (Windows rows) and "
                     "others ask to remember at least 5. pam_pwhistory remembers 10 by default; pam_unix needs remember=N."},
    remediation={"zh": "Debian/Ubuntu：在 /etc/pam.d/common-password 的 pam_unix 行之前加 "
                       "“password required pam_pwhistory.so remember=5 use_authtok”。RHEL 8+：authselect enable-feature "
                       "with-pwhistory，并在 /etc/security/pwhistory.conf 设置 remember = 5。",
                 "en": "Debian/Ubuntu: before the pam_unix line in /etc/pam.d/common-password add \"password required "
                       "pam_pwhistory.so remember=5 use_authtok\". RHEL 8+: authselect enable-feature with-pwhistory and "
                       "set remember = 5 in /etc/security/pwhistory.conf."},
)
def password_history(facts, host, params):
    fam, pam = _pam(facts)
    if fam is None:
        return pam
    text, bad = gathered(facts, PWHISTORY)
    if bad:
        return bad
    conf_remember = _int(conf([_nocomment(x) for x in parsers.lines(text)]).get("remember"))
    want = int(params["password_history"])
    results = []
    for path in PASSWORD_STACKS[fam]:
        if path not in pam:
            results.append((path, 0, "(missing)"))
            continue
        best, how = 0, "no pam_pwhistory, pam_unix without remember="
        for e in _stack(pam, path, "password"):
            n = None
            if e["module"] == "pam_pwhistory.so" and _enforcing(e):
                arg = _int(e["args"].get("remember"))
                n = arg if arg is not None else conf_remember if conf_remember is not None else 10
                src = "argument" if arg is not None else "pwhistory.conf" if conf_remember is not None else "default"
            elif e["module"] == "pam_unix.so" and "remember" in e["args"]:
                n, src = _int(e["args"]["remember"], 0), "argument"
            if n is not None and n >= best:
                best, how = n, f"{e['module']} remember={n} ({src})"
        results.append((path, best, how))
    ev = "\n".join(f"{p}: {how}" for p, _, how in results)
    low = min(n for _, n, _ in results)
    if low < want:
        return Outcome.failed(f"只记住 {low} 个历史口令，少于 {want} 个", f"only {low} old password(s) remembered, fewer than {want}", ev)
    return Outcome.passed(f"记住 {low} 个历史口令", f"{low} old passwords are remembered", ev)


@check(
    id="mlps.auth.account_max_age",
    title={"zh": "每个有口令的账户口令最长 90 天必须更换", "en": "Every account with a password must change it within 90 days"},
    severity="medium",
    refs=[L3_A, L2_A],
    probes=[SHADOW],
    params={"max_password_age": 90},
    rationale={"zh": "鉴别信息应定期更换。login.defs 的 PASS_MAX_DAYS 只在新建账户时写入，已有账户的期限以 /etc/shadow 第 5 字段"
                     "（chage -l）为准，测评指导书 CentOS 7 条目即逐个账户核查。锁定（! 或 *）和无口令的账户不计。"
                     "多数来源为 90 天，也有“3–6 个月”（可设 180）或 120 天的做法。",
               "en": "Credentials must be changed periodically. PASS_MAX_DAYS in login.defs is only copied into new "
                     "accounts; what applies is field 5 of /etc/shadow (chage -l), which the testing guide's CentOS 7 row "
                     "checks per account. Locked (! or *) accounts and accounts without a password are skipped. Most "
                     "sources use 90 days; some accept '3-6 months' (180) or 120."},
    remediation={"zh": "对每个账户执行 chage -M 90 用户名（并设置 /etc/login.defs 的 PASS_MAX_DAYS 90 以覆盖新账户）。",
                 "en": "Run chage -M 90 USER for each account (and set PASS_MAX_DAYS 90 in /etc/login.defs for new ones)."},
)
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
        age = _int(r["max"])
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


@check(
    id="mlps.auth.password_hash",
    title={"zh": "口令以强散列算法存储（SHA-512 / yescrypt）", "en": "Passwords are stored with a strong hash (SHA-512 / yescrypt)"},
    severity="medium",
    refs=[L3_A, L2_A, "GB/T 22239-2019 8.1.4.8 b"],
    probes={"debian": [LOGIN_DEFS, SHADOW, PAM["debian"]], "rhel": [LOGIN_DEFS, SHADOW, PAM["rhel"]]},
    params={"password_hash_methods": ["SHA512", "YESCRYPT"]},
    rationale={"zh": "鉴别信息应以不易破解的形式保存（三级另见 8.1.4.8 b 存储保密性）。MD5（$1$）和 DES 散列可被快速离线破解。"
                     "login.defs 的 ENCRYPT_METHOD 未设置时 chpasswd/newusers 使用 DES；pam_unix 带 md5/bigcrypt 参数时"
                     "passwd 也写出弱散列。已存在的弱散列要等用户改口令后才会更新。SHA256 是否可接受由计划参数决定。",
               "en": "Credentials must be stored in a form that resists cracking (level 3 also 8.1.4.8 b). MD5 ($1$) and "
                     "DES hashes crack quickly offline. Without ENCRYPT_METHOD in login.defs chpasswd/newusers use DES; "
                     "pam_unix with md5/bigcrypt makes passwd write weak hashes too. Existing weak hashes stay until the "
                     "password changes. Whether SHA256 is acceptable is a plan parameter."},
    remediation={"zh": "在 /etc/login.defs 设置 “ENCRYPT_METHOD SHA512”（Debian 11+/Ubuntu 22.04+ 可用 YESCRYPT），"
                       "pam_unix 行使用 sha512 或 yescrypt 参数（RHEL：authselect 默认即是），然后让弱散列账户重设口令（passwd 用户名）。",
                 "en": "Set \"ENCRYPT_METHOD SHA512\" in /etc/login.defs (YESCRYPT on Debian 11+/Ubuntu 22.04+), use sha512 "
                       "or yescrypt on the pam_unix line (the RHEL authselect default), then have accounts with weak hashes "
                       "reset their password (passwd USER)."},
)
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
    fam = _family(facts)
    if fam is not None:
        text, bad = gathered(facts, PAM[fam])
        if bad:
            return bad
        pam = {p: [_nocomment(x) for x in ls] for p, ls in files(text).items()}
        for path in PASSWORD_STACKS[fam]:
            for e in _stack(pam, path, "password"):
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
def _lockout(facts):
    """{group: (stack file, lockout entries with settings)} for ssh and console logins, or an Outcome."""
    fam, pam = _pam(facts)
    if fam is None:
        return None, pam
    sec, _raw, bad = _security(facts)
    if bad:
        return None, bad
    fl_conf = {k.lower(): v for k, v in conf([_nocomment(x) for x in sec.get(FAILLOCK_CONF, [])]).items()}
    groups = {}
    for group, candidates in LOGIN_STACKS[fam].items():
        path = next((p for p in candidates if p in pam), None)
        entries = [e for e in _stack(pam, path, "auth") if e["module"] in LOCKOUT]
        for e in entries:
            if e["module"] == "pam_faillock.so":
                s = {"deny": "3", "unlock_time": "600", "source": "default"}
                s.update({k: v for k, v in fl_conf.items()})
                if fl_conf:
                    s["source"] = FAILLOCK_CONF
            else:  # pam_tally2/pam_tally: arguments only; no deny means no lockout
                s = {"deny": "0", "unlock_time": "0", "source": "default"}
            for k, v in e["args"].items():
                s[k.lower()] = v
            e["settings"] = s
        groups[group] = (path, entries)
    return groups, None


def _lock_active(entries) -> bool:
    fl = [e for e in entries if e["module"] == "pam_faillock.so"]
    if fl:
        return (any("preauth" in e["args"] and _enforcing(e) for e in fl) and any("authfail" in e["args"] for e in fl))
    return any(_enforcing(e) for e in entries)


def _deciding(groups) -> list[dict]:
    """Lockout lines whose settings decide (faillock preauth/authfail, tally lines)."""
    out = []
    for _path, entries in groups.values():
        for e in entries:
            if e["module"] != "pam_faillock.so" or {"preauth", "authfail"} & set(e["args"]):
                if e not in out:
                    out.append(e)
    return out


def _mode(e) -> str:
    return " ".join([e["module"]] + [a for a in e["args"] if a in ("preauth", "authfail", "authsucc")])


def _no_lockout(groups) -> Outcome:
    ev = "\n".join(f"{g} ({path or 'no PAM file'}): no pam_faillock/pam_tally2 in the auth stack"
                   for g, (path, _) in groups.items())
    return Outcome.failed("未配置登录失败锁定（见 mlps.auth.lockout_enabled）",
                          "no login-failure lockout configured (see mlps.auth.lockout_enabled)", ev)


_LOCK_TEXT = {
    "rationale_zh": "登录失败处理要求限制非法登录次数。Linux 上由 pam_faillock（Linux-PAM 1.4 起；RHEL 8+、Debian 11+）"
                    "或旧系统的 pam_tally2 实现；pam_tally2 已在 Linux-PAM 1.5.0 中移除。",
    "rationale_en": "Login-failure handling must limit illegal attempts. On Linux that is pam_faillock (Linux-PAM 1.4+; "
                    "RHEL 8+, Debian 11+) or pam_tally2 on old systems; pam_tally2 was removed in Linux-PAM 1.5.0.",
}


@check(
    id="mlps.auth.lockout_enabled",
    title={"zh": "连续登录失败后锁定账户", "en": "Accounts lock after repeated login failures"},
    severity="medium",
    refs=[L3_B, L2_B],
    probes=PAM_PROBES,
    rationale={"zh": _LOCK_TEXT["rationale_zh"] + "须同时覆盖 SSH（sshd → common-auth / password-auth）和本地控制台"
                     "（login → common-auth / system-auth）；pam_faillock 须有 preauth 和 authfail 两行，只有 authfail 时"
                     "已锁定的账户输对口令仍可登录。Ubuntu 22.04 起默认未启用。",
               "en": _LOCK_TEXT["rationale_en"] + " It must cover SSH (sshd → common-auth / password-auth) and the "
                     "console (login → common-auth / system-auth); pam_faillock needs both a preauth and an authfail line "
                     "— with authfail alone a locked account still gets in with the right password. Ubuntu 22.04+ do not "
                     "enable it by default."},
    remediation={"zh": "RHEL 8+：authselect enable-feature with-faillock。Debian/Ubuntu：在 /etc/pam.d/common-auth 的 pam_unix "
                       "行前加 “auth required pam_faillock.so preauth”，其后加 “auth [default=die] pam_faillock.so authfail” 和 "
                       "“auth sufficient pam_faillock.so authsucc”，并在 common-account 加 “account required pam_faillock.so”。",
                 "en": "RHEL 8+: authselect enable-feature with-faillock. Debian/Ubuntu: in /etc/pam.d/common-auth put "
                       "\"auth required pam_faillock.so preauth\" before the pam_unix line and \"auth [default=die] "
                       "pam_faillock.so authfail\" plus \"auth sufficient pam_faillock.so authsucc\" after it; add "
                       "\"account required pam_faillock.so\" to common-account."},
)
def lockout_enabled(facts, host):
    groups, bad = _lockout(facts)
    if bad:
        return bad
    gaps = [g for g, (_p, entries) in groups.items() if not _lock_active(entries)]
    ev = "\n".join(f"{g} ({path or 'no PAM file'}): " + (", ".join(_mode(e) for e in entries) or "no lockout module")
                   for g, (path, entries) in groups.items())
    if gaps:
        zh = {"ssh": "SSH 登录", "console": "本地登录"}
        return Outcome.failed(f"{'、'.join(zh[g] for g in gaps)}未启用登录失败锁定",
                              f"no working lockout for {' and '.join(gaps)} logins", ev)
    return Outcome.passed("SSH 与本地登录均启用了失败锁定", "lockout covers SSH and console logins", ev)


@check(
    id="mlps.auth.lockout_deny",
    title={"zh": "连续失败不超过 5 次即锁定", "en": "Lock after at most 5 failed logins"},
    severity="medium",
    refs=[L3_B, L2_B],
    probes=PAM_PROBES,
    params={"lockout_max_attempts": 5},
    rationale={"zh": _LOCK_TEXT["rationale_zh"] + "阈值来源不一：测评指导书 CentOS 7 与 Windows 条目为 5 次，Debian 等条目为 3 次，"
                     "也有“小于 5 次”的写法；默认 5，可按计划改为 3。pam_faillock 未设置 deny 时为 3；pam_tally2 未设置 deny "
                     "时不锁定；deny=0 表示不锁定。",
               "en": _LOCK_TEXT["rationale_en"] + " Sources differ: the testing guide's CentOS 7 and Windows rows use 5, its "
                     "Debian and other rows 3, one row 'fewer than 5'; the default is 5 and a plan may set 3. pam_faillock "
                     "without deny uses 3; pam_tally2 without deny never locks; deny=0 disables locking."},
    remediation={"zh": "在 /etc/security/faillock.conf 中设置 “deny = 5”（或更小），并删除 PAM 行中更大的 deny= 参数；"
                       "旧系统在 pam_tally2 行设置 deny=5。",
                 "en": "Set \"deny = 5\" (or less) in /etc/security/faillock.conf and remove larger deny= arguments from the "
                       "PAM lines; on old systems set deny=5 on the pam_tally2 line."},
)
def lockout_deny(facts, host, params):
    groups, bad = _lockout(facts)
    if bad:
        return bad
    lines = _deciding(groups)
    if not lines:
        return _no_lockout(groups)
    limit = int(params["lockout_max_attempts"])
    ev, worse = [], []
    for e in lines:
        n = _int(e["settings"].get("deny"), 0)
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


@check(
    id="mlps.auth.lockout_unlock_time",
    title={"zh": "锁定时间不少于 5 分钟", "en": "Locked accounts stay locked for at least 5 minutes"},
    severity="low",
    refs=[L3_B, L2_B],
    probes=PAM_PROBES,
    params={"lockout_min_seconds": 300},
    rationale={"zh": _LOCK_TEXT["rationale_zh"] + "锁定时间过短时暴力猜测只是变慢。来源不一：300 秒（测评指导书 Redhat/Debian 条目）、"
                     "600 秒（CentOS 7 条目，也是 pam_faillock 默认值）、900 秒；unlock_time=0（或 never）表示须管理员解锁，视为符合。",
               "en": _LOCK_TEXT["rationale_en"] + " A short lock only slows guessing down. Sources differ: 300 s (testing "
                     "guide Redhat/Debian rows), 600 s (CentOS 7 row and the pam_faillock default), 900 s; unlock_time=0 "
                     "(or never) means an administrator must unlock, which passes."},
    remediation={"zh": "在 /etc/security/faillock.conf 中设置 “unlock_time = 600”（不少于 300）；旧系统在 pam_tally2 行设置 unlock_time=600。",
                 "en": "Set \"unlock_time = 600\" (at least 300) in /etc/security/faillock.conf; on old systems set "
                       "unlock_time=600 on the pam_tally2 line."},
)
def lockout_unlock_time(facts, host, params):
    groups, bad = _lockout(facts)
    if bad:
        return bad
    lines = _deciding(groups)
    if not lines:
        return _no_lockout(groups)
    limit = int(params["lockout_min_seconds"])
    ev, short = [], []
    for e in lines:
        raw = str(e["settings"].get("unlock_time", "0")).strip().lower()
        n = 0 if raw == "never" else _int(raw, -1)
        src = "PAM" if "unlock_time" in e["args"] else e["settings"]["source"]
        ev.append(f"{e['file']}: {_mode(e)} unlock_time={raw} ({src})")
        if n != 0 and n < limit:
            short.append(n)
    if short:
        return Outcome.failed(f"锁定仅 {min(short)} 秒，少于 {limit} 秒", f"accounts stay locked only {min(short)} s, less than {limit} s",
                              "\n".join(ev))
    return Outcome.passed(f"锁定时间不少于 {limit} 秒或须管理员解锁", f"locked for at least {limit} s or until an administrator unlocks",
                          "\n".join(ev))


@check(
    id="mlps.auth.lockout_root",
    title={"zh": "root 账户同样受登录失败锁定", "en": "Lockout also applies to root"},
    severity="low",
    refs=[L3_B, L2_B],
    probes=PAM_PROBES,
    rationale={"zh": "pam_faillock/pam_tally2 默认不锁定 root，而 root 正是暴力猜测的首要目标。测评指导书 CentOS 7 和 Debian "
                     "条目要求 even_deny_root（可配合 root_unlock_time 缩短 root 的锁定时间，避免管理员被长期锁在外面）。",
               "en": "pam_faillock/pam_tally2 do not lock root by default, though root is the first target of guessing. The "
                     "testing guide's CentOS 7 and Debian rows require even_deny_root (root_unlock_time can keep root's "
                     "lock shorter so administrators are not locked out for long)."},
    remediation={"zh": "在 /etc/security/faillock.conf 中加入 “even_deny_root” 和 “root_unlock_time = 60”；旧系统在 pam_tally2 行加 even_deny_root。",
                 "en": "Add \"even_deny_root\" and \"root_unlock_time = 60\" to /etc/security/faillock.conf; on old systems "
                       "append even_deny_root to the pam_tally2 line."},
)
def lockout_root(facts, host):
    groups, bad = _lockout(facts)
    if bad:
        return bad
    lines = _deciding(groups)
    if not lines:
        return _no_lockout(groups)
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
    return Outcome.passed("root 同样会被锁定", "root is locked out too", "\n".join(ev))


@check(
    id="mlps.auth.sshd_idle_timeout",
    title={"zh": "SSH 空闲会话超时自动断开", "en": "SSH ends idle sessions"},
    severity="medium",
    refs=[L3_B, L2_B],
    probes=[SSHD_T],
    params={"max_idle_seconds": 600},
    rationale={"zh": "登录失败处理功能应包括连接超时自动退出；测评机构通常要求空闲不超过 10 分钟，并接受 sshd 的 "
                     "ClientAliveInterval × ClientAliveCountMax 作为证据。注意它只断开无响应的客户端，在线但空闲的会话"
                     "要靠 TMOUT（见 mlps.auth.shell_timeout）。",
               "en": "Login-failure handling includes ending idle sessions; assessors usually require at most 10 minutes "
                     "and accept sshd's ClientAliveInterval × ClientAliveCountMax as evidence. It only drops clients that "
                     "stop answering; a live but idle session needs TMOUT (see mlps.auth.shell_timeout)."},
    remediation={"zh": "在 /etc/ssh/sshd_config 中设置 “ClientAliveInterval 300” 和 “ClientAliveCountMax 2”，然后 "
                       "systemctl reload sshd；另在 /etc/profile.d/ 中设置 readonly TMOUT=600。",
                 "en": 'Set "ClientAliveInterval 300" and "ClientAliveCountMax 2" in /etc/ssh/sshd_config, then '
                       "systemctl reload sshd; also set readonly TMOUT=600 in /etc/profile.d/."},
)
def sshd_idle_timeout(facts, host, params):
    res = facts.get(SSHD_T)
    if res.error:
        return Outcome.error(f"无法采集 sshd -T：{res.error}", f"could not gather sshd -T: {res.error}")
    if res.missing():
        return Outcome.not_applicable("未安装 sshd", "sshd is not installed")
    if res.rc != 0:
        return Outcome.error(f"sshd -T 失败（退出码 {res.rc}）", f"sshd -T failed (exit {res.rc})", res.stderr[:300])
    kv = parsers.sshd_t(res.stdout)
    interval = int(kv.get("clientaliveinterval", "0") or 0)
    count = int(kv.get("clientalivecountmax", "3") or 3)
    evidence = f"clientaliveinterval {interval}\nclientalivecountmax {count}"
    limit = int(params["max_idle_seconds"])
    idle = interval * max(count, 1)
    if interval <= 0:
        return Outcome.failed("未配置空闲超时（ClientAliveInterval 为 0）", "no idle timeout (ClientAliveInterval is 0)",
                              evidence)
    if idle > limit:
        return Outcome.failed(f"空闲 {idle} 秒后才断开，超过 {limit} 秒", f"idle sessions end after {idle} s, more than {limit} s",
                              evidence)
    return Outcome.passed(f"空闲 {idle} 秒后断开", f"idle sessions end after {idle} s", evidence)


_TMOUT_ASSIGN = re.compile(r"^TMOUT=(.*)$")


def _tmout_statements(line: str):
    """(value or None, readonly?) for each statement of a shell line that touches TMOUT."""
    for stmt in re.split(r";|&&|\|\|", line):
        words = stmt.strip().split()
        while words and words[0] in ("then", "do", "else", "{", "if", "!"):
            words = words[1:]
        if not words:
            continue
        cmd, ro = words[0], False
        if cmd in ("readonly", "export", "declare", "typeset", "local"):
            flags = [w for w in words[1:] if w.startswith("-")]
            ro = cmd == "readonly" or any("r" in f for f in flags if cmd in ("declare", "typeset", "local"))
            names = [w for w in words[1:] if not w.startswith("-")]
        else:
            names = [w for w in words if "=" in w] if "=" in cmd else []
        for n in names:
            if n == "TMOUT":
                yield None, ro
            elif (m := _TMOUT_ASSIGN.match(n)):
                yield m.group(1).strip("'\""), ro


@check(
    id="mlps.auth.shell_timeout",
    title={"zh": "登录 shell 空闲 10 分钟内自动退出（只读 TMOUT）", "en": "Idle login shells exit within 10 minutes (read-only TMOUT)"},
    severity="medium",
    refs=[L3_B, L2_B],
    probes=[PROFILE],
    params={"max_idle_seconds": 600},
    rationale={"zh": "应配置超时自动退出。TMOUT 对控制台和 SSH 的 shell 都有效，而 sshd 的 ClientAlive 只断开无响应的连接，"
                     "不会断开在线但空闲的会话（另见 mlps.auth.sshd_idle_timeout）。TMOUT 须设为 readonly，否则用户可自行取消。"
                     "来源不一：600 秒（测评指导书 CentOS 7/Debian 条目），300 秒（Redhat/麒麟条目），900 秒（CIS）；默认 600。",
               "en": "Idle sessions must end. TMOUT works for console and SSH shells, while sshd's ClientAlive only drops "
                     "unresponsive connections, not live idle ones (see also mlps.auth.sshd_idle_timeout). TMOUT must be "
                     "readonly or users can unset it. Sources differ: 600 s (testing guide CentOS 7/Debian rows), 300 s "
                     "(Redhat/Kylin rows), 900 s (CIS); the default is 600."},
    remediation={"zh": "新建 /etc/profile.d/tmout.sh，内容为 “readonly TMOUT=600; export TMOUT”（RHEL 与 Debian 相同）。",
                 "en": "Create /etc/profile.d/tmout.sh containing \"readonly TMOUT=600; export TMOUT\" (same on RHEL and Debian)."},
)
def shell_timeout(facts, host, params):
    text, bad = gathered(facts, PROFILE)
    if bad:
        return bad
    limit = int(params["max_idle_seconds"])
    value, readonly, shown = None, False, []
    for path, lines in files(text).items():
        for ln in lines:
            if "TMOUT" not in ln:
                continue
            shown.append(f"{path}: {ln}")
            for val, ro in _tmout_statements(_nocomment(ln)):
                if readonly:
                    continue  # bash refuses to change a readonly variable
                if val is not None:
                    value = val
                readonly = readonly or ro
    ev = evidence_lines(shown)
    secs = _int(value)
    if value is None:
        return Outcome.failed("未设置 TMOUT", "TMOUT is not set", ev or "no TMOUT in /etc/profile, /etc/profile.d/*.sh, /etc/bashrc, /etc/bash.bashrc")
    if secs is None or secs <= 0 or secs > limit:
        return Outcome.failed(f"TMOUT={value}，应为 1–{limit} 秒", f"TMOUT={value}; it must be 1-{limit} seconds", ev)
    if not readonly:
        return Outcome.failed(f"TMOUT={secs} 未设为 readonly，用户可以取消", f"TMOUT={secs} is not readonly; users can unset it", ev)
    return Outcome.passed(f"TMOUT={secs}（只读）", f"TMOUT={secs} (readonly)", ev)


# --------------------------------------------------------------------------------------------- c: remote management
@check(
    id="mlps.auth.plaintext_remote_mgmt",
    title={"zh": "不提供明文远程管理服务（telnet、rlogin、rsh、ftp）",
           "en": "No plaintext remote management (telnet, rlogin, rsh, ftp)"},
    severity="high",
    refs=[L3_C, L2_C, "GB/T 22239-2019 8.1.4.8 a"],
    probes=[SS],
    rationale={"zh": "远程管理时应防止鉴别信息在网络传输中被窃听；telnet、rsh、ftp 以明文传送口令。",
               "en": "Remote management must protect credentials from eavesdropping; telnet, rsh and ftp send passwords in clear."},
    remediation={"zh": "停用并卸载这些服务（如 systemctl disable --now telnet.socket；apt/dnf remove telnetd rsh-server vsftpd），改用 SSH/SFTP。",
                 "en": "Disable and remove them (e.g. systemctl disable --now telnet.socket; apt/dnf remove telnetd rsh-server vsftpd); use SSH/SFTP."},
)
def plaintext_management(facts, host):
    return port_check(facts, {21: "ftp", 23: "telnet", 512: "rexec", 513: "rlogin", 514: "rsh"}, "tcp",
                      "监听明文管理服务", "plaintext management services listening",
                      "未发现明文远程管理服务", "no plaintext management service listening")


@check(
    id="mlps.auth.vnc_plaintext",
    title={"zh": "VNC 远程桌面不对外监听", "en": "No VNC remote desktop listening beyond loopback"},
    severity="high",
    refs=[L3_C, L2_C],
    probes=[SS],
    rationale={"zh": "经典 VNC（RFB）口令鉴别仅用 DES 挑战且最多 8 位，画面和键盘输入（含口令）不加密传输。"
                     "只监听 127.0.0.1 并经 SSH 隧道访问的 VNC 不计；确认启用 VeNCrypt/TLS 的，可由测评人员以豁免方式接受。",
               "en": "Classic VNC (RFB) authentication is a DES challenge of at most 8 characters, and the screen and "
                     "keystrokes (passwords included) travel unencrypted. VNC bound to 127.0.0.1 and reached through an "
                     "SSH tunnel does not count; one confirmed to use VeNCrypt/TLS can be accepted with a waiver."},
    remediation={"zh": "停用 VNC 服务，或让其只监听本机（如 x11vnc -localhost、vncserver -localhost yes），通过 "
                       "ssh -L 5901:localhost:5901 访问。",
                 "en": "Stop the VNC service or bind it to loopback (x11vnc -localhost, vncserver -localhost yes) and reach "
                       "it through ssh -L 5901:localhost:5901."},
)
def vnc_plaintext(facts, host):
    return port_check(facts, {p: "vnc" for p in range(5900, 6000)}, "tcp",
                      "VNC 对外监听", "VNC listening beyond loopback",
                      "未发现对外监听的 VNC", "no VNC listening beyond loopback")


# --------------------------------------------------------------------------------------------- d: two factors (level 3)
@check(
    id="mlps.auth.multi_factor",
    title={"zh": "远程管理采用两种以上鉴别技术组合（双因素）", "en": "Remote administration uses two or more authentication factors"},
    severity="high",
    refs=["GB/T 22239-2019 8.1.4.1 d"],
    applies={"levels": (3, 4)},
    probes={"debian": [SSHD_T, PAM["debian"]], "rhel": [SSHD_T, PAM["rhel"]]},
    params={"accept_key_and_password": True,
            "mfa_pam_modules": ["pam_google_authenticator.so", "pam_oath.so", "pam_radius_auth.so", "pam_radius.so",
                                "pam_duo.so", "pam_yubico.so", "pam_u2f.so", "pam_privacyidea.so", "pam_linotp.so"]},
    attest={"zh": "远程管理（含经堡垒机登录）采用口令与密码技术（USB Key、数字证书、动态令牌等）组合的双因素鉴别，并提供配置截图或制度文件",
            "en": "remote administration (including through a bastion host) combines a password with a cryptographic factor "
                  "(USB key, certificate, one-time-password token, ...); provide screenshots or the policy document"},
    rationale={"zh": "三级要求采用两种或以上鉴别技术组合，且至少一种使用密码技术；2025 版报告模板将未采用双因素列为重大风险隐患参照项。"
                     "本机证据：sshd 的 AuthenticationMethods 要求每条登录路径两种方法，或 sshd 的 PAM 栈中有 OTP/RADIUS 等模块且无法只凭密钥绕过。"
                     "带 nullok 的 OTP 模块允许未配置令牌的用户跳过，不计。"
                     "“SSH 密钥 + 口令”（publickey,password）是否被认可各测评机构做法不一，可用参数 accept_key_and_password 调整。"
                     "双因素常在堡垒机上实现，主机上看不到，此时需人工证明。",
               "en": "Level 3 requires two or more combined authentication techniques, at least one cryptographic; the 2025 "
                     "report template lists missing two-factor authentication as a major-risk trigger. Host evidence: sshd "
                     "AuthenticationMethods requiring two methods on every path, or an OTP/RADIUS module in sshd's PAM stack "
                     "that a key alone cannot bypass; an OTP module with nullok lets users without a token skip it and does not count. Whether 'SSH key + password' (publickey,password) counts differs "
                     "between testing bodies; the parameter accept_key_and_password decides. Two factors often live on a "
                     "bastion host, invisible here, and then need an attestation."},
    remediation={"zh": "在 sshd_config 设置 “AuthenticationMethods publickey,keyboard-interactive” 并在 /etc/pam.d/sshd 加入 OTP 模块"
                       "（如 auth required pam_google_authenticator.so 或 pam_oath.so），KbdInteractiveAuthentication yes、UsePAM yes；"
                       "或只允许经具备双因素鉴别的堡垒机登录，并在清单中登记证明。",
                 "en": "Set \"AuthenticationMethods publickey,keyboard-interactive\" in sshd_config with an OTP module in "
                       "/etc/pam.d/sshd (e.g. auth required pam_google_authenticator.so or pam_oath.so), "
                       "KbdInteractiveAuthentication yes and UsePAM yes; or allow logins only through a bastion host with "
                       "two-factor authentication and record the attestation in the inventory."},
)
def multi_factor(facts, host, params):
    ask_zh, ask_en = "需人工核查并提供证明（如堡垒机双因素）", "needs an attestation (e.g. bastion-host two-factor)"
    res = facts.get(SSHD_T)
    if res.error:
        return Outcome.error(f"无法采集 sshd -T：{res.error}", f"could not gather sshd -T: {res.error}")
    if res.missing() or res.rc != 0:
        return Outcome.manual(f"主机上无可读的 sshd 配置；{ask_zh}", f"no readable sshd configuration; {ask_en}", res.stderr[:200])
    kv = parsers.sshd_t(res.stdout)
    otp_mods = {str(m) for m in params["mfa_pam_modules"]}
    fam = _family(facts)
    pam_auth = []
    if fam is not None:
        text, bad = gathered(facts, PAM[fam])
        if not bad:
            pam = {p: [_nocomment(x) for x in ls] for p, ls in files(text).items()}
            pam_auth = _stack(pam, "/etc/pam.d/sshd", "auth")
    # nullok (pam_google_authenticator, pam_oath) lets users without a token skip the second factor.
    otp = [e for e in pam_auth if _enforcing(e) and "nullok" not in e["args"] and (
        e["module"] in otp_mods or (e["module"] == "pam_sss.so" and "require_cert_auth" in e["args"]))]
    usepam = kv.get("usepam", "yes") == "yes"
    kbd = kv.get("kbdinteractiveauthentication", kv.get("challengeresponseauthentication", "no")) == "yes"
    methods = kv.get("authenticationmethods", "any").strip()
    ev = [f"authenticationmethods {methods}", f"usepam {kv.get('usepam', '?')}",
          f"kbdinteractiveauthentication {'yes' if kbd else 'no'}",
          f"pubkeyauthentication {kv.get('pubkeyauthentication', 'yes')}"] + [f"{e['file']}: {e['line']}" for e in otp]
    evidence = evidence_lines(ev)
    otp_live = bool(otp) and usepam
    has_password = any(e["module"] in ("pam_unix.so", "pam_sss.so") and e not in otp for e in pam_auth)
    # keyboard-interactive runs sshd's PAM auth stack: password and/or the OTP module, as configured there.
    kbd_factors = ({"otp", "password"} if has_password else {"otp"}) if otp_live else {"password"}
    factor = {"publickey": {"key"}, "gssapi-with-mic": {"key"}, "password": {"password"}, "keyboard-interactive": kbd_factors}
    if methods and methods != "any":
        paths = [set().union(*[factor.get(m.split(":")[0], set()) for m in lst.split(",")]) for lst in methods.split()]
        if paths and all(len(f) >= 2 for f in paths):
            key_pw = any(f == {"key", "password"} for f in paths)
            if key_pw and not params["accept_key_and_password"]:
                return Outcome.manual(f"SSH 要求“密钥 + 口令”，本计划不将其视为双因素；{ask_zh}",
                                      f"SSH requires key + password, which this plan does not count as two factors; {ask_en}",
                                      evidence)
            note_zh = "（密钥 + 口令，是否认可因测评机构而异）" if key_pw else ""
            note_en = " (key + password; acceptance varies between testing bodies)" if key_pw else ""
            return Outcome.passed(f"SSH 每条登录路径均要求两种鉴别因素{note_zh}",
                                  f"SSH requires two authentication factors on every path{note_en}", evidence)
        return Outcome.manual(f"AuthenticationMethods 中有登录路径只需一种鉴别因素；{ask_zh}",
                              f"AuthenticationMethods leaves a login path with a single factor; {ask_en}", evidence)
    if otp_live and kbd:
        if kv.get("pubkeyauthentication", "yes") == "no" and has_password:
            return Outcome.passed("SSH 经 PAM 要求口令加动态口令/证书", "SSH requires a password plus an OTP/certificate through PAM",
                                  evidence)
        if not has_password:
            return Outcome.manual(f"sshd 的 PAM 栈中有动态口令/证书模块，但未同时要求口令；{ask_zh}",
                                  f"sshd's PAM stack has an OTP/certificate module but no password module with it; {ask_en}",
                                  evidence)
        return Outcome.manual("sshd 的 PAM 栈中有双因素模块，但仅凭 SSH 密钥即可绕过（AuthenticationMethods 未要求两种方法）；"
                              + ask_zh,
                              "sshd's PAM stack has a second-factor module, but an SSH key alone bypasses it "
                              f"(AuthenticationMethods does not require two methods); {ask_en}", evidence)
    return Outcome.manual(f"主机上未发现双因素鉴别配置；{ask_zh}", f"no two-factor configuration found on the host; {ask_en}",
                          evidence)
