"""MLPS pack, 身份鉴别 a: weak, empty, default and shared passwords, judged from what the on-host probe
reports (account names and the rule that matched; ``_weakpw`` builds the probe and reads it back)."""
from __future__ import annotations

from checks.contract import Outcome, declared_probes, evaluator
from checks.facts import PASSWD, SHADOW, evidence_lines

from . import _weakpw

WEAK, SHARED = "mlps.auth.weak_passwords", "mlps.auth.shared_passwords"
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
