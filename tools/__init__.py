"""Developer tools of the ledger project, not installed with the package (specification: none of
their own): the local cluster harness (tools.cluster), the load generator (tools.loadgen), the
cluster demo (tools.cluster_demo), and the build and test scripts beside them."""
