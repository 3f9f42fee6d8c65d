/* edwards25519 points (see ge25519.h): decoding (RFC 8032 §5.1.3 with the ZIP-215 relaxations),
 * encoding (RFC 8032 §5.1.2), identity test, cofactor multiplication, tables of multiples. */
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

/* Decoding, RFC 8032 §5.1.3, in two halves so that two or four decodings can share the
 * exponentiation (ledger_fe_pow_p58_x2 / _x4).
 * Step 1 (ZIP-215 form): y is the low 255 bits taken mod p, so y >= p is accepted; x_0 = bit 255.
 * Step 2: x^2 = u / v with u = y^2 - 1 and v = d y^2 + 1 (never 0: -1/d is not a square), and the
 * candidate root is x = u v^3 (u v^7)^((p-5)/8); decode_begin stops at u v^7, the exponent's base. */
typedef struct {
    ledger_fe u, v;
    ledger_fe uv3; /* u v^3 */
    ledger_fe uv7; /* u v^7 */
} decode_work;

static void decode_begin(ledger_ge_p3 *h, decode_work *w, const uint8_t s[32]) {
    ledger_fe y2, v2, v4;
    ledger_fe_frombytes(&h->Y, s);
    ledger_fe_1(&h->Z);
    ledger_fe_sq(&y2, &h->Y);
    ledger_fe_sub(&w->u, &y2, &h->Z);
    ledger_fe_mul(&w->v, &y2, &ledger_fe_d);
    ledger_fe_add(&w->v, &w->v, &h->Z);
    ledger_fe_sq(&v2, &w->v);
    ledger_fe_sq(&v4, &v2);
    ledger_fe_mul(&w->uv3, &v2, &w->v);
    ledger_fe_mul(&w->uv3, &w->uv3, &w->u);
    ledger_fe_mul(&w->uv7, &w->uv3, &v4);
}

/* Step 3: with power = (u v^7)^((p-5)/8), x = u v^3 power. If v x^2 = u, x is a root; if
 * v x^2 = -u, x sqrt(-1) is; otherwise u/v is not a square and the bytes name no point.
 * Step 4: pick the root whose low bit is x_0. RFC 8032 rejects x = 0 with x_0 = 1; ZIP-215
 * accepts it as x = 0 (negating 0 changes nothing). Then T = x y, Z = 1. */
static int decode_end(ledger_ge_p3 *h, const decode_work *w, const ledger_fe *power, const uint8_t s[32]) {
    ledger_fe x, x2, vx2, sum;
    ledger_fe_mul(&x, &w->uv3, power);
    ledger_fe_sq(&x2, &x);
    ledger_fe_mul(&vx2, &x2, &w->v);
    if (!ledger_fe_equal(&vx2, &w->u)) {
        ledger_fe_add(&sum, &vx2, &w->u);
        if (!ledger_fe_iszero(&sum)) return -1;
        ledger_fe_mul(&x, &x, &ledger_fe_sqrt_minus_one);
    }
    if (ledger_fe_isnegative(&x) != (s[31] >> 7)) ledger_fe_neg(&x, &x);
    h->X = x;
    ledger_fe_mul(&h->T, &h->X, &h->Y);
    return 0;
}

int ledger_ge_frombytes_zip215(ledger_ge_p3 *h, const uint8_t s[32]) {
    decode_work w;
    ledger_fe power;
    decode_begin(h, &w, s);
    ledger_fe_pow_p58(&power, &w.uv7);
    return decode_end(h, &w, &power, s);
}

int ledger_ge_frombytes_zip215_x4(ledger_ge_p3 h[4], const uint8_t *const s[4]) {
    decode_work w[4];
    ledger_fe base[4], power[4];
    for (int i = 0; i < 4; i++) {
        decode_begin(&h[i], &w[i], s[i]);
        base[i] = w[i].uv7;
    }
    ledger_fe_pow_p58_x4(power, base);
    int failed = 0;
    for (int i = 0; i < 4; i++)
        if (decode_end(&h[i], &w[i], &power[i], s[i]) != 0) failed |= 1 << i;
    return failed;
}

int ledger_ge_frombytes_zip215_x2(ledger_ge_p3 *h1, const uint8_t s1[32], ledger_ge_p3 *h2, const uint8_t s2[32]) {
    decode_work w1, w2;
    ledger_fe power1, power2;
    decode_begin(h1, &w1, s1);
    decode_begin(h2, &w2, s2);
    ledger_fe_pow_p58_x2(&power1, &w1.uv7, &power2, &w2.uv7);
    int failed = decode_end(h1, &w1, &power1, s1) != 0 ? 1 : 0;
    if (decode_end(h2, &w2, &power2, s2) != 0) failed |= 2;
    return failed;
}

/* Encoding, RFC 8032 §5.1.2: the 255 bits of y = Y/Z, and the low bit of x = X/Z on top. */
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
    ledger_ge_efgh t;
    ledger_ge_dbl_p3(&t, p);
    for (int i = 0; i < 2; i++) {
        ledger_ge_efgh_to_p2(r, &t);
        ledger_ge_dbl(&t, r);
    }
    ledger_ge_efgh_to_p2(r, &t);
}

