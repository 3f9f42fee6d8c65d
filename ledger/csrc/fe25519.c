/* Field arithmetic mod 2^255 - 19 (see fe25519.h): encoding and decoding (RFC 8032 §5.1.2-5.1.3),
 * and exponentiations by addition chains: z^(p-2) for inversion (Fermat; the chain of 254 squarings
 * and 11 multiplications in Bernstein, "Curve25519", PKC 2006) and z^((p-5)/8) for the square
 * root of RFC 8032 §5.1.3, which shares that chain up to z^(2^250 - 1). */
#include "fe25519.h"

const ledger_fe ledger_fe_d = {{0x34dca135978a3ULL, 0x1a8283b156ebdULL, 0x5e7a26001c029ULL,
                                0x739c663a03cbbULL, 0x52036cee2b6ffULL}};
const ledger_fe ledger_fe_2d = {{0x69b9426b2f159ULL, 0x35050762add7aULL, 0x3cf44c0038052ULL,
                                 0x6738cc7407977ULL, 0x2406d9dc56dffULL}};
const ledger_fe ledger_fe_sqrt_minus_one = {{0x61b274a0ea0b0ULL, 0xd5a5fc8f189dULL, 0x7ef5e9cbd0c60ULL,
                                     0x78595a6804c9eULL, 0x2b8324804fc1dULL}};

static uint64_t load_le64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

void ledger_fe_frombytes(ledger_fe *h, const uint8_t s[32]) {
    uint64_t w0 = load_le64(s), w1 = load_le64(s + 8), w2 = load_le64(s + 16), w3 = load_le64(s + 24);
    h->v[0] = w0 & LEDGER_FE_MASK51;
    h->v[1] = ((w0 >> 51) | (w1 << 13)) & LEDGER_FE_MASK51;
    h->v[2] = ((w1 >> 38) | (w2 << 26)) & LEDGER_FE_MASK51;
    h->v[3] = ((w2 >> 25) | (w3 << 39)) & LEDGER_FE_MASK51;
    h->v[4] = (w3 >> 12) & LEDGER_FE_MASK51;
}

/* t - m over five 51-bit limbs, the borrows carried upwards; returns what leaves limb 4: 0 when
 * t >= m (for t < 2^255), -1 when t < m. Arithmetic right shifts (gcc and clang) floor. */
static int64_t limbs_minus(uint64_t out[5], const ledger_fe *t, const int64_t m[5]) {
    int64_t carry = 0;
    for (int i = 0; i < 5; i++) {
        const int64_t x = (int64_t)t->v[i] - m[i] + carry;
        carry = x >> 51;
        out[i] = (uint64_t)x & LEDGER_FE_MASK51;
    }
    return carry;
}

/* The canonical encoding is the representative in [0, p), 255 bits little-endian. Two carry passes
 * leave limbs 1-4 below 2^51 and limb 0 below 2^51 + 19, so the value t is below 2^255 + 19 < 2p:
 * the representative is t - p when that is not negative, else t itself. */
void ledger_fe_tobytes(uint8_t s[32], const ledger_fe *f) {
    static const int64_t zero[5] = {0, 0, 0, 0, 0};
    static const int64_t p[5] = {(1LL << 51) - 19, (1LL << 51) - 1, (1LL << 51) - 1, (1LL << 51) - 1,
                                 (1LL << 51) - 1};
    ledger_fe t = *f;
    uint64_t as_is[5], minus_p[5];
    ledger_fe_carry(&t);
    ledger_fe_carry(&t);
    limbs_minus(as_is, &t, zero); /* only normalises limb 0; used when t < p < 2^255 */
    const uint64_t *v = limbs_minus(minus_p, &t, p) == 0 ? minus_p : as_is;
    const uint64_t w[4] = {v[0] | (v[1] << 51), (v[1] >> 13) | (v[2] << 38), (v[2] >> 26) | (v[3] << 25),
                           (v[3] >> 39) | (v[4] << 12)};
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 8; j++) s[8 * i + j] = (uint8_t)(w[i] >> (8 * j));
}

int ledger_fe_iszero(const ledger_fe *f) {
    uint8_t s[32];
    ledger_fe_tobytes(s, f);
    uint8_t acc = 0;
    for (int i = 0; i < 32; i++) acc |= s[i];
    return acc == 0;
}

int ledger_fe_isnegative(const ledger_fe *f) {
    uint8_t s[32];
    ledger_fe_tobytes(s, f);
    return s[0] & 1;
}

