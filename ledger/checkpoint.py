"""C2SP signed notes and transparency-log checkpoints of the block log.

Specification: docs/FORMAT.md §14, over the C2SP texts copied in /work/shared/specs/c2sp/
(signed-note v1.0.0: note text, signature lines, Ed25519 key ids, verifier keys;
tlog-checkpoint v1.0.0: origin, tree size, root hash, extension lines), RFC 8032 (Ed25519,
signed and checked through PyNaCl/libsodium), RFC 4648 §4 (standard base64 with padding) and
RFC 6962 §2.1 (the SHA-256 tree of the block log, ledger.merkle).

A **note** is UTF-8 text with no control character but newline:

    <text: one or more lines, each ending in a newline>
    <a blank line>
    — <key name> <base64(4-byte key id || signature)>      (one or more lines)

The text ends at the **last** blank line (the text may hold blank lines of its own). A key
name is non-empty and holds no Unicode space and no "+". The key id of an Ed25519 key is
SHA-256(name || 0x0A || 0x01 || public key)[:4]. A verifier key (vkey) is the string
``name+hex(key id)+base64(0x01 || public key)``.

A **checkpoint** is a note whose text is ``origin\\nsize\\nbase64(root)\\n`` and optional
non-empty extension lines; size is decimal without leading zeros, the root 32 bytes.

Reading is strict (``parse_note``, ``parse_checkpoint``, ``VerifierKey.from_string``): any input
that the writer would not have produced for the value read is ``bad-encoding``, including
base64 that is not the canonical encoding of its bytes (non-zero padding bits, missing padding)
and an upper-case key id; a note over NOTE_BYTES_MAX bytes or with over SIGNATURES_MAX signature
lines is ``limit-exceeded``. Verifying (``verify_note``) follows the signed-note rules: a
signature line whose (name, key id) matches no trusted key is ignored; one that matches is
checked, and a failure rejects the whole note; a note that no trusted key signed is rejected.
Both rejections are ``proof-invalid``.

The **block log** of a store at tip h is the RFC 6962 tree over the leaves L0 .. Lh of §7.3
(chain id, then the block hash of each height): tree size h + 1.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from typing import Iterable, Sequence, Union

import nacl.bindings
import nacl.exceptions

from ledger import merkle
from ledger.errors import BAD_ENCODING, LIMIT_EXCEEDED, LedgerError
from ledger.keys import PUBLIC_KEY_SIZE, SIGNATURE_SIZE, Keypair

__all__ = [
    "Checkpoint", "NOT_VALIDATOR", "Note", "PROOF_INVALID", "Signature", "VerifierKey", "block_log_root",
    "default_origin", "key_id", "make_checkpoint", "open_checkpoint", "parse_checkpoint", "parse_note",
    "sign_checkpoint", "sign_note", "verify_note",
]

SIGNATURE_TYPE_ED25519 = 0x01     # signed-note "Signature types"
KEY_ID_SIZE = 4
ROOT_SIZE = 32                    # an RFC 6962 SHA-256 root
TREE_SIZE_MAX = 2**64 - 1
# signed-note: "verifiers SHOULD apply a maximum limit to the number of signatures ... MUST
# accept at least up to 16". 100 leaves room for many witnesses; 1 MiB for large signatures.
SIGNATURES_MAX = 100
NOTE_BYTES_MAX = 1 << 20
SIGNATURE_PREFIX = "\u2014 "      # em dash, space
ORIGIN_PREFIX = "ledger/"         # FORMAT.md §14: the default origin is ledger/<chain id hex>

PROOF_INVALID = "proof-invalid"   # a trusted signature fails, no trusted key signed, or the root differs
NOT_VALIDATOR = "not-validator"   # `ledger checkpoint --key` is not a genesis validator (FORMAT.md §14)

Text = Union[str, bytes, bytearray, memoryview]

_DECIMAL = re.compile(r"0|[1-9][0-9]*")
_KEY_ID_HEX = re.compile(r"[0-9a-f]{8}")


def _malformed(message: str) -> LedgerError:
    return LedgerError(BAD_ENCODING, message)


def _b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _b64decode(text: str, what: str) -> bytes:
    """Standard base64 with padding (RFC 4648 §4), only in its canonical form."""
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise _malformed(f"{what} is not base64") from None
    if _b64encode(data) != text:
        raise _malformed(f"{what} is not canonical base64")
    return data


def _valid_name(name: str) -> bool:
    return bool(name) and "+" not in name and not any(c.isspace() for c in name) and _utf8(name)


def _utf8(text: str) -> bool:
    """Whether the text can be written as UTF-8 (a command line's undecodable bytes reach Python
    as lone surrogates, which cannot)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check_name(name: object, what: str = "a key name") -> str:
    if not isinstance(name, str):
        raise TypeError(f"{what} must be a str, not {type(name).__name__}")
    if not _valid_name(name) or _has_control(name):
        raise ValueError(f"{what} must be non-empty, without spaces, '+' or control characters: {name!r}")
    return name


