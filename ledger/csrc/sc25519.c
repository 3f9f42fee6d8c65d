/* Scalars mod L (RFC 8032 §5.1): Barrett reduction (Menezes, van Oorschot, Vanstone, "Handbook of
 * Applied Cryptography", Algorithm 14.42) with b = 2^64, k = 4, mu = floor(2^512 / L); w-NAF and
 * signed radix-2^c recodings from their definitions (Hankerson, Menezes, Vanstone, "Guide to
 * Elliptic Curve Cryptography", Algorithm 3.35); the half-size decomposition of Pornin 2020. */
#include "sc25519.h"

#include <string.h>

typedef unsigned __int128 u128;

static const uint64_t L_LIMBS[4] = {0x5812631a5cf5d3edULL, 0x14def9dea2f79cd6ULL, 0, 0x1000000000000000ULL};
static const uint64_t MU[5] = {0xed9ce5a30a2c131bULL, 0x2106215d086329a7ULL, 0xffffffffffffffebULL,
                               0xffffffffffffffffULL, 0xfULL};

static uint64_t load_le64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

void ledger_sc_from_bytes(ledger_sc *r, const uint8_t s[32]) {
    for (int i = 0; i < 4; i++) r->v[i] = load_le64(s + 8 * i);
}

void ledger_sc_to_bytes(uint8_t s[32], const ledger_sc *a) {
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 8; j++) s[8 * i + j] = (uint8_t)(a->v[i] >> (8 * j));
}

/* a >= b for 4-limb numbers */
static int geq4(const uint64_t a[4], const uint64_t b[4]) {
    for (int i = 3; i >= 0; i--) {
        if (a[i] != b[i]) return a[i] > b[i];
    }
    return 1;
}

int ledger_sc_is_canonical(const uint8_t s[32]) {
    ledger_sc a;
    ledger_sc_from_bytes(&a, s);
    return !geq4(a.v, L_LIMBS);
}

/* r (n limbs) -= b (n limbs), mod 2^(64n) */
static void sub_n(uint64_t *r, const uint64_t *b, int n) {
    uint64_t borrow = 0;
    for (int i = 0; i < n; i++) {
        u128 d = (u128)r[i] - b[i] - borrow;
        r[i] = (uint64_t)d;
        borrow = (uint64_t)(d >> 64) & 1;
    }
}

/* Reduces x (8 limbs, any value below 2^512) mod L. */
static void barrett(uint64_t out[4], const uint64_t x[8]) {
    /* q1 = x >> 192 (5 limbs); q3 = (q1 * mu) >> 320 */
    const uint64_t *q1 = x + 3;
    uint64_t q2[10] = {0};
    for (int i = 0; i < 5; i++) {
        uint64_t carry = 0;
        for (int j = 0; j < 5; j++) {
            u128 t = (u128)q1[i] * MU[j] + q2[i + j] + carry;
            q2[i + j] = (uint64_t)t;
            carry = (uint64_t)(t >> 64);
        }
        q2[i + 5] = carry;
    }
    const uint64_t *q3 = q2 + 5;
    /* r2 = (q3 * L) mod 2^320 */
    uint64_t r2[5] = {0};
    for (int i = 0; i < 5; i++) {
        uint64_t carry = 0;
        for (int j = 0; i + j < 5 && j < 4; j++) {
            u128 t = (u128)q3[i] * L_LIMBS[j] + r2[i + j] + carry;
            r2[i + j] = (uint64_t)t;
            carry = (uint64_t)(t >> 64);
        }
        if (i + 4 < 5) r2[i + 4] += carry;
    }
    uint64_t r[5];
    memcpy(r, x, 5 * sizeof(uint64_t));
    sub_n(r, r2, 5);
    static const uint64_t L5[5] = {0x5812631a5cf5d3edULL, 0x14def9dea2f79cd6ULL, 0, 0x1000000000000000ULL, 0};
    for (int k = 0; k < 2; k++) {
        if (r[4] == 0 && !geq4(r, L_LIMBS)) break;
        sub_n(r, L5, 5);
    }
    memcpy(out, r, 4 * sizeof(uint64_t));
}

void ledger_sc_reduce512(ledger_sc *r, const uint8_t s[64]) {
    uint64_t x[8];
    for (int i = 0; i < 8; i++) x[i] = load_le64(s + 8 * i);
    barrett(r->v, x);
}

void ledger_sc_mul(ledger_sc *r, const ledger_sc *a, const ledger_sc *b) {
    uint64_t x[8] = {0};
    for (int i = 0; i < 4; i++) {
        uint64_t carry = 0;
        for (int j = 0; j < 4; j++) {
            u128 t = (u128)a->v[i] * b->v[j] + x[i + j] + carry;
            x[i + j] = (uint64_t)t;
            carry = (uint64_t)(t >> 64);
        }
        x[i + 4] = carry;
    }
    barrett(r->v, x);
}

