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
import re

from audits.model.errors import InputError, Problem
from audits.trust.signing import SCHOOL_ID

BUNDLE_VERSION = 1
MAX_BUNDLE_BYTES = 64 * 1024 * 1024
ENVELOPE = ("bundle_version", "signer", "run_id", "body", "signature")


def canonical(value) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def signed_bytes(bundle: dict) -> bytes:
    """What the signature covers: every envelope field but ``signature``, canonically encoded."""
    return canonical({k: bundle[k] for k in ENVELOPE if k != "signature"})


def digest(bundle: dict) -> str:
    """The bundle's identity for replay detection: SHA-256 of the signed bytes (formatting-independent)."""
    return hashlib.sha256(signed_bytes(bundle)).hexdigest()


def _no_duplicates(pairs):
    out = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"duplicate key {k!r}")
        out[k] = v
    return out


def _no_constant(name):
    raise ValueError(f"{name} is not valid JSON")


def parse(data: bytes, source: str) -> tuple[dict, bytes]:
    """A received bundle file's bytes as (envelope of the right shape, signature), or InputError naming ``source``.
    Duplicate keys and NaN/Infinity are refused: the signed bytes must have one meaning."""
    def bad(msg, field="(bundle)"):
        return InputError([Problem(source, 0, field, msg)])

    if len(data) > MAX_BUNDLE_BYTES:
        raise bad(f"larger than {MAX_BUNDLE_BYTES} bytes")
    try:
        doc = json.loads(data.decode("utf-8"), object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except UnicodeDecodeError:
        raise bad("not UTF-8 text") from None
    except RecursionError:
        raise bad("nested too deeply") from None
    except ValueError as exc:
        raise bad(f"not valid JSON: {str(exc)[:200]}") from None
    if not isinstance(doc, dict):
        raise bad("a bundle must be a JSON object")
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
