/* Ed25519 batch verification under the ZIP-215 rules (ZIP 215; RFC 8032 §5.1.7), by the random
 * linear combination of D. J. Bernstein, N. Duif, T. Lange, P. Schwabe, B.-Y. Yang, "High-speed
 * high-security signatures" (CHES 2011; batch verification), with the cofactored equation.
 *
 * Each item is first checked on its own for what is deterministic (S < L, A and R decode); the
 * rest are checked together: with random 128-bit z_i from the operating system's CSPRNG,
 *     [8]( [sum z_i S_i] B - sum [z_i] R_i - sum [z_i k_i] A_i ) = 0.
 * When that fails, the range is bisected (ranges of a few items are checked one by one) until every
 * item has its own verdict, so the results equal the single-signature verdicts (up to the 2^-128
 * chance that a bad signature hides in a passing random combination). Terms of one public key
 * are coalesced (see ledger_ed25519_batch_coalesce): in a range of items the points are -R_i with
 * scalar z_i, and -A once per distinct key encoding with scalar sum z_i k_i mod L. The items are
 * split across pthreads, each thread checking its own share with its own coefficients; with
 * coalescing on, the shares are dealt by key so that a key's items meet in one thread. Points are decoded four
 * at a time (AVX2 when available) and public keys found in the key cache (ed25519_verify.h) are
 * not decoded again. The sum is formed by Straus's method up to 96 points, above by Pippenger's
 * bucket method (msm.c; tests/c/bench_msm.c measures the crossing). */
#ifndef LEDGER_ED25519_BATCH_H
#define LEDGER_ED25519_BATCH_H

#include <stddef.h>
#include <stdint.h>

/* results[i] = 1 if item i is valid, 0 if not. nthreads <= 0 means one per online CPU.
 * Returns 0, -1 when memory runs out, -2 when the CSPRNG fails. */
int ledger_ed25519_verify_batch(size_t n, const uint8_t *const *public_keys, const uint8_t *const *messages,
                                const size_t *message_lens, const uint8_t *const *signatures, uint8_t *results,
                                int nthreads);

/* The same, with the randomness supplied by the caller (16 bytes per item): for tests only. */
int ledger_ed25519_verify_batch_seeded(size_t n, const uint8_t *const *public_keys, const uint8_t *const *messages,
                                       const size_t *message_lens, const uint8_t *const *signatures,
                                       uint8_t *results, int nthreads, const uint8_t *coefficients);

/* Only the first bad signature, by position: *first_bad = the smallest i whose item fails (n if
 * none). Items are checked as in ledger_ed25519_verify_batch, but a failing range is followed
 * only into its leftmost failing half, and nothing after an item that fails on its own is looked
 * at, so a batch of bad signatures costs about what a valid batch does (bisecting every item
 * costs several times more). For block validation, which stops at the first failure anyway.
 * Same return codes. */
int ledger_ed25519_first_bad(size_t n, const uint8_t *const *public_keys, const uint8_t *const *messages,
                             const size_t *message_lens, const uint8_t *const *signatures, size_t *first_bad,
                             int nthreads);

/* The same, with the randomness supplied by the caller (16 bytes per item): for tests only. */
int ledger_ed25519_first_bad_seeded(size_t n, const uint8_t *const *public_keys, const uint8_t *const *messages,
                                    const size_t *message_lens, const uint8_t *const *signatures, size_t *first_bad,
                                    int nthreads, const uint8_t *coefficients);

/* Coalescing by key: all items whose public keys have identical 32-byte encodings share one point
 * -A of the combination, with scalar sum z_i k_i mod L (as Zcash's zebra batch verifier does), so
 * a batch of n items with d distinct keys is a sum of n + d + 1 points instead of 2n + 1. Keys that
 * encode the same point differently (ZIP 215 accepts y >= p and x = -0) stay separate points.
 * Verdicts are the same either way. enable = 1 / 0 turns it on / off for later batches (on by
 * default; for benchmarks), -1 only asks. Returns whether it is on. */
int ledger_ed25519_batch_coalesce(int enable);

/* Random-combination checks made, and points summed by them (the base point counted), by every
 * batch of every thread since the last reset (reset != 0 zeroes both first). NULL: not wanted. */
void ledger_ed25519_batch_stats(unsigned long *checks, unsigned long *points, int reset);

/* Number of CPUs online (at least 1). */
int ledger_cpu_count(void);

#endif
