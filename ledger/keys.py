"""Ed25519 keys: generation, signing, and strict hex / DER / PEM encodings, plain or encrypted.

Specifications: RFC 8032 §5.1.5-§5.1.6 (keys and signing, done by PyNaCl); RFC 8410 (Ed25519 in
PKCS#8 and SubjectPublicKeyInfo); RFC 5208 / RFC 5958 (PKCS#8 ``PrivateKeyInfo`` and
``EncryptedPrivateKeyInfo``, PBES2 from RFC 8018); RFC 7468 (PEM labels ``PRIVATE KEY``,
``ENCRYPTED PRIVATE KEY``, ``PUBLIC KEY``).

Parsing and writing the encodings is the ``cryptography`` package's job (its strict DER reader
refuses indefinite or non-minimal lengths, trailing bytes, unknown fields, algorithm parameters
and wrong seed sizes, and it decrypts PBES2 keys as ``openssl genpkey -aes256`` writes them).
What this module adds on top is policy: Ed25519 and nothing else, a passphrase exactly when the
file is encrypted, and one-sentence :class:`KeyFormatError` messages with a stable ``code``.

We write v1 ``PrivateKeyInfo`` (what OpenSSL writes). A OneAsymmetricKey v2 file, the only kind
that carries a public key beside the seed, is refused by ``cryptography`` as a whole, so a
public key that does not match its seed can never be loaded; the public key is always derived
from the seed. A 128-hex-digit key (seed then public key) must match, checked here.
"""
from __future__ import annotations

import hmac
import os
import re
import tempfile
from pathlib import Path
from typing import Union

import nacl.bindings
import nacl.signing
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

__all__ = [
    "PUBLIC_KEY_SIZE",
    "SEED_SIZE",
    "SIGNATURE_SIZE",
    "KeyFormatError",
    "Keypair",
    "is_encrypted_pem",
    "load_keypair",
    "public_key_from_der",
    "public_key_from_hex",
    "public_key_from_pem",
    "public_key_to_der",
    "public_key_to_hex",
    "public_key_to_pem",
    "save_keypair",
]

SEED_SIZE = 32
PUBLIC_KEY_SIZE = 32
SIGNATURE_SIZE = 64

PRIVATE_KEY_LABEL = "PRIVATE KEY"
ENCRYPTED_PRIVATE_KEY_LABEL = "ENCRYPTED PRIVATE KEY"
PUBLIC_KEY_LABEL = "PUBLIC KEY"

# Stable codes of KeyFormatError (printed by the CLI, matched by scripts).
BAD_KEY = "bad-key"                          # damaged, not a key, or not Ed25519
PASSPHRASE_NEEDED = "passphrase-needed"      # an encrypted key and no passphrase
WRONG_PASSPHRASE = "wrong-passphrase"        # the passphrase does not decrypt it
NOT_ENCRYPTED = "not-encrypted"              # a passphrase for a key that has none

# No passphrase source should hand us more than this; a larger one is a mistake (a key file given
# as the passphrase file, say), not a secret.
PASSPHRASE_BYTES_MAX = 1024

BytesLike = Union[bytes, bytearray, memoryview]
PemInput = Union[str, bytes, bytearray, memoryview]
PathLike = Union[str, "os.PathLike[str]"]


class KeyFormatError(ValueError):
    """A key, or its encoding, is malformed, is not an Ed25519 key, or cannot be decrypted.

    ``code`` is one of ``bad-key``, ``passphrase-needed``, ``wrong-passphrase``, ``not-encrypted``.
    """

    def __init__(self, message: str, code: str = BAD_KEY) -> None:
        super().__init__(message)
        self.code = code


def _key_kind(key: object) -> str:
    """"X25519", "RSA", "EllipticCurve"… from cryptography's key class, for messages only."""
    for base in type(key).__mro__:
        name = base.__name__.lstrip("_")
        for suffix in ("PrivateKey", "PublicKey"):
            if name.endswith(suffix) and len(name) > len(suffix):
                return name[: -len(suffix)]
    return type(key).__name__


def _as_passphrase(passphrase: object) -> bytes | None:
    if passphrase is None:
        return None
    if isinstance(passphrase, str):
        passphrase = passphrase.encode("utf-8")
    if not isinstance(passphrase, (bytes, bytearray, memoryview)):
        raise KeyFormatError(f"A passphrase must be str or bytes, not {type(passphrase).__name__}.")
    data = bytes(passphrase)
    if not data:
        raise KeyFormatError("The passphrase is empty.", PASSPHRASE_NEEDED)
    if len(data) > PASSPHRASE_BYTES_MAX:
        raise KeyFormatError(f"The passphrase is longer than {PASSPHRASE_BYTES_MAX} bytes.")
    return data


