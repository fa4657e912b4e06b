"""Fleet pack: a host reachable only with legacy SSH algorithms (SHA-1 kex, ssh-rsa) is a finding."""
from checks.contract import Outcome, check


@check(
    id="fleet.ssh.legacy_algorithms",
    title={"zh": "SSH 服务不依赖已淘汰的 SHA-1 密钥交换或 ssh-rsa 签名",
           "en": "SSH does not depend on retired SHA-1 key exchange or ssh-rsa signatures"},
    severity="high",
    refs=["GB/T 22239-2019 8.1.4.1 c", "GB/T 22239-2019 7.1.4.1 c", "GB/T 22239-2019 8.1.4.8 a"],
    probes=[],
    rationale={"zh": "只支持 SHA-1 密钥交换或 ssh-rsa 签名的 SSH 服务（通常是 OpenSSH 7.2 以前的旧系统）无法充分保护远程管理的鉴别信息，"
                     "现代客户端已默认拒绝。审计通过系统 OpenSSH 客户端临时启用旧算法完成，并记录为问题。",
               "en": "An SSH server that offers only SHA-1 key exchange or ssh-rsa signatures (usually OpenSSH before 7.2) "
                     "no longer protects remote-management credentials adequately; modern clients refuse it. The audit "
                     "reached it with the system OpenSSH client, enabling those algorithms for that connection only."},
    remediation={"zh": "升级 OpenSSH（或整个操作系统，CentOS 6 等已停止维护）；在 sshd_config 中启用 curve25519-sha256 与 "
                       "rsa-sha2-256/512 或 ssh-ed25519 主机密钥。",
                 "en": "Upgrade OpenSSH (or the whole end-of-life OS, e.g. CentOS 6); offer curve25519-sha256 and "
                       "rsa-sha2-256/512 or ssh-ed25519 host keys in sshd_config."},
)
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
