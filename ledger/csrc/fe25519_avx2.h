/* Field arithmetic mod 2^255 - 19 (RFC 8032 §5.1), four elements at once with AVX2 (x86-64 only,
 * used only when the CPU has AVX2, see ledger_fe_simd). Each 256-bit register holds the same limb
 * of four field elements ("lanes"), in the radix 2^25.5 of Bernstein, "Curve25519" (PKC 2006):
 * ten limbs of 26, 25, 26, ... bits, so that products are 32 x 32 -> 64-bit (vpmuludq) and sums
 * of ten products stay below 2^64.
 *
 * Limb bounds: fe4_mul / fe4_sq accept limbs below 2^27 (one unreduced add or 2p-biased subtract
 * of carried values) and return carried limbs (below 2^26 / 2^25, limb 1 slightly more). */
#ifndef LEDGER_FE25519_AVX2_H
#define LEDGER_FE25519_AVX2_H

#include "fe25519.h"

#if defined(__x86_64__) && defined(__GNUC__)
#define LEDGER_AVX2_CODE 1
#include <immintrin.h>

typedef struct { __m256i v[10]; } fe4;

#define AVX2_FN __attribute__((target("avx2")))

static AVX2_FN inline __m256i mul32(__m256i a, __m256i b) { return _mm256_mul_epu32(a, b); }

static AVX2_FN __attribute__((always_inline)) inline void fe4_carry(fe4 *h) {
    const __m256i m26 = _mm256_set1_epi64x((1 << 26) - 1), m25 = _mm256_set1_epi64x((1 << 25) - 1);
    __m256i *v = h->v, c, d;
#define CARRY(i, bits, mask) c = _mm256_srli_epi64(v[i], bits); v[i + 1] = _mm256_add_epi64(v[i + 1], c); v[i] = _mm256_and_si256(v[i], mask)
    CARRY(0, 26, m26); CARRY(4, 26, m26);
    CARRY(1, 25, m25); CARRY(5, 25, m25);
    CARRY(2, 26, m26); CARRY(6, 26, m26);
    CARRY(3, 25, m25); CARRY(7, 25, m25);
    CARRY(4, 26, m26); CARRY(8, 26, m26);
    c = _mm256_srli_epi64(v[9], 25);
    v[9] = _mm256_and_si256(v[9], m25);
    d = _mm256_add_epi64(c, _mm256_slli_epi64(c, 1));   /* 3c */
    d = _mm256_add_epi64(d, _mm256_slli_epi64(c, 4));   /* 19c */
    v[0] = _mm256_add_epi64(v[0], d);
    CARRY(0, 26, m26);
#undef CARRY
}

/* h = f * g. Input limbs below about 2^27; output carried. */
static AVX2_FN __attribute__((always_inline)) inline void fe4_mul(fe4 *h, const fe4 *f, const fe4 *g) {
    __m256i g19[10], f2[10];
    _Pragma("GCC unroll 10") for (int i = 0; i < 10; i++) {
        __m256i x = g->v[i];
        g19[i] = _mm256_add_epi64(_mm256_add_epi64(x, _mm256_slli_epi64(x, 1)), _mm256_slli_epi64(x, 4));
        f2[i] = (i & 1) ? _mm256_add_epi64(f->v[i], f->v[i]) : f->v[i];
    }
    __m256i r[10];
    _Pragma("GCC unroll 10") for (int k = 0; k < 10; k++) {
        __m256i acc = _mm256_setzero_si256();
        _Pragma("GCC unroll 10") for (int i = 0; i < 10; i++) {
            int j = k - i;
            /* both limbs odd: the product carries an extra factor 2 (radix 2^25.5) */
            if (j >= 0) {
                acc = _mm256_add_epi64(acc, mul32((i & 1) && (j & 1) ? f2[i] : f->v[i], g->v[j]));
            } else {
                j += 10;
                acc = _mm256_add_epi64(acc, mul32((i & 1) && (j & 1) ? f2[i] : f->v[i], g19[j]));
            }
        }
        r[k] = acc;
    }
    _Pragma("GCC unroll 10") for (int k = 0; k < 10; k++) h->v[k] = r[k];
    fe4_carry(h);
}

