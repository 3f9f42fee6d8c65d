"""Ed25519 keys: generation, signing, and strict hex / DER / PEM encodings.

Specification: RFC 8032 §5.1.5-§5.1.6 (keys, signing; done by PyNaCl) and the RFC 8410 encodings
below.

Signing goes through PyNaCl. The encodings are those of RFC 8410:

* a private key is a PKCS#8 ``PrivateKeyInfo`` (v1) or ``OneAsymmetricKey`` (v2, RFC 5958)
  whose algorithm is id-Ed25519 (OID 1.3.101.112, parameters absent) and whose
  ``privateKey`` OCTET STRING wraps a ``CurvePrivateKey`` OCTET STRING holding the 32-byte seed;
* a public key is an X.509 ``SubjectPublicKeyInfo`` (RFC 5280) with the same algorithm and the
  32-byte key in a BIT STRING with no unused bits;
* PEM is the RFC 7468 textual encoding with labels ``PRIVATE KEY`` and ``PUBLIC KEY``.

We write v1 private keys (what OpenSSL and ``cryptography`` write) and read v1 and v2. The DER
reader below handles exactly these structures and nothing else; it rejects indefinite or
non-minimal lengths, high tag numbers, trailing bytes, unknown fields and wrong OIDs. Every
failure to parse raises :class:`KeyFormatError`.
"""
from __future__ import annotations

import base64
import binascii
import hmac
import os
import re
import tempfile
from pathlib import Path
from typing import Union

import nacl.bindings
import nacl.signing

__all__ = [
    "PUBLIC_KEY_SIZE",
    "SEED_SIZE",
    "SIGNATURE_SIZE",
    "KeyFormatError",
    "Keypair",
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
PUBLIC_KEY_LABEL = "PUBLIC KEY"

BytesLike = Union[bytes, bytearray, memoryview]
PemInput = Union[str, bytes, bytearray, memoryview]
PathLike = Union[str, "os.PathLike[str]"]


class KeyFormatError(ValueError):
    """A key, or its encoding, is malformed or is not an Ed25519 key."""


# --------------------------------------------------------------------------------------------
# Minimal strict DER (X.690) for the handful of types these structures use.
# --------------------------------------------------------------------------------------------

_TAG_INTEGER = 0x02
_TAG_BIT_STRING = 0x03
_TAG_OCTET_STRING = 0x04
_TAG_OID = 0x06
_TAG_SEQUENCE = 0x30  # SEQUENCE, constructed
_TAG_ATTRIBUTES = 0xA0  # [0] IMPLICIT SET OF Attribute, constructed context-specific
_TAG_PUBLIC_KEY = 0x81  # [1] IMPLICIT BIT STRING, primitive context-specific

# id-Ed25519 = 1.3.101.112: the DER contents octets of the OBJECT IDENTIFIER.
_OID_ED25519 = bytes([1 * 40 + 3, 101, 112])

_VERSION_V1 = 0
_VERSION_V2 = 1

# No structure we read comes near this; a larger length is garbage, not a key.
_MAX_LENGTH_OCTETS = 2


def _der_length(length: int) -> bytes:
    """The definite-form, minimal DER encoding of a length."""
    if length < 0x80:
        return bytes([length])
    octets = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(octets)]) + octets


def _der_tlv(tag: int, contents: bytes) -> bytes:
    return bytes([tag]) + _der_length(len(contents)) + contents


