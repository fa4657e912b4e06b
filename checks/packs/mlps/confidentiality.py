"""MLPS pack, 数据保密性 confidentiality: GB/T 22239-2019 8.1.4.8 a (in transit) and b (at rest), level 3 only.

Level 2 has no 数据保密性 control point. The SSH algorithm checks also belong to 8.1.4.1 c / 7.1.4.1 c
(remote management must keep credentials from being overheard), so they apply at both levels and the
engine picks the clauses of the host's level; the MAC and TLS checks also cite 数据完整性 in transit
(8.1.4.7 a / 7.1.4.7 a), which is why no separate transit-integrity item exists.
"""
from __future__ import annotations

from fnmatch import fnmatchcase

from audits.model.probes import Probe
from checks import parsers
from checks.contract import Outcome, check

from ._shared import SSHD_T, evidence_lines

SSH_REFS = ["GB/T 22239-2019 8.1.4.8 a", "GB/T 22239-2019 8.1.4.1 c", "GB/T 22239-2019 7.1.4.1 c"]
TRANSIT_INTEGRITY_REFS = ["GB/T 22239-2019 8.1.4.7 a", "GB/T 22239-2019 7.1.4.7 a"]

_RELOAD = {"zh": "然后用 sshd -t 检查语法并执行 systemctl reload sshd（Debian/Ubuntu 服务名为 ssh）。",
           "en": "then check the syntax with sshd -t and run systemctl reload sshd (the unit is ssh on Debian/Ubuntu)."}
_RHEL_NOTE = {"zh": "RHEL 8/9 上这些算法由 crypto-policies 决定：优先执行 update-crypto-policies --set DEFAULT（或 FUTURE），"
                    "仅在需要时覆盖（sshd 取第一次出现的值，覆盖文件须排在 50-redhat.conf 之前，如 /etc/ssh/sshd_config.d/40-mlps.conf）。",
              "en": "On RHEL 8/9 crypto-policies sets these lists: prefer update-crypto-policies --set DEFAULT (or FUTURE) "
                    "and override only when needed (sshd keeps the first value it reads, so the override must sort before "
                    "50-redhat.conf, e.g. /etc/ssh/sshd_config.d/40-mlps.conf)."}


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


def _weak(algos: list[str], patterns) -> list[str]:
    pats = [str(p).lower() for p in patterns]
    return [a for a in algos if any(fnmatchcase(a.lower(), p) for p in pats)]


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
    bad = _weak(algos, patterns)
    lines = [f"{key} {','.join(algos)}"]
    if extra:
        ekey, epatterns, applies = extra
        evalue = kv.get(ekey)
        if evalue is not None and applies(kv):
            ealgos = [a.strip() for a in evalue.split(",") if a.strip()]
            ebad = _weak(ealgos, epatterns)
            bad += ebad
            lines.append(f"{ekey} {evalue}")
    if bad:
        names = ", ".join(bad)
        return Outcome.failed(f"SSH 服务启用了弱{what_zh}：{names}", f"SSH offers weak {what_en}: {names}",
                              evidence_lines([f"weak: {names}"] + lines, 5))
    return Outcome.passed(f"SSH 未启用弱{what_zh}", f"SSH offers no weak {what_en}", evidence_lines(lines, 5))


