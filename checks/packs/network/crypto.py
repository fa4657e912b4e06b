"""Network pack, cryptography seen from the network: SSH algorithms (nmap ssh2-enum-algos), TLS
protocols and ciphers (ssl-enum-ciphers) and certificates (ssl-cert's PEM, parsed with
``cryptography``). The weak-algorithm lists are shared with the host-side checks
(``mlps.confidentiality.ssh_*``) through ``checks.baselines``, so both views judge by the same list;
clauses as there.
"""
from __future__ import annotations

import datetime as dt
import ipaddress
import re

from cryptography import x509
from cryptography.x509.oid import NameOID

from checks.baselines import SSH_REFS, TRANSIT_INTEGRITY_REFS, WEAK_SSH_ALGORITHMS, param_defaults, weak_algorithms
from checks.contract import Outcome, check
from checks.facts import evidence_lines, run_start
from checks.parsers.times import parse_when

from ._facts import ANY_OS, is_tls, open_ports, scanned, script_lines

TLS_REFS = ["GB/T 22239-2019 8.1.4.8 a"] + TRANSIT_INTEGRITY_REFS
_SSH_SECTION = re.compile(r"^\s*([a-z_]+_algorithms): \(\d+\)\s*$")
_TLS_VERSION = re.compile(r"^\s*(SSLv2|SSLv3|TLSv1\.[0-3]):\s*$")
_LEAST = re.compile(r"^\s*least strength:\s*([A-F])\s*$")
GRADES = "ABCDEF"
# ssh2-enum-algos section -> (parameter, its default list shared with the host-side mlps.confidentiality.ssh_*)
_WEAK_SSH = param_defaults(WEAK_SSH_ALGORITHMS)
SSH_SECTIONS = {"kex_algorithms": ("weak_kex", _WEAK_SSH),
                "encryption_algorithms": ("weak_ciphers", _WEAK_SSH),
                "mac_algorithms": ("weak_macs", _WEAK_SSH),
                "server_host_key_algorithms": ("weak_hostkey_algorithms", _WEAK_SSH)}


def ssh_algorithms(text: str) -> dict[str, list[str]]:
    """ssh2-enum-algos output -> {section: [algorithm, ...]}."""
    out: dict[str, list[str]] = {}
    cur = None
    for ln in script_lines(text):
        m = _SSH_SECTION.match(ln)
        if m:
            cur = out.setdefault(m.group(1), [])
        elif cur is not None and re.fullmatch(r"\s+[A-Za-z0-9@._+-]+", ln):
            cur.append(ln.strip())
    return out


def tls_offer(text: str) -> tuple[list[str], str | None]:
    """ssl-enum-ciphers output -> (protocol versions offered, least strength grade)."""
    versions, least = [], None
    for ln in script_lines(text):
        m = _TLS_VERSION.match(ln)
        if m:
            versions.append(m.group(1))
        m = _LEAST.match(ln)
        if m:
            least = m.group(1)
    return versions, least


def _ssh_ports(m):
    return [p for p in open_ports(m, "tcp") if "ssh2-enum-algos" in p.get("scripts", {})]


