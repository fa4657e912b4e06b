"""The signed bundle format (docs/bundles.md): one school's share of a run as one JSON file.

``{"bundle_version": 1, "signer": {"school", "key_id"}, "run_id", "body": <run document of that
school's hosts>, "signature": base64 Ed25519}``. The signature covers the *signed bytes*: the
bundle without ``signature``, encoded as canonical JSON (keys sorted, no whitespace, UTF-8, non-ASCII
kept). This module owns the format: canonical JSON, the signed bytes, the digest and the strict parser of
a received file. Building a bundle from a run document is ``reports.bundle``; trust decisions are
``audits.trust.importer``.
"""
from __future__ import annotations

import base64
import hashlib
import json
import math
import re

import msgspec

from audits.model.errors import InputError, Problem
from audits.trust.signing import SCHOOL_ID

BUNDLE_VERSION = 1
MAX_BUNDLE_BYTES = 64 * 1024 * 1024
# Parsed JSON costs far more memory than its bytes (a 64 MiB file of ``{},`` is 21 million dicts,
# 1.8 GB): before parsing, the number of values is bounded by counting the bytes that can start one
# (``{ [ ,``; an over-count, since those bytes inside strings count too). A real bundle of 500 hosts
# with 100 results each has about 1.5 million.
MAX_JSON_ITEMS = 4_000_000
MAX_STRING = 1024 * 1024       # no field of a run document is longer (evidence is capped at 2 000)
MAX_INT = 2 ** 31 - 1          # the store's INTEGER columns (PostgreSQL int4)
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_KEY_SHOWN = re.compile(r"[^A-Za-z0-9_.-]")  # a key shown in a refusal's field: nothing a terminal acts on
ENVELOPE = ("bundle_version", "signer", "run_id", "body", "signature")
# A string of a JSON text can hold a NUL, a lone surrogate or a character the importer cleans (C0 but
# tab/newline/CR, DEL, C1, U+2028-202E, U+2066-2069) only if the text has one of these: a \u, \b or
# \f escape (C0 must be escaped in JSON), DEL, or the UTF-8 of C1 (C2 80-9F) or of those format
# characters (E2 80 A8-AE, E2 81 A6-A9). plain_text looks at the byte(s) after each backslash, C2 and
# E2 (single-byte searches run at memchr speed; a regex over the file costs more than parsing it).
_C1 = frozenset(range(0x80, 0xa0))
_FORMAT = frozenset([(0x80, c) for c in range(0xa8, 0xaf)] + [(0x81, c) for c in range(0xa6, 0xaa)])


def canonical(value, fast: bool = False) -> bytes:
    """Keys sorted, no whitespace, UTF-8, non-ASCII kept: ``json.dumps`` (the definition, and what
    schools sign with). ``fast``: the same bytes from msgspec's encoder in C, about 8x quicker; only for a
    value whose floats are all ``plain_float`` (msgspec writes exponents as ``1e16``, Python as
    ``1e+16``; everything else, strings included, is written the same, tests/test_import_speed.py)."""
    if fast:
        return msgspec.json.encode(value, order="sorted")
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def plain_float(value: float) -> bool:
    """A float Python writes without an exponent (so msgspec writes it the same way)."""
    return value == 0 or 1e-4 <= abs(value) < 1e16


def signed_bytes(bundle: dict) -> bytes:
    """What the signature covers: every envelope field but ``signature``, canonically encoded."""
    return canonical({k: bundle[k] for k in ENVELOPE if k != "signature"})


def digest(bundle: dict) -> str:
    """The bundle's identity for replay detection: SHA-256 of the signed bytes (formatting-independent)."""
    return hashlib.sha256(signed_bytes(bundle)).hexdigest()


def _no_duplicates(pairs):
    out = dict(pairs)
    if len(out) != len(pairs):  # rare: find the key that came twice
        seen = set()
        for k, _ in pairs:
            if k in seen:
                raise ValueError(f"duplicate key {k!r}")
            seen.add(k)
    return out