void ledger_sc_add(ledger_sc *r, const ledger_sc *a, const ledger_sc *b) {
    uint64_t s[5];
    uint64_t carry = 0;
    for (int i = 0; i < 4; i++) {
        u128 t = (u128)a->v[i] + b->v[i] + carry;
        s[i] = (uint64_t)t;
        carry = (uint64_t)(t >> 64);
    }
    s[4] = carry;
    static const uint64_t L5[5] = {0x5812631a5cf5d3edULL, 0x14def9dea2f79cd6ULL, 0, 0x1000000000000000ULL, 0};
    if (s[4] != 0 || geq4(s, L_LIMBS)) sub_n(s, L5, 5);
    memcpy(r->v, s, 4 * sizeof(uint64_t));
}

/* ---- Recodings for windowed multiplication ----
 * Both are repeated division with a centred remainder. For a modulus 2^w, "k mods 2^w" is the
 * residue of k in [-2^(w-1), 2^(w-1)); subtracting it leaves k divisible by 2^w.
 *   w-NAF (D. Hankerson, A. Menezes, S. Vanstone, "Guide to Elliptic Curve Cryptography",
 *   Springer 2004, Algorithm 3.35): while k >= 1: if k is odd, k_i = k mods 2^w and k = k - k_i,
 *   else k_i = 0; then k = k / 2 and i = i + 1. Here a run of even k (zero digits) is skipped at
 *   once by shifting out all trailing zero bits.
 *   Signed radix 2^c: k_0 = a, d_i = k_i mods 2^c, k_(i+1) = (k_i - d_i) / 2^c, so
 *   a = sum d_i 2^(c i); what is left after ceil(256 / c) digits (0 or 1) is the last digit.
 * The w-NAF's working value has a fifth limb: subtracting a negative digit from k < 2^256 may
 * carry into bit 256. */

/* k mods 2^w from k's low bits: shifting by half a modulus moves [-2^(w-1), 2^(w-1)) onto
 * [0, 2^w), where the plain residue is taken. */
static inline int64_t centred_residue(uint64_t low_bits, int w) {
    const uint64_t half = 1ULL << (w - 1), mask = (1ULL << w) - 1;
    return (int64_t)((low_bits + half) & mask) - (int64_t)half;
}

/* k = k - digit, where digit = k mods 2^w, |digit| < 2^15. A positive digit equals k's low bits,
 * so nothing borrows; a negative one adds 2^w - (k mod 2^w), which may carry upwards. */
static inline void subtract_digit(uint64_t k[5], int64_t digit) {
    if (digit >= 0) {
        k[0] -= (uint64_t)digit;
        return;
    }
    uint64_t carry = (uint64_t)(-digit);
    for (int i = 0; i < 5 && carry; i++) {
        k[i] += carry;
        carry = k[i] < carry;
    }
}

/* k = k / 2^shift, 0 <= shift < 320 */
static inline void shift_down(uint64_t k[5], int shift) {
    for (; shift >= 64; shift -= 64) {
        for (int i = 0; i < 4; i++) k[i] = k[i + 1];
        k[4] = 0;
    }
    if (shift == 0) return;
    for (int i = 0; i < 4; i++) k[i] = (k[i] >> shift) | (k[i + 1] << (64 - shift));
    k[4] >>= shift;
}

/* Number of trailing zero bits of k, or -1 when k = 0. */
static inline int trailing_zero_bits(const uint64_t k[5]) {
    for (int i = 0; i < 5; i++)
        if (k[i]) return 64 * i + __builtin_ctzll(k[i]);
    return -1;
}

int ledger_sc_wnaf16(int16_t naf[257], const ledger_sc *a, int w) {
    uint64_t k[5] = {a->v[0], a->v[1], a->v[2], a->v[3], 0};
    int position = 0, length = 0, zeros;
    memset(naf, 0, 257 * sizeof(int16_t));
    while ((zeros = trailing_zero_bits(k)) >= 0) {
        shift_down(k, zeros);
        position += zeros;
        const int64_t digit = centred_residue(k[0], w);
        naf[position] = (int16_t)digit;
        length = position + 1;
        subtract_digit(k, digit);
    }
    return length;
}

int ledger_sc_wnaf(int8_t naf[257], const ledger_sc *a, int w) {
    /* Digits are odd and below 2^(w-1) in magnitude, so for w <= 8 they fit an int8_t. */
    int16_t wide[257];
    int length = ledger_sc_wnaf16(wide, a, w);
    for (int i = 0; i < 257; i++) naf[i] = (int8_t)wide[i];
    return length;
}

