"""MLPS pack, 身份鉴别 a: weak, empty, default and shared passwords, judged from what the on-host probe
reports (account names and the rule that matched; ``_weakpw`` builds the probe and reads it back)."""
from __future__ import annotations

from checks.contract import Outcome, declared_probes, evaluator
from checks.facts import SHADOW, evidence_lines
from checks.probe_catalogue import named

from . import _weakpw

WEAK, SHARED = "mlps.auth.weak_passwords", "mlps.auth.shared_passwords"
MYSQL_ROOT = named("mysql_root_empty")
WHAT = ("弱口令检测程序", "the weak-password probe")  # never the probe's text: it carries the candidate list


@declared_probes(WEAK, SHARED)
def weak_password_probe(host, params):
    """the on-host weak-password test (sudo cat -- /etc/shadow piped into a fixed perl/python3 program at nice 19)"""
    return [_weakpw.probe(host, params)]


def _report(facts, host, params):
    """(report, None) or (None, an error Outcome)."""
    shadow = facts.get(SHADOW)
    if shadow.error:
        return None, Outcome.error(f"无法读取 /etc/shadow：{shadow.error}", f"cannot read /etc/shadow: {shadow.error}")
    res = _weakpw.find(facts, host, params)
    if res.error:
        return None, Outcome.error(f"{WHAT[0]}未完成：{res.error}", f"{WHAT[1]} did not finish: {res.error}")
    rep = _weakpw.read_report(res.stdout)
    if "noengine" in rep["problems"] or "nocrypt" in rep["problems"]:
        return None, Outcome.error("主机上没有可用的 perl 或 python3（libcrypt），无法测试口令散列",
                                   "the host has neither perl nor python3 with libcrypt: hashes cannot be tested")
    if "noshadow" in rep["problems"]:
        return None, Outcome.error("检测程序无法读取 /etc/shadow（sudo 被拒绝或无权限）",
                                   "the probe could not read /etc/shadow (sudo refused or no permission)", res.stderr[:200])
    if not rep["done"]:
        why = ("程序异常退出" if "fatal" in rep["problems"] else f"退出码 {res.rc}，可能超出 CPU 上限或超时",
               "the program failed" if "fatal" in rep["problems"] else
               f"exit {res.rc}: stopped by the CPU limit or the probe timeout")
        return rep, Outcome.error(f"{WHAT[0]}未运行完成（{why[0]}）", f"{WHAT[1]} did not complete ({why[1]})")
    return rep, None


def _untested(rep) -> list[str]:
    """One line per reason, naming the accounts (a host may have hundreds)."""
    budget = [(n, w) for n, w in rep["untested"] if w != "scheme"]
    scheme = [n for n, w in rep["untested"] if w == "scheme"]
    out = []
    if budget:
        made = sorted({int(w.split("/")[0]) for _, w in budget})
        of = max(int(w.split("/")[1]) for _, w in budget)
        span = f"{made[0]}" if len(made) == 1 else f"{made[0]}-{made[-1]}"
        out.append(f"not fully tested, CPU budget reached after {span} of {of} guesses each: "
                   + ", ".join(n for n, _ in budget))
    if scheme:
        out.append("not tested, hash scheme not supported by the host's crypt: " + ", ".join(scheme))
    return out


def _cost(rep) -> str:
    if rep["cpu"] is None:
        return ""
    return (f"host CPU {rep['cpu']:.2f} s of {rep['budget']:.2f} s budget, {rep['guesses']} guesses "
            f"({rep['engine']})")


