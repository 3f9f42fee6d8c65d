"""The node's configuration: one TOML file (TOML v1.0.0, read with the standard library's tomllib).

Specification: README.md, "Running a node" (a full example). Block cutting follows Hyperledger
Fabric's orderer settings: BatchSize.MaxMessageCount (max_transactions), BatchSize.AbsoluteMaxBytes
(max_bytes) and BatchTimeout (batch_timeout_ms).

Strict: an unknown table or key, a missing required key, or a value of the wrong type or range is
refused with one line naming it (ConfigError), so a typo never silently falls back to a default.
"""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from ledger import limits


class ConfigError(ValueError):
    """The configuration file is unreadable or breaks a rule; the message is one line."""


@dataclass(frozen=True)
class BlockCutting:
    max_transactions: int = 1000
    max_bytes: int = 1024 * 1024
    batch_timeout_ms: int = 200


@dataclass(frozen=True)
class NatsSettings:
    """Replication through NATS JetStream (README.md, "Running several nodes")."""
    servers: tuple[str, ...]
    name: str | None = None          # this node's name in the lease and the logs
    replicas: int = 3                # of the block stream, the transaction stream and the lease bucket
    lease_ttl_ms: int = 3000         # a lease not renewed for this long lapses; another validator takes it
    tx_retention_s: int = 600        # how long the transaction stream keeps a submitted transaction


@dataclass(frozen=True)
class NodeConfig:
    store: str
    host: str = "127.0.0.1"
    port: int = 8080
    validator_key: str | None = None   # a node without one serves and admits but does not propose
    blocks: BlockCutting = field(default_factory=BlockCutting)
    mempool_max_transactions: int = 100_000
    mempool_nonce_window: int = 64
    nats: NatsSettings | None = None   # None: a single node that commits to its own store


# table -> key -> (type, minimum, maximum); None for a str
_SCHEMA: dict[str, dict[str, tuple]] = {
    "store": {"path": (str, None, None)},
    "http": {"host": (str, None, None), "port": (int, 0, 65_535)},
    "validator": {"key_file": (str, None, None)},
    "blocks": {"max_transactions": (int, 1, limits.TRANSACTIONS_PER_BLOCK_MAX),
               # at least the largest transaction (a 4 KiB record and its fields); below the
               # format's block limit, leaving room for the header
               "max_bytes": (int, 8192, limits.BLOCK_BYTES_MAX - 4096),
               "batch_timeout_ms": (int, 1, 3_600_000)},
    # the window bounds a sender's pending transactions, which each admission sums (overdraft check)
    "mempool": {"max_transactions": (int, 1, 10_000_000), "nonce_window": (int, 1, 4096)},
    "nats": {"servers": (list, 1, 64), "name": (str, None, None), "replicas": (int, 1, 5),
             # renewed every third of it: below a second the renewals crowd the bucket
             "lease_ttl_ms": (int, 1000, 600_000), "tx_retention_s": (int, 10, 30 * 86_400)},
}


def _server_url(url: object) -> bool:
    """Whether `url` is one the NATS client connects to: the scheme, a host, a port of 1 to 65,535
    if any (the client's default is 4222), nothing after it. A typo here would otherwise surface
    only as a node retrying to connect for ever."""
    if not isinstance(url, str) or not url.startswith(("nats://", "tls://")) or any(c.isspace() for c in url):
        return False
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:   # a port that is not a number, or out of range
        return False
    return bool(parts.hostname) and port != 0 and not (parts.path or parts.query or parts.fragment)


def _check(table: str, key: str, value: object) -> object:
    kind, low, high = _SCHEMA[table][key]
    name = f"{table}.{key}"
    if kind is list:   # of server URLs
        if not isinstance(value, list) or not low <= len(value) <= high:
            raise ConfigError(f"{name} must be a list of {low} to {high} server URLs")
        for url in value:
            if not _server_url(url):
                raise ConfigError(f"{name} holds {url!r}: a server URL is nats://HOST:PORT or tls://HOST:PORT")
        return tuple(value)
    if kind is int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise ConfigError(f"{name} must be an integer, not {type(value).__name__}")
        if not low <= value <= high:
            raise ConfigError(f"{name} must be between {low} and {high}, not {value}")
    elif not isinstance(value, str) or not value:
        raise ConfigError(f"{name} must be a non-empty string")
    return value


def parse_config(text: str, base: str = ".") -> NodeConfig:
    """The configuration in TOML `text`; relative paths are taken from the folder `base`."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"not valid TOML: {error}") from None
    unknown = sorted(set(data) - set(_SCHEMA))
    if unknown:
        raise ConfigError(f"unknown table(s) {', '.join(unknown)} (known: {', '.join(_SCHEMA)})")
    values: dict[str, object] = {}
    for table, entries in data.items():
        if not isinstance(entries, dict):
            raise ConfigError(f"{table} must be a table ([{table}])")
        unknown = sorted(set(entries) - set(_SCHEMA[table]))
        if unknown:
            raise ConfigError(f"unknown key(s) in [{table}]: {', '.join(unknown)}")
        for key, value in entries.items():
            values[f"{table}.{key}"] = _check(table, key, value)
    if "store.path" not in values:
        raise ConfigError("store.path is required (the store folder, created with `ledger init`)")

    def path(value: object) -> str:
        return os.path.normpath(os.path.join(base, os.path.expanduser(str(value))))

    defaults, cutting = NodeConfig(store=""), BlockCutting()
    nats = None
    if any(name.startswith("nats.") for name in values):
        if "nats.servers" not in values:
            raise ConfigError("nats.servers is required in [nats] (the NATS servers, nats://HOST:PORT)")
        plain = NatsSettings(servers=())
        nats = NatsSettings(servers=values["nats.servers"], name=values.get("nats.name"),
                            replicas=values.get("nats.replicas", plain.replicas),
                            lease_ttl_ms=values.get("nats.lease_ttl_ms", plain.lease_ttl_ms),
                            tx_retention_s=values.get("nats.tx_retention_s", plain.tx_retention_s))
    return NodeConfig(
        store=path(values["store.path"]),
        host=values.get("http.host", defaults.host),
        port=values.get("http.port", defaults.port),
        validator_key=path(values["validator.key_file"]) if "validator.key_file" in values else None,
        blocks=BlockCutting(values.get("blocks.max_transactions", cutting.max_transactions),
                            values.get("blocks.max_bytes", cutting.max_bytes),
                            values.get("blocks.batch_timeout_ms", cutting.batch_timeout_ms)),
        mempool_max_transactions=values.get("mempool.max_transactions", defaults.mempool_max_transactions),
        mempool_nonce_window=values.get("mempool.nonce_window", defaults.mempool_nonce_window),
        nats=nats,
    )


def load_config(path: str | os.PathLike) -> NodeConfig:
    """Read the file at `path`; relative paths in it are relative to the file's folder."""
    try:
        with open(path, "rb") as handle:
            text = handle.read().decode("utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read {os.fspath(path)}: {error}") from None
    return parse_config(text, os.path.dirname(os.path.abspath(path)))
