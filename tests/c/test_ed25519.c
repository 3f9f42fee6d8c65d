/* Standalone C checks of the Ed25519 pieces (run plain and under ASan/UBSan by tools/sanitize.sh):
 * SHA-512 known answers, scalar identities, field squaring = multiplication, field encoding = plain reduction, both scalar
 * recodings against their definitions, Straus = Pippenger = naive sums, the 1024 sign.input
 * vectors through single and batch verification with corruptions and 1-2 threads.
 * Usage: test_ed25519 [path/to/ed25519_sign_input_kat.txt] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ed25519_batch.h"
#include "ed25519_verify.h"
#include "msm.h"
#include "sha512.h"

static int failures = 0;
#define CHECK(cond, ...) do { if (!(cond)) { failures++; fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } } while (0)

static int hexval(char c) { return c <= '9' ? c - '0' : (c | 32) - 'a' + 10; }
static void unhex(uint8_t *o, const char *s, size_t nbytes) {
    for (size_t i = 0; i < nbytes; i++) o[i] = (uint8_t)(hexval(s[2 * i]) * 16 + hexval(s[2 * i + 1]));
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static uint64_t rnd(void) { /* splitmix64 */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void test_sha512(void) {
    uint8_t out[64], exp[64];
    ledger_sha512(out, (const uint8_t *)"abc", 3);
    unhex(exp, "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f", 64);
    CHECK(!memcmp(out, exp, 64), "sha512(abc)");
    ledger_sha512(out, (const uint8_t *)"", 0);
    unhex(exp, "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e", 64);
    CHECK(!memcmp(out, exp, 64), "sha512('')");
    const char *two = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
    ledger_sha512(out, (const uint8_t *)two, strlen(two));
    unhex(exp, "8e959b75dae313da8cf4f72814fc143f8f7779c6eb9f7fa17299aeadb6889018501d289e4900f7e4331b99dec4b5433ac7d329eeb6dd26545e96e55b874be909", 64);
    CHECK(!memcmp(out, exp, 64), "sha512(two blocks)");
}

static void random_scalar(ledger_sc *s) {
    uint8_t b[64];
    for (int i = 0; i < 64; i++) b[i] = (uint8_t)rnd();
    ledger_sc_reduce512(s, b);
}

static void test_scalars(void) {
    uint8_t Lb[32];
    unhex(Lb, "edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010", 32);
    CHECK(!ledger_sc_is_canonical(Lb), "L is not canonical");
    Lb[0]--;
    CHECK(ledger_sc_is_canonical(Lb), "L-1 is canonical");
    uint8_t wide[64] = {0};
    memcpy(wide, Lb, 32);
    wide[0]++; /* L */
    ledger_sc r, one = {{1, 0, 0, 0}}, a, b, ab, ba;
    ledger_sc_reduce512(&r, wide);
    CHECK(!r.v[0] && !r.v[1] && !r.v[2] && !r.v[3], "L mod L = 0");
    memset(wide, 0xff, 64);
    ledger_sc_reduce512(&r, wide); /* (2^512 - 1) mod L */
    uint8_t rb[32], eb[32];
    ledger_sc_to_bytes(rb, &r);
    unhex(eb, "000f9c44e31106a447938568a71b0ed065bef517d273ecce3d9a307c1b419903", 32);
    CHECK(!memcmp(rb, eb, 32), "(2^512-1) mod L");
    for (int i = 0; i < 200; i++) {
        random_scalar(&a);
        random_scalar(&b);
        ledger_sc_mul(&r, &a, &one);
        CHECK(!memcmp(&r, &a, sizeof r), "a*1");
        ledger_sc_mul(&ab, &a, &b);
        ledger_sc_mul(&ba, &b, &a);
        CHECK(!memcmp(&ab, &ba, sizeof ab), "ab = ba");
        int8_t naf[257];
        int16_t dig[300];
        for (int w = 2; w <= 8; w++) { /* digits recombine to a (checked mod 2^64 on the low limb) */
            ledger_sc_wnaf(naf, &a, w);
            uint64_t acc = 0;
            for (int k = 63; k >= 0; k--) acc = 2 * acc + (uint64_t)(int64_t)naf[k];
            CHECK(acc == a.v[0], "wnaf w=%d", w);
        }
        for (int c = 2; c <= 14; c++) {
            ledger_sc_signed_digits(dig, &a, c);
            uint64_t acc = 0;
            for (int k = ledger_sc_ndigits(c) - 1; k >= 0; k--) acc = (acc << c) + (uint64_t)(int64_t)dig[k];
            CHECK(acc == a.v[0], "signed digits c=%d", c);
        }
    }
}

