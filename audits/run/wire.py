"""What crosses the broker between the bureau's dispatcher and a site's collector, and how each end
trusts it: Ed25519-signed envelopes, bounded reading of key files, the collectors' key registry and
a collector's nonce store.

An envelope is ``{"v": 1, "kind": "task"|"reply", "body": "<canonical JSON text>", "sig": "<base64>"}``.
The signature covers ``auditctl-KIND-v1\\n`` + the body's UTF-8 bytes, exactly as sent (the body is
canonical JSON text: sorted keys, no spaces, ASCII), so nothing is re-serialised before it is
verified and a task can never be replayed as a reply or the other way round.

- Tasks are signed by the dispatcher's key; a collector trusts only the dispatcher public key(s) of
  its site configuration (``audits.run.siteconfig``), refuses a task for another site, an expired
  one, or one whose nonce it has already finished (``NonceStore``).
- Replies are signed by the collector's own key; the bureau registers one public key per site
  (``collector-keys`` file: ``SITE: <PEM or base64 raw key>``) and accepts a reply only when it
  verifies under the key of the site the host belongs to and names the run, host and nonce of the task.

Why not Celery's own message signing (``task_serializer='auth'``): it needs pyOpenSSL and an X.509
certificate store on every collector, signs the whole Celery message with one shared trust store
(every certificate in it may sign for any queue), and gives the application no hook to bind a
reply to a site. Ed25519 from ``cryptography`` is already a dependency (bundles) and lets a task name
its site and a reply name its task.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import sqlite3
import threading
import time

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from audits.boundedfile import read_bounded

VERSION = 1
KINDS = ("task", "reply")
MAX_KEY_FILE = 64 * 1024          # a PEM key is < 1 KiB; anything larger is not a key
MAX_TASK_BYTES = 1024 * 1024       # a task names one host and its declarations
MAX_REPLY_BYTES = 16 * 1024 * 1024  # a reply: ≤ 5000 result rows with bounded texts


class WireError(Exception):
    """A message or key that cannot be trusted, with a reason fit for a log line (no secret)."""


# -- keys ------------------------------------------------------------------------------------------------
def new_key(path) -> Ed25519PublicKey:
    """Create a private key file (PKCS#8 PEM, 0600, refusing to overwrite) and return its public key."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    fd = os.open(os.fspath(path), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    return key.public_key()


def load_private(path) -> Ed25519PrivateKey:
    try:
        data = read_bounded(path, MAX_KEY_FILE, "signing key")
        key = serialization.load_pem_private_key(data, password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise WireError(f"cannot load signing key {path}: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise WireError(f"signing key {path} is not an Ed25519 key")
    return key


def public_text(pub: Ed25519PublicKey) -> str:
    """The one-line form of a public key: base64 of the raw 32 bytes."""
    return base64.b64encode(pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)).decode()


def parse_public(text: str, source: str) -> Ed25519PublicKey:
    """A public key from its PEM text or the base64 of its 32 raw bytes."""
    if not isinstance(text, str) or len(text) > 4096:
        raise WireError(f"{source}: not a public key")
    t = text.strip()
    try:
        if t.startswith("-----BEGIN"):
            pub = serialization.load_pem_public_key(t.encode())
            if not isinstance(pub, Ed25519PublicKey):
                raise WireError(f"{source}: not an Ed25519 public key")
            return pub
        raw = base64.b64decode(t, validate=True)
        return Ed25519PublicKey.from_public_bytes(raw)
    except (ValueError, binascii.Error, TypeError):
        raise WireError(f"{source}: not an Ed25519 public key (PEM or base64 of 32 bytes)") from None


def load_public(path) -> Ed25519PublicKey:
    try:
        data = read_bounded(path, MAX_KEY_FILE, "public key")
    except (OSError, ValueError) as exc:
        raise WireError(str(exc)) from None
    return parse_public(data.decode("ascii", "replace"), str(path))


def key_id(pub: Ed25519PublicKey) -> str:
    return hashlib.sha256(pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)).hexdigest()[:16]


def load_collector_keys(path) -> dict[str, Ed25519PublicKey]:
    """The bureau's registry of collector keys: a YAML mapping ``SITE: public key`` (one key per site)."""
    from audits.model.errors import InputError, Problem
    from audits.model.inventory import IDENTIFIER
    from audits.model import yamlsafe

    try:
        text = read_bounded(path, 4 * 1024 * 1024, "collector keys file").decode("utf-8")
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise InputError([Problem(str(path), 0, "--collector-keys", str(exc))]) from None
    doc = yamlsafe.load(text, str(path))
    if not isinstance(doc, dict):
        raise InputError([Problem(str(path), 1, "collector-keys", "expected a mapping SITE: public key")])
    out, problems = {}, []
    for site, value in doc.items():
        line = doc.line_of(site) if hasattr(doc, "line_of") else 0
        if not isinstance(site, str) or not IDENTIFIER.match(site):
            problems.append(Problem(str(path), line, str(site)[:64], "not a site name (letters, digits, '.', '_', '-')"))
            continue
        try:
            out[site] = parse_public(value, f"{path}: {site}")
        except WireError as exc:
            problems.append(Problem(str(path), line, site, str(exc)))
    if problems:
        raise InputError(problems)
    return out


# -- envelopes -------------------------------------------------------------------------------------------
def canonical(body: dict) -> str:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def _signed_bytes(kind: str, body_text: str) -> bytes:
    return f"auditctl-{kind}-v{VERSION}\n".encode() + body_text.encode("ascii")


def seal(kind: str, body: dict, key: Ed25519PrivateKey) -> dict:
    text = canonical(body)
    sig = key.sign(_signed_bytes(kind, text))
    return {"v": VERSION, "kind": kind, "body": text, "sig": base64.b64encode(sig).decode()}


def unseal(kind: str, envelope, keys: list[Ed25519PublicKey], max_bytes: int) -> dict:
    """The body of an envelope signed by one of ``keys``; WireError (unsigned, altered, wrong kind,
    oversized, not an object) otherwise. The body is decoded only after the signature verified."""
    if not isinstance(envelope, dict):
        raise WireError(f"unsigned {kind}: not an envelope")
    if envelope.get("v") != VERSION or envelope.get("kind") != kind:
        raise WireError(f"unsigned {kind}: not an auditctl-{kind}-v{VERSION} envelope")
    text, sig = envelope.get("body"), envelope.get("sig")
    if not isinstance(text, str) or not isinstance(sig, str) or not text.isascii() or len(sig) > 200:
        raise WireError(f"unsigned {kind}: no body or signature")
    if len(text) > max_bytes:
        raise WireError(f"{kind} of {len(text)} bytes is larger than {max_bytes}")
    try:
        raw_sig = base64.b64decode(sig, validate=True)
    except (binascii.Error, ValueError):
        raise WireError(f"{kind} signature is not base64") from None
    data = _signed_bytes(kind, text)
    for pub in keys:
        try:
            pub.verify(raw_sig, data)
            break
        except InvalidSignature:
            continue
    else:
        raise WireError(f"{kind} signature does not verify (altered, or signed by a key not trusted here)")
    try:
        body = json.loads(text)
    except ValueError:
        raise WireError(f"signed {kind} body is not JSON") from None
    if not isinstance(body, dict):
        raise WireError(f"signed {kind} body is not an object")
    return body


# -- the collector's nonce store ---------------------------------------------------------------------------
class NonceStore:
    """Which task nonces this collector has started and finished (SQLite, survives restarts).

    ``claim`` refuses a nonce already finished (a replay) and one another thread of this collector is
    running now; a claim left by a collector process that died (a redelivery after a crash) is taken
    over once it is older than ``stale_after`` seconds. Entries are forgotten after their task expired
    (an expired task is refused on its expiry alone)."""

    def __init__(self, path, stale_after: float = 600):
        self.path, self.stale_after = os.fspath(path), stale_after
        self.lock = threading.Lock()
        d = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(d, mode=0o700, exist_ok=True)
        with self._db() as db:
            db.execute("CREATE TABLE IF NOT EXISTS nonce (nonce TEXT PRIMARY KEY, state TEXT NOT NULL, "
                       "since REAL NOT NULL, pid INTEGER NOT NULL, expires REAL NOT NULL)")

    def _db(self):
        return sqlite3.connect(self.path, timeout=30, isolation_level="IMMEDIATE")

    def claim(self, nonce: str, expires: float) -> str | None:
        """None when this collector may run the task now, else why not ('replayed', 'running')."""
        now = time.time()
        with self.lock, self._db() as db:
            db.execute("DELETE FROM nonce WHERE expires < ?", (now - 60,))
            row = db.execute("SELECT state, since, pid FROM nonce WHERE nonce = ?", (nonce,)).fetchone()
            if row is not None:
                state, since, pid = row
                if state == "done":
                    return "replayed"
                if now - since < self.stale_after and _alive(pid):
                    return "running"
            db.execute("INSERT OR REPLACE INTO nonce VALUES (?, 'running', ?, ?, ?)", (nonce, now, os.getpid(), expires))
        return None

    def finish(self, nonce: str) -> None:
        with self.lock, self._db() as db:
            db.execute("UPDATE nonce SET state = 'done', since = ? WHERE nonce = ?", (time.time(), nonce))

    def release(self, nonce: str) -> None:
        """Forget a claim whose task will be retried (a broker hiccup, not a finished audit)."""
        with self.lock, self._db() as db:
            db.execute("DELETE FROM nonce WHERE nonce = ? AND state = 'running'", (nonce,))


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
