"""checks.parsers.listings: backup tools' listings, markers and find listings, in the host's zone."""
import datetime as dt

import pytest

from checks.parsers.listings import ListingError, find_entries, marker_time, newest_in_listing, utc_offset

CST = utc_offset("+0800")


def test_borg1_naive_times_are_host_local_and_the_newest_counts():
    text = '{"archives": [{"name": "a", "start": "2026-03-01T02:00:00.000000"}, ' \
           '{"name": "b", "start": "2026-03-02T02:00:00.000000", "end": "2026-03-02T02:10:00.000000"}]}'
    when, n = newest_in_listing("borg", text, CST)
    assert n == 2 and when == dt.datetime(2026, 3, 1, 18, 10, tzinfo=dt.timezone.utc)


def test_rsync_counts_only_finished_runs_and_bad_json_is_an_error():
    log = ("2026/03/02 01:00:00 [411] building file list\n"
           "2026/03/02 01:05:00 [411] sent 1,024 bytes  received 35 bytes  2,118.00 bytes/sec\n")
    when, n = newest_in_listing("rsync", log, CST)
    assert n == 1 and when == dt.datetime(2026, 3, 1, 17, 5, tzinfo=dt.timezone.utc)
    with pytest.raises(ListingError):
        newest_in_listing("restic", "[{\"time\": ", CST)


def test_markers_newest_written_time_or_modification_time():
    when, how = marker_time("2026-03-02 01:00:00 nightly ok\n", "0", CST)
    assert when == dt.datetime(2026, 3, 1, 17, tzinfo=dt.timezone.utc) and how.startswith("newest date written")
    when, how = marker_time("", "1767225600", CST)
    assert how.endswith("its modification time") and when.year == 2026
    when, how = marker_time("yesterday\n", "1767225600", CST)
    assert when.year == 2026 and "modification time" in how
    assert marker_time("yesterday\n", "?", CST)[0] is None
    assert marker_time("1767225600\n", "0", CST)[0] == dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


def test_find_entries_split_on_nul_or_its_replacement():
    (a, b) = find_entries("1767225600.5 640 root f /srv/backup/a b.tar\x001767225601 750 backup d /srv/backup/x\ufffd")
    assert (a.mode, a.owner, a.kind, a.path) == (0o640, "root", "f", "/srv/backup/a b.tar")
    assert b.kind == "d" and b.mtime.year == 2026
