"""Device pack, 身份鉴别 (8.1.4.1 / 7.1.4.1): password storage, empty and default passwords, password policy and
ageing, login-failure lockout, idle timeouts, plaintext management protocols, SSH version."""
from __future__ import annotations

import re

from checks.contract import Outcome, evaluator

from ._device import lines, model, passed, undecided

_WEAK_STORAGE = {"cleartext": ("明文", "cleartext"), "obfuscated": ("可逆的 7 类加密（可直接解出）", "type 7 (trivially reversible)"),
                 "encrypted": ("可逆加密", "reversible cipher")}


@evaluator("devices.auth.password_storage")
def password_storage(facts, host, params):
    cfg, err = model(facts, host)
    if err:
        return err
    bad_kinds = {"cleartext", "obfuscated"} | ({"encrypted"} if not params["allow_reversible"] else set())
    accounts = cfg.accounts + cfg.enable_secrets
    bad = [a for a in accounts if a.storage in bad_kinds]
    if bad:
        return Outcome.failed(f"{len(bad)} 个账户或特权口令以{('、'.join(sorted({_WEAK_STORAGE[a.storage][0] for a in bad})))}形式保存",
                              f"{len(bad)} account or enable password(s) stored as "
                              f"{', '.join(sorted({_WEAK_STORAGE[a.storage][1] for a in bad}))}",
                              lines(f"line {a.secret_line}: {a.secret_text}" for a in bad))
    stored = [a for a in accounts if a.secret_line]
    if not stored:
        return passed(cfg, "配置中没有本地账户口令", "no local account password in the configuration")
    return passed(cfg, f"{len(stored)} 个口令均以不可逆或加密形式保存", f"all {len(stored)} password(s) are stored hashed or encrypted",
                  lines(f"line {a.secret_line}: {a.secret_text}" for a in stored))


@evaluator("devices.auth.default_password")
def default_password(facts, host, params):
    cfg, err = model(facts, host)
    if err:
        return err
    defaults = {str(p).lower() for p in params["default_passwords"]}
    found = []
    for a in cfg.accounts + cfg.enable_secrets:
        if a.storage == "none":
            found.append(f"line {a.secret_line or a.line}: {a.name}: no password")
        elif a.cleartext is not None:
            pw = a.cleartext.lower()
            if pw == "" or pw in defaults or pw == a.name.lower():
                why = "empty" if pw == "" else "same as the user name" if pw == a.name.lower() else "a vendor default"
                found.append(f"line {a.secret_line}: {a.secret_text} ({why})")
    for ln in cfg.lines_:
        if ln.auth == "none":
            found.append(f"line {ln.auth_line}: {ln.name}: authentication-mode none / no login (no password at all)")
        elif ln.auth == "password" and not ln.has_password and cfg.platform in ("cisco-ios", "ruijie-rgos"):
            found.append(f"line {ln.auth_line}: {ln.name}: login without a line password")
    if found:
        return Outcome.failed(f"存在空口令、默认口令或与用户名相同的口令（{len(found)} 处）",
                              f"empty, default or user-name passwords ({len(found)})", lines(found))
    hidden = sum(1 for a in cfg.accounts + cfg.enable_secrets if a.storage in ("hashed", "encrypted", "obfuscated"))
    return passed(cfg, "未发现空口令或默认口令（加密保存的口令无法与默认值比较，由弱口令检查覆盖）",
                  "no empty or default password found (hashed passwords cannot be compared with defaults here)",
                  f"{hidden} hashed or encrypted password(s); {len(cfg.lines_)} line(s) require authentication")


@evaluator("devices.auth.password_policy")
def password_policy(facts, host, params):
    cfg, err = model(facts, host)
    if err:
        return err
    if not cfg.min_length.known:
        return undecided(cfg.min_length, "口令最小长度", "minimum password length")
    if not cfg.complexity.known:
        return undecided(cfg.complexity, "口令复杂度", "password complexity")
    ev = lines([f"min length {cfg.min_length.value}: {cfg.min_length.evidence()}",
                f"character classes {cfg.complexity.value}: {cfg.complexity.evidence()}"])
    bad = []
    if (cfg.min_length.value or 0) < params["min_length"]:
        bad.append((f"最小长度 {cfg.min_length.value or 0} < {params['min_length']}",
                    f"minimum length {cfg.min_length.value or 0} < {params['min_length']}"))
    if (cfg.complexity.value or 0) < params["min_classes"]:
        bad.append((f"要求的字符类别 {cfg.complexity.value or 0} < {params['min_classes']}",
                    f"character classes required {cfg.complexity.value or 0} < {params['min_classes']}"))
    if bad:
        return Outcome.failed("设备口令策略不满足要求：" + "；".join(b[0] for b in bad),
                              "the device's password policy is too weak: " + "; ".join(b[1] for b in bad), ev)
    return passed(cfg, "口令长度与复杂度策略满足要求", "password length and complexity rules are set", ev)