class _DerReader:
    """Reads consecutive TLVs from a buffer; strict DER, definite lengths only."""

    __slots__ = ("_data", "_pos", "_what")

    def __init__(self, data: bytes, what: str) -> None:
        self._data = data
        self._pos = 0
        self._what = what

    @property
    def what(self) -> str:
        return self._what

    def at_end(self) -> bool:
        return self._pos == len(self._data)

    def peek_tag(self) -> int | None:
        return None if self.at_end() else self._data[self._pos]

    def read(self, expected_tag: int, name: str) -> bytes:
        """The contents of the next TLV, which must carry ``expected_tag``."""
        data, pos = self._data, self._pos
        if pos >= len(data):
            raise KeyFormatError(f"{self._what} is truncated: {name} is missing.")
        tag = data[pos]
        if tag & 0x1F == 0x1F:
            raise KeyFormatError(f"{self._what} uses a high-tag-number form, which no field here allows.")
        if tag != expected_tag:
            raise KeyFormatError(
                f"{self._what} has tag 0x{tag:02x} where {name} (tag 0x{expected_tag:02x}) was expected."
            )
        pos += 1
        if pos >= len(data):
            raise KeyFormatError(f"{self._what} is truncated in the length of {name}.")
        first = data[pos]
        pos += 1
        if first < 0x80:
            length = first
        elif first == 0x80:
            raise KeyFormatError(f"{self._what} uses an indefinite length for {name}, which DER forbids.")
        else:
            count = first & 0x7F
            if count > _MAX_LENGTH_OCTETS:
                raise KeyFormatError(f"{self._what} declares an implausibly large length for {name}.")
            if pos + count > len(data):
                raise KeyFormatError(f"{self._what} is truncated in the length of {name}.")
            length_octets = data[pos : pos + count]
            pos += count
            if length_octets[0] == 0:
                raise KeyFormatError(f"{self._what} has a non-minimal length encoding for {name}.")
            length = int.from_bytes(length_octets, "big")
            if length < 0x80:
                raise KeyFormatError(f"{self._what} has a non-minimal length encoding for {name}.")
        end = pos + length
        if end > len(data):
            raise KeyFormatError(f"{self._what} is truncated: {name} runs past the end of the data.")
        self._pos = end
        return data[pos:end]

    def finish(self, name: str) -> None:
        if not self.at_end():
            raise KeyFormatError(f"{self._what} has unexpected trailing data after {name}.")


def _oid_to_text(contents: bytes) -> str:
    """Dotted form of OID contents, for error messages only (best effort)."""
    arcs: list[int] = []
    value = 0
    for octet in contents:
        value = (value << 7) | (octet & 0x7F)
        if not octet & 0x80:
            arcs.append(value)
            value = 0
    if not arcs or contents[-1] & 0x80:
        return "an undecodable OID"
    first = arcs[0]
    head = [0, first] if first < 40 else [1, first - 40] if first < 80 else [2, first - 80]
    return ".".join(str(arc) for arc in head + arcs[1:])


def _read_algorithm(reader: _DerReader) -> None:
    """AlgorithmIdentifier ::= SEQUENCE { algorithm OID, parameters ANY OPTIONAL } (RFC 5280).

    RFC 8410 section 3: for id-Ed25519 the parameters MUST be absent.
    """
    algorithm = _DerReader(reader.read(_TAG_SEQUENCE, "the AlgorithmIdentifier"), reader.what)
    oid = algorithm.read(_TAG_OID, "the algorithm OID")
    if oid != _OID_ED25519:
        raise KeyFormatError(
            f"{reader.what} is for algorithm {_oid_to_text(oid)}, not Ed25519 (1.3.101.112)."
        )
    if not algorithm.at_end():
        raise KeyFormatError(f"{reader.what} has algorithm parameters, which RFC 8410 forbids for Ed25519.")


def _read_bit_string_key(contents: bytes, what: str) -> bytes:
    """A 32-byte public key held in BIT STRING contents (leading unused-bits octet must be 0)."""
    if len(contents) != 1 + PUBLIC_KEY_SIZE:
        raise KeyFormatError(
            f"{what} holds a public key of {max(len(contents) - 1, 0)} bytes instead of {PUBLIC_KEY_SIZE}."
        )
    if contents[0] != 0:
        raise KeyFormatError(f"{what} has a public key BIT STRING with unused bits.")
    return bytes(contents[1:])


def _check_attributes(contents: bytes, what: str) -> None:
    """Attributes ::= SET OF Attribute; each Attribute is a SEQUENCE. We check shape and ignore them."""
    attributes = _DerReader(contents, what)
    while not attributes.at_end():
        attributes.read(_TAG_SEQUENCE, "an attribute")


def _encode_private_der(seed: bytes) -> bytes:
    curve_private_key = _der_tlv(_TAG_OCTET_STRING, seed)
    return _der_tlv(
        _TAG_SEQUENCE,
        _der_tlv(_TAG_INTEGER, bytes([_VERSION_V1]))
        + _der_tlv(_TAG_SEQUENCE, _der_tlv(_TAG_OID, _OID_ED25519))
        + _der_tlv(_TAG_OCTET_STRING, curve_private_key),
    )


