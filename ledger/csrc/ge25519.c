/* edwards25519 points: ZIP-215 decoding, encoding, identity test, cofactor multiplication. */
#include "ge25519.h"

#include <pthread.h>
#include <stddef.h>

/* B = (x, 4/5) with x even (RFC 8032, section 5.1). */
const ledger_ge_p3 ledger_ge_basepoint = {
    {{0x62d608f25d51aULL, 0x412a4b4f6592aULL, 0x75b7171a4b31dULL, 0x1ff60527118feULL, 0x216936d3cd6e5ULL}},
    {{0x6666666666658ULL, 0x4ccccccccccccULL, 0x1999999999999ULL, 0x3333333333333ULL, 0x6666666666666ULL}},
    {{1, 0, 0, 0, 0}},
    {{0x68ab3a5b7dda3ULL, 0xeea2a5eadbbULL, 0x2af8df483c27eULL, 0x332b375274732ULL, 0x67875f0fd78b7ULL}},
};

/* x^2 = u / v with u = y^2 - 1, v = d y^2 + 1 (v is never 0: -1/d is not a square);
 * the candidate root is x = u v^3 (u v^7)^((p-5)/8). Split in two so two decodings can share the
 * exponentiation (ledger_fe_pow22523_x2). */
static void decode_start(ledger_ge_p3 *h, ledger_fe *u, ledger_fe *v, ledger_fe *v3, ledger_fe *base, const uint8_t s[32]) {
    ledger_fe_frombytes(&h->Y, s); /* y mod p, possibly non-canonical input */
    ledger_fe_1(&h->Z);
    ledger_fe_sq(u, &h->Y);
    ledger_fe_mul(v, u, &ledger_fe_d);
    ledger_fe_sub(u, u, &h->Z);
    ledger_fe_add(v, v, &h->Z);
    ledger_fe_sq(v3, v);
    ledger_fe_mul(v3, v3, v);
    ledger_fe_sq(base, v3);
    ledger_fe_mul(base, base, v);
    ledger_fe_mul(base, base, u); /* u v^7 */
}

static int decode_finish(ledger_ge_p3 *h, const ledger_fe *u, const ledger_fe *v, const ledger_fe *v3,
                         const ledger_fe *pw, const uint8_t s[32]) {
    ledger_fe x, vxx, check, t;
    int sign = s[31] >> 7;
    ledger_fe_mul(&x, pw, v3);
    ledger_fe_mul(&x, &x, u);
    ledger_fe_sq(&vxx, &x);
    ledger_fe_mul(&vxx, &vxx, v);
    ledger_fe_sub(&check, &vxx, u);
    if (!ledger_fe_iszero(&check)) {
        ledger_fe_add(&check, &vxx, u);
        if (!ledger_fe_iszero(&check)) return -1; /* u/v is not a square: not on the curve */
        ledger_fe_mul(&x, &x, &ledger_fe_sqrtm1);
    }
    /* ZIP-215: x = 0 with the sign bit set is accepted (and means x = 0). */
    if (ledger_fe_isnegative(&x) != sign) {
        ledger_fe_neg(&t, &x);
        x = t;
    }
    h->X = x;
    ledger_fe_mul(&h->T, &h->X, &h->Y);
    return 0;
}

int ledger_ge_frombytes_zip215(ledger_ge_p3 *h, const uint8_t s[32]) {
    ledger_fe u, v, v3, base, pw;
    decode_start(h, &u, &v, &v3, &base, s);
    ledger_fe_pow22523(&pw, &base);
    return decode_finish(h, &u, &v, &v3, &pw, s);
}

int ledger_ge_frombytes_zip215_x4(ledger_ge_p3 h[4], const uint8_t *const s[4]) {
    ledger_fe u[4], v[4], v3[4], base[4], pw[4];
    for (int i = 0; i < 4; i++) decode_start(&h[i], &u[i], &v[i], &v3[i], &base[i], s[i]);
    ledger_fe_pow22523_x4(pw, base);
    int mask = 0;
    for (int i = 0; i < 4; i++)
        if (decode_finish(&h[i], &u[i], &v[i], &v3[i], &pw[i], s[i]) != 0) mask |= 1 << i;
    return mask;
}

int ledger_ge_frombytes_zip215_x2(ledger_ge_p3 *h1, const uint8_t s1[32], ledger_ge_p3 *h2, const uint8_t s2[32]) {
    ledger_fe u1, v1, v31, base1, pw1, u2, v2, v32, base2, pw2;
    decode_start(h1, &u1, &v1, &v31, &base1, s1);
    decode_start(h2, &u2, &v2, &v32, &base2, s2);
    ledger_fe_pow22523_x2(&pw1, &base1, &pw2, &base2);
    int r1 = decode_finish(h1, &u1, &v1, &v31, &pw1, s1);
    int r2 = decode_finish(h2, &u2, &v2, &v32, &pw2, s2);
    return (r1 == 0 ? 0 : 1) | (r2 == 0 ? 0 : 2);
}

void ledger_ge_p3_tobytes(uint8_t s[32], const ledger_ge_p3 *h) {
    ledger_fe zi, x, y;
    ledger_fe_invert(&zi, &h->Z);
    ledger_fe_mul(&x, &h->X, &zi);
    ledger_fe_mul(&y, &h->Y, &zi);
    ledger_fe_tobytes(s, &y);
    s[31] ^= (uint8_t)(ledger_fe_isnegative(&x) << 7);
}

int ledger_ge_p2_is_identity(const ledger_ge_p2 *p) {
    return ledger_fe_iszero(&p->X) && ledger_fe_equal(&p->Y, &p->Z);
}