@evaluator(WEAK)
def weak_passwords(facts, host, params):
    rep, bad = _report(facts, host, params)
    if bad and not (rep and rep["weak"]):
        return bad
    weak = rep["weak"]
    lines = [f"{n}: {_weakpw.RULES[r][1]}" for n, r in weak]
    untested = _untested(rep)
    if weak:
        zh = "；".join(f"{n}（{_weakpw.RULES[r][0]}）" for n, r in weak)
        return Outcome.failed(f"存在弱口令/空口令账户：{zh}",
                             "weak or empty passwords: " + ", ".join(f"{n} ({_weakpw.RULES[r][1]})" for n, r in weak),
                             evidence_lines([x for x in [_cost(rep)] if x] + lines + untested
                                            + [f"{a}: {k} candidates tested, none matched" for a, k in rep["clean"]],
                                            cap=60))
    if untested:
        n = len(rep["untested"])
        return Outcome.error(f"{n} 个账户未测完（CPU 预算用尽或散列算法不受支持），不能判为通过（可提高 cpu_budget_s）",
                             f"{n} account(s) not fully tested (CPU budget reached or hash scheme unsupported), so not "
                             "a pass (raise cpu_budget_s)", evidence_lines([x for x in [_cost(rep)] if x] + untested, cap=60))
    if not rep["clean"]:
        return Outcome.passed("没有可用口令登录的账户（均已锁定或无口令散列）",
                              "no account has a usable password (all locked or without a hash)", _cost(rep))
    n = len(rep["clean"])
    return Outcome.passed(f"{n} 个有口令的账户均未命中空口令、用户名、常见口令或派生口令",
                          f"none of {n} password account(s) matched empty, user-name, common or inventory-derived "
                          "passwords", evidence_lines([f"{a}: {k} candidates tested" for a, k in rep["clean"]]
                                                      + [_cost(rep)], cap=40))


@evaluator(SHARED)
def shared_passwords(facts, host, params):
    rep, bad = _report(facts, host, params)
    if bad:
        return bad
    groups = [(kind, names) for _, (kind, names) in sorted(rep["shared"].items()) if len(names) > 1]
    if groups:
        zh = "；".join("、".join(names) for _, names in groups)
        ev = [f"{', '.join(names)}: " + ("identical hash (same salt and hash)" if kind == "hash"
                                          else "the same common/derived password matched") for kind, names in groups]
        return Outcome.failed(f"以下账户使用相同口令：{zh}",
                              "accounts sharing a password: " + "; ".join(", ".join(n) for _, n in groups),
                              evidence_lines(ev, cap=40))
    return Outcome.passed("未发现共用口令的账户（相同散列或命中同一候选口令）",
                          "no accounts share a hash or a matched password", _cost(rep))


@evaluator("mlps.auth.mysql_root_empty_password")
def mysql_root_empty_password(facts, host):
    res = facts.get(MYSQL_ROOT)
    if res.error or res.rc != 0:
        why = res.error or f"exit {res.rc}"
        return Outcome.error(f"无法测试 MySQL/MariaDB：{why}", f"could not test MySQL/MariaDB: {why}", res.stderr[:200])
    lines = [ln.strip() for ln in res.stdout.splitlines() if ln.startswith("@")][:20]
    if not lines or lines == ["@nosocket"]:
        return Outcome.not_applicable("本机没有 MySQL/MariaDB 本地 socket", "no local MySQL/MariaDB socket on the host")
    if lines == ["@root"]:
        return Outcome.error("以 root 身份运行时无法判断（unix_socket 认证会放行 root），请用非 root 审计账户",
                             "cannot tell from a root session (unix_socket admits root): audit as a non-root user")
    if lines == ["@noclient"]:
        return Outcome.error("主机有 MySQL/MariaDB socket 但没有 mysql 客户端，无法测试",
                             "the host has a MySQL/MariaDB socket but no mysql client to test it")
    opened = [ln.split(" ", 1)[1] for ln in lines if ln.startswith("@open ")]
    closed = [ln.split(" ", 2) for ln in lines if ln.startswith("@closed ")]
    if opened:
        return Outcome.failed("MySQL/MariaDB 的 root 账户可用空口令登录", "MySQL/MariaDB root logs in with an empty password",
                              evidence_lines(f"{s}: root with an empty password ran SELECT 1" for s in opened))
    if closed:
        return Outcome.passed("MySQL/MariaDB 拒绝 root 空口令登录", "MySQL/MariaDB refuses root with an empty password",
                              evidence_lines(f"{c[1]}: {c[2] if len(c) > 2 else 'refused'}" for c in closed))
    return Outcome.error("无法解读 MySQL/MariaDB 测试结果", "unreadable MySQL/MariaDB test output", res.stdout[:200])