static void check_half_size(const ledger_sc *k) {
    ledger_sc k1, k2abs, k2, prod;
    int neg;
    ledger_sc_half_size(&k1, &k2abs, &neg, k);
    CHECK(!k1.v[2] && !k1.v[3] && !(k1.v[1] >> 63), "k1 < 2^127");
    CHECK(!k2abs.v[2] && !k2abs.v[3] && !(k2abs.v[1] >> 63), "|k2| < 2^127");
    CHECK(k2abs.v[0] || k2abs.v[1], "k2 != 0");
    if (neg) ledger_sc_neg(&k2, &k2abs);
    else k2 = k2abs;
    ledger_sc_mul(&prod, &k2, k);
    CHECK(!memcmp(&prod, &k1, sizeof prod), "k1 = k2 k mod L");
}

static void test_half_size(void) {
    ledger_sc k;
    static const uint64_t edge[][4] = {
        {0, 0, 0, 0}, {1, 0, 0, 0}, {0, 0x8000000000000000ULL, 0, 0}, {0xffffffffffffffffULL, 0x7fffffffffffffffULL, 0, 0},
        {0, 0, 1, 0}, {0x5812631a5cf5d3ecULL, 0x14def9dea2f79cd6ULL, 0, 0x1000000000000000ULL}, /* L - 1 */
        {0, 0, 0, 0x0800000000000000ULL}, {3, 0, 0, 0x0fffffffffffffffULL},
    };
    for (size_t i = 0; i < sizeof edge / sizeof *edge; i++) {
        memcpy(k.v, edge[i], sizeof k.v);
        check_half_size(&k);
    }
    for (int i = 0; i < 2000; i++) {
        random_scalar(&k);
        if (i % 5 == 1) k.v[3] = 0;
        if (i % 7 == 2) k.v[2] = k.v[3] = 0;
        check_half_size(&k);
    }
}

static void random_point(ledger_ge_p3 *p) {
    ledger_sc s;
    random_scalar(&s);
    ledger_sc zero = {{0, 0, 0, 0}};
    ledger_ge_p3 q;
    ledger_ge_double_scalarmult_vartime(&q, &zero, &ledger_ge_basepoint, &s); /* [s]B */
    uint8_t enc[32];
    ledger_ge_p3_tobytes(enc, &q);
    CHECK(ledger_ge_frombytes_zip215(p, enc) == 0, "decode of an encoded point");
}

static int same_point(const ledger_ge_p3 *a, const ledger_ge_p3 *b) {
    uint8_t x[32], y[32];
    ledger_ge_p3_tobytes(x, a);
    ledger_ge_p3_tobytes(y, b);
    return !memcmp(x, y, 32);
}

