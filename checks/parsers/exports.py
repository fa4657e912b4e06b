"""NFS server exports: ``/etc/exports`` and ``/etc/exports.d/*.exports`` as read by ``grep -H``,
with exports(5) semantics (``\\`` continues a line, ``-opts`` sets default options, a client without a
host, or options separated from the host by a space, means every host). Pure functions, no I/O.
"""
from __future__ import annotations

import re
import shlex


def export_lines(text: str) -> list[tuple[str, str]]:
    """(path:lineno-ish, logical line) for /etc/exports and exports.d, joining backslash continuations."""
    out: list[tuple[str, str]] = []
    pending, where = "", ""
    for raw in text.splitlines():
        path, sep, line = raw.partition(":")
        if not sep or not path.startswith("/"):
            continue
        body = line.split("#", 1)[0].rstrip()
        if pending:
            body = pending + " " + body.strip()
        else:
            where = path
        if body.endswith("\\"):
            pending = body[:-1]
            continue
        pending = ""
        if body.strip():
            out.append((where, body.strip()))
    return out


def export_problems(line: str) -> list[str]:
    """What is wrong with one exports(5) line: export to everyone and/or no_root_squash."""
    try:
        words = shlex.split(line)
    except ValueError:
        words = line.split()
    if not words:
        return []
    path, rest = words[0], words[1:]
    # options may also be given as a separate "(opts)" after a space: that is an export to everyone
    problems, default_opts, clients = [], "", []
    for w in rest:
        if w.startswith("-") and not clients:
            default_opts = w[1:]
            continue
        clients.append(w)
    no_client = not clients
    if no_client:
        problems.append("no client given → exported to every host")
        clients = ["()"]
    for c in clients:
        host, _, opts = c.partition("(")
        opts = (default_opts + "," + opts.rstrip(")")).strip(",")
        if host in ("*", "0.0.0.0/0", "::/0", "*.*") or re.fullmatch(r"[*?]+", host):
            problems.append(f"{host} → exported to every host")
        elif not host and not no_client:
            problems.append(f"({opts}) without a host (space before the options) → exported to every host")
        if "no_root_squash" in [o.strip() for o in opts.split(",")]:
            problems.append(f"{host or '*'}({opts}) → no_root_squash")
    return [f"{path}: {p}" for p in problems]