@check(
    id="mlps.confidentiality.ssh_ciphers",
    title={"zh": "SSH 不使用 CBC、3DES、RC4 等弱加密算法", "en": "SSH uses no CBC, 3DES, RC4 or other weak ciphers"},
    severity="medium",
    refs=SSH_REFS,
    probes=[SSHD_T],
    params={"weak_ciphers": ["*-cbc*", "3des*", "arcfour*", "blowfish*", "cast128*"]},
    rationale={"zh": "远程管理的鉴别信息和会话数据靠 SSH 加密保护。CBC 模式在 SSH 中可被用于恢复部分明文，RC4（arcfour）、"
                     "3DES、Blowfish、CAST128 的强度或分组长度已不足，测评和漏洞扫描都会报告。取自 sshd -T 的生效配置。"
                     "参数为通配模式（fnmatch，不区分大小写）。",
               "en": "SSH encryption is what protects remote-management credentials and session data. CBC mode in SSH "
                     "allows partial plaintext recovery; RC4 (arcfour), 3DES, Blowfish and CAST128 are too weak or use "
                     "64-bit blocks; assessors and vulnerability scanners report them. Read from the effective sshd -T "
                     "configuration. The parameter holds glob patterns (fnmatch, case-insensitive)."},
    remediation={"zh": "在 /etc/ssh/sshd_config 中设置 “Ciphers chacha20-poly1305@openssh.com,aes256-gcm@openssh.com,"
                       "aes128-gcm@openssh.com,aes256-ctr,aes192-ctr,aes128-ctr”，" + _RELOAD["zh"] + _RHEL_NOTE["zh"],
                 "en": 'Set "Ciphers chacha20-poly1305@openssh.com,aes256-gcm@openssh.com,aes128-gcm@openssh.com,'
                       'aes256-ctr,aes192-ctr,aes128-ctr" in /etc/ssh/sshd_config, ' + _RELOAD["en"] + " "
                       + _RHEL_NOTE["en"]},
)
def ssh_ciphers(facts, host, params):
    return _judge(facts, "ciphers", params["weak_ciphers"], "加密算法", "ciphers")


@check(
    id="mlps.confidentiality.ssh_macs",
    title={"zh": "SSH 不使用 MD5、96 位截断等弱消息认证算法", "en": "SSH uses no MD5, truncated or 64-bit-tag MACs"},
    severity="medium",
    refs=SSH_REFS + TRANSIT_INTEGRITY_REFS,
    probes=[SSHD_T],
    params={"weak_macs": ["hmac-md5*", "hmac-sha1-96*", "umac-64*", "hmac-ripemd160*"]},
    rationale={"zh": "MAC 算法保证远程管理数据在传输中不被篡改（数据完整性 8.1.4.7 a / 7.1.4.7 a）。MD5、96 位截断的 HMAC "
                     "和 64 位标签的 umac-64 余量不足。hmac-sha1 默认不判为弱：HMAC 的安全性不依赖 SHA-1 的抗碰撞性，"
                     "目前没有可行攻击，RHEL 9 DEFAULT 策略和 OpenSSH 9 默认仍启用它，常见漏洞扫描的“弱 MAC”项也只报 MD5 "
                     "和 96 位算法；测评机构要求更严时，可在参数中加入 “hmac-sha1*”。注意 Debian/Ubuntu 的 OpenSSH 默认"
                     "列表含 umac-64，未显式配置 MACs 的主机会不符合。",
               "en": "The MAC keeps remote-management traffic from being altered in transit (data integrity 8.1.4.7 a / "
                     "7.1.4.7 a). MD5, HMACs truncated to 96 bits and the 64-bit-tag umac-64 leave too little margin. "
                     "hmac-sha1 is not flagged by default: HMAC does not rely on SHA-1's collision resistance, no "
                     "practical attack exists, RHEL 9's DEFAULT policy and OpenSSH 9 still enable it, and the usual "
                     "scanners' weak-MAC finding covers only MD5 and 96-bit MACs; a bureau that is stricter adds "
                     "'hmac-sha1*' to the parameter. Note that Debian/Ubuntu's OpenSSH default list contains umac-64, "
                     "so hosts without an explicit MACs line fail."},
    remediation={"zh": "在 /etc/ssh/sshd_config 中设置 “MACs hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,"
                       "umac-128-etm@openssh.com,hmac-sha2-256,hmac-sha2-512,umac-128@openssh.com”（OpenSSH 7.5 起也可用 "
                       "“MACs -umac-64*,hmac-md5*,hmac-sha1-96*” 从默认列表中去掉），" + _RELOAD["zh"] + _RHEL_NOTE["zh"],
                 "en": 'Set "MACs hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,umac-128-etm@openssh.com,'
                       'hmac-sha2-256,hmac-sha2-512,umac-128@openssh.com" in /etc/ssh/sshd_config (OpenSSH 7.5 and later '
                       'also accept "MACs -umac-64*,hmac-md5*,hmac-sha1-96*" to drop them from the default), '
                       + _RELOAD["en"] + " " + _RHEL_NOTE["en"]},
)
def ssh_macs(facts, host, params):
    return _judge(facts, "macs", params["weak_macs"], "消息认证算法", "MACs")


