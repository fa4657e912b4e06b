"""checks.parsers.logrotate: include order, global directives, blocks and globs."""
from checks.parsers.common import grep_files
from checks.parsers.logrotate import logrotate_blocks, path_match

from ._grep import fixture, grep_h


def _blocks(files):
    return logrotate_blocks(grep_files(grep_h(files)))


def test_debian_stock_files_rotate_weekly_four_times_with_several_patterns():
    blocks = _blocks({"/etc/logrotate.conf": fixture("debian12-logrotate.conf"),
                      "/etc/logrotate.d/rsyslog": fixture("debian12-logrotate.d-rsyslog")})
    (rs,) = [b for b in blocks if "/var/log/auth.log" in b["patterns"]]
    assert (rs["period"], rs["rotate"], rs["maxage"], rs["where"]) == ("weekly", 4, None, "/etc/logrotate.d/rsyslog")
    assert len(rs["patterns"]) == 6
    assert not any("rsyslog-rotate" in ln for ln in rs["lines"])   # the postrotate script is skipped


def test_globals_before_the_include_apply_and_block_directives_override():
    blocks = _blocks({"/etc/logrotate.conf": "monthly\nrotate 12\ninclude /etc/logrotate.d\n"
                                             "/var/log/wtmp {\n monthly\n rotate 1\n}\n",
                      "/etc/logrotate.d/app": "/var/log/app/*.log {\n daily\n maxage 30\n}\n"
                                              '"/var/log/other.log" { size 10M }\n'})
    app, other, wtmp = blocks
    assert (app["period"], app["rotate"], app["maxage"]) == ("daily", 12, 30)
    assert (other["period"], other["rotate"], other["patterns"]) == ("size", 12, ["/var/log/other.log"])
    assert (wtmp["period"], wtmp["rotate"]) == ("monthly", 1)


def test_dropins_alone_use_logrotates_defaults():
    (b,) = _blocks({"/etc/logrotate.d/x": "/var/log/x.log {\n weekly\n}\n"})
    assert (b["period"], b["rotate"]) == ("weekly", 0)


def test_globs_do_not_cross_directories():
    assert path_match("/var/log/*.log", "/var/log/auth.log")
    assert not path_match("/var/log/*.log", "/var/log/app/x.log")
    assert path_match("/var/log/syslog", "/var/log/syslog")


def _days(text):
    from checks.parsers.logrotate import retention_days
    (b,) = [b for b in _blocks({"/etc/logrotate.conf": fixture("debian12-logrotate.conf"),
                                "/etc/logrotate.d/rsyslog": text}) if "/var/log/auth.log" in b["patterns"]]
    return retention_days(b)


def test_logrotate_stock_weekly_four_is_28_days_and_monthly_seven_is_enough():
    assert _days(fixture("debian12-logrotate.d-rsyslog"))[0] == 28
    assert _days("/var/log/auth.log {\n monthly\n rotate 7\n}\n")[0] == 217
    assert _days("/var/log/auth.log {\n weekly\n rotate 24\n}\n")[0] == 168      # the classic trap: < 183
    assert _days("/var/log/auth.log {\n rotate -1\n weekly\n}\n")[0] == float("inf")


def test_logrotate_maxage_caps_and_maxsize_makes_retention_unprovable():
    assert _days("/var/log/auth.log {\n daily\n rotate 365\n maxage 90\n}\n")[0] == 90
    days, how = _days("/var/log/auth.log {\n daily\n rotate 400\n maxsize 100M\n}\n")
    assert days is None and "maxsize 100M" in how
    days, how = _days("maxsize 50M\n/var/log/auth.log {\n monthly\n rotate 12\n}\n")   # a global maxsize applies too
    assert days is None


def test_logrotate_size_and_period_last_one_wins_and_minsize_dateext_keep_the_count():
    assert _days("/var/log/auth.log {\n weekly\n size 10M\n rotate 52\n}\n")[0] is None
    assert _days("/var/log/auth.log {\n size 10M\n weekly\n rotate 52\n}\n")[0] == 364
    days, how = _days("/var/log/auth.log {\n monthly\n rotate 6\n minsize 1M\n dateext\n}\n")
    assert days == 186 and "dateext" in how and "minsize" in how
