"""Fleet pack: a host reachable only with legacy SSH algorithms (SHA-1 kex, ssh-rsa, CBC...) is a finding
naming each weak algorithm the server offers (its KEXINIT, read by the transport into
``meta['legacy_ssh']['offer']``), judged with the same shared patterns as the sshd_config checks."""
from checks.baselines import weak_algorithms
from checks.contract import Outcome, evaluator

# (offer list, shared parameter, zh, en)
_LISTS = (("kex", "weak_kex", "密钥交换", "key exchange"), ("host_key", "weak_hostkey_algorithms", "主机密钥", "host key"),
          ("cipher", "weak_ciphers", "加密算法", "cipher"), ("mac", "weak_macs", "MAC", "MAC"))


def _offered(offer: dict) -> str:
    parts = [f"{en} {', '.join(offer[k])}" for k, _, _, en in _LISTS if offer.get(k)]
    return (f"{offer.get('host', 'the server')} {offer.get('banner', '')} offers " + "; ".join(parts)) if parts else ""


@evaluator("fleet.ssh.legacy_algorithms")
def legacy_algorithms(facts, host, params):
    meta = facts.meta
    if meta.get("connection") != "ssh":
        return Outcome.not_applicable("非 SSH 连接", "not an SSH connection")
    legacy = meta.get("legacy_ssh")
    if legacy:
        offer = legacy.get("offer", {}) if isinstance(legacy, dict) else {}
        where = offer.get("host", "")
        where = f" ({where})" if where.startswith("jump host") else ""
        bad = [(zh, en, weak_algorithms(offer.get(k, []), params[p])) for k, p, zh, en in _LISTS]
        bad = [(zh, en, names) for zh, en, names in bad if names]
        if bad:
            return Outcome.failed(
                f"主机仅支持旧的 SSH 算法{where}，提供的弱算法：" + "；".join(f"{zh} {', '.join(n)}" for zh, _, n in bad)
                + "；已通过系统 OpenSSH 客户端完成审计",
                f"the host offers only legacy SSH algorithms{where}; weak algorithms offered: "
                + "; ".join(f"{en} {', '.join(n)}" for _, en, n in bad) + "; audited through the system OpenSSH client",
                _offered(offer))
        return Outcome.failed(f"主机需要旧的 SSH 算法{where}，已通过系统 OpenSSH 客户端完成审计",
                              f"the host needs legacy SSH algorithms{where}; audited through the system OpenSSH client",
                              _offered(offer) or "its algorithm lists could not be read")
    if meta.get("unreachable"):
        return Outcome.not_applicable("主机无法连接", "host unreachable", meta.get("detail", ""))
    return Outcome.passed("SSH 算法协商正常", "modern SSH algorithms negotiated", meta.get("host_key", ""))
