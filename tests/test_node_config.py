"""ledger.node.config: the TOML file of `ledger node` is read strictly, with defaults."""
from __future__ import annotations

import os

import pytest

from ledger.node.config import BlockCutting, ConfigError, load_config, parse_config

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