def _decode_private_der(data: BytesLike) -> tuple[bytes, bytes | None]:
    """(seed, public key or None) from a PKCS#8 v1 / OneAsymmetricKey v2 Ed25519 private key."""
    what = "The private key DER"
    data = _as_bytes(data, what)
    outer = _DerReader(data, what)
    body = _DerReader(outer.read(_TAG_SEQUENCE, "the PrivateKeyInfo SEQUENCE"), what)
    outer.finish("the PrivateKeyInfo SEQUENCE")

    version = body.read(_TAG_INTEGER, "the version")
    if len(version) != 1 or version[0] not in (_VERSION_V1, _VERSION_V2):
        raise KeyFormatError(f"{what} has an unsupported version; only v1 (0) and v2 (1) are defined.")
    _read_algorithm(body)

    curve_private_key = _DerReader(body.read(_TAG_OCTET_STRING, "the privateKey OCTET STRING"), what)
    seed = curve_private_key.read(_TAG_OCTET_STRING, "the CurvePrivateKey OCTET STRING")
    curve_private_key.finish("the CurvePrivateKey OCTET STRING")
    if len(seed) != SEED_SIZE:
        raise KeyFormatError(f"{what} holds a private key of {len(seed)} bytes instead of {SEED_SIZE}.")

    if body.peek_tag() == _TAG_ATTRIBUTES:
        _check_attributes(body.read(_TAG_ATTRIBUTES, "the attributes"), what)

    public_key: bytes | None = None
    if body.peek_tag() == _TAG_PUBLIC_KEY:
        if version[0] != _VERSION_V2:
            raise KeyFormatError(f"{what} carries a public key but is not version 2, as RFC 5958 requires.")
        public_key = _read_bit_string_key(body.read(_TAG_PUBLIC_KEY, "the publicKey"), what)
    body.finish("the last known field")
    return bytes(seed), public_key


def public_key_to_der(public_key: BytesLike) -> bytes:
    """The DER SubjectPublicKeyInfo of a raw 32-byte Ed25519 public key."""
    key = _check_public_key(public_key)
    return _der_tlv(
        _TAG_SEQUENCE,
        _der_tlv(_TAG_SEQUENCE, _der_tlv(_TAG_OID, _OID_ED25519))
        + _der_tlv(_TAG_BIT_STRING, b"\x00" + key),
    )


def public_key_from_der(data: BytesLike) -> bytes:
    """The raw 32-byte public key from a DER SubjectPublicKeyInfo for Ed25519."""
    what = "The public key DER"
    data = _as_bytes(data, what)
    outer = _DerReader(data, what)
    body = _DerReader(outer.read(_TAG_SEQUENCE, "the SubjectPublicKeyInfo SEQUENCE"), what)
    outer.finish("the SubjectPublicKeyInfo SEQUENCE")
    _read_algorithm(body)
    key = _read_bit_string_key(body.read(_TAG_BIT_STRING, "the subjectPublicKey BIT STRING"), what)
    body.finish("the subjectPublicKey BIT STRING")
    return key


# --------------------------------------------------------------------------------------------
# PEM (RFC 7468).
# --------------------------------------------------------------------------------------------

_PEM_BEGIN = re.compile(r"^-----BEGIN ([^-]*)-----$")
_PEM_END = re.compile(r"^-----END ([^-]*)-----$")
_BASE64_TEXT = re.compile(r"^[A-Za-z0-9+/]*={0,2}$")


def _pem_encode(label: str, der: bytes) -> str:
    body = base64.b64encode(der).decode("ascii")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----\n"


