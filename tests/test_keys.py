"""Tests for ledger.keys: round trips, interop (PyNaCl, cryptography, openssl), strict rejections."""
from __future__ import annotations

import base64
import os
import pickle
import shutil
import stat
import subprocess
from pathlib import Path

import nacl.signing
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.keys import (
    KeyFormatError,
    Keypair,
    load_keypair,
    public_key_from_der,
    public_key_from_hex,
    public_key_from_pem,
    public_key_to_der,
    public_key_to_hex,
    public_key_to_pem,
    save_keypair,
)

# RFC 8410 section 10.3 example keys.
RFC8410_SEED = bytes.fromhex("d4ee72dbf913584ad5b6d8f1f769f8ad3afe7c28cbf1d4fbe097a88f44755842")
RFC8410_PUBLIC = bytes.fromhex("19bf44096984cdfe8541bac167dc3b96c85086aa30b6b6cb0c5c38ad703166e1")
RFC8410_PRIVATE_PEM = """-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC
-----END PRIVATE KEY-----
"""
RFC8410_PUBLIC_PEM = """-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=
-----END PUBLIC KEY-----
"""
# OneAsymmetricKey v2 with a friendlyName attribute and the public key.
RFC8410_PRIVATE_V2_PEM = """-----BEGIN PRIVATE KEY-----
MHICAQEwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC
oB8wHQYKKoZIhvcNAQkJFDEPDA1DdXJkbGUgQ2hhaXJzgSEAGb9ECWmEzf6FQbrB
Z9w7lshQhqowtrbLDFw4rXAxZuE=
-----END PRIVATE KEY-----
"""

# RFC 8032 section 7.1, TEST 2.
RFC8032_SEED = bytes.fromhex("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb")
RFC8032_PUBLIC = bytes.fromhex("3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c")
RFC8032_SIGNATURE = bytes.fromhex(
    "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
    "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"
)

SEED = bytes(range(32))
seeds = st.binary(min_size=32, max_size=32)


def _tlv(tag: int, contents: bytes) -> bytes:
    """Independent tiny DER encoder for building test inputs (short and long form lengths)."""
    n = len(contents)
    if n < 0x80:
        length = bytes([n])
    else:
        octets = n.to_bytes((n.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(octets)]) + octets
    return bytes([tag]) + length + contents


ALG = _tlv(0x30, _tlv(0x06, bytes.fromhex("2b6570")))


def _pkcs8(seed: bytes, *, version: int = 0, alg: bytes = ALG, extra: bytes = b"") -> bytes:
    return _tlv(0x30, _tlv(0x02, bytes([version])) + alg + _tlv(0x04, _tlv(0x04, seed)) + extra)


def _public_key_field(public_key: bytes) -> bytes:
    return _tlv(0x81, b"\x00" + public_key)


def _pem(label: str, der: bytes) -> str:
    return f"-----BEGIN {label}-----\n{base64.b64encode(der).decode()}\n-----END {label}-----\n"


# ---------------------------------------------------------------------------------- basics


def test_rfc8410_vectors() -> None:
    keypair = Keypair.from_pem(RFC8410_PRIVATE_PEM)
    assert keypair.seed == RFC8410_SEED
    assert keypair.public_key == RFC8410_PUBLIC
    assert keypair.to_pem() == RFC8410_PRIVATE_PEM
    assert keypair.public_pem() == RFC8410_PUBLIC_PEM
    assert public_key_from_pem(RFC8410_PUBLIC_PEM) == RFC8410_PUBLIC
    assert public_key_to_pem(RFC8410_PUBLIC) == RFC8410_PUBLIC_PEM


def test_rfc8410_v2_with_attributes_and_public_key_refused() -> None:
    # cryptography (>= 50) reads PKCS#8 v1 only: a OneAsymmetricKey v2, the one form that carries
    # a public key, is refused whole, so a public key that does not match its seed cannot load.
    with pytest.raises(KeyFormatError, match="not a PKCS#8 v1"):
        Keypair.from_pem(RFC8410_PRIVATE_V2_PEM)


