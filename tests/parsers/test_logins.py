"""checks.parsers.logins: the last-login probe (lastlog, lastlog2, last -F -w)."""
from checks.parsers.logins import host_day, last_logins

LASTLOG = """@now 1767225600 +0800
@lastlog
Username         Port     From             Latest
root             pts/0    10.20.0.5        Wed Dec 31 09:00:00 +0800 2025
daemon                                     **Never logged in**
alice            pts/1    10.20.0.9        Mon Jun  2 08:30:00 +0800 2025
"""

LAST = """@now 1767225600 -0500
@last
alice    pts/1        10.20.0.9        Mon Dec  1 08:00:00 2025 - Mon Dec  1 09:00:00 2025  (01:00)
alice    pts/1        10.20.0.9        Tue Dec  2 08:00:00 2025 - Tue Dec  2 09:00:00 2025  (01:00)
reboot   system boot  6.1.0-18-amd64   Mon Dec  1 07:59:00 2025   still running

wtmp begins Sat Nov  1 00:00:01 2025
"""


def test_lastlog_reads_times_with_their_zone_and_never():
    now, tz, tool, seen, begins = last_logins(LASTLOG)
    assert (now, tz, tool, begins) == (1767225600, "+0800", "lastlog", None)
    assert seen["daemon"] is None
    assert seen["root"] == 1767142800                      # 2025-12-31 01:00 UTC
    assert host_day(seen["alice"], tz) == "2025-06-02"


def test_last_keeps_the_newest_login_in_the_host_zone_and_wtmp_begins():
    _now, tz, tool, seen, begins = last_logins(LAST)
    assert (tool, tz) == ("last", "-0500")
    assert set(seen) == {"alice"}                          # reboot records are not logins
    assert host_day(seen["alice"], tz) == "2025-12-02"
    assert host_day(begins, tz) == "2025-11-01"
