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
