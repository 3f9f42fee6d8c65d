"""`ledger`: create, import, export, validate and query chains from a shell.

Exit status: 0 success, 1 invalid data (the one-line error names code, height, transaction
index and reason), 2 usage error, 3 environment fault (disk full, read-only media, store locked
by another writer, not a store, I/O error), 130 interrupted (Ctrl-C). Never a traceback; with
--json the error is also printed on stdout as a JSON object.
"""
from __future__ import annotations

import fcntl
import json
import logging
import os
import signal
import sys
import time


def _interrupted_while_starting(_signal: int, _frame) -> None:
    os.write(2, b"interrupted\n")
    os._exit(130)


# Ctrl-C while the modules below load (a good part of a second) ends quietly too.
_previous_sigint = signal.signal(signal.SIGINT, _interrupted_while_starting)

import click

# The CLI stands on the library's public API only: `ledger` and its modules errors and limits
# (tests/test_one_door.py).
from ledger import (
    HistoryProof, Ledger, LedgerError, Mint, Record, Transfer, TxProof, check_any_proof, encode_proof, load_proof,
)
from ledger import ChainReader, StoreError, decode_genesis, decode_header, encode_genesis, parse_block_hash
from ledger import count_chain_blocks
from ledger import limits
from ledger.errors import BAD_ENCODING, IO_ERROR, NOT_FOUND, EnvironmentFault, fault_from_os_error
from ledger import Keypair, KeyFormatError, load_keypair, public_key_from_hex
from ledger import public_key_from_pem, public_key_to_pem
from ledger import BAD_KEY, NOT_ENCRYPTED, PASSPHRASE_BYTES_MAX, PASSPHRASE_NEEDED
from ledger import generate_chain_file
from ledger import VALIDATOR_PLACEHOLDER, genesis_spec, parse_genesis_json
from ledger import account_json, block_json, genesis_json, record_json, transaction_line, tx_info_json

signal.signal(signal.SIGINT, _previous_sigint)

EXIT_INVALID = 1
EXIT_USAGE = 2
EXIT_ENVIRONMENT = 3
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141      # as a shell reports a process ended by SIGPIPE


def _remember_json(ctx: click.Context, _param, value: bool) -> bool:
    ctx.meta["ledger.json"] = value      # ctx.meta is shared by every context of the run
    return value


db_option = click.option("--db", "db", required=True, envvar="LEDGER_DB", type=click.Path(file_okay=False),
                         help="The store folder (LMDB). Also read from $LEDGER_DB.")
json_option = click.option("--json", "as_json", is_flag=True, callback=_remember_json,
                           help="Print JSON instead of text (errors too, as a JSON object on stdout).")
read_only_option = click.option("--read-only", "read_only", is_flag=True,
                                help="Open the store read-only, without LMDB's lock file (for read-only media; "
                                     "chosen by itself there). Do not use while a writer runs.")
wait_option = click.option("--wait", "wait", is_flag=True,
                           help="If another process is writing the store, wait for it instead of failing.")


def _emit(data: object) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=False))


def _fail(error: LedgerError | KeyFormatError, status: int = EXIT_INVALID) -> None:
    """One line on stderr (and, with --json, a JSON object on stdout), then exit `status`."""
    click.echo(f"error: {error}", err=True)
    context = click.get_current_context(silent=True)
    if context is not None and context.meta.get("ledger.json"):
        fields = error.to_dict() if isinstance(error, LedgerError) else \
            {"code": error.code, "height": None, "index": None, "message": str(error)}
        _emit({**fields, "exit_status": status})
    sys.exit(status)


def _waiting(notice: str) -> None:
    click.echo(notice, err=True)


def _hex_argument(text: str, size: int, what: str) -> bytes:
    try:
        value = bytes.fromhex(text)
    except ValueError:
        raise click.BadParameter(f"{what} must be hex") from None
    if len(value) != size:
        raise click.BadParameter(f"{what} must be {size} bytes ({2 * size} hex digits)")
    return value


def _open(db: str, read_only: bool = False, wait: bool = False, writer: bool = False) -> Ledger:
    """Open the store at `db`; a missing or empty folder is `not-found` (exit 1), a folder that is
    not a store `not-a-store` (exit 3). `writer` holds the writer lock until the store is closed."""
    if not os.path.isdir(db) or not os.listdir(db):
        raise LedgerError(NOT_FOUND, f"no ledger store at {db} (create one with `ledger init` or `ledger import`)")
    return Ledger.open(db, read_only=read_only, wait=_waiting if wait else False, writer=writer)


class LedgerGroup(click.Group):
    """Every fault ends in one line on stderr and an exit status, never a traceback: invalid data
    (LedgerError, KeyFormatError) 1, the environment (EnvironmentFault, OS and LMDB errors) 3,
    Ctrl-C 130."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except EnvironmentFault as error:
            _fail(error, EXIT_ENVIRONMENT)
        except KeyFormatError as error:
            # No passphrase for an encrypted key, or one for a plain key: the options were wrong.
            _fail(error, EXIT_USAGE if error.code in (PASSPHRASE_NEEDED, NOT_ENCRYPTED) else EXIT_INVALID)
        except LedgerError as error:
            _fail(error)
        except BrokenPipeError:
            # `ledger … | head`: the reader left. Nothing to report; stdout goes nowhere from here.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(EXIT_BROKEN_PIPE)
        except OSError as error:
            _fail(fault_from_os_error(error, error.filename or "a file"), EXIT_ENVIRONMENT)
        except StoreError as error:
            _fail(EnvironmentFault(IO_ERROR, f"the store failed: {error}"), EXIT_ENVIRONMENT)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(EXIT_INTERRUPTED)
        except click.ClickException as error:
            if ctx.meta.get("ledger.json"):
                _emit({"code": "usage", "height": None, "index": None, "message": error.format_message(),
                       "exit_status": error.exit_code})
            raise


@click.group(cls=LedgerGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ledger-engine")
def cli() -> None:
    """An embeddable ledger: signed blocks of transfers, mints and records, stored in LMDB.

    Typical use: `ledger gen` a synthetic chain (or `ledger init` from a genesis), `ledger import`
    a chain file, `ledger validate` it, then query with `info`, `block`, `tx`, `account`, `record`
    and `proof`. Exit status: 0 ok, 1 invalid data, 2 usage error, 3 environment fault
    (disk full, read-only, store locked, not a store), 130 interrupted.
    """


def _create_file(path: str, text: str | bytes, force: bool, mode: int) -> None:
    """Write `text` (str as UTF-8, or bytes) to a new file at `path`, never half a file: an existing
    file is refused (exit 2) unless `force`, which replaces it by a rename. The file is created with
    `mode` from the start."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    if not force:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        except FileExistsError:
            raise click.BadParameter(f"{path} already exists; pass --force to replace it", param_hint="--out") \
                from None
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
        except BaseException:
            os.unlink(path)
            raise
        return
    import tempfile

    directory = os.path.dirname(os.path.abspath(path))
    fd, temporary = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


force_option = click.option("--force", is_flag=True, help="Replace the --out file if it exists.")


