"""MLPS pack, 访问控制 access control: GB/T 22239-2019 8.1.4.2 (level 3) / 7.1.4.2 (level 2) — the
checks that need logic beyond one YAML expectation (accounts, sudoers, su, umask, MAC)."""
from __future__ import annotations

import datetime as dt
import re
from fnmatch import fnmatchcase

from audits.model.probes import Probe
from checks import parsers
from checks.contract import Outcome, check

from ._shared import GROUP, LOGIN_DEFS, PAM, PASSWD, PROFILE, SHADOW, evidence_lines, files, gathered, pam_entries

# Every sudoers file sudo reads by default (sudo skips sudoers.d names with a '.' or ending in '~').
SUDOERS = Probe("command", "grep -rH ^ /etc/sudoers /etc/sudoers.d", True)
# Last logins: the host's clock first (so ages are the host's), then the first tool the host has.
# lastlog (shadow-utils) lists every account; lastlog2 (util-linux, replaces it on newer systems)
# lists accounts with a record; `last` only covers what wtmp still holds ("wtmp begins …").
LASTLOG = Probe("command", "date '+@now %s %z'; "
                           "if command -v lastlog >/dev/null 2>&1; then echo @lastlog; lastlog; "
                           "elif command -v lastlog2 >/dev/null 2>&1; then echo @lastlog2; lastlog2; "
                           "elif command -v last >/dev/null 2>&1; then echo @last; last -F -w; "
                           "else echo @none; fi")
WORLD_WRITABLE_ETC = Probe("command", "find /etc -xdev -type f -perm -0002")
GETENFORCE = Probe("command", "getenforce")
APPARMOR_ENABLED = Probe("file", "/sys/module/apparmor/parameters/enabled")
APPARMOR_PROFILES = Probe("file", "/sys/kernel/security/apparmor/profiles", True)

_NO_LOGIN_SHELL = re.compile(r"(nologin|/false|/true|/sync|/halt|/shutdown)$")


def _login_shell(shell: str) -> bool:
    """An empty shell field means /bin/sh, which is a login shell."""
    return not _NO_LOGIN_SHELL.search((shell or "").strip() or "/bin/sh")


def _int(v, default: int) -> int:
    try:
        return int(str(v).strip())
    except (TypeError, ValueError):
        return default


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
    return _int(parsers.keyvalue(text or "").get("UID_MIN"), 1000) if not bad else 1000


# ---------------------------------------------------------------------------------------------
@check(
    id="mlps.access.system_accounts_nologin",
    title={"zh": "系统账户不可交互登录", "en": "System accounts cannot log in interactively"},
    severity="medium",
    refs=["GB/T 22239-2019 8.1.4.2 b", "GB/T 22239-2019 7.1.4.2 b"],
    probes=[PASSWD, LOGIN_DEFS, SHADOW],
    params={"system_exempt_accounts": ["root", "sync", "shutdown", "halt"]},
    rationale={"zh": "UID 小于 login.defs 中 UID_MIN（默认 1000，EL6 为 500）的账户由系统或软件包创建，只用于运行服务；"
                     "若它们有登录 shell 且有可用口令，就成了无人管理的默认登录入口。login.defs 不存在或未设 UID_MIN 时按 1000 计。",
               "en": "Accounts below UID_MIN in login.defs (1000 by default, 500 on EL6) are created by the system or by "
                     "packages to run services; with a login shell and a usable password they become unmanaged default "
                     "ways in. Without UID_MIN in login.defs 1000 is used."},
    remediation={"zh": "把这些账户的 shell 改为 nologin 并锁定：usermod -s /usr/sbin/nologin 用户名（RHEL 为 /sbin/nologin）；"
                       "passwd -l 用户名。",
                 "en": "Give them a non-login shell and lock them: usermod -s /usr/sbin/nologin USER (/sbin/nologin on "
                       "RHEL); passwd -l USER."},
)
def system_accounts_nologin(facts, host, params):
    rows, shadow, bad = _accounts(facts)
    if bad:
        return bad
    uid_min = _uid_min(facts)
    exempt = set(params["system_exempt_accounts"])
    bad_rows, unknown = [], []
    for r in rows:
        uid = _int(r["uid"], -1)
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