static void test_msm(void) {
    static const size_t sizes[] = {0, 1, 2, 5, 17, 49, 130, 333};
    for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++) {
        size_t n = sizes[si];
        ledger_ge_p3 *P = malloc((n + 1) * sizeof *P);
        ledger_sc *s = malloc((n + 1) * sizeof *s), b;
        for (size_t i = 0; i < n; i++) {
            random_point(&P[i]);
            random_scalar(&s[i]);
            if (i % 3 == 1) s[i].v[2] = s[i].v[3] = 0; /* short scalars as in batches */
        }
        random_scalar(&b);
        ledger_ge_p3 r1, r2, naive, t;
        CHECK(ledger_msm_straus(&r1, &b, s, P, n) == 0, "straus rc");
        CHECK(ledger_msm_pippenger(&r2, &b, s, P, n) == 0, "pippenger rc");
        ledger_sc zero = {{0, 0, 0, 0}};
        ledger_ge_double_scalarmult_vartime(&naive, &zero, &ledger_ge_basepoint, &b);
        for (size_t i = 0; i < n; i++) {
            ledger_ge_cached c;
            ledger_ge_double_scalarmult_vartime(&t, &s[i], &P[i], &zero);
            ledger_ge_p3_to_cached(&c, &t);
            ledger_ge_add_p3(&naive, &naive, &c);
        }
        CHECK(same_point(&r1, &naive), "straus n=%zu", n);
        CHECK(same_point(&r2, &naive), "pippenger n=%zu", n);
        free(P);
        free(s);
    }
}

static void test_decode_x4(void) {
    /* four-at-once decoding (AVX2 and portable) equals one-at-a-time, valid and invalid bytes */
    for (int simd = 0; simd <= 1; simd++) {
        ledger_fe_simd(simd);
        for (int it = 0; it < 300; it++) {
            uint8_t enc[4][32];
            const uint8_t *e[4];
            for (int k = 0; k < 4; k++) {
                if (it % 3 == 0 || k == 2) {
                    ledger_ge_p3 p;
                    random_point(&p);
                    ledger_ge_p3_tobytes(enc[k], &p);
                } else {
                    for (int b = 0; b < 32; b++) enc[k][b] = (uint8_t)rnd();
                }
                if (it % 7 == 0) enc[k][31] |= 0x80;
                e[k] = enc[k];
            }
            ledger_ge_p3 h[4], one;
            int mask = ledger_ge_frombytes_zip215_x4(h, e);
            for (int k = 0; k < 4; k++) {
                int rc = ledger_ge_frombytes_zip215(&one, enc[k]);
                CHECK(((mask >> k) & 1) == (rc != 0), "x4 verdict simd=%d", simd);
                if (rc == 0) CHECK(same_point(&h[k], &one), "x4 point simd=%d", simd);
            }
        }
    }
    ledger_fe_simd(-1);
}

#define MAXN 1024
static uint8_t pk[MAXN][32], sig[MAXN][64], *msg[MAXN];
static size_t mlen[MAXN];