def test_rfc8032_signature() -> None:
    keypair = Keypair.from_seed(RFC8032_SEED)
    assert keypair.public_key == RFC8032_PUBLIC
    assert keypair.sign(b"\x72") == RFC8032_SIGNATURE


def test_der_layout() -> None:
    keypair = Keypair.from_seed(SEED)
    assert keypair.to_der() == bytes.fromhex("302e020100300506032b657004220420") + SEED
    assert public_key_to_der(keypair.public_key) == bytes.fromhex("302a300506032b6570032100") + keypair.public_key
    assert keypair.public_der() == public_key_to_der(keypair.public_key)


def test_generate_is_random_and_consistent() -> None:
    a, b = Keypair.generate(), Keypair.generate()
    assert a != b
    assert len(a.seed) == 32 and len(a.public_key) == 32
    assert Keypair.from_seed(a.seed) == a
    assert Keypair.from_seed(a.seed).public_key == a.public_key


def test_round_trips() -> None:
    keypair = Keypair.from_seed(SEED)
    assert Keypair.from_hex(keypair.to_hex()) == keypair
    assert Keypair.from_pem(keypair.to_pem()) == keypair
    assert Keypair.from_pem(keypair.to_pem().encode()) == keypair
    assert Keypair.from_der(keypair.to_der()) == keypair
    assert Keypair.from_der(bytearray(keypair.to_der())) == keypair
    assert public_key_from_pem(keypair.public_pem()) == keypair.public_key
    assert public_key_from_der(public_key_to_der(keypair.public_key)) == keypair.public_key
    assert public_key_from_hex(public_key_to_hex(keypair.public_key)) == keypair.public_key


def test_hex_forms() -> None:
    keypair = Keypair.from_seed(SEED)
    assert keypair.to_hex() == SEED.hex()
    assert Keypair.from_hex(SEED.hex().upper()) == keypair
    assert Keypair.from_hex(f"  {SEED.hex()}\n") == keypair
    assert Keypair.from_hex(SEED.hex() + keypair.public_key.hex()) == keypair
    other = Keypair.from_seed(bytes(32))
    with pytest.raises(KeyFormatError, match="does not match"):
        Keypair.from_hex(SEED.hex() + other.public_key.hex())
    for bad in ["", "00" * 31, "00" * 33, "0" * 63, "zz" * 32, "00 " * 32, "0x" + "00" * 31, "00" * 64 + "00"]:
        with pytest.raises(KeyFormatError):
            Keypair.from_hex(bad)
    assert public_key_from_hex(keypair.public_key.hex().upper()) == keypair.public_key
    with pytest.raises(KeyFormatError):
        public_key_from_hex("00" * 31)


def test_seed_validation() -> None:
    for bad in [b"", bytes(31), bytes(33), bytes(64)]:
        with pytest.raises(KeyFormatError, match="32 bytes"):
            Keypair.from_seed(bad)
    with pytest.raises(KeyFormatError):
        Keypair.from_seed(SEED.hex())  # type: ignore[arg-type]
    with pytest.raises(KeyFormatError):
        public_key_to_pem(bytes(31))
    with pytest.raises(KeyFormatError):
        public_key_to_der(bytes(33))


def test_immutable_repr_pickle() -> None:
    keypair = Keypair.from_seed(SEED)
    with pytest.raises(AttributeError):
        keypair._seed = bytes(32)  # type: ignore[misc]
    with pytest.raises(AttributeError):
        keypair.seed = bytes(32)  # type: ignore[misc]
    assert SEED.hex() not in repr(keypair)
    assert keypair.public_key.hex() in repr(keypair)
    assert pickle.loads(pickle.dumps(keypair)) == keypair
    assert hash(Keypair.from_seed(SEED)) == hash(keypair)
    assert keypair != Keypair.from_seed(bytes(32))


