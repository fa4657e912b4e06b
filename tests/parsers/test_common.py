"""checks.parsers.common: the common probe output formats and the YAML checks' PARSERS table."""
from checks import parsers
from checks.parsers.common import grep_files, keyvalue, listening, os_family, sshd_t, stat, to_int


def test_the_package_still_offers_the_names_yaml_checks_and_call_sites_use():
    assert set(parsers.PARSERS) == {"raw", "lines", "keyvalue", "sshd", "stat", "passwd", "shadow", "listening"}
    assert parsers.shadow("root:*:19000:0:99999:7:::\n")[0]["max"] == "99999"
    assert parsers.PARSERS["sshd"] is sshd_t


def test_keyvalue_last_wins_and_quotes_drop():
    assert keyvalue('PASS_MAX_DAYS 99999\nPASS_MAX_DAYS\t90\nNAME="Debian GNU/Linux"\n# X 1\n') == {
        "PASS_MAX_DAYS": "90", "NAME": "Debian GNU/Linux"}


def test_sshd_t_joins_repeated_keys():
    assert sshd_t("ListenAddress 0.0.0.0:22\nlistenaddress [::]:22\nPort 22\n") == {
        "listenaddress": "0.0.0.0:22,[::]:22", "port": "22"}


def test_stat_and_ss():
    assert stat("640 root adm 1024 1767225600 regular file") == {
        "mode": "0640", "owner": "root", "group": "adm", "size": "1024", "mtime": "1767225600", "type": "regular file"}
    assert stat("stat: cannot stat") is None
    assert listening("tcp LISTEN 0 128 [::]:22 [::]:*\nudp UNCONN 0 0 127.0.0.53%lo:53 0.0.0.0:*\n") == [
        {"proto": "tcp", "address": "::", "port": "22", "procs": []},
        {"proto": "udp", "address": "127.0.0.53%lo", "port": "53", "procs": []}]


def test_ss_with_process_names_from_ss_tulpn():
    out = listening('tcp LISTEN 0 128 0.0.0.0:2323 0.0.0.0:* users:(("in.telnetd",pid=901,fd=3))\n'
                    'tcp LISTEN 0 4096 *:22 *:* users:(("sshd",pid=812,fd=3),("systemd",pid=1,fd=48))\n'
                    'tcp LISTEN 0 5 0.0.0.0:23 0.0.0.0:* users:(("evil\x1b[2J\\"x",pid=7,fd=3))\n')
    assert out[0]["procs"] == ["in.telnetd"] and out[1]["procs"] == ["sshd", "systemd"]
    assert out[2]["procs"] and "\x1b" not in out[2]["procs"][0] and len(out[2]["procs"][0]) <= 32


def test_os_family_from_os_release_then_the_package_tool():
    assert os_family('ID=kylin\nID_LIKE="rhel fedora"\n') == "rhel"
    assert os_family("ID=uos\n") == "debian"
    assert os_family("ID=alpine\n/usr/bin/dpkg-query\n") == "debian"
    assert os_family("ID=alpine\n") == "linux" and os_family("") == ""


def test_grep_files_and_to_int():
    assert grep_files("/etc/a:x = 1\n/etc/a:# c\n/etc/b:\nnot-a-path:y\n") == {"/etc/a": ["x = 1"], "/etc/b": []}
    assert to_int(" 7 ") == 7 and to_int("x", -1) == -1 and to_int(None) is None
