"""What a host listens on beyond loopback, for the MLPS checks about ports (not a check module)."""
from checks import parsers
from checks.contract import Outcome

from ._shared import SS
LOOPBACK = ("127.", "::1", "localhost")


def _listeners(facts):
    res = facts.get(SS)
    if res.error or res.rc != 0:
        return None, res.error or f"ss failed (exit {res.rc})"
    return [l for l in parsers.listening(res.stdout) if not l["address"].startswith(LOOPBACK)], None


def port_check(facts, ports: dict[int, str], proto: str, zh_found: str, en_found: str, zh_ok: str, en_ok: str):
    found, err = _listeners(facts)
    if found is None:
        return Outcome.error(f"无法列出监听端口：{err}", f"cannot list listening ports: {err}")
    hits = [l for l in found if int(l["port"]) in ports and l["proto"].startswith(proto)]
    if hits:
        ev = "\n".join(f"{l['proto']} {l['address']}:{l['port']} ({ports[int(l['port'])]})" for l in hits)
        names = ", ".join(sorted({f"{ports[int(l['port'])]}/{l['port']}" for l in hits}))
        return Outcome.failed(f"{zh_found}：{names}", f"{en_found}: {names}", ev)
    return Outcome.passed(zh_ok, en_ok)


