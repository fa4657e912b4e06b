"""Readers of the network facts in ``Facts.meta["network"]`` (written by ``audits/netscan.py``), shared
by the network checks (not a check module)."""
from __future__ import annotations

import re

from checks.contract import Outcome
from checks.baselines import allowed_port_specs
from checks.facts import evidence_lines
from audits.model.inventory import parse_port

_HEADER = re.compile(r"^\s*([A-Za-z0-9_-]+):\s*(.*)$")


def scanned(facts, key: str = "network", up: bool = True):
    """(the scan facts under ``meta[key]``, None) or (None, the Outcome to return): no scan in this run,
    a scan that failed, or (with ``up``) a host that did not answer."""
    m = facts.meta.get(key)
    if m is None:
        return None, Outcome.not_applicable("本次运行未进行网络扫描", "no network scan in this run")
    if not m.get("scanned"):
        err = str(m.get("error") or "unknown")
        return None, Outcome.error(f"网络扫描未完成：{err}", f"the network scan did not complete: {err}")
    if up and m.get("state") != "up":
        return None, Outcome.not_applicable("主机未应答网络扫描（见 network.exposure.host_answers）",
                                            "the host did not answer the scan (see network.exposure.host_answers)")
    return m, None


def open_ports(m, proto: str | None = None) -> list[dict]:
    return [p for p in m.get("ports", []) if p.get("state") == "open" and (proto is None or p.get("proto") == proto)]


def show(p: dict) -> str:
    what = " ".join(x for x in (p.get("service", ""), p.get("product", ""), p.get("version", "")) if x)
    return f"{p['port']}/{p['proto']} {what}".strip()


def is_tls(p: dict) -> bool:
    return (p.get("tunnel") == "ssl" or p.get("service") in ("https", "ssl", "imaps", "pop3s", "ldaps")
            or "ssl-enum-ciphers" in p.get("scripts", {}) or bool(p.get("pem")))


def declared_ports(host) -> set[tuple[int, str]]:
    """The host's own ``ports:`` from the inventory, as (port, proto or '' for both)."""
    return {parse_port(spec) for spec in (host.settings.get("ports", []) if hasattr(host, "settings") else [])}


def allowed_ports(host, params) -> set[tuple[int | None, str]]:
    """The ports the host's roles and inventory allow (``checks.baselines.allowed_port_specs``)."""
    return {parse_port(spec) for spec in allowed_port_specs(host, params)}


def declared(p: dict, allowed: set[tuple[int, str]]) -> bool:
    return any(p["port"] == num and proto in ("", p["proto"]) for num, proto in allowed)


def script_lines(text: str) -> list[str]:
    return [ln.rstrip() for ln in str(text or "").splitlines() if ln.strip()]


def headers(text: str) -> dict[str, str]:
    """http-headers output -> {lower-case name: value}."""
    out = {}
    for ln in script_lines(text):
        m = _HEADER.match(ln)
        if m:
            out.setdefault(m.group(1).lower(), m.group(2).strip())
    return out


def port_finding(hits: list[dict], names: dict, zh: str, en: str, zh_ok: str, en_ok: str) -> Outcome:
    """Fail listing the hits (with what each port is), or pass."""
    if not hits:
        return Outcome.passed(zh_ok, en_ok)
    label = sorted({f"{names.get(p['port'], p.get('service') or '?')}/{p['port']}" for p in hits})
    return Outcome.failed(f"{zh}：{', '.join(label)}", f"{en}: {', '.join(label)}",
                          evidence_lines(show(p) for p in hits))