def test_key_format_error_is_value_error() -> None:
    assert issubclass(KeyFormatError, ValueError)
    with pytest.raises(ValueError):
        Keypair.from_der(b"")


# ---------------------------------------------------------------------------------- PyNaCl


def test_pynacl_interop() -> None:
    signing_key = nacl.signing.SigningKey(SEED)
    keypair = Keypair.from_seed(SEED)
    assert keypair.public_key == bytes(signing_key.verify_key)
    for message in [b"", b"a", b"ledger" * 1000]:
        signature = keypair.sign(message)
        assert len(signature) == 64
        assert signature == signing_key.sign(message).signature
        assert signing_key.verify_key.verify(message, signature) == message


# ---------------------------------------------------------------------------------- cryptography


def test_cryptography_private_pem_to_ours() -> None:
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    der = private.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    raw = private.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    keypair = Keypair.from_pem(pem)
    assert keypair.seed == raw
    assert Keypair.from_der(der) == keypair
    assert keypair.public_key == private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    assert keypair.to_pem().encode() == pem
    assert keypair.to_der() == der


def test_our_private_pem_to_cryptography() -> None:
    keypair = Keypair.from_seed(SEED)
    private = serialization.load_pem_private_key(keypair.to_pem().encode(), password=None)
    assert isinstance(private, Ed25519PrivateKey)
    assert private.sign(b"msg") == keypair.sign(b"msg")
    private_der = serialization.load_der_private_key(keypair.to_der(), password=None)
    assert isinstance(private_der, Ed25519PrivateKey)
    assert private_der.private_bytes_raw() == SEED


def test_public_keys_with_cryptography() -> None:
    keypair = Keypair.from_seed(SEED)
    public = serialization.load_pem_public_key(keypair.public_pem().encode())
    assert isinstance(public, Ed25519PublicKey)
    public.verify(keypair.sign(b"msg"), b"msg")
    assert public.public_bytes_raw() == keypair.public_key

    theirs = Ed25519PrivateKey.generate().public_key()
    pem = theirs.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    der = theirs.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert public_key_from_pem(pem) == theirs.public_bytes_raw()
    assert public_key_from_der(der) == theirs.public_bytes_raw()
    assert public_key_to_pem(theirs.public_bytes_raw()).encode() == pem


# ---------------------------------------------------------------------------------- openssl

OPENSSL = shutil.which("openssl")
needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="openssl is not on PATH")


def _openssl(*args: str, input: bytes | None = None) -> bytes:
    assert OPENSSL is not None
    return subprocess.run([OPENSSL, *args], input=input, check=True, capture_output=True, timeout=60).stdout


@needs_openssl
def test_openssl_genpkey_to_ours(tmp_path: Path) -> None:
    key_file = tmp_path / "key.pem"
    _openssl("genpkey", "-algorithm", "ed25519", "-out", str(key_file))
    keypair = load_keypair(key_file)
    assert Keypair.from_pem(key_file.read_text()) == keypair
    public_pem = _openssl("pkey", "-in", str(key_file), "-pubout")
    assert public_key_from_pem(public_pem) == keypair.public_key
    assert keypair.public_pem().encode() == public_pem

    message = tmp_path / "message"
    message.write_bytes(b"ledger interop")
    signature = _openssl("pkeyutl", "-sign", "-inkey", str(key_file), "-rawin", "-in", str(message))
    assert signature == keypair.sign(b"ledger interop")


@needs_openssl
def test_ours_to_openssl(tmp_path: Path) -> None:
    keypair = Keypair.from_seed(SEED)
    key_file = tmp_path / "key.pem"
    save_keypair(key_file, keypair)
    public_pem = _openssl("pkey", "-in", str(key_file), "-pubout")
    assert public_key_from_pem(public_pem) == keypair.public_key
    # openssl re-encodes our key byte for byte.
    assert _openssl("pkey", "-in", str(key_file)).decode() == keypair.to_pem()
    # and it reads our public key PEM.
    pub_file = tmp_path / "pub.pem"
    pub_file.write_text(keypair.public_pem())
    assert _openssl("pkey", "-pubin", "-in", str(pub_file), "-pubout").decode() == keypair.public_pem()


