"""The legacy SSH path without the lab (issue #20): the algorithms it re-enables come from this
machine's client; when even it cannot reach a host, the reason quotes the client's own
"Unable to negotiate ... no matching X" line and what the server offered; a vault password reaches
the system client through SSH_ASKPASS and a private pipe, never a command line or an environment."""
import json
import shutil
import subprocess

import paramiko
import pytest
import yaml

import auditctl
from audits.collect.transports.base import Unreachable
from tests.hostile_ssh import HostileServer, OfferOnlyServer

pytestmark = pytest.mark.skipif(not shutil.which("ssh"), reason="system OpenSSH client missing")


def _q(what):
    return set(subprocess.run(["ssh", "-Q", what], capture_output=True, text=True).stdout.split())


def test_legacy_algorithms_come_from_this_client():
    from audits.collect.transports.openssh import legacy_algorithms, legacy_options

    algos = legacy_algorithms()
    assert set(algos["Ciphers"]) <= _q("cipher") and set(algos["KexAlgorithms"]) <= _q("kex")
    # what this client has but no longer offers by default: every CBC cipher and SHA-1 kex it still has
    assert {c for c in _q("cipher") if c.endswith("-cbc")} <= set(algos["Ciphers"])
    assert {k for k in _q("kex") if k.endswith("-sha1")} <= set(algos["KexAlgorithms"])
    if "ssh-rsa" in _q("key"):
        assert "ssh-rsa" in algos["HostKeyAlgorithms"] and "ssh-rsa" in algos["PubkeyAcceptedAlgorithms"]
    if "hmac-md5" in _q("mac"):
        assert "hmac-md5" in algos["MACs"]
    opts = legacy_options()
    assert all(o == "-o" or "=+" in o for o in opts)  # appended to the defaults, never replacing them


def _run(tmp_path, port, extra=None):
    key = paramiko.RSAKey.generate(2048)
    host = {"id": "old01", "address": "127.0.0.1", "port": port, "user": "audit", "school": "s1", "systems": ["web"],
            "connect_timeout": 5, "host_timeout": 30, "host_keys": [f"ssh-rsa {key.get_base64()}"],
            "known_hosts": str(tmp_path / "kh"), **(extra or {})}
    inv = tmp_path / "inv.yaml"
    inv.write_text(yaml.safe_dump({"school": {"id": "s1", "district": "d1", "systems": [{"id": "web", "level": 3}]},
                                   "hosts": [host]}))
    js = tmp_path / "r.json"
    auditctl.main(["run", "-q", "-i", str(inv), "--packs", "fleet", "--db", str(tmp_path / "r.db"),
                   "--json", str(js), "--out", str(tmp_path / "o")])
    (h,) = json.loads(js.read_text())["hosts"]
    return h


def test_unreachable_even_on_the_legacy_path_says_why_in_the_clients_words(tmp_path):
    """Firmware offering only ciphers no client has any more: not an empty 'system ssh: ' but the
    client's own line naming the missing algorithm, and everything the server offered."""
    with OfferOnlyServer(cipher=("blowfish-cbc", "arcfour256")) as server:
        h = _run(tmp_path, server.port)
    assert h["status"] == "unreachable" and h["reason"] == "protocol", h
    d = h["detail"]
    assert "Unable to negotiate with 127.0.0.1" in d and "no matching cipher found" in d, d
    assert "Their offer: blowfish-cbc,arcfour256" in d, d
    assert "SSH-2.0-OpenSSH_4.3 offers key exchange diffie-hellman-group1-sha1; host key ssh-rsa; " \
           "cipher blowfish-cbc, arcfour256; MAC hmac-md5" in d, d


def test_no_matching_key_exchange_is_named_too(tmp_path):
    with OfferOnlyServer(kex=("diffie-hellman-group1-sha1-ancient",), cipher=("aes128-cbc",)) as server:
        h = _run(tmp_path, server.port)
    assert h["reason"] == "protocol" and "no matching key exchange method found" in h["detail"], h
    assert "diffie-hellman-group1-sha1-ancient" in h["detail"]