# The passphrase of an encrypted key file is never an option's value (it would sit in the shell
# history and in `ps`): it is named, as an environment variable or a file. One rule everywhere:
# --passphrase-env NAME or --passphrase-file FILE, at most one, on keygen --encrypt and on every
# command that reads a private key. Given for a key that is not encrypted: exit 2.
def _remember_passphrase_source(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value is None:
        return
    previous = ctx.meta.get("ledger.passphrase_source")
    if previous is not None:
        raise click.UsageError("give at most one of --passphrase-env and --passphrase-file")
    ctx.meta["ledger.passphrase_source"] = (param.name, value)


def passphrase_options(command):
    command = click.option(
        "--passphrase-file", "passphrase_file", type=click.Path(exists=True, dir_okay=False), default=None,
        expose_value=False, callback=_remember_passphrase_source, is_eager=False,
        help="Read the key file's passphrase from the first line of FILE (as `openssl -pass file:`).")(command)
    return click.option(
        "--passphrase-env", "passphrase_env", metavar="NAME", default=None, expose_value=False,
        callback=_remember_passphrase_source,
        help="Read the key file's passphrase from the environment variable NAME (its name, not the "
             "passphrase).")(command)


def _passphrase() -> bytes | None:
    """The passphrase named by --passphrase-env / --passphrase-file, or None."""
    source = click.get_current_context().meta.get("ledger.passphrase_source")
    if source is None:
        return None
    kind, value = source
    if kind == "passphrase_env":
        data = os.environb.get(value.encode("utf-8", "surrogateescape"))
        if data is None:
            raise click.BadParameter(f"the environment variable {value} is not set", param_hint="--passphrase-env")
        hint = "--passphrase-env"
    else:
        with open(value, "rb") as handle:
            data = handle.read(PASSPHRASE_BYTES_MAX + 2).split(b"\n", 1)[0]   # as openssl: only a newline ends it
        hint = "--passphrase-file"
    if not data:
        raise click.BadParameter("the passphrase is empty", param_hint=hint)
    if len(data) > PASSPHRASE_BYTES_MAX:
        raise click.BadParameter(f"the passphrase is longer than {PASSPHRASE_BYTES_MAX} bytes", param_hint=hint)
    return data


def _load_key(key_path: str):
    """The key pair in --key, decrypted with the passphrase options when it is encrypted."""
    try:
        return load_keypair(key_path, _passphrase())
    except KeyFormatError as error:
        reason = str(error).rstrip(".")
        if error.code == PASSPHRASE_NEEDED:
            reason += "; give --passphrase-env NAME or --passphrase-file FILE"
        raise KeyFormatError(f"{key_path}: {reason[:1].lower()}{reason[1:]}.", error.code) from None


@cli.command()
@click.option("--out", type=click.Path(dir_okay=False),
              help="Write the private key here as PEM (mode 0600); an existing file is refused.")
@click.option("--encrypt", is_flag=True,
              help="Encrypt the private key (ENCRYPTED PRIVATE KEY: PBES2, AES-256-CBC) with the passphrase "
                   "named by --passphrase-env or --passphrase-file.")
@passphrase_options
@force_option
@json_option
def keygen(out: str | None, encrypt: bool, force: bool, as_json: bool) -> None:
    """Generate an Ed25519 key pair.

    With --out the private key goes to that file as PKCS#8 PEM (readable by OpenSSL); without it
    the PEM is printed. The public key is printed as hex either way. An existing --out file is
    never overwritten (exit status 2) unless --force is given. With --encrypt the PEM is an
    ENCRYPTED PRIVATE KEY, as `openssl genpkey -algorithm ed25519 -aes256` writes; every command
    that takes --key reads it with the same --passphrase-env / --passphrase-file option.
    """
    passphrase = _passphrase()
    if encrypt and passphrase is None:
        raise click.UsageError("--encrypt needs --passphrase-env NAME or --passphrase-file FILE")
    if passphrase is not None and not encrypt:
        raise click.UsageError("a passphrase option is only used with --encrypt")
    keypair = Keypair.generate()
    pem = keypair.to_pem(passphrase)
    if out:
        _create_file(out, pem, force, 0o600)
    if as_json:
        _emit({"public_key": keypair.public_key.hex(), "private_key_file": out, "encrypted": encrypt}
              if out else {"public_key": keypair.public_key.hex(), "private_key_pem": pem, "encrypted": encrypt})
        return
    if not out:
        click.echo(pem, nl=False)
    click.echo(f"public key: {keypair.public_key.hex()}")


def _read_genesis_file(path: str) -> bytes:
    """A genesis file is either its canonical bytes or JSON, read strictly (ledger.genesis_file):
    {"name", "time_ms", "validators": [hex], "issuers": [hex], "balances": {hex: amount}}."""
    with open(path, "rb") as handle:
        data = handle.read()
    # The canonical encoding starts with a msgpack array byte (0x96), never with JSON's { or [
    # (after an optional UTF-8 byte order mark).
    if data.removeprefix(b"\xef\xbb\xbf").lstrip()[:1] not in (b"{", b"["):
        decode_genesis(data)
        return data
    return encode_genesis(parse_genesis_json(data))


def _public_key_option(text: str, what: str) -> str:
    try:
        return public_key_from_hex(text).hex()
    except KeyFormatError:
        raise click.BadParameter(f"{text!r} is not a public key (64 hex digits)", param_hint=what) from None


@cli.command(name="genesis")
@click.option("--name", default="", help="The chain's name (at most 64 bytes of UTF-8).")
@click.option("--time-ms", type=click.IntRange(0, 2**64 - 1), default=None,
              help="Genesis time, milliseconds since 1970 (default: now, written into the file).")
@click.option("--validator", "validators", multiple=True, metavar="HEX",
              help="A validator's public key (hex); repeatable. Left out: a placeholder to replace.")
@click.option("--issuer", "issuers", multiple=True, metavar="HEX", help="An issuer's public key (hex); repeatable.")
@click.option("--balance", "balances", multiple=True, metavar="HEX=AMOUNT",
              help="A starting balance; repeatable.")
@click.option("--format-version", type=click.IntRange(1, 2), default=2, show_default=True,
              help="The chain format (docs/FORMAT.md): 2, or 1 for a chain of the first format.")
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="Write the file here (an existing file is refused) instead of printing it.")
@force_option
def genesis_command(name: str, time_ms: int | None, validators: tuple[str, ...], issuers: tuple[str, ...],
                    balances: tuple[str, ...], format_version: int, out: str | None, force: bool) -> None:
    """Write a genesis JSON file for `ledger init`.

    With at least one --validator the file is complete: `ledger init` accepts it as written, and the
    chain id is printed. Without one it is a template whose "validators" holds the placeholder
    REPLACE-WITH-VALIDATOR-PUBLIC-KEY-HEX; `ledger init` names it until a key replaces it. JSON
    has no comments: README.md describes every field. The time is written into the file, so every
    `ledger init` of it makes the same chain.
    """
    validator_keys = [_public_key_option(v, "--validator") for v in validators]
    issuer_keys = [_public_key_option(v, "--issuer") for v in issuers]
    balance_map: dict[str, int] = {}
    for entry in balances:
        key_text, sep, amount_text = entry.partition("=")
        if not sep or not (amount_text.isascii() and amount_text.isdigit()) or int(amount_text) > 2**64 - 1:
            raise click.BadParameter(f"{entry!r} is not HEX=AMOUNT (an amount from 0 to 2**64 - 1)",
                                     param_hint="--balance")
        key = _public_key_option(key_text, "--balance")
        if key in balance_map:
            raise click.BadParameter(f"the key {key} is given twice", param_hint="--balance")
        balance_map[key] = int(amount_text)
    for what, keys in (("--validator", validator_keys), ("--issuer", issuer_keys)):
        if len(set(keys)) != len(keys):
            raise click.BadParameter("a key is given twice", param_hint=what)
    spec = genesis_spec(name, int(time.time() * 1000) if time_ms is None else time_ms,
                        validator_keys or [VALIDATOR_PLACEHOLDER], issuer_keys, balance_map, format_version)
    text = json.dumps(spec, indent=2) + "\n"
    complete = bool(validator_keys)
    chain_id = parse_genesis_json(text).chain_id.hex() if complete else None   # what init will read
    if out is None:
        click.echo(text, nl=False)
        return
    _create_file(out, text, force, 0o644)
    if complete:
        click.echo(f"wrote {out}: chain {chain_id}")
    else:
        click.echo(f"wrote {out}: a template; replace {VALIDATOR_PLACEHOLDER} with a validator's public key "
                   f"(`ledger pubkey KEYFILE --hex`), then `ledger init --db DIR --genesis {out}`")


