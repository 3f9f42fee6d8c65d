"""The first-bad mode of the batch verifier (ledger/csrc/ed25519_batch.c, crypto.first_bad) and the
block validation paths that use it.

The oracle is the per-item verdict API (itself checked against single verification and PyNaCl in
test_ed25519_differential.py): first_bad must name exactly the first False it gives, for any mix of
bad items (a wrong message, a non-canonical S, an R off the curve, a wrong length), any split over
threads, and fixed or random coefficients. The cost (a hostile block about as costly as a valid
one) is shown by bench/hostile_block.py, not timed here.
"""
import dataclasses
import random

import pytest

from ledger import Ledger, LedgerError, _core, crypto, errors, signatures
from ledger.codec import encode_block
from ledger.keys import Keypair
from ledger.workload import Workload

L = 2 ** 252 + 27742317777372353535851937790883648493
KEYS = [Keypair.from_seed(bytes([i]) * 32) for i in range(24)]


def _batch(n: int, rng: random.Random):
    keys = [KEYS[rng.randrange(len(KEYS))] for _ in range(n)]
    messages = [rng.randbytes(rng.choice((0, 5, 32, 77))) for _ in range(n)]
    return [k.public_key for k in keys], messages, [k.sign(m) for k, m in zip(keys, messages)]


def _spoil(signature: bytes, kind: str, rng: random.Random) -> bytes:
    if kind == "message":        # a well-formed signature of something else
        return KEYS[0].sign(rng.randbytes(8))
    if kind == "s-not-canonical":
        return signature[:32] + (int.from_bytes(signature[32:], "little") + L).to_bytes(32, "little")
    if kind == "r-off-curve":    # y = 2 names no point on the curve
        return (2).to_bytes(32, "little") + signature[32:]
    if kind == "short":
        return signature[:63]
    raise AssertionError(kind)


@pytest.mark.parametrize("seed", range(12))
def test_first_bad_names_the_first_failing_verdict(seed):
    rng = random.Random(seed)
    for n in (0, 1, 2, 3, 4, 5, 9, 31, 64, 100, 257):
        public_keys, messages, sigs = _batch(n, rng)
        bad_count = rng.choice((0, 1, 2, n // 3, n))
        for position in rng.sample(range(n), min(bad_count, n)):
            sigs[position] = _spoil(sigs[position], rng.choice(("message", "message", "s-not-canonical",
                                                                "r-off-curve", "short")), rng)
        verdicts = crypto.verify_batch(public_keys, messages, sigs, threads=1)
        expected = verdicts.index(False) if False in verdicts else None
        for threads in (1, 2, 3, 4):
            assert crypto.first_bad(public_keys, messages, sigs, threads) == expected, (n, threads)
        coefficients = rng.randbytes(16 * n)
        assert _core.ed25519_first_bad(public_keys, messages, sigs, 2, coefficients) == expected


def test_first_bad_over_records_and_until_first_bad_shape():
    rng = random.Random(7)
    public_keys, _, _ = _batch(300, rng)
    messages = [rng.randbytes(32) for _ in range(300)]
    sigs = [KEYS[[k.public_key for k in KEYS].index(pk)].sign(m) for pk, m in zip(public_keys, messages)]
    records, size = crypto.pack_records(public_keys, messages, sigs)
    assert crypto.first_bad_record(records, size, threads=2) is None
    assert signatures.verdicts_until_first_bad(records, threads=2) == [True] * 300
    for position in (0, 1, 150, 299):
        spoiled = list(sigs)
        spoiled[position] = _spoil(spoiled[position], "message", rng)
        spoiled[-1] = _spoil(spoiled[-1], "message", rng)
        records, size = crypto.pack_records(public_keys, messages, spoiled)
        assert crypto.first_bad_record(records, size, threads=3) == position
        verdicts = signatures.verdicts_until_first_bad(records, threads=3)
        assert verdicts == [True] * position + [False] + [None] * (299 - position)


# ------------------------------------------------------------------ the validation paths

@pytest.fixture
def hostile_chain():
    """Five valid blocks of a synthetic chain, then block 3 with bad signatures at 7 and 20."""
    workload = Workload.make(11, 40)
    blocks = list(workload.blocks(5, 40))
    block = blocks[2]
    txs = list(block.transactions)
    for index in (7, 20, 30):
        txs[index] = dataclasses.replace(txs[index], signature=KEYS[1].sign(txs[index].txid))
    blocks[2] = dataclasses.replace(block, transactions=tuple(txs))
    return workload.genesis, [encode_block(b) for b in blocks]


@pytest.fixture
def no_per_item_verdicts(monkeypatch):
    """Validation must not ask for a verdict per signature (bisecting every bad one)."""
    def refuse(*args, **kwargs):
        raise AssertionError("block validation asked for per-signature verdicts")
    monkeypatch.setattr(crypto, "verify_records", refuse)
    monkeypatch.setattr(crypto, "verify_batch", refuse)


def test_import_stops_at_the_first_bad_signature(tmp_path, hostile_chain, no_per_item_verdicts):
    genesis, encoded = hostile_chain
    with Ledger.create(tmp_path / "db", genesis) as book:
        with pytest.raises(LedgerError) as caught:
            book.import_blocks(enumerate(encoded, 1), threads=2)
        assert (caught.value.code, caught.value.height, caught.value.index) == (errors.BAD_TX_SIGNATURE, 3, 7)
        assert book.height == 2


def test_append_stops_at_the_first_bad_signature(tmp_path, hostile_chain, no_per_item_verdicts):
    genesis, encoded = hostile_chain
    with Ledger.create(tmp_path / "db", genesis) as book:
        book.append(encoded[0])
        book.append(encoded[1])
        with pytest.raises(LedgerError) as caught:
            book.append(encoded[2])
        assert (caught.value.code, caught.value.height, caught.value.index) == (errors.BAD_TX_SIGNATURE, 3, 7)


def test_blocks_after_the_first_bad_one_in_a_batch_are_verified_on_their_own(tmp_path, hostile_chain):
    # The pipeline batches several blocks (how many depends on timing); a batch's verdicts stop at
    # its first bad signature, and a later block of that batch gets none (validate.check_block
    # then verifies it itself), never undecided entries that could be read as verdicts.
    from ledger.pipeline import Pipeline
    genesis, encoded = hostile_chain
    with Pipeline(enumerate(encoded, 1), signatures_per_batch=10_000, version=genesis.version) as stream:
        items = list(stream)
    assert [item.height for item in items] == [1, 2, 3, 4, 5]
    assert all(item.verdicts == [True] * 41 for item in items[:2])
    assert items[2].verdicts[:9] == [True] * 8 + [False]   # the header's record comes first
    assert all(item.verdicts is None or item.verdicts == [True] * 41 for item in items[3:])
