"""A network device judged from a saved configuration (a backup, Oxidized or RANCID, a USB stick): the file the
inventory's ``config:`` names stands in for the configuration command's output. Read once, as a regular file of
at most ``MAX_BYTES`` (``audits.boundedfile``); bytes that are not UTF-8 become U+FFFD (GBK comments, binary
junk), never an exception; nothing on the host is contacted."""
from __future__ import annotations

from pathlib import Path

from audits.boundedfile import read_bounded
from audits.collect.transports.base import Transport, Unreachable

MAX_BYTES = 4 * 1024 * 1024   # the device model's own cap (checks.parsers.devices.tree.MAX_BYTES)


class SavedConfigTransport(Transport):
    name = "config"

    def open(self) -> None:
        self.meta["connection"] = "config"
        self.meta["config_file"] = Path(str(self.host.settings["config"])).name

    def is_root(self) -> bool:
        return False

    def read(self) -> str:
        path = str(self.host.settings["config"])
        try:
            raw = read_bounded(path, MAX_BYTES, "saved configuration")
        except (OSError, ValueError) as exc:
            raise Unreachable("error", str(exc)) from None
        return raw.decode("utf-8", errors="replace")

    def run_script(self, script: str, timeout: float, max_bytes: int = MAX_BYTES) -> bytes:  # pragma: no cover
        raise Unreachable("unsupported", "a saved configuration runs no commands")
