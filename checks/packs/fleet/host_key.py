"""Fleet pack: a changed SSH host key is a finding on that host, not only a failed connection."""
from checks.contract import Outcome, check


@check(
    id="fleet.ssh.host_key",
    title={"zh": "SSH 主机密钥与登记的一致", "en": "SSH host key matches the recorded key"},
    severity="high",
    refs=["GB/T 22239-2019 8.1.4.1 c", "GB/T 22239-2019 7.1.4.1 c"],
    probes=[],
    rationale={"zh": "主机密钥改变可能意味着中间人攻击或主机被替换；审计工具从不接受改变的密钥。",
               "en": "A changed host key can mean a man-in-the-middle or a replaced server; the auditor never accepts it."},
    remediation={"zh": "与主机管理员核实密钥变更原因；确认无误后在 known_hosts 中更新该主机的密钥（ssh-keygen -R 地址）。",
                 "en": "Confirm the key change with the host's administrator; only then replace its known_hosts entry "
                       "(ssh-keygen -R ADDRESS)."},
)
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
