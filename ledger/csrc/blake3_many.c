/* Eight BLAKE3 compressions per AVX2 instruction stream; see blake3_many.h. Implements the
 * compression function of the BLAKE3 specification (O'Connor, Aumasson, Neves, Wilcox-O'Hearn,
 * 2020), one input per 32-bit lane. */
#include "blake3_many.h"

#include <string.h>

#include "blake3.h"

#define ONE_BLOCK_FLAGS (LEDGER_BLAKE3_KEYED_HASH | LEDGER_BLAKE3_CHUNK_START | LEDGER_BLAKE3_CHUNK_END | LEDGER_BLAKE3_ROOT)

static void many_portable(const uint32_t key[8], const uint8_t *inputs, size_t stride, size_t length, size_t count,
                          uint32_t (*out)[8]) {
    /* hash_words reads the whole block before it writes the digest, so in-place reduction
     * (out[i] over the bytes of input i) is safe. */
    for (size_t i = 0; i < count; i++)
        ledger_blake3_hash_words(key, LEDGER_BLAKE3_KEYED_HASH, inputs + i * stride, length, out[i]);
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define AVX2 __attribute__((target("avx2")))

#define IV ledger_blake3_iv
#define SCHEDULE ledger_blake3_schedule

AVX2 static inline __m256i rotr16(__m256i x) {
    return _mm256_shuffle_epi8(x, _mm256_set_epi8(13, 12, 15, 14, 9, 8, 11, 10, 5, 4, 7, 6, 1, 0, 3, 2, 13, 12, 15,
                                                  14, 9, 8, 11, 10, 5, 4, 7, 6, 1, 0, 3, 2));
}
AVX2 static inline __m256i rotr8(__m256i x) {
    return _mm256_shuffle_epi8(x, _mm256_set_epi8(12, 15, 14, 13, 8, 11, 10, 9, 4, 7, 6, 5, 0, 3, 2, 1, 12, 15, 14,
                                                  13, 8, 11, 10, 9, 4, 7, 6, 5, 0, 3, 2, 1));
}
AVX2 static inline __m256i rotr12(__m256i x) { return _mm256_or_si256(_mm256_srli_epi32(x, 12), _mm256_slli_epi32(x, 20)); }
AVX2 static inline __m256i rotr7(__m256i x) { return _mm256_or_si256(_mm256_srli_epi32(x, 7), _mm256_slli_epi32(x, 25)); }

#define G(a, b, c, d, x, y)                                        \
    do {                                                           \
        v[a] = _mm256_add_epi32(_mm256_add_epi32(v[a], v[b]), x); \
        v[d] = rotr16(_mm256_xor_si256(v[d], v[a]));               \
        v[c] = _mm256_add_epi32(v[c], v[d]);                       \
        v[b] = rotr12(_mm256_xor_si256(v[b], v[c]));               \
        v[a] = _mm256_add_epi32(_mm256_add_epi32(v[a], v[b]), y); \
        v[d] = rotr8(_mm256_xor_si256(v[d], v[a]));                \
        v[c] = _mm256_add_epi32(v[c], v[d]);                       \
        v[b] = rotr7(_mm256_xor_si256(v[b], v[c]));                \
    } while (0)

/* Eight inputs at inputs + j * stride (j = 0..7). */
AVX2 static void eight(const uint32_t key[8], const uint8_t *inputs, size_t stride, size_t length, uint32_t (*out)[8]) {
    __m256i m[16], v[16];
    const __m256i lanes = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                                             _mm256_set1_epi32((int)(stride / 4)));
    size_t words = length / 4;
    for (size_t k = 0; k < 16; k++)
        m[k] = k < words ? _mm256_i32gather_epi32((const int *)(const void *)(inputs + 4 * k), lanes, 4)
                         : _mm256_setzero_si256();
    for (int i = 0; i < 8; i++) v[i] = _mm256_set1_epi32((int)key[i]);
    for (int i = 0; i < 4; i++) v[8 + i] = _mm256_set1_epi32((int)IV[i]);
    v[12] = _mm256_setzero_si256();   /* counter low */
    v[13] = _mm256_setzero_si256();   /* counter high */
    v[14] = _mm256_set1_epi32((int)length);
    v[15] = _mm256_set1_epi32(ONE_BLOCK_FLAGS);
    for (int r = 0; r < 7; r++) {
        const uint8_t *s = SCHEDULE[r];
        G(0, 4, 8, 12, m[s[0]], m[s[1]]);
        G(1, 5, 9, 13, m[s[2]], m[s[3]]);
        G(2, 6, 10, 14, m[s[4]], m[s[5]]);
        G(3, 7, 11, 15, m[s[6]], m[s[7]]);
        G(0, 5, 10, 15, m[s[8]], m[s[9]]);
        G(1, 6, 11, 12, m[s[10]], m[s[11]]);
        G(2, 7, 8, 13, m[s[12]], m[s[13]]);
        G(3, 4, 9, 14, m[s[14]], m[s[15]]);
    }
    uint32_t lane_words[8][8];   /* [word][lane] */
    for (int i = 0; i < 8; i++) _mm256_storeu_si256((__m256i *)(void *)lane_words[i], _mm256_xor_si256(v[i], v[i + 8]));
    for (int j = 0; j < 8; j++)
        for (int i = 0; i < 8; i++) out[j][i] = lane_words[i][j];
}

/* Read by every hashing thread, written by the first caller and by ledger_blake3_simd(0/1):
 * atomic, as fe25519.c's switch is (a plain int here was a data race under ThreadSanitizer). */
static int simd_state = -1;   /* -1: not yet decided */

int ledger_blake3_simd_available(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") ? 1 : 0;
}

int ledger_blake3_simd(int enable) {
    int state = __atomic_load_n(&simd_state, __ATOMIC_RELAXED);
    if (enable >= 0 || state < 0) {
        state = (enable >= 0 ? enable != 0 : 1) && ledger_blake3_simd_available();
        __atomic_store_n(&simd_state, state, __ATOMIC_RELAXED);
    }
    return state;
}

void ledger_blake3_many(const uint32_t key[8], const uint8_t *inputs, size_t stride, size_t length, size_t count,
                        uint32_t (*out)[8]) {
    size_t i = 0;
    if (ledger_blake3_simd(-1) && length <= 64 && length % 4 == 0 && stride % 4 == 0 && stride / 4 <= 0x0fffffff) {
        /* Group g reads inputs 8g..8g+7 completely before writing digests 8g..8g+7, and with
         * stride >= 32 those digests never land on inputs of a later group. */
        for (; i + 8 <= count; i += 8) eight(key, inputs + i * stride, stride, length, out + i);
    }
    many_portable(key, inputs + i * stride, stride, length, count - i, out + i);
}

#else

int ledger_blake3_simd_available(void) { return 0; }
int ledger_blake3_simd(int enable) { (void)enable; return 0; }

void ledger_blake3_many(const uint32_t key[8], const uint8_t *inputs, size_t stride, size_t length, size_t count,
                        uint32_t (*out)[8]) {
    many_portable(key, inputs, stride, length, count, out);
}

#endif
