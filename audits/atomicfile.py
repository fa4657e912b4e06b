"""Write a file whole or not at all: a temporary file in the same directory (mode 0600, as
``mkstemp`` creates it), then an atomic rename. Used for every output and for the vault."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path


def atomic_write(path, text: str) -> None:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
