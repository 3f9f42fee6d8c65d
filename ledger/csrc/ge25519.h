/* Points of edwards25519 (-x^2 + y^2 = 1 + d x^2 y^2) in the extended coordinates of
 * Hisil, Wong, Carter and Dawson ("Twisted Edwards curves revisited", 2008):
 * x = X/Z, y = Y/Z, x*y = T/Z. Other forms:
 *   p1p1 ("completed"): x = X/Z, y = Y/T, the raw output of an addition or doubling;
 *   p2: (X:Y:Z) without T, enough for a doubling;
 *   cached: (Y+X, Y-X, Z, 2d*T) of an addend, saving work for repeated additions;
 *   precomp: the cached form of an affine point (Z = 1), stored without Z.
 * The addition law with a = -1 and non-square d is complete: no special cases.
 * Hot formulas are static inline here; decoding and the rest live in ge25519.c. */
#ifndef LEDGER_GE25519_H
#define LEDGER_GE25519_H

#include "fe25519.h"

typedef struct { ledger_fe X, Y, Z, T; } ledger_ge_p3;
typedef struct { ledger_fe X, Y, Z, T; } ledger_ge_p1p1;
typedef struct { ledger_fe X, Y, Z; } ledger_ge_p2;
typedef struct { ledger_fe YpX, YmX, Z, T2d; } ledger_ge_cached;
typedef struct { ledger_fe ypx, ymx, xy2d; } ledger_ge_precomp;

extern const ledger_ge_p3 ledger_ge_basepoint;

static inline void ledger_ge_p3_0(ledger_ge_p3 *h) {
    ledger_fe_0(&h->X); ledger_fe_1(&h->Y); ledger_fe_1(&h->Z); ledger_fe_0(&h->T);
}

static inline void ledger_ge_p2_0(ledger_ge_p2 *h) {
    ledger_fe_0(&h->X); ledger_fe_1(&h->Y); ledger_fe_1(&h->Z);
}

static inline void ledger_ge_p1p1_to_p2(ledger_ge_p2 *r, const ledger_ge_p1p1 *p) {
    ledger_fe_mul(&r->X, &p->X, &p->T);
    ledger_fe_mul(&r->Y, &p->Y, &p->Z);
    ledger_fe_mul(&r->Z, &p->Z, &p->T);
}

static inline void ledger_ge_p1p1_to_p3(ledger_ge_p3 *r, const ledger_ge_p1p1 *p) {
    ledger_fe_mul(&r->X, &p->X, &p->T);
    ledger_fe_mul(&r->Y, &p->Y, &p->Z);
    ledger_fe_mul(&r->Z, &p->Z, &p->T);
    ledger_fe_mul(&r->T, &p->X, &p->Y);
}

static inline void ledger_ge_p3_to_p2(ledger_ge_p2 *r, const ledger_ge_p3 *p) {
    r->X = p->X; r->Y = p->Y; r->Z = p->Z;
}

static inline void ledger_ge_p3_to_cached(ledger_ge_cached *r, const ledger_ge_p3 *p) {
    ledger_fe_add(&r->YpX, &p->Y, &p->X);
    ledger_fe_carry(&r->YpX);
    ledger_fe_sub(&r->YmX, &p->Y, &p->X);
    r->Z = p->Z;
    ledger_fe_mul(&r->T2d, &p->T, &ledger_fe_d2);
}

/* Doubling (dbl-2008-hwcd with a = -1; signs of F and H flipped, which scales the result by -1):
 * A = X^2, B = Y^2, C = 2Z^2, H = A + B, E = (X+Y)^2 - H, G = B - A, F = C - G;
 * X3 = E*F, Y3 = G*H, Z3 = F*G, T3 = E*H, returned in p1p1 form (X=E, Y=H, Z=G, T=F). */
static inline void ledger_ge_p2_dbl(ledger_ge_p1p1 *r, const ledger_ge_p2 *p) {
    ledger_fe a, b, c, h, e, g, f, xy;
    ledger_fe_sq(&a, &p->X);
    ledger_fe_sq(&b, &p->Y);
    ledger_fe_sq(&c, &p->Z);
    ledger_fe_add(&c, &c, &c);
    ledger_fe_add(&h, &a, &b);
    ledger_fe_add(&xy, &p->X, &p->Y);
    ledger_fe_sq(&e, &xy);
    ledger_fe_sub(&e, &e, &h);
    ledger_fe_sub(&g, &b, &a);
    ledger_fe_sub(&f, &c, &g);
    r->X = e; r->Y = h; r->Z = g; r->T = f;
}