@cli.command()
@click.argument("key_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--hex", "hex_only", is_flag=True, help="Print only the 64 hex digits (for scripts).")
@passphrase_options
@json_option
def pubkey(key_file: str, hex_only: bool, as_json: bool) -> None:
    """Print the public key of KEY_FILE as hex and as PEM (SubjectPublicKeyInfo).

    KEY_FILE is a private key as `ledger keygen` writes it (PKCS#8 PEM, or a hex seed) or a public
    key PEM (as `openssl pkey -pubout` writes it). An encrypted private key needs
    --passphrase-env NAME or --passphrase-file FILE.
    """
    with open(key_file, "rb") as handle:
        data = handle.read()
    try:
        if b"-----BEGIN PUBLIC KEY-----" in data:
            public_key = public_key_from_pem(data)
        else:
            public_key = load_keypair(key_file, _passphrase()).public_key
    except KeyFormatError as exc:
        reason = str(exc).rstrip(".")
        if exc.code == PASSPHRASE_NEEDED:
            reason += "; give --passphrase-env NAME or --passphrase-file FILE"
        if exc.code != BAD_KEY:
            raise KeyFormatError(f"{key_file}: {reason[:1].lower()}{reason[1:]}.", exc.code) from None
        raise KeyFormatError(f"{key_file} is not a key file: {reason[:1].lower()}{reason[1:]}") from None
    if as_json:
        _emit({"public_key": public_key.hex(), "public_key_pem": public_key_to_pem(public_key)})
    elif hex_only:
        click.echo(public_key.hex())
    else:
        click.echo(f"public key: {public_key.hex()}")
        click.echo(public_key_to_pem(public_key), nl=False)


@cli.command()
@db_option
@click.option("--genesis", "genesis_path", required=True, type=click.Path(exists=True, dir_okay=False),
              help="Genesis as JSON (name, time_ms, validators, issuers, balances) or canonical bytes.")
@wait_option
@json_option
def init(db: str, genesis_path: str, wait: bool, as_json: bool) -> None:
    """Create a new store from a genesis file.

    The file is JSON (as `ledger genesis` writes it; README.md lists the fields), read strictly: an
    unknown field, a number written as a string, or a missing time_ms is refused with one line
    naming the field. Canonical genesis bytes are accepted too.
    """
    with Ledger.create(db, _read_genesis_file(genesis_path), wait=_waiting if wait else False) as book:
        info = book.info()
    _emit(info) if as_json else click.echo(f"created {db}: chain {info['chain_id']}")


@cli.command()
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Chain file to write.")
@click.option("--blocks", "block_count", default=100, show_default=True, type=click.IntRange(0))
@click.option("--txs-per-block", default=1000, show_default=True, type=click.IntRange(0, 65536))
@click.option("--accounts", default=1000, show_default=True, type=click.IntRange(2))
@click.option("--seed", default=1, show_default=True, type=int, help="Same seed, same bytes.")
@click.option("--format-version", "format_version", default=2, show_default=True, type=click.Choice(["1", "2"]),
              help="Chain format: 2 (state root and history root in every header) or 1 (state commitment chain).")
def gen(out: str, block_count: int, txs_per_block: int, accounts: int, seed: int, format_version: str) -> None:
    """Generate a deterministic synthetic chain of transfers, mints and records.

    For demos and benchmarks: keys are derived from the seed, so never use them for anything real.
    """
    started = time.perf_counter()
    show = sys.stderr.isatty()

    def progress(height: int, transactions: int) -> None:
        if show:
            rate = transactions / max(time.perf_counter() - started, 1e-9)
            click.echo(f"\rblock {height}/{block_count}  {transactions:,} tx  {rate:,.0f} tx/s", nl=False, err=True)

    generate_chain_file(out, block_count, txs_per_block, accounts, seed, progress, version=int(format_version))
    if show:
        click.echo(err=True)
    elapsed = time.perf_counter() - started
    click.echo(f"wrote {out}: {block_count} blocks, {block_count * txs_per_block:,} transactions in {elapsed:.1f} s")


def _progress_wanted() -> bool:
    return sys.stderr.isatty()


def _block_hash_option(_context, _parameter, value: str | None) -> bytes | None:
    if value is None:
        return None
    try:
        return parse_block_hash(value)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


