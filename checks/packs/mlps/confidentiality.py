"""MLPS pack, 数据保密性 confidentiality: GB/T 22239-2019 8.1.4.8 a (in transit) and b (at rest), level 3 only.

Level 2 has no 数据保密性 control point. The SSH algorithm checks also belong to 8.1.4.1 c / 7.1.4.1 c
(remote management must keep credentials from being overheard), so they apply at both levels and the
engine picks the clauses of the host's level; the MAC and TLS checks also cite 数据完整性 in transit
(8.1.4.7 a / 7.1.4.7 a), which is why no separate transit-integrity item exists.
"""
from __future__ import annotations

from checks import parsers
from checks.baselines import weak_algorithms
from checks.contract import Outcome, evaluator
from checks.probe_catalogue import named
from checks.facts import SSHD_T, evidence_lines





def _sshd_list(facts, key: str):
    """(algorithms or None when sshd -T does not print the key, full sshd -T map) or an Outcome to return."""
    res = facts.get(SSHD_T)
    if res.error:
        return None, None, Outcome.error(f"无法采集 sshd -T：{res.error}", f"could not gather sshd -T: {res.error}")
    if res.missing():
        return None, None, Outcome.not_applicable("未安装 sshd", "sshd is not installed", res.stderr[:200])
    if res.rc != 0:
        return None, None, Outcome.error(f"sshd -T 失败（退出码 {res.rc}）", f"sshd -T failed (exit {res.rc})",
                                         res.stderr[:300])
    kv = parsers.sshd_t(res.stdout)
    value = kv.get(key)
    algos = [a.strip() for a in value.split(",") if a.strip()] if value is not None else None
    return algos, kv, None


def _judge(facts, key: str, patterns, what_zh: str, what_en: str, extra=None) -> Outcome:
    """Fail when sshd -T's ``key`` lists an algorithm matching one of ``patterns``.

    ``extra`` = (key, patterns, condition(kv) -> bool): a second list judged only when the condition holds
    (GSSAPI key exchange counts only with GSSAPIKeyExchange yes).
    """
    algos, kv, out = _sshd_list(facts, key)
    if out:
        return out
    if algos is None:
        # Old OpenSSH releases (e.g. 5.3p1 on CentOS 6) print no list when the option is unset; their
        # built-in defaults carried CBC/arcfour ciphers, hmac-md5, diffie-hellman-group1-sha1 and ssh-dss.
        return Outcome.failed(f"sshd -T 未输出 {key}：OpenSSH 版本过旧，使用的内置默认{what_zh}包含弱算法；请显式配置",
                              f"sshd -T does not print {key}: this OpenSSH is too old to show its built-in default "
                              f"{what_en}, which on such releases include weak ones; configure the list explicitly",
                              f"{key}: (not printed by sshd -T)")
    bad = weak_algorithms(algos, patterns)
    lines = [f"{key} {','.join(algos)}"]
    if extra:
        ekey, epatterns, applies = extra
        evalue = kv.get(ekey)
        if evalue is not None and applies(kv):
            ealgos = [a.strip() for a in evalue.split(",") if a.strip()]
            ebad = weak_algorithms(ealgos, epatterns)
            bad += ebad
            lines.append(f"{ekey} {evalue}")
    if bad:
        names = ", ".join(bad)
        return Outcome.failed(f"SSH 服务启用了弱{what_zh}：{names}", f"SSH offers weak {what_en}: {names}",
                              evidence_lines([f"weak: {names}"] + lines, 5))
    return Outcome.passed(f"SSH 未启用弱{what_zh}", f"SSH offers no weak {what_en}", evidence_lines(lines, 5))


@evaluator("mlps.confidentiality.ssh_ciphers")
def ssh_ciphers(facts, host, params):
    return _judge(facts, "ciphers", params["weak_ciphers"], "加密算法", "ciphers")


@evaluator("mlps.confidentiality.ssh_macs")
def ssh_macs(facts, host, params):
    return _judge(facts, "macs", params["weak_macs"], "消息认证算法", "MACs")


@evaluator("mlps.confidentiality.ssh_kex")
def ssh_kex(facts, host, params):
    gss_on = (lambda kv: kv.get("gssapikeyexchange", "no").lower() == "yes")
    return _judge(facts, "kexalgorithms", params["weak_kex"], "密钥交换算法", "key exchange algorithms",
                  extra=("gssapikexalgorithms", params["weak_kex"], gss_on))


@evaluator("mlps.confidentiality.ssh_hostkey_algorithms")
def ssh_hostkey_algorithms(facts, host, params):
    return _judge(facts, "hostkeyalgorithms", params["weak_hostkey_algorithms"], "主机密钥签名算法",
                  "host-key signature algorithms")


# --------------------------------------------------------------------------------------------------
# TLS protocol versions in local web server configuration.