@check(
    id="mlps.access.vendor_accounts",
    title={"zh": "默认及厂商账户已删除或锁定", "en": "Default and vendor accounts are removed or locked"},
    severity="medium",
    refs=["GB/T 22239-2019 8.1.4.2 b", "GB/T 22239-2019 7.1.4.2 b"],
    probes=[PASSWD, SHADOW],
    params={"vendor_accounts": ["games", "news", "uucp", "lp", "ftp", "gopher", "operator", "gnats", "irc", "list",
                         "test", "test[0-9]*", "guest", "guest[0-9]*", "demo"]},
    rationale={"zh": "应重命名或删除默认账户、修改默认口令。发行版自带的 games、lp、news、uucp、ftp 等账户及遗留的 test、guest "
                     "账户若保留，须无登录 shell 且已锁定；账户名单是参数（支持通配符），可按本地情况增删。",
               "en": "Default accounts must be renamed or removed and default passwords changed. Distribution accounts "
                     "such as games, lp, news, uucp, ftp and leftover test/guest accounts may stay only without a login "
                     "shell and locked; the list is a parameter (globs allowed)."},
    remediation={"zh": "不需要的账户直接删除：userdel 用户名；需要保留的：usermod -s /usr/sbin/nologin -L 用户名。",
                 "en": "Remove unneeded ones: userdel USER; keep others only as: usermod -s /usr/sbin/nologin -L USER."},
)
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
_MONTHS = {m: i for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), 1)}
_DATE_TZ = re.compile(r"\w{3} (\w{3}) +(\d{1,2}) (\d\d):(\d\d):(\d\d) ([+-]\d{4}) (\d{4})\s*$")
_DATE = re.compile(r"\w{3} (\w{3}) +(\d{1,2}) (\d\d):(\d\d):(\d\d) (\d{4})")


def _epoch(mon, day, hh, mm, ss, year, tz: str) -> int | None:
    if mon not in _MONTHS:
        return None
    sign = -1 if tz.startswith("-") else 1
    off = dt.timezone(sign * dt.timedelta(hours=int(tz[1:3]), minutes=int(tz[3:5])))
    try:
        return int(dt.datetime(int(year), _MONTHS[mon], int(day), int(hh), int(mm), int(ss), tzinfo=off).timestamp())
    except ValueError:
        return None


def _last_logins(text: str):
    """The LASTLOG probe → (now, tz, tool, {user: epoch or None for never}, wtmp_begins)."""
    now, tz, tool, seen, begins = None, "+0000", None, {}, None
    for ln in text.splitlines():
        if ln.startswith("@now "):
            parts = ln.split()
            now = _int(parts[1], 0) or None
            tz = parts[2] if len(parts) > 2 and re.fullmatch(r"[+-]\d{4}", parts[2]) else tz
            continue
        if ln.startswith("@") and tool is None:
            tool = ln[1:].strip()
            continue
        if not ln.strip() or tool is None or ln.startswith("Username"):
            continue
        if tool in ("lastlog", "lastlog2"):
            name = ln.split()[0]
            if "Never logged in" in ln:
                seen.setdefault(name, None)
                continue
            m = _DATE_TZ.search(ln)
            if m:
                seen[name] = _epoch(*m.groups()[:5], m.group(7), m.group(6))
        elif tool == "last":
            m = _DATE.search(ln)
            if not m:
                continue
            when = _epoch(*m.groups(), tz)
            if re.match(r"^(wtmp|wtmpdb|btmp) begins", ln):
                begins = when
                continue
            name = ln.split()[0]
            if name in ("reboot", "shutdown", "runlevel") or when is None:
                continue
            seen[name] = max(when, seen.get(name) or 0)
    return now, tz, tool, seen, begins


def _day(epoch: int, tz: str = "+0000") -> str:
    """The host's calendar day of an epoch time (tz as printed by date +%z)."""
    sign = -1 if tz.startswith("-") else 1
    off = dt.timezone(sign * dt.timedelta(hours=int(tz[1:3]), minutes=int(tz[3:5])))
    return str(dt.datetime.fromtimestamp(epoch, off).date())


