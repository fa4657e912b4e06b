"""OVAL definitions (Ubuntu ``com.ubuntu.<codename>.cve.oval.xml``, Debian ``oval-definitions-<codename>.xml``):
not yet read — import Canonical's OSV dump (``osv-all.tar.xz``) for Ubuntu instead."""
from __future__ import annotations

from audits.patchdata.feeds import FeedError


def rows(stream, name, info):
    raise FeedError(name, 1, "format", "OVAL is not supported yet: import the distribution's OSV dump or tracker JSON")
    yield  # pragma: no cover
