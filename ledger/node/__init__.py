"""`ledger node`: a long-running service around one store (single-node core).

Specification: docs/FORMAT.md for everything on the chain; the service is described in README.md,
"Running a node". One concern per module: config (the TOML file), mempool (admission of pending
transactions), proposer (cutting blocks, Hyperledger Fabric's BatchSize/BatchTimeout rules),
metrics (Prometheus text), http (the ASGI app), service (wiring them and running uvicorn).
"""
