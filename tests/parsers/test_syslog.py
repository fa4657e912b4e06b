"""checks.parsers.syslog: rsyslog selectors and RainerScript, syslog-ng log paths."""
from checks.parsers.common import grep_files
import re

from checks.parsers.syslog import (FACILITIES, action_kind, forwarding, rsyslog_rules, rule_picks, selects, statements,
                                    syslog_ng_paths)

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


def _fwd(conf: str, dropins: dict[str, str] | None = None):
    files = {"/etc/rsyslog.conf": fixture("debian12-rsyslog.conf")}
    files.update(dropins or {"/etc/rsyslog.d/90-forward.conf": conf})
    return forwarding(rsyslog_rules(grep_files(grep_h(files))), 6, LOOP)


LOOP = re.compile(r"^(127\.|localhost$|::1$)")


def test_rsyslog_legacy_forward_of_everything_covers_every_facility():
    fw = _fwd("*.* @@loghost.example:514\n")
    assert all(fw[f]["forwarded"] for f in FACILITIES)


def test_rsyslog_forward_inside_facility_filter_is_partial():
    fw = _fwd("if $syslogfacility-text == 'local6' then {\n  action(type=\"omfwd\" target=\"10.0.0.5\" port=\"514\")\n}\n")
    assert fw["local6"]["forwarded"] and not fw["auth"]["forwarded"] and not fw["authpriv"]["forwarded"]
    fw = _fwd("if $syslogfacility-text == ['auth', 'authpriv'] then action(type=\"omfwd\" target=\"10.0.0.5\")\n")
    assert fw["auth"]["forwarded"] and fw["authpriv"]["forwarded"] and not fw["kern"]["forwarded"]
    fw = _fwd('if prifilt("auth,authpriv.*") or $syslogseverity <= 3 then action(type="omfwd" target="10.0.0.5")\n')
    assert fw["authpriv"]["forwarded"] and not fw["daemon"]["forwarded"]
    assert forwarding(rsyslog_rules(grep_files(grep_h({"/etc/rsyslog.conf": 'if prifilt("*.*") or $syslogseverity <= 3 '
                                                           'then action(type="omfwd" target="10.0.0.5")\n'}))),
                      3)["daemon"]["forwarded"]


def test_rsyslog_forward_behind_a_program_name_test_is_conditional_not_forwarding():
    fw = _fwd('if $programname == "nginx" then {\n action(type="omfwd" target="10.0.0.5")\n}\n')
    assert not fw["auth"]["forwarded"] and fw["auth"]["conditional"]
    fw = _fwd('if $programname == "nginx" or $syslogfacility-text == "authpriv" then action(type="omfwd" target="10.0.0.5")\n')
    assert fw["authpriv"]["forwarded"] and not fw["auth"]["forwarded"] and fw["auth"]["conditional"]
    fw = _fwd('if not ($syslogfacility-text == "authpriv") then action(type="omfwd" target="10.0.0.5")\n')
    assert fw["auth"]["forwarded"] and not fw["authpriv"]["forwarded"]


def test_rsyslog_forward_in_a_ruleset_bound_to_a_network_input_is_not_this_hosts_logs():
    relay = ('module(load="imtcp")\ninput(type="imtcp" port="514" ruleset="remote")\n'
             'ruleset(name="remote") {\n  action(type="omfwd" target="10.0.0.5" port="514" protocol="tcp")\n}\n')
    fw = _fwd(relay)
    assert not fw["auth"]["forwarded"] and not fw["auth"]["conditional"]
    rules = rsyslog_rules({"/etc/rsyslog.conf": ['ruleset(name="remote") {', 'action(type="omfile" file="/r")', "}"]})
    assert len(rules) == 1 and rules[0]["ruleset"] == "remote" and rule_picks(rules[0], AUTHPRIV, INFO) is False
    # legacy $RuleSet: the statements after it belong to that ruleset until the default is named again
    fw = _fwd("$RuleSet remote\n*.* @@10.0.0.5:514\n$RuleSet RSYSLOG_DefaultRuleset\n")
    assert not fw["auth"]["forwarded"]


def test_rsyslog_ruleset_bound_to_a_local_input_or_called_carries_this_hosts_logs():
    bound = ('module(load="imjournal" StateFile="imjournal.state" ruleset="fwd")\n'
             'ruleset(name="fwd") {\n  action(type="omfwd" target="10.0.0.5")\n}\n')
    assert _fwd(bound)["auth"]["forwarded"]
    called = ('ruleset(name="fwd") { action(type="omfwd" target="10.0.0.5") }\n'
              'if $syslogfacility-text == "authpriv" then call fwd\n')
    fw = _fwd(called)
    assert fw["authpriv"]["forwarded"] and not fw["kern"]["forwarded"]   # only what the call's if-test lets through


