"""Developer tools of the ledger project (not installed with the package): the local cluster harness
(tools.cluster), the load generator (tools.loadgen), the cluster demo, and the build/test scripts."""
