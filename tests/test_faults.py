"""Faults of the environment and misuse of the API: each is one line and an exit status from the
CLI (never a traceback), and one clear exception at the wrong call from the API (issue 7, "Faults
get one line and an exit code").

CLI exit status: 0 ok, 1 invalid data, 2 usage, 3 environment fault, 130 interrupted.

File-system faults are made real: a small tmpfs is mounted (full, or remounted read-only) for a
test and unmounted after; those tests are skipped, with the reason, where mounting is not allowed
(they need root; CI runs as root).
"""
from __future__ import annotations

import errno
import json
import os
import pty
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import lmdb
import pytest

from ledger import Ledger, Mint, Record, Transfer, sign_transaction
from ledger.chainfile import ChainWriter
from ledger.codec import encode_genesis
from ledger.errors import (
    ALREADY_OPEN, DISK_FULL, NOT_A_STORE, READ_ONLY, STORE_LOCKED, EnvironmentFault, LedgerError,
)
from ledger.workload import generate_chain_file

ROOT = Path(__file__).resolve().parent.parent
BLOCKS = 20
TXS = 200          # a store of about 1.4 MB: more than the 1 MiB tmpfs of the disk-full tests
ACCOUNTS = 100
SEED = 7
TIMEOUT_S = 120

EXIT_INVALID, EXIT_USAGE, EXIT_ENVIRONMENT, EXIT_INTERRUPTED = 1, 2, 3, 130


# ---------------------------------------------------------------- helpers


def _env() -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("LEDGER_DB", None)
    return env


def ledger_command(*args: object) -> list[str]:
    return [sys.executable, "-m", "ledger_cli.main", *map(str, args)]


def run(*args: object, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(ledger_command(*args), input=stdin, capture_output=True, env=_env(), timeout=TIMEOUT_S)


def one_line(result: subprocess.CompletedProcess, status: int, code: str) -> str:
    """The CLI failed with exactly one line on stderr naming `code`, exit `status`, no traceback."""
    stderr = result.stderr.decode(errors="replace")
    assert result.returncode == status, (result.returncode, stderr)
    assert "Traceback" not in stderr, stderr
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert code in lines[0], stderr
    return lines[0]


def fill(folder: Path) -> None:
    """Write a file until the file system holding `folder` is full."""
    fd = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError as error:
        assert error.errno == errno.ENOSPC
    finally:
        os.close(fd)


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    root = tmp_path_factory.mktemp("faults")
    path = root / "chain.ledger"
    workload = generate_chain_file(path, BLOCKS, TXS, ACCOUNTS, SEED)
    store = root / "store"
    with Ledger.create(store, workload.genesis) as book:
        book.import_chain(path)
        tx = book.block(3).transactions[0]
        record = next(t for height in range(1, BLOCKS + 1) for t in book.block(height).transactions
                      if isinstance(t.body, Record))
    return {"path": path, "workload": workload, "store": store, "tx": tx, "record": record}


@pytest.fixture
def store(chain, tmp_path) -> Path:
    """A private copy of the module's store."""
    copy = tmp_path / "db"
    shutil.copytree(chain["store"], copy)
    return copy


@pytest.fixture
def tmpfs(tmp_path):
    """mount(size) -> a fresh tmpfs of that size; unmounted after the test."""
    mounted: list[Path] = []
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root and mount(8) (CI runs as root)")

    def mount(size: str) -> Path:
        point = tmp_path / f"tmpfs{len(mounted)}"
        point.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(point)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"mounting a tmpfs is not permitted here: {done.stderr.strip()}")
        mounted.append(point)
        return point

    yield mount
    for point in reversed(mounted):
        if subprocess.run(["umount", str(point)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(point)], capture_output=True)


def remount_read_only(point: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(point)], check=True, capture_output=True)


# ---------------------------------------------------------------- disk full


def test_import_on_a_full_disk_is_one_line_and_keeps_a_valid_store(chain, tmpfs):
    point = tmpfs("1M")
    result = run("import", chain["path"], "--db", point / "db")
    one_line(result, EXIT_ENVIRONMENT, DISK_FULL)
    # What was committed before the disk filled is a whole, valid prefix of the chain.
    with Ledger.open(point / "db", read_only=True) as book:
        assert book.height < BLOCKS
        if book.height:
            book.validate()


