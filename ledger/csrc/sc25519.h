/* Scalars modulo the group order L = 2^252 + 27742317777372353535851937790883648493 of
 * edwards25519 (RFC 8032 §5.1); methods and sources in sc25519.c.
 * Representation: 32 little-endian bytes, or four little-endian 64-bit limbs. */
#ifndef LEDGER_SC25519_H
#define LEDGER_SC25519_H

#include <stddef.h>
#include <stdint.h>

typedef struct { uint64_t v[4]; } ledger_sc;

/* 1 iff the 32-byte little-endian integer s is < L (no reduction ever applied to S). */
int ledger_sc_is_canonical(const uint8_t s[32]);
void ledger_sc_from_bytes(ledger_sc *r, const uint8_t s[32]);   /* no reduction */
void ledger_sc_to_bytes(uint8_t s[32], const ledger_sc *a);
/* r = (64-byte little-endian integer) mod L */
void ledger_sc_reduce512(ledger_sc *r, const uint8_t s[64]);
/* r = a * b mod L, r = a + b mod L; inputs below 2^256, and for add below L. */
void ledger_sc_mul(ledger_sc *r, const ledger_sc *a, const ledger_sc *b);
void ledger_sc_add(ledger_sc *r, const ledger_sc *a, const ledger_sc *b);
/* r = -a mod L, for a < L. */
void ledger_sc_neg(ledger_sc *r, const ledger_sc *a);
/* Half-size decomposition: k1 >= 0 and k2 = (k2neg ? -1 : 1) * k2abs with k1 = k2 * k (mod L),
 * 0 <= k1 < 2^127, 0 < k2abs < 2^127. Input k < L. */
void ledger_sc_half_size(ledger_sc *k1, ledger_sc *k2abs, int *k2neg, const ledger_sc *k);
/* Width-w non-adjacent form of a < 2^256: naf[0..256], each digit 0 or odd with |digit| < 2^(w-1),
 * any w consecutive digits hold at most one non-zero. Returns the index of the top non-zero digit
 * plus one (0 for a = 0). 2 <= w <= 8. */
int ledger_sc_wnaf(int8_t naf[257], const ledger_sc *a, int w);
/* The same with 16-bit digits, for 2 <= w <= 15. */
int ledger_sc_wnaf16(int16_t naf[257], const ledger_sc *a, int w);
/* Signed radix-2^c digits of a < 2^256: a = sum digits[i] 2^(c i), -2^(c-1) <= digit < 2^(c-1)
 * (the last digit may reach 2^(c-1)). Writes ledger_sc_ndigits(c) digits. 1 <= c <= 15. */
static inline int ledger_sc_ndigits(int c) { return (256 + c - 1) / c + 1; }
void ledger_sc_signed_digits(int16_t *digits, const ledger_sc *a, int c);

#endif