def _load_private(data: bytes, pem: bool, passphrase: object, what: str) -> bytes:
    """The 32-byte seed of an Ed25519 PKCS#8 key (PEM or DER, encrypted or not)."""
    password = _as_passphrase(passphrase)
    loader = serialization.load_pem_private_key if pem else serialization.load_der_private_key
    try:
        key = loader(data, password=password)
    except TypeError:                         # cryptography's way of saying "password or not"
        if password is None:
            raise KeyFormatError(f"{what} is encrypted and no passphrase was given.", PASSPHRASE_NEEDED) from None
        raise KeyFormatError(f"{what} is not encrypted, yet a passphrase was given.", NOT_ENCRYPTED) from None
    except ValueError as error:
        if password is not None and "password" in str(error).lower():
            raise KeyFormatError(f"The passphrase does not decrypt {what[:1].lower()}{what[1:]}.",
                                 WRONG_PASSPHRASE) from None
        if password is not None:
            # AES-CBC has no integrity check: about one wrong passphrase in 256 still yields valid
            # padding, and then the decrypted bytes fail to parse, just as a damaged file would.
            raise KeyFormatError(f"{what} is damaged, or the passphrase does not decrypt it.") from None
        raise KeyFormatError(f"{what} is damaged or is not a PKCS#8 v1 private key.") from None
    except UnsupportedAlgorithm:
        raise KeyFormatError(f"{what} uses an algorithm or cipher that is not supported.") from None
    except Exception:                          # InternalError from OpenSSL on some malformed keys
        raise KeyFormatError(f"{what} is damaged or is not a PKCS#8 v1 private key.") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFormatError(f"{what} holds an {_key_kind(key)} key, not an Ed25519 one.")
    seed = key.private_bytes_raw()
    assert len(seed) == SEED_SIZE
    return seed


def _check_public(key: object, what: str) -> bytes:
    if not isinstance(key, Ed25519PublicKey):
        raise KeyFormatError(f"{what} holds an {_key_kind(key)} key, not an Ed25519 one.")
    raw = key.public_bytes_raw()
    assert len(raw) == PUBLIC_KEY_SIZE
    return raw


def public_key_to_der(public_key: BytesLike) -> bytes:
    """The DER SubjectPublicKeyInfo of a raw 32-byte Ed25519 public key."""
    key = Ed25519PublicKey.from_public_bytes(_check_public_key(public_key))
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def public_key_from_der(data: BytesLike) -> bytes:
    """The raw 32-byte public key from a DER SubjectPublicKeyInfo for Ed25519."""
    what = "The public key DER"
    data = _as_bytes(data, what)
    try:
        key = serialization.load_der_public_key(data)
    except Exception:
        raise KeyFormatError(f"{what} is damaged or is not a SubjectPublicKeyInfo.") from None
    return _check_public(key, what)


# --------------------------------------------------------------------------------------------
# PEM (RFC 7468).
# --------------------------------------------------------------------------------------------

_PEM_BEGIN = re.compile(rb"^-----BEGIN ([^-]*)-----\s*$", re.MULTILINE)


def _pem_bytes(text: PemInput) -> bytes:
    if isinstance(text, str):
        try:
            return text.encode("ascii")
        except UnicodeEncodeError:
            raise KeyFormatError("The PEM text contains characters that are not ASCII.") from None
    if isinstance(text, (bytes, bytearray, memoryview)):
        data = bytes(text)
        if not data.isascii():
            raise KeyFormatError("The PEM text contains bytes that are not ASCII.")
        return data
    raise KeyFormatError(f"PEM must be given as str or bytes, not {type(text).__name__}.")


def _pem_labels(data: bytes) -> list[str]:
    return [match.group(1).decode("ascii") for match in _PEM_BEGIN.finditer(data)]


def _one_block(data: bytes, labels: tuple[str, ...]) -> None:
    """Exactly one block with one of ``labels``: two keys in one file is ambiguous, not a choice."""
    seen = _pem_labels(data)
    found = [label for label in seen if label in labels]
    if not found:
        wanted = " or ".join(repr(label) for label in labels)
        if seen:
            raise KeyFormatError(f"The PEM text has no {wanted} block (found {', '.join(map(repr, seen))}).")
        raise KeyFormatError(f"The text is not PEM: no '-----BEGIN {labels[0]}-----' line was found.")
    if len(found) > 1:
        raise KeyFormatError(f"The PEM text has {len(found)} private or public key blocks where exactly one "
                             "is expected.")


def is_encrypted_pem(text: PemInput) -> bool:
    """Whether ``text`` holds an ``ENCRYPTED PRIVATE KEY`` block (so a passphrase is needed)."""
    return ENCRYPTED_PRIVATE_KEY_LABEL in _pem_labels(_pem_bytes(text))