def _pem_decode(text: PemInput, label: str) -> bytes:
    """The DER inside the single ``label`` block of a PEM text; text outside blocks is ignored."""
    if isinstance(text, (bytes, bytearray, memoryview)):
        try:
            text = bytes(text).decode("ascii")
        except UnicodeDecodeError:
            raise KeyFormatError("The PEM text contains bytes that are not ASCII.") from None
    elif not isinstance(text, str):
        raise KeyFormatError(f"PEM must be given as str or bytes, not {type(text).__name__}.")

    found: list[str] = []
    labels_seen: list[str] = []
    current: str | None = None
    body: list[str] = []
    for raw_line in text.splitlines():
        line = raw_line.strip()
        if current is None:
            begin = _PEM_BEGIN.match(line)
            if begin:
                current = begin.group(1)
                body = []
            continue
        end = _PEM_END.match(line)
        if end:
            if end.group(1) != current:
                raise KeyFormatError(f"The PEM block opened as {current!r} is closed as {end.group(1)!r}.")
            labels_seen.append(current)
            if current == label:
                found.append("".join(body))
            current = None
            continue
        if _PEM_BEGIN.match(line):
            raise KeyFormatError(f"The PEM block {current!r} is not closed before the next one begins.")
        body.append("".join(line.split()))
    if current is not None:
        raise KeyFormatError(f"The PEM block {current!r} has no END line.")

    if not found:
        if label == PRIVATE_KEY_LABEL and "ENCRYPTED PRIVATE KEY" in labels_seen:
            raise KeyFormatError("Encrypted private keys are not supported; decrypt the key first.")
        if labels_seen:
            raise KeyFormatError(f"The PEM text has no {label!r} block (found {', '.join(map(repr, labels_seen))}).")
        raise KeyFormatError(f"The text is not PEM: no '-----BEGIN {label}-----' line was found.")
    if len(found) > 1:
        raise KeyFormatError(f"The PEM text has {len(found)} {label!r} blocks where exactly one is expected.")

    encoded = found[0]
    if not encoded or len(encoded) % 4 or not _BASE64_TEXT.match(encoded):
        raise KeyFormatError(f"The {label!r} PEM block is not valid base64.")
    try:
        der = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise KeyFormatError(f"The {label!r} PEM block is not valid base64.") from None
    # Reject non-canonical base64 (non-zero padding bits), so one key has one PEM body.
    if base64.b64encode(der).decode("ascii") != encoded:
        raise KeyFormatError(f"The {label!r} PEM block is not canonical base64.")
    return der


def public_key_to_pem(public_key: BytesLike) -> str:
    """The ``PUBLIC KEY`` PEM (SubjectPublicKeyInfo) of a raw 32-byte Ed25519 public key."""
    return _pem_encode(PUBLIC_KEY_LABEL, public_key_to_der(public_key))


def public_key_from_pem(text: PemInput) -> bytes:
    """The raw 32-byte public key from a ``PUBLIC KEY`` PEM block."""
    return public_key_from_der(_pem_decode(text, PUBLIC_KEY_LABEL))


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
    def from_der(cls, data: BytesLike) -> Keypair:
        """From a DER PKCS#8 v1 or OneAsymmetricKey v2 Ed25519 private key."""
        seed, public_key = _decode_private_der(data)
        keypair = cls(seed)
        if public_key is not None:
            keypair._check_public_key_matches(public_key, "The private key DER")
        return keypair

    @classmethod
    def from_pem(cls, text: PemInput) -> Keypair:
        """From a ``PRIVATE KEY`` PEM block (PKCS#8 v1 or v2)."""
        return cls.from_der(_pem_decode(text, PRIVATE_KEY_LABEL))

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
        return _encode_private_der(self._seed)

    def to_pem(self) -> str:
        """``PRIVATE KEY`` PEM of :meth:`to_der`."""
        return _pem_encode(PRIVATE_KEY_LABEL, self.to_der())

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


def load_keypair(path: PathLike) -> Keypair:
    """Read a key pair from a file holding a ``PRIVATE KEY`` PEM block or a hex seed."""
    data = Path(path).read_bytes()
    if b"-----BEGIN" in data:
        return Keypair.from_pem(data)
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise KeyFormatError(f"The key file {os.fspath(path)!r} is neither PEM nor hex text.") from None
    return Keypair.from_hex(text)


def save_keypair(path: PathLike, keypair: Keypair) -> None:
    """Write ``keypair`` as PEM to ``path`` with mode 0600, replacing any file atomically."""
    target = Path(path)
    fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, 0o600)  # mkstemp already uses 0600; make it explicit.
        with os.fdopen(fd, "w", encoding="ascii", newline="\n") as handle:
            handle.write(keypair.to_pem())
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        raise