/* h = f^2, the symmetric products taken once and doubled. */
static AVX2_FN __attribute__((always_inline)) inline void fe4_sq(fe4 *h, const fe4 *f) {
    __m256i f2[10], f19[10];
    _Pragma("GCC unroll 10") for (int i = 0; i < 10; i++) {
        __m256i x = f->v[i];
        f2[i] = _mm256_add_epi64(x, x);
        f19[i] = _mm256_add_epi64(_mm256_add_epi64(x, _mm256_slli_epi64(x, 1)), _mm256_slli_epi64(x, 4));
    }
    __m256i r[10];
    _Pragma("GCC unroll 10") for (int k = 0; k < 10; k++) {
        __m256i acc = _mm256_setzero_si256();
        /* pairs (i, j) with i + j = k or k + 10, i <= j */
        _Pragma("GCC unroll 10") for (int i = 0; i < 10; i++) {
            int j = k - i;
            int wrap = 0;
            if (j < 0) { j += 10; wrap = 1; }
            if (j < i) continue;
            /* factor: 2 for i != j, times 2 for both odd, times 19 for wrap */
            __m256i a = (i != j) ? f2[i] : f->v[i];
            __m256i b = wrap ? f19[j] : f->v[j];
            if ((i & 1) && (j & 1)) b = _mm256_add_epi64(b, b);
            acc = _mm256_add_epi64(acc, mul32(a, b));
        }
        r[k] = acc;
    }
    _Pragma("GCC unroll 10") for (int k = 0; k < 10; k++) h->v[k] = r[k];
    fe4_carry(h);
}

static AVX2_FN inline void fe4_sqn(fe4 *h, const fe4 *f, int n) {
    fe4 t = *f;
    for (int i = 0; i < n; i++) fe4_sq(&t, &t);
    *h = t;
}

static AVX2_FN inline void fe4_load(fe4 *h, const ledger_fe in[4]) {
    uint64_t l[4][10];
    for (int e = 0; e < 4; e++) {
        ledger_fe t = in[e];
        ledger_fe_carry(&t);
        for (int k = 0; k < 5; k++) {
            l[e][2 * k] = t.v[k] & ((1u << 26) - 1);
            l[e][2 * k + 1] = t.v[k] >> 26;
        }
    }
    for (int i = 0; i < 10; i++) h->v[i] = _mm256_set_epi64x((long long)l[3][i], (long long)l[2][i], (long long)l[1][i], (long long)l[0][i]);
}

static AVX2_FN inline void fe4_store(ledger_fe out[4], const fe4 *h) {
    uint64_t l[10][4];
    for (int i = 0; i < 10; i++) _mm256_storeu_si256((__m256i *)l[i], h->v[i]);
    for (int e = 0; e < 4; e++) {
        for (int k = 0; k < 5; k++) out[e].v[k] = l[2 * k][e] + (l[2 * k + 1][e] << 26);
        ledger_fe_carry(&out[e]);
    }
}


/* lane-wise r = a + b (no carry) */
static AVX2_FN __attribute__((always_inline)) inline void fe4_add(fe4 *r, const fe4 *a, const fe4 *b) {
    for (int i = 0; i < 10; i++) r->v[i] = _mm256_add_epi64(a->v[i], b->v[i]);
}

/* lane-wise r = a + k*p - b for k = 2 or 4 (no carry); b's limbs must stay below k*p's */
static AVX2_FN __attribute__((always_inline)) inline void fe4_sub_kp(fe4 *r, const fe4 *a, const fe4 *b, int k) {
    const __m256i e0 = _mm256_set1_epi64x((long long)k * ((1 << 26) - 19));
    const __m256i ev = _mm256_set1_epi64x((long long)k * ((1 << 26) - 1));
    const __m256i od = _mm256_set1_epi64x((long long)k * ((1 << 25) - 1));
    for (int i = 0; i < 10; i++) {
        __m256i bias = i == 0 ? e0 : (i & 1) ? od : ev;
        r->v[i] = _mm256_sub_epi64(_mm256_add_epi64(a->v[i], bias), b->v[i]);
    }
}

/* r[lane k] = a[lane sel_k], imm = sel0 | sel1 << 2 | sel2 << 4 | sel3 << 6 */
#define FE4_PERMUTE(r, a, imm) \
    do { for (int i_ = 0; i_ < 10; i_++) (r)->v[i_] = _mm256_permute4x64_epi64((a)->v[i_], (imm)); } while (0)
/* r[lane k] = (lanes & (1 << k)) ? b[lane k] : a[lane k] */
#define FE4_LANES(l) ((((l) & 1) ? 0x03 : 0) | (((l) & 2) ? 0x0c : 0) | (((l) & 4) ? 0x30 : 0) | (((l) & 8) ? 0xc0 : 0))
#define FE4_BLEND(r, a, b, lanes) \
    do { for (int i_ = 0; i_ < 10; i_++) (r)->v[i_] = _mm256_blend_epi32((a)->v[i_], (b)->v[i_], FE4_LANES(lanes)); } while (0)
#define FE4_KEEP(r, a, lanes) \
    do { for (int i_ = 0; i_ < 10; i_++) (r)->v[i_] = _mm256_blend_epi32(_mm256_setzero_si256(), (a)->v[i_], FE4_LANES(lanes)); } while (0)
#define FE4_SEL(s0, s1, s2, s3) ((s0) | ((s1) << 2) | ((s2) << 4) | ((s3) << 6))

#else
#define LEDGER_AVX2_CODE 0
#endif

#endif
