"""C2SP signed notes and checkpoints (ledger/checkpoint.py, docs/FORMAT.md §14) against the
specifications' own examples (tests/vectors/c2sp.json, copied from /work/shared/specs/c2sp/):
each parses, the one whose key the spec gives verifies, and every tampered form fails."""
from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest

from ledger import merkle
from ledger.checkpoint import (
    NOTE_BYTES_MAX, SIGNATURES_MAX, Checkpoint, Note, Signature, VerifierKey, block_log_root, default_origin, key_id,
    make_checkpoint, open_checkpoint, parse_checkpoint, parse_note, sign_checkpoint, sign_note, verify_note,
)
from ledger.ed25519_ref import verify as reference_verify
from ledger.errors import LedgerError
from ledger.keys import Keypair

VECTORS = json.loads((Path(__file__).parent / "vectors" / "c2sp.json").read_text(encoding="utf-8"))
SPECS = Path("/work/shared/specs/c2sp")

FOO = VECTORS["signed_note_example_com_foo"]
QUASIMODO = VECTORS["signed_note_quasimodo"]["note"]
CHECKPOINT = VECTORS["tlog_checkpoint"]["note"]
COSIGNED = VECTORS["tlog_cosignature"]
WITNESS = VECTORS["tlog_witness_add_checkpoint"]

SIGNER = Keypair.from_seed(hashlib.sha256(b"checkpoint test signer").digest())
OTHER = Keypair.from_seed(hashlib.sha256(b"another signer").digest())


def code_of(call, *args) -> str:
    with pytest.raises(LedgerError) as raised:
        call(*args)
    return raised.value.code


def _indented(text: str) -> str:
    return "".join("    " + line if line.strip() else line for line in text.splitlines(True))


@pytest.mark.skipif(not SPECS.is_dir(), reason="the C2SP texts are not on this machine")
def test_vectors_are_the_specifications_own_text():
    signed_note = (SPECS / "signed-note.md").read_text(encoding="utf-8")
    assert f"```\n{QUASIMODO}```" in signed_note
    assert f"```\n{FOO['note']}```" in signed_note and f"    {FOO['verifier_key']}\n" in signed_note
    assert f"```\n{CHECKPOINT}```" in (SPECS / "tlog-checkpoint.md").read_text(encoding="utf-8")
    cosignature = (SPECS / "tlog-cosignature.md").read_text(encoding="utf-8")
    assert f"```\n{COSIGNED['note']}```" in cosignature and _indented(COSIGNED["signed_message"]) in cosignature
    witness = (SPECS / "tlog-witness.md").read_text(encoding="utf-8")
    assert _indented(WITNESS["old_part"] + "\n" + WITNESS["note"]) in witness
    assert _indented(WITNESS["response"]) in witness
    assert VECTORS["tlog_proof_checkpoint"]["note"] in (SPECS / "tlog-proof.md").read_text(encoding="utf-8")


# ---------------------------------------------------------------- the signed-note examples


def test_a_verifier_key_whose_base64_holds_a_plus_reads_back():
    key = next(VerifierKey("example.com/k", hashlib.sha256(b"%d" % i).digest()) for i in range(100)
               if "+" in VerifierKey("example.com/k", hashlib.sha256(b"%d" % i).digest()).to_string()[23:])
    assert VerifierKey.from_string(key.to_string()) == key


def test_the_example_verifier_key_reads_and_writes_back():
    key = VerifierKey.from_string(FOO["verifier_key"])
    assert key.name == "example.com/foo"
    assert key.key_id == bytes.fromhex("530d903a") == key_id("example.com/foo", key.public_key)
    assert key.to_string() == str(key) == FOO["verifier_key"]


def test_the_example_note_verifies_with_the_example_key():
    note = parse_note(FOO["note"])
    assert note.text == "This is an example message.\n"
    assert [(s.name, s.key_id.hex(), len(s.signature)) for s in note.signatures] == \
        [("example.com/foo", "530d903a", 64)]
    assert note.to_text() == FOO["note"] and note.to_bytes() == FOO["note"].encode("utf-8")
    key = VerifierKey.from_string(FOO["verifier_key"])
    assert verify_note(note, [key]) == (key,)
    assert verify_note(parse_note(FOO["note"].encode("utf-8")), [key]) == (key,)   # bytes read alike
    # the ledger's own pure-Python RFC 8032 verifier agrees with PyNaCl
    assert reference_verify(key.public_key, note.text.encode("utf-8"), note.signatures[0].signature)


