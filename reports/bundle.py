"""Building a signed result bundle (docs/bundles.md) from a run document already restricted to one
school. The format itself (canonical JSON, signed bytes, digest, parser) is ``audits.trust.bundle``.
"""
from __future__ import annotations

import base64

from audits.trust.bundle import BUNDLE_VERSION, signed_bytes
from audits.trust.signing import key_id


def make_bundle(body: dict, school: str, private_key) -> dict:
    """Sign a run document already restricted to ``school`` (``run_document(store, id, school=...)``)."""
    bundle = {"bundle_version": BUNDLE_VERSION, "signer": {"school": school, "key_id": key_id(private_key.public_key())},
              "run_id": body["run"]["id"], "body": body}
    bundle["signature"] = base64.b64encode(private_key.sign(signed_bytes(bundle))).decode("ascii")
    return bundle
