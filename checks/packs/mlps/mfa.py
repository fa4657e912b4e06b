"""MLPS pack, 身份鉴别 d (level 3 only, GB/T 22239-2019 8.1.4.1 d): two or more combined authentication
techniques, at least one of them cryptographic.

Each way sshd lets an administrator in is a *login path*: with ``AuthenticationMethods`` its lists (every
method of a list is required), otherwise every enabled method on its own. A path's factors:

- ``publickey`` / ``gssapi-with-mic``: ``key`` (a cryptographic factor held as a file or ticket on the
  administrator's workstation);
- ``password``: ``password``;
- ``keyboard-interactive``: what sshd's PAM ``auth`` stack asks — ``password`` from pam_unix/pam_sss,
  ``token`` from an enforcing one-time-password / U2F / RADIUS / certificate module (with ``nullok`` a user
  without a token skips it, so it does not count).

Two checks read the same paths:

- ``mlps.auth.multi_factor`` (the item's key point): fails when some path needs one factor only; a
  path of key + password counts as two techniques, one of them cryptographic (the clause's wording),
  unless the plan sets ``accept_key_and_password: false``.
- ``mlps.auth.mfa_token_factor`` (supporting): fails when a path's second factor is only an SSH key
  beside a password. Both can be taken from, or typed on, the same workstation; testing bodies differ on
  whether that is two-factor (mlps-reference.md §10 item 6: accept as 部分符合). So key + password makes
  the item 部分符合 at most: the key point passes, this check fails.

Two factors enforced on a bastion host are invisible on the target. When the inventory declares the
host's remote administration goes through one (``facts: {admin_bastion: NAME}``) and the host itself
shows no second factor, both checks are ``manual`` and an attestation answers; without that declaration
a single-factor path is a failure.
"""
from __future__ import annotations

from checks.contract import Outcome, evaluator
from checks.facts import PAM, SSHD_T, evidence_lines, files, gathered
from checks.parsers import sshd_t
from checks.parsers.pam import is_enforcing, pam_stack, strip_comment

from .identity import _pam_layout

_KEY, _PASSWORD, _TOKEN = "key", "password", "token"


def _bastion(host) -> str:
    facts = getattr(host, "facts", None) or {}
    value = facts.get("admin_bastion") if isinstance(facts, dict) else None
    return str(value)[:100] if value else ""


def login_paths(facts, params):
    """([(methods, factor set)], evidence lines) or (None, Outcome) when sshd cannot be judged."""
    res = facts.get(SSHD_T)
    if res.error:
        return None, Outcome.error(f"无法采集 sshd -T：{res.error}", f"could not gather sshd -T: {res.error}")
    if res.missing() or res.rc != 0:
        return None, Outcome.manual("主机上无可读的 sshd 配置（可能不提供 SSH 远程管理）；需人工核查远程管理方式的双因素鉴别",
                                    "no readable sshd configuration (the host may offer no SSH administration); "
                                    "two-factor authentication of its remote administration needs an attestation",
                                    res.stderr[:200])
    kv = sshd_t(res.stdout)
    token_mods = {str(m) for m in params["mfa_pam_modules"]}
    pam_auth = []
    fam = _pam_layout(facts)
    if fam is not None:
        text, bad = gathered(facts, PAM[fam])
        if not bad:
            pam = {p: [strip_comment(x) for x in ls] for p, ls in files(text).items()}
            pam_auth = pam_stack(pam, "/etc/pam.d/sshd", "auth")
    token = [e for e in pam_auth if is_enforcing(e) and "nullok" not in e["args"] and (
        e["module"] in token_mods or (e["module"] == "pam_sss.so" and "require_cert_auth" in e["args"]))]
    usepam = kv.get("usepam", "yes") == "yes"
    kbd = kv.get("kbdinteractiveauthentication", kv.get("challengeresponseauthentication", "no")) == "yes"
    has_password = any(e["module"] in ("pam_unix.so", "pam_sss.so", "pam_ldap.so") and e not in token for e in pam_auth)
    # a stack that checks no password and has no enforcing token (e.g. common-auth commented out for a
    # nullok OTP module) guarantees no factor at all
    hollow = bool(pam_auth) and not has_password and not token
    if not usepam:
        kbd_factors = {_PASSWORD}  # without PAM, keyboard-interactive is sshd's own password prompt
    elif token:
        kbd_factors = {_TOKEN, _PASSWORD} if has_password else {_TOKEN}
    elif hollow:
        kbd_factors = set()
    else:
        kbd_factors = {_PASSWORD}
    # With UsePAM, sshd's "password" method also runs the PAM auth stack, answering every prompt with the
    # password: an enforcing token module there cannot be passed with the password alone.
    pw_factors = kbd_factors if usepam and (token or hollow) else {_PASSWORD}
    factor = {"publickey": {_KEY}, "gssapi-with-mic": {_KEY}, "hostbased": {_KEY}, "password": pw_factors,
              "keyboard-interactive": kbd_factors}
    methods = kv.get("authenticationmethods", "any").strip() or "any"
    if methods != "any":
        lists = methods.split()
    else:
        on = [("publickey", kv.get("pubkeyauthentication", "yes")), ("password", kv.get("passwordauthentication", "yes")),
              ("keyboard-interactive", "yes" if kbd else "no")]
        # gssapi-with-mic needs a Kerberos keytab and hostbased needs shosts.equiv (mlps.auth.rhosts); RHEL
        # turns GSSAPIAuthentication on by default on hosts in no realm, where it lets nobody in.
        lists = [m for m, v in on if v == "yes"]
    paths = [(lst, set().union(*[factor.get(m.split(":")[0], set()) for m in lst.split(",")])) for lst in lists]
    ev = [f"authenticationmethods {methods}", f"usepam {kv.get('usepam', '?')}",
          f"kbdinteractiveauthentication {'yes' if kbd else 'no'}",
          f"pubkeyauthentication {kv.get('pubkeyauthentication', 'yes')}",
          f"passwordauthentication {kv.get('passwordauthentication', 'yes')}"]
    ev += [f"{e['file']}: {e['line']}" for e in token]
    ev += [f"{e['file']}: {e['line']} (nullok: skippable)" for e in pam_auth
           if e["module"] in token_mods and "nullok" in e["args"]]
    ev += [f"path {lst}: {'+'.join(sorted(f)) or 'nothing'}" for lst, f in paths]
    return paths, ev