def test_every_changed_character_of_the_example_text_fails():
    key = VerifierKey.from_string(FOO["verifier_key"])
    text, signatures = FOO["note"].split("\n\n")
    for i in range(len(text)):
        changed = text[:i] + chr(ord(text[i]) ^ 1) + text[i + 1:]
        assert code_of(verify_note, parse_note(changed + "\n\n" + signatures), [key]) == "proof-invalid", i
    assert code_of(verify_note, parse_note(text + " \n\n" + signatures), [key]) == "proof-invalid"


def test_every_changed_signature_byte_of_the_example_fails():
    key = VerifierKey.from_string(FOO["verifier_key"])
    note = parse_note(FOO["note"])
    signature = note.signatures[0]
    for i in range(len(signature.signature)):
        forged = bytearray(signature.signature)
        forged[i] ^= 0x20
        changed = Note(note.text, (Signature(signature.name, signature.key_id, bytes(forged)),))
        reparsed = parse_note(changed.to_text())
        assert code_of(verify_note, reparsed, [key]) == "proof-invalid", i


def test_a_changed_key_id_or_name_is_an_unknown_key_so_nothing_trusted_signed():
    key = VerifierKey.from_string(FOO["verifier_key"])
    note = parse_note(FOO["note"])
    signature = note.signatures[0]
    for other in (Signature(signature.name, b"\x53\x0d\x90\x3b", signature.signature),
                  Signature("example.com/bar", signature.key_id, signature.signature)):
        with pytest.raises(LedgerError) as raised:
            verify_note(parse_note(Note(note.text, (other,)).to_text()), [key])
        assert raised.value.code == "proof-invalid" and "no key you trust" in raised.value.message


def test_the_example_key_does_not_verify_the_quasimodo_note():
    note = parse_note(QUASIMODO)
    # the text keeps its own blank line: the signatures follow the last one
    assert note.text == "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned è subito sera.\n"
    assert [(s.name, s.key_id.hex()) for s in note.signatures] == [("quasimodo.example/salvatore", "367ba04b")]
    assert note.to_text() == QUASIMODO
    assert code_of(verify_note, note, [VerifierKey.from_string(FOO["verifier_key"])]) == "proof-invalid"
    # a key of the same name but another key id is another key: ignored, not failed
    same_name = VerifierKey("quasimodo.example/salvatore", SIGNER.public_key)
    with pytest.raises(LedgerError) as raised:
        verify_note(note, [same_name])
    assert "no key you trust" in raised.value.message


@pytest.mark.parametrize("text,why", [
    ("example.com/foo+530d903b+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k", "another key id"),
    ("example.com/foo+530D903A+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k", "upper-case hex"),
    ("example.com/fo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k", "another name"),
    ("example.com/foo+530d903a+BOkyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k", "signature type 0x04"),
    ("example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U", "a short key"),
    ("example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2l", "non-canonical base64"),
    ("example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k+", "a fourth part"),
    ("example.com/foo+530d903a+Aeky+eRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k", "a plus inside the key"),
    ("example.com/foo+530d903a", "two parts"),
    ("example com+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k", "a space in the name"),
    ("+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k", "an empty name"),
    ("example.com/foo+530d903+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k", "seven hex digits"),
])
def test_malformed_verifier_keys_are_refused(text, why):
    assert code_of(VerifierKey.from_string, text) == "bad-encoding", why


# ---------------------------------------------------------------- the checkpoint examples


def test_the_tlog_checkpoint_example_reads():
    note = parse_note(CHECKPOINT)
    checkpoint = parse_checkpoint(note.text)
    assert checkpoint.origin == "example.com/behind-the-sofa"
    assert checkpoint.size == 20852163
    assert checkpoint.root == base64.b64decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")
    assert checkpoint.extensions == ()
    assert checkpoint.text() == note.text and note.to_text() == CHECKPOINT
    # the log's key name is its origin, and the key id is 4 bytes of the signature
    assert [(s.name, s.key_id.hex(), len(s.signature)) for s in note.signatures] == \
        [("example.com/behind-the-sofa", "033de0ae", 64)]
    # its key is not published: a key of that name we hold is another key, so nothing verifies
    assert code_of(open_checkpoint, CHECKPOINT, [VerifierKey("example.com/behind-the-sofa", SIGNER.public_key)]) \
        == "proof-invalid"


def test_the_cosignature_example_reads_and_its_signed_message_is_the_note_text():
    note = parse_note(COSIGNED["note"])
    assert parse_checkpoint(note.text) == parse_checkpoint(parse_note(CHECKPOINT).text)
    log, witness = note.signatures
    assert (log.name, witness.name) == ("example.com/behind-the-sofa", "witness.example.com/w1")
    assert len(witness.signature) == 8 + 64    # timestamped_signature: u64 timestamp, Ed25519 signature
    timestamp = int.from_bytes(witness.signature[:8], "big")
    assert timestamp == 1679315147
    assert COSIGNED["signed_message"] == f"cosignature/v1\ntime {timestamp}\n" + note.text


