/* Field arithmetic mod p = 2^255 - 19, the field of edwards25519 (RFC 8032 §5.1, RFC 7748 §4.1),
 * portable: five 64-bit limbs in radix 2^51 (the representation of D. J. Bernstein, "Curve25519:
 * new Diffie-Hellman speed records", PKC 2006, with 51-bit instead of 25.5-bit limbs), products
 * by the schoolbook method in unsigned __int128. The hot operations are static inline here so
 * that the point formulas in other files inline them; the slow, rarely called ones live in
 * fe25519.c. An AVX2 version of the exponentiation, four elements at a time (fe25519_avx2.h), is
 * chosen at run time for batch decoding; this portable code is always there and can be forced
 * (ledger_fe_simd(0)).
 *
 * Limb bounds (the caller's contract):
 *   - ledger_fe_mul / ledger_fe_sq accept limbs below 2^54 and return limbs below 2^51 + 2^15.
 *   - ledger_fe_add does not carry: the sum of two "reduced" values (limbs < 2^52) is a fine
 *     input to mul/sq and to the subtrahend of ledger_fe_sub.
 *   - ledger_fe_sub(h, f, g) needs g's limbs below 2^53 - 76 (it adds 4p) and carries its result.
 */
#ifndef LEDGER_FE25519_H
#define LEDGER_FE25519_H

#include <stdint.h>
#include <string.h>

typedef struct { uint64_t v[5]; } ledger_fe;
typedef unsigned __int128 ledger_u128;

#define LEDGER_FE_MASK51 ((uint64_t)0x7ffffffffffffULL)

extern const ledger_fe ledger_fe_d;      /* d = -121665/121666 */
extern const ledger_fe ledger_fe_2d;     /* 2d */
extern const ledger_fe ledger_fe_sqrt_minus_one; /* sqrt(-1) = 2^((p-1)/4) */

static inline void ledger_fe_0(ledger_fe *h) { memset(h, 0, sizeof *h); }
static inline void ledger_fe_1(ledger_fe *h) { memset(h, 0, sizeof *h); h->v[0] = 1; }
static inline void ledger_fe_copy(ledger_fe *h, const ledger_fe *f) { *h = *f; }

static inline void ledger_fe_add(ledger_fe *h, const ledger_fe *f, const ledger_fe *g) {
    for (int i = 0; i < 5; i++) h->v[i] = f->v[i] + g->v[i];
}

/* One carry pass: limbs back below 2^51 (limb 0 may hold up to 2^51 + 19*small). */
static inline void ledger_fe_carry(ledger_fe *h) {
    uint64_t c;
    c = h->v[0] >> 51; h->v[0] &= LEDGER_FE_MASK51; h->v[1] += c;
    c = h->v[1] >> 51; h->v[1] &= LEDGER_FE_MASK51; h->v[2] += c;
    c = h->v[2] >> 51; h->v[2] &= LEDGER_FE_MASK51; h->v[3] += c;
    c = h->v[3] >> 51; h->v[3] &= LEDGER_FE_MASK51; h->v[4] += c;
    c = h->v[4] >> 51; h->v[4] &= LEDGER_FE_MASK51; h->v[0] += c * 19;
}

/* h = f - g + 4p, carried. */
static inline void ledger_fe_sub(ledger_fe *h, const ledger_fe *f, const ledger_fe *g) {
    h->v[0] = f->v[0] + 0x1fffffffffffb4ULL - g->v[0];
    h->v[1] = f->v[1] + 0x1ffffffffffffcULL - g->v[1];
    h->v[2] = f->v[2] + 0x1ffffffffffffcULL - g->v[2];
    h->v[3] = f->v[3] + 0x1ffffffffffffcULL - g->v[3];
    h->v[4] = f->v[4] + 0x1ffffffffffffcULL - g->v[4];
    ledger_fe_carry(h);
}

static inline void ledger_fe_neg(ledger_fe *h, const ledger_fe *f) {
    ledger_fe z;
    ledger_fe_0(&z);
    ledger_fe_sub(h, &z, f);
}