static void test_kat(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) { fprintf(stderr, "skip KAT: cannot open %s\n", path); return; }
    static char line[1 << 16];
    size_t n = 0;
    while (n < MAXN && fgets(line, sizeof line, f)) {
        char *fld[5] = {0}, *q = line;
        for (int i = 0; i < 5 && q; i++) { fld[i] = q; q = strchr(q, ':'); if (q) *q++ = 0; }
        if (!fld[3]) continue;
        unhex(pk[n], fld[1], 32);
        mlen[n] = strlen(fld[2]) / 2;
        msg[n] = malloc(mlen[n] + 1);
        unhex(msg[n], fld[2], mlen[n]);
        unhex(sig[n], fld[3], 64);
        n++;
    }
    fclose(f);
    CHECK(n == 1024, "1024 KAT lines, got %zu", n);
    size_t ok = 0;
    for (size_t i = 0; i < n; i++) ok += (size_t)ledger_ed25519_verify(pk[i], msg[i], mlen[i], sig[i]);
    CHECK(ok == n, "KAT single: %zu of %zu", ok, n);
    int bad[MAXN] = {0};
    for (size_t i = 0; i < n; i++) {
        if (rnd() % 23) continue;
        bad[i] = 1;
        switch (rnd() % 3) {
        case 0: sig[i][rnd() % 32] ^= (uint8_t)(1u << (rnd() % 8)); break;
        case 1: sig[i][32 + rnd() % 32] ^= (uint8_t)(1u << (rnd() % 8)); break;
        default: pk[i][rnd() % 32] ^= (uint8_t)(1u << (rnd() % 8)); break;
        }
    }
    const uint8_t *P[MAXN], *M[MAXN], *S[MAXN];
    uint8_t res[MAXN];
    for (size_t i = 0; i < n; i++) { P[i] = pk[i]; M[i] = msg[i]; S[i] = sig[i]; }
    static const size_t sizes[] = {1, 2, 5, 16, 33, 64, 100, 256, 1024};
    for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++) {
        size_t m = sizes[si] < n ? sizes[si] : n;
        for (int th = 1; th <= 2; th++) {
            int rc = ledger_ed25519_verify_batch(m, P, M, mlen, S, res, th);
            CHECK(rc == 0, "batch rc");
            for (size_t i = 0; i < m; i++) {
                int single = ledger_ed25519_verify(P[i], M[i], mlen[i], S[i]);
                CHECK(single == !bad[i], "single after corruption %zu", i);
                CHECK(res[i] == single, "batch n=%zu threads=%d item %zu", m, th, i);
            }
        }
    }
    /* Repeated keys: batches drawn from the first few items (odd rounds: some corrupted above), so
     * that keys, and bad items, repeat; coalescing by key on and off, per-item verdicts and the first bad. */
    for (int round = 0; round < 6; round++) {
        size_t pool = (size_t)(3 + round * 7), m = 64 + (size_t)round * 150;
        const uint8_t *RP[MAXN], *RM[MAXN], *RS[MAXN];
        size_t RL[MAXN], first = m;
        int want[MAXN];
        size_t cand[64], nc = 0; /* odd rounds: the first items, bad ones included; even: good ones only */
        for (size_t k = 0; nc < pool; k++)
            if ((round & 1) || !bad[k]) cand[nc++] = k;
        for (size_t i = 0; i < m; i++) {
            size_t k = cand[rnd() % pool];
            RP[i] = P[k]; RM[i] = M[k]; RS[i] = S[k]; RL[i] = mlen[k];
            want[i] = ledger_ed25519_verify(RP[i], RM[i], RL[i], RS[i]);
            if (!want[i] && first == m) first = i;
        }
        for (int co = 0; co <= 1; co++) {
            ledger_ed25519_batch_coalesce(co);
            for (int th = 1; th <= 2; th++) {
                unsigned long checks, points;
                ledger_ed25519_batch_stats(NULL, NULL, 1);
                CHECK(ledger_ed25519_verify_batch(m, RP, RM, RL, RS, res, th) == 0, "repeated keys rc");
                for (size_t i = 0; i < m; i++)
                    CHECK(res[i] == want[i], "repeated keys round %d coalesce %d threads %d item %zu", round, co,
                          th, i);
                ledger_ed25519_batch_stats(&checks, &points, 0);
                /* one check per thread: n + d + 1 points coalesced (2 threads: a key split at most
                 * once between them), 2n + 1 plain */
                if (first == m)
                    CHECK(checks == (unsigned long)th &&
                              (co ? points <= m + pool + (size_t)(2 * th - 1) : points == 2 * m + (size_t)th),
                          "points %lu for %zu items, %d threads", points, m, th);
                size_t fb = 0;
                CHECK(ledger_ed25519_first_bad(m, RP, RM, RL, RS, &fb, th) == 0, "repeated keys first-bad rc");
                CHECK(fb == first, "repeated keys first bad %zu, want %zu", fb, first);
            }
        }
    }
    ledger_ed25519_batch_coalesce(1);
    for (size_t i = 0; i < n; i++) free(msg[i]);
}

/* Squaring is its own formula: it must give the limbs of f * f exactly, for every input the limb
 * contract allows (limbs below 2^54), including all-maximal limbs. */
