"""The MLPS checks about listening services: one finding for the listed services (not a check module).

A socket's service is named by its process when ``ss -p`` shows one (``checks.facts.service_of``):
telnetd on port 2323 is telnet, sshd on port 23 is not; without process names, by the port."""
from checks.contract import Outcome
from checks.facts import listeners, service_of


def port_check(facts, ports: dict[int, str], proto: str, zh_found: str, en_found: str, zh_ok: str, en_ok: str):
    found, err = listeners(facts)
    if found is None:
        return Outcome.error(f"无法列出监听端口：{err}", f"cannot list listening ports: {err}")
    wanted = set(ports.values())
    hits, spared = [], []
    for entry in found:
        if not entry["proto"].startswith(proto):
            continue
        svc = service_of(entry, ports)
        if svc in wanted:
            hits.append((entry, svc))
        elif int(entry["port"]) in ports:
            spared.append(f"{entry['proto']} {entry['address']}:{entry['port']} is {svc or '?'} "
                          f"({', '.join(entry['procs'])}), not {ports[int(entry['port'])]}")

    def who(entry):
        return f", {', '.join(entry['procs'])}" if entry.get("procs") else ""

    if hits:
        ev = "\n".join(f"{e['proto']} {e['address']}:{e['port']} ({svc}{who(e)})" for e, svc in hits)
        names = ", ".join(sorted({f"{svc}/{e['port']}" for e, svc in hits}))
        return Outcome.failed(f"{zh_found}：{names}", f"{en_found}: {names}", "\n".join([ev] + spared))
    return Outcome.passed(zh_ok, en_ok, "\n".join(spared))
