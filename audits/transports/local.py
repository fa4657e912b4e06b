"""The local transport: runs the batched probe script on this machine with bash."""
from __future__ import annotations

import os
import shutil
import subprocess

from . import Transport, Unreachable

OUTPUT_CAP = 64 * 1024 * 1024


class LocalTransport(Transport):
    name = "local"

    def open(self) -> None:
        if not shutil.which("bash"):
            raise Unreachable("unsupported", "bash is not installed on this machine")

    def is_root(self) -> bool:
        return os.geteuid() == 0

    def run_script(self, script: str, timeout: float) -> bytes:
        proc = subprocess.Popen(["bash", "-s"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            out, _ = proc.communicate(script.encode(), timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            out, _ = proc.communicate()
        return out[:OUTPUT_CAP]
