"""checks.facts: listening sockets named by their process (sudo ss -tulpn), else by the port (ss -tuln)."""
from audits.model.probes import Facts, ProbeResult
from checks.facts import SS, SS_PROCS, listeners, service_of

PLAIN = {21: "ftp", 23: "telnet", 512: "rexec", 513: "rlogin", 514: "rsh"}


def _entry(port, procs):
    return {"proto": "tcp", "address": "0.0.0.0", "port": str(port), "procs": procs}


def test_service_named_by_the_listening_process_not_the_port():
    assert service_of(_entry(2323, ["in.telnetd"]), PLAIN) == "telnet"      # telnetd moved off 23 is still telnet
    assert service_of(_entry(23, ["sshd"]), PLAIN) == "ssh"                 # sshd on 23 is not telnet
    assert service_of(_entry(139, ["smbd"]), {139: "netbios", 445: "smb"}) == "netbios"   # one daemon, two services


def test_service_falls_back_to_the_port_for_super_servers_unknown_processes_and_no_process_names():
    assert service_of(_entry(23, ["systemd"]), PLAIN) == "telnet"           # telnet.socket: systemd holds the port
    assert service_of(_entry(23, ["xinetd"]), PLAIN) == "telnet"
    assert service_of(_entry(23, ["python3"]), PLAIN) == "telnet"           # unknown: the port decides (never a pass)
    assert service_of(_entry(23, []), PLAIN) == "telnet"
    assert service_of(_entry(8080, []), PLAIN) is None


def test_listeners_prefer_ss_with_processes_and_fall_back_to_plain_ss():
    facts = Facts("h")
    facts.results[SS] = ProbeResult("tcp LISTEN 0 128 0.0.0.0:23 0.0.0.0:*\n", 0, "")
    facts.results[SS_PROCS] = ProbeResult('tcp LISTEN 0 128 0.0.0.0:23 0.0.0.0:* users:(("sshd",pid=812,fd=3))\n', 0, "")
    found, err = listeners(facts)
    assert err is None and found[0]["procs"] == ["sshd"]
    facts.results[SS_PROCS] = ProbeResult("", 1, "sudo: a password is required", error="sudo denied")
    found, err = listeners(facts)
    assert err is None and found[0]["procs"] == [] and found[0]["port"] == "23"
