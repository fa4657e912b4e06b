"""What both inventory sources (native and Ansible) share while validating: the collector of
problems and warnings, the address rule, and how a bad value is quoted in a message.
"""
from __future__ import annotations

import ipaddress
import re

from audits.model.errors import Problem

_HOSTNAME = re.compile(r"^(?=.{1,253}\Z)([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?)*\.?\Z")


class Collector:
    def __init__(self):
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []

    def add(self, file, line, fld, msg):
        self.problems.append(Problem(str(file), int(line), fld, msg))


def valid_address(addr) -> bool:
    if not isinstance(addr, str) or not addr:
        return False
    try:
        ipaddress.ip_address(addr)
        return True
    except ValueError:
        pass
    if re.fullmatch(r"[0-9.]+", addr):  # looks numeric but is not an IP (e.g. 10.0.0.300)
        return False
    return bool(_HOSTNAME.match(addr))


def short(v) -> str:
    r = repr(v)
    return r if len(r) <= 60 else r[:57] + "..."
