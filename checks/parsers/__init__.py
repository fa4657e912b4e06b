"""Pure parsers of probe output and of the configuration languages checks judge: text in, data out,
no I/O and no Outcomes. One module per language or output format; the common formats (and the
``PARSERS`` table of the YAML checks' ``parse:`` field) are importable from ``checks.parsers`` itself."""
from .common import (PARSERS, PASSWD, SHADOW, colon_table, grep_files, keyvalue, lines, listening, os_family,
                     os_release, passwd, shadow, sshd_t, stat, to_int)
from .packages import ListVersions, debian_version_newer, dpkg_versions, list_versions, rpm_evr_compare, rpm_version_newer

__all__ = ["PARSERS", "PASSWD", "SHADOW", "colon_table", "grep_files", "keyvalue", "lines", "listening", "os_family",
           "os_release", "passwd", "shadow", "sshd_t", "stat", "to_int", "ListVersions", "debian_version_newer",
           "dpkg_versions", "list_versions", "rpm_evr_compare", "rpm_version_newer"]
