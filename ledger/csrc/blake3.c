/* Portable C11 BLAKE3, written from the specification. See blake3.h for the interface. */
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

/* A node whose last compression has not been done yet. Its root-ness is unknown until the
 * caller decides, so it is kept as the compression's inputs rather than as a result. */
typedef struct {
    uint32_t cv[8];
    uint32_t msg[16];
    uint64_t counter;
    uint32_t block_len;
    uint32_t flags;
} pending_node;

static inline void pending_cv(const pending_node *n, uint32_t out[8]) {
    compress_cv(n->cv, n->msg, n->counter, n->block_len, n->flags, out);
}

/* Root output: the counter now numbers 64-byte output blocks, so any prefix of a longer output
 * equals the shorter output. */
static void pending_root_bytes(const pending_node *n, uint8_t *out, size_t out_len) {
    uint64_t block = 0;
    uint32_t flags = n->flags | LEDGER_BLAKE3_ROOT;
    if (out_len == LEDGER_BLAKE3_OUT_LEN) {
        uint32_t w[8];
        compress_cv(n->cv, n->msg, 0, n->block_len, flags, w);
        ledger_blake3_words_to_bytes(w, out);
        return;
    }
    while (out_len > 0) {
        uint8_t buf[64];
        compress_xof(n->cv, n->msg, block, n->block_len, flags, buf);
        size_t take = out_len < 64 ? out_len : 64;
        memcpy(out, buf, take);
        out += take;
        out_len -= take;
        block++;
    }
}

