"""`ledger import --assume-valid BLOCK_HASH`: signatures up to the named block are taken on trust,
if and only if it is on the imported chain; every other rule is still checked."""
from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from ledger import Ledger, LedgerError
from ledger.assume_valid import AssumedValid, locate
from ledger.builder import BlockBuilder, sign_header, sign_transaction
from ledger.chainfile import ChainReader, ChainWriter
from ledger.codec import Block, Transfer, encode_block, encode_genesis
from ledger.errors import BAD_BLOCK_SIGNATURE, BAD_CHAIN_FILE, BAD_NONCE, BAD_TX_SIGNATURE
from ledger import merkle
from ledger.state import MemoryState
from ledger.validate import Chain
from ledger.workload import Workload
from ledger_cli.main import cli

SEED = 77
BLOCKS = 6
TXS = 8


def _world():
    workload = Workload.make(SEED, 5)
    blocks = [encode_block(block) for block in workload.blocks(BLOCKS, TXS)]
    return workload, blocks


@pytest.fixture(scope="module")
def world():
    return _world()


def _hash(data: bytes) -> bytes:
    from ledger.codec import decode_block
    return decode_block(data).hash


def _bad_tx_signature(data: bytes) -> bytes:
    """The last byte of a block is the last byte of its last transaction's signature: flipping it
    changes no id, no root and no hash, so the chain still links."""
    return data[:-1] + bytes([data[-1] ^ 0x01])


def _write(path: Path, genesis: bytes, blocks: list[bytes]) -> Path:
    with ChainWriter(path, genesis) as writer:
        for data in blocks:
            writer.write_block(data)
    return path


def _import(tmp_path: Path, workload, blocks: list[bytes], assume_valid: bytes | None):
    tmp_path.mkdir(parents=True, exist_ok=True)
    chain_file = _write(tmp_path / "chain.ledger", encode_genesis(workload.genesis), blocks)
    notes: list[str] = []
    book = Ledger.create(tmp_path / "db", workload.genesis)
    try:
        result = book.import_chain(chain_file, assume_valid=assume_valid, note=notes.append)
        return book, result, notes
    except LedgerError as error:
        error.height_stored = book.height
        book.close()
        raise


def test_bad_signature_below_the_assumed_block_imports(world, tmp_path):
    workload, blocks = world
    tampered = list(blocks)
    tampered[1] = _bad_tx_signature(blocks[1])
    book, result, notes = _import(tmp_path, workload, tampered, assume_valid=_hash(blocks[3]))
    with book:
        assert book.height == BLOCKS
        assert result.assumed_valid_height == 4
    assert len(notes) == 1 and "1..4" in notes[0] and "not verified" in notes[0]


def test_the_same_chain_without_assume_valid_is_refused(world, tmp_path):
    workload, blocks = world
    tampered = list(blocks)
    tampered[1] = _bad_tx_signature(blocks[1])
    with pytest.raises(LedgerError) as caught:
        _import(tmp_path, workload, tampered, assume_valid=None)
    assert (caught.value.code, caught.value.height, caught.value.height_stored) == (BAD_TX_SIGNATURE, 2, 1)


def test_bad_signature_above_the_assumed_block_is_refused(world, tmp_path):
    workload, blocks = world
    tampered = list(blocks)
    tampered[4] = _bad_tx_signature(blocks[4])
    with pytest.raises(LedgerError) as caught:
        _import(tmp_path, workload, tampered, assume_valid=_hash(blocks[3]))
    assert (caught.value.code, caught.value.height, caught.value.height_stored) == (BAD_TX_SIGNATURE, 5, 4)


@pytest.mark.parametrize("which", ["unknown", "tampered-block"])
def test_a_hash_not_on_the_chain_verifies_everything(world, tmp_path, which):
    workload, blocks = world
    tampered = list(blocks)
    tampered[1] = _bad_tx_signature(blocks[1])
    # A hash of no block at all, or of a block the file does not hold (block 4 of another chain).
    other = Workload.make(SEED + 1, 5)
    wrong = bytes(32) if which == "unknown" else next(b for b in other.blocks(4, TXS) if b.height == 4).hash
    with pytest.raises(LedgerError) as caught:
        _import(tmp_path, workload, tampered, assume_valid=wrong)
    assert (caught.value.code, caught.value.height) == (BAD_TX_SIGNATURE, 2)


def test_note_when_not_found(world, tmp_path):
    workload, blocks = world
    book, result, notes = _import(tmp_path, workload, blocks, assume_valid=bytes(32))
    with book:
        assert result.assumed_valid_height == 0 and book.height == BLOCKS
    assert len(notes) == 1 and "not on the chain" in notes[0] and "every signature is verified" in notes[0]