def test_creating_a_store_on_a_full_file_system_is_an_error_not_sigbus(chain, tmpfs):
    point = tmpfs("1M")
    fill(point)
    one_line(run("import", chain["path"], "--db", point / "db"), EXIT_ENVIRONMENT, DISK_FULL)
    genesis = point.parent / "genesis.bin"
    genesis.write_bytes(encode_genesis(chain["workload"].genesis))
    one_line(run("init", "--genesis", genesis, "--db", point / "db2"), EXIT_ENVIRONMENT, DISK_FULL)
    with pytest.raises(EnvironmentFault) as caught:
        Ledger.create(point / "db3", chain["workload"].genesis)
    assert caught.value.code == DISK_FULL


def test_export_on_a_full_disk_leaves_no_partial_file(store, tmpfs):
    point = tmpfs("256K")
    target = point / "out.ledger"
    target.write_bytes(b"an earlier export")
    result = run("export", "--db", store, "--out", target)
    one_line(result, EXIT_ENVIRONMENT, DISK_FULL)
    assert sorted(os.listdir(point)) == ["out.ledger"]            # no temporary file left
    assert target.read_bytes() == b"an earlier export"            # the old file is untouched


def test_export_is_whole_and_leaves_no_temporary_file(chain, store, tmp_path):
    out = tmp_path / "out" / "exported.ledger"
    out.parent.mkdir()
    result = run("export", "--db", store, "--out", out)
    assert result.returncode == 0, result.stderr
    assert out.read_bytes() == chain["path"].read_bytes()
    assert os.listdir(out.parent) == ["exported.ledger"]


def test_chain_writer_abort_keeps_the_target(tmp_path):
    target = tmp_path / "chain.ledger"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with ChainWriter(target, b"genesis") as writer:
            writer.write_block(b"block")
            raise RuntimeError("stop")
    assert target.read_bytes() == b"old" and os.listdir(tmp_path) == ["chain.ledger"]


# ---------------------------------------------------------------- read-only media


def test_a_store_on_read_only_media_can_be_read(chain, tmpfs, tmp_path):
    point = tmpfs("8M")
    shutil.copytree(chain["store"], point / "db", ignore=shutil.ignore_patterns("lock.mdb", "writer.lock"))
    remount_read_only(point)
    db = point / "db"
    tx = chain["tx"]
    for extra in ([], ["--read-only"]):       # detected by itself, or asked for
        result = run("info", "--db", db, "--json", *extra)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["height"] == BLOCKS
        for command in (["validate"], ["block", "3"], ["tx", tx.txid.hex()], ["account", tx.sender.hex()],
                        ["proof", tx.txid.hex()], ["export", "--out", tmp_path / f"out{len(extra)}.ledger"],
                        ["record", chain["record"].sender.hex(), chain["record"].body.key.hex(), "--hex-key"]):
            result = run(*command, "--db", db, *extra)
            assert result.returncode == 0, (command, result.stderr)
        assert (tmp_path / f"out{len(extra)}.ledger").read_bytes() == chain["path"].read_bytes()
    # writing is refused in one line
    one_line(run("import", chain["path"], "--db", db), EXIT_ENVIRONMENT, READ_ONLY)
    with Ledger.open(db) as book:
        assert book.read_only and book.height == BLOCKS


def test_read_only_open_uses_no_lock_file_and_refuses_writes(chain, store):
    (store / "lock.mdb").unlink()
    (store / "writer.lock").unlink(missing_ok=True)
    with Ledger.open(store, read_only=True) as book:
        assert book.height == BLOCKS
        assert book.validate().blocks == BLOCKS
        with pytest.raises(EnvironmentFault) as caught:
            book.import_chain(chain["path"])
        assert caught.value.code == READ_ONLY
    assert not (store / "lock.mdb").exists()
    assert not (store / "writer.lock").exists()


# ---------------------------------------------------------------- not a store


