"""Secret redaction for logs: every secret value the tool holds (vault entries, passwords read from
the environment, the vault passphrase) is registered here, and ``RedactingFilter`` replaces it,
and its base64 form, with ``***`` in every log record before any handler writes it.
"""
from __future__ import annotations

import base64
import logging
import threading

_lock = threading.Lock()
_values: set[str] = set()
MIN_LEN = 4  # shorter values would redact ordinary words; such secrets are rejected elsewhere anyway


def register(value: str) -> None:
    if not isinstance(value, str) or len(value) < MIN_LEN:
        return
    forms = {value, base64.b64encode(value.encode()).decode(), base64.b64encode(value.encode()).decode().rstrip("=")}
    with _lock:
        _values.update(forms)


def scrub(text: str) -> str:
    with _lock:
        values = sorted(_values, key=len, reverse=True)
    for v in values:
        if v in text:
            text = text.replace(v, "***")
    return text


class RedactingFilter(logging.Filter):
    """Formats the record's message once, scrubs it, and freezes it (args cleared)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            msg = record.getMessage()
        except Exception:  # a bad format string must not break logging
            msg = str(record.msg)
        record.msg, record.args = scrub(msg), None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = scrub(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


def setup_debug_log(path: str | None) -> None:
    """``--debug``: DEBUG records of auditctl and paramiko to stderr or a file, secrets redacted."""
    handler: logging.Handler = logging.FileHandler(path, encoding="utf-8") if path else logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s"))
    handler.addFilter(RedactingFilter())
    for name in ("audits", "checks", "reports", "paramiko", "auditctl"):
        lg = logging.getLogger(name)
        lg.setLevel(logging.DEBUG)
        lg.addHandler(handler)