static inline void ledger_ge_p3_dbl(ledger_ge_p1p1 *r, const ledger_ge_p3 *p) {
    ledger_ge_p2 q;
    ledger_ge_p3_to_p2(&q, p);
    ledger_ge_p2_dbl(r, &q);
}

/* Addition (add-2008-hwcd-3): A = (Y1-X1)(Y2-X2), B = (Y1+X1)(Y2+X2), C = T1*2d*T2, D = 2*Z1*Z2,
 * E = B - A, F = D - C, G = D + C, H = B + A; p1p1 form X=E, Y=H, Z=G, T=F. */
static inline void ledger_ge_add(ledger_ge_p1p1 *r, const ledger_ge_p3 *p, const ledger_ge_cached *q) {
    ledger_fe a, b, c, d, t;
    ledger_fe_sub(&t, &p->Y, &p->X);
    ledger_fe_mul(&a, &t, &q->YmX);
    ledger_fe_add(&t, &p->Y, &p->X);
    ledger_fe_mul(&b, &t, &q->YpX);
    ledger_fe_mul(&c, &p->T, &q->T2d);
    ledger_fe_mul(&d, &p->Z, &q->Z);
    ledger_fe_add(&d, &d, &d);
    ledger_fe_sub(&r->X, &b, &a);
    ledger_fe_add(&r->Y, &b, &a);
    ledger_fe_add(&r->Z, &d, &c);
    ledger_fe_sub(&r->T, &d, &c);
}

/* p - q: the cached form of -q swaps Y+X with Y-X and negates 2dT. */
static inline void ledger_ge_sub(ledger_ge_p1p1 *r, const ledger_ge_p3 *p, const ledger_ge_cached *q) {
    ledger_fe a, b, c, d, t;
    ledger_fe_sub(&t, &p->Y, &p->X);
    ledger_fe_mul(&a, &t, &q->YpX);
    ledger_fe_add(&t, &p->Y, &p->X);
    ledger_fe_mul(&b, &t, &q->YmX);
    ledger_fe_mul(&c, &p->T, &q->T2d);
    ledger_fe_mul(&d, &p->Z, &q->Z);
    ledger_fe_add(&d, &d, &d);
    ledger_fe_sub(&r->X, &b, &a);
    ledger_fe_add(&r->Y, &b, &a);
    ledger_fe_sub(&r->Z, &d, &c);
    ledger_fe_add(&r->T, &d, &c);
}

/* Mixed addition with an affine precomputed point (Z2 = 1). */
static inline void ledger_ge_madd(ledger_ge_p1p1 *r, const ledger_ge_p3 *p, const ledger_ge_precomp *q) {
    ledger_fe a, b, c, d, t;
    ledger_fe_sub(&t, &p->Y, &p->X);
    ledger_fe_mul(&a, &t, &q->ymx);
    ledger_fe_add(&t, &p->Y, &p->X);
    ledger_fe_mul(&b, &t, &q->ypx);
    ledger_fe_mul(&c, &p->T, &q->xy2d);
    ledger_fe_add(&d, &p->Z, &p->Z);
    ledger_fe_sub(&r->X, &b, &a);
    ledger_fe_add(&r->Y, &b, &a);
    ledger_fe_add(&r->Z, &d, &c);
    ledger_fe_sub(&r->T, &d, &c);
}

static inline void ledger_ge_msub(ledger_ge_p1p1 *r, const ledger_ge_p3 *p, const ledger_ge_precomp *q) {
    ledger_fe a, b, c, d, t;
    ledger_fe_sub(&t, &p->Y, &p->X);
    ledger_fe_mul(&a, &t, &q->ypx);
    ledger_fe_add(&t, &p->Y, &p->X);
    ledger_fe_mul(&b, &t, &q->ymx);
    ledger_fe_mul(&c, &p->T, &q->xy2d);
    ledger_fe_add(&d, &p->Z, &p->Z);
    ledger_fe_sub(&r->X, &b, &a);
    ledger_fe_add(&r->Y, &b, &a);
    ledger_fe_sub(&r->Z, &d, &c);
    ledger_fe_add(&r->T, &d, &c);
}

