/* Portable C11 BLAKE3, written from the BLAKE3 specification (O'Connor, Aumasson, Neves,
 * Wilcox-O'Hearn, 2020; draft-aumasson-blake3). See blake3.h for the interface. */
#include "blake3.h"

#include <string.h>

#define IV ledger_blake3_iv
#define SCHEDULE ledger_blake3_schedule

const uint32_t ledger_blake3_iv[8] = {
    0x6A09E667u, 0xBB67AE85u, 0x3C6EF372u, 0xA54FF53Au,
    0x510E527Fu, 0x9B05688Cu, 0x1F83D9ABu, 0x5BE0CD19u,
};

/* The specification permutes the message words between rounds; indexing through the already
 * composed permutations instead lets every message access be a compile-time constant, so the
 * fully unrolled rounds keep all 16 message words in registers with no shuffling. */
const uint8_t ledger_blake3_schedule[7][16] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8},
    {3, 4, 10, 12, 13, 2, 7, 14, 6, 5, 9, 0, 11, 15, 8, 1},
    {10, 7, 12, 9, 14, 3, 13, 15, 4, 0, 11, 2, 5, 8, 1, 6},
    {12, 13, 9, 11, 15, 10, 14, 8, 7, 2, 5, 3, 0, 1, 6, 4},
    {9, 14, 11, 5, 8, 12, 15, 1, 13, 3, 0, 10, 2, 6, 4, 7},
    {11, 15, 5, 0, 1, 9, 8, 6, 14, 10, 2, 12, 3, 4, 7, 13},
};

/* Byte-wise assembly is endian-independent, and gcc/clang fold it into one load (or a load
 * plus bswap) so it costs nothing on little-endian machines. */