@cli.command(name="import")
@click.argument("chain_file", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@db_option
@click.option("--assume-valid", "assume_valid", metavar="BLOCK_HASH", default=None, callback=_block_hash_option,
              help="Trust the signatures of this block and of every block before it: they are not verified "
                   "(every other rule is). Applies only if the hash is on the file's chain; otherwise, or "
                   "for a pipe, every signature is verified. Off by default.")
@wait_option
@json_option
def import_(chain_file: str, db: str, assume_valid: bytes | None, wait: bool, as_json: bool) -> None:
    """Validate and store every block of CHAIN_FILE.

    Creates the store from the file's genesis when it is new. Resumable: blocks already stored
    are skipped when identical. The first invalid block stops the import with one line (code,
    height, transaction index, reason) and exit status 1; every block before it stays stored.

    With --assume-valid BLOCK_HASH (as Bitcoin Core's -assumevalid), what is trusted is exactly
    this: that the signatures (the proposers' and the transactions') of that block and its
    ancestors hold. Links, Merkle roots, encodings, nonces, balances, issuers, record limits,
    small-order keys and state commitments are still checked, and the state is still computed.
    A first pass reads the file's headers to find the block; if it is not on the file's chain,
    or the file is a pipe, every signature is verified and one line says so. Below the assumed
    block, an invalid block leaves the store at the last checkpoint before it (every 64 blocks
    or 2,000 transactions) rather than at the block before it.
    """
    started = time.perf_counter()
    with click.open_file(chain_file, "rb") as stream:
        reader = ChainReader(stream)
        book = Ledger.open_or_create(db, reader.genesis, wait=_waiting if wait else False, writer=True)
        with book:
            assumed = None
            if assume_valid is not None:
                lookup = book.assume_valid_lookup(stream, assume_valid)
                assumed = lookup.assumed
                click.echo(lookup.note, err=True)
            # The bar counts blocks stored (or skipped as already stored), never bytes read: the
            # reader runs ahead of the commits, so the file position overstates what is done.
            bar = None
            total = count_chain_blocks(chain_file, reader.position) if _progress_wanted() else None
            if total is not None:
                bar = click.progressbar(length=total, label="importing", file=sys.stderr)
            done = 0

            def progress(p) -> None:
                nonlocal done
                if bar is not None:
                    elapsed = max(time.perf_counter() - started, 1e-9)
                    bar.label = (f"height {p.height}  {p.imported_blocks / elapsed:,.0f} blocks/s  "
                                 f"{p.imported_transactions / elapsed:,.0f} tx/s")
                    bar.update(p.height - done)
                    done = p.height

            try:
                result = book.import_blocks(reader.blocks(), progress, assume_valid=assumed)
            finally:
                if bar is not None:
                    bar.render_finish()
            info = book.info()
    elapsed = time.perf_counter() - started
    if as_json:
        _emit({"imported_blocks": result.imported_blocks, "imported_transactions": result.imported_transactions,
               "skipped_blocks": result.skipped_blocks, "assumed_valid_height": result.assumed_valid_height,
               "seconds": round(elapsed, 3), **info})
        return
    rate = result.imported_transactions / max(elapsed, 1e-9)
    click.echo(f"imported {result.imported_blocks} blocks ({result.imported_transactions:,} tx, {rate:,.0f} tx/s), "
               f"skipped {result.skipped_blocks} already stored; height {info['height']}")


@cli.command()
@db_option
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Chain file to write.")
@read_only_option
def export(db: str, out: str, read_only: bool) -> None:
    """Write the stored chain as a chain file (byte-identical to what was imported)."""
    with _open(db, read_only) as book:
        count = book.export_chain(out)
    click.echo(f"exported {count} blocks to {out}")


@cli.command()
@db_option
@click.option("--from", "start", default=1, show_default=True, type=click.IntRange(1), help="First height to check.")
@click.option("--to", "end", default=None, type=click.IntRange(1), help="Last height to check (default: the tip).")
@read_only_option
@json_option
def validate(db: str, start: int, end: int | None, read_only: bool, as_json: bool) -> None:
    """Re-verify stored blocks: encoding, links, signatures, Merkle roots, state rules, commitments."""
    started = time.perf_counter()
    with _open(db, read_only) as book:
        report = book.validate(start, end)
    elapsed = time.perf_counter() - started
    if as_json:
        _emit({"valid": True, "from": report.start, "to": report.end, "blocks": report.blocks,
               "transactions": report.transactions, "seconds": round(elapsed, 3)})
    else:
        click.echo(f"valid: blocks {report.start}..{report.end} ({report.blocks} blocks, "
                   f"{report.transactions:,} tx) in {elapsed:.2f} s")


@cli.command()
@db_option
@read_only_option
@json_option
def info(db: str, read_only: bool, as_json: bool) -> None:
    """Chain id, height, tip hash, transaction count and state commitment."""
    with _open(db, read_only) as book:
        data = book.info()
        data["genesis"] = genesis_json(book.genesis) if as_json else None
    if as_json:
        _emit(data)
        return
    for key, value in data.items():
        if key != "genesis":
            click.echo(f"{key:17} {value}")


@cli.command()
@click.argument("height_or_hash")
@db_option
@read_only_option
@json_option
def block(height_or_hash: str, db: str, read_only: bool, as_json: bool) -> None:
    """Show a block by height or by hash (64 hex digits)."""
    is_height = height_or_hash.isascii() and height_or_hash.isdigit()
    ref: int | bytes = int(height_or_hash) if is_height else _hex_argument(height_or_hash, 32, "hash")
    if isinstance(ref, int) and ref > 2**64 - 1:
        raise click.BadParameter("a height is at most 2**64 - 1", param_hint="HEIGHT_OR_HASH")
    with _open(db, read_only) as book:
        found = book.block(ref)
    if found is None:
        raise LedgerError(NOT_FOUND, f"no block {height_or_hash}")
    if as_json:
        _emit(block_json(found))
        return
    data = block_json(found, with_transactions=False)
    for key, value in data.items():
        click.echo(f"{key:17} {value}")
    for tx in found.transactions[:20]:
        click.echo("  " + transaction_line(tx))
    if len(found.transactions) > 20:
        click.echo(f"  … {len(found.transactions) - 20} more (use --json for all)")


@cli.command()
@click.argument("txid")
@db_option
@read_only_option
@json_option
def tx(txid: str, db: str, read_only: bool, as_json: bool) -> None:
    """Show a transaction and where it is stored."""
    txid_bytes = _hex_argument(txid, 32, "TXID")
    with _open(db, read_only) as book:
        found = book.tx(txid_bytes)
    if found is None:
        raise LedgerError(NOT_FOUND, f"no transaction {txid}")
    data = tx_info_json(found)
    if as_json:
        _emit(data)
    else:
        for key, value in data.items():
            click.echo(f"{key:10} {value}")


@cli.command()
@click.argument("public_key")
@db_option
@read_only_option
@json_option
def account(public_key: str, db: str, read_only: bool, as_json: bool) -> None:
    """Balance and nonce of an account (hex public key)."""
    key = _hex_argument(public_key, 32, "PUBLIC_KEY")
    with _open(db, read_only) as book:
        found = book.account(key)
    data = account_json(key, found)
    if as_json:
        _emit(data)
    else:
        click.echo(f"balance {found.balance}  nonce {found.nonce}")


def _record_name(name: str, hex_name: bool, hint: str) -> bytes:
    """A record name (the record's key) from the command line: UTF-8 text, or hex with --hex-name.
    Bytes that are not UTF-8 reach Python as surrogate escapes; they are refused, not guessed at."""
    if hex_name:
        try:
            return bytes.fromhex(name)
        except ValueError:
            raise click.BadParameter("the name must be hex with --hex-name", param_hint=hint) from None
    try:
        return name.encode("utf-8")
    except UnicodeEncodeError:
        raise click.BadParameter("the name is not UTF-8 text; give a binary name as hex with --hex-name",
                                 param_hint=hint) from None


def hex_name_option(*old_spellings: str):
    also = f" ({', '.join(old_spellings)}: the old spelling)" if old_spellings else ""
    return click.option("--hex-name", *old_spellings, "hex_name", is_flag=True,
                        help=f"NAME is hex rather than UTF-8 text{also}.")


@cli.command()
@click.argument("owner")
@click.argument("name")
@db_option
@hex_name_option("--hex-key")
@read_only_option
@json_option
def record(owner: str, name: str, db: str, hex_name: bool, read_only: bool, as_json: bool) -> None:
    """The latest value of OWNER's record NAME (the record's key), and its history."""
    owner_key = _hex_argument(owner, 32, "OWNER")
    record_key = _record_name(name, hex_name, "NAME")
    with _open(db, read_only) as book:
        found = book.record(owner_key, record_key)
    if found is None:
        raise LedgerError(NOT_FOUND, f"no record {name!r} of {owner}")
    data = record_json(owner, name, found)
    if as_json:
        _emit(data)
    else:
        click.echo(f"value {found.value.hex()} (height {found.height}, tx {found.index}); "
                   f"{len(found.history)} versions")


def _proof_output_options(command):
    for option in reversed([
        click.option("--binary", is_flag=True, help="Write the compact binary proof (FORMAT.md §12) to --out."),
        click.option("--out", type=click.Path(dir_okay=False), default=None,
                     help="Write the proof here (JSON, or binary with --binary) instead of printing it; an "
                          "existing file is refused."),
        force_option,
        click.option("--json", "as_json", is_flag=True, callback=_remember_json,
                     help='Print {"proof": the JSON proof, "size": bytes of its binary form} (errors as JSON too).'),
    ]):
        command = option(command)
    return command


def _write_proof(proof, binary: bool, out: str | None, force: bool, as_json: bool) -> None:
    """Print or write a proof as the prove-* commands do: its JSON (FORMAT.md §12), or the binary to
    --out; --json prints the JSON with the binary's size beside it."""
    if binary and not out:
        raise click.UsageError("--binary writes bytes: give --out FILE")
    data = encode_proof(proof)
    if out:
        _create_file(out, data if binary else json.dumps(proof.to_json(), indent=2) + "\n", force, 0o644)
    if as_json:
        _emit({"proof": proof.to_json(), "size": len(data)})
    elif out:
        click.echo(f"wrote {out} ({'binary' if binary else 'JSON'}; the binary proof is {len(data)} bytes)")
    else:
        _emit(proof.to_json())


@cli.command()
@click.argument("txid")
@db_option
@read_only_option
@_proof_output_options
def proof(txid: str, db: str, read_only: bool, binary: bool, out: str | None, force: bool, as_json: bool) -> None:
    """Print an inclusion proof of TXID up to its signed block header (JSON, FORMAT.md §11; the
    binary form of §12 with --binary --out)."""
    txid_bytes = _hex_argument(txid, 32, "TXID")
    with _open(db, read_only) as book:
        found = book.prove(txid_bytes)
    _write_proof(found, binary, out, force, as_json)


@cli.command(name="prove-account")
@click.argument("public_key")
@db_option
@read_only_option
@_proof_output_options
def prove_account(public_key: str, db: str, read_only: bool, binary: bool, out: str | None, force: bool,
                  as_json: bool) -> None:
    """Prove an account's balance and nonce (or that the key has none) after the tip's block.

    The proof (JSON, FORMAT.md §12) holds the signed tip header and the path of the state map from
    the account to its state root: `ledger verify-proof` checks it without a store. Needs a
    version-2 chain with at least one block.
    """
    key = _hex_argument(public_key, 32, "PUBLIC_KEY")
    with _open(db, read_only) as book:
        proof = book.prove_account(key)
    _write_proof(proof, binary, out, force, as_json)


@cli.command(name="prove-record")
@click.argument("owner")
@click.argument("key")
@db_option
@click.option("--hex-key", "--hex-name", "hex_key", is_flag=True,
              help="KEY is hex rather than UTF-8 text (--hex-name: the spelling of `ledger record`).")
@read_only_option
@_proof_output_options
def prove_record(owner: str, key: str, db: str, hex_key: bool, read_only: bool, binary: bool, out: str | None,
                 force: bool, as_json: bool) -> None:
    """Prove OWNER's record KEY: its latest value, or that it was never written, after the tip's block.

    A proof of a value shows what the record held at that block; after the record is overwritten
    (a certificate revoked), only a new proof shows the new value. Needs a version-2 chain.
    """
    owner_key = _hex_argument(owner, 32, "OWNER")
    record_key = _record_name(key, hex_key, "KEY")
    with _open(db, read_only) as book:
        proof = book.prove_record(owner_key, record_key)
    _write_proof(proof, binary, out, force, as_json)


@cli.command(name="prove-history")
@db_option
@click.option("--from", "old_height", type=click.IntRange(1, 2**64 - 1), required=True,
              help="The older height H1 (at least 1).")
@click.option("--to", "new_height", type=click.IntRange(1, 2**64 - 1), required=True,
              help="The newer height H2 (above H1, at most the tip).")
@read_only_option
@_proof_output_options
def prove_history(db: str, old_height: int, new_height: int, read_only: bool, binary: bool, out: str | None,
                  force: bool, as_json: bool) -> None:
    """Prove that the block at H2 extends the block at H1 (FORMAT.md §13).

    With it, a proof against the header at H1 is carried forward to H2:
    `ledger verify-proof PROOF --history HISTORY`.
    """
    if old_height >= new_height:
        raise click.BadParameter(f"--from ({old_height}) must be below --to ({new_height})", param_hint="--from")
    with _open(db, read_only) as book:
        proof = book.prove_history(old_height, new_height)
    _write_proof(proof, binary, out, force, as_json)


def _read_proof(handle) -> object:
    from ledger import PROOF_JSON_BYTES_MAX

    return load_proof(handle.read(PROOF_JSON_BYTES_MAX + 1))


def _describe(proof) -> str:
    """One line saying what a verified proof shows (every value derived from the checked bytes)."""
    if isinstance(proof, TxProof):
        shown = proof.to_json()
        return (f"transaction {shown['txid']} is at index {shown['index']} of block {shown['height']} "
                f"({shown['block_hash']}) of chain {shown['chain_id']}")
    shown = proof.to_json()
    if isinstance(proof, HistoryProof):
        return (f"block {shown['new_height']} ({shown['new_block_hash']}) extends block {shown['old_height']} "
                f"({shown['old_block_hash']}) of chain {shown['chain_id']}")
    where = f"after block {shown['height']} ({shown['block_hash']}) of chain {shown['chain_id']}"
    if "public_key" in shown:
        if not shown["present"]:
            return f"account {shown['public_key']} is not in the state (balance 0, nonce 0) {where}"
        return f"account {shown['public_key']} has balance {shown['balance']} and nonce {shown['nonce']} {where}"
    if not shown["present"]:
        return f"record {shown['key']} (hex) of {shown['owner']} was never written {where}"
    return f"record {shown['key']} (hex) of {shown['owner']} holds {shown['value'] or '(empty)'} (hex) {where}"


@cli.command(name="verify-proof")
@click.argument("proof_file", type=click.File("rb"))
@click.option("--validator", "validators", multiple=True, help="Trusted validator public key (hex); repeatable.")
@click.option("--genesis", "genesis_path", type=click.Path(exists=True, dir_okay=False),
              help="Trust the validators and chain id of this genesis (JSON or canonical bytes).")
@click.option("--no-anchor", is_flag=True,
              help="Accept a proof that only holds together: nothing ties it to a chain you trust.")
@click.option("--history", "history_file", type=click.File("rb"), default=None,
              help="A history proof (ledger prove-history) from the proof's block to a newer one: carry the proof "
                   "forward to that block.")
def verify_proof_command(proof_file, validators: tuple[str, ...], genesis_path: str | None, no_anchor: bool,
                         history_file) -> None:
    """Check a proof of any kind without any store (use - for stdin).

    Takes a transaction proof (`ledger proof`), an account, record or history proof (`ledger
    prove-account`, `prove-record`, `prove-history`), as JSON or as a binary file (--binary).
    Every field of the proof is checked against the signed bytes it carries. A proof is anchored
    by --genesis (the header is of that chain and its proposer one of its validators) or by
    --validator (the proposer is one of these keys). Without either, anyone could have made the
    chain: the command says so and exits 1, unless --no-anchor is given.
    """
    from ledger import PROOF_UNANCHORED

    if no_anchor and (validators or genesis_path):
        raise click.UsageError("--no-anchor contradicts --genesis and --validator")
    trusted = [_hex_argument(v, 32, "--validator") for v in validators] or None
    proof_data = _read_proof(proof_file)
    history = None
    if history_file is not None:
        history = _read_proof(history_file)
        if not isinstance(history, HistoryProof):
            raise click.BadParameter("the file is not a history proof (ledger prove-history)", param_hint="--history")
    chain_id = None
    if genesis_path:
        genesis = decode_genesis(_read_genesis_file(genesis_path))
        trusted = list(genesis.validators) + (trusted or [])
        chain_id = genesis.chain_id
    check_any_proof(proof_data, trusted, chain_id, history)
    if trusted is None and not no_anchor:
        raise LedgerError(PROOF_UNANCHORED, "the proof holds together, but nothing anchors it to a chain you trust "
                                            "(give --genesis or --validator, or --no-anchor to accept that)")
    header = decode_header(proof_data.new_header if isinstance(proof_data, HistoryProof) else proof_data.header)
    proposer = header.proposer.hex()
    if chain_id is not None:
        anchor = f"anchored by the genesis of chain {header.chain_id.hex()}"
    elif trusted is not None:
        anchor = f"anchored by trusted validator {proposer}"
    else:
        anchor = "NOT anchored: anyone could have made this chain"
    carried = ""
    if history is not None:
        newer = decode_header(history.new_header)
        carried = (f"; carried forward to block {newer.height} ({newer.hash.hex()}), signed by "
                   f"{newer.proposer.hex()}")
    click.echo(f"valid: {_describe(proof_data)}, signed by {proposer}{carried}; {anchor}")


# ---------------------------------------------------------------- producing blocks from the shell

_key_path_option = click.option(
    "--key", "key_path", required=True, type=click.Path(exists=True, dir_okay=False),
    help="Private key file (PKCS#8 PEM as written by `ledger keygen`, or a hex seed); an encrypted one "
         "needs --passphrase-env NAME or --passphrase-file FILE.")


def key_option(command):
    return _key_path_option(passphrase_options(command))
out_option = click.option("--out", "out_path", type=click.Path(dir_okay=False),
                          help="Append the signed transaction (one hex line) to this file instead of printing it.")
nonce_option = click.option("--nonce", type=click.IntRange(1), default=None,
                            help="Default: the sender's stored nonce + 1, plus its transactions already in --out.")


def _read_transactions(path: str, data: bytes | None = None) -> list:
    from ledger import decode_transaction

    transactions = []
    if data is None:
        with open(path, "rb") as handle:
            data = handle.read()
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise LedgerError(BAD_ENCODING, f"{path} is not text (hex lines from `ledger sign`)") from None
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                transactions.append(decode_transaction(bytes.fromhex(line.strip())))
            except ValueError:
                raise LedgerError(BAD_ENCODING, f"line {number} of {path} is not hex") from None
    return transactions


def _sign(db: str, key_path: str, out_path: str | None, nonce: int | None, body) -> None:
    from ledger import encode_transaction, sign_transaction

    sender = _load_key(key_path)
    with _open(db) as book:
        chain_id = book.chain_id
        if nonce is None:
            queued = 0
            if out_path and os.path.exists(out_path):
                queued = sum(1 for tx in _read_transactions(out_path) if tx.sender == sender.public_key)
            nonce = book.account(sender.public_key).nonce + 1 + queued
    tx = sign_transaction(sender, chain_id, nonce, body)
    line = encode_transaction(tx).hex()
    if out_path:
        with open(out_path, "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)   # against `propose --consume` rewriting the file
            handle.seek(0, os.SEEK_END)
            if handle.tell():                    # a hand-edited file may lack its last newline
                handle.seek(-1, os.SEEK_END)
                if handle.read(1) != b"\n":
                    handle.write(b"\n")
            handle.write(line.encode("ascii") + b"\n")
        click.echo(f"signed {tx.txid.hex()} (nonce {nonce}) -> {out_path}")
    else:
        click.echo(line)


@cli.group()
def sign() -> None:
    """Sign a transaction for the chain in --db: a transfer, a mint or a record.

    The output is the canonical signed transaction as one hex line; collect lines in a file with
    --out and put them in a block with `ledger propose`.
    """


def _amount_command(name: str, body_type, summary: str):
    """`ledger sign transfer` and `ledger sign mint` take the same options."""
    @sign.command(name=name, help=summary)
    @db_option
    @key_option
    @click.option("--to", "to", required=True, help="Recipient public key (hex).")
    @click.option("--amount", required=True, type=click.IntRange(0, 2**64 - 1))
    @nonce_option
    @out_option
    def command(db: str, key_path: str, to: str, amount: int, nonce: int | None, out_path: str | None) -> None:
        _sign(db, key_path, out_path, nonce, body_type(_hex_argument(to, 32, "--to"), amount))
    return command


sign_transfer = _amount_command("transfer", Transfer, "Move AMOUNT from the key's account to --to.")
sign_mint = _amount_command("mint", Mint, "Create AMOUNT at --to (the key must be a genesis issuer).")


@sign.command(name="record")
@db_option
@key_option
@click.option("--name", "name", required=True, metavar="NAME",
              help=f"Record name, the record's key (UTF-8, at most {limits.RECORD_KEY_BYTES_MAX} bytes).")
@hex_name_option()
@click.option("--value", default=None, help="Value as UTF-8 text.")
@click.option("--value-file", type=click.File("rb"), default=None,
              help=f"Value from a file, any bytes (at most {limits.RECORD_VALUE_BYTES_MAX} bytes; - for stdin).")
@nonce_option
@out_option
def sign_record(db: str, key_path: str, name: str, hex_name: bool, value: str | None, value_file,
                nonce: int | None, out_path: str | None) -> None:
    """Set the key's record NAME to a value (an entry in its own namespace).

    The limits are checked before anything is signed: a name of at most 64 bytes, a value of at
    most 4096. Binary names go in as hex with --hex-name, binary values with --value-file.
    """
    if (value is None) == (value_file is None):
        raise click.UsageError("give exactly one of --value and --value-file")
    record_key = _record_name(name, hex_name, "--name")
    if len(record_key) > limits.RECORD_KEY_BYTES_MAX:
        raise click.BadParameter(f"the name is {len(record_key)} bytes; a record name is at most "
                                 f"{limits.RECORD_KEY_BYTES_MAX} bytes", param_hint="--name")
    if value is not None:
        try:
            data = value.encode("utf-8")
        except UnicodeEncodeError:
            raise click.BadParameter("the value is not UTF-8 text; give a binary value with --value-file",
                                     param_hint="--value") from None
    else:
        data = value_file.read(limits.RECORD_VALUE_BYTES_MAX + 1)
    if len(data) > limits.RECORD_VALUE_BYTES_MAX:
        shown = f"is {len(data)} bytes" if value is not None else "is over the limit"
        raise click.BadParameter(f"the value {shown}; a record value is at most {limits.RECORD_VALUE_BYTES_MAX} bytes",
                                 param_hint="--value" if value is not None else "--value-file")
    _sign(db, key_path, out_path, nonce, Record(record_key, data))


def _consume(path: str, proposed: bytes) -> None:
    """Remove the `proposed` bytes from the front of the pending file, keeping lines appended since
    (`ledger sign --out` appends under the same lock)."""
    with open(path, "r+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        current = handle.read()
        if not current.startswith(proposed):
            click.echo(f"warning: {path} changed since it was read; it was left as it is", err=True)
            return
        handle.seek(0)
        handle.write(current[len(proposed):])
        handle.truncate()
        handle.flush()
        os.fsync(handle.fileno())


@cli.command()
@db_option
@key_option
@click.argument("transactions_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--time-ms", type=click.IntRange(0), default=None, help="Block time (default: now).")
@click.option("--allow-empty", is_flag=True, help="Append a block with no transactions when the file has none.")
@click.option("--consume", is_flag=True,
              help="Once the block is stored, remove its transactions from TRANSACTIONS_FILE (lines `ledger sign` "
                   "appended since are kept).")
@wait_option
@json_option
def propose(db: str, key_path: str, transactions_file: str, time_ms: int | None, allow_empty: bool, consume: bool,
            wait: bool, as_json: bool) -> None:
    """Make, sign and append the next block from TRANSACTIONS_FILE (hex lines from `ledger sign`).

    --key must be a genesis validator. Every transaction is checked against the rules in order;
    the first invalid one stops with its code and index and nothing is appended. A file with no
    transactions is refused (exit status 2) unless --allow-empty. With --consume the proposed
    lines leave the file only after the block is durably stored, so a failed propose loses nothing.
    """

    proposer = _load_key(key_path)
    with open(transactions_file, "rb") as handle:
        proposed_bytes = handle.read()
    transactions = _read_transactions(transactions_file, proposed_bytes)
    if not transactions and not allow_empty:
        raise click.UsageError(f"{transactions_file} holds no transactions; pass --allow-empty to propose an "
                               "empty block")
    with _open(db, wait=wait, writer=True) as book:
        builder = book.builder(proposer)
        for tx in transactions:
            builder.add(tx)
        block = book.append(builder.build(time_ms))
    if consume:
        _consume(transactions_file, proposed_bytes)
    if as_json:
        _emit(block_json(block, with_transactions=False))
    else:
        click.echo(f"appended block {block.height} ({block.hash.hex()}) with {len(block.transactions)} transactions")


# ---------------------------------------------------------------- checkpoints (docs/FORMAT.md §14)


def _origin_argument(origin: str | None, hint: str) -> str | None:
    """An origin is also the key name, so it must be one (signed-note: no space, no '+')."""
    from ledger import VerifierKey

    if origin is None:
        return None
    try:
        VerifierKey(origin, bytes(32))
    except ValueError:
        raise click.BadParameter(f"{origin!r} cannot name a key: it must be non-empty, without spaces, '+' or "
                                 "control characters", param_hint=hint) from None
    return origin


def _checkpoint_json(checkpoint, signers) -> dict:
    import base64

    return {"origin": checkpoint.origin, "size": checkpoint.size, "height": checkpoint.size - 1,
            "root": base64.b64encode(checkpoint.root).decode("ascii"), "root_hex": checkpoint.root.hex(),
            "signers": [{"name": key.name, "key_id": key.key_id.hex(), "public_key": key.public_key.hex(),
                         "verifier_key": key.to_string()} for key in signers]}


@cli.command(name="checkpoint")
@db_option
@key_option
@click.option("--origin", default=None, metavar="ORIGIN",
              help="The checkpoint's origin line, also its key name (default: ledger/<chain id hex>).")
@click.option("--out", "out_path", type=click.Path(dir_okay=False),
              help="Write the note to this file (an existing file is refused) instead of printing it.")
@force_option
@read_only_option
@json_option
def checkpoint_command(db: str, key_path: str, origin: str | None, out_path: str | None, force: bool,
                       read_only: bool, as_json: bool) -> None:
    """Write a C2SP checkpoint of the block log, signed by a validator's key.

    The block log is the RFC 6962 (SHA-256) Merkle tree over the chain id and every block hash,
    so its size is the tip height + 1 (docs/FORMAT.md §14). The note (origin, size, base64 root,
    then the signature line) is a C2SP tlog-checkpoint that transparency-log witnesses can
    cosign. --key must be one of the genesis validators, else `not-validator` (exit 1). With
    --out the note goes to that file and the verifier key (name+id+key) is printed; --json
    prints both.
    """
    from ledger import VerifierKey, parse_checkpoint

    origin = _origin_argument(origin, "--origin")
    keypair = _load_key(key_path)
    with _open(db, read_only) as book:
        note = book.checkpoint(keypair, origin)
    text = note.to_text()
    checkpoint = parse_checkpoint(note.text)
    signer = VerifierKey(note.signatures[0].name, keypair.public_key)
    if out_path:
        _create_file(out_path, text, force, 0o644)
    if as_json:
        _emit({**_checkpoint_json(checkpoint, [signer]), "note": text, "out": out_path})
    elif out_path:
        click.echo(f"wrote {out_path}: checkpoint of size {checkpoint.size} (blocks up to height "
                   f"{checkpoint.size - 1}); verifier key {signer.to_string()}")
    else:
        click.echo(text, nl=False)


def _trusted_checkpoint_keys(values: tuple[str, ...], origin: str) -> list:
    """--validator values: a verifier key (name+id+base64) as it is, or 64 hex digits named by the
    checkpoint's origin (FORMAT.md §14: the key name is the origin)."""
    from ledger import VerifierKey

    keys = []
    for value in values:
        if "+" in value:
            try:
                keys.append(VerifierKey.from_string(value))
            except LedgerError as error:
                raise click.BadParameter(f"{value!r} is not a verifier key: {error.message}",
                                         param_hint="--validator") from None
        else:
            public_key = _hex_argument(value, 32, "--validator")
            try:
                keys.append(VerifierKey(origin, public_key))
            except ValueError:   # an origin that cannot name a key: no hex key can have signed it
                pass
    return keys


@cli.command(name="checkpoint-verify")
@click.argument("note_file", type=click.File("rb"))
@click.option("--validator", "validators", multiple=True, metavar="KEY",
              help="A key you trust: 64 hex digits (its name is the checkpoint's origin) or a verifier key "
                   "name+id+base64; repeatable.")
@click.option("--genesis", "genesis_path", type=click.Path(exists=True, dir_okay=False),
              help="Trust the validators of this genesis (JSON or canonical bytes); the origin must then be "
                   "ledger/<its chain id> unless --origin says otherwise.")
@click.option("--origin", default=None, metavar="ORIGIN", help="The origin the checkpoint must have.")
@click.option("--db", "db", default=None, type=click.Path(file_okay=False),
              help="Also check that the root is the root of this store's block log at the checkpoint's size.")
@read_only_option
@json_option
def checkpoint_verify(note_file, validators: tuple[str, ...], genesis_path: str | None, origin: str | None,
                      db: str | None, read_only: bool, as_json: bool) -> None:
    """Check a checkpoint from `ledger checkpoint` (use - for stdin).

    The note is read strictly (C2SP signed-note and tlog-checkpoint); signature lines of keys you
    do not trust are ignored, a trusted key's signature that fails rejects the note, and at least
    one trusted key must have signed it (else `proof-invalid`, exit 1). Trust comes from
    --validator or --genesis (one is required). With --db, the store must hold at least that
    many leaves (else `not-found`) and its block log of that size must have that root (else
    `proof-invalid`): the checkpoint then describes this store's chain.
    """
    from ledger import (
        NOTE_BYTES_MAX, PROOF_INVALID, VerifierKey, block_log_root, default_origin, parse_checkpoint, parse_note,
        verify_note,
    )

    if not validators and not genesis_path:
        raise click.UsageError("give --validator or --genesis: the keys you trust to sign checkpoints")
    origin = _origin_argument(origin, "--origin")
    note = parse_note(note_file.read(NOTE_BYTES_MAX + 1))
    checkpoint = parse_checkpoint(note.text)   # its origin names the keys given as hex
    # FORMAT.md §14: a ledger checkpoint is three lines (tlog-checkpoint's extension lines would be
    # signed yet never shown here) over a block log holding at least the chain id.
    if checkpoint.extensions:
        raise LedgerError(BAD_ENCODING, "the checkpoint has extension lines; a ledger checkpoint has none")
    if checkpoint.size == 0:
        raise LedgerError(BAD_ENCODING, "the checkpoint's tree size is 0; a ledger block log holds the chain id")
    trusted = _trusted_checkpoint_keys(validators, checkpoint.origin)
    if genesis_path:
        genesis = decode_genesis(_read_genesis_file(genesis_path))
        if origin is None:
            origin = default_origin(genesis.chain_id)
        try:
            trusted += [VerifierKey(checkpoint.origin, key) for key in genesis.validators]
        except ValueError:
            pass
    if origin is not None and checkpoint.origin != origin:
        raise LedgerError(PROOF_INVALID, f"the checkpoint's origin is {checkpoint.origin!r}, not {origin!r}")
    signers = verify_note(note, trusted)
    matches = None
    if db is not None:
        with _open(db, read_only) as book:
            leaves = book.history_leaves(checkpoint.size)
        if block_log_root(leaves) != checkpoint.root:
            raise LedgerError(PROOF_INVALID, f"the checkpoint's root is not the root of the block log of {db} at "
                                             f"size {checkpoint.size}: the store holds another chain or history",
                              checkpoint.size - 1)
        matches = db
    if as_json:
        _emit({"valid": True, **_checkpoint_json(checkpoint, signers), "store": matches})
        return
    names = ", ".join(f"{key.name} ({key.public_key.hex()})" for key in signers)
    store = f"; it matches the block log of {db}" if matches else ""
    click.echo(f"valid: checkpoint of {checkpoint.origin}, size {checkpoint.size} (blocks up to height "
               f"{checkpoint.size - 1}), signed by {names}{store}")


@cli.command()
@click.option("--blocks", default=20, show_default=True, type=click.IntRange(1), help="Blocks in the test chain.")
@click.option("--txs-per-block", default=1000, show_default=True, type=click.IntRange(1, 65536))
@click.option("--merkle-leaves", default=1_000_000, show_default=True, type=click.IntRange(1))
@click.option("--repeat", default=3, show_default=True, type=click.IntRange(1), help="Runs per figure (best kept).")
@click.option("--threads", "thread_counts", multiple=True, type=click.IntRange(1),
              help="Thread counts to measure (repeatable; default 1, 2 and every core).")
@click.option("--plot", "plot_path", default="bench-throughput.png", show_default=True, type=click.Path(dir_okay=False),
              help="Write a PNG of throughput against threads and batch size ('' for none).")
@json_option
def bench(blocks: int, txs_per_block: int, merkle_leaves: int, repeat: int, thread_counts: tuple[int, ...],
          plot_path: str, as_json: bool) -> None:
    """Measure import, validate, hashing, Merkle and signature throughput against baselines
    (a one-thread PyNaCl verify loop, a Python loop over the blake3 package) in the same run,
    and print the ratios."""
    from ledger import plot_benchmark, run_benchmark

    report = run_benchmark(blocks, txs_per_block, merkle_leaves, repeat, thread_counts or None,
                           log=(lambda line: click.echo(line, err=True)) if as_json else click.echo)
    if plot_path:
        try:
            plot_benchmark(report, plot_path)
        except ImportError:
            click.echo("matplotlib is not installed: no plot (pip install 'ledger-engine[test]')", err=True)
            plot_path = ""
    if as_json:
        _emit({"rates": report.rates, "ratios": report.ratios, "plot": plot_path or None,
               "threads_curve": report.threads_curve, "batch_curve": report.batch_curve})
        return
    for line in report.lines():
        click.echo(line)
    if plot_path:
        click.echo(f"plot: {plot_path}")


# ---------------------------------------------------------------- examples in every --help

# One table, so a command added anywhere gets its example here; tests/test_cli_operators.py walks
# the group and fails for a command without one.
@cli.command()
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False),
              help="The node's TOML configuration file (README.md, \"Running a node\").")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]), default="warning",
              show_default=True, help="The least severe log lines written to stderr (warning: lease changes, NATS "
              "disconnections and refused blocks; info adds fenced publishes and reconnection detail).")