@check(
    id="mlps.access.unused_accounts",
    title={"zh": "不存在长期未使用的可登录账户", "en": "No loginable account has gone unused for long"},
    severity="medium",
    refs=["GB/T 22239-2019 8.1.4.2 c", "GB/T 22239-2019 7.1.4.2 c"],
    probes=[PASSWD, SHADOW, LOGIN_DEFS, LASTLOG],
    params={"max_unused_days": 90, "unused_exempt_accounts": ["root"]},
    rationale={"zh": "应及时删除或停用多余、过期的账户。普通账户（UID ≥ UID_MIN，有登录 shell、未锁定、未过期）超过 90 天"
                     "（参数）未登录即视为多余；从未登录的账户按其口令最后修改日期计算。90 天是常用阈值，标准本身没有给出天数。"
                     "数据来自 lastlog；新系统改用 lastlog2，二者都没有时用 wtmp（last），其记录不够早则无法判断。",
               "en": "Surplus and expired accounts must be removed or disabled. An ordinary account (UID >= UID_MIN, "
                     "login shell, not locked or expired) unused for more than 90 days (a parameter) counts as "
                     "surplus; one never used is aged from its last password change. 90 days is common practice, the "
                     "standard names no number. Evidence comes from lastlog, lastlog2 on newer systems, else wtmp "
                     "(last), which cannot tell when its records do not reach back far enough."},
    remediation={"zh": "确认账户已无人使用后删除（userdel -r 用户名），或彻底停用：usermod -L -e 1 用户名"
                       "（仅 passwd -l 不能阻止 SSH 密钥登录）。",
                 "en": "Once confirmed unused, remove the account (userdel -r USER) or disable it fully: usermod -L -e 1 "
                       "USER (passwd -l alone does not stop SSH key logins)."},
)
def unused_accounts(facts, host, params):
    rows, shadow, bad = _accounts(facts)
    if bad:
        return bad
    text, bad = gathered(facts, LASTLOG, missing=None)
    if bad:
        return bad
    now, tz, tool, seen, begins = _last_logins(text)
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
        uid = _int(r["uid"], -1)
        if r["name"] in exempt or not (uid_min <= uid < 65534) or not _login_shell(r["shell"]):
            continue
        srow = shadow.get(r["name"]) if shadow is not None else None
        if r["password"].startswith("!") or (srow is not None and srow["password"].startswith("!")):
            continue  # locked; '*' (no password) is not skipped: SSH keys may still log in
        if srow is not None and 0 <= _int(srow["expire"], -1) <= today:
            continue  # the account has expired: disabled
        last = seen.get(r["name"])
        if last is not None and last >= cutoff:
            continue
        since = _int(srow["lastchg"], 0) if srow is not None else 0
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
                when = f"no login in wtmp since {_day(begins, tz)}"
            else:
                when = "never logged in" + (f" (password last set {_day(since * 86400)})" if since else "")
        else:
            when = f"last login {_day(last, tz)} ({(now - last) // 86400} days ago)"
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
_TAG = re.compile(r"^\s*(NOPASSWD|PASSWD|NOEXEC|EXEC|SETENV|NOSETENV|LOG_INPUT|NOLOG_INPUT|LOG_OUTPUT|NOLOG_OUTPUT|"
                  r"MAIL|NOMAIL|FOLLOW|NOFOLLOW|INTERCEPT|NOINTERCEPT)\s*:")
_OPTION = re.compile(r"^\s*(ROLE|TYPE|CWD|CHROOT|TIMEOUT|NOTBEFORE|NOTAFTER|APPARMOR_PROFILE|PRIVS|LIMITPRIVS)\s*=\s*\S+")
_ALIAS = re.compile(r"^(User_Alias|Runas_Alias|Host_Alias|Cmnd_Alias|Cmd_Alias)\s+(.*)$")
_HOST_SEGMENT = re.compile(r"\s:\s*(?=[^\s=:()]+\s*=)")


