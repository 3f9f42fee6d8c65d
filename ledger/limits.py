"""Every limit of the format, named once. The decoder enforces them; docs/FORMAT.md lists them.

Specification: docs/FORMAT.md §10."""

FORMAT_VERSIONS = (1, 2)          # the genesis version chooses the chain format (FORMAT.md §4, §6)
DEFAULT_FORMAT_VERSION = 2        # new chains
HEADER_FIELDS = {1: 10, 2: 11}    # a header's number of fields, by version (with the signature)

TRANSACTIONS_PER_BLOCK_MAX = 65_536
BLOCK_BYTES_MAX = 16 * 1024 * 1024
GENESIS_BYTES_MAX = 16 * 1024 * 1024
RECORD_KEY_BYTES_MAX = 64
RECORD_VALUE_BYTES_MAX = 4096
VALIDATORS_MAX = 256
ISSUERS_MAX = 256
GENESIS_BALANCES_MAX = 100_000
CHAIN_NAME_BYTES_MAX = 64
AMOUNT_MAX = 2**64 - 1
NONCE_MAX = 2**64 - 1
HEIGHT_MAX = 2**64 - 1
TIME_MS_MAX = 2**64 - 1

KEY_BYTES = 32
HASH_BYTES = 32
SIGNATURE_BYTES = 64
