"""checks.parsers.syslog: rsyslog selectors and RainerScript, syslog-ng log paths."""
from checks.parsers.common import grep_files
from checks.parsers.syslog import action_kind, rsyslog_rules, rule_picks, selects, statements, syslog_ng_paths

from ._grep import fixture, grep_h

AUTHPRIV, INFO, NOTICE, DEBUG, ERR = "authpriv", 6, 5, 7, 3


def test_selectors_semicolon_none_equals_and_not():
    assert selects("auth,authpriv.*", AUTHPRIV, INFO)
    assert not selects("*.*;auth,authpriv.none", AUTHPRIV, INFO)        # none later in the line wins
    assert selects("*.*;auth,authpriv.none", "mail", DEBUG)
    assert selects("*.info", AUTHPRIV, ERR) and not selects("*.info", AUTHPRIV, DEBUG)
    assert selects("authpriv.=info", AUTHPRIV, INFO) and not selects("authpriv.=info", AUTHPRIV, ERR)
    assert not selects("authpriv.*;authpriv.!info", AUTHPRIV, NOTICE)  # !info excludes info and above
    assert selects("authpriv.*;authpriv.!info", AUTHPRIV, DEBUG)


def test_actions_files_forwards_and_stop():
    assert action_kind("-/var/log/syslog") == ("file", "/var/log/syslog")
    assert action_kind("@@[2001:db8::5]:514") == ("forward", "2001:db8::5")
    assert action_kind("@loghost.example:10514;RSYSLOG_SyslogProtocol23Format") == ("forward", "loghost.example")
    assert action_kind('action(type="omfwd" target="10.0.0.9" port="514" protocol="tcp")') == ("forward", "10.0.0.9")
    assert action_kind('action(type="omfile" file="/var/log/secure")') == ("file", "/var/log/secure")
    assert action_kind("stop") == ("stop", "") and action_kind(":omusrmsg:*") == ("other", ":omusrmsg:*")


def test_a_multi_line_action_is_one_statement():
    assert statements(['action(type="omfwd"', 'target="10.0.0.9" port="514")', "*.* /x"]) == [
        'action(type="omfwd" target="10.0.0.9" port="514")', "*.* /x"]


def test_debian_stock_rsyslog_with_a_dropin_read_where_included():
    by_file = grep_files(grep_h({"/etc/rsyslog.conf": fixture("debian12-rsyslog.conf"),
                                 "/etc/rsyslog.d/10-stop.conf": ":programname, isequal, \"x\" stop\n"
                                                                "if $syslogfacility-text == 'authpriv' then {\n"
                                                                '  action(type="omfwd" target="logs.example")\n}\n'}))
    rules = rsyslog_rules(by_file)
    assert rules[0]["facilities"] == {"authpriv"} and rules[0]["kind"] == "forward"   # drop-in first
    first_file = next(r for r in rules if r["kind"] == "file" and rule_picks(r, AUTHPRIV, INFO))
    assert first_file["target"] == "/var/log/auth.log"
    syslog = next(r for r in rules if r["target"] == "/var/log/syslog")
    assert rule_picks(syslog, AUTHPRIV, INFO) is False and rule_picks(syslog, "daemon", INFO) is True


def test_an_action_inside_a_block_without_a_facility_test_has_an_unknown_scope():
    rules = rsyslog_rules({"/etc/rsyslog.conf": ['ruleset(name="remote") {', 'action(type="omfile" file="/r")', "}"]})
    assert len(rules) == 1 and rule_picks(rules[0], AUTHPRIV, INFO) is None


def test_syslog_ng_paths_with_facility_filters():
    conf = ("source s_src { system(); internal(); };\n"
            "filter f_auth { facility(auth, authpriv) and not facility(mail); };\n"
            'destination d_auth { file("/var/log/auth.log"); };\n'
            'destination d_net { network("10.9.9.9" transport("tcp") port(514)); };\n'
            "log { source(s_src); filter(f_auth); destination(d_auth); };\n"
            "log { source(s_src); destination(d_net); };\n")
    paths = syslog_ng_paths({"/etc/syslog-ng/syslog-ng.conf": conf.splitlines()})
    assert paths[0]["facilities"] == {"auth", "authpriv"} and paths[0]["files"] == ["/var/log/auth.log"]
    assert paths[1]["facilities"] == {"*"} and paths[1]["forwards"] == ["10.9.9.9"]
