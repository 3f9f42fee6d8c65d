"""`ledger node`: a long-running service around one store, alone or one of several sharing a chain.

Specification: docs/FORMAT.md for everything on the chain; the service is described in README.md,
"Running a node" and "Running several nodes". One concern per module: config (the TOML file),
mempool (admission of pending transactions), proposer (cutting blocks, Hyperledger Fabric's
BatchSize/BatchTimeout rules), metrics (Prometheus text), http (the ASGI app), service (wiring them
and running uvicorn); with [nats]: replication (the NATS JetStream client, its streams and
readers), applier (taking the block stream in order), lease (which validator proposes).
"""

from ledger.node.config import BlockCutting, ConfigError, NodeConfig, load_config, parse_config
from ledger.node.service import run_node

__all__ = ["BlockCutting", "ConfigError", "NodeConfig", "load_config", "parse_config", "run_node"]
