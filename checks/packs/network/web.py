"""Network pack, web systems: HTTP security headers and HTTP redirected to HTTPS (nmap http-headers,
one HEAD request to ``/``). Headers are hardening rather than MLPS text, so that check is low; the
redirect protects credentials in transit (8.1.4.8 a, 8.1.4.7 a / 7.1.4.7 a)."""
from __future__ import annotations

from checks.contract import Outcome, evaluator
from checks.facts import evidence_lines

from ._facts import headers, is_tls, open_ports, scanned


def _http_ports(m):
    return [p for p in open_ports(m, "tcp") if "http-headers" in p.get("scripts", {})]


@evaluator("network.web.security_headers")
def security_headers(facts, host, params):
    m, out = scanned(facts)
    if out:
        return out
    ports = _http_ports(m)
    if not ports:
        return Outcome.not_applicable("网络上未发现 HTTP 服务", "no HTTP service found on the network")
    bad, good = [], []
    for p in ports:
        got = headers(p["scripts"]["http-headers"])
        if "location" in got and not is_tls(p):
            continue  # a plain-HTTP redirect: its target is judged, not the redirect page
        need = list(params["required"]) + (list(params["required_tls"]) if is_tls(p) else [])
        missing = [n for n in need if not any(alt.strip().lower() in got for alt in str(n).split("|"))]
        scheme = "https" if is_tls(p) else "http"
        (bad if missing else good).append(f"{p['port']}/tcp ({scheme})" + (f": missing {', '.join(missing)}"
                                                                           if missing else ": headers present"))
    if bad:
        return Outcome.failed(f"{len(bad)} 个 Web 端口缺少安全响应头", f"{len(bad)} web port(s) miss security headers",
                              evidence_lines(bad + good, 10))
    if not good:
        return Outcome.passed("HTTP 端口均重定向到 HTTPS", "every HTTP port redirects", "")
    return Outcome.passed("Web 服务返回所需的安全响应头", "web services send the required security headers",
                          evidence_lines(good, 10))


@evaluator("network.web.https_redirect")
def https_redirect(facts, host):
    m, out = scanned(facts)
    if out:
        return out
    plain = [p for p in _http_ports(m) if not is_tls(p)]
    if not plain:
        return Outcome.not_applicable("网络上未发现明文 HTTP 服务", "no plain HTTP service found on the network")
    bad, good = [], []
    for p in plain:
        loc = headers(p["scripts"]["http-headers"]).get("location", "")
        (good if loc.lower().startswith("https://") else bad).append(
            f"{p['port']}/tcp: " + (f"Location: {loc[:200]}" if loc else "no redirect"))
    if bad:
        return Outcome.failed(f"{len(bad)} 个明文 HTTP 端口未重定向到 HTTPS", f"{len(bad)} plain HTTP port(s) do not redirect "
                              "to HTTPS", evidence_lines(bad + good, 10))
    return Outcome.passed("明文 HTTP 均重定向到 HTTPS", "plain HTTP redirects to HTTPS", evidence_lines(good, 10))
