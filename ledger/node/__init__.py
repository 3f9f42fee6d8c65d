"""`ledger node`: a long-running service around one store (single-node core).

Specification: docs/FORMAT.md for everything on the chain; the service is described in README.md,
"Running a node". One concern per module: config (the TOML file), mempool (admission of pending
transactions), proposer (cutting blocks, Hyperledger Fabric's BatchSize/BatchTimeout rules),
metrics (Prometheus text), http (the ASGI app), service (wiring them and running uvicorn).
"""

from ledger.node.config import BlockCutting, ConfigError, NodeConfig, load_config, parse_config
from ledger.node.service import run_node

__all__ = ["BlockCutting", "ConfigError", "NodeConfig", "load_config", "parse_config", "run_node"]