# ---------------------------------------------------------------------------------- files


def test_save_and_load(tmp_path: Path) -> None:
    keypair = Keypair.from_seed(SEED)
    path = tmp_path / "node.key"
    path.write_text("old")
    path.chmod(0o644)
    save_keypair(path, keypair)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert path.read_text() == keypair.to_pem()
    assert load_keypair(path) == keypair
    assert load_keypair(str(path)) == keypair
    assert [p.name for p in tmp_path.iterdir()] == ["node.key"]  # no temporary left behind

    hex_path = tmp_path / "seed.hex"
    hex_path.write_text(SEED.hex() + "\n")
    assert load_keypair(hex_path) == keypair


def test_load_rejects_garbage(tmp_path: Path) -> None:
    for content in [b"", b"not a key\n", b"\xff" * 32, RFC8410_PUBLIC_PEM.encode()]:
        path = tmp_path / "bad.key"
        path.write_bytes(content)
        with pytest.raises(KeyFormatError):
            load_keypair(path)


# ---------------------------------------------------------------------------------- PEM parsing


def test_pem_tolerates_surrounding_text_and_crlf() -> None:
    text = "explanatory text\r\n" + RFC8410_PRIVATE_PEM.replace("\n", "\r\n") + "trailer\n"
    assert Keypair.from_pem(text).seed == RFC8410_SEED
    both = RFC8410_PUBLIC_PEM + RFC8410_PRIVATE_PEM
    assert Keypair.from_pem(both).seed == RFC8410_SEED
    assert public_key_from_pem(both) == RFC8410_PUBLIC


@pytest.mark.parametrize(
    "text",
    [
        "",
        "garbage",
        RFC8410_PUBLIC_PEM,  # wrong label
        RFC8410_PRIVATE_PEM.replace("END PRIVATE KEY", "END PUBLIC KEY"),  # mismatched END
        RFC8410_PRIVATE_PEM.replace("-----END PRIVATE KEY-----\n", ""),  # no END
        RFC8410_PRIVATE_PEM + RFC8410_PRIVATE_PEM,  # ambiguous
        RFC8410_PRIVATE_PEM.replace("MC4C", "MC4C!"),  # bad base64 character
        RFC8410_PRIVATE_PEM.replace("dVhC", "dVh"),  # bad base64 length
        RFC8410_PRIVATE_PEM.replace("PRIVATE KEY", "ENCRYPTED PRIVATE KEY"),
        "-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n",  # empty body
        "-----BEGIN PRIVATE KEY-----\né\n-----END PRIVATE KEY-----\n",
    ],
)
def test_bad_private_pem(text: str) -> None:
    with pytest.raises(KeyFormatError):
        Keypair.from_pem(text)


def test_non_canonical_base64_rejected() -> None:
    # The public key PEM ends in "E=": change the last data character so padding bits are set.
    text = RFC8410_PUBLIC_PEM.replace("ZuE=", "ZuF=")
    # cryptography's base64 decoder refuses it; the message no longer names base64.
    with pytest.raises(KeyFormatError, match="damaged"):
        public_key_from_pem(text)


def test_bad_public_pem() -> None:
    with pytest.raises(KeyFormatError):
        public_key_from_pem(RFC8410_PRIVATE_PEM)
    with pytest.raises(KeyFormatError):
        public_key_from_pem(b"\xff\xfe")
    with pytest.raises(KeyFormatError):
        public_key_from_pem(_pem("PUBLIC KEY", b"\x30\x00"))


# ---------------------------------------------------------------------------------- DER strictness