@evaluator("devices.auth.password_aging")
def password_aging(facts, host, params):
    cfg, err = model(facts, host)
    if err:
        return err
    s = cfg.max_age_days
    if not s.known:
        return undecided(s, "口令有效期", "password lifetime")
    if not s.value or s.value > params["max_password_age"]:
        what = "永不过期" if not s.value else f"{s.value} 天"
        return Outcome.failed(f"本地账户口令有效期为{what}，应不超过 {params['max_password_age']} 天",
                              f"local passwords {'never expire' if not s.value else f'expire after {s.value} days'}; "
                              f"at most {params['max_password_age']} days", s.evidence())
    return passed(cfg, f"口令有效期 {s.value} 天", f"passwords expire after {s.value} days", s.evidence())


@evaluator("devices.auth.login_lockout")
def login_lockout(facts, host, params):
    cfg, err = model(facts, host)
    if err:
        return err
    s = cfg.lockout
    if not s.known:
        return undecided(s, "登录失败处理", "login-failure lockout")
    if not s.value:
        return Outcome.failed("未启用登录失败处理（连续失败后锁定）", "no login-failure lockout", s.evidence())
    attempts = s.value.get("attempts")
    if attempts is None or attempts > params["max_attempts"]:
        return Outcome.failed(f"登录失败 {attempts} 次后才锁定，应不超过 {params['max_attempts']} 次",
                              f"locks only after {attempts} failures; at most {params['max_attempts']}", s.evidence())
    lock = s.value.get("lock_min")
    if lock is not None and lock * 60 < params["min_lock_seconds"]:
        return Outcome.failed(f"锁定时间 {lock} 分钟过短", f"locked for only {lock} minute(s)", s.evidence())
    return passed(cfg, f"连续 {attempts} 次登录失败后锁定", f"locked after {attempts} failed logins", s.evidence())


@evaluator("devices.auth.idle_timeout")
def idle_timeout(facts, host, params):
    cfg, err = model(facts, host)
    if err:
        return err
    limit = params["max_idle_seconds"]
    bad, ok, unknown = [], [], []
    for ln in cfg.lines_:
        if ln.kind not in ("vty", "con", "aux"):
            continue
        s = ln.idle_seconds
        if not s.known:
            unknown.append(f"{ln.name}: {s.evidence()}")
        elif s.value == 0 or s.value > limit:
            bad.append(f"{ln.name}: {'never' if s.value == 0 else f'{s.value} s'} — {s.evidence()}")
        else:
            ok.append(f"{ln.name}: {s.value} s — {s.evidence()}")
    for a in cfg.accounts:
        if a.idle_seconds is not None and (a.idle_seconds.value == 0 or a.idle_seconds.value > limit):
            bad.append(f"user {a.name}: {a.idle_seconds.evidence()}")
    if bad:
        return Outcome.failed(f"{len(bad)} 条登录线路或账户的空闲超时为永不或超过 {limit} 秒",
                              f"{len(bad)} line(s) or user(s) never time out or exceed {limit} s idle", lines(bad + ok))
    if unknown:
        return Outcome.manual("部分线路的空闲超时无法判定，请人工核实", "the idle timeout of some lines is not known; confirm on the device",
                              lines(unknown))
    if not ok:
        return Outcome.manual("配置中没有登录线路（user-interface/line），请人工核实空闲超时",
                              "no login lines in the configuration; confirm the idle timeout on the device")
    return passed(cfg, f"所有登录线路空闲 ≤ {limit} 秒自动退出", f"every line logs out after at most {limit} s idle", lines(ok))