@passphrase_options
def node(config_path: str, log_level: str) -> None:
    """Run a node: the HTTP API over a store, a mempool, and (with a validator key) a proposer.

    With a [nats] table in the file the node is one of several sharing the chain through NATS
    JetStream: blocks go through a replicated stream every node applies in order, and one validator
    at a time proposes, holding a lease (README.md, "Running several nodes").

    Serves until Ctrl-C (exit 130) or SIGTERM (exit 0), which stop it after the block being
    committed. Prints one line `listening on http://HOST:PORT` on stderr once it accepts requests.
    An encrypted validator key file takes its passphrase from --passphrase-env or --passphrase-file.
    """
    from ledger.node import ConfigError, load_config, run_node

    try:
        config = load_config(config_path)
    except ConfigError as error:
        raise click.BadParameter(str(error), param_hint="--config") from None
    if not os.path.isdir(config.store) or not os.listdir(config.store):
        raise LedgerError(NOT_FOUND, f"no ledger store at {config.store} (create one with `ledger init`)")
    keypair = _load_key(config.validator_key) if config.validator_key else None   # encrypted: a passphrase option
    who = f" {config.nats.name}" if config.nats is not None and config.nats.name else ""
    logging.basicConfig(level=log_level.upper(), stream=sys.stderr,
                        format=f"%(asctime)s{who} %(levelname)s %(name)s: %(message)s")
    if run_node(config, keypair) == signal.SIGINT:
        sys.exit(EXIT_INTERRUPTED)   # Ctrl-C, as every command; SIGTERM is an ordinary stop (0)