def public_key_to_pem(public_key: BytesLike) -> str:
    """The ``PUBLIC KEY`` PEM (SubjectPublicKeyInfo) of a raw 32-byte Ed25519 public key."""
    key = Ed25519PublicKey.from_public_bytes(_check_public_key(public_key))
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii")


def public_key_from_pem(text: PemInput) -> bytes:
    """The raw 32-byte public key from a ``PUBLIC KEY`` PEM block."""
    data = _pem_bytes(text)
    _one_block(data, (PUBLIC_KEY_LABEL,))
    try:
        key = serialization.load_pem_public_key(data)
    except Exception:
        raise KeyFormatError("The 'PUBLIC KEY' PEM block is damaged or is not a SubjectPublicKeyInfo.") from None
    return _check_public(key, "The 'PUBLIC KEY' PEM block")


# --------------------------------------------------------------------------------------------
# Hex.
# --------------------------------------------------------------------------------------------

_HEX_TEXT = re.compile(r"^[0-9A-Fa-f]*$")


def _hex_decode(text: str | bytes, what: str, sizes: tuple[int, ...]) -> bytes:
    if isinstance(text, (bytes, bytearray)):
        try:
            text = bytes(text).decode("ascii")
        except UnicodeDecodeError:
            raise KeyFormatError(f"The {what} hex contains bytes that are not ASCII.") from None
    if not isinstance(text, str):
        raise KeyFormatError(f"The {what} hex must be given as str, not {type(text).__name__}.")
    stripped = text.strip()
    expected = " or ".join(str(2 * size) for size in sizes)
    if not _HEX_TEXT.match(stripped) or len(stripped) // 2 not in sizes or len(stripped) % 2:
        raise KeyFormatError(f"The {what} must be {expected} hexadecimal digits.")
    return bytes.fromhex(stripped)


def public_key_to_hex(public_key: BytesLike) -> str:
    """A raw 32-byte public key as 64 lowercase hex digits."""
    return _check_public_key(public_key).hex()


def public_key_from_hex(text: str | bytes) -> bytes:
    """A raw 32-byte public key from 64 hex digits (either case; surrounding whitespace allowed)."""
    return _hex_decode(text, "public key", (PUBLIC_KEY_SIZE,))


# --------------------------------------------------------------------------------------------
# Keypair.
# --------------------------------------------------------------------------------------------


def _as_bytes(data: object, what: str) -> bytes:
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    raise KeyFormatError(f"{what} must be bytes, not {type(data).__name__}.")


def _check_public_key(public_key: object) -> bytes:
    key = _as_bytes(public_key, "An Ed25519 public key")
    if len(key) != PUBLIC_KEY_SIZE:
        raise KeyFormatError(f"An Ed25519 public key must be {PUBLIC_KEY_SIZE} bytes, not {len(key)}.")
    return key


