"""checks.parsers.exports: exports(5) lines and what makes them unsafe."""
from checks.parsers.exports import export_lines, export_problems

from ._grep import grep_h


def test_continuations_join_and_comments_drop():
    text = grep_h({"/etc/exports": "# /srv/old *(rw)\n/srv/home 10.1.0.0/16(rw,sync) \\\n   10.2.0.5(ro)\n",
                   "/etc/exports.d/x.exports": "/srv/x -ro 10.3.0.0/24\n"})
    assert export_lines(text) == [("/etc/exports", "/srv/home 10.1.0.0/16(rw,sync)  10.2.0.5(ro)"),
                                  ("/etc/exports.d/x.exports", "/srv/x -ro 10.3.0.0/24")]


def test_everyone_space_before_options_and_no_root_squash():
    assert export_problems("/srv/a 10.1.0.0/16(rw,root_squash)") == []
    assert export_problems("/srv/a *(rw)") == ["/srv/a: * → exported to every host"]
    assert export_problems("/srv/a") == ["/srv/a: no client given → exported to every host"]
    assert export_problems("/srv/a 10.1.0.5 (rw)") == ["/srv/a: (rw) without a host (space before the options) → "
                                                        "exported to every host"]
    assert export_problems("/srv/a -no_root_squash 10.1.0.5") == ["/srv/a: 10.1.0.5(no_root_squash) → no_root_squash"]
