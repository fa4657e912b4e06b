"""A school's Ed25519 signing key: where it lives, creating it, loading it, and its key id.

Files: ``$XDG_CONFIG_HOME/auditctl/keys/<school>.key`` (PKCS#8 PEM, mode 0600, optionally encrypted
with a passphrase) and ``<school>.pub`` (SubjectPublicKeyInfo PEM) beside it; the directory is 0700.
The key id is the SHA-256 (hex) of the raw 32-byte public key. A passphrase comes from a file, the
``AUDITCTL_KEY_PASSPHRASE`` environment variable or a terminal prompt, never from the command line,
and is never printed.
"""
from __future__ import annotations

import hashlib
import os
import re
import sys
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

PASSPHRASE_ENV = "AUDITCTL_KEY_PASSPHRASE"
SCHOOL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")  # the inventory's id rule; also a safe file name
MAX_KEY_FILE = 16 * 1024


class SigningKeyError(Exception):
    """A key problem with a message fit for the user (no secret in it)."""


def config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "auditctl"


def key_paths(school: str, directory: Path | None = None) -> tuple[Path, Path]:
    if not SCHOOL_ID.match(school or ""):
        raise SigningKeyError(f"school id '{school}' is not valid (letters, digits, _ . -; at most 64)")
    d = directory or config_dir() / "keys"
    return d / f"{school}.key", d / f"{school}.pub"


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def public_pem(public: Ed25519PublicKey) -> str:
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def read_passphrase(passphrase_file: str | None, confirm: bool = False, required: bool = False) -> bytes | None:
    """The passphrase from --passphrase-file, else the environment, else a prompt when stdin is a terminal
    and one is ``required``. None when there is none (an unencrypted key)."""
    if passphrase_file:
        try:
            with open(passphrase_file, "rb") as fh:
                value = fh.read(4096).split(b"\n", 1)[0].rstrip(b"\r")  # a file written on Windows ends in CRLF
        except OSError as exc:
            raise SigningKeyError(f"cannot read passphrase file {passphrase_file}: {exc.strerror}") from None
        if not value:
            raise SigningKeyError(f"passphrase file {passphrase_file} is empty")
        return value
    if os.environb.get(PASSPHRASE_ENV.encode()):  # the bytes as set: a non-UTF-8 passphrase is still one
        return os.environb[PASSPHRASE_ENV.encode()]
    if not required:
        return None
    if not sys.stdin.isatty():
        raise SigningKeyError(f"the key is encrypted: give --passphrase-file FILE or set {PASSPHRASE_ENV}")
    import getpass

    value = getpass.getpass("passphrase: ").encode()
    if confirm and getpass.getpass("passphrase again: ").encode() != value:
        raise SigningKeyError("the passphrases differ")
    if not value:
        raise SigningKeyError("empty passphrase")
    return value


def init_key(school: str, passphrase: bytes | None, directory: Path | None = None) -> tuple[Path, Path, str]:
    """Create the school's key pair; an existing key (or public key) is never overwritten."""
    key_file, pub_file = key_paths(school, directory)
    if key_file.exists() or pub_file.exists():
        raise SigningKeyError(f"{key_file if key_file.exists() else pub_file} already exists; not overwriting a key")
    key_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(key_file.parent, 0o700)
    private = Ed25519PrivateKey.generate()
    enc = serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption()
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc)
    try:
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise SigningKeyError(f"{key_file} already exists; not overwriting a key") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
        os.chmod(key_file, 0o600)  # whatever the umask
        fd = os.open(pub_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        with os.fdopen(fd, "w") as fh:
            fh.write(public_pem(private.public_key()))
    except BaseException:
        key_file.unlink(missing_ok=True)
        raise
    return key_file, pub_file, key_id(private.public_key())


def load_private(path: Path, passphrase_file: str | None = None) -> Ed25519PrivateKey:
    try:
        data = Path(path).read_bytes()[:MAX_KEY_FILE]
    except OSError as exc:
        raise SigningKeyError(f"cannot read signing key {path}: {exc.strerror} (create one with: auditctl keys init "
                        "--school ID)") from None
    if os.stat(path).st_mode & 0o077:
        raise SigningKeyError(f"signing key {path} is readable by other users; chmod 600 it")
    encrypted = b"ENCRYPTED" in data.split(b"\n", 1)[0]
    password = read_passphrase(passphrase_file, required=True) if encrypted else None
    try:
        key = serialization.load_pem_private_key(data, password=password)
    except (ValueError, TypeError):
        raise SigningKeyError(f"cannot load signing key {path}: wrong passphrase or not a PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"{path} is not an Ed25519 key")
    return key


def load_public(data: bytes, source: str) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(data[:MAX_KEY_FILE])
    except (ValueError, TypeError):
        raise SigningKeyError(f"{source}: not a PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise SigningKeyError(f"{source}: not an Ed25519 public key")
    return key


def verify(public_pem_text: str, signature: bytes, message: bytes) -> bool:
    try:
        load_public(public_pem_text.encode(), "registered key").verify(signature, message)
        return True
    except InvalidSignature:
        return False