@check(
    id="network.ssh.weak_algorithms",
    title={"zh": "SSH 服务对网络不提供弱密钥交换、加密、MAC 或主机密钥算法",
           "en": "SSH offers no weak key exchange, cipher, MAC or host-key algorithm on the network"},
    severity="medium",
    refs=SSH_REFS,
    probes=[],
    applies=ANY_OS,
    params={name: list(c.check.params[name]) for name, c in SSH_SECTIONS.values()},
    rationale={"zh": "nmap 的 ssh2-enum-algos 列出 SSH 服务实际协商时提供的算法，网络设备和登录不了的主机也能核查。弱算法列表与"
                     "主机侧的 mlps.confidentiality.ssh_kex / ssh_ciphers / ssh_macs / ssh_hostkey_algorithms 参数相同"
                     "（通配模式，不区分大小写）。",
               "en": "nmap's ssh2-enum-algos lists what the SSH service really offers, also on network devices and hosts "
                     "nobody can log in to. The weak lists are the parameters of the host-side "
                     "mlps.confidentiality.ssh_kex / ssh_ciphers / ssh_macs / ssh_hostkey_algorithms (glob patterns, "
                     "case-insensitive)."},
    remediation={"zh": "在 sshd_config 中显式设置 KexAlgorithms、Ciphers、MACs、HostKeyAlgorithms，去掉所列弱算法（推荐值见 "
                       "mlps.confidentiality.ssh_* 检查项）；网络设备升级固件并关闭 CBC/SHA-1 算法。",
                 "en": "Set KexAlgorithms, Ciphers, MACs and HostKeyAlgorithms explicitly in sshd_config without the listed "
                       "weak algorithms (see the mlps.confidentiality.ssh_* checks for recommended lists); on network "
                       "devices upgrade the firmware and disable CBC/SHA-1 algorithms."},
)
def ssh_weak_algorithms(facts, host, params):
    m, out = scanned(facts)
    if out:
        return out
    ports = _ssh_ports(m)
    if not ports:
        return Outcome.not_applicable("网络上未发现 SSH 服务", "no SSH service found on the network")
    bad, seen = [], []
    for p in ports:
        algos = ssh_algorithms(p["scripts"]["ssh2-enum-algos"])
        for section, (param, _) in SSH_SECTIONS.items():
            weak = weak_algorithms(algos.get(section, []), params[param])
            if weak:
                bad.append(f"{p['port']}/tcp {section}: {', '.join(weak)}")
        seen.append(f"{p['port']}/tcp: " + "; ".join(f"{k} {len(v)}" for k, v in sorted(algos.items())))
    if bad:
        return Outcome.failed(f"SSH 服务提供弱算法（{len(bad)} 类）", f"SSH offers weak algorithms ({len(bad)} kind(s))",
                              evidence_lines(bad, 10))
    return Outcome.passed("SSH 服务未提供所列弱算法", "SSH offers none of the listed weak algorithms", evidence_lines(seen))


@check(
    id="network.tls.weak_protocols",
    title={"zh": "TLS 服务不提供 SSLv3、TLS 1.0/1.1 或弱密码套件", "en": "TLS services offer no SSLv3, TLS 1.0/1.1 or weak cipher suites"},
    severity="medium",
    refs=TLS_REFS,
    probes=[],
    applies=ANY_OS,
    params={"weak_protocols": ["SSLv2", "SSLv3", "TLSv1.0", "TLSv1.1"], "min_grade": "B"},
    rationale={"zh": "nmap 的 ssl-enum-ciphers 逐一尝试协议版本和密码套件，给出服务实际接受的内容和最弱套件的等级（A–F）。"
                     "SSLv3、TLS 1.0/1.1 已被 RFC 8996 废弃；最弱套件低于 min_grade（默认 B）说明仍接受弱加密。与主机侧的 "
                     "mlps.confidentiality.tls_protocols 引用相同条款，这里看的是实际提供的协议，而不是配置。",
               "en": "nmap's ssl-enum-ciphers tries every protocol version and cipher suite and reports what the service "
                     "accepts, with the grade (A-F) of the weakest suite. SSLv3 and TLS 1.0/1.1 are deprecated by RFC "
                     "8996; a weakest grade below min_grade (default B) means weak encryption is still accepted. Same "
                     "clauses as the host-side mlps.confidentiality.tls_protocols; this judges what is offered, not the "
                     "configuration."},
    remediation={"zh": "只启用 TLS 1.2 和 1.3（nginx：ssl_protocols TLSv1.2 TLSv1.3；Apache：SSLProtocol -all +TLSv1.2 +TLSv1.3），"
                       "使用 ECDHE + AES-GCM/ChaCha20 套件；设备或旧系统升级固件。",
                 "en": "Enable only TLS 1.2 and 1.3 (nginx: ssl_protocols TLSv1.2 TLSv1.3; Apache: SSLProtocol -all "
                       "+TLSv1.2 +TLSv1.3) with ECDHE + AES-GCM/ChaCha20 suites; upgrade device or legacy firmware."},
)
def tls_weak_protocols(facts, host, params):
    m, out = scanned(facts)
    if out:
        return out
    ports = [p for p in open_ports(m, "tcp") if "ssl-enum-ciphers" in p.get("scripts", {})]
    unjudged = [p for p in open_ports(m, "tcp") if is_tls(p) and p not in ports]
    if unjudged and not ports:  # e.g. the script hit --script-timeout: never a pass
        return Outcome.error("TLS 端口未能枚举协议（脚本超时或失败）", "TLS port(s) whose protocols could not be enumerated "
                             "(script timed out or failed)", ", ".join(f"{p['port']}/tcp" for p in unjudged))
    if not ports:
        return Outcome.not_applicable("网络上未发现 TLS 服务", "no TLS service found on the network")
    weak = {str(x) for x in params["weak_protocols"]}
    floor = GRADES.index(str(params["min_grade"]).upper())
    bad, good = [], []
    for p in ports:
        versions, least = tls_offer(p["scripts"]["ssl-enum-ciphers"])
        old = [v for v in versions if v in weak]
        line = f"{p['port']}/tcp: {' '.join(versions) or '(none)'}; least strength {least or '?'}"
        if old or (least and GRADES.index(least) > floor):
            bad.append(line + (f" -> weak protocols {', '.join(old)}" if old else "")
                       + (f" -> grade below {params['min_grade']}" if least and GRADES.index(least) > floor else ""))
        else:
            good.append(line)
    if bad:
        return Outcome.failed(f"{len(bad)} 个 TLS 端口提供过时协议或弱套件", f"{len(bad)} TLS port(s) offer outdated protocols "
                              "or weak suites", evidence_lines(bad + good, 10))
    return Outcome.passed("TLS 服务只提供 TLS 1.2 及以上且套件等级合格", "TLS services offer TLS 1.2+ with acceptable suites",
                          evidence_lines(good, 10))