def test_the_witness_example_checkpoint_and_response_read_together():
    note = parse_note(WITNESS["note"])
    assert [s.key_id.hex() for s in note.signatures] == ["033de0ae", "a292ea05"]   # one name, two keys
    # tlog-witness: "the client MAY concatenate [the response] to the checkpoint" and read one note
    joined = parse_note(WITNESS["note"] + WITNESS["response"])
    assert [s.name for s in joined.signatures] == ["example.com/behind-the-sofa"] * 2 + \
        ["witness.example/w1"] * 2 + ["witness.example/w2"]
    assert joined.text == note.text
    assert parse_checkpoint(note.text).size == 20852163 > int(WITNESS["old_part"].split("\n")[0].split(" ")[1])


def test_the_tlog_proof_example_with_elided_signatures_is_refused():
    assert code_of(parse_note, VECTORS["tlog_proof_checkpoint"]["note"]) == "bad-encoding"


# ---------------------------------------------------------------- our own notes


def test_sign_and_open_a_checkpoint():
    leaves = [hashlib.sha256(b"%d" % i).digest() for i in range(10)]
    checkpoint = make_checkpoint(leaves, "ledger/" + "ab" * 32)
    assert checkpoint.root == merkle.root(leaves, "sha256") == block_log_root(leaves) and checkpoint.size == 10
    note = sign_checkpoint(checkpoint, SIGNER)
    text = note.to_text()
    lines = text.split("\n")
    assert lines[:4] == [checkpoint.origin, "10", base64.b64encode(checkpoint.root).decode(), ""]
    assert lines[4].startswith("\u2014 " + checkpoint.origin + " ") and lines[5:] == [""]
    key = VerifierKey(checkpoint.origin, SIGNER.public_key)
    assert base64.b64decode(lines[4].split(" ")[2])[:4] == key.key_id == \
        hashlib.sha256(checkpoint.origin.encode() + b"\n\x01" + SIGNER.public_key).digest()[:4]
    assert open_checkpoint(text, [key]) == (checkpoint, (key,))
    assert open_checkpoint(text.encode("utf-8"), [VerifierKey.from_string(key.to_string())])[0] == checkpoint
    assert reference_verify(SIGNER.public_key, checkpoint.text().encode(), note.signatures[0].signature[:64])


def test_a_checkpoint_with_extension_lines_round_trips():
    checkpoint = Checkpoint("example.com/log", 0, hashlib.sha256(b"").digest(), ("ext one", "ext two"))
    note = sign_checkpoint(checkpoint, SIGNER)
    assert note.text.endswith("ext one\next two\n")
    key = VerifierKey("example.com/log", SIGNER.public_key)
    assert open_checkpoint(note.to_text(), [key])[0] == checkpoint


def test_a_failing_trusted_signature_rejects_the_note_even_beside_a_good_one():
    checkpoint = make_checkpoint([b"a", b"b"], "example.com/log")
    good = sign_checkpoint(checkpoint, SIGNER)
    bad = Signature("witness.example/w", key_id("witness.example/w", OTHER.public_key), bytes(64))
    note = Note(good.text, good.signatures + (bad,))
    trusted = [VerifierKey("example.com/log", SIGNER.public_key), VerifierKey("witness.example/w", OTHER.public_key)]
    assert code_of(verify_note, note, trusted) == "proof-invalid"
    assert verify_note(note, trusted[:1]) == (trusted[0],)   # the failing one is not trusted: ignored


def test_two_trusted_signers_and_a_repeated_line():
    text = make_checkpoint([b"a"], "example.com/log").text()
    first = sign_note(text, "example.com/log", SIGNER)
    second = sign_note(text, "witness.example/w", OTHER)
    note = parse_note(Note(text, (first, second, first)).to_text())
    trusted = [VerifierKey("witness.example/w", OTHER.public_key), VerifierKey("example.com/log", SIGNER.public_key)]
    assert verify_note(note, trusted) == (trusted[1], trusted[0])


def test_the_block_log_origin():
    assert default_origin(bytes(range(32))) == "ledger/" + bytes(range(32)).hex()


@pytest.mark.parametrize("name", ["", "a b", "a+b", "a\tb", "a\u00a0b", "a\nb"])
def test_signing_refuses_names_a_note_cannot_hold(name):
    with pytest.raises(ValueError):
        sign_note("text\n", name, SIGNER)