def _split_top(text: str) -> list[str]:
    """Split on commas outside parentheses (a Runas list '(alice, bob : staff)' stays whole)."""
    out, depth, cur = [], 0, ""
    for ch in text:
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    out.append(cur)
    return [s.strip() for s in out if s.strip()]


def _sudoers_lines(text: str) -> list[tuple[str, str]]:
    """(file, logical line) for the files sudo reads: continuations joined, comments dropped."""
    out, pending = [], {}
    for raw in text.splitlines():
        path, sep, line = raw.partition(":")
        if not sep or not path.startswith("/"):
            continue
        base = path.rsplit("/", 1)[-1]
        if path.startswith("/etc/sudoers.d/") and ("." in base or base.endswith("~")):
            continue  # sudo's @includedir skips these names
        line = pending.pop(path, "") + line
        if line.endswith("\\"):
            pending[path] = line[:-1] + " "
            continue
        s = line.strip()
        if s.startswith(("#include", "@include")):
            continue
        s = re.sub(r"#(?!\d).*$", "", s).strip()  # '#1000' is a uid, not a comment
        if s:
            out.append((path, s))
    return out


def sudo_grants(text: str) -> tuple[list[tuple[str, list[str], str]], list[tuple[str, list[str], str]]]:
    """Rules granting every command without a password: ([(file, users, line)] from user specs,
    [(file, users or ['ALL'], line)] from 'Defaults … !authenticate')."""
    lines = _sudoers_lines(text)
    all_aliases = set()
    for _, s in lines:
        m = _ALIAS.match(s)
        if m and m.group(1) in ("Cmnd_Alias", "Cmd_Alias"):
            for part in re.split(r"\s:\s*", m.group(2)):
                name, eq, members = part.partition("=")
                if eq and "ALL" in [x.strip() for x in _split_top(members)]:
                    all_aliases.add(name.strip())
    grants, defaults = [], []
    for path, s in lines:
        if s.startswith("Defaults"):
            m = re.match(r"^Defaults([:@>!])?(\S*)\s+(.*)$", s)
            if m and re.search(r"(^|,)\s*!\s*authenticate\b", m.group(3)) and m.group(1) != "!":
                users = _split_top(m.group(2)) if m.group(1) == ":" else ["ALL"]
                defaults.append((path, users, s))
            continue
        if _ALIAS.match(s) or "=" not in s:
            continue
        lhs, _, rhs = s.partition("=")
        who = re.sub(r"\s*,\s*", ",", lhs.strip()).split()
        if len(who) < 2:
            continue
        users = who[0].split(",")
        for i, seg in enumerate(_HOST_SEGMENT.split(rhs)):
            if i:
                seg = re.sub(r"^[^\s=:()]+\s*=\s*", "", seg)  # ': otherhost = …'
            nopasswd = False
            for item in _split_top(seg):
                item = re.sub(r"^\([^)]*\)\s*", "", item)
                while True:
                    m = _OPTION.match(item) or _TAG.match(item)
                    if not m:
                        break
                    if m.re is _TAG:
                        if m.group(1) in ("NOPASSWD", "PASSWD"):
                            nopasswd = m.group(1) == "NOPASSWD"
                    item = item[m.end():]
                cmd = item.strip()
                if nopasswd and (cmd == "ALL" or cmd in all_aliases):
                    grants.append((path, users, s))
                    break
    return grants, defaults