def _certs(m):
    """[(port entry, certificate or None, parse error)] for every TLS port with ssl-cert's PEM."""
    out = []
    for p in open_ports(m, "tcp"):
        if not p.get("pem"):
            continue
        try:
            out.append((p, x509.load_pem_x509_certificate(p["pem"].encode("ascii", "replace")), ""))
        except ValueError as exc:
            out.append((p, None, str(exc)[:120]))
    return out


def _scan_time(facts, m) -> dt.datetime | None:
    """When certificates are judged: the scan's start, else the run's start (never the wall clock, so a
    check stays a pure function of its facts)."""
    return parse_when(m.get("scanned_at")) or run_start(facts)


def _subject(cert) -> str:
    cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(cn[0].value)[:120] if cn else cert.subject.rfc4514_string()[:120]


@check(
    id="network.tls.certificate_expiry",
    title={"zh": "TLS 证书未过期且不会在 30 天内到期", "en": "TLS certificates are valid and do not expire within 30 days"},
    severity="medium",
    refs=TLS_REFS,
    probes=[],
    applies=ANY_OS,
    params={"warn_days": 30},
    rationale={"zh": "证书过期后用户会被浏览器警告并习惯性点击继续，TLS 也就失去了防中间人的作用。到期前 warn_days 天内也报告，"
                     "以便及时更换。证书取自 nmap ssl-cert 的结构化输出（PEM），用 cryptography 解析；以扫描时间为准。",
               "en": "Once a certificate expires users learn to click through browser warnings and TLS no longer stops "
                     "a man in the middle. Certificates expiring within warn_days are reported too, so they are renewed "
                     "in time. The certificate is ssl-cert's structured output (PEM), parsed with cryptography, judged "
                     "at the scan time."},
    remediation={"zh": "更换证书（如用 certbot/ACME 自动续期，或向学校/教育局的 CA 申请），并重载 Web 服务。",
                 "en": "Replace the certificate (e.g. automatic renewal with certbot/ACME, or from the school's or bureau's "
                       "CA) and reload the web server."},
)
def certificate_expiry(facts, host, params):
    m, out = scanned(facts)
    if out:
        return out
    certs = _certs(m)
    if not certs:
        return Outcome.not_applicable("扫描中没有 TLS 证书", "no TLS certificate in the scan")
    at = _scan_time(facts, m)
    if at is None:
        return Outcome.error("不知道扫描或本次审计的开始时间，无法判断证书有效期",
                             "neither the scan's nor the run's start time is known: cannot judge certificate validity")
    bad, good = [], []
    for p, cert, err in certs:
        if cert is None:
            bad.append(f"{p['port']}/tcp: certificate cannot be parsed: {err}")
            continue
        left = (cert.not_valid_after_utc - at).total_seconds() / 86400
        line = f"{p['port']}/tcp {_subject(cert)}: not after {cert.not_valid_after_utc:%Y-%m-%d}"
        if left < 0:
            bad.append(f"{line} (expired {int(-left)} days ago)")
        elif left <= int(params["warn_days"]):
            bad.append(f"{line} (expires in {int(left)} days)")
        elif cert.not_valid_before_utc > at:
            bad.append(f"{line} (not valid before {cert.not_valid_before_utc:%Y-%m-%d})")
        else:
            good.append(f"{line} ({int(left)} days left)")
    if bad:
        return Outcome.failed(f"{len(bad)} 个证书已过期、即将到期或无法解析", f"{len(bad)} certificate(s) expired, expiring "
                              "soon or unreadable", evidence_lines(bad + good, 10))
    return Outcome.passed("证书均在有效期内", "certificates are within their validity", evidence_lines(good, 10))