#ifdef LEDGER_COUNT_OPS /* instrumentation for cost accounting in test builds only */
extern unsigned long ledger_count_mul, ledger_count_sq;
#define LEDGER_COUNT(x) ((x)++)
#else
#define LEDGER_COUNT(x) ((void)0)
#endif

/* Five column sums (below 2^116) back to limbs below 2^51, limb 1 below 2^51 + 2^15: each column
 * passes its bits above 51 to the next, and what passes beyond column 4 has weight 2^255 = 19. */
static inline void ledger_fe_carry_columns(ledger_fe *h, ledger_u128 column[5]) {
    uint64_t limb[5];
    for (int k = 0; k < 4; k++) {
        column[k + 1] += column[k] >> 51;
        limb[k] = (uint64_t)column[k] & LEDGER_FE_MASK51;
    }
    limb[4] = (uint64_t)column[4] & LEDGER_FE_MASK51;
    limb[0] += (uint64_t)(column[4] >> 51) * 19;
    limb[1] += limb[0] >> 51;
    limb[0] &= LEDGER_FE_MASK51;
    for (int k = 0; k < 5; k++) h->v[k] = limb[k];
}

static inline void ledger_fe_mul(ledger_fe *h, const ledger_fe *f, const ledger_fe *g) {
    LEDGER_COUNT(ledger_count_mul);
    const uint64_t f0 = f->v[0], f1 = f->v[1], f2 = f->v[2], f3 = f->v[3], f4 = f->v[4];
    const uint64_t g0 = g->v[0], g1 = g->v[1], g2 = g->v[2], g3 = g->v[3], g4 = g->v[4];
    const uint64_t g1_19 = 19 * g1, g2_19 = 19 * g2, g3_19 = 19 * g3, g4_19 = 19 * g4;
    ledger_u128 r0 = (ledger_u128)f0 * g0 + (ledger_u128)f1 * g4_19 + (ledger_u128)f2 * g3_19 +
                     (ledger_u128)f3 * g2_19 + (ledger_u128)f4 * g1_19;
    ledger_u128 r1 = (ledger_u128)f0 * g1 + (ledger_u128)f1 * g0 + (ledger_u128)f2 * g4_19 +
                     (ledger_u128)f3 * g3_19 + (ledger_u128)f4 * g2_19;
    ledger_u128 r2 = (ledger_u128)f0 * g2 + (ledger_u128)f1 * g1 + (ledger_u128)f2 * g0 +
                     (ledger_u128)f3 * g4_19 + (ledger_u128)f4 * g3_19;
    ledger_u128 r3 = (ledger_u128)f0 * g3 + (ledger_u128)f1 * g2 + (ledger_u128)f2 * g1 +
                     (ledger_u128)f3 * g0 + (ledger_u128)f4 * g4_19;
    ledger_u128 r4 = (ledger_u128)f0 * g4 + (ledger_u128)f1 * g3 + (ledger_u128)f2 * g2 +
                     (ledger_u128)f3 * g1 + (ledger_u128)f4 * g0;
    uint64_t c;
    r1 += r0 >> 51; uint64_t h0 = (uint64_t)r0 & LEDGER_FE_MASK51;
    r2 += r1 >> 51; uint64_t h1 = (uint64_t)r1 & LEDGER_FE_MASK51;
    r3 += r2 >> 51; uint64_t h2 = (uint64_t)r2 & LEDGER_FE_MASK51;
    r4 += r3 >> 51; uint64_t h3 = (uint64_t)r3 & LEDGER_FE_MASK51;
    c = (uint64_t)(r4 >> 51);   uint64_t h4 = (uint64_t)r4 & LEDGER_FE_MASK51;
    h0 += c * 19;
    c = h0 >> 51; h0 &= LEDGER_FE_MASK51; h1 += c;
    h->v[0] = h0; h->v[1] = h1; h->v[2] = h2; h->v[3] = h3; h->v[4] = h4;
}

