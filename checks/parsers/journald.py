"""systemd-journald configuration: ``/etc/systemd/journald.conf`` and its drop-ins
(``journald.conf.d/*.conf`` in /etc, /run and /usr/lib), as systemd reads them: the main file, then
drop-ins by file name, a name in /etc hiding the same name elsewhere, the last setting winning.
Pure functions, no I/O.
"""
from __future__ import annotations

from .common import grep_files


# journald / syslog daemons
def journald_storage(text: str) -> tuple[str, str]:
    """(Storage= value, the line it came from): main file, then drop-ins ordered by file name."""
    by_file = grep_files(text)
    main = [p for p in by_file if p == "/etc/systemd/journald.conf"]
    drop = sorted((p for p in by_file if p not in main), key=lambda p: (p.rsplit("/", 1)[-1], not p.startswith("/etc/")))
    value, where = "auto", "Storage=auto (default)"
    seen_names = set()
    for p in main + drop:
        name = p.rsplit("/", 1)[-1]
        if p in drop and name in seen_names:
            continue  # /etc/… overrides the same name in /run and /usr/lib
        seen_names.add(name)
        for ln in by_file[p]:
            k, eq, v = ln.partition("=")
            if eq and k.strip() == "Storage":
                value, where = v.strip().lower(), f"{p}:{ln}"
    return value, where