def test_data_mdb_that_is_not_lmdb(tmp_path, chain):
    db = tmp_path / "db"
    db.mkdir()
    (db / "data.mdb").write_bytes(b"not an LMDB file" * 1000)
    one_line(run("info", "--db", db), EXIT_ENVIRONMENT, NOT_A_STORE)
    one_line(run("import", chain["path"], "--db", db), EXIT_ENVIRONMENT, NOT_A_STORE)
    with pytest.raises(EnvironmentFault) as caught:
        Ledger.open(db)
    assert caught.value.code == NOT_A_STORE


def test_import_refuses_a_folder_that_is_not_empty(tmp_path, chain):
    db = tmp_path / "photos"
    db.mkdir()
    (db / "holiday.jpg").write_bytes(b"\xff\xd8")
    one_line(run("import", chain["path"], "--db", db), EXIT_ENVIRONMENT, NOT_A_STORE)
    assert os.listdir(db) == ["holiday.jpg"]                      # nothing written into it
    one_line(run("info", "--db", db), EXIT_ENVIRONMENT, NOT_A_STORE)


def test_import_refuses_another_programs_lmdb_store(tmp_path, chain):
    db = tmp_path / "other"
    env = lmdb.open(str(db))
    with env.begin(write=True) as txn:
        txn.put(b"user:1", b"alice")
    env.close()
    before = (db / "data.mdb").read_bytes()
    one_line(run("import", chain["path"], "--db", db), EXIT_ENVIRONMENT, NOT_A_STORE)
    one_line(run("info", "--db", db), EXIT_ENVIRONMENT, NOT_A_STORE)
    assert (db / "data.mdb").read_bytes() == before
    assert "writer.lock" not in os.listdir(db)


def test_not_a_store_as_json(tmp_path):
    db = tmp_path / "db"
    db.mkdir()
    (db / "notes.txt").write_text("hello")
    result = run("info", "--db", db, "--json")
    one_line(result, EXIT_ENVIRONMENT, NOT_A_STORE)
    error = json.loads(result.stdout)
    assert error["code"] == NOT_A_STORE and error["exit_status"] == EXIT_ENVIRONMENT
    assert set(error) == {"code", "message", "height", "index", "exit_status"}


def test_invalid_data_as_json_names_height_and_index(tmp_path, chain):
    data = bytearray(chain["path"].read_bytes())
    data[-1] ^= 1                                   # the last block's signature or content
    bad = tmp_path / "bad.ledger"
    bad.write_bytes(bytes(data))
    result = run("import", bad, "--db", tmp_path / "db", "--json")
    one_line(result, EXIT_INVALID, "height")
    error = json.loads(result.stdout)
    assert error["exit_status"] == EXIT_INVALID and error["height"] == BLOCKS


# ---------------------------------------------------------------- two writers

HOLDER = r"""
import sys
from ledger import Ledger
with Ledger.open(sys.argv[1], writer=True) as book:
    print("held", flush=True)
    sys.stdin.readline()
"""