@evaluator("devices.auth.plaintext_management")
def plaintext_management(facts, host, params):
    cfg, err = model(facts, host)
    if err:
        return err
    bad, ok = [], []
    t = cfg.telnet_server
    vty_telnet = [ln for ln in cfg.vty if ln.inbound.known and "telnet" in ln.inbound.value]
    if t.known and t.value:
        bad.append(f"Telnet: {t.evidence()}")
        bad += [f"{ln.name} accepts telnet: {ln.inbound.evidence()}" for ln in vty_telnet]
    elif t.known:
        ok.append(f"Telnet off: {t.evidence()}")
    elif cfg.vty and all(ln.inbound.known and "telnet" not in ln.inbound.value for ln in cfg.vty):
        ok.append("every vty accepts SSH only: " + "; ".join(ln.inbound.evidence() for ln in cfg.vty))
    else:
        return undecided(t, "Telnet 服务状态", "Telnet server state")
    h = cfg.http_server
    if h.known and h.value:
        bad.append(f"HTTP: {h.evidence()}")
    elif not h.known and params["http_unknown_fails"]:
        bad.append(f"HTTP: {h.evidence()}")
    elif h.known:
        ok.append(f"HTTP off: {h.evidence()}")
    if cfg.services.get("ftp_server") is not None and cfg.services["ftp_server"].value:
        bad.append(f"FTP: {cfg.services['ftp_server'].evidence()}")
    if bad:
        return Outcome.failed("设备开启了明文远程管理协议（Telnet/HTTP/FTP），鉴别信息可被窃听",
                              "plaintext remote management (Telnet/HTTP/FTP) is enabled; credentials can be sniffed",
                              lines(bad))
    return passed(cfg, "远程管理仅使用加密协议（SSH/HTTPS）", "remote management uses encrypted protocols only (SSH/HTTPS)",
                  lines(ok))


# SSH authentication types that need a password AND a key/certificate (Huawei password-rsa/-ecc/-dsa/-sm2/-x509v3-rsa,
# H3C password-publickey)
_TWO_FACTOR = re.compile(r"^password-(?:rsa|ecc|dsa|sm2|x509v3-rsa|publickey)$")
_REMOTE = {"ssh", "stelnet", "telnet", "http", "https", "web", "api"}   # service types that log in over the network


@evaluator("devices.auth.multi_factor")
def multi_factor(facts, host):
    cfg, err = model(facts, host)
    if err:
        return err
    users = cfg.ssh_users
    both = {u: s for u, s in users.items() if _TWO_FACTOR.match(str(s.value))}
    plaintext = cfg.telnet_server.known and cfg.telnet_server.value or cfg.http_server.known and cfg.http_server.value
    remote = [a for a in cfg.accounts if not a.services or set(a.services) & _REMOTE]
    if users and len(both) == len(users) and not plaintext and {a.name for a in remote} <= set(users):
        return passed(cfg, "所有 SSH 用户须同时通过口令与公钥/证书鉴别", "every SSH user needs both a password and a key or "
                      "certificate", lines(s.evidence() for s in both.values()))
    one = [f"{u}: {s.evidence()}" for u, s in users.items() if u not in both]
    if cfg.remote_login_auth.known and cfg.remote_login_auth.value:
        return Outcome.manual("管理员登录由 AAA 服务器（HWTACACS/RADIUS/TACACS+）鉴别：请证明该服务器要求第二种鉴别因素（动态令牌、证书等）",
                              "administrator logins are authenticated by an AAA server: attest that it requires a second "
                              "factor (one-time password, certificate …)", lines([cfg.remote_login_auth.evidence()] + one))
    return Outcome.failed("管理员仅以口令登录设备，未采用两种以上鉴别技术组合", "administrators log in to the device with a "
                          "password only: no second authentication factor",
                          lines(one + [f"local user {a.name} (line {a.line})" for a in remote if a.name not in users])
                          or "no ssh user authentication-type password-rsa/password-publickey and no AAA server login")


@evaluator("devices.auth.ssh_version")
def ssh_version(facts, host):
    cfg, err = model(facts, host)
    if err:
        return err
    if cfg.ssh_server.known and not cfg.ssh_server.value:
        return Outcome.not_applicable("设备未启用 SSH 服务", "the device's SSH server is off", cfg.ssh_server.evidence())
    s = cfg.ssh_v1
    if not s.known:
        return undecided(s, "SSH 协议版本", "SSH protocol version")
    if s.value:
        return Outcome.failed("SSH 服务兼容已淘汰的 SSHv1 协议", "the SSH server still accepts the retired SSHv1 protocol", s.evidence())
    return passed(cfg, "SSH 仅使用 v2 协议", "SSH accepts protocol version 2 only", s.evidence())