@check(
    id="mlps.access.sudo_nopasswd_all",
    title={"zh": "sudo 不授予免口令执行全部命令的权限", "en": "sudo grants no one every command without a password"},
    severity="medium",
    refs=["GB/T 22239-2019 8.1.4.2 d", "GB/T 22239-2019 7.1.4.2 d"],
    probes=[SUDOERS],
    params={"sudo_exempt_users": ["root"], "sudo_exempt_audit_user": True},
    rationale={"zh": "管理用户应只授予所需的最小权限。“NOPASSWD: ALL”（或 Defaults !authenticate）让账户或其被盗用的会话"
                     "无需再次鉴别即可获得全部 root 权限。云镜像常带此类规则（如 /etc/sudoers.d/90-cloud-init-users）。"
                     "默认不计本工具自身审计账户（清单中 sudo: true 的 user）的授权，可用参数 sudo_exempt_audit_user 关闭；"
                     "评估机构现场检查时同样会看到该授权，建议将其限制为只读命令。",
               "en": "Admin users must get only the privileges they need. 'NOPASSWD: ALL' (or Defaults !authenticate) "
                     "gives the account, or a hijacked session of it, full root without authenticating again. Cloud "
                     "images often ship such a rule (e.g. /etc/sudoers.d/90-cloud-init-users). The audit tool's own "
                     "account (the inventory user with sudo: true) is not counted by default (parameter "
                     "sudo_exempt_audit_user); an on-site assessor will still see it, so restrict it to read-only commands."},
    remediation={"zh": "用 visudo 去掉 NOPASSWD，或只对具体命令免口令，例如 "
                       "“ops ALL=(root) NOPASSWD: /usr/bin/systemctl restart nginx”；删除云镜像遗留的 /etc/sudoers.d/90-cloud-init-users。",
                 "en": "With visudo remove NOPASSWD, or allow it only for specific commands, e.g. "
                       "'ops ALL=(root) NOPASSWD: /usr/bin/systemctl restart nginx'; delete a leftover "
                       "/etc/sudoers.d/90-cloud-init-users."},
)
def sudo_nopasswd_all(facts, host, params):
    text, bad = gathered(facts, SUDOERS)
    if bad:
        return bad
    exempt = set(params["sudo_exempt_users"])
    settings = getattr(host, "settings", {}) or {}
    audit_user = settings.get("user") if params["sudo_exempt_audit_user"] and settings.get("sudo") else None
    if audit_user:
        exempt.add(audit_user)
    grants, defaults = sudo_grants(text)
    found, skipped = [], []
    for path, users, line in grants + defaults:
        entry = f"{path}: {line}"
        (skipped if users and set(users) <= exempt else found).append(entry)
    note = ("\nnot counted (exempt): " + "; ".join(skipped)) if skipped else ""
    if found:
        return Outcome.failed(f"{len(found)} 条 sudo 规则免口令授予全部命令",
                              f"{len(found)} sudo rule(s) grant every command without a password",
                              evidence_lines(found) + note)
    if not text.strip():
        return Outcome.passed("未发现 sudoers 配置（未安装 sudo）", "no sudoers configuration (sudo not installed)")
    return Outcome.passed("没有免口令执行全部命令的 sudo 规则", "no sudo rule grants every command without a password",
                          note.strip())


# ---------------------------------------------------------------------------------------------
@check(
    id="mlps.access.su_restricted",
    title={"zh": "su 仅限指定管理组使用", "en": "su is limited to an administrators' group"},
    severity="medium",
    refs=["GB/T 22239-2019 8.1.4.2 d", "GB/T 22239-2019 7.1.4.2 d"],
    probes=PAM,
    rationale={"zh": "最小权限要求只有管理员能切换为 root。/etc/pam.d/su 中启用 “auth required pam_wheel.so use_uid”"
                     "（或 group=组名）后，只有 wheel（或指定组）成员可以 su；Debian 与 RHEL 默认都注释掉了这一行。"
                     "“sufficient pam_wheel.so trust” 是免口令放行，不算限制。",
               "en": "Least privilege means only administrators may become root. With 'auth required pam_wheel.so "
                     "use_uid' (or group=NAME) in /etc/pam.d/su only members of wheel (or that group) can su; Debian "
                     "and RHEL ship the line commented out. 'sufficient pam_wheel.so trust' lets members in without a "
                     "password and is no restriction."},
    remediation={"zh": "在 /etc/pam.d/su 的 auth 部分取消注释或加入 “auth required pam_wheel.so use_uid”，"
                       "并把管理员加入 wheel 组（Debian 需先 groupadd wheel，或写 group=sudo）。",
                 "en": "In /etc/pam.d/su uncomment or add 'auth required pam_wheel.so use_uid' in the auth section and "
                       "add administrators to wheel (on Debian groupadd wheel first, or use group=sudo)."},
)
def su_restricted(facts, host):
    fam = facts.meta.get("os_family", "")
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