/* Convenience: r = p + q and r = p - q in p3 form. */
static inline void ledger_ge_add_p3(ledger_ge_p3 *r, const ledger_ge_p3 *p, const ledger_ge_cached *q) {
    ledger_ge_p1p1 t;
    ledger_ge_add(&t, p, q);
    ledger_ge_p1p1_to_p3(r, &t);
}

static inline void ledger_ge_neg(ledger_ge_p3 *r, const ledger_ge_p3 *p) {
    ledger_fe_neg(&r->X, &p->X);
    r->Y = p->Y;
    r->Z = p->Z;
    ledger_fe_neg(&r->T, &p->T);
}

/* ZIP-215 decoding: y is read from the low 255 bits and may be >= p (it is used mod p); the top
 * bit is the sign of x; x = 0 with the sign bit set ("-0") is accepted as x = 0. Returns 0 and
 * the affine point (Z = 1) when the bytes name a point on the curve, -1 otherwise. */
int ledger_ge_frombytes_zip215(ledger_ge_p3 *h, const uint8_t s[32]);
/* Two decodings at once (sharing the exponentiation's latency). Returns a bit mask: bit 0 set when
 * s1 fails, bit 1 set when s2 fails. */
int ledger_ge_frombytes_zip215_x2(ledger_ge_p3 *h1, const uint8_t s1[32], ledger_ge_p3 *h2, const uint8_t s2[32]);
/* Four at once (the AVX2 exponentiation when available); bit i of the result set when s[i] fails. */
int ledger_ge_frombytes_zip215_x4(ledger_ge_p3 h[4], const uint8_t *const s[4]);
/* Canonical encoding (one inversion). */
void ledger_ge_p3_tobytes(uint8_t s[32], const ledger_ge_p3 *h);
/* 1 iff the point is the neutral element (0, 1). Works on p2/p3 (only X, Y, Z are read). */
int ledger_ge_is_identity(const ledger_ge_p3 *p);
int ledger_ge_p2_is_identity(const ledger_ge_p2 *p);
/* r = [8]p */
void ledger_ge_mul8(ledger_ge_p2 *r, const ledger_ge_p3 *p);
/* Precomputed form of a point already in affine extended form (Z = 1), with no inversion. */
static inline void ledger_ge_affine_to_precomp(ledger_ge_precomp *r, const ledger_ge_p3 *p) {
    ledger_fe_add(&r->ypx, &p->Y, &p->X);
    ledger_fe_carry(&r->ypx);
    ledger_fe_sub(&r->ymx, &p->Y, &p->X);
    ledger_fe_mul(&r->xy2d, &p->T, &ledger_fe_d2);
}

/* Affine precomputed form of p (one inversion); see ledger_ge_batch_to_precomp for many. */
void ledger_ge_p3_to_precomp(ledger_ge_precomp *r, const ledger_ge_p3 *p);
/* Affine precomputed forms of n points with one shared inversion (Montgomery's trick).
 * scratch must hold n field elements. */
void ledger_ge_batch_to_precomp(ledger_ge_precomp *r, const ledger_ge_p3 *p, size_t n, ledger_fe *scratch);
/* Odd multiples B, 3B, 5B, ..., (2*LEDGER_BASE_TABLE_SIZE - 1)B of the base point in affine
 * precomputed form, built once (thread-safe) on first use. */
#define LEDGER_BASE_WINDOW 10
#define LEDGER_BASE_TABLE_SIZE (1 << (LEDGER_BASE_WINDOW - 2))
const ledger_ge_precomp *ledger_ge_base_table(void);
/* The same odd multiples of B' = [2^127]B. */
const ledger_ge_precomp *ledger_ge_base_table_hi(void);
/* Odd multiples P, 3P, ..., (2n-1)P in cached form. */
void ledger_ge_odd_multiples(ledger_ge_cached *out, const ledger_ge_p3 *p, int n);
/* 1 iff the 32 bytes decode (leniently) to a point whose order divides 8. */
int ledger_ge_is_small_order_bytes(const uint8_t s[32]);

#endif