@check(
    id="mlps.confidentiality.ssh_kex",
    title={"zh": "SSH 不使用 SHA-1 或 1024 位 DH 密钥交换", "en": "SSH uses no SHA-1 or 1024-bit Diffie-Hellman key exchange"},
    severity="medium",
    refs=SSH_REFS,
    probes=[SSHD_T],
    params={"weak_kex": ["diffie-hellman-group1-sha1", "diffie-hellman-group14-sha1",
                         "diffie-hellman-group-exchange-sha1", "gss-*sha1*"]},
    rationale={"zh": "密钥交换决定会话密钥的强度：diffie-hellman-group1-sha1 只有 1024 位（Logjam），group14-sha1 和 "
                     "group-exchange-sha1 使用 SHA-1。GSSAPI 密钥交换（gss-*-sha1-）只在 GSSAPIKeyExchange yes 时才计入，"
                     "Debian/RHEL 的 sshd -T 即使未启用也会列出它们。",
               "en": "Key exchange sets the strength of the session keys: diffie-hellman-group1-sha1 is only 1024 bits "
                     "(Logjam); group14-sha1 and group-exchange-sha1 use SHA-1. GSSAPI key exchange (gss-*-sha1-) counts "
                     "only with GSSAPIKeyExchange yes: Debian's and RHEL's sshd -T list it even when it is off."},
    remediation={"zh": "在 /etc/ssh/sshd_config 中设置 “KexAlgorithms sntrup761x25519-sha512@openssh.com,curve25519-sha256,"
                       "curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521,"
                       "diffie-hellman-group-exchange-sha256,diffie-hellman-group16-sha512,diffie-hellman-group18-sha512,"
                       "diffie-hellman-group14-sha256”（旧版本去掉不认识的名称），使用 GSSAPI 时设置 GSSAPIKexAlgorithms "
                       "仅保留 sha256/sha512 算法，" + _RELOAD["zh"] + _RHEL_NOTE["zh"],
                 "en": 'Set "KexAlgorithms sntrup761x25519-sha512@openssh.com,curve25519-sha256,curve25519-sha256@libssh.org,'
                       'ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521,diffie-hellman-group-exchange-sha256,'
                       'diffie-hellman-group16-sha512,diffie-hellman-group18-sha512,diffie-hellman-group14-sha256" in '
                       "/etc/ssh/sshd_config (drop names an older OpenSSH does not know); with GSSAPI key exchange keep "
                       "only the sha256/sha512 entries in GSSAPIKexAlgorithms; " + _RELOAD["en"] + " " + _RHEL_NOTE["en"]},
)
def ssh_kex(facts, host, params):
    gss_on = (lambda kv: kv.get("gssapikeyexchange", "no").lower() == "yes")
    return _judge(facts, "kexalgorithms", params["weak_kex"], "密钥交换算法", "key exchange algorithms",
                  extra=("gssapikexalgorithms", params["weak_kex"], gss_on))