@check(
    id="mlps.access.umask",
    title={"zh": "默认 umask 不宽于 027", "en": "The default umask is at least as strict as 027"},
    severity="low",
    refs=["GB/T 22239-2019 8.1.4.2 f", "GB/T 22239-2019 7.1.4.2 a"],
    probes=[LOGIN_DEFS, PROFILE],
    params={"umask": "027"},
    rationale={"zh": "umask 决定新建文件的默认权限，是文件级访问控制粒度的基础。基线脚本与 CIS 取 027（其他用户无权访问）；"
                     "也有测评机构接受发行版默认的 022，可把参数 umask 设为 \"022\"。login.defs 未设置 UMASK 时按 022 计，"
                     "/etc/profile、/etc/bashrc 等中的 umask 命令会覆盖它，同样检查（含 RHEL /etc/bashrc 按 UID 分支的 002/022）。",
               "en": "umask sets the default permissions of new files, the base of file-level access control. "
                     "Baseline scripts and CIS use 027 (no access for others); some assessors accept the distributions' "
                     "022 — set the umask parameter to \"022\". Without UMASK in login.defs 022 applies; umask commands in "
                     "/etc/profile, /etc/bashrc etc. override it and are checked too (including RHEL's 002/022 branch in "
                     "/etc/bashrc)."},
    remediation={"zh": "在 /etc/login.defs 中设置 “UMASK 027”；把 /etc/profile、/etc/bashrc（RHEL）或 /etc/bash.bashrc（Debian）"
                       "及 /etc/profile.d/*.sh 中的 umask 改为 027。",
                 "en": "Set 'UMASK 027' in /etc/login.defs; change umask lines in /etc/profile, /etc/bashrc (RHEL) or "
                       "/etc/bash.bashrc (Debian) and /etc/profile.d/*.sh to 027."},
)
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
@check(
    id="mlps.access.world_writable_etc",
    title={"zh": "/etc 下没有任何用户可写的文件", "en": "No world-writable files under /etc"},
    severity="high",
    refs=["GB/T 22239-2019 8.1.4.2 f", "GB/T 22239-2019 7.1.4.2 a"],
    probes=[WORLD_WRITABLE_ETC],
    params={"world_writable_allowed": []},
    rationale={"zh": "/etc 中的配置文件决定系统与服务的行为，任何用户可写即可借此提权（如改写 cron、profile 或服务配置）。"
                     "指导书要求配置文件权限不超过 644。以审计账户身份查找：其他用户进不去的目录中的文件本就无法被他们修改。",
               "en": "Files in /etc drive the system and its services; if anyone can write one they can escalate "
                     "(rewrite cron, profile or service configuration). Testing guides ask for config files at 644 or "
                     "less. The search runs as the audit account: files in directories others cannot enter are not "
                     "writable by them anyway."},
    remediation={"zh": "逐个确认后去掉其他用户的写权限：chmod o-w 文件（可用 find /etc -xdev -type f -perm -0002 列出）。",
                 "en": "After checking each, remove write access for others: chmod o-w FILE (list them with "
                       "find /etc -xdev -type f -perm -0002)."},
)
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
@check(
    id="mlps.access.mandatory_access_control",
    title={"zh": "启用强制访问控制（SELinux 或 AppArmor）并对重要主客体设置安全标记",
           "en": "Mandatory access control (SELinux or AppArmor) is enforcing, with security labels on key resources"},
    severity="medium",
    refs=["GB/T 22239-2019 8.1.4.2 g"],
    applies={"levels": (3, 4)},
    probes=[GETENFORCE, APPARMOR_ENABLED, APPARMOR_PROFILES],
    params={"min_enforced_profiles": 1},
    attest={"zh": "对重要主体和客体设置了安全标记并据此控制访问（如 SELinux 策略、AppArmor 配置文件或安全加固产品），附策略说明。",
            "en": "Security labels are set on important subjects and objects and access is controlled by them (SELinux "
                  "policy, AppArmor profiles or a hardening product), with the policy description."},
    rationale={"zh": "三级要求对重要主体和客体设置安全标记并控制其访问。SELinux 处于 Enforcing、或 AppArmor 已启用且有 enforce "
                     "模式的配置文件，是主机自身能给出的证据，判为符合；但测评机构对仅用默认 targeted 策略是否满足此项看法不一，"
                     "部分只给“部分符合”。无此证据时需人工提供证明（如第三方加固产品）。",
               "en": "Level 3 asks for security labels on important subjects and objects and access control by them. "
                     "SELinux Enforcing, or AppArmor enabled with profiles in enforce mode, is evidence the host shows "
                     "itself and passes; assessors differ on whether the default targeted policy is enough (some score "
                     "it partly met). Without such evidence the item needs an attestation (e.g. a hardening product)."},
    remediation={"zh": "RHEL：在 /etc/selinux/config 设置 SELINUX=enforcing 并重启（先用 permissive 排查 AVC 拒绝）；"
                       "Debian/Ubuntu：apt install apparmor apparmor-utils apparmor-profiles，aa-enforce /etc/apparmor.d/*。",
                 "en": "RHEL: set SELINUX=enforcing in /etc/selinux/config and reboot (check AVC denials in permissive "
                       "first); Debian/Ubuntu: apt install apparmor apparmor-utils apparmor-profiles; aa-enforce "
                       "/etc/apparmor.d/*."},
)
def mandatory_access_control(facts, host, params):
    seen = []
    se = facts.get(GETENFORCE)
    if se.ok:
        mode = se.stdout.strip()
        seen.append(f"getenforce: {mode}")
        if mode.lower() == "enforcing":
            return Outcome.passed("SELinux 处于 Enforcing 模式", "SELinux is enforcing", "\n".join(seen))
    elif se.error:
        seen.append(f"getenforce: {se.error}")
    else:
        seen.append("getenforce: not available")
    aa = facts.get(APPARMOR_ENABLED)
    if aa.ok and aa.stdout.strip().upper().startswith("Y"):
        prof = facts.get(APPARMOR_PROFILES)
        if prof.ok:
            enforced = [ln for ln in prof.stdout.splitlines() if ln.rstrip().endswith("(enforce)")]
            seen.append(f"apparmor: enabled, {len(enforced)} profile(s) in enforce mode")
            if len(enforced) >= int(params["min_enforced_profiles"]):
                return Outcome.passed(f"AppArmor 已启用，{len(enforced)} 个配置文件处于 enforce 模式",
                                      f"AppArmor is enabled with {len(enforced)} profile(s) enforcing",
                                      "\n".join(seen + enforced[:10]))
        else:
            seen.append(f"apparmor: enabled; profiles unreadable ({prof.error or prof.stderr.strip()[:100] or prof.rc})")
    elif aa.ok:
        seen.append(f"apparmor: enabled={aa.stdout.strip()}")
    else:
        seen.append("apparmor: not in the kernel" if aa.missing() else f"apparmor: {aa.error or aa.rc}")
    return Outcome.manual("主机上未见强制访问控制生效的证据；需人工证明已对重要主客体设置安全标记",
                          "no enforcing mandatory access control seen on the host; needs an attestation that important "
                          "subjects and objects carry security labels", "\n".join(seen))