EXAMPLES = {
    "": ["ledger keygen --out validator.pem",
         "ledger genesis --validator $(ledger pubkey validator.pem --hex) --name demo --out genesis.json",
         "ledger init --db db --genesis genesis.json",
         "ledger info --db db"],
    "keygen": ["ledger keygen --out alice.pem            # refuses to replace an existing file",
               "ledger keygen --out alice.pem --force    # replaces it",
               "ledger keygen --out validator.pem --encrypt --passphrase-file /run/secrets/validator-pass",
               "LEDGER_PASS=… ledger keygen --out validator.pem --encrypt --passphrase-env LEDGER_PASS"],
    "pubkey": ["ledger pubkey alice.pem", "ledger pubkey alice.pem --hex",
               "ledger pubkey validator.pem --hex --passphrase-env LEDGER_PASS   # an encrypted key"],
    "genesis": ["ledger genesis --name certificates --time-ms 1767225600000 \\",
                "    --validator $(ledger pubkey validator.pem --hex) --issuer $(ledger pubkey issuer.pem --hex) \\",
                "    --balance $(ledger pubkey alice.pem --hex)=1000 --out genesis.json",
                "ledger genesis --out template.json      # a template: replace the placeholder key"],
    "init": ["ledger init --db db --genesis genesis.json"],
    "gen": ["ledger gen --out demo.ledger --blocks 100 --txs-per-block 1000 --seed 1",
            "ledger gen --out old.ledger --blocks 100 --format-version 1   # a version-1 chain"],
    "import": ["ledger import demo.ledger --db db",
               "ledger import demo.ledger --db db --assume-valid $(ledger info --db trusted --json | jq -r .tip_hash)"],
    "export": ["ledger export --db db --out copy.ledger"],
    "validate": ["ledger validate --db db --from 1 --to 50"],
    "info": ["ledger info --db db --json"],
    "block": ["ledger block 1 --db db", "ledger block 1 --db db --json"],
    "tx": ["ledger tx 3f2a…(64 hex digits) --db db"],
    "account": ["ledger account $(ledger pubkey alice.pem --hex) --db db"],
    "record": ["ledger record $(ledger pubkey alice.pem --hex) certificate/42 --db db",
               "ledger record $(ledger pubkey alice.pem --hex) 00ff --hex-name --db db"],
    "proof": ["ledger proof 3f2a…(64 hex digits) --db db > proof.json",
              "ledger proof 3f2a…(64 hex digits) --db db --binary --out proof.bin"],
    "prove-account": ["ledger prove-account $(ledger pubkey alice.pem --hex) --db db > account.json",
                      "ledger prove-account $(ledger pubkey alice.pem --hex) --db db --binary --out account.bin"],
    "prove-record": ["ledger prove-record $(ledger pubkey issuer.pem --hex) licence/2026/0042 --db db > licence.json",
                     "ledger prove-record $(ledger pubkey issuer.pem --hex) 00ff --hex-key --db db --json"],
    "prove-history": ["ledger prove-history --db db --from 10 --to 250 > history.json"],
    "verify-proof": ["ledger verify-proof proof.json --genesis genesis.json",
                     "ledger verify-proof licence.bin --validator $(ledger pubkey validator.pem --hex)",
                     "ledger verify-proof licence.json --history history.json --genesis genesis.json"],
    "sign": ["ledger sign transfer --db db --key alice.pem --to $(ledger pubkey bob.pem --hex) --amount 30 "
             "--out pending.txs",
             "ledger propose --db db --key validator.pem pending.txs --consume"],
    "sign transfer": ["ledger sign transfer --db db --key alice.pem --to $(ledger pubkey bob.pem --hex) --amount 30 "
                      "--out pending.txs"],
    "sign mint": ["ledger sign mint --db db --key issuer.pem --to $(ledger pubkey alice.pem --hex) --amount 500 "
                  "--out pending.txs"],
    "sign record": ["ledger sign record --db db --key alice.pem --name certificate/42 --value issued --out pending.txs",
                    "ledger sign record --db db --key alice.pem --name 00ff --hex-name --value-file scan.bin "
                    "--out pending.txs"],
    "propose": ["ledger propose --db db --key validator.pem pending.txs --consume",
                "ledger propose --db db --key validator.pem --passphrase-file /run/secrets/validator-pass "
                "pending.txs"],
    "checkpoint": ["ledger checkpoint --db db --key validator.pem --out checkpoint.txt",
                   "ledger checkpoint --db db --key validator.pem --origin example.org/city-log --json"],
    "checkpoint-verify": ["ledger checkpoint-verify checkpoint.txt --genesis genesis.json --db db",
                          "ledger checkpoint-verify checkpoint.txt --validator $(ledger pubkey validator.pem --hex)"],
    "node": ["ledger node --config node.toml"],
    "bench": ["ledger bench --blocks 10 --threads 1 --threads 2 --plot bench.png"],
}


def _attach_examples(group: click.Group, prefix: str = "") -> None:
    group.epilog = "\n\n".join(filter(None, [group.epilog, _example_text(EXAMPLES.get(prefix.strip()))]))
    for name, command in group.commands.items():
        path = f"{prefix}{name}"
        if isinstance(command, click.Group):
            _attach_examples(command, path + " ")
        else:
            command.epilog = "\n\n".join(filter(None, [command.epilog, _example_text(EXAMPLES.get(path))]))


def _example_text(lines: list[str] | None) -> str | None:
    # \b keeps click from re-wrapping the command lines.
    return None if not lines else "Example:\n\n\b\n" + "\n".join(f"  {line}" for line in lines)


_attach_examples(cli)


def main() -> None:  # pragma: no cover
    cli()


if __name__ == "__main__":  # pragma: no cover
    main()