def test_bad_header_signature_below_is_trusted_too(world, tmp_path):
    workload, blocks = world
    tampered = list(blocks)
    # The header's signature is not part of the block hash: replace it and the chain still links.
    from ledger.codec import decode_block
    block = decode_block(blocks[2])
    block.header.signature = bytes(64)
    tampered[2] = encode_block(block)
    assert _hash(tampered[2]) == _hash(blocks[2])
    with pytest.raises(LedgerError) as caught:
        _import(tmp_path / "verified", workload, tampered, assume_valid=None)
    assert caught.value.code == BAD_BLOCK_SIGNATURE
    book, result, _notes = _import(tmp_path, workload, tampered, assume_valid=_hash(blocks[5]))
    with book:
        assert book.height == BLOCKS and result.assumed_valid_height == BLOCKS


def _chain_with_bad_nonce(workload, bad_height: int, total: int) -> list[bytes]:
    """Blocks 1..total where block `bad_height` holds a properly signed transaction whose nonce
    skips one; every later block links to it, so the assumed block above it is its descendant."""
    chain = Chain.from_genesis(workload.genesis)
    state = MemoryState(workload.genesis, track_transactions=False)
    tip = chain.genesis_tip()
    proposer = workload.validators[0]
    sender, receiver = workload.accounts[0], workload.accounts[1]
    out = []
    for height in range(1, total + 1):
        if height == bad_height:
            nonce = state.account(sender.public_key).nonce + 2
            tx = sign_transaction(sender, chain.chain_id, nonce, Transfer(receiver.public_key, 1))
            header = sign_header(proposer, chain.chain_id, height, tip.hash, tip.time_ms + 1, 1,
                                 merkle.root([tx.txid]), bytes(32), version=chain.version,
                                 history_root=b"" if tip.history is None else tip.history.root())
            block = Block(header, (tx,))
            tip = tip.after(height, header.hash, header.time_ms, header.state_commitment)
        else:
            builder = BlockBuilder(chain, tip, state, proposer)
            builder.transaction(sender, Transfer(receiver.public_key, 1))
            block = builder.build(tip.time_ms + 1)
            state.apply(builder.changes)
            tip = builder.tip_after(block)
        out.append(encode_block(block))
    return out


def test_every_other_rule_is_enforced_below_the_assumed_block(world, tmp_path):
    workload, _blocks = world
    blocks = _chain_with_bad_nonce(workload, bad_height=2, total=5)
    with pytest.raises(LedgerError) as caught:
        _import(tmp_path, workload, blocks, assume_valid=_hash(blocks[3]))
    # Refused where the nonce is wrong; blocks 1 (stored without signature checks) is not kept,
    # since no checkpoint of the first pass covers it.
    assert (caught.value.code, caught.value.height, caught.value.height_stored) == (BAD_NONCE, 2, 0)


def test_a_file_changed_between_the_passes_stores_nothing_unverified(world, tmp_path):
    """The importer commits unverified blocks only up to a checkpoint whose hash it matched: give
    it a first pass that read another block 4 than the one it meets."""
    workload, blocks = world
    tampered = list(blocks)
    tampered[1] = _bad_tx_signature(blocks[1])
    other = Workload.make(SEED + 1, 5)
    foreign = next(b for b in other.blocks(4, TXS) if b.height == 4).hash
    with Ledger.create(tmp_path / "db", workload.genesis) as book:
        with pytest.raises(LedgerError) as caught:
            book.import_blocks(enumerate(tampered, start=1), assume_valid=AssumedValid(4, foreign, {4: foreign}))
        assert (caught.value.code, caught.value.height) == (BAD_CHAIN_FILE, 4)
        assert book.height == 0
    with Ledger.create(tmp_path / "db2", workload.genesis) as book:
        # The file ends before the assumed block: nothing of it was confirmed, nothing is kept.
        with pytest.raises(LedgerError) as caught:
            book.import_blocks(enumerate(tampered[:3], start=1),
                               assume_valid=AssumedValid(4, _hash(blocks[3]), {4: _hash(blocks[3])}))
        assert caught.value.code == BAD_CHAIN_FILE
        assert book.height == 0


def test_first_pass_checkpoints_and_links(world):
    workload, blocks = world
    genesis = encode_genesis(workload.genesis)
    buffer = io.BytesIO()
    _write_stream(buffer, genesis, blocks)
    buffer.seek(0)
    reader = ChainReader(buffer)
    start = buffer.tell()
    lookup = locate(buffer, _hash(blocks[4]), workload.genesis.chain_id, checkpoint_blocks=2,
                    version=workload.genesis.version)
    assert buffer.tell() == start
    assert lookup.assumed.height == 5
    assert lookup.assumed.checkpoints == {2: _hash(blocks[1]), 4: _hash(blocks[3]), 5: _hash(blocks[4])}
    # A block that does not link ends the chain the first pass accepts: block 5 is then not on it.
    broken = list(blocks)
    broken[2] = blocks[3]
    buffer = io.BytesIO()
    _write_stream(buffer, genesis, broken)
    buffer.seek(0)
    ChainReader(buffer)
    assert locate(buffer, _hash(blocks[4]), workload.genesis.chain_id,
                  version=workload.genesis.version).assumed is None
    assert list(reader.blocks()) == [(i + 1, data) for i, data in enumerate(blocks)]