def _no_constant(name):
    raise ValueError(f"{name} is not valid JSON")


def _finite(text):
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:20]} is out of range")
    return value


def _bounded_int(text):
    value = int(text)
    if abs(value) > MAX_INT:
        raise ValueError(f"integer {text[:20]} is out of range")
    return value


def bad_value(value, where: str = "", lengths_only: bool = False) -> tuple[str, str] | None:
    """(field path, reason) of the first value no store can hold as it is, or None: a lone surrogate
    (not encodable as UTF-8), a NUL (PostgreSQL text refuses it), a string longer than MAX_STRING. Keys
    are checked like values. Iterative, so depth costs no stack. ``lengths_only``: the text is known to
    be ``plain_text`` (no surrogate, no NUL), so only lengths are looked at."""
    stack = [(value, where)]
    while stack:
        v, at = stack.pop()
        if isinstance(v, str):
            if lengths_only:
                if len(v) > MAX_STRING:
                    return at, f"longer than {MAX_STRING} characters"
                continue
            if _SURROGATE.search(v):
                return at, "holds a lone surrogate (not Unicode text)"
            if "\x00" in v:
                return at, "holds a NUL character"
            if len(v) > MAX_STRING:
                return at, f"longer than {MAX_STRING} characters"
        elif isinstance(v, dict):
            for k, x in v.items():
                stack.append((k, at))
                stack.append((x, f"{at}.{_KEY_SHOWN.sub('?', k[:40])}" if isinstance(k, str) else at))
        elif isinstance(v, list):
            stack.extend((x, f"{at}[{i}]") for i, x in enumerate(v))
    return None


def plain_text(data: bytes) -> bool:
    """True when no string (nor key) of the JSON text ``data`` can hold a NUL, a lone surrogate or a
    control or bidirectional character: then ``bad_value`` can find nothing but a long string, and the
    importer has nothing to clean. False means "maybe" (look at every string)."""
    if b"\x7f" in data:
        return False
    end = len(data) - 2
    i = data.find(b"\\")
    while i != -1:  # each escape: a backslash and the character after it
        if i > end or data[i + 1] in b"ubf":
            return False
        i = data.find(b"\\", i + 2)
    i = data.find(b"\xc2")
    while i != -1:
        if i > end or data[i + 1] in _C1:
            return False
        i = data.find(b"\xc2", i + 2)
    i = data.find(b"\xe2")
    while i != -1:
        if i > end - 1 or (data[i + 1], data[i + 2]) in _FORMAT:
            return False
        i = data.find(b"\xe2", i + 3)
    return True


def signed_bytes_and_digest(bundle: dict, fast: bool = False) -> tuple[bytes, str]:
    """The signed bytes and their digest, encoded once (the importer needs both); ``fast`` as for
    ``canonical``."""
    data = canonical({k: bundle[k] for k in ENVELOPE if k != "signature"}, fast)
    return data, hashlib.sha256(data).hexdigest()


def _long_string_outside_results(doc: dict) -> tuple[str, str] | None:
    """``bad_value`` of a ``plain_text`` bundle (lengths only) but for the strings of its hosts' results.
    No string is longer than the JSON that holds it, so the walk runs only when that JSON is longer
    than MAX_STRING (msgspec encodes it in C)."""
    body = doc.get("body")
    parts = [("", {k: v for k, v in doc.items() if k != "body"})]
    if isinstance(body, dict):
        parts.append((".body", {k: v for k, v in body.items() if k != "hosts"}))
        hosts = body.get("hosts")
        if not isinstance(hosts, list):
            parts.append((".body.hosts", hosts))
        else:
            for i, h in enumerate(hosts):
                if isinstance(h, dict):
                    parts.append((f".body.hosts[{i}]", {k: v for k, v in h.items() if k != "results"}))
                    if not isinstance(h.get("results"), list):
                        parts.append((f".body.hosts[{i}].results", h.get("results")))
                else:
                    parts.append((f".body.hosts[{i}]", h))
    else:
        parts.append((".body", body))
    if len(msgspec.json.encode([p for _, p in parts])) <= MAX_STRING:
        return None
    for where, part in parts:
        found = bad_value(part, where, lengths_only=True)
        if found:
            return found
    return None


