"""Importing a stream of blocks: the last stage of ledger.pipeline.

Specification: none beyond docs/FORMAT.md (§8 for the rules applied).

Blocks arrive decoded and with their signatures verified. Here the state rules run in block order
over the committed state plus the changes of blocks not yet committed (in the native core, over a
bounded cache of accounts: ledger.native_rules; with LEDGER_RULES=python, the readable twin over
ledger.state.LayeredState), valid blocks gather into
groups, and each group is committed (one durable LMDB write transaction) by a committer thread
while the next group is being validated. At the first invalid block, the groups before it and the
valid blocks of its own group are committed, then the error is raised: the store ends holding
exactly the blocks before the bad one, as with one `append` per block.

Version 2: the state tree given (at the store's tip) follows the accepted blocks, ahead of their
commits; the caller keeps it only if the store ends at the importer's tip.
"""
from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Iterable

from ledger.assume_valid import AssumedValid
from ledger.errors import BAD_CHAIN_FILE, CONFLICTING_BLOCK, LedgerError
from ledger.native_rules import (
    ACCOUNT_CACHE_ENTRIES, AccountCache, NativeRules, account_items, decode_block_compact, native_enabled,
)
from ledger.pipeline import Pipeline
from ledger.state import LayeredState, apply_to_tree
from ledger.storage import MapFull, PendingBlock, Store
from ledger.validate import Chain, check_block

# A group of blocks shares one durable write transaction (one fsync). The file pages a commit
# maps are page cache (RssFile), which the kernel reclaims: they are not the process's private
# memory (RssAnon), so they are not released after each commit (an unmap and remap of the whole
# environment, which cost more than it saved), and groups need not shrink as the file grows.
# The committer thread hides the fsync behind the validation of the next group.
COMMIT_GROUP_BLOCKS_MAX = 64
COMMIT_GROUP_TRANSACTIONS_MAX = 16_000


@dataclass(frozen=True, slots=True)
class ImportProgress:
    height: int          # the last height durably stored (or skipped as already stored)
    imported_blocks: int
    imported_transactions: int
    skipped_blocks: int
    assumed_valid_height: int = 0   # imported blocks up to this height were stored unverified (assume-valid)


ProgressCallback = Callable[[ImportProgress], None]