def _has_control(text: str) -> bool:
    return any(ord(c) < 0x20 and c != "\n" for c in text)


def key_id(name: str, public_key: bytes, signature_type: int = SIGNATURE_TYPE_ED25519) -> bytes:
    """SHA-256(name || 0x0A || signature type || public key)[:4] (signed-note)."""
    return hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([signature_type]) + bytes(public_key)).digest()[
        :KEY_ID_SIZE]


# ---------------------------------------------------------------- verifier keys


@dataclass(frozen=True, slots=True)
class VerifierKey:
    """An Ed25519 note verifier: a key name and a 32-byte public key."""

    name: str
    public_key: bytes

    def __post_init__(self) -> None:
        _check_name(self.name)
        if not isinstance(self.public_key, bytes) or len(self.public_key) != PUBLIC_KEY_SIZE:
            raise ValueError(f"an Ed25519 public key is {PUBLIC_KEY_SIZE} bytes")

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, self.public_key)

    def to_string(self) -> str:
        """``name+hex(key id)+base64(0x01 || public key)``."""
        return f"{self.name}+{self.key_id.hex()}+{_b64encode(bytes([SIGNATURE_TYPE_ED25519]) + self.public_key)}"

    def __str__(self) -> str:
        return self.to_string()

    @classmethod
    def from_string(cls, text: str) -> "VerifierKey":
        """Read a vkey strictly; its key id must be the one its name and key give."""
        if not isinstance(text, str):
            raise TypeError(f"a verifier key must be a str, not {type(text).__name__}")
        parts = text.split("+", 2)   # the name and the id hold no "+"; base64 may
        if len(parts) != 3:
            raise _malformed("a verifier key is name+keyid+key (three parts separated by '+')")
        name, id_hex, key_b64 = parts
        if not _valid_name(name) or _has_control(name) or "\n" in name:
            raise _malformed("a verifier key's name is empty or holds a space or control character")
        if not _KEY_ID_HEX.fullmatch(id_hex):
            raise _malformed("a verifier key's id is not 8 lowercase hex digits")
        material = _b64decode(key_b64, "a verifier key's public key")
        if not material or material[0] != SIGNATURE_TYPE_ED25519:
            raise _malformed("a verifier key's signature type is not Ed25519 (0x01)")
        if len(material) != 1 + PUBLIC_KEY_SIZE:
            raise _malformed(f"a verifier key's Ed25519 key is not {PUBLIC_KEY_SIZE} bytes")
        key = cls(name, material[1:])
        if key.key_id.hex() != id_hex:
            raise _malformed("a verifier key's id is not the key id of its name and public key")
        return key


# ---------------------------------------------------------------- notes


@dataclass(frozen=True, slots=True)
class Signature:
    """One signature line: the key name, the 4-byte key id and the signature bytes after it."""

    name: str
    key_id: bytes
    signature: bytes

    def line(self) -> str:
        return f"{SIGNATURE_PREFIX}{self.name} {_b64encode(self.key_id + self.signature)}\n"


@dataclass(frozen=True, slots=True)
class Note:
    """A signed note: its text (ending in a newline) and its signature lines, in order."""

    text: str
    signatures: tuple[Signature, ...]

    def to_text(self) -> str:
        return self.text + "\n" + "".join(signature.line() for signature in self.signatures)

    def to_bytes(self) -> bytes:
        return self.to_text().encode("utf-8")