@pytest.fixture
def holder(store):
    """A process holding the store's writer lock until told to let go (a line on its stdin)."""
    child = subprocess.Popen([sys.executable, "-c", HOLDER, str(store)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
    assert child.stdout.readline() == "held\n", child.stderr.read()
    yield child
    if child.poll() is None:
        child.stdin.write("\n")
        child.stdin.flush()
    child.wait(TIMEOUT_S)


def test_second_writer_gets_one_line_naming_the_holder(chain, store, holder):
    line = one_line(run("import", chain["path"], "--db", store), EXIT_ENVIRONMENT, STORE_LOCKED)
    assert f"process {holder.pid}" in line
    # readers are not blocked by the writer lock
    assert run("info", "--db", store).returncode == 0


def test_second_api_writer_raises_store_locked(chain, store, holder):
    workload = chain["workload"]
    with Ledger.open(store) as book:
        builder = book.builder(workload.validators[0])
        builder.transaction(workload.issuer, Mint(workload.accounts[0].public_key, 5))
        with pytest.raises(EnvironmentFault) as caught:
            book.append(builder.build())
        assert caught.value.code == STORE_LOCKED and str(holder.pid) in caught.value.message
        assert book.height == BLOCKS


def test_wait_waits_for_the_holder(chain, store, holder, tmp_path):
    more = tmp_path / "more.ledger"
    generate_chain_file(more, BLOCKS + 2, TXS, ACCOUNTS, SEED)      # the same chain, two blocks longer
    waiter = subprocess.Popen(ledger_command("import", more, "--db", store, "--wait"), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=_env())
    notice = waiter.stderr.readline()
    assert notice.startswith("waiting for") and str(holder.pid) in notice, notice
    holder.stdin.write("\n")
    holder.stdin.flush()
    out, err = waiter.communicate(timeout=TIMEOUT_S)
    assert waiter.returncode == 0 and "Traceback" not in err, err
    with Ledger.open(store) as book:
        assert book.height == BLOCKS + 2


def test_ctrl_c_exits_130_without_a_traceback(chain, store, holder):
    waiter = subprocess.Popen(ledger_command("import", chain["path"], "--db", store, "--wait"),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
    assert waiter.stderr.readline().startswith("waiting for")       # blocked on the lock: interrupt it
    waiter.send_signal(signal.SIGINT)
    _out, err = waiter.communicate(timeout=TIMEOUT_S)
    assert waiter.returncode == EXIT_INTERRUPTED, err
    assert "Traceback" not in err and err.splitlines() == ["interrupted"]


def test_one_store_open_twice_in_a_process(store):
    with Ledger.open(store) as book:
        with pytest.raises(EnvironmentFault) as caught:
            Ledger.open(store)
        assert caught.value.code == ALREADY_OPEN
        assert book.height == BLOCKS                                   # the first one still works
    with Ledger.open(store) as book:                                   # closing released the path
        assert book.height == BLOCKS


# ---------------------------------------------------------------- heights and arguments


@pytest.mark.parametrize("height", [str(2**64), "99999999999999999999999"])
def test_block_height_out_of_range_is_a_usage_error(store, height):
    result = run("block", height, "--db", store)
    assert result.returncode == EXIT_USAGE and b"Traceback" not in result.stderr, result.stderr
    assert b"2**64" in result.stderr


def test_block_height_at_the_limit_is_not_found(store):
    one_line(run("block", str(2**64 - 1), "--db", store), EXIT_INVALID, "not-found")


@pytest.mark.parametrize("height", [2**64, -1, 99999999999999999999999])
def test_api_block_height_out_of_range(store, height):
    with Ledger.open(store) as book:
        with pytest.raises(ValueError, match="height"):
            book.block(height)
        assert book.block(2**64 - 1) is None


def test_api_str_where_bytes_are_expected(store, chain):
    tx = chain["tx"]
    with Ledger.open(store) as book:
        for call in (lambda: book.tx(tx.txid.hex()), lambda: book.account(tx.sender.hex()),
                     lambda: book.record(tx.sender.hex(), b"k"), lambda: book.record(tx.sender, "k"),
                     lambda: book.prove(tx.txid.hex()), lambda: book.block(tx.txid.hex())):
            with pytest.raises(TypeError, match="must be bytes"):
                call()


def test_api_use_after_close(store):
    code = (f"from ledger import Ledger\n"
            f"book = Ledger.open({str(store)!r})\n"
            f"book.close()\n"
            f"book.close()\n"
            f"try:\n    book.info()\nexcept ValueError as error:\n    print('ValueError', error)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env(),
                          timeout=TIMEOUT_S)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ValueError") and "closed" in done.stdout
    assert done.stderr == ""                                             # no "Exception ignored in __del__"


@pytest.mark.parametrize("body, error", [
    (lambda key: Mint(key, 2**64), ValueError),
    (lambda key: Mint(key, -1), ValueError),
    (lambda key: Transfer(key, 2**70), ValueError),
    (lambda key: Transfer(key.hex(), 1), TypeError),
    (lambda key: Mint(key[:5], 1), ValueError),
    (lambda key: Record("k", "v"), TypeError),
    (lambda key: Record(b"k", "v"), TypeError),
])
def test_builder_rejects_a_bad_body_at_the_call(store, chain, body, error):
    workload = chain["workload"]
    key = workload.accounts[0].public_key
    with Ledger.open(store) as book:
        builder = book.builder(workload.validators[0])
        with pytest.raises(error):
            builder.transaction(workload.issuer, body(key))
        assert len(builder) == 0
        with pytest.raises(error):
            sign_transaction(workload.issuer, book.chain_id, 1, body(key))


# ---------------------------------------------------------------- pipes


@pytest.mark.parametrize("source", ["-", "/dev/stdin"])
def test_import_from_a_pipe_with_a_terminal(chain, tmp_path, source):
    """stdin a pipe, stderr a terminal (the progress bar is shown): no seek, no size needed."""
    master, slave = pty.openpty()
    shown: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:
                return
            if not data:
                return
            shown.append(data)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        done = subprocess.run(ledger_command("import", source, "--db", tmp_path / "db", "--json"),
                              input=chain["path"].read_bytes(), stdout=subprocess.PIPE, stderr=slave, env=_env(),
                              timeout=TIMEOUT_S)
    finally:
        os.close(slave)
        reader.join(10)
        os.close(master)
    terminal = b"".join(shown).decode(errors="replace")
    assert done.returncode == 0, terminal
    assert "Traceback" not in terminal and "Illegal seek" not in terminal
    assert json.loads(done.stdout)["height"] == BLOCKS


def test_json_usage_error_is_a_json_object_too(store):
    result = run("block", str(2**64), "--db", store, "--json")
    assert result.returncode == EXIT_USAGE and b"Traceback" not in result.stderr
    error = json.loads(result.stdout)
    assert error["code"] == "usage" and error["exit_status"] == EXIT_USAGE


def test_closed_stdout_ends_quietly(store):
    """`ledger block 1 --json | head -c 0`: the reader is gone before the output is written."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(ledger_command("block", "1", "--db", store, "--json"), stdout=write_end,
                              stderr=subprocess.PIPE, env=_env(), timeout=TIMEOUT_S)
    finally:
        os.close(write_end)
    assert done.returncode == 141 and done.stderr == b"", done.stderr


def test_propose_is_a_writer_too(chain, store, holder, tmp_path):
    from ledger import encode_transaction
    from ledger.keys import save_keypair

    workload = chain["workload"]
    key = tmp_path / "validator.pem"
    save_keypair(key, workload.validators[0])
    with Ledger.open(store) as book:
        nonce = book.account(workload.issuer.public_key).nonce + 1
        tx = sign_transaction(workload.issuer, book.chain_id, nonce, Mint(workload.accounts[0].public_key, 5))
    pending = tmp_path / "pending.txs"
    pending.write_text(encode_transaction(tx).hex() + "\n")
    line = one_line(run("propose", "--db", store, "--key", key, pending), EXIT_ENVIRONMENT, STORE_LOCKED)
    assert f"process {holder.pid}" in line
    waiter = subprocess.Popen(ledger_command("propose", "--db", store, "--key", key, pending, "--wait"),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
    assert waiter.stderr.readline().startswith("waiting for")
    holder.stdin.write("\n")
    holder.stdin.flush()
    _out, err = waiter.communicate(timeout=TIMEOUT_S)
    assert waiter.returncode == 0, err
    with Ledger.open(store) as book:
        assert book.height == BLOCKS + 1 and book.tx(tx.txid).height == BLOCKS + 1


def test_two_threads_appending_on_one_tip(store, chain):
    """Both blocks are built on the same tip: one is stored, the other is refused as a rule breach
    (bad-height), never a RuntimeError from the store."""
    workload = chain["workload"]
    with Ledger.open(store) as book:
        for trial in range(10):
            blocks = []
            for index in range(2):
                builder = book.builder(workload.validators[0])
                builder.transaction(workload.issuer, Mint(workload.accounts[index].public_key, 1 + trial))
                blocks.append(builder.build())
            barrier = threading.Barrier(2)
            outcomes: list[str] = []

            def append(block) -> None:
                barrier.wait()
                try:
                    book.append(block)
                    outcomes.append("stored")
                except LedgerError as error:
                    outcomes.append(error.code)

            threads = [threading.Thread(target=append, args=(block,)) for block in blocks]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert sorted(outcomes) == ["bad-height", "stored"], outcomes
        assert book.height == BLOCKS + 10