@check(
    id="mlps.confidentiality.ssh_hostkey_algorithms",
    title={"zh": "SSH 主机密钥不使用 DSA 或 SHA-1 的 ssh-rsa 签名", "en": "SSH host keys use no DSA or SHA-1 ssh-rsa signatures"},
    severity="medium",
    refs=SSH_REFS,
    probes=[SSHD_T],
    params={"weak_hostkey_algorithms": ["ssh-dss*", "ssh-rsa", "ssh-rsa-cert-v01@openssh.com"]},
    rationale={"zh": "主机密钥签名让管理员确认连上的是真正的服务器，防止中间人窃取鉴别信息。ssh-dss 只有 1024 位，ssh-rsa "
                     "使用 SHA-1 签名（OpenSSH 8.8 起默认禁用）。RSA 密钥本身没有问题：rsa-sha2-256/rsa-sha2-512 使用"
                     "同一把密钥、SHA-2 签名，不算弱。列表中的算法只有配置了对应类型的主机密钥时才会真正提供。",
               "en": "Host-key signatures let administrators know they reached the real server, so credentials are not "
                     "handed to a man in the middle. ssh-dss is 1024-bit; ssh-rsa signs with SHA-1 (disabled by default "
                     "since OpenSSH 8.8). RSA keys themselves are fine: rsa-sha2-256/rsa-sha2-512 use the same key with "
                     "SHA-2 signatures and are not weak. A listed algorithm is offered only when a host key of that "
                     "type is configured."},
    remediation={"zh": "在 /etc/ssh/sshd_config 中设置 “HostKeyAlgorithms ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,"
                       "ecdsa-sha2-nistp521,rsa-sha2-512,rsa-sha2-256”（需要证书时加上对应的 -cert-v01@openssh.com 名称），"
                       "删除 HostKey /etc/ssh/ssh_host_dsa_key 行，" + _RELOAD["zh"] + _RHEL_NOTE["zh"],
                 "en": 'Set "HostKeyAlgorithms ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,'
                       'rsa-sha2-512,rsa-sha2-256" in /etc/ssh/sshd_config (add the matching -cert-v01@openssh.com names '
                       "when certificates are used) and remove any HostKey /etc/ssh/ssh_host_dsa_key line; "
                       + _RELOAD["en"] + " " + _RHEL_NOTE["en"]},
)
def ssh_hostkey_algorithms(facts, host, params):
    return _judge(facts, "hostkeyalgorithms", params["weak_hostkey_algorithms"], "主机密钥签名算法",
                  "host-key signature algorithms")


# --------------------------------------------------------------------------------------------------
# TLS protocol versions in local web server configuration.

# Directive lines of nginx (/etc/nginx) and Apache (/etc/apache2 Debian, /etc/httpd RHEL). -R follows
# the *-enabled symlinks; the *-available directories (not loaded) and RHEL's logs/run/modules links are
# skipped; -I skips binary files. The ls lines say which main config files exist.
TLS_CONF = Probe("command",
                 "grep -RHIsiE --exclude-dir=sites-available --exclude-dir=mods-available "
                 "--exclude-dir=conf-available --exclude-dir=modules-available --exclude-dir=logs "
                 "--exclude-dir=run --exclude-dir=modules --exclude-dir=state "
                 "'^[[:space:]]*(ssl_protocols|sslprotocol|sslengine|listen|ssl)[[:space:]]' "
                 "/etc/nginx /etc/apache2 /etc/httpd; "
                 "ls -1d /etc/nginx/nginx.conf /etc/apache2/apache2.conf /etc/httpd/conf/httpd.conf 2>/dev/null; true")
CRYPTO_POLICY = Probe("file", "/etc/crypto-policies/config")
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