int ledger_fe_equal(const ledger_fe *f, const ledger_fe *g) {
    ledger_fe t;
    ledger_fe_sub(&t, f, g);
    return ledger_fe_iszero(&t);
}

static void sqn(ledger_fe *h, const ledger_fe *f, int n) {
    ledger_fe_sq(h, f);
    for (int i = 1; i < n; i++) ledger_fe_sq(h, h);
}

/* Shared addition chain: returns z^(2^250 - 1) in t250 and z^11 in z11. */
static void pow_2_250_1(ledger_fe *t250, ledger_fe *z11, const ledger_fe *z) {
    ledger_fe z2, z9, t5, t10, t20, t40, t50, t100, t200, t;
    ledger_fe_sq(&z2, z);                 /* 2 */
    sqn(&t, &z2, 2);                      /* 8 */
    ledger_fe_mul(&z9, &t, z);            /* 9 */
    ledger_fe_mul(z11, &z9, &z2);         /* 11 */
    ledger_fe_sq(&t, z11);                /* 22 */
    ledger_fe_mul(&t5, &t, &z9);          /* 31 = 2^5 - 1 */
    sqn(&t, &t5, 5);
    ledger_fe_mul(&t10, &t, &t5);         /* 2^10 - 1 */
    sqn(&t, &t10, 10);
    ledger_fe_mul(&t20, &t, &t10);        /* 2^20 - 1 */
    sqn(&t, &t20, 20);
    ledger_fe_mul(&t40, &t, &t20);        /* 2^40 - 1 */
    sqn(&t, &t40, 10);
    ledger_fe_mul(&t50, &t, &t10);        /* 2^50 - 1 */
    sqn(&t, &t50, 50);
    ledger_fe_mul(&t100, &t, &t50);       /* 2^100 - 1 */
    sqn(&t, &t100, 100);
    ledger_fe_mul(&t200, &t, &t100);      /* 2^200 - 1 */
    sqn(&t, &t200, 50);
    ledger_fe_mul(t250, &t, &t50);        /* 2^250 - 1 */
}

void ledger_fe_invert(ledger_fe *out, const ledger_fe *z) {
    ledger_fe t250, z11, t;
    pow_2_250_1(&t250, &z11, z);
    sqn(&t, &t250, 5);                    /* 2^255 - 2^5 */
    ledger_fe_mul(out, &t, &z11);         /* 2^255 - 21 = p - 2 */
}

void ledger_fe_pow_p58(ledger_fe *out, const ledger_fe *z) {
    ledger_fe t250, z11, t;
    pow_2_250_1(&t250, &z11, z);
    sqn(&t, &t250, 2);                    /* 2^252 - 4 */
    ledger_fe_mul(out, &t, z);            /* 2^252 - 3 */
}

/* ---- two independent exponentiations at once ----
 * A squaring's latency is far above its throughput; running two unrelated chains side by side
 * lets the CPU overlap them (decoding A and R of one signature together). */

static inline void sq2(ledger_fe *h1, const ledger_fe *f1, ledger_fe *h2, const ledger_fe *f2) {
    ledger_fe_sq(h1, f1);
    ledger_fe_sq(h2, f2);
}

static inline void mul2(ledger_fe *h1, const ledger_fe *f1, const ledger_fe *g1, ledger_fe *h2, const ledger_fe *f2,
                        const ledger_fe *g2) {
    ledger_fe_mul(h1, f1, g1);
    ledger_fe_mul(h2, f2, g2);
}

static void sqn2(ledger_fe *h1, const ledger_fe *f1, ledger_fe *h2, const ledger_fe *f2, int n) {
    ledger_fe a = *f1, b = *f2;
    for (int i = 0; i < n; i++) sq2(&a, &a, &b, &b);
    *h1 = a;
    *h2 = b;
}

