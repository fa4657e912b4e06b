"""checks.parsers.journald: Storage= from the main file and drop-ins in systemd's order."""
from checks.parsers.journald import journald_storage

from ._grep import grep_h


def test_default_is_auto():
    assert journald_storage("") == ("auto", "Storage=auto (default)")


def test_dropins_by_name_after_the_main_file_and_etc_hides_the_same_name():
    text = grep_h({"/etc/systemd/journald.conf": "[Journal]\nStorage=volatile\n",
                   "/usr/lib/systemd/journald.conf.d/50-vendor.conf": "[Journal]\nStorage=none\n",
                   "/etc/systemd/journald.conf.d/50-vendor.conf": "[Journal]\nStorage=persistent\n",
                   "/etc/systemd/journald.conf.d/10-first.conf": "[Journal]\nStorage=auto\n"})
    assert journald_storage(text) == ("persistent", "/etc/systemd/journald.conf.d/50-vendor.conf:Storage=persistent")


def test_journald_limits_from_the_main_file_and_dropins():
    from checks.parsers.journald import journald_settings
    text = grep_h({"/etc/systemd/journald.conf": "[Journal]\n#Storage=auto\nSystemMaxUse=500M\nMaxRetentionSec=1y\n",
                   "/etc/systemd/journald.conf.d/10-short.conf": "[Journal]\nMaxRetentionSec=2week\n",
                   "/etc/systemd/journald.conf.d/20-other.conf": "[Other]\nMaxRetentionSec=5y\n"})
    conf = journald_settings(text)
    assert conf["SystemMaxUse"][0] == "500M" and conf["MaxRetentionSec"][0] == "2week"   # later drop-in wins
    assert "Storage" not in conf                                                       # a comment is no setting


def test_systemd_time_spans():
    from checks.parsers.journald import timespan_seconds
    assert timespan_seconds("6month") == 6 * 2629800 and timespan_seconds("183d") == 183 * 86400
    assert timespan_seconds("1y 2w") == 31557600 + 2 * 604800 and timespan_seconds("3600") == 3600
    assert timespan_seconds("0") == 0
    assert timespan_seconds("6 fortnights") is None and timespan_seconds("") is None and timespan_seconds("9" * 90) is None