@check(
    id="mlps.confidentiality.tls_protocols",
    title={"zh": "本机 Web 服务不启用 SSLv3、TLS 1.0、TLS 1.1", "en": "Local web servers do not enable SSLv3, TLS 1.0 or TLS 1.1"},
    severity="medium",
    refs=["GB/T 22239-2019 8.1.4.8 a"] + TRANSIT_INTEGRITY_REFS,
    probes={"debian": [TLS_CONF], "rhel": [TLS_CONF, CRYPTO_POLICY]},
    params={"weak_protocols": ["SSLv2", "SSLv3", "TLSv1", "TLSv1.1"]},
    rationale={"zh": "Web 系统传送口令、学生个人信息等重要数据，TLS 保护其保密性（三级 8.1.4.8 a）和完整性（8.1.4.7 a / "
                     "二级 7.1.4.7 a；二级没有数据保密性控制点）。SSLv3、TLS 1.0/1.1 已被 RFC 8996 废弃。本项读取 nginx "
                     "（ssl_protocols）和 Apache（SSLProtocol）的配置；TLS 库或系统策略（RHEL crypto-policies、OpenSSL 3 的"
                     "安全级别）可能在配置允许时仍拒绝这些协议，测评时可再用 nmap --script ssl-enum-ciphers 核实实际提供的"
                     "协议。只评判实际启用 TLS 的服务（nginx 有 listen … ssl，Apache 有 SSLEngine on）：Debian 自带的 nginx.conf 即使没有 TLS 站点也写有 TLSv1。未显式配置时：Apache 2.4 的默认值为 “all -SSLv3”（含 TLS 1.0/1.1），判为不符合；nginx 的默认值"
                     "随版本不同（1.23.4 起才去掉 TLS 1.0/1.1），需人工确认；RHEL 系统策略为 DEFAULT/FUTURE/FIPS 时底线已是 "
                     "TLS 1.2，判为符合。只提供明文 HTTP 的站点不属本项（见明文传输相关检查）。",
               "en": "Web systems carry passwords and students' personal data; TLS protects their confidentiality "
                     "(level 3, 8.1.4.8 a) and integrity in transit (8.1.4.7 a / level 2, 7.1.4.7 a; level 2 has no "
                     "confidentiality control point). SSLv3, TLS 1.0 and 1.1 are deprecated by RFC 8996. This reads "
                     "nginx (ssl_protocols) and Apache (SSLProtocol) configuration; the TLS library or system policy "
                     "(RHEL crypto-policies, OpenSSL 3 security levels) may refuse these protocols even when the "
                     "configuration allows them, so assessors may confirm with nmap --script ssl-enum-ciphers. Only servers "
                     "that serve TLS are judged (nginx: listen ... ssl; Apache: SSLEngine on): Debian's stock "
                     "nginx.conf names TLSv1 even with no TLS site. Without "
                     "an explicit directive: Apache 2.4 defaults to 'all -SSLv3' (TLS 1.0/1.1 included) and fails; "
                     "nginx's default depends on its version (TLS 1.0/1.1 dropped only in 1.23.4) and needs a person; "
                     "a RHEL system policy of DEFAULT/FUTURE/FIPS already sets a TLS 1.2 floor and passes. Sites that "
                     "serve plain HTTP only are outside this item (see the plaintext-transfer checks)."},
    remediation={"zh": "nginx：在 /etc/nginx/nginx.conf 的 http 块（及各 server 块）中设置 “ssl_protocols TLSv1.2 TLSv1.3;”，"
                       "nginx -t 后 systemctl reload nginx。Apache：Debian 在 /etc/apache2/mods-available/ssl.conf、RHEL 在 "
                       "/etc/httpd/conf.d/ssl.conf 中设置 “SSLProtocol -all +TLSv1.2 +TLSv1.3”，apachectl configtest 后 reload；"
                       "RHEL 8/9 也可只保留系统策略（update-crypto-policies --set DEFAULT）并删除放宽协议的指令。",
                 "en": 'nginx: set "ssl_protocols TLSv1.2 TLSv1.3;" in the http block of /etc/nginx/nginx.conf (and in '
                       "server blocks that set their own), nginx -t, then systemctl reload nginx. Apache: set "
                       '"SSLProtocol -all +TLSv1.2 +TLSv1.3" in /etc/apache2/mods-available/ssl.conf (Debian) or '
                       "/etc/httpd/conf.d/ssl.conf (RHEL), apachectl configtest, then reload; on RHEL 8/9 you may instead "
                       "rely on the system policy (update-crypto-policies --set DEFAULT) and delete directives that widen it."},
    attest={"zh": "nginx 未显式配置 ssl_protocols：提供 nmap --script ssl-enum-ciphers -p 443 的扫描结果，证明未提供 "
                  "SSLv3/TLS 1.0/TLS 1.1。",
            "en": "nginx sets no ssl_protocols: provide an nmap --script ssl-enum-ciphers -p 443 scan showing that "
                  "SSLv3/TLS 1.0/TLS 1.1 are not offered."},
)
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
DISK_CRYPT = Probe("command", "lsblk -lnpo NAME,TYPE,FSTYPE,MOUNTPOINT; "
                              "grep -HsE '^[[:space:]]*[^#[:space:]]' /etc/crypttab; true")


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