static void test_field_square(void) {
    for (int i = 0; i < 200000; i++) {
        ledger_fe f, square, product;
        for (int k = 0; k < 5; k++) f.v[k] = i == 0 ? (1ULL << 54) - 1 : rnd() >> (10 + (i + k) % 14);
        ledger_fe_sq(&square, &f);
        ledger_fe_mul(&product, &f, &f);
        CHECK(!memcmp(&square, &product, sizeof square), "fe_sq = fe_mul(f, f), case %d", i);
    }
}

/* The canonical encoding against a plain reduction: the limbs summed into a 320-bit integer, p
 * subtracted while it fits, compared byte for byte; limbs up to the contract's 2^54 and the edge
 * values around p and 2^255. */
static void reference_reduce(uint8_t out[32], const ledger_fe *f) {
    uint64_t v[5] = {0}, p[5] = {~0ULL - 18, ~0ULL, ~0ULL, 0x7fffffffffffffffULL, 0};
    for (int i = 4; i >= 0; i--) { /* v = v * 2^51 + limb */
        for (int k = 4; k > 0; k--) v[k] = (v[k] << 51) | (v[k - 1] >> 13);
        v[0] <<= 51;
        uint64_t sum = v[0] + f->v[i], carry = sum < v[0];
        v[0] = sum;
        for (int k = 1; k < 5 && carry; k++) carry = ++v[k] == 0;
    }
    for (;;) {
        uint64_t d[5], borrow = 0;
        for (int k = 0; k < 5; k++) {
            uint64_t x = v[k] - p[k];
            uint64_t b1 = v[k] < p[k];
            d[k] = x - borrow;
            borrow = b1 | (x < borrow);
        }
        if (borrow) break;
        memcpy(v, d, sizeof v);
    }
    for (int i = 0; i < 32; i++) out[i] = (uint8_t)(v[i / 8] >> (8 * (i % 8)));
}

static void test_field_encoding(void) {
    const uint64_t m = (1ULL << 51) - 1;
    const ledger_fe edges[] = {
        {{m - 18, m, m, m, m}}, {{m - 19, m, m, m, m}}, {{m - 17, m, m, m, m}}, {{m, m, m, m, m}},
        {{m + 1, m, m, m, m}}, {{m + 19, m, m, m, m}}, {{0, 0, 0, 0, 0}}, {{m + 1, 0, 0, 0, 0}},
        {{(1ULL << 54) - 1, (1ULL << 54) - 1, (1ULL << 54) - 1, (1ULL << 54) - 1, (1ULL << 54) - 1}},
        {{2 * m - 37, 2 * m, 2 * m, 2 * m, 2 * m}}, {{0, 0, 0, 0, m + 1}},
    };
    for (int i = 0; i < 200000; i++) {
        ledger_fe f;
        if (i < (int)(sizeof edges / sizeof edges[0])) f = edges[i];
        else for (int k = 0; k < 5; k++) f.v[k] = rnd() >> (10 + (i + 3 * k) % 16);
        uint8_t got[32], want[32];
        ledger_fe_tobytes(got, &f);
        reference_reduce(want, &f);
        CHECK(!memcmp(got, want, 32), "fe_tobytes case %d", i);
    }
}

/* value = value * 2^shift + digit over 320 bits (two's complement), shift <= 16 */
static void big_shift_add(uint64_t value[5], int shift, int64_t digit) {
    for (int k = 4; k > 0; k--) value[k] = (value[k] << shift) | (shift ? value[k - 1] >> (64 - shift) : 0);
    value[0] <<= shift;
    uint64_t extend = digit < 0 ? ~0ULL : 0, carry = 0;
    for (int k = 0; k < 5; k++) {
        uint64_t add = k == 0 ? (uint64_t)digit : extend;
        uint64_t sum = value[k] + add;
        uint64_t c1 = sum < add;
        value[k] = sum + carry;
        carry = c1 | (value[k] < sum);
    }
}