# ---------------------------------------------------------------------------------------------
# Manual items: no probe can prove them, so they always ask for an attestation; what the host does
# show (who holds admin rights, which sudo rules exist) goes into the evidence for the reviewer.
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
        rules = [f"{p}: {s}" for p, s in _sudoers_lines(res.stdout)
                 if not s.startswith("Defaults") and not _ALIAS.match(s) and "=" in s]
        out.append(f"sudo rules: {len(rules)}")
        out.extend(rules[:15])
    return "\n".join(out)


@check(
    id="mlps.access.admin_separation",
    title={"zh": "系统、安全、审计管理员账户分离（三权分立）", "en": "Separate system, security and audit administrator accounts"},
    severity="medium",
    refs=["GB/T 22239-2019 8.1.4.2 d", "GB/T 22239-2019 7.1.4.2 d"],
    probes=[GROUP, SUDOERS],
    attest={"zh": "已设置相互独立的系统管理员、安全管理员、审计管理员账户（或角色），各自只授予完成其职责所需的权限，"
                  "审计管理员不能修改或删除审计记录；提供角色分工文件及各账户的 sudo 授权清单。",
            "en": "Separate system-administrator, security-administrator and audit-administrator accounts (or roles) "
                  "exist, each with only the rights its duty needs, and the auditor cannot alter or delete audit "
                  "records; provide the role document and each account's sudo grants."},
    rationale={"zh": "最小权限与权限分离要求管理员之间相互制约，测评中通常按“三权分立”核查是否存在管理员、操作员、审计员等不同角色。"
                     "角色划分属于管理安排，无法仅凭主机配置判定；结果中列出管理组成员与 sudo 规则供核对。",
               "en": "Least privilege and separation of duties require administrators to check one another; assessors "
                     "usually look for distinct administrator, operator and auditor roles (三权分立). Role separation is "
                     "an organisational arrangement a host's configuration cannot prove; the result lists admin-group "
                     "members and sudo rules to compare against the role document."},
    remediation={"zh": "例如建立 sysadmin、secadmin、auditadmin 三类账户，用 /etc/sudoers.d/ 分别授予系统维护、安全配置（防火墙、账户）"
                       "和只读审计（ausearch、aureport、查看 /var/log）命令。",
                 "en": "For example create sysadmin, secadmin and auditadmin accounts and grant, through /etc/sudoers.d/, "
                       "system maintenance, security configuration (firewall, accounts) and read-only audit commands "
                       "(ausearch, aureport, reading /var/log) respectively."},
)
def admin_separation(facts, host):
    return Outcome.manual("需人工核查并提供证明：系统、安全、审计管理员是否分离（下列为主机上的管理组成员与 sudo 规则）",
                          "needs an attestation that system, security and audit administrators are separate "
                          "(admin-group members and sudo rules on the host below)", _privilege_summary(facts))