# Directive lines of nginx (/etc/nginx) and Apache (/etc/apache2 Debian, /etc/httpd RHEL). -R follows
# the *-enabled symlinks; the *-available directories (not loaded) and RHEL's logs/run/modules links are
# skipped; -I skips binary files. The ls lines say which main config files exist.
TLS_CONF = named("tls_conf")
CRYPTO_POLICY = named("crypto_policy")
MAIN_CONFS = {"/etc/nginx/nginx.conf": "nginx", "/etc/apache2/apache2.conf": "apache", "/etc/httpd/conf/httpd.conf": "apache"}
ALL_PROTOCOLS = ("sslv2", "sslv3", "tlsv1", "tlsv1.1", "tlsv1.2", "tlsv1.3")
SHOWN = {"sslv2": "SSLv2", "sslv3": "SSLv3", "tlsv1": "TLSv1", "tlsv1.1": "TLSv1.1", "tlsv1.2": "TLSv1.2", "tlsv1.3": "TLSv1.3"}
APACHE_ALL = set(ALL_PROTOCOLS) - {"sslv2"}  # mod_ssl 2.4 dropped SSLv2; 'all' is SSLv3 (if built) to TLSv1.3
# RHEL 8/9 system-wide policies whose TLS floor is 1.2, and sub-policies that do not lower it.
STRONG_POLICIES = {"DEFAULT", "FUTURE", "FIPS"}
HARMLESS_SUBPOLICIES = {"SHA1", "NO-SHA1", "AD-SUPPORT", "NO-CAMELLIA", "OSPP", "ECDHE-ONLY", "NO-ENFORCE-EMS"}


def _apache_protocols(args: list[str]) -> set[str]:
    """mod_ssl's SSLProtocol: '+X' adds, '-X' removes, a bare 'X' replaces the set (mod_ssl warns about it)."""
    cur: set[str] = set()
    for a in args:
        op, name = (a[0], a[1:]) if a[:1] in "+-" else ("=", a)
        name = name.lower()
        these = set(APACHE_ALL) if name == "all" else {name}
        if op == "+":
            cur |= these
        elif op == "-":
            cur -= these
        else:
            cur = set(these)
    return cur


def _directives(text: str):
    """(servers with a main config present, [(server, path, directive, args, line)])."""
    present, found = set(), []
    for ln in text.splitlines():
        if ln.strip() in MAIN_CONFS:
            present.add(MAIN_CONFS[ln.strip()])
            continue
        path, sep, body = ln.partition(":")
        if not sep or not path.startswith("/etc/"):
            continue
        server = "nginx" if path.startswith("/etc/nginx/") else "apache"
        body = body.split("#", 1)[0].strip().rstrip(";").strip()
        words = body.split()
        if not words:
            continue
        found.append((server, path, words[0].lower(), words[1:], f"{path}: {body}"))
    return present, found


def _crypto_policy_floor(facts) -> str | None:
    """The RHEL system crypto policy when it keeps TLS at 1.2 or above, else None."""
    res = facts.get(CRYPTO_POLICY)
    if res.error or res.rc != 0:
        return None
    lines = parsers.lines(res.stdout)
    if not lines:
        return None
    base, *subs = lines[0].strip().split(":")
    if base.upper() in STRONG_POLICIES and all(s.upper() in HARMLESS_SUBPOLICIES for s in subs):
        return lines[0].strip()
    return None


