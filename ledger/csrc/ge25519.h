/* Points of edwards25519, the twisted Edwards curve a x^2 + y^2 = 1 + d x^2 y^2 with a = -1 and
 * d = -121665/121666 (RFC 8032 §5.1), in the extended coordinates of H. Hisil, K. K.-H. Wong,
 * G. Carter, E. Dawson, "Twisted Edwards Curves Revisited" (ASIACRYPT 2008), section 3:
 * (X : Y : Z : T) with x = X/Z, y = Y/Z, x y = T/Z. The formulas below are that paper's a = -1
 * addition with k = 2d ("add-2008-hwcd-3" in the Explicit-Formulas Database) and doubling
 * ("dbl-2008-hwcd"), arranged in our own forms:
 *   ledger_ge_p3     (X : Y : Z : T), extended;
 *   ledger_ge_p2     (X : Y : Z), projective: all a doubling reads;
 *   ledger_ge_efgh   the four factors e, f, g, h that both formulas end with, the point being
 *                    (e f : g h : f g : e h); the caller multiplies out what it needs next
 *                    (three products for p2, four for p3);
 *   ledger_ge_cached an addend prepared for many additions: Y - X, Y + X, 2 Z and k T;
 *   ledger_ge_affine the same for an affine addend (Z = 1), which then needs no Z at all.
 * With a = -1 a square and d not a square the addition law is complete (HWCD, section 3): no
 * special cases, including doubling and the neutral element.
 * Hot formulas are static inline here; decoding and the rest live in ge25519.c. */
#ifndef LEDGER_GE25519_H
#define LEDGER_GE25519_H

#include "fe25519.h"

typedef struct { ledger_fe X, Y, Z, T; } ledger_ge_p3;
typedef struct { ledger_fe X, Y, Z; } ledger_ge_p2;
typedef struct { ledger_fe e, f, g, h; } ledger_ge_efgh;
typedef struct { ledger_fe y_minus_x, y_plus_x, z_twice, kt; } ledger_ge_cached;
typedef struct { ledger_fe y_minus_x, y_plus_x, kt; } ledger_ge_affine;

extern const ledger_ge_p3 ledger_ge_basepoint;

static inline void ledger_ge_p3_set_identity(ledger_ge_p3 *p) {
    ledger_fe_0(&p->X); ledger_fe_1(&p->Y); ledger_fe_1(&p->Z); ledger_fe_0(&p->T);
}

static inline void ledger_ge_p2_set_identity(ledger_ge_p2 *p) {
    ledger_fe_0(&p->X); ledger_fe_1(&p->Y); ledger_fe_1(&p->Z);
}

static inline void ledger_ge_efgh_to_p2(ledger_ge_p2 *r, const ledger_ge_efgh *q) {
    ledger_fe_mul(&r->X, &q->e, &q->f);
    ledger_fe_mul(&r->Y, &q->g, &q->h);
    ledger_fe_mul(&r->Z, &q->f, &q->g);
}

static inline void ledger_ge_efgh_to_p3(ledger_ge_p3 *r, const ledger_ge_efgh *q) {
    ledger_fe_mul(&r->X, &q->e, &q->f);
    ledger_fe_mul(&r->Y, &q->g, &q->h);
    ledger_fe_mul(&r->Z, &q->f, &q->g);
    ledger_fe_mul(&r->T, &q->e, &q->h);
}

static inline void ledger_ge_p3_to_p2(ledger_ge_p2 *r, const ledger_ge_p3 *p) {
    r->X = p->X; r->Y = p->Y; r->Z = p->Z;
}

static inline void ledger_ge_p3_to_cached(ledger_ge_cached *r, const ledger_ge_p3 *p) {
    ledger_fe_sub(&r->y_minus_x, &p->Y, &p->X);
    ledger_fe_add(&r->y_plus_x, &p->Y, &p->X);
    ledger_fe_carry(&r->y_plus_x);
    ledger_fe_add(&r->z_twice, &p->Z, &p->Z);
    ledger_fe_mul(&r->kt, &p->T, &ledger_fe_2d);
}