def _as_text(data: Text, what: str) -> str:
    if isinstance(data, str):
        try:
            encoded = data.encode("utf-8")
        except UnicodeEncodeError:
            raise _malformed(f"{what} is not UTF-8") from None
    elif isinstance(data, (bytes, bytearray, memoryview)):
        encoded = bytes(data)
    else:
        raise TypeError(f"{what} must be str or bytes, not {type(data).__name__}")
    if len(encoded) > NOTE_BYTES_MAX:
        raise LedgerError(LIMIT_EXCEEDED, f"{what} is over {NOTE_BYTES_MAX} bytes")
    try:
        return encoded.decode("utf-8")
    except UnicodeDecodeError:
        raise _malformed(f"{what} is not UTF-8") from None


def parse_note(data: Text) -> Note:
    """A signed note, read strictly (nothing is verified: see verify_note)."""
    text = _as_text(data, "the note")
    if _has_control(text):
        raise _malformed("the note holds a control character other than newline")
    split = text.rfind("\n\n")
    if split < 0:
        raise _malformed("the note has no blank line before its signatures")
    body, block = text[:split + 1], text[split + 2:]
    if not block:
        raise _malformed("the note has no signature")
    if not block.endswith("\n"):
        raise _malformed("the note's last signature line does not end in a newline")
    lines = block[:-1].split("\n")
    if len(lines) > SIGNATURES_MAX:
        raise LedgerError(LIMIT_EXCEEDED, f"the note has over {SIGNATURES_MAX} signatures")
    signatures = []
    for number, line in enumerate(lines, 1):
        if not line.startswith(SIGNATURE_PREFIX):
            raise _malformed(f"signature line {number} does not start with an em dash and a space")
        name, space, encoded = line[len(SIGNATURE_PREFIX):].partition(" ")
        if not space or not _valid_name(name):
            raise _malformed(f"signature line {number} has no valid key name")
        raw = _b64decode(encoded, f"the signature of line {number}")
        if len(raw) < KEY_ID_SIZE + 1:
            raise _malformed(f"the signature of line {number} is shorter than a key id and one byte")
        signatures.append(Signature(name, raw[:KEY_ID_SIZE], raw[KEY_ID_SIZE:]))
    return Note(body, tuple(signatures))


def sign_note(text: str, name: str, keypair: Keypair) -> Signature:
    """The Ed25519 signature line of ``keypair`` named ``name`` over ``text``."""
    _check_note_text(text)
    _check_name(name)
    return Signature(name, key_id(name, keypair.public_key), keypair.sign(text.encode("utf-8")))


def _check_note_text(text: object) -> str:
    if not isinstance(text, str):
        raise TypeError(f"a note text must be a str, not {type(text).__name__}")
    if not text.endswith("\n") or _has_control(text):
        raise ValueError("a note text ends in a newline and holds no control character but newline")
    text.encode("utf-8")
    return text


def _verifies(public_key: bytes, message: bytes, signature: bytes) -> bool:
    if len(signature) != SIGNATURE_SIZE:
        return False
    try:
        nacl.bindings.crypto_sign_open(signature + message, public_key)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.CryptoError, ValueError):
        return False
    return True


def verify_note(note: Note, verifiers: Iterable[VerifierKey]) -> tuple[VerifierKey, ...]:
    """The trusted keys whose signatures on ``note`` verify, each once, in signature order.

    Signatures from keys not in ``verifiers`` (by name and key id) are ignored. A trusted key's
    signature that fails raises ``proof-invalid``; so does a note no trusted key signed.
    """
    known = {(v.name, v.key_id): v for v in verifiers}
    message = note.text.encode("utf-8")
    verified: list[VerifierKey] = []
    for signature in note.signatures:
        verifier = known.get((signature.name, signature.key_id))
        if verifier is None:
            continue
        # Every line of a trusted key is checked, a repeated one too (FORMAT.md §14: a trusted
        # key's signature that fails rejects the note): a good first line does not excuse a bad one.
        if not _verifies(verifier.public_key, message, signature.signature):
            raise LedgerError(PROOF_INVALID, f"the signature of {signature.name} "
                                             f"(key id {signature.key_id.hex()}) does not verify")
        if verifier not in verified:
            verified.append(verifier)
    if not verified:
        raise LedgerError(PROOF_INVALID, "no key you trust signed the note")
    return tuple(verified)