static int same_256(const uint64_t value[5], const ledger_sc *a) {
    return value[4] == 0 && !memcmp(value, a->v, 32);
}

/* Both recodings against their definitions, on the whole 256 bits: the digits recombine to a,
 * each digit is in range, w-NAF digits are odd with at least w - 1 zeros between non-zero ones,
 * and the returned length is one past the top non-zero digit. */
static void check_recodings(const ledger_sc *a) {
    for (int w = 2; w <= 15; w++) {
        int16_t naf[257];
        int8_t naf8[257];
        int top = ledger_sc_wnaf16(naf, a, w), last = -1000, expect_top = 0;
        uint64_t value[5] = {0};
        for (int i = 256; i >= 0; i--) big_shift_add(value, 1, naf[i]);
        CHECK(same_256(value, a), "wnaf16 w=%d recombines", w);
        for (int i = 0; i < 257; i++) {
            if (!naf[i]) continue;
            CHECK((naf[i] & 1) && naf[i] < (1 << (w - 1)) && naf[i] > -(1 << (w - 1)), "wnaf16 w=%d digit %d", w, i);
            CHECK(i - last >= w, "wnaf16 w=%d spacing at %d", w, i);
            last = i;
            expect_top = i + 1;
        }
        CHECK(top == expect_top, "wnaf16 w=%d top %d != %d", w, top, expect_top);
        if (w <= 8) {
            CHECK(ledger_sc_wnaf(naf8, a, w) == top, "wnaf w=%d top", w);
            for (int i = 0; i < 257; i++) CHECK(naf8[i] == naf[i], "wnaf w=%d = wnaf16 at %d", w, i);
        }
    }
    for (int c = 2; c <= 15; c++) {
        int16_t digits[300];
        int n = ledger_sc_ndigits(c);
        uint64_t value[5] = {0};
        ledger_sc_signed_digits(digits, a, c);
        for (int i = n - 1; i >= 0; i--) {
            big_shift_add(value, c, digits[i]);
            int high = i == n - 1 ? (1 << (c - 1)) : (1 << (c - 1)) - 1;
            CHECK(digits[i] >= -(1 << (c - 1)) && digits[i] <= high, "signed digits c=%d digit %d = %d", c, i, digits[i]);
        }
        CHECK(same_256(value, a), "signed digits c=%d recombine", c);
    }
}

static void test_recodings(void) {
    static const ledger_sc fixed[] = {
        {{0, 0, 0, 0}}, {{1, 0, 0, 0}}, {{~0ULL, ~0ULL, ~0ULL, ~0ULL}}, {{0, 0, 0, 1ULL << 63}},
        {{0x5812631a5cf5d3ecULL, 0x14def9dea2f79cd6ULL, 0, 0x1000000000000000ULL}}, /* L - 1 */
        {{0xaaaaaaaaaaaaaaaaULL, 0x5555555555555555ULL, 0xaaaaaaaaaaaaaaaaULL, 0x5555555555555555ULL}},
        {{0x7fffffffffffffffULL, 0x8000000000000000ULL, 0xffffULL, 0xffff000000000000ULL}},
    };
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) check_recodings(&fixed[i]);
    for (int i = 0; i < 300; i++) {
        ledger_sc a;
        if (i % 2) random_scalar(&a);
        else for (int k = 0; k < 4; k++) a.v[k] = rnd();
        check_recodings(&a);
    }
}

int main(int argc, char **argv) {
    test_sha512();
    test_scalars();
    test_field_square();
    test_field_encoding();
    test_recodings();
    test_half_size();
    test_msm();
    test_decode_x4();
    test_kat(argc > 1 ? argv[1] : "/work/shared/vectors/ed25519_sign_input_kat.txt");
    if (failures) { fprintf(stderr, "%d failures\n", failures); return 1; }
    puts("test_ed25519: all C checks passed");
    return 0;
}
