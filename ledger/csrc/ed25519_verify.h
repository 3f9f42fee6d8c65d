/* Ed25519 single-signature verification under the ZIP-215 rules:
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

/* 1 iff the key decodes (leniently) to a point of order dividing 8. */
int ledger_ed25519_is_small_order(const uint8_t public_key[32]);

#endif
