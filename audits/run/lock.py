"""One run of a plan at a time: an exclusive, non-blocking ``flock`` on a lock file derived from the
plan's absolute path, in ``$XDG_STATE_HOME/auditctl/locks`` (default ``~/.local/state``). The kernel
drops the lock when the process ends, however it ends, so a crashed run never leaves a stale lock.
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import re
from contextlib import contextmanager
from pathlib import Path


class LockError(Exception):
    """The plan's lock file cannot be created or opened."""


class PlanBusy(LockError):
    """Another process holds the plan's lock."""


def lock_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "auditctl" / "locks"


def lock_path(plan: str) -> Path:
    full = str(Path(plan).resolve())
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", Path(full).stem)[:40]
    return lock_dir() / f"{stem}-{hashlib.sha256(full.encode()).hexdigest()[:16]}.lock"


@contextmanager
def plan_lock(plan: str):
    path = lock_path(plan)
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise LockError(f"cannot open the lock file of plan {plan} ({path}): {exc.strerror}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            raise PlanBusy(f"another run of plan {plan} is in progress (pid {holder or '?'}; lock {path})") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield path
    finally:
        os.close(fd)
