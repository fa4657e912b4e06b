"""Reading a file someone else named (an inventory's key_file or known_hosts, a vault, a site
configuration) without trusting its size: only a regular file, never more than a limit."""
from __future__ import annotations

import os
import stat


def read_bounded(path, limit: int, what: str) -> bytes:
    """A regular file's bytes, at most ``limit``: a device (/dev/zero), a FIFO or a larger file is an
    error naming the file, read without ever holding more than limit + 1 bytes."""
    try:
        fd = os.open(os.fspath(path), os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        raise OSError(exc.errno, f"{what} {path}: {exc.strerror}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ValueError(f"{what} {path} is not a regular file")
        if st.st_size > limit:
            raise ValueError(f"{what} {path} is larger than {limit} bytes")
        chunks, total = [], 0
        while total <= limit:
            b = os.read(fd, min(1 << 16, limit + 1 - total))
            if not b:
                break
            chunks.append(b)
            total += len(b)
        if total > limit:
            raise ValueError(f"{what} {path} is larger than {limit} bytes")
        return b"".join(chunks)
    finally:
        os.close(fd)