class Importer:
    def __init__(self, store: Store, chain: Chain, progress: ProgressCallback | None,
                 assume_valid: AssumedValid | None = None, account_cache_entries: int | None = None, tree=None):
        self.store = store
        self.assume_valid = assume_valid
        self.confirmed_height = 0   # the last assume-valid checkpoint whose hash matched
        self.accounts_override: bytes | None = None   # packed accounts of a group cut short (assume-valid)
        self.chain = chain
        self.progress = progress
        self.snapshot = store.snapshot()
        self.tip = self.snapshot.tip()
        self.stored_height = self.tip.height
        self.native = native_enabled()
        self.tree = tree
        if self.native:
            self.rules = NativeRules(chain, AccountCache(account_cache_entries or ACCOUNT_CACHE_ENTRIES), tree)
        else:
            self.state = LayeredState(self.snapshot)
        self.group: list[PendingBlock] = []
        self.group_transactions = 0
        # (commit, its blocks, their packed accounts or None, the cache's group, transactions)
        self.in_flight: tuple[Future, list[PendingBlock], bytes | None, int, int] | None = None
        self.committer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ledger-commit")
        self.imported_blocks = self.imported_transactions = self.skipped = 0
        self.last_height = self.tip.height   # the last height stored, by this import or before it

    def run(self, blocks: Iterable[tuple[int, bytes]], threads: int | None) -> ImportProgress:
        assumed_through = 0 if self.assume_valid is None else self.assume_valid.height
        try:
            decoder = decode_block_compact if self.native else None
            with Pipeline(blocks, verify_from=self.stored_height + 1, threads=threads, decoder=decoder,
                          assume_valid_through=assumed_through, version=self.chain.version) as stream:
                for item in stream:
                    if item.error is not None:
                        raise item.error
                    if item.height <= self.stored_height:
                        self._skip(item.height, item.data)
                        continue
                    try:
                        if self.native:
                            changes, tip = self.rules.check(self.tip, item.block, item.verdicts, item.tx_root,
                                                            self.snapshot.read_accounts, self._has_transaction)
                        else:
                            changes, tip = check_block(self.chain, self.tip, self.state, item.block, item.verdicts,
                                                        item.tx_root, self.tree)
                            self.state.apply(changes)
                            if self.tree is not None:
                                apply_to_tree(self.tree, changes)
                    except LedgerError as error:
                        raise error.at(self.tip.height + 1) from None
                    self.tip = tip
                    self.group.append(PendingBlock(tip.height, tip.hash, item.data, changes, tip))
                    self.group_transactions += item.block.header.tx_count
                    due = len(self.group) >= COMMIT_GROUP_BLOCKS_MAX or \
                        self.group_transactions >= COMMIT_GROUP_TRANSACTIONS_MAX
                    if tip.height <= assumed_through:
                        due = self._confirm_assumed(tip.height, tip.hash) and (due or tip.height == assumed_through)
                    if due:
                        self._hand_over()
            if self.group and self.group[-1].height <= assumed_through and self.confirmed_height < assumed_through:
                raise LedgerError(BAD_CHAIN_FILE, "the chain file changed during the import: it ends before the "
                                  "assumed-valid block", self.group[-1].height + 1)
            self._hand_over()
            self._settle()
        except LedgerError:
            # Whatever stopped the import (an invalid block, a truncated file, a conflict), the
            # valid blocks before it are kept (those stored unverified only up to a matched checkpoint).
            self._drop_unconfirmed()
            self._hand_over()
            self._settle()
            raise
        finally:
            self.committer.shutdown(wait=True)
            self.snapshot.close()
        return ImportProgress(self.last_height, self.imported_blocks, self.imported_transactions, self.skipped,
                              self._assumed_valid_height())

    def _assumed_valid_height(self) -> int:
        if self.assume_valid is None or self.assume_valid.height <= self.stored_height or self.imported_blocks == 0:
            return 0
        return min(self.assume_valid.height, self.last_height)

    def _confirm_assumed(self, height: int, block_hash: bytes) -> bool:
        """At a checkpoint of the assume-valid first pass: the block must be the one read there
        (else the file changed between the passes). True where a group of unverified blocks may end."""
        expected = self.assume_valid.hash_at(height)
        if expected is None:
            return False
        if expected != block_hash:
            raise LedgerError(BAD_CHAIN_FILE, "the chain file changed during the import: this block is not the one "
                              "the assume-valid pass read", height)
        self.confirmed_height = height
        return True

    def _drop_unconfirmed(self) -> None:
        """Never commit blocks stored without signature checks that no matched checkpoint covers."""
        if self.assume_valid is None:
            return
        keep = [block for block in self.group
                if block.height <= self.confirmed_height or block.height > self.assume_valid.height]
        if len(keep) != len(self.group):
            self.group = keep
            self.group_transactions = sum(block.changes.tx_count for block in keep)
            if self.native:
                # The cache's dirty entries include the dropped blocks' changes: write back the
                # kept blocks' accounts instead (the import ends here, so the cache is not reused).
                merged: dict[bytes, bytes] = {}
                for block in keep:
                    merged.update(account_items(block.changes.accounts_packed))
                self.accounts_override = b"".join(key + value for key, value in sorted(merged.items()))

    def _skip(self, height: int, data: bytes) -> None:
        if self.snapshot.block_bytes(height) != data:
            raise LedgerError(CONFLICTING_BLOCK, "a different block is already stored at this height", height)
        self.skipped += 1
        self.last_height = height
        if self.progress is not None and self.skipped % COMMIT_GROUP_BLOCKS_MAX == 0:
            self.progress(ImportProgress(height, self.imported_blocks, self.imported_transactions, self.skipped))

    def _has_transaction(self, txid: bytes) -> bool:
        """Is the id stored, or in a block accepted but not yet durable? (Asked once, for a block
        rejected for a stale nonce.)"""
        pending = list(self.group) + (list(self.in_flight[1]) if self.in_flight is not None else [])
        return self.snapshot.has_transaction(txid) or any(txid in block.changes.txids for block in pending)

    def _hand_over(self) -> None:
        """Wait for the previous group to be durable, then give this group to the committer."""
        self._settle()
        if not self.group:
            return
        group, transactions = self.group, self.group_transactions
        self.group, self.group_transactions = [], 0
        if self.native:
            cache_group = self.rules.cache.group
            accounts = self.rules.cache.take_dirty()   # written back once per group, sorted
            if self.accounts_override is not None:
                accounts, self.accounts_override = self.accounts_override, None
        else:
            cache_group, accounts = 0, None
            self.state.push()
        self.in_flight = (self.committer.submit(self.store.commit, group, False, accounts), group, accounts,
                          cache_group, transactions)

    def _settle(self) -> None:
        """Wait until the group in flight is durable; then read a snapshot that holds it."""
        if self.in_flight is None:
            return
        future, group, accounts, cache_group, transactions = self.in_flight
        self.in_flight = None
        try:
            try:
                future.result()
            except MapFull:
                # The map must grow, and LMDB forbids that while this thread holds a snapshot.
                self.snapshot.close()
                self.store.grow_map()
                self.store.commit(group, accounts=accounts)
        except BaseException:
            # The commit failed (a full disk, an I/O error): commit nothing after it, or the store
            # would skip the heights of this group.
            self.group = []
            raise
        self.snapshot.close()
        self.snapshot = self.store.snapshot()
        if self.native:
            self.rules.cache.evict(cache_group)   # entries of durable groups may go now
        else:
            self.state.rebase(self.snapshot, committed_layers=1)
        self.imported_blocks += len(group)
        self.imported_transactions += transactions
        self.last_height = group[-1].height
        if self.progress is not None:
            self.progress(ImportProgress(self.last_height, self.imported_blocks, self.imported_transactions,
                                         self.skipped))
