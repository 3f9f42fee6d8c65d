"""The `ledger` command line (installed as the package ledger_cli)."""