def parse(data: bytes, source: str, strings: bool = True, facts: dict | None = None) -> tuple[dict, bytes]:
    """A received bundle file's bytes as (envelope of the right shape, signature), or InputError naming ``source``.
    Duplicate keys and NaN/Infinity are refused: the signed bytes must have one meaning. Every string is
    checked with ``bad_value``; with ``strings=False`` (the caller knows the text is ``plain_text``) only
    those outside ``body.hosts``: the caller then checks the lengths of the hosts' strings itself.
    ``facts``, when given, gets ``plain_floats``: every float of the text is ``plain_float``."""
    def bad(msg, field="(bundle)"):
        return InputError([Problem(source, 0, field, msg)])

    if len(data) > MAX_BUNDLE_BYTES:
        raise bad(f"larger than {MAX_BUNDLE_BYTES} bytes")
    items = data.count(b"{") + data.count(b"[") + data.count(b",") if len(data) > MAX_JSON_ITEMS else 0
    if items > MAX_JSON_ITEMS:
        raise bad(f"more than {MAX_JSON_ITEMS} JSON values; refused unparsed")
    exotic = []

    def finite(text):
        value = _finite(text)
        if not plain_float(value):
            exotic.append(value)
        return value

    try:
        doc = json.loads(data.decode("utf-8"), object_pairs_hook=_no_duplicates, parse_constant=_no_constant,
                         parse_float=finite, parse_int=_bounded_int)
    except UnicodeDecodeError:
        raise bad("not UTF-8 text") from None
    except RecursionError:
        raise bad("nested too deeply") from None
    except ValueError as exc:
        raise bad(f"not valid JSON: {str(exc)[:200]}") from None
    if facts is not None:
        facts["plain_floats"] = not exotic
    if not isinstance(doc, dict):
        raise bad("a bundle must be a JSON object")
    if strings:
        found = bad_value(doc)
    else:
        found = _long_string_outside_results(doc)
    if found:
        raise bad(found[1], found[0].lstrip(".") or "(bundle)")
    missing = [k for k in ENVELOPE if k not in doc]
    extra = sorted(set(doc) - set(ENVELOPE))
    if missing or extra:
        raise bad(("missing " + ", ".join(missing) if missing else "") + ("; " if missing and extra else "")
                  + ("unknown " + ", ".join(extra[:5]) if extra else ""))
    if doc["bundle_version"] != BUNDLE_VERSION or isinstance(doc["bundle_version"], bool):
        raise bad(f"bundle_version {str(doc['bundle_version'])[:20]!r} is not supported (this auditctl reads "
                  f"{BUNDLE_VERSION})", "bundle_version")
    signer = doc["signer"]
    if not (isinstance(signer, dict) and set(signer) == {"school", "key_id"}
            and all(isinstance(v, str) for v in signer.values())
            and SCHOOL_ID.match(signer["school"]) and re.fullmatch(r"[0-9a-f]{64}", signer["key_id"])):
        raise bad("must be {school: ID, key_id: 64 hex digits}", "signer")
    if not isinstance(doc["run_id"], str) or not isinstance(doc["body"], dict):
        raise bad("run_id must be a string and body an object", "body")
    try:
        sig = base64.b64decode(doc["signature"], validate=True) if isinstance(doc["signature"], str) else b""
    except ValueError:
        sig = b""
    if len(sig) != 64:
        raise bad("not a base64 Ed25519 signature (64 bytes)", "signature")
    return doc, sig
