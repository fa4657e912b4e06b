"""Fleet pack: a host reachable only with legacy SSH algorithms (SHA-1 kex, ssh-rsa) is a finding."""
from checks.contract import Outcome, evaluator


@evaluator("fleet.ssh.legacy_algorithms")
def legacy_algorithms(facts, host):
    meta = facts.meta
    if meta.get("connection") != "ssh":
        return Outcome.not_applicable("非 SSH 连接", "not an SSH connection")
    if meta.get("legacy_ssh"):
        return Outcome.failed("主机仅支持旧的 SSH 算法，已通过系统 OpenSSH 客户端完成审计",
                              "the host offers only legacy SSH algorithms; audited through the system OpenSSH client",
                              str(meta["legacy_ssh"]))
    if meta.get("unreachable"):
        return Outcome.not_applicable("主机无法连接", "host unreachable", meta.get("detail", ""))
    return Outcome.passed("SSH 算法协商正常", "modern SSH algorithms negotiated", meta.get("host_key", ""))
