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
