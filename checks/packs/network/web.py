"""Network pack, web systems: HTTP security headers and HTTP redirected to HTTPS (nmap http-headers,
one HEAD request to ``/``). Headers are hardening rather than MLPS text, so that check is low; the
redirect protects credentials in transit (8.1.4.8 a, 8.1.4.7 a / 7.1.4.7 a)."""
from __future__ import annotations

from checks.contract import Outcome, check
from checks.facts import evidence_lines

from ._facts import ANY_OS, headers, is_tls, open_ports, scanned
from .crypto import TLS_REFS


def _http_ports(m):
    return [p for p in open_ports(m, "tcp") if "http-headers" in p.get("scripts", {})]


@check(
    id="network.web.security_headers",
    title={"zh": "Web 服务返回基本的 HTTP 安全响应头", "en": "Web services send the basic HTTP security headers"},
    severity="low",
    refs=TLS_REFS,
    probes=[],
    applies=ANY_OS,
    params={"required": ["X-Frame-Options|Content-Security-Policy", "X-Content-Type-Options"],
            "required_tls": ["Strict-Transport-Security"]},
    rationale={"zh": "HSTS（Strict-Transport-Security）让浏览器只用 HTTPS 访问，防止被降级为明文；X-Frame-Options 或 CSP 防止"
                     "点击劫持，X-Content-Type-Options 防止内容类型嗅探。这些是加固项，MLPS 条文没有逐项要求，因此为低风险；"
                     "参数中 “A|B” 表示有其一即可。HSTS 只对 HTTPS 端口要求。",
               "en": "HSTS (Strict-Transport-Security) keeps browsers on HTTPS so they cannot be downgraded to plaintext; "
                     "X-Frame-Options or CSP stop clickjacking; X-Content-Type-Options stops content sniffing. These are "
                     "hardening, not item-by-item MLPS text, hence low severity; 'A|B' in the parameter means either "
                     "one. HSTS is required on HTTPS ports only."},
    remediation={"zh": "nginx：add_header Strict-Transport-Security \"max-age=31536000\" always; add_header X-Frame-Options "
                       "SAMEORIGIN always; add_header X-Content-Type-Options nosniff always;（Apache 用 Header always set）。",
                 "en": 'nginx: add_header Strict-Transport-Security "max-age=31536000" always; add_header X-Frame-Options '
                       "SAMEORIGIN always; add_header X-Content-Type-Options nosniff always; (Apache: Header always set)."},
)
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


@check(
    id="network.web.https_redirect",
    title={"zh": "Web 系统的明文 HTTP 重定向到 HTTPS", "en": "Plain HTTP on a web system redirects to HTTPS"},
    severity="medium",
    refs=TLS_REFS,
    probes=[],
    applies={**ANY_OS, "roles": ("web",)},
    rationale={"zh": "Web 系统（资产台账中角色为 web 的主机）的登录口令和学生个人信息不应以明文 HTTP 传送；明文端口应只做到 "
                     "HTTPS 的重定向。以扫描对 “/” 的 HEAD 请求是否返回指向 https:// 的 Location 判断。",
               "en": "A web system (a host with role web in the inventory) must not carry passwords or students' personal "
                     "data over plain HTTP; its plain port should only redirect to HTTPS. Judged by whether the scan's "
                     "HEAD request for '/' returns a Location pointing to https://."},
    remediation={"zh": "nginx：在 80 端口的 server 块中写 return 301 https://$host$request_uri;（Apache：Redirect permanent / "
                       "https://域名/），并为站点配置 TLS。",
                 "en": "nginx: in the port-80 server block, return 301 https://$host$request_uri; (Apache: Redirect "
                       "permanent / https://NAME/), with TLS configured for the site."},
)
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