def test_legacy_path_password_goes_through_askpass_and_nowhere_else(tmp_path):
    """A vault password on the legacy path: the system client logs in with it; while it runs, no
    process on this machine has it in its command line or environment."""
    from audits.collect.transports.openssh import OpenSSHTransport
    from audits.model.inventory import Host, Source
    from audits.trust.vault import Secret

    pw = "Legacy-Askpass-Pw-5521"
    with HostileServer("honest", password=pw) as server:
        s = {"port": server.port, "user": "audit", "connect_timeout": 5, "host_keys": [server.pinned],
             "known_hosts": str(tmp_path / "kh"), "password": Secret(pw, "old_pw")}
        t = OpenSSHTransport(Host("h", "127.0.0.1", "s", "d", [], 3, s, Source("t", 0)))
        t.open()
        # the probe runs on this machine (the test server execs it): it looks for the password in every
        # process's argv and environment, with bash builtins only (a grep would carry it in its own argv)
        script = ("PW=$(printf '%s' TGVnYWN5LUFza3Bhc3MtUHctNTUyMQ== | base64 -d)\n"
                  "for f in /proc/[0-9]*/cmdline /proc/[0-9]*/environ; do\n"
                  "  c=$(tr '\\0' ' ' < \"$f\" 2>/dev/null); case \"$c\" in *\"$PW\"*) echo \"LEAK $f\";; esac\n"
                  "done\necho SCANNED\n")
        out = t.run_script(script, 60).decode()
        assert server.auth_attempts == [("password", True)]
    assert "SCANNED" in out and "LEAK" not in out, out
    assert not list(tmp_path.glob("auditctl-askpass-*"))


def test_legacy_path_wrong_password_is_auth_failed_in_the_clients_words(tmp_path):
    from audits.collect.transports.openssh import OpenSSHTransport
    from audits.model.inventory import Host, Source
    from audits.trust.vault import Secret

    with HostileServer("honest", password="the-right-one") as server:
        s = {"port": server.port, "user": "audit", "connect_timeout": 5, "host_keys": [server.pinned],
             "known_hosts": str(tmp_path / "kh"), "password": Secret("a-wrong-one", "old_pw")}
        t = OpenSSHTransport(Host("h", "127.0.0.1", "s", "d", [], 3, s, Source("t", 0)))
        with pytest.raises(Unreachable) as e:
            t.run_script("echo hi\n", 30)
    assert e.value.reason == "auth_failed" and "Permission denied" in e.value.detail, e.value.detail
    assert "a-wrong-one" not in e.value.detail


def test_reading_a_hostile_servers_offer_is_bounded():
    import time

    from audits.collect.transports.offer import OfferError, fetch_offer

    with HostileServer("raw_banner") as server:  # 1 MB of text and no SSH version line
        t0 = time.monotonic()
        with pytest.raises(OfferError, match="no SSH version line in the first 64 KiB"):
            fetch_offer("127.0.0.1", server.port, timeout=10)
        assert time.monotonic() - t0 < 10


def test_jump_values_stay_inert_in_the_proxy_command(tmp_path):
    """The legacy path reaches a jump host with ProxyCommand (a shell line): a hostile jump user or a
    '%' token in it runs nothing and expands nothing."""
    from audits.collect.transports.openssh import OpenSSHTransport
    from audits.model.inventory import Host, Source

    marker = tmp_path / "pwned"
    s = {"port": 22, "user": "audit", "connect_timeout": 2, "known_hosts": str(tmp_path / "kh"),
         "jump": f"a$(touch {marker})'`touch {marker}`%h@127.0.0.1:1"}
    t = OpenSSHTransport(Host("h", "127.0.0.1", "s", "d", [], 3, s, Source("t", 0)))
    proxy = t._proxy_command()
    assert "StrictHostKeyChecking=yes" in proxy and "KexAlgorithms=+" in proxy and "%%h" in proxy
    with pytest.raises(Unreachable) as e:
        t.run_script("echo hi\n", 15)
    assert e.value.detail  # never empty
    assert not marker.exists()