def test_hand_built_v1_accepted_v2_refused() -> None:
    public = Keypair.from_seed(SEED).public_key
    assert Keypair.from_der(_pkcs8(SEED)).seed == SEED
    attributes = _tlv(0xA0, _tlv(0x30, _tlv(0x06, b"\x2a\x03") + _tlv(0x31, _tlv(0x0C, b"x"))))
    assert Keypair.from_der(_pkcs8(SEED, extra=attributes)).seed == SEED
    assert Keypair.from_der(_pkcs8(SEED, extra=_tlv(0xA0, b""))).seed == SEED  # empty attribute set
    # v2 (RFC 5958), even with the matching public key: refused by cryptography, see above.
    for der in [_pkcs8(SEED, version=1), _pkcs8(SEED, version=1, extra=_public_key_field(public)),
                _pkcs8(SEED, version=1, extra=attributes + _public_key_field(public))]:
        with pytest.raises(KeyFormatError):
            Keypair.from_der(der)


@pytest.mark.parametrize(
    ("name", "der"),
    [
        ("empty", b""),
        ("truncated", _pkcs8(SEED)[:-1]),
        ("truncated header", _pkcs8(SEED)[:1]),
        ("trailing outer", _pkcs8(SEED) + b"\x00"),
        ("not a sequence", b"\x31" + _pkcs8(SEED)[1:]),
        ("version 2", _pkcs8(SEED, version=2)),
        ("version non-minimal", _tlv(0x30, _tlv(0x02, b"\x00\x00") + ALG + _tlv(0x04, _tlv(0x04, SEED)))),
        ("X25519 OID", _pkcs8(SEED, alg=_tlv(0x30, _tlv(0x06, bytes.fromhex("2b656e"))))),
        ("Ed448 OID", _pkcs8(SEED, alg=_tlv(0x30, _tlv(0x06, bytes.fromhex("2b6571"))))),
        ("rsa OID", _pkcs8(SEED, alg=_tlv(0x30, _tlv(0x06, bytes.fromhex("2a864886f70d010101")) + b"\x05\x00"))),
        ("NULL parameters", _pkcs8(SEED, alg=_tlv(0x30, _tlv(0x06, bytes.fromhex("2b6570")) + b"\x05\x00"))),
        ("seed 31", _pkcs8(SEED[:31])),
        ("seed 33", _pkcs8(SEED + b"\x00")),
        ("seed 64", _pkcs8(SEED + Keypair.from_seed(SEED).public_key)),
        ("unwrapped seed", _tlv(0x30, _tlv(0x02, b"\x00") + ALG + _tlv(0x04, SEED))),
        ("trailing in CurvePrivateKey", _tlv(0x30, _tlv(0x02, b"\x00") + ALG + _tlv(0x04, _tlv(0x04, SEED) + b"\x00"))),
        ("trailing inner", _pkcs8(SEED, extra=b"\x05\x00")),
        ("public key in v1", _pkcs8(SEED, extra=_public_key_field(Keypair.from_seed(SEED).public_key))),
        ("public key mismatch", _pkcs8(SEED, version=1, extra=_public_key_field(bytes(32)))),
        ("public key short", _pkcs8(SEED, version=1, extra=_tlv(0x81, b"\x00" + bytes(31)))),
        ("public key unused bits", _pkcs8(SEED, version=1, extra=_tlv(0x81, b"\x01" + bytes(32)))),
        ("public key before attributes", _pkcs8(SEED, version=1, extra=_public_key_field(bytes(32)) + _tlv(0xA0, b""))),
        ("bad attribute shape", _pkcs8(SEED, extra=_tlv(0xA0, b"\x05\x00"))),
        ("indefinite length", b"\x30\x80" + _pkcs8(SEED)[2:] + b"\x00\x00"),
        ("long-form short length", b"\x30\x81\x2e" + _pkcs8(SEED)[2:]),
        ("leading zero length", b"\x30\x82\x00\x2e" + _pkcs8(SEED)[2:]),
        ("huge length", b"\x30\x88" + b"\xff" * 8),
        ("high tag number", b"\x1f\x81\x00"),
    ],
)
def test_bad_private_der(name: str, der: bytes) -> None:
    with pytest.raises(KeyFormatError):
        Keypair.from_der(der)
    with pytest.raises(KeyFormatError):
        Keypair.from_pem(_pem("PRIVATE KEY", der))