def _names(paths) -> str:
    return "; ".join(lst for lst, _ in paths)


def _bastion_manual(bastion, why_zh, why_en, ev):
    return Outcome.manual(f"{why_zh}；清单声明远程管理经堡垒机 {bastion}，其双因素鉴别在本机不可见，需人工证明",
                          f"{why_en}; the inventory declares remote administration through the bastion host {bastion}, "
                          "whose two-factor authentication is not visible here and needs an attestation", ev)


def _paths_or_outcome(facts, params):
    """(login paths, evidence) to judge, or (None, the Outcome) when there is nothing to judge: the probes
    failed, or sshd enables no authentication method at all."""
    paths, ev = login_paths(facts, params)
    if paths is None:
        return None, ev
    evidence = evidence_lines(ev, 14)
    if not paths:
        return None, Outcome.passed("sshd 未启用任何鉴别方法，无法经 SSH 登录",
                                    "sshd enables no authentication method: no SSH login", evidence)
    return paths, evidence


@evaluator("mlps.auth.multi_factor")
def multi_factor(facts, host, params):
    paths, evidence = _paths_or_outcome(facts, params)
    if paths is None:
        return evidence
    single = [(lst, f) for lst, f in paths if len(f) < 2]
    key_pw = [(lst, f) for lst, f in paths if f == {_KEY, _PASSWORD}]
    if single:
        why_zh = f"SSH 存在只需一种鉴别因素的登录路径（{_names(single)}）"
        why_en = f"SSH has login paths that need one factor only ({_names(single)})"
        bastion = _bastion(host)
        if bastion:
            return _bastion_manual(bastion, why_zh, why_en, evidence)
        return Outcome.failed(f"{why_zh}，三级系统未采用两种以上鉴别技术组合", f"{why_en}: a level-3 system without two "
                              "combined authentication techniques", evidence)
    if key_pw and not params["accept_key_and_password"]:
        return Outcome.failed(f"SSH 登录路径 {_names(key_pw)} 为“密钥 + 口令”，本计划不将其视为双因素",
                              f"SSH login paths {_names(key_pw)} are key + password, which this plan does not count as "
                              "two factors", evidence)
    if key_pw:
        return Outcome.passed("SSH 每条登录路径均要求两种鉴别技术（含“密钥 + 口令”，独立令牌见 mlps.auth.mfa_token_factor）",
                              "SSH requires two authentication techniques on every path (key + password among them; an "
                              "independent token is judged by mlps.auth.mfa_token_factor)", evidence)
    return Outcome.passed("SSH 每条登录路径均要求两种鉴别因素", "SSH requires two authentication factors on every path", evidence)


@evaluator("mlps.auth.mfa_token_factor")
def mfa_token_factor(facts, host, params):
    paths, evidence = _paths_or_outcome(facts, params)
    if paths is None:
        return evidence
    weak = [(lst, f) for lst, f in paths if _TOKEN not in f or len(f) < 2]
    if not weak:
        return Outcome.passed("SSH 每条登录路径均要求动态口令/硬件令牌/证书等独立因素",
                              "every SSH login path requires an independent factor (one-time password, hardware token, "
                              "certificate)", evidence)
    why_zh = f"SSH 登录路径 {_names(weak)} 不要求独立于管理终端的令牌因素（动态口令、USB Key、证书）"
    why_en = (f"SSH login paths {_names(weak)} require no factor independent of the administrator's workstation "
              "(one-time password, USB key, certificate)")
    bastion = _bastion(host)
    if bastion:
        return _bastion_manual(bastion, why_zh, why_en, evidence)
    if all(f == {_KEY, _PASSWORD} for _, f in weak):
        return Outcome.failed(f"{why_zh}：“密钥 + 口令”的两个因素可在同一终端上被窃取，测评中多判为部分符合",
                              f"{why_en}: with key + password both factors can be stolen on one workstation; assessors "
                              "mostly score it partly met", evidence)
    return Outcome.failed(why_zh, why_en, evidence)