void ledger_fe_pow_p58_x2(ledger_fe *o1, const ledger_fe *z1, ledger_fe *o2, const ledger_fe *z2) {
    ledger_fe a2, a9, a11, a5, a10, a20, a40, a50, a100, a200, a250, at;
    ledger_fe b2, b9, b11, b5, b10, b20, b40, b50, b100, b200, b250, bt;
    sq2(&a2, z1, &b2, z2);
    sqn2(&at, &a2, &bt, &b2, 2);
    mul2(&a9, &at, z1, &b9, &bt, z2);
    mul2(&a11, &a9, &a2, &b11, &b9, &b2);
    sq2(&at, &a11, &bt, &b11);
    mul2(&a5, &at, &a9, &b5, &bt, &b9);
    sqn2(&at, &a5, &bt, &b5, 5);
    mul2(&a10, &at, &a5, &b10, &bt, &b5);
    sqn2(&at, &a10, &bt, &b10, 10);
    mul2(&a20, &at, &a10, &b20, &bt, &b10);
    sqn2(&at, &a20, &bt, &b20, 20);
    mul2(&a40, &at, &a20, &b40, &bt, &b20);
    sqn2(&at, &a40, &bt, &b40, 10);
    mul2(&a50, &at, &a10, &b50, &bt, &b10);
    sqn2(&at, &a50, &bt, &b50, 50);
    mul2(&a100, &at, &a50, &b100, &bt, &b50);
    sqn2(&at, &a100, &bt, &b100, 100);
    mul2(&a200, &at, &a100, &b200, &bt, &b100);
    sqn2(&at, &a200, &bt, &b200, 50);
    mul2(&a250, &at, &a50, &b250, &bt, &b50);
    sqn2(&at, &a250, &bt, &b250, 2);
    mul2(o1, &at, z1, o2, &bt, z2);
}

/* ---- four independent exponentiations at once ----
 * Portable: two ledger_fe_pow_p58_x2 calls. On x86-64 CPUs with AVX2 (detected at run time), a
 * 4-lane vector version: each 256-bit register holds the same limb of four field elements, in
 * radix 2^25.5 (ten limbs of 26, 25, 26, ... bits), so products are 32x32 -> 64-bit
 * (vpmuludq) and a lane never overflows (sums stay below 2^62). */

static int simd_enabled = -1; /* -1: not decided yet */

#include "fe25519_avx2.h"

#if LEDGER_AVX2_CODE
static AVX2_FN void pow_p58_avx2(ledger_fe out[4], const ledger_fe in[4]) {
    fe4 z, z2, z9, z11, t5, t10, t20, t40, t50, t100, t200, t250, t;
    fe4_load(&z, in);
    fe4_sq(&z2, &z);
    fe4_sqn(&t, &z2, 2);
    fe4_mul(&z9, &t, &z);
    fe4_mul(&z11, &z9, &z2);
    fe4_sq(&t, &z11);
    fe4_mul(&t5, &t, &z9);
    fe4_sqn(&t, &t5, 5);
    fe4_mul(&t10, &t, &t5);
    fe4_sqn(&t, &t10, 10);
    fe4_mul(&t20, &t, &t10);
    fe4_sqn(&t, &t20, 20);
    fe4_mul(&t40, &t, &t20);
    fe4_sqn(&t, &t40, 10);
    fe4_mul(&t50, &t, &t10);
    fe4_sqn(&t, &t50, 50);
    fe4_mul(&t100, &t, &t50);
    fe4_sqn(&t, &t100, 100);
    fe4_mul(&t200, &t, &t100);
    fe4_sqn(&t, &t200, 50);
    fe4_mul(&t250, &t, &t50);
    fe4_sqn(&t, &t250, 2);
    fe4_mul(&t, &t, &z);
    fe4_store(out, &t);
}

static int cpu_has_avx2(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2");
}
#else
static int cpu_has_avx2(void) { return 0; }
#endif

int ledger_fe_simd_available(void) { return cpu_has_avx2() != 0; }

int ledger_fe_simd(int enable) {
    int cur = __atomic_load_n(&simd_enabled, __ATOMIC_RELAXED);
    if (enable >= 0 || cur < 0) {
        cur = (enable >= 0 ? enable != 0 : 1) && cpu_has_avx2();
        __atomic_store_n(&simd_enabled, cur, __ATOMIC_RELAXED);
    }
    return cur;
}

void ledger_fe_pow_p58_x4(ledger_fe out[4], const ledger_fe in[4]) {
#if defined(__x86_64__) && defined(__GNUC__)
    int use = __atomic_load_n(&simd_enabled, __ATOMIC_RELAXED);
    if (use < 0) use = ledger_fe_simd(-1);
    if (use) {
        pow_p58_avx2(out, in);
        return;
    }
#endif
    ledger_fe_pow_p58_x2(&out[0], &in[0], &out[1], &in[1]);
    ledger_fe_pow_p58_x2(&out[2], &in[2], &out[3], &in[3]);
}
