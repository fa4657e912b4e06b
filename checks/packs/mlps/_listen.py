"""The MLPS checks about listening ports: one finding for the listed ports (not a check module)."""
from checks.contract import Outcome
from checks.facts import listeners


def port_check(facts, ports: dict[int, str], proto: str, zh_found: str, en_found: str, zh_ok: str, en_ok: str):
    found, err = listeners(facts)
    if found is None:
        return Outcome.error(f"无法列出监听端口：{err}", f"cannot list listening ports: {err}")
    hits = [l for l in found if int(l["port"]) in ports and l["proto"].startswith(proto)]
    if hits:
        ev = "\n".join(f"{l['proto']} {l['address']}:{l['port']} ({ports[int(l['port'])]})" for l in hits)
        names = ", ".join(sorted({f"{ports[int(l['port'])]}/{l['port']}" for l in hits}))
        return Outcome.failed(f"{zh_found}：{names}", f"{en_found}: {names}", ev)
    return Outcome.passed(zh_ok, en_ok)
