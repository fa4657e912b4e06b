"""``once``: a function of no arguments whose value (a data file read and checked) is computed once
per process, also when the threads that audit hosts ask for it at the same moment. ``lru_cache``
alone lets every thread that arrives before the first one finishes compute it again (eleven hosts
read the 1 MB password list eleven times)."""
from __future__ import annotations

import functools
import threading


def once(fn):
    lock = threading.Lock()
    box: list = []

    @functools.wraps(fn)
    def wrapper():
        if not box:
            with lock:
                if not box:
                    box.append(fn())
        return box[0]

    wrapper.cache_clear = box.clear
    return wrapper