@evaluator("mlps.confidentiality.tls_protocols")
def tls_protocols(facts, host, params):
    res = facts.get(TLS_CONF)
    if res.error:
        return Outcome.error(f"无法采集 Web 服务配置：{res.error}", f"could not gather web server configuration: {res.error}")
    weak = {str(p).lower() for p in params["weak_protocols"]}
    present, found = _directives(res.stdout)
    if not present:
        return Outcome.not_applicable("未发现 nginx 或 Apache 配置", "no nginx or Apache configuration found")
    # Only servers that actually serve TLS are judged (Debian's stock nginx.conf lists TLSv1 even when
    # no site listens with ssl; Apache's SSLProtocol matters once an SSLEngine on virtual host exists).
    tls_on: dict[str, list[str]] = {"nginx": [], "apache": []}
    for server, path, name, args, line in found:
        low = [a.lower() for a in args]
        if server == "nginx" and ((name == "listen" and "ssl" in low) or (name == "ssl" and low[:1] == ["on"])):
            tls_on["nginx"].append(line)
        elif server == "apache" and name == "sslengine" and low[:1] == ["on"]:
            tls_on["apache"].append(line)
    using = {s for s, lines in tls_on.items() if lines}
    if not using:
        return Outcome.not_applicable("Web 服务未配置 TLS（仅明文 HTTP 或未启用 TLS 站点）",
                                      "no web server is configured for TLS (plain HTTP only, or no TLS site enabled)",
                                      "main configuration: " + ", ".join(sorted(present)))
    order = {p: i for i, p in enumerate(ALL_PROTOCOLS)}
    bad, good, explicit = [], [], set()
    for server, path, name, args, line in found:
        if server not in using:
            continue
        if name == "ssl_protocols" and server == "nginx":
            protos = {a.lower() for a in args}
        elif name == "sslprotocol" and server == "apache":
            protos = _apache_protocols(args)
        else:
            continue
        explicit.add(server)
        hit = sorted(protos & weak, key=lambda p: order.get(p, 99))
        if hit:
            bad.append(f"{line}  -> weak: {', '.join(SHOWN.get(h, h) for h in hit)}")
        else:
            good.append(line)
    if bad:
        return Outcome.failed(f"Web 服务配置启用了弱 TLS/SSL 协议（{len(bad)} 处）",
                              f"web server configuration enables weak TLS/SSL protocols ({len(bad)} place(s))",
                              evidence_lines(bad + good, 10))
    implicit = sorted(using - explicit)
    if not implicit:
        return Outcome.passed("Web 服务只启用 TLS 1.2 及以上", "web servers enable TLS 1.2 or later only",
                              evidence_lines(good, 10))
    # A server that uses TLS without naming protocols: its built-in default (or the system policy) decides.
    ev = good + [ln for s in implicit for ln in tls_on[s][:3]]
    policy = _crypto_policy_floor(facts)
    if policy:
        return Outcome.passed(f"未显式配置协议的 Web 服务遵循系统加密策略 {policy}（TLS 1.2 起）",
                              f"web servers without a protocol list follow the system crypto policy {policy} "
                              "(TLS 1.2 and later)",
                              evidence_lines(ev + [f"/etc/crypto-policies/config: {policy}"], 10))
    if "apache" in implicit:
        return Outcome.failed("Apache 启用了 TLS 但未配置 SSLProtocol，默认值 “all -SSLv3” 包含 TLS 1.0/1.1",
                              "Apache uses TLS without SSLProtocol; its default 'all -SSLv3' includes TLS 1.0/1.1",
                              evidence_lines(ev + ["(no SSLProtocol directive)"], 10))
    return Outcome.manual("nginx 启用了 TLS 但未配置 ssl_protocols，默认协议随 nginx 版本不同；需人工核查并提供证明",
                          "nginx uses TLS without ssl_protocols; its default depends on the nginx version; needs an "
                          "attestation", evidence_lines(ev + ["(no ssl_protocols directive)"], 10))


# --------------------------------------------------------------------------------------------------
# Encryption at rest (8.1.4.8 b): the host can show disk encryption; database/application encryption
# must be attested.

# lsblk: a crypto_LUKS partition, or an opened dm-crypt device (TYPE crypt); crypttab: its non-comment
# entries (RHEL's crypttab is 0600, so only lsblk may show anything there). "; true": no match is no error.
DISK_CRYPT = named("disk_crypt")


def _encrypted_volumes(text: str) -> list[str]:
    """Evidence lines of encryption at rest; swap encrypted with a throw-away key is not data encryption."""
    hits = []
    for ln in text.splitlines():
        line = ln.strip()
        if line.startswith("/etc/crypttab:"):
            fields = line.split(":", 1)[1].split()
            options = fields[3].split(",") if len(fields) > 3 else []
            if "swap" not in options and "tmp" not in options:
                hits.append(line)
            continue
        cols = line.split()
        if len(cols) >= 3 and (cols[2] == "crypto_LUKS" or (cols[1] == "crypt" and cols[2] != "swap")):
            hits.append(line)
    return hits


@evaluator("mlps.confidentiality.storage_encryption")
def storage_encryption(facts, host):
    res = facts.get(DISK_CRYPT)
    if res.error:
        return Outcome.error(f"无法列出块设备：{res.error}", f"could not list block devices: {res.error}")
    hits = _encrypted_volumes(res.stdout)
    if hits:
        return Outcome.passed(f"发现 {len(hits)} 处磁盘加密（LUKS/dm-crypt）", f"disk encryption found ({len(hits)} place(s): LUKS/dm-crypt)",
                              evidence_lines(hits, 10))
    ev = evidence_lines(parsers.lines(res.stdout), 12)
    decl = getattr(host, "facts", None)
    declared = decl.get("data_encryption") if isinstance(decl, dict) else None
    if declared:
        return Outcome.manual(f"未发现磁盘加密（LUKS、/etc/crypttab）；清单声明数据在数据库/应用层加密（{str(declared)[:100]}），需人工证明",
                              "no disk encryption (LUKS, /etc/crypttab) found; the inventory declares database or "
                              f"application encryption ({str(declared)[:100]}), which needs an attestation", ev)
    return Outcome.failed("未发现任何存储加密：没有 LUKS/dm-crypt 加密卷，清单也未声明数据库或应用层加密（facts: data_encryption）",
                          "no encryption at rest found: no LUKS/dm-crypt volume, and the inventory declares no database "
                          "or application encryption (facts: data_encryption)", ev)


__all__ = ["TLS_CONF", "CRYPTO_POLICY", "DISK_CRYPT"]