def _write_stream(buffer, genesis: bytes, blocks: list[bytes]) -> None:
    import struct
    from ledger.chainfile import MAGIC
    buffer.write(MAGIC + struct.pack(">H", 1) + struct.pack(">I", len(genesis)) + genesis)
    for data in blocks:
        buffer.write(struct.pack(">I", len(data)) + data)


def test_cli_assume_valid(world, tmp_path):
    workload, blocks = world
    tampered = list(blocks)
    tampered[1] = _bad_tx_signature(blocks[1])
    chain_file = _write(tmp_path / "chain.ledger", encode_genesis(workload.genesis), tampered)
    runner = CliRunner()
    result = runner.invoke(cli, ["import", str(chain_file), "--db", str(tmp_path / "a"),
                                 "--assume-valid", _hash(blocks[3]).hex()])
    assert result.exit_code == 0, result.output
    assert "signatures of blocks 1..4" in result.stderr
    refused = runner.invoke(cli, ["import", str(chain_file), "--db", str(tmp_path / "b")])
    assert refused.exit_code == 1 and "bad-tx-signature" in refused.stderr
    usage = runner.invoke(cli, ["import", str(chain_file), "--db", str(tmp_path / "c"), "--assume-valid", "xyz"])
    assert usage.exit_code == 2
    assert "--assume-valid" in runner.invoke(cli, ["import", "--help"]).output


def test_cli_pipe_verifies_everything(world, tmp_path):
    workload, blocks = world
    tampered = list(blocks)
    tampered[1] = _bad_tx_signature(blocks[1])
    chain_file = _write(tmp_path / "chain.ledger", encode_genesis(workload.genesis), tampered)
    command = f"cat {chain_file} | {sys.executable} -m ledger_cli.main import - --db {tmp_path / 'db'} " \
              f"--assume-valid {_hash(blocks[3]).hex()}"
    done = subprocess.run(["bash", "-c", command], capture_output=True, text=True)
    assert done.returncode == 1, done.stderr
    assert "cannot be read twice" in done.stderr and "bad-tx-signature" in done.stderr


def test_api_refuses_a_hash_of_the_wrong_type_or_size(world, tmp_path):
    workload, blocks = world
    chain_file = _write(tmp_path / "chain.ledger", encode_genesis(workload.genesis), blocks)
    with Ledger.create(tmp_path / "db", workload.genesis) as book:
        with pytest.raises(TypeError):
            book.import_chain(chain_file, assume_valid=_hash(blocks[0]).hex())
        with pytest.raises(ValueError):
            book.import_chain(chain_file, assume_valid=b"short")
        assert book.height == 0


def test_a_group_cut_short_writes_back_only_the_kept_blocks_accounts(world, tmp_path):
    """Blocks 1-2 end at a matched checkpoint, block 3 is accepted unverified past it, block 4
    breaks a rule: 1-2 are kept, 3 is dropped, and the accounts stored must be those after block 2
    (the native account cache already holds block 3's changes; they must not be written)."""
    from ledger.codec import decode_block
    workload, blocks = world
    other = Workload.make(SEED + 1, 5)
    tampered = list(blocks)
    tampered[3] = encode_block(next(b for b in other.blocks(4, TXS) if b.height == 4))   # another chain
    assumed = AssumedValid(5, _hash(blocks[4]), {2: _hash(blocks[1]), 5: _hash(blocks[4])})
    with Ledger.create(tmp_path / "db", workload.genesis) as book:
        with pytest.raises(LedgerError) as caught:
            book.import_blocks(enumerate(tampered[:5], start=1), assume_valid=assumed)
        assert caught.value.height == 4
        assert book.height == 2
        keys = {key for key, _ in workload.genesis.balances}
        for data in blocks[:3]:
            for tx in decode_block(data).transactions:
                keys.update({tx.sender, tx.body.to} if hasattr(tx.body, "to") else {tx.sender})
        stored = {key: (book.account(key).balance, book.account(key).nonce) for key in keys}
    with Ledger.create(tmp_path / "reference", workload.genesis) as reference:
        reference.import_blocks(enumerate(blocks[:2], start=1))
        expected = {key: (reference.account(key).balance, reference.account(key).nonce) for key in keys}
    assert stored == expected