static inline uint32_t load32_le(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static inline void store32_le(uint8_t *p, uint32_t w) {
    p[0] = (uint8_t)w;
    p[1] = (uint8_t)(w >> 8);
    p[2] = (uint8_t)(w >> 16);
    p[3] = (uint8_t)(w >> 24);
}

static inline void load_block(const uint8_t block[LEDGER_BLAKE3_BLOCK_LEN], uint32_t m[16]) {
    for (int i = 0; i < 16; i++) m[i] = load32_le(block + 4 * i);
}

/* Short or partial blocks are zero-padded to a full block (the true length travels separately
 * as block_len, so padding cannot collide with real zeros). */
static inline void load_partial_block(const uint8_t *in, size_t len, uint32_t m[16]) {
    uint8_t buf[LEDGER_BLAKE3_BLOCK_LEN] = {0};
    if (len) memcpy(buf, in, len);
    load_block(buf, m);
}

#define ROTR32(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

#define G(a, b, c, d, x, y)            \
    do {                               \
        a = a + b + (x);               \
        d = ROTR32(d ^ a, 16);         \
        c = c + d;                     \
        b = ROTR32(b ^ c, 12);         \
        a = a + b + (y);               \
        d = ROTR32(d ^ a, 8);          \
        c = c + d;                     \
        b = ROTR32(b ^ c, 7);          \
    } while (0)

#define ROUND(r)                                                       \
    do {                                                               \
        const uint8_t *s = SCHEDULE[r];                                \
        G(v0, v4, v8, v12, m[s[0]], m[s[1]]);                          \
        G(v1, v5, v9, v13, m[s[2]], m[s[3]]);                          \
        G(v2, v6, v10, v14, m[s[4]], m[s[5]]);                         \
        G(v3, v7, v11, v15, m[s[6]], m[s[7]]);                         \
        G(v0, v5, v10, v15, m[s[8]], m[s[9]]);                         \
        G(v1, v6, v11, v12, m[s[10]], m[s[11]]);                       \
        G(v2, v7, v8, v13, m[s[12]], m[s[13]]);                        \
        G(v3, v4, v9, v14, m[s[14]], m[s[15]]);                        \
    } while (0)

/* The 16-word state after the seven rounds, before the feed-forward; named locals (not an
 * array) so the compiler keeps the whole state in registers. */
static inline void compress_rounds(const uint32_t cv[8], const uint32_t m[16], uint64_t counter,
                                   uint32_t block_len, uint32_t flags, uint32_t v[16]) {
    uint32_t v0 = cv[0], v1 = cv[1], v2 = cv[2], v3 = cv[3];
    uint32_t v4 = cv[4], v5 = cv[5], v6 = cv[6], v7 = cv[7];
    uint32_t v8 = IV[0], v9 = IV[1], v10 = IV[2], v11 = IV[3];
    uint32_t v12 = (uint32_t)counter, v13 = (uint32_t)(counter >> 32), v14 = block_len, v15 = flags;
    ROUND(0);
    ROUND(1);
    ROUND(2);
    ROUND(3);
    ROUND(4);
    ROUND(5);
    ROUND(6);
    v[0] = v0; v[1] = v1; v[2] = v2; v[3] = v3;
    v[4] = v4; v[5] = v5; v[6] = v6; v[7] = v7;
    v[8] = v8; v[9] = v9; v[10] = v10; v[11] = v11;
    v[12] = v12; v[13] = v13; v[14] = v14; v[15] = v15;
}

/* Chaining values need only the first half of the output; computing just that half is what
 * every non-root node and every 32-byte digest uses. out may alias cv. */
static inline void compress_cv(const uint32_t cv[8], const uint32_t m[16], uint64_t counter,
                               uint32_t block_len, uint32_t flags, uint32_t out[8]) {
    uint32_t v[16];
    compress_rounds(cv, m, counter, block_len, flags, v);
    for (int i = 0; i < 8; i++) out[i] = v[i] ^ v[i + 8];
}

/* The full 64-byte output, used only for extended (XOF) root output. */
static void compress_xof(const uint32_t cv[8], const uint32_t m[16], uint64_t counter,
                         uint32_t block_len, uint32_t flags, uint8_t out[64]) {
    uint32_t v[16];
    compress_rounds(cv, m, counter, block_len, flags, v);
    for (int i = 0; i < 8; i++) {
        store32_le(out + 4 * i, v[i] ^ v[i + 8]);
        store32_le(out + 32 + 4 * i, v[i + 8] ^ cv[i]);
    }
}

void ledger_blake3_compress_cv(const uint32_t cv[8], const uint32_t msg[16], uint64_t counter, uint32_t block_len,
                               uint32_t flags, uint32_t out[8]) {
    compress_cv(cv, msg, counter, block_len, flags, out);
}

void ledger_blake3_key_words(const uint8_t key[LEDGER_BLAKE3_KEY_LEN], uint32_t words[8]) {
    for (int i = 0; i < 8; i++) words[i] = load32_le(key + 4 * i);
}

void ledger_blake3_words_to_bytes(const uint32_t words[8], uint8_t out[32]) {
    for (int i = 0; i < 8; i++) store32_le(out + 4 * i, words[i]);
}

/* The tree (specification, "Tree Structure"): chunk i is leaf i, and every parent's left subtree
 * holds the largest power-of-two number of chunks that leaves at least one chunk on its right.
 * So after n chunks, none of them the last, the finished part of the tree is one complete subtree
 * of 2^h chunks for each set bit h of n, the highest bit leftmost. The hasher keeps that
 * subtree's chaining value in level_cv[h], and n itself in chunks_done; adding a chunk is a
 * binary increment of n whose carries are parent compressions. */

/* The root's chaining value, message, length and flags: everything its compression needs but the
 * ROOT flag and the output block counter (0 for the first 64 output bytes, then 1, 2, ...). */
typedef struct {
    uint32_t chain[8];
    uint32_t words[16];
    uint32_t len;
    uint32_t flags;
} root_input;

static void root_output(const root_input *root, uint8_t *out, size_t out_len) {
    const uint32_t flags = root->flags | LEDGER_BLAKE3_ROOT;
    if (out_len == LEDGER_BLAKE3_OUT_LEN) {
        uint32_t digest[8];
        compress_cv(root->chain, root->words, 0, root->len, flags, digest);
        ledger_blake3_words_to_bytes(digest, out);
        return;
    }
    for (uint64_t output_block = 0; out_len > 0; output_block++) {
        uint8_t bytes[64];
        size_t take = out_len < sizeof bytes ? out_len : sizeof bytes;
        compress_xof(root->chain, root->words, output_block, root->len, flags, bytes);
        memcpy(out, bytes, take);
        out += take;
        out_len -= take;
    }
}

static inline void parent_cv(const uint32_t key[8], uint32_t mode_flags, const uint32_t left[8],
                             const uint32_t right[8], uint32_t out[8]) {
    uint32_t m[16];
    memcpy(m, left, 32);
    memcpy(m + 8, right, 32);
    compress_cv(key, m, 0, LEDGER_BLAKE3_BLOCK_LEN, mode_flags | LEDGER_BLAKE3_PARENT, out);
}

/* Only for a chunk known not to be the last of the input (so never root): the update path
 * hashes whole chunks straight from the caller's buffer without copying. */
static void whole_chunk_cv(const ledger_blake3_hasher *self, const uint8_t *in, uint32_t out[8]) {
    uint32_t chain[8], m[16];
    memcpy(chain, self->key_words, 32);
    for (int b = 0; b < 16; b++) {
        uint32_t flags = self->mode_flags;
        if (b == 0) flags |= LEDGER_BLAKE3_CHUNK_START;
        if (b == 15) flags |= LEDGER_BLAKE3_CHUNK_END;
        load_block(in + LEDGER_BLAKE3_BLOCK_LEN * b, m);
        compress_cv(chain, m, self->chunks_done, LEDGER_BLAKE3_BLOCK_LEN, flags, chain);
    }
    memcpy(out, chain, 32);
}

/* A finished chunk that more input follows: binary increment of chunks_done. Each set low bit
 * is a complete subtree of the same size as the carry, so the two merge into one of the next
 * size; the first clear bit takes the carry. */
static void tree_add_chunk(ledger_blake3_hasher *self, const uint32_t chunk_cv[8]) {
    uint32_t carry[8];
    int level = 0;
    memcpy(carry, chunk_cv, 32);
    for (uint64_t n = self->chunks_done; n & 1; n >>= 1, level++)
        parent_cv(self->key_words, self->mode_flags, self->level_cv[level], carry, carry);
    memcpy(self->level_cv[level], carry, 32);
    self->chunks_done++;
}

/* Flags of the held block, which is block (chunk_fill - held_len) / 64 of its chunk. */
static inline uint32_t held_block_flags(const ledger_blake3_hasher *self) {
    uint32_t first = self->chunk_fill == self->held_len ? LEDGER_BLAKE3_CHUNK_START : 0;
    return self->mode_flags | first;
}

static void chunk_reset(ledger_blake3_hasher *self) {
    memcpy(self->chunk_chain, self->key_words, 32);
    self->chunk_fill = 0;
    self->held_len = 0;
}

/* level_cv is left unset: a level is read only once its bit of chunks_done says it was written. */
static void hasher_init_words(ledger_blake3_hasher *self, const uint32_t key[8], uint32_t mode_flags) {
    memcpy(self->key_words, key, 32);
    self->mode_flags = mode_flags;
    self->chunks_done = 0;
    memset(self->held_block, 0, sizeof self->held_block);
    chunk_reset(self);
}

void ledger_blake3_hasher_init(ledger_blake3_hasher *self) { hasher_init_words(self, IV, 0); }

void ledger_blake3_hasher_init_keyed(ledger_blake3_hasher *self, const uint8_t key[LEDGER_BLAKE3_KEY_LEN]) {
    uint32_t k[8];
    ledger_blake3_key_words(key, k);
    hasher_init_words(self, k, LEDGER_BLAKE3_KEYED_HASH);
}

void ledger_blake3_hasher_init_derive_key(ledger_blake3_hasher *self, const void *context, size_t context_len) {
    uint32_t context_key[8];
    ledger_blake3_hash_words(IV, LEDGER_BLAKE3_DERIVE_KEY_CONTEXT, context, context_len, context_key);
    hasher_init_words(self, context_key, LEDGER_BLAKE3_DERIVE_KEY_MATERIAL);
}

/* The held block is compressed only once more input has arrived, since until then it may be the
 * input's last block, which finalize compresses with other flags. Here it is not the chunk's last
 * block either (the chunk has room left). */
static void compress_held_block(ledger_blake3_hasher *self) {
    uint32_t m[16];
    load_block(self->held_block, m);
    compress_cv(self->chunk_chain, m, self->chunks_done, LEDGER_BLAKE3_BLOCK_LEN, held_block_flags(self),
                self->chunk_chain);
    self->held_len = 0;
}

/* The chunk is full and more input follows: its held block is block 15 and ends it. */
static void chunk_close(ledger_blake3_hasher *self) {
    uint32_t m[16], cv[8];
    load_block(self->held_block, m);
    compress_cv(self->chunk_chain, m, self->chunks_done, LEDGER_BLAKE3_BLOCK_LEN,
                held_block_flags(self) | LEDGER_BLAKE3_CHUNK_END, cv);
    tree_add_chunk(self, cv);
    chunk_reset(self);
}

void ledger_blake3_hasher_update(ledger_blake3_hasher *self, const void *input, size_t input_len) {
    const uint8_t *in = (const uint8_t *)input;
    while (input_len > 0) {
        if (self->chunk_fill == LEDGER_BLAKE3_CHUNK_LEN) chunk_close(self);
        if (self->chunk_fill == 0 && input_len > LEDGER_BLAKE3_CHUNK_LEN) {
            uint32_t cv[8];
            whole_chunk_cv(self, in, cv);
            tree_add_chunk(self, cv);
            in += LEDGER_BLAKE3_CHUNK_LEN;
            input_len -= LEDGER_BLAKE3_CHUNK_LEN;
            continue;
        }
        if (self->held_len == LEDGER_BLAKE3_BLOCK_LEN) compress_held_block(self);
        /* At a block boundary, blocks with input after them and room after them in the chunk
         * are compressed straight from the caller's buffer. */
        while (self->held_len == 0 && input_len > LEDGER_BLAKE3_BLOCK_LEN &&
               self->chunk_fill + LEDGER_BLAKE3_BLOCK_LEN < LEDGER_BLAKE3_CHUNK_LEN) {
            uint32_t m[16];
            uint32_t flags = self->mode_flags | (self->chunk_fill == 0 ? LEDGER_BLAKE3_CHUNK_START : 0);
            load_block(in, m);
            compress_cv(self->chunk_chain, m, self->chunks_done, LEDGER_BLAKE3_BLOCK_LEN, flags, self->chunk_chain);
            self->chunk_fill += LEDGER_BLAKE3_BLOCK_LEN;
            in += LEDGER_BLAKE3_BLOCK_LEN;
            input_len -= LEDGER_BLAKE3_BLOCK_LEN;
        }
        size_t take = LEDGER_BLAKE3_BLOCK_LEN - self->held_len;
        if (take > input_len) take = input_len;
        memcpy(self->held_block + self->held_len, in, take);
        self->held_len = (uint8_t)(self->held_len + take);
        self->chunk_fill = (uint16_t)(self->chunk_fill + take);
        in += take;
        input_len -= take;
    }
}

/* The chunk being filled is the input's last leaf (empty only when the whole input is). Its CV
 * joins the subtrees of the set bits of chunks_done from the lowest level up, the nearest on
 * its left first; the parent with the highest subtree, or the lone chunk, is the root. */
static void hasher_root_input(const ledger_blake3_hasher *self, root_input *root) {
    memcpy(root->chain, self->chunk_chain, 32);
    load_partial_block(self->held_block, self->held_len, root->words);
    root->len = self->held_len;
    root->flags = held_block_flags(self) | LEDGER_BLAKE3_CHUNK_END;
    uint64_t levels = self->chunks_done;
    if (levels == 0) return;
    uint32_t right[8];
    compress_cv(root->chain, root->words, self->chunks_done, root->len, root->flags, right);
    for (int level = 0; levels != 0; level++, levels >>= 1) {
        if ((levels & 1) == 0) continue;
        memcpy(root->chain, self->key_words, 32);
        memcpy(root->words, self->level_cv[level], 32);
        memcpy(root->words + 8, right, 32);
        root->len = LEDGER_BLAKE3_BLOCK_LEN;
        root->flags = self->mode_flags | LEDGER_BLAKE3_PARENT;
        if (levels == 1) return;
        compress_cv(root->chain, root->words, 0, root->len, root->flags, right);
    }
}

void ledger_blake3_hasher_finalize(const ledger_blake3_hasher *self, uint8_t *out, size_t out_len) {
    root_input root;
    hasher_root_input(self, &root);
    root_output(&root, out, out_len);
}

void ledger_blake3_hash_words(const uint32_t key_words[8], uint32_t mode_flags, const void *input, size_t input_len,
                              uint32_t out[8]) {
    if (input_len <= LEDGER_BLAKE3_BLOCK_LEN) {
        uint32_t m[16];
        /* A full block (every Merkle node) is read in place, skipping the padding copy. */
        if (input_len == LEDGER_BLAKE3_BLOCK_LEN)
            load_block((const uint8_t *)input, m);
        else
            load_partial_block((const uint8_t *)input, input_len, m);
        compress_cv(key_words, m, 0, (uint32_t)input_len,
                    mode_flags | LEDGER_BLAKE3_CHUNK_START | LEDGER_BLAKE3_CHUNK_END | LEDGER_BLAKE3_ROOT, out);
        return;
    }
    ledger_blake3_hasher h;
    root_input root;
    hasher_init_words(&h, key_words, mode_flags);
    ledger_blake3_hasher_update(&h, input, input_len);
    hasher_root_input(&h, &root);
    compress_cv(root.chain, root.words, 0, root.len, root.flags | LEDGER_BLAKE3_ROOT, out);
}

/* One-shot: a single-block input with a 32-byte output skips the hasher entirely. */
static void oneshot(const uint32_t key[8], uint32_t mode_flags, const void *input, size_t input_len, uint8_t *out,
                    size_t out_len) {
    if (out_len == LEDGER_BLAKE3_OUT_LEN) {
        uint32_t w[8];
        ledger_blake3_hash_words(key, mode_flags, input, input_len, w);
        ledger_blake3_words_to_bytes(w, out);
        return;
    }
    ledger_blake3_hasher h;
    hasher_init_words(&h, key, mode_flags);
    ledger_blake3_hasher_update(&h, input, input_len);
    ledger_blake3_hasher_finalize(&h, out, out_len);
}

void ledger_blake3_hash(const void *input, size_t input_len, uint8_t *out, size_t out_len) {
    oneshot(IV, 0, input, input_len, out, out_len);
}

void ledger_blake3_keyed_hash(const uint8_t key[LEDGER_BLAKE3_KEY_LEN], const void *input, size_t input_len,
                              uint8_t *out, size_t out_len) {
    uint32_t k[8];
    ledger_blake3_key_words(key, k);
    oneshot(k, LEDGER_BLAKE3_KEYED_HASH, input, input_len, out, out_len);
}

void ledger_blake3_derive_key(const void *context, size_t context_len, const void *material, size_t material_len,
                              uint8_t *out, size_t out_len) {
    uint32_t context_key[8];
    ledger_blake3_hash_words(IV, LEDGER_BLAKE3_DERIVE_KEY_CONTEXT, context, context_len, context_key);
    oneshot(context_key, LEDGER_BLAKE3_DERIVE_KEY_MATERIAL, material, material_len, out, out_len);
}
