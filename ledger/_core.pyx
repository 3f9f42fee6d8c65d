# cython: language_level=3
"""ledger._core: the one native module. Each concern lives in its own .pxi beside this file,
bound to C sources in ledger/csrc/ (one file a concern). Every function here has a Python twin
that the tests run the same cases through.

Specification: none of its own; each C source in ledger/csrc/ names the one it implements."""

include "_blake3.pxi"
include "_ed25519.pxi"
include "_block_decoder.pxi"
include "_block_rules.pxi"
include "_state_tree.pxi"
