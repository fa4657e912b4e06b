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


CST = dt.timezone(dt.timedelta(hours=8))


def test_dates_people_write_iso_slashes_dots_chinese_and_full_width():
    from checks.parsers.times import dates_in_text
    got = [w for w, _t in dates_in_text("a 2026-03-01 b 2026/3/2 c 2026.03.03 d 2026年3月4日 e ２０２６年３月５号 "
                                        "f Mon Dec  7 02:41:14 UTC 2026", CST)]
    assert [(w.month, w.day) for w in got] == [(3, 1), (3, 2), (3, 3), (3, 4), (3, 5), (12, 7)]
    assert got[0] == dt.datetime(2026, 3, 1, tzinfo=CST) and got[-1].tzinfo == dt.timezone.utc
    assert dates_in_text("2026-02-30 2026-13-01 20260301 v1.2026.3.1 abc2026-03-01", CST) == []   # impossible / not dates
    when = dates_in_text("恢复测试完成 2026/03/05 14:30 耗时 2 小时", CST)[0][0]
    assert when == dt.datetime(2026, 3, 5, 14, 30, tzinfo=CST)


def test_record_time_is_the_newest_date_anywhere_else_the_modification_time():
    from checks.parsers.times import record_time
    log = "2025年9月1日 第一次恢复测试：成功\n备注……\n2026-03-01 第二次恢复测试：成功\n2025/12/01 补记\n"
    when, how = record_time(log, "1700000000", CST)
    assert when == dt.datetime(2026, 2, 28, 16, tzinfo=dt.timezone.utc) and "2026-03-01" in how
    when, how = record_time("恢复测试已完成，一切正常\n", "1767225600", CST)
    assert when == dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc) and "modification time" in how
    assert record_time("no date here", "not a time", CST)[0] is None


def test_record_time_passes_over_a_planned_later_date_but_never_trusts_only_future_ones():
    from checks.parsers.times import record_time
    start = dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc)
    when, how = record_time("2026-06-01 恢复测试通过\n下次测试计划：2027年6月1日\n", "0", CST, start)
    assert when == dt.datetime(2026, 5, 31, 16, tzinfo=dt.timezone.utc) and "later dates ignored" in how
    when, how = record_time("下次测试计划：2027年6月1日\n", "1767225600", CST, start)
    assert when > start                                   # the caller reports it as a future time (error)


def test_record_time_hostile_content_is_bounded():
    import time
    from checks.parsers.times import RECORD_CAP, dates_in_text, record_time
    hostile = ("\x1b[2J\x00" + "2026-" * 50000 + "9" * 100000 + "2026年" * 30000 + "\n") * 4
    t0 = time.monotonic()
    assert dates_in_text(hostile, CST) == []
    many = "2026-03-01\n" * 100000                        # far past the cap: read only the first RECORD_CAP characters
    assert len(dates_in_text(many, CST)) <= RECORD_CAP // 11 + 1
    late = "x" * RECORD_CAP + "2026-11-30\n"               # a date past the cap is not read
    assert record_time(late, "1767225600", CST)[0] == dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    assert time.monotonic() - t0 < 5