@check(
    id="mlps.access.access_policy",
    title={"zh": "访问控制策略由授权主体配置", "en": "Access-control policy is set by an authorised administrator"},
    severity="low",
    refs=["GB/T 22239-2019 8.1.4.2 e"],
    applies={"levels": (3, 4)},
    probes=[GROUP, SUDOERS],
    attest={"zh": "访问控制策略（账户权限、sudo 授权、重要目录与文件的权限）由授权的安全管理员统一制定和配置，规定了主体对客体的"
                  "访问规则；提供访问控制策略文件及其审批记录。",
            "en": "The access-control policy (account rights, sudo grants, permissions of important directories and "
                  "files) is defined and configured by an authorised security administrator and states which subjects "
                  "may access which objects; provide the policy document and its approval record."},
    rationale={"zh": "三级要求由授权主体配置访问控制策略，并以策略规定主体对客体的访问规则。主机配置只能体现结果，"
                     "谁授权、按什么策略配置需书面证明；结果中列出当前的管理组与 sudo 规则，供与策略文件对照。",
               "en": "Level 3 requires an authorised subject to configure the access-control policy, which must define "
                     "how subjects may access objects. A host only shows the outcome; who authorised it and by which "
                     "policy needs a document. The result lists the admin groups and sudo rules in force to compare "
                     "with the policy."},
    remediation={"zh": "制定主机访问控制策略（账户与角色、sudo 规则、关键文件权限基线），由安全管理员审批后实施，变更走审批流程并留存记录。",
                 "en": "Write a host access-control policy (accounts and roles, sudo rules, a permission baseline for key "
                       "files), have the security administrator approve it before it is applied, and keep records of "
                       "approved changes."},
)
def access_policy(facts, host):
    return Outcome.manual("需人工核查并提供证明：访问控制策略由授权主体制定和配置（下列为主机上当前的管理组与 sudo 规则）",
                          "needs an attestation that an authorised administrator set the access-control policy "
                          "(admin groups and sudo rules now in force below)", _privilege_summary(facts))
