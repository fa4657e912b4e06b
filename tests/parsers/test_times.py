"""checks.parsers.times: reading and showing times."""
import datetime as dt

from checks.parsers.times import human, parse_when, stamp


def test_iso_epoch_and_dates_become_aware_utc():
    assert parse_when("2026-03-02T01:00:00+08:00") == dt.datetime(2026, 3, 1, 17, tzinfo=dt.timezone.utc)
    assert parse_when("2026-03-02 01:00:00") == dt.datetime(2026, 3, 2, 1, tzinfo=dt.timezone.utc)   # naive = UTC
    assert parse_when("@1767225600") == parse_when(1767225600) == dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    assert parse_when(dt.date(2026, 1, 2)) == dt.datetime(2026, 1, 2, tzinfo=dt.timezone.utc)
    assert parse_when("not a time") is None and parse_when("") is None and parse_when("9" * 41) is None


def test_stamp_and_human():
    assert stamp(dt.datetime(2026, 3, 2, 9, tzinfo=dt.timezone(dt.timedelta(hours=8)))) == "2026-03-02T01:00:00Z"
    assert human(5) == "5.0 h" and human(72) == "3.0 d"
