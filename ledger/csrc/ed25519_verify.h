/* Ed25519 single-signature verification (RFC 8032 §5.1.7) under the ZIP-215 rules
 * (https://zips.z.cash/zip-0215):
 *   S < L as an integer (never reduced); A and R decoded leniently (non-canonical y and x = -0
 *   accepted; only bytes off the curve rejected); k = SHA-512(R || A || M) mod L over the bytes as
 *   received; accept iff [8]([S]B - R - [k]A) is the neutral element. */
#ifndef LEDGER_ED25519_VERIFY_H
#define LEDGER_ED25519_VERIFY_H

#include <stddef.h>
#include <stdint.h>

#include "ge25519.h"
#include "sc25519.h"

/* 1 if valid, 0 if not. */
int ledger_ed25519_verify(const uint8_t public_key[32], const uint8_t *message, size_t message_len,
                          const uint8_t signature[64]);

/* k = SHA-512(R || A || M) mod L */
void ledger_ed25519_challenge(ledger_sc *k, const uint8_t R[32], const uint8_t A[32], const uint8_t *message,
                              size_t message_len);

/* The group check for already decoded inputs: 1 iff [8]([S]B - R - [k]A) = 0. */
int ledger_ed25519_check_decoded(const ledger_ge_p3 *A, const ledger_ge_p3 *R, const ledger_sc *S, const ledger_sc *k);

/* Cache of decoded public keys (see ed25519_verify.c). get: 0 on a miss, 1 when the point is
 * cached, 2 when its table of odd multiples of -A (LEDGER_VAR_TABLE entries) is too (copied to tab
 * if tab is not NULL). put: tab may be NULL. Thread-safe. */
int ledger_keycache_get(const uint8_t public_key[32], ledger_ge_p3 *A, ledger_ge_cached *tab);
void ledger_keycache_put(const uint8_t public_key[32], const ledger_ge_p3 *A, const ledger_ge_cached *tab);
void ledger_keycache_enable(int on);
void ledger_keycache_clear(void);
void ledger_keycache_stats(unsigned long *hits, unsigned long *misses);

/* 1 iff the key decodes (leniently) to a point of order dividing 8. */
int ledger_ed25519_is_small_order(const uint8_t public_key[32]);

#endif
