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

from checks.baselines import weak_algorithms
from checks.contract import Outcome, evaluator
from checks.facts import evidence_lines, run_start
from checks.parsers.times import parse_when

from ._facts import is_tls, open_ports, scanned, script_lines

_SSH_SECTION = re.compile(r"^\s*([a-z_]+_algorithms): \(\d+\)\s*$")
_TLS_VERSION = re.compile(r"^\s*(SSLv2|SSLv3|TLSv1\.[0-3]):\s*$")
_LEAST = re.compile(r"^\s*least strength:\s*([A-F])\s*$")
GRADES = "ABCDEF"
# ssh2-enum-algos section -> the parameter (shared with the host-side mlps.confidentiality.ssh_*) listing its weak ones
SSH_SECTIONS = {"kex_algorithms": "weak_kex", "encryption_algorithms": "weak_ciphers", "mac_algorithms": "weak_macs",
                "server_host_key_algorithms": "weak_hostkey_algorithms"}


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


@evaluator("network.ssh.weak_algorithms")
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
        for section, param in SSH_SECTIONS.items():
            weak = weak_algorithms(algos.get(section, []), params[param])
            if weak:
                bad.append(f"{p['port']}/tcp {section}: {', '.join(weak)}")
        seen.append(f"{p['port']}/tcp: " + "; ".join(f"{k} {len(v)}" for k, v in sorted(algos.items())))
    if bad:
        return Outcome.failed(f"SSH 服务提供弱算法（{len(bad)} 类）", f"SSH offers weak algorithms ({len(bad)} kind(s))",
                              evidence_lines(bad, 10))
    return Outcome.passed("SSH 服务未提供所列弱算法", "SSH offers none of the listed weak algorithms", evidence_lines(seen))


@evaluator("network.tls.weak_protocols")
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
    from cryptography import x509  # imported when a certificate is read: ~40 ms of every run's start otherwise
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
    from cryptography.x509.oid import NameOID
    cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(cn[0].value)[:120] if cn else cert.subject.rfc4514_string()[:120]


@evaluator("network.tls.certificate_expiry")
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
    from cryptography import x509
    from cryptography.x509.oid import NameOID
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


@evaluator("network.tls.certificate_trust")
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