int ledger_ge_is_identity(const ledger_ge_p3 *p) {
    return ledger_fe_iszero(&p->X) && ledger_fe_equal(&p->Y, &p->Z);
}

void ledger_ge_mul8(ledger_ge_p2 *r, const ledger_ge_p3 *p) {
    ledger_ge_p1p1 t;
    ledger_ge_p3_dbl(&t, p);
    ledger_ge_p1p1_to_p2(r, &t);
    ledger_ge_p2_dbl(&t, r);
    ledger_ge_p1p1_to_p2(r, &t);
    ledger_ge_p2_dbl(&t, r);
    ledger_ge_p1p1_to_p2(r, &t);
}

static void affine_to_precomp(ledger_ge_precomp *r, const ledger_fe *x, const ledger_fe *y) {
    ledger_fe xy;
    ledger_fe_add(&r->ypx, y, x);
    ledger_fe_carry(&r->ypx);
    ledger_fe_sub(&r->ymx, y, x);
    ledger_fe_mul(&xy, x, y);
    ledger_fe_mul(&r->xy2d, &xy, &ledger_fe_d2);
}

void ledger_ge_p3_to_precomp(ledger_ge_precomp *r, const ledger_ge_p3 *p) {
    ledger_fe zi, x, y;
    ledger_fe_invert(&zi, &p->Z);
    ledger_fe_mul(&x, &p->X, &zi);
    ledger_fe_mul(&y, &p->Y, &zi);
    affine_to_precomp(r, &x, &y);
}

void ledger_ge_batch_to_precomp(ledger_ge_precomp *r, const ledger_ge_p3 *p, size_t n, ledger_fe *acc) {
    if (n == 0) return;
    /* acc[i] = Z_0 * ... * Z_i */
    acc[0] = p[0].Z;
    for (size_t i = 1; i < n; i++) ledger_fe_mul(&acc[i], &acc[i - 1], &p[i].Z);
    ledger_fe inv, zi, x, y;
    ledger_fe_invert(&inv, &acc[n - 1]);
    for (size_t i = n; i-- > 0;) {
        if (i > 0) {
            ledger_fe_mul(&zi, &inv, &acc[i - 1]);
            ledger_fe_mul(&inv, &inv, &p[i].Z);
        } else {
            zi = inv;
        }
        ledger_fe_mul(&x, &p[i].X, &zi);
        ledger_fe_mul(&y, &p[i].Y, &zi);
        affine_to_precomp(&r[i], &x, &y);
    }
}

int ledger_ge_is_small_order_bytes(const uint8_t s[32]) {
    ledger_ge_p3 p;
    ledger_ge_p2 q;
    if (ledger_ge_frombytes_zip215(&p, s) != 0) return 0;
    ledger_ge_mul8(&q, &p);
    return ledger_ge_p2_is_identity(&q);
}

void ledger_ge_odd_multiples(ledger_ge_cached *out, const ledger_ge_p3 *p, int n) {
    ledger_ge_p1p1 t;
    ledger_ge_p3 p2, q;
    ledger_ge_p3_to_cached(&out[0], p);
    ledger_ge_p3_dbl(&t, p);
    ledger_ge_p1p1_to_p3(&p2, &t);
    q = *p;
    for (int i = 1; i < n; i++) {
        ledger_ge_cached c2;
        ledger_ge_p3_to_cached(&c2, &p2);
        ledger_ge_add(&t, &q, &c2);
        ledger_ge_p1p1_to_p3(&q, &t);
        ledger_ge_p3_to_cached(&out[i], &q);
    }
}

static ledger_ge_precomp base_table[LEDGER_BASE_TABLE_SIZE];
static ledger_ge_precomp base_table_hi[LEDGER_BASE_TABLE_SIZE];
static pthread_once_t base_table_once = PTHREAD_ONCE_INIT;

static ledger_ge_p3 pts[LEDGER_BASE_TABLE_SIZE];      /* scratch for the one-time build */
static ledger_fe scratch[LEDGER_BASE_TABLE_SIZE];

static void build_table(ledger_ge_precomp *table, const ledger_ge_p3 *base) {
    ledger_ge_p1p1 t;
    ledger_ge_p3 b2;
    ledger_ge_cached c2;
    pts[0] = *base;
    ledger_ge_p3_dbl(&t, &pts[0]);
    ledger_ge_p1p1_to_p3(&b2, &t);
    ledger_ge_p3_to_cached(&c2, &b2);
    for (int i = 1; i < LEDGER_BASE_TABLE_SIZE; i++) {
        ledger_ge_add(&t, &pts[i - 1], &c2);
        ledger_ge_p1p1_to_p3(&pts[i], &t);
    }
    ledger_ge_batch_to_precomp(table, pts, LEDGER_BASE_TABLE_SIZE, scratch);
}

static void build_base_table(void) {
    ledger_ge_p3 hi = ledger_ge_basepoint;
    ledger_ge_p1p1 t;
    build_table(base_table, &ledger_ge_basepoint);
    for (int i = 0; i < 127; i++) {
        ledger_ge_p3_dbl(&t, &hi);
        ledger_ge_p1p1_to_p3(&hi, &t);
    }
    build_table(base_table_hi, &hi);
}

const ledger_ge_precomp *ledger_ge_base_table(void) {
    pthread_once(&base_table_once, build_base_table);
    return base_table;
}

const ledger_ge_precomp *ledger_ge_base_table_hi(void) {
    pthread_once(&base_table_once, build_base_table);
    return base_table_hi;
}
