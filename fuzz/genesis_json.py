"""The CLI's genesis file reader (JSON or canonical bytes; `ledger init --genesis FILE`, README),
driven through the command itself so the harness does not depend on how the CLI arranges its
code: any file content ends in exit 0 (a store whose genesis decodes) or exit 1 with one
"error: CODE ..." line, never a traceback, another exit code or a store left behind on failure."""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from click.testing import CliRunner

from ledger import Ledger, codec
from ledger_cli.main import cli

from fuzz import sample

_SCRATCH = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None


def test_one_input(data: bytes) -> None:
    directory = Path(tempfile.mkdtemp(prefix="fuzz-genesis-", dir=_SCRATCH))
    try:
        (directory / "genesis.json").write_bytes(data)
        result = CliRunner().invoke(cli, ["init", "--db", str(directory / "db"),
                                          "--genesis", str(directory / "genesis.json")])
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise AssertionError(f"init raised {result.exception!r}") from result.exception
        assert result.exit_code in (0, 1), f"exit code {result.exit_code}: {result.output!r}"
        if result.exit_code == 1:
            lines = result.stderr.splitlines()
            assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
            assert not (directory / "db" / "data.mdb").exists(), "a refused genesis left a store"
            return
        with Ledger.open(directory / "db") as book:
            genesis = book.genesis
        assert codec.decode_genesis(codec.encode_genesis(genesis)) == genesis
    finally:
        shutil.rmtree(directory, ignore_errors=True)


_GENESIS = sample.chain()[0]
_SPEC = {"name": _GENESIS.name, "time_ms": _GENESIS.time_ms, "validators": [k.hex() for k in _GENESIS.validators],
         "issuers": [k.hex() for k in _GENESIS.issuers], "balances": {k.hex(): v for k, v in _GENESIS.balances}}
SEEDS = {"json": json.dumps(_SPEC, indent=1).encode(), "canonical": codec.encode_genesis(_GENESIS),
         "json-no-issuers": json.dumps({**_SPEC, "issuers": [], "balances": {}}).encode()}
