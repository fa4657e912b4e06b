"""Fleet pack: a changed SSH host key is a finding on that host, not only a failed connection."""
from checks.contract import Outcome, evaluator


@evaluator("fleet.ssh.host_key")
def host_key(facts, host):
    meta = facts.meta
    if meta.get("connection") != "ssh":
        return Outcome.not_applicable("非 SSH 连接", "not an SSH connection")
    if meta.get("unreachable") == "host_key_changed":
        return Outcome.failed("主机密钥已改变，已拒绝连接", "the host key changed; the connection was refused",
                              meta.get("detail", ""))
    if meta.get("unreachable"):
        return Outcome.not_applicable("主机无法连接，密钥未核验", "host unreachable; key not verified",
                                      meta.get("detail", ""))
    if meta.get("host_key_recorded"):
        return Outcome.passed("首次使用信任：已记录主机密钥", "trust on first use: host key recorded",
                              meta["host_key_recorded"])
    return Outcome.passed("主机密钥已核验", "host key verified", meta.get("host_key", ""))