@pytest.mark.parametrize("text", ["no newline", "tab\there\n", "cr\r\n"])
def test_signing_refuses_texts_a_note_cannot_hold(text):
    with pytest.raises(ValueError):
        sign_note(text, "name", SIGNER)


# ---------------------------------------------------------------- strict reading

GOOD_LINE = FOO["note"].split("\n\n")[1]


@pytest.mark.parametrize("data,why", [
    ("text\n" + GOOD_LINE, "no blank line"),
    ("text\n\n", "no signature"),
    ("text\n\n" + GOOD_LINE[:-1], "no final newline"),
    ("text\n\n" + GOOD_LINE + "\n", "a blank line after the signatures is the separator, so no signature"),
    ("te\txt\n\n" + GOOD_LINE, "a tab"),
    ("text\r\n\n" + GOOD_LINE, "a carriage return"),
    (b"t\xffext\n\n" + GOOD_LINE.encode(), "not UTF-8"),
    ("text\n\n- example.com/foo AAAAAAA=\n", "a hyphen, not an em dash"),
    ("text\n\n\u2014example.com/foo AAAAAAA=\n", "no space after the dash"),
    ("text\n\n\u2014  AAAAAAA=\n", "an empty name"),
    ("text\n\n\u2014 a+b AAAAAAA=\n", "a plus in the name"),
    ("text\n\n\u2014 a\u00a0b AAAAAAA=\n", "a no-break space in the name"),
    ("text\n\n\u2014 name\n", "no signature after the name"),
    ("text\n\n\u2014 name \n", "an empty signature"),
    ("text\n\n\u2014 name AAAAAAA\n", "missing padding"),
    ("text\n\n\u2014 name AAAAAAB=\n", "non-zero padding bits"),
    ("text\n\n\u2014 name AAAAAA==\n", "four bytes: a key id without a signature"),
    ("text\n\n\u2014 name AAAA AAA=\n", "a space inside the base64"),
    ("text\n\n\u2014 name AAAAAAA=\n\u2014 other\n", "the second line is malformed"),
])
def test_malformed_notes_are_refused(data, why):
    assert code_of(parse_note, data) == "bad-encoding", why


def test_signature_count_limits():
    line = "\u2014 name AAAAAAA=\n"
    assert len(parse_note("text\n\n" + line * 16).signatures) == 16        # the spec's minimum
    assert len(parse_note("text\n\n" + line * SIGNATURES_MAX).signatures) == SIGNATURES_MAX
    assert code_of(parse_note, "text\n\n" + line * (SIGNATURES_MAX + 1)) == "limit-exceeded"


def test_size_limit():
    line = "\u2014 name AAAAAAA=\n"
    text = "x" * (NOTE_BYTES_MAX - len(line.encode()) - 2) + "\n\n"
    assert len(parse_note(text + line).to_bytes()) == NOTE_BYTES_MAX
    assert code_of(parse_note, "x" + text + line) == "limit-exceeded"


ROOT = base64.b64encode(bytes(32)).decode()


@pytest.mark.parametrize("text,why", [
    ("origin\n1\n", "two lines"),
    (f"\n1\n{ROOT}\n", "an empty origin"),
    (f"origin\n01\n{ROOT}\n", "a leading zero"),
    (f"origin\n-1\n{ROOT}\n", "a sign"),
    (f"origin\n+1\n{ROOT}\n", "a plus sign"),
    (f"origin\n 1\n{ROOT}\n", "a space"),
    (f"origin\n1.0\n{ROOT}\n", "not an integer"),
    (f"origin\n{2**64}\n{ROOT}\n", "over 2**64 - 1"),
    (f"origin\n\n{ROOT}\n", "an empty size"),
    ("origin\n1\nAAAA\n", "a 3-byte root"),
    (f"origin\n1\n{base64.b64encode(bytes(33)).decode()}\n", "a 33-byte root"),
    ("origin\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB=\n", "non-zero padding bits"),
    (f"origin\n1\n{ROOT}\n\nextension\n", "an empty extension line"),
    (f"origin\n1\n{ROOT}", "no final newline"),
])
def test_malformed_checkpoints_are_refused(text, why):
    assert code_of(parse_checkpoint, text) == "bad-encoding", why


def test_checkpoint_sizes_at_the_ends():
    assert parse_checkpoint(f"o\n0\n{ROOT}\n").size == 0
    assert parse_checkpoint(f"o\n{2**64 - 1}\n{ROOT}\n").size == 2**64 - 1