class Keypair:
    """An Ed25519 key pair: the 32-byte RFC 8032 seed and the 32-byte public key derived from it.

    Instances are immutable. ``repr`` shows only the public key. Equality compares seeds in
    constant time.
    """

    __slots__ = ("_seed", "_public_key", "_signing_key")

    _seed: bytes
    _public_key: bytes
    _signing_key: nacl.signing.SigningKey

    def __init__(self, seed: BytesLike) -> None:
        seed_bytes = _as_bytes(seed, "An Ed25519 seed")
        if len(seed_bytes) != SEED_SIZE:
            raise KeyFormatError(f"An Ed25519 seed must be {SEED_SIZE} bytes, not {len(seed_bytes)}.")
        signing_key = nacl.signing.SigningKey(seed_bytes)
        object.__setattr__(self, "_seed", seed_bytes)
        object.__setattr__(self, "_public_key", bytes(signing_key.verify_key))
        object.__setattr__(self, "_signing_key", signing_key)

    # Construction ----------------------------------------------------------------------------

    @classmethod
    def generate(cls) -> Keypair:
        """A new key pair from the operating system's CSPRNG (via libsodium)."""
        return cls(bytes(nacl.signing.SigningKey.generate()))

    @classmethod
    def from_seed(cls, seed: BytesLike) -> Keypair:
        """The key pair for a 32-byte seed."""
        return cls(seed)

    @classmethod
    def from_hex(cls, text: str | bytes) -> Keypair:
        """From 64 hex digits (the seed) or 128 (seed then public key, which must match)."""
        raw = _hex_decode(text, "private key", (SEED_SIZE, SEED_SIZE + PUBLIC_KEY_SIZE))
        keypair = cls(raw[:SEED_SIZE])
        if len(raw) > SEED_SIZE:
            keypair._check_public_key_matches(raw[SEED_SIZE:], "The hex key")
        return keypair

    @classmethod
    def from_der(cls, data: BytesLike, passphrase: str | bytes | None = None) -> Keypair:
        """From a DER PKCS#8 v1 Ed25519 private key, or an encrypted one with ``passphrase``."""
        return cls(_load_private(_as_bytes(data, "The private key DER"), False, passphrase, "The private key DER"))

    @classmethod
    def from_pem(cls, text: PemInput, passphrase: str | bytes | None = None) -> Keypair:
        """From a ``PRIVATE KEY`` PEM block, or an ``ENCRYPTED PRIVATE KEY`` one with ``passphrase``."""
        data = _pem_bytes(text)
        _one_block(data, (PRIVATE_KEY_LABEL, ENCRYPTED_PRIVATE_KEY_LABEL))
        return cls(_load_private(data, True, passphrase, "The private key PEM"))

    def _check_public_key_matches(self, public_key: bytes, what: str) -> None:
        if not hmac.compare_digest(public_key, self._public_key):
            raise KeyFormatError(f"{what} carries a public key that does not match its private key.")

    # Accessors -------------------------------------------------------------------------------

    @property
    def seed(self) -> bytes:
        """The 32-byte secret seed (RFC 8032 private key)."""
        return self._seed

    @property
    def public_key(self) -> bytes:
        """The 32-byte public key."""
        return self._public_key

    def sign(self, message: bytes) -> bytes:
        """The 64-byte Ed25519 signature of ``message`` (deterministic, RFC 8032)."""
        # The binding directly (seed || public key is libsodium's secret key layout): the
        # SignedMessage wrapper costs half as much again as the signature itself.
        return nacl.bindings.crypto_sign(bytes(message), self._seed + self._public_key)[:SIGNATURE_SIZE]

    # Encodings -------------------------------------------------------------------------------

    def to_hex(self) -> str:
        """The seed as 64 lowercase hex digits."""
        return self._seed.hex()

    def to_der(self) -> bytes:
        """DER PKCS#8 v1 PrivateKeyInfo (RFC 8410 section 7)."""
        return self._private_key().private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    def to_pem(self, passphrase: str | bytes | None = None) -> str:
        """``PRIVATE KEY`` PEM of :meth:`to_der`; with ``passphrase``, an ``ENCRYPTED PRIVATE KEY``
        (PKCS#8 EncryptedPrivateKeyInfo, PBES2: PBKDF2-HMAC-SHA256 and AES-256-CBC, as
        ``openssl genpkey -aes256`` writes)."""
        password = _as_passphrase(passphrase)
        encryption = (serialization.NoEncryption() if password is None
                      else serialization.BestAvailableEncryption(password))
        return self._private_key().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        ).decode("ascii")

    def _private_key(self) -> Ed25519PrivateKey:
        return Ed25519PrivateKey.from_private_bytes(self._seed)

    def public_der(self) -> bytes:
        """DER SubjectPublicKeyInfo of the public key."""
        return public_key_to_der(self._public_key)

    def public_pem(self) -> str:
        """``PUBLIC KEY`` PEM of the public key."""
        return public_key_to_pem(self._public_key)

    # Object protocol -------------------------------------------------------------------------

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Keypair is immutable.")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("Keypair is immutable.")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Keypair):
            return NotImplemented
        return hmac.compare_digest(self._seed, other._seed)

    def __hash__(self) -> int:
        return hash(self._public_key)

    def __repr__(self) -> str:
        return f"Keypair(public_key={self._public_key.hex()})"

    def __reduce__(self) -> tuple[object, tuple[bytes]]:
        return (Keypair, (self._seed,))


# --------------------------------------------------------------------------------------------
# Files.
# --------------------------------------------------------------------------------------------


def load_keypair(path: PathLike, passphrase: str | bytes | None = None) -> Keypair:
    """Read a key pair from a file holding a ``PRIVATE KEY`` or ``ENCRYPTED PRIVATE KEY`` PEM
    block (the latter needs ``passphrase``) or a hex seed."""
    data = Path(path).read_bytes()
    if b"-----BEGIN" in data:
        return Keypair.from_pem(data, passphrase)
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise KeyFormatError(f"The key file {os.fspath(path)!r} is neither PEM nor hex text.") from None
    keypair = Keypair.from_hex(text)
    if passphrase is not None:
        raise KeyFormatError("The key file holds a hex seed, which is not encrypted, yet a passphrase was given.",
                             NOT_ENCRYPTED)
    return keypair


def save_keypair(path: PathLike, keypair: Keypair, passphrase: str | bytes | None = None) -> None:
    """Write ``keypair`` as PEM (encrypted with ``passphrase`` if given) to ``path`` with mode
    0600, replacing any file atomically."""
    text = keypair.to_pem(passphrase)
    target = Path(path)
    fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, 0o600)  # mkstemp already uses 0600; make it explicit.
        with os.fdopen(fd, "w", encoding="ascii", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        raise