@check(
    id="mlps.confidentiality.storage_encryption",
    title={"zh": "重要数据存储加密（磁盘加密为证据，其余需证明）",
           "en": "Important data is encrypted at rest (disk encryption as evidence, otherwise attested)"},
    severity="medium",
    refs=["GB/T 22239-2019 8.1.4.8 b"],
    applies={"levels": (3, 4)},
    probes=[DISK_CRYPT],
    rationale={"zh": "三级要求采用密码技术保证重要数据在存储过程中的保密性；明文存储鉴别信息或重要个人信息属于重大风险隐患。"
                     "主机上能看到的只有整盘/分区加密（LUKS、/etc/crypttab）：有则判为符合，但它只防磁盘丢失或报废后的泄露，"
                     "不防在线访问，多数测评机构仍会要求数据库或应用层的加密证据。没有磁盘加密时本项需要人工证明，而不是直接"
                     "判不符合；只加密交换分区（随机密钥）不算数据加密。口令散列算法见 mlps.auth.password_hash。",
               "en": "Level 3 requires cryptography to keep important data confidential in storage; storing credentials "
                     "or important personal information in clear is a major-risk finding. The host itself only shows "
                     "whole-disk/partition encryption (LUKS, /etc/crypttab): with it this check passes, but it only "
                     "protects lost or discarded disks, not online access, so most assessors still ask for database- or "
                     "application-level evidence. Without disk encryption the item needs an attestation rather than "
                     "failing outright; swap encrypted with a random key is not data encryption. Password hashing is "
                     "judged by mlps.auth.password_hash."},
    remediation={"zh": "为数据库启用透明数据加密或对敏感字段加密（MySQL/MariaDB keyring 与 InnoDB 表空间加密、PostgreSQL "
                       "pgcrypto、国产数据库的透明加密）；新装服务器可在安装时用 LUKS 加密数据分区（cryptsetup luksFormat，"
                       "并登记到 /etc/crypttab）。",
                 "en": "Enable transparent data encryption or column encryption in the database (MySQL/MariaDB keyring with "
                       "InnoDB tablespace encryption, PostgreSQL pgcrypto, the TDE of domestic databases); on new servers "
                       "encrypt the data partition with LUKS at install time (cryptsetup luksFormat, listed in /etc/crypttab)."},
    attest={"zh": "说明鉴别数据、重要业务数据和重要个人信息（如学生学籍、身份证号、家长联系方式）在存储时如何加密：数据库透明"
                  "加密或字段加密（如 SM4/AES）、应用层加密或加密存储设备，附配置截图或厂商说明；口令只以加盐散列保存。测评机构"
                  "接受数据库/应用的加密配置、商用密码应用安全性评估（密评）报告或产品检测报告。",
            "en": "Explain how authentication data, important business data and important personal information (e.g. "
                  "student records, ID numbers, parents' contact details) are encrypted at rest: database transparent or "
                  "column encryption (e.g. SM4/AES), application-level encryption or encrypted storage, with configuration "
                  "screenshots or the vendor's statement; passwords only as salted hashes. Assessors accept the "
                  "database/application encryption settings, a commercial-cryptography assessment (密评) report or a "
                  "product test report."},
)
def storage_encryption(facts, host):
    res = facts.get(DISK_CRYPT)
    if res.error:
        return Outcome.error(f"无法列出块设备：{res.error}", f"could not list block devices: {res.error}")
    hits = _encrypted_volumes(res.stdout)
    if hits:
        return Outcome.passed(f"发现 {len(hits)} 处磁盘加密（LUKS/dm-crypt）", f"disk encryption found ({len(hits)} place(s): LUKS/dm-crypt)",
                              evidence_lines(hits, 10))
    return Outcome.manual("未发现磁盘加密（LUKS、/etc/crypttab）；数据库或应用层的存储加密需人工核查并提供证明",
                          "no disk encryption (LUKS, /etc/crypttab) found; database or application encryption at rest "
                          "needs an attestation", evidence_lines(parsers.lines(res.stdout), 12))


__all__ = ["TLS_CONF", "CRYPTO_POLICY", "DISK_CRYPT", "SSH_REFS"]