def test_rsyslog_stop_before_a_forward_discards_the_message():
    fw = _fwd("", {"/etc/rsyslog.d/10-auth.conf": "auth,authpriv.* /var/log/auth-only.log\n& stop\n",
                   "/etc/rsyslog.d/90-forward.conf": "*.* @@10.0.0.5:514\n"})
    assert not fw["auth"]["forwarded"] and fw["auth"]["stopped"] and fw["daemon"]["forwarded"]
    fw = _fwd("", {"/etc/rsyslog.d/10-drop.conf": "if $syslogfacility-text == 'authpriv' then stop\n",
                   "/etc/rsyslog.d/90-forward.conf": "*.* @@10.0.0.5:514\n"})
    assert not fw["authpriv"]["forwarded"] and fw["auth"]["forwarded"]
    fw = _fwd("", {"/etc/rsyslog.d/10-legacy.conf": "authpriv.* ~\n", "/etc/rsyslog.d/90-forward.conf": "*.* @@10.0.0.5\n"})
    assert not fw["authpriv"]["forwarded"]
    # a forward before the stop still sends it
    fw = _fwd("*.* @@10.0.0.5:514\n& stop\n")
    assert fw["auth"]["forwarded"]


def test_rsyslog_forward_to_loopback_is_not_forwarding():
    assert not _fwd("*.* @@127.0.0.1:514\n")["auth"]["forwarded"]


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


def test_syslog_ng_debian_stock_has_no_forward_and_a_network_destination_from_system_source_forwards():
    stock = {"/etc/syslog-ng/syslog-ng.conf": fixture("debian12-syslog-ng.conf")}
    paths = syslog_ng_paths(grep_files(grep_h(stock)))
    assert paths and not any(p["forwards"] for p in paths)
    auth = next(p for p in paths if "/var/log/auth.log" in p["files"])
    assert auth["facilities"] == {"auth", "authpriv"}
    fwd = dict(stock, **{"/etc/syslog-ng/conf.d/loghost.conf":
                         'destination d_net { syslog("10.0.0.5" transport("tcp") port(601)); };\n'
                         "log { source(s_src); destination(d_net); };\n"})
    assert any(p["forwards"] == ["10.0.0.5"] and "*" in p["facilities"] for p in syslog_ng_paths(grep_files(grep_h(fwd))))


def test_syslog_ng_relay_of_network_sources_is_not_this_hosts_forwarding():
    relay = {"/etc/syslog-ng/syslog-ng.conf": fixture("debian12-syslog-ng.conf"),
             "/etc/syslog-ng/conf.d/relay.conf": 'source s_net { network(transport("udp") port(514)); };\n'
                                                 'destination d_up { network("10.0.0.5" transport("tcp")); };\n'
                                                 "log { source(s_net); destination(d_up); };\n"}
    assert not any(p["forwards"] for p in syslog_ng_paths(grep_files(grep_h(relay))))


def test_rsyslog_numeric_facility_test_and_a_conditional_stop_before_the_forward_is_noted():
    fw = _fwd('if $syslogfacility == 10 then action(type="omfwd" target="10.0.0.5")\n')
    assert fw["authpriv"]["forwarded"] and not fw["auth"]["forwarded"]
    fw = _fwd("", {"/etc/rsyslog.d/10-noise.conf": 'if $programname == "sshd" then stop\n',
                   "/etc/rsyslog.d/90-forward.conf": "*.* @@10.0.0.5:514\n"})
    assert fw["auth"]["forwarded"] and fw["auth"]["maybe_stopped"] == ['/etc/rsyslog.d/10-noise.conf: if $programname == "sshd" then stop']


def test_rsyslog_default_ruleset_without_local_input_when_every_local_input_is_bound_elsewhere():
    conf = ('module(load="imuxsock" SysSock.Ruleset="local")\nmodule(load="imklog" ruleset="local")\n'
            'ruleset(name="local") {\n action(type="omfile" file="/var/log/all.log")\n}\n'
            "*.* @@10.0.0.5:514\n")                      # a forward in the default ruleset that no local message reaches
    fw = forwarding(rsyslog_rules({"/etc/rsyslog.conf": conf.splitlines()}), 6)
    assert not fw["auth"]["forwarded"]
    conf = conf.replace('module(load="imklog" ruleset="local")', 'module(load="imklog")')  # imklog still feeds the default
    fw = forwarding(rsyslog_rules({"/etc/rsyslog.conf": conf.splitlines()}), 6)
    assert fw["kern"]["forwarded"] and not fw["auth"]["forwarded"]