def _names(host) -> list[str]:
    """Names a certificate must cover: the host's address when it is a DNS name, and facts.tls_names."""
    names = [str(n).lower().rstrip(".") for n in (getattr(host, "facts", {}) or {}).get("tls_names", []) or []]
    addr = getattr(host, "address", "")
    try:
        ipaddress.ip_address(addr)
    except ValueError:
        if addr:
            names.insert(0, addr.lower().rstrip("."))
    return names


def _matches(cert, name: str) -> bool:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        dns = [d.lower() for d in san.get_values_for_type(x509.DNSName)]
    except x509.ExtensionNotFound:
        dns = [str(a.value).lower() for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    for pattern in dns:
        if pattern == name:
            return True
        if pattern.startswith("*.") and name.count(".") == pattern.count(".") and name.endswith(pattern[1:]):
            return True
    return False


def _self_signed(cert) -> bool:
    if cert.issuer != cert.subject:
        return False
    try:
        cert.verify_directly_issued_by(cert)
        return True
    except Exception:  # InvalidSignature, an unsupported key type: not provably self-signed
        return False


@check(
    id="network.tls.certificate_trust",
    title={"zh": "TLS 证书不是自签名且与主机名一致", "en": "TLS certificates are not self-signed and match the host name"},
    severity="medium",
    refs=TLS_REFS,
    probes=[],
    applies=ANY_OS,
    rationale={"zh": "自签名证书或与域名不符的证书无法让用户确认连上的是真正的系统，用户只能忽略警告，中间人可借此窃取口令。"
                     "应校验的名称为主机地址（当它是域名时）和资产台账中 facts.tls_names 列出的名称；只有 IP、未声明名称的"
                     "主机只判断是否自签名。",
               "en": "A self-signed certificate, or one for another name, cannot tell users they reached the real system; "
                     "they can only ignore the warning, and a man in the middle can take their passwords. The names checked "
                     "are the host's address when it is a DNS name and the names in the inventory's facts.tls_names; for a "
                     "host known only by IP with no names declared only self-signing is judged."},
    remediation={"zh": "使用受信任 CA（公共 CA 或学校/教育局内部 CA，并将根证书下发到终端）签发、包含正确域名（SAN）的证书。",
                 "en": "Use a certificate from a trusted CA (public, or the school's/bureau's internal CA with its root "
                       "deployed to clients) that names the right host in its SAN."},
)
def certificate_trust(facts, host):
    m, out = scanned(facts)
    if out:
        return out
    certs = [c for c in _certs(m) if c[1] is not None]
    if not certs:
        return Outcome.not_applicable("扫描中没有可解析的 TLS 证书", "no readable TLS certificate in the scan")
    names = _names(host)
    bad, good = [], []
    for p, cert, _ in certs:
        problems = []
        if _self_signed(cert):
            problems.append("self-signed")
        wrong = [n for n in names if not _matches(cert, n)]
        if wrong:
            problems.append(f"does not cover {', '.join(wrong)}")
        line = f"{p['port']}/tcp subject {_subject(cert)}, issuer {cert.issuer.rfc4514_string()[:120]}"
        (bad if problems else good).append(line + (f" -> {'; '.join(problems)}" if problems else ""))
    if bad:
        return Outcome.failed(f"{len(bad)} 个证书为自签名或与主机名不符", f"{len(bad)} certificate(s) self-signed or not "
                              "matching the host name", evidence_lines(bad + good, 10))
    return Outcome.passed("证书由 CA 签发" + ("且与主机名一致" if names else "（未声明主机名，未比对名称）"),
                          "certificates are CA-issued" + (" and match the host name" if names else
                                                          " (no host name declared; names not compared)"),
                          evidence_lines(good, 10))


__all__ = ["ssh_algorithms", "tls_offer"]