/* Doubling (HWCD, dedicated doubling). For a = -1 and A = X^2, B = Y^2, C = 2 Z^2 the paper's
 * result is
 *   X3 = 2XY (C - (B - A)),  Y3 = (B - A)(B + A),  Z3 = (B - A)(C - (B - A)),  T3 = 2XY (B + A),
 * so e = 2XY, computed as (X + Y)^2 - (A + B); g = B - A; f = C - g; h = A + B. */
static inline void ledger_ge_dbl(ledger_ge_efgh *r, const ledger_ge_p2 *p) {
    ledger_fe a, b, c, x_plus_y;
    ledger_fe_sq(&a, &p->X);
    ledger_fe_sq(&b, &p->Y);
    ledger_fe_sq(&c, &p->Z);
    ledger_fe_add(&c, &c, &c);
    ledger_fe_add(&r->h, &a, &b);
    ledger_fe_sub(&r->g, &b, &a);
    ledger_fe_sub(&r->f, &c, &r->g);
    ledger_fe_add(&x_plus_y, &p->X, &p->Y);
    ledger_fe_sq(&r->e, &x_plus_y);
    ledger_fe_sub(&r->e, &r->e, &r->h);
}

static inline void ledger_ge_dbl_p3(ledger_ge_efgh *r, const ledger_ge_p3 *p) {
    ledger_ge_p2 q;
    ledger_ge_p3_to_p2(&q, p);
    ledger_ge_dbl(r, &q);
}

/* Addition (HWCD, a = -1, k = 2d): A = (Y1 - X1)(Y2 - X2), B = (Y1 + X1)(Y2 + X2),
 * C = T1 k T2, D = 2 Z1 Z2; e = B - A, f = D - C, g = D + C, h = B + A. The addend's 2 Z2 and
 * k T2 are prepared once (ledger_ge_cached). */
static inline void ledger_ge_add(ledger_ge_efgh *r, const ledger_ge_p3 *p, const ledger_ge_cached *q) {
    ledger_fe a, b, c, d, t;
    ledger_fe_sub(&t, &p->Y, &p->X);
    ledger_fe_mul(&a, &t, &q->y_minus_x);
    ledger_fe_add(&t, &p->Y, &p->X);
    ledger_fe_mul(&b, &t, &q->y_plus_x);
    ledger_fe_mul(&c, &p->T, &q->kt);
    ledger_fe_mul(&d, &p->Z, &q->z_twice);
    ledger_fe_sub(&r->e, &b, &a);
    ledger_fe_sub(&r->f, &d, &c);
    ledger_fe_add(&r->g, &d, &c);
    ledger_fe_add(&r->h, &b, &a);
}

/* p - q is p + (-q), and -(x, y) = (-x, y) turns Y2 - X2 into Y2 + X2 (and back) and k T2 into
 * -k T2, which swaps the two message factors and the signs of C in f and g. */
static inline void ledger_ge_sub(ledger_ge_efgh *r, const ledger_ge_p3 *p, const ledger_ge_cached *q) {
    ledger_fe a, b, c, d, t;
    ledger_fe_sub(&t, &p->Y, &p->X);
    ledger_fe_mul(&a, &t, &q->y_plus_x);
    ledger_fe_add(&t, &p->Y, &p->X);
    ledger_fe_mul(&b, &t, &q->y_minus_x);
    ledger_fe_mul(&c, &p->T, &q->kt);
    ledger_fe_mul(&d, &p->Z, &q->z_twice);
    ledger_fe_sub(&r->e, &b, &a);
    ledger_fe_add(&r->f, &d, &c);
    ledger_fe_sub(&r->g, &d, &c);
    ledger_fe_add(&r->h, &b, &a);
}

