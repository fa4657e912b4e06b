"""HTTP(S) GET for archive metadata, on the auditor's side: bounded size and time, no redirects to
other schemes, proxies from the environment (``http_proxy``/``https_proxy``) as urllib reads them.
A mirror's answer is hostile: a body larger than ``limit`` is an error, never truncated data."""
from __future__ import annotations

import urllib.error
import urllib.request

TIMEOUT = 30.0
USER_AGENT = "auditctl-patch-index (campus-audit)"


class FetchError(Exception):
    """A URL that could not be fetched (network, HTTP status, size)."""


class NotFound(FetchError):
    """HTTP 404/410 (the mirror does not have this file)."""


def get(url: str, limit: int, timeout: float = TIMEOUT) -> bytes:
    """The body of ``url`` (http, https, file), at most ``limit`` bytes."""
    if not url.startswith(("http://", "https://", "file://")):
        raise FetchError(f"{url}: only http, https and file URLs are fetched")
    req = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 (scheme checked above)
            final = resp.geturl()
            if not final.startswith(("http://", "https://", "file://")):
                raise FetchError(f"{url}: redirected to {final[:200]}")
            body = resp.read(limit + 1)
    except urllib.error.HTTPError as exc:
        if exc.code in (404, 410):
            raise NotFound(f"{url}: HTTP {exc.code}") from None
        raise FetchError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise FetchError(f"{url}: {reason}"[:400]) from None
    if len(body) > limit:
        raise FetchError(f"{url}: larger than {limit} bytes")
    return body