static void affine_from_xy(ledger_ge_affine *r, const ledger_fe *x, const ledger_fe *y) {
    ledger_fe xy;
    ledger_fe_sub(&r->y_minus_x, y, x);
    ledger_fe_add(&r->y_plus_x, y, x);
    ledger_fe_carry(&r->y_plus_x);
    ledger_fe_mul(&xy, x, y);
    ledger_fe_mul(&r->kt, &xy, &ledger_fe_2d);
}

void ledger_ge_normalize_to_affine(ledger_ge_affine *r, const ledger_ge_p3 *p) {
    ledger_fe z_inverse, x, y;
    ledger_fe_invert(&z_inverse, &p->Z);
    ledger_fe_mul(&x, &p->X, &z_inverse);
    ledger_fe_mul(&y, &p->Y, &z_inverse);
    affine_from_xy(r, &x, &y);
}

/* Montgomery's trick: prefix[i] = Z_0 ... Z_i, one inversion of the full product, then walking
 * back 1/Z_i = prefix[i-1] / (Z_0 ... Z_i) and 1/(Z_0 ... Z_(i-1)) = Z_i / (Z_0 ... Z_i). */
void ledger_ge_batch_to_affine(ledger_ge_affine *r, const ledger_ge_p3 *p, size_t n, ledger_fe *prefix) {
    if (n == 0) return;
    prefix[0] = p[0].Z;
    for (size_t i = 1; i < n; i++) ledger_fe_mul(&prefix[i], &prefix[i - 1], &p[i].Z);
    ledger_fe inverse_of_prefix, z_inverse, x, y;
    ledger_fe_invert(&inverse_of_prefix, &prefix[n - 1]);
    for (size_t i = n; i-- > 0;) {
        if (i > 0) {
            ledger_fe_mul(&z_inverse, &inverse_of_prefix, &prefix[i - 1]);
            ledger_fe_mul(&inverse_of_prefix, &inverse_of_prefix, &p[i].Z);
        } else {
            z_inverse = inverse_of_prefix;
        }
        ledger_fe_mul(&x, &p[i].X, &z_inverse);
        ledger_fe_mul(&y, &p[i].Y, &z_inverse);
        affine_from_xy(&r[i], &x, &y);
    }
}

int ledger_ge_is_small_order_bytes(const uint8_t s[32]) {
    ledger_ge_p3 p;
    ledger_ge_p2 q;
    if (ledger_ge_frombytes_zip215(&p, s) != 0) return 0;
    ledger_ge_mul8(&q, &p);
    return ledger_ge_p2_is_identity(&q);
}

/* out[i] = (2i + 1) p: p, then repeated additions of 2p. */
void ledger_ge_odd_multiples(ledger_ge_cached *out, const ledger_ge_p3 *p, int n) {
    ledger_ge_efgh t;
    ledger_ge_p3 twice, multiple = *p;
    ledger_ge_cached twice_cached;
    ledger_ge_p3_to_cached(&out[0], p);
    ledger_ge_dbl_p3(&t, p);
    ledger_ge_efgh_to_p3(&twice, &t);
    ledger_ge_p3_to_cached(&twice_cached, &twice);
    for (int i = 1; i < n; i++) {
        ledger_ge_add(&t, &multiple, &twice_cached);
        ledger_ge_efgh_to_p3(&multiple, &t);
        ledger_ge_p3_to_cached(&out[i], &multiple);
    }
}

static ledger_ge_affine base_table[LEDGER_BASE_TABLE_SIZE];
static ledger_ge_affine base_table_hi[LEDGER_BASE_TABLE_SIZE];
static pthread_once_t base_table_once = PTHREAD_ONCE_INIT;

static ledger_ge_p3 table_points[LEDGER_BASE_TABLE_SIZE]; /* scratch for the one-time build */
static ledger_fe table_scratch[LEDGER_BASE_TABLE_SIZE];

static void build_table(ledger_ge_affine *table, const ledger_ge_p3 *base) {
    ledger_ge_efgh t;
    ledger_ge_p3 twice;
    ledger_ge_cached twice_cached;
    table_points[0] = *base;
    ledger_ge_dbl_p3(&t, base);
    ledger_ge_efgh_to_p3(&twice, &t);
    ledger_ge_p3_to_cached(&twice_cached, &twice);
    for (int i = 1; i < LEDGER_BASE_TABLE_SIZE; i++) {
        ledger_ge_add(&t, &table_points[i - 1], &twice_cached);
        ledger_ge_efgh_to_p3(&table_points[i], &t);
    }
    ledger_ge_batch_to_affine(table, table_points, LEDGER_BASE_TABLE_SIZE, table_scratch);
}

static void build_base_tables(void) {
    ledger_ge_p3 high = ledger_ge_basepoint;
    ledger_ge_efgh t;
    build_table(base_table, &ledger_ge_basepoint);
    for (int i = 0; i < 127; i++) {
        ledger_ge_dbl_p3(&t, &high);
        ledger_ge_efgh_to_p3(&high, &t);
    }
    build_table(base_table_hi, &high);
}

const ledger_ge_affine *ledger_ge_base_table(void) {
    pthread_once(&base_table_once, build_base_tables);
    return base_table;
}

const ledger_ge_affine *ledger_ge_base_table_hi(void) {
    pthread_once(&base_table_once, build_base_tables);
    return base_table_hi;
}