# ---------------------------------------------------------------- checkpoints


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """The text of a tlog-checkpoint: origin, tree size, RFC 6962 root, extension lines."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.origin, str) or not self.origin or "\n" in self.origin or _has_control(self.origin):
            raise ValueError("a checkpoint origin is one non-empty line")
        if not isinstance(self.size, int) or isinstance(self.size, bool) or not 0 <= self.size <= TREE_SIZE_MAX:
            raise ValueError(f"a tree size is 0 .. 2**64 - 1, not {self.size!r}")
        if not isinstance(self.root, bytes) or len(self.root) != ROOT_SIZE:
            raise ValueError(f"a checkpoint root is {ROOT_SIZE} bytes")
        for line in self.extensions:
            if not isinstance(line, str) or not line or "\n" in line or _has_control(line):
                raise ValueError("an extension line is one non-empty line")

    def text(self) -> str:
        lines = [self.origin, str(self.size), _b64encode(self.root), *self.extensions]
        return "".join(line + "\n" for line in lines)


def parse_checkpoint(text: str) -> Checkpoint:
    """The checkpoint a note text holds, read strictly."""
    if not isinstance(text, str):
        raise TypeError(f"a checkpoint text must be a str, not {type(text).__name__}")
    if not text.endswith("\n"):
        raise _malformed("a checkpoint text ends in a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise _malformed("a checkpoint has at least three lines: origin, tree size, root hash")
    origin, size_text, root_text, *extensions = lines
    if not origin:
        raise _malformed("the checkpoint origin is empty")
    # Judged by its length first: int() of over 4,300 digits raises ValueError.
    if len(size_text) > len(str(TREE_SIZE_MAX)) or not _DECIMAL.fullmatch(size_text) or int(size_text) > TREE_SIZE_MAX:
        raise _malformed("the checkpoint tree size is not a decimal 0 .. 2**64 - 1 without leading zeros")
    root = _b64decode(root_text, "the checkpoint root hash")
    if len(root) != ROOT_SIZE:
        raise _malformed(f"the checkpoint root hash is not {ROOT_SIZE} bytes")
    if any(not line for line in extensions):
        raise _malformed("a checkpoint extension line is empty")
    return Checkpoint(origin, int(size_text), root, tuple(extensions))


def sign_checkpoint(checkpoint: Checkpoint, keypair: Keypair, name: str | None = None) -> Note:
    """The note of ``checkpoint`` signed by ``keypair`` under ``name`` (default: the origin,
    as tlog-checkpoint recommends and FORMAT.md §14 requires)."""
    name = checkpoint.origin if name is None else name
    text = checkpoint.text()
    return Note(text, (sign_note(text, name, keypair),))


def open_checkpoint(data: Text, verifiers: Iterable[VerifierKey]) -> tuple[Checkpoint, tuple[VerifierKey, ...]]:
    """Parse a checkpoint note, verify it with ``verifiers`` and read its text: the checkpoint and
    the keys that signed it. Raises as parse_note, verify_note and parse_checkpoint do."""
    note = parse_note(data)
    signers = verify_note(note, verifiers)
    return parse_checkpoint(note.text), signers


# ---------------------------------------------------------------- the block log


def default_origin(chain_id: bytes) -> str:
    """``ledger/`` and the chain id in lowercase hex (FORMAT.md §14)."""
    return ORIGIN_PREFIX + bytes(chain_id).hex()


def block_log_root(leaves: Sequence[bytes]) -> bytes:
    """The RFC 6962 (SHA-256) root over the block log's leaves (chain id, block hashes)."""
    return merkle.root(list(leaves), "sha256")


def make_checkpoint(leaves: Sequence[bytes], origin: str) -> Checkpoint:
    """The checkpoint of the block log whose leaves are ``leaves``."""
    return Checkpoint(origin, len(leaves), block_log_root(leaves))
