"""The local transport: runs the batched probe script on this machine with bash."""
from __future__ import annotations

import os
import shutil

from audits.collect.transports.base import OUTPUT_CAP, Transport, Unreachable, run_bounded


class LocalTransport(Transport):
    name = "local"

    def open(self) -> None:
        if not shutil.which("bash"):
            raise Unreachable("unsupported", "bash is not installed on this machine")

    def is_root(self) -> bool:
        return os.geteuid() == 0

    def run_script(self, script: str, timeout: float, max_bytes: int = OUTPUT_CAP) -> bytes:
        return run_bounded(["bash", "-s"], script, timeout, max_bytes, meta=self.meta)[0]