/* Squaring from the schoolbook product. With f = sum f_i 2^(51 i), f^2 has column
 * k = sum_(i + j = k) f_i f_j, and since 2^255 = 19 (mod p) column k + 5 folds onto column k with
 * weight 19. f_i f_j and f_j f_i are one product, so a pair i < j is taken once, doubled:
 *   column 0 = f0 f0 + 2 19 (f1 f4 + f2 f3)        column 3 = 2 (f0 f3 + f1 f2) + 19 f4 f4
 *   column 1 = 2 f0 f1 + 19 (2 f2 f4 + f3 f3)       column 4 = 2 (f0 f4 + f1 f3) + f2 f2
 *   column 2 = 2 f0 f2 + f1 f1 + 2 19 f3 f4
 * written with the doubled limbs twice_i = 2 f_i and the folded limbs fold_i = 19 f_i (i = 3, 4).
 * Inputs below 2^54 keep every product below 2^114 and every column below 2^116. */
static inline void ledger_fe_sq(ledger_fe *h, const ledger_fe *f) {
    LEDGER_COUNT(ledger_count_sq);
    const uint64_t f0 = f->v[0], f1 = f->v[1], f2 = f->v[2], f3 = f->v[3], f4 = f->v[4];
    const uint64_t twice0 = f0 + f0, twice1 = f1 + f1, twice2 = f2 + f2, twice3 = f3 + f3;
    const uint64_t fold3 = 19 * f3, fold4 = 19 * f4;
    ledger_u128 column[5];
    column[0] = (ledger_u128)f0 * f0 + (ledger_u128)twice1 * fold4 + (ledger_u128)twice2 * fold3;
    column[1] = (ledger_u128)twice0 * f1 + (ledger_u128)twice2 * fold4 + (ledger_u128)f3 * fold3;
    column[2] = (ledger_u128)twice0 * f2 + (ledger_u128)f1 * f1 + (ledger_u128)twice3 * fold4;
    column[3] = (ledger_u128)twice0 * f3 + (ledger_u128)twice1 * f2 + (ledger_u128)f4 * fold4;
    column[4] = (ledger_u128)twice0 * f4 + (ledger_u128)twice1 * f3 + (ledger_u128)f2 * f2;
    ledger_fe_carry_columns(h, column);
}

/* Loads 32 little-endian bytes, ignoring bit 255. Values in [p, 2^255) are kept as they are
 * (they are congruent to value - p): this is what lenient (ZIP-215) decoding wants. */
void ledger_fe_frombytes(ledger_fe *h, const uint8_t s[32]);
/* Canonical (fully reduced) little-endian encoding. */
void ledger_fe_tobytes(uint8_t s[32], const ledger_fe *h);
int ledger_fe_iszero(const ledger_fe *f);
int ledger_fe_isnegative(const ledger_fe *f); /* low bit of the canonical encoding */
int ledger_fe_equal(const ledger_fe *f, const ledger_fe *g);
void ledger_fe_invert(ledger_fe *out, const ledger_fe *z);    /* z^(p-2) */
void ledger_fe_pow_p58(ledger_fe *out, const ledger_fe *z);  /* z^((p-5)/8) = z^(2^252-3) */
/* Two unrelated z^((p-5)/8) side by side (faster than two calls). */
void ledger_fe_pow_p58_x2(ledger_fe *o1, const ledger_fe *z1, ledger_fe *o2, const ledger_fe *z2);
/* Four at once: an AVX2 path when the CPU has it (chosen at run time), else the portable code. */
void ledger_fe_pow_p58_x4(ledger_fe out[4], const ledger_fe in[4]);
/* SIMD switch: enable = 1/0 turns the AVX2 path on/off (on only if the CPU has AVX2), -1 asks.
 * Returns whether it is on. Off gives exactly the portable code (for tests and comparisons). */
int ledger_fe_simd(int enable);
int ledger_fe_simd_available(void);

#endif
