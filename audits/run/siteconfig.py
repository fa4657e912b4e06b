"""A collector's own site configuration (``auditctl worker --site-config FILE``): what the collector
trusts and holds, decided on the collector's machine, never by a task message.

```yaml
site: north-campus                   # the queue; a task for another site is refused
dispatcher_keys: [dispatcher.pub]    # public keys that may sign tasks (PEM files, or base64 inline)
signing_key: collector.key           # this collector's Ed25519 key; replies are signed with it
state_dir: /var/lib/auditctl         # nonce store (replayed tasks are refused)
known_hosts: /var/lib/auditctl/known_hosts
trust_on_first_use: false
connections: [ssh]                   # connection types a task may ask for (local: audit this machine)
keys: {audit: /etc/auditctl/keys/audit_ed25519}   # the key *names* an inventory may use ('key: audit')
default_key: audit                   # for hosts that name no key
```

Relative paths are relative to the file. Every problem is ``FILE:LINE: field: message``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from audits.model import yamlsafe
from audits.model.errors import InputError, Problem
from audits.model.inventory import IDENTIFIER
from audits.run import wire

FIELDS = {"site", "dispatcher_keys", "signing_key", "state_dir", "known_hosts", "trust_on_first_use", "connections",
          "keys", "default_key"}
CONNECTIONS = ("ssh", "local")  # 'none' never contacts the host and is always allowed
MAX_FILE = 1024 * 1024


@dataclass
class SiteConfig:
    site: str
    dispatcher_keys: list[Ed25519PublicKey]
    signing_key: Ed25519PrivateKey
    state_dir: str
    known_hosts: str
    trust_on_first_use: bool = False
    connections: tuple[str, ...] = ("ssh",)
    keys: dict[str, str] = field(default_factory=dict)
    default_key: str | None = None
    source: str = ""


def load(path) -> SiteConfig:
    path = os.fspath(path)
    try:
        text = wire.read_bounded(path, MAX_FILE, "site configuration").decode("utf-8")
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise InputError([Problem(path, 0, "--site-config", str(exc))]) from None
    doc = yamlsafe.load(text, path)
    base = os.path.dirname(os.path.abspath(path))
    problems: list[Problem] = []

    def bad(key, msg):
        problems.append(Problem(path, doc.line_of(key) if hasattr(doc, "line_of") else 0, key, msg))

    if not isinstance(doc, dict):
        raise InputError([Problem(path, 1, "(site config)", "expected a mapping")])
    for k in doc:
        if k not in FIELDS:
            bad(k, f"unknown field; known: {', '.join(sorted(FIELDS))}")

    def rel(p):
        return p if os.path.isabs(p) else os.path.join(base, p)

    site = doc.get("site")
    if not isinstance(site, str) or not IDENTIFIER.match(site):
        bad("site", "required: the site queue name (letters, digits, '.', '_', '-')")
    dkeys = []
    raw = doc.get("dispatcher_keys")
    if not isinstance(raw, list) or not raw or not all(isinstance(x, str) for x in raw):
        bad("dispatcher_keys", "required: a list of the dispatcher's public keys (file names or base64)")
    else:
        for item in raw:
            try:
                looks_inline = not os.path.exists(rel(item)) and len(item) in (44,)
                dkeys.append(wire.parse_public(item, "dispatcher_keys") if looks_inline else wire.load_public(rel(item)))
            except wire.WireError as exc:
                bad("dispatcher_keys", str(exc))
    signing = None
    if not isinstance(doc.get("signing_key"), str):
        bad("signing_key", "required: this collector's Ed25519 key file (auditctl keygen FILE)")
    else:
        try:
            signing = wire.load_private(rel(doc["signing_key"]))
        except wire.WireError as exc:
            bad("signing_key", str(exc))
    state_dir = doc.get("state_dir", os.path.join(base, "state"))
    if not isinstance(state_dir, str) or not state_dir:
        bad("state_dir", "expected a directory")
        state_dir = ""
    kh = doc.get("known_hosts", os.path.join(rel(state_dir or "."), "known_hosts"))
    if not isinstance(kh, str) or not kh:
        bad("known_hosts", "expected a path")
    tofu = doc.get("trust_on_first_use", False)
    if not isinstance(tofu, bool):
        bad("trust_on_first_use", "expected true or false")
    conns = doc.get("connections", ["ssh"])
    if not isinstance(conns, list) or not all(c in CONNECTIONS for c in conns):
        bad("connections", f"expected a list of {', '.join(CONNECTIONS)}")
        conns = ["ssh"]
    keys = doc.get("keys", {}) or {}
    if not isinstance(keys, dict) or not all(isinstance(k, str) and IDENTIFIER.match(k) and isinstance(v, str)
                                             for k, v in keys.items()):
        bad("keys", "expected a mapping NAME: key file")
        keys = {}
    default = doc.get("default_key")
    if default is not None and default not in keys:
        bad("default_key", f"{str(default)[:40]!r} is not one of keys")
    if problems:
        raise InputError(problems)
    return SiteConfig(site, dkeys, signing, rel(state_dir), rel(kh), tofu, tuple(conns),
                      {k: rel(v) for k, v in keys.items()}, default, path)
