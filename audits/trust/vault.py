"""The vault: inventory secrets (SSH passwords, key passphrases, SNMP communities) in one encrypted
YAML file, decrypted only in memory.

File format (text, so it can live in git next to the inventory)::

    $AUDITCTL-VAULT;1
    kdf: scrypt n=32768 r=8 p=1
    salt: <base64, 16 bytes>
    cipher: aes-256-gcm
    nonce: <base64, 12 bytes>

    <base64 ciphertext, 76 columns>

The key is derived from the passphrase with scrypt (memory-hard; the parameters and salt are in the
header so they can be raised later) and the plaintext is sealed with AES-256-GCM; the whole header
is the associated data, so changing any byte of header or body is detected ("wrong passphrase or
file tampered"). KDF parameters read from a file are bounded, so a hostile vault file cannot make
us allocate gigabytes. The plaintext is a YAML mapping of name -> string.

Secret values are wrapped in ``Secret``: its repr and str never show the value; ``reveal()`` does.
Every revealed value is registered with ``audits.trust.redact`` so logs cannot carry it.
"""
from __future__ import annotations

import base64
import os
import re
import secrets
import sys
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from audits.atomicfile import atomic_write  # mode 0600 from the start
from audits.model import yamlsafe
from audits.model.errors import InputError, Problem, did_you_mean
from audits.model.inventory import SECRET_SETTINGS, VaultRef
from audits.trust import redact

MAGIC = "$AUDITCTL-VAULT;1"
DEFAULT_KDF = {"n": 2 ** 15, "r": 8, "p": 1}
KDF_LIMITS = {"n": (2 ** 14, 2 ** 20), "r": (1, 16), "p": (1, 4)}  # bounds for a header read from a file
MAX_KDF_MEMORY = 1024 * 1024 * 1024  # 128 * n * r bytes; refuse files asking for more than 1 GiB
MAX_FILE = 1024 * 1024
PASSWORD_ENV = "AUDITCTL_VAULT_PASSWORD"
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")
TAMPERED = "wrong passphrase or file tampered"


class Secret:
    """A secret string that never shows itself in repr, str, f-strings or logs."""

    __slots__ = ("_value", "name")

    def __init__(self, value: str, name: str = ""):
        self._value = value
        self.name = name
        redact.register(value)

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({self.name or '?'}: ***)"

    __str__ = __repr__

    def __eq__(self, other):
        return isinstance(other, Secret) and secrets.compare_digest(self._value, other._value)

    def __hash__(self):
        return hash(self.name)

    def __reduce__(self):  # never pickled (e.g. into a Celery message) in clear
        raise TypeError("a Secret cannot be pickled")

    def __deepcopy__(self, memo):  # dataclasses.asdict(host) copies settings: the same object, in memory
        return self


def _problem(path, msg, line=1, field="(vault)") -> InputError:
    return InputError([Problem(str(path), line, field, msg)])


def _key(passphrase: str, salt: bytes, kdf: dict) -> bytes:
    return Scrypt(salt=salt, length=32, n=kdf["n"], r=kdf["r"], p=kdf["p"]).derive(passphrase.encode("utf-8"))


def _header(kdf: dict, salt: bytes, nonce: bytes) -> str:
    return (f"{MAGIC}\nkdf: scrypt n={kdf['n']} r={kdf['r']} p={kdf['p']}\n"
            f"salt: {base64.b64encode(salt).decode()}\ncipher: aes-256-gcm\n"
            f"nonce: {base64.b64encode(nonce).decode()}\n\n")


def encrypt(plaintext: str, passphrase: str, kdf: dict | None = None) -> str:
    """The vault file text for a plaintext YAML document."""
    kdf = dict(kdf or DEFAULT_KDF)
    salt, nonce = os.urandom(16), os.urandom(12)
    header = _header(kdf, salt, nonce)
    sealed = AESGCM(_key(passphrase, salt, kdf)).encrypt(nonce, plaintext.encode("utf-8"), header.encode())
    body = base64.b64encode(sealed).decode()
    return header + "\n".join(body[i:i + 76] for i in range(0, len(body), 76)) + "\n"


def is_vault(text: str) -> bool:
    return text.startswith(MAGIC + "\n")