def _spki(bits: bytes, alg: bytes = ALG) -> bytes:
    return _tlv(0x30, alg + _tlv(0x03, bits))


@pytest.mark.parametrize(
    ("name", "der"),
    [
        ("empty", b""),
        ("truncated", _spki(b"\x00" + bytes(32))[:-1]),
        ("trailing", _spki(b"\x00" + bytes(32)) + b"\x00"),
        ("short key", _spki(b"\x00" + bytes(31))),
        ("long key", _spki(b"\x00" + bytes(33))),
        ("unused bits", _spki(b"\x07" + bytes(32))),
        ("empty bit string", _spki(b"")),
        ("X25519 OID", _spki(b"\x00" + bytes(32), alg=_tlv(0x30, _tlv(0x06, bytes.fromhex("2b656e"))))),
        ("parameters", _spki(b"\x00" + bytes(32), alg=_tlv(0x30, _tlv(0x06, bytes.fromhex("2b6570")) + b"\x05\x00"))),
        ("octet string", _tlv(0x30, ALG + _tlv(0x04, b"\x00" + bytes(32)))),
        ("private key", _pkcs8(SEED)),
    ],
)
def test_bad_public_der(name: str, der: bytes) -> None:
    with pytest.raises(KeyFormatError):
        public_key_from_der(der)


def test_error_messages_are_single_sentences() -> None:
    with pytest.raises(KeyFormatError) as info:
        Keypair.from_der(_pkcs8(SEED, alg=_tlv(0x30, _tlv(0x06, bytes.fromhex("2b656e")))))
    message = str(info.value)
    assert "X25519" in message
    assert message.endswith(".") and "\n" not in message
    assert SEED.hex() not in message


# ---------------------------------------------------------------------------------- properties


@settings(max_examples=200, deadline=None)
@given(seed=seeds, message=st.binary(max_size=256))
def test_random_seeds(seed: bytes, message: bytes) -> None:
    keypair = Keypair.from_seed(seed)
    signing_key = nacl.signing.SigningKey(seed)
    assert keypair.public_key == bytes(signing_key.verify_key)
    assert keypair.sign(message) == signing_key.sign(message).signature
    assert Keypair.from_pem(keypair.to_pem()) == keypair
    assert Keypair.from_der(keypair.to_der()) == keypair
    assert Keypair.from_hex(keypair.to_hex()) == keypair
    assert Keypair.from_hex(keypair.to_hex() + keypair.public_key.hex()) == keypair
    assert public_key_from_pem(keypair.public_pem()) == keypair.public_key
    theirs = Ed25519PrivateKey.from_private_bytes(seed)
    assert (
        theirs.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        == keypair.to_der()
    )
    assert (
        theirs.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        == keypair.public_der()
    )


@settings(max_examples=500, deadline=None)
@given(data=st.binary(max_size=120))
def test_random_bytes_only_raise_key_format_error(data: bytes) -> None:
    try:
        Keypair.from_der(data)
    except KeyFormatError:
        pass
    try:
        public_key_from_der(data)
    except KeyFormatError:
        pass


@settings(max_examples=500, deadline=None)
@given(seed=seeds, index=st.integers(min_value=0, max_value=47), value=st.integers(min_value=0, max_value=255))
def test_mutated_header_rejected_or_seed_changed(seed: bytes, index: int, value: int) -> None:
    der = bytearray(Keypair.from_seed(seed).to_der())
    original = der[index]
    der[index] = value
    if index >= 16:  # inside the seed: any value is a valid, possibly different, key
        assert Keypair.from_der(bytes(der)).seed == bytes(der[16:])
    elif value != original:
        with pytest.raises(KeyFormatError):
            Keypair.from_der(bytes(der))
