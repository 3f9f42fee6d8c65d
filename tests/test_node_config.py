"""ledger.node.config: the TOML file of `ledger node` is read strictly, with defaults."""
from __future__ import annotations

import os

import pytest

from ledger.node.config import BlockCutting, ConfigError, NatsSettings, load_config, parse_config

FULL = """
[store]
path = "db"
[http]
host = "0.0.0.0"
port = 9000
[validator]
key_file = "keys/validator.pem"
[blocks]
max_transactions = 500
max_bytes = 65536
batch_timeout_ms = 100
[mempool]
max_transactions = 1000
nonce_window = 8
"""


def test_full_file(tmp_path):
    (tmp_path / "node.toml").write_text(FULL)
    config = load_config(tmp_path / "node.toml")
    assert config.store == os.path.join(tmp_path, "db")
    assert (config.host, config.port) == ("0.0.0.0", 9000)
    assert config.validator_key == os.path.join(tmp_path, "keys", "validator.pem")
    assert config.blocks == BlockCutting(500, 65536, 100)
    assert (config.mempool_max_transactions, config.mempool_nonce_window) == (1000, 8)


def test_defaults_and_no_validator():
    config = parse_config('[store]\npath = "/var/ledger"\n')
    assert config.store == "/var/ledger" and config.validator_key is None
    assert config.blocks == BlockCutting() and config.port == 8080


def test_readme_example_parses():
    readme = open(os.path.join(os.path.dirname(__file__), "..", "README.md"), encoding="utf-8").read()
    section = readme[readme.index("## Running a node"):]
    example = section[section.index("```toml") + len("```toml"):]
    example = example[:example.index("```")]
    config = parse_config(example)
    assert config.validator_key is not None


@pytest.mark.parametrize("text, words", [
    ('[store]\npath = "db"\n[blocks]\nmax_transactoins = 5\n', "max_transactoins"),
    ('[store]\npath = "db"\n[nats]\nservers = []\n', "nats"),
    ('[http]\nport = 80\n', "store.path"),
    ('[store]\npath = "db"\n[http]\nport = "80"\n', "http.port"),
    ('[store]\npath = "db"\n[http]\nport = 70000\n', "http.port"),
    ('[store]\npath = "db"\n[blocks]\nmax_transactions = 0\n', "blocks.max_transactions"),
    ('[store]\npath = "db"\n[blocks]\nbatch_timeout_ms = true\n', "blocks.batch_timeout_ms"),
    ('[store]\npath = "db"\n[blocks]\nmax_bytes = 4096\n', "blocks.max_bytes"),
    ('[store]\npath = ""\n', "store.path"),
    ('store = 3\n', "store"),
    ('[store\n', "TOML"),
])
def test_refusals_name_the_key(text, words):
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    message = str(caught.value)
    assert words in message and "\n" not in message


def test_unreadable_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.toml")


# ---------------------------------------------------------------- [nats]

def test_nats_table_with_defaults():
    config = parse_config('[store]\npath = "db"\n[nats]\nservers = ["nats://127.0.0.1:4222"]\n')
    assert config.nats == NatsSettings(servers=("nats://127.0.0.1:4222",))
    for url in ("nats://h", "nats://user:secret@h:4222", "tls://[::1]:4222"):   # what the client accepts too
        assert parse_config(f'[store]\npath = "db"\n[nats]\nservers = ["{url}"]\n').nats.servers == (url,)
    assert (config.nats.name, config.nats.replicas, config.nats.lease_ttl_ms, config.nats.tx_retention_s) == (
        None, 3, 3000, 600)


def test_nats_table_full():
    config = parse_config('[store]\npath = "db"\n[nats]\n'
                          'servers = ["nats://a:4222", "tls://b.example:4223", "nats://[::1]:4224"]\n'
                          'name = "node-2"\nreplicas = 1\nlease_ttl_ms = 1000\ntx_retention_s = 10\n')
    assert config.nats == NatsSettings(("nats://a:4222", "tls://b.example:4223", "nats://[::1]:4224"), "node-2",
                                       1, 1000, 10)


def test_no_nats_table_is_a_single_node():
    assert parse_config('[store]\npath = "db"\n').nats is None


@pytest.mark.parametrize("text, words", [
    ('[nats]\nname = "n"\n', "nats.servers"),                                    # [nats] without servers
    ('[nats]\nreplicas = 3\n', "nats.servers"),
    ('[nats]\nservers = "nats://a:4222"\n', "nats.servers"),                     # a string, not a list
    ('[nats]\nservers = []\n', "nats.servers"),
    ('[nats]\nservers = ["http://a:4222"]\n', "nats.servers"),                   # another scheme
    ('[nats]\nservers = ["a:4222"]\n', "nats.servers"),
    ('[nats]\nservers = ["nats://"]\n', "nats.servers"),                         # no host
    ('[nats]\nservers = ["nats://:4222"]\n', "nats.servers"),
    ('[nats]\nservers = ["nats://a:42x2"]\n', "nats.servers"),                   # the client refuses these
    ('[nats]\nservers = ["nats://a:99999"]\n', "nats.servers"),
    ('[nats]\nservers = ["nats://a:0"]\n', "nats.servers"),
    ('[nats]\nservers = ["nats://a b:4222"]\n', "nats.servers"),
    ('[nats]\nservers = ["nats://a:4222/x"]\n', "nats.servers"),
    ('[nats]\nservers = ["nats://a:4222", 4222]\n', "nats.servers"),
    ('[nats]\nservers = ["nats://a:4222"]\nreplicas = 0\n', "nats.replicas"),
    ('[nats]\nservers = ["nats://a:4222"]\nreplicas = 6\n', "nats.replicas"),
    ('[nats]\nservers = ["nats://a:4222"]\nreplicas = "3"\n', "nats.replicas"),
    ('[nats]\nservers = ["nats://a:4222"]\nlease_ttl_ms = 999\n', "nats.lease_ttl_ms"),
    ('[nats]\nservers = ["nats://a:4222"]\nlease_ttl_ms = 600001\n', "nats.lease_ttl_ms"),
    ('[nats]\nservers = ["nats://a:4222"]\nlease_ttl_ms = 1.5\n', "nats.lease_ttl_ms"),
    ('[nats]\nservers = ["nats://a:4222"]\ntx_retention_s = 9\n', "nats.tx_retention_s"),
    ('[nats]\nservers = ["nats://a:4222"]\ntx_retention_s = true\n', "nats.tx_retention_s"),
    ('[nats]\nservers = ["nats://a:4222"]\nname = ""\n', "nats.name"),
    ('[nats]\nservers = ["nats://a:4222"]\nlease_ttl = 3000\n', "lease_ttl"),   # unknown key
    ('[nats]\nserver = ["nats://a:4222"]\n', "server"),
    ('nats = "nats://a:4222"\n', "nats"),                                        # not a table
    ('[jetstream]\nservers = ["nats://a:4222"]\n', "jetstream"),                 # unknown table
])
def test_nats_refusals_name_the_key(text, words):
    with pytest.raises(ConfigError) as caught:
        parse_config('[store]\npath = "db"\n' + text)
    message = str(caught.value)
    assert words in message and "\n" not in message


def test_nats_server_list_bounds():
    many = ", ".join(f'"nats://h{i}:4222"' for i in range(64))
    assert len(parse_config(f'[store]\npath = "db"\n[nats]\nservers = [{many}]\n').nats.servers) == 64
    with pytest.raises(ConfigError, match="nats.servers"):
        parse_config(f'[store]\npath = "db"\n[nats]\nservers = [{many}, "nats://h64:4222"]\n')