def _parse_header(text: str, path) -> tuple[dict, bytes, bytes, str, str]:
    if not is_vault(text):
        raise _problem(path, f"not an auditctl vault file (it must start with {MAGIC})")
    head, sep, body = text.partition("\n\n")
    if not sep:
        raise _problem(path, "vault header is not followed by a blank line and the ciphertext")
    fields = {}
    for i, line in enumerate(head.split("\n")[1:], start=2):
        k, s, v = line.partition(": ")
        if not s or k in fields:
            raise _problem(path, f"bad vault header line {line[:60]!r}", i)
        fields[k] = v
    try:
        m = re.fullmatch(r"scrypt n=(\d{1,12}) r=(\d{1,3}) p=(\d{1,2})", fields.get("kdf", ""))
        if not m:
            raise ValueError("kdf must be 'scrypt n=N r=R p=P'")
        kdf = {"n": int(m[1]), "r": int(m[2]), "p": int(m[3])}
        for k, (lo, hi) in KDF_LIMITS.items():
            if not lo <= kdf[k] <= hi:
                raise ValueError(f"scrypt {k}={kdf[k]} outside {lo}..{hi}")
        if kdf["n"] & (kdf["n"] - 1) or 128 * kdf["n"] * kdf["r"] > MAX_KDF_MEMORY:
            raise ValueError("scrypt n must be a power of two and 128*n*r at most 1 GiB")
        if fields.get("cipher") != "aes-256-gcm":
            raise ValueError("cipher must be aes-256-gcm")
        salt = base64.b64decode(fields.get("salt", ""), validate=True)
        nonce = base64.b64decode(fields.get("nonce", ""), validate=True)
        if len(salt) < 16 or len(nonce) != 12:
            raise ValueError("salt must be at least 16 bytes and nonce 12 bytes")
        sealed = base64.b64decode("".join(body.split()), validate=True)
    except (ValueError, TypeError) as exc:
        raise _problem(path, f"bad vault header: {exc}") from None
    return kdf, salt, nonce, head + sep, sealed


def decrypt(text: str, passphrase: str, path="vault") -> str:
    """The plaintext of a vault file, or InputError (wrong passphrase, tampered, malformed)."""
    kdf, salt, nonce, header, sealed = _parse_header(text, path)
    try:
        plain = AESGCM(_key(passphrase, salt, kdf)).decrypt(nonce, sealed, header.encode())
    except InvalidTag:
        raise _problem(path, TAMPERED) from None
    try:
        return plain.decode("utf-8")
    except UnicodeDecodeError:
        raise _problem(path, "decrypted content is not UTF-8 text") from None


def parse_entries(plaintext: str, path) -> dict[str, str]:
    """The name -> string mapping of a vault's plaintext; problems say FILE:LINE: name (no value)."""
    doc = yamlsafe.load(plaintext, str(path))
    if doc is None:
        return {}
    if not isinstance(doc, yamlsafe.YMap):
        raise _problem(path, "a vault must be a mapping of name: secret", getattr(doc, "line", 1), "(root)")
    problems, out = [], {}
    for k, v in doc.items():
        if not isinstance(k, str) or not NAME.match(k):
            problems.append(Problem(str(path), doc.line_of(k), str(k)[:64], "a vault name must be letters, digits, "
                                    "'_', '.' or '-' (at most 64), starting with a letter or '_'"))
        elif not isinstance(v, str):  # YAML reads 012 as 10 and yes as true: a secret must be quoted text
            problems.append(Problem(str(path), doc.line_of(k), k, "a vault value must be a string: quote it "
                                    "(YAML reads unquoted 012 as the number 10 and yes as true)"))
        else:
            out[k] = str(v)
    if problems:
        raise InputError(problems)
    return out


class Vault:
    """An opened vault: name -> Secret."""

    def __init__(self, entries: dict[str, str], path: str = "vault"):
        self.path = path
        self._secrets = {k: Secret(v, k) for k, v in entries.items()}

    @classmethod
    def open(cls, path, passphrase: str) -> "Vault":
        text = read_text(path)
        return cls(parse_entries(decrypt(text, passphrase, path), path), str(path))

    def names(self) -> list[str]:
        return sorted(self._secrets)

    def get(self, name: str) -> Secret | None:
        return self._secrets.get(name)

    def __repr__(self) -> str:
        return f"Vault({self.path}: {len(self._secrets)} entries)"


def read_text(path) -> str:
    from audits.boundedfile import read_bounded

    try:  # never more than MAX_FILE bytes, and only a regular file (/dev/zero has size 0 and never ends)
        return read_bounded(path, MAX_FILE, "vault").decode("utf-8")
    except ValueError as exc:
        if isinstance(exc, UnicodeDecodeError):
            raise _problem(path, "not UTF-8 text", 0, "(file)") from None
        raise _problem(path, str(exc).replace(f"vault {path} ", ""), 0, "(file)") from None
    except FileNotFoundError:
        raise _problem(path, "no such file", 0, "(file)") from None
    except UnicodeDecodeError:
        raise _problem(path, "not UTF-8 text", 0, "(file)") from None
    except OSError as exc:
        raise _problem(path, f"cannot read: {exc.strerror}", 0, "(file)") from None