static inline void parent_pending(const uint32_t key[8], uint32_t mode_flags, const uint32_t left[8],
                                  const uint32_t right[8], pending_node *n) {
    memcpy(n->cv, key, 32);
    memcpy(n->msg, left, 32);
    memcpy(n->msg + 8, right, 32);
    n->counter = 0;
    n->block_len = LEDGER_BLAKE3_BLOCK_LEN;
    n->flags = mode_flags | LEDGER_BLAKE3_PARENT;
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
static void full_chunk_cv(const uint32_t key[8], uint32_t mode_flags, const uint8_t *in, uint64_t counter,
                          uint32_t out[8]) {
    uint32_t cv[8], m[16];
    memcpy(cv, key, 32);
    for (int b = 0; b < 16; b++) {
        uint32_t flags = mode_flags;
        if (b == 0) flags |= LEDGER_BLAKE3_CHUNK_START;
        if (b == 15) flags |= LEDGER_BLAKE3_CHUNK_END;
        load_block(in + 64 * b, m);
        compress_cv(cv, m, counter, LEDGER_BLAKE3_BLOCK_LEN, flags, cv);
    }
    memcpy(out, cv, 32);
}

static void hasher_init_words(ledger_blake3_hasher *self, const uint32_t key[8], uint32_t mode_flags) {
    memcpy(self->key, key, 32);
    memcpy(self->chunk_cv, key, 32);
    self->chunk_counter = 0;
    memset(self->block, 0, sizeof self->block);
    self->block_len = 0;
    self->blocks_done = 0;
    self->flags = (uint8_t)mode_flags;
    self->stack_len = 0;
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

/* A finished non-root chunk joins the tree. total_chunks counts it; each trailing zero bit of
 * that count is a completed pair of equal subtrees, which is merged now because more input is
 * known to follow, so none of them can be the root. This keeps one stack entry per set bit. */
static void push_chunk_cv(ledger_blake3_hasher *self, const uint32_t chunk_cv[8], uint64_t total_chunks) {
    uint32_t cv[8];
    memcpy(cv, chunk_cv, 32);
    while ((total_chunks & 1) == 0) {
        self->stack_len--;
        parent_cv(self->key, self->flags, self->stack[self->stack_len], cv, cv);
        total_chunks >>= 1;
    }
    memcpy(self->stack[self->stack_len], cv, 32);
    self->stack_len++;
}

static void chunk_pending(const ledger_blake3_hasher *self, pending_node *n) {
    memcpy(n->cv, self->chunk_cv, 32);
    load_partial_block(self->block, self->block_len, n->msg);
    n->counter = self->chunk_counter;
    n->block_len = self->block_len;
    n->flags = self->flags | LEDGER_BLAKE3_CHUNK_END | (self->blocks_done == 0 ? LEDGER_BLAKE3_CHUNK_START : 0);
}

static void next_chunk(ledger_blake3_hasher *self) {
    memcpy(self->chunk_cv, self->key, 32);
    self->chunk_counter++;
    self->block_len = 0;
    self->blocks_done = 0;
}

void ledger_blake3_hasher_update(ledger_blake3_hasher *self, const void *input, size_t input_len) {
    const uint8_t *in = (const uint8_t *)input;
    uint32_t m[16];
    /* Every step below compresses a block only when at least one more input byte exists,
     * because the input's very last block must wait for finalize to learn it is the root. */
    while (input_len > 0) {
        size_t chunk_bytes = (size_t)self->blocks_done * LEDGER_BLAKE3_BLOCK_LEN + self->block_len;
        if (chunk_bytes == LEDGER_BLAKE3_CHUNK_LEN) {
            pending_node n;
            uint32_t cv[8];
            chunk_pending(self, &n);
            pending_cv(&n, cv);
            push_chunk_cv(self, cv, self->chunk_counter + 1);
            next_chunk(self);
            continue;
        }
        if (chunk_bytes == 0 && input_len > LEDGER_BLAKE3_CHUNK_LEN) {
            uint32_t cv[8];
            full_chunk_cv(self->key, self->flags, in, self->chunk_counter, cv);
            push_chunk_cv(self, cv, self->chunk_counter + 1);
            next_chunk(self);
            in += LEDGER_BLAKE3_CHUNK_LEN;
            input_len -= LEDGER_BLAKE3_CHUNK_LEN;
            continue;
        }
        if (self->block_len == LEDGER_BLAKE3_BLOCK_LEN) {
            uint32_t flags = self->flags | (self->blocks_done == 0 ? LEDGER_BLAKE3_CHUNK_START : 0);
            load_block(self->block, m);
            compress_cv(self->chunk_cv, m, self->chunk_counter, LEDGER_BLAKE3_BLOCK_LEN, flags, self->chunk_cv);
            self->blocks_done++;
            self->block_len = 0;
            continue;
        }
        if (self->block_len == 0) {
            /* Blocks 0..14 of a chunk can never carry CHUNK_END, so with input left over they
             * are compressed straight from the caller's buffer. */
            while (input_len > LEDGER_BLAKE3_BLOCK_LEN && self->blocks_done < 15) {
                uint32_t flags = self->flags | (self->blocks_done == 0 ? LEDGER_BLAKE3_CHUNK_START : 0);
                load_block(in, m);
                compress_cv(self->chunk_cv, m, self->chunk_counter, LEDGER_BLAKE3_BLOCK_LEN, flags, self->chunk_cv);
                self->blocks_done++;
                in += LEDGER_BLAKE3_BLOCK_LEN;
                input_len -= LEDGER_BLAKE3_BLOCK_LEN;
            }
        }
        size_t take = LEDGER_BLAKE3_BLOCK_LEN - self->block_len;
        if (take > input_len) take = input_len;
        memcpy(self->block + self->block_len, in, take);
        self->block_len = (uint8_t)(self->block_len + take);
        in += take;
        input_len -= take;
    }
}

/* The root as a pending node: the current chunk folded right-to-left into the stack, leaving the
 * final (root) compression undone. */
static void hasher_root(const ledger_blake3_hasher *self, pending_node *root) {
    chunk_pending(self, root);
    for (size_t i = self->stack_len; i > 0; i--) {
        uint32_t right[8];
        pending_cv(root, right);
        parent_pending(self->key, self->flags, self->stack[i - 1], right, root);
    }
}

void ledger_blake3_hasher_finalize(const ledger_blake3_hasher *self, uint8_t *out, size_t out_len) {
    pending_node root;
    hasher_root(self, &root);
    pending_root_bytes(&root, out, out_len);
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
    pending_node root;
    hasher_init_words(&h, key_words, mode_flags);
    ledger_blake3_hasher_update(&h, input, input_len);
    hasher_root(&h, &root);
    compress_cv(root.cv, root.msg, 0, root.block_len, root.flags | LEDGER_BLAKE3_ROOT, out);
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