/* The same with an affine addend: Z2 = 1, so D = 2 Z1 (one multiplication fewer). */
static inline void ledger_ge_add_affine(ledger_ge_efgh *r, const ledger_ge_p3 *p, const ledger_ge_affine *q) {
    ledger_fe a, b, c, d, t;
    ledger_fe_sub(&t, &p->Y, &p->X);
    ledger_fe_mul(&a, &t, &q->y_minus_x);
    ledger_fe_add(&t, &p->Y, &p->X);
    ledger_fe_mul(&b, &t, &q->y_plus_x);
    ledger_fe_mul(&c, &p->T, &q->kt);
    ledger_fe_add(&d, &p->Z, &p->Z);
    ledger_fe_sub(&r->e, &b, &a);
    ledger_fe_sub(&r->f, &d, &c);
    ledger_fe_add(&r->g, &d, &c);
    ledger_fe_add(&r->h, &b, &a);
}

static inline void ledger_ge_sub_affine(ledger_ge_efgh *r, const ledger_ge_p3 *p, const ledger_ge_affine *q) {
    ledger_fe a, b, c, d, t;
    ledger_fe_sub(&t, &p->Y, &p->X);
    ledger_fe_mul(&a, &t, &q->y_plus_x);
    ledger_fe_add(&t, &p->Y, &p->X);
    ledger_fe_mul(&b, &t, &q->y_minus_x);
    ledger_fe_mul(&c, &p->T, &q->kt);
    ledger_fe_add(&d, &p->Z, &p->Z);
    ledger_fe_sub(&r->e, &b, &a);
    ledger_fe_add(&r->f, &d, &c);
    ledger_fe_sub(&r->g, &d, &c);
    ledger_fe_add(&r->h, &b, &a);
}

/* r = p + q in extended form. */
static inline void ledger_ge_add_p3(ledger_ge_p3 *r, const ledger_ge_p3 *p, const ledger_ge_cached *q) {
    ledger_ge_efgh t;
    ledger_ge_add(&t, p, q);
    ledger_ge_efgh_to_p3(r, &t);
}

static inline void ledger_ge_neg(ledger_ge_p3 *r, const ledger_ge_p3 *p) {
    ledger_fe_neg(&r->X, &p->X);
    r->Y = p->Y;
    r->Z = p->Z;
    ledger_fe_neg(&r->T, &p->T);
}

/* Decoding (RFC 8032 §5.1.3) with the ZIP-215 relaxations: y is read from the low 255 bits and may be >= p (it is used mod p); the top
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
/* Affine addend form of a point whose Z is already 1 (a decoded point), with no inversion. */
static inline void ledger_ge_p3_to_affine(ledger_ge_affine *r, const ledger_ge_p3 *p) {
    ledger_fe_sub(&r->y_minus_x, &p->Y, &p->X);
    ledger_fe_add(&r->y_plus_x, &p->Y, &p->X);
    ledger_fe_carry(&r->y_plus_x);
    ledger_fe_mul(&r->kt, &p->T, &ledger_fe_2d);
}

/* Affine addend form of any p (one inversion); see ledger_ge_batch_to_affine for many. */
void ledger_ge_normalize_to_affine(ledger_ge_affine *r, const ledger_ge_p3 *p);
/* Affine addend forms of n points with one shared inversion (Montgomery's trick).
 * scratch must hold n field elements. */
void ledger_ge_batch_to_affine(ledger_ge_affine *r, const ledger_ge_p3 *p, size_t n, ledger_fe *scratch);
/* Odd multiples B, 3B, 5B, ..., (2*LEDGER_BASE_TABLE_SIZE - 1)B of the base point in affine
 * addend form, built once (thread-safe) on first use. */
#define LEDGER_BASE_WINDOW 10
#define LEDGER_BASE_TABLE_SIZE (1 << (LEDGER_BASE_WINDOW - 2))
const ledger_ge_affine *ledger_ge_base_table(void);
/* The same odd multiples of B' = [2^127]B. */
const ledger_ge_affine *ledger_ge_base_table_hi(void);
/* Odd multiples P, 3P, ..., (2n-1)P in cached form. */
void ledger_ge_odd_multiples(ledger_ge_cached *out, const ledger_ge_p3 *p, int n);
/* 1 iff the 32 bytes decode (leniently) to a point whose order divides 8. */
int ledger_ge_is_small_order_bytes(const uint8_t s[32]);

#endif