/* Signed digits: k_i's low c bits are the window of a at bit c i plus the 0 or 1 that
 * (k_(i-1) - d_(i-1)) / 2^c carried out of the window below, and only they decide d_i; the rest
 * of k_i is never formed. */
static inline int64_t window_of(const ledger_sc *a, int position, int width) {
    if (position >= 256) return 0;
    const int limb = position >> 6, offset = position & 63;
    uint64_t bits = a->v[limb] >> offset;
    if (offset + width > 64 && limb < 3) bits |= a->v[limb + 1] << (64 - offset);
    return (int64_t)(bits & ((1ULL << width) - 1));
}

void ledger_sc_signed_digits(int16_t *digits, const ledger_sc *a, int c) {
    const int last = ledger_sc_ndigits(c) - 1;
    int64_t carried = 0;
    for (int i = 0; i < last; i++) {
        const int64_t low = window_of(a, c * i, c) + carried; /* k_i mod 2^c, or 2^c itself */
        const int64_t digit = centred_residue((uint64_t)low, c);
        digits[i] = (int16_t)digit;
        carried = (low - digit) >> c;
    }
    digits[last] = (int16_t)(window_of(a, c * last, c) + carried);
}

/* ---- half-size decomposition of a scalar (for single verification) ----
 * Extended Euclid on (L, k) (as Gallant, Lambert and Vanstone find short lattice vectors; used for
 * signature verification by T. Pornin, "Optimized lattice basis reduction in dimension 2, and fast
 * Schnorr and EdDSA signature verification", 2020): remainders r_i = t_i k mod L, stopped at the
 * first r_i < 2^127, where |t_i| <= L / r_{i-1} < 2^126. */

static int bitlen4(const uint64_t a[4]) {
    for (int i = 3; i >= 0; i--)
        if (a[i]) return 64 * i + 64 - __builtin_clzll(a[i]);
    return 0;
}

/* r = b << s (s < 256), truncated to 256 bits */
static void shl4(uint64_t r[4], const uint64_t b[4], int s) {
    int limbs = s >> 6, bits = s & 63;
    for (int i = 3; i >= 0; i--) {
        uint64_t v = 0;
        int j = i - limbs;
        if (j >= 0) {
            v = b[j] << bits;
            if (bits && j > 0) v |= b[j - 1] >> (64 - bits);
        }
        r[i] = v;
    }
}

/* a = a mod b, returns the quotient; b != 0 and the quotient must fit in 128 bits. */
static u128 divmod4(uint64_t a[4], const uint64_t b[4]) {
    u128 q = 0;
    int s = bitlen4(a) - bitlen4(b);
    uint64_t t[4];
    for (; s >= 0; s--) {
        shl4(t, b, s);
        if (geq4(a, t)) {
            sub_n(a, t, 4);
            q |= (u128)1 << s;
        }
    }
    return q;
}

void ledger_sc_half_size(ledger_sc *k1, ledger_sc *k2abs, int *k2neg, const ledger_sc *k) {
    uint64_t a[4], b[4];
    memcpy(a, L_LIMBS, sizeof a);
    memcpy(b, k->v, sizeof b);
    __int128 ta = 0, tb = 1;
    /* loop while b >= 2^127 */
    while (b[3] || b[2] || (b[1] >> 63)) {
        u128 q = divmod4(a, b); /* a <- a mod b */
        __int128 tn = ta - (__int128)q * tb;
        /* (a, b) <- (b, a mod b) */
        uint64_t tmp[4];
        memcpy(tmp, a, sizeof tmp);
        memcpy(a, b, sizeof a);
        memcpy(b, tmp, sizeof b);
        ta = tb;
        tb = tn;
    }
    memset(k1, 0, sizeof *k1);
    k1->v[0] = b[0];
    k1->v[1] = b[1];
    *k2neg = tb < 0;
    u128 m = (u128)(tb < 0 ? -tb : tb);
    memset(k2abs, 0, sizeof *k2abs);
    k2abs->v[0] = (uint64_t)m;
    k2abs->v[1] = (uint64_t)(m >> 64);
}

void ledger_sc_neg(ledger_sc *r, const ledger_sc *a) {
    uint64_t t[4];
    memcpy(t, L_LIMBS, sizeof t);
    int zero = !(a->v[0] | a->v[1] | a->v[2] | a->v[3]);
    sub_n(t, a->v, 4);
    if (zero) memset(t, 0, sizeof t);
    memcpy(r->v, t, sizeof t);
}