def passphrase(password_file: str | None = None, confirm: bool = False) -> str:
    """The vault passphrase: ``--vault-password-file``, else $AUDITCTL_VAULT_PASSWORD, else a tty prompt.
    Never from the command line (it would show in ``ps`` and shell history)."""
    if password_file:
        try:
            from audits.boundedfile import read_bounded

            text = read_bounded(password_file, 64 * 1024, "vault password file").decode("utf-8")
        except (OSError, ValueError) as exc:
            raise _problem(password_file, f"cannot read the vault password file: {type(exc).__name__}", 0,
                           "--vault-password-file") from None
        pw = text.rstrip("\r\n")
    elif os.environ.get(PASSWORD_ENV):
        pw = os.environ[PASSWORD_ENV]
        try:  # os.environ keeps undecodable bytes as lone surrogates: refuse them here, by name only
            pw.encode("utf-8")
        except UnicodeEncodeError:
            raise _problem(PASSWORD_ENV, f"${PASSWORD_ENV} is not UTF-8 text; set it in UTF-8 or use "
                           "--vault-password-file", 0, "passphrase") from None
    elif sys.stdin.isatty():
        import getpass

        pw = getpass.getpass("Vault passphrase: ")
        if confirm and getpass.getpass("Again: ") != pw:
            raise _problem("prompt", "the two passphrases differ", 0, "passphrase")
    else:
        raise _problem("vault", f"no vault passphrase: use --vault-password-file FILE, set ${PASSWORD_ENV}, or run "
                       "on a terminal", 0, "passphrase")
    if not pw:
        raise _problem("vault", "the vault passphrase is empty", 0, "passphrase")
    redact.register(pw)
    return pw


def unlock_inventory(inv, vault_path: str | None = None, password_file: str | None = None) -> Vault | None:
    """Replace every ``{vault: NAME}`` in the inventory's host settings by its Secret.

    The passphrase is asked for only when the inventory refers to the vault. An unknown name is a
    ``FILE:LINE: field`` problem at the reference. ``vault_path`` (``--vault``) wins over the
    inventory's own ``vault:``."""
    refs = inv.vault_refs()
    if not refs:
        return None
    path = vault_path or inv.vault_file
    if not path:
        r = refs[0]
        raise InputError([Problem(r.file, r.line, "vault", f"refers to vault entry '{r.name}' but no vault file is "
                                  "named (top-level 'vault: FILE' in the inventory, or --vault FILE)")])
    vault = Vault.open(path, passphrase(password_file))
    problems = [Problem(r.file, r.line, "vault", f"no entry '{r.name}' in vault {path}"
                        + did_you_mean(r.name, vault.names())) for r in refs if vault.get(r.name) is None]
    if problems:
        raise InputError(problems)
    for h in inv.hosts.values():
        for k in SECRET_SETTINGS:
            if isinstance(h.settings.get(k), VaultRef):
                h.settings[k] = vault.get(h.settings[k].name)
    return vault


# -- the `auditctl vault` operations ----------------------------------------------------------------
NEW_VAULT = "# auditctl vault: one 'name: secret' per line, referenced as {vault: name} in the inventory\n"


def encrypt_file(path, pw: str, output=None) -> None:
    text = read_text(path)
    if is_vault(text):
        raise _problem(path, "already encrypted")
    parse_entries(text, path)  # refuse to seal something the runner could not read
    atomic_write(output or path, encrypt(text, pw))


def decrypt_file(path, pw: str, output=None) -> None:
    atomic_write(output or path, decrypt(read_text(path), pw, path))


def view(path, pw: str) -> str:
    return decrypt(read_text(path), pw, path)


def edit_file(path, pw: str, editor: str | None = None) -> bool:
    """Decrypt into a private temporary file (0600 in a 0700 directory, in memory where /dev/shm
    exists), run $EDITOR on it, validate and re-seal with the same KDF parameters. The temporary
    directory is removed afterwards, also on error. Returns whether the vault changed."""
    import shlex
    import shutil
    import subprocess
    import tempfile

    p = Path(path)
    kdf = None
    if p.exists():
        text = read_text(p)
        kdf = _parse_header(text, p)[0]
        old = decrypt(text, pw, p)
    else:
        old = NEW_VAULT
    editor = editor or os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    base = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    tmpdir = tempfile.mkdtemp(prefix="auditctl-vault-", dir=base)  # mode 0700
    try:
        tmp = Path(tmpdir) / "vault.yaml"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(old)
        rc = subprocess.call([*shlex.split(editor), str(tmp)])
        if rc != 0:
            raise _problem(p, f"editor {editor!r} exited with status {rc}; the vault is unchanged", 0, "(edit)")
        new = tmp.read_text(encoding="utf-8")
        parse_entries(new, p)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    if new == old and p.exists():
        return False
    atomic_write(p, encrypt(new, pw, kdf))
    return True
